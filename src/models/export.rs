//! The bureau's CSV exports, read a page at a time by keyset: each page is one query ordered by
//! (time, id) that starts after the last row of the page before, so an export of any size costs
//! the same per page and holds one page in memory. Formatting is in `web::exports`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    adverse_events, allocation_plans, appointments, audit_log, products, residents, shipments,
    sites, stock_movements, towns, users, vaccinations, waiting_list,
};
use crate::db::AnyConnection;
use crate::models::audit::{AuditEntry, AuditFilter};

/// The rows an export asks for: times in `[from, to)` (UTC) and one town; for the audit log
/// also one kind of action and one actor (`models::audit::AuditFilter`).
pub type Filter = AuditFilter;

/// Where the next page starts: after this (time, id).
pub type Key = Option<(NaiveDateTime, i64)>;

/// Apply the filter and the keyset to a boxed query on `time`, `id` and a town column, ordered
/// by (time, id).
macro_rules! window {
    ($q:expr, $f:expr, $after:expr, $time:expr, $id:expr, $town:expr, $limit:expr) => {{
        let mut q = $q;
        if let Some(from) = $f.from {
            q = q.filter($time.ge(from));
        }
        if let Some(to) = $f.to {
            q = q.filter($time.lt(to));
        }
        if let Some(t) = $f.town {
            q = q.filter($town.eq(t));
        }
        if let Some((at, id)) = $after {
            q = q.filter($time.gt(at).or($time.eq(at).and($id.gt(id))));
        }
        q.order(($time.asc(), $id.asc())).limit($limit)
    }};
}

/// An appointment as exported.
#[derive(Debug, Queryable)]
pub struct AppointmentRow {
    pub id: i64,
    pub starts_at: NaiveDateTime,
    pub code: String,
    pub town: String,
    pub site: String,
    pub product: String,
    pub dose_number: i32,
    pub status: String,
    pub name: String,
    pub id_last4: String,
    pub created_at: NaiveDateTime,
}

/// A page of appointments by start time.
pub fn appointments(
    c: &mut AnyConnection,
    f: &Filter,
    after: Key,
    limit: i64,
) -> QueryResult<Vec<AppointmentRow>> {
    let q = appointments::table
        .inner_join(sites::table.on(sites::id.eq(appointments::site_id)))
        .inner_join(towns::table.on(towns::id.eq(sites::town_id)))
        .inner_join(products::table.on(products::id.eq(appointments::product_id)))
        .inner_join(residents::table.on(residents::id.eq(appointments::resident_id)))
        .select((
            appointments::id,
            appointments::starts_at,
            appointments::code,
            towns::name,
            sites::name,
            products::name,
            appointments::dose_number,
            appointments::status,
            residents::name,
            residents::id_last4,
            appointments::created_at,
        ))
        .into_boxed();
    window!(
        q,
        f,
        after,
        appointments::starts_at,
        appointments::id,
        sites::town_id,
        limit
    )
    .load(c)
}

/// The joins a dose's row and a reaction's row share, onto `$q` (which has `vaccinations` in
/// it): the site (`$site`) and its town, the vaccine, the resident (`$resident`) and the staff
/// member (`$staff`, none for a dose recorded without one).
macro_rules! dose_joins {
    ($q:expr, $site:expr, $resident:expr, $staff:expr) => {
        $q.inner_join(sites::table.on(sites::id.eq($site)))
            .inner_join(towns::table.on(towns::id.eq(sites::town_id)))
            .inner_join(products::table.on(products::id.eq(vaccinations::product_id)))
            .inner_join(residents::table.on(residents::id.eq($resident)))
            .left_join(users::table.on(users::id.nullable().eq($staff)))
    };
}

/// The columns of a row from [`dose_joins`]: the id and time, where and which dose, the
/// `$extra` columns, then the staff member and the resident.
macro_rules! dose_columns {
    ($id:expr, $at:expr $(, $extra:expr)*) => {
        (
            $id,
            $at,
            towns::name,
            sites::name,
            products::name,
            vaccinations::dose_number,
            vaccinations::lot,
            $($extra,)*
            users::username.nullable(),
            residents::name,
            residents::id_last4,
        )
    };
}

/// A dose given, as exported.
#[derive(Debug, Queryable)]
pub struct VaccinationRow {
    pub id: i64,
    pub given_at: NaiveDateTime,
    pub town: String,
    pub site: String,
    pub product: String,
    pub dose_number: i32,
    pub lot: String,
    pub staff: Option<String>,
    pub name: String,
    pub id_last4: String,
}

/// A page of doses by the time given, with the lot and the staff member.
pub fn vaccinations(
    c: &mut AnyConnection,
    f: &Filter,
    after: Key,
    limit: i64,
) -> QueryResult<Vec<VaccinationRow>> {
    let q = dose_joins!(
        vaccinations::table,
        vaccinations::site_id,
        vaccinations::resident_id,
        vaccinations::staff_user_id
    )
    .select(dose_columns!(vaccinations::id, vaccinations::given_at))
    .into_boxed();
    window!(
        q,
        f,
        after,
        vaccinations::given_at,
        vaccinations::id,
        sites::town_id,
        limit
    )
    .load(c)
}

