"""POSIX sh scripts the pods run (the official image's /bin/sh is dash): rendered as plain strings.

Both roles run the same scripts; ``REDIS_ROLE`` (``master`` or ``replica``) selects the differences.
"""

from __future__ import annotations

from collections.abc import Sequence

from .acl_reload import render_acl_reload_script
from .redis_conf import (
    ACL_USERS,
    CONF_DIR,
    DATA_DIR,
    EXPORTER_RUN_DIR,
    EXPORTER_USERNAME,
    REPLICATION_USERNAME,
    RUN_DIR,
    SCRIPTS_DIR,
    SECRETS_DIR,
    AclUser,
)

#: Seconds each redis-cli call in a probe may take; a probe makes at most two such calls and one name
#: lookup of ``PROBE_LOOKUP_TIMEOUT_SECONDS``, so it finishes before ``PROBE_TIMEOUT_SECONDS``, the kubelet's.
PROBE_CALL_TIMEOUT_SECONDS = 1.5
PROBE_LOOKUP_TIMEOUT_SECONDS = 1
PROBE_TIMEOUT_SECONDS = 5
#: Rounds start.sh asks the peers (2 s apart) before it takes "no clear answer" as unsure (docs/operations.md#failover-manual-one-commit).
PEER_CHECK_TRIES = 5
#: Persistent marker in the data dir: this volume holds a dataset synced from a primary, or served as the
#: primary with keys (probe.sh writes it). Redis's files alone don't say so: Redis 7 creates an empty AOF
#: (manifest + BASE) on its first start on an empty dir.
DATASET_MARKER = "redis-shared-dataset"
#: Flag in /tmp: start.sh started this primary fenced (refusing writes until a replica follows it).
FENCED_FLAG = "/tmp/redis-shared-fenced"
#: Marker an operator places in the primary's data dir to accept starting with no data.
ALLOW_EMPTY_START_MARKER = "ALLOW_EMPTY_START"
#: Flag start.sh leaves in the pod's /tmp (an emptyDir) when Redis started on a persisted dataset
#: (``DATASET_MARKER`` and Redis's files): such a replica is Ready without waiting for a sync (stale reads beat no reads); one that started empty is not.
STARTED_WITH_DATA_FLAG = "/tmp/redis-shared-started-with-data"
#: Flag probe.sh leaves in the pod's /tmp when Redis failed an AOF write (MISCONF: a full volume). Redis 7 opens a
#: rewritten AOF's incr file without O_APPEND and, after a short write, truncates it without seeking back: the
#: next successful write leaves a hole and the file no longer loads (docs/resilience.md). A BGREWRITEAOF once
#: writes succeed again replaces that file; the flag stays until one has completed.
AOF_WRITE_FAILED_FLAG = "/tmp/redis-shared-aof-write-failed"
#: Holds ``aof_rewrites`` as of probe.sh's BGREWRITEAOF: the repair is done once the counter moved past it.
AOF_REWRITE_ASKED_FLAG = "/tmp/redis-shared-aof-rewrite-asked"
#: The incr file Redis 7 writes only during its initial AOF rewrite (``AOF_WAIT_REWRITE``: after a full sync, or
#: ``CONFIG SET appendonly yes``): ``temp-`` + appendfilename + ``.incr`` in appenddirname, renamed into the
#: manifest when the rewrite succeeds, deleted when it fails (src/aof.c ``openNewIncrAofForAppend``,
#: ``backgroundRewriteDoneHandler``, 7.0 and 7.4). Ordinary rewrites open a numbered incr file instead.
INITIAL_REWRITE_INCR_FILE = f"{DATA_DIR}/appendonlydir/temp-appendonly.aof.incr"
#: What redis-cli prints when Redis refuses a connection at ``maxclients`` (every listener and the unix socket
#: alike): the event loop wrote it, so Redis is alive, only full.
FULL_REPLY = "max number of clients reached"

