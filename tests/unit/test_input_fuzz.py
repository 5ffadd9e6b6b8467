"""Property-based tests over the public inputs besides RedisSharedProps, and over the command line.

Every wrong value of every input of ReplicatedSecret, the SecretSource and RedisEnv factories, RedisMonitoring,
ValidationJobRun, the bindings (RedisClientBindingProps, BeersystemRedisBindingProps, BindingDataCopy),
RedisDataCopyProps (with OldRedisEndpoint and DataCopyJobRun), RedisValidationJobProps, IncludeFile and
read_sealed_file gives one :class:`PropError` naming that input (never AttributeError, TypeError, KeyError,
OverflowError, RecursionError or a jsii error). ``python -m redis_constructs`` exits 0 or 2 on any argument
list, never with a traceback; so does ``python -m redis_constructs.plan`` on bad folders and apps.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import replace
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
from redis_constructs.core.include import IncludeFile, IncludeFileProps
from redis_constructs.core.refs import SecretKeyRef
from redis_constructs.credentials import cli
from redis_constructs.credentials.sealing import read_sealed_file
from redis_constructs.gitops import plan
from redis_constructs.migration.beersystem import BeersystemRedisBinding, BeersystemRedisBindingProps
from redis_constructs.migration.binding import MigrationPhase, RedisClientBinding, RedisClientBindingProps
from redis_constructs.migration.data_copy import (
    BindingDataCopy,
    DataCopyJobRun,
    OldRedisEndpoint,
    RedisDataCopy,
    RedisDataCopyProps,
)
from redis_constructs.migration.validation_job import RedisValidationJob, RedisValidationJobProps, ValidationJobRun

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
    "scrape_timeout": (
        st.one_of(WRONG, st.sampled_from(["", "15s", "20s", "1h", "-1s"])),
        lambda v: monitoring(scrape_timeout=v),
    ),
    "dashboard_namespace": (
        st.one_of(st.floats(), st.booleans(), st.just({"a": 1}), st.sampled_from(["", "A", "a_b", "-a"])),
        lambda v: monitoring(dashboard_namespace=v),
    ),
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


# -- the bindings, the data copy, the validation Job, IncludeFile -------------------------------------------------
#: Every JSON-ish wrong shape, and a few Python ones (bytes, an object, a tuple of the wrong thing).
SHAPES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([None, {}, [], 1.5, "x", True, 7, ("a",), {"a": 1}, b"x", 10**30]), st.builds(object)
)


def shapes_but(*valid: object) -> st.SearchStrategy[Any]:
    """:data:`SHAPES` without the values that are valid for the input (same type and value)."""
    return SHAPES.filter(lambda v: not any(type(v) is type(x) and v == x for x in valid))


NOT_A_TUPLE: st.SearchStrategy[Any] = st.sampled_from([None, 1.5, True, 7, "ABC", {"a": 1}, b"x"]) | st.builds(object)


class _World:
    """One RedisShared + client credential + beersystem's manifests, built once (jsii is slow), bound many times."""

    def __init__(self) -> None:
        from binding_world import LATER, OLD_OBJECTS, T0, World, at

        self.world = World()
        self.t0, self.now = T0, at(LATER)
        self.old = tuple(self.world.obj(k, n) for k, n in OLD_OBJECTS)
        self.count = 0

    def id(self) -> str:
        self.count += 1
        return f"Fuzz{self.count}"

    def binding(self, **kw: Any) -> object:
        w = self.world
        props: dict[str, Any] = {
            "redis": w.redis,
            "credentials": w.client,
            "app": w.obj("Deployment", "beersystem"),
            "env": RedisEnv.host_port_password(),
            "phase": MigrationPhase.CUTOVER,
            "cutover_time": self.t0,
            "now": self.now,
            "old_redis": self.old,
        }
        return RedisClientBinding(w.chart, self.id(), RedisClientBindingProps(**(props | kw)))

    def beersystem(self, **kw: Any) -> object:
        w = self.world
        props: dict[str, Any] = {
            "redis": w.redis,
            "credentials": w.client,
            "manifests": tuple(w.included.values()),
            "phase": MigrationPhase.CUTOVER,
            "cutover_time": self.t0,
            "now": self.now,
        }
        return BeersystemRedisBinding(w.chart, self.id(), BeersystemRedisBindingProps(**(props | kw)))

    def data_copy(self, **kw: Any) -> object:
        old = OldRedisEndpoint(
            host="beersystem-redis.beersystem.svc.cluster.local",
            namespace="beersystem",
            pod_labels={"app.kubernetes.io/name": "beersystem-redis"},
            password=SecretKeyRef(name="beersystem-redis", key="password"),
        )
        old_kw = {k.removeprefix("old."): kw.pop(k) for k in list(kw) if k.startswith("old.")}
        props: dict[str, Any] = {
            "redis": self.world.redis,
            "old": replace(old, **old_kw),
            "name": "copy",
            "marker": "m",
        }
        return RedisDataCopy(self.world.chart, self.id(), RedisDataCopyProps(**(props | kw)))

    def validation(self, **kw: Any) -> object:
        props: dict[str, Any] = {
            "redis": self.world.redis,
            "credentials": self.world.client,
            "namespace": "beersystem",
            "app_name": "beersystem",
        }
        return RedisValidationJob(self.world.chart, self.id(), RedisValidationJobProps(**(props | kw)))


