"""A stand-in worker that speaks the worker protocol without QGIS, for tests and benchmarks.

It reads the job spec, reports two steps and a few log lines, and prints a feedback v2 result. Knobs, from
the job's ``params`` (else the environment, for the sleep):
- ``noop_sleep_s`` (else ``$NOOP_SLEEP_S``, else 0-0.4 s derived from the job id): how long it works;
- ``noop_exit``: fail cleanly with that exit code;
- ``noop_alloc_mb``: allocate and touch that much memory (to meet the memory limit);
- ``noop_crash``: ``segv`` kills itself with SIGSEGV;
- ``noop_echo_env``: names of environment variables to print, ``noop_echo_pgservice`` to print the pg
  service file, ``noop_feedback_env`` a variable to put in its result: a worker that leaks what it was
  given, to prove the runner redacts it.
Standard library only, like the real worker.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


def emit(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def leak(params: dict[str, Any]) -> None:
    for name in params.get("noop_echo_env") or []:
        emit({"kind": "log", "line": f"env {name}={os.environ.get(name)}"})
    if params.get("noop_echo_pgservice") and os.environ.get("PGSERVICEFILE"):
        for line in Path(os.environ["PGSERVICEFILE"]).read_text().splitlines():
            print(f"pg_service.conf: {line}", file=sys.stderr, flush=True)


def _delta_feedback(delta: dict[str, Any], status: str) -> dict[str, Any]:
    """A forced delta (a resolved conflict) always applies; a conflict reports each field side by side."""
    status = "status_applied" if delta.get("force") else status
    conflicts = None
    if status == "status_conflict":
        old = (delta.get("old") or {}).get("attributes") or {}
        new = (delta.get("new") or {}).get("attributes") or {}
        conflicts = [
            {"field": k, "base": v, "current": f"changed {v}", "incoming": new.get(k)} for k, v in old.items()
        ]
    return {
        "delta_id": delta.get("uuid"),
        "status": status,
        "modified_pk": delta.get("localPk"),
        "msg": "no-op",
        "conflicts": conflicts,
        "method": delta.get("method"),
    }


def main() -> int:
    if "--warm" in sys.argv:
        emit({"kind": "ready"})  # nothing to start up front: no QGIS here
    spec = json.loads(sys.stdin.readline())
    os.environ.update(spec.get("env") or {})
    params: dict[str, Any] = spec.get("params") or {}
    default_sleep = float(os.environ.get("NOOP_SLEEP_S") or int(str(spec["job_id"])[:4], 16) % 400 / 1000)
    sleep_s = float(params.get("noop_sleep_s", default_sleep))
    leak(params)
    hoard = []
    steps = []
    for step_id, name in (("prepare", "Prepare"), ("work", "Work")):
        emit({"kind": "step", "step_id": step_id, "name": name, "stage": "started"})
        emit({"kind": "log", "line": f"{name}: job {spec['job_id']} of project {spec['project_id']}"})
        if step_id == "work" and params.get("noop_alloc_mb"):
            for _ in range(int(params["noop_alloc_mb"])):
                hoard.append(bytearray(1024 * 1024))
        if step_id == "work" and params.get("noop_crash") == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(sleep_s / 2)
        emit({"kind": "step", "step_id": step_id, "name": name, "stage": "finished"})
        steps.append({"id": step_id, "name": name, "stage": 2, "returns": {}})
    exit_code = int(params.get("noop_exit", 0))
    feedback: dict[str, object] = {
        "feedback_version": "2.0",
        "workflow_id": "noop",
        "workflow_name": "No-op",
        "workflow_version": "2.0",
        "steps": steps,
        "outputs": {"echo": os.environ.get(str(params.get("noop_feedback_env")))},
    }
    if spec.get("type") == "process_projectfile":  # enough details for the project to count as processed
        details = {
            "layers_by_id": {},
            "ordered_layer_ids": [],
            "attachment_dirs": ["DCIM"],
            "crs": "EPSG:2056",
        }
        feedback["outputs"]["project_details"] = {"project_details": details}  # type: ignore[index]
    if spec.get("type") == "delta_apply":  # pretend to apply: report each delta with the status asked for
        status = str(
            params.get("noop_delta_status") or os.environ.get("NOOP_DELTA_STATUS") or "status_applied"
        )
        deltas = (params.get("deltafile") or {}).get("deltas") or []
        feedback["outputs"] = {
            "apply_deltas": {"delta_feedback": [_delta_feedback(d, status) for d in deltas]}
        }
    if exit_code:
        feedback.update(error="The no-op worker was told to fail.", error_type="UNKNOWN")
    emit({"kind": "result", "feedback": feedback})
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
