"""Pod-template annotations whose change restarts pods on purpose, and what each change means.

One place for their names. The constructs put them on pod templates: :mod:`redis_constructs.server.workload` the
config checksum (computed by :mod:`redis_constructs.server.config_maps`) and the credentials version on the
Redis pods, :mod:`redis_constructs.migration.binding` the credentials version and the target on the bound app's pods.
``make plan`` (:mod:`redis_constructs.gitops.plan`) explains a restart by them. Pure: no cdk8s, no jsii.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The Redis pods' config checksum (:attr:`RedisConfiguration.checksum`).
CONFIG_CHECKSUM_ANNOTATION = "redis-shared/config-checksum"
#: The credentials' version: on the Redis pods and, from CUTOVER on, on the bound app's pods.
CREDENTIALS_VERSION_ANNOTATION = "redis-shared/credentials-version"
#: ``host:port`` of the Redis the bound app's pods connect to (from CUTOVER on).
TARGET_ANNOTATION = "redis-shared/target"

#: What a change of each annotation means, for a reviewer of ``make plan``.
RESTART_ANNOTATIONS: Mapping[str, str] = {
    CONFIG_CHECKSUM_ANNOTATION: "config checksum (redis.conf, ACL template or scripts changed)",
    CREDENTIALS_VERSION_ANNOTATION: "credentials version (a password was rotated or re-sealed)",
    TARGET_ANNOTATION: "Redis target (host:port the app connects to)",
}
