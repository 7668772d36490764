"""One error tree for the whole service.

Every failure a client or an operator can cause is an ``ImgsvcError``; each class
carries its HTTP status, a stable machine-readable ``code`` and a CLI exit code, so
the web layer and the CLI translate errors in exactly one place each.
"""

from __future__ import annotations

from typing import Any


class ImgsvcError(Exception):
    """Base of every error imgsvc reports to a client or an operator."""

    status_code: int = 400
    code: str = "bad_request"
    exit_code: int = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


class ConfigError(ImgsvcError):
    """A setting has a value imgsvc cannot use; the message names the setting."""

    status_code = 500
    code = "config_error"
    exit_code = 2


class BadRequest(ImgsvcError):
    """The request itself is malformed (no file, a media_id that is not a UUID...)."""


class InvalidImage(ImgsvcError):
    """Empty, truncated or undecodable image data."""

    code = "invalid_image"


class Unauthorized(ImgsvcError):
    status_code = 401
    code = "unauthorized"


class NotFound(ImgsvcError):
    status_code = 404
    code = "not_found"


class Conflict(ImgsvcError):
    """The image changed between the moment a write read it and the moment it wrote
    its manifest: another writer's newer state won, and this write kept nothing."""

    status_code = 409
    code = "conflict"


class UploadTooLarge(ImgsvcError):
    status_code = 413
    code = "too_large"


class RequestTimeout(ImgsvcError):
    """The client did not send its request body within ``upload_timeout`` seconds."""

    status_code = 408
    code = "request_timeout"


class UnsupportedFormat(ImgsvcError):
    """A recognisable format outside the allowlist (TIFF, BMP, PSD, SVG, HEIC...)."""

    status_code = 415
    code = "unsupported_format"


class ImageRefused(ImgsvcError):
    """Decodable but refused: too many pixels or frames, a decompression bomb."""

    status_code = 422
    code = "image_refused"


class ServiceUnavailable(ImgsvcError):
    """Temporarily unable to serve; clients should retry after ``retry_after`` seconds."""

    status_code = 503
    code = "unavailable"
    exit_code = 3
    retry_after = 5


class StorageUnavailable(ServiceUnavailable):
    """The storage backend failed or could not be reached."""

    code = "storage_unavailable"


class Saturated(ServiceUnavailable):
    """Too many conversions in flight; the request waited ``queue_timeout`` and gave up."""

    code = "saturated"
    retry_after = 2
