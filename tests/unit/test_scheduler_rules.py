"""Triggers, skip rules and dispatch order (shared/spec/qfieldcloud-jobs.md 2.1; docs/adr/0004)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from contracts import events as ev
from scheduler.domain.rules import JobView, ProjectView, next_to_dispatch, on_file_uploaded

pytestmark = pytest.mark.unit
PID = uuid.uuid4()


def upload(path: str, *, attachment: bool = False) -> ev.FileUploaded:
    return ev.FileUploaded(
        project_id=PID,
        path=path,
        version_id=uuid.uuid4(),
        blob_key="k",
        size=1,
        md5sum="m",
        sha256="s",
        uploaded_by="alice",
        uploaded_at=datetime(2026, 1, 1, tzinfo=UTC),
        is_attachment=attachment,
        is_project_file=path.lower().endswith((".qgs", ".qgz")),
    )


def project(project_file: str | None = None, *jobs: JobView) -> ProjectView:
    return ProjectView(id=PID, project_file=project_file, jobs=tuple(jobs))


def job(status: str, n: int, job_type: str = "process_projectfile") -> JobView:
    return JobView(id=uuid.uuid4(), type=job_type, status=status, enqueued_at=n)


def test_project_file_upload_triggers_processing() -> None:
    [created] = on_file_uploaded(project(), upload("project.qgs"), uuid.uuid4(), 7)
    assert (created.job_type, created.created_by, created.created_by_id) == (
        "process_projectfile",
        "alice",
        7,
    )


def test_data_file_before_any_project_file_triggers_nothing() -> None:
    assert on_file_uploaded(project(), upload("data.gpkg"), uuid.uuid4(), 1) == []


def test_data_file_after_the_project_file_triggers_processing() -> None:
    assert len(on_file_uploaded(project("project.qgs"), upload("data.gpkg"), uuid.uuid4(), 1)) == 1


def test_attachment_upload_triggers_nothing() -> None:
    assert on_file_uploaded(project("p.qgs"), upload("DCIM/a.jpg", attachment=True), uuid.uuid4(), 1) == []


@pytest.mark.parametrize("status", ["pending", "queued"])
def test_trigger_joins_a_waiting_job(status: str) -> None:
    assert on_file_uploaded(project("p.qgs", job(status, 1)), upload("p.qgs"), uuid.uuid4(), 1) == []


def test_a_started_job_never_absorbs_a_later_upload() -> None:
    assert len(on_file_uploaded(project("p.qgs", job("started", 1)), upload("p.qgs"), uuid.uuid4(), 1)) == 1


def test_dispatch_is_fifo_by_enqueue_order() -> None:
    first, second = job("pending", 5), job("pending", 9, "package")
    assert next_to_dispatch(project("p.qgs", second, first)) == first


@pytest.mark.parametrize("status", ["queued", "started"])
def test_one_active_job_per_project(status: str) -> None:
    assert next_to_dispatch(project("p.qgs", job(status, 1, "package"), job("pending", 2))) is None


def test_nothing_to_dispatch() -> None:
    assert next_to_dispatch(project("p.qgs", job("finished", 1))) is None
