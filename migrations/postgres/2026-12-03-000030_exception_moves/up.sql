-- A booking displaced by an exception (a site closed or its seats cut) is moved to the nearest
-- equivalent seat, or cancelled and put first on its town's waiting list. Each such change is a
-- row here, written in the exception's transaction: the resident's mail is rendered from it (the
-- reason is the exception's, the old time is kept here since the old slot may be withdrawn).
CREATE TABLE exception_moves (
  id BIGINT PRIMARY KEY NOT NULL,
  exception_id BIGINT NOT NULL REFERENCES site_exceptions(id),
  appointment_id BIGINT NOT NULL REFERENCES appointments(id),
  from_slot_id BIGINT NOT NULL,
  from_site_id BIGINT NOT NULL,
  from_starts_at TIMESTAMP NOT NULL,
  from_ends_at TIMESTAMP NOT NULL,
  to_slot_id BIGINT,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX exception_moves_exception ON exception_moves(exception_id);

-- Who is served first from a waiting list: higher priority first, then by joining time. A
-- resident whose booking an exception cancelled (no seat to move to) joins with priority 1.
ALTER TABLE waiting_list ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
