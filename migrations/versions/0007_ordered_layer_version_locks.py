"""ordered layer version locks

Writers that touched several layers could deadlock at commit on `layer_versions` (one
acknowledged create was lost that way): every bump now locks all version rows in layer
order first. The functions live in migrations/sql/0007_bump_layer_versions.sql.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 06:00:00
"""

from pathlib import Path

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0007_bump_layer_versions.sql"
LOCK_ALL = "PERFORM 1 FROM layer_versions ORDER BY layer FOR UPDATE;"


def upgrade() -> None:
    op.execute(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    lines = SQL.read_text(encoding="utf-8").splitlines(keepends=True)
    op.execute("".join(line for line in lines if LOCK_ALL not in line))
