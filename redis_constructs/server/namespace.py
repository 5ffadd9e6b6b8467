"""RedisNamespace: the namespace Redis lives in (Pod Security ``restricted``) and its pods' ServiceAccount."""

from __future__ import annotations

from dataclasses import dataclass

import constructs
from cdk8s_plus_28 import k8s

from .names import RedisNames

#: The Pod Security Standard the namespace enforces, audits and warns about, and its version.
POD_SECURITY_LEVEL = "restricted"
POD_SECURITY_VERSION = "v1.28"


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisNamespaceProps:
    """Props of :class:`RedisNamespace`."""

    #: The namespace and the ServiceAccount's name.
    names: RedisNames


class RedisNamespace(constructs.Construct):
    """The Redis namespace, labelled Pod Security ``restricted``, and a ServiceAccount without a token.

    The namespace is the object every other one is in, so it is rendered first. The ServiceAccount exists so
    that the pods don't run as ``default``; none of them talks to the API server, so it mounts no token.

    Example::

        names = RedisNames(name="redis-shared", namespace="redis")
        ns = RedisNamespace(chart, "Namespace", RedisNamespaceProps(names=names))
        ns.service_account_name  # 'redis-shared'
    """

    def __init__(self, scope: constructs.Construct, id: str, props: RedisNamespaceProps) -> None:
        super().__init__(scope, id)
        names = props.names
        self.namespace = names.namespace
        self.service_account_name = names.service_account_name
        modes = ("enforce", "audit", "warn")
        #: The Namespace (``node.default_child``).
        self.resource = k8s.KubeNamespace(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(
                name=names.namespace,
                labels={f"pod-security.kubernetes.io/{mode}": POD_SECURITY_LEVEL for mode in modes}
                | {f"pod-security.kubernetes.io/{mode}-version": POD_SECURITY_VERSION for mode in modes},
            ),
        )
        self.service_account = k8s.KubeServiceAccount(
            self,
            "ServiceAccount",
            metadata=names.meta(names.service_account_name),
            automount_service_account_token=False,
        )
