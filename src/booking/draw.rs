//! Fair release: announced openings and the draw.
//!
//! A slot with `opens_at` cannot be booked before it. If its site's opening has a draw
//! (`draws`, one per site and opening instant), a booking request from `opens_at` until the
//! draw's `closes_at` becomes an *entry* (`draw_entries`), checked by the same eligibility rules
//! as a booking, one per ID number and dose. When the window closes the draw is run once
//! ([`run_draw`]: by `serve`'s background task, `dosewise run-draws`, or lazily by the first
//! request that needs it): the entries are put in a random but verifiable order and each in turn
//! gets the seat it asked for or, if that is gone, the nearest seat at the same site on the same
//! day (then, if the resident allowed it, the nearest open seat at another site of the same town
//! on that day), through the same booking transaction as anyone ([`super::book_seat`], which
//! also applies the per-contact cap on bookings per day: an entry beyond it is not drawn, with
//! reason `contact_cap`; a site without an unpromised dose of the vaccine is passed over, and an
//! entry that found only such sites is not drawn with reason `no_stock`); the rest are not
//! drawn. Every entry's result is mailed. After the draw
//! the seats left are first come.
//!
//! **The order** (documented in README.md and on each draw's page): the seed is 32 random bytes
//! written as 64 lower-case hex characters, chosen when the draw is scheduled, before its window
//! opens; `SHA-256(seed)` (hex of the seed's ASCII text) is published at once and the seed itself
//! once the draw is done. Each entry's key is the lower-case hex of `SHA-256(seed || code)`, the
//! ASCII seed followed by the entry's 8-character code; entries are taken in ascending order of
//! key (then code). Arrival time plays no part.
//!
//! **Several processes**: a draw is claimed with a conditional UPDATE (`scheduled -> running`,
//! or a `running` draw whose lease ran out) under a random token. Each entry is decided in its
//! own transaction that first renews the lease under that token (so a runner that lost its claim
//! stops) and marks the entry only if it is still waiting, so a runner that takes over after a
//! crash continues in the same order without deciding anything twice. An entry is counted into
//! its draw by an UPDATE that requires the draw to be `scheduled`, so no entry is accepted once
//! a runner holds the draw; and first-come booking of a draw's slots waits for `done`.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{
    check_eligibility, upsert_resident, Booked, BookingError, Collision, ResidentDetails, Rules,
    Seat, SeatHolder,
};
use crate::db::{AnyConnection, Db, DbCause};
use crate::domain::days::{day_bounds, local_day};
use crate::domain::BookingCode;
use crate::ids::{new_id, ProductId, ResidentId, SiteId, SlotId};
use crate::models::draw::{self, Draw, DrawStatus};
use crate::models::draw_entry::{self, DrawEntry, EntryStatus};
use crate::models::outbox::{self, Kind};
use crate::models::{product, resident, slot, Slot};
use crate::security::{random_token, sha256_hex, Keys};

/// How long a runner's claim on a draw lasts without being renewed.
pub const LEASE_SECONDS: i64 = 60;

/// Whether a slot can be booked at a given time.
#[derive(Debug, Clone)]
pub enum Opening {
    /// Bookable, first come.
    Open,
    /// Not before this instant (UTC).
    NotOpen(NaiveDateTime),
    /// Inside its draw's window: a request becomes an entry.
    Window(Draw),
    /// The window has closed and the draw is not done yet.
    Pending(Draw),
}

/// Where a slot stands at `now`.
pub fn opening(conn: &mut AnyConnection, now: NaiveDateTime, s: &Slot) -> QueryResult<Opening> {
    let Some(opens_at) = s.opens_at else {
        return Ok(Opening::Open);
    };
    let found = draw::find_for_opening(conn, SiteId(s.site_id), opens_at)?;
    Ok(classify(now, opens_at, found))
}

/// Where a slot stands at `now`, given its site's draws (already loaded).
pub fn opening_among(now: NaiveDateTime, s: &Slot, draws: &[Draw]) -> Opening {
    match s.opens_at {
        None => Opening::Open,
        Some(t) => classify(
            now,
            t,
            draws
                .iter()
                .find(|d| d.site_id == s.site_id && d.opens_at == t)
                .cloned(),
        ),
    }
}

