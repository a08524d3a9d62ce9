"""Domain exceptions and the one table that maps them to HTTP status codes."""

from typing import Any


class RiskAtlasError(Exception):
    """Base of every error a client can cause; `field` names the offending input."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        """Render as the JSON body of an error response."""
        body: dict[str, Any] = {"detail": self.message}
        if self.field:
            body["field"] = self.field
        body.update(self.detail)
        return body


class NotFound(RiskAtlasError):
    """A named thing does not exist (or is outside the caller's jurisdiction)."""


class InvalidInput(RiskAtlasError):
    """A value is malformed or outside what the method allows."""


class Conflict(RiskAtlasError):
    """The request contradicts stored data (duplicate key, illegal transition …)."""


STATUS_CODES: dict[type[RiskAtlasError], int] = {
    NotFound: 404,
    InvalidInput: 422,
    Conflict: 409,
}


def status_code_for(error: RiskAtlasError) -> int:
    """Return the HTTP status for a domain error (most specific class wins)."""
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return error.status_code
