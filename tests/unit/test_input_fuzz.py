"""Property-based tests over the public inputs besides RedisSharedProps, and over the command line.

Every wrong value of every input of ReplicatedSecret, the SecretSource and RedisEnv factories, RedisMonitoring
and ValidationJobRun gives one :class:`PropError` naming that input (never AttributeError, TypeError,
OverflowError, RecursionError or a jsii error). ``python -m redis_constructs`` exits 0 or 2 on any argument
list, never with a traceback.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cdk8s
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redis_constructs import (
    PropError,
    RedisEnv,
    RedisMonitoring,
    RedisMonitoringProps,
    RedisShared,
    ReplicatedSecret,
    ReplicatedSecretProps,
    SecretSource,
    SecretStoreKind,
)
from redis_constructs.credentials import cli
from redis_constructs.migration.validation_job import ValidationJobRun

#: Values of the wrong type for any input here (an int is wrong only where a string is expected: see below).
WRONG: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.floats(), st.booleans(), st.binary(max_size=4), st.just({"a": 1})
)
BAD_NAMES: st.SearchStrategy[Any] = st.one_of(
    WRONG, st.integers(), st.sampled_from(["", "A", "a_b", "-a", "a\n", "a" * 300])
)


def chart() -> cdk8s.Chart:
    return cdk8s.Chart(cdk8s.App(), "fuzz", disable_resource_name_hashes=True)


def secret(**kw: Any) -> ReplicatedSecret:
    props: dict[str, Any] = {
        "name": "s",
        "namespaces": ("redis",),
        "keys": ("password",),
        "source": SecretSource.existing(),
    }
    return ReplicatedSecret(chart(), "S", ReplicatedSecretProps(**(props | kw)))


def monitoring(**kw: Any) -> RedisMonitoring:
    c = chart()
    return RedisMonitoring(c, "M", RedisMonitoringProps(redis=RedisShared(c, "R"), **kw))


#: input name → (strategy of bad values, how to build with it).
CASES: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], object]]] = {
    "name": (BAD_NAMES, lambda v: secret(name=v)),
    "namespaces": (
        st.one_of(WRONG, st.just("redis"), st.just(()), st.just(("redis", "redis")), st.just((5,))),
        lambda v: secret(namespaces=v),
    ),
    "keys": (st.one_of(WRONG, st.just("password"), st.just(()), st.just(("a/b",))), lambda v: secret(keys=v)),
    "labels": (
        st.one_of(st.integers(), st.just(["a"]), st.just({"a": 1}), st.just({"A B": "x"})),
        lambda v: secret(labels=v),
    ),
    "source": (st.one_of(WRONG, st.just("sealed")), lambda v: secret(source=v)),
    "source.version": (st.one_of(WRONG, st.just(""), st.just("x" * 64)), lambda v: SecretSource.existing(version=v)),
    "source.sealed": (WRONG, SecretSource.sealed),
    "source.store_name": (BAD_NAMES, lambda v: SecretSource.external(store_name=v, remote_key="k")),
    "source.remote_key": (st.one_of(WRONG, st.just("")), lambda v: SecretSource.external(store_name="s", remote_key=v)),
    "source.store_kind": (
        st.one_of(WRONG, st.just("SecretStore")),
        lambda v: SecretSource.external(store_name="s", remote_key="k", store_kind=v),
    ),
    "source.refresh_interval": (
        st.one_of(WRONG, st.sampled_from(["", "1", "1x", "-1h", "1h30m", "1" * 5000 + "s"])),
        lambda v: SecretSource.external(store_name="s", remote_key="k", refresh_interval=v),
    ),
    "source.plaintext": (
        st.one_of(st.integers(), st.just("pw"), st.just({"password": 1})),
        SecretSource.plaintext_for_tests,
    ),
    "env": (
        st.one_of(WRONG, st.sampled_from(["", "1X", "A-B", "A\n"])),
        lambda v: RedisEnv.host_port_password(host_var=v),
    ),
    "env.database": (
        st.one_of(WRONG, st.integers(min_value=16), st.integers(max_value=-1)),
        lambda v: RedisEnv.url(database=v),
    ),
    "env.mount_path": (st.one_of(WRONG, st.just("rel/path")), lambda v: RedisEnv.password_file(mount_path=v)),
    "interval": (
        st.one_of(WRONG, st.sampled_from(["", "1h", "16s", "0s", "1" * 5000 + "s"])),
        lambda v: monitoring(interval=v),
    ),
    "release_label": (BAD_NAMES, lambda v: monitoring(release_label=v)),
    "memory_threshold": (
        st.one_of(st.none(), st.text(max_size=3), st.floats().filter(lambda f: not 0 < f <= 1), st.booleans()),
        lambda v: monitoring(memory_threshold=v),
    ),
    "max_clients": (
        st.one_of(WRONG, st.integers(min_value=1_000_001), st.integers(max_value=0)),
        lambda v: monitoring(max_clients=v),
    ),
    "validation.image": (
        st.one_of(WRONG, st.sampled_from(["redis", "redis:latest", ""])),
        lambda v: ValidationJobRun(image=v),
    ),
    "validation.backoff_limit": (
        st.one_of(WRONG, st.integers(min_value=11)),
        lambda v: ValidationJobRun(backoff_limit=v),
    ),
}


@pytest.mark.parametrize("prop", sorted(CASES))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_wrong_input_gives_one_prop_error_naming_it(prop: str, data: st.DataObject) -> None:
    strategy, build = CASES[prop]
    value = data.draw(strategy)
    with pytest.raises(PropError) as info:  # any other exception type fails the test
        build(value)
    assert info.value.prop == prop, str(info.value)


def test_monitoring_refuses_a_redis_that_is_not_a_construct() -> None:
    with pytest.raises(PropError, match=r"^redis: got 'redis-shared'; expected the RedisShared to monitor"):
        RedisMonitoring(chart(), "M", RedisMonitoringProps(redis="redis-shared"))  # type: ignore[arg-type]


def test_store_kind_enum_members_are_accepted() -> None:
    for kind in SecretStoreKind:
        assert SecretSource.external(store_name="s", remote_key="k", store_kind=kind).store_kind is kind


# -- the command line --------------------------------------------------------------------------------------
TOKENS = st.sampled_from(
    [
        "seal",
        "gen-password",
        "--cert",
        "cert.pem",
        "missing.pem",
        "--secret-name",
        "redis-shared-client",
        "Bad_Name",
        "redis.client",
        "--namespace",
        "redis",
        "Beer System",
        "--key",
        "password",
        "..",
        "--password-file",
        "pw.txt",
        "empty.txt",
        "--out",
        "values.yaml",
        "deep.yaml",
        "--scope",
        "strict",
        "cluster-wide",
        "bogus",
        "--reuse-existing",
        "--length",
        "32",
        "10" + "0" * 30,
        "-1",
        "--password",
        "hunter2",
        "-h",
    ]
)


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the files the argument lists name: a real cert, a password, an empty and a nested file."""
    root = Path(__file__).resolve().parents[2]
    d = tmp_path_factory.mktemp("cli")
    (d / "cert.pem").write_bytes((root / "sealed" / "placeholder-cert.pem").read_bytes())
    (d / "pw.txt").write_text("Zq7-Vx2_Lm9.Tt4~Rb8!Ne3\n")
    (d / "empty.txt").write_text("")
    (d / "deep.yaml").write_text("secrets: " + "[" * 3000 + "]" * 3000)
    return d


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(TOKENS, max_size=12))
def test_cli_exits_cleanly_on_any_argument_list(
    argv: list[str], cli_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cli_dir)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Hk5_Pw2-Cy8.Ud6~Jf1$Ao0\n")))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", err := io.StringIO())
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse: usage errors and -h
        code = e.code if isinstance(e.code, int) else 2
    assert code in (0, 2)
    if "--password" in argv:  # a password given as an argument is never echoed back
        assert code == 2
        assert "hunter2" not in err.getvalue()
    assert "Traceback" not in err.getvalue()
