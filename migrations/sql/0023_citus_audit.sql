-- Citus: the audit of located rows, restored on the cluster (issue 17, docs/scaling.md
-- §1.5). Run by migration 0023 only on a database with the citus extension (after 0020,
-- 0021, which dropped the located tables' audit triggers).
--
-- A trigger on a shard may only write its own worker (0020), and the coordinator's
-- audit_log is not there. So the entries of located rows go to `audit_log_located`, the
-- same columns distributed by county_code and co-located with the enterprises: the
-- trigger on a shard writes the co-located audit shard (shard_of, as 0020's aggregate
-- triggers do). The coordinator tables (users, leads, blacklist…) keep writing audit_log
-- on the coordinator. The actor reaches the workers because on this database
-- the API names it with SET LOCAL, which Citus propagates
-- (citus.propagate_set_commands = 'local', app/audit/service.py); set_config() is not.

SET citus.multi_shard_modify_mode TO 'sequential';
SET citus.create_object_propagation TO 'immediate';
SET citus.enable_unsafe_triggers TO on;

-- The ids come from audit_log's sequence: Citus gives each worker its own range of it,
-- so an id names one entry across both tables.
CREATE TABLE audit_log_located (LIKE audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE audit_log_located ALTER COLUMN county_code SET NOT NULL,
    ADD CONSTRAINT pk_audit_log_located PRIMARY KEY (county_code, id);
CREATE INDEX ix_audit_log_located_row ON audit_log_located (table_name, row_id);
CREATE INDEX ix_audit_log_located_at ON audit_log_located (at);
CREATE INDEX ix_audit_log_located_username ON audit_log_located (username);
SELECT create_distributed_table('audit_log_located', 'county_code', colocate_with => 'enterprises');
-- Append-only, on the shards too (TRUNCATE triggers are not run on distributed tables).
CREATE TRIGGER audit_log_located_append_only BEFORE UPDATE OR DELETE ON audit_log_located
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();

-- audit_row (0017) for a shard: the same entry (audit_entry), into the co-located shard of
-- audit_log_located, under the table's own name (TG_TABLE_NAME is the shard's here). A
-- shard has no nextval() default (Citus evaluates those on the coordinator): the id is
-- drawn here, from the worker's range of the sequence.
CREATE FUNCTION audit_located_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('riskatlas.audit', true) = 'bulk' THEN
        RETURN NULL;
    END IF;
    EXECUTE format('INSERT INTO %s (id, user_id, username, action, table_name, row_id,'
                   ' county_code, before, after, client_address, request_id)'
                   ' SELECT nextval(''audit_log_id_seq''), * FROM audit_entry($1, $2, $3, $4)',
                   shard_of('audit_log_located', TG_TABLE_NAME))
      USING lower(TG_OP), logical_table(TG_TABLE_NAME),
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
            CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    RETURN NULL;
END $$;
SELECT create_distributed_function('audit_located_row()');

CREATE TRIGGER enterprises_audit AFTER INSERT OR UPDATE OR DELETE ON enterprises
    FOR EACH ROW EXECUTE FUNCTION audit_located_row();
CREATE TRIGGER risk_points_audit AFTER INSERT OR UPDATE OR DELETE ON risk_points
    FOR EACH ROW EXECUTE FUNCTION audit_located_row();
CREATE TRIGGER hazard_sources_audit AFTER INSERT OR UPDATE OR DELETE ON hazard_sources
    FOR EACH ROW EXECUTE FUNCTION audit_located_row();
CREATE TRIGGER hidden_dangers_audit AFTER INSERT OR UPDATE OR DELETE ON hidden_dangers
    FOR EACH ROW EXECUTE FUNCTION audit_located_row();
CREATE TRIGGER public_zones_audit AFTER INSERT OR UPDATE OR DELETE ON public_zones
    FOR EACH ROW EXECUTE FUNCTION audit_located_row();
CREATE TRIGGER emergency_resources_audit AFTER INSERT OR UPDATE OR DELETE ON emergency_resources
    FOR EACH ROW EXECUTE FUNCTION audit_located_row();
CREATE TRIGGER inspections_audit AFTER INSERT OR UPDATE OR DELETE ON inspections
    FOR EACH ROW EXECUTE FUNCTION audit_located_row();
CREATE TRIGGER evidence_files_audit AFTER INSERT OR UPDATE OR DELETE ON evidence_files
    FOR EACH ROW EXECUTE FUNCTION audit_located_row();

RESET citus.multi_shard_modify_mode;
RESET citus.create_object_propagation;
RESET citus.enable_unsafe_triggers;
