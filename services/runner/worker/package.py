"""The package workflow: make the offline copy of a project that QField downloads.

Steps (QFieldCloud's ids): start QGIS, download the project files, describe the original layers
(``qgis_layers_data``; the server serves ``outputs.qgis_layers_data.layers_by_id`` as the package's
``layers``), package into ``<job dir>/export``, describe the packaged layers (``qfield_layer_data``),
stop QGIS, then upload the package files. Uploading comes after QGIS has exited so that no
GeoPackage is still open while its bytes are read.
"""

from __future__ import annotations

import pathlib
import time
import typing

from runner.worker import (
    errors,
    job,
    layers,
    package_files,
    packager,
    process_projectfile,
    project_xml,
    transfer,
    validity,
    workflow,
)

JobContext = job.JobContext

WORKFLOW_ID = "package_project"
WORKFLOW_NAME = "Package Project"
EXPORT_DIR_NAME = "export"


def export_dir(context: JobContext) -> pathlib.Path:
    """The package directory: given for local runs, ``<job dir>/export`` otherwise."""
    if context.export_dir is None:
        context.export_dir = context.work_dir / EXPORT_DIR_NAME
    return context.export_dir


def _read_project(context: JobContext, path: pathlib.Path) -> typing.Any:
    """Read a project into the QgsProject singleton, keeping the facts only the XML has."""
    from qgis.core import QgsProject

    project = QgsProject.instance()
    project.clear()
    saved = project_xml.ProjectXml()
    project.readProject.connect(saved)
    try:
        ok = project.read(str(path))
    finally:
        project.readProject.disconnect(saved)
    if not ok:
        reason = project.error() or "QGIS could not read the project"
        raise errors.ProjectOpeningError(f'Failed to open project "{path.name}": {reason}')
    context.project, context.project_xml = project, saved
    return project


def qgis_layers_data(context: JobContext) -> dict[str, typing.Any]:
    """Check and open the original project (layouts and styles included: they go into the package)."""
    context.project_path = validity.check_project_file(context.project_dir, context.spec.project_file)
    project = _read_project(context, context.project_path)
    context.log(f'Opened project "{context.spec.project_file}" with {len(project.mapLayers())} layer(s)')
    context.layers_by_id = layers.layers_data(project, context.project_dir, context.project_xml.datasources)
    context.log("QGIS project layer data")
    for line in layers.layer_table(context.layers_by_id):
        context.log(line)
    return {"layers_by_id": context.layers_by_id}


def package_project(context: JobContext) -> dict[str, typing.Any]:
    """Write the package; the export directory must be empty so it holds nothing but the package."""
    started = time.monotonic()
    target = export_dir(context)
    if target.exists() and any(target.iterdir()):
        raise errors.PackagingError(f'The export directory "{target}" is not empty')
    assert context.project_path is not None  # set by qgis_layers_data
    canvas = context.project_xml.extent if context.project_xml is not None else None
    context.package = packager.package_project(
        context.project,
        context.project_path,
        target,
        context.layers_by_id,
        canvas_extent=canvas,
        log=context.log,
    )
    context.project.clear()  # release the written GeoPackage before its bytes are hashed
    context.project = context.project_xml = None
    files = package_files.describe(target)
    size = sum(item["size"] for item in files)
    context.log(f"Package: {len(files)} file(s), {size} bytes")
    return {
        "files": files,
        "duration_s": round(time.monotonic() - started, 3),
        "size_bytes": size,
        "layer_actions": context.package.layers,
    }


def qfield_layer_data(context: JobContext) -> dict[str, typing.Any]:
    """Open the packaged project as QField will and describe its layers."""
    package = context.package
    project = _read_project(context, package.project_file)
    packaged = layers.layers_data(project, export_dir(context), context.project_xml.datasources)
    for layer_id, data in packaged.items():
        if layer_id in package.source_pk_names:  # offline layers: the key of the source data, "" if none
            data["qfc_source_data_pk_name"] = package.source_pk_names[layer_id]
    invalid = [data["name"] for data in packaged.values() if not data["is_valid"]]
    context.log("QGIS packaged project layer data")
    for line in layers.layer_table(packaged):
        context.log(line)
    if invalid:
        context.log(f"Warning: invalid layer(s) in the packaged project: {', '.join(invalid)}")
    project.clear()
    context.project = context.project_xml = None
    return {"layers_by_id": packaged}


def upload_packaged_project(context: JobContext) -> dict[str, typing.Any]:
    """Upload every package file (project file last) to ``packages/{project}/{job}/files/``."""
    spec = context.spec
    files = package_files.ordered_files(export_dir(context))
    uploaded = transfer.upload_package(
        spec.api_url, spec.token, spec.project_id, spec.job_id, files=files, log=context.log
    )
    return {"files": uploaded}


def build_workflow(download: bool = True, upload: bool = True) -> workflow.Workflow:
    """The QFieldCloud step list; the flags drop the HTTP steps for local packaging."""
    steps = [
        workflow.Step("start_qgis_app", "Start QGIS Application", process_projectfile.start_qgis_app),
        workflow.Step(
            "download_project_directory",
            "Download Project Directory",
            process_projectfile.download_project_directory,
        ),
        workflow.Step("qgis_layers_data", "QGIS Layers Data", qgis_layers_data, outputs=("layers_by_id",)),
        workflow.Step(
            "package_project",
            "Package Project",
            package_project,
            outputs=("files", "duration_s", "size_bytes"),
        ),
        workflow.Step("qfield_layer_data", "QField Layer Data", qfield_layer_data, outputs=("layers_by_id",)),
        workflow.Step("stop_qgis_app", "Stop QGIS Application", process_projectfile.stop_qgis_app),
        workflow.Step("upload_packaged_project", "Upload Packaged Project", upload_packaged_project),
    ]
    skipped = {"download_project_directory"} if not download else set()
    skipped |= {"upload_packaged_project"} if not upload else set()
    return workflow.Workflow(
        WORKFLOW_ID, WORKFLOW_NAME, tuple(step for step in steps if step.id not in skipped)
    )
