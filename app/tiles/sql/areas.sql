-- Regions (province, city or county by zoom) or grid cells, with the four-colour counts
-- from the risk engine's region_counts and the regional level by the 'highest' method
-- (which measures make each colour is bound from geodata/risk data files).
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.015625), 4326) AS filter
),
units AS (
    SELECT t.code, t.{geometry} AS geom, {properties}
      FROM {table} t, bounds
     WHERE t.{geometry} && bounds.filter
       AND t.code LIKE :code_prefix
       {unit_filter}
),
-- Counts per region: a grouped read of the units' rows ({counts} is region_counts, or on
-- Citus its per-county table, whose rows for a region then add up: app/cluster/routing.py).
counts AS (
    SELECT rc.region_code,
           sum(value) FILTER (WHERE measure = 'risk_points.red') AS red,
           sum(value) FILTER (WHERE measure = 'risk_points.orange') AS orange,
           sum(value) FILTER (WHERE measure = 'risk_points.yellow') AS yellow,
           sum(value) FILTER (WHERE measure = 'risk_points.blue') AS blue,
           sum(value) FILTER (WHERE measure = 'enterprises.total') AS enterprises,
           sum(value) FILTER (WHERE measure = 'dangers.open_major') AS open_major_dangers,
           CASE WHEN bool_or(value > 0 AND measure = ANY(CAST(:red_measures AS text[]))) THEN 'red'
                WHEN bool_or(value > 0 AND measure = ANY(CAST(:orange_measures AS text[]))) THEN 'orange'
                WHEN bool_or(value > 0 AND measure = ANY(CAST(:yellow_measures AS text[]))) THEN 'yellow'
                WHEN bool_or(value > 0 AND measure = ANY(CAST(:blue_measures AS text[]))) THEN 'blue'
           END AS level
      FROM {counts} rc
     WHERE rc.region_code IN (SELECT code FROM units)
     GROUP BY rc.region_code
),
counted AS (
    SELECT u.*, coalesce(c.red, 0) AS red, coalesce(c.orange, 0) AS orange,
           coalesce(c.yellow, 0) AS yellow, coalesce(c.blue, 0) AS blue,
           coalesce(c.enterprises, 0) AS enterprises,
           coalesce(c.open_major_dangers, 0) AS open_major_dangers, c.level
      FROM units u LEFT JOIN counts c ON c.region_code = u.code
),
-- Materialised: on Citus (issue 17) the rows come from the shards and ST_AsMVT runs over
-- them on the coordinator (inlined with bound parameters, Citus loses the geometry column).
features AS MATERIALIZED (
    SELECT ST_AsMVTGeom(ST_Transform(counted.geom, 3857), bounds.tile, 4096, 64, true) AS geom,
           counted.code AS id_code, {output_properties},
           red, orange, yellow, blue, enterprises, open_major_dangers, level,
           CAST(:method AS text) AS method
      FROM counted, bounds
     WHERE CAST(:levels AS text[]) IS NULL OR level = ANY(CAST(:levels AS text[]))
)
SELECT ST_AsMVT(features, :layer, 4096, 'geom') FROM features WHERE geom IS NOT NULL
