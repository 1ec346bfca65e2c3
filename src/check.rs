//! `dosewise check`: reads the whole database and verifies every invariant that spans tables,
//! on both backends. Each violation names the invariant and the rows involved.
//!
//! The invariants and where they are kept (ARCHITECTURE.md has the same table):
//! - a slot's counters equal the appointments holding its seats, and never exceed its seats;
//! - no two bookable slots of one site and product overlap in time (the crowd limit);
//! - each stock balance equals its ledger, never promises more than it holds, and no lot (at a
//!   site or central) goes below zero;
//! - a site's promised doses equal its active appointments; its given doses equal its
//!   vaccinations, and each vaccinated appointment has exactly one vaccination;
//! - each approved plan: what was planned for a town = what was moved to its sites = what the
//!   town was told;
//! - one active appointment per resident and dose, on the slot, site and time it names;
//! - every outbox row in a known state, and every booking's confirmation queued;
//! - each draw's seed hashes to its commitment and, once done, counts its entries; a done draw decided
//!   every entry, in the published order, which is the order its seed gives; a drawn entry holds
//!   an appointment of its resident, dose and vaccine at its draw's site (or, if the entry
//!   allowed it, another site of the same town), and nothing else does;
//!   one waiting entry per resident and dose; every decided entry's result is mailed;
//! - each household's member count equals its members;
//! - an exception's cancellation (`exception_moves` without a new slot) left its appointment
//!   cancelled; an appointment an exception moved, not cancelled since and never moved by anyone
//!   else (each move, the system's or the resident's, writes one `appointment.move` audit row), is
//!   on one of the slots the exception rows moved it to.
//!
//! The queries are plain SQL written once for both backends; sums are cast to BIGINT so they
//! read the same from SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::fmt;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

mod moves;

use crate::bureau::StoredPlan;
use crate::db::AnyConnection;

/// One broken invariant, with the rows involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// A short name of the invariant.
    pub invariant: &'static str,
    /// The rows involved, as `table id=...` and the values that disagree.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// The statuses of an appointment that hold a promised dose.
const ACTIVE: &str = "('booked', 'checked_in')";

/// An appointment holds its slot's seat unless it was cancelled (a deferral at the desk,
/// status `deferred`, keeps the seat: the resident came).
const HOLDS_SEAT: &str = "a.status <> 'cancelled'";

/// The outbox states the worker knows.
const OUTBOX_STATES: [&str; 5] = ["pending", "sending", "sent", "skipped", "failed"];

/// Verify every invariant; an empty list means the database is consistent.
pub fn run(c: &mut AnyConnection) -> QueryResult<Vec<Violation>> {
    let mut out = Vec::new();
    slots(c, &mut out)?;
    overlapping_slots(c, &mut out)?;
    stock(c, &mut out)?;
    doses(c, &mut out)?;
    plans(c, &mut out)?;
    appointments(c, &mut out)?;
    outbox(c, &mut out)?;
    draws(c, &mut out)?;
    households(c, &mut out)?;
    moves::exception_moves(c, &mut out)?;
    Ok(out)
}

fn push(out: &mut Vec<Violation>, invariant: &'static str, detail: String) {
    out.push(Violation { invariant, detail });
}

/// Run `sql`, a query whose every row breaks `invariant`: one violation per row, described by
/// `detail`.
fn each_row<R>(
    c: &mut AnyConnection,
    out: &mut Vec<Violation>,
    sql: impl Into<String>,
    invariant: &'static str,
    detail: impl Fn(&R) -> String,
) -> QueryResult<()>
where
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, AnyConnection, R>,
{
    for r in diesel::sql_query(sql).load::<R>(c)? {
        push(out, invariant, detail(&r));
    }
    Ok(())
}

/// Each site's town.
fn town_of(c: &mut AnyConnection) -> QueryResult<BTreeMap<i64, i64>> {
    use crate::db::schema::sites;
    Ok(sites::table
        .select((sites::id, sites::town_id))
        .load::<(i64, i64)>(c)?
        .into_iter()
        .collect())
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    stored: i64,
    #[diesel(sql_type = BigInt)]
    counted: i64,
}

