//! The outbox table: enqueue in the caller's transaction; claim with a lease (renewed while the
//! claim's messages are sent) so that several processes deliver each message once; mark sent,
//! retry with exponential backoff, or fail - each only under the claim that holds the row.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::db::prepared::Part;
use crate::db::schema::outbox;
use crate::db::AnyConnection;
use crate::ids::new_id;

/// What a message is about; `ref_id` points at the row it is rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An appointment was booked (ref: appointment).
    Booked,
    /// An appointment was moved (ref: appointment).
    Moved,
    /// An appointment was cancelled (ref: appointment).
    Cancelled,
    /// The day-before reminder (ref: appointment).
    Reminder,
    /// Dose 1 was recorded: the second-dose window (ref: vaccination).
    SecondDoseWindow,
    /// The second-dose window opened (ref: vaccination).
    SecondDoseOpen,
    /// The window closes soon and nothing is booked (ref: vaccination).
    SecondDoseLastCall,
    /// Seats opened in the town of someone waiting (ref: waiting-list entry).
    SeatsOpened,
    /// An allocation was approved (ref: town notice).
    TownNotice,
    /// A draw decided an entry: drawn (with its booking) or not (ref: draw entry).
    EntryResult,
    /// An exception displaced a booking: moved to a new time, or cancelled and put first on the
    /// waiting list (ref: exception move).
    Relocated,
}

impl Kind {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Booked => "booked",
            Kind::Moved => "moved",
            Kind::Cancelled => "cancelled",
            Kind::Reminder => "reminder",
            Kind::SecondDoseWindow => "dose2_window",
            Kind::SecondDoseOpen => "dose2_open",
            Kind::SecondDoseLastCall => "dose2_last_call",
            Kind::SeatsOpened => "seats_opened",
            Kind::TownNotice => "town_notice",
            Kind::EntryResult => "entry_result",
            Kind::Relocated => "relocated",
        }
    }

    /// Parse the stored text.
    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Booked,
            Kind::Moved,
            Kind::Cancelled,
            Kind::Reminder,
            Kind::SecondDoseWindow,
            Kind::SecondDoseOpen,
            Kind::SecondDoseLastCall,
            Kind::SeatsOpened,
            Kind::TownNotice,
            Kind::EntryResult,
            Kind::Relocated,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A message waiting, being sent, sent or failed.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub ref_id: i64,
    pub recipient: String,
    pub lang: String,
    pub message_id: String,
    pub dedupe_key: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub claim_token: Option<String>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    /// The slot an appointment message is about, as it was when the message was queued (the
    /// booked time for a confirmation, the new one for a move); `None` for other messages.
    pub slot_id: Option<i64>,
}

/// Queue a message in the caller's transaction. With a `dedupe_key`, a second message with the
/// same key is refused by the unique index (the caller runs it in a savepoint).
pub fn enqueue(
    conn: &mut AnyConnection,
    kind: Kind,
    ref_id: i64,
    recipient: &str,
    lang: &str,
    dedupe_key: Option<String>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let to = Addressed {
        kind,
        ref_id,
        slot_id: None,
        recipient,
        lang,
    };
    insert(conn, &to, dedupe_key, now)
}

/// Queue a message about an appointment in the caller's transaction, naming the slot it is about
/// as it is now: the message states that slot's time even if the appointment moves before it is
/// sent.
pub fn enqueue_for_appointment(
    conn: &mut AnyConnection,
    kind: Kind,
    appointment_id: i64,
    slot_id: i64,
    recipient: &str,
    lang: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let to = Addressed {
        kind,
        ref_id: appointment_id,
        slot_id: Some(slot_id),
        recipient,
        lang,
    };
    insert(conn, &to, None, now)
}

/// What a queued message is, what it is about and whom it goes to.
pub(crate) struct Addressed<'a> {
    pub kind: Kind,
    pub ref_id: i64,
    pub slot_id: Option<i64>,
    pub recipient: &'a str,
    pub lang: &'a str,
}

fn insert(
    conn: &mut AnyConnection,
    to: &Addressed<'_>,
    dedupe_key: Option<String>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    match row(to, dedupe_key, now) {
        Some(row) => InsertOutbox::of(&row).run(conn).map(|_| ()),
        None => Ok(()),
    }
}

/// The pending message `to` asks for, under a new id, not yet inserted (with [`InsertOutbox`],
/// a part of `run_together`); `None` when it has no address.
pub(crate) fn row(
    to: &Addressed<'_>,
    dedupe_key: Option<String>,
    now: NaiveDateTime,
) -> Option<OutboxRow> {
    if to.recipient.is_empty() {
        // A walk-in who gave no address: nothing to send.
        return None;
    }
    let id = new_id();
    Some(OutboxRow {
        id,
        kind: to.kind.as_str().into(),
        ref_id: to.ref_id,
        recipient: to.recipient.to_string(),
        lang: to.lang.to_string(),
        message_id: format!("<{id:x}.{}@dosewise>", to.kind.as_str()),
        dedupe_key,
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: now,
        lease_until: None,
        claim_token: None,
        last_error: None,
        created_at: now,
        sent_at: None,
        slot_id: to.slot_id,
    })
}

