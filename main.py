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
    BackupMonitoring,
    BeersystemRedisBinding,
    BeersystemRedisBindingProps,
    CertManagerSelfSignedCa,
    CheckJobRun,
    DecommissionGate,
    ExternalRefs,
    FluxUnit,
    GitopsBootstrap,
    GitopsBootstrapProps,
    IncludeFile,
    IncludeFileProps,
    LoadBalancer,
    MigrationPhase,
    PropError,
    RedisBackup,
    RedisBackupProps,
    RedisChecks,
    RedisChecksProps,
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
    TenantCredentials,
    TenantCredentialsProps,
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

#: Where beersystem is in its move onto redis-shared (docs/migration.md): commit one
#: phase at a time. The committed default is BEFORE_CUTOVER: a fresh clone (or a first sync) then brings up
#: redis-shared next to beersystem's own Redis without touching the app, so Redis can be checked before any
#: traffic moves, and CUTOVER stays a deliberate, timed commit with someone watching the validation Job.
MIGRATION_PHASE = MigrationPhase.BEFORE_CUTOVER
#: When CUTOVER was first deployed, e.g. ``dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)``; required from
#: CUTOVER on. DECOMMISSIONED refuses to synthesize until this is 24 h in the past.
CUTOVER_TIME: dt.datetime | None = None
#: The opt-in reverse copy for a rollback (docs/migration.md#4-validate, "Roll back"): SCAN patterns of beersystem's keys in
#: redis-shared. Set them in SCALED_DOWN, in a commit of its own once beersystem's pods are gone; empty: no copy.
REVERSE_COPY_MATCH: tuple[str, ...] = ()
#: In DECOMMISSIONED, stop rendering the old Redis's volume claim (its data). Default False: it stays, protected
#: from pruning; the runbook says how to delete it for good.
DELETE_OLD_DATA = False

#: The pod that is the Redis primary (docs/operations.md#failover-manual-one-commit). To fail over to the replica when the primary's node
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
    # K3s's defaults; synth refuses a LAN range that overlaps either.
    cluster_pod_cidr="10.42.0.0/16",
    cluster_service_cidr="10.43.0.0/16",
    nodes=4,  # every Redis pod needs a node of its own: replicas + 1 <= nodes
    # beersystem sends only a password, so it is Redis's `default` user, with every key as before (its keys share
    # no prefix); docs/tenants.md says what that reaches. What it needs: sessions (BEERSYSTEM_SESSION_TTL) and
    # cache entries with a TTL, i.e. GET/SET/EXPIRE/DEL; nothing in apps/beersystem/ uses Lua, functions or
    # RESTORE. Allow them only for an app that does (docs/security.md).
    tenants=(
        Tenant(
            namespace="beersystem",
            password_only=True,
            commands=TenantCommands(allow_scripting=False, allow_restore=False),
        ),
    ),
    monitoring_namespace="monitoring",
    # TLS for the LAN (192.168.4.203:6380) with a CA of Redis's own, issued by cert-manager (the one
    # prerequisite; docs/tls.md). Plaintext 6379 stays for beersystem inside the cluster.
    tls=Tls(certificates=CertManagerSelfSignedCa()),
)


#: DECOMMISSIONED asks kube-prometheus-stack's Prometheus whether the time since the cutover was healthy before the
#: old Redis goes (docs/checks.md, "Decommission gate").
DECOMMISSION_GATE = DecommissionGate(prometheus_url="http://kube-prometheus-stack-prometheus.monitoring.svc:9090")
#: The checks (docs/checks.md): after every sync, and at minute 17 of every hour so drift between syncs shows.
#: The TLS check verifies the certificate for the LAN address (the LoadBalancer IP), as LAN clients dial it.
CHECK_RUN = CheckJobRun(schedule="17 * * * *")


def monitoring(redis: RedisShared) -> RedisMonitoringProps:
    """kube-prometheus-stack in `monitoring` (release `kube-prometheus-stack`), scraping ``redis`` every 15 s."""
    return RedisMonitoringProps(redis=redis, interval="15s", release_label="kube-prometheus-stack")


#: Where the credentials come from. The committed default is sealed for a placeholder certificate whose
#: private key was thrown away: it synthesizes on a fresh clone and can never be decrypted. docs/credentials.md
#: shows how to seal for your cluster's controller, or to switch to an external store.
SEALED_VALUES = HERE / "sealed" / "values.yaml"


def secret_source() -> SecretSource:
    """The site's choice; replace with ``SecretSource.external(...)`` or ``SecretSource.existing()``."""
    return SecretSource.sealed(read_sealed_file(SEALED_VALUES))


