-- One point layer at low zoom: points summed into square cells of :cell metres (64 per
-- tile side), each drawn at the mean position of its points, with counts per colour and
-- the highest colour. A point is counted in exactly one tile (half-open bounds), so the
-- counts of all tiles of a zoom add up to the raw count.
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile,
           ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326) AS filter
),
points AS (
    SELECT ST_Transform({anchor}, 3857) AS g, {level} AS level
      FROM {table} t, bounds
     WHERE t.geom && bounds.filter
       {filters}
),
inside AS (
    SELECT p.* FROM points p, bounds
     WHERE ST_X(p.g) >= ST_XMin(bounds.tile) AND ST_X(p.g) < ST_XMax(bounds.tile)
       AND ST_Y(p.g) > ST_YMin(bounds.tile) AND ST_Y(p.g) <= ST_YMax(bounds.tile)
),
cells AS (
    SELECT count(*) AS count,
           count(*) FILTER (WHERE level = 'red') AS red,
           count(*) FILTER (WHERE level = 'orange') AS orange,
           count(*) FILTER (WHERE level = 'yellow') AS yellow,
           count(*) FILTER (WHERE level = 'blue') AS blue,
           avg(ST_X(g)) AS mean_x, avg(ST_Y(g)) AS mean_y
      FROM inside
     GROUP BY floor(ST_X(g) / :cell), floor(ST_Y(g) / :cell)
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
