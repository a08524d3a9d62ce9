-- Tile pre-aggregates and per-cell tile versions (issue 16).
--
-- tile_cells: for every point layer and every tile zoom 0…max_zoom, the 64×64 cells of
-- each tile (the tile grid of zoom+6) with, per county and colour, the number of rows
-- whose anchor point lies in the cell and the sums of their EPSG:3857 coordinates (a mean
-- position). A low-zoom tile reads at most 4,096 cells × (counties × colours) rows instead
-- of every point under it. County is in the key so the table can be distributed by
-- county_code (Citus) and so region filters are served; colour so level filters are.
--
-- tile_versions: a version per layer and quadtree cell of zooms 0…10. A write bumps, at
-- every zoom, the cells whose tile (with its 1/64 render margin) covers the row's old or
-- new bounding box; a tile's ETag takes the version of its own cell (zoom ≤ 10) or of its
-- zoom-10 ancestor, so a write invalidates only the tiles around it.
--
-- Both are kept like region_counts (0010): statement triggers insert signed deltas into
-- UNLOGGED pending tables (inserts never wait on each other) and one deferred trigger
-- folds them at commit in key order, so the shared low-zoom rows are locked only for the
-- moment of the commit; with constraints set immediate (the tests) at each statement.

CREATE TABLE tile_cell_sources (
    layer varchar(40) PRIMARY KEY,       -- the layer, named like its table
    max_zoom smallint NOT NULL,          -- tiles of zooms 0…max_zoom read tile_cells
    level_sql text NOT NULL,             -- over r: the row's colour ('' for none)
    anchor_sql text NOT NULL             -- over r: the point a row is counted at (4326)
);

INSERT INTO tile_cell_sources VALUES
    ('enterprises', 10, 'coalesce(r.risk_level, '''')', 'r.geom'),
    ('risk_points', 10, 'coalesce(r.risk_level, '''')', 'r.geom'),
    ('hazard_sources', 6, 'coalesce(r.risk_level, '''')', 'r.geom'),
    ('public_zones', 9, 'coalesce(r.risk_level, '''')',
     'CASE WHEN GeometryType(r.geom) = ''POINT'' THEN r.geom ELSE ST_PointOnSurface(r.geom) END'),
    ('emergency_resources', 6, '''''', 'r.geom');

CREATE TABLE tile_cells (
    layer varchar(40) NOT NULL,
    zoom smallint NOT NULL,
    tile_x integer NOT NULL,
    tile_y integer NOT NULL,
    cell_x smallint NOT NULL,            -- 0…63 inside the tile, west to east
    cell_y smallint NOT NULL,            -- 0…63 inside the tile, north to south
    county_code char(6) NOT NULL,
    level varchar(6) NOT NULL,
    count integer NOT NULL,
    sum_x double precision NOT NULL,     -- EPSG:3857 metres
    sum_y double precision NOT NULL,
    CONSTRAINT pk_tile_cells
        PRIMARY KEY (layer, zoom, tile_x, tile_y, cell_x, cell_y, county_code, level)
) WITH (fillfactor = 80);  -- room for in-place (HOT) updates: a tile's rows stay together

CREATE UNLOGGED TABLE tile_cell_pending (
    id bigserial PRIMARY KEY,
    layer varchar(40) NOT NULL,
    zoom smallint NOT NULL,
    tile_x integer NOT NULL,
    tile_y integer NOT NULL,
    cell_x smallint NOT NULL,
    cell_y smallint NOT NULL,
    county_code char(6) NOT NULL,
    level varchar(6) NOT NULL,
    count integer NOT NULL,
    sum_x double precision NOT NULL,
    sum_y double precision NOT NULL
);

CREATE TABLE tile_versions (
    layer varchar(40) NOT NULL,
    zoom smallint NOT NULL,
    tile_x integer NOT NULL,
    tile_y integer NOT NULL,
    version bigint NOT NULL,
    CONSTRAINT pk_tile_versions PRIMARY KEY (layer, zoom, tile_x, tile_y)
);

CREATE UNLOGGED TABLE tile_version_pending (
    id bigserial PRIMARY KEY,
    layer varchar(40) NOT NULL,
    zoom smallint NOT NULL,
    tile_x integer NOT NULL,
    tile_y integer NOT NULL
);

