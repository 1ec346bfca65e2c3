-- The readiness probe (`GET /readyz`) rewrites this one row in a write transaction, through the
-- same write path as bookings, to prove that a write can commit. Identical in both trees.
CREATE TABLE readiness (
  id INTEGER PRIMARY KEY NOT NULL,
  checked_at TIMESTAMP NOT NULL
);
INSERT INTO readiness (id, checked_at) VALUES (1, '2000-01-01 00:00:00');
