"""Errors that carry a QFieldCloud ``error_type`` so the feedback can classify a failure.

The server and clients branch on ``error_type`` (e.g. INVALID_PROJECT_FILE vs API_FORBIDDEN), so every
failure the worker anticipates is raised as a ``WorkerError`` subclass; anything else maps to UNKNOWN.
"""

from __future__ import annotations


class WorkerError(Exception):
    """Base class of anticipated job failures; ``error_type`` ends up in the feedback."""

    error_type = "UNKNOWN"


class InvalidProjectFileError(WorkerError):
    """The project file is not a readable QGIS project (bad XML, bad zip, wrong extension, ...)."""

    error_type = "INVALID_PROJECT_FILE"


class ProjectFileNotFoundError(WorkerError):
    """The project file is not in the downloaded project directory."""

    error_type = "FILE_NOT_FOUND"


class ProjectOpeningError(WorkerError):
    """QGIS refused to read the project even though the file passed the validity check."""

    error_type = "INVALID_PROJECT_FILE"


class PackagingError(WorkerError):
    """The project cannot be packaged for QField (no layers, no extent for the area of interest, ...)."""


_STATUS_ERROR_TYPES = {
    401: "API_TOKEN_EXPIRED",
    402: "API_PAYMENT_REQUIRED",
    403: "API_FORBIDDEN",
    404: "API_NOT_FOUND",
    500: "API_INTERNAL_SERVER_ERROR",
}


class ApiError(WorkerError):
    """An HTTP call to the Outpost API failed; the status decides the ``error_type``."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = _STATUS_ERROR_TYPES.get(status or 0, "API_OTHER")


def error_type_of(error: BaseException) -> str:
    """Classify any exception the way QFieldCloud's feedback does."""
    if isinstance(error, WorkerError):
        return error.error_type
    if isinstance(error, FileNotFoundError):
        return "FILE_NOT_FOUND"
    return "UNKNOWN"
