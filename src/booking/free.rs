//! Where a town's page says a site's next free seat is: a first-dose seat released and free, with
//! a dose of its vaccine left to promise.

use diesel::QueryResult;

use super::Rules;
use crate::db::AnyConnection;
use crate::models::{slot, stock, Slot};

/// Today's and later slots of a town's sites with a first-dose seat free and a dose in stock to
/// promise for it (`stock`: the sites' balances), soonest first: each site's next one, at most
/// `limit` of them.
pub fn next_free_slots(
    conn: &mut AnyConnection,
    rules: Rules,
    site_ids: &[i64],
    stock: &[stock::StockBalance],
    limit: usize,
) -> QueryResult<Vec<Slot>> {
    let mut out = Vec::with_capacity(site_ids.len());
    for &site in site_ids {
        // A site with no dose left to promise has no bookable seat: its slots are not read.
        if stock
            .iter()
            .any(|b| b.site_id == site && stock::unpromised(stock, site, b.product_id) > 0)
        {
            out.extend(next_free_at(conn, rules, site, stock)?);
        }
    }
    out.sort_by_key(|s| (s.starts_at, s.id));
    out.truncate(limit);
    Ok(out)
}

/// A site's next slot with a first-dose seat free and a dose of its vaccine in stock. Its first
/// open slot usually is that slot, so a few are read first; more only when those are all held
/// for second doses or not yet released (reading all of a town's open slots on each town page
/// cost 1 ms a page: BENCHMARKS.md).
fn next_free_at(
    conn: &mut AnyConnection,
    rules: Rules,
    site: i64,
    stock: &[stock::StockBalance],
) -> QueryResult<Option<Slot>> {
    for batch in [16, 2000] {
        let open = slot::list_open_for_sites(conn, &[site], rules.now, batch)?;
        let read = open.len();
        let free = open.into_iter().find(|s| {
            s.released(rules.now)
                && s.free_first(rules.now, rules.release_hours) > 0
                && stock::unpromised(stock, s.site_id, s.product_id) > 0
        });
        if free.is_some() || (read as i64) < batch {
            return Ok(free);
        }
    }
    Ok(None)
}
