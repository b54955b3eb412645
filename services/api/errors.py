"""API errors: each one a QFieldCloud error code, an HTTP status and a readable message.

Only entrypoints turn these into responses (``{"code","message"}``, compact JSON).
"""

from __future__ import annotations


class ApiError(Exception):
    """Base of every error the API answers with; ``code`` and ``status`` follow QFieldCloud."""

    code = "api_error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(ApiError):
    """Authentication credentials were not provided."""

    code, status = "not_authenticated", 401


class AuthenticationFailed(ApiError):
    """Unable to log in with provided credentials."""

    code, status = "authentication_failed", 401


class TokenAuthenticationFailed(ApiError):
    """Invalid or expired token."""

    code, status = "token_authentication_failed", 401


class OverQuota(ApiError):
    """The owner's storage quota would be exceeded (QField special-cases this code)."""

    code, status = "over_quota", 402


class PermissionDenied(ApiError):
    """The user's role on this project does not allow the action."""

    code, status = "permission_denied", 403


class ObjectNotFound(ApiError):
    """No such object, or not visible to this user."""

    code, status = "object_not_found", 404


class ValidationError(ApiError):
    """A field is missing or has a value the API refuses."""

    code, status = "validation_error", 400


class ProjectAlreadyExists(ApiError):
    """This owner already has a project with that name."""

    code, status = "project_already_exists", 400


class EmptyContent(ApiError):
    """The multipart request has no ``file`` part."""

    code, status = "empty_content", 400


class MultipleContents(ApiError):
    """The multipart request has more than one ``file`` part."""

    code, status = "multiple_contents", 400


class MultipleProjects(ApiError):
    """The project already has a different QGIS project file."""

    code, status = "multiple_projects", 400


class ExplicitDeletionOfLastVersion(ApiError):
    """The only version of a file cannot be deleted on its own; delete the file."""

    code, status = "explicit_deletion_of_last_version", 400


class UserExists(ApiError):
    """An account with this name exists already."""

    code, status = "user_already_exists", 409


class InvalidHttpRange(ApiError):
    """The Range header cannot be satisfied."""

    code, status = "invalid_http_range", 416


class ServiceUnavailable(ApiError):
    """A backing service (database, storage) is down; try again."""

    code, status = "service_unavailable", 503
