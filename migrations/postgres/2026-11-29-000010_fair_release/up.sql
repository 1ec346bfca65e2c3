-- Fair release (issue 9): a site template's release rule, each slot's opening instant, and the
-- draws that hand out a release's seats in a verifiable random order. Identical in both trees.

-- "Slots for day D open at release_minutes (local) on D - release_days"; both NULL: no rule.
-- draw_minutes: how long the draw window lasts from the opening (0: first come at once).
ALTER TABLE site_templates ADD COLUMN release_days INTEGER CHECK (release_days BETWEEN 1 AND 60);
ALTER TABLE site_templates ADD COLUMN release_minutes INTEGER CHECK (release_minutes BETWEEN 0 AND 1439);
ALTER TABLE site_templates ADD COLUMN draw_minutes INTEGER NOT NULL DEFAULT 10 CHECK (draw_minutes BETWEEN 0 AND 240);

-- UTC; NULL: bookable since it was published (no release rule).
ALTER TABLE slots ADD COLUMN opens_at TIMESTAMP;

-- One draw per site and opening instant. The seed is chosen and its SHA-256 published when the
-- draw is scheduled (before the window opens); it is shown only once the draw is done.
CREATE TABLE draws (
  id BIGINT PRIMARY KEY NOT NULL,
  site_id BIGINT NOT NULL REFERENCES sites(id),
  opens_at TIMESTAMP NOT NULL,
  closes_at TIMESTAMP NOT NULL,
  seed TEXT NOT NULL,
  seed_hash TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'done')),
  entries INTEGER NOT NULL DEFAULT 0 CHECK (entries >= 0),
  claim_token TEXT,
  lease_until TIMESTAMP,
  drawn_at TIMESTAMP,
  order_codes TEXT,
  created_at TIMESTAMP NOT NULL,
  CHECK (closes_at > opens_at),
  UNIQUE (site_id, opens_at)
);
CREATE INDEX draws_due ON draws(status, closes_at);

-- An entry: a booking request made inside a draw window. The slot asked for is kept by value
-- (site, vaccine, start) as well, since an unbooked slot may be withdrawn before the draw.
CREATE TABLE draw_entries (
  id BIGINT PRIMARY KEY NOT NULL,
  code TEXT NOT NULL UNIQUE,
  draw_id BIGINT NOT NULL REFERENCES draws(id),
  slot_id BIGINT NOT NULL,
  product_id BIGINT NOT NULL REFERENCES products(id),
  starts_at TIMESTAMP NOT NULL,
  resident_id BIGINT NOT NULL REFERENCES residents(id),
  dose_number INTEGER NOT NULL CHECK (dose_number >= 1),
  status TEXT NOT NULL CHECK (status IN ('waiting', 'drawn', 'not_drawn')),
  position INTEGER,
  appointment_id BIGINT REFERENCES appointments(id),
  created_at TIMESTAMP NOT NULL,
  decided_at TIMESTAMP
);
-- One entry per ID number and dose while it waits for its draw.
CREATE UNIQUE INDEX draw_entries_one_waiting_per_dose
  ON draw_entries(resident_id, dose_number) WHERE status = 'waiting';
CREATE INDEX draw_entries_draw ON draw_entries(draw_id, status);
