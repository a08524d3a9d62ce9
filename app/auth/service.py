"""Users: creation with a checked scope, sign-in with throttling, the scope of a user."""

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.auth import passwords, tokens
from app.auth.models import LoginFailure, User
from app.auth.scope import NO_MATCH_PREFIX, ROLES, Scope, department_sectors, region_prefix
from app.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from app.regions.models import GridCell, Region
from app.settings import get_settings
from app.sites.models import Enterprise

USER_FIELDS = (
    "id",
    "username",
    "role",
    "display_name",
    "region_code",
    "department",
    "grid_cells",
    "enterprise_id",
    "disabled",
    "version",
)


def render_user(user: User) -> dict[str, Any]:
    """A user for the API (never the password hash)."""
    return {name: getattr(user, name) for name in USER_FIELDS}


# Checking what a user is given


def _check_scope(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """Validate role and scope fields together; return them normalised for the role."""
    role = values["role"]
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}", field="role", allowed=list(ROLES))
    scoped: dict[str, Any] = {
        "region_code": None,
        "department": None,
        "grid_cells": [],
        "enterprise_id": None,
    }
    if role in ("official", "planner"):
        code = values.get("region_code")
        if not code or session.get(Region, code) is None:
            raise InvalidInput(f"{code!r} is not a region code", field="region_code")
        scoped["region_code"] = code
    if role == "official" and values.get("department"):
        if values["department"] not in department_sectors():
            raise InvalidInput(
                f"unknown department {values['department']!r}",
                field="department",
                allowed=sorted(department_sectors()),
            )
        scoped["department"] = values["department"]
    if role == "warden":
        cells = list(dict.fromkeys(values.get("grid_cells") or []))
        found = session.execute(
            select(GridCell.code, GridCell.county_code).where(GridCell.code.in_(cells))
        ).all()
        missing = sorted(set(cells) - {code for code, _ in found})
        if not cells or missing:
            raise InvalidInput(
                f"unknown grid cell {missing[0] if missing else ''!r}".strip(), field="grid_cells"
            )
        if len({county for _, county in found}) > 1:
            raise InvalidInput("a warden's grid cells lie in one county", field="grid_cells")
        scoped["grid_cells"] = cells
    if role == "enterprise":
        enterprise_id = values.get("enterprise_id")
        if enterprise_id is None or session.get(Enterprise, enterprise_id) is None:
            raise InvalidInput(f"enterprise {enterprise_id} does not exist", field="enterprise_id")
        scoped["enterprise_id"] = enterprise_id
    return {"role": role, **scoped}


def _check_password(password: str) -> None:
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password has at least {passwords.MIN_PASSWORD_LENGTH} characters", field="password"
        )


# Users


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    **scope: Any,
) -> User:
    """Create a user; its scope must name things that exist."""
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", field="username")
    _check_password(password)
    user = User(
        username=username,
        password_hash=passwords.hash_password(password),
        display_name=display_name,
        **_check_scope(session, {"role": role, **scope}),
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, id_or_name: int | str) -> User:
    """A user by id or username, or 404."""
    column = User.id if isinstance(id_or_name, int) else User.username
    user = session.scalar(select(User).where(column == id_or_name))
    if user is None:
        raise NotFound(f"user {id_or_name} not found", field="id")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def update_user(session: Session, user: User, changes: dict[str, Any]) -> User:
    """Change role, scope, name, password or status; old tokens die with a new password
    or a disabled account."""
    password = changes.pop("password", None)
    if {"role", "region_code", "department", "grid_cells", "enterprise_id"} & changes.keys():
        current = {
            name: getattr(user, name)
            for name in ("role", "region_code", "department", "grid_cells", "enterprise_id")
        }
        for name, value in _check_scope(session, {**current, **changes}).items():
            setattr(user, name, value)
    if "display_name" in changes:
        user.display_name = changes["display_name"]
    if password is not None:
        _check_password(password)
        user.password_hash = passwords.hash_password(password)
        user.token_version += 1
    if changes.get("disabled") is not None and changes["disabled"] != user.disabled:
        user.disabled = changes["disabled"]
        user.token_version += 1
    session.flush()
    return user


# Signing in


