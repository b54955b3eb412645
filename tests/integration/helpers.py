"""Small builders shared by integration tests."""

from __future__ import annotations

import uuid

from contracts import events as ev


def project_created(name: str | None = None) -> ev.ProjectCreated:
    return ev.ProjectCreated(
        project_id=uuid.uuid4(), name=name or f"p{uuid.uuid4().hex[:8]}", owner="alice", created_by="alice"
    )
