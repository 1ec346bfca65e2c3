ALTER TABLE outbox DROP COLUMN slot_id;
