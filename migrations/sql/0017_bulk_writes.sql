-- Bulk writes (the import) without per-row trigger work that a set-based statement can do
-- once for all rows: the audit entries and the point-to-region look-up.

-- The one point-to-region rule: a geometry's anchor (the point itself, or a point on the
-- surface of a line or polygon), the county part that holds it (lowest code where parts
-- touch), and the grid cell likewise. Used by the region-codes trigger and by the import's
-- staging, so both find the same county.
CREATE FUNCTION region_anchor(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN GeometryType(g) = 'POINT' THEN g ELSE ST_PointOnSurface(g) END
$$;

CREATE FUNCTION county_at(anchor geometry) RETURNS char(6) LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.code FROM region_parts p
     WHERE p.geom && anchor AND ST_Intersects(p.geom, anchor)
     ORDER BY p.code LIMIT 1
$$;

CREATE FUNCTION grid_at(anchor geometry) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT g.code FROM grid_cells g
     WHERE g.geom && anchor AND ST_Intersects(g.geom, anchor)
     ORDER BY g.code LIMIT 1
$$;

-- county_code and grid_code are derived from the geometry on every write, never trusted
-- from input — except inside a statement of the import (setting riskatlas.region_codes =
-- 'derived'), whose staging derived both with the functions above in one set-based pass.
-- SQLSTATE RA001 tells the API that the location lies outside every region.
CREATE OR REPLACE FUNCTION assign_region_codes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    anchor geometry;
BEGIN
    IF NEW.county_code IS NOT NULL
       AND current_setting('riskatlas.region_codes', true) = 'derived' THEN
        RETURN NEW;
    END IF;
    anchor := region_anchor(NEW.geom);
    NEW.county_code := county_at(anchor);
    IF NEW.county_code IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'RA001',
            MESSAGE = format('no region contains POINT(%s %s)', ST_X(anchor), ST_Y(anchor));
    END IF;
    NEW.grid_code := grid_at(anchor);
    RETURN NEW;
END $$;

-- One audit entry for a changed row, or none: no actor (loads, rebuilds are not audited),
-- or an update that changed nothing but its timestamp (re-derived levels often rewrite a
-- row unchanged). Shared by the row trigger and set-based bulk writes.
CREATE FUNCTION audit_entry(p_action text, p_table text, p_before jsonb, p_after jsonb)
RETURNS TABLE (user_id integer, username text, action text, table_name text, row_id text,
               county_code char(6), before jsonb, after jsonb, client_address text,
               request_id text)
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('riskatlas.actor_id', true), '')::integer, actor,
           p_action, p_table,
           coalesce(a ->> 'id', b ->> 'id', a ->> 'code', b ->> 'code'),
           coalesce(a ->> 'county_code', b ->> 'county_code'),
           b, a,
           nullif(current_setting('riskatlas.client_address', true), ''),
           nullif(current_setting('riskatlas.request_id', true), '')
      FROM (SELECT nullif(current_setting('riskatlas.actor', true), '') AS actor,
                   p_before - 'password_hash' AS b, p_after - 'password_hash' AS a) x
     WHERE actor IS NOT NULL
       AND (p_action <> 'update' OR b - 'updated_at' IS DISTINCT FROM a - 'updated_at')
$$;

