-- Issue 14, the clinic desk offline: each action a desk queued offline carries an idempotency
-- key; the key and the answer given to it are kept here, written in the same transaction as an
-- accepted action, so a repeated key gets the stored answer and records nothing. Identical in
-- both trees.
CREATE TABLE sync_actions (
  user_id BIGINT NOT NULL REFERENCES users(id),
  idempotency_key TEXT NOT NULL,
  site_id BIGINT NOT NULL REFERENCES sites(id),
  kind TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'refused')),
  reason TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (user_id, idempotency_key)
);
