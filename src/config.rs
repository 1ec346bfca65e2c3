//! Typed settings, read from environment variables with documented defaults (README.md lists
//! them). Settings travel in `AppState`; nothing reads the environment after start-up.

use std::env;

use anyhow::{bail, Context};
use chrono_tz::Tz;

/// Everything the server can be configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://PATH` or `postgres://...`. Default `sqlite://dosewise.db`.
    pub database_url: String,
    /// `DOSEWISE_BIND`: address to listen on. Default `127.0.0.1:8080`.
    pub bind: String,
    /// `DOSEWISE_METRICS_BIND`: the address of a second listener that serves only `/metrics`
    /// (Prometheus text format), e.g. `127.0.0.1:9464`. Default unset: no metrics listener.
    /// `/metrics` is never served on `DOSEWISE_BIND`.
    pub metrics_bind: Option<String>,
    /// `DOSEWISE_BASE_URL`: the public URL, used in QR codes and mail links.
    /// Default `http://` + the bind address.
    pub base_url: Option<String>,
    /// `DOSEWISE_SECRET`: at least 32 characters; keys cookies and the ID-number hash. When unset,
    /// a random secret is generated once and kept in the database.
    pub secret: Option<String>,
    /// `DOSEWISE_TIME_ZONE`: the city's IANA time zone for display. Default `Asia/Shanghai`.
    pub time_zone: Tz,
    /// `DOSEWISE_SECOND_DOSE_RELEASE_HOURS`: seats held for second doses open to first doses this
    /// many hours before the slot starts. Default 24.
    pub second_dose_release_hours: i64,
    /// `DOSEWISE_COOKIE_SECURE`: mark cookies `Secure` (behind HTTPS). Default false.
    pub cookie_secure: bool,
    /// `DOSEWISE_POOL_SIZE`: database connections for reads. Default 8.
    pub pool_size: u32,
    /// `DOSEWISE_DB_TIMEOUT_MS`: the longest a request waits for a database connection, or for
    /// a database that has stopped answering, before it is answered 503 with `Retry-After`.
    /// Default 2000.
    pub db_timeout_ms: u64,
    /// `DOSEWISE_STATEMENT_TIMEOUT_MS`: PostgreSQL's `statement_timeout` for the application's
    /// connections. Default 10000.
    pub statement_timeout_ms: u64,
    /// `DOSEWISE_WORKERS`: HTTP worker threads. Default: one per core.
    pub workers: usize,
    /// `DOSEWISE_LOGIN_DELAY_MS`: pause after a wrong password. Default 1000.
    pub login_delay_ms: u64,
    /// `SMTP_URL`: send mail through this server (`smtp://`, `smtps://`, `?tls=required`).
    /// Unset: write `.eml` files into `mail_dir`.
    pub smtp_url: Option<String>,
    /// `DOSEWISE_MAIL_DIR`: where `.eml` files go without SMTP. Default `mail`.
    pub mail_dir: String,
    /// `DOSEWISE_MAIL_FROM`: the sender. Default `Dosewise <noreply@dosewise.invalid>`.
    pub mail_from: String,
    /// `DOSEWISE_MAIL_MAX_ATTEMPTS`: tries before a message is marked failed. Default 8.
    pub mail_max_attempts: i32,
    /// `DOSEWISE_MAIL_RETRY_SECONDS`: the first retry's delay, doubled each time. Default 30.
    pub mail_retry_seconds: i64,
    /// `DOSEWISE_REMINDER_HOURS`: reminders go this long before the slot. Default 24.
    pub reminder_hours: i64,
    /// `DOSEWISE_MAIL_WORKER`: run the mail worker inside `serve`. Default true.
    pub mail_worker: bool,
    /// `DOSEWISE_MAIL_INTERVAL_MS`: pause between worker passes. Default 2000.
    pub mail_interval_ms: u64,
    /// `DOSEWISE_MAIL_LEASE_SECONDS`: how long a worker's claim on a message lasts unless it is
    /// renewed (the worker renews it while sending). Default 120.
    pub mail_lease_seconds: i64,
    /// `DOSEWISE_OBSERVATION_MINUTES`: how long people stay under observation after a dose.
    /// Default 30.
    pub observation_minutes: i64,
    /// Per address and minute: bookings, moves, draw entries and waiting-list joins
    /// (`DOSEWISE_RATE_BOOK`, 0 = no limit).
    pub rate_book_per_minute: u32,
    /// Per address and minute: look-ups and cancellations by code (`DOSEWISE_RATE_LOOKUP`).
    pub rate_lookup_per_minute: u32,
    /// Per address and minute: wrong passwords (`DOSEWISE_RATE_LOGIN`); right ones are never counted.
    pub rate_login_per_minute: u32,
    /// `DOSEWISE_DRAW_MINUTES`: the draw window offered for a site's release rule when its
    /// template does not give one (each template stores its own). Default 10.
    pub draw_minutes: i32,
    /// `DOSEWISE_CONTACT_DAY_CAP`: the most active bookings one phone number, and one e-mail
    /// address, may hold on one day (a family still books together). Default 6; 0 = no cap; never
    /// below `household_max` (see [`Settings::check`]).
    pub contact_day_cap: u32,
    /// `DOSEWISE_HOUSEHOLD_MAX`: the most residents one household may hold, the one who made it
    /// included. Default 6; at least 1.
    pub household_max: i32,
    /// `DOSEWISE_MAX_CONNECTIONS`: the most client connections the server holds open at once,
    /// all workers together (each worker holds an equal share, rounded up). Beyond it the server
    /// accepts no more until one closes; new connections wait in the kernel's listen queue, not
    /// in the process. While more than half are open, answers close their connection instead of
    /// keeping it idle. Each open connection costs about 18 KB. Default 512.
    pub max_connections: usize,
    /// `DOSEWISE_KEEP_ALIVE_MS`: how long an idle connection is kept open for the client's next
    /// request (while at most half of `max_connections` are open). Default 5000; 0 closes
    /// every connection after its answer.
    pub keep_alive_ms: u64,
    /// `DOSEWISE_LISTEN_BACKLOG`: the kernel's queue of connections not yet accepted (capped by
    /// `net.core.somaxconn`). Default 4096.
    pub listen_backlog: u32,
}

