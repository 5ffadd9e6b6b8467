"""JobRun: the fields every one-shot Job takes, checked by one helper with each Job's own deadline range, and its spec."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pytest
from cdk8s_plus_28 import k8s
from security_checks import pod_security_problems

from redis_constructs import PropError
from redis_constructs.core.images import PYTHON_IMAGE, REDIS_IMAGE
from redis_constructs.core.job_run import JobRun
from redis_constructs.core.pod_security import resources
from redis_constructs.migration.data_copy import DataCopyJobRun
from redis_constructs.migration.validation_job import ValidationJobRun

DIGEST = "sha256:" + "a" * 64


@dataclass(frozen=True, kw_only=True, slots=True)
class Probe(JobRun):
    """A Job of this test's own: no check at construction, so each call below checks one thing."""

    image: str = "redis:7.4.2-bookworm"
    active_deadline_seconds: int = 30


def test_every_job_has_the_shared_fields_first_in_one_order() -> None:
    shared = ["image", "image_digest", "active_deadline_seconds", "backoff_limit", "ttl_seconds_after_finished"]
    for cls in (Probe, ValidationJobRun, DataCopyJobRun):
        assert [f.name for f in fields(cls)][:5] == shared, cls


def test_each_job_sets_its_own_image_and_deadline_and_shares_the_rest() -> None:
    validation, copy = ValidationJobRun(), DataCopyJobRun()
    assert (validation.image, validation.active_deadline_seconds) == (REDIS_IMAGE, 120)
    assert (copy.image, copy.active_deadline_seconds) == (PYTHON_IMAGE, 3600)
    for job in (validation, copy):
        assert (job.image_digest, job.backoff_limit, job.ttl_seconds_after_finished) == (None, 3, 86400)


def test_check_run_accepts_the_bounds_of_each_range() -> None:
    Probe(active_deadline_seconds=5, backoff_limit=0, ttl_seconds_after_finished=0).check_run("p", deadline=(5, 6))
    Probe(active_deadline_seconds=6, backoff_limit=10, ttl_seconds_after_finished=7 * 86400).check_run(
        "p", deadline=(5, 6)
    )


@pytest.mark.parametrize("seconds", [4, 7])
def test_fails_deadline_outside_the_range_it_is_given(seconds: int) -> None:
    with pytest.raises(
        PropError, match=rf"^p\.active_deadline_seconds: got {seconds}; expected an integer from 5 to 6$"
    ):
        Probe(active_deadline_seconds=seconds).check_run("p", deadline=(5, 6))


@pytest.mark.parametrize("retries", [-1, 11])
def test_fails_backoff_limit_outside_0_to_10(retries: int) -> None:
    with pytest.raises(PropError, match=rf"^p\.backoff_limit: got {retries}; expected an integer from 0 to 10$"):
        Probe(backoff_limit=retries).check_run("p", deadline=(1, 60))


@pytest.mark.parametrize("seconds", [-1, 7 * 86400 + 1])
def test_fails_ttl_after_finished_outside_0_to_a_week(seconds: int) -> None:
    with pytest.raises(
        PropError, match=rf"^p\.ttl_seconds_after_finished: got {seconds}; expected an integer from 0 to 604800$"
    ):
        Probe(ttl_seconds_after_finished=seconds).check_run("p", deadline=(1, 60))


def test_fails_image_without_a_version_and_a_malformed_digest() -> None:
    with pytest.raises(PropError, match=r"^p\.image: got 'redis'; expected an image reference with an explicit"):
        Probe(image="redis").check_run("p", deadline=(1, 60))
    with pytest.raises(PropError, match=r"^p\.image_digest: got 'sha256:abc'; expected None or a digest"):
        Probe(image_digest="sha256:abc").check_run("p", deadline=(1, 60))


# -- the Job it renders ----------------------------------------------------------------------------------------
def rendered(job: JobRun, **kw: Any) -> dict[str, Any]:
    spec = job.job_spec(
        labels={"app": "probe"},
        uid=10042,
        container="probe",
        command=["true"],
        env=[k8s.EnvVar(name="X", value="1")],
        volume_mounts=[],
        volumes=[],
        resources=resources(cpu=("10m", "100m"), memory=("16Mi", "32Mi")),
        **kw,
    )
    return dict(k8s.KubeJob.manifest(metadata=k8s.ObjectMeta(name="probe"), spec=spec)["spec"])


def test_job_spec_runs_one_restricted_container_once_per_try() -> None:
    spec = rendered(Probe(backoff_limit=2, ttl_seconds_after_finished=60))
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (2, 30, 60)
    assert "podFailurePolicy" not in spec
    assert spec["template"]["metadata"]["labels"] == {"app": "probe"}
    pod = spec["template"]["spec"]
    assert (pod["restartPolicy"], pod["automountServiceAccountToken"], pod["enableServiceLinks"]) == (
        "Never",
        False,
        False,
    )
    assert pod["securityContext"]["runAsUser"] == 10042
    (container,) = pod["containers"]
    assert (container["name"], container["image"], container["imagePullPolicy"]) == (
        "probe",
        "redis:7.4.2-bookworm",
        "IfNotPresent",
    )
    assert container["command"] == ["true"]
    assert container["env"] == [{"name": "X", "value": "1"}]
    assert container["securityContext"]["runAsUser"] == 10042
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod_security_problems([{"kind": "Job", "metadata": {"name": "probe"}, "spec": spec}]) == []


def test_job_spec_pins_the_digest_and_takes_a_pod_failure_policy() -> None:
    policy = k8s.PodFailurePolicy(
        rules=[
            k8s.PodFailurePolicyRule(
                action="FailJob",
                on_pod_conditions=[],
                on_exit_codes=k8s.PodFailurePolicyOnExitCodesRequirement(operator="In", values=[2]),
            )
        ]
    )
    spec = rendered(Probe(image_digest=DIGEST), pod_failure_policy=policy)
    assert spec["template"]["spec"]["containers"][0]["image"] == f"redis:7.4.2-bookworm@{DIGEST}"
    assert spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2]


def test_checkov_skips_only_while_the_image_has_no_digest() -> None:
    skips = (("CKV_K8S_43", "no digest yet"),)
    assert Probe().checkov_skips(skips) == {"checkov.io/skip1": "CKV_K8S_43=no digest yet"}
    assert Probe(image_digest=DIGEST).checkov_skips(skips) == {}


def _spec(job: JobRun) -> k8s.JobSpec:
    return job.job_spec(
        labels={"app": "probe"},
        uid=10042,
        container="probe",
        command=["true"],
        env=[],
        volume_mounts=[],
        volumes=[],
        resources=resources(cpu=("10m", "100m"), memory=("16Mi", "32Mi")),
    )


def test_hashed_name_changes_with_any_change_of_the_spec_or_an_input_and_only_then() -> None:
    name = JobRun.hashed_name("probe", _spec(Probe()), "program v1")
    assert name.startswith("probe-") and len(name) == len("probe-") + 8
    assert JobRun.hashed_name("probe", _spec(Probe()), "program v1") == name
    assert JobRun.hashed_name("probe", _spec(Probe(backoff_limit=4)), "program v1") != name
    assert JobRun.hashed_name("probe", _spec(Probe(image_digest=DIGEST)), "program v1") != name
    assert JobRun.hashed_name("probe", _spec(Probe()), "program v2") != name
    assert JobRun.hashed_name("probe", _spec(Probe())) != name
