"""Tenants of a RedisShared: one ACL user per client namespace, rendered as the tenants file the pods reload.

Pure module (no cdk8s import). A :class:`Tenant` is declared once, with ``RedisShared.add_client_namespace``;
everything that concerns it follows from this record: its ACL user and rules (here), its Secret keys, its
NetworkPolicy peer, its exporter key-count pattern and its recording rules.

The tenants file (ConfigMap ``<name>-tenants``, key :data:`TENANTS_FILE`) is what ``acl-reload.sh`` reads in the
running pods; it carries no password, only where each one is:

    <secret id> <username> <ACL rules...>

``acl-reload.sh`` turns each line into ``ACL SETUSER <username> reset on #<sha256> [#<sha256>] <rules>``, the
hashes taken from the files ``<secret id>.password`` and ``<secret id>.previous-password`` of the mounted tenants
Secret; a line whose ``.password`` file is missing or unusable becomes ``reset off`` (the user exists, can log in
with nothing, may run nothing). The secret id :data:`NO_PASSWORD` marks the ``default`` line when no tenant holds
``default``: ``default`` is then always off.

Facts the rules rely on (Redis 7.4 ``src/commands/*.json``, ``src/acl.c``; runs on 7.0.15 in
``experiments/acl_experiments.txt``):

* ``KEYS``, ``SCAN``, ``RANDOMKEY``, ``DBSIZE`` take no key argument, so key patterns do not filter them
  (redis/redis#8152). A confined tenant loses ``KEYS`` and ``RANDOMKEY``; ``SCAN`` stays (client libraries use
  it for their own prefix; ``SCAN ... MATCH shop:*``) and **lists every tenant's key names** (names only: reading
  a value still needs the key pattern). ``DBSIZE``/``INFO keyspace`` show the total count.
* ACLs know nothing of databases: ``SELECT`` confines nothing. A confined tenant loses ``SELECT`` and ``MOVE``
  (database 0 only), so its keys stay where its key count and the data copy look. ``COPY ... DB n`` remains.
* No per-user memory quota exists; with ``allkeys-lru`` any tenant's writes can evict any tenant's keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..core import validation as v
from ..core.errors import PropError
from ..credentials.tenant_sealing import PASSWORD_SUFFIX, PREVIOUS_PASSWORD_SUFFIX
from .redis_conf import (
    ADMIN_USERNAME,
    BACKUP_USERNAME,
    CHECK_USERNAME,
    CLIENT_USERNAME,
    EXPORTER_USERNAME,
    MIGRATION_USERNAME,
    REPLICATION_USERNAME,
    TenantCommands,
)

#: The user an app authenticates as when it sends only a password (``AUTH <password>``, ``redis://:pw@host``).
DEFAULT_USERNAME = CLIENT_USERNAME
#: Users the library owns; no tenant may take their names.
SYSTEM_USERNAMES = frozenset(
    {REPLICATION_USERNAME, EXPORTER_USERNAME, ADMIN_USERNAME, MIGRATION_USERNAME, BACKUP_USERNAME, CHECK_USERNAME}
)
#: Secret id of the ``default`` line when no tenant holds ``default``: no password file, always off.
NO_PASSWORD = "-"
#: Key of the tenants ConfigMap that acl-reload.sh reads.
TENANTS_FILE = "tenants.conf"
#: Denied to a key-confined tenant beside :meth:`TenantCommands.denied`: key-less enumeration (KEYS, RANDOMKEY)
#: and leaving database 0 (SELECT, MOVE). SCAN stays: see the module docstring for what it reveals.
CONFINED_DENIED_COMMANDS = ("keys", "randomkey", "select", "move")
#: A prefix: starts with a letter or digit, ends with a separator (so ``shop:`` never covers ``shopping:``), and
#: holds no glob character (``* ? [ ] \``), no whitespace, and nothing the exporter's ``--count-keys`` list
#: (``,`` ``=``) or the tenants file would split on.
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/{}-]{0,62}[:._/-]")
_USERNAME_RULE = "a DNS label (lowercase letters, digits, '-')"


@dataclass(frozen=True, kw_only=True, slots=True)
class Tenant:
    """One client namespace of a RedisShared: its own ACL user, password and (optionally) keys.

    Example::

        Tenant(namespace="shop", key_prefix="shop:")          # user "shop", keys shop:*, channels shop:*
        Tenant(namespace="beersystem", password_only=True)    # user "default": the app sends a password only
    """

    #: The client namespace; also the tenant's id in Secret keys and metrics (label ``tenant``).
    namespace: str
    #: The ACL user. Default: - the namespace name (``default`` when ``password_only``).
    username: str | None = None
    #: The app sends only a password, so it is Redis's ``default`` user; at most one tenant. Default: False.
    password_only: bool = False
    #: Confine keys and Pub/Sub channels to this prefix (``~<prefix>*``, ``&<prefix>*``), and deny KEYS,
    #: RANDOMKEY, SELECT and MOVE. Default: - every key and channel (``~* &*``): the tenant can read and
    #: delete every other tenant's keys; say so in its README row.
    key_prefix: str | None = None
    #: Default: - scripting and RESTORE denied (:class:`TenantCommands`).
    commands: TenantCommands = field(default_factory=TenantCommands)
    #: Share of ``maxclients`` this tenant may hold before RedisTenantNearConnectionShare fires. Default: 0.5.
    connection_share: float = 0.5
    #: Share of ``maxmemory-clients`` its connections may hold before RedisTenantNearClientMemoryShare fires.
    #: Default: 0.5.
    client_memory_share: float = 0.5

    def __post_init__(self) -> None:
        v.dns_label("tenant.namespace", self.namespace)
        v.boolean("tenant.password_only", self.password_only)
        if self.username is not None:
            v.dns_label("tenant.username", self.username)
            if self.password_only and self.username != DEFAULT_USERNAME:
                raise PropError(
                    "tenant.username",
                    self.username,
                    f"None or {DEFAULT_USERNAME!r} for a password-only tenant (its app sends no username)",
                )
            if not self.password_only and self.username == DEFAULT_USERNAME:
                raise PropError(
                    "tenant.username", self.username, "a name other than 'default'", fix="password_only=True"
                )
        if self.user in SYSTEM_USERNAMES:
            raise PropError("tenant.username", self.user, "a name other than " + ", ".join(sorted(SYSTEM_USERNAMES)))
        if self.key_prefix is not None and (
            not isinstance(self.key_prefix, str) or not _PREFIX.fullmatch(self.key_prefix)
        ):
            fix = (
                f"{self.key_prefix}:"
                if isinstance(self.key_prefix, str) and _PREFIX.fullmatch(self.key_prefix + ":")
                else None
            )
            raise PropError(
                "tenant.key_prefix",
                self.key_prefix,
                "None or 2-64 characters of letters, digits and . _ : / { } -, starting with a letter or digit and "
                "ending with a separator (: . _ / -), no glob characters",
                fix=repr(fix) if fix else None,
            )
        v.instance("tenant.commands", self.commands, TenantCommands, "a TenantCommands")
        v.fraction("tenant.connection_share", self.connection_share, expected="a fraction of maxclients in (0, 1]")
        v.fraction(
            "tenant.client_memory_share",
            self.client_memory_share,
            expected="a fraction of maxmemory-clients in (0, 1]",
        )

    @property
    def user(self) -> str:
        """The ACL user: ``default`` for a password-only tenant, else ``username`` or the namespace."""
        if self.password_only:
            return DEFAULT_USERNAME
        return self.username or self.namespace

    @property
    def secret_id(self) -> str:
        """The stem of this tenant's keys in the tenants Secret."""
        return self.namespace

    @property
    def password_key(self) -> str:
        """``<namespace>.password``: the current password (the app's copy holds it as ``password``)."""
        return self.namespace + PASSWORD_SUFFIX

    @property
    def previous_password_key(self) -> str:
        """``<namespace>.previous-password``: present only between the two commits of a rotation."""
        return self.namespace + PREVIOUS_PASSWORD_SUFFIX

    @property
    def key_pattern(self) -> str:
        """The SCAN/ACL pattern of its keys: ``<prefix>*``, or ``*`` when unconfined."""
        return f"{self.key_prefix}*" if self.key_prefix else "*"

    def denied(self) -> tuple[str, ...]:
        """Every command the tenant's user may not run, by name."""
        extra = CONFINED_DENIED_COMMANDS if self.key_prefix else ()
        return self.commands.denied() + extra

    def rules(self) -> str:
        """The ACL rules after ``reset on #<hash>...``: keys, channels, categories, denials."""
        pattern = self.key_pattern
        categories = "-@admin" if self.commands.allow_scripting else "-@admin -@scripting"
        return f"~{pattern} &{pattern} +@all {categories} " + " ".join("-" + c for c in self.denied())