fn classify(now: NaiveDateTime, opens_at: NaiveDateTime, d: Option<Draw>) -> Opening {
    match d {
        _ if now < opens_at => Opening::NotOpen(opens_at),
        None => Opening::Open,
        Some(d) if d.is_done() => Opening::Open,
        Some(d) if now < d.closes_at && d.status == DrawStatus::Scheduled.as_str() => {
            Opening::Window(d)
        }
        Some(d) => Opening::Pending(d),
    }
}

/// Refuse a first-come booking (or a move) into a slot that is not open yet, or whose seats a
/// draw is handing out.
pub(super) fn ensure_bookable(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    s: &Slot,
) -> Result<(), BookingError> {
    match opening(conn, now, s)? {
        Opening::Open => Ok(()),
        Opening::NotOpen(at) => Err(BookingError::NotOpen(at)),
        Opening::Window(d) => Err(BookingError::InDraw(d.id)),
        Opening::Pending(d) => Err(BookingError::DrawPending(d.id)),
    }
}

/// The key that orders an entry in a draw: hex `SHA-256(seed || code)`.
pub fn order_key(seed: &str, code: &str) -> String {
    sha256_hex(&format!("{seed}{code}"))
}

/// Entry codes in drawn order: ascending [`order_key`], then code.
pub fn draw_order<'a>(seed: &str, codes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut keyed: Vec<(String, &str)> =
        codes.into_iter().map(|c| (order_key(seed, c), c)).collect();
    keyed.sort();
    keyed.into_iter().map(|(_, c)| c.to_string()).collect()
}

/// An accepted entry.
#[derive(Debug, Clone)]
pub struct Entered {
    pub entry: DrawEntry,
    pub draw: Draw,
}

/// What a booking request became.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A seat, first come.
    Booked(Booked),
    /// An entry in the slot's draw.
    Entered(Entered),
}

/// What a booking or a draw entry asks for: the booking's [`super::Request`], and whether an
/// entry may be given a seat at another site of the town.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub booking: super::Request,
    pub any_site_in_town: bool,
}

/// Book the slot asked for, or enter its draw while the draw window is open. A request after
/// the window closes runs the draw first (if no other process is running it) and then books
/// first come.
pub fn book_or_enter(
    db: &Db,
    keys: &Keys,
    rules: &dyn Fn() -> Rules,
    ask: Ask,
    who: &ResidentDetails,
) -> Result<Outcome, BookingError> {
    let mut last = None;
    for _ in 0..3 {
        let now_rules = rules();
        let booked = super::book(db, keys, now_rules, ask.booking, who);
        let outcome = match booked.map(Outcome::Booked) {
            Err(BookingError::InDraw(_)) => enter(db, keys, now_rules, ask, who),
            other => other,
        };
        match outcome {
            Err(BookingError::DrawPending(id)) => {
                if !run_draw(db, rules, ask.booking.contact_cap, id)? {
                    return Err(BookingError::DrawPending(id));
                }
                last = Some(id);
            }
            other => return other,
        }
    }
    Err(BookingError::DrawPending(last.unwrap_or_default()))
}

/// Enter the draw of the slot asked for: same eligibility rules as a booking, one waiting entry
/// per ID number and dose. Nothing is taken until the draw.
pub fn enter(
    db: &Db,
    keys: &Keys,
    rules: Rules,
    ask: Ask,
    who: &ResidentDetails,
) -> Result<Outcome, BookingError> {
    let id_hash = keys.hash_id_number(&who.id_number);
    super::retrying_collisions(BookingError::AlreadyEntered, || {
        try_enter(db, keys, rules, ask, who, &id_hash)
    })
}

