"""The checkov checks that cannot apply to RedisShared's objects, each with the reason a reviewer reads."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.rendering import checkov_skip_annotations


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckovSkip:
    """A checkov check that cannot apply to one kind of object here, and the reason a reviewer reads.

    Rendered on the object itself in checkov's inline form ``checkov.io/skip<n>: <check_id>=<reason>``, so
    each exception sits in dist/ next to what it excuses and ``make checkov`` stays at 0 failed checks.
    """

    kind: str
    check_id: str
    #: No ``=``: checkov splits the annotation value on it.
    reason: str
    #: Skip only while an image has no pinned digest; with both digests set the check passes by itself.
    only_without_digests: bool = False

    def __post_init__(self) -> None:
        checkov_skip_annotations([(self.check_id, self.reason)])  # the reason's rule, at construction


#: Every checkov skip this construct renders; docs/development.md#policy-checks-checkov lists the same.
CHECKOV_SKIPS: tuple[CheckovSkip, ...] = (
    CheckovSkip(
        kind="StatefulSet",
        check_id="CKV_K8S_43",
        reason="version-pinned tags; set image_digest and exporter_image_digest to pin digests",
        only_without_digests=True,
    ),
    CheckovSkip(
        kind="StatefulSet",
        check_id="CKV_K8S_15",
        reason="IfNotPresent with a version-pinned tag keeps pods starting while the registry is unreachable",
        only_without_digests=True,
    ),
    CheckovSkip(
        kind="StatefulSet",
        check_id="CKV_K8S_9",
        reason="the acl-reload, tls-reload and lan-proxy sidecars have liveness only: neither a stalled reload loop"
        " nor a dead LAN proxy may take Redis out of its Services",
    ),
)


def checkov_skips(kind: str, *, digests_pinned: bool) -> dict[str, str]:
    """checkov's inline skip annotations for an object of ``kind`` (see :data:`CHECKOV_SKIPS`).

    ``digests_pinned``: both images carry a digest. The sidecars' skip always applies: acl-reload is always there.
    """
    skips = [s for s in CHECKOV_SKIPS if s.kind == kind and not (s.only_without_digests and digests_pinned)]
    return checkov_skip_annotations((s.check_id, s.reason) for s in skips)
