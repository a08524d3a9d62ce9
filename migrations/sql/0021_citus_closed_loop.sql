-- Citus: the closed-loop history distributed by county_code, co-located with the
-- enterprises and hidden dangers it records (issue 17, docs/scaling.md §1.1). Run by
-- migration 0021 only on a database with the citus extension (after 0020).
--
-- Their keys already lead with county_code and they have no foreign keys; an inspection
-- carries its enterprise's county and a danger's step its danger's county, which on the
-- cluster is the enterprise's (§1.2): an enterprise, its dangers, their history and its
-- inspections share one shard, so the statements that join them on (county_code, id)
-- run shard by shard instead of being refused as joins of distributed and local tables.

SET citus.multi_shard_modify_mode TO 'sequential';
SET citus.create_object_propagation TO 'immediate';
SET citus.enable_unsafe_triggers TO on;

-- The audit log is a coordinator table, which a trigger on a shard cannot write (as for
-- the located tables in 0020). The append-only triggers of the history stay: they only
-- refuse, on the shard.
DROP TRIGGER inspections_audit ON inspections;
DROP TRIGGER evidence_files_audit ON evidence_files;

SELECT create_distributed_table('inspections', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('hidden_danger_events', 'county_code', colocate_with => 'enterprises');
SELECT create_distributed_table('evidence_files', 'county_code', colocate_with => 'enterprises');
-- A database migrated before (0020 on a cluster in use) has rows: Citus copied them to the
-- shards and leaves the coordinator's own copy, unread; it goes. The history refuses a
-- TRUNCATE (0009) for this one statement only.
SELECT truncate_local_data_after_distributing_table('inspections');
SELECT truncate_local_data_after_distributing_table('evidence_files');
ALTER TABLE hidden_danger_events DISABLE TRIGGER hidden_danger_events_no_truncate;
SELECT truncate_local_data_after_distributing_table('hidden_danger_events');
ALTER TABLE hidden_danger_events ENABLE TRIGGER hidden_danger_events_no_truncate;

-- move_to_county (0020) takes the history along: an enterprise's inspections, and the
-- photos of its hidden dangers (or of the danger moved), move to the new county. A
-- danger's steps are append-only (0009: a DELETE is refused, on the shard too): they are
-- copied to the new county, ids and all, and the old county keeps the record as written;
-- readers find a danger's steps in the danger's county (app/dangers/service.py).
CREATE OR REPLACE FUNCTION move_to_county(tbl regclass, row_id integer, new_county char(6),
                                          new_geom geometry)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    moved text[] := CASE WHEN tbl = 'enterprises'::regclass
                         THEN ARRAY['enterprises', 'hazard_sources', 'risk_points', 'hidden_dangers']
                         ELSE ARRAY[tbl::text] END;
    name text;
    old_county char(6);
    dangers integer[] := '{}';
    history text[] := ARRAY['inspections', 'evidence_files', 'hidden_danger_events'];
BEGIN
    EXECUTE format('SELECT county_code FROM %s WHERE id = $1', tbl) INTO old_county USING row_id;
    IF tbl = 'enterprises'::regclass THEN
        SELECT coalesce(array_agg(d.id), '{}') INTO dangers FROM hidden_dangers d
         WHERE d.county_code = old_county AND d.enterprise_id = row_id;
    ELSIF tbl = 'hidden_dangers'::regclass THEN
        dangers := ARRAY[row_id];
    END IF;
    CREATE TEMP TABLE moving_inspections ON COMMIT DROP AS
        SELECT * FROM inspections
         WHERE county_code = old_county AND enterprise_id = row_id
           AND tbl = 'enterprises'::regclass;
    CREATE TEMP TABLE moving_evidence_files ON COMMIT DROP AS
        SELECT * FROM evidence_files WHERE county_code = old_county AND danger_id = ANY(dangers);
    CREATE TEMP TABLE moving_hidden_danger_events ON COMMIT DROP AS
        SELECT * FROM hidden_danger_events
         WHERE county_code = old_county AND danger_id = ANY(dangers);
    DELETE FROM inspections WHERE county_code = old_county AND enterprise_id = row_id
       AND tbl = 'enterprises'::regclass;
    DELETE FROM evidence_files WHERE county_code = old_county AND danger_id = ANY(dangers);

    FOREACH name IN ARRAY moved LOOP
        EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT * FROM %I WHERE %I = $1',
                       'moving_' || name, name,
                       CASE WHEN name = tbl::text THEN 'id' ELSE 'enterprise_id' END)
          USING row_id;
        IF name = tbl::text THEN  -- the row itself lands where it now lies
            EXECUTE format('UPDATE %I SET geom = $1', 'moving_' || name) USING new_geom;
        END IF;
    END LOOP;
    -- The enterprise's rows go with it (ON DELETE CASCADE).
    EXECUTE format('DELETE FROM %s WHERE id = $1', tbl) USING row_id;
    FOREACH name IN ARRAY moved || history LOOP
        EXECUTE format('UPDATE %I SET county_code = $1', 'moving_' || name) USING new_county;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I', name, 'moving_' || name);
        EXECUTE format('DROP TABLE %I', 'moving_' || name);
    END LOOP;
END $$;

RESET citus.multi_shard_modify_mode;
RESET citus.create_object_propagation;
RESET citus.enable_unsafe_triggers;