_READ_SECRET = f"""\
# read_secret FILE: print a credential from the mounted Secret, refusing values that would break the
# ACL file, redis.conf or the exporter's JSON (whitespace, quotes, backslash, a trailing newline).
read_secret() {{
  f="{SECRETS_DIR}/$1"
  if [ ! -r "$f" ]; then
    echo "redis-shared: credential file $f is missing (is the Secret key present?)" >&2
    return 1
  fi
  if [ "$(tail -c 1 "$f" | wc -l)" -ne 0 ]; then
    echo "redis-shared: credential $1 ends with a newline; store it without one (printf, not echo)" >&2
    return 1
  fi
  v=$(cat "$f")
  if [ -z "$v" ] || [ "$(printf '%s' "$v" | wc -l)" -ne 0 ] \\
    || printf '%s' "$v" | LC_ALL=C grep -q '[^]-~!#-&(-[]'; then
    echo "redis-shared: credential $1 is empty or has characters outside printable ASCII without quotes and backslash" >&2
    return 1
  fi
  printf '%s' "$v"
}}
"""


#: The exporter's ``REDIS_PASSWORD_FILE``: a JSON map from a Redis URI to the password, and the key it looks up
#: changed (oliver006/redis_exporter ``exporter/redis.go``): up to v1.68 the exact ``REDIS_ADDR``
#: (``redis://`` prepended when it has no scheme): ``rediss://localhost:6380``; from v1.69 (commit 7c63842,
#: ``lookupPasswordInPasswordMap``, still so in v1.88) that URI with ``REDIS_USER`` set as its user info:
#: ``rediss://exporter@localhost:6380``. Both keys, so Debian's 1.45 and the image's v1.88 both authenticate.
#: The password cannot break the JSON: ``read_secret`` refuses quotes, backslash and whitespace, and it is
#: printf's argument, never its format.
EXPORTER_PASSWORD_FILE_FUNCTION = f"""\
# write_exporter_password_file PATH: redis_exporter's password map for $REDIS_EXPORTER_URI, keyed by the URI
# alone (exporter <= 1.68) and with the user {EXPORTER_USERNAME}@ (>= 1.69, which inserts REDIS_USER first).
write_exporter_password_file() {{
  pw=$(read_secret exporter-password)
  case "$REDIS_EXPORTER_URI" in
    *://*) uri="$REDIS_EXPORTER_URI" ;;
    *) uri="redis://$REDIS_EXPORTER_URI" ;;
  esac
  with_user="${{uri%%://*}}://{EXPORTER_USERNAME}@${{uri#*://}}"
  printf '{{"%s":"%s","%s":"%s"}}\\n' "$uri" "$pw" "$with_user" "$pw" > "$1"
}}
"""


def _render_config_script(users: Sequence[AclUser]) -> str:
    substitutions = "\n".join(
        f'  -e "s/{user.placeholder}/#$(read_secret {user.secret_file} | sha256sum | cut -d" " -f1)/" \\'
        for user in users
    )
    checks = "\n".join(f"read_secret {user.secret_file} >/dev/null" for user in users)
    return f"""\
#!/bin/sh
# Init container: renders the credential-dependent files into memory-backed emptyDirs.
# Only SHA-256 hashes of the passwords reach the ACL file; the plaintext stays in the mounted Secret,
# in auth.conf (masterauth, which Redis needs in clear) and in the exporter's password file.
set -eu
umask 077
{_READ_SECRET}
{EXPORTER_PASSWORD_FILE_FUNCTION}
{checks}
sed \\
{substitutions}
  "{CONF_DIR}/users.acl.tmpl" > "{RUN_DIR}/system.acl"
# users.acl (what Redis loads) = system.acl + the tenants' users, as the acl-reload sidecar keeps it.
sh "{SCRIPTS_DIR}/acl-reload.sh" render
{{
  echo "masteruser {REPLICATION_USERNAME}"
  echo "masterauth $(read_secret replication-password)"
}} > "{RUN_DIR}/auth.conf"
write_exporter_password_file "{EXPORTER_RUN_DIR}/password.json"
chmod 0640 "{EXPORTER_RUN_DIR}/password.json"
echo "redis-shared: rendered ACL users, replication auth and exporter credentials for role $REDIS_ROLE"
"""


def _start_script() -> str:
    """start.sh: the functions it needs, the primary's checks, then ``exec redis-server`` for the role.

    Each piece is one step of the script, in the order it runs; joined, they are the script.
    """
    return "".join(
        (
            _start_header(),
            _READ_SECRET,
            "\n",
            _dataset_functions(),
            _peer_functions(),
            _start_flags(),
            _primary_checks(),
            f'exec redis-server "{CONF_DIR}/$REDIS_ROLE.conf"\n',
        )
    )