impl Settings {
    /// Defaults for every setting, as documented.
    pub fn defaults() -> Settings {
        Settings {
            database_url: "sqlite://dosewise.db".into(),
            bind: "127.0.0.1:8080".into(),
            metrics_bind: None,
            base_url: None,
            secret: None,
            time_zone: chrono_tz::Asia::Shanghai,
            second_dose_release_hours: 24,
            cookie_secure: false,
            pool_size: 8,
            db_timeout_ms: 2000,
            statement_timeout_ms: 10_000,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            login_delay_ms: 1000,
            smtp_url: None,
            mail_dir: "mail".into(),
            mail_from: "Dosewise <noreply@dosewise.invalid>".into(),
            mail_max_attempts: 8,
            mail_retry_seconds: 30,
            reminder_hours: 24,
            mail_worker: true,
            mail_interval_ms: 2000,
            mail_lease_seconds: 120,
            observation_minutes: 30,
            rate_book_per_minute: 30,
            rate_lookup_per_minute: 30,
            rate_login_per_minute: 10,
            draw_minutes: 10,
            contact_day_cap: 6,
            household_max: 6,
            max_connections: 512,
            keep_alive_ms: 5000,
            listen_backlog: 4096,
        }
    }

    /// Read the environment over the defaults; a malformed value is a start-up error.
    pub fn from_env() -> anyhow::Result<Settings> {
        let mut s = Settings::defaults();
        if let Some(v) = var("DATABASE_URL") {
            s.database_url = v;
        }
        if let Some(v) = var("DOSEWISE_BIND") {
            s.bind = v;
        }
        s.metrics_bind = var("DOSEWISE_METRICS_BIND");
        s.base_url = var("DOSEWISE_BASE_URL");
        s.secret = var("DOSEWISE_SECRET");
        if let Some(v) = var("DOSEWISE_TIME_ZONE") {
            s.time_zone = v
                .parse()
                .map_err(|_| anyhow::anyhow!("DOSEWISE_TIME_ZONE: unknown time zone {v:?}"))?;
        }
        set(
            &mut s.second_dose_release_hours,
            "DOSEWISE_SECOND_DOSE_RELEASE_HOURS",
            "a whole number of hours",
        )?;
        if let Some(v) = var("DOSEWISE_COOKIE_SECURE") {
            s.cookie_secure = matches!(v.as_str(), "1" | "true" | "yes");
        }
        set(&mut s.pool_size, "DOSEWISE_POOL_SIZE", "a number")?;
        set(
            &mut s.db_timeout_ms,
            "DOSEWISE_DB_TIMEOUT_MS",
            "a number of milliseconds",
        )?;
        set(
            &mut s.statement_timeout_ms,
            "DOSEWISE_STATEMENT_TIMEOUT_MS",
            "a number of milliseconds",
        )?;
        set(&mut s.workers, "DOSEWISE_WORKERS", "a number")?;
        set(&mut s.login_delay_ms, "DOSEWISE_LOGIN_DELAY_MS", "a number")?;
        s.smtp_url = var("SMTP_URL");
        if let Some(v) = var("DOSEWISE_MAIL_DIR") {
            s.mail_dir = v;
        }
        if let Some(v) = var("DOSEWISE_MAIL_FROM") {
            s.mail_from = v;
        }
        set_in_range(
            &mut s.mail_max_attempts,
            "DOSEWISE_MAIL_MAX_ATTEMPTS",
            "is too large",
        )?;
        set(
            &mut s.mail_retry_seconds,
            "DOSEWISE_MAIL_RETRY_SECONDS",
            "a number",
        )?;
        set(&mut s.reminder_hours, "DOSEWISE_REMINDER_HOURS", "a number")?;
        set_in_range(
            &mut s.mail_interval_ms,
            "DOSEWISE_MAIL_INTERVAL_MS",
            "must be positive",
        )?;
        set(
            &mut s.mail_lease_seconds,
            "DOSEWISE_MAIL_LEASE_SECONDS",
            "a number",
        )?;
        if let Some(v) = var("DOSEWISE_MAIL_WORKER") {
            s.mail_worker = !matches!(v.as_str(), "0" | "false" | "no");
        }
        set(
            &mut s.observation_minutes,
            "DOSEWISE_OBSERVATION_MINUTES",
            "a whole number of minutes",
        )?;
        for (name, field) in [
            ("DOSEWISE_RATE_BOOK", &mut s.rate_book_per_minute),
            ("DOSEWISE_RATE_LOOKUP", &mut s.rate_lookup_per_minute),
            ("DOSEWISE_RATE_LOGIN", &mut s.rate_login_per_minute),
        ] {
            set(field, name, "a whole number per minute")?;
        }
        set(
            &mut s.draw_minutes,
            "DOSEWISE_DRAW_MINUTES",
            "a whole number of minutes",
        )?;
        set(
            &mut s.contact_day_cap,
            "DOSEWISE_CONTACT_DAY_CAP",
            "a whole number of bookings",
        )?;
        set(
            &mut s.household_max,
            "DOSEWISE_HOUSEHOLD_MAX",
            "a whole number of residents",
        )?;
        set(
            &mut s.max_connections,
            "DOSEWISE_MAX_CONNECTIONS",
            "a whole number of connections",
        )?;
        set(
            &mut s.keep_alive_ms,
            "DOSEWISE_KEEP_ALIVE_MS",
            "a number of milliseconds",
        )?;
        set(
            &mut s.listen_backlog,
            "DOSEWISE_LISTEN_BACKLOG",
            "a whole number of connections",
        )?;
        s.check()?;
        Ok(s)
    }

