-- Citus: the located tables distributed by county_code, the small tables they read as
-- reference tables, and aggregates kept exact by triggers that write only co-located
-- shards (issue 17, docs/scaling.md). Run by migration 0020 only on a database with the
-- citus extension; a single-node database never sees any of this.
--
-- What Citus 13 runs: a trigger on a distributed table fires on the shard, on the worker
-- holding it, and may only run work on that worker (a remote task from inside a trigger
-- is refused). So every trigger here writes rows keyed by the county of the row that
-- fired it (a co-located shard, same worker) or reads reference tables (a copy on every
-- node). The at-commit folds of 0010 and 0016 existed to keep a province's shared rows
-- locked briefly; here each county has its own rows, summed when read.

SET citus.multi_shard_modify_mode TO 'sequential';
-- What distributing needs (sequences, types, functions) is sent to the workers at once.
SET citus.create_object_propagation TO 'immediate';
-- Distributing tables that carry triggers (the owner role has it on for later migrations:
-- app/cluster/nodes.py, docker/initdb/30-riskatlas-citus.sh).
SET citus.enable_unsafe_triggers TO on;

-- 1. Triggers whose writes cannot run on a shard: the audit of located rows, layer-version
-- bumps of reference tables and every TRUNCATE trigger (TRUNCATE of a distributed table
-- bumps nothing; the tile epochs are bumped by rebuilds).
DROP TRIGGER enterprises_audit ON enterprises;
DROP TRIGGER risk_points_audit ON risk_points;
DROP TRIGGER hazard_sources_audit ON hazard_sources;
DROP TRIGGER hidden_dangers_audit ON hidden_dangers;
DROP TRIGGER public_zones_audit ON public_zones;
DROP TRIGGER emergency_resources_audit ON emergency_resources;
DROP TRIGGER grid_cells_audit ON grid_cells;
DROP TRIGGER regions_layer_versions ON regions;
DROP TRIGGER regions_layer_versions_truncate ON regions;
DROP TRIGGER grid_cells_layer_versions ON grid_cells;
DROP TRIGGER grid_cells_layer_versions_truncate ON grid_cells;
DROP TRIGGER enterprises_layer_versions_truncate ON enterprises;
DROP TRIGGER risk_points_layer_versions_truncate ON risk_points;
DROP TRIGGER hazard_sources_layer_versions_truncate ON hazard_sources;
DROP TRIGGER public_zones_layer_versions_truncate ON public_zones;
DROP TRIGGER emergency_resources_layer_versions_truncate ON emergency_resources;
DROP TRIGGER enterprises_tiles_truncate ON enterprises;
DROP TRIGGER risk_points_tiles_truncate ON risk_points;
DROP TRIGGER hazard_sources_tiles_truncate ON hazard_sources;
DROP TRIGGER public_zones_tiles_truncate ON public_zones;
DROP TRIGGER emergency_resources_tiles_truncate ON emergency_resources;

-- 2. Keys with the distribution column. Children (hazard sources, risk points, hidden
-- dangers of an enterprise) are stored in their enterprise's county, so an enterprise
-- and everything it owns share one shard and the foreign keys hold there.
ALTER TABLE hidden_dangers DROP CONSTRAINT fk_hidden_dangers_risk_point_id_risk_points;
ALTER TABLE hidden_dangers DROP CONSTRAINT fk_hidden_dangers_enterprise_id_enterprises;
ALTER TABLE risk_points DROP CONSTRAINT fk_risk_points_enterprise_id_enterprises;
ALTER TABLE hazard_sources DROP CONSTRAINT fk_hazard_sources_enterprise_id_enterprises;
-- Foreign keys to regions go while regions becomes a reference table (Citus would turn
-- every table referencing it into a "Citus local table"); the reference tables get theirs
-- back below. Located rows take their county from region_parts (the region trigger), so
-- their codes exist without a key; a distributed table with a key to a reference table
-- would also force every later multi-shard command of a transaction that read regions onto
-- one connection per worker. Coordinator tables (users, chemical parks, leads, blacklist,
-- enforcement) stay plain PostgreSQL tables, without these keys.
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
               WHERE contype = 'f' AND confrelid = 'regions'::regclass LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
    END LOOP;
