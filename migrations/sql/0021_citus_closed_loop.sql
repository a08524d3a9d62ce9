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

RESET citus.multi_shard_modify_mode;
RESET citus.create_object_propagation;
RESET citus.enable_unsafe_triggers;