/// Each household's `members` against its rows in `household_members`.
fn households(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    each_row(
        c,
        out,
        "SELECT * FROM (SELECT h.id, CAST(h.members AS BIGINT) AS stored, \
           (SELECT COUNT(*) FROM household_members m WHERE m.household_id = h.id) AS counted \
         FROM households h) q WHERE q.stored <> q.counted ORDER BY q.id",
        "a household counts its members",
        |r: &CountRow| {
            format!(
                "households id={}: members={}, rows in household_members={}",
                r.id, r.stored, r.counted
            )
        },
    )
}

#[derive(QueryableByName)]
struct SlotRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    seats: i64,
    #[diesel(sql_type = BigInt)]
    held: i64,
    #[diesel(sql_type = BigInt)]
    booked_first: i64,
    #[diesel(sql_type = BigInt)]
    booked_second: i64,
    #[diesel(sql_type = BigInt)]
    n_first: i64,
    #[diesel(sql_type = BigInt)]
    n_second: i64,
}

/// Seats and held seats against the appointments on each slot.
fn slots(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    each_row(
        c,
        out,
        format!(
            "SELECT * FROM (SELECT s.id, CAST(s.seats AS BIGINT) AS seats, \
           CAST(s.second_dose_held AS BIGINT) AS held, \
           CAST(s.booked_first AS BIGINT) AS booked_first, \
           CAST(s.booked_second AS BIGINT) AS booked_second, \
           (SELECT COUNT(*) FROM appointments a WHERE a.slot_id = s.id AND a.dose_number = 1 \
              AND {HOLDS_SEAT}) AS n_first, \
           (SELECT COUNT(*) FROM appointments a WHERE a.slot_id = s.id AND a.dose_number > 1 \
              AND {HOLDS_SEAT}) AS n_second \
         FROM slots s) q \
         WHERE q.booked_first <> q.n_first OR q.booked_second <> q.n_second \
            OR q.booked_first + q.booked_second > q.seats OR q.seats < 0 \
            OR q.held < 0 OR q.held > q.seats \
         ORDER BY q.id"
        ),
        "slot seats match its appointments",
        |r: &SlotRow| {
            format!(
                "slot id={}: seats={} held={} booked_first={} booked_second={}, \
                 appointments holding a seat: first={} later={}",
                r.id, r.seats, r.held, r.booked_first, r.booked_second, r.n_first, r.n_second
            )
        },
    )
}

#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = BigInt)]
    a: i64,
    #[diesel(sql_type = BigInt)]
    b: i64,
    #[diesel(sql_type = BigInt)]
    site_id: i64,
}

/// No two slots with seats of one site and product cover the same time.
fn overlapping_slots(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    each_row(
        c,
        out,
        "SELECT x.id AS a, y.id AS b, x.site_id FROM slots x JOIN slots y \
           ON y.site_id = x.site_id AND y.product_id = x.product_id AND x.id < y.id \
          AND x.starts_at < y.ends_at AND y.starts_at < x.ends_at \
         WHERE x.seats > 0 AND y.seats > 0 ORDER BY x.id, y.id",
        "no overlapping bookable slots",
        |r: &PairRow| {
            format!(
                "site id={}: slots id={} and id={} overlap",
                r.site_id, r.a, r.b
            )
        },
    )
}

#[derive(QueryableByName)]
struct BalanceRow {
    #[diesel(sql_type = BigInt)]
    site_id: i64,
    #[diesel(sql_type = BigInt)]
    product_id: i64,
    #[diesel(sql_type = BigInt)]
    on_hand: i64,
    #[diesel(sql_type = BigInt)]
    promised: i64,
    #[diesel(sql_type = BigInt)]
    ledger: i64,
    #[diesel(sql_type = BigInt)]
    active: i64,
}