def _primary_checks() -> str:
    """What a pod configured as the primary checks before it starts writable (see :func:`_start_header`)."""
    return "".join(
        (
            'if [ "$REDIS_ROLE" = master ]; then\n',
            _primary_follows_the_configuration(),
            _primary_refuses_an_empty_promotion(),
            _primary_asks_the_peers(),
            _primary_refuses_or_fences(),
            "fi\n",
        )
    )


def _start_header() -> str:
    """The shebang, what start.sh decides and why (docs/operations.md#failover-manual-one-commit), strict mode and the umask."""
    return f"""\
#!/bin/sh
# Starts redis-server for $REDIS_ROLE, the role the committed configuration gives this pod (README
# "Failover"). A replica always starts read-only, following the configured primary. A primary starts
# writable only when it is sure:
# - the mounted ConfigMap (which the kubelet refreshes, unlike env) still names this pod as the primary;
#   if it names another pod, this pod's spec is older than the configuration: it starts as that pod's
#   read-only replica;
# - no other Redis pod acts as primary: each peer answers role:slave, refuses connections or its name does
#   not resolve (no such pod); a peer that answers role:master makes this pod its read-only replica (it resyncs from it);
#   no clear answer ({PEER_CHECK_TRIES} tries) is not taken as "no primary": with data, Redis starts refusing writes
#   (min-replicas-to-write 1, unready) until a replica follows it; empty, it refuses to start. A promoted
#   pod (REDIS_PROMOTED) asks once and starts writable: the promotion commit says the old primary is gone;
# - its data dir is not empty: it refuses while another pod holds keys or may (as the empty primary it
#   would make that pod resync and wipe its copy); a promoted replica (REDIS_PROMOTED) whose volume never
#   held a synced dataset ({DATASET_MARKER}) refuses always: there is nothing to promote.
set -eu
# The image's entrypoint sets umask 0077, which this command skips: AOF/RDB files are the owner's alone.
umask 077
"""


def _dataset_functions() -> str:
    """``has_files`` and ``has_data``: whether the data dir holds Redis's files, and a synced dataset."""
    return f"""\
# has_files: Redis's files are there. Redis 7 creates an empty AOF on its first start, so they alone do
# not mean data: has_data also needs {DATASET_MARKER}, which probe.sh writes once this pod has synced
# from a primary (or served keys as the primary).
has_files() {{
  [ -s "{DATA_DIR}/dump.rdb" ] || ls "{DATA_DIR}"/appendonlydir/*.manifest >/dev/null 2>&1
}}
has_data() {{
  [ -e "{DATA_DIR}/{DATASET_MARKER}" ] && has_files
}}
"""


def _peer_functions() -> str:
    """``peer_info`` and ``peer_state``: what another Redis pod says it is (over TLS when set)."""
    return f"""\
peer_info() {{
  if [ -n "$REDIS_TLS_CA_FILE" ]; then
    REDISCLI_AUTH="$pw" timeout 3 redis-cli -h "$1" -p "$REDIS_REPLICATION_PORT" --tls \\
      --cacert "$REDIS_TLS_CA_FILE" --user {EXPORTER_USERNAME} --no-auth-warning INFO 2>&1
  else
    REDISCLI_AUTH="$pw" timeout 3 redis-cli -h "$1" -p "$REDIS_REPLICATION_PORT" --user {EXPORTER_USERNAME} \\
      --no-auth-warning INFO 2>&1
  fi
}}
# peer_state HOST: sets state and keys. state: master, replica, absent (the name does not resolve: no such
# pod), down (the pod refuses connections: no Redis listens there now) or unsure (timeout, auth or TLS
# error, anything else: it may be a primary that cannot answer).
peer_state() {{
  state=unsure
  keys=no
  if ! timeout 2 getent hosts "$1" >/dev/null 2>&1; then
    state=absent
    return 0
  fi
  out=$(peer_info "$1" || true)
  case "$out" in
    *role:master*) state=master ;;
    *role:slave*) state=replica ;;
    *"Connection refused"*) state=down ;;
  esac
  if printf '%s\\n' "$out" | grep -q '^db[0-9]*:keys=[1-9]'; then keys=yes; fi
  return 0
}}
"""


