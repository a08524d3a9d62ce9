-- Region counts changed at commit, not while the transaction runs.
--
-- Every write in a province adds to the same few rows of region_counts (the province, its
-- city, its county). Updated by the statement triggers, those rows stayed locked from a
-- transaction's first write until its commit, so concurrent writers in one province queued
-- behind each other's whole transactions (writes over 10 s at 40 clients). Now the
-- statement triggers only insert signed deltas into region_count_pending (inserts never
-- wait on each other), and one deferred trigger folds them into region_counts at commit,
-- in key order: the shared rows are held for the moment of the commit only. Readers see
-- exact counts after every commit, as before. With constraints set immediate (the tests),
-- the fold runs at the end of each statement.

CREATE UNLOGGED TABLE region_count_pending (
    id bigserial PRIMARY KEY,
    region_code varchar(40) NOT NULL,
    measure varchar(40) NOT NULL,
    change integer NOT NULL
);

-- Like count_deltas_sql, but into the pending table.
CREATE FUNCTION count_pending_sql(deltas text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format($sql$
        WITH delta AS (%s),
        summed AS (
            SELECT d.county_code, d.grid_code, m.measure, sum(d.sign) AS change
              FROM delta d CROSS JOIN LATERAL unnest(d.measures) AS m(measure)
             WHERE m.measure IS NOT NULL
             GROUP BY 1, 2, 3),
        keyed AS (
            SELECT lineage.code AS region_code, s.measure, s.change
              FROM summed s CROSS JOIN LATERAL region_lineage(s.county_code) AS lineage(code)
            UNION ALL
            SELECT s.grid_code, s.measure, s.change FROM summed s WHERE s.grid_code IS NOT NULL)
        INSERT INTO region_count_pending (region_code, measure, change)
        SELECT region_code, measure, sum(change) FROM keyed
         GROUP BY 1, 2 HAVING sum(change) <> 0
    $sql$, deltas)
$$;

CREATE OR REPLACE FUNCTION count_region_measures() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    measures text := (SELECT measures_sql FROM count_sources WHERE table_name = TG_TABLE_NAME);
    added text := format('SELECT r.county_code, r.grid_code, %s AS measures, 1 AS sign FROM new_rows r', measures);
    removed text := format('SELECT r.county_code, r.grid_code, %s AS measures, -1 AS sign FROM old_rows r', measures);
BEGIN
    EXECUTE count_pending_sql(CASE TG_OP WHEN 'INSERT' THEN added
                                         WHEN 'DELETE' THEN removed
                                         ELSE added || ' UNION ALL ' || removed END);
    RETURN NULL;
END $$;

-- Add every pending delta this transaction can see (its own: the others' are invisible
-- until they commit, and they fold before committing) to region_counts, in key order.
CREATE FUNCTION fold_pending_region_counts() RETURNS void LANGUAGE sql AS $$
    WITH folded AS (DELETE FROM region_count_pending RETURNING region_code, measure, change)
    INSERT INTO region_counts AS c (region_code, measure, value)
    SELECT region_code, measure, sum(change) FROM folded
     GROUP BY 1, 2 HAVING sum(change) <> 0 ORDER BY 1, 2
    ON CONFLICT (region_code, measure) DO UPDATE SET value = c.value + EXCLUDED.value
$$;

-- One event per pending row; the first whose row is still there folds them all.
CREATE FUNCTION fold_region_counts_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM region_count_pending WHERE id = NEW.id;
    IF FOUND THEN
        PERFORM fold_pending_region_counts();
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER region_count_pending_fold AFTER INSERT ON region_count_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fold_region_counts_at_commit();

-- A recount replaces everything, including deltas not yet folded (they are in the recount).
CREATE OR REPLACE FUNCTION rebuild_region_counts() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    source record;
BEGIN
    DELETE FROM region_count_pending;
    DELETE FROM region_counts;
    FOR source IN SELECT * FROM count_sources ORDER BY table_name LOOP
        EXECUTE count_deltas_sql(format(
            'SELECT r.county_code, r.grid_code, %s AS measures, 1 AS sign FROM %I r',
            source.measures_sql, source.table_name));
    END LOOP;
END $$;
