ALTER TABLE products DROP COLUMN name_en;
ALTER TABLE sites DROP COLUMN address_en;
ALTER TABLE sites DROP COLUMN name_en;
ALTER TABLE towns DROP COLUMN name_en;
