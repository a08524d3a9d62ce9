"""notify layer versions

Every bump of a layer version is also announced with NOTIFY on channel
`riskatlas_layers` (payload `layer=version`). PostgreSQL delivers notifications only when
the transaction commits, so API processes can keep layer versions in memory and serve
cached tiles without asking the database on every request.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:10:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BUMP = """
CREATE OR REPLACE FUNCTION bump_layer_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped record;
BEGIN
    FOR bumped IN UPDATE layer_versions SET version = version + 1
                   WHERE layer = ANY(TG_ARGV) RETURNING layer, version LOOP
        PERFORM pg_notify('riskatlas_layers', bumped.layer || '=' || bumped.version);
    END LOOP;
    RETURN NULL;
END $$;
"""

BUMP_ONCE = """
CREATE OR REPLACE FUNCTION bump_layer_versions_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    flag text := 'riskatlas.bumped_' || TG_TABLE_NAME;
    moment text := txid_current()::text || '@' || statement_timestamp()::text;
    bumped record;
BEGIN
    IF current_setting(flag, true) IS DISTINCT FROM moment THEN
        PERFORM set_config(flag, moment, true);
        FOR bumped IN UPDATE layer_versions SET version = version + 1
                       WHERE layer = ANY(TG_ARGV) RETURNING layer, version LOOP
            PERFORM pg_notify('riskatlas_layers', bumped.layer || '=' || bumped.version);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(BUMP)
    op.execute(BUMP_ONCE)


def downgrade() -> None:
    silent = "NULL;  -- no notification"
    notify = "PERFORM pg_notify('riskatlas_layers', bumped.layer || '=' || bumped.version);"
    op.execute(BUMP.replace(notify, silent))
    op.execute(BUMP_ONCE.replace(notify, silent))
