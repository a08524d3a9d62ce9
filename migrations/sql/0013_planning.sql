-- Chemical parks get their county and grid cell from their geometry like every located row,
-- and a layer version bumped once per transaction that writes them (tile ETags).
CREATE TRIGGER chemical_parks_region_codes BEFORE INSERT OR UPDATE OF geom ON chemical_parks
    FOR EACH ROW EXECUTE FUNCTION assign_region_codes();
INSERT INTO layer_versions (layer, version) VALUES ('chemical_parks', 1)
    ON CONFLICT (layer) DO NOTHING;
CREATE CONSTRAINT TRIGGER chemical_parks_layer_versions
    AFTER INSERT OR UPDATE OR DELETE ON chemical_parks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION bump_layer_versions_once('chemical_parks');
CREATE TRIGGER chemical_parks_layer_versions_truncate AFTER TRUNCATE ON chemical_parks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_layer_versions('chemical_parks');

-- A saved planning report is a decision record: it is never edited or deleted through the
-- API's connection (a changed decision is a new report).
CREATE FUNCTION refuse_report_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER planning_reports_append_only BEFORE UPDATE OR DELETE ON planning_reports
    FOR EACH ROW EXECUTE FUNCTION refuse_report_change();
