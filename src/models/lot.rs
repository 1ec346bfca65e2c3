//! Vaccine lots (batches) and how many doses of each a site holds, read from the stock ledger:
//! a lot is in stock at a site when its movements there add up to more than zero.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::schema::{lots, stock_movements};
use crate::db::AnyConnection;
use crate::ids::{ProductId, SiteId};

/// A lot of one product, with its expiry date.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = lots)]
pub struct Lot {
    pub id: i64,
    pub shipment_id: Option<i64>,
    pub product_id: i64,
    pub lot_number: String,
    pub expires_on: NaiveDate,
    pub doses: i32,
}

/// A lot to insert (the same columns).
pub type NewLot = Lot;

/// Insert a lot.
pub fn insert(conn: &mut AnyConnection, lot: &NewLot) -> QueryResult<()> {
    super::insert_into(conn, lots::table, lot)
}

/// The lot of `product` with this number.
pub fn find_by_number(
    conn: &mut AnyConnection,
    product: ProductId,
    lot_number: &str,
) -> QueryResult<Option<Lot>> {
    super::find_one(
        conn,
        lots::table
            .filter(lots::product_id.eq(product.0))
            .filter(lots::lot_number.eq(lot_number)),
    )
}

/// The doses of one lot a site holds: the sum of its ledger movements there.
pub fn site_balance(
    conn: &mut AnyConnection,
    site: SiteId,
    product: ProductId,
    lot_number: &str,
) -> QueryResult<i64> {
    let sum: Option<i64> = stock_movements::table
        .filter(stock_movements::site_id.eq(site.0))
        .filter(stock_movements::product_id.eq(product.0))
        .filter(stock_movements::lot.eq(lot_number))
        .select(diesel::dsl::sum(stock_movements::delta))
        .get_result(conn)?;
    Ok(sum.unwrap_or(0))
}

/// The lots a site holds doses of, with the doses held, soonest expiry first (the one to use
/// first); with `unexpired_on`, only those not expired on that day.
pub fn in_stock_at_site(
    conn: &mut AnyConnection,
    site: SiteId,
    unexpired_on: Option<NaiveDate>,
) -> QueryResult<Vec<(Lot, i64)>> {
    let sums: Vec<(i64, Option<String>, Option<i64>)> = stock_movements::table
        .filter(stock_movements::site_id.eq(site.0))
        .filter(stock_movements::lot.is_not_null())
        .group_by((stock_movements::product_id, stock_movements::lot))
        .select((
            stock_movements::product_id,
            stock_movements::lot,
            diesel::dsl::sum(stock_movements::delta),
        ))
        .load(conn)?;
    let held: Vec<(i64, String, i64)> = sums
        .into_iter()
        .filter_map(|(p, lot, n)| match (lot, n) {
            (Some(lot), Some(n)) if n > 0 => Some((p, lot, n)),
            _ => None,
        })
        .collect();
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let numbers: Vec<&str> = held.iter().map(|(_, l, _)| l.as_str()).collect();
    let mut query = lots::table
        .filter(lots::lot_number.eq_any(numbers))
        .select(Lot::as_select())
        .into_boxed();
    if let Some(on) = unexpired_on {
        query = query.filter(lots::expires_on.ge(on));
    }
    let mut out: Vec<(Lot, i64)> = query
        .load(conn)?
        .into_iter()
        .filter_map(|lot| {
            held.iter()
                .find(|(p, l, _)| *p == lot.product_id && *l == lot.lot_number)
                .map(|(_, _, n)| (lot.clone(), *n))
        })
        .collect();
    out.sort_by(|a, b| (a.0.expires_on, &a.0.lot_number).cmp(&(b.0.expires_on, &b.0.lot_number)));
    Ok(out)
}
