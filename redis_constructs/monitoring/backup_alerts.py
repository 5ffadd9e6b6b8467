"""Prometheus alerting rules for redis-shared's backup CronJob, as plain data (issue #21).

Pure module: no cdk8s import. :func:`render_backup_alert_group` returns one ``spec.groups`` entry of a
``monitoring.coreos.com/v1`` PrometheusRule; :class:`RedisMonitoring` appends it when backups are on.

Series (kube-state-metrics, ``docs/metrics/workload/cronjob-metrics.md`` and ``job-metrics.md``, all STABLE):
``kube_cronjob_status_last_successful_time``, ``kube_cronjob_created``, ``kube_job_owner``,
``kube_job_status_start_time``, ``kube_job_failed{condition}``. Labels: ``namespace``, ``cronjob``,
``job_name``, ``owner_kind``, ``owner_name``. ``kube_job_status_failed`` is *not* used: it counts failed pods,
so a Job whose first pod failed and whose retry succeeded would look failed.

The backup Job also writes its last run's size and key count to ``redis-shared:backup:last-*`` on the primary
(:data:`redis_constructs.server.redis_conf.REPORT_KEYS`). :class:`RedisMonitoring` scrapes them on the replica
(:meth:`BackupMonitoring.check_single_keys`, a ``/scrape`` parameter of the ServiceMonitor) as
``redis_key_value{db="db0",key=...}``, and :meth:`BackupMonitoring.report_group` records them as
``redis_backup:last_size:bytes`` and ``redis_backup:last_keys:count`` for the dashboard.

Which exporter series holds a string key's number, checked in oliver006/redis_exporter ``exporter/keys.go``:
``key_value`` is the value of GET when it parses as a float (``strconv.ParseFloat``), in 1.45 (``getKeyInfo`` /
``extractCheckKeyMetrics``) and v1.88 (``getKeyInfoPipelined``, unless ``--disable-exporting-key-values``, which
is not set); a value that does not parse goes to ``key_value_as_string{val}`` instead (the ServiceMonitor drops
that series). ``key_size`` is STRLEN, the number of digits: not the size. A missing key: 1.45 exports
``key_size 0`` and no ``key_value``, v1.88 nothing.

Example::

    group = render_backup_alert_group(namespace="redis", cronjob="redis-shared-backup", max_age_seconds=26 * 3600)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import validation as v
from ..server.redis_conf import REPORT_KEYS
from .alerts import validate_selector

#: The report keys the dashboard shows: (key, recording rule) — the snapshot's size in bytes and its key count.
REPORT_RECORDS: tuple[tuple[str, str], ...] = (
    (REPORT_KEYS[0], "redis_backup:last_size:bytes"),
    (REPORT_KEYS[1], "redis_backup:last_keys:count"),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class BackupMonitoring:
    """The backup CronJob :class:`RedisMonitoring` alerts on (``RedisMonitoringProps.backup``).

    Monitoring imports nothing from the backup concern: the site passes the names, e.g.
    ``BackupMonitoring(namespace=backup.namespace, cronjob=backup.cronjob_name,
    max_age_seconds=backup.alert_max_age_seconds)``.
    """

    #: The CronJob's namespace.
    namespace: str
    #: The CronJob's name.
    cronjob: str
    #: ``RedisBackupTooOld`` fires when the last success is older than this. Default: 93600 (26 h: a nightly
    #: schedule, the Job's deadline and an hour).
    max_age_seconds: int = 26 * 3600

    def __post_init__(self) -> None:
        v.dns_label("backup.namespace", self.namespace)
        v.dns_subdomain("backup.cronjob", self.cronjob, max_length=52)
        v.int_in_range("backup.max_age_seconds", self.max_age_seconds, 3600, 40 * 86400)

    def age_expr(self) -> str:
        """Seconds since the last successful backup (the dashboard's "Last backup age")."""
        return (
            f'time() - kube_cronjob_status_last_successful_time{{namespace="{self.namespace}",'
            f'cronjob="{self.cronjob}"}}'
        )

    def check_single_keys(self) -> str:
        """The exporter's ``check-single-keys`` value: the report keys the dashboard shows, in db 0 (backup.sh's
        redis-cli selects no other). Exact names, no pattern: the exporter reads three keys, it never SCANs."""
        return ",".join(f"db0={key}" for key, _ in REPORT_RECORDS)

    def report_group(self, selector: str) -> dict[str, Any]:
        """Recording rules ``redis_backup:last_size:bytes`` and ``redis_backup:last_keys:count``: the last run's
        report as the exporter scraped it, one series per Redis (``max``: every replica reports the same keys).

        :param selector: the exporter's series (``RedisMonitoring.selector``).
        """
        s = validate_selector(selector)
        return {
            "name": "redis-shared-backup.records",
            "rules": [
                {
                    "record": record,
                    "expr": f'max by (namespace, service) (redis_key_value{{{s},db="db0",key="{key}"}})',
                }
                for key, record in REPORT_RECORDS
            ],
        }

    def size_expr(self, selector: str) -> str:
        """The last snapshot's size in bytes (the dashboard's "Last backup size")."""
        return f"{REPORT_RECORDS[0][1]}{{{validate_selector(selector)}}}"

    def keys_expr(self, selector: str) -> str:
        """The last snapshot's key count (the dashboard's "Last backup keys")."""
        return f"{REPORT_RECORDS[1][1]}{{{validate_selector(selector)}}}"

    def alert_group(self) -> dict[str, Any]:
        """The rule group for this CronJob (:func:`render_backup_alert_group`)."""
        return render_backup_alert_group(
            namespace=self.namespace, cronjob=self.cronjob, max_age_seconds=self.max_age_seconds
        )


def _cronjob(namespace: str, cronjob: str) -> str:
    return f'namespace="{namespace}",cronjob="{cronjob}"'


def render_backup_alert_group(
    *,
    namespace: str,
    cronjob: str,
    max_age_seconds: int,
    for_: str = "10m",
) -> dict[str, Any]:
    """The ``redis-shared-backup`` rule group.

    :param namespace: the CronJob's namespace.
    :param cronjob: the CronJob's name.
    :param max_age_seconds: the last successful backup may be this old before ``RedisBackupTooOld`` fires;
        the construct derives it from the schedule (period + the Job's active deadline + 1 h).
    :param for_: Default: ``"10m"``.
    """
    c = _cronjob(namespace, cronjob)
    last_ok = f"kube_cronjob_status_last_successful_time{{{c}}}"
    # Start time of every failed Job the CronJob owns, per CronJob (owner_name renamed to cronjob).
    failed_start = (
        "max by (namespace, cronjob) ("
        f'label_replace(kube_job_owner{{namespace="{namespace}",owner_kind="CronJob",owner_name="{cronjob}"}}, '
        '"cronjob", "$1", "owner_name", "(.*)")'
        " * on (namespace, job_name) group_left () kube_job_status_start_time"
        f'{{namespace="{namespace}"}}'
        f' * on (namespace, job_name) group_left () (kube_job_failed{{namespace="{namespace}",condition="true"}} == 1)'
        ")"
    )
    return {
        "name": "redis-shared-backup",
        "rules": [
            {
                "alert": "RedisBackupTooOld",
                "expr": (
                    f"(time() - {last_ok} > {max_age_seconds})"
                    f" or (time() - kube_cronjob_created{{{c}}} > {max_age_seconds}"
                    f" unless on (namespace, cronjob) {last_ok})"
                ),
                "for": for_,
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": "No successful Redis backup for too long",
                    "description": (
                        f"CronJob {{{{ $labels.namespace }}}}/{{{{ $labels.cronjob }}}} has had no successful run "
                        f"for more than {max_age_seconds // 3600} h (or none since it was created). README "
                        '"Backups": check the last Job\'s log.'
                    ),
                },
            },
            {
                "alert": "RedisBackupLastRunFailed",
                "expr": (
                    f"({failed_start} > on (namespace, cronjob) {last_ok})"
                    f" or ({failed_start} unless on (namespace, cronjob) {last_ok})"
                ),
                "for": "0m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "The last Redis backup run failed",
                    "description": (
                        "A Job of CronJob {{ $labels.namespace }}/{{ $labels.cronjob }} failed after the last "
                        "successful run; its log says why (replica down without fallback, snapshot rejected, "
                        "volume full)."
                    ),
                },
            },
        ],
    }
