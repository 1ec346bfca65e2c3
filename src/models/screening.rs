//! Screenings: the questions asked at check-in and what staff decided.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::screenings;
use crate::db::AnyConnection;
use crate::ids::AppointmentId;

/// One screening of a resident before a dose.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = screenings)]
pub struct Screening {
    pub id: i64,
    pub appointment_id: i64,
    pub fever: bool,
    pub allergy: bool,
    pub pregnant: bool,
    pub recent_vaccine: bool,
    /// `cleared` or `deferred`.
    pub outcome: String,
    pub reason: String,
    pub staff_user_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Insert a screening in the caller's transaction.
pub fn insert(conn: &mut AnyConnection, s: &Screening) -> QueryResult<()> {
    super::insert_into(conn, screenings::table, s)
}

/// The reason of the latest deferral of each of `appointments` that screening deferred.
pub fn deferral_reasons(
    conn: &mut AnyConnection,
    appointments: &[i64],
) -> QueryResult<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = screenings::table
        .filter(screenings::appointment_id.eq_any(appointments))
        .filter(screenings::outcome.eq("deferred"))
        .order(screenings::created_at.asc())
        .select((screenings::appointment_id, screenings::reason))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The latest screening of an appointment.
pub fn latest_for_appointment(
    conn: &mut AnyConnection,
    appointment: AppointmentId,
) -> QueryResult<Option<Screening>> {
    screenings::table
        .filter(screenings::appointment_id.eq(appointment.0))
        .order(screenings::created_at.desc())
        .select(Screening::as_select())
        .first(conn)
        .optional()
}