def _start_flags() -> str:
    """The flags probe.sh reads, reset on every start: started with data (and, below, fenced)."""
    return f"""\
rm -f "{STARTED_WITH_DATA_FLAG}" "{FENCED_FLAG}"
# Sync leftovers: a temp-<time>.<pid>.rdb orphaned by a disk-based sync that died mid-transfer (Redis unlinks
# only its own), and dump.rdb, which a full sync leaves beside the AOF and Redis never loads while the AOF is
# on. dump.rdb goes only when the AOF manifest exists, so has_files answers as before. A rewrite killed with
# Redis (SIGKILL) leaves its temp-rewriteaof-*.aof (up to the dataset's size) and, an initial one, the temp incr
# file pre-stop.sh looks for; no manifest names a temp- file, and Redis does not run yet.
rm -f "{DATA_DIR}"/temp-*.rdb "{DATA_DIR}"/temp-rewriteaof-*.aof "{DATA_DIR}"/appendonlydir/temp-*
if ls "{DATA_DIR}"/appendonlydir/*.manifest >/dev/null 2>&1; then rm -f "{DATA_DIR}/dump.rdb"; fi
if has_data; then : > "{STARTED_WITH_DATA_FLAG}"; fi
"""


def _primary_follows_the_configuration() -> str:
    """A primary whose mounted replica.conf names another pod starts as that pod's replica."""
    return f"""\
  pw=$(read_secret exporter-password)
  configured=$(sed -n 's/^replicaof \\([^ ]*\\) .*/\\1/p' "{CONF_DIR}/replica.conf" 2>/dev/null || true)
  if [ -n "$configured" ] && [ "${{configured%%.*}}" != "$REDIS_POD_NAME" ]; then
    echo "redis-shared: NOT STARTING AS PRIMARY: the mounted configuration names $configured as the" \\
      "primary, so this pod's spec is older than the configuration; starting as its read-only replica" \\
      "(it resyncs from it). README: 'Failover'." >&2
    exec redis-server "{CONF_DIR}/replica.conf"
  fi
"""


def _primary_refuses_an_empty_promotion() -> str:
    """A promoted replica whose volume never held a synced dataset refuses, unless the operator allows it."""
    return f"""\
  if [ "${{REDIS_PROMOTED:-false}}" = true ] && ! has_data && [ ! -e "{DATA_DIR}/{ALLOW_EMPTY_START_MARKER}" ]; then
    echo "redis-shared: REFUSING TO START AS PRIMARY: this pod was promoted but its data dir {DATA_DIR}" \\
      "never held a synced dataset; promoting it would serve, and replicate to the other pods, an empty" \\
      "dataset. Revert the promotion commit, or promote a pod that holds the data (README: 'Failover');" \\
      "to accept an empty primary, create {DATA_DIR}/{ALLOW_EMPTY_START_MARKER} in this pod's volume." >&2
    exit 1
  fi
"""


def _primary_asks_the_peers() -> str:
    """Rounds of ``peer_state`` over the other pods: one acting as primary makes this pod its replica; the
    loop leaves ``unsure`` (no clear answer) and ``holders`` (pods with keys) for the next step."""
    return f"""\
  # A promotion is the operator's decision that the old primary is gone (README "Failover"): one round,
  # only to find a primary that does answer; "unsure" fences the others.
  tries={PEER_CHECK_TRIES}
  if [ "${{REDIS_PROMOTED:-false}}" = true ]; then tries=1; fi
  try=0
  while :; do
    unsure=""
    holders=""
    for host in $REDIS_REPLICA_HOSTS; do
      peer_state "$host"
      if [ "$state" = master ]; then
        echo "redis-shared: NOT STARTING AS PRIMARY: $host already acts as primary, so this pod's" \\
          "configuration is older than that pod's; starting as its read-only replica (it resyncs from" \\
          "$host). README: 'Failover'." >&2
        exec redis-server "{CONF_DIR}/replica.conf" --replicaof "$host" "$REDIS_REPLICATION_PORT"
      fi
      if [ "$state" = unsure ]; then unsure="$unsure $host"; fi
      if [ "$keys" = yes ]; then holders="$holders $host"; fi
    done
    try=$((try + 1))
    if [ -z "$unsure" ] || [ "$try" -ge "$tries" ]; then break; fi
    echo "redis-shared: no clear answer from$unsure (try $try of $tries); asking again" >&2
    sleep 2
  done
"""