#[derive(QueryableByName)]
struct LotRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    site_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    product_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    lot: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Balances against the ledger and the appointments; lots and central stock never negative.
fn stock(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    // Every (site, product) that has a balance, a ledger row or an active appointment.
    let rows: Vec<BalanceRow> = diesel::sql_query(format!(
        "SELECT k.site_id, k.product_id, \
           COALESCE((SELECT CAST(b.on_hand AS BIGINT) FROM stock_balances b \
              WHERE b.site_id = k.site_id AND b.product_id = k.product_id), 0) AS on_hand, \
           COALESCE((SELECT CAST(b.promised AS BIGINT) FROM stock_balances b \
              WHERE b.site_id = k.site_id AND b.product_id = k.product_id), 0) AS promised, \
           COALESCE((SELECT CAST(SUM(m.delta) AS BIGINT) FROM stock_movements m \
              WHERE m.site_id = k.site_id AND m.product_id = k.product_id), 0) AS ledger, \
           (SELECT COUNT(*) FROM appointments a WHERE a.site_id = k.site_id \
              AND a.product_id = k.product_id AND a.status IN {ACTIVE}) AS active \
         FROM (SELECT site_id, product_id FROM stock_balances \
               UNION SELECT site_id, product_id FROM stock_movements WHERE site_id IS NOT NULL \
               UNION SELECT site_id, product_id FROM appointments WHERE status IN {ACTIVE}) k \
         ORDER BY k.site_id, k.product_id"
    ))
    .load(c)?;
    for r in rows {
        let key = format!("site id={} product id={}", r.site_id, r.product_id);
        if r.on_hand != r.ledger {
            push(
                out,
                "stock balance equals its ledger",
                format!("{key}: on_hand={} ledger sum={}", r.on_hand, r.ledger),
            );
        }
        if r.promised < 0 || r.promised > r.on_hand {
            push(
                out,
                "promised doses are held",
                format!("{key}: promised={} on_hand={}", r.promised, r.on_hand),
            );
        }
        if r.promised != r.active {
            push(
                out,
                "promised doses equal active appointments",
                format!(
                    "{key}: promised={} active appointments={}",
                    r.promised, r.active
                ),
            );
        }
    }
    each_row(
        c,
        out,
        "SELECT site_id, product_id, lot, CAST(SUM(delta) AS BIGINT) AS n FROM stock_movements \
         GROUP BY site_id, product_id, lot HAVING SUM(delta) < 0 \
         ORDER BY product_id, lot",
        "no stock below zero",
        |r: &LotRow| {
            let place = r
                .site_id
                .map_or_else(|| "central stock".to_string(), |s| format!("site id={s}"));
            format!(
                "{place} product id={} lot {}: {}",
                r.product_id,
                r.lot.as_deref().unwrap_or("(none)"),
                r.n
            )
        },
    )
}

#[derive(QueryableByName)]
struct DoseRow {
    #[diesel(sql_type = BigInt)]
    site_id: i64,
    #[diesel(sql_type = BigInt)]
    product_id: i64,
    #[diesel(sql_type = BigInt)]
    given: i64,
    #[diesel(sql_type = BigInt)]
    vaccinations: i64,
}

