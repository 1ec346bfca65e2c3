-- Issue 9, fair release: the per-phone and per-email cap on active bookings per day counts a
-- contact's appointments through these indexes; an entry may allow a seat at another site of
-- the same town; a not-drawn entry may say why ('contact_cap'). Identical in both trees.
CREATE INDEX residents_phone ON residents(phone);
CREATE INDEX residents_email ON residents(email);
ALTER TABLE draw_entries ADD COLUMN any_site_in_town BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE draw_entries ADD COLUMN reason TEXT;