    /// Refuse settings that cannot work.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(secret) = &self.secret {
            if secret.len() < 32 {
                bail!("DOSEWISE_SECRET must be at least 32 characters");
            }
        }
        if let Some(m) = &self.metrics_bind {
            if m.trim() == self.bind.trim() && !m.trim().ends_with(":0") {
                bail!("DOSEWISE_METRICS_BIND must differ from DOSEWISE_BIND: /metrics is never served on the public port");
            }
        }
        if self.pool_size == 0 || self.workers == 0 {
            bail!("DOSEWISE_POOL_SIZE and DOSEWISE_WORKERS must be at least 1");
        }
        if !(1..=24 * 3600).contains(&self.mail_lease_seconds) {
            bail!("DOSEWISE_MAIL_LEASE_SECONDS must be between 1 and 86400");
        }
        if self.db_timeout_ms < 100 || self.statement_timeout_ms < 100 {
            bail!("DOSEWISE_DB_TIMEOUT_MS and DOSEWISE_STATEMENT_TIMEOUT_MS must be at least 100");
        }
        if !(0..=240).contains(&self.draw_minutes) {
            bail!("DOSEWISE_DRAW_MINUTES must be between 0 and 240");
        }
        if !(0..=24 * 60).contains(&self.observation_minutes) {
            bail!("DOSEWISE_OBSERVATION_MINUTES must be between 0 and 1440");
        }
        if !(1..=50).contains(&self.household_max) {
            bail!("DOSEWISE_HOUSEHOLD_MAX must be between 1 and 50");
        }
        // A household books under one phone number and e-mail address: a cap below its size
        // would refuse a full household's group booking on one day.
        if self.contact_day_cap != 0
            && i64::from(self.household_max) > i64::from(self.contact_day_cap)
        {
            bail!(
                "DOSEWISE_HOUSEHOLD_MAX ({}) must not exceed DOSEWISE_CONTACT_DAY_CAP ({}): a full \
                 household books under one phone number and e-mail address (0 turns the cap off)",
                self.household_max,
                self.contact_day_cap
            );
        }
        if self.max_connections == 0 || self.listen_backlog == 0 {
            bail!("DOSEWISE_MAX_CONNECTIONS and DOSEWISE_LISTEN_BACKLOG must be at least 1");
        }
        Ok(())
    }
}

