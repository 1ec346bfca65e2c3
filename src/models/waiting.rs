//! Waiting lists: residents who found no free slot in their town (first-dose demand for the
//! allocation). The first in line is the highest `priority` (1: an exception cancelled their
//! booking and no seat could take it; 0: everyone else), then the earliest to join.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::waiting_list;
use crate::db::AnyConnection;
use crate::ids::TownId;

/// Someone waiting for a seat in a town.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = waiting_list)]
pub struct WaitingEntry {
    pub id: i64,
    pub town_id: i64,
    pub resident_id: i64,
    pub dose_number: i32,
    pub status: String,
    pub created_at: NaiveDateTime,
    /// 1 for a resident whose booking an exception cancelled (served first), else 0.
    pub priority: i32,
}

/// The priority of a resident whose booking an exception cancelled.
pub const DISPLACED: i32 = 1;

/// Add someone to a town's list. A second join while already waiting is a unique violation,
/// which the caller treats as "already on the list".
pub fn insert(conn: &mut AnyConnection, e: &WaitingEntry) -> QueryResult<()> {
    super::insert_into(conn, waiting_list::table, e)
}

/// One entry.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<WaitingEntry>> {
    super::find_one(conn, waiting_list::table.find(id))
}

/// The first person waiting in a town, marked notified (in the caller's transaction).
pub fn take_next(conn: &mut AnyConnection, town: TownId) -> QueryResult<Option<InLine>> {
    let Some(next) = first_in_line(conn, town, 1)?.pop() else {
        return Ok(None);
    };
    Ok(mark_notified(conn, next.entry)?.then_some(next))
}

/// Someone waiting: the entry, and the resident with the address their mail goes to.
#[derive(Debug, Clone, Queryable)]
pub struct InLine {
    pub entry: i64,
    pub resident_id: i64,
    pub email: String,
    pub lang: String,
}

/// The first `limit` people waiting in a town, in the order they joined.
pub fn first_in_line(
    conn: &mut AnyConnection,
    town: TownId,
    limit: i64,
) -> QueryResult<Vec<InLine>> {
    use crate::db::schema::residents;
    waiting_list::table
        .inner_join(residents::table.on(residents::id.eq(waiting_list::resident_id)))
        .filter(waiting_list::town_id.eq(town.0))
        .filter(waiting_list::status.eq("waiting"))
        .order((
            waiting_list::priority.desc(),
            waiting_list::created_at.asc(),
            waiting_list::id.asc(),
        ))
        .select((
            waiting_list::id,
            waiting_list::resident_id,
            residents::email,
            residents::lang,
        ))
        .limit(limit)
        .load(conn)
}

/// Mark an entry notified if it is still waiting; false if someone else got there first.
pub fn mark_notified(conn: &mut AnyConnection, entry: i64) -> QueryResult<bool> {
    super::update_one(
        conn,
        waiting_list::table
            .find(entry)
            .filter(waiting_list::status.eq("waiting")),
        waiting_list::status.eq("notified"),
    )
}

/// How many people are waiting in a town.
pub fn count_waiting(conn: &mut AnyConnection, town: TownId) -> QueryResult<i64> {
    waiting_list::table
        .filter(waiting_list::town_id.eq(town.0))
        .filter(waiting_list::status.eq("waiting"))
        .count()
        .get_result(conn)
}

/// The resident's place on a town's list (1-based), if waiting.
pub fn position(
    conn: &mut AnyConnection,
    town: TownId,
    resident_id: i64,
) -> QueryResult<Option<i64>> {
    let mine: Option<(i32, NaiveDateTime, i64)> = waiting_list::table
        .filter(waiting_list::town_id.eq(town.0))
        .filter(waiting_list::resident_id.eq(resident_id))
        .filter(waiting_list::status.eq("waiting"))
        .select((
            waiting_list::priority,
            waiting_list::created_at,
            waiting_list::id,
        ))
        .get_result(conn)
        .optional()?;
    let Some((priority, at, id)) = mine else {
        return Ok(None);
    };
    // Ahead: everyone of a higher priority, then everyone of the same priority who joined
    // earlier (the id breaks a tie at the same instant).
    let same = waiting_list::priority.eq(priority);
    let ahead: i64 = waiting_list::table
        .filter(waiting_list::town_id.eq(town.0))
        .filter(waiting_list::status.eq("waiting"))
        .filter(
            waiting_list::priority.gt(priority).or(same.and(
                waiting_list::created_at
                    .lt(at)
                    .or(waiting_list::created_at.eq(at).and(waiting_list::id.lt(id))),
            )),
        )
        .count()
        .get_result(conn)?;
    Ok(Some(ahead + 1))
}

/// Put a resident first in a town's line for `dose` (an exception cancelled their booking), in
/// the caller's transaction: a new entry of priority [`DISPLACED`], or, if they are waiting
/// there already, that entry raised to it. Returns the entry's id.
pub fn put_first(
    conn: &mut AnyConnection,
    town: TownId,
    resident_id: i64,
    dose: i32,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    let existing: Option<i64> = waiting_list::table
        .filter(waiting_list::town_id.eq(town.0))
        .filter(waiting_list::resident_id.eq(resident_id))
        .filter(waiting_list::status.eq("waiting"))
        .select(waiting_list::id)
        .get_result(conn)
        .optional()?;
    if let Some(id) = existing {
        diesel::update(waiting_list::table.find(id))
            .set(waiting_list::priority.eq(DISPLACED))
            .execute(conn)?;
        return Ok(id);
    }
    let id = crate::ids::new_id();
    insert(
        conn,
        &WaitingEntry {
            id,
            town_id: town.0,
            resident_id,
            dose_number: dose,
            status: "waiting".into(),
            created_at: now,
            priority: DISPLACED,
        },
    )?;
    Ok(id)
}

/// The town of every entry still waiting (one row per entry), in one query.
pub fn waiting_town_ids(conn: &mut AnyConnection) -> QueryResult<Vec<i64>> {
    waiting_list::table
        .filter(waiting_list::status.eq("waiting"))
        .select(waiting_list::town_id)
        .load(conn)
}
