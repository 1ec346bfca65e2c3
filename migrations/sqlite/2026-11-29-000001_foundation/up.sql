-- The foundation schema. Kept column-for-column identical to migrations/postgres.
-- Counters on slots and stock_balances are the fast path for the booking invariants; the CHECK
-- constraints are the backstop, so a bug in the code cannot oversell a slot or promise vaccine
-- a site does not hold.
CREATE TABLE app_secrets (
  name TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);

CREATE TABLE towns (
  id BIGINT PRIMARY KEY NOT NULL,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  eligible BIGINT NOT NULL DEFAULT 0,
  contact_emails TEXT NOT NULL DEFAULT '',
  active BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE products (
  id BIGINT PRIMARY KEY NOT NULL,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  manufacturer TEXT NOT NULL,
  doses_in_series INTEGER NOT NULL CHECK (doses_in_series >= 1),
  min_interval_days INTEGER NOT NULL CHECK (min_interval_days >= 0),
  max_interval_days INTEGER NOT NULL CHECK (max_interval_days >= min_interval_days),
  min_age_years INTEGER NOT NULL,
  max_age_years INTEGER NOT NULL,
  pack_size INTEGER NOT NULL DEFAULT 1 CHECK (pack_size >= 1)
);

CREATE TABLE sites (
  id BIGINT PRIMARY KEY NOT NULL,
  town_id BIGINT NOT NULL REFERENCES towns(id),
  name TEXT NOT NULL,
  address TEXT NOT NULL,
  active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX sites_town ON sites(town_id);

CREATE TABLE slots (
  id BIGINT PRIMARY KEY NOT NULL,
  site_id BIGINT NOT NULL REFERENCES sites(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  starts_at TIMESTAMP NOT NULL,
  ends_at TIMESTAMP NOT NULL,
  seats INTEGER NOT NULL CHECK (seats >= 0),
  second_dose_held INTEGER NOT NULL DEFAULT 0 CHECK (second_dose_held >= 0),
  booked_first INTEGER NOT NULL DEFAULT 0 CHECK (booked_first >= 0),
  booked_second INTEGER NOT NULL DEFAULT 0 CHECK (booked_second >= 0),
  CHECK (booked_first + booked_second <= seats),
  CHECK (ends_at > starts_at),
  UNIQUE (site_id, product_id, starts_at)
);
CREATE INDEX slots_site_start ON slots(site_id, starts_at);

CREATE TABLE stock_balances (
  site_id BIGINT NOT NULL REFERENCES sites(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  on_hand INTEGER NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
  promised INTEGER NOT NULL DEFAULT 0 CHECK (promised >= 0),
  CHECK (promised <= on_hand),
  PRIMARY KEY (site_id, product_id)
);

CREATE TABLE stock_movements (
  id BIGINT PRIMARY KEY NOT NULL,
  site_id BIGINT REFERENCES sites(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  delta INTEGER NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  lot TEXT,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX stock_movements_site ON stock_movements(site_id, product_id);

CREATE TABLE residents (
  id BIGINT PRIMARY KEY NOT NULL,
  id_hash TEXT NOT NULL UNIQUE,
  id_last4 TEXT NOT NULL,
  birth_date DATE NOT NULL,
  name TEXT NOT NULL,
  phone TEXT NOT NULL,
  email TEXT NOT NULL,
  lang TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE appointments (
  id BIGINT PRIMARY KEY NOT NULL,
  code TEXT NOT NULL UNIQUE,
  resident_id BIGINT NOT NULL REFERENCES residents(id),
  slot_id BIGINT NOT NULL REFERENCES slots(id),
  site_id BIGINT NOT NULL REFERENCES sites(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  dose_number INTEGER NOT NULL CHECK (dose_number >= 1),
  status TEXT NOT NULL,
  starts_at TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
-- Invariant 3: one active appointment per resident and dose number, whatever the code does.
CREATE UNIQUE INDEX appointments_one_active_per_dose
  ON appointments(resident_id, dose_number) WHERE status IN ('booked', 'checked_in');
CREATE INDEX appointments_slot ON appointments(slot_id);
CREATE INDEX appointments_resident ON appointments(resident_id);

CREATE TABLE vaccinations (
  id BIGINT PRIMARY KEY NOT NULL,
  resident_id BIGINT NOT NULL REFERENCES residents(id),
  appointment_id BIGINT UNIQUE REFERENCES appointments(id),
  site_id BIGINT NOT NULL REFERENCES sites(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  dose_number INTEGER NOT NULL CHECK (dose_number >= 1),
  lot TEXT NOT NULL,
  given_at TIMESTAMP NOT NULL,
  staff_user_id BIGINT,
  observation_until TIMESTAMP NOT NULL,
  UNIQUE (resident_id, dose_number)
);

CREATE TABLE waiting_list (
  id BIGINT PRIMARY KEY NOT NULL,
  town_id BIGINT NOT NULL REFERENCES towns(id),
  resident_id BIGINT NOT NULL REFERENCES residents(id),
  dose_number INTEGER NOT NULL,
  status TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX waiting_list_one_per_resident
  ON waiting_list(resident_id, town_id) WHERE status = 'waiting';
CREATE INDEX waiting_list_town ON waiting_list(town_id, status);

CREATE TABLE users (
  id BIGINT PRIMARY KEY NOT NULL,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  site_id BIGINT REFERENCES sites(id),
  active BOOLEAN NOT NULL DEFAULT TRUE,
  created_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users(id),
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP
);

CREATE TABLE audit_log (
  id BIGINT PRIMARY KEY NOT NULL,
  created_at TIMESTAMP NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL
);
