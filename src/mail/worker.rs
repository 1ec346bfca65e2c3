//! The mail worker: schedules time-based messages (reminders, second-dose invitations) and
//! delivers due outbox rows. It runs as a thread inside `dosewise serve` and as
//! `dosewise send-mail --once`; any number of them can share one database.

use chrono::{Duration, NaiveDateTime};
use chrono_tz::Tz;

use super::render::{render, Env};
use super::Transport;
use crate::clock::Clock;
use crate::db::{claim_outbox, mark_outbox_sent, Db, StorageError};
use crate::domain::days::day_start;
use crate::domain::eligibility::DoseWindow;
use crate::ids::new_id;
use crate::models::outbox::{self, Kind};
use crate::models::{appointment, vaccination};
use crate::security::random_token;

/// How the worker sends.
#[derive(Clone)]
pub struct MailConfig {
    pub transport: Transport,
    pub from: String,
    pub max_attempts: i32,
    pub retry_base_seconds: i64,
    pub reminder_hours: i64,
    pub interval_ms: u64,
    /// How long a claim lasts unless renewed, in seconds.
    pub lease_seconds: i64,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub scheduled: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub skipped: usize,
}

const BATCH: i64 = 50;

/// Queue the messages that time makes due: reminders for tomorrow's appointments, the
/// second-dose window after a first dose, the invitation when it opens, the last call. The
/// window is the one booking uses ([`DoseWindow`], on the city's days in `tz`): the invitation
/// goes when the booking page starts to accept dose 2, at the city's midnight.
pub fn schedule(db: &Db, now: NaiveDateTime, reminder_hours: i64, tz: Tz) -> anyhow::Result<usize> {
    let (reminders, doses) = {
        let mut c = db.read.get()?;
        let until = now + Duration::hours(reminder_hours);
        let reminders = appointment::list_due_reminders(&mut c, now, until)?;
        let doses = vaccination::list_series_going_on(&mut c, now - Duration::days(400))?;
        (reminders, doses)
    };
    let week = Duration::days(7);
    let mut jobs: Vec<(Kind, i64, Option<i64>, String, String, String)> = Vec::new();
    for r in reminders {
        // Keyed by the time too: a moved appointment gets a reminder for its new time (and the
        // renderer drops one queued for a time the appointment has left).
        let key = format!("reminder:{}:{}", r.id, r.starts_at.and_utc().timestamp());
        jobs.push((Kind::Reminder, r.id, Some(r.slot_id), r.email, r.lang, key));
    }
    for d in doses {
        let window = DoseWindow::after(tz, d.given_at, d.min_interval_days, d.max_interval_days);
        let opens = day_start(tz, window.opens);
        let last_call = day_start(tz, window.closes - Duration::days(3));
        let id = d.id;
        let mut job = |kind: Kind, key: String| {
            jobs.push((kind, id, None, d.email.clone(), d.lang.clone(), key));
        };
        if d.given_at > now - Duration::days(2) {
            job(Kind::SecondDoseWindow, format!("dose2-window:{id}"));
        }
        if opens <= now && opens > now - week {
            job(Kind::SecondDoseOpen, format!("dose2-open:{id}"));
        }
        if last_call <= now && last_call > now - week {
            job(Kind::SecondDoseLastCall, format!("dose2-last:{id}"));
        }
    }
    if jobs.is_empty() {
        return Ok(0);
    }
    let queued = db.transaction(move |c| -> Result<usize, StorageError> {
        let mut n = 0;
        for (kind, id, slot, email, lang, key) in jobs {
            if outbox::enqueue_once(c, kind, id, slot, &email, &lang, key, now)? {
                n += 1;
            }
        }
        Ok(n)
    })?;
    Ok(queued)
}

