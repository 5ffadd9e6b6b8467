"""What oliver006/redis_exporter v1.88.0 (commit in EXPORTER_COMMIT) exports that the tenant and backup rules read.

Transcribed from its source, not from a run (the image is FROM scratch; the tests' exporter is Debian's 1.45):
* exporter/clients.go parseConnectedClientMetrics: ``connected_client_info`` labels id, name, flags, db, host,
  then port (only with --export-client-list-incl-port), user (when CLIENT LIST has it), resp (Redis 7.0+); the
  per-connection gauges are labelled ``id``, ``name`` only.
* exporter/keys.go extractCountKeysMetrics: ``keys_count`` labels db ("db" + n), key (the pattern).
* exporter/keys.go extractCheckKeyMetricsPipelined / getKeyInfoPipelined (check-single-keys, not cluster mode):
  ``key_memory_usage_bytes``, ``key_size`` and, for a string that parses as a float, ``key_value``, each labelled
  db ("db" + n), key (the key's name).
* exporter/exporter.go metricMapCounters: acl_access_denied_{auth,cmd,key,channel} -> *_total, evicted_keys ->
  evicted_keys_total, evicted_clients -> evicted_clients_total.
* exporter/exporter.go metricDescriptions (l.535): ``db_keys`` labelled ``db`` (INFO keyspace).
"""

EXPORTER_COMMIT = "v1.88.0 (16db88a0c2981c365aeca0973c43dd7d6a560f64)"
NAMESPACE = "redis"
CLIENT_INFO_LABELS = ("id", "name", "flags", "db", "host", "port", "user", "resp")
PER_CONNECTION_GAUGES = (
    "connected_client_output_buffer_memory_usage_bytes",
    "connected_client_total_memory_consumed_bytes",
    "connected_client_created_at_timestamp",
    "connected_client_idle_since_timestamp",
    "connected_client_channel_subscriptions_count",
    "connected_client_pattern_matching_subscriptions_count",
    "connected_client_query_buffer_length_bytes",
    "connected_client_query_buffer_free_space_bytes",
    "connected_client_output_buffer_length_bytes",
    "connected_client_output_list_length",
)
PER_CONNECTION_LABELS = ("id", "name")
METRICS = {
    "redis_up": (),
    "redis_connected_client_info": CLIENT_INFO_LABELS,
    **{f"redis_{g}": PER_CONNECTION_LABELS for g in PER_CONNECTION_GAUGES},
    "redis_keys_count": ("db", "key"),
    "redis_key_value": ("db", "key"),
    "redis_key_size": ("db", "key"),
    "redis_key_memory_usage_bytes": ("db", "key"),
    "redis_db_keys": ("db",),
    "redis_acl_access_denied_auth_total": (),
    "redis_acl_access_denied_cmd_total": (),
    "redis_acl_access_denied_key_total": (),
    "redis_acl_access_denied_channel_total": (),
    "redis_evicted_keys_total": (),
    "redis_evicted_clients_total": (),
}
#: Labels every series gets from the ServiceMonitor (target labels), not from the exporter.
TARGET_LABELS = ("namespace", "service", "pod", "role", "instance", "job", "endpoint", "container")
