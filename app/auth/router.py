"""Sign-in (OAuth2 password flow), token refresh, who am I, and users (admins)."""

from typing import Annotated, Any

from fastapi import Depends, Form, Header, Request, Response

from app.auth import service
from app.auth.schemas import MeOut, RefreshIn, TokenOut, UserIn, UserOut, UserPatch
from app.auth.service import UserCache
from app.crud import RowId, check_version, expected_version
from app.db import api_router
from app.deps import ScopeDep, SessionDep, get_user_cache

router = api_router(prefix="/api", tags=["auth"])
UsersDep = Annotated[UserCache, Depends(get_user_cache)]


@router.post("/auth/token", response_model=TokenOut)
def sign_in(
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=200)],
    request: Request,
    session: SessionDep,
) -> dict[str, Any]:
    """OAuth2 password flow (form fields `username`, `password`) → access and refresh tokens.

    Repeated failures for one account or one address get 429 for a while."""
    address = request.client.host if request.client else "unknown"
    user = service.authenticate(session, username=username, password=password, address=address)
    return service.token_pair(user)


@router.post("/auth/refresh", response_model=TokenOut)
def refresh(body: RefreshIn, session: SessionDep) -> dict[str, Any]:
    """A new token pair for a refresh token (revoked by a new password or disabling)."""
    return service.refresh(session, body.refresh_token)


@router.get("/auth/me", response_model=MeOut)
def me(scope: ScopeDep) -> dict[str, Any]:
    """Who is signed in, with what role and scope (the public when no token is sent)."""
    return {
        "username": scope.username,
        "role": scope.role,
        "display_name": scope.display_name,
        "scope": scope.describe(),
    }


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, scope: ScopeDep) -> list[dict[str, Any]]:
    """Every user (admins)."""
    scope.require_role("admin")
    return [service.render_user(user) for user in service.list_users(session)]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, session: SessionDep, scope: ScopeDep) -> dict[str, Any]:
    """Create a user with a role and its scope (admins)."""
    scope.require_role("admin")
    return service.render_user(service.create_user(session, **body.model_dump()))


@router.get("/users/{id}", response_model=UserOut)
def get_user(id: RowId, session: SessionDep, scope: ScopeDep, response: Response) -> dict[str, Any]:
    """One user (admins)."""
    scope.require_role("admin")
    user = service.get_user(session, id)
    response.headers["ETag"] = f'"{user.version}"'
    return service.render_user(user)


@router.patch("/users/{id}", response_model=UserOut)
def update_user(
    id: RowId,
    body: UserPatch,
    session: SessionDep,
    scope: ScopeDep,
    users: UsersDep,
    if_match: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    """Change a user's role, scope, name or password, or disable it (admins)."""
    scope.require_role("admin")
    user = service.get_user(session, id)
    check_version(user, expected_version(if_match, body), service.render_user)
    service.update_user(session, user, body.model_dump(exclude_unset=True, exclude={"version"}))
    users.forget(id)
    return service.render_user(user)
