-- Issue 12: what the closed loop writes is audited, and spot-check draws are a record.

-- Inspections and evidence photos get the audit trigger of the other written tables
-- (migrations/sql/0008_audit.sql): who recorded which inspection, who uploaded which photo.
CREATE TRIGGER inspections_audit AFTER INSERT OR UPDATE OR DELETE ON inspections
    FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER evidence_files_audit AFTER INSERT OR UPDATE OR DELETE ON evidence_files
    FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER key_supervision_audit AFTER INSERT OR UPDATE OR DELETE ON key_supervision
    FOR EACH ROW EXECUTE FUNCTION audit_row();

-- A published draw is never redrawn in place (refuse_history_change: 0009): append-only,
-- like the hidden-danger history. Its insert is audited.
CREATE TRIGGER spot_check_draws_audit AFTER INSERT ON spot_check_draws
    FOR EACH ROW EXECUTE FUNCTION audit_row();
CREATE TRIGGER spot_check_draws_append_only BEFORE UPDATE OR DELETE ON spot_check_draws
    FOR EACH ROW EXECUTE FUNCTION refuse_history_change();
CREATE TRIGGER spot_check_draws_no_truncate BEFORE TRUNCATE ON spot_check_draws
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_history_change();
