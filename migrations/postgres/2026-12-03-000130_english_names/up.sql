-- Optional English names (issue 13): shown on English pages and in English mail, falling back
-- to the Chinese name when NULL.
ALTER TABLE towns ADD COLUMN name_en TEXT;
ALTER TABLE sites ADD COLUMN name_en TEXT;
ALTER TABLE sites ADD COLUMN address_en TEXT;
ALTER TABLE products ADD COLUMN name_en TEXT;