-- The cells of zoom+6 of the points in `points_sql` (columns county_code, level, x, y in
-- EPSG:3857, sign), summed per tile cell of each zoom min_zoom…max_zoom. Cell indices follow the
-- XYZ tiles' half-open bounds (west and north edges inside), clamped to the world.
CREATE FUNCTION tile_cell_deltas_sql(layer text, min_zoom integer, max_zoom integer,
                                     points_sql text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH points AS (%s),
        cells AS (
            SELECT z.zoom, p.county_code, p.level, p.x, p.y, p.sign,
                   least(greatest(floor((p.x + 20037508.342789244)
                                        / (40075016.685578488 / (2.0 ^ (z.zoom + 6)))), 0),
                         2.0 ^ (z.zoom + 6) - 1)::integer AS cx,
                   least(greatest(floor((20037508.342789244 - p.y)
                                        / (40075016.685578488 / (2.0 ^ (z.zoom + 6)))), 0),
                         2.0 ^ (z.zoom + 6) - 1)::integer AS cy
              FROM points p CROSS JOIN generate_series(%s, %s) AS z(zoom))
        SELECT %L AS layer, zoom, cx >> 6 AS tile_x, cy >> 6 AS tile_y,
               cx & 63 AS cell_x, cy & 63 AS cell_y, county_code, level,
               sum(sign) AS count, sum(sign * x) AS sum_x, sum(sign * y) AS sum_y
          FROM cells
         GROUP BY zoom, cx, cy, county_code, level
        HAVING sum(sign) <> 0 OR sum(sign * x) <> 0 OR sum(sign * y) <> 0
    $sql$, points_sql, min_zoom, max_zoom, layer)
$$;

-- The points of `relation` (new_rows, old_rows or the table) for tile_cell_deltas_sql.
CREATE FUNCTION tile_cell_points_sql(source tile_cell_sources, relation text, sign integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        SELECT r.county_code, %s AS level, ST_X(a.g) AS x, ST_Y(a.g) AS y, %s AS sign
          FROM %s r CROSS JOIN LATERAL (SELECT ST_Transform(%s, 3857) AS g) a
    $sql$, source.level_sql, sign, relation, source.anchor_sql)
$$;

-- The version cells (zooms 0…10) whose tiles, with their 1/64 margin, cover the bounding
-- boxes of the geometries in `geometries_sql` (one column: geom, 4326).
CREATE FUNCTION tile_version_cells_sql(layer text, geometries_sql text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH boxes AS (
            SELECT ST_Transform(ST_Envelope(g.geom), 3857) AS box FROM (%s) g),
        spans AS (
            SELECT z.zoom, 40075016.685578488 / (2.0 ^ z.zoom) AS size, (2 ^ z.zoom)::integer - 1 AS last,
                   ST_XMin(b.box) + 20037508.342789244 AS west,
                   ST_XMax(b.box) + 20037508.342789244 AS east,
                   20037508.342789244 - ST_YMax(b.box) AS north,
                   20037508.342789244 - ST_YMin(b.box) AS south
              FROM boxes b CROSS JOIN generate_series(0, 10) AS z(zoom))
        SELECT DISTINCT %L AS layer, s.zoom, tx AS tile_x, ty AS tile_y
          FROM spans s
         CROSS JOIN LATERAL generate_series(
               greatest(floor(s.west / s.size - 1.0 / 64), 0)::integer,
               least(floor(s.east / s.size + 1.0 / 64), s.last)::integer) AS tx
         CROSS JOIN LATERAL generate_series(
               greatest(floor(s.north / s.size - 1.0 / 64), 0)::integer,
               least(floor(s.south / s.size + 1.0 / 64), s.last)::integer) AS ty
    $sql$, geometries_sql, layer)
$$;

-- Statement trigger of each point table: pending cell deltas and version bumps.
CREATE FUNCTION tile_cells_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    source tile_cell_sources := (SELECT s FROM tile_cell_sources s WHERE s.layer = TG_TABLE_NAME);
    points text := CASE TG_OP
        WHEN 'INSERT' THEN tile_cell_points_sql(source, 'new_rows', 1)
        WHEN 'DELETE' THEN tile_cell_points_sql(source, 'old_rows', -1)
        ELSE tile_cell_points_sql(source, 'new_rows', 1) || ' UNION ALL '
             || tile_cell_points_sql(source, 'old_rows', -1) END;
    geometries text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT geom FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT geom FROM old_rows'
        ELSE 'SELECT geom FROM new_rows UNION ALL SELECT geom FROM old_rows' END;
    child text;
BEGIN
    EXECUTE format('INSERT INTO tile_cell_pending (layer, zoom, tile_x, tile_y, cell_x, cell_y,'
                   ' county_code, level, count, sum_x, sum_y) %s',
                   tile_cell_deltas_sql(source.layer, 0, source.max_zoom, points));
    EXECUTE format('INSERT INTO tile_version_pending (layer, zoom, tile_x, tile_y) %s',
                   tile_version_cells_sql(source.layer, geometries));
    -- Risk points and hazard sources are filtered by their enterprise's sector: a
    -- changed sector changes their tiles where they are.
    IF TG_TABLE_NAME = 'enterprises' AND TG_OP = 'UPDATE' THEN
        FOREACH child IN ARRAY ARRAY['hazard_sources', 'risk_points'] LOOP
            EXECUTE format('INSERT INTO tile_version_pending (layer, zoom, tile_x, tile_y) %s',
                           tile_version_cells_sql(child, format(
                'SELECT c.geom FROM %I c JOIN new_rows n ON n.id = c.enterprise_id'
                ' JOIN old_rows o ON o.id = n.id WHERE o.sector IS DISTINCT FROM n.sector',
                child)));
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

