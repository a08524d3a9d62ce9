-- Hidden dangers as a tile layer (0022) on a Citus database (after 0020): the same source
-- row and row filter, with 0020's trigger body (writing the co-located shards) given
-- hidden dangers among the sector children. Run statement by statement, like 0020.

SET citus.multi_shard_modify_mode TO 'sequential';
SET citus.create_object_propagation TO 'immediate';
SET citus.enable_unsafe_triggers TO on;

ALTER TABLE tile_cell_sources ADD COLUMN row_filter text NOT NULL DEFAULT 'true';

CREATE OR REPLACE FUNCTION tile_cell_points_sql(source tile_cell_sources, relation text, sign integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        SELECT r.county_code, %s AS level, ST_X(a.g) AS x, ST_Y(a.g) AS y, %s AS sign
          FROM %s r CROSS JOIN LATERAL (SELECT ST_Transform(%s, 3857) AS g) a
         WHERE %s
    $sql$, source.level_sql, sign, relation, source.anchor_sql, source.row_filter)
$$;

INSERT INTO tile_cell_sources (layer, max_zoom, level_sql, anchor_sql, row_filter) VALUES
    ('hidden_dangers', 9,
     'CASE r.grade WHEN ''major'' THEN ''red'' WHEN ''larger'' THEN ''orange'' ELSE ''yellow'' END',
     'r.geom', 'r.status <> ''closed''');

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
    EXECUTE format('DELETE FROM %s WHERE county_code = ANY($1) AND count = 0', cells)
      USING counties;
    EXECUTE bump_tile_versions_sql(tile_county_version_cells_sql(source.layer, geometries),
                                   versions);
    IF layer_name = 'enterprises' AND TG_OP = 'UPDATE' THEN
        FOREACH child IN ARRAY ARRAY['hazard_sources', 'hidden_dangers', 'risk_points'] LOOP
            EXECUTE bump_tile_versions_sql(tile_county_version_cells_sql(child, format(
                'SELECT c.county_code, c.geom FROM %s c JOIN new_rows n'
                ' ON n.county_code = c.county_code AND n.id = c.enterprise_id'
                ' JOIN old_rows o ON o.id = n.id WHERE o.sector IS DISTINCT FROM n.sector',
                shard_of(child::regclass, TG_TABLE_NAME))), versions);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

INSERT INTO layer_epochs (layer, version) VALUES ('tiles:hidden_dangers', 1);

CREATE TRIGGER hidden_dangers_tiles_insert AFTER INSERT ON hidden_dangers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tile_cells_track();
CREATE TRIGGER hidden_dangers_tiles_update AFTER UPDATE ON hidden_dangers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tile_cells_track();
CREATE TRIGGER hidden_dangers_tiles_delete AFTER DELETE ON hidden_dangers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tile_cells_track();

-- The open dangers' cells as they stand (rebuild_tile_cells' rule, this layer only).
DO $$
DECLARE
    source tile_cell_sources := (SELECT s FROM tile_cell_sources s WHERE s.layer = 'hidden_dangers');
BEGIN
    EXECUTE format('INSERT INTO tile_cells SELECT * FROM (%s) d',
                   tile_cell_deltas_sql(source.layer, 0, source.max_zoom,
                                        tile_cell_points_sql(source, 'hidden_dangers', 1)));
END $$;