END $$;
-- Coordinator tables cannot reference a distributed table: the services check these.
ALTER TABLE blacklist_entries DROP CONSTRAINT fk_blacklist_entries_enterprise_id_enterprises;
ALTER TABLE enforcement_actions DROP CONSTRAINT fk_enforcement_actions_enterprise_id_enterprises;

ALTER TABLE enterprises DROP CONSTRAINT pk_enterprises,
    ADD CONSTRAINT pk_enterprises PRIMARY KEY (county_code, id);
-- Credit codes are unique per county by this index (a unique index must contain the
-- distribution column); across counties the enterprise service refuses a duplicate
-- (check_credit_code_free, app/sites/service.py), which looks a code up in every shard:
-- credit_code leads the index, so that look-up is an index scan.
ALTER TABLE enterprises DROP CONSTRAINT uq_enterprises_credit_code,
    ADD CONSTRAINT uq_enterprises_credit_code UNIQUE (credit_code, county_code);
ALTER TABLE risk_points DROP CONSTRAINT pk_risk_points,
    ADD CONSTRAINT pk_risk_points PRIMARY KEY (county_code, id);
ALTER TABLE hazard_sources DROP CONSTRAINT pk_hazard_sources,
    ADD CONSTRAINT pk_hazard_sources PRIMARY KEY (county_code, id);
ALTER TABLE hidden_dangers DROP CONSTRAINT pk_hidden_dangers,
    ADD CONSTRAINT pk_hidden_dangers PRIMARY KEY (county_code, id);
ALTER TABLE public_zones DROP CONSTRAINT pk_public_zones,
    ADD CONSTRAINT pk_public_zones PRIMARY KEY (county_code, id);
ALTER TABLE emergency_resources DROP CONSTRAINT pk_emergency_resources,
    ADD CONSTRAINT pk_emergency_resources PRIMARY KEY (county_code, id);

-- 3. Aggregates keyed by the county whose row changed; the old names become views that
-- sum them, so every reader is unchanged.
DROP TABLE region_counts;
CREATE TABLE region_county_counts (
    county_code char(6) NOT NULL,
    region_code varchar(40) NOT NULL,    -- the county, its city, its province, a grid cell
    measure varchar(40) NOT NULL,
    value integer NOT NULL,
    CONSTRAINT pk_region_county_counts PRIMARY KEY (county_code, region_code, measure)
);
DROP TABLE tile_versions;
CREATE TABLE tile_county_versions (
    county_code char(6) NOT NULL,
    layer varchar(40) NOT NULL,
    zoom smallint NOT NULL,
    tile_x integer NOT NULL,
    tile_y integer NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT pk_tile_county_versions PRIMARY KEY (county_code, layer, zoom, tile_x, tile_y)
);
CREATE TABLE layer_county_versions (
    county_code char(6) NOT NULL,
    layer varchar(40) NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT pk_layer_county_versions PRIMARY KEY (county_code, layer)
);
-- The per-layer epochs and the versions of layers that are not located (regions, grid…)
-- stay on the coordinator.
ALTER TABLE layer_versions RENAME TO layer_epochs;
ALTER TABLE layer_epochs RENAME CONSTRAINT pk_layer_versions TO pk_layer_epochs;

