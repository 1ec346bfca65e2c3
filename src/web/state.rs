//! `AppState`: settings, pools, keys and the clock, shared by every handler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use chrono::NaiveDateTime;

use crate::booking::draw::{Ask, Outcome};
use crate::booking::{self, BookingError, ResidentDetails, Rules};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{AnyConnection, Db};
use crate::error::AppError;
use crate::ids::SlotId;
use crate::security::Keys;

/// What every handler can reach.
pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
    /// The public URL without a trailing slash (QR codes, mail links).
    pub base_url: String,
    /// How mail is sent.
    pub mail: crate::mail::worker::MailConfig,
    /// Short-lived read caches (at most a second, and never across this process's writes).
    pub caches: super::cache::Caches,
    /// Per-address rate limits.
    pub limits: super::limits::Limits,
    /// This application's metrics (served on `DOSEWISE_METRICS_BIND` only).
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    /// Now, UTC.
    pub fn now(&self) -> NaiveDateTime {
        self.clock.now()
    }

    /// The rules as of now.
    pub fn rules(&self) -> Rules {
        Rules {
            now: self.now(),
            release_hours: self.settings.second_dose_release_hours,
            tz: self.settings.time_zone,
        }
    }

    /// A booking of `dose` in `slot_id` under this process's per-contact cap.
    pub fn booking(&self, slot_id: SlotId, dose: i32) -> booking::Request {
        booking::Request {
            slot_id,
            dose,
            contact_cap: self.settings.contact_day_cap,
        }
    }

    /// Book or enter the slot's draw ([`booking::draw::book_or_enter`]) under this process's
    /// rules and per-contact cap.
    pub fn book_or_enter(
        &self,
        slot_id: SlotId,
        dose: i32,
        any_site_in_town: bool,
        who: &ResidentDetails,
    ) -> Result<Outcome, BookingError> {
        let ask = Ask {
            booking: self.booking(slot_id, dose),
            any_site_in_town,
        };
        let outcome =
            booking::draw::book_or_enter(&self.db, &self.keys, &|| self.rules(), ask, who)?;
        match &outcome {
            Outcome::Booked(_) => self.metrics.bookings.inc(),
            Outcome::Entered(_) => self.metrics.draw_entries.inc(),
        }
        Ok(outcome)
    }

    /// Cancel an appointment ([`booking::cancel`]) as of now, and count it.
    pub fn cancel(&self, id: crate::ids::AppointmentId) -> Result<(), BookingError> {
        booking::cancel(&self.db, id, self.now())?;
        self.metrics.cancellations.inc();
        Ok(())
    }

    /// Today's date in the city.
    pub fn today(&self) -> chrono::NaiveDate {
        crate::domain::days::local_day(self.settings.time_zone, self.now())
    }
}

/// How [`blocking_with`] waits.
#[derive(Clone, Copy)]
pub enum Patience {
    /// Wait as long as the database keeps answering; give up once nothing has answered for
    /// `DOSEWISE_DB_TIMEOUT_MS` (an outage, not a slow request).
    WhileAnswering,
    /// Give up after `DOSEWISE_DB_TIMEOUT_MS`, answering or not: for probes that must prove the
    /// database works now (the readiness probe).
    Strict,
}

/// Run blocking work (database, Argon2) off the async workers, with the state at hand:
/// [`blocking_with`] waiting [`Patience::WhileAnswering`], as every request does.
pub async fn blocking<T, E, F>(state: &web::Data<AppState>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&AppState) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    blocking_with(state, Patience::WhileAnswering, f).await
}

/// Run a service call off the async workers: the outer error is the system's (no connection, no
/// answer in time), the inner the service's own answer, for the handler to show.
pub async fn attempt<T, E, F>(state: &web::Data<AppState>, f: F) -> Result<Result<T, E>, AppError>
where
    F: FnOnce(&AppState) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    blocking(state, move |st| Ok::<_, AppError>(f(st))).await
}

/// Run blocking work (database, Argon2) off the async workers, waiting as `patience` says.
///
/// A request does not hang with the database: once it has waited `DOSEWISE_DB_TIMEOUT_MS` and no
/// connection got an answer during that long, it is answered 503 ([`AppError::Unavailable`]) and the work
/// is cancelled (a write transaction still waiting rolls back instead of committing later).
pub async fn blocking_with<T, E, F>(
    state: &web::Data<AppState>,
    patience: Patience,
    f: F,
) -> Result<T, AppError>
where
    F: FnOnce(&AppState) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    Wait::new(state, patience).blocking(f).await
}

