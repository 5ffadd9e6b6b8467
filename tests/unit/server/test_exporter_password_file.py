"""The exporter's password file has the key each redis_exporter version looks up (POSIX sh, real dash).

oliver006/redis_exporter ``exporter/redis.go``, read at v1.45.0 and v1.88.0:
- v1.45 (Debian's ``prometheus-redis-exporter``, the runtime tests): ``connectToRedis`` prepends ``redis://``
  when ``REDIS_ADDR`` has no scheme, then ``configureOptions`` reads ``PasswordMap[uri]``: the URI as is.
- v1.69 … v1.88 (the image, ``images.EXPORTER_IMAGE``): ``lookupPasswordInPasswordMap`` parses that URI, sets
  ``u.User = url.User(REDIS_USER)`` (replacing any user info), ``u.String()``, strips a solo ``:@``, and reads
  ``PasswordMap`` with the result: ``rediss://exporter@localhost:6380``.
The models below follow those lines; the runtime tests prove the 1.45 key against the real binary.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from redis_constructs.core.images import EXPORTER_IMAGE
from redis_constructs.server.redis_conf import EXPORTER_RUN_DIR, EXPORTER_USERNAME
from redis_constructs.server.scripts import EXPORTER_PASSWORD_FILE_FUNCTION, render_scripts

#: Every character read_secret lets through: printable ASCII without space, quotes and backslash.
ALLOWED = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "\"'\\")


def key_v1_45(redis_addr: str) -> str:
    return redis_addr if "://" in redis_addr else "redis://" + redis_addr


def key_v1_88(redis_addr: str, user: str) -> str:
    u = urlsplit(key_v1_45(redis_addr))
    host = u.netloc.rpartition("@")[2]
    return urlunsplit((u.scheme, f"{quote(user, safe='')}@{host}", u.path, u.query, u.fragment))


def write_password_file(tmp_path: Path, redis_addr: str, password: str) -> dict[str, str]:
    dash = shutil.which("dash") or shutil.which("sh")
    assert dash
    secret = tmp_path / "exporter-password"
    secret.write_text(password)
    out = tmp_path / "password.json"
    script = f'read_secret() {{ cat "{secret}"; }}\n{EXPORTER_PASSWORD_FILE_FUNCTION}\nwrite_exporter_password_file "{out}"\n'
    result = subprocess.run(
        [dash, "-eu", "-c", script],
        env={"REDIS_EXPORTER_URI": redis_addr, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, str] = json.loads(out.read_text())
    return parsed


@pytest.mark.parametrize("redis_addr", ["rediss://localhost:6380", "redis://localhost:6379", "localhost:6379"])
def test_the_file_holds_the_key_of_both_exporter_versions(tmp_path: Path, redis_addr: str) -> None:
    password = ALLOWED + "%s%n$(id)`id`"
    got = write_password_file(tmp_path, redis_addr, password)
    assert got == {key_v1_45(redis_addr): password, key_v1_88(redis_addr, EXPORTER_USERNAME): password}


def test_the_models_give_the_keys_read_in_the_exporter_source() -> None:
    assert key_v1_45("rediss://localhost:6380") == "rediss://localhost:6380"
    assert key_v1_45("localhost:6379") == "redis://localhost:6379"
    assert key_v1_88("rediss://localhost:6380", "exporter") == "rediss://exporter@localhost:6380"
    assert key_v1_88("redis://old@localhost:6379", "exporter") == "redis://exporter@localhost:6379"


def test_render_config_writes_the_exporter_file_with_the_function() -> None:
    # The image's exporter is one of the versions that look up the key with the user.
    major, minor = (int(n) for n in EXPORTER_IMAGE.rpartition(":v")[2].split(".")[:2])
    assert (major, minor) >= (1, 69)
    script = render_scripts()["render-config.sh"]
    assert EXPORTER_PASSWORD_FILE_FUNCTION in script
    assert f'write_exporter_password_file "{EXPORTER_RUN_DIR}/password.json"' in script