fn try_enter(
    db: &Db,
    keys: &Keys,
    rules: Rules,
    ask: Ask,
    who: &ResidentDetails,
    id_hash: &str,
) -> Result<Outcome, BookingError> {
    let (slot_id, dose) = (ask.booking.slot_id, ask.booking.dose);
    let (s, d, existing) = {
        let mut conn = db.read.get()?;
        let (s, product, existing) = slot::find_for_booking(&mut conn, slot_id, id_hash)?
            .ok_or(BookingError::SlotNotFound)?;
        let d = match opening(&mut conn, rules.now, &s)? {
            Opening::Window(d) => d,
            Opening::NotOpen(at) => return Err(BookingError::NotOpen(at)),
            Opening::Pending(d) => return Err(BookingError::DrawPending(d.id)),
            Opening::Open => {
                drop(conn);
                return super::book(db, keys, rules, ask.booking, who).map(Outcome::Booked);
            }
        };
        let birth = who.id_number.birth_date();
        check_eligibility(
            &mut conn,
            rules,
            existing.as_ref(),
            birth,
            &s,
            &product,
            dose,
        )?;
        if let Some(r) = &existing {
            if draw_entry::find_waiting_for_dose(&mut conn, ResidentId(r.id), dose)?.is_some() {
                return Err(BookingError::AlreadyEntered);
            }
        }
        (s, d, existing)
    };
    let code = BookingCode::generate(&mut rand::rng());
    let now = rules.now;
    let (who, id_hash, draw_id) = (who.clone(), id_hash.to_string(), d.id);
    let entry = db.transaction(move |c| {
        let resident_id = upsert_resident(c, existing.as_ref(), &who, &id_hash, now)?;
        if !draw::admit_entry(c, draw_id)? {
            // A runner claimed the draw after we read it: the window is over.
            return Err(BookingError::DrawPending(draw_id));
        }
        let e = DrawEntry {
            id: new_id(),
            code: code.as_str().to_string(),
            draw_id,
            slot_id: s.id,
            product_id: s.product_id,
            starts_at: s.starts_at,
            resident_id,
            dose_number: dose,
            status: EntryStatus::Waiting.as_str().into(),
            position: None,
            appointment_id: None,
            created_at: now,
            decided_at: None,
            any_site_in_town: ask.any_site_in_town,
            reason: None,
        };
        draw_entry::insert(c, &e)?;
        crate::models::audit::record_at_site(
            c,
            now,
            crate::models::audit::Entry {
                actor: &who.id_number.masked(),
                action: "draw.enter",
                subject: &format!("draw {draw_id}"),
                detail: &format!("site {} dose {dose}", s.site_id),
            },
            s.site_id,
        )?;
        Ok(e)
    })?;
    Ok(Outcome::Entered(Entered { entry, draw: d }))
}

/// Find an entry by its code and the resident's ID number. A wrong code and a wrong ID number
/// give the same answer, as for appointments.
pub fn find_entry(
    conn: &mut AnyConnection,
    keys: &Keys,
    code: &BookingCode,
    id_number: &crate::domain::IdNumber,
) -> Result<DrawEntry, BookingError> {
    let e = draw_entry::find_by_code(conn, code.as_str())?.ok_or(BookingError::NotFound)?;
    let r = resident::find(conn, ResidentId(e.resident_id))?.ok_or(BookingError::NotFound)?;
    if !crate::security::constant_time_eq(&r.id_hash, &keys.hash_id_number(id_number)) {
        return Err(BookingError::NotFound);
    }
    Ok(e)
}

/// An entry as its holder sees it.
#[derive(Debug, Clone)]
pub struct EntryState {
    pub entry: DrawEntry,
    pub draw: Draw,
    /// The appointment it was given, when drawn.
    pub appointment: Option<crate::models::Appointment>,
}

/// Entry `id` as it stands now; a waiting entry whose window has closed has its draw run first.
pub fn entry_state(
    db: &Db,
    rules: &dyn Fn() -> Rules,
    contact_cap: u32,
    id: i64,
) -> Result<EntryState, BookingError> {
    let read = |db: &Db| -> Result<EntryState, BookingError> {
        let mut conn = db.read.get()?;
        let entry = draw_entry::find(&mut conn, id)?.ok_or(BookingError::NotFound)?;
        let draw = draw::find_brief(&mut conn, entry.draw_id)?.ok_or(BookingError::NotFound)?;
        let appointment = match entry.appointment_id {
            Some(a) => crate::models::appointment::find(&mut conn, crate::ids::AppointmentId(a))?,
            None => None,
        };
        Ok(EntryState {
            entry,
            draw,
            appointment,
        })
    };
    let state = read(db)?;
    if state.entry.status() == EntryStatus::Waiting && state.draw.closes_at <= rules().now {
        run_draw(db, rules, contact_cap, state.draw.id)?;
        return read(db);
    }
    Ok(state)
}

