"""Pure rendering of redis.conf per role, the ACL file template and the maxmemory arithmetic.

Nothing here knows about cdk8s, so every rule is testable as plain strings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import PropError

MiB = 1024**2

#: Where the pod mounts things; the scripts and the config agree on these paths.
CONF_DIR = "/opt/redis-shared/conf"
SCRIPTS_DIR = "/opt/redis-shared/scripts"
SECRETS_DIR = "/opt/redis-shared/secrets"
RUN_DIR = "/run/redis-shared"
EXPORTER_RUN_DIR = "/run/redis-exporter"
DATA_DIR = "/data"

#: maxmemory is this share of the container memory limit. An AOF rewrite forks, and on a write-heavy
#: load copy-on-write can double the dataset's pages; client and replication buffers and allocator
#: fragmentation come on top. Half the limit keeps the process clear of the OOM killer.
MAXMEMORY_RATIO = 0.5
#: Below this, a shared cache is not useful and the fixed overhead dominates.
MIN_MAXMEMORY = 32 * MiB


class Role(enum.Enum):
    """The two roles one StatefulSet template is rendered for."""

    PRIMARY = "master"
    REPLICA = "replica"

    @property
    def component(self) -> str:
        """The ``app.kubernetes.io/component`` label and the Service/StatefulSet name suffix."""
        return "master" if self is Role.PRIMARY else "replica"


class EvictionPolicy(enum.Enum):
    """``maxmemory-policy`` values Redis 7 accepts."""

    ALLKEYS_LRU = "allkeys-lru"
    ALLKEYS_LFU = "allkeys-lfu"
    ALLKEYS_RANDOM = "allkeys-random"
    VOLATILE_LRU = "volatile-lru"
    VOLATILE_LFU = "volatile-lfu"
    VOLATILE_RANDOM = "volatile-random"
    VOLATILE_TTL = "volatile-ttl"
    NOEVICTION = "noeviction"

    @classmethod
    def parse(cls, prop: str, value: EvictionPolicy | str) -> EvictionPolicy:
        """Accept the enum or its Redis spelling; anything else is a :class:`PropError`."""
        if isinstance(value, EvictionPolicy):
            return value
        for member in cls:
            if member.value == value:
                return member
        raise PropError(prop, value, "one of " + ", ".join(m.value for m in cls))


def derive_maxmemory(memory_limit_bytes: int, *, prop: str = "memory_limit") -> int:
    """Return ``maxmemory`` for a container memory limit, rounded down to whole MiB."""
    maxmemory = int(memory_limit_bytes * MAXMEMORY_RATIO) // MiB * MiB
    if maxmemory < MIN_MAXMEMORY:
        minimum = int(MIN_MAXMEMORY / MAXMEMORY_RATIO) // MiB
        raise PropError(
            prop,
            f"{memory_limit_bytes // MiB}Mi" if memory_limit_bytes % MiB == 0 else memory_limit_bytes,
            f"at least {minimum}Mi so that the derived maxmemory ({MAXMEMORY_RATIO:.0%} of the limit, "
            f"headroom for fork copy-on-write) reaches {MIN_MAXMEMORY // MiB}Mi",
        )
    return maxmemory


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerSettings:
    """Everything redis.conf depends on; both roles share one instance."""

    port: int
    maxmemory_bytes: int
    eviction_policy: EvictionPolicy
    shutdown_timeout_seconds: int
    primary_host: str
    repl_backlog_bytes: int = 64 * MiB


# ACL users. Categories checked against Redis 7.0/7.2 command tables (see README "ACL users"):
# -@admin removes CONFIG, SHUTDOWN, ACL SETUSER/DELUSER/LOAD/SAVE, REPLICAOF/SLAVEOF, FAILOVER, MODULE,
# DEBUG, SYNC/PSYNC/REPLCONF, MONITOR, SAVE/BGSAVE. The explicit denials repeat the ones the plan names so
# the file states the contract even if a category changes between Redis versions; -acl also removes the
# read-only ACL subcommands (GETUSER shows password hashes).
CLIENT_DENIED_COMMANDS = (
    "flushdb",
    "flushall",
    "config",
    "shutdown",
    "acl",
    "replicaof",
    "slaveof",
    "failover",
    "module",
    "debug",
    "sync",
    "psync",
    "replconf",
    "monitor",
)
REPLICATION_COMMANDS = ("psync", "replconf", "ping")
# What redis_exporter runs by default (INFO ALL, PING, SELECT, SLOWLOG, LATENCY); CONFIG GET is left out
# because it returns masterauth in clear text, and the exporter is told to skip it.
EXPORTER_COMMANDS = (
    "ping",
    "info",
    "select",
    "slowlog|get",
    "slowlog|len",
    "latency|latest",
    "latency|histogram",
)

# What the data-copy Job (redis_constructs.copy_program) runs on redis-shared: read and compare every key, RESTORE,
# SET its completion marker, INFO for the memory check, name its connection. No DEL, FLUSH*, CONFIG or ACL. An ACL
# cannot forbid RESTORE's REPLACE argument (or SET over an existing key): the program never sends REPLACE to
# redis-shared and checks for conflicts first. Tenants may lose RESTORE (it is @dangerous); this user is how a
# copy gets it without the admin password.
MIGRATION_COMMANDS = ("@read", "restore", "set", "ping", "info", "client|setname")


@dataclass(frozen=True, kw_only=True, slots=True)
class AclUser:
    """One ACL user; ``placeholder`` is replaced by the password's SHA-256 when the pod starts."""

    name: str
    secret_file: str
    rules: str

    @property
    def placeholder(self) -> str:
        """The token render-config.sh substitutes with ``#<sha256 hex>``."""
        return "@" + self.secret_file.upper().replace("-", "_") + "_SHA256@"


