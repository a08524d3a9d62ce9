"""Request ids and the exception handlers that turn every failure into an `ErrorBody`.

No body ever carries SQL, row data or a traceback: database errors are reduced to a plain
sentence (the details go to the log, under the request id the response carries).
"""

import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import RETRY_AFTER_S, ErrorBody, RiskAtlasError, status_code_for

log = logging.getLogger("riskatlas.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (the client's X-Request-ID when sane) and echo it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _CLIENT_REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def request_id_of(scope: Scope) -> str | None:
    """The id the request-id middleware gave this request."""
    state = scope.get("state") or {}
    return state.get("request_id")


def error_response(scope: Scope, status: int, body: dict[str, Any]) -> JSONResponse:
    """An error body with the request id, and Retry-After on 429 and 503."""
    request_id = request_id_of(scope)
    headers = {REQUEST_ID_HEADER: request_id} if request_id else {}
    if status in (429, 503):
        headers["Retry-After"] = str(body.pop("retry_after_s", RETRY_AFTER_S))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({**body, "request_id": request_id}, status_code=status, headers=headers)


def field_name(location: tuple[Any, ...]) -> str:
    """'body.inputs.l' → 'inputs.l': the field as the client named it."""
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[-1])


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RiskAtlasError)
    return error_response(request.scope, status_code_for(error), error.to_dict())


# Patterns of enumerations (`^(a|b)$`) and lists of them (`^(a|b)(,(a|b))*$`), whose
# refusal should name the allowed words rather than quote a regular expression.
_CHOICE = re.compile(r"^\^\(([\w|]+)\)(\(,\(\1\)\)\*)?\$$")


def _reason(problem: Any) -> str:
    """The validation message, with an enumeration's words instead of its pattern."""
    pattern = (problem.get("ctx") or {}).get("pattern")
    choice = _CHOICE.match(pattern) if isinstance(pattern, str) else None
    if problem.get("type") != "string_pattern_mismatch" or choice is None:
        return str(problem["msg"])
    words = ", ".join(choice.group(1).split("|"))
    return f"not a comma-separated list of: {words}" if choice.group(2) else f"not one of: {words}"


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"field": field_name(tuple(e["loc"])), "reason": _reason(e)} for e in error.errors()
    ]
    summary = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return error_response(
        request.scope,
        422,
        {
            "detail": f"invalid request: {summary}",
            "field": problems[0]["field"],
            "errors": problems,
        },
    )


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning(
        "database unavailable (request %s): %s", request_id_of(request.scope), type(error).__name__
    )
    return error_response(
        request.scope, 503, {"detail": "the database is unavailable or busy; retry shortly"}
    )


async def _database_refused(request: Request, error: Exception) -> JSONResponse:
    # A value the checks let through but PostgreSQL refused: a gap in validation, logged
    # as such; the client learns only that the input was refused.
    log.error("database refused input (request %s)", request_id_of(request.scope), exc_info=error)
    status = 409 if isinstance(error, sa_exc.IntegrityError) else 422
    return error_response(
        request.scope, status, {"detail": "the database refused a value of this request"}
    )


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    log.error("unexpected error (request %s)", request_id_of(request.scope), exc_info=error)
    return error_response(
        request.scope, 500, {"detail": "internal error; quote the request id when reporting it"}
    )


def is_unavailable(error: BaseException) -> bool:
    """True when a database error means 'not reachable / overloaded', not 'bad input'."""
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    if is_unavailable(error):
        return await _database_unavailable(request, error)
    return await _database_refused(request, error)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers and document their body; the caller adds the middleware."""
    document_error_body(app)
    app.add_exception_handler(RiskAtlasError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _database_unavailable)
    app.add_exception_handler(sa_exc.DisconnectionError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)


def document_error_body(app: FastAPI) -> None:
    """Add `ErrorBody` (which ERROR_RESPONSES refer to) to the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            error_body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(error_body.pop("$defs", {}))
            schemas["ErrorBody"] = error_body
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
