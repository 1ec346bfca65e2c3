DROP TABLE draw_entries;
DROP TABLE draws;
ALTER TABLE slots DROP COLUMN opens_at;
ALTER TABLE site_templates DROP COLUMN draw_minutes;
ALTER TABLE site_templates DROP COLUMN release_minutes;
ALTER TABLE site_templates DROP COLUMN release_days;
