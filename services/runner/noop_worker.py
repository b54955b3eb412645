"""A stand-in worker that speaks the worker protocol without QGIS, for tests and benchmarks.

It reads the job spec, reports two steps and a few log lines, and prints a feedback v2 result. It
sleeps ``params.noop_sleep_s``, else ``$NOOP_SLEEP_S``, else 0-0.4 s derived from the job id;
``params.noop_exit`` makes it fail with that exit code. Standard library only, like the real worker.
"""

from __future__ import annotations

import json
import os
import sys
import time


def emit(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    params = spec.get("params") or {}
    # a duration of 0-0.4 s that differs between jobs but is the same for every attempt of one job
    default_sleep = float(os.environ.get("NOOP_SLEEP_S") or int(str(spec["job_id"])[:4], 16) % 400 / 1000)
    sleep_s = float(params.get("noop_sleep_s", default_sleep))
    steps = []
    for step_id, name in (("prepare", "Prepare"), ("work", "Work")):
        emit({"kind": "step", "step_id": step_id, "name": name, "stage": "started"})
        emit({"kind": "log", "line": f"{name}: job {spec['job_id']} of project {spec['project_id']}"})
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
        "outputs": {},
    }
    if exit_code:
        feedback.update(error="The no-op worker was told to fail.", error_type="UNKNOWN")
    emit({"kind": "result", "feedback": feedback})
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
