-- One point layer at low zoom from the pre-aggregated cells (tile_cells, kept exact at
-- every commit): the 64×64 cells of the tile with counts per colour, drawn at the mean
-- position of their points, as points_aggregated.sql draws them from the raw rows. The
-- region filter (county-code prefix) and the colour filter apply to the cells' keys.
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile
),
cells AS (
    SELECT sum(c.count) AS count,
           coalesce(sum(c.count) FILTER (WHERE c.level = 'red'), 0) AS red,
           coalesce(sum(c.count) FILTER (WHERE c.level = 'orange'), 0) AS orange,
           coalesce(sum(c.count) FILTER (WHERE c.level = 'yellow'), 0) AS yellow,
           coalesce(sum(c.count) FILTER (WHERE c.level = 'blue'), 0) AS blue,
           sum(c.sum_x) / sum(c.count) AS mean_x, sum(c.sum_y) / sum(c.count) AS mean_y
      FROM tile_cells c
     WHERE c.layer = :layer AND c.zoom = :z AND c.tile_x = :x AND c.tile_y = :y
       AND c.county_code LIKE :code_prefix
       AND (CAST(:levels AS text[]) IS NULL OR c.level = ANY(CAST(:levels AS text[])))
     GROUP BY c.cell_x, c.cell_y
),
features AS (
    SELECT ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(mean_x, mean_y), 3857), bounds.tile,
                        4096, 64, true) AS geom,
           count, red, orange, yellow, blue,
           CASE WHEN red > 0 THEN 'red' WHEN orange > 0 THEN 'orange'
                WHEN yellow > 0 THEN 'yellow' WHEN blue > 0 THEN 'blue' END AS level,
           true AS aggregated
      FROM cells, bounds
)
SELECT ST_AsMVT(features, :layer, 4096, 'geom') FROM features WHERE geom IS NOT NULL