def _primary_refuses_or_fences() -> str:
    """An empty primary refuses while another pod holds (or may hold) keys; one with data but unsure answers
    starts fenced (``min-replicas-to-write 1``)."""
    return f"""\
  if ! has_files || {{ [ "${{REDIS_PROMOTED:-false}}" = true ] && ! has_data; }}; then
    if [ -e "{DATA_DIR}/{ALLOW_EMPTY_START_MARKER}" ]; then
      echo "redis-shared: {ALLOW_EMPTY_START_MARKER} found: starting empty as the operator asked" >&2
      rm -f "{DATA_DIR}/{ALLOW_EMPTY_START_MARKER}"
    elif [ -n "$holders" ] || [ -n "$unsure" ]; then
      echo "redis-shared: REFUSING TO START: the primary's data dir {DATA_DIR} is empty but" \\
        "${{holders:+replica$holders holds keys}}${{unsure:+no clear answer from$unsure (it may hold keys)}};" \\
        "starting empty would make it resync and delete them. Restore the data (README: 'Primary lost" \\
        "its data') or, to accept losing it, create {DATA_DIR}/{ALLOW_EMPTY_START_MARKER} in this pod's volume." >&2
      exit 1
    fi
  elif [ -n "$unsure" ] && [ "${{REDIS_PROMOTED:-false}}" != true ]; then
    echo "redis-shared: FENCED: no clear answer from$unsure whether it acts as primary; starting as primary" \\
      "that refuses writes (min-replicas-to-write 1) and stays unready until a replica follows it, or an" \\
      "admin runs CONFIG SET min-replicas-to-write 0. README: 'Failover'." >&2
    : > "{FENCED_FLAG}"
    exec redis-server "{CONF_DIR}/master.conf" --min-replicas-to-write 1
  fi
"""


