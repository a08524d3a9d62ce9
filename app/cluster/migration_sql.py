"""What the migrations that distribute tables share: the probe for Citus and the SQL
splitter (one home, instead of each migration loading another's module)."""

import re

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