/// A stock ledger movement, as exported (no site: the bureau's central store).
#[derive(Debug, Queryable)]
pub struct StockRow {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub town: Option<String>,
    pub site: Option<String>,
    pub product: String,
    pub delta: i32,
    pub kind: String,
    pub lot: Option<String>,
    pub reason: String,
    pub actor: String,
}

/// A page of the stock ledger by time.
pub fn stock(
    c: &mut AnyConnection,
    f: &Filter,
    after: Key,
    limit: i64,
) -> QueryResult<Vec<StockRow>> {
    let q = stock_movements::table
        .left_join(sites::table.on(sites::id.nullable().eq(stock_movements::site_id)))
        .left_join(towns::table.on(towns::id.nullable().eq(sites::town_id.nullable())))
        .inner_join(products::table.on(products::id.eq(stock_movements::product_id)))
        .select((
            stock_movements::id,
            stock_movements::created_at,
            towns::name.nullable(),
            sites::name.nullable(),
            products::name,
            stock_movements::delta,
            stock_movements::kind,
            stock_movements::lot,
            stock_movements::reason,
            stock_movements::actor,
        ))
        .into_boxed();
    window!(
        q,
        f,
        after,
        stock_movements::created_at,
        stock_movements::id,
        sites::town_id.nullable(),
        limit
    )
    .load(c)
}

/// An adverse reaction, as exported.
#[derive(Debug, Queryable)]
pub struct ReactionRow {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub town: String,
    pub site: String,
    pub product: String,
    pub dose_number: i32,
    pub lot: String,
    pub severity: String,
    pub symptoms: String,
    pub action_taken: String,
    pub recorded_by: Option<String>,
    pub name: String,
    pub id_last4: String,
}

/// A page of adverse reactions by the time they occurred.
pub fn reactions(
    c: &mut AnyConnection,
    f: &Filter,
    after: Key,
    limit: i64,
) -> QueryResult<Vec<ReactionRow>> {
    let q = dose_joins!(
        adverse_events::table.inner_join(
            vaccinations::table.on(vaccinations::id.eq(adverse_events::vaccination_id))
        ),
        adverse_events::site_id,
        adverse_events::resident_id,
        adverse_events::recorded_by
    )
    .select(dose_columns!(
        adverse_events::id,
        adverse_events::occurred_at,
        adverse_events::severity,
        adverse_events::symptoms,
        adverse_events::action_taken
    ))
    .into_boxed();
    window!(
        q,
        f,
        after,
        adverse_events::occurred_at,
        adverse_events::id,
        sites::town_id,
        limit
    )
    .load(c)
}

/// A waiting-list entry, as exported.
#[derive(Debug, Queryable)]
pub struct WaitingRow {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub town: String,
    pub dose_number: i32,
    pub status: String,
    pub name: String,
    pub id_last4: String,
}

/// A page of the waiting lists by the time each resident joined.
pub fn waiting(
    c: &mut AnyConnection,
    f: &Filter,
    after: Key,
    limit: i64,
) -> QueryResult<Vec<WaitingRow>> {
    let q = waiting_list::table
        .inner_join(towns::table.on(towns::id.eq(waiting_list::town_id)))
        .inner_join(residents::table.on(residents::id.eq(waiting_list::resident_id)))
        .select((
            waiting_list::id,
            waiting_list::created_at,
            towns::name,
            waiting_list::dose_number,
            waiting_list::status,
            residents::name,
            residents::id_last4,
        ))
        .into_boxed();
    window!(
        q,
        f,
        after,
        waiting_list::created_at,
        waiting_list::id,
        waiting_list::town_id,
        limit
    )
    .load(c)
}

/// An approved plan with its product, as exported (its town and site lines are in the JSON).
#[derive(Debug, Queryable)]
pub struct PlanRow {
    pub id: i64,
    pub approved_at: NaiveDateTime,
    pub product: String,
    pub approved_by: Option<String>,
    pub plan_json: String,
}

/// A page of approved plans by approval time (the town filter is applied to their lines).
pub fn plans(
    c: &mut AnyConnection,
    f: &Filter,
    after: Key,
    limit: i64,
) -> QueryResult<Vec<PlanRow>> {
    let at = allocation_plans::approved_at.assume_not_null();
    let mut q = allocation_plans::table
        .inner_join(shipments::table.on(shipments::id.eq(allocation_plans::shipment_id)))
        .inner_join(products::table.on(products::id.eq(shipments::product_id)))
        .filter(allocation_plans::status.eq("approved"))
        .filter(allocation_plans::approved_at.is_not_null())
        .select((
            allocation_plans::id,
            at,
            products::name,
            allocation_plans::approved_by,
            allocation_plans::plan_json,
        ))
        .into_boxed();
    if let Some(from) = f.from {
        q = q.filter(at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(at.lt(to));
    }
    if let Some((t, id)) = after {
        q = q.filter(at.gt(t).or(at.eq(t).and(allocation_plans::id.gt(id))));
    }
    q.order((at.asc(), allocation_plans::id.asc()))
        .limit(limit)
        .load(c)
}

/// A page of the audit log by time, oldest first.
pub fn audit(
    c: &mut AnyConnection,
    f: &Filter,
    after: Key,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let q = crate::models::audit::of_kind_and_actor(f).select(AuditEntry::as_select());
    window!(
        q,
        f,
        after,
        audit_log::created_at,
        audit_log::id,
        audit_log::town_id,
        limit
    )
    .load(c)
}
