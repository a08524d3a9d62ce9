-- One point layer, feature by feature. Table, properties and filters come from the
-- layer catalogue; every value is a bound parameter. The filter box is in the table's SRID
-- (4326) so the GiST index is used; geometries are transformed only for output.
WITH bounds AS (
    SELECT ST_TileEnvelope(:z, :x, :y) AS tile,
           ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.015625), 4326) AS filter
),
-- Materialised: on Citus (issue 17) the rows come from the shards and ST_AsMVT runs over
-- them on the coordinator (inlined with bound parameters, Citus loses the geometry column).
features AS MATERIALIZED (
    SELECT ST_AsMVTGeom(ST_Transform(t.geom, 3857), bounds.tile, 4096, 64, true) AS geom,
           {properties}
      FROM {table} t, bounds
     WHERE t.geom && bounds.filter
       {filters}
)
SELECT ST_AsMVT(features, :layer, 4096, 'geom') FROM features WHERE geom IS NOT NULL
