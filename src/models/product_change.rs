//! The history of changes to a product's interval between doses (`product_changes`), each with
//! its recorded reason.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::product_changes;
use crate::db::AnyConnection;
use crate::ids::ProductId;

/// One interval change.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_changes)]
pub struct ProductChange {
    pub id: i64,
    pub product_id: i64,
    pub old_min_interval_days: i32,
    pub old_max_interval_days: i32,
    pub new_min_interval_days: i32,
    pub new_max_interval_days: i32,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: NaiveDateTime,
}

/// Insert one row.
pub fn insert(conn: &mut AnyConnection, c: &ProductChange) -> QueryResult<()> {
    super::insert_into(conn, product_changes::table, c)
}

/// A product's changes, newest first.
pub fn list_for_product(
    conn: &mut AnyConnection,
    product: ProductId,
) -> QueryResult<Vec<ProductChange>> {
    super::load_all(
        conn,
        product_changes::table
            .filter(product_changes::product_id.eq(product.0))
            .order(product_changes::changed_at.desc()),
    )
}