/// Schedule the draw of a site's opening (in the caller's transaction) unless it has one: the
/// seed is chosen now and only its hash will be shown until the draw is done.
pub fn schedule(
    c: &mut AnyConnection,
    site: SiteId,
    opens_at: NaiveDateTime,
    closes_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let seed = random_token();
    draw::insert_if_missing(
        c,
        &Draw {
            id: new_id(),
            site_id: site.0,
            opens_at,
            closes_at,
            seed_hash: sha256_hex(&seed),
            seed,
            status: DrawStatus::Scheduled.as_str().into(),
            entries: 0,
            claim_token: None,
            lease_until: None,
            drawn_at: None,
            order_codes: None,
            created_at: now,
        },
    )
}

/// Bring a site's unopened slots and their draws in line with its release rule, in the
/// caller's (publishing) transaction: a slot not open yet takes the rule's opening (a slot open
/// already keeps it), each future opening gets its draw (seed committed now) while the rule has a
/// window, and draws no slot opens with any more are dropped.
pub fn sync_release(
    c: &mut AnyConnection,
    site: SiteId,
    rule: &crate::models::template::ReleaseRule,
    tz: chrono_tz::Tz,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let mut openings = std::collections::BTreeSet::new();
    for s in slot::list_future_for_site(c, site, now)? {
        let Some(current) = s.opens_at.filter(|t| *t > now) else {
            continue;
        };
        let wanted = rule.opens_at(tz, s.starts_at);
        if wanted != Some(current) {
            slot::reopen_unopened(c, SlotId(s.id), wanted, now)?;
        }
        if let Some(t) = wanted.filter(|t| *t > now) {
            openings.insert(t);
        }
    }
    let window = Duration::minutes(rule.draw_minutes.into());
    let openings: Vec<NaiveDateTime> = openings.into_iter().collect();
    let mut scheduled = draw::list_for_openings(c, site, &openings)?
        .into_iter()
        .peekable();
    for opens_at in openings {
        // Both in opening order: the draw of this opening, if it has one, is next.
        let existing = scheduled.next_if(|d| d.opens_at == opens_at);
        match existing {
            Some(d) if rule.draw_minutes <= 0 => draw::delete_unopened(c, d.id, now)?,
            Some(d) if d.closes_at != opens_at + window => {
                draw::set_window(c, d.id, opens_at + window, now)?
            }
            Some(_) => {}
            None if rule.draw_minutes > 0 => {
                schedule(c, site, opens_at, opens_at + window, now)?;
            }
            None => {}
        }
    }
    draw::delete_unused(c, site, now)?;
    Ok(())
}

/// Give every slot in the database one opening at `opens_at`, with a draw per site lasting
/// `window` (none when zero): `dosewise demo-data --draw-opens-in --draw-seconds`. Returns the
/// number of draws scheduled.
pub fn release_everything_at(
    db: &Db,
    opens_at: NaiveDateTime,
    window: Duration,
    now: NaiveDateTime,
) -> Result<usize, BookingError> {
    db.transaction(move |c| -> Result<usize, BookingError> {
        slot::set_opening_of_all(c, opens_at)?;
        let mut n = 0;
        if window > Duration::zero() {
            for site in draw::sites_with_slots(c)? {
                if schedule(c, SiteId(site), opens_at, opens_at + window, now)? {
                    n += 1;
                }
            }
        }
        Ok(n)
    })
}

/// Run every draw whose window has closed. Returns how many this call completed.
pub fn run_due(
    db: &Db,
    rules: &dyn Fn() -> Rules,
    contact_cap: u32,
) -> Result<usize, BookingError> {
    let due = {
        let mut conn = db.read.get()?;
        draw::list_due(&mut conn, rules().now)?
    };
    let mut done = 0;
    for id in due {
        if run_draw(db, rules, contact_cap, id)? {
            done += 1;
        }
    }
    Ok(done)
}

/// Run the draws among `draws` whose window has closed (pages and the API call this before they
/// show slots, so a draw is never waited for). Returns whether any is still not done.
pub fn settle(
    db: &Db,
    rules: &dyn Fn() -> Rules,
    contact_cap: u32,
    draws: &[Draw],
) -> Result<bool, BookingError> {
    let now = rules().now;
    let mut pending = false;
    for d in draws.iter().filter(|d| !d.is_done() && d.closes_at <= now) {
        pending |= !run_draw(db, rules, contact_cap, d.id)?;
    }
    Ok(pending)
}

