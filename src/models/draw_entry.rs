//! Draw entries: booking requests made inside a draw window, decided when the draw runs.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::draw_entries;
use crate::db::AnyConnection;
use crate::ids::ResidentId;

/// `draw_entries.reason` of an entry not drawn because its phone number or e-mail address held
/// the day's cap of bookings.
pub const REASON_CONTACT_CAP: &str = "contact_cap";
/// `draw_entries.reason` of an entry not drawn because the seats it could take were at sites
/// holding no unpromised dose of the vaccine.
pub const REASON_NO_STOCK: &str = "no_stock";

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryStatus {
    /// Waiting for the draw.
    Waiting,
    /// Drawn: it holds the appointment named in `appointment_id`.
    Drawn,
    /// Not drawn: no seat was left for it (or it was no longer eligible).
    NotDrawn,
}

impl EntryStatus {
    /// The stored text (also the API's `status`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Waiting => "waiting",
            EntryStatus::Drawn => "drawn",
            EntryStatus::NotDrawn => "not_drawn",
        }
    }

    /// Parse the stored text.
    pub fn parse(s: &str) -> EntryStatus {
        match s {
            "drawn" => EntryStatus::Drawn,
            "not_drawn" => EntryStatus::NotDrawn,
            _ => EntryStatus::Waiting,
        }
    }
}

/// An entry.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = draw_entries)]
pub struct DrawEntry {
    pub id: i64,
    /// 8 characters of Crockford base32, as booking codes.
    pub code: String,
    pub draw_id: i64,
    /// The slot asked for (kept by value below too).
    pub slot_id: i64,
    pub product_id: i64,
    pub starts_at: NaiveDateTime,
    pub resident_id: i64,
    pub dose_number: i32,
    pub status: String,
    /// Place in the drawn order, from 1 (set when decided).
    pub position: Option<i32>,
    pub appointment_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
    /// The resident accepts a seat at another site of the same town if none is left at this one.
    pub any_site_in_town: bool,
    /// Why a not-drawn entry got no seat, when it is not simply that none was left
    /// (`contact_cap`: its phone or e-mail already holds the day's cap of bookings).
    pub reason: Option<String>,
}

impl DrawEntry {
    /// The parsed status.
    pub fn status(&self) -> EntryStatus {
        EntryStatus::parse(&self.status)
    }
}

/// Insert an entry.
pub fn insert(conn: &mut AnyConnection, e: &DrawEntry) -> QueryResult<()> {
    super::insert_into(conn, draw_entries::table, e)
}

/// One entry.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<DrawEntry>> {
    super::find_one(conn, draw_entries::table.find(id))
}

/// The entry with this code.
pub fn find_by_code(conn: &mut AnyConnection, code: &str) -> QueryResult<Option<DrawEntry>> {
    super::find_one(
        conn,
        draw_entries::table.filter(draw_entries::code.eq(code)),
    )
}

/// A resident's entry for a dose that is still waiting for its draw.
pub fn find_waiting_for_dose(
    conn: &mut AnyConnection,
    resident: ResidentId,
    dose: i32,
) -> QueryResult<Option<DrawEntry>> {
    super::find_one(
        conn,
        draw_entries::table
            .filter(draw_entries::resident_id.eq(resident.0))
            .filter(draw_entries::dose_number.eq(dose))
            .filter(draw_entries::status.eq(EntryStatus::Waiting.as_str())),
    )
}

/// Every entry of a draw.
pub fn list_for_draw(conn: &mut AnyConnection, draw: i64) -> QueryResult<Vec<DrawEntry>> {
    super::load_all(
        conn,
        draw_entries::table.filter(draw_entries::draw_id.eq(draw)),
    )
}

/// Record why entry `id` was not given a seat (in the transaction that decides it).
pub fn set_reason(conn: &mut AnyConnection, id: i64, reason: &str) -> QueryResult<()> {
    diesel::update(draw_entries::table.find(id))
        .set(draw_entries::reason.eq(Some(reason)))
        .execute(conn)?;
    Ok(())
}

/// Decide a waiting entry; false when it was decided already (a runner that took over).
pub fn decide(
    conn: &mut AnyConnection,
    id: i64,
    status: EntryStatus,
    position: i32,
    appointment_id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        draw_entries::table
            .find(id)
            .filter(draw_entries::status.eq(EntryStatus::Waiting.as_str())),
        (
            draw_entries::status.eq(status.as_str()),
            draw_entries::position.eq(Some(position)),
            draw_entries::appointment_id.eq(appointment_id),
            draw_entries::decided_at.eq(Some(now)),
        ),
    )
}
