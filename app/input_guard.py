"""Refuse request input no endpoint can handle, before any endpoint sees it.

- bodies over `max_body_bytes` (file uploads: `max_upload_bytes`) → 413, checked on
  Content-Length and while reading;
- JSON nested deeper than `MAX_JSON_DEPTH`, NaN / Infinity (and numbers too large to be
  finite), integers beyond 64 bits, NUL characters in strings → 422 naming the field;
- NUL characters in the path or the query string → 422 naming the parameter.

PostgreSQL cannot store NUL in text, Python's JSON parser accepts NaN and 1e999 as
floats and recurses once per nesting level: each of these used to end in a 500.
"""

import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http_errors import error_response

MAX_JSON_DEPTH = 32
INT64_MAX = 2**63 - 1

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


class _NonFinite:
    """Stands for NaN / Infinity / -Infinity while the body is inspected."""


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays and objects, strings ignored (no recursion)."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        depth += 1 if bracket.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _bad_value(value: Any, path: str) -> tuple[str, str] | None:
    """(field, reason) of the first value PostgreSQL or the maths cannot take."""
    if isinstance(value, _NonFinite) or (isinstance(value, float) and not math.isfinite(value)):
        return path, "NaN and infinite numbers are not accepted"
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) > INT64_MAX:
        return path, "number out of range"
    if isinstance(value, str) and "\x00" in value:
        return path, "NUL characters are not accepted"
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path != "body" else str(key)
            if "\x00" in key:
                return "body", "NUL characters are not accepted in keys"
            found = _bad_value(item, inner)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_value(item, f"{path}.{index}" if path != "body" else str(index))
            if found:
                return found
    return None


def json_problem(body: bytes) -> tuple[str, str] | None:
    """(field, reason) when a JSON body must be refused; None when it may pass on.

    Malformed JSON passes on: FastAPI answers it with its own 422.
    """
    if json_depth(body) > MAX_JSON_DEPTH:
        return "body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        parsed = json.loads(body, parse_constant=lambda _: _NonFinite())
    except (ValueError, RecursionError):
        return None
    return _bad_value(parsed, "body")


def query_problem(scope: Scope) -> tuple[str, str] | None:
    """(parameter, reason) when the path or query string holds a NUL character."""
    if "\x00" in scope.get("path", ""):
        return "path", "NUL characters are not accepted"
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", ""), "NUL characters are not accepted"
    return None


def _is_json(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return True  # FastAPI reads a body without a content type as JSON


# Bulk imports (app/ingest) upload whole registers: their own, larger limit.
IMPORT_PATH = "/api/imports"


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> str:
    return f"request body larger than {limit} bytes"


def _is_upload(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == b"multipart/form-data")
    return False


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it exceeds `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class InputGuard:
    """Pure ASGI middleware: bounded bodies and inputs every layer below can store."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        max_import_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.max_import_bytes = max_import_bytes or max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = query_problem(scope)
        if problem:
            await self._refuse(scope, receive, send, 422, problem)
            return
        limit = self.max_upload_bytes if _is_upload(scope) else self.max_body_bytes
        if limit == self.max_upload_bytes and scope["path"] == IMPORT_PATH:
            limit = self.max_import_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, receive, send, 413, ("body", _too_large(limit)))
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE") and not declared:
            await self.app(scope, receive, send)
            return
        body = await _read(receive, limit)
        if body is None:
            await self._refuse(scope, receive, send, 413, ("body", _too_large(limit)))
            return
        problem = json_problem(body) if body and _is_json(scope) else None
        if problem:
            await self._refuse(scope, receive, send, 422, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, problem: tuple[str, str]
    ) -> None:
        field, reason = problem
        response = error_response(scope, status, {"detail": f"{field}: {reason}", "field": field})
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that hands the buffered body over once, then waits as usual."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
