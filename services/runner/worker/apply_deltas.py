"""The delta_apply workflow: apply the deltas QField pushed to the project's data, then upload it.

Steps (QFieldCloud's ids): start QGIS, download the project files (no attachments), apply the deltas
(``outputs.apply_deltas.delta_feedback``: one entry per delta, see ``deltas``), stop QGIS, then
upload every data file the deltas changed (compared by sha256 with what was downloaded) to
``files/{project}/{path}/``. Uploading comes after QGIS has exited, so every GeoPackage is closed
and complete; SQLite side files (``-wal``, ``-shm``, ``-journal``) are never uploaded. PostGIS and
other database layers are written by QGIS directly, so they need no upload.

The job fails only when the deltafile is missing, the project cannot be opened or a transfer fails;
a delta that cannot be applied is reported in its own feedback entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import pathlib
import sqlite3
import typing

from runner.worker import (
    deltas,
    errors,
    job,
    process_projectfile,
    table,
    transfer,
    validity,
    workflow,
)

JobContext = job.JobContext

WORKFLOW_ID = "apply_changes"
WORKFLOW_NAME = "Apply Changes"
SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")
SQLITE_SUFFIXES = (".gpkg", ".sqlite", ".db", ".sqlite3")
TABLE_HEADERS = ["#", "Method", "Layer", "PK", "Status", "Message"]
HASH_CHUNK = 1024 * 1024


class DeltafileError(errors.WorkerError):
    """The job spec carries no usable deltafile (a runner bug: nothing can be applied)."""


def job_deltafile(params: dict[str, typing.Any]) -> tuple[dict[str, typing.Any], bool]:
    """The deltafile and ``overwrite_conflicts`` (default true, as in QFieldCloud) of the job."""
    deltafile = params.get("deltafile")
    if not isinstance(deltafile, dict):
        raise DeltafileError("The job has no deltafile (params.deltafile must be an object)")
    if not isinstance(deltafile.get("deltas"), list):
        raise DeltafileError("The deltafile has no list of deltas")
    overwrite = params.get("overwrite_conflicts", True)
    if overwrite is None:
        overwrite = True
    elif isinstance(overwrite, str):
        overwrite = overwrite.strip().lower() in ("1", "true", "yes", "on")
    return deltafile, bool(overwrite)


def is_side_file(name: str) -> bool:
    """SQLite journals and temporary files that must never be uploaded."""
    base = pathlib.PurePosixPath(name).name
    return name.endswith(SIDE_FILE_SUFFIXES) or base.startswith(".") or base.endswith(("~", ".part"))


def file_hashes(root: pathlib.Path) -> dict[str, str]:
    """sha256 of every project file under ``root`` (relative POSIX names), side files excluded."""
    hashes = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_file() and not is_side_file(name):
            hashes[name] = sha256_of(path)
    return hashes


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_sqlite_files(root: pathlib.Path, log: typing.Callable[[str], None]) -> None:
    """Fold any write-ahead log left beside a GeoPackage/SQLite file into the file itself."""
    for wal in sorted(root.rglob("*-wal")):
        database = wal.with_name(wal.name[: -len("-wal")])
        if not database.is_file() or database.suffix.lower() not in SQLITE_SUFFIXES:
            continue
        try:
            with contextlib.closing(sqlite3.connect(database)) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                connection.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as error:
            raise errors.WorkerError(
                f'Cannot complete "{database.name}" (its write-ahead log): {error}'
            ) from error
        log(f'Folded the write-ahead log of "{database.relative_to(root).as_posix()}" into the file')


def changed_files(context: JobContext) -> list[str]:
    """Names of the files that are new or differ from what was there before the deltas.

    New files count too (a provider may add a side file the data needs, e.g. a shapefile's .cpg).
    """
    checkpoint_sqlite_files(context.project_dir, context.log)
    before = context.file_hashes
    after = file_hashes(context.project_dir)
    return [name for name, digest in after.items() if before.get(name) != digest]


def _read_project(context: JobContext) -> typing.Any:
    """Open the project with editable layers (no layouts: they are not needed to edit data)."""
    from qgis.core import QgsProject

    project = QgsProject.instance()
    project.clear()
    flags = QgsProject.ReadFlags()
    flag = getattr(QgsProject.ReadFlag, "FlagDontLoadLayouts", None) or getattr(
        QgsProject, "FlagDontLoadLayouts", None
    )
    if flag is not None:
        flags |= flag
    if not project.read(str(context.project_path), flags):
        reason = project.error() or "QGIS could not read the project"
        raise errors.ProjectOpeningError(f'Failed to open project "{context.spec.project_file}": {reason}')
    return project


def apply_deltas(context: JobContext) -> dict[str, typing.Any]:
    """Apply every delta in its own transaction; the feedback has one entry per delta."""
    deltafile, overwrite = job_deltafile(context.spec.params)
    context.file_hashes = file_hashes(context.project_dir)
    context.project_path = validity.check_project_file(context.project_dir, context.spec.project_file)
    project = _read_project(context)
    context.project = project
    count = len(deltafile["deltas"])
    context.log(
        f'Opened project "{context.spec.project_file}" with {len(project.mapLayers())} layer(s); '
        f"applying {count} delta(s) with overwrite_conflicts={'true' if overwrite else 'false'}"
    )
    applier = deltas.DeltaApplier(project, deltafile, overwrite_conflicts=overwrite, log=context.log)
    feedback = applier.apply_all()
    names = {layer_id: layer.name() for layer_id, layer in project.mapLayers().items()}
    project.clear()  # close every data source: the files are complete before they are hashed
    context.project = None
    for line in feedback_table(feedback, names):
        context.log(line)
    for line in conflict_lines(feedback):
        context.log(line)
    counts: dict[str, int] = {}
    for item in feedback:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    context.log("Deltas: " + ", ".join(f"{count} {status}" for status, count in sorted(counts.items())))
    return {"delta_feedback": feedback}


def feedback_table(feedback: list[dict[str, typing.Any]], layer_names: dict[str, str]) -> list[str]:
    """The readable table of the job log: index, method, layer, key, status, message."""
    rows = []
    for item in feedback:
        layer_id = item.get("layer_id") or ""
        pk = item.get("modified_pk") if item.get("modified_pk") is not None else item.get("feature_pk")
        rows.append(
            (
                item["delta_index"],
                item.get("method") or "",
                layer_names.get(layer_id, layer_id),
                "" if pk is None else pk,
                str(item["status"]).removeprefix("status_"),
                item.get("msg") or "",
            )
        )
    return table.format_table(TABLE_HEADERS, rows)


def conflict_lines(feedback: list[dict[str, typing.Any]]) -> list[str]:
    """One log line per conflicting field: base, current and incoming side by side."""
    lines = []
    for item in feedback:
        for conflict in item.get("conflicts") or []:
            lines.append(
                f"Delta {item['delta_index']} ({item.get('delta_id')}): {conflict['field']}: "
                f"base {_short(conflict['base'])}, current {_short(conflict['current'])}, "
                f"incoming {_short(conflict['incoming'])}"
            )
    return lines


def _short(value: typing.Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def upload_exported_project(context: JobContext) -> dict[str, typing.Any]:
    """Upload the data files the deltas changed (QGIS has exited: every file is closed)."""
    names = changed_files(context)
    spec = context.spec
    uploaded = []
    for name in names:
        path = context.project_dir / name
        transfer.upload_file(spec.api_url, spec.token, spec.project_id, name, path)
        uploaded.append({"name": name, "size": path.stat().st_size, "sha256": sha256_of(path)})
    if not uploaded:
        context.log("No project file changed: nothing to upload")
        return {"files": []}
    context.log(f"Uploaded {len(uploaded)} changed file(s):")
    rows = [(item["name"], item["size"], item["sha256"]) for item in uploaded]
    for line in table.format_table(["File", "Size", "SHA256"], rows):
        context.log(line)
    return {"files": uploaded}


def build_workflow(download: bool = True, upload: bool = True) -> workflow.Workflow:
    """The QFieldCloud step list; the flags drop the HTTP steps for a local run."""
    steps = [
        workflow.Step("start_qgis_app", "Start QGIS Application", process_projectfile.start_qgis_app),
        workflow.Step(
            "download_project_directory",
            "Download Project Directory",
            process_projectfile.download_project_directory,
        ),
        workflow.Step("apply_deltas", "Apply Deltas", apply_deltas, outputs=("delta_feedback",)),
        workflow.Step("stop_qgis_app", "Stop QGIS Application", process_projectfile.stop_qgis_app),
        workflow.Step(
            "upload_exported_project", "Upload Exported Project", upload_exported_project, outputs=("files",)
        ),
    ]
    skipped = {"download_project_directory"} if not download else set()
    skipped |= {"upload_exported_project"} if not upload else set()
    return workflow.Workflow(
        WORKFLOW_ID, WORKFLOW_NAME, tuple(step for step in steps if step.id not in skipped)
    )