# The client credential is Redis's `default` user: apps that only send a password (AUTH <password>,
# redis://:password@host) authenticate as it, and an unauthenticated connection still gets NOAUTH.
CLIENT_USERNAME = "default"
REPLICATION_USERNAME = "replication"
EXPORTER_USERNAME = "exporter"
ADMIN_USERNAME = "admin"
MIGRATION_USERNAME = "migration"

ACL_USERS = (
    AclUser(
        name=CLIENT_USERNAME,
        secret_file="client-password",
        rules="~* &* +@all -@admin " + " ".join("-" + c for c in CLIENT_DENIED_COMMANDS),
    ),
    AclUser(
        name=REPLICATION_USERNAME,
        secret_file="replication-password",
        rules="resetchannels -@all " + " ".join("+" + c for c in REPLICATION_COMMANDS),
    ),
    AclUser(
        name=EXPORTER_USERNAME,
        secret_file="exporter-password",
        rules="resetchannels -@all " + " ".join("+" + c for c in EXPORTER_COMMANDS),
    ),
    AclUser(name=ADMIN_USERNAME, secret_file="admin-password", rules="~* &* +@all"),
    AclUser(
        name=MIGRATION_USERNAME,
        secret_file="migration-password",
        rules="~* resetchannels -@all " + " ".join("+" + c for c in MIGRATION_COMMANDS),
    ),
)


def render_acl_template() -> str:
    """The ACL file with password placeholders; render-config.sh fills in SHA-256 hashes."""
    # An aclfile takes no comments: every line must be a `user` line.
    lines = []
    for user in ACL_USERS:
        lines.append(f"user {user.name} reset on {user.placeholder} {user.rules}")
    return "\n".join(lines) + "\n"


def render_common_conf(settings: ServerSettings) -> str:
    """redis.conf lines both roles share."""
    lines = [
        "# rendered by redis_constructs; both roles include this file",
        f"port {settings.port}",
        "bind * -::*",
        "protected-mode yes",
        "daemonize no",
        'logfile ""',
        "loglevel notice",
        f"dir {DATA_DIR}",
        # AOF is the durability mechanism (at most ~1 s of writes lost on power loss); RDB snapshots
        # would only add fork pressure, the AOF keeps an RDB preamble after each rewrite.
        'save ""',
        "appendonly yes",
        "appendfsync everysec",
        'appenddirname "appendonlydir"',
        "aof-use-rdb-preamble yes",
        "auto-aof-rewrite-percentage 100",
        "auto-aof-rewrite-min-size 64mb",
        f"maxmemory {settings.maxmemory_bytes}",
        f"maxmemory-policy {settings.eviction_policy.value}",
        f"shutdown-timeout {settings.shutdown_timeout_seconds}",
        "shutdown-on-sigterm default",
        "repl-diskless-sync yes",
        f"repl-backlog-size {settings.repl_backlog_bytes}",
        # Writes never wait for the replica: with one replica, min-replicas-to-write 1 would stop all
        # writes whenever the replica is down.
        "min-replicas-to-write 0",
        "replica-read-only yes",
        # SC-002: a replica keeps answering reads from its last data while the primary is away.
        "replica-serve-stale-data yes",
        "tcp-keepalive 60",
        "timeout 0",
        f"aclfile {RUN_DIR}/users.acl",
        # masteruser/masterauth, rendered from the mounted Secret into a memory-backed emptyDir.
        f"include {RUN_DIR}/auth.conf",
    ]
    return "\n".join(lines) + "\n"


def render_role_conf(role: Role, settings: ServerSettings) -> str:
    """The role's redis.conf: the common file plus, for a replica, whom to replicate."""
    lines = [f"# rendered by redis_constructs for the {role.component} role", f"include {CONF_DIR}/common.conf"]
    if role is Role.REPLICA:
        lines.append(f"replicaof {settings.primary_host} {settings.port}")
    return "\n".join(lines) + "\n"
