-- Every change of an enterprise's four-colour level, for comparing two dates (which
-- enterprises went up or down a colour). Written by a row trigger on enterprises whenever
-- risk_level changes, whatever changed it (a grading, a rebuild, an edit), so the history
-- is as complete as the level itself. Rows are never changed (like the other histories,
-- 0009); no foreign key to the enterprise, so the record outlives a deleted enterprise.

CREATE TABLE enterprise_level_changes (
    id bigint GENERATED ALWAYS AS IDENTITY,
    county_code char(6) NOT NULL,
    enterprise_id integer NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    old_level varchar(6),
    new_level varchar(6),
    CONSTRAINT pk_enterprise_level_changes PRIMARY KEY (county_code, id)
);
CREATE INDEX ix_enterprise_level_changes_changed_at ON enterprise_level_changes (changed_at);
CREATE INDEX ix_enterprise_level_changes_enterprise_id ON enterprise_level_changes (enterprise_id);
COMMENT ON TABLE enterprise_level_changes IS
    'each change of an enterprise''s risk_level (trigger on enterprises); never updated';

CREATE FUNCTION record_enterprise_level_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO enterprise_level_changes (county_code, enterprise_id, old_level, new_level)
    VALUES (NEW.county_code, NEW.id, OLD.risk_level, NEW.risk_level);
    RETURN NULL;
END $$;

CREATE TRIGGER enterprises_level_changes AFTER UPDATE OF risk_level ON enterprises
    FOR EACH ROW WHEN (OLD.risk_level IS DISTINCT FROM NEW.risk_level)
    EXECUTE FUNCTION record_enterprise_level_change();

-- refuse_history_change() is 0009's.
CREATE TRIGGER enterprise_level_changes_no_update BEFORE UPDATE ON enterprise_level_changes
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