-- The row trigger; a bulk statement that writes its own entries set-based says so with
-- riskatlas.audit = 'bulk' for that statement, and the trigger stands aside.
CREATE OR REPLACE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('riskatlas.audit', true) = 'bulk' THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (user_id, username, action, table_name, row_id, county_code,
                           before, after, client_address, request_id)
    SELECT * FROM audit_entry(lower(TG_OP), TG_TABLE_NAME,
                              CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
                              CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
    RETURN NULL;
END $$;

-- Tile pre-aggregates (0016) at a bulk write's pace. The cell deltas: each point's cell at
-- the deepest zoom only, summed per cell, and every coarser zoom's cell by shifting (a cell
-- of zoom z is four of z+1) — the rule rebuild_tile_cells() already used, so cells written
-- by triggers and by a rebuild agree to the bit. Was: the cell computed anew at every zoom
-- for every row.
CREATE OR REPLACE FUNCTION tile_cell_deltas_sql(layer text, min_zoom integer, max_zoom integer,
                                                points_sql text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH points AS MATERIALIZED (%1$s),
        finest AS (
            SELECT p.county_code, p.level,
                   least(greatest(floor((p.x + 20037508.342789244)
                                        / (40075016.685578488 / (2.0 ^ (%3$s + 6)))), 0),
                         2.0 ^ (%3$s + 6) - 1)::integer AS cx,
                   least(greatest(floor((20037508.342789244 - p.y)
                                        / (40075016.685578488 / (2.0 ^ (%3$s + 6)))), 0),
                         2.0 ^ (%3$s + 6) - 1)::integer AS cy,
                   sum(p.sign) AS count, sum(p.sign * p.x) AS sum_x, sum(p.sign * p.y) AS sum_y
              FROM points p
             GROUP BY 1, 2, 3, 4),
        cells AS (
            SELECT z.zoom, f.county_code, f.level, f.count, f.sum_x, f.sum_y,
                   f.cx >> (%3$s - z.zoom) AS gx, f.cy >> (%3$s - z.zoom) AS gy
              FROM finest f CROSS JOIN generate_series(%2$s, %3$s) AS z(zoom))
        SELECT %4$L AS layer, zoom, gx >> 6 AS tile_x, gy >> 6 AS tile_y,
               gx & 63 AS cell_x, gy & 63 AS cell_y, county_code, level,
               sum(count) AS count, sum(sum_x) AS sum_x, sum(sum_y) AS sum_y
          FROM cells
         GROUP BY zoom, gx, gy, county_code, level
        HAVING sum(count) <> 0 OR sum(sum_x) <> 0 OR sum(sum_y) <> 0
    $sql$, points_sql, min_zoom, max_zoom, layer)
$$;

-- The version cells: each row's box is projected once (the CTEs are materialised: inlined,
-- the projection ran four times per row and zoom) and its span of tiles per zoom is
-- arithmetic; the tiles are listed once per distinct span (rows of one write cluster in a
-- few), not once per row and zoom.
CREATE OR REPLACE FUNCTION tile_version_cells_sql(layer text, geometries_sql text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH boxes AS MATERIALIZED (
            SELECT ST_Transform(ST_Envelope(g.geom), 3857) AS box FROM (%s) g),
        edges AS MATERIALIZED (
            SELECT ST_XMin(b.box) + 20037508.342789244 AS west,
                   ST_XMax(b.box) + 20037508.342789244 AS east,
                   20037508.342789244 - ST_YMax(b.box) AS north,
                   20037508.342789244 - ST_YMin(b.box) AS south
              FROM boxes b),
        zooms AS MATERIALIZED (
            SELECT zoom, (40075016.685578488 / (2.0 ^ zoom))::float8 AS size,
                   (2 ^ zoom)::integer - 1 AS last
              FROM generate_series(0, 10) AS zoom),
        spans AS (
            SELECT DISTINCT z.zoom,
                   greatest(floor(e.west / z.size - 1.0 / 64), 0)::integer AS x0,
                   least(floor(e.east / z.size + 1.0 / 64), z.last)::integer AS x1,
                   greatest(floor(e.north / z.size - 1.0 / 64), 0)::integer AS y0,
                   least(floor(e.south / z.size + 1.0 / 64), z.last)::integer AS y1
              FROM edges e CROSS JOIN zooms z)
        SELECT DISTINCT %L AS layer, s.zoom, tx AS tile_x, ty AS tile_y
          FROM spans s
         CROSS JOIN LATERAL generate_series(s.x0, s.x1) AS tx
         CROSS JOIN LATERAL generate_series(s.y0, s.y1) AS ty
    $sql$, geometries_sql, layer)
$$;
