"""Pure rendering of redis.conf per role, the ACL file template and the maxmemory arithmetic.

Nothing here knows about cdk8s, so every rule is testable as plain strings.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.errors import PropError

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


#: What the default grace period allows an AOF rewrite per second, in bytes of ``maxmemory``: the initial rewrite
#: after a full sync refuses a SIGTERM until it ends (docs/resilience.md "Shutdown and the grace period"). Measured
#: on the test VM (Debian's 7.0.15, RDB preamble, 1 KiB values half random): about 120 MiB of ``used_memory`` per
#: second; a quarter of that leaves room for the slow disks of a homelab (SD cards, USB disks).
AOF_REWRITE_BYTES_PER_SECOND = 32 * MiB
#: What the grace period keeps after ``shutdown-timeout`` for the final AOF flush and fsync.
SHUTDOWN_FSYNC_MARGIN_SECONDS = 10


def derive_grace_period(maxmemory_bytes: int, shutdown_timeout_seconds: int) -> int:
    """The pods' ``terminationGracePeriodSeconds`` unless set: the initial AOF rewrite of a full ``maxmemory`` at
    :data:`AOF_REWRITE_BYTES_PER_SECOND` (the preStop hook waits for it), then ``shutdown-timeout`` and the fsync
    margin (what the SIGTERM after it may take). 36 s at a 1 GiB memory limit and the 10 s shutdown timeout."""
    rewrite_seconds = -(-maxmemory_bytes // AOF_REWRITE_BYTES_PER_SECOND)
    return rewrite_seconds + shutdown_timeout_seconds + SHUTDOWN_FSYNC_MARGIN_SECONDS


KiB = 1024
#: What one connection may cost beside ``maxmemory`` when sizing ``maxclients``: the worst case is an idle TLS
#: connection, whose OpenSSL buffers (~25 KiB measured on 7.0.15, against ~1.7 KiB in plaintext) are allocated
#: outside jemalloc, so neither ``maxmemory`` nor ``maxmemory-clients`` sees them, and the LAN reaches the TLS
#: port without a password (the handshake comes before AUTH).
CONNECTION_BUDGET_BYTES = 32 * KiB
#: Share of the memory limit kept for an AOF rewrite's copy-on-write pages and allocator fragmentation, beside
#: ``maxmemory`` and the replica's output buffer, when sizing ``maxclients``.
FORK_MARGIN_RATIO = 1 / 8
#: The smallest ``proto-max-bulk-len``: the largest value a client can SET, APPEND/SETRANGE a string to, or
#: RESTORE (the data copy restores DUMP payloads of the app's largest values: tens of MB). Capped by
#: ``maxmemory`` (a larger value could never be stored) and by Redis's own default, 512 MiB.
MIN_PROTO_MAX_BULK_BYTES = 64 * MiB
MAX_PROTO_MAX_BULK_BYTES = 512 * MiB


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientLimits:
    """What one client, and all clients together, may hold in memory; derived from the memory limit.

    The budget beside ``maxmemory`` (half the limit) is fork copy-on-write headroom; clients get bounded
    slices of it so that no client, authenticated or not, can push the process past its cgroup limit.
    """

    #: ``maxmemory-clients``: all normal/pubsub clients together (query + output buffers, structs); above
    #: it Redis drops the clients using the most memory (client eviction, Redis 7.0+).
    maxmemory_clients_bytes: int
    #: ``client-output-buffer-limit normal``: hard limit, soft limit, soft seconds (0 0 0 by default). The hard
    #: limit holds a reply of the largest value (``proto_max_bulk_bytes`` + 1 MiB); a bigger reply (``KEYS *``,
    #: ``HGETALL`` of a huge hash, a pipeline not read) disconnects the client, whoever it is (admin too).
    normal_output: tuple[int, int, int]
    #: ``client-output-buffer-limit pubsub``.
    pubsub_output: tuple[int, int, int]
    #: ``client-output-buffer-limit replica``: shares its blocks with the replication backlog since 7.0, and
    #: is not counted towards maxmemory.
    replica_output: tuple[int, int, int]
    #: ``client-query-buffer-limit`` (1 GB by default; unauthenticated clients are held to 1 MB by 7.4): twice
    #: the largest value, so a command carrying it (plus what a pipeline sends after it) fits.
    query_buffer_bytes: int
    #: ``proto-max-bulk-len``: the largest single value a client can send, and also the largest string
    #: APPEND/SETRANGE can build and the largest payload RESTORE accepts.
    proto_max_bulk_bytes: int
    #: ``maxclients``: connections beyond it get ``-ERR max number of clients reached`` and are closed.
    maxclients: int


def derive_client_limits(memory_limit_bytes: int) -> ClientLimits:
    """Client limits for a container memory limit ``L`` (1 GiB in parentheses).

    All clients together L/8 (128 MiB); largest value ``max(64 MiB, L/16)``, at most ``maxmemory`` and 512 MiB (64 MiB),
    query buffer twice that (128 MiB); one client's replies that value + 1 MiB hard (65 MiB), L/128 for 10 s
    (8 MiB); pub/sub L/32 hard (32 MiB), L/128 for 60 s; the replica L/4 (256 MiB) hard, L/16 for 60 s;
    maxclients = what is left of L beside maxmemory, the replica's hard limit and a fork margin of L/8
    (128 MiB), at ``CONNECTION_BUDGET_BYTES`` each, between 128 and 10000 (4096).
    """
    lim = memory_limit_bytes

    def mib(n: int, floor: int = MiB) -> int:
        return max(floor, n // MiB * MiB)

    maxmemory = int(lim * MAXMEMORY_RATIO) // MiB * MiB
    replica_output = (mib(lim // 4), mib(lim // 16), 60)
    bulk = min(max(MIN_PROTO_MAX_BULK_BYTES, mib(lim // 16)), max(MiB, maxmemory), MAX_PROTO_MAX_BULK_BYTES)
    spare = lim - maxmemory - replica_output[0] - int(lim * FORK_MARGIN_RATIO)
    return ClientLimits(
        maxmemory_clients_bytes=mib(lim // 8),
        normal_output=(bulk + MiB, mib(lim // 128), 10),
        pubsub_output=(mib(lim // 32), mib(lim // 128), 60),
        # Redis's own defaults at 1 GiB: a smaller buffer makes a write burst end in a full-resync loop.
        replica_output=replica_output,
        query_buffer_bytes=2 * bulk,
        proto_max_bulk_bytes=bulk,
        maxclients=max(128, min(10000, max(0, spare) // CONNECTION_BUDGET_BYTES)),
    )


def render_client_limits(limits: ClientLimits) -> list[str]:
    """The redis.conf lines for :class:`ClientLimits`."""

    def obl(kind: str, limit: tuple[int, int, int]) -> str:
        return f"client-output-buffer-limit {kind} {limit[0]} {limit[1]} {limit[2]}"

    return [
        f"maxclients {limits.maxclients}",
        f"maxmemory-clients {limits.maxmemory_clients_bytes}",
        obl("normal", limits.normal_output),
        obl("pubsub", limits.pubsub_output),
        obl("replica", limits.replica_output),
        f"client-query-buffer-limit {limits.query_buffer_bytes}",
        f"proto-max-bulk-len {limits.proto_max_bulk_bytes}",
    ]


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerSettings:
    """Everything redis.conf depends on; both roles share one instance."""

    port: int
    maxmemory_bytes: int
    eviction_policy: EvictionPolicy
    shutdown_timeout_seconds: int
    primary_host: str
    repl_backlog_bytes: int = 64 * MiB
    #: ``min-replicas-to-write`` / ``min-replicas-max-lag`` (see :class:`RedisSharedProps`).
    min_replicas_to_write: int = 0
    min_replicas_max_lag_seconds: int = 10
    #: Default: - Redis's own client limits (unbounded output buffers for normal clients, 1 GB query buffers).
    client_limits: ClientLimits | None = None
    #: The primary's port the replica dials. Default: - ``port`` (the TLS port when TLS replication is on).
    replication_port: int | None = None
    #: Replica pods: a diskless full sync starts as soon as this many wait. Default: 1.
    replicas: int = 1


# ACL users. Categories checked against Redis 7.0/7.2 command tables (see docs/adr/0003-acl-users-over-rename-command.md):
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
    # Single commands that empty or carry off the keyspace for every tenant (src/commands/*.json, 7.4):
    # SWAPDB swaps db 0 with an empty db; MIGRATE moves keys to another host (and makes Redis dial out).
    # What stays possible is key by key: DEL/UNLINK, RENAME, MOVE to another db, EXPIRE (docs/security.md).
    "swapdb",
    "migrate",
)
#: Denied unless ``TenantCommands.allow_scripting``: a Lua script or function runs many commands as one (it
#: can SCAN and DEL every key in a single call, or block Redis until SCRIPT KILL), and Lua carried the 7.4.6
#: CVEs. Category @scripting plus every command by name, so the contract survives a category change.
SCRIPTING_COMMANDS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "function", "script")
#: Denied unless ``TenantCommands.allow_restore``: RESTORE parses a client-supplied RDB payload (7.4.10
#: fixed a use-after-free in it) and replaces keys wholesale.
RESTORE_COMMANDS = ("restore", "restore-asking")


@dataclass(frozen=True, kw_only=True, slots=True)
class TenantCommands:
    """What the tenants' user (``default``) may run beyond plain data commands.

    Default: scripting and RESTORE denied. Allow them only for an app that needs them (EVAL/EVALSHA from a
    rate limiter or lock library, RESTORE from a data-copy tool); every tenant shares the one user.
    """

    #: EVAL*, FCALL*, FUNCTION, SCRIPT. Default: False (denied).
    allow_scripting: bool = False
    #: RESTORE, RESTORE-ASKING. Default: False (denied).
    allow_restore: bool = False

    def denied(self) -> tuple[str, ...]:
        """Every command the tenant user may not run, by name."""
        return (
            CLIENT_DENIED_COMMANDS
            + (() if self.allow_scripting else SCRIPTING_COMMANDS)
            + (() if self.allow_restore else RESTORE_COMMANDS)
        )

    def rules(self) -> str:
        """The ACL rules of the tenant user."""
        categories = "-@admin" if self.allow_scripting else "-@admin -@scripting"
        return f"~* &* +@all {categories} " + " ".join("-" + c for c in self.denied())


REPLICATION_COMMANDS = ("psync", "replconf", "ping")
# What redis_exporter runs by default (INFO ALL, PING, SELECT, SLOWLOG, LATENCY); CONFIG GET is left out
# because it returns masterauth in clear text, and the exporter is told to skip it. Per tenant: CLIENT LIST for
# --export-client-list (connections and client memory by user; it shows addresses, names, users and last command
# names, no arguments) and SCAN for the tenants' key counts (count-keys, on the replica only). Its only key
# pattern is %R~ on the backup's report keys (below).
EXPORTER_COMMANDS = (
    "ping",
    "info",
    "select",
    "slowlog|get",
    "slowlog|len",
    "latency|latest",
    "latency|histogram",
    "client|list",
    "scan",
    # probe.sh's repair of an AOF damaged by a short write on a full volume (docs/resilience.md).
    "bgrewriteaof",
    # The backup's report keys (REPORT_KEYS), read by the ServiceMonitor's backup-report scrape (check-single-keys):
    # oliver006/redis_exporter exporter/keys.go sends, per key, TYPE, PFCOUNT, STRLEN and GET (1.45 getKeyInfo;
    # v1.88 getKeyInfoPipelined, after a pipelined TYPE + MEMORY USAGE). Each is granted, or every scrape would count
    # in acl_access_denied_* (RedisAclDenied). PFCOUNT's key spec is RW + ACCESS, which ACLSelectorCheckKey
    # (src/acl.c) maps to read permission only, so %R~ admits it; on these plain strings it answers WRONGTYPE.
    "type",
    "pfcount",
    "strlen",
    "get",
    "memory|usage",
)

# What the data-copy Job (redis_constructs.migration.copy_program) runs on redis-shared: read and compare every key, RESTORE,
# SET its completion marker, INFO for the memory check, name its connection. No DEL, FLUSH*, CONFIG or ACL. An ACL
# cannot forbid RESTORE's REPLACE argument (or SET over an existing key): the program sends REPLACE to
# redis-shared only in its restore mode with ``--replace``, for the patterns the restore's commit names
# (redis_constructs.backup.RedisRestore), and checks for conflicts first otherwise. Tenants may lose RESTORE (it is @dangerous); this user is how a
# copy gets it without the admin password.
MIGRATION_COMMANDS = ("@read", "restore", "set", "ping", "info", "client|setname")
# What the backup Job (redis_constructs.backup) runs: ``redis-cli --rdb`` sends AUTH, REPLCONF (capa eof, rdb-only)
# and SYNC (src/redis-cli.c); INFO for the source checks (replication link, keyspace); SET of its report keys only
# (``%W~`` write access to REPORT_KEY_PREFIX, nothing else). It cannot read a key: SYNC carries the whole dataset,
# which is what a backup is. Not the replication user: that one has PSYNC, and every replica holds its password.
BACKUP_COMMANDS = ("sync", "replconf", "info")
#: Keys redis-shared's own Jobs write (the backup's report, the checks' keys, the restores' markers): they describe
#: the running system, not a tenant's data, so a restore leaves them as they are (RedisRestore's --skip-prefix).
SYSTEM_KEY_PREFIX = "redis-shared:"
#: The keys the backup Job reports its last run to (size, key count, time).
REPORT_KEY_PREFIX = SYSTEM_KEY_PREFIX + "backup:"
#: backup.sh's report: the snapshot's size in bytes, its key count, the run's end (Unix seconds); each a decimal
#: string. RedisMonitoring exports the first two (docs/backups.md, "Watching it").
REPORT_KEYS = tuple(REPORT_KEY_PREFIX + name for name in ("last-bytes", "last-keys", "last-success-time"))
#: What the check Job (redis_constructs.checks.check_program) runs, on its own keys only
#: (:data:`CHECK_KEY_PREFIX`): PING, INFO for roles, replication, persistence and key counts, SET/GET/DEL for the
#: replication and load checks, and naming its connection. No other key, no channel, nothing administrative.
CHECK_COMMANDS = ("ping", "info", "set", "get", "del", "client|setname")
CHECK_KEY_PREFIX = SYSTEM_KEY_PREFIX + "check:"


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
BACKUP_USERNAME = "backup"
CHECK_USERNAME = "check"

#: The system users, rendered into ``system.acl`` by the init container. The tenants' users (``default``
#: included) are lines of the tenants file that ``acl-reload.sh`` adds (:mod:`redis_constructs.server.tenants`).
ACL_USERS = (
    AclUser(
        name=REPLICATION_USERNAME,
        secret_file="replication-password",
        rules="resetchannels -@all " + " ".join("+" + c for c in REPLICATION_COMMANDS),
    ),
    AclUser(
        name=EXPORTER_USERNAME,
        secret_file="exporter-password",
        # Read access to the backup's report keys only: numbers the backup Job writes, never a tenant's data.
        rules="resetchannels -@all " + " ".join("+" + c for c in EXPORTER_COMMANDS) + f" %R~{REPORT_KEY_PREFIX}*",
    ),
    AclUser(name=ADMIN_USERNAME, secret_file="admin-password", rules="~* &* +@all"),
    AclUser(
        name=MIGRATION_USERNAME,
        secret_file="migration-password",
        rules="~* resetchannels -@all " + " ".join("+" + c for c in MIGRATION_COMMANDS),
    ),
    AclUser(
        name=BACKUP_USERNAME,
        secret_file="backup-password",
        rules="resetchannels -@all " + " ".join("+" + c for c in BACKUP_COMMANDS) + f" %W~{REPORT_KEY_PREFIX}* +set",
    ),
    AclUser(
        name=CHECK_USERNAME,
        secret_file="check-password",
        rules=f"~{CHECK_KEY_PREFIX}* resetchannels -@all " + " ".join("+" + c for c in CHECK_COMMANDS),
    ),
)


def render_acl_template(tenant: TenantCommands | None = None, *, users: Sequence[AclUser] = ACL_USERS) -> str:
    """The system users' ACL file with password placeholders; render-config.sh fills in SHA-256 hashes.

    ``users``: the users to render. Default: every user of :data:`ACL_USERS`. ``tenant`` sets the rules of a
    user named ``default`` among them (tests of a single tenant's rules). Default: :class:`TenantCommands`'s
    defaults.
    """
    # An aclfile takes no comments: every line must be a `user` line.
    lines = []
    for user in users:
        rules = (tenant or TenantCommands()).rules() if user.name == CLIENT_USERNAME else user.rules
        lines.append(f"user {user.name} reset on {user.placeholder} {rules}")
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
        # Start a diskless sync as soon as every replica waits, not after repl-diskless-sync-delay (5 s); with
        # 0 replicas, 0 keeps the delay alone.
        f"repl-diskless-sync-max-replicas {settings.replicas}",
        f"repl-backlog-size {settings.repl_backlog_bytes}",
        # Default 0: writes never wait for the replica; with one replica, min-replicas-to-write 1 would stop all
        # writes whenever the replica is down.
        f"min-replicas-to-write {settings.min_replicas_to_write}",
        f"min-replicas-max-lag {settings.min_replicas_max_lag_seconds}",
        "replica-read-only yes",
        # SC-002: a replica keeps answering reads from its last data while the primary is away.
        "replica-serve-stale-data yes",
        # A replica that cannot persist (full volume) keeps applying its stream in memory (it stays current)
        # instead of panicking into a restart loop; probe.sh rewrites the AOF once writes succeed again
        # (docs/resilience.md). No effect on a primary: it applies to commands from a master only.
        "replica-ignore-disk-write-errors yes",
        "tcp-keepalive 60",
        # p95 in INFO latencystats (and the exporter's redis_latency_percentiles_usec{quantile="95"}) beside
        # Redis's default p50/p99/p99.9: the latency panel's "since start" line (docs/checks.md).
        "latency-tracking-info-percentiles 50 95 99 99.9",
        "timeout 0",
        *(render_client_limits(settings.client_limits) if settings.client_limits else []),
        f"aclfile {RUN_DIR}/users.acl",
        # masteruser/masterauth, rendered from the mounted Secret into a memory-backed emptyDir.
        f"include {RUN_DIR}/auth.conf",
    ]
    return "\n".join(lines) + "\n"


def render_role_conf(role: Role, settings: ServerSettings) -> str:
    """The role's redis.conf: the common file plus, for a replica, whom to replicate."""
    lines = [f"# rendered by redis_constructs for the {role.component} role", f"include {CONF_DIR}/common.conf"]
    if role is Role.REPLICA:
        lines.append(f"replicaof {settings.primary_host} {settings.replication_port or settings.port}")
    return "\n".join(lines) + "\n"