/// Claim draw `id` and decide its entries. Returns whether the draw is done afterwards (false:
/// it is not due, or another process is running it).
pub fn run_draw(
    db: &Db,
    rules: &dyn Fn() -> Rules,
    contact_cap: u32,
    id: i64,
) -> Result<bool, BookingError> {
    let token = random_token();
    let now = rules().now;
    let lease = now + Duration::seconds(LEASE_SECONDS);
    let claim_token = token.clone();
    let claimed = db.transaction(move |c| -> Result<bool, BookingError> {
        Ok(draw::claim(c, id, &claim_token, now, lease)?)
    })?;
    let (d, entries) = {
        let mut conn = db.read.get()?;
        let Some(d) = draw::find(&mut conn, id)? else {
            return Ok(false);
        };
        if !claimed {
            return Ok(d.is_done());
        }
        let entries = draw_entry::list_for_draw(&mut conn, id)?;
        (d, entries)
    };
    let order = draw_order(&d.seed, entries.iter().map(|e| e.code.as_str()));
    for (i, code) in order.iter().enumerate() {
        let Some(e) = entries.iter().find(|e| &e.code == code) else {
            continue;
        };
        if e.status() != EntryStatus::Waiting {
            continue;
        }
        let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
        match decide(db, rules, contact_cap, &d, &token, e, position) {
            Err(BookingError::DrawPending(_)) => return Ok(false),
            other => other?,
        }
    }
    let finished_at = rules().now;
    let finished = db.transaction(move |c| -> Result<bool, BookingError> {
        Ok(draw::finish(c, id, &token, finished_at, &order)?)
    })?;
    if finished {
        tracing::info!(draw = id, entries = entries.len(), "draw done");
    }
    Ok(finished)
}

pub use crate::models::draw_entry::{REASON_CONTACT_CAP, REASON_NO_STOCK};

/// Why trying a candidate seat stopped.
enum Tried {
    Booked,
    /// A booking code was taken already: the same seat again, with a new code.
    Again,
    /// This seat is gone; try the next.
    Next,
    /// The seat's site holds no unpromised dose of its vaccine; try another site's seats.
    NoStock,
    /// No seat will do for this entry.
    Stop,
    /// The entry's phone number or e-mail address holds the day's cap of bookings already.
    Capped,
}

/// Decide one waiting entry: the seat it asked for, else the nearest free seat at the same site
/// on the same day (same vaccine), else (if allowed) at another site of the town, else not drawn.
fn decide(
    db: &Db,
    rules_now: &dyn Fn() -> Rules,
    contact_cap: u32,
    d: &Draw,
    token: &str,
    e: &DrawEntry,
    position: i32,
) -> Result<(), BookingError> {
    let rules = rules_now();
    let (r, product, candidates) = {
        let mut conn = db.read.get()?;
        let r = resident::find(&mut conn, ResidentId(e.resident_id))?;
        let p = product::find(&mut conn, ProductId(e.product_id))?;
        let candidates = candidates(&mut conn, rules, d, e)?;
        (r, p, candidates)
    };
    let mut reason = None;
    // Sites found to hold no unpromised dose of the vaccine: their other seats are not tried.
    let mut no_stock: Vec<i64> = Vec::new();
    if let (Some(r), Some(product)) = (&r, &product) {
        'seats: for s in candidates {
            if no_stock.contains(&s.site_id) {
                continue;
            }
            let free = if e.dose_number == 1 {
                s.free_first(rules.now, rules.release_hours)
            } else {
                s.free_second()
            };
            if free <= 0 {
                continue;
            }
            let eligible = {
                let mut conn = db.read.get()?;
                check_eligibility(
                    &mut conn,
                    rules,
                    Some(r),
                    r.birth_date,
                    &s,
                    product,
                    e.dose_number,
                )
            };
            match eligible {
                Ok(()) => {}
                Err(x) if x.is_internal() => return Err(x),
                Err(BookingError::SlotStarted | BookingError::AgeOutOfRange) => continue,
                Err(BookingError::TooEarly(_)) => continue,
                Err(_) => break,
            }
            let at = Attempt {
                d,
                token,
                e,
                position,
                contact_cap,
            };
            for _ in 0..3 {
                match try_seat(db, rules, &at, r, &s)? {
                    Tried::Booked => return Ok(()),
                    Tried::Again => {}
                    Tried::Next => continue 'seats,
                    Tried::NoStock => {
                        // Another site of the town may still hold doses.
                        no_stock.push(s.site_id);
                        continue 'seats;
                    }
                    Tried::Stop => break 'seats,
                    Tried::Capped => {
                        reason = Some(REASON_CONTACT_CAP);
                        break 'seats;
                    }
                }
            }
        }
    }
    if reason.is_none() && !no_stock.is_empty() {
        // The seats were there but not the doses: say so, not "drawn before yours".
        reason = Some(REASON_NO_STOCK);
    }
    let (draw_id, token, entry_id) = (d.id, token.to_string(), e.id);
    let now = rules.now;
    let mail = r.map(|r| (r.email, r.lang));
    db.transaction(move |c| -> Result<(), BookingError> {
        if !draw::renew(c, draw_id, &token, now + Duration::seconds(LEASE_SECONDS))? {
            return Err(BookingError::DrawPending(draw_id));
        }
        if draw_entry::decide(c, entry_id, EntryStatus::NotDrawn, position, None, now)? {
            if let Some(why) = reason {
                draw_entry::set_reason(c, entry_id, why)?;
            }
            if let Some((email, lang)) = &mail {
                outbox::enqueue(c, Kind::EntryResult, entry_id, email, lang, None, now)?;
            }
        }
        Ok(())
    })
}

