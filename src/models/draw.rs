//! Draws: one per site and opening instant. A draw is `scheduled` (its seed committed, entries
//! taken during its window), `running` (claimed by one process under a lease) or `done` (seed
//! and order published). See `booking::draw` for the rules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{draw_entries, draws, slots};
use crate::db::AnyConnection;
use crate::ids::SiteId;

/// Where a draw stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawStatus {
    /// Seed committed; entries are taken from `opens_at` to `closes_at`.
    Scheduled,
    /// One process is assigning seats.
    Running,
    /// Every entry decided; seed and order published.
    Done,
}

impl DrawStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            DrawStatus::Scheduled => "scheduled",
            DrawStatus::Running => "running",
            DrawStatus::Done => "done",
        }
    }
}

/// A draw.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = draws)]
pub struct Draw {
    pub id: i64,
    pub site_id: i64,
    pub opens_at: NaiveDateTime,
    pub closes_at: NaiveDateTime,
    /// Secret until the draw is done (64 hex characters).
    pub seed: String,
    /// SHA-256 of the seed, published from the start.
    pub seed_hash: String,
    pub status: String,
    /// How many entries were taken: stored when the draw is done. While it takes entries no
    /// row counts them (every entry would wait on that row's lock): [`find_counted`] and
    /// [`count_entries`] fill it in with a count of the entries.
    pub entries: i32,
    pub claim_token: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub drawn_at: Option<NaiveDateTime>,
    /// The entry codes in drawn order, one per line (set when done).
    pub order_codes: Option<String>,
    pub created_at: NaiveDateTime,
}

impl Draw {
    /// Whether every entry has been decided.
    pub fn is_done(&self) -> bool {
        self.status == DrawStatus::Done.as_str()
    }

    /// The seed, only once it may be shown.
    pub fn revealed_seed(&self) -> Option<&str> {
        self.is_done().then_some(self.seed.as_str())
    }