def _probe_script() -> str:
    t = PROBE_CALL_TIMEOUT_SECONDS
    lookup = PROBE_LOOKUP_TIMEOUT_SECONDS
    marker = f"{DATA_DIR}/{DATASET_MARKER}"
    return f"""\
#!/bin/sh
# probe.sh startup|liveness|readiness: asks only the local Redis, never the primary, so a replica is
# not restarted or taken out of its Service because the primary is down. Each call is bounded by
# `timeout {t}`, at most two calls and one `timeout {lookup}` name lookup: the script ends before the
# kubelet's {PROBE_TIMEOUT_SECONDS} s timeout.
set -u
cli() {{
  REDISCLI_AUTH=$(cat "{SECRETS_DIR}/exporter-password") timeout {t} \\
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --user {EXPORTER_USERNAME} --no-auth-warning "$@" 2>&1
}}
# The volume holds a real dataset from now on (start.sh's has_data); best effort on a full disk.
mark_dataset() {{
  [ -e "{marker}" ] || {{ : > "{marker}"; }} 2>/dev/null || true
}}
# aof_repair INFO: after a failed AOF write (AOF_WRITE_FAILED_FLAG), ask one BGREWRITEAOF once writes succeed
# and clear the flag when a rewrite has completed since; returns 1 while the repair is pending.
aof_repair() {{
  [ -e "{AOF_WRITE_FAILED_FLAG}" ] || return 0
  rewrites=$(printf '%s\\n' "$1" | sed -n 's/^aof_rewrites:\\([0-9]*\\).*/\\1/p')
  busy=$(printf '%s\\n' "$1" | grep -c '^aof_rewrite_in_progress:1\\|^aof_rewrite_scheduled:1')
  if [ -e "{AOF_REWRITE_ASKED_FLAG}" ]; then
    asked=$(cat "{AOF_REWRITE_ASKED_FLAG}")
    if [ "$busy" -eq 0 ] && [ "${{rewrites:-0}}" -gt "${{asked:-0}}" ] \\
      && printf '%s\\n' "$1" | grep -q '^aof_last_bgrewrite_status:ok'; then
      rm -f "{AOF_WRITE_FAILED_FLAG}" "{AOF_REWRITE_ASKED_FLAG}"
      echo "redis-shared: AOF rewritten after a failed write; the damaged file left the manifest" >&2
      return 0
    fi
    # A failed rewrite (no room yet) is asked again on a later round.
    if [ "$busy" -eq 0 ] && printf '%s\\n' "$1" | grep -q '^aof_last_bgrewrite_status:err'; then
      rm -f "{AOF_REWRITE_ASKED_FLAG}"
    fi
  elif [ "$busy" -eq 0 ] && [ -n "$rewrites" ]; then
    cli BGREWRITEAOF >/dev/null && printf '%s' "$rewrites" > "{AOF_REWRITE_ASKED_FLAG}"
  fi
  return 1
}}
reply=$(cli PING)
case "$reply" in MISCONF*) : > "{AOF_WRITE_FAILED_FLAG}" ;; esac
case "$1" in
  liveness | startup)
    # LOADING is alive: a replica loading a full resync must not be restarted. So is MISCONF (Redis
    # refuses writes, and PING, after a failed AOF write, e.g. a full volume): a restart frees no space
    # and would only stop the reads too. Readiness and the RedisAofWriteFailing alert report it. So is a
    # full connection table: the event loop answered, and a restart would drop every tenant to free slots
    # that the same clients take again (docs/resilience.md).
    case "$reply" in PONG | MISCONF* | *"{FULL_REPLY}"*) exit 0 ;; LOADING*) [ "$1" = liveness ] && exit 0 ;; esac ;;
  readiness)
    case "$reply" in
      *"{FULL_REPLY}"*)
        echo "readiness: Redis is full (maxclients): new connections refused; RedisRejectedConnections and" \\
          "RedisLanConnectionsRejected say from where (docs/resilience.md)"; exit 1 ;;
      MISCONF*)
        # A replica that cannot persist still applies its stream in memory (replica-ignore-disk-write-errors):
        # its reads are current and writes to it are refused anyway, so it stays in its Service.
        if cli INFO replication | grep -q '^role:slave'; then exit 0; fi
        echo "readiness: Redis refuses writes: $reply (is the data volume full? docs/resilience.md)"; exit 1 ;;
    esac
    if [ "$reply" = PONG ]; then
      info=$(cli INFO)
      if ! aof_repair "$info"; then
        echo "readiness: the AOF was damaged by a short write on a full volume; rewriting it (BGREWRITEAOF)" \\
          "before a restart could fail to load it (docs/resilience.md)"; exit 1
      fi
      if printf '%s\\n' "$info" | grep -q '^role:master'; then
        # Fenced by start.sh (FENCED): writes are refused while no replica follows it (min_slaves_good_slaves
        # is only there while min-replicas-to-write is set, so an admin's CONFIG SET to 0 lifts it).
        if [ -e "{FENCED_FLAG}" ] && printf '%s\\n' "$info" | grep -q '^min_slaves_good_slaves:0'; then
          echo "readiness: fenced primary (start.sh: FENCED): refuses writes until a replica follows it"; exit 1
        fi
        if printf '%s\\n' "$info" | grep -q '^db[0-9]*:keys=[1-9]'; then mark_dataset; fi
        exit 0
      fi
      linked=false
      if printf '%s\\n' "$info" | grep -q '^master_link_status:up'; then
        linked=true
        # The volume holds the synced dataset once the AOF rewrite that follows a full sync has ended: until
        # then the manifest names the pre-sync files, and a restart (a kill during that rewrite: pre-stop.sh)
        # would load those (docs/resilience.md "Shutdown and the grace period").
        if ! printf '%s\\n' "$info" | grep -q '^aof_rewrite_in_progress:1\\|^aof_rewrite_scheduled:1'; then
          mark_dataset
        fi
        # A disk-based full sync leaves its RDB as dump.rdb; with the AOF on, Redis never reads it again (it
        # rewrote the AOF from memory after loading). Best effort, like start.sh's cleanup.
        if ls "{DATA_DIR}"/appendonlydir/*.manifest >/dev/null 2>&1; then rm -f "{DATA_DIR}/dump.rdb" 2>/dev/null; fi
      fi
      if [ "$REDIS_ROLE" = master ]; then
        # Configured as primary by its spec but runs as a replica (start.sh: NOT STARTING AS PRIMARY).
        # While the mounted ConfigMap (refreshed by the kubelet) still names this pod the primary, keep it
        # out of the master Service its role label selects. Once the ConfigMap names another pod, it is a
        # demoted replica whose new template is pending: Ready once synced, so the StatefulSet controller
        # (OrderedReady replaces only Ready pods) rolls it; until then its reads are the primary's.
        configured=$(sed -n 's/^replicaof \\([^ ]*\\) .*/\\1/p' "{CONF_DIR}/replica.conf" 2>/dev/null)
        if [ -z "$configured" ] || [ "${{configured%%.*}}" = "$REDIS_POD_NAME" ]; then
          echo "readiness: configured as the primary but another pod acts as primary; runs as its replica" \\
            "(start.sh: NOT STARTING AS PRIMARY)"; exit 1
        fi
        [ "$linked" = true ] && exit 0
        echo "readiness: demoted (the configuration names $configured) and not synced with it yet"; exit 1
      fi
      if printf '%s\\n' "$info" | grep -q '^loading:1'; then
        echo "readiness: replica is loading its dataset"; exit 1
      fi
      # A replica that started on its persisted dataset serves it while the primary is away (stale reads
      # beat no reads); one that started empty has nothing to serve until its first sync.
      [ -e "{STARTED_WITH_DATA_FLAG}" ] && exit 0
      # First install, replicas StatefulSet first (README "Upgrades"): the primary's pod does not exist yet,
      # so its name does not resolve and there is nothing to wait for; waiting would hold the very rollout
      # that creates it. A primary that exists but is down still resolves (publishNotReadyAddresses).
      primary=$(printf '%s\\n' "$info" | sed -n 's/^master_host:\\([^[:space:]]*\\).*/\\1/p')
      if [ -n "$primary" ] && [ "$linked" = false ] && ! timeout {lookup} getent hosts "$primary" >/dev/null 2>&1; then
        echo "readiness: primary $primary does not resolve (not created yet): nothing to sync from"; exit 0
      fi
      if printf '%s\\n' "$info" | grep -q '^master_sync_in_progress:1'; then
        echo "readiness: replica is in its initial sync"; exit 1
      fi
      # Not synced even once since it started (link down, never up): it would serve no or old data.
      if printf '%s\\n' "$info" | grep -q '^master_link_down_since_seconds:-1'; then
        echo "readiness: replica has not completed a sync with the primary yet"; exit 1
      fi
      exit 0
    fi ;;
  *)
    echo "usage: probe.sh startup|liveness|readiness" >&2; exit 2 ;;
esac
echo "$1: PING answered: $reply"
exit 1
"""


