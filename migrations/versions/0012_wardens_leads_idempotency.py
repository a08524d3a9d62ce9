"""wardens leads idempotency

- `idempotency_keys`: one row per (user, Idempotency-Key) a write was sent with: the
  request's hash and the first answer, so a retried submission is recorded once and the
  retry gets that answer (app/idempotency.py). Keyed by user_id (the distribution column).
- `leads`: patrol leads (巡查线索) from wardens and tip-offs (举报) from the public — a
  new, closed or moved enterprise, an unregistered or illegal operation — that officials
  confirm (linking an enterprise) or dismiss. Located: county_code and grid_code come from
  the geometry (the region-codes trigger); 64-bit ids, key led by county_code.
- Nearby: partial GiST indexes of the red and orange rows of risk points and enterprises,
  so a warden's "red/orange near me" walks only those rows in distance order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 08:30:00
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

LEAD_KINDS = ("new_enterprise", "closed_enterprise", "moved_enterprise", "unregistered",
              "illegal_operation", "other")
LEVEL_INDEXED = ("risk_points", "enterprises")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.CHAR(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])

    op.create_table(
        "leads",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("county_code", sa.CHAR(length=6), server_default=sa.FetchedValue(),
                  nullable=False),
        sa.Column("grid_code", sa.String(length=40), server_default=sa.FetchedValue(),
                  nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="new", nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("contact", sa.String(length=100), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("client_hash", sa.CHAR(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("geom", geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326,
                                                      spatial_index=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(_in("kind", LEAD_KINDS), name=op.f("ck_leads_kind")),
        sa.CheckConstraint(_in("source", ("warden", "official", "public")),
                           name=op.f("ck_leads_source")),
        sa.CheckConstraint(_in("status", ("new", "confirmed", "dismissed")),
                           name=op.f("ck_leads_status")),
        sa.ForeignKeyConstraint(["county_code"], ["regions.code"],
                                name=op.f("fk_leads_county_code_regions")),
        sa.PrimaryKeyConstraint("county_code", "id", name=op.f("pk_leads")),
    )
    op.create_index("ix_leads_id", "leads", ["id"])
    op.create_index("ix_leads_status_created", "leads", ["status", "created_at"])
    op.create_index(op.f("ix_leads_grid_code"), "leads", ["grid_code"])
    op.create_index(op.f("ix_leads_enterprise_id"), "leads", ["enterprise_id"])
    # The public's rate limit counts one address's recent tip-offs.
    op.create_index("ix_leads_client_recent", "leads", ["client_hash", "created_at"],
                    postgresql_where=sa.text("client_hash IS NOT NULL"))
    op.create_index("ix_leads_geom", "leads", ["geom"], postgresql_using="gist")
    op.execute("CREATE TRIGGER leads_region_codes BEFORE INSERT OR UPDATE OF geom ON leads "
               "FOR EACH ROW EXECUTE FUNCTION assign_region_codes()")
    op.execute("CREATE TRIGGER leads_audit AFTER INSERT OR UPDATE OR DELETE ON leads "
               "FOR EACH ROW EXECUTE FUNCTION audit_row()")

    for table in LEVEL_INDEXED:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_geom_red_orange ON {table} USING gist (geom) "
                   f"WHERE risk_level IN ('red', 'orange')")


def downgrade() -> None:
    for table in LEVEL_INDEXED:
        op.execute(f"DROP INDEX ix_{table}_geom_red_orange")
    op.drop_table("leads")
    op.drop_table("idempotency_keys")
