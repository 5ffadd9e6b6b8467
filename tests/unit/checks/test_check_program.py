"""check_program's pure parts: percentiles, INFO parsing, arguments (no --password option; bad input exits 2).

The checks themselves run against real pods in tests/runtime/test_checks_runtime.py.
"""

from __future__ import annotations

import io

import pytest

from redis_constructs.checks import check_program as cp


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert cp.percentile(values, 95) == 95.0
    assert cp.percentile(values, 50) == 50.0
    assert cp.percentile([3.0], 95) == 3.0
    assert cp.percentile([5.0, 1.0, 3.0], 100) == 5.0


def test_replica_lines_and_keys_in() -> None:
    info = {
        "role": "master",
        "connected_slaves": "2",
        "slave0": "ip=10.0.0.2,port=6379,state=online,offset=100,lag=0",
        "slave1": "ip=10.0.0.3,port=6379,state=wait_bgsave,offset=0,lag=7",
        "slave_read_only": "1",
    }
    lines = cp.replica_lines(info)
    assert [(r["ip"], r["state"], r["lag"]) for r in lines] == [
        ("10.0.0.2", "online", "0"),
        ("10.0.0.3", "wait_bgsave", "7"),
    ]
    assert cp.keys_in({"db0": "keys=3,expires=1,avg_ttl=0", "db2": "keys=4,expires=0,avg_ttl=0"}) == 7
    assert cp.keys_in({}) == 0


def test_no_password_option_exists() -> None:
    with pytest.raises(SystemExit) as e:
        cp.parse_args(["lan", "--host", "h", "--ca", "c", "--user", "u", "--password", "pw"])
    assert e.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["lan", "--host", "h"],
        ["cluster", "--master-host", "m", "--replicas-host", "r"],
        ["cluster", "--master-host", "m", "--replicas-host", "r", "--password-file", "f", "--tls-port", "6380"],
        ["nonsense"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cp.parse_args(argv)
    assert e.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_missing_password_file_fails_setup() -> None:
    out = io.StringIO()
    code = cp.main(["cluster", "--master-host", "m", "--replicas-host", "r", "--password-file", "/nonexistent/pw"], out)
    assert code == cp.EXIT_FAILED and "FAIL setup" in out.getvalue()


def test_the_program_imports_nothing_but_the_standard_library() -> None:
    from redis_constructs.checks.check_job import program_text

    imports = [line for line in program_text().splitlines() if line.startswith(("import ", "from "))]
    assert imports and not [line for line in imports if "redis_constructs" in line or line.startswith("from .")]


def test_the_lan_command_refuses_a_password_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from redis_constructs.checks import cli

    with pytest.raises(SystemExit) as e:
        cli.main(["check", "--host", "h", "--ca", "c", "--user", "u", "--password", "secret"])
    assert e.value.code == 2 and "--password" in capsys.readouterr().err
