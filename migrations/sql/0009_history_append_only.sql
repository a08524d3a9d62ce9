-- The hidden-danger history is a record, like the audit log: enforced append-only by the
-- database, so no code path (and no role but the owner changing the schema) rewrites it.
CREATE FUNCTION refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER hidden_danger_events_append_only BEFORE UPDATE OR DELETE ON hidden_danger_events
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER hidden_danger_events_no_truncate BEFORE TRUNCATE ON hidden_danger_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