-- Fold every pending delta and bump this transaction can see (its own) in key order;
-- cells that fall to zero rows are deleted; bumped versions are announced in chunks that
-- fit a notification (PostgreSQL delivers them at commit).
CREATE FUNCTION fold_pending_tiles() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    announced bigint;
BEGIN
    WITH folded AS (DELETE FROM tile_cell_pending
                    RETURNING layer, zoom, tile_x, tile_y, cell_x, cell_y, county_code, level,
                              count, sum_x, sum_y)
    INSERT INTO tile_cells AS c
    SELECT layer, zoom, tile_x, tile_y, cell_x, cell_y, county_code, level,
           sum(count), sum(sum_x), sum(sum_y)
      FROM folded GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
     ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (layer, zoom, tile_x, tile_y, cell_x, cell_y, county_code, level)
    DO UPDATE SET count = c.count + EXCLUDED.count, sum_x = c.sum_x + EXCLUDED.sum_x,
                  sum_y = c.sum_y + EXCLUDED.sum_y;
    -- Emptied cells (the partial index holds only them, so this finds them directly).
    DELETE FROM tile_cells WHERE count = 0;

    WITH folded AS (DELETE FROM tile_version_pending RETURNING layer, zoom, tile_x, tile_y),
    bumped AS (
        INSERT INTO tile_versions AS v (layer, zoom, tile_x, tile_y, version)
        SELECT DISTINCT layer, zoom, tile_x, tile_y, 1 FROM folded ORDER BY 1, 2, 3, 4
        ON CONFLICT (layer, zoom, tile_x, tile_y) DO UPDATE SET version = v.version + 1
        RETURNING layer || '/' || zoom || '/' || tile_x || '/' || tile_y || '=' || version
                  AS entry),
    numbered AS (SELECT entry, row_number() OVER () / 200 AS chunk FROM bumped)
    SELECT count(pg_notify('riskatlas_tiles', c.entries)) INTO announced
      FROM (SELECT string_agg(entry, ';') AS entries FROM numbered GROUP BY chunk) c;
END $$;

CREATE INDEX ix_tile_cells_empty ON tile_cells (layer) WHERE count = 0;

-- One event per pending row; the first whose row is still there folds them all.
CREATE FUNCTION fold_tiles_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tile_cell_pending' THEN
        PERFORM 1 FROM tile_cell_pending WHERE id = NEW.id;
    ELSE
        PERFORM 1 FROM tile_version_pending WHERE id = NEW.id;
    END IF;
    IF FOUND THEN
        PERFORM fold_pending_tiles();
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER tile_cell_pending_fold AFTER INSERT ON tile_cell_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fold_tiles_at_commit();
CREATE CONSTRAINT TRIGGER tile_version_pending_fold AFTER INSERT ON tile_version_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fold_tiles_at_commit();

-- TRUNCATE of a point table empties its cells (its tiles' epoch is bumped by the
-- layer-version truncate trigger).
CREATE FUNCTION tile_cells_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tile_cell_pending WHERE layer = TG_TABLE_NAME;
    DELETE FROM tile_cells WHERE layer = TG_TABLE_NAME;
    RETURN NULL;
END $$;

-- Recompute every cell from the tables (after bulk loads with the triggers off): the
-- deepest zoom from the rows, each coarser zoom from the one below (a cell of zoom z is
-- four cells of zoom z+1), then bump every point layer's tile epoch so no cached tile
-- survives. Pending deltas are dropped: the recount includes them.
CREATE FUNCTION rebuild_tile_cells() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    source tile_cell_sources;
    z integer;
    bumped record;
BEGIN
    DELETE FROM tile_cell_pending;
    DELETE FROM tile_cells;
    FOR source IN SELECT * FROM tile_cell_sources ORDER BY layer LOOP
        -- In key order, so the rows of one tile share pages (a z4 tile reads ~14k rows).
        EXECUTE format('INSERT INTO tile_cells SELECT * FROM (%s) d ORDER BY 1, 2, 3, 4, 5, 6, 7, 8',
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
             GROUP BY finer.layer, gx, gy, finer.county_code, finer.level
             ORDER BY 1, 2, 3, 4, 5, 6, 7, 8;
        END LOOP;
    END LOOP;
    PERFORM 1 FROM layer_versions ORDER BY layer FOR UPDATE;
    FOR bumped IN UPDATE layer_versions SET version = version + 1
                   WHERE layer IN (SELECT 'tiles:' || s.layer FROM tile_cell_sources s)
                   RETURNING layer, version LOOP
        PERFORM pg_notify('riskatlas_layers', bumped.layer || '=' || bumped.version);
    END LOOP;
END $$;
