"""A job's status is a fold over its events: given events, then state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from common.domain import jobs
from contracts import events as ev

pytestmark = pytest.mark.unit
JOB, PROJECT = uuid.uuid4(), uuid.uuid4()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def created() -> ev.JobCreated:
    return ev.JobCreated(
        job_id=JOB,
        project_id=PROJECT,
        job_type="process_projectfile",
        created_by="alice",
        created_by_id=1,
        reason="test",
    )


def at(n: int) -> datetime:
    return T0 + timedelta(seconds=n)


def test_happy_path() -> None:
    history = [
        (created(), at(0)),
        (ev.JobQueued(job_id=JOB, project_id=PROJECT), at(1)),
        (ev.JobStarted(job_id=JOB, project_id=PROJECT, runner_id="r1"), at(2)),
        (ev.JobStepChanged(job_id=JOB, project_id=PROJECT, step_id="s", name="S", stage="started"), at(3)),
        (ev.JobStepChanged(job_id=JOB, project_id=PROJECT, step_id="s", name="S", stage="finished"), at(4)),
        (
            ev.JobFinished(job_id=JOB, project_id=PROJECT, job_type="process_projectfile", feedback={"x": 1}),
            at(5),
        ),
    ]
    job = jobs.fold(history)
    assert job is not None
    assert (job.status, job.started_at, job.finished_at, job.runner_id) == ("finished", at(2), at(5), "r1")
    assert job.steps == ({"id": "s", "name": "S", "stage": "finished"},)
    assert job.feedback == {"x": 1}
    assert job.is_terminal


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([], "pending"),
        ([ev.JobQueued(job_id=JOB, project_id=PROJECT)], "queued"),
        (
            [
                ev.JobQueued(job_id=JOB, project_id=PROJECT),
                ev.JobStarted(job_id=JOB, project_id=PROJECT, runner_id="r"),
            ],
            "started",
        ),
        (
            [
                ev.JobFailed(
                    job_id=JOB, project_id=PROJECT, job_type="package", error="e", error_type="T", feedback={}
                )
            ],
            "failed",
        ),
    ],
)
def test_status_after(events: list[ev.JobQueued], status: str) -> None:
    job = jobs.fold([(created(), at(0)), *((e, at(i + 1)) for i, e in enumerate(events))])
    assert job is not None
    assert job.status == status


def test_events_before_creation_are_refused() -> None:
    with pytest.raises(jobs.InvalidTransition):
        jobs.evolve(None, ev.JobQueued(job_id=JOB, project_id=PROJECT), at(0))
