"""The worker's output protocol: JSON lines on a private copy of the original stdout.

QGIS, Qt, GDAL and PROJ may print to fd 1 from C code. To keep the protocol parseable, the process
duplicates the original stdout to a private descriptor at start-up and points fd 1 at stderr, so
only ``Reporter`` writes ever reach the runner's pipe. Each line is one JSON object:

* ``{"kind": "step", "step_id": ..., "name": ..., "stage": "started"|"finished"|"failed"}``
* ``{"kind": "log", "line": ...}``
* ``{"kind": "result", "feedback": {...}}`` (exactly once, last)
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
import typing

_PASSWORD_RE = re.compile(r"""(password\s*=\s*)('[^']*'|"[^"]*"|\S+)""", re.IGNORECASE)


def take_stdout() -> typing.TextIO:
    """Move the real stdout to a private fd and send fd 1 (and ``sys.stdout``) to stderr."""
    sys.stdout.flush()
    private_fd = os.dup(1)  # non-inheritable by default, so child processes cannot write to it
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(private_fd, "w", encoding="utf-8", newline="\n")


def redact(text: str) -> str:
    """Hide passwords of data source URIs before a line leaves the worker."""
    return _PASSWORD_RE.sub(r"\1'***'", text)


def jsonable(value: typing.Any) -> typing.Any:
    """Make ``value`` strict-JSON safe; unknown objects become ``<non-serializable: Type str>``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if type(value).__name__ == "QVariant":  # a NULL QVariant from PyQGIS
        return None
    return f"<non-serializable: {type(value).__name__} {value}>"


def dumps(obj: typing.Any) -> str:
    """Serialise one protocol object as a single ASCII line (no raw newlines possible)."""
    return json.dumps(jsonable(obj), allow_nan=False, ensure_ascii=True)


class Reporter(typing.Protocol):
    """Where a workflow reports its progress."""

    def step(self, step_id: str, name: str, stage: str) -> None: ...

    def log(self, text: str) -> None: ...


class JsonLinesReporter:
    """Writes protocol lines for the ``run`` command; thread-safe because QGIS may log from threads."""

    def __init__(self, stream: typing.TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def _write(self, obj: dict[str, typing.Any]) -> None:
        line = dumps(obj)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def step(self, step_id: str, name: str, stage: str) -> None:
        self._write({"kind": "step", "step_id": step_id, "name": name, "stage": stage})

    def log(self, text: str) -> None:
        for line in redact(str(text)).splitlines() or [""]:
            self._write({"kind": "log", "line": line})

    def result(self, feedback: dict[str, typing.Any]) -> None:
        self._write({"kind": "result", "feedback": feedback})


class StderrReporter:
    """Human-readable progress on stderr, for the local ``inspect`` command."""

    def __init__(self, stream: typing.TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()

    def step(self, step_id: str, name: str, stage: str) -> None:
        self.log(f"[{stage}] {name} ({step_id})")

    def log(self, text: str) -> None:
        with self._lock:
            self._stream.write(redact(str(text)).rstrip("\n") + "\n")
            self._stream.flush()
