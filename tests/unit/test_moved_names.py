"""The names the 0.1 modules defined still import from their old paths (with a warning) for one release.

The table is every public top-level name each old module defined at the last commit before the move into
sub-packages (99910a7), read from its source; the 0.2.0 breaking changes the CHANGELOG lists (the RedisShared
children's ``*Spec`` records became ``*Props``, ``HeadlessService`` became ``RedisHeadlessService`` with props) are
left out. A module split in two by the move (``binding``: the beersystem names went to ``migration.beersystem``)
must still hand on every name.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

from redis_constructs._moved import MOVED_MODULES

OLD_NAMES: dict[str, tuple[str, ...]] = {
    "alerts": (
        "EXPORTED_METRICS",
        "PRIMARY_ROLE",
        "SCRAPE_METRICS",
        "promql_metric_names",
        "promql_vector_selectors",
        "render_alert_groups",
        "validate_selector",
    ),
    "binding": (
        "BEERSYSTEM_APP",
        "BEERSYSTEM_DATA_COPY",
        "BEERSYSTEM_OLD_REDIS",
        "BeersystemRedisBinding",
        "DECOMMISSION_DELAY",
        "MigrationPhase",
        "RedisClientBinding",
        "utc_now",
    ),
    "dashboard": (
        "DATASOURCE_VARIABLE",
        "LEGEND",
        "dashboard_uid",
        "render_dashboard",
    ),
    "data_copy": (
        "COPY_UID",
        "CopyDirection",
        "DEFAULT_DATA_COPY",
        "DataCopy",
        "DataCopyJob",
        "FINAL_EXIT_CODES",
        "OldRedisEndpoint",
        "PROGRAM",
        "PROGRAM_DIR",
        "PROGRAM_FILE",
        "RedisDataCopy",
        "SECRETS_DIR",
        "require_migration_user",
    ),
    "errors": (
        "C",
        "P",
        "PropError",
        "R",
        "names_construct",
        "names_construct_in",
    ),
    "failover": (
        "ARGOCD_SYNC_WAVE",
        "FLUX_PRUNE",
        "MASTER_STATEFULSET_WAVE",
        "REPLICAS_STATEFULSET_WAVE",
        "ROLE_LABEL",
        "add_rollout_order",
        "flux_split_patches",
        "primary_statefulset",
        "role_of",
        "statefulset_wave",
    ),
    "images": (
        "EXPORTER_IMAGE",
        "PYTHON_IMAGE",
        "REDIS_IMAGE",
    ),
    "include": (
        "IncludeFile",
        "Included",
    ),
    "job_run": (
        "BACKOFF_LIMIT_RANGE",
        "JobRun",
        "TTL_SECONDS_AFTER_FINISHED_RANGE",
    ),
    "k8s_schema": (
        "SchemaNotFoundError",
        "first_error",
        "schema_dir",
        "validator",
    ),
    "late": ("LateNetworkPolicy",),
    "manifest_checks": (
        "CRD_DIR",
        "CRD_SCHEMA_CACHE",
        "ExternalRefs",
        "KUBERNETES_VERSION",
        "Obj",
        "check_objects",
        "crd_files_digest",
        "crd_schemas_from_yaml",
        "describe",
        "load_crd_schemas",
        "plaintext_secret_errors",
        "reference_errors",
        "schema_errors",
        "write_crd_schema_cache",
    ),
    "pod_security": (
        "resources",
        "restricted_container",
        "restricted_pod",
    ),
    "redis_certificates": ("RedisCertificates",),
    "redis_config": (
        "ACL_USERS",
        "ADMIN_USERNAME",
        "AclUser",
        "CLIENT_DENIED_COMMANDS",
        "CLIENT_USERNAME",
        "CONF_DIR",
        "CONNECTION_BUDGET_BYTES",
        "ClientLimits",
        "DATA_DIR",
        "EXPORTER_COMMANDS",
        "EXPORTER_RUN_DIR",
        "EXPORTER_USERNAME",
        "EvictionPolicy",
        "FORK_MARGIN_RATIO",
        "KiB",
        "MAXMEMORY_RATIO",
        "MAX_PROTO_MAX_BULK_BYTES",
        "MIGRATION_COMMANDS",
        "MIGRATION_USERNAME",
        "MIN_MAXMEMORY",
        "MIN_PROTO_MAX_BULK_BYTES",
        "MiB",
        "REPLICATION_COMMANDS",
        "REPLICATION_USERNAME",
        "RESTORE_COMMANDS",
        "RUN_DIR",
        "Role",
        "SCRIPTING_COMMANDS",
        "SCRIPTS_DIR",
        "SECRETS_DIR",
        "ServerSettings",
        "TenantCommands",
        "derive_client_limits",
        "derive_maxmemory",
        "render_acl_template",
        "render_client_limits",
        "render_common_conf",
        "render_role_conf",
    ),
    "redis_configuration": ("RedisConfiguration",),
    "redis_disruption_budget": (
        "MAX_UNAVAILABLE",
        "RedisDisruptionBudget",
    ),
    "redis_env": (
        "HostPortPasswordRedisEnv",
        "PasswordFileRedisEnv",
        "RedisEnv",
        "RedisEnvKind",
        "UrlRedisEnv",
    ),
    "redis_names": (
        "METRICS_PORT",
        "REDIS_PORT",
        "RedisNames",
    ),
    "redis_namespace": (
        "POD_SECURITY_LEVEL",
        "POD_SECURITY_VERSION",
        "RedisNamespace",
    ),
    "redis_network_policy": (
        "RedisNetworkPolicy",
        "network_policy_spec",
    ),
    "redis_props": (
        "CHECKOV_SKIPS",
        "CheckovSkip",
        "LoadBalancer",
        "RedisCredentials",
        "RedisSharedProps",
        "Resources",
        "SecretKeyRef",
        "checkov_skips",
    ),
    "redis_services": ("RedisServices",),
    "redis_shared": (
        "MAX_NAME_LENGTH",
        "RedisShared",
    ),
    "redis_workload": (
        "EXPORTER_BINARY",
        "EXPORTER_UID",
        "REDIS_UID",
        "RedisWorkload",
    ),
    "rendering": (
        "DNS_PORT",
        "checkov_skip_annotations",
        "dns_egress_rule",
        "image_ref",
        "int_or_string",
        "namespace_peer",
        "quantity",
        "secret_files_volume",
        "tcp_port",
    ),
    "replicated_secret": (
        "ExistingSecretSource",
        "ExternalSecretSource",
        "PlaintextSecretSource",
        "ReplicatedSecret",
        "SealedSecretSource",
        "SecretSource",
        "SecretStoreKind",
        "SourceKind",
    ),
    "restart_annotations": (
        "CONFIG_CHECKSUM_ANNOTATION",
        "CREDENTIALS_VERSION_ANNOTATION",
        "RESTART_ANNOTATIONS",
        "TARGET_ANNOTATION",
    ),
    "scripts": (
        "ALLOW_EMPTY_START_MARKER",
        "DATASET_MARKER",
        "EXPORTER_PASSWORD_FILE_FUNCTION",
        "FENCED_FLAG",
        "PEER_CHECK_TRIES",
        "PROBE_CALL_TIMEOUT_SECONDS",
        "PROBE_LOOKUP_TIMEOUT_SECONDS",
        "PROBE_TIMEOUT_SECONDS",
        "STARTED_WITH_DATA_FLAG",
        "render_scripts",
    ),
    "sealing": (
        "CLUSTER_WIDE_ANNOTATION",
        "NAMESPACE_WIDE_ANNOTATION",
        "PASSWORD_ALLOWED_PUNCTUATION",
        "PASSWORD_MIN_LENGTH",
        "SEALED_FILE_HEADER",
        "SealedValue",
        "SealedValues",
        "SealingScope",
        "certificate_fingerprint",
        "generate_password",
        "load_certificate",
        "read_sealed_file",
        "reuse_sealed_value",
        "seal_into_file",
        "seal_value",
        "validate_password",
        "write_sealed_file",
    ),
    "synth": (
        "KIND_ORDER",
        "SynthError",
        "chart_objects",
        "ordered",
        "render_files",
        "synthesize",
        "to_yaml",
        "write_atomically",
    ),
    "tls": (
        "CertManagerCertificate",
        "CertManagerSelfSignedCa",
        "ExistingTlsSecret",
        "IssuerKind",
        "RELOAD_CREDENTIALS_VOLUME",
        "RELOAD_RUN_DIR",
        "TLS_CA_DIR",
        "TLS_DIR",
        "TLS_KEYS",
        "Tls",
        "TlsCertificateSource",
        "add_self_signed_ca",
        "certificate_spec",
        "reload_container",
        "render_reload_script",
        "render_tls_conf",
        "secret_name",
        "volumes",
    ),
    "validation": (
        "T",
        "boolean",
        "cidr",
        "cpu_millis",
        "dns_1035_label",
        "dns_label",
        "dns_subdomain",
        "duration_seconds",
        "env_var_name",
        "fraction",
        "image_digest",
        "instance",
        "int_in_range",
        "ip_address",
        "is_env_var_name",
        "label_pairs",
        "memory_bytes",
        "pinned_image",
        "prometheus_label_name",
        "secret_key",
        "secret_name",
        "storage_size",
        "text",
        "unique",
        "version",
    ),
    "validation_job": (
        "CREDENTIALS_VOLUME",
        "DEFAULT_VALIDATION",
        "PASSWORD_FILE",
        "RedisValidationJob",
        "VALIDATE_SCRIPT",
        "VALIDATION_JOB_CHECKOV_SKIPS",
        "ValidationJob",
    ),
}


def test_the_table_covers_every_moved_module() -> None:
    assert sorted(OLD_NAMES) == sorted(MOVED_MODULES)


@pytest.mark.parametrize(("old", "names"), sorted(OLD_NAMES.items()))
def test_every_name_an_old_module_defined_still_imports_from_it(old: str, names: tuple[str, ...]) -> None:
    sys.modules.pop(f"redis_constructs.{old}", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(f"redis_constructs.{old}")
        missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


def test_a_split_module_warns_naming_every_new_place_and_hands_on_renamed_names() -> None:
    sys.modules.pop("redis_constructs.binding", None)
    with pytest.warns(
        DeprecationWarning,
        match=r"binding moved to redis_constructs\.migration\.binding and redis_constructs\.migration\.beersystem",
    ):
        from redis_constructs.binding import BeersystemRedisBinding  # type: ignore[import-not-found]
    from redis_constructs.migration import beersystem

    assert BeersystemRedisBinding is beersystem.BeersystemRedisBinding
    sys.modules.pop("redis_constructs.data_copy", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = importlib.import_module("redis_constructs.data_copy")
    from redis_constructs.migration.data_copy import DEFAULT_DATA_COPY_RUN

    assert old.DEFAULT_DATA_COPY is DEFAULT_DATA_COPY_RUN
    with pytest.raises(AttributeError, match="has no attribute 'nothing_like_this'"):
        _ = old.nothing_like_this
