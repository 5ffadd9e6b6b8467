"""The CI workflows: they run the gate and the plan, and the linters that `make lint` runs on them can fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

BIN = Path(sys.executable).parent
WORKFLOWS = (ROOT / ".github" / "workflows" / "ci.yml", ROOT / ".forgejo" / "workflows" / "ci.yml")
#: A workflow with a template injection (the PR title lands in the shell) and an unpinned action.
BAD = """\
name: bad
on: pull_request
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def lint(tool: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / tool), *(["--offline"] if tool == "zizmor" else []), *map(str, paths)]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.parts[-3])
def test_workflow_runs_the_gate_and_the_plan_against_the_base(workflow: Path) -> None:
    doc = yaml.safe_load(workflow.read_text())
    assert doc["permissions"] == {}
    steps = {name: "\n".join(s.get("run", "") for s in job["steps"]) for name, job in doc["jobs"].items()}
    assert "bash .ci/run" in steps["test"]
    # The command, not make: make would turn the plan's exit 1 (a refused change) into 2.
    assert '.venv/bin/python -O -m redis_constructs plan --base "$BASE_SHA"' in steps["plan"]
    for job in doc["jobs"].values():
        assert job["permissions"]["contents"] == "read"
        for step in job["steps"]:
            if "uses" in step:
                ref = step["uses"].split("@", 1)[1]
                assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), step["uses"]
                assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("tool", ["actionlint", "zizmor"])
def test_linters_pass_the_workflows_and_fail_a_bad_one(tool: str, tmp_path: Path) -> None:
    assert lint(tool, *WORKFLOWS).returncode == 0
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(BAD)
    result = lint(tool, bad)
    assert result.returncode != 0
    assert "github.event.pull_request.title" in result.stdout + result.stderr
