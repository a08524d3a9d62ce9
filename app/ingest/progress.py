"""Progress of an import that a page is waiting for, told across API processes.

The import's own transaction stays open until every row is written, so what it has done
is invisible to other connections: the recorder writes its progress through a connection
of its own in autocommit, at most every `INTERVAL_S` (and at each new stage), and any
process answers the page's poll from that row (migration 0019).
"""

import time
import uuid
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

INTERVAL_S = 0.5
KEEP = "1 day"


class ProgressRecorder:
    """A `Progress` (stage, done, total) that stores itself for the page's poll."""

    def __init__(self, engine: Engine, *, user_id: int, token: uuid.UUID) -> None:
        self.engine = engine
        self.key = {"user_id": user_id, "token": token}
        self.stage = ""
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.last < INTERVAL_S and done < total:
            return
        self.stage, self.last = stage, now
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(
                text("""
                INSERT INTO import_progress (user_id, token, stage, done, total)
                VALUES (:user_id, :token, :stage, :done, :total)
                ON CONFLICT (user_id, token) DO UPDATE
                   SET stage = EXCLUDED.stage, done = EXCLUDED.done, total = EXCLUDED.total,
                       updated_at = now()"""),
                {**self.key, "stage": stage[:20], "done": done, "total": total},
            )


def read(session: Session, *, user_id: int, token: uuid.UUID) -> dict[str, Any]:
    """The stored progress of the caller's import `token`; stage `waiting` until it has
    started (a page polls from the end of its upload, which may come first)."""
    row = (
        session.execute(
            text(
                "SELECT stage, done, total, updated_at FROM import_progress"
                " WHERE user_id = :user_id AND token = :token"
            ),
            {"user_id": user_id, "token": token},
        )
        .mappings()
        .first()
    )
    if row is None:
        return {"stage": "waiting", "done": 0, "total": 0, "updated_at": None}
    return {**row, "updated_at": row["updated_at"].isoformat()}


def purge(session: Session) -> int:
    """Delete progress older than a day (the daily run); how many rows."""
    result = session.execute(
        text(f"DELETE FROM import_progress WHERE updated_at < now() - interval '{KEEP}'")
    )
    return int(getattr(result, "rowcount", 0))
