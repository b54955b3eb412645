"""Job spec parsing and the per-job context shared by the steps."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import typing

from runner.worker import protocol

REQUIRED_FIELDS = ("job_id", "type", "project_id", "project_file")


class JobSpecError(ValueError):
    """The runner sent something that is not a job spec; a runner bug, not a job failure."""


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """The JSON object the runner writes to the worker's stdin."""

    job_id: str
    type: str
    project_id: str
    project_file: str
    api_url: str = ""
    token: str = dataclasses.field(default="", repr=False)
    params: dict[str, typing.Any] = dataclasses.field(default_factory=dict)


def parse_spec(text: str) -> JobSpec:
    """Validate and parse one job spec; unknown keys are ignored for forward compatibility."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise JobSpecError(f"job spec is not valid JSON: {error}") from error
    if not isinstance(raw, dict):
        raise JobSpecError("job spec must be a JSON object")
    missing = [name for name in REQUIRED_FIELDS if not isinstance(raw.get(name), str) or not raw.get(name)]
    if missing:
        raise JobSpecError(f"job spec lacks string field(s): {', '.join(missing)}")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise JobSpecError("job spec field params must be an object")
    return JobSpec(
        job_id=raw["job_id"],
        type=raw["type"],
        project_id=raw["project_id"],
        project_file=raw["project_file"],
        api_url=str(raw.get("api_url") or ""),
        token=str(raw.get("token") or ""),
        params=params,
    )


@dataclasses.dataclass
class JobContext:
    """Mutable state of one job run; steps read and fill it in order."""

    spec: JobSpec
    work_dir: pathlib.Path
    project_dir: pathlib.Path
    reporter: protocol.Reporter
    qgis: typing.Any = None
    project_path: pathlib.Path | None = None
    project: typing.Any = None
    project_xml: typing.Any = None
    export_dir: pathlib.Path | None = None  # package jobs: where the package is written
    layers_by_id: dict[str, typing.Any] = dataclasses.field(default_factory=dict)
    package: typing.Any = None  # package jobs: the packager's result
    file_hashes: dict[str, str] = dataclasses.field(default_factory=dict)  # delta_apply: before the edits

    def log(self, text: str) -> None:
        self.reporter.log(text)

    def stop_qgis(self) -> None:
        """Drop Python references to QGIS objects, then exit QGIS (required to avoid a segfault)."""
        self.project = None
        self.project_xml = None
        if self.qgis is not None:
            qgis, self.qgis = self.qgis, None
            qgis.stop()
