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
            slot_id,
            dose,
            any_site_in_town,
            contact_cap: self.settings.contact_day_cap,
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
    let st = state.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let work = web::block(move || crate::db::with_cancel(flag, || f(&st).map_err(Into::into)));
    let mut work = std::pin::pin!(work);
    let limit = state.settings.db_timeout();
    let tick = (limit / 8).max(Duration::from_millis(20));
    let started = Instant::now();
    loop {
        if let Ok(done) = actix_web::rt::time::timeout(tick, &mut work).await {
            return done?;
        }
        let now = Instant::now();
        if now.duration_since(started) < limit {
            continue;
        }
        let answering = now
            .checked_sub(limit)
            .is_some_and(|t| state.db.health().answered_since(t));
        if matches!(patience, Patience::WhileAnswering) && answering {
            continue;
        }
        cancel.store(true, Ordering::SeqCst);
        tracing::warn!(
            waited_ms = u64::try_from(now.duration_since(started).as_millis()).unwrap_or(0),
            answering,
            "gave up waiting for the database"
        );
        return Err(AppError::Unavailable);
    }
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
