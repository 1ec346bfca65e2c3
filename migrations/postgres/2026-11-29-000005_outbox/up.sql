-- The mail outbox: a row is written in the same transaction as the change that causes the
-- message, and delivered later by a worker that claims rows with a lease. Identical in both trees.
CREATE TABLE outbox (
  id BIGINT PRIMARY KEY NOT NULL,
  kind TEXT NOT NULL,
  ref_id BIGINT NOT NULL,
  recipient TEXT NOT NULL,
  lang TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE,
  dedupe_key TEXT UNIQUE,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMP NOT NULL,
  lease_until TIMESTAMP,
  claim_token TEXT,
  last_error TEXT,
  created_at TIMESTAMP NOT NULL,
  sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_claim ON outbox(claim_token);
