//! Shipments received by the bureau, their lots, the allocation plans made for them, and the
//! notices that tell towns what is coming.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{allocation_plans, lots, shipments, town_notices};
use crate::db::AnyConnection;

/// A shipment of one product.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = shipments)]
pub struct Shipment {
    pub id: i64,
    pub product_id: i64,
    pub doses: i32,
    pub received_on: NaiveDate,
    pub next_expected_on: NaiveDate,
    pub next_latest_on: NaiveDate,
    /// `received`, then `approved` once a plan for it is approved.
    pub status: String,
    pub recorded_by: String,
    pub created_at: NaiveDateTime,
}

/// A lot of a shipment (the lot record itself).
pub type ShipmentLot = crate::models::lot::Lot;

/// A plan for a shipment: the instance it was made from, the plan (adjusted or not), and the
/// optimal plan it is compared with.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = allocation_plans)]
pub struct AllocationPlan {
    pub id: i64,
    pub shipment_id: i64,
    /// `draft` or `approved`.
    pub status: String,
    pub instance_json: String,
    pub plan_json: String,
    pub optimal_json: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub approved_by: Option<String>,
    pub approved_at: Option<NaiveDateTime>,
}

/// What a town is told when a plan is approved.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = town_notices)]
pub struct TownNotice {
    pub id: i64,
    pub town_id: i64,
    pub plan_id: i64,
    pub doses: i32,
    pub arrives_on: NaiveDate,
    pub second_doses_due: i32,
    pub due_by: Option<NaiveDate>,
    pub first_dose_seats: i32,
    pub created_at: NaiveDateTime,
}

/// Insert a shipment.
pub fn insert(conn: &mut AnyConnection, s: &Shipment) -> QueryResult<()> {
    super::insert_into(conn, shipments::table, s)
}

/// One shipment.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Shipment>> {
    super::find_one(conn, shipments::table.find(id))
}

/// Shipments, newest first.
pub fn list(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<Shipment>> {
    super::load_all(
        conn,
        shipments::table
            .order(shipments::created_at.desc())
            .limit(limit),
    )
}

/// A shipment's lots, soonest expiry first (the order doses are sent out in).
pub fn lots_of(conn: &mut AnyConnection, shipment: i64) -> QueryResult<Vec<ShipmentLot>> {
    super::load_all(
        conn,
        lots::table
            .filter(lots::shipment_id.eq(shipment))
            .order((lots::expires_on.asc(), lots::lot_number.asc())),
    )
}

/// Insert a plan.
pub fn insert_plan(conn: &mut AnyConnection, p: &AllocationPlan) -> QueryResult<()> {
    super::insert_into(conn, allocation_plans::table, p)
}

/// One plan.
pub fn find_plan(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<AllocationPlan>> {
    super::find_one(conn, allocation_plans::table.find(id))
}

/// A shipment's plans, newest first.
pub fn plans_of(conn: &mut AnyConnection, shipment: i64) -> QueryResult<Vec<AllocationPlan>> {
    super::load_all(
        conn,
        allocation_plans::table
            .filter(allocation_plans::shipment_id.eq(shipment))
            .order(allocation_plans::created_at.desc()),
    )
}

/// Replace a draft plan's JSON (an adjustment) if it is still the `read` one; false if it is no
/// longer a draft or changed since it was read.
pub fn update_draft(
    conn: &mut AnyConnection,
    id: i64,
    read: &str,
    plan_json: &str,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        allocation_plans::table
            .find(id)
            .filter(allocation_plans::status.eq("draft"))
            .filter(allocation_plans::plan_json.eq(read)),
        allocation_plans::plan_json.eq(plan_json),
    )
}

/// Mark a draft plan approved; false if it was not a draft (approved already).
pub fn approve(
    conn: &mut AnyConnection,
    id: i64,
    by: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        allocation_plans::table
            .find(id)
            .filter(allocation_plans::status.eq("draft")),
        (
            allocation_plans::status.eq("approved"),
            allocation_plans::approved_by.eq(Some(by)),
            allocation_plans::approved_at.eq(Some(at)),
        ),
    )
}

/// Set a shipment's status.
pub fn set_status(conn: &mut AnyConnection, id: i64, status: &str) -> QueryResult<()> {
    diesel::update(shipments::table.find(id))
        .set(shipments::status.eq(status))
        .execute(conn)
        .map(|_| ())
}

/// Insert a town notice.
pub fn insert_notice(conn: &mut AnyConnection, n: &TownNotice) -> QueryResult<()> {
    super::insert_into(conn, town_notices::table, n)
}

/// Notices, newest first, optionally for one town.
pub fn notices(
    conn: &mut AnyConnection,
    town: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<TownNotice>> {
    let mut q = town_notices::table.into_boxed();
    if let Some(t) = town {
        q = q.filter(town_notices::town_id.eq(t));
    }
    q.order(town_notices::created_at.desc())
        .limit(limit)
        .select(TownNotice::as_select())
        .load(conn)
}

/// One notice.
pub fn find_notice(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<TownNotice>> {
    super::find_one(conn, town_notices::table.find(id))
}

/// Notices of one plan.
pub fn notices_of_plan(conn: &mut AnyConnection, plan: i64) -> QueryResult<Vec<TownNotice>> {
    super::load_all(
        conn,
        town_notices::table.filter(town_notices::plan_id.eq(plan)),
    )
}
