DROP INDEX audit_log_town;
DROP INDEX audit_log_created;
ALTER TABLE audit_log DROP COLUMN town_id;