def _throttle(session: Session, username: str, address: str) -> None:
    settings = get_settings()
    since = func.now() - timedelta(minutes=settings.login_window_minutes)
    for column, value, limit in (
        (LoginFailure.username, username, settings.login_failures_per_account),
        (LoginFailure.address, address, settings.login_failures_per_address),
    ):
        failures = (
            session.scalar(
                select(func.count())
                .select_from(LoginFailure)
                .where(column == value, LoginFailure.at > since)
            )
            or 0
        )
        if failures >= limit:
            raise TooManyRequests(
                f"too many failed sign-ins; retry in {settings.login_window_minutes} minutes",
                field="username" if column is LoginFailure.username else None,
                retry_after_s=settings.login_window_minutes * 60,
            )


def authenticate(session: Session, *, username: str, password: str, address: str) -> User:
    """The user whose password this is, or 401; repeated failures give 429.

    A failure is recorded in its own transaction so the refusal cannot roll it back.
    """
    _throttle(session, username, address)
    user = session.scalar(select(User).where(User.username == username))
    valid = passwords.verify_password(
        user.password_hash if user else passwords.decoy_hash(), password
    )
    if user is None or not valid or user.disabled:
        session.add(LoginFailure(username=username[:64], address=address[:64]))
        session.commit()
        raise Unauthorized(
            "wrong username or password, or the account is disabled", field="password"
        )
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return user


def token_pair(user: User) -> dict[str, Any]:
    """The OAuth2 token response for a user."""
    access, expires_in = tokens.issue(user.id, user.token_version, "access")
    refresh, _ = tokens.issue(user.id, user.token_version, "refresh")
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": expires_in,
    }


def refresh(session: Session, refresh_token: str) -> dict[str, Any]:
    """A new token pair for a valid refresh token of an active user."""
    claims = tokens.verify(refresh_token, "refresh", field="refresh_token")
    user = session.get(User, claims.user_id)
    if user is None or user.disabled or user.token_version != claims.token_version:
        raise Unauthorized("the refresh token was revoked", field="refresh_token")
    return token_pair(user)


# The scope of a user


def scope_of(session: Session, user: User) -> Scope:
    """Build the scope a user acts in (reads the user's region, cells or enterprise)."""
    scope = partial(
        Scope,
        role=user.role,
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
    )
    if user.role == "admin":
        return scope(write_prefix="")
    if user.role in ("official", "planner"):
        code = user.region_code or ""
        sectors = department_sectors().get(user.department) if user.department else None
        return scope(
            region_code=code,
            read_prefix=region_prefix(code),
            write_prefix=region_prefix(code) if user.role == "official" else None,
            department=user.department,
            sectors=sectors,
        )
    if user.role == "warden":
        county = session.scalar(
            select(GridCell.county_code).where(GridCell.code.in_(user.grid_cells)).limit(1)
        )
        return scope(
            region_code=county,
            read_prefix=county or NO_MATCH_PREFIX,
            write_prefix=county or NO_MATCH_PREFIX,
            grid_cells=tuple(user.grid_cells),
        )
    county = session.scalar(
        select(Enterprise.county_code).where(Enterprise.id == user.enterprise_id)
    )
    return scope(
        region_code=county,
        read_prefix=county or NO_MATCH_PREFIX,
        write_prefix=county or NO_MATCH_PREFIX,
        enterprise_id=user.enterprise_id,
    )


@dataclass(frozen=True)
class _CachedUser:
    scope: Scope
    token_version: int
    disabled: bool
    loaded_at: float


class UserCache:
    """Scopes of recently seen users, so most requests need no database round trip.

    Entries live `user_cache_seconds`; changes made through this process drop them at once.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._users: dict[int, _CachedUser] = {}
        self._lock = threading.Lock()

    def get(self, user_id: int) -> _CachedUser | None:
        """The cached user, while fresh."""
        with self._lock:
            entry = self._users.get(user_id)
        if entry is None or time.monotonic() - entry.loaded_at > self.seconds:
            return None
        return entry

    def load(self, session: Session, user_id: int) -> _CachedUser | None:
        """Read the user and its scope from the database (None: no such user)."""
        user = session.get(User, user_id)
        if user is None:
            return None
        entry = _CachedUser(
            scope_of(session, user), user.token_version, user.disabled, time.monotonic()
        )
        with self._lock:
            self._users[user_id] = entry
        return entry

    def forget(self, user_id: int) -> None:
        """Drop a user after a change to it."""
        with self._lock:
            self._users.pop(user_id, None)
