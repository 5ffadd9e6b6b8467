"""The acl-reload sidecar: tenants' ACL users follow the mounted tenants ConfigMap and Secret, no restart.

``acl_reload.sh`` (package data, POSIX sh for the image's dash, shellcheck-clean) is rendered verbatim into the
scripts ConfigMap as ``acl-reload.sh``; its paths default to the constants below and the tests point them into a
temporary directory through the same ``ACL_*`` variables. The init container runs ``acl-reload.sh render`` after
``render-config.sh`` (which now writes only the system users, ``system.acl``); the sidecar ``acl-reload`` runs the
loop, with ``acl-reload.sh check`` as its liveness probe.
"""

from __future__ import annotations

from importlib.resources import files

from .redis_conf import RUN_DIR, SECRETS_DIR

#: Mount of ConfigMap ``<name>-tenants`` (key ``tenants.conf``), whole (no subPath: the kubelet refreshes it).
TENANTS_DIR = "/opt/redis-shared/tenants"
#: Mount of Secret ``<client secret>`` in Redis's namespace (``<namespace>.password`` keys), whole, no ``items``:
#: keys added later appear on the kubelet's refresh.
TENANT_SECRETS_DIR = "/opt/redis-shared/tenant-secrets"
#: Seconds between two rounds of the sidecar. Adding a tenant takes the kubelet's refresh (about a minute,
#: its sync period plus its cache TTL) plus at most one interval.
RELOAD_INTERVAL_SECONDS = 10
#: The sidecar's liveness fails when tenant users stay pending (a refused SETUSER) longer than this; its restarts
#: show in kube_pod_container_status_restarts_total{container="acl-reload"} (alert RedisAclReloadStuck).
PENDING_LIMIT_SECONDS = 600

DEFAULTS = {
    "ACL_RUN_DIR": RUN_DIR,
    "ACL_TENANTS_FILE": f"{TENANTS_DIR}/tenants.conf",
    "ACL_TENANT_SECRETS_DIR": TENANT_SECRETS_DIR,
    "ACL_ADMIN_PASSWORD_FILE": f"{SECRETS_DIR}/admin-password",
    "ACL_RELOAD_INTERVAL_SECONDS": str(RELOAD_INTERVAL_SECONDS),
    "ACL_PENDING_LIMIT_SECONDS": str(PENDING_LIMIT_SECONDS),
}


def render_acl_reload_script() -> str:
    """The script, as shipped (a unit test checks its defaults equal :data:`DEFAULTS`)."""
    return files(__package__).joinpath("acl_reload.sh").read_text()
