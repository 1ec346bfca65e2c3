//! `AppState`: settings, pools, keys and the clock, shared by every handler.

use std::sync::Arc;

use actix_web::web;
use chrono::{NaiveDateTime, TimeZone};

use crate::booking::Rules;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{AnyConnection, Db};
use crate::error::AppError;
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

    /// Today's date in the city.
    pub fn today(&self) -> chrono::NaiveDate {
        self.settings
            .time_zone
            .from_utc_datetime(&self.now())
            .date_naive()
    }
}

/// Run blocking work (database, Argon2) off the async workers, with the state at hand.
pub async fn blocking<T, E, F>(state: &web::Data<AppState>, f: F) -> Result<T, AppError>
where
    F: FnOnce(&AppState) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
{
    let st = state.clone();
    web::block(move || f(&st).map_err(Into::into)).await?
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
