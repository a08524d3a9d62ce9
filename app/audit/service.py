"""The audit log: who is writing (told to the database per transaction) and reading it back.

Database triggers (migrations/sql/0008_audit.sql) write one row per changed row, with the
actor taken from transaction-local settings that `tell_database_who` makes the session set
at the start of every transaction. Jobs without an actor (loads, rebuilds) are not audited.

On a Citus cluster (migration 0023) the entries of located rows are written on the
workers, into `audit_log_located` (distributed by county); the settings are then made with
SET LOCAL, which Citus sends on to the workers (set_config() it does not), and readers
read both tables. A single-node database is untouched.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, MetaData, Row, Table, event, select, text
from sqlalchemy.orm import Session, SessionTransaction

from app.audit.models import AuditEntry
from app.auth.scope import Scope
from app.cluster.routing import distributed_tables

ACTOR_KEY = "riskatlas_actor"
MAX_AUDIT_ROWS = 500

AUDIT_LOG = cast(Table, AuditEntry.__table__)
# The cluster's entries of located rows (migration 0023): audit_log's columns.
LOCATED_AUDIT_LOG = AUDIT_LOG.to_metadata(MetaData(), name="audit_log_located")


def on_cluster(connection: Connection) -> bool:
    """True where located rows are audited on the workers (a Citus database, 0023)."""
    return LOCATED_AUDIT_LOG.name in distributed_tables(connection)


def audit_table(connection: Connection) -> str:
    """The table the entries of located rows go to: audit_log_located on the cluster
    (where its shard triggers write them), else audit_log."""
    return (LOCATED_AUDIT_LOG if on_cluster(connection) else AUDIT_LOG).name


def set_for_transaction(connection: Connection, settings: dict[str, str]) -> None:
    """Set `riskatlas.<name>` settings until the transaction ends, where every trigger
    sees them: set_config() on one PostgreSQL; on the cluster SET LOCAL statements, which
    Citus sends to every worker the transaction reaches (set_config() it does not; a SET
    takes no parameters: the values are quoted here). One round trip either way."""
    if on_cluster(connection):
        quoted = {name: "'" + value.replace("'", "''") + "'" for name, value in settings.items()}
        connection.exec_driver_sql(
            "; ".join(
                [
                    "SET LOCAL citus.propagate_set_commands = 'local'",
                    *(f"SET LOCAL riskatlas.{name} = {value}" for name, value in quoted.items()),
                ]
            )
        )
    else:
        calls = ", ".join(f"set_config('riskatlas.{name}', :{name}, true)" for name in settings)
        connection.execute(text(f"SELECT {calls}"), settings)


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
    if actor is None:
        return
    set_for_transaction(connection, actor)


def newest(
    session: Session,
    where: Callable[[Table], list[ColumnElement[bool]]],
    limit: int,
) -> list[Row[Any]]:
    """The newest `limit` entries matching `where` (given the table), newest first: from
    audit_log, and on the cluster from audit_log_located too (each worker numbers its
    entries from its own range, so there they are ordered by moment, then id)."""
    if not on_cluster(session.connection()):
        statement = select(AUDIT_LOG).where(*where(AUDIT_LOG))
        return list(session.execute(statement.order_by(AUDIT_LOG.c.id.desc()).limit(limit)))
    found: list[Row[Any]] = []
    for table in (AUDIT_LOG, LOCATED_AUDIT_LOG):
        statement = select(table).where(*where(table))
        found += session.execute(
            statement.order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
        )
    return sorted(found, key=lambda entry: (entry.at, entry.id), reverse=True)[:limit]


def render_entry(entry: Row[Any]) -> dict[str, Any]:
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
    table_name: str | None = None,
    row_id: str | None = None,
    username: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit rows, newest first, limited to the counties of the caller's scope."""
    scope.require_role("admin", "official")

    def where(table: Table) -> list[ColumnElement[bool]]:
        conditions = []
        if scope.role != "admin":
            conditions.append(table.c.county_code.startswith(scope.read_prefix))
        if table_name:
            conditions.append(table.c.table_name == table_name)
        if row_id:
            conditions.append(table.c.row_id == row_id)
        if username:
            conditions.append(table.c.username == username)
        if start:
            conditions.append(table.c.at >= start)
        if end:
            conditions.append(table.c.at <= end)
        return conditions

    return [render_entry(entry) for entry in newest(session, where, min(limit, MAX_AUDIT_ROWS))]
