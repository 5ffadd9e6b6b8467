#!/usr/bin/env python3
"""The site: this homelab's values, composed into charts and synthesized into dist/ (one folder per chart).

Run ``make synth`` (or ``python main.py``; ``cdk8s synth`` runs the same file).
"""

from __future__ import annotations

# First: importing the package chooses the Node that jsii runs on (redis_constructs.core._node), before cdk8s
# starts it.
import redis_constructs  # noqa: F401

# isort: split
import dataclasses
import datetime as dt
import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path

import cdk8s

from redis_constructs import (
    BEERSYSTEM_DATA_COPY,
    BeersystemRedisBinding,
    BeersystemRedisBindingProps,
    CertManagerSelfSignedCa,
    ExternalRefs,
    FluxUnit,
    IncludeFile,
    IncludeFileProps,
    LoadBalancer,
    MigrationPhase,
    PropError,
    RedisCredentials,
    RedisMonitoring,
    RedisMonitoringProps,
    RedisShared,
    RedisSharedProps,
    ReplicatedSecret,
    ReplicatedSecretProps,
    Role,
    SecretSource,
    SynthError,
    Tenant,
    TenantCommands,
    Tls,
    add_rollout_order,
    add_sync_waves,
    flux_kustomizations,
    flux_split_patches,
    read_sealed_file,
    synthesize,
    utc_now,
)

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    # The props below validate themselves as this module runs, before main() can catch anything: a bad value
    # prints one error (no traceback) and exits 1, as one caught by main() does; nothing is written.
    def _report_bad_value(kind: type[BaseException], error: BaseException, tb: object, /) -> None:
        if isinstance(error, PropError):
            print(f"error: {error}", file=sys.stderr)
        else:
            sys.__excepthook__(kind, error, tb)  # type: ignore[arg-type]

    sys.excepthook = _report_bad_value

#: Where beersystem is in its move onto redis-shared (README "Migrating beersystem (runbook)"): commit one
#: phase at a time. The committed default is BEFORE_CUTOVER: a fresh clone (or a first sync) then brings up
#: redis-shared next to beersystem's own Redis without touching the app, so Redis can be checked before any
#: traffic moves, and CUTOVER stays a deliberate, timed commit with someone watching the validation Job.
MIGRATION_PHASE = MigrationPhase.BEFORE_CUTOVER
#: When CUTOVER was first deployed, e.g. ``dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)``; required from
#: CUTOVER on. DECOMMISSIONED refuses to synthesize until this is 24 h in the past.
CUTOVER_TIME: dt.datetime | None = None
#: The opt-in reverse copy for a rollback (README runbook, "Roll back"): SCAN patterns of beersystem's keys in
#: redis-shared. Set them in SCALED_DOWN, in a commit of its own once beersystem's pods are gone; empty: no copy.
REVERSE_COPY_MATCH: tuple[str, ...] = ()
#: In DECOMMISSIONED, stop rendering the old Redis's volume claim (its data). Default False: it stays, protected
#: from pruning; the runbook says how to delete it for good.
DELETE_OLD_DATA = False

#: The pod that is the Redis primary (README "Failover"). To fail over to the replica when the primary's node
#: is gone, commit "redis-shared-replicas-0"; to fail back, commit "redis-shared-master-0" again. Each pod's
#: role then shows in `kubectl -n redis get pods -L redis-shared/role`.
PRIMARY_POD = "redis-shared-master-0"

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
    # What beersystem needs: sessions (BEERSYSTEM_SESSION_TTL) and cache entries with a TTL, i.e. GET/SET/
    # EXPIRE/DEL; nothing in apps/beersystem/ uses Lua, functions or RESTORE. Allow them only for an app
    # that does (README "Security").
    tenant_commands=TenantCommands(allow_scripting=False, allow_restore=False),
    # TLS for the LAN (192.168.4.203:6380) with a CA of Redis's own, issued by cert-manager (the one
    # prerequisite; README "TLS"). Plaintext 6379 stays for beersystem inside the cluster.
    tls=Tls(certificates=CertManagerSelfSignedCa()),
    # beersystem sends only a password: it is Redis's `default` user, keys unconfined (its metrics row).
    tenants=(Tenant(namespace="beersystem", password_only=True),),
)


def monitoring(redis: RedisShared) -> RedisMonitoringProps:
    """kube-prometheus-stack in `monitoring` (release `kube-prometheus-stack`), scraping ``redis`` every 15 s."""
    return RedisMonitoringProps(redis=redis, interval="15s", release_label="kube-prometheus-stack")


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
SYSTEM_KEYS = ("replication-password", "exporter-password", "admin-password", "migration-password")

#: beersystem's manifests as its team wrote them (loaded like cdk8s.Include; the binding rewrites them per phase).
BEERSYSTEM_MANIFESTS = {
    "App": HERE / "apps" / "beersystem" / "app.yaml",
    "OldRedis": HERE / "apps" / "beersystem" / "redis.yaml",
}

#: Flux: one Kustomization per chart folder, from the GitRepository `flux bootstrap` created. dist/flux is applied
#: by a Kustomization file added inside the cluster's bootstrap path, never by re-pointing the bootstrap
#: Kustomization flux-system (it would prune Flux itself); README "Ordering".
FLUX_NAMESPACE = "flux-system"
FLUX_SOURCE = "flux-system"

