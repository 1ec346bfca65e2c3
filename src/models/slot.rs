//! Timed slots and the seat counters that enforce "no overbooking".

use chrono::NaiveDateTime;
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::sql_types::Integer;

use crate::db::prepared::Part;
use crate::db::schema::slots;
use crate::db::{AnyConnection, MultiBackend};
use crate::ids::{SiteId, SlotId};

/// A timed slot at a site for one product.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = slots)]
pub struct Slot {
    pub id: i64,
    pub site_id: i64,
    pub product_id: i64,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub seats: i32,
    pub second_dose_held: i32,
    pub booked_first: i32,
    pub booked_second: i32,
    /// When the slot can be booked (UTC); `None`: since it was published (no release rule).
    pub opens_at: Option<NaiveDateTime>,
}

/// A slot to insert (the same columns).
pub type NewSlot = Slot;

impl Slot {
    /// Whether the seats held for second doses are open to everyone at `now`.
    pub fn held_seats_released(&self, now: NaiveDateTime, release_hours: i64) -> bool {
        now >= self.starts_at - chrono::Duration::hours(release_hours)
    }

    /// Seats a first dose may still take at `now`.
    pub fn free_first(&self, now: NaiveDateTime, release_hours: i64) -> i32 {
        let held = if self.held_seats_released(now, release_hours) {
            self.booked_second
        } else {
            self.booked_second.max(self.second_dose_held)
        };
        (self.seats - self.booked_first - held).max(0)
    }

    /// Whether the release time has come at `now` (a draw may still be deciding its seats).
    pub fn released(&self, now: NaiveDateTime) -> bool {
        self.opens_at.is_none_or(|t| t <= now)
    }

    /// Seats a second (or later) dose may still take.
    pub fn free_second(&self) -> i32 {
        (self.seats - self.booked_first - self.booked_second).max(0)
    }
}

/// One slot.
pub fn find(conn: &mut AnyConnection, id: SlotId) -> QueryResult<Option<Slot>> {
    super::find_one(conn, slots::table.find(id.0))
}

/// A slot with a seat free for someone: fewer bookings (first and second doses) than seats.
#[diesel::dsl::auto_type]
fn has_free_seat() -> _ {
    (slots::booked_first + slots::booked_second).lt(slots::seats)
}

/// A slot at one of `sites` with a seat free for someone.
#[diesel::dsl::auto_type(no_type_alias)]
fn free_at_sites<'a>(sites: &'a [i64]) -> _ {
    slots::site_id.eq_any(sites).and(has_free_seat())
}

/// A slot nobody has booked.
#[diesel::dsl::auto_type(no_type_alias)]
fn unbooked() -> _ {
    slots::booked_first
        .eq(0_i32)
        .and(slots::booked_second.eq(0_i32))
}

/// `second_dose_held`, capped at `seats` (an SQL expression of the slot's new seats): the seats
/// held for second doses never exceed the seats.
fn held_capped_at(seats: &str) -> SqlLiteral<Integer> {
    diesel::dsl::sql::<Integer>(&format!(
        "CASE WHEN second_dose_held > {seats} THEN {seats} ELSE second_dose_held END"
    ))
}

/// A slot with the product it gives, in one query.
pub fn find_with_product(
    conn: &mut AnyConnection,
    id: SlotId,
) -> QueryResult<Option<(Slot, crate::models::Product)>> {
    use crate::db::schema::products;
    slots::table
        .inner_join(products::table)
        .filter(slots::id.eq(id.0))
        .select((Slot::as_select(), crate::models::Product::as_select()))
        .get_result(conn)
        .optional()
}

/// A booking's reads in one query: the slot, the product it gives, and the resident whose ID
/// number hashes to `id_hash` if there is one (one round trip on PostgreSQL where it took two).
pub fn find_for_booking(
    conn: &mut AnyConnection,
    id: SlotId,
    id_hash: &str,
) -> QueryResult<
    Option<(
        Slot,
        crate::models::Product,
        Option<crate::models::Resident>,
    )>,
> {
    use crate::db::schema::{products, residents};
    use crate::models::{Product, Resident};
    // On the backend's own connection: every booking reads this, and through `MultiConnection`
    // its three rows' columns were written out as text in every pass (most of the read
    // threads' time under the booking load, perf, 2026-12-06).
    crate::on_backend!(conn, |c| slots::table
        .inner_join(products::table)
        .left_join(residents::table.on(residents::id_hash.eq(id_hash)))
        .filter(slots::id.eq(id.0))
        .select((
            Slot::as_select(),
            Product::as_select(),
            Option::<Resident>::as_select(),
        ))
        .get_result(c)
        .optional())
}