_world: _World | None = None


def world() -> _World:
    global _world  # noqa: PLW0603 - built on first use: the module's other tests do not need it
    if _world is None:
        _world = _World()
    return _world


COPY_PW = SecretKeyRef(name="beersystem-redis", key="password")
#: (what the error names, strategy, how to build with it): the props of the migration constructs and IncludeFile.
MIGRATION_CASES: dict[str, tuple[str, st.SearchStrategy[Any], Callable[[Any], object]]] = {
    "binding.app": ("app", SHAPES, lambda v: world().binding(app=v)),
    "binding.env": ("env", SHAPES, lambda v: world().binding(env=v)),
    "binding.phase": ("phase", SHAPES, lambda v: world().binding(phase=v)),
    "binding.cutover_time": ("cutover_time", SHAPES, lambda v: world().binding(cutover_time=v)),
    "binding.now": ("now", SHAPES, lambda v: world().binding(now=v)),
    "binding.old_redis": ("old_redis", NOT_A_TUPLE | st.just((b"x",)), lambda v: world().binding(old_redis=v)),
    "binding.delete_old_data": ("delete_old_data", shapes_but(True), lambda v: world().binding(delete_old_data=v)),
    "binding.container": ("container", shapes_but(None), lambda v: world().binding(container=v)),
    "binding.remove_env": ("remove_env", NOT_A_TUPLE | st.just((5,)), lambda v: world().binding(remove_env=v)),
    "binding.validation": (
        "validation",
        SHAPES.filter(lambda v: v is not None),
        lambda v: world().binding(validation=v),
    ),
    "binding.data_copy": ("data_copy", SHAPES.filter(lambda v: v is not None), lambda v: world().binding(data_copy=v)),
    "binding.redis": ("redis", SHAPES, lambda v: world().binding(redis=v)),
    "binding.credentials": ("credentials", SHAPES, lambda v: world().binding(credentials=v)),
    "binding.props": ("props", SHAPES, lambda v: RedisClientBinding(world().world.chart, world().id(), v)),
    "beersystem.manifests": ("manifests", SHAPES, lambda v: world().beersystem(manifests=v)),
    "beersystem.now": ("now", SHAPES, lambda v: world().beersystem(now=v)),
    "beersystem.remove_env": ("remove_env", NOT_A_TUPLE, lambda v: world().beersystem(remove_env=v)),
    "beersystem.props": ("props", SHAPES, lambda v: BeersystemRedisBinding(world().world.chart, world().id(), v)),
    "data_copy.old_password": (
        "data_copy.old_password",
        SHAPES,
        lambda v: world().binding(data_copy=BindingDataCopy(old_password=v)),
    ),
    "data_copy.reverse_match": (
        "data_copy.reverse_match",
        NOT_A_TUPLE | st.just((5,)),
        lambda v: world().binding(data_copy=BindingDataCopy(old_password=COPY_PW, reverse_match=v)),
    ),
    "data_copy.job": (
        "data_copy.job",
        SHAPES,
        lambda v: world().binding(data_copy=BindingDataCopy(old_password=COPY_PW, job=v)),
    ),
    "data_copy.job.cpu": (
        "data_copy.job.cpu",
        st.one_of(SHAPES, st.just(("100m",)), st.just(("1", 2))),
        lambda v: world().binding(data_copy=BindingDataCopy(old_password=COPY_PW, job=DataCopyJobRun(cpu=v))),
    ),
    "copy.memory": (
        "job.memory",
        st.one_of(SHAPES, st.just(("128Mi", "512Mi", "1Gi")), st.just(("1Gi", None))),
        lambda v: world().data_copy(job=DataCopyJobRun(memory=v)),
    ),
    "copy.batch": ("job.batch", shapes_but(7), lambda v: world().data_copy(job=DataCopyJobRun(batch=v))),
    "copy.name": ("name", shapes_but("x"), lambda v: world().data_copy(name=v)),
    "copy.direction": ("direction", SHAPES, lambda v: world().data_copy(direction=v)),
    "copy.match": ("match", NOT_A_TUPLE | st.just((5,)), lambda v: world().data_copy(match=v)),
    "copy.hook": ("hook", SHAPES, lambda v: world().data_copy(hook=v)),
    "copy.job": ("job", SHAPES, lambda v: world().data_copy(job=v)),
    "copy.old": (
        "old",
        SHAPES,
        lambda v: RedisDataCopy(
            world().world.chart,
            world().id(),
            RedisDataCopyProps(redis=world().world.redis, old=v, name="copy", marker="m"),
        ),
    ),
    "copy.old.namespace": ("old.namespace", shapes_but("x"), lambda v: world().data_copy(**{"old.namespace": v})),
    "copy.old.port": ("old.port", shapes_but(7), lambda v: world().data_copy(**{"old.port": v})),
    "copy.old.pod_labels": ("old.pod_labels", SHAPES, lambda v: world().data_copy(**{"old.pod_labels": v})),
    "copy.redis": ("redis", SHAPES, lambda v: world().data_copy(redis=v)),
    "copy.props": ("props", SHAPES, lambda v: RedisDataCopy(world().world.chart, world().id(), v)),
    "validation.namespace": ("namespace", SHAPES, lambda v: world().validation(namespace=v)),
    "validation.app_name": ("app_name", shapes_but("x"), lambda v: world().validation(app_name=v)),
    "validation.job": ("job", SHAPES, lambda v: world().validation(job=v)),
    "validation.redis": ("redis", SHAPES, lambda v: world().validation(redis=v)),
    "validation.credentials": ("credentials", SHAPES, lambda v: world().validation(credentials=v)),
    "validation.props": ("props", SHAPES, lambda v: RedisValidationJob(world().world.chart, world().id(), v)),
    "include.path": (
        "path",
        st.one_of(SHAPES, st.sampled_from(["", "/nonexistent.yaml", "/", "/proc/self/mem"])),
        lambda v: IncludeFile(world().world.chart, world().id(), IncludeFileProps(path=v)),
    ),
    "include.props": ("props", SHAPES, lambda v: IncludeFile(world().world.chart, world().id(), v)),
}


