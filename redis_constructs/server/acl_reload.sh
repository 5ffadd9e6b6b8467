#!/bin/sh
# acl-reload.sh [render|once|check]: the tenants' ACL users in a running Redis, without a restart.
#
#   render  (init container) users.acl = the system users (system.acl, rendered by render-config.sh) plus one
#           line per tenant; records the tenant lines as applied. Redis reads users.acl when it starts.
#   (none)  (sidecar acl-reload) every ACL_RELOAD_INTERVAL_SECONDS: render the tenant lines from the mounted
#           tenants ConfigMap and Secret (the kubelet refreshes both in place: no pod restart) and apply what
#           changed with ACL SETUSER, what is gone with ACL DELUSER, then rewrite users.acl.
#   once    one such round (tests).
#   check   liveness: the loop went round lately and nothing has been pending for too long.
#
# Why SETUSER/DELUSER and not ACL LOAD: up to Redis 7.2, ACL LOAD disconnects every client of every user but
# `default` (acl.c ACLFreeUsersSet -> ACLFreeUserAndKillClients), the replication link and the exporter
# included; 7.4 keeps them (redis/redis#12171). ACL SETUSER stages all its rules on a copy and applies them
# together or not at all, and keeps the user's connections (acl.c ACLStringSetUser; only Pub/Sub subscribers
# whose channels were revoked are dropped); ACL DELUSER drops the removed user's connections. Same on every 7.x.
#
# Tenants file (ConfigMap key tenants.conf), one line per user, no passwords:
#   <secret id> <username> <rules...>        secret id "-": no password, the user is off (default, no holder)
# A user's password hashes come from <secret id>.password and, during a rotation, <secret id>.previous-password
# in the tenants Secret. A missing, empty or newline-terminated .password makes the user "reset off": it exists,
# nobody can log in as it, and it may run nothing (never left out: a missing `default` line would make Redis
# create `default` with nopass and every permission).
set -u
set -f # rules hold glob characters (~shop:*): never expand them

: "${ACL_RUN_DIR:=/run/redis-shared}"
: "${ACL_TENANTS_FILE:=/opt/redis-shared/tenants/tenants.conf}"
: "${ACL_TENANT_SECRETS_DIR:=/opt/redis-shared/tenant-secrets}"
: "${ACL_ADMIN_PASSWORD_FILE:=/opt/redis-shared/secrets/admin-password}"
: "${ACL_RELOAD_INTERVAL_SECONDS:=10}"
: "${ACL_PENDING_LIMIT_SECONDS:=600}"
: "${REDIS_PORT:=6379}"

applied="$ACL_RUN_DIR/tenants.applied"
beat="$ACL_RUN_DIR/acl-reload.heartbeat"
pending="$ACL_RUN_DIR/acl-reload.pending-since"

log() { echo "acl-reload: $*"; }
warn() { echo "acl-reload: $*" >&2; }

# hash_of FILE: "#<sha256 hex>" of a usable password file, nothing (status 1) otherwise.
hash_of() {
  [ -r "$1" ] && [ -s "$1" ] || return 1
  if [ "$(tail -c 1 "$1" | wc -l)" -ne 0 ]; then
    warn "$(basename "$1") ends with a newline; store it without one (printf, not echo)"
    return 1
  fi
  printf '#%s' "$(sha256sum < "$1" | cut -d' ' -f1)"
}

# render_tenants: the tenant ACL lines ("user <name> reset ...") on stdout.
render_tenants() {
  if [ ! -r "$ACL_TENANTS_FILE" ]; then
    warn "tenants file $ACL_TENANTS_FILE is missing"
    return 1
  fi
  while read -r id name rules || [ -n "$id" ]; do
    [ -n "$id" ] || continue
    if [ "$id" = - ]; then
      echo "user $name reset off"
      continue
    fi
    if ! current=$(hash_of "$ACL_TENANT_SECRETS_DIR/$id.password"); then
      warn "no usable password $id.password for user $name: the user is off until it appears"
      echo "user $name reset off"
      continue
    fi
    previous=$(hash_of "$ACL_TENANT_SECRETS_DIR/$id.previous-password" 2>/dev/null || true)
    echo "user $name reset on $current${previous:+ $previous} $rules"
  done < "$ACL_TENANTS_FILE"
}

cli() {
  REDISCLI_AUTH=$(cat "$ACL_ADMIN_PASSWORD_FILE") timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" \
    --user admin --no-auth-warning "$@" < /dev/null 2>&1
}

# write_users_acl TENANT_LINES_FILE: users.acl = system.acl + tenant lines, replaced atomically.
write_users_acl() {
  cat "$ACL_RUN_DIR/system.acl" "$1" > "$ACL_RUN_DIR/users.acl.tmp" &&
    mv "$ACL_RUN_DIR/users.acl.tmp" "$ACL_RUN_DIR/users.acl"
}

# apply: one round. Status 0 when Redis holds the rendered users (changed or not), 1 when something is pending.
apply() {
  new="$ACL_RUN_DIR/tenants.new"
  render_tenants > "$new" || return 1
  [ -r "$applied" ] || : > "$applied"
  if cmp -s "$new" "$applied"; then
    return 0
  fi
  failed=""
  # Changed or new users: one ACL SETUSER each (all of its rules or none).
  while read -r _ name rules; do
    grep -Fxq "user $name $rules" "$applied" && continue
    # shellcheck disable=SC2086 # the rules are separate arguments, never globbed (set -f)
    reply=$(cli ACL SETUSER "$name" $rules)
    if [ "$reply" = OK ]; then
      log "user $name updated"
    else
      warn "ACL SETUSER $name failed (will retry): $reply"
      failed="$failed $name"
    fi
  done < "$new"
  # Users that are gone: ACL DELUSER (drops their connections). `default` is never deleted, only turned off.
  while read -r _ name _; do
    [ "$name" = default ] && continue
    grep -q "^user $name " "$new" && continue
    reply=$(cli ACL DELUSER "$name")
    case "$reply" in
      0 | 1) log "user $name removed" ;;
      *) warn "ACL DELUSER $name failed (will retry): $reply"; failed="$failed $name" ;;
    esac
  done < "$applied"
  if [ -n "$failed" ]; then
    return 1
  fi
  write_users_acl "$new" && mv "$new" "$applied"
}

case "${1:-loop}" in
  render)
    set -e
    umask 077
    render_tenants > "$ACL_RUN_DIR/tenants.new"
    write_users_acl "$ACL_RUN_DIR/tenants.new"
    mv "$ACL_RUN_DIR/tenants.new" "$applied"
    log "rendered $(wc -l < "$applied") tenant user(s) into users.acl"
    ;;
  once)
    apply
    ;;
  check)
    now=$(date +%s)
    [ -r "$beat" ] && [ $((now - $(cat "$beat"))) -le $((3 * ACL_RELOAD_INTERVAL_SECONDS + 10)) ] || exit 1
    if [ -r "$pending" ] && [ $((now - $(cat "$pending"))) -gt "$ACL_PENDING_LIMIT_SECONDS" ]; then
      echo "acl-reload: tenant users pending for more than $ACL_PENDING_LIMIT_SECONDS s (see this container's log)"
      exit 1
    fi
    ;;
  loop)
    umask 077
    while :; do
      date +%s > "$beat"
      if apply; then
        rm -f "$pending"
      elif [ ! -e "$pending" ]; then
        date +%s > "$pending"
      fi
      sleep "$ACL_RELOAD_INTERVAL_SECONDS"
    done
    ;;
  *)
    echo "usage: acl-reload.sh [render|once|check]" >&2
    exit 2
    ;;
esac