/// A site's slots starting in `[from, to)`, in time order.
pub fn list_for_site_between(
    conn: &mut AnyConnection,
    site: SiteId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<Slot>> {
    list_for_site(conn, site, StartEdge::AtOrAfter(from), Some(to))
}

/// A site's slots, every product, starting from `from` and before `to` when it is given, in
/// time order (then product).
fn list_for_site(
    conn: &mut AnyConnection,
    site: SiteId,
    from: StartEdge,
    to: Option<NaiveDateTime>,
) -> QueryResult<Vec<Slot>> {
    let mut q = from.filter(slots::table.filter(slots::site_id.eq(site.0)).into_boxed());
    if let Some(to) = to {
        q = q.filter(slots::starts_at.lt(to));
    }
    super::load_all(
        conn,
        q.order((slots::starts_at.asc(), slots::product_id.asc())),
    )
}

/// Where a list of slots begins, and whether a slot starting at that instant is in it: the town
/// page counts a slot starting at `now` as still open; a moved booking never goes to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartEdge {
    /// Slots starting at the instant or later.
    AtOrAfter(NaiveDateTime),
    /// Slots starting strictly after the instant.
    After(NaiveDateTime),
}

impl StartEdge {
    /// `q` narrowed to the slots starting from this edge.
    fn filter<'a>(
        self,
        q: slots::BoxedQuery<'a, MultiBackend>,
    ) -> slots::BoxedQuery<'a, MultiBackend> {
        match self {
            StartEdge::AtOrAfter(t) => q.filter(slots::starts_at.ge(t)),
            StartEdge::After(t) => q.filter(slots::starts_at.gt(t)),
        }
    }
}

/// How open slots are ordered: by start time only (ties in the database's order), or by start
/// time and then id (a repeatable order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenOrder {
    Start,
    StartThenId,
}

/// Slots of `sites` with a seat still free for someone (the coarse filter: the exact first-dose
/// and release rules are the caller's), of `product` only when one is given, starting from
/// `from`, at most `limit` in `order`.
pub fn list_open(
    conn: &mut AnyConnection,
    sites: &[i64],
    product: Option<crate::ids::ProductId>,
    from: StartEdge,
    order: OpenOrder,
    limit: i64,
) -> QueryResult<Vec<Slot>> {
    let mut q = slots::table.filter(free_at_sites(sites)).into_boxed();
    if let Some(p) = product {
        q = q.filter(slots::product_id.eq(p.0));
    }
    q = from.filter(q);
    q = match order {
        OpenOrder::Start => q.order(slots::starts_at.asc()),
        OpenOrder::StartThenId => q.order((slots::starts_at.asc(), slots::id.asc())),
    };
    super::load_all(conn, q.limit(limit))
}