    /// The published order of entry codes (empty until done).
    pub fn order(&self) -> Vec<String> {
        self.order_codes
            .as_deref()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// One draw (its `entries` is 0 until it is done: [`find_counted`] counts them).
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Draw>> {
    super::find_one(conn, draws::table.find(id))
}

/// A draw without its drawn order (`order_codes` is `None`): what an entry's look-up needs. The
/// order of a city's draw is tens of thousands of codes, and every entrant polls its entry
/// (measured: reading the order on each look-up took the rush's draw phase to 131 MB RSS).
pub fn find_brief(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Draw>> {
    use diesel::sql_types::{Nullable, Text};
    draws::table
        .find(id)
        .select((
            (draws::id, draws::site_id, draws::opens_at, draws::closes_at),
            (draws::seed, draws::seed_hash, draws::status, draws::entries),
            (draws::claim_token, draws::lease_until, draws::drawn_at),
            None::<String>.into_sql::<Nullable<Text>>(),
            draws::created_at,
        ))
        .get_result::<BriefRow>(conn)
        .optional()
        .map(|row| row.map(Draw::from))
}

type BriefRow = (
    (i64, i64, NaiveDateTime, NaiveDateTime),
    (String, String, String, i32),
    (Option<String>, Option<NaiveDateTime>, Option<NaiveDateTime>),
    Option<String>,
    NaiveDateTime,
);

impl From<BriefRow> for Draw {
    fn from(r: BriefRow) -> Draw {
        let ((id, site_id, opens_at, closes_at), (seed, seed_hash, status, entries)) = (r.0, r.1);
        let (claim_token, lease_until, drawn_at) = r.2;
        Draw {
            id,
            site_id,
            opens_at,
            closes_at,
            seed,
            seed_hash,
            status,
            entries,
            claim_token,
            lease_until,
            drawn_at,
            order_codes: r.3,
            created_at: r.4,
        }
    }
}

/// One draw with its entries counted, for its public record. Not for the paths every entrant
/// polls (an entry's look-up): counting thousands of entries on each of those was measured to
/// slow the draw itself.
pub fn find_counted(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Draw>> {
    let mut found = find(conn, id)?;
    count_entries(conn, found.as_mut_slice())?;
    Ok(found)
}

/// Fill in the entry counts of the draws that are not done (a done draw stored its count), in
/// one grouped query.
pub fn count_entries(conn: &mut AnyConnection, draws: &mut [Draw]) -> QueryResult<()> {
    let open: Vec<i64> = draws
        .iter()
        .filter(|d| !d.is_done())
        .map(|d| d.id)
        .collect();
    if open.is_empty() {
        return Ok(());
    }
    let counts: Vec<(i64, i64)> = draw_entries::table
        .filter(draw_entries::draw_id.eq_any(&open))
        .group_by(draw_entries::draw_id)
        .select((draw_entries::draw_id, diesel::dsl::count_star()))
        .load(conn)?;
    for d in draws.iter_mut().filter(|d| !d.is_done()) {
        let n = counts
            .iter()
            .find(|(id, _)| *id == d.id)
            .map_or(0, |(_, n)| *n);
        d.entries = i32::try_from(n).unwrap_or(i32::MAX);
    }
    Ok(())
}

/// The draw of a site's opening instant.
pub fn find_for_opening(
    conn: &mut AnyConnection,
    site: SiteId,
    opens_at: NaiveDateTime,
) -> QueryResult<Option<Draw>> {
    super::find_one(
        conn,
        draws::table
            .filter(draws::site_id.eq(site.0))
            .filter(draws::opens_at.eq(opens_at)),
    )
}

/// The draws of a site's opening instants, in order (their entries not counted: see
/// [`count_entries`]).
pub fn list_for_openings(
    conn: &mut AnyConnection,
    site: SiteId,
    opens: &[NaiveDateTime],
) -> QueryResult<Vec<Draw>> {
    if opens.is_empty() {
        return Ok(Vec::new());
    }
    draws::table
        .filter(draws::site_id.eq(site.0))
        .filter(draws::opens_at.eq_any(opens))
        .order(draws::opens_at.asc())
        .select(Draw::as_select())
        .load(conn)
}

/// Schedule a draw unless the site's opening instant has one already (several publishers may
/// run at once). Returns whether it was inserted.
pub fn insert_if_missing(conn: &mut AnyConnection, d: &Draw) -> QueryResult<bool> {
    let n = crate::on_backend!(&mut *conn, |c| diesel::insert_into(draws::table)
        .values(d)
        .on_conflict((draws::site_id, draws::opens_at))
        .do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Whether the draw still takes entries (it is scheduled), holding it so until the caller's
/// transaction ends: on PostgreSQL a shared row lock (`FOR SHARE`), which entries take together
/// but `claim`'s UPDATE waits for, so no entry slips in once a process has claimed the draw;
/// on SQLite the one writer runs the entry and the claim one after the other.
///
/// It used to count each entry (`entries = entries + 1`): an exclusive lock that every entry
/// of an opening waited for in turn, through its commit (measured: two thirds of the active
/// backends waiting on it in the PostgreSQL rush; BENCHMARKS.md).
pub fn admit_entry(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    let q = draws::table
        .find(id)
        .filter(draws::status.eq(DrawStatus::Scheduled.as_str()))
        .select(draws::id);
    let found = match conn {
        AnyConnection::Postgresql(c) => q.for_share().get_result::<i64>(c).optional()?,
        AnyConnection::Sqlite(c) => q.get_result::<i64>(c).optional()?,
    };
    Ok(found.is_some())
}

/// A draw no runner holds at `now`: scheduled, or running with its runner's lease run out.
#[diesel::dsl::auto_type(no_type_alias)]
fn free_to_claim(now: NaiveDateTime) -> _ {
    let scheduled: &'static str = DrawStatus::Scheduled.as_str();
    let running: &'static str = DrawStatus::Running.as_str();
    draws::status
        .eq(scheduled)
        .or(draws::status.eq(running).and(draws::lease_until.lt(now)))
}

/// Ids of draws whose window has closed and that are not done (or whose runner's lease ran
/// out), oldest first.
pub fn list_due(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<Vec<i64>> {
    draws::table
        .filter(draws::closes_at.le(now))
        .filter(free_to_claim(now))
        .order(draws::closes_at.asc())
        .select(draws::id)
        .load(conn)
}

/// Claim a due draw for one runner: a conditional UPDATE, so of several processes one wins (a
/// running draw whose lease ran out may be taken over). Returns whether this runner has it.
pub fn claim(
    conn: &mut AnyConnection,
    id: i64,
    token: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        draws::table
            .find(id)
            .filter(draws::closes_at.le(now))
            .filter(free_to_claim(now)),
        (
            draws::status.eq(DrawStatus::Running.as_str()),
            draws::claim_token.eq(token),
            draws::lease_until.eq(lease_until),
        ),
    )
}

/// A draw running under the runner whose claim is `token`.
#[diesel::dsl::auto_type(no_type_alias)]
fn held_by<'a>(token: &'a str) -> _ {
    let running: &'static str = DrawStatus::Running.as_str();
    draws::status.eq(running).and(draws::claim_token.eq(token))
}

/// Extend the runner's lease; false when another runner has taken the draw over. Run first in
/// each of the runner's transactions, it also locks the draw row.
pub fn renew(
    conn: &mut AnyConnection,
    id: i64,
    token: &str,
    lease_until: NaiveDateTime,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        draws::table.find(id).filter(held_by(token)),
        draws::lease_until.eq(lease_until),
    )
}

/// Mark the draw done and publish its order; false when the runner lost its claim.
pub fn finish(
    conn: &mut AnyConnection,
    id: i64,
    token: &str,
    now: NaiveDateTime,
    order: &[String],
) -> QueryResult<bool> {
    super::update_one(
        conn,
        draws::table.find(id).filter(held_by(token)),
        (
            draws::status.eq(DrawStatus::Done.as_str()),
            // The order lists every entry: this is their count.
            draws::entries.eq(i32::try_from(order.len()).unwrap_or(i32::MAX)),
            draws::drawn_at.eq(Some(now)),
            draws::order_codes.eq(Some(order.join("\n"))),
            draws::claim_token.eq(None::<String>),
            draws::lease_until.eq(None::<NaiveDateTime>),
        ),
    )
}

/// Remove a site's scheduled draws that no slot opens with any more and nobody entered (the
/// release rule changed before they opened).
pub fn delete_unused(
    conn: &mut AnyConnection,
    site: SiteId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use diesel::dsl::{exists, not};
    diesel::delete(
        draws::table
            .filter(draws::site_id.eq(site.0))
            .filter(draws::status.eq(DrawStatus::Scheduled.as_str()))
            .filter(not(exists(
                draw_entries::table.filter(draw_entries::draw_id.eq(draws::id)),
            )))
            .filter(draws::opens_at.gt(now))
            .filter(not(exists(
                slots::table
                    .filter(slots::site_id.eq(draws::site_id))
                    .filter(slots::opens_at.eq(draws::opens_at.nullable())),
            ))),
    )
    .execute(conn)
}

/// Change the window of a scheduled draw that has not opened yet.
pub fn set_window(
    conn: &mut AnyConnection,
    id: i64,
    closes_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        draws::table
            .find(id)
            .filter(draws::status.eq(DrawStatus::Scheduled.as_str()))
            .filter(draws::opens_at.gt(now)),
    )
    .set(draws::closes_at.eq(closes_at))
    .execute(conn)
    .map(|_| ())
}

/// Drop a scheduled draw that has not opened yet (its site's release no longer has a window).
pub fn delete_unopened(conn: &mut AnyConnection, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(
        draws::table
            .find(id)
            .filter(draws::status.eq(DrawStatus::Scheduled.as_str()))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                draw_entries::table.filter(draw_entries::draw_id.eq(draws::id)),
            )))
            .filter(draws::opens_at.gt(now)),
    )
    .execute(conn)
    .map(|_| ())
}

/// Every site that has slots (the demo's `--draw-opens-in` schedules one draw each).
pub fn sites_with_slots(conn: &mut AnyConnection) -> QueryResult<Vec<i64>> {
    slots::table
        .select(slots::site_id)
        .distinct()
        .order(slots::site_id.asc())
        .load(conn)
}
