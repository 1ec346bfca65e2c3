ALTER TABLE appointments DROP COLUMN checked_in_at;
DROP TABLE adverse_events;
DROP TABLE screenings;
DROP TABLE town_notices;
DROP TABLE allocation_plans;
DROP TABLE lots;
DROP TABLE shipments;
