"""The process_projectfile workflow: download, validate, open and describe a QGIS project."""

from __future__ import annotations

import typing

from runner.worker import (
    details,
    errors,
    job,
    layers,
    project_xml,
    qgis_app,
    thumbnail,
    transfer,
    validity,
    workflow,
)

JobContext = job.JobContext

WORKFLOW_ID = "process_projectfile"
WORKFLOW_NAME = "Process Projectfile"
READ_FLAG_NAMES = (
    "FlagDontLoadLayouts",
    "FlagForceReadOnlyLayers",
    "FlagDontLoad3DViews",
    "FlagDontLoadProjectStyles",
)


def start_qgis_app(context: JobContext) -> dict[str, typing.Any]:
    """QGIS is started first (as in QFieldCloud) so the log shows its version even if later steps fail.

    A warm worker started it before the job arrived: then this step only says so.
    """
    if context.qgis is not None:
        context.log("QGIS was started before the job arrived (warm worker)")
        return {}
    context.qgis = qgis_app.start(context.work_dir, context.log)
    return {}


def download_project_directory(context: JobContext) -> dict[str, typing.Any]:
    """Fetch the non-attachment files: QGIS needs the data files to check the layers."""
    spec = context.spec
    root, log = context.project_dir, context.log
    transfer.download_project_files(spec.api_url, spec.token, spec.project_id, root, log)
    return {"tmp_project_dir": context.project_dir}


def project_validity_check(context: JobContext) -> dict[str, typing.Any]:
    """Reject broken or hostile files before QGIS parses them, with a precise message."""
    context.project_path = validity.check_project_file(context.project_dir, context.spec.project_file)
    return {}


def read_flags() -> typing.Any:
    """Read without layouts (and read-only / without 3D views and styles where this QGIS has the flag)."""
    from qgis.core import QgsProject

    flags = QgsProject.ReadFlags()
    for name in READ_FLAG_NAMES:
        flag = getattr(QgsProject.ReadFlag, name, None) or getattr(QgsProject, name, None)
        if flag is not None:
            flags |= flag
    return flags


def opening_check(context: JobContext) -> dict[str, typing.Any]:
    """Let QGIS read the project; a refused project fails the job, invalid layers do not."""
    from qgis.core import QgsProject

    project = QgsProject.instance()
    saved = project_xml.ProjectXml()
    project.readProject.connect(saved)
    try:
        ok = project.read(str(context.project_path), read_flags())
    finally:
        project.readProject.disconnect(saved)
    if not ok:
        reason = project.error() or "QGIS could not read the project"
        raise errors.ProjectOpeningError(f'Failed to open project "{context.spec.project_file}": {reason}')
    for layer in project.mapLayers().values():
        if hasattr(layer, "setReadOnly"):  # QGIS < 3.28 has no FlagForceReadOnlyLayers
            layer.setReadOnly(True)
    context.project = project
    context.project_xml = saved
    context.log(f'Opened project "{context.spec.project_file}" with {len(project.mapLayers())} layer(s)')
    return {}


def project_details(context: JobContext) -> dict[str, typing.Any]:
    """The output the server stores; the layer table tells the user which layers are broken."""
    result = details.project_details(context.project, context.project_dir, context.project_xml)
    context.log("QGIS project layer checks")
    for line in layers.layer_table(result["layers_by_id"]):
        context.log(line)
    return {"project_details": result}


def generate_thumbnail_image(context: JobContext) -> dict[str, typing.Any]:
    """Render and upload the project thumbnail; a failure is a warning, never a failed job.

    QFieldCloud fails the job here; Outpost does not, because a project that passed every check is
    worth more than its picture.
    """
    target = context.work_dir / "thumbnail.png"
    canvas = context.project_xml.extent if context.project_xml is not None else None
    try:
        result = thumbnail.render(context.project, canvas, target, context.log)
    except Exception as error:  # a broken renderer or style must not fail a valid project
        context.log(f"Warning: no thumbnail: rendering failed: {error}")
        return {"thumbnail": None}
    spec = context.spec
    try:
        transfer.upload_thumbnail(spec.api_url, spec.token, spec.project_id, target)
    except errors.ApiError as error:
        context.log(f"Warning: no thumbnail: the upload failed: {error}")
        return {"thumbnail": None}
    context.log(f"Uploaded a {result['width']}x{result['height']} thumbnail ({result['size']} bytes)")
    return {"thumbnail": result}


def stop_qgis_app(context: JobContext) -> dict[str, typing.Any]:
    """Exit QGIS cleanly (dropping Python references first, or the process segfaults)."""
    context.stop_qgis()
    return {}


def build_workflow(download: bool = True) -> workflow.Workflow:
    """The QFieldCloud step list; ``download=False`` inspects a local directory (no API, no thumbnail)."""
    steps = [
        workflow.Step("start_qgis_app", "Start QGIS Application", start_qgis_app),
        workflow.Step("download_project_directory", "Download Project Directory", download_project_directory),
        workflow.Step("project_validity_check", "Project Validity Check", project_validity_check),
        workflow.Step("opening_check", "Opening Check", opening_check),
        workflow.Step("project_details", "Project Details", project_details, outputs=("project_details",)),
        workflow.Step(
            "generate_thumbnail_image",
            "Generate Thumbnail Image",
            generate_thumbnail_image,
            outputs=("thumbnail",),
        ),
        workflow.Step("stop_qgis_app", "Stop QGIS Application", stop_qgis_app),
    ]
    if not download:
        local_only = ("download_project_directory", "generate_thumbnail_image")
        steps = [step for step in steps if step.id not in local_only]
    return workflow.Workflow(WORKFLOW_ID, WORKFLOW_NAME, tuple(steps))
