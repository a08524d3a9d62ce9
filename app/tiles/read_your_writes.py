"""A write is answered only once this process has heard the versions it bumped.

Layer and tile-cell versions reach an API process as notifications (versions.py):
PostgreSQL delivers them at commit, but the listener thread reads them a moment later.
Without waiting, a client that writes and at once asks for the tile that shows the write
could get the copy cached under the old version. So a transaction that wrote sends one
more notification, a token, just before it commits; notifications arrive in commit order,
so once the listener has heard the token it has applied every version the write bumped,
and only then does the commit return to the request. (Other API processes get the same
notifications from PostgreSQL at the same moment; their listeners apply them as fast.)
Without a live listener versions are read from the tables, and nothing waits.
"""

import logging
import threading
import uuid
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from app.tiles.versions import SYNC_CHANNEL, LayerVersions

# Statements that change rows (the command tag psycopg reports after each statement).
WRITE_COMMANDS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "COPY"})
# Longest wait for the listener; past it the answer leaves anyway (and is logged).
WAIT_S = 2.0
_WROTE = "riskatlas_wrote"
log = logging.getLogger(__name__)

_listener: LayerVersions | None = None
_this_thread = threading.local()


def follow(versions: LayerVersions | None) -> None:
    """Make writes of this process wait for `versions` (None: for nothing)."""
    global _listener  # one listener per process, set by the app's lifespan
    _listener = versions


@event.listens_for(Engine, "begin")
def _start_afresh(connection: Connection) -> None:
    connection.info.pop(_WROTE, None)
    # A token left by a commit that failed after sending it: PostgreSQL drops the
    # notifications of a transaction that did not commit, so there is nothing to wait for.
    pending = _take_pending()
    if pending is not None:
        pending[0].forget(pending[1])


@event.listens_for(Engine, "after_cursor_execute")
def _note_write(connection: Connection, cursor: Any, *_: Any) -> None:
    command = (getattr(cursor, "statusmessage", None) or "").partition(" ")[0]
    if command in WRITE_COMMANDS:
        connection.info[_WROTE] = True


@event.listens_for(Engine, "commit")
def _send_token(connection: Connection) -> None:
    listener = _listener
    if not connection.info.pop(_WROTE, False) or listener is None or not listener.live:
        return
    token = uuid.uuid4().hex
    _this_thread.pending = (listener, token, listener.expect(token))
    # On the driver's connection: a statement of SQLAlchemy's would run these events again.
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    dbapi_connection.execute("SELECT pg_notify(%s, %s)", (SYNC_CHANNEL, token))


@event.listens_for(Session, "after_commit")
def _wait_until_heard(_: Session) -> None:
    pending = _take_pending()
    if pending is None:
        return
    listener, token, heard = pending
    if not heard.wait(WAIT_S):
        listener.forget(token)
        log.warning("the version listener did not hear a write within %.1f s", WAIT_S)


def _take_pending() -> tuple[LayerVersions, str, threading.Event] | None:
    pending: tuple[LayerVersions, str, threading.Event] | None = getattr(
        _this_thread, "pending", None
    )
    _this_thread.pending = None
    return pending