crate::db::prepared::fixed_insert!(
    /// The outbox `INSERT`, kept prepared: every booking queues its confirmation.
    InsertOutbox,
    OutboxRow,
    outbox {
        id, kind, ref_id, recipient, lang, message_id, dedupe_key, status, attempts,
        next_attempt_at, lease_until, claim_token, last_error, created_at, sent_at, slot_id,
    }
);

/// Queue a message once per `key`, whoever asks first (several processes schedule reminders).
#[allow(clippy::too_many_arguments)]
pub fn enqueue_once(
    conn: &mut AnyConnection,
    kind: Kind,
    ref_id: i64,
    slot_id: Option<i64>,
    recipient: &str,
    lang: &str,
    key: String,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let exists: i64 = outbox::table
        .filter(outbox::dedupe_key.eq(&key))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    // A savepoint, so that losing a race to another process does not abort the transaction.
    let to = Addressed {
        kind,
        ref_id,
        slot_id,
        recipient,
        lang,
    };
    match conn.transaction(|c| insert(c, &to, Some(key), now)) {
        Ok(()) => Ok(true),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The rows claimed under `token`.
pub fn claimed(conn: &mut AnyConnection, token: &str) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .filter(outbox::claim_token.eq(token))
        .filter(outbox::status.eq("sending"))
        .order(outbox::created_at.asc())
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Extend the lease of every message this claim still holds and has not finished; returns how
/// many. Rows another worker has taken over carry another token and are left alone.
pub fn renew_lease(
    conn: &mut AnyConnection,
    token: &str,
    lease_until: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::claim_token.eq(token))
            .filter(outbox::status.eq("sending")),
    )
    .set(outbox::lease_until.eq(Some(lease_until)))
    .execute(conn)
}

/// Whether this claim still holds the message (checked just before it is sent).
pub fn still_holds(conn: &mut AnyConnection, id: i64, token: &str) -> QueryResult<bool> {
    let n: i64 = held_by(id, token).count().get_result(conn)?;
    Ok(n > 0)
}

/// The row `id` while the claim `token` holds it (a message being sent).
#[diesel::dsl::auto_type(no_type_alias)]
fn held_by<'a>(id: i64, token: &'a str) -> _ {
    let sending: &'static str = "sending";
    outbox::table
        .find(id)
        .filter(outbox::claim_token.eq(token))
        .filter(outbox::status.eq(sending))
}

/// The claim let go of a message: no token, no lease (with the message's new status).
#[diesel::dsl::auto_type(no_type_alias)]
fn let_go() -> _ {
    let no_token: Option<String> = None;
    let no_lease: Option<NaiveDateTime> = None;
    (
        outbox::claim_token.eq(no_token),
        outbox::lease_until.eq(no_lease),
    )
}

/// A message that needs no sending any more (its appointment was cancelled, say); `false`
/// unless this claim holds it.
pub fn mark_skipped(conn: &mut AnyConnection, id: i64, token: &str) -> QueryResult<bool> {
    let skipped = outbox::status.eq("skipped");
    crate::models::update_one(conn, held_by(id, token), (skipped, let_go()))
}

/// After a failed attempt: try again after an exponential backoff, or give up after
/// `max_attempts` and mark the message failed (the bureau sees it). `false` unless this claim
/// holds the message.
pub fn mark_failed_attempt(
    conn: &mut AnyConnection,
    row: &OutboxRow,
    token: &str,
    error: &str,
    now: NaiveDateTime,
    max_attempts: i32,
    base_seconds: i64,
) -> QueryResult<bool> {
    let error: String = error.chars().take(500).collect();
    let (status, retry_at) = if row.attempts >= max_attempts {
        // Failed for good: it keeps the time this last attempt was due.
        ("failed", row.next_attempt_at)
    } else {
        let delay = base_seconds.saturating_mul(1 << (row.attempts.clamp(1, 16) - 1));
        ("pending", now + Duration::seconds(delay))
    };
    let outcome = (
        outbox::status.eq(status),
        outbox::next_attempt_at.eq(retry_at),
        outbox::last_error.eq(Some(error)),
    );
    crate::models::update_one(conn, held_by(row.id, token), (outcome, let_go()))
}

/// Counts by status, for the bureau.
pub fn counts(conn: &mut AnyConnection) -> QueryResult<Vec<(String, i64)>> {
    outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)
}

/// Messages that failed for good, newest first.
pub fn failed(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .filter(outbox::status.eq("failed"))
        .order(outbox::created_at.desc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)
}
