-- Hidden dangers as a tile layer (issue 16): pre-aggregated cells and per-cell versions
-- like the other point layers (0016, 0017). Only open dangers are on the layer, coloured
-- by grade: 重大 (major) red, 较大 (larger) orange, 一般 (general) yellow.

-- A source may count only some of its rows: `row_filter` (over r) says which. A row that
-- leaves the filter (a danger closed) is subtracted like a deleted one, one that enters it
-- (re-opened) added like an inserted one.
ALTER TABLE tile_cell_sources ADD COLUMN row_filter text NOT NULL DEFAULT 'true';

CREATE OR REPLACE FUNCTION tile_cell_points_sql(source tile_cell_sources, relation text, sign integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        SELECT r.county_code, %s AS level, ST_X(a.g) AS x, ST_Y(a.g) AS y, %s AS sign
          FROM %s r CROSS JOIN LATERAL (SELECT ST_Transform(%s, 3857) AS g) a
         WHERE %s
    $sql$, source.level_sql, sign, relation, source.anchor_sql, source.row_filter)
$$;

-- The same expressions as the layer in app/tiles/catalog.py (a test holds them equal).
INSERT INTO tile_cell_sources (layer, max_zoom, level_sql, anchor_sql, row_filter) VALUES
    ('hidden_dangers', 9,
     'CASE r.grade WHEN ''major'' THEN ''red'' WHEN ''larger'' THEN ''orange'' ELSE ''yellow'' END',
     'r.geom', 'r.status <> ''closed''');

-- tile_cells_track (0016) with hidden dangers among the rows filtered by their
-- enterprise's sector: a changed sector changes their tiles where they are.
CREATE OR REPLACE FUNCTION tile_cells_track() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF TG_TABLE_NAME = 'enterprises' AND TG_OP = 'UPDATE' THEN
        FOREACH child IN ARRAY ARRAY['hazard_sources', 'hidden_dangers', 'risk_points'] LOOP
            EXECUTE format('INSERT INTO tile_version_pending (layer, zoom, tile_x, tile_y) %s',
                           tile_version_cells_sql(child, format(
                'SELECT c.geom FROM %I c JOIN new_rows n ON n.id = c.enterprise_id'
                ' JOIN old_rows o ON o.id = n.id WHERE o.sector IS DISTINCT FROM n.sector',
                child)));
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

-- The open dangers' cells as they stand (the rule rebuild_tile_cells() uses: each row's
-- deepest cell, coarser ones by shifting), without recounting the other layers.
DO $$
DECLARE
    source tile_cell_sources := (SELECT s FROM tile_cell_sources s WHERE s.layer = 'hidden_dangers');
BEGIN
    EXECUTE format('INSERT INTO tile_cells SELECT * FROM (%s) d ORDER BY 1, 2, 3, 4, 5, 6, 7, 8',
                   tile_cell_deltas_sql(source.layer, 0, source.max_zoom,
                                        tile_cell_points_sql(source, 'hidden_dangers', 1)));
END $$;
