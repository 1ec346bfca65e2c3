//! Which vaccine products a site gives (`site_products`).

use diesel::prelude::*;

use crate::db::schema::site_products;
use crate::db::AnyConnection;
use crate::ids::SiteId;

/// The products a site gives.
pub fn list_for_site(conn: &mut AnyConnection, site: SiteId) -> QueryResult<Vec<i64>> {
    site_products::table
        .filter(site_products::site_id.eq(site.0))
        .order(site_products::product_id.asc())
        .select(site_products::product_id)
        .load(conn)
}

/// Replace the products a site gives.
pub fn replace(conn: &mut AnyConnection, site: SiteId, products: &[i64]) -> QueryResult<()> {
    diesel::delete(site_products::table.filter(site_products::site_id.eq(site.0))).execute(conn)?;
    for p in products {
        diesel::insert_into(site_products::table)
            .values((
                site_products::site_id.eq(site.0),
                site_products::product_id.eq(*p),
            ))
            .execute(conn)?;
    }
    Ok(())
}
