-- The slot a message about an appointment is about, as it was when the message was queued:
-- a confirmation states the time that was booked even when it is sent after a move, and a
-- reminder queued for a time the appointment has since left is not sent. Identical in both trees.
ALTER TABLE outbox ADD COLUMN slot_id BIGINT;