def _pre_stop_script() -> str:
    t = PROBE_CALL_TIMEOUT_SECONDS
    return f"""\
#!/bin/sh
# pre-stop.sh GRACE_SECONDS: the redis container's preStop hook (docs/resilience.md "Shutdown and the grace
# period"). After a full sync Redis rewrites its AOF from memory, and until that first rewrite has ended it
# refuses a SIGTERM ("Writing initial AOF, can't exit", src/server.c finishShutdown, 7.0 and 7.4) and drops it:
# the pod would be SIGKILLed at the end of the grace period, its volume still on the AOF from before the sync.
# So wait while that rewrite runs (a rewrite child, and the temp incr file only an initial rewrite writes), at
# most GRACE_SECONDS; the kubelet's SIGTERM then shuts Redis down. Any other time (an ordinary rewrite
# included: SIGTERM ends it, the AOF it replaces is complete) this returns at once.
set -u
deadline=$(( $(date +%s) + ${{1:?usage: pre-stop.sh GRACE_SECONDS}} ))
initial_rewrite() {{
  [ -e "{INITIAL_REWRITE_INCR_FILE}" ] || return 1
  REDISCLI_AUTH=$(cat "{SECRETS_DIR}/exporter-password") timeout {t} \\
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --user {EXPORTER_USERNAME} --no-auth-warning INFO persistence 2>/dev/null \\
    | grep -q '^aof_rewrite_in_progress:1'
}}
while initial_rewrite && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.5; done
exit 0
"""


def render_scripts(*, users: Sequence[AclUser] = ACL_USERS) -> dict[str, str]:
    """ConfigMap data for the scripts, keyed by file name; ``users``: the ACL users whose passwords the pod
    reads (default: every user of :data:`ACL_USERS`)."""
    return {
        "render-config.sh": _render_config_script(users),
        "start.sh": _start_script(),
        "probe.sh": _probe_script(),
        "pre-stop.sh": _pre_stop_script(),
        "acl-reload.sh": render_acl_reload_script(),
    }
