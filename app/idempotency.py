"""Idempotent writes: a retried submission with the same `Idempotency-Key` is recorded once.

A phone on a weak connection cannot tell a lost request from a lost answer, so it sends
its write again. Every POST of an API router (`app.db.api_router`) accepts an
`Idempotency-Key` header. With one, the endpoint's transaction first claims
(user, key) in `idempotency_keys` with a hash of the request, runs, and stores its answer
there before the same COMMIT. A retry — same user, same key, same request — gets that
first answer (status and body, header `Idempotent-Replayed: true`) and writes nothing. The
same key with a different request is refused (422 naming the header). Two copies racing
each other queue on the key's unique index: the second waits for the first to commit and
then replays it; if the first failed, nothing was claimed and the second runs.

Errors are not stored: a refused request may be corrected and sent again with its key.
Rows are keyed by user_id (the column a distributed table would be split on); the public
(tip-offs) shares user 0. `purge_expired` deletes keys older than `KEEP_DAYS`.
"""

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from app.auth.scope import Scope
from app.errors import InvalidInput

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP_DAYS = 7
# Routes whose answer must not be replayed to a stranger or kept: sign-in hands out tokens.
EXEMPT_ROUTES = frozenset({"sign_in", "refresh"})

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        pattern=r"^[\x21-\x7e]{1,100}$",
        description="a retried submission with the same key is recorded once and answered "
        "as the first time; the same key with a different request is refused (422)",
    ),
]

_KEY_PARAM = "idempotency_key"
_REQUEST_PARAM = "idempotency_request__"
_RESPONSE_PARAM = "idempotency_response__"


def request_hash(method: str, path: str, arguments: dict[str, Any]) -> str:
    """SHA-256 of the request as the endpoint sees it: method, path and parsed arguments
    (bodies as validated models, uploads by their bytes), so formatting does not count."""
    canonical = {name: _canonical(value) for name, value in sorted(arguments.items())}
    text_form = json.dumps([method, path, canonical], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text_form.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, UploadFile):
        data = value.file.read()
        value.file.seek(0)
        return {"upload": hashlib.sha256(data).hexdigest()}
    return jsonable_encoder(value)


def claim(
    session: Session, *, user_id: int, key: str, digest: str, method: str, path: str
) -> dict[str, Any] | None:
    """Claim the key for this request in the caller's transaction: None when it is new,
    else the first answer ({status, body}); 422 when the key was used for another request."""
    inserted = session.execute(
        text("""
        INSERT INTO idempotency_keys (user_id, key, request_hash, method, path)
        VALUES (:user_id, :key, :digest, :method, :path)
        ON CONFLICT (user_id, key) DO NOTHING RETURNING 1"""),
        {"user_id": user_id, "key": key, "digest": digest, "method": method, "path": path},
    ).first()
    if inserted is not None:
        return None
    stored = session.execute(
        text("SELECT request_hash, response FROM idempotency_keys WHERE user_id = :u AND key = :k"),
        {"u": user_id, "k": key},
    ).one()
    if stored.request_hash != digest or stored.response is None:
        raise InvalidInput(
            f"this {HEADER} was used for a different request; use a new key for a new one",
            field=HEADER,
        )
    answer: dict[str, Any] = stored.response
    return answer


def remember(session: Session, *, user_id: int, key: str, status: int, body: Any) -> None:
    """Store the first answer under the claimed key (same transaction as the write)."""
    session.execute(
        text("""
        UPDATE idempotency_keys SET response = CAST(:response AS jsonb)
         WHERE user_id = :user_id AND key = :key"""),
        {
            "user_id": user_id,
            "key": key,
            "response": json.dumps({"status": status, "body": jsonable_encoder(body)}),
        },
    )


def purge_expired(session: Session, *, days: int = KEEP_DAYS) -> int:
    """Delete keys older than `days`; the number deleted."""
    result = session.execute(
        text("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(days => :d)"),
        {"d": days},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def applies_to(endpoint: Callable[..., Any], methods: set[str] | None, name: str | None) -> bool:
    """True for a synchronous POST endpoint with a database session, not exempt."""
    if not methods or "POST" not in methods or (name or endpoint.__name__) in EXEMPT_ROUTES:
        return False
    if inspect.iscoroutinefunction(endpoint) or getattr(endpoint, "__idempotent__", False):
        return False
    # SessionDep is Annotated[Session, …]: its __origin__ is Session.
    return any(
        getattr(p.annotation, "__origin__", p.annotation) is Session
        for p in inspect.signature(endpoint).parameters.values()
    )


def idempotent(endpoint: Callable[..., Any], *, status_code: int | None) -> Callable[..., Any]:
    """Wrap a synchronous write endpoint (run inside its transaction) with the key check."""
    signature = inspect.signature(endpoint)
    declares_key = _KEY_PARAM in signature.parameters
    # FastAPI fills one parameter of each of these types: share the endpoint's own if any.
    own = {p.annotation: name for name, p in signature.parameters.items()}
    request_param = own.get(Request, _REQUEST_PARAM)
    response_param = own.get(Response, _RESPONSE_PARAM)
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind)
        for name, kind in ((request_param, Request), (response_param, Response))
        if name not in signature.parameters
    ]
    if not declares_key:
        extra.append(
            inspect.Parameter(
                _KEY_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=IdempotencyKey, default=None
            )
        )
    parameters = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        else p
        for p in signature.parameters.values()
    ]

    @functools.wraps(endpoint)
    def run(**kwargs: Any) -> Any:
        request: Request = kwargs[request_param]
        response: Response = kwargs[response_param]
        for name in (_REQUEST_PARAM, _RESPONSE_PARAM):
            kwargs.pop(name, None)
        key = kwargs[_KEY_PARAM] if declares_key else kwargs.pop(_KEY_PARAM)
        if key is None:
            return endpoint(**kwargs)
        session = next(v for v in kwargs.values() if isinstance(v, Session))
        scope = next((v for v in kwargs.values() if isinstance(v, Scope)), None)
        user_id = scope.user_id if scope is not None and scope.user_id is not None else 0
        arguments = {
            name: value
            for name, value in kwargs.items()
            if not isinstance(value, Session | Scope | Request | Response) and name != _KEY_PARAM
        }
        digest = request_hash(request.method, request.url.path, arguments)
        first = claim(
            session,
            user_id=user_id,
            key=key,
            digest=digest,
            method=request.method,
            path=request.url.path[:400],
        )
        if first is not None:
            response.headers[REPLAYED_HEADER] = "true"
            response.status_code = int(first["status"])
            return first["body"]
        result = endpoint(**kwargs)
        remember(session, user_id=user_id, key=key, status=status_code or 200, body=result)
        return result

    run.__signature__ = signature.replace(parameters=[*parameters, *extra])  # type: ignore[attr-defined]
    run.__idempotent__ = True  # type: ignore[attr-defined]
    return run
