"""Pod runner slots (``PODRUNNER_SLOT``, tests/support/podrunner/host.py): Clusters of two slots run side by side,
each on its own bridge and subnet with names of its own, cannot reach each other, and each cleans up only its own.

The Clusters run in child processes with slots 7 and 8 (``make test`` uses 0 and 1), each holding its one-pod
Cluster until the test lets it go. Not ``host_exclusive``: this process holds no Cluster meanwhile.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from podrunner.host import list_cgroups, list_links, list_netns

pytestmark = pytest.mark.runtime

SUPPORT = Path(__file__).resolve().parents[1] / "support"
POD = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "slot", "namespace": "rt"},
    "spec": {
        "replicas": 1,
        "serviceName": "",
        "selector": {"matchLabels": {"app": "slot"}},
        "template": {
            "metadata": {"labels": {"app": "slot"}},
            "spec": {"containers": [{"name": "main", "image": "debian", "command": ["sleep", "600"]}]},
        },
    },
}
#: Runs in the child: the Cluster, one JSON line about it, then (per stdin line) a command in the pod's netns,
#: until stdin closes.
CHILD = r"""
import json, sys
from pathlib import Path
from podrunner import Cluster, host
objects, work, action = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with Cluster(objects, work) as c:
    if action == "decoys":
        try:
            with host.decoy_dirs([Path("/opt/rsh-slot-test")]):
                print(json.dumps({"decoys": "made"}), flush=True)
        except host.HostError as e:
            print(json.dumps({"decoys": str(e)}), flush=True)
        sys.exit(0)
    c.start(timeout=30)
    pod = c.pod("slot-0")
    print(json.dumps({"ip": pod.ip, "netns": pod.netns, "bridge": host.BRIDGE, "prefix": host.PREFIX}), flush=True)
    for line in sys.stdin:
        proc = pod.netns_exec(json.loads(line), timeout=10)
        print(json.dumps({"rc": proc.returncode, "out": proc.stdout + proc.stderr}), flush=True)
"""


class Child:
    def __init__(self, slot: int, work: Path, action: str = "run") -> None:
        env = {**os.environ, "PODRUNNER_SLOT": str(slot), "PYTHONPATH": str(SUPPORT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps([POD]), str(work), action],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def line(self, timeout: float = 120) -> dict[str, object]:
        """The child's next JSON line (it may first wait for the host lock while another runner has the host)."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no answer from the child in {timeout} s (a runner waiting for the host to itself blocks it)"
        text = self.proc.stdout.readline()
        assert text, self.proc.stderr.read() if self.proc.stderr else ""
        return dict(json.loads(text))

    def netns_exec(self, argv: list[str]) -> dict[str, object]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        return self.line(30)

    def close(self) -> int:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        return self.proc.wait(timeout=60)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait(timeout=30)


def slot_objects(prefix: str) -> dict[str, list[str]]:
    return {
        "netns": [n for n in list_netns() if n.startswith(prefix)],
        "links": [n for n in list_links() if n.startswith(prefix)],
        "cgroups": [c.name for c in list_cgroups(everything=True) if c.name.startswith(prefix)],
    }


def test_two_slots_run_side_by_side_apart_and_each_cleans_up_its_own(tmp_path: Path, children: list[Child]) -> None:
    seven = Child(7, tmp_path / "seven")
    children.append(seven)
    a = seven.line()
    eight = Child(8, tmp_path / "eight")  # while slot 7's Cluster is open
    children.append(eight)
    b = eight.line()
    assert (a["ip"], a["netns"], a["bridge"]) == ("198.18.7.1", "rsh7-1", "rsh7-br")
    assert (b["ip"], b["netns"], b["bridge"]) == ("198.18.8.1", "rsh8-1", "rsh8-br")
    assert {"rsh7-1", "rsh8-1"} <= set(list_netns())
    # Each pod reaches its own bridge's host address, and nothing of the other slot: no route there.
    assert seven.netns_exec(["ip", "route", "get", "198.18.7.254"])["rc"] == 0
    crossed = eight.netns_exec(["ip", "route", "get", str(a["ip"])])
    assert crossed["rc"] != 0 and "unreachable" in str(crossed["out"]), crossed
    # Slot 8 closes (its cleanup by its own prefix); slot 7's Cluster is untouched and still works.
    assert eight.close() == 0
    assert slot_objects("rsh8-") == {"netns": [], "links": [], "cgroups": []}
    assert slot_objects("rsh7-")["netns"] == ["rsh7-1"]
    assert seven.netns_exec(["ip", "route", "get", "198.18.7.254"])["rc"] == 0
    assert seven.close() == 0
    assert slot_objects("rsh7-") == {"netns": [], "links": [], "cgroups": []}


def test_decoy_dirs_need_the_host_to_this_process_alone(tmp_path: Path, children: list[Child]) -> None:
    """A slot's Cluster shares the host: the decoys another slot's containers could see are refused."""
    child = Child(7, tmp_path, action="decoys")
    children.append(child)
    assert "decoy dirs need the host to this process alone" in str(child.line()["decoys"])
    assert child.close() == 0
    assert not Path("/opt/rsh-slot-test").exists()