@pytest.mark.parametrize("case", sorted(MIGRATION_CASES))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_a_wrong_migration_input_gives_one_prop_error_naming_it(case: str, data: st.DataObject) -> None:
    prop, strategy, build = MIGRATION_CASES[case]
    value = data.draw(strategy)
    with pytest.raises(PropError) as info:  # any other exception type fails the test
        build(value)
    assert info.value.prop == prop, str(info.value)
    assert str(info.value).startswith(f"{prop}: got "), str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "[a, b]",
        "a: [",
        "- kind: Deployment",  # no apiVersion
        "apiVersion: v1\nkind: 5\n",
        "{apiVersion: v1}",
        "x" * 10,
    ],
)
def test_include_file_of_no_kubernetes_objects_names_path(text: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PropError, match=r"^path: got '.*bad\.yaml'; expected a (readable )?YAML file"):
        IncludeFile(chart(), "I", IncludeFileProps(path=path))


# -- read_sealed_file: every field of the file, every wrong shape ---------------------------------------------------
_CERT = "a" * 64
SEALED_FIELDS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "scope": lambda v: {"certificateSha256": _CERT, "scope": v, "secrets": {}},
    "certificateSha256": lambda v: {"certificateSha256": v, "scope": "strict", "secrets": {}},
    "secrets": lambda v: {"certificateSha256": _CERT, "scope": "strict", "secrets": v},
    "secrets.s": lambda v: {"certificateSha256": _CERT, "scope": "strict", "secrets": {"s": v}},
    "secrets.s.redis": lambda v: {"certificateSha256": _CERT, "scope": "strict", "secrets": {"s": {"redis": v}}},
}
YAML_SHAPES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([None, {}, [], 1.5, True, 7, ["strict"], {"strict": True}, {"a": {"b": 1}}, "-"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)


@pytest.mark.parametrize("field", sorted(SEALED_FIELDS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=YAML_SHAPES)
def test_a_sealed_file_field_of_the_wrong_shape_gives_one_prop_error_naming_it(
    field: str, value: Any, tmp_path: Path
) -> None:
    import yaml

    path = tmp_path / "sealed.yaml"
    path.write_text(yaml.safe_dump(SEALED_FIELDS[field](value)))
    try:
        read_sealed_file(path)
    except PropError as error:
        assert error.prop.startswith(field), str(error)
    # (an empty mapping of secrets, or a valid-looking value, may be accepted: no other exception type is)


def test_fails_sealed_file_scope_not_a_string(tmp_path: Path) -> None:
    path = tmp_path / "sealed.yaml"
    path.write_text(f"certificateSha256: {_CERT}\nscope: {{strict: true}}\nsecrets: {{}}\n")
    with pytest.raises(PropError, match=r"^scope: got 'dict'; expected one of strict, namespace-wide, cluster-wide$"):
        read_sealed_file(path)


def test_fails_now_not_callable() -> None:
    with pytest.raises(PropError, match=r"^now: got None; expected a clock returning timezone-aware datetimes"):
        world().beersystem(now=None)


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


# -- python -m redis_constructs.plan: bad folders and apps exit 2 with one line, never a traceback ---------------
@pytest.fixture(scope="module")
def plan_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("plan")
    (d / "notyaml").mkdir()
    (d / "notyaml" / "x.yaml").write_text("a: [\n")
    (d / "binary").mkdir()
    (d / "binary" / "x.yaml").write_bytes(b"\xff\xfe\x00")
    (d / "syntax.py").write_text("x = (\n")
    (d / "nomain.py").write_text("X = 1\n")
    (d / "raises.py").write_text("raise ValueError('boom')\n")
    return d


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--dist", "{d}/missing"], "is not a folder"),
        (["--dist", "{d}/syntax.py"], "is not a folder"),
        (["--dist", "{d}/notyaml"], "not YAML"),
        (["--dist", "{d}/binary"], "not YAML"),
        (["--app", "{d}/missing.py"], "is not a file"),
        (["--app", "{d}"], "is not a file"),
        (["--app", "{d}/syntax.py"], "does not load: SyntaxError"),
        (["--app", "{d}/nomain.py"], "has no main()"),
        (["--app", "{d}/raises.py"], "does not load: ValueError: boom"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(a.rsplit("/", 1)[-1] for a in v),
)
def test_plan_cli_refuses_bad_input_with_one_line(
    argv: list[str], says: str, plan_inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = plan.main([a.format(d=plan_inputs) for a in argv])
    err = capsys.readouterr().err
    assert code == plan.EXIT_NO_PLAN, err
    assert err.startswith("error: ") and says in err, err
    assert "Traceback" not in err
