#!/bin/sh
# redis-shared backup: one verified RDB snapshot into the backup volume, then retention.
#
# Runs in the Redis image (Debian bookworm-slim: dash, coreutils; redis-cli, redis-check-rdb, redis-server).
# Every setting comes from the environment (rendered by redis_constructs.backup); the password only from the
# mounted file BACKUP_PASSWORD_FILE, handed to redis-cli as REDISCLI_AUTH in its own environment (never argv).
#
# 1. Source: the replica, if it answers and its link to the primary is up (a replica cut off from its primary
#    serves stale data). Otherwise the primary when BACKUP_FALLBACK_HOST is set, else fail.
# 2. redis-cli --rdb: REPLCONF capa eof + REPLCONF rdb-only 1 + SYNC; with repl-diskless-sync yes the source's
#    fork streams the RDB into the socket and writes nothing on its own volume.
# 3. Verify: redis-check-rdb passes; a throwaway redis-server (unix socket only, no persistence) loads the file;
#    keys loaded + keys expired at load == the keys redis-check-rdb read; that count is within
#    BACKUP_KEY_TOLERANCE_PERCENT of what INFO keyspace on the source reported just before the SYNC.
# 4. Publish: the transfer writes BACKUP_DIR/.<name>.rdb.part (no second copy of up to maxmemory bytes);
#    once verified, <name>.rdb.sha256 (sha256sum -c format) and <name>.json (metadata) are written and the .part
#    renamed to <name>.rdb last: a name that exists is a complete, verified snapshot. Any failure removes the
#    .part; a .part left by a killed run is removed by the next one (the CronJob forbids concurrent runs).
# 5. Retention: keep the newest snapshot of each of the last BACKUP_KEEP_DAILY days and of each of the last
#    BACKUP_KEEP_WEEKLY ISO weeks (restic's --keep-daily/--keep-weekly rule); delete the rest.
#
# 6. Report (when BACKUP_REPORT_HOST is set, the primary): SET redis-shared:backup:last-bytes / last-keys /
#    last-success-time (RedisMonitoring's backup-report scrape exports the first two); a failed report
#    is a warning, not a failed backup (the snapshot is stored; the age alert reads kube-state-metrics).
#
# Exit codes: 0 done; 1 source unreachable/refused; 2 transfer failed; 3 redis-check-rdb failed;
# 4 load check failed (does not load, or counts differ); 5 storage (volume full, rename failed).
set -eu

: "${BACKUP_HOST:?host of the replica}"
: "${BACKUP_PASSWORD_FILE:?password file of the backup user}"
: "${BACKUP_DIR:?mount path of the backup volume}"
BACKUP_PORT="${BACKUP_PORT:-6379}"
BACKUP_USER="${BACKUP_USER:-backup}"
BACKUP_FALLBACK_HOST="${BACKUP_FALLBACK_HOST:-}"
BACKUP_FALLBACK_PORT="${BACKUP_FALLBACK_PORT:-$BACKUP_PORT}"
BACKUP_TLS="${BACKUP_TLS:-0}"
BACKUP_CA_FILE="${BACKUP_CA_FILE:-}"
BACKUP_SNI="${BACKUP_SNI:-}"
BACKUP_WORK_DIR="${BACKUP_WORK_DIR:-/tmp}"
BACKUP_KEEP_DAILY="${BACKUP_KEEP_DAILY:-7}"
BACKUP_KEEP_WEEKLY="${BACKUP_KEEP_WEEKLY:-4}"
BACKUP_KEY_TOLERANCE_PERCENT="${BACKUP_KEY_TOLERANCE_PERCENT:-1}"
BACKUP_REPORT_HOST="${BACKUP_REPORT_HOST:-}"
BACKUP_REPORT_PORT="${BACKUP_REPORT_PORT:-$BACKUP_PORT}"
BACKUP_REPORT_PREFIX="${BACKUP_REPORT_PREFIX:-redis-shared:backup:}"
BACKUP_LOAD_TIMEOUT_SECONDS="${BACKUP_LOAD_TIMEOUT_SECONDS:-600}"
# For tests only: the UTC time of the snapshot as YYYYmmddTHHMMSSZ (default: now).
BACKUP_NOW="${BACKUP_NOW:-$(date -u +%Y%m%dT%H%M%SZ)}"

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() {
    code=$1
    shift
    printf '%s backup: FAIL: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
    exit "$code"
}

