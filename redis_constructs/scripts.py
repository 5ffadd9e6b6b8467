"""POSIX sh scripts the pods run (the official image's /bin/sh is dash): rendered as plain strings.

Both roles run the same scripts; ``REDIS_ROLE`` (``master`` or ``replica``) selects the differences.
"""

from __future__ import annotations

from collections.abc import Sequence

from .redis_config import (
    ACL_USERS,
    CONF_DIR,
    DATA_DIR,
    EXPORTER_RUN_DIR,
    EXPORTER_USERNAME,
    REPLICATION_USERNAME,
    RUN_DIR,
    SECRETS_DIR,
    AclUser,
)

#: Seconds each redis-cli call in a probe may take; a probe makes at most two calls, so it always
#: finishes before ``PROBE_TIMEOUT_SECONDS``, the kubelet's timeout.
PROBE_CALL_TIMEOUT_SECONDS = 2
PROBE_TIMEOUT_SECONDS = 5
#: Marker an operator places in the primary's data dir to accept starting with no data.
ALLOW_EMPTY_START_MARKER = "ALLOW_EMPTY_START"
#: Flag start.sh leaves in the pod's /tmp (an emptyDir) when Redis started on a persisted dataset: such a
#: replica is Ready without waiting for a sync (stale reads beat no reads); one that started empty is not.
STARTED_WITH_DATA_FLAG = "/tmp/redis-shared-started-with-data"

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
  "{CONF_DIR}/users.acl.tmpl" > "{RUN_DIR}/users.acl"
{{
  echo "masteruser {REPLICATION_USERNAME}"
  echo "masterauth $(read_secret replication-password)"
}} > "{RUN_DIR}/auth.conf"
write_exporter_password_file "{EXPORTER_RUN_DIR}/password.json"
chmod 0640 "{EXPORTER_RUN_DIR}/password.json"
echo "redis-shared: rendered ACL users, replication auth and exporter credentials for role $REDIS_ROLE"
"""


def _start_script() -> str:
    return f"""\
