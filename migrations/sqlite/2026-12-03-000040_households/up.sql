-- Issue 13, households: residents who share a phone number and an e-mail address are grouped so
-- one of them can see everyone's doses and book them together. `members` counts the rows of
-- household_members (raised by a conditional UPDATE, so the cap holds under concurrent adds;
-- `dosewise check` compares it with the rows). A resident belongs to at most one household.
-- Identical in both trees.
CREATE TABLE households (
  id BIGINT PRIMARY KEY,
  members INTEGER NOT NULL CHECK (members >= 0),
  created_at TIMESTAMP NOT NULL
);
CREATE TABLE household_members (
  resident_id BIGINT PRIMARY KEY REFERENCES residents(id),
  household_id BIGINT NOT NULL REFERENCES households(id),
  added_at TIMESTAMP NOT NULL
);
CREATE INDEX household_members_household ON household_members (household_id);
