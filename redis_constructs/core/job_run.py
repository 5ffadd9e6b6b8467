"""JobRun: what every one-shot Job of this library takes (image, digest, deadline, retries, clean-up), checked once.

The validation Job (:class:`~redis_constructs.migration.validation_job.ValidationJobRun`) and the data copy
(:class:`~redis_constructs.migration.data_copy.DataCopyJobRun`) are props of this shape with defaults and a deadline range of
their own; the rules (:mod:`redis_constructs.core.validation`) and their messages are the same for both, and so is the
Job they render (:meth:`JobRun.job_spec`): one container, never restarted in place, no service account token, no
service links, Pod Security ``restricted``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdk8s_plus_28 import k8s

from . import validation as v
from .pod_security import restricted_container, restricted_pod
from .rendering import checkov_skip_annotations, image_ref

#: Retries a Job may have: a Job that fails more often than this fails for a reason a retry does not fix.
BACKOFF_LIMIT_RANGE = (0, 10)
#: How long a finished Job may stay: at most a week.
TTL_SECONDS_AFTER_FINISHED_RANGE = (0, 7 * 86400)


@dataclass(frozen=True, kw_only=True, slots=True)
class JobRun:
    """The base of a Job's props: the fields, their rules and the Job spec they render.

    A subclass gives ``image`` and ``active_deadline_seconds`` their defaults and calls :meth:`check_run` with its
    own deadline range when it is built or used.
    """

    #: The container image (a version-pinned tag); each subclass says its default.
    image: str
    #: Default: - the tag alone is used (checkov's digest and pull-policy checks are skipped inline, with the reason).
    image_digest: str | None = None
    #: The Job fails (and the ArgoCD sync or Flux Kustomization with it) after this long; each subclass says its
    #: default.
    active_deadline_seconds: int
    #: Default: 3 retries for transient failures (a killed pod, a connection; Redis still electing or loading).
    backoff_limit: int = 3
    #: Default: 86400; a finished Job is removed after a day. Flux then applies it again on its next reconciliation,
    #: which runs it again: each subclass's Job is harmless to run twice.
    ttl_seconds_after_finished: int = 86400

    def check_run(self, prop: str, *, deadline: tuple[int, int]) -> None:
        """Check the fields above, naming each ``<prop>.<field>``; ``deadline``: the allowed seconds (inclusive)."""
        v.pinned_image(prop + ".image", self.image)
        v.image_digest(prop + ".image_digest", self.image_digest)
        v.int_in_range(prop + ".active_deadline_seconds", self.active_deadline_seconds, *deadline)
        v.int_in_range(prop + ".backoff_limit", self.backoff_limit, *BACKOFF_LIMIT_RANGE)
        v.int_in_range(
            prop + ".ttl_seconds_after_finished", self.ttl_seconds_after_finished, *TTL_SECONDS_AFTER_FINISHED_RANGE
        )

    @staticmethod
    def hashed_name(name: str, spec: k8s.JobSpec, *inputs: str) -> str:
        """``<name>-<8 hex digits>`` over the Job's whole rendered ``spec`` and ``inputs`` (what else it runs on).

        A Job's pod template is immutable: the name changes with any change of the rendered spec (image, digest,
        resources, deadlines, command) or of an input (the program it runs, a credentials version), so Flux applies
        a new Job and prunes the old one instead of failing on the update; ArgoCD's BeforeHookCreation recreates a
        hook anyway. Every Job of this library is harmless to run again.
        """
        rendered: Mapping[str, Any] = k8s.KubeJob.manifest(spec=spec)
        text = json.dumps(rendered.get("spec"), sort_keys=True, separators=(",", ":")) + "".join(
            "\n" + i for i in inputs
        )
        return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"

    def checkov_skips(self, skips: Iterable[tuple[str, str]]) -> dict[str, str]:
        """checkov's inline ``skips`` while the image has no digest; none once ``image_digest`` pins it."""
        return checkov_skip_annotations(skips) if self.image_digest is None else {}

    def job_spec(
        self,
        *,
        labels: Mapping[str, str],
        uid: int,
        container: str,
        command: Sequence[str],
        env: Sequence[k8s.EnvVar],
        volume_mounts: Sequence[k8s.VolumeMount],
        volumes: Sequence[k8s.Volume],
        resources: k8s.ResourceRequirements,
        pod_failure_policy: k8s.PodFailurePolicy | None = None,
    ) -> k8s.JobSpec:
        """The Job's spec: one container named ``container`` running ``command`` as ``uid``, its pods labelled ``labels``.

        The image is pinned (``image@digest`` once a digest is given) and pulled only if not present; the pod and the
        container meet Pod Security ``restricted`` (:mod:`redis_constructs.core.pod_security`). ``pod_failure_policy``:
        Default: - every failure is retried up to ``backoff_limit``.
        """
        return self.pod_job_spec(
            labels=labels,
            uid=uid,
            containers=[
                k8s.Container(
                    name=container,
                    image=image_ref(self.image, self.image_digest),
                    image_pull_policy="IfNotPresent",
                    command=list(command),
                    env=list(env),
                    volume_mounts=list(volume_mounts),
                    resources=resources,
                    security_context=restricted_container(uid),
                )
            ],
            volumes=volumes,
            pod_failure_policy=pod_failure_policy,
        )

    def pod_job_spec(
        self,
        *,
        labels: Mapping[str, str],
        uid: int,
        containers: Sequence[k8s.Container],
        volumes: Sequence[k8s.Volume],
        init_containers: Sequence[k8s.Container] | None = None,
        affinity: k8s.Affinity | None = None,
        pod_failure_policy: k8s.PodFailurePolicy | None = None,
    ) -> k8s.JobSpec:
        """The Job's spec around ``containers`` (and ``init_containers``) that the caller built: this run's backoff,
        deadline and TTL, pods that never restart, mount no service-account token, see no service links and run as
        ``uid`` under Pod Security ``restricted``. ``affinity``: Default: - none."""
        return k8s.JobSpec(
            backoff_limit=self.backoff_limit,
            active_deadline_seconds=self.active_deadline_seconds,
            ttl_seconds_after_finished=self.ttl_seconds_after_finished,
            pod_failure_policy=pod_failure_policy,
            template=k8s.PodTemplateSpec(
                metadata=k8s.ObjectMeta(labels=dict(labels)),
                spec=k8s.PodSpec(
                    restart_policy="Never",
                    automount_service_account_token=False,
                    enable_service_links=False,
                    security_context=restricted_pod(uid),
                    affinity=affinity,
                    init_containers=None if init_containers is None else list(init_containers),
                    containers=list(containers),
                    volumes=list(volumes),
                ),
            ),
        )


def fail_on_exit_codes(container: str, codes: Iterable[int]) -> k8s.PodFailurePolicy:
    """Fail the Job at once, without a retry, when ``container`` exits with one of ``codes`` (a refusal or a
    verdict a rerun would only repeat)."""
    return k8s.PodFailurePolicy(
        rules=[
            k8s.PodFailurePolicyRule(
                action="FailJob",
                on_pod_conditions=[],
                on_exit_codes=k8s.PodFailurePolicyOnExitCodesRequirement(
                    container_name=container, operator="In", values=list(codes)
                ),
            )
        ]
    )