REDISCLI_AUTH="$(cat "$BACKUP_PASSWORD_FILE")" || fail 1 "cannot read $BACKUP_PASSWORD_FILE"
export REDISCLI_AUTH

cli() { # cli HOST PORT ARGS...: redis-cli as the backup user, TLS with the CA when enabled
    host=$1
    port=$2
    shift 2
    if [ "$BACKUP_TLS" = 1 ]; then
        set -- --tls ${BACKUP_CA_FILE:+--cacert "$BACKUP_CA_FILE"} ${BACKUP_SNI:+--sni "$BACKUP_SNI"} "$@"
    fi
    redis-cli --no-auth-warning -h "$host" -p "$port" --user "$BACKUP_USER" "$@"
}

info_field() { # info_field HOST PORT SECTION FIELD
    cli "$1" "$2" INFO "$3" | tr -d '\r' | sed -n "s/^$4://p"
}

keyspace_keys() { # the sum of keys= over every db line of INFO keyspace read from stdin
    tr -d '\r' | sed -n 's/^db[0-9]*:keys=\([0-9]*\),.*/\1/p' | awk '{ n += $1 } END { print n + 0 }'
}

# --- 1. the source -------------------------------------------------------------------------------------------
source_host=$BACKUP_HOST
source_port=$BACKUP_PORT
source_role=replica
link=$(info_field "$BACKUP_HOST" "$BACKUP_PORT" replication master_link_status 2>&1) || link="unreachable: $link"
if [ "$link" != up ]; then
    if [ -z "$BACKUP_FALLBACK_HOST" ]; then
        fail 1 "replica $BACKUP_HOST:$BACKUP_PORT is not usable (master_link_status: ${link:-none}); no fallback configured"
    fi
    log "WARNING: replica $BACKUP_HOST:$BACKUP_PORT is not usable (master_link_status: ${link:-none}); snapshot from the primary $BACKUP_FALLBACK_HOST:$BACKUP_FALLBACK_PORT (it forks there)"
    source_host=$BACKUP_FALLBACK_HOST
    source_port=$BACKUP_FALLBACK_PORT
    source_role=primary
fi
keyspace=$(cli "$source_host" "$source_port" INFO keyspace 2>&1) || true
case "$keyspace" in
*"# Keyspace"*) source_keys=$(printf '%s\n' "$keyspace" | keyspace_keys) ;;
*) fail 1 "INFO keyspace on $source_host:$source_port failed: $(printf '%s' "$keyspace" | tr '\r\n' '  ')" ;;
esac
log "source $source_role $source_host:$source_port reports $source_keys keys"

# --- 2. the transfer -----------------------------------------------------------------------------------------
name="redis-$BACKUP_NOW"
work="$BACKUP_WORK_DIR/$name.work"
rm -rf "$work"
mkdir -p "$work"
rm -f "$BACKUP_DIR"/.redis-*.rdb.part
# redis-cli opens the file without O_TRUNC: always a fresh path.
part=".$name.rdb.part"
rdb="$BACKUP_DIR/$part"
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    rm -f "$rdb"
}
trap cleanup EXIT
start=$(date +%s)
if ! cli "$source_host" "$source_port" --rdb "$rdb" >"$work/transfer.log" 2>&1; then
    sed 's/^/  /' "$work/transfer.log" >&2
    fail 2 "redis-cli --rdb from $source_host:$source_port failed"
fi
transfer_seconds=$(($(date +%s) - start))
bytes=$(wc -c <"$rdb") || fail 5 "cannot read $rdb"
log "transferred $bytes bytes in ${transfer_seconds}s"

