"""Write the tenant rules of the sample site (beersystem on default, shop confined) as a Prometheus rule file."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from redis_constructs.monitoring.tenant_rules import render_tenant_groups
from redis_constructs.server.tenants import Tenant

SELECTOR = 'namespace="redis",service="redis-shared-metrics"'
TENANTS = (Tenant(namespace="beersystem", password_only=True), Tenant(namespace="shop", key_prefix="shop:"))


def main(out: Path) -> None:
    groups = render_tenant_groups(
        selector=SELECTOR, tenants=TENANTS, maxclients=100, maxmemory_clients_bytes=128 * 1024 * 1024
    )
    out.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, width=200))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