-- 4. Functions, as the shards run them.
--
-- A trigger on a shard reads and writes the relations of its own worker by their names:
-- the shard of each co-located table that holds the same counties as the shard the
-- trigger fired on, and the worker's copy of each reference table. Citus then plans
-- nothing (its planner cannot run a query on a trigger's transition tables, nor an SQL
-- function's query inside another on a shard), and nothing leaves the worker.

-- The table a trigger fired on: on a worker TG_TABLE_NAME is the shard's (enterprises_102008).
CREATE FUNCTION logical_table(shard_name text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(shard_name, '_[0-9]+$', '')
$$;

-- What a trigger that fired on relation `fired` (TG_TABLE_NAME) uses for table `tbl`: on a
-- shard, tbl's co-located shard or its reference copy; on the coordinator, tbl itself.
CREATE FUNCTION shard_of(tbl regclass, fired text) RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    fired_shard bigint := substring(fired FROM '_([0-9]+)$')::bigint;
    found text;
BEGIN
    IF fired_shard IS NOT NULL THEN
        SELECT shard_name(tbl, s.shardid) INTO found
          FROM pg_dist_shard s
         WHERE s.logicalrelid = tbl
           AND (s.shardminvalue IS NULL
                OR s.shardminvalue = (SELECT f.shardminvalue FROM pg_dist_shard f
                                       WHERE f.shardid = fired_shard));
    END IF;
    RETURN coalesce(found, tbl::text);
END $$;

-- region_lineage (0002) in PL/pgSQL: Citus plans no query that calls an SQL function
-- reading a Citus table with parameters (the overdue counts of the regional index do).
CREATE OR REPLACE FUNCTION region_lineage(leaf text) RETURNS SETOF text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY WITH RECURSIVE up AS (
        SELECT r.code, r.parent_code FROM regions r WHERE r.code = leaf
        UNION ALL
        SELECT p.code, p.parent_code FROM regions p JOIN up ON p.code = up.parent_code)
    SELECT up.code::text FROM up;
END $$;

-- The point-to-county rule of assign_region_codes, for the coordinator to route a write
-- before it reaches a shard (app/cluster/routing.py).
CREATE FUNCTION region_county_at(g geometry) RETURNS char(6) LANGUAGE sql STABLE AS $$
    SELECT p.code FROM region_parts p,
           LATERAL (SELECT CASE WHEN GeometryType(g) = 'POINT' THEN g
                                ELSE ST_PointOnSurface(g) END AS anchor) a
     WHERE p.geom && a.anchor AND ST_Intersects(p.geom, a.anchor)
     ORDER BY p.code LIMIT 1
$$;

-- On a distributed table county_code is the shard key: the coordinator set it (the county
-- of the geometry, or of the row's enterprise) and the row is on that county's shard; here
-- it is only checked. Coordinator tables (chemical parks, leads) get it as before.
CREATE OR REPLACE FUNCTION assign_region_codes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    anchor geometry := CASE WHEN GeometryType(NEW.geom) = 'POINT' THEN NEW.geom
                            ELSE ST_PointOnSurface(NEW.geom) END;
    county char(6);
BEGIN
    EXECUTE format('SELECT p.code FROM %s p WHERE p.geom && $1 AND ST_Intersects(p.geom, $1)'
                   ' ORDER BY p.code LIMIT 1', shard_of('region_parts', TG_TABLE_NAME))
       INTO county USING anchor;
    IF county IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'RA001',
            MESSAGE = format('no region contains POINT(%s %s)', ST_X(anchor), ST_Y(anchor));
    END IF;
    IF TG_TABLE_NAME = logical_table(TG_TABLE_NAME) THEN
        NEW.county_code := county;  -- a coordinator table: as on one PostgreSQL
    ELSIF to_jsonb(NEW) ->> 'enterprise_id' IS NULL AND NEW.county_code IS DISTINCT FROM county THEN
        RAISE EXCEPTION USING ERRCODE = 'RA002',
            MESSAGE = format('row routed to county %s lies in %s', NEW.county_code, county);
    END IF;
    EXECUTE format('SELECT g.code FROM %s g WHERE g.geom && $1 AND ST_Intersects(g.geom, $1)'
                   ' ORDER BY g.code LIMIT 1', shard_of('grid_cells', TG_TABLE_NAME))
       INTO NEW.grid_code USING anchor;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION count_region_measures() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    measures text;
    added text;
    removed text;
BEGIN
    EXECUTE format('SELECT measures_sql FROM %s WHERE table_name = $1',
                   shard_of('count_sources', TG_TABLE_NAME))
       INTO measures USING logical_table(TG_TABLE_NAME);
    added := format('SELECT r.county_code, r.grid_code, %s AS measures, 1 AS sign FROM new_rows r', measures);
    removed := format('SELECT r.county_code, r.grid_code, %s AS measures, -1 AS sign FROM old_rows r', measures);
    EXECUTE county_count_deltas_sql(
        CASE TG_OP WHEN 'INSERT' THEN added WHEN 'DELETE' THEN removed
                   ELSE added || ' UNION ALL ' || removed END,
        shard_of('regions', TG_TABLE_NAME), shard_of('region_county_counts', TG_TABLE_NAME),
        shard_of('layer_county_versions', TG_TABLE_NAME));
    RETURN NULL;
END $$;

-- Like count_deltas_sql (0002), with the county that changed in every key, into `counts`
-- (region_county_counts or its shard); the counts' map layers take a new version in that
-- county (`versions`). The county, its city and its province (GB/T 2260 has three levels)
-- come from `regions` by joins.
CREATE FUNCTION county_count_deltas_sql(deltas text, regions text, counts text, versions text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH delta AS (%1$s),
        summed AS (
            SELECT d.county_code, d.grid_code, m.measure, sum(d.sign) AS change
              FROM delta d CROSS JOIN LATERAL unnest(d.measures) AS m(measure)
             WHERE m.measure IS NOT NULL
             GROUP BY 1, 2, 3),
        keyed AS (
            SELECT s.county_code, l.code AS region_code, s.measure, s.change
              FROM summed s JOIN %2$s r0 ON r0.code = s.county_code
              LEFT JOIN %2$s r1 ON r1.code = r0.parent_code
              LEFT JOIN %2$s r2 ON r2.code = r1.parent_code
             CROSS JOIN LATERAL (VALUES (r0.code), (r1.code), (r2.code)) AS l(code)
             WHERE l.code IS NOT NULL
            UNION ALL
            SELECT s.county_code, s.grid_code, s.measure, s.change
              FROM summed s WHERE s.grid_code IS NOT NULL),
        counted AS (
            INSERT INTO %3$s AS c (county_code, region_code, measure, value)
            SELECT county_code, region_code, measure, sum(change) FROM keyed
             GROUP BY 1, 2, 3 HAVING sum(change) <> 0 ORDER BY 1, 2, 3
            ON CONFLICT (county_code, region_code, measure)
            DO UPDATE SET value = c.value + EXCLUDED.value
            RETURNING c.county_code)
        INSERT INTO %4$s AS v (county_code, layer, version)
        SELECT county_code, layer, 1
          FROM counted CROSS JOIN (VALUES ('regions'), ('grid')) l(layer)
         GROUP BY county_code, layer ORDER BY county_code, layer
        ON CONFLICT (county_code, layer) DO UPDATE SET version = v.version + 1
    $sql$, deltas, regions, counts, versions)
$$;

-- A recount from the tables, on the coordinator (Citus runs it on every shard).
CREATE OR REPLACE FUNCTION rebuild_region_counts() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    source record;
BEGIN
    DELETE FROM region_county_counts;
    FOR source IN SELECT * FROM count_sources ORDER BY table_name LOOP
        EXECUTE county_count_deltas_sql(format(
            'SELECT r.county_code, r.grid_code, %s AS measures, 1 AS sign FROM %I r',
            source.measures_sql, source.table_name),
            'regions', 'region_county_counts', 'layer_county_versions');
    END LOOP;
END $$;

-- A layer's version rises in the county of the row written (once per statement and table).
CREATE OR REPLACE FUNCTION bump_layer_versions_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    flag text := 'riskatlas.bumped_' || logical_table(TG_TABLE_NAME);
    moment text := txid_current()::text || '@' || statement_timestamp()::text;
    county char(6) := CASE TG_OP WHEN 'DELETE' THEN OLD.county_code ELSE NEW.county_code END;
BEGIN
    IF current_setting(flag, true) IS DISTINCT FROM moment THEN
        PERFORM set_config(flag, moment, true);
        EXECUTE format('INSERT INTO %s AS v (county_code, layer, version)'
                       ' SELECT $1, layer, 1 FROM unnest($2) AS l(layer) ORDER BY 2'
                       ' ON CONFLICT (county_code, layer) DO UPDATE SET version = v.version + 1',
                       shard_of('layer_county_versions', TG_TABLE_NAME))
          USING county, TG_ARGV;
    END IF;
    RETURN NULL;
END $$;

-- Statement bumps of coordinator tables (TRUNCATE of a coordinator table, restores).
CREATE OR REPLACE FUNCTION bump_layer_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE layer_epochs SET version = version + 1 WHERE layer = ANY(TG_ARGV);
    RETURN NULL;
END $$;

-- tile_version_cells_sql (0016) with the county of each geometry carried through.
CREATE FUNCTION tile_county_version_cells_sql(layer text, geometries_sql text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH boxes AS (
            SELECT g.county_code, ST_Transform(ST_Envelope(g.geom), 3857) AS box FROM (%s) g),
        spans AS (
            SELECT b.county_code, z.zoom, 40075016.685578488 / (2.0 ^ z.zoom) AS size,
                   (2 ^ z.zoom)::integer - 1 AS last,
                   ST_XMin(b.box) + 20037508.342789244 AS west,
                   ST_XMax(b.box) + 20037508.342789244 AS east,
                   20037508.342789244 - ST_YMax(b.box) AS north,
                   20037508.342789244 - ST_YMin(b.box) AS south
              FROM boxes b CROSS JOIN generate_series(0, 10) AS z(zoom))
        SELECT DISTINCT s.county_code, %L AS layer, s.zoom, tx AS tile_x, ty AS tile_y
          FROM spans s
         CROSS JOIN LATERAL generate_series(
               greatest(floor(s.west / s.size - 1.0 / 64), 0)::integer,
               least(floor(s.east / s.size + 1.0 / 64), s.last)::integer) AS tx
         CROSS JOIN LATERAL generate_series(
               greatest(floor(s.north / s.size - 1.0 / 64), 0)::integer,
               least(floor(s.south / s.size + 1.0 / 64), s.last)::integer) AS ty
    $sql$, geometries_sql, layer)
$$;

CREATE FUNCTION bump_tile_versions_sql(cells_sql text, versions text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        INSERT INTO %s AS v (county_code, layer, zoom, tile_x, tile_y, version)
        SELECT county_code, layer, zoom, tile_x, tile_y, 1 FROM (%s) c ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (county_code, layer, zoom, tile_x, tile_y)
        DO UPDATE SET version = v.version + 1
    $sql$, versions, cells_sql)
$$;

-- tile_cells_track (0016), writing the co-located tile_cells and versions directly.
CREATE OR REPLACE FUNCTION tile_cells_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    layer_name text := logical_table(TG_TABLE_NAME);
    cells text := shard_of('tile_cells', TG_TABLE_NAME);
    versions text := shard_of('tile_county_versions', TG_TABLE_NAME);
    source tile_cell_sources;
    points text;
    geometries text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT county_code, geom FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT county_code, geom FROM old_rows'
        ELSE 'SELECT county_code, geom FROM new_rows UNION ALL SELECT county_code, geom FROM old_rows' END;
    child text;
    counties char(6)[];
BEGIN
    EXECUTE format('SELECT s.* FROM %s s WHERE s.layer = $1',
                   shard_of('tile_cell_sources', TG_TABLE_NAME))
       INTO source USING layer_name;
    points := CASE TG_OP
        WHEN 'INSERT' THEN tile_cell_points_sql(source, 'new_rows', 1)
        WHEN 'DELETE' THEN tile_cell_points_sql(source, 'old_rows', -1)
        ELSE tile_cell_points_sql(source, 'new_rows', 1) || ' UNION ALL '
             || tile_cell_points_sql(source, 'old_rows', -1) END;
    EXECUTE format('SELECT array_agg(DISTINCT county_code) FROM (%s) g', geometries) INTO counties;
    EXECUTE format(
        'INSERT INTO %s AS c SELECT * FROM (%s) d ORDER BY 1, 2, 3, 4, 5, 6, 7, 8'
        ' ON CONFLICT (layer, zoom, tile_x, tile_y, cell_x, cell_y, county_code, level)'
        ' DO UPDATE SET count = c.count + EXCLUDED.count, sum_x = c.sum_x + EXCLUDED.sum_x,'
        ' sum_y = c.sum_y + EXCLUDED.sum_y',
        cells, tile_cell_deltas_sql(source.layer, 0, source.max_zoom, points));
    -- Emptied cells, in this statement's counties.
    EXECUTE format('DELETE FROM %s WHERE county_code = ANY($1) AND count = 0', cells)
      USING counties;
    EXECUTE bump_tile_versions_sql(tile_county_version_cells_sql(source.layer, geometries),
                                   versions);
    -- A changed sector changes the enterprise's risk points' and hazard sources' tiles
    -- (they share its county, so its shard).
    IF layer_name = 'enterprises' AND TG_OP = 'UPDATE' THEN
        FOREACH child IN ARRAY ARRAY['hazard_sources', 'risk_points'] LOOP
            EXECUTE bump_tile_versions_sql(tile_county_version_cells_sql(child, format(
                'SELECT c.county_code, c.geom FROM %s c JOIN new_rows n'
                ' ON n.county_code = c.county_code AND n.id = c.enterprise_id'
                ' JOIN old_rows o ON o.id = n.id WHERE o.sector IS DISTINCT FROM n.sector',
                shard_of(child::regclass, TG_TABLE_NAME))), versions);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION rebuild_tile_cells() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    source tile_cell_sources;
    z integer;
BEGIN
    DELETE FROM tile_cells;
    FOR source IN SELECT * FROM tile_cell_sources ORDER BY layer LOOP
        EXECUTE format('INSERT INTO tile_cells SELECT * FROM (%s) d',
            tile_cell_deltas_sql(source.layer, source.max_zoom, source.max_zoom,
                                 tile_cell_points_sql(source, format('%I', source.layer), 1)));
        FOR z IN REVERSE source.max_zoom - 1 .. 0 LOOP
            INSERT INTO tile_cells
            SELECT finer.layer, z, gx >> 6, gy >> 6, gx & 63, gy & 63, finer.county_code,
                   finer.level, sum(finer.count), sum(finer.sum_x), sum(finer.sum_y)
              FROM (SELECT c.*, (c.tile_x * 64 + c.cell_x) >> 1 AS gx,
                           (c.tile_y * 64 + c.cell_y) >> 1 AS gy
                      FROM tile_cells c
                     WHERE c.layer = source.layer AND c.zoom = z + 1) finer
             GROUP BY finer.layer, gx, gy, finer.county_code, finer.level;
        END LOOP;
    END LOOP;
    UPDATE layer_epochs SET version = version + 1
     WHERE layer IN (SELECT 'tiles:' || s.layer FROM tile_cell_sources s);
END $$;

-- A row whose geometry moved to another county moves to that county's shard (Citus
-- never updates a distribution column): copied with the new county, then deleted where
-- it was, an enterprise with its hazard sources, risk points and hidden dangers. Counts
-- and tile cells follow through the delete and insert triggers; ids and versions stay.
-- Run on the coordinator by app/cluster/routing.py before the UPDATE of the geometry.
CREATE FUNCTION move_to_county(tbl regclass, row_id integer, new_county char(6),
                               new_geom geometry)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    moved text[] := CASE WHEN tbl = 'enterprises'::regclass
                         THEN ARRAY['enterprises', 'hazard_sources', 'risk_points', 'hidden_dangers']
                         ELSE ARRAY[tbl::text] END;
    name text;
BEGIN
    FOREACH name IN ARRAY moved LOOP
        EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT * FROM %I WHERE %I = $1',
                       'moving_' || name, name,
                       CASE WHEN name = tbl::text THEN 'id' ELSE 'enterprise_id' END)
          USING row_id;
        EXECUTE format('UPDATE %I SET county_code = $1', 'moving_' || name) USING new_county;
        IF name = tbl::text THEN  -- the row itself lands where it now lies
            EXECUTE format('UPDATE %I SET geom = $1', 'moving_' || name) USING new_geom;
        END IF;
    END LOOP;
    -- The enterprise's rows go with it (ON DELETE CASCADE).
    EXECUTE format('DELETE FROM %s WHERE id = $1', tbl) USING row_id;
    FOREACH name IN ARRAY moved LOOP
        EXECUTE format('INSERT INTO %I SELECT * FROM %I', name, 'moving_' || name);
        EXECUTE format('DROP TABLE %I', 'moving_' || name);
    END LOOP;
END $$;

-- 5. Distribution: the reference tables (what the triggers on shards read); every function
-- of the schema, so the workers have what those triggers call (also through EXECUTE,
-- which Citus cannot see); the co-located tables.
SELECT create_reference_table('regions');
SELECT create_reference_table('region_parts');
SELECT create_reference_table('grid_cells');
SELECT create_reference_table('count_sources');
SELECT create_reference_table('tile_cell_sources');
DO $$
DECLARE
    routine regprocedure;
BEGIN
    FOR routine IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'public'::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                           AND d.objid = p.oid AND d.deptype = 'e')
           -- Folds the coordinator's pending counts (0010), unused here; an SQL function,
           -- its body names tables the workers do not have.
           AND p.proname <> 'fold_pending_region_counts'
         ORDER BY p.oid
    LOOP
        PERFORM create_distributed_function(routine);
    END LOOP;