def validate_tenants(tenants: Sequence[Tenant]) -> tuple[Tenant, ...]:
    """The tenants as a tuple, or :class:`PropError` for a set that cannot share one Redis.

    One tenant per namespace and per user; at most one holds ``default``; no key prefix covers another's (a
    tenant ``shop:`` would reach ``shop:eu:``'s keys).
    """
    seen_ns: set[str] = set()
    seen_users: dict[str, str] = {}
    for t in tenants:
        v.instance("tenants", t, Tenant, "a Tenant(namespace=...)")
        if t.namespace in seen_ns:
            raise PropError("tenants", t.namespace, "one tenant per namespace")
        seen_ns.add(t.namespace)
        if t.user in seen_users:
            if t.user == DEFAULT_USERNAME:
                raise PropError(
                    "tenants",
                    t.namespace,
                    f"at most one password-only tenant ({seen_users[t.user]!r} holds 'default'); "
                    "give this app a username",
                )
            raise PropError("tenants", t.user, f"a username not taken (namespace {seen_users[t.user]!r} has it)")
        seen_users[t.user] = t.namespace
    prefixed = sorted((t.key_prefix, t.namespace) for t in tenants if t.key_prefix)
    for i, (p, ns) in enumerate(prefixed):
        for q, other in prefixed[i + 1 :]:
            if q.startswith(p):
                raise PropError(
                    "tenants", f"{other}: {q!r}", f"a key prefix outside {ns!r}'s {p!r} (it would reach them)"
                )
    return tuple(tenants)


