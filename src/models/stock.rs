//! The stock ledger: every movement of doses, and per site and product the balance it adds up to
//! (`on_hand`) with the doses promised to active appointments (`promised`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::prepared::Part;
use crate::db::schema::{stock_balances, stock_movements};
use crate::db::AnyConnection;
use crate::ids::{ProductId, SiteId};

/// A site's balance of one product.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stock_balances)]
pub struct StockBalance {
    pub site_id: i64,
    pub product_id: i64,
    pub on_hand: i32,
    pub promised: i32,
}

/// One movement of doses (positive in, negative out).
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = stock_movements)]
pub struct Movement {
    pub id: i64,
    pub site_id: Option<i64>,
    pub product_id: i64,
    pub delta: i32,
    pub kind: String,
    pub reason: String,
    pub actor: String,
    pub lot: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Record a movement into or out of a site and keep its balance in step, in the caller's
/// transaction. Refused (by the CHECK constraints) if it would leave promised doses unbacked.
pub fn record(conn: &mut AnyConnection, m: &Movement) -> QueryResult<()> {
    super::insert_into(conn, stock_movements::table, m)?;
    if let Some(site) = m.site_id {
        let updated = diesel::update(stock_balances::table.find((site, m.product_id)))
            .set(stock_balances::on_hand.eq(stock_balances::on_hand + m.delta))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(stock_balances::table)
                .values((
                    stock_balances::site_id.eq(site),
                    stock_balances::product_id.eq(m.product_id),
                    stock_balances::on_hand.eq(m.delta),
                    stock_balances::promised.eq(0),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Promise one dose to a new appointment if the site holds one not yet promised.
pub fn promise_dose(
    conn: &mut AnyConnection,
    site: SiteId,
    product: ProductId,
) -> QueryResult<bool> {
    Ok(dose_promising(site, product).run(conn)? == 1)
}

/// The conditional UPDATE of [`promise_dose`], not yet run (a part of `run_together`; one row
/// changed: the dose is promised).
pub fn dose_promising(site: SiteId, product: ProductId) -> impl Part + Send {
    super::update_of(
        stock_balances::table
            .find((site.0, product.0))
            .filter(stock_balances::promised.lt(stock_balances::on_hand)),
        stock_balances::promised.eq(stock_balances::promised + 1),
    )
}

/// Withdraw the promise of a cancelled or moved appointment.
pub fn unpromise_dose(
    conn: &mut AnyConnection,
    site: SiteId,
    product: ProductId,
) -> QueryResult<()> {
    unpromise_doses(conn, site, product, 1)
}

/// Doses of `product` at `site` not yet promised to an appointment, read from `balances` (a
/// booking anywhere promises one, so a slot without them takes no booking at all).
pub fn unpromised(balances: &[StockBalance], site: i64, product: i64) -> i32 {
    balances
        .iter()
        .find(|b| b.site_id == site && b.product_id == product)
        .map_or(0, |b| (b.on_hand - b.promised).max(0))
}

/// First-dose seats `s` may offer at `now`: its free seats, but never more than the site's
/// doses of the slot's vaccine not yet promised to an appointment (a seat without a dose
/// would only be refused when booked, or drawn for nobody). What the site, household and
/// availability pages offer.
pub fn offered_first(
    s: &super::Slot,
    now: NaiveDateTime,
    release_hours: i64,
    balances: &[StockBalance],
) -> i32 {
    s.free_first(now, release_hours)
        .min(unpromised(balances, s.site_id, s.product_id))
}

/// The balances of several sites (a town's page).
pub fn balances_for_sites(
    conn: &mut AnyConnection,
    sites: &[i64],
) -> QueryResult<Vec<StockBalance>> {
    super::load_all(
        conn,
        stock_balances::table.filter(stock_balances::site_id.eq_any(sites)),
    )
}

/// A site's balances.
pub fn balances_for_site(conn: &mut AnyConnection, site: SiteId) -> QueryResult<Vec<StockBalance>> {
    super::load_all(
        conn,
        stock_balances::table.filter(stock_balances::site_id.eq(site.0)),
    )
}

/// The ledger's sum for a site and product (to check the balance against).
pub fn ledger_sum(conn: &mut AnyConnection, site: SiteId, product: ProductId) -> QueryResult<i64> {
    let deltas: Vec<i32> = stock_movements::table
        .filter(stock_movements::site_id.eq(site.0))
        .filter(stock_movements::product_id.eq(product.0))
        .select(stock_movements::delta)
        .load(conn)?;
    Ok(deltas.into_iter().map(i64::from).sum())
}

/// Withdraw the promises of `n` appointments at once (no-shows), in the caller's transaction.
pub fn unpromise_doses(
    conn: &mut AnyConnection,
    site: SiteId,
    product: ProductId,
    n: i32,
) -> QueryResult<()> {
    diesel::update(
        stock_balances::table
            .find((site.0, product.0))
            .filter(stock_balances::promised.ge(n)),
    )
    .set(stock_balances::promised.eq(stock_balances::promised - n))
    .execute(conn)?;
    Ok(())
}

/// Take `m` (a negative movement) out of a site's doses that are not promised to anyone, and
/// write it to the ledger. False, writing nothing, if the site holds fewer unpromised doses:
/// the conditional UPDATE decides under the row lock, as `promise_dose` does.
pub fn record_out_of_unpromised(conn: &mut AnyConnection, m: &Movement) -> QueryResult<bool> {
    let Some(site) = m.site_id else {
        return Ok(false);
    };
    let out = -m.delta;
    if out <= 0 {
        return Ok(false);
    }
    let n = diesel::update(
        stock_balances::table
            .find((site, m.product_id))
            .filter((stock_balances::on_hand - stock_balances::promised).ge(out)),
    )
    .set(stock_balances::on_hand.eq(stock_balances::on_hand - out))
    .execute(conn)?;
    if n == 0 {
        return Ok(false);
    }
    super::insert_into(conn, stock_movements::table, m)?;
    Ok(true)
}

/// Every site's balance of one product.
pub fn balances_for_product(
    conn: &mut AnyConnection,
    product: ProductId,
) -> QueryResult<Vec<StockBalance>> {
    super::load_all(
        conn,
        stock_balances::table.filter(stock_balances::product_id.eq(product.0)),
    )
}

/// How many sites hold a balance row of a product.
pub fn count_balances_for_product(
    conn: &mut AnyConnection,
    product: ProductId,
) -> QueryResult<i64> {
    stock_balances::table
        .filter(stock_balances::product_id.eq(product.0))
        .count()
        .get_result(conn)
}
