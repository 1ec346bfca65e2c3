DROP TABLE product_changes;
DROP TABLE site_exceptions;
DROP TABLE site_hours;
DROP TABLE site_templates;
DROP TABLE site_products;