END $$;

SELECT create_distributed_table('enterprises', 'county_code', shard_count => 32);
SELECT create_distributed_table('risk_points', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('hazard_sources', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('hidden_dangers', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('public_zones', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('emergency_resources', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('enterprise_level_changes', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('tile_cells', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('region_county_counts', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('tile_county_versions', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('layer_county_versions', 'county_code', colocate_with => 'enterprises');

ALTER TABLE region_parts ADD CONSTRAINT fk_region_parts_code_regions
    FOREIGN KEY (code) REFERENCES regions (code) ON DELETE CASCADE;
ALTER TABLE grid_cells ADD CONSTRAINT fk_grid_cells_county_code_regions
    FOREIGN KEY (county_code) REFERENCES regions (code);
ALTER TABLE risk_points ADD CONSTRAINT fk_risk_points_enterprise_id_enterprises
    FOREIGN KEY (county_code, enterprise_id) REFERENCES enterprises (county_code, id)
    ON DELETE CASCADE;
ALTER TABLE hazard_sources ADD CONSTRAINT fk_hazard_sources_enterprise_id_enterprises
    FOREIGN KEY (county_code, enterprise_id) REFERENCES enterprises (county_code, id)
    ON DELETE CASCADE;
ALTER TABLE hidden_dangers ADD CONSTRAINT fk_hidden_dangers_enterprise_id_enterprises
    FOREIGN KEY (county_code, enterprise_id) REFERENCES enterprises (county_code, id)
    ON DELETE CASCADE;
-- Citus refuses ON DELETE SET NULL on a key with the distribution column: a trigger on
-- the risk point's shard lets go of its dangers (same county, so same shard) before the
-- delete, as the single-node database's foreign key does.
ALTER TABLE hidden_dangers ADD CONSTRAINT fk_hidden_dangers_risk_point_id_risk_points
    FOREIGN KEY (county_code, risk_point_id) REFERENCES risk_points (county_code, id);
CREATE FUNCTION release_hidden_dangers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE %s SET risk_point_id = NULL WHERE county_code = $1'
                   ' AND risk_point_id = $2', shard_of('hidden_dangers', TG_TABLE_NAME))
      USING OLD.county_code, OLD.id;
    RETURN OLD;
END $$;
SELECT create_distributed_function('release_hidden_dangers()');
CREATE TRIGGER risk_points_release_dangers BEFORE DELETE ON risk_points
    FOR EACH ROW EXECUTE FUNCTION release_hidden_dangers();

CREATE VIEW region_counts AS
    SELECT region_code, measure, sum(value)::integer AS value
      FROM region_county_counts GROUP BY region_code, measure;
CREATE VIEW tile_versions AS
    SELECT layer, zoom, tile_x, tile_y, sum(version)::bigint AS version
      FROM tile_county_versions GROUP BY layer, zoom, tile_x, tile_y;
CREATE VIEW layer_versions AS
    SELECT layer, sum(version)::bigint AS version
      FROM (SELECT layer, version FROM layer_epochs
            UNION ALL SELECT layer, version FROM layer_county_versions) v
     GROUP BY layer;

RESET citus.multi_shard_modify_mode;
RESET citus.create_object_propagation;
RESET citus.enable_unsafe_triggers;
