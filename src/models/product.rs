//! Vaccine products: the series, the interval between doses, the age range.

use diesel::prelude::*;

use crate::db::schema::products;
use crate::db::AnyConnection;
use crate::ids::ProductId;

/// A vaccine product.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = products)]
pub struct Product {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub manufacturer: String,
    pub doses_in_series: i32,
    pub min_interval_days: i32,
    pub max_interval_days: i32,
    pub min_age_years: i32,
    pub max_age_years: i32,
    pub pack_size: i32,
}

/// A product to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = products)]
pub struct NewProduct {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub manufacturer: String,
    pub doses_in_series: i32,
    pub min_interval_days: i32,
    pub max_interval_days: i32,
    pub min_age_years: i32,
    pub max_age_years: i32,
    pub pack_size: i32,
}

/// One product.
pub fn find(conn: &mut AnyConnection, id: ProductId) -> QueryResult<Option<Product>> {
    products::table
        .find(id.0)
        .select(Product::as_select())
        .first(conn)
        .optional()
}

/// Every product.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<Product>> {
    products::table
        .order(products::code.asc())
        .select(Product::as_select())
        .load(conn)
}

/// Insert one row.
pub fn insert(conn: &mut AnyConnection, row: &NewProduct) -> QueryResult<()> {
    diesel::insert_into(products::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}