#: Objects dist/ references but does not contain: they exist in the cluster before the first sync.
#: Secret beersystem-redis is beersystem's old Redis password, created by hand before this project.
EXTERNAL = ExternalRefs(
    namespaces=frozenset({"beersystem", "monitoring", FLUX_NAMESPACE}),
    secrets={
        ("beersystem", "beersystem-redis"): frozenset({"password"}),
        # The same password, copied into `redis` for the data-copy Job (README runbook, "Before you start").
        ("redis", "beersystem-redis"): frozenset({"password"}),
    },
)


def build_app(
    redis: RedisSharedProps = REDIS,
    source: SecretSource | None = None,
    *,
    phase: MigrationPhase = MIGRATION_PHASE,
    cutover_time: dt.datetime | None = CUTOVER_TIME,
    now: Callable[[], dt.datetime] = utc_now,
    delete_old_data: bool = DELETE_OLD_DATA,
    primary_pod: str = PRIMARY_POD,
    reverse_copy_match: tuple[str, ...] = REVERSE_COPY_MATCH,
) -> cdk8s.App:
    """The site's charts; folder names in dist/ are the chart ids.

    ``phase``/``cutover_time``/``delete_old_data``/``primary_pod``/``reverse_copy_match`` default to the
    committed :data:`MIGRATION_PHASE`, :data:`CUTOVER_TIME`, :data:`DELETE_OLD_DATA`, :data:`PRIMARY_POD` and
    :data:`REVERSE_COPY_MATCH`; ``now`` is the clock the 24 h decommission gate reads (default: the system
    clock).
    """
    source = source if source is not None else secret_source()
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "redis-shared", disable_resource_name_hashes=True)
    client = ReplicatedSecret(
        chart,
        "ClientCredentials",
        ReplicatedSecretProps(
            name=CLIENT_SECRET,
            # Redis's namespace only: RedisShared adds a copy for each of its client namespaces.
            namespaces=(redis.namespace,),
            keys=("password",),
            source=source,
        ),
    )
    system = ReplicatedSecret(
        chart,
        "SystemCredentials",
        ReplicatedSecretProps(name=SYSTEM_SECRET, namespaces=(redis.namespace,), keys=SYSTEM_KEYS, source=source),
    )
    shared = RedisShared(
        chart,
        "Redis",
        dataclasses.replace(
            redis,
            credentials=RedisCredentials.from_replicated(client=client, system=system),
            primary_pod=primary_pod,
        ),
    )
    RedisMonitoring(chart, "Monitoring", monitoring(shared))
    # ArgoCD order within one sync: namespace -1, credentials 0, Redis 1 with the replicas StatefulSet, the
    # master StatefulSet 2 (rolls only once the replicas are healthy again); the app (wave 3) comes after.
    add_rollout_order(shared)
    add_sync_waves(chart)

    beersystem = cdk8s.Chart(app, "beersystem", disable_resource_name_hashes=True)
    # The data copy has a folder (and a Flux unit) of its own: beersystem starts only after it verified.
    migration = cdk8s.Chart(app, "beersystem-migration", disable_resource_name_hashes=True)
    BeersystemRedisBinding(
        beersystem,
        "RedisBinding",
        BeersystemRedisBindingProps(
            redis=shared,
            credentials=client,
            manifests=tuple(
                IncludeFile(beersystem, id, IncludeFileProps(path=path)) for id, path in BEERSYSTEM_MANIFESTS.items()
            ),
            phase=phase,
            cutover_time=cutover_time,
            now=now,
            delete_old_data=delete_old_data,
            data_copy=dataclasses.replace(BEERSYSTEM_DATA_COPY, reverse_match=reverse_copy_match),
            data_copy_scope=migration,
        ),
    )
    # Flux: dist/redis-shared applied by two Kustomizations, the master StatefulSet only once the first
    # (everything else, the replicas StatefulSet included) is Ready; ArgoCD's waves 1 and 2.
    first, second = flux_split_patches(chart.to_json(), shared.statefulset_name(Role.PRIMARY))
    flux_kustomizations(
        app,
        "flux",
        namespace=FLUX_NAMESPACE,
        source=FLUX_SOURCE,
        units=(
            # Redis's units wait out the startup probe's budget (15 min for a large AOF) before reporting a
            # failure; the copy Job may run up to its activeDeadlineSeconds (1 h).
            FluxUnit(name="redis-shared", folder="redis-shared", patches=tuple(first), timeout="20m"),
            FluxUnit(
                name=FLUX_MASTER_STATEFULSET_UNIT,
                folder="redis-shared",
                depends_on=("redis-shared",),
                patches=tuple(second),
                timeout="20m",
            ),
            # The data copy (its own folder, empty outside CUTOVER) once both Redis StatefulSets are Ready.
            FluxUnit(
                name="beersystem-migration",
                folder="beersystem-migration",
                depends_on=("redis-shared", FLUX_MASTER_STATEFULSET_UNIT),
                timeout="65m",
            ),
            FluxUnit(
                name="beersystem",
                folder="beersystem",
                depends_on=("redis-shared", FLUX_MASTER_STATEFULSET_UNIT, "beersystem-migration"),
            ),
        ),
    )
    return app


#: The Flux Kustomization applying only StatefulSet redis-shared-master (whatever role its pod has).
FLUX_MASTER_STATEFULSET_UNIT = "redis-shared-master-statefulset"


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
    code = main()
    # The process ends here: the interpreter's exit would walk everything the synth built with the cyclic garbage
    # collector, pass after pass (~0.2 s, a fifth of a synth), only to free memory the OS takes back anyway.
    # Frozen objects are skipped by those passes; atexit handlers (jsii stopping Node) run as before.
    gc.freeze()
    sys.exit(code)
