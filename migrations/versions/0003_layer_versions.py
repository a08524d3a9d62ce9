"""layer versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:42:11.850167
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


# Which layers' tiles a write to each table can change.
LAYERS_TOUCHED = {
    "enterprises": ["enterprises", "risk_points", "hazard_sources"],
    "hazard_sources": ["hazard_sources"],
    "public_zones": ["public_zones"],
    "risk_points": ["risk_points"],
    "emergency_resources": ["emergency_resources"],
    "region_counts": ["regions", "grid"],
    "regions": ["regions"],
    "grid_cells": ["grid"],
}

BUMP = """
CREATE FUNCTION bump_layer_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE layer_versions SET version = version + 1 WHERE layer = ANY(TG_ARGV);
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.create_table('layer_versions',
    sa.Column('layer', sa.String(length=40), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('layer', name=op.f('pk_layer_versions'))
    )

    op.execute(BUMP)
    layers = sorted({layer for touched in LAYERS_TOUCHED.values() for layer in touched})
    op.execute("INSERT INTO layer_versions (layer, version) VALUES "
               + ", ".join(f"('{layer}', 1)" for layer in layers))
    for table, touched in LAYERS_TOUCHED.items():
        arguments = ", ".join(f"'{layer}'" for layer in touched)
        op.execute(f"CREATE TRIGGER {table}_layer_versions "
                   f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION bump_layer_versions({arguments})")

def downgrade() -> None:
    for table in LAYERS_TOUCHED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_layer_versions ON {table}")
    op.execute("DROP FUNCTION IF EXISTS bump_layer_versions()")
    op.drop_table('layer_versions')