def render_tenants_file(tenants: Iterable[Tenant]) -> str:
    """The tenants file (module docstring), one line per tenant in namespace order, then ``default`` when no
    tenant holds it."""
    checked = validate_tenants(tuple(tenants))
    lines = [f"{t.secret_id} {t.user} {t.rules()}" for t in sorted(checked, key=lambda t: t.namespace)]
    if not any(t.password_only for t in checked):
        lines.append(f"{NO_PASSWORD} {DEFAULT_USERNAME}")
    return "\n".join(lines) + "\n"


def tenant_secret_keys(tenants: Iterable[Tenant], *, rotating: Iterable[str] = ()) -> tuple[str, ...]:
    """The keys of the tenants Secret in ``redis``: each tenant's ``.password``, and ``.previous-password`` for
    the namespaces in ``rotating`` (between the two commits of a rotation)."""
    ts = validate_tenants(tuple(tenants))
    names = {t.namespace for t in ts}
    rotating = tuple(rotating)
    for ns in rotating:
        if ns not in names:
            raise PropError("rotating", ns, "a tenant namespace, one of " + ", ".join(sorted(names)))
    keys = [t.password_key for t in ts] + [t.previous_password_key for t in ts if t.namespace in rotating]
    return tuple(sorted(keys))


def count_keys_param(tenants: Iterable[Tenant]) -> str | None:
    """redis_exporter's ``count-keys`` value for the confined tenants (``db0=shop:*,db0=blog:*``), or None.

    Read by ``parseKeyArg`` (exporter/keys.go): comma-separated ``db<n>=pattern`` pairs, which is why a prefix
    may hold neither ``,`` nor ``=``.
    """
    patterns = sorted(t.key_pattern for t in validate_tenants(tuple(tenants)) if t.key_prefix)
    return ",".join(f"db0={p}" for p in patterns) or None
