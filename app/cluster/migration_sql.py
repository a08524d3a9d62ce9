"""What the migrations that distribute tables share: the probe for Citus, the SQL
splitter, the statement-by-statement upgrade and the downgrade refusal (one home, instead
of each migration repeating them)."""

import re
from pathlib import Path

from alembic import op
from sqlalchemy import Connection, text

# Comments, quoted strings, dollar-quoted bodies, or a statement's end.
TOKEN = re.compile(r"--[^\n]*|'(?:[^']|'')*'|(\$[A-Za-z_]*\$)|;")


def distributed(connection: Connection) -> bool:
    """True on a database with the citus extension (a coordinator)."""
    query = text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
    return bool(connection.execute(query).scalar())


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


def upgrade_distributed(script: Path) -> bool:
    """On a distributed database, run `script` statement by statement; True if it ran.

    Each statement commits on its own (after the earlier migrations): Citus gives the
    workers a distributed table's sequences over one connection and registers them over
    another, which sees them only once committed. A failure leaves the database partly
    distributed: a migration runs once, on a new database; make it again and rerun.
    Without citus: nothing, False.
    """
    if not distributed(op.get_bind()):
        return False
    with op.get_context().autocommit_block():
        for statement in statements(script.read_text(encoding="utf-8")):
            op.execute(statement)
    return True


def refuse_distributed_downgrade() -> None:
    """Refuse to downgrade a distributed database (a single node's downgrade goes on)."""
    if distributed(op.get_bind()):
        raise NotImplementedError(
            "a distributed database is not un-distributed: restore a single-node backup"
        )
