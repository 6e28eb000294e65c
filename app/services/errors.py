"""What a service raises when it refuses; the web layer turns these into 4xx answers."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, **extra):
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.extra = extra


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class Conflict(ServiceError):
    """The thing changed under the caller; `extra` carries its current state."""

    status = 409
    code = "conflict"


class Invalid(ServiceError):
    status = 422
    code = "invalid"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"


class UnsupportedType(ServiceError):
    """A file whose content is not of an allowed type (whatever its name says)."""

    status = 415
    code = "unsupported_media_type"


class Unavailable(ServiceError):
    """Something the server depends on (the media worker) is not answering."""

    status = 503
    code = "unavailable"
