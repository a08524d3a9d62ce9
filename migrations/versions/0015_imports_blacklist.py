"""imports blacklist

- `imports`: one row per committed bulk import (who, layer, file, counts); dry runs write
  nothing, not even this;
- `blacklist_entries`: the 黑名单 of production units — reason, legal basis, the deciding
  official, the listing period, removal (expiry or review) — keyed by county_code (the
  sharding column) with 64-bit ids and audited like every written table;
- `enforcement_actions`: punishments, bans of illegal enterprises and closures (the other
  three rows of the monthly 五个一批 table), keyed and audited the same way.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("layer", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("crs", sa.String(length=10), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_table(
        "blacklist_entries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("county_code", sa.CHAR(length=6), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("listed_until", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("published", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("removal", sa.String(length=8), nullable=True),
        sa.Column("removal_note", sa.Text(), nullable=True),
        sa.Column("removed_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("listed_until >= decided_on", name=op.f("ck_blacklist_entries_period")),
        sa.CheckConstraint("removal IS NULL OR removal IN ('expired', 'review')",
                           name=op.f("ck_blacklist_entries_removal")),
        sa.CheckConstraint("(removal IS NULL) = (removed_on IS NULL)",
                           name=op.f("ck_blacklist_entries_removed")),
        sa.ForeignKeyConstraint(["county_code"], ["regions.code"],
                                name=op.f("fk_blacklist_entries_county_code_regions")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE",
                                name=op.f("fk_blacklist_entries_enterprise_id_enterprises")),
        sa.PrimaryKeyConstraint("county_code", "id", name=op.f("pk_blacklist_entries")),
    )
    op.create_index("ix_blacklist_entries_enterprise", "blacklist_entries", ["enterprise_id"])
    # At most one open listing per enterprise: a second decision extends or replaces it.
    op.create_index("uq_blacklist_entries_open", "blacklist_entries", ["enterprise_id"],
                    unique=True, postgresql_where=sa.text("removed_on IS NULL"))
    op.create_table(
        "enforcement_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("county_code", sa.CHAR(length=6), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("unit_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("fine_yuan", sa.Numeric(14, 2), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('punished', 'banned', 'closed')",
                           name=op.f("ck_enforcement_actions_kind")),
        sa.ForeignKeyConstraint(["county_code"], ["regions.code"],
                                name=op.f("fk_enforcement_actions_county_code_regions")),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="SET NULL",
                                name=op.f("fk_enforcement_actions_enterprise_id_enterprises")),
        sa.PrimaryKeyConstraint("county_code", "id", name=op.f("pk_enforcement_actions")),
    )
    op.create_index("ix_enforcement_actions_decided_on", "enforcement_actions",
                    ["decided_on"])
    for table in ("blacklist_entries", "enforcement_actions"):
        op.execute(f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE "
                   f"ON {table} FOR EACH ROW EXECUTE FUNCTION audit_row()")


def downgrade() -> None:
    op.drop_table("enforcement_actions")
    op.drop_table("blacklist_entries")
    op.drop_table("imports")
