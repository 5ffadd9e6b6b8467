"""The client limits derived from the memory limit (redis_config.derive_client_limits) add up.

The runtime side (the rendered primary in its cgroup, plaintext and TLS connections) is
tests/runtime/test_hardening_runtime.py.
"""

from __future__ import annotations

import pytest

from redis_constructs.server.redis_conf import (
    CONNECTION_BUDGET_BYTES,
    FORK_MARGIN_RATIO,
    MIN_PROTO_MAX_BULK_BYTES,
    MiB,
    derive_client_limits,
    derive_maxmemory,
)

LIMITS_MIB = [64, 100, 128, 256, 512, 1024, 1536, 2048, 4096, 16384]


def test_the_site_figures_at_1gi() -> None:
    got = derive_client_limits(1024 * MiB)
    assert got.maxclients == 4096
    assert got.proto_max_bulk_bytes == 64 * MiB
    assert got.query_buffer_bytes == 128 * MiB
    assert got.normal_output == (65 * MiB, 8 * MiB, 10)
    assert got.pubsub_output == (32 * MiB, 8 * MiB, 60)
    assert got.replica_output == (256 * MiB, 64 * MiB, 60)
    assert got.maxmemory_clients_bytes == 128 * MiB
    # An idle TLS connection's OpenSSL buffers (~25 KiB on 7.0.15) fit the per-connection budget.
    assert CONNECTION_BUDGET_BYTES >= 32 * 1024


@pytest.mark.parametrize("limit_mib", LIMITS_MIB)
def test_maxclients_fit_beside_maxmemory_the_replica_buffer_and_a_fork_margin(limit_mib: int) -> None:
    limit = limit_mib * MiB
    got = derive_client_limits(limit)
    parts = derive_maxmemory(limit) + got.replica_output[0] + int(limit * FORK_MARGIN_RATIO)
    assert parts + got.maxclients * CONNECTION_BUDGET_BYTES <= limit or got.maxclients == 128
    assert 128 <= got.maxclients <= 10000


@pytest.mark.parametrize("limit_mib", LIMITS_MIB)
def test_the_largest_value_can_be_sent_stored_and_read_back(limit_mib: int) -> None:
    limit = limit_mib * MiB
    got = derive_client_limits(limit)
    bulk = got.proto_max_bulk_bytes
    assert bulk <= derive_maxmemory(limit)  # a larger value could never be stored
    assert bulk <= 512 * MiB  # Redis's own default
    if derive_maxmemory(limit) >= MIN_PROTO_MAX_BULK_BYTES:
        # The data copy RESTOREs DUMP payloads of tens of MB (tests use 30 MB values).
        assert bulk >= MIN_PROTO_MAX_BULK_BYTES > 30 * 10**6
    assert got.query_buffer_bytes > bulk + 1024  # the command carrying it fits
    assert got.normal_output[0] > bulk + 1024  # a GET/DUMP reply of it does not disconnect the reader
