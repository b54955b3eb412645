"""Start and stop a headless QgsApplication for one job.

Everything QGIS might write (profile, settings, runtime dir, pg_service file) goes under the job's
private directory, so concurrent workers never share state and nothing lands in the user's home.
Python references to the project and layers must be dropped before ``exitQgis()`` or the process
segfaults on exit; ``stop`` takes care of that.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import typing

Log = typing.Callable[[str], None]


class QgisApp:
    """Owns the QgsApplication and the message-log connection of this process."""

    def __init__(self, app: typing.Any, on_message: typing.Callable[..., None]) -> None:
        self.app = app
        self._on_message = on_message

    def stop(self) -> None:
        """Disconnect the log, clear the project and exit QGIS (idempotent)."""
        if self.app is None:
            return
        from qgis.core import QgsApplication, QgsProject

        with contextlib.suppress(TypeError):
            QgsApplication.messageLog().messageReceived.disconnect(self._on_message)
        QgsProject.instance().clear()
        self.app.exitQgis()
        self.app = None


def prepare_environment(work_dir: pathlib.Path) -> None:
    """Headless Qt settings, a private XDG runtime dir and the optional pg_service file."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = work_dir / "xdg-runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    contents = os.environ.pop("PGSERVICE_FILE_CONTENTS", None)
    if contents:
        service_file = work_dir / "pg_service.conf"
        service_file.touch(mode=0o600)
        service_file.write_text(contents, encoding="utf-8")
        os.environ["PGSERVICEFILE"] = str(service_file)


def start(work_dir: pathlib.Path, log: Log) -> QgisApp:
    """Create and initialise the QgsApplication; QGIS messages are forwarded to ``log``."""
    prepare_environment(work_dir)
    from qgis.core import Qgis, QgsApplication

    profile = work_dir / "qgis-profile"
    profile.mkdir(mode=0o700, exist_ok=True)
    app = QgsApplication([], False, str(profile))
    app.initQgis()

    def on_message(message: str, tag: str, level: typing.Any) -> None:
        prefix = f"QGIS [{tag}]" if tag else "QGIS"
        log(f"{prefix} {_level_name(level)}: {message}")

    QgsApplication.messageLog().messageReceived.connect(on_message)
    log(f"Starting QGIS app version {Qgis.QGIS_VERSION} ({Qgis.QGIS_VERSION_INT})")
    return QgisApp(app, on_message)


def _level_name(level: typing.Any) -> str:
    """Readable name of a Qgis.MessageLevel (an enum whose int value is what 3.22 exposes)."""
    names = {0: "info", 1: "warning", 2: "critical", 3: "success", 4: "none"}
    try:
        return names.get(int(level), str(level))
    except (TypeError, ValueError):
        return str(level)