/// Slots of several sites with a seat still free for someone starting at `from` or later, in
/// time order: where the town page looks for a site's next free seat.
pub fn list_open_for_sites(
    conn: &mut AnyConnection,
    sites: &[i64],
    from: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Slot>> {
    let edge = StartEdge::AtOrAfter(from);
    list_open(conn, sites, None, edge, OpenOrder::Start, limit)
}

/// Slots of one product at some sites with a seat still free for someone starting after `from`,
/// in time order (then id): where a booking displaced by an exception may go.
pub fn list_open_for_product(
    conn: &mut AnyConnection,
    sites: &[i64],
    product: crate::ids::ProductId,
    from: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Slot>> {
    let edge = StartEdge::After(from);
    list_open(
        conn,
        sites,
        Some(product),
        edge,
        OpenOrder::StartThenId,
        limit,
    )
}

/// Take one seat of slot `id` for dose `dose` ([`seat_taking`], run alone). True when taken.
pub fn take_seat(
    conn: &mut AnyConnection,
    id: SlotId,
    dose: i32,
    released: bool,
) -> QueryResult<bool> {
    Ok(seat_taking(id, dose, released).run(conn)? == 1)
}

/// The conditional UPDATE that takes one seat of slot `id` for dose `dose`, not yet run (a part
/// of `run_together`; one row changed: the seat is taken). A first dose takes a free seat and,
/// unless `released`, not one held for second doses still unused; a later dose any free seat
/// (held ones first by construction).
///
/// A conditional UPDATE is atomic on both backends: PostgreSQL re-checks the condition under the
/// row lock, and SQLite has a single writer. So two bookings for the last seat cannot both win.
pub fn seat_taking(id: SlotId, dose: i32, released: bool) -> Box<dyn Part + Send> {
    let target = slots::table.find(id.0);
    if dose > 1 {
        Box::new(super::update_of(
            target.filter(has_free_seat()),
            slots::booked_second.eq(slots::booked_second + 1),
        ))
    } else if released {
        Box::new(super::update_of(
            target.filter(has_free_seat()),
            slots::booked_first.eq(slots::booked_first + 1),
        ))
    } else {
        // Held seats still unused by second doses are not free for first doses.
        Box::new(super::update_of(
            target
                .filter(has_free_seat())
                .filter((slots::booked_first + slots::second_dose_held).lt(slots::seats)),
            slots::booked_first.eq(slots::booked_first + 1),
        ))
    }
}

/// Give back the seat of a cancelled or moved appointment.
pub fn release_seat(conn: &mut AnyConnection, id: SlotId, first_dose: bool) -> QueryResult<()> {
    let target = slots::table.find(id.0);
    if first_dose {
        diesel::update(target.filter(slots::booked_first.gt(0)))
            .set(slots::booked_first.eq(slots::booked_first - 1))
            .execute(conn)?;
    } else {
        diesel::update(target.filter(slots::booked_second.gt(0)))
            .set(slots::booked_second.eq(slots::booked_second - 1))
            .execute(conn)?;
    }
    Ok(())
}

/// Hold `n` more seats of a slot for second doses (never more than its seats).
pub fn add_held_seats(conn: &mut AnyConnection, id: SlotId, n: i32) -> QueryResult<()> {
    diesel::update(
        slots::table
            .find(id.0)
            .filter((slots::second_dose_held + n).le(slots::seats)),
    )
    .set(slots::second_dose_held.eq(slots::second_dose_held + n))
    .execute(conn)
    .map(|_| ())
}

/// Insert many slots, in batches that stay inside both backends' parameter limits.
pub fn insert_many(conn: &mut AnyConnection, rows: &[NewSlot]) -> QueryResult<()> {
    for chunk in rows.chunks(500) {
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(slots::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// A site's slots starting after `from`, every product, in time order (the publisher's view).
pub fn list_future_for_site(
    conn: &mut AnyConnection,
    site: SiteId,
    from: NaiveDateTime,
) -> QueryResult<Vec<Slot>> {
    list_for_site(conn, site, StartEdge::After(from), None)
}

/// How many of a site's slots start after `from` (the site page's published-slots figure).
pub fn count_future_for_site(
    conn: &mut AnyConnection,
    site: SiteId,
    from: NaiveDateTime,
) -> QueryResult<i64> {
    slots::table
        .filter(slots::site_id.eq(site.0))
        .filter(slots::starts_at.gt(from))
        .count()
        .get_result(conn)
}

/// When a site's first slot after `from` with a free seat starts (first or second dose), if
/// it has one: where its day page opens when no day is asked for.
pub fn first_free_after(
    conn: &mut AnyConnection,
    site: SiteId,
    from: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    slots::table
        .filter(slots::site_id.eq(site.0))
        .filter(slots::starts_at.gt(from))
        .filter(has_free_seat())
        .select(diesel::dsl::min(slots::starts_at))
        .first(conn)
}

/// A site's slots under way at `now` (started, not ended), every product.
pub fn list_running_for_site(
    conn: &mut AnyConnection,
    site: SiteId,
    now: NaiveDateTime,
) -> QueryResult<Vec<Slot>> {
    super::load_all(
        conn,
        slots::table
            .filter(slots::site_id.eq(site.0))
            .filter(slots::starts_at.le(now))
            .filter(slots::ends_at.gt(now)),
    )
}

/// Set a booked slot's seats to `seats`, or to its bookings when it has more (0 closes it to
/// new bookings: its seats become its bookings); the seats held for second doses never exceed
/// the new seats. False when the seats were that already.
pub fn fit_seats_to_bookings(
    conn: &mut AnyConnection,
    id: SlotId,
    seats: i32,
) -> QueryResult<bool> {
    let seats = seats.max(0);
    let target = format!(
        "(CASE WHEN booked_first + booked_second > {seats} \
         THEN booked_first + booked_second ELSE {seats} END)"
    );
    super::update_one(
        conn,
        slots::table
            .find(id.0)
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "seats <> {target}"
            ))),
        (
            slots::seats.eq(diesel::dsl::sql::<Integer>(&target)),
            slots::second_dose_held.eq(held_capped_at(&target)),
        ),
    )
}

/// Insert slots, skipping any whose (site, product, start) exists already, so two publishers
/// running at once never duplicate a slot nor fail. Returns how many were inserted.
pub fn insert_many_new(conn: &mut AnyConnection, rows: &[NewSlot]) -> QueryResult<usize> {
    let mut n = 0;
    match conn {
        // diesel cannot batch an upsert on SQLite; one statement per row inside the caller's
        // transaction is fast enough for a site's days ahead.
        AnyConnection::Sqlite(c) => {
            for row in rows {
                n += diesel::insert_into(slots::table)
                    .values(row)
                    .on_conflict((slots::site_id, slots::product_id, slots::starts_at))
                    .do_nothing()
                    .execute(c)?;
            }
        }
        AnyConnection::Postgresql(c) => {
            for chunk in rows.chunks(500) {
                n += diesel::insert_into(slots::table)
                    .values(chunk)
                    .on_conflict((slots::site_id, slots::product_id, slots::starts_at))
                    .do_nothing()
                    .execute(c)?;
            }
        }
    }
    Ok(n)
}

/// Change the end and seats of a slot nobody has booked; false if someone has.
pub fn reshape_unbooked(
    conn: &mut AnyConnection,
    id: SlotId,
    ends_at: NaiveDateTime,
    seats: i32,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        slots::table.find(id.0).filter(unbooked()),
        (
            slots::ends_at.eq(ends_at),
            slots::seats.eq(seats),
            slots::second_dose_held.eq(held_capped_at(&seats.to_string())),
        ),
    )
}

/// Set a slot's seats, never below what is booked; false if more are booked than `seats`.
pub fn set_seats(conn: &mut AnyConnection, id: SlotId, seats: i32) -> QueryResult<bool> {
    super::update_one(
        conn,
        slots::table
            .find(id.0)
            .filter((slots::booked_first + slots::booked_second).le(seats)),
        (
            slots::seats.eq(seats),
            slots::second_dose_held.eq(held_capped_at(&seats.to_string())),
        ),
    )
}

/// Withdraw a slot nobody holds: delete it when no appointment ever pointed at it (nor was
/// moved out of it by an exception: residents see it closed, with the reason), otherwise close
/// it (no seats). False when it has bookings (it is then left as it is).
pub fn withdraw_unbooked(conn: &mut AnyConnection, id: SlotId) -> QueryResult<bool> {
    use crate::db::schema::{appointments, exception_moves};
    let deleted = diesel::delete(
        slots::table
            .filter(slots::id.eq(id.0))
            .filter(unbooked())
            .filter(diesel::dsl::not(diesel::dsl::exists(
                appointments::table.filter(appointments::slot_id.eq(id.0)),
            )))
            .filter(diesel::dsl::not(diesel::dsl::exists(
                exception_moves::table.filter(exception_moves::from_slot_id.eq(id.0)),
            ))),
    )
    .execute(conn)?;
    if deleted == 1 {
        return Ok(true);
    }
    reshape_closed(conn, id)
}

fn reshape_closed(conn: &mut AnyConnection, id: SlotId) -> QueryResult<bool> {
    super::update_one(
        conn,
        slots::table.find(id.0).filter(unbooked()),
        (slots::seats.eq(0), slots::second_dose_held.eq(0)),
    )
}

/// Whether any active site has published a slot starting after `now`, full or not (residents
/// see "not set up yet" until one has).
pub fn any_published(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<bool> {
    use crate::db::schema::sites;
    diesel::select(diesel::dsl::exists(
        slots::table
            .inner_join(sites::table)
            .filter(sites::active.eq(true))
            .filter(slots::starts_at.gt(now)),
    ))
    .get_result(conn)
}

/// Move the opening of a slot that has not opened yet (the release rule changed); a slot that
/// is open already, or has bookings, keeps its opening.
pub fn reopen_unopened(
    conn: &mut AnyConnection,
    id: SlotId,
    opens_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        slots::table
            .find(id.0)
            .filter(slots::opens_at.gt(now))
            .filter(unbooked()),
        slots::opens_at.eq(opens_at),
    )
}

/// Give every slot the same opening (the demo's `--draw-opens-in`). Returns how many.
pub fn set_opening_of_all(conn: &mut AnyConnection, opens_at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(slots::table)
        .set(slots::opens_at.eq(Some(opens_at)))
        .execute(conn)
}

/// How many slots, at any site and any time, give a product.
pub fn count_for_product(
    conn: &mut AnyConnection,
    product: crate::ids::ProductId,
) -> QueryResult<i64> {
    slots::table
        .filter(slots::product_id.eq(product.0))
        .count()
        .get_result(conn)
}

/// Every slot of a product, at any site, starting in `[from, to)`, in time order.
pub fn list_for_product_between(
    conn: &mut AnyConnection,
    product: crate::ids::ProductId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<Slot>> {
    super::load_all(
        conn,
        slots::table
            .filter(slots::product_id.eq(product.0))
            .filter(slots::starts_at.ge(from))
            .filter(slots::starts_at.lt(to))
            .order((slots::starts_at.asc(), slots::id.asc())),
    )
}

/// `(site, start, seats)` of every slot of a product starting in `[from, to)`.
pub fn seats_for_product_between(
    conn: &mut AnyConnection,
    product: crate::ids::ProductId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(i64, NaiveDateTime, i32)>> {
    slots::table
        .filter(slots::product_id.eq(product.0))
        .filter(slots::starts_at.ge(from))
        .filter(slots::starts_at.lt(to))
        .select((slots::site_id, slots::starts_at, slots::seats))
        .load(conn)
}