#!/bin/sh
# Starts redis-server for $REDIS_ROLE, the role the committed configuration gives this pod (README
# "Failover"). A replica always starts read-only, following the configured primary. A primary starts
# writable only when it is sure:
# - its data dir is empty: it refuses while another pod holds keys (as the empty primary it would make
#   that pod resync and wipe its copy); a promoted replica (REDIS_PROMOTED) with an empty volume refuses
#   always: there is nothing to promote;
# - another Redis pod already acts as primary: this pod's configuration is older than that pod's (e.g. the
#   old primary's node came back before the promotion commit reached it), so it starts as that pod's
#   read-only replica and resyncs from it instead of becoming a second primary that accepts writes.
set -eu
# The image's entrypoint sets umask 0077, which this command skips: AOF/RDB files are the owner's alone.
umask 077
{_READ_SECRET}
has_data() {{
  [ -s "{DATA_DIR}/dump.rdb" ] || ls "{DATA_DIR}"/appendonlydir/*.manifest >/dev/null 2>&1
}}
peer_info() {{
  REDISCLI_AUTH="$pw" timeout 3 redis-cli -h "$1" -p "$REDIS_PORT" --user {EXPORTER_USERNAME} \\
    --no-auth-warning INFO "$2" 2>/dev/null
}}
rm -f "{STARTED_WITH_DATA_FLAG}"
if has_data; then : > "{STARTED_WITH_DATA_FLAG}"; fi
if [ "$REDIS_ROLE" = master ]; then
  pw=$(read_secret exporter-password)
  if ! has_data; then
    if [ -e "{DATA_DIR}/{ALLOW_EMPTY_START_MARKER}" ]; then
      echo "redis-shared: {ALLOW_EMPTY_START_MARKER} found: starting empty as the operator asked" >&2
      rm -f "{DATA_DIR}/{ALLOW_EMPTY_START_MARKER}"
    elif [ "${{REDIS_PROMOTED:-false}}" = true ]; then
      echo "redis-shared: REFUSING TO START AS PRIMARY: this pod was promoted but its data dir {DATA_DIR}" \\
        "is empty; promoting it would serve, and replicate to the other pods, an empty dataset." \\
        "Revert the promotion commit, or promote a pod that holds the data (README: 'Failover'); to" \\
        "accept an empty primary, create {DATA_DIR}/{ALLOW_EMPTY_START_MARKER} in this pod's volume." >&2
      exit 1
    else
      for host in $REDIS_REPLICA_HOSTS; do
        if peer_info "$host" keyspace | grep -q '^db[0-9]*:keys=[1-9]'; then
          echo "redis-shared: REFUSING TO START: the primary's data dir {DATA_DIR} is empty but replica" \\
            "$host holds keys; starting empty would make it resync and delete them." \\
            "Restore the data (README: 'Primary lost its data') or, to accept losing it, create" \\
            "{DATA_DIR}/{ALLOW_EMPTY_START_MARKER} in this pod's volume." >&2
          exit 1
        fi
      done
    fi
  fi
  for host in $REDIS_REPLICA_HOSTS; do
    if peer_info "$host" replication | grep -q '^role:master'; then
      echo "redis-shared: NOT STARTING AS PRIMARY: $host already acts as primary, so this pod's" \\
        "configuration is older than that pod's; starting as its read-only replica (it resyncs from" \\
        "$host). README: 'Failover'." >&2
      exec redis-server "{CONF_DIR}/replica.conf" --replicaof "$host" "$REDIS_PORT"
    fi
  done
fi
exec redis-server "{CONF_DIR}/$REDIS_ROLE.conf"
"""


def _probe_script() -> str:
    t = PROBE_CALL_TIMEOUT_SECONDS
    return f"""\
#!/bin/sh
# probe.sh startup|liveness|readiness: asks only the local Redis, never the primary, so a replica is
# not restarted or taken out of its Service because the primary is down. Each call is bounded by
# `timeout {t}`, at most two calls: the script ends before the kubelet's {PROBE_TIMEOUT_SECONDS} s timeout.
set -u
cli() {{
  REDISCLI_AUTH=$(cat "{SECRETS_DIR}/exporter-password") timeout {t} \\
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --user {EXPORTER_USERNAME} --no-auth-warning "$@" 2>&1
}}
reply=$(cli PING)
case "$1" in
  liveness | startup)
    # LOADING is alive: a replica loading a full resync must not be restarted. So is MISCONF (Redis
    # refuses writes, and PING, after a failed AOF write, e.g. a full volume): a restart frees no space
    # and would only stop the reads too. Readiness and the RedisAofWriteFailing alert report it.
    case "$reply" in PONG | MISCONF*) exit 0 ;; LOADING*) [ "$1" = liveness ] && exit 0 ;; esac ;;
  readiness)
    case "$reply" in MISCONF*)
      echo "readiness: Redis refuses writes: $reply (is the data volume full? README: 'Full disk')"; exit 1 ;;
    esac
    if [ "$reply" = PONG ]; then
      info=$(cli INFO)
      printf '%s\\n' "$info" | grep -q '^role:master' && exit 0
      # A pod configured as primary that found another primary runs as its replica (start.sh): keep it out
      # of the master Service, which its role label selects, rather than answer writes with READONLY.
      if [ "$REDIS_ROLE" = master ]; then
        echo "readiness: configured as the primary but another pod acts as primary; runs as its replica" \\
          "(start.sh: NOT STARTING AS PRIMARY)"; exit 1
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
      if [ -n "$primary" ] && ! timeout 1 getent hosts "$primary" >/dev/null 2>&1; then
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


def render_scripts(*, users: Sequence[AclUser] = ACL_USERS) -> dict[str, str]:
    """ConfigMap data for the scripts, keyed by file name; ``users``: the ACL users whose passwords the pod
    reads (default: every user of :data:`ACL_USERS`)."""
    return {
        "render-config.sh": _render_config_script(users),
        "start.sh": _start_script(),
        "probe.sh": _probe_script(),
    }
