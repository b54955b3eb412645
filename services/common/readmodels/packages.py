"""The ``rm_package_files`` read model and each project's latest package (columns of ``rm_projects``).

A package becomes the project's latest only when its job finishes; then the files of older packages are
dropped from the read model (their blobs go to the storage collector), except those of package jobs
still running.
"""

from __future__ import annotations

import json
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import events as ev
from contracts.base import Envelope, EventData


class PackagesProjection:
    name = "packages"
    tables: tuple[str, ...] = ("rm_package_files",)

    async def apply(self, conn: AsyncConnection, env: Envelope, event: EventData) -> None:
        match event:
            case ev.PackageFileStored():
                await conn.execute(
                    text(
                        "INSERT INTO rm_package_files (job_id, project_id, path, blob_key, size, md5sum,"
                        " sha256, stored_at) VALUES (:j, :p, :path, :k, :s, :m, :h, :at)"
                        " ON CONFLICT (job_id, path) DO UPDATE SET blob_key = excluded.blob_key,"
                        " size = excluded.size, md5sum = excluded.md5sum, sha256 = excluded.sha256"
                    ),
                    {
                        "j": event.job_id,
                        "p": event.project_id,
                        "path": event.path,
                        "k": event.blob_key,
                        "s": event.size,
                        "m": event.md5sum,
                        "h": event.sha256,
                        "at": env.occurred_at,
                    },
                )
            case ev.JobFinished(job_type="package"):
                await _package_finished(conn, event)
            case ev.ProjectDeleted():
                await conn.execute(
                    text("DELETE FROM rm_package_files WHERE project_id = :p"), {"p": event.project_id}
                )


async def _package_finished(conn: AsyncConnection, event: ev.JobFinished) -> None:
    feedback = event.feedback
    reused = feedback.get("reused_package")
    package_job = UUID(str(reused)) if reused else event.job_id
    layers = ((feedback.get("outputs") or {}).get("qgis_layers_data") or {}).get("layers_by_id")
    await conn.execute(
        text(
            "UPDATE rm_projects SET last_package_job_id = :pj,"
            " last_package_layers = coalesce(CAST(:layers AS jsonb), last_package_layers),"
            " last_package_inputs_hash = :h,"
            " data_last_packaged_at = (SELECT started_at FROM rm_jobs WHERE id = :j)"
            " WHERE id = :p"
        ),
        {
            "pj": package_job,
            "layers": None if layers is None else json.dumps(layers),
            "h": feedback.get("inputs_hash"),
            "j": event.job_id,
            "p": event.project_id,
        },
    )
    await conn.execute(
        text(
            "DELETE FROM rm_package_files WHERE project_id = :p AND job_id <> :pj AND job_id NOT IN"
            " (SELECT id FROM rm_jobs WHERE project_id = :p AND type = 'package'"
            " AND status IN ('pending', 'queued', 'started') AND id <> :j)"
        ),
        {"p": event.project_id, "pj": package_job, "j": event.job_id},
    )
