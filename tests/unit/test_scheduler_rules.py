"""Every trigger and skip rule, one named test each (shared/spec/qfieldcloud-jobs.md 2; docs/adr/0004, 0008).

Tests named ``test_upstream_bug_...`` pin a QFieldCloud "BUG?" that Outpost decided to fix.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts import events as ev
from scheduler.domain.rules import (
    JobRequest,
    JobView,
    Policy,
    ProjectView,
    Refused,
    next_to_dispatch,
    on_dead_attempt,
    on_file_uploaded,
    on_job_requested,
    timeout_for,
)

pytestmark = pytest.mark.unit
PID = uuid.uuid4()
POLICY = Policy(timeouts_s={"process_projectfile": 600.0, "package": 1200.0, "delta_apply": 300.0})
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def upload(path: str, *, attachment: bool = False, by: str = "alice") -> ev.FileUploaded:
    return ev.FileUploaded(
        project_id=PID,
        path=path,
        version_id=uuid.uuid4(),
        blob_key="k",
        size=1,
        md5sum="m",
        sha256="s",
        uploaded_by=by,
        uploaded_at=NOW,
        is_attachment=attachment,
        is_project_file=path.lower().endswith((".qgs", ".qgz")),
    )


def project(
    project_file: str | None = None, *jobs: JobView, processed: bool = True, **settings: object
) -> ProjectView:
    return ProjectView(
        id=PID, project_file=project_file, jobs=tuple(jobs), processed=processed, settings=settings
    )


def job(status: str, n: int, job_type: str = "process_projectfile") -> JobView:
    return JobView(id=uuid.uuid4(), type=job_type, status=status, enqueued_at=n)


def request(job_type: str, *, force: bool = False) -> JobRequest:
    return JobRequest(project_id=PID, job_type=job_type, force=force, requested_by="bob", requested_by_id=2)


# process_projectfile on upload


def test_project_file_upload_triggers_processing() -> None:
    [created] = on_file_uploaded(POLICY, project(), upload("project.qgs"), uuid.uuid4(), 7)
    assert (created.job_type, created.created_by, created.created_by_id) == (
        "process_projectfile",
        "alice",
        7,
    )
    assert created.timeout_s == 600.0 and created.max_attempts == 3


def test_data_file_before_any_project_file_triggers_nothing() -> None:
    assert on_file_uploaded(POLICY, project(), upload("data.gpkg"), uuid.uuid4(), 1) == []


def test_data_file_after_the_project_file_triggers_processing() -> None:
    assert len(on_file_uploaded(POLICY, project("project.qgs"), upload("data.gpkg"), uuid.uuid4(), 1)) == 1


def test_attachment_upload_triggers_nothing() -> None:
    assert (
        on_file_uploaded(POLICY, project("p.qgs"), upload("DCIM/a.jpg", attachment=True), uuid.uuid4(), 1)
        == []
    )


@pytest.mark.parametrize("status", ["pending", "queued"])
def test_trigger_joins_a_waiting_job(status: str) -> None:
    assert on_file_uploaded(POLICY, project("p.qgs", job(status, 1)), upload("p.qgs"), uuid.uuid4(), 1) == []


def test_upstream_bug_coalescing_ignores_who_triggered() -> None:
    """Upstream makes a second job when another user uploads; the waiting job reads the latest files."""
    waiting = project("p.qgs", job("pending", 1))
    assert on_file_uploaded(POLICY, waiting, upload("data.gpkg", by="someone-else"), uuid.uuid4(), 9) == []


def test_a_started_job_never_absorbs_a_later_upload() -> None:
    assert (
        len(on_file_uploaded(POLICY, project("p.qgs", job("started", 1)), upload("p.qgs"), uuid.uuid4(), 1))
        == 1
    )


def test_project_timeout_overrides_the_default() -> None:
    overridden = project("p.qgs", job_timeouts={"process_projectfile": 3600})
    [created] = on_file_uploaded(POLICY, overridden, upload("p.qgs"), uuid.uuid4(), 1)
    assert created.timeout_s == 3600.0
    assert timeout_for(POLICY, overridden, "package") == 1200.0


# POST /jobs/


def test_package_returns_the_active_package_job() -> None:
    for status in ("pending", "queued", "started"):
        active = job(status, 1, "package")
        assert on_job_requested(POLICY, project("p.qgs", active), request("package"), uuid.uuid4()) == (
            active.id,
            None,
        )


def test_force_always_makes_a_new_package_job() -> None:
    new_id = uuid.uuid4()
    job_id, created = on_job_requested(
        POLICY, project("p.qgs", job("started", 1, "package")), request("package", force=True), new_id
    )
    assert job_id == new_id and created is not None and "forced" in created.reason


def test_package_without_project_file_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        on_job_requested(POLICY, project(None), request("package"), uuid.uuid4())
    assert refused.value.code == "no_qgis_project"


def test_package_before_the_project_file_was_processed_is_refused() -> None:
    with pytest.raises(Refused, match="processed"):
        on_job_requested(POLICY, project("p.qgs", processed=False), request("package"), uuid.uuid4())


def test_process_projectfile_request_joins_a_waiting_one_but_not_a_started_one() -> None:
    waiting = job("queued", 1)
    assert (
        on_job_requested(POLICY, project("p.qgs", waiting), request("process_projectfile"), uuid.uuid4())[1]
        is None
    )
    _, created = on_job_requested(
        POLICY, project("p.qgs", job("started", 1)), request("process_projectfile"), uuid.uuid4()
    )
    assert created is not None and created.created_by == "bob"


def test_upstream_bug_delta_apply_can_be_requested_through_the_jobs_endpoint() -> None:
    """Upstream's ApplyJob has no default for overwrite_conflicts, so POST /jobs/ delta_apply fails there."""
    _, created = on_job_requested(POLICY, project("p.qgs"), request("delta_apply"), uuid.uuid4())
    assert created is not None and created.job_type == "delta_apply" and created.timeout_s == 300.0


