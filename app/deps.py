"""FastAPI dependency aliases, declared once: the session and the caller's scope."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from app.audit.service import tell_database_who
from app.auth import tokens
from app.auth.scope import PUBLIC_SCOPE, Scope
from app.auth.service import UserCache
from app.db import get_search_session, get_session, run_in_session_thread
from app.errors import Unauthorized
from app.http_errors import request_id_of

SessionDep = Annotated[Session, Depends(get_session)]
# Nearest-first searches: autocommit, read-only (app.db.SEARCH_SETTINGS).
SearchSessionDep = Annotated[Session, Depends(get_search_session)]

# auto_error=False: without a token the caller is the public, not an error.
bearer_token = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_user_cache(request: Request) -> UserCache:
    """The process's cache of users' scopes (created with the app)."""
    cache: UserCache = request.app.state.user_cache
    return cache


async def get_scope(
    request: Request,
    session: SessionDep,
    token: Annotated[str | None, Depends(bearer_token)],
    users: Annotated[UserCache, Depends(get_user_cache)],
) -> Scope:
    """The caller's scope: the public without a token, else the token's user's.

    A cached user needs no database round trip (warm tiles stay on the event loop); a
    disabled user or one whose password changed gets 401 at once in this process, within
    `user_cache_seconds` in the others.
    """
    scope = PUBLIC_SCOPE
    if token:
        claims = tokens.verify(token, "access")
        entry = users.get(claims.user_id) or await run_in_session_thread(
            session, users.load, session, claims.user_id
        )
        if entry is None or entry.disabled or entry.token_version != claims.token_version:
            raise Unauthorized("the access token was revoked", field="Authorization")
        scope = entry.scope
    client = request.client.host if request.client else None
    tell_database_who(
        session, scope=scope, client_address=client, request_id=request_id_of(request.scope)
    )
    return scope


ScopeDep = Annotated[Scope, Depends(get_scope)]