#: The tenants' passwords: each tenant's own copy in its namespace, all of them (`<tenant>.password`) in `redis`;
#: the system credentials stay in `redis`.
CLIENT_SECRET = "redis-shared-client"
SYSTEM_SECRET = "redis-shared-system"
SYSTEM_KEYS = (
    "replication-password",
    "exporter-password",
    "admin-password",
    "migration-password",
    "backup-password",
    "check-password",
)

#: beersystem's manifests as its team wrote them (loaded like cdk8s.Include; the binding rewrites them per phase).
BEERSYSTEM_MANIFESTS = {
    "App": HERE / "apps" / "beersystem" / "app.yaml",
    "OldRedis": HERE / "apps" / "beersystem" / "redis.yaml",
}

#: What Argo CD or Flux syncs: this repository. dist/bootstrap/ holds what an operator applies once (one Argo CD
#: Application over dist/, or the Flux Kustomization of dist/flux); docs/deploy-argocd.md, docs/deploy-flux.md.
#: Replace the URL with your repository's (https://, http:// or ssh://).
GITOPS = GitopsBootstrapProps(repo_url="https://git.home.arpa/homelab/redis-shared.git", revision="main")

#: Flux: one Kustomization per chart folder, from the GitRepository `flux bootstrap` created (GITOPS.flux_source).
#: dist/flux is applied by dist/bootstrap/flux, never by re-pointing the bootstrap Kustomization flux-system (it
#: would prune Flux itself); docs/deploy-flux.md.
FLUX_NAMESPACE = GITOPS.flux_namespace
FLUX_SOURCE = GITOPS.flux_source

#: Objects dist/ references but does not contain: they exist in the cluster before the first sync.
#: Secret beersystem-redis is beersystem's old Redis password, created by hand before this project.
EXTERNAL = ExternalRefs(
    namespaces=frozenset({"beersystem", "monitoring", FLUX_NAMESPACE, GITOPS.argocd_namespace}),
    secrets={
        ("beersystem", "beersystem-redis"): frozenset({"password"}),
        # The same password, copied into `redis` for the data-copy Job (docs/migration.md#before-you-start).
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
    # Redis's copy only here: RedisShared adds each tenant's own copy (and its key in Redis's) as it adds the tenant.
    client = TenantCredentials(
        chart,
        "ClientCredentials",
        TenantCredentialsProps(name=CLIENT_SECRET, server_namespace=redis.namespace, source=source),
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
            credentials=RedisCredentials.from_replicated(system=system, tenants=client),
            primary_pod=primary_pod,
        ),
    )
    client.check_complete()  # every tenant is added: a sealed key of none of them is a removal half done
    # Nightly verified snapshots at 03:17 UTC on a volume away from the Redis nodes, 7 daily + 4 weekly kept
    # (docs/backups.md). To restore, commit e.g. (and remove it again once its Job succeeded):
    #   RedisRestore(chart, "Restore", RedisRestoreProps(redis=shared, backup=backup,
    #                snapshot="redis-20261206T031700Z", match=("beersystem:*",)))
    backup = RedisBackup(chart, "Backup", RedisBackupProps(redis=shared, schedule="17 3 * * *"))
    # The checks after every sync and, hourly, on a schedule (docs/checks.md); the check user's password is
    # check-password of the system credentials.
    checks = RedisChecks(chart, "Checks", RedisChecksProps(redis=shared, run=CHECK_RUN))
    RedisMonitoring(
        chart,
        "Monitoring",
        dataclasses.replace(
            monitoring(shared),
            backup=BackupMonitoring(
                namespace=backup.namespace,
                cronjob=backup.cronjob_name,
                max_age_seconds=backup.alert_max_age_seconds,
            ),
            checks_cronjob=checks.cronjob_name,
        ),
    )
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
            decommission_gate=DECOMMISSION_GATE,
        ),
    )
    # Flux: dist/redis-shared applied by two Kustomizations, the master StatefulSet only once the first
    # (everything else, the replicas StatefulSet included) is Ready; ArgoCD's waves 1 and 2.
    # The checks go with the master StatefulSet's unit: they need both pods, and Flux waits for the Job.
    first, second = flux_split_patches(
        chart.to_json(), shared.statefulset_name(Role.PRIMARY), after=checks.flux_objects()
    )
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
    # What an operator applies once: dist/bootstrap/argocd or dist/bootstrap/flux.
    GitopsBootstrap(app, "bootstrap", GITOPS)
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
        return 2  # bad input, nothing written (redis-shared's exit codes: docs/cli.md)
    print(f"synthesized into {outdir}")
    return 0


if __name__ == "__main__":
    code = main()
    # The process ends here: the interpreter's exit would walk everything the synth built with the cyclic garbage
    # collector, pass after pass (~0.2 s, a fifth of a synth), only to free memory the OS takes back anyway.
    # Frozen objects are skipped by those passes; atexit handlers (jsii stopping Node) run as before.
    gc.freeze()
    sys.exit(code)
