-- City set-up: which products a site gives, its weekly template (opening hours per weekday with
-- a lunch break, slot length, seats, days published ahead), exceptions (a day or part of a day
-- closed, or a day's seats changed), and the history of product interval changes.
-- Times of day are minutes after local midnight in the city's time zone. Identical in
-- migrations/postgres.
CREATE TABLE site_products (
  site_id BIGINT NOT NULL REFERENCES sites(id),
  product_id BIGINT NOT NULL REFERENCES products(id),
  PRIMARY KEY (site_id, product_id)
);

CREATE TABLE site_templates (
  site_id BIGINT PRIMARY KEY NOT NULL REFERENCES sites(id),
  slot_minutes INTEGER NOT NULL CHECK (slot_minutes BETWEEN 5 AND 240),
  seats INTEGER NOT NULL CHECK (seats BETWEEN 1 AND 1000),
  days_ahead INTEGER NOT NULL CHECK (days_ahead BETWEEN 1 AND 60),
  updated_by TEXT NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE site_hours (
  site_id BIGINT NOT NULL REFERENCES sites(id),
  weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
  opens INTEGER NOT NULL,
  lunch_starts INTEGER,
  lunch_ends INTEGER,
  closes INTEGER NOT NULL,
  CHECK (opens >= 0 AND closes <= 1440 AND opens < closes),
  PRIMARY KEY (site_id, weekday)
);

CREATE TABLE site_exceptions (
  id BIGINT PRIMARY KEY NOT NULL,
  site_id BIGINT NOT NULL REFERENCES sites(id),
  day DATE NOT NULL,
  kind TEXT NOT NULL,
  starts INTEGER NOT NULL,
  ends INTEGER NOT NULL,
  seats INTEGER,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  CHECK (starts >= 0 AND ends <= 1440 AND starts < ends)
);
CREATE INDEX site_exceptions_site_day ON site_exceptions(site_id, day);

CREATE TABLE product_changes (
  id BIGINT PRIMARY KEY NOT NULL,
  product_id BIGINT NOT NULL REFERENCES products(id),
  old_min_interval_days INTEGER NOT NULL,
  old_max_interval_days INTEGER NOT NULL,
  new_min_interval_days INTEGER NOT NULL,
  new_max_interval_days INTEGER NOT NULL,
  reason TEXT NOT NULL,
  changed_by TEXT NOT NULL,
  changed_at TIMESTAMP NOT NULL
);
CREATE INDEX product_changes_product ON product_changes(product_id);
