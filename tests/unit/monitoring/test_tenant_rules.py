"""The tenant rules pass `promtool check rules` and fire in `promtool test rules` on v1.88-shaped series."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from redis_constructs.monitoring.tenant_rules import render_tenant_groups
from redis_constructs.server.tenants import Tenant

HERE = Path(__file__).resolve().parent


def test_promtool_checks_and_tests_the_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (apt-get install prometheus)"
    import make_promtool_test
    import render_sample_rules

    render_sample_rules.main(tmp_path / "tenants.rules.yaml")
    make_promtool_test.main(tmp_path / "tenants.test.yaml", "tenants.rules.yaml")
    check = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "tenants.rules.yaml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    make_promtool_test.strip_annotations(tmp_path / "tenants.rules.yaml")
    test = subprocess.run(
        [promtool, "test", "rules", "tenants.test.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert test.returncode == 0, test.stdout + test.stderr


def test_key_count_record_only_for_confined_tenants() -> None:
    groups = render_tenant_groups(
        selector='namespace="redis"',
        tenants=[Tenant(namespace="beersystem", password_only=True), Tenant(namespace="shop", key_prefix="shop:")],
        maxclients=4096,
        maxmemory_clients_bytes=128 << 20,
    )
    keys = [r for r in groups[0]["rules"] if r["record"] == "redis_tenant:keys:count"]
    assert [r["labels"]["tenant"] for r in keys] == ["shop"]
    assert 'key="shop:*"' in keys[0]["expr"]


def test_fails_bad_selector() -> None:
    with pytest.raises(ValueError, match="selector: got"):
        render_tenant_groups(selector="{x}", tenants=[], maxclients=1, maxmemory_clients_bytes=1)


def test_rules_read_only_metrics_and_labels_v1_88_exports() -> None:
    import re

    import exporter_v1_88 as x

    groups = render_tenant_groups(
        selector='namespace="redis",service="redis-shared-metrics"',
        tenants=[Tenant(namespace="beersystem", password_only=True), Tenant(namespace="shop", key_prefix="shop:")],
        maxclients=4096,
        maxmemory_clients_bytes=128 << 20,
    )
    for rule in groups[0]["rules"] + groups[1]["rules"]:
        expr = rule["expr"]
        for name, matchers in re.findall(r"\b(redis_[a-z_]+)\{([^}]*)\}", expr):
            assert name in x.METRICS, f"{name} is not exported by redis_exporter {x.EXPORTER_COMMIT}"
            for label in re.findall(r"([a-z_]+)=", matchers):
                assert label in x.METRICS[name] + x.TARGET_LABELS, f"{name} has no label {label}"
        for clause in re.findall(r"\b(?:on|by) \(([^)]*)\)", expr):
            for label in (lbl.strip() for lbl in clause.split(",")):
                assert label in ("pod", "role", "id"), label