/// Which entry of which draw a seat is tried for.
struct Attempt<'a> {
    d: &'a Draw,
    token: &'a str,
    e: &'a DrawEntry,
    position: i32,
    contact_cap: u32,
}

/// One attempt at one seat, in one transaction: renew the claim, book the seat through the
/// booking transaction, mark the entry drawn, queue its result.
fn try_seat(
    db: &Db,
    rules: Rules,
    at: &Attempt<'_>,
    r: &crate::models::Resident,
    s: &Slot,
) -> Result<Tried, BookingError> {
    let code = BookingCode::generate(&mut rand::rng());
    let now = rules.now;
    let released = s.held_seats_released(now, rules.release_hours);
    let (draw_id, token, entry) = (at.d.id, at.token.to_string(), at.e.clone());
    let (position, contact_cap, tz) = (at.position, at.contact_cap, rules.tz);
    let (email, phone, lang, seat_slot) =
        (r.email.clone(), r.phone.clone(), r.lang.clone(), s.clone());
    let outcome = db.transaction(move |c| -> Result<bool, BookingError> {
        if !draw::renew(c, draw_id, &token, now + Duration::seconds(LEASE_SECONDS))? {
            return Err(BookingError::DrawPending(draw_id));
        }
        let seat = Seat::new(&code, entry.resident_id, entry.dose_number, released);
        let holder = SeatHolder {
            email: &email,
            phone: &phone,
            lang: &lang,
            contact_cap,
            tz,
        };
        let a = super::book_seat(c, &seat_slot, &seat, &holder, now, &[])?;
        if !draw_entry::decide(c, entry.id, EntryStatus::Drawn, position, Some(a.id), now)? {
            // Decided by another runner meanwhile: undo this seat with the transaction.
            return Err(BookingError::NotActive);
        }
        outbox::enqueue(c, Kind::EntryResult, entry.id, &email, &lang, None, now)?;
        Ok(true)
    });
    match outcome {
        Ok(_) => Ok(Tried::Booked),
        Err(BookingError::SlotFull) => Ok(Tried::Next),
        Err(BookingError::NoStock) => Ok(Tried::NoStock),
        Err(BookingError::NotActive) => Ok(Tried::Stop),
        Err(BookingError::ContactCap) => Ok(Tried::Capped),
        // A booking code drawn twice, or an id another process made in the same second; or the
        // resident holds the dose already.
        Err(x) => match x.db_cause().and_then(Collision::of) {
            Some(Collision::Again) => Ok(Tried::Again),
            Some(Collision::OnDose) => Ok(Tried::Stop),
            None => Err(x),
        },
    }
}