def test_unknown_job_type_is_refused() -> None:
    with pytest.raises(Refused) as refused:
        on_job_requested(POLICY, project("p.qgs"), request("create_project"), uuid.uuid4())
    assert refused.value.code == "validation_error"


# dispatch


def test_dispatch_is_fifo_by_enqueue_order() -> None:
    first, second = job("pending", 5), job("pending", 9, "package")
    assert next_to_dispatch(project("p.qgs", second, first)) == first


@pytest.mark.parametrize("status", ["queued", "started"])
def test_one_active_job_per_project_across_types(status: str) -> None:
    assert next_to_dispatch(project("p.qgs", job(status, 1, "package"), job("pending", 2))) is None


def test_nothing_to_dispatch() -> None:
    assert next_to_dispatch(project("p.qgs", job("finished", 1))) is None


# dead attempts (the reaper)


def dead(attempt: int, *, cancel: bool = False) -> ev.JobRetryScheduled | ev.JobFailed | ev.JobCancelled:
    return on_dead_attempt(
        POLICY,
        job_id=uuid.uuid4(),
        project_id=PID,
        job_type="package",
        attempt=attempt,
        max_attempts=3,
        cancel_requested=cancel,
        reason="runner lease expired",
        now=NOW,
    )


def test_upstream_bug_a_dead_runner_is_retried_with_backoff() -> None:
    """Upstream has no retry; its cron fails a dead job after the timeout, and misses jobs dead in QUEUED."""
    first, second = dead(1), dead(2)
    assert isinstance(first, ev.JobRetryScheduled) and isinstance(second, ev.JobRetryScheduled)
    assert (first.attempt, first.retry_at) == (2, NOW + timedelta(seconds=2))
    assert (second.attempt, second.retry_at) == (3, NOW + timedelta(seconds=4))


def test_last_attempt_dies_into_the_visible_dead_letter_state() -> None:
    outcome = dead(3)
    assert isinstance(outcome, ev.JobFailed)
    assert (
        outcome.error_type == "INFRASTRUCTURE" and "3 attempts" in outcome.error and "lease" in outcome.error
    )


def test_a_dead_job_that_was_being_cancelled_is_cancelled_not_retried() -> None:
    assert isinstance(dead(1, cancel=True), ev.JobCancelled)


def test_backoff_is_capped() -> None:
    capped = Policy(timeouts_s={}, max_attempts=20, backoff_base_s=2, backoff_max_s=10)
    outcome = on_dead_attempt(
        capped,
        job_id=uuid.uuid4(),
        project_id=PID,
        job_type="package",
        attempt=10,
        max_attempts=20,
        cancel_requested=False,
        reason="x",
        now=NOW,
    )
    assert isinstance(outcome, ev.JobRetryScheduled) and outcome.retry_at == NOW + timedelta(seconds=10)
