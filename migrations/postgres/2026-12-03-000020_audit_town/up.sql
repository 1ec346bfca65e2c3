-- The audit trail names the town an entry concerns (NULL for city-wide entries), so the bureau
-- can filter it by town; listings page by time.
ALTER TABLE audit_log ADD COLUMN town_id BIGINT;
CREATE INDEX audit_log_created ON audit_log (created_at, id);
CREATE INDEX audit_log_town ON audit_log (town_id, created_at);
