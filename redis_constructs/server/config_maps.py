"""RedisConfiguration: the two ConfigMaps of RedisShared's pods and the checksum the pods roll on.

ConfigMap ``<name>-configuration`` holds ``common.conf`` (with TLS, its listener lines), ``master.conf``,
``replica.conf`` and the ACL template ``users.acl.tmpl``; ConfigMap ``<name>-scripts`` the start,
render-config, probe and acl-reload scripts (with TLS, ``tls-reload.sh``). The text comes from the pure renderers
(``redis_config``, ``scripts``, ``tls``); this construct only puts it into objects and hashes it.

ConfigMap ``<name>-tenants`` holds the tenants file (:func:`~redis_constructs.server.tenants.render_tenants_file`),
built at synth from the tenants declared by then, and is **not** in the checksum: the ``acl-reload`` sidecar
applies a change to the running pods, which never roll for a tenant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import constructs
from cdk8s_plus_28 import k8s

from . import lan_proxy as lan_proxy_mod
from . import tls as tls_mod
from .names import RedisNames
from .redis_conf import (
    AclUser,
    Role,
    ServerSettings,
    TenantCommands,
    render_acl_template,
    render_common_conf,
    render_role_conf,
)
from .scripts import render_scripts
from .tenants import TENANTS_FILE, Tenant, render_tenants_file
from .tls import Tls


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisConfigurationProps:
    """Props of :class:`RedisConfiguration`: what the configuration needs, validated by RedisShared."""

    names: RedisNames
    #: Everything redis.conf depends on (both roles).
    settings: ServerSettings
    #: What the tenants' user may run beyond data commands.
    tenant_commands: TenantCommands
    #: The ACL users rendered (``migration`` only when its credential is set).
    users: tuple[AclUser, ...]
    #: The tenants as of now (read again at synth: a late ``add_client_namespace`` reaches the tenants file).
    tenants: Callable[[], tuple[Tenant, ...]] = tuple
    #: Default: - no TLS lines and no reload script.
    tls: Tls | None = None
    #: Default: - no ``haproxy.cfg`` (no LAN proxy).
    lan_proxy: lan_proxy_mod.LanProxySettings | None = None


class _LateConfigMap(k8s.KubeConfigMap):
    """A ConfigMap whose data is produced again by ``data()`` each time it is synthesized."""

    def __init__(
        self, scope: constructs.Construct, id: str, *, metadata: k8s.ObjectMeta, data: Callable[[], dict[str, str]]
    ) -> None:
        super().__init__(scope, id, metadata=metadata, data=data())
        self._data = data

    def to_json(self) -> Any:
        manifest = super().to_json()
        manifest["data"] = dict(sorted(self._data().items()))
        return manifest


class RedisConfiguration(constructs.Construct):
    """ConfigMaps ``<name>-configuration`` (redis.conf per role, ACL template) and ``<name>-scripts``.

    :attr:`checksum` hashes both ConfigMaps' data: on the pod template it rolls the pods whenever their
    configuration or scripts change (a ConfigMap mounted as a volume updates in place, but Redis reads
    redis.conf only at start).

    Example::

        config = RedisConfiguration(chart, "Configuration", props)
        config.config_map_name  # 'redis-shared-configuration'
    """

    def __init__(self, scope: constructs.Construct, id: str, props: RedisConfigurationProps) -> None:
        super().__init__(scope, id)
        names, tls = props.names, props.tls
        self.config_map_name = names.config_map_name
        self.scripts_config_map_name = names.scripts_config_map_name
        config_data = {
            "common.conf": render_common_conf(props.settings) + (tls_mod.render_tls_conf(tls) if tls else ""),
            "users.acl.tmpl": render_acl_template(props.tenant_commands, users=props.users),
            **{f"{role.value}.conf": render_role_conf(role, props.settings) for role in Role},
        }
        if props.lan_proxy is not None:
            config_data[lan_proxy_mod.CONFIG_KEY] = lan_proxy_mod.render_haproxy_cfg(props.lan_proxy)
        scripts_data = render_scripts(users=props.users)
        if tls is not None:
            scripts_data["tls-reload.sh"] = tls_mod.render_reload_script()
        #: ConfigMap ``<name>-configuration`` (``node.default_child``).
        self.resource = k8s.KubeConfigMap(self, "Resource", metadata=names.meta(self.config_map_name), data=config_data)
        self.scripts = k8s.KubeConfigMap(
            self, "Scripts", metadata=names.meta(self.scripts_config_map_name), data=scripts_data
        )
        self.tenants_config_map_name = names.tenants_config_map_name
        tenants = props.tenants
        #: ConfigMap ``<name>-tenants``: the tenants file as of synth; never part of :attr:`checksum`.
        self.tenants = _LateConfigMap(
            self,
            "Tenants",
            metadata=names.meta(self.tenants_config_map_name),
            data=lambda: {TENANTS_FILE: render_tenants_file(tenants())},
        )
        #: SHA-256 over both ConfigMaps' data (not the tenants'); the pods roll when it changes.
        self.checksum = hashlib.sha256(repr(sorted({**config_data, **scripts_data}.items())).encode()).hexdigest()
