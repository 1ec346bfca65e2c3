//! What the database layer measures about itself: how long work waits for a pooled connection
//! (and how often it gives up), and on SQLite the writer's queue and the size of each group it
//! commits. The handles are made here and registered by `metrics`, so `db/` knows nothing of the
//! registry; every update is an atomic add on a handle resolved once.

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
};

/// The database layer's measurements, shared by the pools and the writer of one [`super::Db`].
#[derive(Clone)]
pub struct DbStats {
    /// `dosewise_db_pool_wait_seconds{pool}`: the wait for a connection, per pool.
    pool_wait: HistogramVec,
    /// `dosewise_db_pool_timeouts_total{pool}`: checkouts that gave up.
    pool_timeouts: IntCounterVec,
    /// `dosewise_sqlite_writer_queue`: write jobs sent to the writer and not yet taken.
    pub(super) writer_queue: IntGauge,
    /// `dosewise_sqlite_writer_group_size`: jobs committed together.
    pub(super) writer_group: Histogram,
    sqlite: bool,
}

impl DbStats {
    /// Fresh measurements; the writer's are reported only for SQLite.
    pub(super) fn new(sqlite: bool) -> prometheus::Result<DbStats> {
        let pool_wait = HistogramVec::new(
            HistogramOpts::new(
                "dosewise_db_pool_wait_seconds",
                "Time spent waiting for a pooled database connection",
            )
            .buckets(vec![
                0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5,
            ]),
            &["pool"],
        )?;
        let pool_timeouts = IntCounterVec::new(
            Opts::new(
                "dosewise_db_pool_timeouts_total",
                "Connection checkouts that gave up waiting",
            ),
            &["pool"],
        )?;
        let writer_queue = IntGauge::new(
            "dosewise_sqlite_writer_queue",
            "Write transactions queued for the SQLite writer and not yet taken",
        )?;
        let writer_group = Histogram::with_opts(
            HistogramOpts::new(
                "dosewise_sqlite_writer_group_size",
                "Write transactions the SQLite writer committed together",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
        )?;
        Ok(DbStats {
            pool_wait,
            pool_timeouts,
            writer_queue,
            writer_group,
            sqlite,
        })
    }

    /// The pool event handler that records into the `pool` series.
    pub(super) fn pool_events(&self, pool: &'static str) -> Box<PoolEvents> {
        Box::new(PoolEvents {
            wait: self.pool_wait.with_label_values(&[pool]),
            timeouts: self.pool_timeouts.with_label_values(&[pool]),
        })
    }

    /// Everything to register (the writer's only on SQLite).
    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        let mut out: Vec<Box<dyn Collector>> = vec![
            Box::new(self.pool_wait.clone()),
            Box::new(self.pool_timeouts.clone()),
        ];
        if self.sqlite {
            out.push(Box::new(self.writer_queue.clone()));
            out.push(Box::new(self.writer_group.clone()));
        }
        out
    }
}

/// Records one pool's checkouts.
#[derive(Debug)]
pub(super) struct PoolEvents {
    wait: Histogram,
    timeouts: IntCounter,
}

impl r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        self.wait.observe(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, event: r2d2::event::TimeoutEvent) {
        self.wait.observe(event.timeout().as_secs_f64());
        self.timeouts.inc();
    }
}