impl Settings {
    /// Blocking threads per HTTP worker, which run the database work: the pool's connections
    /// plus two. More threads than connections only queue on the pool's lock and cost context
    /// switches (measured: BENCHMARKS.md).
    pub fn blocking_threads_per_worker(&self) -> usize {
        self.pool_size as usize + 2
    }

    /// The database options these settings describe.
    pub fn db_options(&self) -> crate::db::DbOptions {
        crate::db::DbOptions {
            pool_size: self.pool_size,
            timeout: std::time::Duration::from_millis(self.db_timeout_ms),
            statement_timeout: std::time::Duration::from_millis(self.statement_timeout_ms),
            ..crate::db::DbOptions::with_pool_size(self.pool_size)
        }
    }

    /// The connections each HTTP worker may hold open: its share of `max_connections`.
    pub fn max_connections_per_worker(&self) -> usize {
        self.max_connections.div_ceil(self.workers.max(1))
    }

    /// How long a request waits for a database that does not answer (see `db_timeout_ms`).
    pub fn db_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.db_timeout_ms)
    }
}

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Overwrite `field` with the setting `name` when it is set; a value that does not parse is an
/// error saying `{name} must be {what}`.
fn set<T>(field: &mut T, name: &str, what: &str) -> anyhow::Result<()>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    if let Some(v) = var(name) {
        *field = v
            .parse()
            .with_context(|| format!("{name} must be {what}"))?;
    }
    Ok(())
}

/// Like [`set`] for a number read as an `i64` (`{name} must be a number`), then refused with
/// `{name} {out_of_range}` if `T` cannot hold it.
fn set_in_range<T: TryFrom<i64>>(
    field: &mut T,
    name: &str,
    out_of_range: &str,
) -> anyhow::Result<()>
where
    T::Error: std::error::Error + Send + Sync + 'static,
{
    if let Some(v) = var(name) {
        let n: i64 = v
            .parse()
            .with_context(|| format!("{name} must be a number"))?;
        *field = T::try_from(n).with_context(|| format!("{name} {out_of_range}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Settings;

    #[test]
    fn the_defaults_let_a_full_household_book_together() {
        let s = Settings::defaults();
        assert!(i64::from(s.contact_day_cap) >= i64::from(s.household_max));
        s.check().unwrap();
    }

    #[test]
    fn a_household_larger_than_the_contact_cap_is_refused_unless_the_cap_is_off() {
        let mut s = Settings {
            household_max: 6,
            contact_day_cap: 5,
            ..Settings::defaults()
        };
        let err = s.check().unwrap_err().to_string();
        assert!(err.contains("DOSEWISE_HOUSEHOLD_MAX (6)"), "{err}");
        assert!(err.contains("DOSEWISE_CONTACT_DAY_CAP (5)"), "{err}");
        s.contact_day_cap = 6;
        s.check().unwrap();
        s.contact_day_cap = 0;
        s.check().unwrap();
    }

    #[test]
    fn each_worker_holds_its_share_of_the_connections_rounded_up_and_none_is_refused() {
        let mut s = Settings {
            workers: 3,
            max_connections: 1024,
            ..Settings::defaults()
        };
        assert_eq!(s.max_connections_per_worker(), 342);
        s.max_connections = 2;
        assert_eq!(s.max_connections_per_worker(), 1);
        s.check().unwrap();
        s.max_connections = 0;
        assert!(s
            .check()
            .unwrap_err()
            .to_string()
            .contains("DOSEWISE_MAX_CONNECTIONS"));
    }
}
