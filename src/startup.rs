//! Start-up: settings -> database (migrations) -> keys -> `AppState` -> `HttpServer`, and the
//! background work beside it (the mail worker; with `serve`, the draws and slot publishing).
//! Tests build the same `Application` on port 0 with their own database and clock.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, KeepAlive};
use actix_web::middleware::from_fn;
use actix_web::middleware::Next;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;
use crate::mail::worker::MailConfig;
use crate::mail::Transport;
use crate::models::secret;
use crate::security::{random_token, Keys};
use crate::web::middleware::{
    csrf_cookie, etag, head_as_get, log_requests, record_requests, render_errors, security_headers,
};
use crate::web::state::AppState;

/// A built server, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    /// The listener on `DOSEWISE_METRICS_BIND` that serves `/metrics` only, and its port.
    metrics: Option<(u16, Server)>,
    state: web::Data<AppState>,
}

impl Application {
    /// Connect, migrate, bind. Binding `:0` picks a free port (tests).
    pub fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let db = Db::connect_with(&settings.database_url, &settings.db_options())?;
        Self::build_with_db(settings, db, clock)
    }

    /// As [`Application::build`], on an already connected database.
    pub fn build_with_db(
        settings: Settings,
        db: Db,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        let transport = Transport::from_settings(settings.smtp_url.as_deref(), &settings.mail_dir)?;
        Self::build_with(settings, db, clock, transport)
    }

    /// As [`Application::build_with_db`], with a given mail transport (tests).
    pub fn build_with(
        settings: Settings,
        db: Db,
        clock: Arc<dyn Clock>,
        transport: Transport,
    ) -> anyhow::Result<Application> {
        let keys = Keys::derive(&master_secret(&settings, &db)?);
        // The server binds first (with its listen queue, which a std listener cannot set), so
        // the state, which needs the bound address, reaches the workers' apps once they start.
        let state_for_apps = Arc::new(OnceLock::<web::Data<AppState>>::new());
        let apps_state = state_for_apps.clone();
        let open = web::Data::new(OpenConnections::new(settings.max_connections));
        let accepted = open.clone();
        let server = HttpServer::new(move || {
            let app_state = apps_state
                .get()
                .expect("the state is set before run")
                .clone();
            App::new()
                .app_data(app_state)
                .app_data(open.clone())
                .wrap(from_fn(render_errors))
                .wrap(from_fn(csrf_cookie))
                .wrap(from_fn(etag))
                .wrap(security_headers())
                .wrap(from_fn(crate::web::limits::rate_limit))
                .wrap(from_fn(log_requests))
                .wrap(from_fn(head_as_get))
                .wrap(from_fn(record_requests))
                .wrap(from_fn(close_when_crowded))
                .configure(crate::web::routes)
        })
        .on_connect(move |_, conn| {
            conn.insert(accepted.hold());
        })
        .workers(settings.workers)
        .worker_max_blocking_threads(settings.blocking_threads_per_worker())
        .max_connections(settings.max_connections_per_worker())
        .keep_alive(keep_alive(&settings))
        .backlog(settings.listen_backlog)
        .bind(&settings.bind)
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let addr = *server
            .addrs()
            .first()
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let base_url = settings
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let mail = mail_config(&settings, transport);
        let run_worker = settings.mail_worker;
        let limits = crate::web::limits::Limits::new(&settings);
        let metrics = crate::metrics::Metrics::new(&db).context("cannot set up the metrics")?;
        let metrics_listener = settings
            .metrics_bind
            .as_ref()
            .map(|bind| {
                TcpListener::bind(bind)
                    .with_context(|| format!("cannot listen for metrics on {bind}"))
            })
            .transpose()?;
        let state = web::Data::new(AppState {
            metrics,
            limits,
            settings,
            db,
            keys,
            clock,
            base_url,
            mail: mail.clone(),
            caches: Default::default(),
        });
        if run_worker {
            start_mail_worker(&state, mail)?;
        }
        let _ = state_for_apps.set(state.clone());
        let server = server.run();
        let metrics = match metrics_listener {
            Some(listener) => Some((
                listener.local_addr()?.port(),
                metrics_server(&state, listener)?,
            )),
            None => None,
        };
        Ok(Application {
            port: addr.port(),
            server,
            metrics,
            state,
        })
    }

    /// The port of the metrics listener, when `DOSEWISE_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (tests use it to reach the database and the clock).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Start the jobs `serve` runs beside the server: due draws every second and slot publishing
    /// every hour. Any number of processes may run them at once.
    pub fn start_jobs(&self) -> std::io::Result<()> {
        every(
            "draws",
            Duration::from_secs(1),
            &self.state,
            |st| match crate::booking::draw::run_due(
                &st.db,
                &|| st.rules(),
                st.settings.contact_day_cap,
            ) {
                Ok(0) => {}
                Ok(n) => tracing::info!(draws = n, "draws run"),
                Err(e) => tracing::warn!(error = %e, "running draws failed"),
            },
        )?;
        // Every hour, so a new day's slots appear soon after local midnight; publishing is
        // idempotent.
        every(
            "publish-slots",
            Duration::from_secs(3600),
            &self.state,
            |st| match crate::setup::publish_all(
                &st.db,
                st.settings.time_zone,
                st.now(),
                "publish-job",
            ) {
                Ok(r) => tracing::info!(report = %r.summary(), "slots published"),
                Err(e) => tracing::error!(error = %e, "publishing slots failed"),
            },
        )
    }

    /// Serve until the process is stopped (the metrics listener stops with the server).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(handle) = metrics {
            handle.stop(true).await;
        }
        served
    }
}

