"""The entry points: ``run`` (a job from the runner); ``inspect``, ``package-local`` and ``apply-local``."""

from __future__ import annotations

import pathlib
import shutil
import tempfile
import typing

from runner.worker import apply_deltas, errors, job, package, process_projectfile, protocol, workflow

WorkflowBuilder = typing.Callable[[], workflow.Workflow]
WORKFLOWS: dict[str, WorkflowBuilder] = {
    "process_projectfile": process_projectfile.build_workflow,
    "package": package.build_workflow,
    "delta_apply": apply_deltas.build_workflow,
}


def new_work_dir(label: str) -> pathlib.Path:
    safe = "".join(char for char in label[:8] if char.isalnum())  # never a path separator
    return pathlib.Path(tempfile.mkdtemp(prefix=f"outpost-job-{safe}-"))


def run_job(
    spec: job.JobSpec,
    reporter: protocol.JsonLinesReporter,
    warm: tuple[pathlib.Path, typing.Any] | None = None,
) -> int:
    """Run one job in a private temp dir; emit the result line; 0 on success, 1 on a clean failure.

    ``warm`` is the work dir and the QGIS app a warm worker started before the job arrived.
    """
    builder = WORKFLOWS.get(spec.type)
    if builder is None:
        feedback = workflow.new_feedback(workflow.Workflow(spec.type, spec.type, ()))
        feedback.update(workflow.error_fields(errors.WorkerError(f'Unsupported job type "{spec.type}"')))
        reporter.result(feedback)
        return 1
    work_dir, app = warm if warm is not None else (new_work_dir(spec.job_id), None)
    context = job.JobContext(spec, work_dir, work_dir / "files", reporter, qgis=app)
    try:
        feedback = workflow.run_workflow(builder(), context, reporter)
        reporter.result(feedback)
    finally:
        context.stop_qgis()  # on failure the stop step did not run; QGIS must still exit cleanly
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if "error" in feedback else 0


def inspect_project(
    project_dir: pathlib.Path, project_file: str, reporter: protocol.Reporter
) -> tuple[dict[str, typing.Any], int]:
    """Validity + opening + details on a local directory, without HTTP; returns (output, exit code)."""
    spec = job.JobSpec(job_id="inspect", type="process_projectfile", project_id="", project_file=project_file)
    work_dir = pathlib.Path(tempfile.mkdtemp(prefix="outpost-inspect-"))
    context = job.JobContext(spec, work_dir, project_dir.resolve(), reporter)
    local_workflow = process_projectfile.build_workflow(download=False)
    try:
        feedback = workflow.run_workflow(local_workflow, context, reporter)
    finally:
        context.stop_qgis()
        shutil.rmtree(work_dir, ignore_errors=True)
    if "error" in feedback:
        return {key: feedback[key] for key in ("error", "error_type", "error_class")}, 1
    return {"project_details": feedback["outputs"]["project_details"]["project_details"]}, 0


def package_local(
    project_dir: pathlib.Path, project_file: str, out_dir: pathlib.Path, reporter: protocol.Reporter
) -> tuple[dict[str, typing.Any], int]:
    """Package a local directory into ``out_dir`` without HTTP; returns (output, exit code)."""
    spec = job.JobSpec(job_id="package-local", type="package", project_id="", project_file=project_file)
    work_dir = pathlib.Path(tempfile.mkdtemp(prefix="outpost-package-"))
    context = job.JobContext(spec, work_dir, project_dir.resolve(), reporter, export_dir=out_dir.resolve())
    try:
        local_workflow = package.build_workflow(download=False, upload=False)
        feedback = workflow.run_workflow(local_workflow, context, reporter)
    finally:
        context.stop_qgis()
        shutil.rmtree(work_dir, ignore_errors=True)
    if "error" in feedback:
        return {key: feedback[key] for key in ("error", "error_type", "error_class")}, 1
    outputs = feedback["outputs"]
    return {
        "layers_by_id": outputs["qgis_layers_data"]["layers_by_id"],
        "packaged_layers_by_id": outputs["qfield_layer_data"]["layers_by_id"],
        "files": outputs["package_project"]["files"],
    }, 0


def apply_local(
    project_dir: pathlib.Path,
    project_file: str,
    deltafile: dict[str, typing.Any],
    reporter: protocol.Reporter,
    *,
    overwrite_conflicts: bool = True,
) -> tuple[dict[str, typing.Any], int]:
    """Apply a deltafile to a local project directory in place, without HTTP; returns (output, exit code).

    The output is ``{"delta_feedback": [...], "changed_files": [...]}`` or the job error.
    """
    params = {"deltafile": deltafile, "overwrite_conflicts": overwrite_conflicts}
    spec = job.JobSpec(
        job_id="apply-local", type="delta_apply", project_id="", project_file=project_file, params=params
    )
    work_dir = pathlib.Path(tempfile.mkdtemp(prefix="outpost-apply-"))
    context = job.JobContext(spec, work_dir, project_dir.resolve(), reporter)
    try:
        local_workflow = apply_deltas.build_workflow(download=False, upload=False)
        feedback = workflow.run_workflow(local_workflow, context, reporter)
        changed = apply_deltas.changed_files(context) if "error" not in feedback else []
    finally:
        context.stop_qgis()
        shutil.rmtree(work_dir, ignore_errors=True)
    if "error" in feedback:
        return {key: feedback[key] for key in ("error", "error_type", "error_class")}, 1
    return {
        "delta_feedback": feedback["outputs"]["apply_deltas"]["delta_feedback"],
        "changed_files": changed,
    }, 0