/// One request's wait for the database, as [`blocking_with`] waits: every wait of the request
/// (a booking's reads, then its commit) counts from the same start, and giving up raises the
/// one cancel flag its work runs under.
struct Wait<'a> {
    state: &'a web::Data<AppState>,
    patience: Patience,
    cancel: Arc<AtomicBool>,
    started: Instant,
}

impl<'a> Wait<'a> {
    /// A wait starting now.
    fn new(state: &'a web::Data<AppState>, patience: Patience) -> Wait<'a> {
        Wait {
            state,
            patience,
            cancel: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
        }
    }

    /// Run `f` on a blocking thread under this wait's cancel flag, and await it.
    async fn blocking<T, E, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&AppState) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<AppError> + Send + 'static,
    {
        let (st, flag) = (self.state.clone(), self.cancel.clone());
        let work = web::block(move || crate::db::with_cancel(flag, || f(&st).map_err(Into::into)));
        self.until(async move { work.await? }).await
    }

    /// Await `work`, giving up (and raising the cancel flag) as [`blocking_with`] says.
    async fn until<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        let mut work = std::pin::pin!(work);
        let limit = self.state.settings.db_timeout();
        let tick = (limit / 8).max(Duration::from_millis(20));
        loop {
            if let Ok(done) = actix_web::rt::time::timeout(tick, &mut work).await {
                return done;
            }
            let now = Instant::now();
            if now.duration_since(self.started) < limit {
                continue;
            }
            let answering = now
                .checked_sub(limit)
                .is_some_and(|t| self.state.db.health().answered_since(t));
            if matches!(self.patience, Patience::WhileAnswering) && answering {
                continue;
            }
            self.cancel.store(true, Ordering::SeqCst);
            tracing::warn!(
                waited_ms =
                    u64::try_from(now.duration_since(self.started).as_millis()).unwrap_or(0),
                answering,
                "gave up waiting for the database"
            );
            return Err(AppError::Unavailable);
        }
    }
}

/// Book or enter the slot's draw ([`AppState::book_or_enter`]) for a request: the outer error
/// is the system's, the inner the booking's answer, as from [`attempt`].
///
/// On SQLite a booking's reads run on a blocking thread, which queues its write transaction
/// on the writer and returns at once; the request awaits the commit here, woken by the writer
/// thread. So no blocking thread sits waiting for a group commit (which capped the bookings in
/// a group at the blocking threads' number), and a booking wakes one thread fewer. The request
/// waits as in [`blocking_with`], the reads and the commit as one wait (one start, one cancel
/// flag): a write it gave up on is never committed. What [`booking::book`] would settle by
/// trying again (a collision on a random code or a new resident) and the slots in a draw go the
/// whole way of [`AppState::book_or_enter`].
pub async fn book_or_enter(
    state: &web::Data<AppState>,
    slot_id: SlotId,
    dose: i32,
    any_site_in_town: bool,
    who: ResidentDetails,
) -> Result<Result<Outcome, BookingError>, AppError> {
    let wait = Wait::new(state, Patience::WhileAnswering);
    if state.db.queues_writes() {
        let details = who.clone();
        let queued = wait
            .blocking(move |st: &AppState| {
                let ask = st.booking(slot_id, dose);
                let queued = booking::queue_book(&st.db, &st.keys, st.rules(), ask, &details);
                Ok::<_, AppError>(queued.expect("a database that queues writes"))
            })
            .await?;
        let booked = match queued {
            Ok(q) => wait.until(async move { Ok(q.committed().await) }).await?,
            Err(e) => Err(e),
        };
        match booked {
            Ok(b) => {
                state.metrics.bookings.inc();
                return Ok(Ok(Outcome::Booked(b)));
            }
            Err(e)
                if !e.is_collision()
                    && !matches!(e, BookingError::InDraw(_) | BookingError::DrawPending(_)) =>
            {
                return Ok(Err(e));
            }
            // Nothing was written: the whole way settles it.
            Err(_) => {}
        }
    }
    wait.blocking(move |st| {
        Ok::<_, AppError>(st.book_or_enter(slot_id, dose, any_site_in_town, &who))
    })
    .await
}

/// Run a read on a pooled read connection.
pub async fn read<T, F>(state: &web::Data<AppState>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut AnyConnection, &AppState) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    blocking(state, move |st| {
        let mut conn = st.db.read.get()?;
        f(&mut conn, st)
    })
    .await
}