/// One full pass: schedule, then deliver what is due, batch by batch, until nothing is left to
/// claim. Each claim carries its own lease, taken from the clock when it is made and renewed
/// while its messages are sent, so no other worker takes over a message that is still being
/// sent however long the pass runs.
pub fn run_once(
    db: &Db,
    cfg: &MailConfig,
    base_url: &str,
    tz: Tz,
    clock: &dyn Clock,
) -> anyhow::Result<Report> {
    let scheduled = schedule(db, clock.now(), cfg.reminder_hours, tz)?;
    let mut report = Report {
        scheduled,
        ..Report::default()
    };
    let lease = Duration::seconds(cfg.lease_seconds.max(1));
    loop {
        let token = random_token();
        let claim_token = token.clone();
        let now = clock.now();
        let claimed = db.transaction(move |c| -> Result<usize, StorageError> {
            Ok(claim_outbox(c, &claim_token, now, now + lease, BATCH)?)
        })?;
        if claimed == 0 {
            return Ok(report);
        }
        let rows = {
            let mut c = db.read.get()?;
            outbox::claimed(&mut c, &token)?
        };
        let env = Env {
            base_url,
            tz,
            from: &cfg.from,
            now,
        };
        let chunk = rows.len().div_ceil(SENDERS).max(1);
        let env = &env;
        let token = &token;
        let parts: Vec<anyhow::Result<Report>> = std::thread::scope(|scope| {
            let (done, stop) = std::sync::mpsc::channel::<()>();
            let keeper = scope.spawn(move || keep_claim(db, clock, token, lease, &stop));
            // Several senders at once: an SMTP exchange is mostly waiting on the network.
            let handles: Vec<_> = rows
                .chunks(chunk)
                .map(|part| scope.spawn(move || send_all(db, cfg, env, token, clock, part)))
                .collect();
            let parts = handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a mail sender panicked")))
                })
                .collect();
            drop(done);
            let _ = keeper.join();
            parts
        });
        for part in parts {
            let p = part?;
            report.sent += p.sent;
            report.retried += p.retried;
            report.failed += p.failed;
            report.skipped += p.skipped;
        }
    }
}

/// How many messages are sent at once.
const SENDERS: usize = 8;

/// Renew the claim's lease every third of its length until `stop` says the senders are done.
fn keep_claim(
    db: &Db,
    clock: &dyn Clock,
    token: &str,
    lease: Duration,
    stop: &std::sync::mpsc::Receiver<()>,
) {
    let every = lease
        .to_std()
        .map(|d| d / 3)
        .unwrap_or(std::time::Duration::from_secs(1))
        .max(std::time::Duration::from_millis(100));
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        let (token, until) = (token.to_string(), clock.now() + lease);
        let renewed = db.transaction(move |c| -> Result<usize, StorageError> {
            Ok(outbox::renew_lease(c, &token, until)?)
        });
        if let Err(e) = renewed {
            tracing::warn!(error = %e, "mail lease not renewed");
        }
    }
}

/// Render and send claimed rows one after another, recording each outcome. A row this claim no
/// longer holds (its lease ran out and another worker took it) is left to that worker.
fn send_all(
    db: &Db,
    cfg: &MailConfig,
    env: &Env<'_>,
    token: &str,
    clock: &dyn Clock,
    rows: &[outbox::OutboxRow],
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for row in rows {
        let row = row.clone();
        let message = {
            let mut c = db.read.get()?;
            if !outbox::still_holds(&mut c, row.id, token)? {
                tracing::warn!(kind = %row.kind, "mail claim lost before sending; left to its new holder");
                continue;
            }
            render(&mut c, env, &row)
        };
        let outcome = match message {
            Ok(None) => Outcome::Skip,
            Ok(Some(m)) => match cfg.transport.send(&m) {
                Ok(()) => Outcome::Sent,
                Err(e) => Outcome::Failed(e),
            },
            Err(e) => Outcome::Failed(e.to_string()),
        };
        let (token, max, base) = (token.to_string(), cfg.max_attempts, cfg.retry_base_seconds);
        match &outcome {
            Outcome::Sent => report.sent += 1,
            Outcome::Skip => report.skipped += 1,
            Outcome::Failed(e) => {
                tracing::warn!(kind = %row.kind, attempts = row.attempts, error = %e, "mail not sent");
                if row.attempts >= max {
                    report.failed += 1;
                } else {
                    report.retried += 1;
                }
            }
        }
        let (kind, now) = (row.kind.clone(), clock.now());
        let held = match outcome {
            // Every confirmation of a rush goes through here: one statement on PostgreSQL.
            Outcome::Sent => db.single_statement(move |c| -> Result<bool, StorageError> {
                let subject = format!("mail {}", row.id);
                let audit = (new_id(), subject.as_str(), row.kind.as_str());
                Ok(mark_outbox_sent(c, row.id, &token, now, audit)?)
            }),
            Outcome::Skip => db.transaction(move |c| -> Result<bool, StorageError> {
                Ok(outbox::mark_skipped(c, row.id, &token)?)
            }),
            Outcome::Failed(e) => db.transaction(move |c| -> Result<bool, StorageError> {
                Ok(outbox::mark_failed_attempt(
                    c, &row, &token, &e, now, max, base,
                )?)
            }),
        }?;
        if !held {
            tracing::warn!(kind = %kind, "mail claim lost while sending; its outcome is not recorded");
        }
    }
    Ok(report)
}

enum Outcome {
    Sent,
    Skip,
    Failed(String),
}