#[derive(QueryableByName)]
struct IdCount {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Doses given out of the ledger against vaccinations recorded (history brought in from
/// before, as the demo's, goes through the ledger too: received, then given); appointments
/// marked vaccinated against their vaccination rows.
fn doses(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    let rows: Vec<DoseRow> = diesel::sql_query(
        "SELECT k.site_id, k.product_id, \
           COALESCE((SELECT CAST(-SUM(m.delta) AS BIGINT) FROM stock_movements m \
              WHERE m.site_id = k.site_id AND m.product_id = k.product_id \
                AND m.kind = 'given'), 0) AS given, \
           (SELECT COUNT(*) FROM vaccinations v WHERE v.site_id = k.site_id \
              AND v.product_id = k.product_id) AS vaccinations \
         FROM (SELECT site_id, product_id FROM vaccinations \
               UNION SELECT site_id, product_id FROM stock_movements \
                 WHERE kind = 'given' AND site_id IS NOT NULL) k \
         ORDER BY k.site_id, k.product_id",
    )
    .load(c)?;
    for r in rows.into_iter().filter(|r| r.given != r.vaccinations) {
        push(
            out,
            "each dose given is one vaccination",
            format!(
                "site id={} product id={}: ledger gave {} doses, {} vaccinations recorded",
                r.site_id, r.product_id, r.given, r.vaccinations
            ),
        );
    }
    each_row(
        c,
        out,
        "SELECT a.id, (SELECT COUNT(*) FROM vaccinations v WHERE v.appointment_id = a.id) AS n \
         FROM appointments a WHERE (a.status = 'vaccinated') <> EXISTS \
           (SELECT 1 FROM vaccinations v WHERE v.appointment_id = a.id) \
            OR (SELECT COUNT(*) FROM vaccinations v WHERE v.appointment_id = a.id) > 1 \
         ORDER BY a.id",
        "a vaccinated appointment has one vaccination",
        |r: &IdCount| format!("appointment id={}: {} vaccinations", r.id, r.n),
    )
}

#[derive(QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    shipment_id: i64,
    #[diesel(sql_type = Text)]
    plan_json: String,
}

#[derive(QueryableByName)]
struct MoveRow {
    #[diesel(sql_type = Nullable<BigInt>)]
    site_id: Option<i64>,
    #[diesel(sql_type = Text)]
    reason: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Each approved plan: planned per town = moved to the town's sites = told to the town, and
/// what left central stock = what arrived at the sites.
fn plans(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    let plans: Vec<PlanRow> = diesel::sql_query(
        "SELECT id, shipment_id, plan_json FROM allocation_plans WHERE status = 'approved' \
         ORDER BY id",
    )
    .load(c)?;
    if plans.is_empty() {
        return Ok(());
    }
    let town_of = town_of(c)?;
    let moves: Vec<MoveRow> = diesel::sql_query(
        "SELECT site_id, reason, CAST(SUM(delta) AS BIGINT) AS n FROM stock_movements \
         WHERE kind = 'allocated' GROUP BY site_id, reason",
    )
    .load(c)?;
    for p in plans {
        let plan: StoredPlan = match serde_json::from_str(&p.plan_json) {
            Ok(plan) => plan,
            Err(e) => {
                push(
                    out,
                    "approved plans are readable",
                    format!("allocation_plans id={}: {e}", p.id),
                );
                continue;
            }
        };
        let prefix = format!("shipment {} to site ", p.shipment_id);
        let (mut central_out, mut sites_in) = (0i64, 0i64);
        let mut moved: BTreeMap<i64, i64> = BTreeMap::new();
        for m in moves.iter().filter(|m| m.reason.starts_with(&prefix)) {
            match m.site_id {
                None => central_out -= m.n,
                Some(site) => {
                    sites_in += m.n;
                    *moved
                        .entry(town_of.get(&site).copied().unwrap_or(-1))
                        .or_default() += m.n;
                }
            }
        }
        // An id is a number: formatting it in is safe, and one placeholder syntax would not
        // serve both backends.
        let told: BTreeMap<i64, i64> = diesel::sql_query(format!(
            "SELECT town_id AS id, CAST(SUM(doses) AS BIGINT) AS n FROM town_notices \
             WHERE plan_id = {} GROUP BY town_id",
            p.id
        ))
        .load::<IdCount>(c)?
        .into_iter()
        .map(|n| (n.id, n.n))
        .collect();
        if central_out != sites_in {
            push(
                out,
                "approval conserves doses",
                format!(
                    "allocation_plans id={}: {central_out} doses left central stock, \
                     {sites_in} arrived at sites",
                    p.id
                ),
            );
        }
        for t in &plan.towns {
            let planned = i64::try_from(t.ship).unwrap_or(i64::MAX);
            let split: u64 = t.sites.iter().map(|s| s.ship).sum();
            let moved = moved.get(&t.town_id).copied().unwrap_or(0);
            let told = told.get(&t.town_id).copied().unwrap_or(0);
            if planned != moved || planned != told || t.ship != split {
                push(
                    out,
                    "planned = moved = told",
                    format!(
                        "allocation_plans id={} town id={} ({}): planned {planned}, \
                         split over sites {split}, moved to its sites {moved}, told {told}",
                        p.id, t.town_id, t.code
                    ),
                );
            }
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct DupRow {
    #[diesel(sql_type = BigInt)]
    resident_id: i64,
    #[diesel(sql_type = BigInt)]
    dose_number: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One active appointment per resident and dose; each appointment on the slot it names.
fn appointments(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    each_row(
        c,
        out,
        format!(
            "SELECT resident_id, CAST(dose_number AS BIGINT) AS dose_number, COUNT(*) AS n \
             FROM appointments WHERE status IN {ACTIVE} GROUP BY resident_id, dose_number \
             HAVING COUNT(*) > 1"
        ),
        "one active appointment per resident and dose",
        |d: &DupRow| {
            format!(
                "residents id={} dose {}: {} active appointments",
                d.resident_id, d.dose_number, d.n
            )
        },
    )?;
    each_row(
        c,
        out,
        "SELECT a.id, a.slot_id AS n FROM appointments a LEFT JOIN slots s ON s.id = a.slot_id \
         WHERE s.id IS NULL OR s.site_id <> a.site_id OR s.product_id <> a.product_id \
            OR s.starts_at <> a.starts_at ORDER BY a.id",
        "an appointment is on the slot it names",
        |w: &IdCount| {
            format!(
                "appointment id={}: slot id={} is missing or disagrees on site, vaccine or time",
                w.id, w.n
            )
        },
    )
}

#[derive(QueryableByName)]
struct OutboxRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    broken: i64,
}

/// Outbox rows in known states; every booking's confirmation queued (a walk-in, booked at the
/// desk with the resident standing there, gets none).
fn outbox(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    let states = OUTBOX_STATES.map(|s| format!("'{s}'")).join(", ");
    let rows: Vec<OutboxRow> = diesel::sql_query(format!(
        "SELECT id, kind, status, CAST(CASE \
            WHEN status NOT IN ({states}) THEN 1 \
            WHEN status = 'sent' AND sent_at IS NULL THEN 2 \
            WHEN status = 'sending' AND (claim_token IS NULL OR lease_until IS NULL) THEN 3 \
            ELSE 0 END AS BIGINT) AS broken FROM outbox ORDER BY id"
    ))
    .load(c)?;
    for r in rows {
        let unknown_kind = crate::models::outbox::Kind::parse(&r.kind).is_none();
        if r.broken == 0 && !unknown_kind {
            continue;
        }
        let why = match r.broken {
            1 => "unknown status",
            2 => "sent without a time",
            3 => "sending without a lease",
            _ => "unknown kind",
        };
        push(
            out,
            "outbox rows are in a known state",
            format!(
                "outbox id={} kind={} status={}: {why}",
                r.id, r.kind, r.status
            ),
        );
    }
    each_row(
        c,
        out,
        "SELECT a.id, a.resident_id AS n FROM appointments a \
           JOIN residents r ON r.id = a.resident_id \
         WHERE a.status = 'booked' AND r.email <> '' AND NOT EXISTS (SELECT 1 FROM outbox o \
           WHERE o.ref_id = a.id AND o.kind = 'booked') \
           AND NOT EXISTS (SELECT 1 FROM audit_log l WHERE l.action = 'walk-in' \
             AND l.subject = 'appointment ' || CAST(a.id AS TEXT)) ORDER BY a.id",
        "every booking's confirmation is queued",
        |m: &IdCount| {
            format!(
                "appointment id={} (resident id={}) has no confirmation in the outbox",
                m.id, m.n
            )
        },
    )
}

/// Draws and their entries (fair release).
fn draws(c: &mut AnyConnection, out: &mut Vec<Violation>) -> QueryResult<()> {
    use crate::booking::draw::draw_order;
    use crate::db::schema::{appointments, draw_entries, draws, outbox, residents};
    use crate::models::draw::Draw;
    use crate::models::draw_entry::{DrawEntry, EntryStatus};
    use crate::security::sha256_hex;
    let all: Vec<Draw> = draws::table
        .order(draws::id.asc())
        .select(Draw::as_select())
        .load(c)?;
    let entries: Vec<DrawEntry> = draw_entries::table
        .order(draw_entries::id.asc())
        .select(DrawEntry::as_select())
        .load(c)?;
    let town_of = town_of(c)?;
    let same_town = |a: i64, b: i64| town_of.get(&a).is_some_and(|t| town_of.get(&b) == Some(t));
    let mut by_draw: BTreeMap<i64, Vec<&DrawEntry>> = BTreeMap::new();
    for e in &entries {
        by_draw.entry(e.draw_id).or_default().push(e);
    }
    for d in &all {
        let mine = by_draw.get(&d.id).cloned().unwrap_or_default();
        if sha256_hex(&d.seed) != d.seed_hash {
            push(
                out,
                "a draw's seed hashes to its commitment",
                format!("draws id={}: SHA-256 of the seed is not seed_hash", d.id),
            );
        }
        // A done draw stored its count; one still taking entries stores none (0).
        let stored = if d.is_done() { mine.len() } else { 0 };
        if usize::try_from(d.entries).ok() != Some(stored) {
            push(
                out,
                "a draw counts its entries",
                format!(
                    "draws id={}: entries={} but {} rows",
                    d.id,
                    d.entries,
                    mine.len()
                ),
            );
        }
        let decided = mine
            .iter()
            .filter(|e| e.status() != EntryStatus::Waiting)
            .count();
        if d.is_done() {
            if decided != mine.len() {
                push(
                    out,
                    "a done draw decided every entry",
                    format!(
                        "draws id={}: {} entries still waiting",
                        d.id,
                        mine.len() - decided
                    ),
                );
            }
            let order = draw_order(&d.seed, mine.iter().map(|e| e.code.as_str()));
            if d.order() != order {
                push(
                    out,
                    "a done draw publishes the order its seed gives",
                    format!("draws id={}: published order differs from the seed's", d.id),
                );
            }
            for e in &mine {
                let at = order.iter().position(|c| *c == e.code).map(|i| i + 1);
                if e.position.and_then(|p| usize::try_from(p).ok()) != at {
                    push(
                        out,
                        "each entry has its place in its draw's order",
                        format!(
                            "draw_entries id={} (draw id={}): position {:?}, order says {:?}",
                            e.id, d.id, e.position, at
                        ),
                    );
                }
            }
        } else if d.status == "scheduled" && decided > 0 {
            push(
                out,
                "entries are decided only by a running draw",
                format!(
                    "draws id={}: scheduled with {decided} decided entries",
                    d.id
                ),
            );
        }
    }
    let mut waiting: BTreeMap<(i64, i32), usize> = BTreeMap::new();
    for e in &entries {
        let d = all.iter().find(|d| d.id == e.draw_id);
        let status = e.status();
        if status == EntryStatus::Waiting {
            *waiting.entry((e.resident_id, e.dose_number)).or_default() += 1;
        }
        let decided_ok = match status {
            EntryStatus::Waiting => e.position.is_none() && e.decided_at.is_none(),
            _ => e.position.is_some() && e.decided_at.is_some(),
        };
        if !decided_ok {
            push(
                out,
                "a decided entry has its place and time, a waiting one neither",
                format!("draw_entries id={} status={}", e.id, e.status),
            );
        }
        match (status, e.appointment_id) {
            (EntryStatus::Drawn, Some(a)) => {
                let held: Option<(i64, i32, i64, i64)> = appointments::table
                    .find(a)
                    .select((
                        appointments::resident_id,
                        appointments::dose_number,
                        appointments::product_id,
                        appointments::site_id,
                    ))
                    .first(c)
                    .optional()?;
                let ok = held.is_some_and(|(r, n, p, site)| {
                    r == e.resident_id
                        && n == e.dose_number
                        && p == e.product_id
                        && d.is_some_and(|d| {
                            d.site_id == site || (e.any_site_in_town && same_town(d.site_id, site))
                        })
                });
                if !ok {
                    push(
                        out,
                        "a drawn entry holds its appointment",
                        format!(
                            "draw_entries id={}: appointment id={a} is missing or not its \
                             resident's dose of its vaccine at its draw's site (or town)",
                            e.id
                        ),
                    );
                }
            }
            (EntryStatus::Drawn, None) => push(
                out,
                "a drawn entry holds its appointment",
                format!("draw_entries id={}: drawn without an appointment", e.id),
            ),
            (_, Some(a)) => push(
                out,
                "only a drawn entry holds an appointment",
                format!(
                    "draw_entries id={} status={}: appointment id={a}",
                    e.id, e.status
                ),
            ),
            _ => {}
        }
        if status != EntryStatus::Waiting {
            let email: Option<String> = residents::table
                .find(e.resident_id)
                .select(residents::email)
                .first(c)
                .optional()?;
            let mailed: i64 = outbox::table
                .filter(outbox::kind.eq(crate::models::outbox::Kind::EntryResult.as_str()))
                .filter(outbox::ref_id.eq(e.id))
                .count()
                .get_result(c)?;
            if email.is_some_and(|m| !m.is_empty()) && mailed == 0 {
                push(
                    out,
                    "every draw result is mailed",
                    format!("draw_entries id={}: no entry_result in the outbox", e.id),
                );
            }
        }
    }
    for ((resident, dose), n) in waiting {
        if n > 1 {
            push(
                out,
                "one waiting entry per resident and dose",
                format!("residents id={resident} dose {dose}: {n} waiting entries"),
            );
        }
    }
    Ok(())
}
