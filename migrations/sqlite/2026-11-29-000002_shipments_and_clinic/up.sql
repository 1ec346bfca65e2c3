-- Shipments and lots (the bureau), allocation plans and town notices, and the clinic's records:
-- screenings and adverse events. Identical in migrations/postgres.
CREATE TABLE shipments (
  id BIGINT PRIMARY KEY NOT NULL,
  product_id BIGINT NOT NULL REFERENCES products(id),
  doses INTEGER NOT NULL CHECK (doses > 0),
  received_on DATE NOT NULL,
  next_expected_on DATE NOT NULL,
  next_latest_on DATE NOT NULL,
  status TEXT NOT NULL,
  recorded_by TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  CHECK (next_expected_on > received_on),
  CHECK (next_latest_on >= next_expected_on)
);

CREATE TABLE lots (
  id BIGINT PRIMARY KEY NOT NULL,
  shipment_id BIGINT REFERENCES shipments(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  lot_number TEXT NOT NULL,
  expires_on DATE NOT NULL,
  doses INTEGER NOT NULL CHECK (doses >= 0),
  UNIQUE (product_id, lot_number)
);

CREATE TABLE allocation_plans (
  id BIGINT PRIMARY KEY NOT NULL,
  shipment_id BIGINT NOT NULL REFERENCES shipments(id),
  status TEXT NOT NULL,
  instance_json TEXT NOT NULL,
  plan_json TEXT NOT NULL,
  optimal_json TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  approved_by TEXT,
  approved_at TIMESTAMP
);
-- At most one approved plan per shipment: approving twice cannot apply it twice.
CREATE UNIQUE INDEX allocation_plans_one_approved
  ON allocation_plans(shipment_id) WHERE status = 'approved';

CREATE TABLE town_notices (
  id BIGINT PRIMARY KEY NOT NULL,
  town_id BIGINT NOT NULL REFERENCES towns(id),
  plan_id BIGINT NOT NULL REFERENCES allocation_plans(id),
  doses INTEGER NOT NULL,
  arrives_on DATE NOT NULL,
  second_doses_due INTEGER NOT NULL,
  due_by DATE,
  first_dose_seats INTEGER NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX town_notices_town ON town_notices(town_id);

CREATE TABLE screenings (
  id BIGINT PRIMARY KEY NOT NULL,
  appointment_id BIGINT NOT NULL REFERENCES appointments(id),
  fever BOOLEAN NOT NULL,
  allergy BOOLEAN NOT NULL,
  pregnant BOOLEAN NOT NULL,
  recent_vaccine BOOLEAN NOT NULL,
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL,
  staff_user_id BIGINT REFERENCES users(id),
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX screenings_appointment ON screenings(appointment_id);

CREATE TABLE adverse_events (
  id BIGINT PRIMARY KEY NOT NULL,
  vaccination_id BIGINT NOT NULL REFERENCES vaccinations(id),
  resident_id BIGINT NOT NULL REFERENCES residents(id),
  site_id BIGINT NOT NULL REFERENCES sites(id),
  severity TEXT NOT NULL,
  symptoms TEXT NOT NULL,
  action_taken TEXT NOT NULL,
  occurred_at TIMESTAMP NOT NULL,
  recorded_by BIGINT REFERENCES users(id),
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX adverse_events_site ON adverse_events(site_id, occurred_at);

ALTER TABLE appointments ADD COLUMN checked_in_at TIMESTAMP;
