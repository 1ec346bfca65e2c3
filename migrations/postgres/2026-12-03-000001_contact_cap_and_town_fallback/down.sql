ALTER TABLE draw_entries DROP COLUMN reason;
ALTER TABLE draw_entries DROP COLUMN any_site_in_town;
DROP INDEX residents_email;
DROP INDEX residents_phone;