/// The seats an entry may get, best first: at the draw's site, of the entry's vaccine, on the
/// same local day, not started, open now or handed out by this draw; the seat asked for first,
/// then by distance in time from it (earlier first on a tie). If the entry allows it, then the
/// same at the town's other active sites, seats open now only (another site's draw hands out
/// its own), nearest in time first.
fn candidates(
    conn: &mut AnyConnection,
    rules: Rules,
    d: &Draw,
    e: &DrawEntry,
) -> QueryResult<Vec<Slot>> {
    let day = local_day(rules.tz, e.starts_at);
    let (from, to) = day_bounds(rules.tz, day);
    let wanted = |s: &Slot| s.product_id == e.product_id && s.starts_at > rules.now;
    let nearest = |s: &Slot| {
        (
            s.id != e.slot_id,
            (s.starts_at - e.starts_at).num_seconds().abs(),
            s.starts_at,
            s.id,
        )
    };
    let span = (from, to);
    let mut out = open_slots(conn, rules.now, SiteId(d.site_id), span, wanted, Some(d))?;
    out.sort_by_key(nearest);
    if !e.any_site_in_town {
        return Ok(out);
    }
    let Some(here) = crate::models::site::find(conn, SiteId(d.site_id))? else {
        return Ok(out);
    };
    let mut elsewhere = Vec::new();
    for other in crate::models::site::list_for_town(conn, crate::ids::TownId(here.town_id))? {
        if other.id == d.site_id {
            continue;
        }
        elsewhere.extend(open_slots(
            conn,
            rules.now,
            SiteId(other.id),
            span,
            wanted,
            None,
        )?);
    }
    elsewhere.sort_by_key(nearest);
    out.extend(elsewhere);
    Ok(out)
}

/// The slots of `site` starting in `span` that `wanted` keeps and that are open at `now`, or
/// handed out by the draw `ours`: one read of the slots and one of their openings' draws.
fn open_slots(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    site: SiteId,
    (from, to): (NaiveDateTime, NaiveDateTime),
    wanted: impl Fn(&Slot) -> bool,
    ours: Option<&Draw>,
) -> QueryResult<Vec<Slot>> {
    let ours = |s: &Slot| ours.is_some_and(|d| s.opens_at == Some(d.opens_at));
    let slots: Vec<Slot> = slot::list_for_site_between(conn, site, from, to)?
        .into_iter()
        .filter(|s| wanted(s))
        .collect();
    let mut opens: Vec<NaiveDateTime> = (slots.iter())
        .filter(|s| !ours(s))
        .filter_map(|s| s.opens_at)
        .collect();
    opens.sort();
    opens.dedup();
    let draws = draw::list_for_openings(conn, site, &opens)?;
    Ok(slots
        .into_iter()
        .filter(|s| ours(s) || matches!(opening_among(now, s, &draws), Opening::Open))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_sha256_of_seed_and_code_ascending() {
        let seed = "00".repeat(32);
        let codes = ["AAAAAAAA", "BBBBBBBB", "CCCCCCCC", "DDDDDDDD"];
        let order = draw_order(&seed, codes);
        let mut expected: Vec<(String, &str)> = codes
            .iter()
            .map(|c| (sha256_hex(&format!("{seed}{c}")), *c))
            .collect();
        expected.sort();
        let expected: Vec<String> = expected.into_iter().map(|(_, c)| c.into()).collect();
        assert_eq!(order, expected);
        // The order does not depend on the order the entries arrived in.
        let mut reversed = codes;
        reversed.reverse();
        assert_eq!(draw_order(&seed, reversed), order);
        // A known value, so that anyone re-implementing it can check theirs.
        assert_eq!(
            order_key("abc", "DEF"),
            "ee9579695089f0f3dc99c3e48b6b4912a6f38cb9f98c532201b44077d659737d"
        );
    }

    #[test]
    fn a_slot_is_closed_then_in_its_window_then_waits_for_its_draw() {
        let t = |h: u32| {
            chrono::NaiveDate::from_ymd_opt(2030, 3, 4)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        let d = Draw {
            id: 1,
            site_id: 1,
            opens_at: t(10),
            closes_at: t(11),
            seed: String::new(),
            seed_hash: String::new(),
            status: "scheduled".into(),
            entries: 0,
            claim_token: None,
            lease_until: None,
            drawn_at: None,
            order_codes: None,
            created_at: t(1),
        };
        assert!(matches!(
            classify(t(9), t(10), Some(d.clone())),
            Opening::NotOpen(_)
        ));
        assert!(matches!(
            classify(t(10), t(10), Some(d.clone())),
            Opening::Window(_)
        ));
        assert!(matches!(
            classify(t(11), t(10), Some(d.clone())),
            Opening::Pending(_)
        ));
        assert!(matches!(classify(t(9), t(10), None), Opening::NotOpen(_)));
        assert!(matches!(classify(t(10), t(10), None), Opening::Open));
        let done = Draw {
            status: "done".into(),
            ..d
        };
        assert!(matches!(classify(t(12), t(10), Some(done)), Opening::Open));
    }
}
