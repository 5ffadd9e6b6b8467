"""acl_reload.sh: shellcheck-clean, dash parses it, its path defaults equal the library's constants."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "redis_constructs" / "server" / "acl_reload.sh"


def test_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is required (apt-get install shellcheck)"
    r = subprocess.run([shellcheck, "-s", "sh", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout


def test_dash_parses_it() -> None:
    assert subprocess.run(["dash", "-n", str(SCRIPT)], check=False).returncode == 0


def test_defaults_match_library_constants() -> None:
    from redis_constructs.server.redis_conf import RUN_DIR, SECRETS_DIR

    defaults = dict(re.findall(r'^: "\$\{(ACL_[A-Z_]+):=([^}]*)\}"$', SCRIPT.read_text(), flags=re.M))
    assert defaults["ACL_RUN_DIR"] == RUN_DIR
    assert defaults["ACL_ADMIN_PASSWORD_FILE"] == f"{SECRETS_DIR}/admin-password"
    assert defaults["ACL_TENANTS_FILE"] == "/opt/redis-shared/tenants/tenants.conf"
    assert defaults["ACL_TENANT_SECRETS_DIR"] == "/opt/redis-shared/tenant-secrets"


def test_unknown_argument_is_a_usage_error() -> None:
    r = subprocess.run(["dash", str(SCRIPT), "bogus"], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "usage: acl-reload.sh" in r.stderr