# --- 3. verify -----------------------------------------------------------------------------------------------
# sha256sum reads the file while redis-check-rdb and the load do (one more core; ~7 s of 1 GiB off the run).
sha256sum "$rdb" >"$work/sha256" &
sha_pid=$!
if ! redis-check-rdb "$rdb" >"$work/check.log" 2>&1; then
    # Key names are bytes: print them as one readable line each.
    tail -n 6 "$work/check.log" | LC_ALL=C tr -c '\n[:print:]' '?' | sed 's/^/  /' >&2
    why=$(sed -n '/RDB ERROR DETECTED/{n;p;q;}' "$work/check.log" | LC_ALL=C tr -c '\n[:print:]' '?')
    fail 3 "redis-check-rdb rejects the snapshot ($bytes bytes): ${why:-see above}; it was not kept"
fi
rdb_keys=$(sed -n 's/^\[info\] \([0-9]*\) keys read$/\1/p' "$work/check.log")
[ -n "$rdb_keys" ] || fail 3 "redis-check-rdb printed no key count"

sock="$work/throwaway.sock"
local_cli() { env -u REDISCLI_AUTH redis-cli -s "$sock" "$@"; } # the throwaway has no password
# --save '' and --appendonly no: it reads the file in place and never writes to BACKUP_DIR.
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no \
    --dir "$BACKUP_DIR" --dbfilename "$part" --logfile "$work/throwaway.log" --daemonize no \
    --maxmemory 0 --enable-debug-command no &
server_pid=$!
deadline=$(($(date +%s) + BACKUP_LOAD_TIMEOUT_SECONDS))
until [ "$(local_cli PING 2>/dev/null)" = PONG ]; do
    kill -0 "$server_pid" 2>/dev/null || {
        tail -n 5 "$work/throwaway.log" | sed 's/^/  /' >&2
        fail 4 "the snapshot does not load into redis-server"
    }
    [ "$(date +%s)" -lt "$deadline" ] || fail 4 "the snapshot did not load within ${BACKUP_LOAD_TIMEOUT_SECONDS}s"
    sleep 0.2
