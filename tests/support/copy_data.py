"""Test data for the data-copy Job: every kind of key the old Redis may hold, loaded over raw RESP pipelines.

Shared by tests/runtime/test_data_copy_runtime.py and benchmarks/copy_bench.py.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Sequence
from typing import Any

from redis_constructs.migration.copy_program import Command, Connection, RespError

#: Names a naive tool would break on: spaces, newlines, quotes, backslashes, non-UTF-8 bytes, empty.
ODD_NAMES: tuple[bytes, ...] = (
    b"with space",
    b"new\nline",
    b"carriage\r\nreturn",
    b"'single' \"double\" `back`",
    b"back\\slash",
    b"\xff\xfe not utf-8 \x80",
    b"\x00nul\x00",
    "ünïcødé 🍺".encode(),
    b"",
)
Obj = dict[str, Any]
KINDS = ("string", "hash", "list", "set", "zset", "stream", "hll")


def commands_for(i: int, prefix: bytes = b"beer:") -> list[Command]:
    """Commands creating key number ``i`` (its kind is ``KINDS[i % 7]``); every 10th key gets a TTL."""
    kind = KINDS[i % len(KINDS)]
    key = prefix + kind.encode() + b":%d" % i
    out: list[Command]
    if kind == "string":
        out = [["SET", key, b"v%d" % i * (1 + i % 5)]]
    elif kind == "hash":
        out = [["HSET", key, "a", i, "b", b"x\x00y", "c", "z"]]
    elif kind == "list":
        out = [["RPUSH", key, "1", "2", b"\xff", i]]
    elif kind == "set":
        out = [["SADD", key, "a", "b", "c", i]]
    elif kind == "zset":
        out = [["ZADD", key, "1.5", "a", "-2", "b", i, "c"]]
    elif kind == "stream":
        out = [["XADD", key, "1-1", "f", "v"], ["XADD", key, "2-1", "g", i]]
        if i % 70 == 5:
            out += [
                ["XGROUP", "CREATE", key, "workers", "0"],
                ["XREADGROUP", "GROUP", "workers", "alice", "COUNT", 1, "STREAMS", key, ">"],
                ["XGROUP", "CREATE", key, "audit", "$"],
            ]
    else:
        out = [["PFADD", key, *(b"e%d" % n for n in range(i % 50 + 1))]]
    if i % 10 == 3:
        out.append(["PEXPIRE", key, 3_600_000 + i])
    return out


def odd_commands() -> list[Command]:
    out: list[Command] = [["SET", name, b"odd:" + name] for name in ODD_NAMES]
    # Keys that may expire before, during or after the copy: none of that may fail it.
    out += [["SET", b"short-ttl:%d" % n, "x", "PX", 5 + n * 7] for n in range(200)]
    return out


def big_commands(count: int, size: int) -> list[Command]:
    """``count`` strings of ``size`` random bytes (incompressible), one a hash of such a value."""
    out: list[Command] = [["SET", b"big:%d" % n, os.urandom(size)] for n in range(count)]
    out.append(["HSET", "big:hash", "blob", os.urandom(size)])
    return out


def load(conn: Connection, commands: Sequence[Command], batch: int = 5000) -> None:
    """Send ``commands`` in pipelined batches; any error reply fails."""
    for i in range(0, len(commands), batch):
        replies = conn.pipeline(commands[i : i + batch])
        errors = [r for r in replies if isinstance(r, RespError)]
        assert not errors, errors[:3]


def keyspace(n: int, prefix: bytes = b"beer:") -> Iterator[Command]:
    for i in range(n):
        yield from commands_for(i, prefix)


def as_statefulset(obj: Obj, name: str) -> Obj:
    """A Deployment's or Job's pod template as a one-pod StatefulSet ``name`` (what the pod runner runs)."""
    template = copy.deepcopy(obj["spec"]["template"])
    spec = template["spec"]
    claims = [v for v in spec.get("volumes") or [] if "persistentVolumeClaim" in v]
    spec["volumes"] = [v for v in spec.get("volumes") or [] if "persistentVolumeClaim" not in v]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": obj["metadata"]["namespace"]},
        "spec": {
            "replicas": 1,
            "serviceName": "",
            "selector": {"matchLabels": template["metadata"]["labels"]},
            "template": template,
            "volumeClaimTemplates": [{"metadata": {"name": v["name"]}, "spec": {}} for v in claims],
        },
    }


def hooks(objects: list[Obj], phase: str) -> list[Obj]:
    """The objects ArgoCD runs as ``phase`` hooks, in its order (hook wave, then kind, then name)."""
    found = [o for o in objects if (o["metadata"].get("annotations") or {}).get("argocd.argoproj.io/hook") == phase]
    return sorted(
        found,
        key=lambda o: (
            int(o["metadata"]["annotations"].get("argocd.argoproj.io/sync-wave", "0")),
            o["kind"],
            o["metadata"]["name"],
        ),
    )


def cutover_secrets(
    old_password: str, client_password: str, system: dict[str, str]
) -> dict[tuple[str, str], dict[str, str]]:
    """The Secrets the cutover's pods mount, given out of band: the tenants' Secret in Redis's namespace (beersystem's
    password under its tenant key) and in beersystem's, the system passwords, and the old Redis's password in both
    namespaces (the copy Job reads it in ``redis``)."""
    return {
        ("redis", "redis-shared-client"): {"beersystem.password": client_password},
        ("redis", "redis-shared-system"): system,
        ("beersystem", "redis-shared-client"): {"password": client_password},
        ("beersystem", "beersystem-redis"): {"password": old_password},
        ("redis", "beersystem-redis"): {"password": old_password},
    }


def with_memory(obj: Obj, limit: str) -> Obj:
    """``obj`` with every container's memory request and limit set to ``limit``."""
    obj = copy.deepcopy(obj)
    for c in obj["spec"]["template"]["spec"]["containers"]:
        c["resources"]["limits"]["memory"] = c["resources"]["requests"]["memory"] = limit
    return obj


def copy_world(
    cutover: dict[str, list[Obj]], scaled_down: dict[str, list[Obj]], old_memory: str
) -> tuple[list[Obj], Obj]:
    """What the cutover's copy Job runs among, for the pod runner: redis-shared (its Jobs left out), beersystem's
    Services and the migration chart's other objects from the CUTOVER render, the old Redis from the SCALED_DOWN one
    with its memory limit set to ``old_memory`` (to hold a test's data), and the copy Job's pod as StatefulSet
    ``copy``; and the Job itself."""
    old = next(
        o
        for o in scaled_down["beersystem"]
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "beersystem-redis"
    )
    job = hooks([o for objs in cutover.values() for o in objs], "PreSync")[-1]
    objects = [o for o in cutover["redis-shared"] if o["kind"] != "Job"]
    objects += [o for o in cutover["beersystem"] if o["kind"] == "Service"]
    objects += [o for o in cutover["beersystem-migration"] if o["kind"] != "Job"]
    objects += [as_statefulset(with_memory(old, old_memory), "beersystem-redis"), as_statefulset(job, "copy")]
    return objects, job
