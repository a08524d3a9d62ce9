"""import progress

`import_progress`: how far an import that a page is waiting for has got (stage, rows done
of rows), written by the import on a connection of its own (autocommit) while its own
transaction, still open, holds the rows; read by `GET /api/imports/progress/{token}` from
any API process. Unlogged and transient: a row per import, keyed by the user and a token
the page chose; `riskatlas daily` deletes rows older than a day.

Revision ID: 0019
Revises: 0017
Create Date: 2026-11-29 12:50:00
"""

from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE UNLOGGED TABLE import_progress (
            user_id integer NOT NULL,
            token uuid NOT NULL,
            stage varchar(20) NOT NULL,
            done integer NOT NULL,
            total integer NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_import_progress PRIMARY KEY (user_id, token)
        )""")
    op.execute("CREATE INDEX ix_import_progress_updated_at ON import_progress (updated_at)")


def downgrade() -> None:
    op.drop_table("import_progress")