/// The client connections the server holds open now, all workers together: each accepted
/// connection holds a [`Held`] in its connection data until it closes.
struct OpenConnections {
    open: Arc<AtomicUsize>,
    /// More than this many open (half of `DOSEWISE_MAX_CONNECTIONS`) is crowded.
    crowded_above: usize,
}

/// One open connection, counted until it is dropped with the connection.
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl OpenConnections {
    fn new(max_connections: usize) -> OpenConnections {
        OpenConnections {
            open: Arc::default(),
            crowded_above: max_connections / 2,
        }
    }

    fn hold(&self) -> Held {
        self.open.fetch_add(1, Ordering::Relaxed);
        Held(self.open.clone())
    }

    fn crowded(&self) -> bool {
        self.open.load(Ordering::Relaxed) > self.crowded_above
    }
}

/// While more than half of `DOSEWISE_MAX_CONNECTIONS` are open, each answer closes its
/// connection instead of keeping it idle for the client's next request: an idle connection
/// holds memory (about 18 KB) and one of the places that arriving clients wait for. Below
/// that, connections are kept alive as `DOSEWISE_KEEP_ALIVE_MS` says.
async fn close_when_crowded(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let crowded = req
        .app_data::<web::Data<OpenConnections>>()
        .is_some_and(|o| o.crowded());
    let mut res = next.call(req).await?;
    if crowded {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// The keep-alive of idle client connections (`DOSEWISE_KEEP_ALIVE_MS`; 0: none).
fn keep_alive(settings: &Settings) -> KeepAlive {
    match settings.keep_alive_ms {
        0 => KeepAlive::Disabled,
        ms => KeepAlive::Timeout(Duration::from_millis(ms)),
    }
}

/// The second server: `/metrics` only, one worker, on its own listener. It shares the state (and
/// so the registry) with the public server but none of its routes or middleware.
fn metrics_server(state: &web::Data<AppState>, listener: TcpListener) -> std::io::Result<Server> {
    let state = state.clone();
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(crate::web::metrics::routes)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// The mail worker: a pass (schedule, then deliver) every `DOSEWISE_MAIL_INTERVAL_MS`, with the
/// database and the mail settings only, at a lower priority than requests ([`MAIL_NICE`]).
fn start_mail_worker(state: &web::Data<AppState>, cfg: MailConfig) -> std::io::Result<()> {
    let every_ms = Duration::from_millis(cfg.interval_ms);
    let stood_back = std::sync::Once::new();
    every("mail-worker", every_ms, state, move |st| {
        stood_back.call_once(|| stand_back(MAIL_NICE));
        let tz = st.settings.time_zone;
        match crate::mail::worker::run_once(&st.db, &cfg, &st.base_url, tz, st.clock.as_ref()) {
            Ok(r) => st.metrics.observe_mail(r.sent, r.retried, r.failed),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "mail worker pass failed"),
        }
    })
}

/// The mail worker's `nice` value. Mail is sent after the booking that queued it has committed
/// (the page already confirms it), so it can wait: under a booking rush the worker's CPU
/// (reading and rendering each message, writing it, its claims on the writer) competes with the
/// bookings': `perf` put 37 % of the SQLite server's samples under the booking load in the mail
/// worker (BENCHMARKS.md, 2026-12-05 evening). Standing back, it takes what requests leave and
/// catches up after the rush; nothing waits for it otherwise.
const MAIL_NICE: i32 = 10;

/// Lower the calling thread's scheduling priority to `nice` (on Linux the value is per thread,
/// and threads it starts afterwards, such as the mail senders, inherit it). Where the system
/// refuses, the thread keeps its priority.
fn stand_back(nice: i32) {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
        tracing::debug!(error = %e, nice, "could not lower a background thread's priority");
    }
}

/// Run `pass` on a thread named `name`, then again after each `period`, for as long as the
/// application's state lives (tests drop it, and the thread ends with it).
fn every(
    name: &str,
    period: Duration,
    state: &web::Data<AppState>,
    pass: impl Fn(&AppState) + Send + 'static,
) -> std::io::Result<()> {
    let state = Arc::downgrade(&state.clone().into_inner());
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || loop {
            let Some(st) = state.upgrade() else { return };
            pass(&st);
            drop(st);
            std::thread::sleep(period);
        })?;
    Ok(())
}

/// The mail worker's settings (`serve`'s worker and `send-mail`).
pub fn mail_config(settings: &Settings, transport: Transport) -> MailConfig {
    MailConfig {
        transport,
        from: settings.mail_from.clone(),
        max_attempts: settings.mail_max_attempts,
        retry_base_seconds: settings.mail_retry_seconds,
        reminder_hours: settings.reminder_hours,
        interval_ms: settings.mail_interval_ms,
        lease_seconds: settings.mail_lease_seconds,
    }
}

/// `DOSEWISE_SECRET`, or a secret generated once and kept in the database so that every
/// process on it agrees (set `DOSEWISE_SECRET` in production, so a stolen database alone does
/// not reveal the key to the ID-number hashes).
pub fn master_secret(settings: &Settings, db: &Db) -> anyhow::Result<String> {
    if let Some(s) = &settings.secret {
        return Ok(s.clone());
    }
    let mut conn = db.write.get()?;
    secret::get_or_create(&mut conn, "master", random_token)
        .context("cannot read or store the generated secret")
}
