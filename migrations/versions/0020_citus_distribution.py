"""citus distribution

On a database with the citus extension (a Citus coordinator with its workers, as
`riskatlas cluster up` or docker/compose.citus.yaml make it), distribute the located
tables by county_code, co-located, make the small tables their triggers read reference
tables, and keep the aggregates exact with triggers that write only co-located shards
(migrations/sql/0020_citus_distribution.sql, docs/scaling.md). Without citus: nothing.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 12:00:00
"""

import re
from pathlib import Path

from alembic import op
from sqlalchemy import text

revision = "0020"

down_revision = "0019"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0020_citus_distribution.sql"


def _distributed() -> bool:
    query = text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
    return bool(op.get_bind().execute(query).scalar())


# Comments, quoted strings, dollar-quoted bodies, or a statement's end.
TOKEN = re.compile(r"--[^\n]*|'(?:[^']|'')*'|(\$[A-Za-z_]*\$)|;")


def statements(script: str) -> list[str]:
    """The statements of an SQL script, one by one.

    Citus sends some DDL to the workers as the text the client sent: a whole script in
    one string would reach them entire, so each statement goes on its own.
    """
    found, start, position = [], 0, 0
    while match := TOKEN.search(script, position):
        position = match.end()
        if match.group(1):  # skip to the closing tag of the dollar quote
            position = script.index(match.group(1), position) + len(match.group(1))
        elif match.group(0) == ";":
            found.append(script[start:position].strip())
            start = position
    return [s for s in found if s.strip(";\n ")]


def upgrade() -> None:
    if not _distributed():
        return
    # Each statement commits on its own (after the earlier migrations): Citus gives the
    # workers a distributed table's sequences over one connection and registers them over
    # another, which sees them only once committed. A failure leaves the database partly
    # distributed: this runs once, on a new database; make it again and rerun.
    with op.get_context().autocommit_block():
        for statement in statements(SQL.read_text(encoding="utf-8")):
            op.execute(statement)


def downgrade() -> None:
    if _distributed():
        raise NotImplementedError(
            "a distributed database is not un-distributed: restore a single-node backup"
        )
