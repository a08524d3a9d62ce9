"""The audit log: who is writing (told to the database per transaction) and reading it back.

Database triggers (migrations/sql/0008_audit.sql) write one row per changed row, with the
actor taken from transaction-local settings that `tell_database_who` makes the session set
at the start of every transaction. Jobs without an actor (loads, rebuilds) are not audited.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event, select, text
from sqlalchemy.orm import Session, SessionTransaction

from app.audit.models import AuditEntry
from app.auth.scope import Scope

ACTOR_KEY = "riskatlas_actor"
MAX_AUDIT_ROWS = 500

_SET_ACTOR = text(
    "SELECT set_config('riskatlas.actor', :actor, true),"
    " set_config('riskatlas.actor_id', :actor_id, true),"
    " set_config('riskatlas.client_address', :client_address, true),"
    " set_config('riskatlas.request_id', :request_id, true)"
)


def tell_database_who(
    session: Session,
    *,
    scope: Scope,
    client_address: str | None,
    request_id: str | None,
    actor: str | None = None,
) -> None:
    """Have every transaction of this session name the user (or `actor`, for a command
    line), address and request."""
    session.info[ACTOR_KEY] = {
        "actor": actor or scope.username or "",
        "actor_id": str(scope.user_id or ""),
        "client_address": client_address or "",
        "request_id": request_id or "",
    }


def reads_only(session: Session) -> None:
    """This session's transactions write nothing (a tile render): they need not name the
    actor, which saves a round trip per transaction."""
    session.info.pop(ACTOR_KEY, None)


@event.listens_for(Session, "after_begin")
def _set_actor(session: Session, _: SessionTransaction, connection: Connection) -> None:
    actor = session.info.get(ACTOR_KEY)
    if actor is not None:
        connection.execute(_SET_ACTOR, actor)


def render_entry(entry: AuditEntry) -> dict[str, Any]:
    """An audit row for the API."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "user_id": entry.user_id,
        "username": entry.username,
        "action": entry.action,
        "table": entry.table_name,
        "row_id": entry.row_id,
        "county_code": entry.county_code,
        "before": entry.before,
        "after": entry.after,
        "client_address": entry.client_address,
        "request_id": entry.request_id,
    }


def query(
    session: Session,
    *,
    scope: Scope,
    table: str | None = None,
    row_id: str | None = None,
    username: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit rows, newest first, limited to the counties of the caller's scope."""
    scope.require_role("admin", "official")
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(limit, MAX_AUDIT_ROWS))
    if scope.role != "admin":
        statement = statement.where(AuditEntry.county_code.startswith(scope.read_prefix))
    if table:
        statement = statement.where(AuditEntry.table_name == table)
    if row_id:
        statement = statement.where(AuditEntry.row_id == row_id)
    if username:
        statement = statement.where(AuditEntry.username == username)
    if start:
        statement = statement.where(AuditEntry.at >= start)
    if end:
        statement = statement.where(AuditEntry.at <= end)
    return [render_entry(entry) for entry in session.scalars(statement)]
