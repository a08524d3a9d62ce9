-- Layer versions bumped at commit without deadlocks between writers.
--
-- The deferred per-row triggers of each table bump the layers that table feeds. A
-- transaction that wrote several tables used to lock the shared version rows in the order
-- its triggers fired (enterprises first in one, risk points first in another), so two
-- committing writers could wait on each other: a deadlock that killed one commit after
-- its statements had succeeded. Now the first bump of a transaction locks every version
-- row in one fixed order (by layer name); later bumps of the same transaction already
-- hold them. The rows are held only for the moment of the commit.
CREATE OR REPLACE FUNCTION bump_layer_versions_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    flag text := 'riskatlas.bumped_' || TG_TABLE_NAME;
    moment text := txid_current()::text || '@' || statement_timestamp()::text;
    bumped record;
BEGIN
    IF current_setting(flag, true) IS DISTINCT FROM moment THEN
        PERFORM set_config(flag, moment, true);
        PERFORM 1 FROM layer_versions ORDER BY layer FOR UPDATE;
        FOR bumped IN UPDATE layer_versions SET version = version + 1
                       WHERE layer = ANY(TG_ARGV) RETURNING layer, version LOOP
            PERFORM pg_notify('riskatlas_layers', bumped.layer || '=' || bumped.version);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

-- TRUNCATE (bulk loads) bumps immediately; the same order keeps it out of deadlocks too.
CREATE OR REPLACE FUNCTION bump_layer_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bumped record;
BEGIN
    PERFORM 1 FROM layer_versions ORDER BY layer FOR UPDATE;
    FOR bumped IN UPDATE layer_versions SET version = version + 1
                   WHERE layer = ANY(TG_ARGV) RETURNING layer, version LOOP
        PERFORM pg_notify('riskatlas_layers', bumped.layer || '=' || bumped.version);
    END LOOP;
    RETURN NULL;
END $$;
