//! The bureau's dashboard, read from the database: one grouped query per kind of row (doses
//! given, seats, second doses falling due, waiting lists, stock, appointments, wastage,
//! reactions), for the whole city or one town. `read` returns them as [`Dashboard`]; the
//! figures are drawn by `views::dashboard`.
//!
//! Rows are counted per city day in SQL by a `CASE` over the UTC instants at which the days
//! begin (`domain::days::day_starts`): the same SQL text on SQLite and PostgreSQL, right across
//! daylight-saving changes, without time-zone support in either database. The instants and ids
//! written into the SQL are made here (dates formatted by chrono, ids as integers), never taken
//! from a request as text.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use crate::db::AnyConnection;
use crate::domain::days::day_starts;
use crate::domain::eligibility::DoseWindow;
use crate::models::{product, town, Product, Town};

/// City days of history the charts look back over, today included.
pub const HISTORY_DAYS: u32 = 28;
/// City days ahead for seats and second doses, today included.
pub const AHEAD_DAYS: u32 = 14;
/// City days (before today) the current rate of doses is the mean of.
pub const RATE_DAYS: u32 = 7;

/// What the dashboard reads: the whole city, or one town.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub town: Option<i64>,
}

/// Doses given on one day (`day` indexes [`Dashboard::history`]; -1 is before the first day).
#[derive(Debug, Clone, QueryableByName)]
pub struct DoseCount {
    #[diesel(sql_type = Integer)]
    pub day: i32,
    #[diesel(sql_type = Integer)]
    pub dose_number: i32,
    /// 1 when the dose completes its product's series.
    #[diesel(sql_type = Integer)]
    pub full_series: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// One day's slots ahead (`day` indexes [`Dashboard::ahead`]).
#[derive(Debug, Clone, QueryableByName)]
pub struct SeatDay {
    #[diesel(sql_type = Integer)]
    pub day: i32,
    #[diesel(sql_type = BigInt)]
    pub seats: i64,
    #[diesel(sql_type = BigInt)]
    pub booked: i64,
    /// Seats kept for second (and later) doses: held, or taken by them where more.
    #[diesel(sql_type = BigInt)]
    pub held: i64,
    #[diesel(sql_type = BigInt)]
    pub booked_second: i64,
}

/// A count per day index (or per code: see the query that fills it).
#[derive(Debug, Clone, QueryableByName)]
pub struct DayCount {
    #[diesel(sql_type = Integer)]
    pub day: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Bucket of [`Dashboard::due`] for people whose next dose was due before today (and whose
/// longest interval has not passed).
pub const DUE_ALREADY: i32 = -1;

/// People waiting in one town for one dose.
#[derive(Debug, Clone, QueryableByName)]
pub struct WaitingCount {
    #[diesel(sql_type = BigInt)]
    pub town_id: i64,
    #[diesel(sql_type = Integer)]
    pub dose_number: i32,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// One active site's stock and the doses it gave over the [`RATE_DAYS`] before today.
#[derive(Debug, Clone, QueryableByName)]
pub struct SiteStock {
    #[diesel(sql_type = BigInt)]
    pub site_id: i64,
    #[diesel(sql_type = Text)]
    pub site: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub site_en: Option<String>,
    #[diesel(sql_type = Text)]
    pub town: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub town_en: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub on_hand: i64,
    #[diesel(sql_type = BigInt)]
    pub promised: i64,
    #[diesel(sql_type = BigInt)]
    pub given: i64,
}

/// Appointments of one day (of the history) in one status.
#[derive(Debug, Clone, QueryableByName)]
pub struct StatusDay {
    #[diesel(sql_type = Integer)]
    pub day: i32,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Adverse reactions of one severity.
#[derive(Debug, Clone, QueryableByName)]
pub struct SeverityCount {
    #[diesel(sql_type = Text)]
    pub severity: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Everything the dashboard shows, for one scope, as counted on `today` (a city day).
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub scope: Scope,
    pub today: NaiveDate,
    /// The active towns (all of them, for the selector and the city's waiting lists).
    pub towns: Vec<Town>,
    /// The eligible population of the scope.
    pub eligible: i64,
    /// The days of history, oldest first, today last.
    pub history: Vec<NaiveDate>,
    /// The days ahead, today first.
    pub ahead: Vec<NaiveDate>,
    pub doses: Vec<DoseCount>,
    pub seats: Vec<SeatDay>,
    /// People whose next dose falls due on day `day` of [`Self::ahead`] and who have not had
    /// it; [`DUE_ALREADY`] for those due before today.
    pub due: Vec<DayCount>,
    pub waiting: Vec<WaitingCount>,
    pub stock: Vec<SiteStock>,
    pub appointments: Vec<StatusDay>,
    /// Doses wasted per day of [`Self::history`].
    pub wasted: Vec<DayCount>,
    /// Reactions over [`Self::history`], by severity.
    pub reactions: Vec<SeverityCount>,
    /// The earliest day whose doses can fall due in [`Self::ahead`] (for the link to them).
    pub due_from: NaiveDate,
    /// The latest such day.
    pub due_to: NaiveDate,
}

/// A SQL timestamp literal (written by chrono, so it needs no escaping).
fn at(t: NaiveDateTime) -> String {
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"))
}

/// The city days a figure counts, as their UTC starts and the start of the day after them
/// ([`day_starts`]: `n + 1` instants, never empty): day `i` is `[starts[i], starts[i + 1])`.
struct Days(Vec<NaiveDateTime>);

impl Days {
    /// The `n` city days from `first`.
    fn from(tz: Tz, first: NaiveDate, n: u32) -> Days {
        Days(day_starts(tz, first, n))
    }

    /// `CASE` giving the index of the day `col` falls in: -1 before the first day, `i` on day
    /// `i`, and `n` from the day after the last on.
    fn index(&self, col: &str) -> String {
        let mut sql = String::from("CASE");
        for (i, s) in self.0.iter().enumerate() {
            sql.push_str(&format!(" WHEN {col} < {} THEN {}", at(*s), i as i64 - 1));
        }
        sql.push_str(&format!(" ELSE {} END", self.0.len() as i64 - 1));
        sql
    }

    /// From the first day's start to the last day's end.
    fn span(&self) -> Span {
        Span {
            from: self.0.first().copied().unwrap_or_default(),
            to: self.0.last().copied().unwrap_or_default(),
        }
    }
}

/// The instants `[from, to)`.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: NaiveDateTime,
    to: NaiveDateTime,
}

impl Span {
    /// `<col>` inside the span, as SQL.
    fn within(self, col: &str) -> String {
        format!("{col} >= {} AND {col} < {}", at(self.from), at(self.to))
    }
}

/// `AND <col> = <town>` when the scope is one town.
fn in_town(col: &str, scope: Scope) -> String {
    scope
        .town
        .map(|t| format!(" AND {col} = {t}"))
        .unwrap_or_default()
}

/// Doses given before the end of `days`, per day, dose number and whether it completes the
/// series.
fn doses(c: &mut AnyConnection, scope: Scope, days: &Days) -> QueryResult<Vec<DoseCount>> {
    diesel::sql_query(format!(
        "SELECT {} AS day, v.dose_number AS dose_number, \
           CASE WHEN v.dose_number >= p.doses_in_series THEN 1 ELSE 0 END AS full_series, \
           COUNT(*) AS n \
         FROM vaccinations v JOIN sites s ON s.id = v.site_id \
           JOIN products p ON p.id = v.product_id \
         WHERE v.given_at < {}{} GROUP BY 1, 2, 3",
        days.index("v.given_at"),
        at(days.span().to),
        in_town("s.town_id", scope)
    ))
    .load(c)
}

/// Seats, bookings and seats for second doses of the slots starting on each of `days`.
fn seats(c: &mut AnyConnection, scope: Scope, days: &Days) -> QueryResult<Vec<SeatDay>> {
    diesel::sql_query(format!(
        "SELECT {} AS day, CAST(SUM(sl.seats) AS BIGINT) AS seats, \
           CAST(SUM(sl.booked_first + sl.booked_second) AS BIGINT) AS booked, \
           CAST(SUM(CASE WHEN sl.second_dose_held > sl.booked_second \
             THEN sl.second_dose_held ELSE sl.booked_second END) AS BIGINT) AS held, \
           CAST(SUM(sl.booked_second) AS BIGINT) AS booked_second \
         FROM slots sl JOIN sites s ON s.id = sl.site_id \
         WHERE {}{} GROUP BY 1",
        days.index("sl.starts_at"),
        days.span().within("sl.starts_at"),
        in_town("s.town_id", scope)
    ))
    .load(c)
}

/// People whose next dose falls due on each of the `n` days from `today` (the day their
/// product's shortest interval ends), [`DUE_ALREADY`] for those due earlier but not past the
/// longest interval, and who have not had that dose. Other codes are for people outside both.
pub fn due(
    c: &mut AnyConnection,
    scope: Scope,
    tz: Tz,
    products: &[Product],
    today: NaiveDate,
    n: u32,
) -> QueryResult<Vec<DayCount>> {
    if products.is_empty() {
        return Ok(Vec::new());
    }
    let mut case = String::from("CASE");
    for p in products {
        let (min, max) = (p.min_interval_days, p.max_interval_days);
        // The first WHEN that holds: given on or before the city day `last`.
        let mut given_by = |last: NaiveDate, code: i64| {
            case.push_str(&format!(
                " WHEN v.product_id = {} AND v.given_at < {} THEN {code}",
                p.id,
                at(crate::domain::days::day_start(tz, last + Duration::days(1)))
            ))
        };
        given_by(DoseWindow::past_by(today, max), -2);
        given_by(
            DoseWindow::opened_by(today - Duration::days(1), min),
            i64::from(DUE_ALREADY),
        );
        for i in 0..n {
            let day = today + Duration::days(i.into());
            given_by(DoseWindow::opened_by(day, min), i.into());
        }
    }
    case.push_str(" ELSE 99 END");
    diesel::sql_query(format!(
        "SELECT {case} AS day, COUNT(*) AS n \
         FROM vaccinations v JOIN sites s ON s.id = v.site_id \
           JOIN products p ON p.id = v.product_id \
         WHERE v.dose_number < p.doses_in_series{} \
           AND NOT EXISTS (SELECT 1 FROM vaccinations w \
             WHERE w.resident_id = v.resident_id AND w.dose_number = v.dose_number + 1) \
         GROUP BY 1",
        in_town("s.town_id", scope)
    ))
    .load(c)
}

/// People on the waiting lists, per town and dose.
pub fn waiting(c: &mut AnyConnection, scope: Scope) -> QueryResult<Vec<WaitingCount>> {
    diesel::sql_query(format!(
        "SELECT w.town_id AS town_id, w.dose_number AS dose_number, COUNT(*) AS n \
         FROM waiting_list w WHERE w.status = 'waiting'{} \
         GROUP BY w.town_id, w.dose_number",
        in_town("w.town_id", scope)
    ))
    .load(c)
}

/// Each active site's doses on hand and promised, and the doses it gave in the span `given`.
fn stock(c: &mut AnyConnection, scope: Scope, given: Span) -> QueryResult<Vec<SiteStock>> {
    diesel::sql_query(format!(
        "SELECT s.id AS site_id, s.name AS site, s.name_en AS site_en, t.name AS town, \
           t.name_en AS town_en, \
           CAST(COALESCE((SELECT SUM(b.on_hand) FROM stock_balances b \
             WHERE b.site_id = s.id), 0) AS BIGINT) AS on_hand, \
           CAST(COALESCE((SELECT SUM(b.promised) FROM stock_balances b \
             WHERE b.site_id = s.id), 0) AS BIGINT) AS promised, \
           (SELECT COUNT(*) FROM vaccinations v WHERE v.site_id = s.id \
             AND {}) AS given \
         FROM sites s JOIN towns t ON t.id = s.town_id \
         WHERE s.active = TRUE{} ORDER BY t.name, s.name, s.id",
        given.within("v.given_at"),
        in_town("s.town_id", scope)
    ))
    .load(c)
}

/// Appointments starting on each of `days`, per status.
fn appointments(c: &mut AnyConnection, scope: Scope, days: &Days) -> QueryResult<Vec<StatusDay>> {
    diesel::sql_query(format!(
        "SELECT {} AS day, a.status AS status, COUNT(*) AS n \
         FROM appointments a JOIN sites s ON s.id = a.site_id \
         WHERE {}{} GROUP BY 1, 2",
        days.index("a.starts_at"),
        days.span().within("a.starts_at"),
        in_town("s.town_id", scope)
    ))
    .load(c)
}

/// Doses written off as wasted on each of `days`.
fn wasted(c: &mut AnyConnection, scope: Scope, days: &Days) -> QueryResult<Vec<DayCount>> {
    diesel::sql_query(format!(
        "SELECT {} AS day, CAST(SUM(-m.delta) AS BIGINT) AS n \
         FROM stock_movements m JOIN sites s ON s.id = m.site_id \
         WHERE m.kind = 'wasted' AND {}{} GROUP BY 1",
        days.index("m.created_at"),
        days.span().within("m.created_at"),
        in_town("s.town_id", scope)
    ))
    .load(c)
}

/// Adverse reactions that occurred in `span`, per severity.
fn reactions(c: &mut AnyConnection, scope: Scope, span: Span) -> QueryResult<Vec<SeverityCount>> {
    diesel::sql_query(format!(
        "SELECT e.severity AS severity, COUNT(*) AS n \
         FROM adverse_events e JOIN sites s ON s.id = e.site_id \
         WHERE {}{} GROUP BY e.severity",
        span.within("e.occurred_at"),
        in_town("s.town_id", scope)
    ))
    .load(c)
}

/// Read the whole dashboard for `scope` on the city day `today`. `None` when the scope's town
/// is not an active town.
pub fn read(
    c: &mut AnyConnection,
    scope: Scope,
    tz: Tz,
    today: NaiveDate,
) -> QueryResult<Option<Dashboard>> {
    let towns = town::list_active(c)?;
    let eligible = match scope.town {
        Some(id) => match towns.iter().find(|t| t.id == id) {
            Some(t) => t.eligible,
            None => return Ok(None),
        },
        None => towns.iter().map(|t| t.eligible).sum(),
    };
    let first = today - Duration::days(i64::from(HISTORY_DAYS) - 1);
    let history = Days::from(tz, first, HISTORY_DAYS);
    let ahead = Days::from(tz, today, AHEAD_DAYS);
    let products = product::list(c)?;
    // The days before today the stock's rate of use is taken over.
    let rate = Days::from(tz, today - Duration::days(RATE_DAYS.into()), RATE_DAYS).span();
    // The doses given on these days are the ones not yet past today whose window opens by the
    // last day ahead.
    let last_ahead = today + Duration::days(i64::from(AHEAD_DAYS) - 1);
    let due_from = products
        .iter()
        .map(|p| DoseWindow::past_by(today, p.max_interval_days) + Duration::days(1))
        .min()
        .unwrap_or(today);
    let due_to = products
        .iter()
        .map(|p| DoseWindow::opened_by(last_ahead, p.min_interval_days))
        .max()
        .unwrap_or(today);
    Ok(Some(Dashboard {
        scope,
        today,
        eligible,
        history: (0..HISTORY_DAYS)
            .map(|i| first + Duration::days(i.into()))
            .collect(),
        ahead: (0..AHEAD_DAYS)
            .map(|i| today + Duration::days(i.into()))
            .collect(),
        doses: doses(c, scope, &history)?,
        seats: seats(c, scope, &ahead)?,
        due: due(c, scope, tz, &products, today, AHEAD_DAYS)?,
        waiting: waiting(c, scope)?,
        stock: stock(c, scope, rate)?,
        appointments: appointments(c, scope, &history)?,
        wasted: wasted(c, scope, &history)?,
        reactions: reactions(c, scope, history.span())?,
        towns,
        due_from,
        due_to,
    }))
}