done
# 7.0: "Done loading RDB, keys loaded: N, keys expired: M."; 7.4 appends ", empty keys skipped: K" when K > 0
# (src/rdb.c): skipped empty keys count as expired here (both are keys the file holds that Redis dropped).
loaded_line=$(sed -n 's/.*Done loading RDB, keys loaded: \([0-9]*\), keys expired: \([0-9]*\)\(, empty keys skipped: \([0-9]*\)\)\{0,1\}\..*/\1 \2 \4/p' "$work/throwaway.log")
[ -n "$loaded_line" ] || fail 4 "redis-server logged no 'Done loading RDB' line"
loaded=${loaded_line%% *}
rest=${loaded_line#* }
expired_at_load=${rest%% *}
skipped=${rest#* }
expired_at_load=$((expired_at_load + ${skipped:-0}))
resident=$(local_cli INFO keyspace | keyspace_keys)
expired_since=$(local_cli INFO stats | tr -d '\r' | sed -n 's/^expired_keys://p')
local_cli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait "$server_pid" 2>/dev/null || true
server_pid=
log "loaded $loaded keys ($expired_at_load already expired, $resident resident, $expired_since expired since)"
if [ $((loaded + expired_at_load)) -ne "$rdb_keys" ] || [ $((resident + expired_since)) -ne "$loaded" ]; then
    fail 4 "key counts differ: redis-check-rdb read $rdb_keys, redis-server loaded $loaded + $expired_at_load expired, holds $resident + $expired_since expired since"
fi
diff=$((rdb_keys - source_keys))
[ "$diff" -ge 0 ] || diff=$((-diff))
if [ $((diff * 100)) -gt $((source_keys * BACKUP_KEY_TOLERANCE_PERCENT)) ]; then
    fail 4 "the snapshot holds $rdb_keys keys, the source reported $source_keys (more than ${BACKUP_KEY_TOLERANCE_PERCENT}% apart)"
fi

# --- 4. publish ----------------------------------------------------------------------------------------------
wait "$sha_pid" || fail 5 "sha256sum $rdb failed"
sha=$(cut -d' ' -f1 "$work/sha256")
redis_version=$(sed -n "s/.*AUX FIELD redis-ver = '\([^']*\)'.*/\1/p" "$work/check.log")
printf '%s  %s.rdb\n' "$sha" "$name" >"$work/$name.rdb.sha256"
printf '{"name":"%s","source":"%s","source_host":"%s","redis_version":"%s","bytes":%s,"sha256":"%s","keys":%s,"source_keys":%s,"transfer_seconds":%s,"finished":"%s"}\n' \
    "$name" "$source_role" "$source_host" "$redis_version" "$bytes" "$sha" "$rdb_keys" "$source_keys" \
    "$transfer_seconds" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$work/$name.json"
if ! cp "$work/$name.rdb.sha256" "$work/$name.json" "$BACKUP_DIR/" || ! mv "$rdb" "$BACKUP_DIR/$name.rdb"; then
    rm -f "$BACKUP_DIR/$name.rdb.sha256" "$BACKUP_DIR/$name.json"
    fail 5 "could not store $name in $BACKUP_DIR (volume full?)"
fi
trap - EXIT
rm -rf "$work"
log "stored $BACKUP_DIR/$name.rdb sha256=$sha keys=$rdb_keys bytes=$bytes"

# --- 5. retention --------------------------------------------------------------------------------------------
# Newest first; a snapshot is kept if it is the newest of its day among the first KEEP_DAILY days seen, or the
# newest of its ISO week among the first KEEP_WEEKLY weeks seen. Names sort by time (fixed-width UTC stamp).
keep=$(
    for f in "$BACKUP_DIR"/redis-*.rdb; do
        [ -e "$f" ] || continue
        stamp=${f##*/redis-}
        stamp=${stamp%.rdb}
        day=${stamp%%T*}
        printf '%s %s %s\n' "$stamp" "$day" "$(date -u -d "$day" +%G-W%V)"
    done | sort -r | awk -v d="$BACKUP_KEEP_DAILY" -v w="$BACKUP_KEEP_WEEKLY" '
        !($2 in days) && nd < d { days[$2]; nd++; keep[$1] }
        !($3 in weeks) && nw < w { weeks[$3]; nw++; keep[$1] }
        END { for (s in keep) print s }'
)
for f in "$BACKUP_DIR"/redis-*.rdb; do
    [ -e "$f" ] || continue
    stamp=${f##*/redis-}
    stamp=${stamp%.rdb}
    case " $(echo "$keep" | tr '\n' ' ') " in
    *" $stamp "*) ;;
    *)
        rm -f "$f" "$f.sha256" "${f%.rdb}.json"
        log "retention: removed redis-$stamp"
        ;;
    esac
done
log "retention: $(echo "$keep" | grep -c . || true) snapshot(s) kept (daily $BACKUP_KEEP_DAILY, weekly $BACKUP_KEEP_WEEKLY)"

# --- 6. report -----------------------------------------------------------------------------------------------
if [ -n "$BACKUP_REPORT_HOST" ]; then
    if printf 'SET %slast-bytes %s\nSET %slast-keys %s\nSET %slast-success-time %s\n' \
        "$BACKUP_REPORT_PREFIX" "$bytes" "$BACKUP_REPORT_PREFIX" "$rdb_keys" "$BACKUP_REPORT_PREFIX" "$(date +%s)" |
        cli "$BACKUP_REPORT_HOST" "$BACKUP_REPORT_PORT" >"$BACKUP_WORK_DIR/report.log" 2>&1 &&
        [ "$(grep -c '^OK$' "$BACKUP_WORK_DIR/report.log")" = 3 ]; then
        log "reported to $BACKUP_REPORT_HOST:$BACKUP_REPORT_PORT (${BACKUP_REPORT_PREFIX}last-*)"
    else
        log "WARNING: could not report to $BACKUP_REPORT_HOST:$BACKUP_REPORT_PORT: $(tr '\n' ' ' <"$BACKUP_WORK_DIR/report.log")"
    fi
    rm -f "$BACKUP_WORK_DIR/report.log"
fi
