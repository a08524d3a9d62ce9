"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 07:22:56.272581
"""

from alembic import op
import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


LOCATED_TABLES = (
    "enterprises", "hazard_sources", "public_zones", "risk_points", "hidden_dangers",
    "emergency_resources",
)

# county_code and grid_code are derived from the geometry on every write, never trusted
# from input. SQLSTATE RA001 tells the API that the location lies outside every region.
ASSIGN_REGION_CODES = """
CREATE FUNCTION assign_region_codes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    anchor geometry := CASE WHEN GeometryType(NEW.geom) = 'POINT' THEN NEW.geom
                            ELSE ST_PointOnSurface(NEW.geom) END;
BEGIN
    SELECT p.code INTO NEW.county_code
      FROM region_parts p WHERE p.geom && anchor AND ST_Intersects(p.geom, anchor)
     ORDER BY p.code LIMIT 1;
    IF NEW.county_code IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'RA001',
            MESSAGE = format('no region contains POINT(%s %s)', ST_X(anchor), ST_Y(anchor));
    END IF;
    SELECT g.code INTO NEW.grid_code
      FROM grid_cells g WHERE g.geom && anchor AND ST_Intersects(g.geom, anchor)
     ORDER BY g.code LIMIT 1;
    RETURN NEW;
END $$;
"""


def create_region_code_triggers() -> None:
    op.execute(ASSIGN_REGION_CODES)
    for table in LOCATED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_region_codes BEFORE INSERT OR UPDATE OF geom ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION assign_region_codes()"
        )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('inputs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('risk_level', sa.String(length=6), nullable=True),
    sa.Column('ruleset_version', sa.String(length=40), nullable=False),
    sa.Column('assessed_by', sa.String(length=50), nullable=False),
    sa.Column('assessed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("risk_level IS NULL OR risk_level IN ('red','orange','yellow','blue')", name=op.f('ck_assessments_risk_level')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessments')),
    comment='append-only grading history'
    )
    op.create_table('regions',
    sa.Column('code', sa.CHAR(length=6), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('parent_code', sa.CHAR(length=6), nullable=True),
    sa.Column('province_code', sa.CHAR(length=6), nullable=False),
    sa.Column('is_leaf', sa.Boolean(), nullable=False),
    sa.Column('code_version', sa.String(length=40), nullable=False),
    sa.Column('area_km2', sa.Float(), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_coarse', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_medium', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('label_point', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("level IN ('province','city','county')", name=op.f('ck_regions_level')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_regions'))
    )
    op.create_index(op.f('ix_regions_level'), 'regions', ['level'], unique=False)
    op.create_index(op.f('ix_regions_parent_code'), 'regions', ['parent_code'], unique=False)
    op.create_index(op.f('ix_regions_province_code'), 'regions', ['province_code'], unique=False)
    op.create_table('emergency_resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('capacity', sa.Text(), nullable=True),
    sa.Column('contact_person', sa.String(length=50), nullable=True),
    sa.Column('contact_phone', sa.String(length=30), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('county_code', sa.CHAR(length=6), server_default=sa.FetchedValue(), nullable=False),
    sa.Column('grid_code', sa.String(length=40), server_default=sa.FetchedValue(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_emergency_resources_county_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_resources'))
    )
    op.create_index(op.f('ix_emergency_resources_county_code'), 'emergency_resources', ['county_code'], unique=False)
    op.create_index(op.f('ix_emergency_resources_grid_code'), 'emergency_resources', ['grid_code'], unique=False)
    op.create_index(op.f('ix_emergency_resources_kind'), 'emergency_resources', ['kind'], unique=False)
    op.create_index(op.f('ix_emergency_resources_updated_at'), 'emergency_resources', ['updated_at'], unique=False)
    op.create_table('enterprises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.CHAR(length=18), nullable=False),
    sa.Column('sector', sa.String(length=40), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('park', sa.String(length=100), nullable=True),
    sa.Column('employees', sa.Integer(), nullable=True),
    sa.Column('footprint', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('risk_level', sa.String(length=6), nullable=True),
    sa.Column('level_basis', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('county_code', sa.CHAR(length=6), server_default=sa.FetchedValue(), nullable=False),
    sa.Column('grid_code', sa.String(length=40), server_default=sa.FetchedValue(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('responsible_person', sa.String(length=50), nullable=True),
    sa.Column('responsible_phone', sa.String(length=30), nullable=True),
    sa.Column('government_person', sa.String(length=50), nullable=True),
    sa.CheckConstraint("risk_level IS NULL OR risk_level IN ('red','orange','yellow','blue')", name=op.f('ck_enterprises_risk_level')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_enterprises_county_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_enterprises_credit_code'))
    )
    op.create_index(op.f('ix_enterprises_county_code'), 'enterprises', ['county_code'], unique=False)
    op.create_index(op.f('ix_enterprises_grid_code'), 'enterprises', ['grid_code'], unique=False)
    op.create_index(op.f('ix_enterprises_name'), 'enterprises', ['name'], unique=False)
    op.create_index(op.f('ix_enterprises_risk_level'), 'enterprises', ['risk_level'], unique=False)
    op.create_index(op.f('ix_enterprises_sector'), 'enterprises', ['sector'], unique=False)
    op.create_index(op.f('ix_enterprises_updated_at'), 'enterprises', ['updated_at'], unique=False)
    op.create_table('grid_cells',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('county_code', sa.CHAR(length=6), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('cell_size_m', sa.Integer(), nullable=True),
    sa.Column('warden_name', sa.String(length=50), nullable=True),
    sa.Column('warden_phone', sa.String(length=30), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_grid_cells_county_code_regions')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_grid_cells'))
    )
    op.create_index(op.f('ix_grid_cells_county_code'), 'grid_cells', ['county_code'], unique=False)
    op.create_table('public_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('managing_department', sa.String(length=100), nullable=True),
    sa.Column('risk_level', sa.String(length=6), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('county_code', sa.CHAR(length=6), server_default=sa.FetchedValue(), nullable=False),
    sa.Column('grid_code', sa.String(length=40), server_default=sa.FetchedValue(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("risk_level IS NULL OR risk_level IN ('red','orange','yellow','blue')", name=op.f('ck_public_zones_risk_level')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_public_zones_county_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_zones'))
    )
    op.create_index(op.f('ix_public_zones_county_code'), 'public_zones', ['county_code'], unique=False)
    op.create_index(op.f('ix_public_zones_grid_code'), 'public_zones', ['grid_code'], unique=False)
    op.create_index(op.f('ix_public_zones_kind'), 'public_zones', ['kind'], unique=False)
    op.create_index(op.f('ix_public_zones_name'), 'public_zones', ['name'], unique=False)
    op.create_index(op.f('ix_public_zones_risk_level'), 'public_zones', ['risk_level'], unique=False)
    op.create_index(op.f('ix_public_zones_updated_at'), 'public_zones', ['updated_at'], unique=False)
    op.create_table('region_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.CHAR(length=6), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POLYGON', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['code'], ['regions.code'], name=op.f('fk_region_parts_code_regions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region_parts'))
    )
    op.create_index(op.f('ix_region_parts_code'), 'region_parts', ['code'], unique=False)
    op.create_table('hazard_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_type', sa.String(length=12), nullable=False),
    sa.Column('substances', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('s_value', sa.Float(), nullable=True),
    sa.Column('r_value', sa.Float(), nullable=True),
    sa.Column('alpha', sa.Float(), nullable=True),
    sa.Column('exposed_people', sa.Integer(), nullable=True),
    sa.Column('grade', sa.SmallInteger(), nullable=True),
    sa.Column('risk_level', sa.String(length=6), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('county_code', sa.CHAR(length=6), server_default=sa.FetchedValue(), nullable=False),
    sa.Column('grid_code', sa.String(length=40), server_default=sa.FetchedValue(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('responsible_person', sa.String(length=50), nullable=True),
    sa.Column('responsible_phone', sa.String(length=30), nullable=True),
    sa.Column('government_person', sa.String(length=50), nullable=True),
    sa.CheckConstraint("risk_level IS NULL OR risk_level IN ('red','orange','yellow','blue')", name=op.f('ck_hazard_sources_risk_level')),
    sa.CheckConstraint("unit_type IN ('production','storage')", name=op.f('ck_hazard_sources_unit_type')),
    sa.CheckConstraint('grade IS NULL OR grade BETWEEN 1 AND 4', name=op.f('ck_hazard_sources_grade')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_hazard_sources_county_code_regions')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_hazard_sources_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_sources'))
    )
    op.create_index(op.f('ix_hazard_sources_county_code'), 'hazard_sources', ['county_code'], unique=False)
    op.create_index(op.f('ix_hazard_sources_enterprise_id'), 'hazard_sources', ['enterprise_id'], unique=False)
    op.create_index(op.f('ix_hazard_sources_grade'), 'hazard_sources', ['grade'], unique=False)
    op.create_index(op.f('ix_hazard_sources_grid_code'), 'hazard_sources', ['grid_code'], unique=False)
    op.create_index(op.f('ix_hazard_sources_risk_level'), 'hazard_sources', ['risk_level'], unique=False)
    op.create_index(op.f('ix_hazard_sources_updated_at'), 'hazard_sources', ['updated_at'], unique=False)
    op.create_table('risk_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('hazard_type', sa.String(length=40), nullable=True),
    sa.Column('control_measures', sa.Text(), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('inputs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('risk_level', sa.String(length=6), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('county_code', sa.CHAR(length=6), server_default=sa.FetchedValue(), nullable=False),
    sa.Column('grid_code', sa.String(length=40), server_default=sa.FetchedValue(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('responsible_person', sa.String(length=50), nullable=True),
    sa.Column('responsible_phone', sa.String(length=30), nullable=True),
    sa.Column('government_person', sa.String(length=50), nullable=True),
    sa.CheckConstraint("method IN ('lec','ls','direct')", name=op.f('ck_risk_points_method')),
    sa.CheckConstraint("risk_level IS NULL OR risk_level IN ('red','orange','yellow','blue')", name=op.f('ck_risk_points_risk_level')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_risk_points_county_code_regions')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_risk_points_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_points'))
    )
    op.create_index(op.f('ix_risk_points_county_code'), 'risk_points', ['county_code'], unique=False)
    op.create_index(op.f('ix_risk_points_enterprise_id'), 'risk_points', ['enterprise_id'], unique=False)
    op.create_index(op.f('ix_risk_points_grid_code'), 'risk_points', ['grid_code'], unique=False)
    op.create_index(op.f('ix_risk_points_risk_level'), 'risk_points', ['risk_level'], unique=False)
    op.create_index(op.f('ix_risk_points_updated_at'), 'risk_points', ['updated_at'], unique=False)
    op.create_table('hidden_dangers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('risk_point_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('grade', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('found_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('county_code', sa.CHAR(length=6), server_default=sa.FetchedValue(), nullable=False),
    sa.Column('grid_code', sa.String(length=40), server_default=sa.FetchedValue(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('responsible_person', sa.String(length=50), nullable=True),
    sa.Column('responsible_phone', sa.String(length=30), nullable=True),
    sa.Column('government_person', sa.String(length=50), nullable=True),
    sa.CheckConstraint("grade IN ('general','larger','major')", name=op.f('ck_hidden_dangers_grade')),
    sa.CheckConstraint("status IN ('reported','assessed','rectifying','accepted','closed')", name=op.f('ck_hidden_dangers_status')),
    sa.ForeignKeyConstraint(['county_code'], ['regions.code'], name=op.f('fk_hidden_dangers_county_code_regions')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_hidden_dangers_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['risk_point_id'], ['risk_points.id'], name=op.f('fk_hidden_dangers_risk_point_id_risk_points'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hidden_dangers'))
    )
    op.create_index(op.f('ix_hidden_dangers_county_code'), 'hidden_dangers', ['county_code'], unique=False)
    op.create_index(op.f('ix_hidden_dangers_enterprise_id'), 'hidden_dangers', ['enterprise_id'], unique=False)
    op.create_index(op.f('ix_hidden_dangers_grade'), 'hidden_dangers', ['grade'], unique=False)
    op.create_index(op.f('ix_hidden_dangers_grid_code'), 'hidden_dangers', ['grid_code'], unique=False)
    op.create_index(op.f('ix_hidden_dangers_risk_point_id'), 'hidden_dangers', ['risk_point_id'], unique=False)
    op.create_index(op.f('ix_hidden_dangers_status'), 'hidden_dangers', ['status'], unique=False)
    op.create_index(op.f('ix_hidden_dangers_updated_at'), 'hidden_dangers', ['updated_at'], unique=False)

    create_region_code_triggers()

def downgrade() -> None:
    for table in LOCATED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_region_codes ON {table}")
    op.execute("DROP FUNCTION IF EXISTS assign_region_codes()")
    op.drop_index(op.f('ix_hidden_dangers_updated_at'), table_name='hidden_dangers')
    op.drop_index(op.f('ix_hidden_dangers_status'), table_name='hidden_dangers')
    op.drop_index(op.f('ix_hidden_dangers_risk_point_id'), table_name='hidden_dangers')
    op.drop_index(op.f('ix_hidden_dangers_grid_code'), table_name='hidden_dangers')
    op.drop_index(op.f('ix_hidden_dangers_grade'), table_name='hidden_dangers')
    op.drop_index(op.f('ix_hidden_dangers_enterprise_id'), table_name='hidden_dangers')
    op.drop_index(op.f('ix_hidden_dangers_county_code'), table_name='hidden_dangers')
    op.drop_table('hidden_dangers')
    op.drop_index(op.f('ix_risk_points_updated_at'), table_name='risk_points')
    op.drop_index(op.f('ix_risk_points_risk_level'), table_name='risk_points')
    op.drop_index(op.f('ix_risk_points_grid_code'), table_name='risk_points')
    op.drop_index(op.f('ix_risk_points_enterprise_id'), table_name='risk_points')
    op.drop_index(op.f('ix_risk_points_county_code'), table_name='risk_points')
    op.drop_table('risk_points')
    op.drop_index(op.f('ix_hazard_sources_updated_at'), table_name='hazard_sources')
    op.drop_index(op.f('ix_hazard_sources_risk_level'), table_name='hazard_sources')
    op.drop_index(op.f('ix_hazard_sources_grid_code'), table_name='hazard_sources')
    op.drop_index(op.f('ix_hazard_sources_grade'), table_name='hazard_sources')
    op.drop_index(op.f('ix_hazard_sources_enterprise_id'), table_name='hazard_sources')
    op.drop_index(op.f('ix_hazard_sources_county_code'), table_name='hazard_sources')
    op.drop_table('hazard_sources')
    op.drop_index(op.f('ix_region_parts_code'), table_name='region_parts')
    op.drop_table('region_parts')
    op.drop_index(op.f('ix_public_zones_updated_at'), table_name='public_zones')
    op.drop_index(op.f('ix_public_zones_risk_level'), table_name='public_zones')
    op.drop_index(op.f('ix_public_zones_name'), table_name='public_zones')
    op.drop_index(op.f('ix_public_zones_kind'), table_name='public_zones')
    op.drop_index(op.f('ix_public_zones_grid_code'), table_name='public_zones')
    op.drop_index(op.f('ix_public_zones_county_code'), table_name='public_zones')
    op.drop_table('public_zones')
    op.drop_index(op.f('ix_grid_cells_county_code'), table_name='grid_cells')
    op.drop_table('grid_cells')
    op.drop_index(op.f('ix_enterprises_updated_at'), table_name='enterprises')
    op.drop_index(op.f('ix_enterprises_sector'), table_name='enterprises')
    op.drop_index(op.f('ix_enterprises_risk_level'), table_name='enterprises')
    op.drop_index(op.f('ix_enterprises_name'), table_name='enterprises')
    op.drop_index(op.f('ix_enterprises_grid_code'), table_name='enterprises')
    op.drop_index(op.f('ix_enterprises_county_code'), table_name='enterprises')
    op.drop_table('enterprises')
    op.drop_index(op.f('ix_emergency_resources_updated_at'), table_name='emergency_resources')
    op.drop_index(op.f('ix_emergency_resources_kind'), table_name='emergency_resources')
    op.drop_index(op.f('ix_emergency_resources_grid_code'), table_name='emergency_resources')
    op.drop_index(op.f('ix_emergency_resources_county_code'), table_name='emergency_resources')
    op.drop_table('emergency_resources')
    op.drop_index(op.f('ix_regions_province_code'), table_name='regions')
    op.drop_index(op.f('ix_regions_parent_code'), table_name='regions')
    op.drop_index(op.f('ix_regions_level'), table_name='regions')
    op.drop_table('regions')
    op.drop_table('assessments')
