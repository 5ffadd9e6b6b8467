#!/bin/sh
# redis-shared off-site copy: runs in the restic image (busybox sh) after backup.sh (an initContainer) succeeded.
#
# Uploads the newest snapshot in BACKUP_DIR (the one the init container just verified and published) with its
# .sha256 and .json, encrypted by restic, then applies the same retention as the volume (restic's
# --keep-daily/--keep-weekly, grouped by host only: every snapshot has its own file name, so restic's default
# grouping by paths would make each one its own group and keep them all).
# Settings: RESTIC_REPOSITORY (s3:...), RESTIC_PASSWORD_FILE, AWS_SHARED_CREDENTIALS_FILE (mounted Secret files),
# RESTIC_CACHE_DIR, BACKUP_DIR, BACKUP_KEEP_DAILY, BACKUP_KEEP_WEEKLY; OFFSITE_TIME only for tests.
set -eu
: "${RESTIC_REPOSITORY:?s3 repository}"
: "${RESTIC_PASSWORD_FILE:?repository password file}"
: "${BACKUP_DIR:?mount path of the backup volume}"
BACKUP_KEEP_DAILY="${BACKUP_KEEP_DAILY:-7}"
BACKUP_KEEP_WEEKLY="${BACKUP_KEEP_WEEKLY:-4}"
HOST_TAG=redis-shared

log() { printf '%s offsite: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() {
    printf '%s offsite: FAIL: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
    exit 1
}

newest=
for f in "$BACKUP_DIR"/redis-*.rdb; do
    [ -e "$f" ] && newest=$f
done
[ -n "$newest" ] || fail "no snapshot in $BACKUP_DIR"
name=${newest##*/}
name=${name%.rdb}
(cd "$BACKUP_DIR" && sha256sum -c "$name.rdb.sha256" >/dev/null) || fail "$name.rdb does not match its sha256"

if ! restic cat config >/dev/null 2>&1; then
    log "no repository at $RESTIC_REPOSITORY yet: restic init"
    restic init || fail "restic init failed (if the repository exists, the password is wrong)"
fi
restic backup --host "$HOST_TAG" --tag "$HOST_TAG" --tag "$name" ${OFFSITE_TIME:+--time "$OFFSITE_TIME"} \
    "$BACKUP_DIR/$name.rdb" "$BACKUP_DIR/$name.rdb.sha256" "$BACKUP_DIR/$name.json" || fail "restic backup failed"
log "uploaded $name"
restic forget --host "$HOST_TAG" --tag "$HOST_TAG" --group-by host \
    --keep-daily "$BACKUP_KEEP_DAILY" --keep-weekly "$BACKUP_KEEP_WEEKLY" --prune || fail "restic forget failed"
log "retention applied (daily $BACKUP_KEEP_DAILY, weekly $BACKUP_KEEP_WEEKLY)"
