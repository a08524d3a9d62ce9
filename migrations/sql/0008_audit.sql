-- The audit log: one row per inserted, updated or deleted row of the audited tables,
-- written by the database itself so no code path can forget it. The actor comes from
-- transaction-local settings the API sets at the start of each transaction
-- (app/audit/service.py); jobs without an actor (loads, rebuilds) are not audited.
CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor text := nullif(current_setting('riskatlas.actor', true), '');
    before jsonb;
    after jsonb;
BEGIN
    IF actor IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        before := to_jsonb(OLD) - 'password_hash';
    END IF;
    IF TG_OP <> 'DELETE' THEN
        after := to_jsonb(NEW) - 'password_hash';
    END IF;
    -- Re-derived levels often rewrite a row unchanged: not a change worth a record.
    IF TG_OP = 'UPDATE' AND before - 'updated_at' = after - 'updated_at' THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (user_id, username, action, table_name, row_id, county_code,
                           before, after, client_address, request_id)
    VALUES (nullif(current_setting('riskatlas.actor_id', true), '')::integer, actor,
            lower(TG_OP), TG_TABLE_NAME,
            coalesce(after ->> 'id', before ->> 'id', after ->> 'code', before ->> 'code'),
            coalesce(after ->> 'county_code', before ->> 'county_code'),
            before, after,
            nullif(current_setting('riskatlas.client_address', true), ''),
            nullif(current_setting('riskatlas.request_id', true), ''));
    RETURN NULL;
END $$;

-- Append-only, enforced here and not only by the code: no role can rewrite history
-- through the API's connection (the owner could drop this trigger; that is a schema change).
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
