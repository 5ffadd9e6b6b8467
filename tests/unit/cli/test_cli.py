"""The one command line: --help lists every command, --version, the register interface, exit codes."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from redis_constructs import cli

ROOT = Path(__file__).resolve().parents[3]


def test_help_lists_every_command_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^ {4}(\S+)", out.split("commands:")[1], re.M)
    assert listed == [
        "synth",
        "plan",
        "seal",
        "gen-password",
        "seal-tenant",
        "rotate-tenant",
        "migrate-client-secret",
        "check",
    ], out
    assert "exit codes: 0 done; 1 a check or plan found a problem" in " ".join(out.split())


def test_version_is_the_distributions(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.metadata.version", lambda name: {"redis-shared": "9.8.7"}[name])
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == "redis-shared 9.8.7\n"


def test_a_registered_module_adds_its_command_and_its_exit_code_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fake_checks")

    def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        parser = subparsers.add_parser("check", help="check the cluster")
        parser.add_argument("--fail", action="store_true")
        parser.set_defaults(handler=lambda args: cli.EXIT_PROBLEM if args.fail else cli.EXIT_OK)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_checks", module)
    assert cli.main(["check"], modules=("fake_checks",)) == 0
    assert cli.main(["check", "--fail"], modules=("fake_checks",)) == 1


def test_an_unknown_command_or_a_password_argument_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sinth"])
    assert exit_.value.code == 2
    assert "invalid choice: 'sinth'" in capsys.readouterr().err
    assert cli.main(["seal", "--password", "hunter2hunter2hunter2"]) == 2
    assert "hunter2" not in capsys.readouterr().err


@pytest.mark.parametrize("entry", [["-m", "redis_constructs"], ["-m", "redis_constructs.cli"]])
def test_python_m_is_the_same_command_line_and_help_imports_no_cdk8s(entry: list[str]) -> None:
    probe = (
        "import runpy, sys; sys.argv = ['x', '--help']\n"
        "try:\n    runpy.run_module(sys.argv_module, run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "print('cdk8s' in sys.modules, code)\n"
    ).replace("sys.argv_module", repr(entry[1]))
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.stdout.strip().endswith("False 0"), run.stdout + run.stderr
    assert "gen-password" in run.stdout


def test_synth_of_a_missing_app_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["synth", "--app", str(tmp_path / "absent.py")]) == 2
    assert "error: --app: got" in capsys.readouterr().err


def test_synth_of_an_app_with_a_bad_prop_exits_2_with_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = tmp_path / "site.py"
    app.write_text(
        "from redis_constructs import RedisSharedProps\n"
        "REDIS = RedisSharedProps(replicas=2, nodes=2)\n"
        "def main() -> int:\n    return 0\n"
    )
    assert cli.main(["synth", "--app", str(app), "--out", str(tmp_path / "dist")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: replicas: got 2; expected at most 1 with nodes=2: every Redis pod needs a node of its own "
        "(required anti-affinity)\n"
    )
    assert not (tmp_path / "dist").exists()


def test_synth_writes_where_out_says_and_leaves_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CDK8S_OUTDIR", raising=False)
    app = tmp_path / "site.py"
    app.write_text(
        "import os, pathlib\n"
        "def main() -> int:\n"
        "    pathlib.Path(os.environ['CDK8S_OUTDIR'], 'marker').parent.mkdir(parents=True)\n"
        "    pathlib.Path(os.environ['CDK8S_OUTDIR'], 'marker').write_text('x')\n"
        "    return 0\n"
    )
    assert cli.main(["synth", "--app", str(app), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "marker").read_text() == "x"
    assert "CDK8S_OUTDIR" not in os.environ
