"""A small world of its own for the generic binding: RedisShared + credentials and beersystem's manifests.

Shared by ``test_binding``, ``test_validation_job``, ``test_gitops_annotations``, ``test_data_copy`` and
``test_binding_runtime`` (test modules do not import each other), with helpers reading the site's rendered charts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import cdk8s
from conftest import ROOT

import main
from redis_constructs import RedisCredentials, RedisShared, RedisSharedProps, Tenant
from redis_constructs.credentials.replicated_secret import ReplicatedSecret, ReplicatedSecretProps, SecretSource
from redis_constructs.credentials.tenant_credentials import TenantCredentials, TenantCredentialsProps
from redis_constructs.gitops.synth import chart_objects
from redis_constructs.migration.binding import MigrationPhase, RedisClientBinding, RedisClientBindingProps
from redis_constructs.migration.redis_env import RedisEnv

Obj = dict[str, Any]
APPS = ROOT / "apps" / "beersystem"
NS = "beersystem"
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(hours=30)
PASSWORD = "client-Pw_0123456789abcdef"
OLD_OBJECTS = (
    ("Deployment", "beersystem-redis"),
    ("Service", "beersystem-redis"),
    ("PersistentVolumeClaim", "beersystem-redis-data"),
    ("NetworkPolicy", "beersystem-redis"),
)


def at(when: dt.datetime) -> Any:
    return lambda: when


def site(phase: MigrationPhase, *, cutover_time: dt.datetime | None = T0, now: dt.datetime = LATER) -> dict[str, Any]:
    """The site's charts (``main.build_app``) in ``phase``, by chart id; the clock reads ``now``."""
    return chart_objects(main.build_app(phase=phase, cutover_time=cutover_time, now=at(now)))


def only_job(objects: list[Obj]) -> Obj:
    """The one Job among ``objects`` (an assertion names them all if there is not exactly one)."""
    jobs = [o for o in objects if o["kind"] == "Job"]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
    return jobs[0]


def env_of(container: Obj) -> dict[str, Obj]:
    """A container's env entries by name."""
    return {e["name"]: e for e in container.get("env", [])}


class World:
    """RedisShared + its tenants' credentials in one chart, the included beersystem manifests in another.

    Each admitted namespace is a tenant (beersystem password-only, as on the site; ``tenants`` overrides them).
    """

    def __init__(
        self,
        *,
        admitted: tuple[str, ...] = (NS,),
        system_keys: tuple[str, ...] = main.SYSTEM_KEYS,
        tenants: tuple[Tenant, ...] | None = None,
    ) -> None:
        if tenants is None:
            tenants = tuple(Tenant(namespace=ns, password_only=ns == NS) for ns in admitted)
        self.app = cdk8s.App()
        shared = cdk8s.Chart(self.app, "redis-shared", disable_resource_name_hashes=True)
        self.client = TenantCredentials(
            shared,
            "Client",
            TenantCredentialsProps(
                source=SecretSource.plaintext_for_tests({f"{t.namespace}.password": PASSWORD for t in tenants})
            ),
        )
        self.system = ReplicatedSecret(
            shared,
            "System",
            ReplicatedSecretProps(
                name="redis-shared-system",
                namespaces=("redis",),
                keys=system_keys,
                source=SecretSource.plaintext_for_tests({k: f"{k}-Pw_0123456789" for k in system_keys}),
            ),
        )
        self.redis = RedisShared(
            shared,
            "Redis",
            RedisSharedProps(
                tenants=tenants,
                credentials=RedisCredentials.from_replicated(system=self.system, tenants=self.client),
            ),
        )
        self.chart = cdk8s.Chart(self.app, NS, disable_resource_name_hashes=True)
        self.included = {
            "App": cdk8s.Include(self.chart, "App", url=str(APPS / "app.yaml")),
            "OldRedis": cdk8s.Include(self.chart, "OldRedis", url=str(APPS / "redis.yaml")),
        }
        self.bound = 0

    def obj(self, kind: str, name: str) -> cdk8s.ApiObject:
        return next(o for inc in self.included.values() for o in inc.api_objects if o.kind == kind and o.name == name)

    def bind(self, **kw: Any) -> RedisClientBinding:
        self.bound += 1
        props: dict[str, Any] = {
            "redis": self.redis,
            "credentials": self.client,
            "app": self.obj("Deployment", "beersystem"),
            "env": RedisEnv.host_port_password(),
            "phase": MigrationPhase.CUTOVER,
            "cutover_time": T0,
            "now": at(LATER),
            "old_redis": tuple(self.obj(k, n) for k, n in OLD_OBJECTS),
        }
        return RedisClientBinding(self.chart, f"Binding{self.bound}", RedisClientBindingProps(**(props | kw)))

    def objects(self) -> list[Obj]:
        return [o for c in self.app.charts for o in c.to_json()]

    def beersystem(self) -> list[Obj]:
        return list(self.chart.to_json())
