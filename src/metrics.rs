//! Metrics in the Prometheus text format (`prometheus` crate): one registry per application,
//! kept in `AppState` (tests run many applications in one process). Counters and histograms are
//! updated where things happen, through handles resolved once; the outbox's gauges are read from
//! the database when scraped, so every process reports the same city-wide depth. Served only on
//! `DOSEWISE_METRICS_BIND`, never on the public port (`startup`, `web::metrics`).

use anyhow::Context;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::db::{AnyConnection, Db};

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The route label of a request no route matched (so no raw path becomes a label).
pub const UNMATCHED: &str = "(unmatched)";

/// Every metric of one application.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `dosewise_http_request_duration_seconds{route,method,status}`; its `_count` is the
    /// number of requests.
    requests: HistogramVec,
    /// `dosewise_bookings_total`: first-come bookings confirmed by this process.
    pub bookings: IntCounter,
    /// `dosewise_draw_entries_total`: draw entries accepted by this process.
    pub draw_entries: IntCounter,
    /// `dosewise_cancellations_total`: appointments residents cancelled through this process.
    pub cancellations: IntCounter,
    /// `dosewise_mail_deliveries_total{outcome}`, kept by this process's mail worker.
    mail_sent: IntCounter,
    mail_retried: IntCounter,
    mail_failed: IntCounter,
    /// `dosewise_outbox_depth`: messages waiting to be sent or being sent (read when scraped).
    outbox_depth: IntGauge,
    /// `dosewise_outbox_failed`: messages that failed for good (read when scraped).
    outbox_failed: IntGauge,
    /// `dosewise_db_pool_connections{pool,state}`: the pools' open and idle connections.
    pool_connections: prometheus::IntGaugeVec,
}

/// `metric`, registered in `registry` (a handle to the same metric).
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> prometheus::Result<M> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Metrics {
    /// A registry with every metric, including the database layer's (`db.stats()`).
    pub fn new(db: &Db) -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        // Each metric is registered as it is made, so none can be made and left out.
        let requests = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "dosewise_http_request_duration_seconds",
                    "HTTP requests by route pattern, method and status, and how long they took",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["route", "method", "status"],
            )?,
        )?;
        let counter = |name: &str, help: &str| registered(&registry, IntCounter::new(name, help)?);
        let bookings = counter(
            "dosewise_bookings_total",
            "First-come bookings confirmed (pages and API)",
        )?;
        let draw_entries = counter("dosewise_draw_entries_total", "Draw entries accepted")?;
        let cancellations = counter(
            "dosewise_cancellations_total",
            "Appointments cancelled by residents (pages and API)",
        )?;
        let mail = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "dosewise_mail_deliveries_total",
                    "Mail delivery attempts by this process's worker, by outcome",
                ),
                &["outcome"],
            )?,
        )?;
        let gauge = |name: &str, help: &str| registered(&registry, IntGauge::new(name, help)?);
        let outbox_depth = gauge(
            "dosewise_outbox_depth",
            "Outbox messages pending or being sent",
        )?;
        let outbox_failed = gauge(
            "dosewise_outbox_failed",
            "Outbox messages that failed for good",
        )?;
        let pool_connections = registered(
            &registry,
            prometheus::IntGaugeVec::new(
                Opts::new(
                    "dosewise_db_pool_connections",
                    "Open database connections per pool, by state",
                ),
                &["pool", "state"],
            )?,
        )?;
        for c in db.stats().collectors() {
            registry.register(c)?;
        }
        Ok(Metrics {
            registry,
            requests,
            bookings,
            draw_entries,
            cancellations,
            mail_sent: mail.with_label_values(&["sent"]),
            mail_retried: mail.with_label_values(&["retried"]),
            mail_failed: mail.with_label_values(&["failed"]),
            outbox_depth,
            outbox_failed,
            pool_connections,
        })
    }

    /// Record one answered request. `route` is the route's pattern (or [`UNMATCHED`]),
    /// `method` one of a fixed set (see [`method_label`]).
    pub fn observe_request(&self, route: &str, method: &str, status: &str, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, status])
            .observe(seconds);
    }

    /// Record a mail worker pass.
    pub fn observe_mail(&self, sent: usize, retried: usize, failed: usize) {
        let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        self.mail_sent.inc_by(n(sent));
        self.mail_retried.inc_by(n(retried));
        self.mail_failed.inc_by(n(failed));
    }

    /// Read the gauges that come from the database (blocking: run it off the async workers).
    /// A database that does not answer leaves them as they were and is logged.
    pub fn refresh(&self, db: &Db) {
        for (name, pool) in [("read", &db.read), ("write", &db.write)] {
            if name == "write" && db.backend == crate::db::Backend::Postgres {
                // On PostgreSQL the write pool is the read pool.
                continue;
            }
            let state = pool.state();
            let idle = i64::from(state.idle_connections);
            let open = i64::from(state.connections);
            self.pool_connections
                .with_label_values(&[name, "idle"])
                .set(idle);
            self.pool_connections
                .with_label_values(&[name, "in_use"])
                .set(open - idle);
        }
        let counts = db
            .read
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut c| outbox_counts(&mut c));
        match counts {
            Ok((depth, failed)) => {
                self.outbox_depth.set(depth);
                self.outbox_failed.set(failed);
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "metrics: cannot read the outbox"),
        }
    }

    /// Everything, in the text exposition format.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut out = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .context("encoding the metrics")?;
        String::from_utf8(out).context("the metrics are not UTF-8")
    }
}

/// `(pending or sending, failed)` messages in the outbox.
fn outbox_counts(conn: &mut AnyConnection) -> anyhow::Result<(i64, i64)> {
    let counts = crate::models::outbox::counts(conn).context("counting the outbox")?;
    let sum = |statuses: &[&str]| -> i64 {
        counts
            .iter()
            .filter(|(s, _)| statuses.contains(&s.as_str()))
            .map(|(_, n)| n)
            .sum()
    };
    Ok((sum(&["pending", "sending"]), sum(&["failed"])))
}

/// The method label: the standard methods by name, anything else as `other` (a client cannot
/// add series by inventing methods).
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_counted_under_its_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("m.db").display());
        let db = Db::connect(&url, 1).unwrap();
        let m = Metrics::new(&db).unwrap();
        m.observe_request("/slots/{id}/book", "POST", "303", 0.004);
        m.bookings.inc();
        m.refresh(&db);
        let text = m.render().unwrap();
        assert!(text.contains(
            "dosewise_http_request_duration_seconds_count{method=\"POST\",route=\"/slots/{id}/book\",status=\"303\"} 1"
        ), "{text}");
        assert!(text.contains("dosewise_bookings_total 1"), "{text}");
        assert!(text.contains("dosewise_outbox_depth 0"), "{text}");
        assert!(text.contains("dosewise_sqlite_writer_queue 0"), "{text}");
    }

    #[test]
    fn invented_methods_share_one_label() {
        let m = actix_web::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&m), "other");
        assert_eq!(method_label(&actix_web::http::Method::GET), "GET");
    }
}
