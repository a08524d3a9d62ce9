"""Domain exceptions, the one table that maps them to HTTP status codes, and the error body.

Every error response has the same JSON shape (`ErrorBody`), whatever raised it: a domain
error, request validation, the body guard, the database being down, or a bug.
"""

from typing import Any

from pydantic import BaseModel, Field


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
    """A named thing does not exist (or lies outside the caller's scope)."""


class InvalidInput(RiskAtlasError):
    """A value is malformed or outside what the method allows."""


class Conflict(RiskAtlasError):
    """The request contradicts stored data (duplicate key, illegal transition …)."""


class Unauthorized(RiskAtlasError):
    """No valid credentials: sign in (or refresh the token) first."""


class Forbidden(RiskAtlasError):
    """Signed in, but this role or scope may not do this."""


class TooManyRequests(RiskAtlasError):
    """Too many attempts (failed sign-ins); retry after `Retry-After` seconds."""


class TooLarge(RiskAtlasError):
    """The request body exceeds the configured limit."""


class ServiceUnavailable(RiskAtlasError):
    """The database cannot be reached or is overloaded; the client should retry later."""


STATUS_CODES: dict[type[RiskAtlasError], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    TooManyRequests: 429,
    NotFound: 404,
    InvalidInput: 422,
    Conflict: 409,
    TooLarge: 413,
    ServiceUnavailable: 503,
}

# Seconds a client should wait before retrying after a 503.
RETRY_AFTER_S = 2


def status_code_for(error: RiskAtlasError) -> int:
    """Return the HTTP status for a domain error (most specific class wins)."""
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return error.status_code


class Problem(BaseModel):
    """One invalid input of a request."""

    field: str
    reason: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    detail: str = Field(description="what went wrong, in plain words")
    field: str | None = Field(None, description="the input at fault, when one is")
    allowed: list[Any] | None = Field(None, description="the values that would be accepted")
    errors: list[Problem] | None = Field(None, description="every invalid input (422)")
    request_id: str | None = Field(None, description="quote it when reporting a 5xx")

    model_config = {"extra": "allow"}


def _response(description: str) -> dict[str, Any]:
    # Named by reference, not as a model: FastAPI would file a model under the route's own
    # media type (text/html for the HTML export) while errors are always JSON.
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


# Documented on every API route: the statuses any of them can answer with.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _response("bad request (e.g. an unknown host name)"),
    401: _response("not signed in, or the token is invalid or expired"),
    403: _response("signed in, but not allowed to do this here; `field` names why"),
    404: _response("not found, or outside the caller's scope"),
    409: _response("conflicts with stored data"),
    413: _response("request body too large"),
    422: _response("invalid input; `field` names it"),
    429: _response("too many failed sign-ins; retry after `Retry-After` seconds"),
    500: _response("unexpected error; `request_id` identifies it in the logs"),
    503: _response("database unavailable; retry after `Retry-After` seconds"),
}
