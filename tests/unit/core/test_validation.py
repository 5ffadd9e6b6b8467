"""Rules of validation.py, one family per section, each with its failing tests; and the shared error shape."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import cdk8s
import pytest
from conftest import ROOT

from redis_constructs import (
    PropError,
    RedisShared,
    RedisSharedProps,
    ReplicatedSecret,
    ReplicatedSecretProps,
    SecretSource,
    SynthError,
    synthesize,
)
from redis_constructs.core import validation as v
from redis_constructs.credentials.sealing import read_sealed_file, seal_into_file
from redis_constructs.gitops.manifest_checks import ExternalRefs
from redis_constructs.migration.validation_job import ValidationJobRun


# -- durations ---------------------------------------------------------------------------------------------
def test_duration_seconds_of_each_family() -> None:
    assert v.duration_seconds("p", "15s", units="sm", expected="x") == 15
    assert v.duration_seconds("p", "2m", units="sm", expected="x") == 120
    assert v.duration_seconds("p", "1h30m", units=("h", "m"), compound=True, expected="x") == 5400
    assert v.duration_seconds("p", "0s", units="s", allow_zero=True, expected="x") == 0
    assert v.duration_seconds("p", "500ms", units=("ms",), expected="x") == 0.5


@pytest.mark.parametrize(
    ("value", "units", "compound", "allow_zero"),
    [
        ("0s", "s", False, False),  # zero where it is not allowed
        ("1h30m", ("h", "m"), False, False),  # compound where one unit is expected
        ("1d", "smh", False, False),  # a unit the consumer does not take
        ("15", "s", False, False),
        ("s", "s", False, False),
        ("-1s", "s", False, False),
        ("1.5s", "s", False, False),
        ("15s\n", "s", False, False),
        ("\u0661s", "s", False, False),  # a non-ASCII digit (str.isdigit() accepts it)
        ("1" * 5000 + "s", "s", False, False),
        (15, "s", False, False),
        (None, "s", False, False),
    ],
)
def test_fails_duration_outside_the_grammar(value: object, units: str, compound: bool, allow_zero: bool) -> None:
    with pytest.raises(PropError, match=r"^p: got .*; expected the rule$"):
        v.duration_seconds("p", value, units=units, compound=compound, allow_zero=allow_zero, expected="the rule")  # type: ignore[arg-type]


def test_every_duration_prop_uses_the_one_grammar() -> None:
    with pytest.raises(PropError, match=re.escape("source.refresh_interval: got '\u0661h'; expected a duration")):
        SecretSource.external(store_name="vault", remote_key="k", refresh_interval="\u0661h")
    from redis_constructs.monitoring.redis_monitoring import RedisMonitoringProps, _seconds

    (default_interval,) = (f.default for f in dataclasses.fields(RedisMonitoringProps) if f.name == "interval")
    assert isinstance(default_interval, str)
    assert _seconds("interval", default_interval) == 15
    with pytest.raises(PropError, match=r"^interval: got '0s'; expected a duration in whole seconds or minutes"):
        _seconds("interval", "0s")


# -- names -------------------------------------------------------------------------------------------------
def test_dns_subdomain_and_label() -> None:
    assert v.dns_subdomain("p", "redis.client") == "redis.client"
    assert v.dns_label("p", "redis") == "redis"
    with pytest.raises(PropError, match=r"^p: got 'redis\.client'; expected an RFC 1123 label"):
        v.dns_label("p", "redis.client")
    for bad in ("", "Redis", "a..b", "-a", "a-", "a" * 254, "a\n"):
        with pytest.raises(PropError, match=r"^p: got .*; expected an RFC 1123 subdomain"):
            v.dns_subdomain("p", bad)


def test_secret_name_rule_is_the_same_for_seal_and_constructs(tmp_path: Path) -> None:
    """`seal --secret-name redis.client` and then synth: both accept it (they used to disagree)."""
    values = tmp_path / "values.yaml"
    cert = (ROOT / "sealed" / "placeholder-cert.pem").read_bytes()
    seal_into_file(
        values, cert_pem=cert, secret_name="redis.client", namespaces=["redis"], key="password", value=b"x" * 20
    )
    chart = cdk8s.Chart(cdk8s.App(), "t")
    secret = ReplicatedSecret(
        chart,
        "S",
        ReplicatedSecretProps(
            name="redis.client",
            namespaces=("redis",),
            keys=("password",),
            source=SecretSource.sealed(read_sealed_file(values)),
        ),
    )
    assert secret.secret_name == "redis.client"
    with pytest.raises(
        PropError, match=r"^secret_name: got 'Redis_Client'; expected a Secret name: an RFC 1123 subdomain"
    ):
        seal_into_file(
            values, cert_pem=cert, secret_name="Redis_Client", namespaces=["redis"], key="password", value=b"x" * 20
        )
    with pytest.raises(PropError, match=r"^name: got 'Redis_Client'; expected a Secret name: an RFC 1123 subdomain"):
        ReplicatedSecret(
            chart,
            "T",
            ReplicatedSecretProps(
                name="Redis_Client", namespaces=("redis",), keys=("password",), source=SecretSource.existing()
            ),
        )


# -- versions ----------------------------------------------------------------------------------------------
def test_fails_version_rule_shared_by_sources_and_credentials() -> None:
    for bad in ("", "x" * 64, 1):
        with pytest.raises(PropError, match=r"^p: got .*; expected a non-empty string of at most 63 characters$"):
            v.version("p", bad)  # type: ignore[arg-type]
    assert v.version("p", "x" * 63) == "x" * 63


# -- quantities --------------------------------------------------------------------------------------------
def test_storage_and_memory_take_decimal_suffixes_at_their_real_size() -> None:
    assert v.storage_size("p", "8G", minimum_bytes=1) == 8 * 10**9
    assert v.storage_size("p", "8Gi", minimum_bytes=1) == 8 * 2**30
    assert v.memory_bytes("p", "1G") == 10**9
    assert v.memory_bytes("p", "1500M") == 1500 * 10**6
    redis = RedisShared(cdk8s.Chart(cdk8s.App(), "t"), "R", RedisSharedProps(storage_size="8G"))
    assert redis.maxmemory_bytes > 0


def test_fails_storage_spelling_kubernetes_refuses_with_a_same_size_hint() -> None:
    with pytest.raises(PropError, match=r"^p: got '8GB'; expected a storage size .*; did you mean 8G\?$"):
        v.storage_size("p", "8GB", minimum_bytes=1)
    with pytest.raises(PropError, match=r"^p: got '8gi'; expected a storage size .*; did you mean 8Gi\?$"):
        v.storage_size("p", "8gi", minimum_bytes=1)
    with pytest.raises(PropError, match=r"^p: got '1G'; expected at least 1024Mi$"):
        v.storage_size("p", "1G", minimum_bytes=2**30)


def test_fails_absurd_quantities_with_the_rule_not_an_overflow() -> None:
    with pytest.raises(PropError, match=r"^p: got '1{5000}Gi'; expected a storage size"):
        v.storage_size("p", "1" * 5000 + "Gi", minimum_bytes=1)
    with pytest.raises(PropError, match=r"^p: got '1{5000}'; expected a Kubernetes memory quantity"):
        v.memory_bytes("p", "1" * 5000)
    with pytest.raises(PropError, match=r"^p: got '1{5000}m'; expected a Kubernetes CPU quantity"):
        v.cpu_millis("p", "1" * 5000 + "m")


# -- names of variables and labels -------------------------------------------------------------------------
def test_fails_env_var_and_prometheus_label_names() -> None:
    assert v.env_var_name("p", "REDIS_URL") == "REDIS_URL"
    for bad in ("", "1X", "A-B", "A\n", None):
        with pytest.raises(PropError, match=r"^p: got .*; expected environment variable names"):
            v.env_var_name("p", bad)  # type: ignore[arg-type]
    with pytest.raises(PropError, match=r"^p: got 'a-b'; expected a Prometheus label name; did you mean x\?$"):
        v.prometheus_label_name("p", "a-b", fix="x")


# -- at construction, with the construct path --------------------------------------------------------------
def test_validation_job_is_checked_when_built_in_every_phase() -> None:
    with pytest.raises(PropError, match=r"^validation\.image: got 'redis:latest'; expected an image reference"):
        ValidationJobRun(image="redis:latest")
    with pytest.raises(PropError, match=r"^validation\.backoff_limit: got 11; expected an integer from 0 to 10$"):
        ValidationJobRun(backoff_limit=11)


def test_construct_errors_name_the_construct_path() -> None:
    chart = cdk8s.Chart(cdk8s.App(), "site")
    # RedisSharedProps validates itself when built: no construct exists yet, so its errors name no path.
    with pytest.raises(PropError, match=r"^replicas: got 9; expected an integer from 0 to 8$") as e:
        RedisSharedProps(replicas=9)
    assert e.value.path is None
    with pytest.raises(PropError, match=r"^props: got 9; expected a RedisSharedProps \(construct site/Redis\)$") as e:
        RedisShared(chart, "Redis", 9)  # type: ignore[arg-type]
    assert e.value.path == "site/Redis"
    redis = RedisShared(chart, "Redis2", RedisSharedProps(name="r2"))
    with pytest.raises(
        PropError, match=r"^client_namespaces: got 'A'; expected an RFC 1123 label.* \(construct site/Redis2\)$"
    ):
        redis.add_client_namespace("A")


def test_fails_cpu_and_check_skip_reason_with_prop_errors() -> None:
    from redis_constructs.server.checkov_skips import CheckovSkip

    with pytest.raises(PropError, match=r"^reason: got 'a=b'; expected no '='"):
        CheckovSkip(kind="StatefulSet", check_id="CKV_K8S_1", reason="a=b")


# -- synth errors ------------------------------------------------------------------------------------------
def test_synth_errors_are_listed_once_and_name_the_real_folder(tmp_path: Path) -> None:
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "c", disable_resource_name_hashes=True)
    RedisShared(chart, "Redis")  # its Secrets are nowhere: every credential reference is a problem
    out = tmp_path / "site-out"
    with pytest.raises(SynthError) as e:
        synthesize(app, out, external=ExternalRefs())
    errors = e.value.errors
    assert len(errors) == len(set(errors)) > 0
    assert f"{out} was left as it was" in str(e.value)
    assert "dist/" not in str(e.value).splitlines()[0]
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", "0.5"),
        ("1.5Gi", str(3 * 2**29)),
        ("1e3", "1000"),
        ("8G", "8000000000"),
        ("8Gi", str(8 * 2**30)),
        ("1k", "1000"),
        ("2E", str(2 * 10**18)),
        (".5", "0.5"),
        (3, "3"),
    ],
)
def test_a_rendered_quantity_is_read_exactly(text: object, value: str) -> None:
    from decimal import Decimal

    assert v.quantity_value(text) == Decimal(value)


@pytest.mark.parametrize("text", ["1K", "12 apples", "Gi", "", "1.5.5Mi", None])
def test_what_is_not_a_quantity_reads_as_none(text: object) -> None:
    assert v.quantity_value(text) is None


def test_input_quantities_and_rendered_ones_share_one_suffix_table() -> None:
    for suffix in ("Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"):
        assert v.memory_bytes("m", f"3{suffix}") == v.quantity_value(f"3{suffix}"), suffix
    for suffix in ("Mi", "Gi", "Ti", "M", "G", "T"):
        assert v.storage_size("s", f"3{suffix}", minimum_bytes=1) == v.quantity_value(f"3{suffix}"), suffix


@pytest.mark.parametrize("value", ["17 3 * * *", "*/15 * * * *", "0 2 * * 1-5", "30 1 1,15 * MON", "@daily"])
def test_cron_schedule_takes_five_fields_or_a_macro(value: str) -> None:
    assert v.cron_schedule("schedule", value) == value


@pytest.mark.parametrize("value", ["17 3 * *", "17 3 * * * *", "TZ=UTC 17 3 * * *", "17  3 * * *", "", "@often", 5])
def test_fails_cron_schedule_outside_the_grammar(value: object) -> None:
    with pytest.raises(PropError, match=r"schedule: got .*; expected a cron schedule of five fields"):
        v.cron_schedule("schedule", value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["Etc/UTC", "UTC", "Europe/Oslo", "America/Argentina/Buenos_Aires", "Etc/GMT+2"])
def test_time_zone_takes_iana_names(value: str) -> None:
    assert v.time_zone("time_zone", value) == value


@pytest.mark.parametrize("value", ["", "UTC+1 hour", "/Etc/UTC", "Europe/", "a/b/c/d", 3])
def test_fails_time_zone_outside_the_grammar(value: object) -> None:
    with pytest.raises(PropError, match=r"time_zone: got .*; expected an IANA time zone name"):
        v.time_zone("time_zone", value)  # type: ignore[arg-type]


# -- cron_schedule and number_in_range (the check CronJob, the checks' and the gate's bounds) -------------------------
@pytest.mark.parametrize("schedule", ["17 * * * *", "*/15 0-6,22-23 1 1-12/2 0", "0 3 * * 7", "@hourly", "@daily"])
def test_cron_schedule_accepts(schedule: str) -> None:
    assert v.cron_schedule("s", schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "detail"),
    [
        ("every hour", ""),
        ("* * * *", ""),
        ("* * * * * *", ""),
        ("60 * * * *", "the minute field from 0 to 59"),
        ("0 24 * * *", "the hour field from 0 to 23"),
        ("0 0 0 * *", "the day of month field from 1 to 31"),
        ("0 0 * 13 *", "the month field from 1 to 12"),
        ("0 0 * * 8", "the day of week field from 0 to 7"),
        ("5-1 * * * *", "the minute field"),
        ("*/0 * * * *", "a step of at least 1"),
        ("0 0 * * MOX", "takes no name"),
        ("0 0 * MON * *", ""),
        ("0 0 * MON *", "the month field takes no name"),
        ("@every 1h", ""),
        ("17  * * * *", ""),
    ],
)
def test_fails_cron_schedule(schedule: str, detail: str) -> None:
    with pytest.raises(PropError, match=rf"^s: got '{re.escape(schedule)}'; expected a cron schedule of five fields"):
        v.cron_schedule("s", schedule)
    if detail:
        with pytest.raises(PropError, match=re.escape(detail)):
            v.cron_schedule("s", schedule)


@pytest.mark.parametrize("value", [0.5, 30.5, True, "2", float("nan")])
def test_fails_number_in_range(value: object) -> None:
    with pytest.raises(PropError, match=r"^n: got .*; expected a number from 1 to 30$"):
        v.number_in_range("n", value, 1, 30)  # type: ignore[arg-type]


def test_number_in_range_accepts_ints_and_floats() -> None:
    assert v.number_in_range("n", 1, 1, 30) == 1.0
    assert v.number_in_range("n", 29.5, 1, 30) == 29.5
