"""The container images every construct renders: one place to bump a patch release.

Checked against the sources (2026-12): docker-library/official-images ``library/redis`` lists ``7.4.11`` as
the current 7.4 tag (``7.4.11-bookworm``, ``FROM debian:bookworm-slim``); it carries the fixes of 7.4.3
(CVE-2025-21605, output buffers of unauthenticated clients), 7.4.5 (CVE-2025-32023), 7.4.6 (CVE-2025-49844,
-46817, -46818, -46819 in Lua) and 7.4.10 (stream RESTORE use-after-free). oliver006/redis_exporter's newest
release tag is ``v1.88.0`` (``FROM scratch``, ``USER 59000:59000``, binary ``/redis_exporter``).
docs/operations.md#upgrades-images says how to check for a newer patch release and how to pin digests.
"""

from __future__ import annotations

#: The official Redis image: RedisShared's pods, the migration's validation Job and any other Job that runs
#: redis-cli against redis-shared (one image on the nodes, one version of redis-cli).
REDIS_IMAGE = "redis:7.4.11-bookworm"
#: The redis_exporter sidecar.
EXPORTER_IMAGE = "oliver006/redis_exporter:v1.88.0"
#: The data-copy Job's interpreter: its program (``copy_program.py``) needs only the standard library.
PYTHON_IMAGE = "python:3.12.8-slim-bookworm"
#: The off-site copy of backups (restic's official image, alpine, entrypoint ``restic``; the backup renders its own
#: command). Pinned to a release tag; docs/operations.md#upgrades-images says how to pin its digest.
RESTIC_IMAGE = "restic/restic:0.18.1"
#: The LAN proxy sidecar (server/lan_proxy.py): HAProxy 2.8 LTS, the official image (docker-library/haproxy
#: ``2.8/Dockerfile``: ``FROM debian:bookworm-slim``, built with ``USE_PROMEX=1``, ``USER haproxy`` uid 99,
#: ``STOPSIGNAL SIGUSR1``). 2.8.10 is the patch release that Dockerfile names as read; check for a newer 2.8
#: patch the way docs/operations.md#upgrades-images says before a release.
HAPROXY_IMAGE = "haproxy:2.8.10-bookworm"
