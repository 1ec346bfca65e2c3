//! The SQLite writer's group commit (`src/db/writer.rs`, `src/db/job.rs`) under failure: a job
//! that fails alone rolls back alone (its savepoint; for a booking's write, the pass without
//! savepoints undone and run again in them), and a group whose COMMIT fails answers every caller
//! in it with an error and confirms none of them. SQLite only: PostgreSQL has no writer thread.
//!
//! How a COMMIT fails for real: SQLite checks a *deferred* foreign key only when the outermost
//! transaction commits, never when a savepoint is released. So a job that defers its foreign
//! keys (`PRAGMA defer_foreign_keys`, as a job inserting rows out of order would) and leaves one
//! dangling passes its own savepoint, and the group's `COMMIT` is then refused with
//! `FOREIGN KEY constraint failed` and rolled back: exactly what a full disk or an I/O error at
//! commit does to the group (the writer has one path for every commit error).
//!
//! To be sure the bookings share the failing group, the writer is first held busy by a job that
//! waits for the test; everything queued meanwhile is committed as one group when it returns.

use std::sync::mpsc;
use std::time::Duration;

use diesel::RunQueryDsl;
use dosewise::booking::BookingError;
use dosewise::db::{Db, StorageError};
use dosewise::ids::new_id;
use futures::future::join_all;

use crate::helpers::{id_number, resident, spawn_app, City, TestApp};

/// Hold the writer thread busy until the returned sender is used (or dropped).
fn hold_the_writer(db: &Db) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (started_tx, started) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let db = db.clone();
    let holder = std::thread::spawn(move || {
        db.transaction(move |_c| {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv();
            Ok::<(), BookingError>(())
        })
        .expect("the holding job commits");
    });
    started
        .recv_timeout(Duration::from_secs(10))
        .expect("the writer runs the holding job");
    (release, holder)
}

/// Queue a job on the writer from a thread of its own; its outcome arrives on the receiver.
fn queue<F>(db: &Db, job: F) -> mpsc::Receiver<Result<(), BookingError>>
where
    F: FnOnce(&mut dosewise::db::AnyConnection) -> Result<(), BookingError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let db = db.clone();
    std::thread::spawn(move || {
        let _ = tx.send(db.transaction(job));
    });
    rx
}

/// Bookings sent while the writer is held, each as `(resident, status, error text)`: ten
/// through the API (the server's blocking threads, ten per worker, can all wait for the writer
/// at once, so all ten reach its queue) and twenty more straight through `booking::book` (status
/// 201 or 500 by its result). `during` runs once they have had time to reach the queue.
async fn book_while_held(
    app: &TestApp,
    slot: i64,
    first: u32,
    during: impl FnOnce(),
) -> Vec<(u32, u16, String)> {
    let (release, holder) = hold_the_writer(app.database());
    let direct: Vec<_> = (first + 10..first + 30)
        .map(|i| {
            let st = app.state.clone();
            std::thread::spawn(move || {
                let who = dosewise::booking::ResidentDetails {
                    id_number: dosewise::domain::IdNumber::parse(&id_number(i)).unwrap(),
                    name: dosewise::domain::PersonName::parse("测试甲").unwrap(),
                    phone: dosewise::domain::Phone::parse(&format!("139{i:08}")).unwrap(),
                    email: dosewise::domain::Email::parse(&format!("r{i}@example.com")).unwrap(),
                    lang: "zh-CN".into(),
                };
                let rules = st.rules();
                let ask = dosewise::booking::Request {
                    slot_id: dosewise::ids::SlotId(slot),
                    dose: 1,
                    contact_cap: st.settings.contact_day_cap,
                };
                match dosewise::booking::book(&st.db, &st.keys, rules, ask, &who) {
                    Ok(_) => (i, 201, String::new()),
                    Err(e) => (i, 500, e.to_string()),
                }
            })
        })
        .collect();
    let bookings = join_all((first..first + 10).map(|i| async move {
        let res = app.book_api(slot, 1, &resident(i)).await;
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        (
            i,
            status,
            body["error"].as_str().unwrap_or_default().to_string(),
        )
    }));
    let control = async {
        // The bookings read their rules and queue their transactions behind the held writer.
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        during();
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        release.send(()).unwrap();
    };
    let (mut answers, ()) = futures::join!(bookings, control);
    holder.join().unwrap();
    answers.extend(direct.into_iter().map(|t| t.join().unwrap()));
    answers
}

/// Whether resident `i` holds a booked appointment.
fn holds_booking(app: &TestApp, i: u32) -> bool {
    let hash = app
        .state
        .keys
        .hash_id_number(&dosewise::domain::IdNumber::parse(&id_number(i)).unwrap());
    app.count(
        "appointments a JOIN residents r ON r.id = a.resident_id",
        &format!("r.id_hash = '{hash}' AND a.status = 'booked'"),
    ) == 1
}

/// An app on SQLite with a slot of 100 seats and 100 doses (`None` on PostgreSQL, which has no
/// writer thread).
async fn sqlite_app() -> Option<(TestApp, City, i64)> {
    let app = spawn_app().await;
    if app.db.is_postgres() {
        eprintln!("SQLite only: PostgreSQL has no writer thread");
        return None;
    }
    let (city, slot) = app.city_with_slot(2, 100, 0, 100);
    Some((app, city, slot))
}

/// Every one of the 30 bookings in `answers` was confirmed (`why` says what that shows): each
/// resident holds a booking, the slot 30 seats and the site 30 promised doses of its 100.
fn all_confirmed(
    app: &TestApp,
    (city, slot): (City, i64),
    answers: &[(u32, u16, String)],
    why: &str,
) {
    assert!(
        answers.iter().all(|(_, s, _)| *s == 201),
        "{why}: {answers:?}"
    );
    assert_eq!(answers.len(), 30);
    for (i, _, _) in answers {
        assert!(holds_booking(app, *i), "resident {i}");
    }
    assert_eq!(app.slot_counts(slot), (30, 0, 100));
    assert_eq!(app.stock(city), (100, 30));
}

#[actix_web::test]
async fn a_failed_group_commit_answers_every_caller_with_an_error_and_confirms_none() {
    let Some((app, city, slot)) = sqlite_app().await else {
        return;
    };

    let mut poisoned = None;
    let answers = book_while_held(&app, slot, 100, || {
        // The job that breaks the group: a site of a town that does not exist, its foreign key
        // deferred to the COMMIT.
        poisoned = Some(queue(app.database(), |c| {
            diesel::sql_query("PRAGMA defer_foreign_keys = ON").execute(c)?;
            diesel::sql_query(format!(
                "INSERT INTO sites (id, town_id, name, address, active) VALUES ({}, {}, 'x', 'y', 1)",
                new_id(),
                new_id()
            ))
            .execute(c)?;
            Ok(())
        }));
    })
    .await;
    let poisoned = poisoned
        .unwrap()
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    assert!(
        matches!(poisoned, Err(BookingError::Storage(StorageError::Write(_)))),
        "the job that broke the commit hears that it failed: {poisoned:?}"
    );

    // Every caller in the group heard an error (none a confirmation), and nothing of theirs is
    // in the database.
    assert_eq!(answers.len(), 30);
    for (i, status, error) in &answers {
        assert_eq!(*status, 500, "resident {i}: {answers:?}");
        assert!(
            error.contains("系统暂时出了问题") || error.contains("commit failed"),
            "resident {i}: {error}"
        );
        assert!(!holds_booking(&app, *i), "resident {i} was not confirmed");
    }
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.count("residents", "1=1"), 0);
    assert_eq!(app.count("outbox", "1=1"), 0);
    assert_eq!(
        app.count("sites", "1=1"),
        1,
        "the dangling site was rolled back"
    );
    assert_eq!(app.slot_counts(slot), (0, 0, 100));
    assert_eq!(app.stock(city), (100, 0));

    // The writer goes on: the same people book again, in one group, and all are confirmed.
    let answers = book_while_held(&app, slot, 100, || {}).await;
    all_confirmed(
        &app,
        (city, slot),
        &answers,
        "after a failed commit the writer works again",
    );
}

#[actix_web::test]
async fn a_job_that_fails_inside_a_group_rolls_back_alone() {
    let Some((app, city, slot)) = sqlite_app().await else {
        return;
    };
    let mut failing = None;
    let answers = book_while_held(&app, slot, 200, || {
        // A job that writes a row, then breaks a unique constraint: its savepoint is rolled
        // back, the group commits.
        failing = Some(queue(app.database(), |c| {
            diesel::sql_query(format!(
                "INSERT INTO towns (id, code, name) VALUES ({}, 'DUP', 'a')",
                new_id()
            ))
            .execute(c)?;
            diesel::sql_query(format!(
                "INSERT INTO towns (id, code, name) VALUES ({}, 'DUP', 'b')",
                new_id()
            ))
            .execute(c)?;
            Ok(())
        }));
    })
    .await;
    let failed = failing
        .unwrap()
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    assert!(
        matches!(&failed, Err(BookingError::Storage(StorageError::Db(e))) if dosewise::db::is_unique_violation(e)),
        "{failed:?}"
    );
    assert_eq!(
        app.count("towns", "code = 'DUP'"),
        0,
        "its first insert too"
    );
    all_confirmed(
        &app,
        (city, slot),
        &answers,
        "the rest of the group is confirmed",
    );
    assert_eq!(app.count("appointments", "status = 'booked'"), 30);
}

/// Queue a replayable job (as a booking's write is: `Db::read_then_transaction`) from a thread of
/// its own; its outcome arrives on the receiver.
fn queue_replayable<F>(db: &Db, job: F) -> mpsc::Receiver<Result<(), BookingError>>
where
    F: FnMut(&mut dosewise::db::AnyConnection) -> Result<(), BookingError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let db = db.clone();
    std::thread::spawn(move || {
        let _ = tx.send(
            db.read_then_transaction(|_| Ok(((), job)))
                .map(|((), ())| ()),
        );
    });
    rx
}

/// A replayable job that adds town `code` and counts its runs.
fn adds_town(
    code: &'static str,
    runs: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> impl FnMut(&mut dosewise::db::AnyConnection) -> Result<(), BookingError> + Send + 'static {
    let runs = runs.clone();
    move |c| {
        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        diesel::sql_query(format!(
            "INSERT INTO towns (id, code, name) VALUES ({}, '{code}', 'x')",
            new_id()
        ))
        .execute(c)?;
        Ok(())
    }
}

/// The jobs waiting in the writer's queue (its gauge, `dosewise_sqlite_writer_queue`).
fn writer_queue(db: &Db) -> f64 {
    db.stats()
        .collectors()
        .iter()
        .flat_map(|c| c.collect())
        .find(|f| f.name() == "dosewise_sqlite_writer_queue")
        .map(|f| f.get_metric()[0].get_gauge().get_value())
        .expect("the writer's queue gauge")
}

/// Queue `job` as [`queue_replayable`] does, and wait until it is in the writer's queue, so
/// that the next job queued comes after it in the group.
fn queue_replayable_in_turn<F>(db: &Db, job: F) -> mpsc::Receiver<Result<(), BookingError>>
where
    F: FnMut(&mut dosewise::db::AnyConnection) -> Result<(), BookingError> + Send + 'static,
{
    in_turn(db, || queue_replayable(db, job))
}

/// Queue a job with `queue`, and wait until it is in the writer's queue.
fn in_turn(
    db: &Db,
    queue: impl FnOnce() -> mpsc::Receiver<Result<(), BookingError>>,
) -> mpsc::Receiver<Result<(), BookingError>> {
    let before = writer_queue(db);
    let rx = queue();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while writer_queue(db) < before + 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the job reaches the writer's queue"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The gauge counts it just before it is sent.
    std::thread::sleep(Duration::from_millis(20));
    rx
}

/// The outcome that arrives on `rx`.
fn outcome(rx: Option<mpsc::Receiver<Result<(), BookingError>>>) -> Result<(), BookingError> {
    rx.unwrap().recv_timeout(Duration::from_secs(10)).unwrap()
}

#[actix_web::test]
async fn a_replayable_job_that_fails_after_writing_undoes_the_pass_and_the_group_runs_again_in_savepoints(
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let Some((app, city, slot)) = sqlite_app().await else {
        return;
    };
    let (adder_runs, failing_runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (mut adder, mut failing) = (None, None);
    let answers = book_while_held(&app, slot, 300, || {
        // Behind the 30 bookings (replayable): a job that adds a town, then one that writes a
        // row and breaks a unique constraint. The pass without savepoints runs the bookings and
        // the first; the second fails after writing, so the pass is rolled back and every
        // replayable job runs again in its own savepoint.
        adder = Some(queue_replayable_in_turn(
            app.database(),
            adds_town("OKR", &adder_runs),
        ));
        let runs = failing_runs.clone();
        failing = Some(queue_replayable_in_turn(app.database(), move |c| {
            runs.fetch_add(1, Ordering::SeqCst);
            for name in ["a", "b"] {
                diesel::sql_query(format!(
                    "INSERT INTO towns (id, code, name) VALUES ({}, 'DUP', '{name}')",
                    new_id()
                ))
                .execute(c)?;
            }
            Ok(())
        }));
    })
    .await;
    assert_eq!(outcome(adder).ok(), Some(()), "the adder commits");
    let failed = outcome(failing);
    assert!(
        matches!(&failed, Err(BookingError::Storage(StorageError::Db(e))) if dosewise::db::is_unique_violation(e)),
        "{failed:?}"
    );
    assert_eq!(
        (
            adder_runs.load(Ordering::SeqCst),
            failing_runs.load(Ordering::SeqCst)
        ),
        (2, 2),
        "both ran without a savepoint, then again each in its own"
    );
    assert_eq!(
        app.count("towns", "code = 'OKR'"),
        1,
        "the adder's town, once"
    );
    assert_eq!(
        app.count("towns", "code = 'DUP'"),
        0,
        "the failing job's first row too was undone"
    );
    // Each booking committed once: 30 appointments, 30 seats, 30 promised doses, 30 mails.
    all_confirmed(
        &app,
        (city, slot),
        &answers,
        "the replayed bookings are confirmed",
    );
    assert_eq!(app.count("appointments", "1=1"), 30);
    assert_eq!(app.count("residents", "1=1"), 30);
    assert_eq!(app.count("outbox", "kind = 'booked'"), 30);

    // After an undone pass the next groups run in savepoints at once: the same two jobs in the
    // next group run once each, and the outcome is the same.
    let (adder_runs, failing_runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (release, holder) = hold_the_writer(app.database());
    let adder = queue_replayable_in_turn(app.database(), adds_town("OK2", &adder_runs));
    let runs = failing_runs.clone();
    let failing = queue_replayable_in_turn(app.database(), move |c| {
        runs.fetch_add(1, Ordering::SeqCst);
        adds_town("DU2", &Arc::new(AtomicUsize::new(0)))(c)?;
        adds_town("DU2", &Arc::new(AtomicUsize::new(0)))(c)
    });
    release.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(outcome(Some(adder)).ok(), Some(()));
    assert!(outcome(Some(failing)).is_err());
    assert_eq!(
        (
            adder_runs.load(Ordering::SeqCst),
            failing_runs.load(Ordering::SeqCst)
        ),
        (1, 1),
        "the group after an undone pass ran each job once, in its savepoint"
    );
    assert_eq!(app.count("towns", "code IN ('OK2', 'DU2')"), 1);
}

#[actix_web::test]
async fn a_replayable_job_refused_before_writing_keeps_its_refusal_and_the_pass_stands() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let Some((app, city, slot)) = sqlite_app().await else {
        return;
    };
    let (adder_runs, refused_runs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (mut adder, mut refused, mut after) = (None, None, None);
    let answers = book_while_held(&app, slot, 400, || {
        adder = Some(queue_replayable_in_turn(
            app.database(),
            adds_town("OKR", &adder_runs),
        ));
        // Reads, then refuses as a full slot does: nothing to undo.
        let runs = refused_runs.clone();
        refused = Some(queue_replayable_in_turn(app.database(), move |c| {
            runs.fetch_add(1, Ordering::SeqCst);
            diesel::sql_query("SELECT 1 FROM towns").execute(c)?;
            Err(BookingError::SlotFull)
        }));
        // A job after it in the same pass, which also runs once.
        after = Some(queue_replayable_in_turn(
            app.database(),
            adds_town("AFT", &adder_runs),
        ));
    })
    .await;
    assert_eq!(outcome(adder).ok(), Some(()));
    assert!(matches!(outcome(refused), Err(BookingError::SlotFull)));
    assert_eq!(outcome(after).ok(), Some(()));
    assert_eq!(
        (
            adder_runs.load(Ordering::SeqCst),
            refused_runs.load(Ordering::SeqCst)
        ),
        (2, 1),
        "each job ran once, without a savepoint: the two adders and the refusal"
    );
    assert_eq!(app.count("towns", "code IN ('OKR', 'AFT')"), 2);
    all_confirmed(&app, (city, slot), &answers, "the pass committed");
}

#[actix_web::test]
async fn a_job_that_ends_the_group_s_transaction_stops_the_group_and_nothing_after_it_commits_alone(
) {
    let Some((app, city, slot)) = sqlite_app().await else {
        return;
    };
    let (mut ender, mut after) = (None, None);
    let answers = book_while_held(&app, slot, 500, || {
        // Behind the 30 bookings: a job whose statement ends the whole transaction, as SQLite
        // does itself on a disk I/O error or a full disk, then a job that adds a town. That one
        // must not run on its own (it would commit alone, its caller told it failed).
        ender = Some(in_turn(app.database(), || {
            queue(app.database(), |c| {
                diesel::sql_query("ROLLBACK").execute(c)?;
                Ok(())
            })
        }));
        after = Some(in_turn(app.database(), || {
            queue(app.database(), |c| {
                diesel::sql_query(format!(
                    "INSERT INTO towns (id, code, name) VALUES ({}, 'AFT', 'x')",
                    new_id()
                ))
                .execute(c)?;
                Ok(())
            })
        }));
    })
    .await;
    assert!(outcome(ender).is_err());
    let after = outcome(after);
    assert!(
        matches!(&after, Err(BookingError::Storage(StorageError::Write(w))) if w.is_outage()),
        "the job after it did not run, and hears an outage (503): {after:?}"
    );
    assert_eq!(
        app.count("towns", "code = 'AFT'"),
        0,
        "nothing committed alone"
    );
    for (i, status, _) in &answers {
        assert_ne!(*status, 201, "resident {i} was not confirmed: {answers:?}");
        assert!(!holds_booking(&app, *i), "resident {i}");
    }
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.slot_counts(slot), (0, 0, 100));
    assert_eq!(app.stock(city), (100, 0));

    // The writer goes on: the same people book again, and all are confirmed.
    let answers = book_while_held(&app, slot, 500, || {}).await;
    all_confirmed(
        &app,
        (city, slot),
        &answers,
        "after the ended group the writer works again",
    );
}

/// The most the WAL file held while `work` ran: its size sampled every 2 ms.
fn largest_wal_while(db_url: &str, work: impl FnOnce()) -> u64 {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let wal = format!("{}-wal", db_url.trim_start_matches("sqlite://"));
    let (done, largest) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let sampler = {
        let (done, largest) = (done.clone(), largest.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                largest.fetch_max(len, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    work();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    largest.load(Ordering::Relaxed)
}

/// The largest the WAL grew while 16 threads committed 6,400 transactions, each an audit entry
/// of about a page, while 3 threads made short reads all along, on a fresh SQLite database whose writer
/// starts the WAL again past `restart_frames` frames.
fn largest_wal_under_steady_commits(restart_frames: i32) -> u64 {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let test_db = crate::helpers::TestDb::new();
    let mut options = dosewise::db::DbOptions::with_pool_size(4);
    options.wal_restart_frames = restart_frames;
    let db = Db::connect_with(&test_db.url, &options).unwrap();
    let (writers, each, detail) = (16, 400, "x".repeat(3000));
    let reading = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (db, reading) = (db.clone(), reading.clone());
            std::thread::spawn(move || {
                let mut reads = 0u32;
                while reading.load(Ordering::Relaxed) {
                    let mut c = db.read.get().unwrap();
                    // A short read, as a page's are: the newest entry, by its index.
                    diesel::sql_query("SELECT id FROM audit_log ORDER BY id DESC LIMIT 1")
                        .execute(&mut c)
                        .unwrap();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let largest = largest_wal_while(&test_db.url, || {
        let threads: Vec<_> = (0..writers)
            .map(|_| {
                let (db, detail) = (db.clone(), detail.clone());
                std::thread::spawn(move || {
                    for _ in 0..each {
                        let sql = format!(
                            "INSERT INTO audit_log (id, created_at, actor, action, subject, detail) \
                             VALUES ({}, '2026-12-01 00:00:00', 'test', 'test.wal', 'wal', '{detail}')",
                            new_id()
                        );
                        db.transaction(move |c| {
                            diesel::sql_query(sql).execute(c)?;
                            Ok::<(), BookingError>(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
    reading.store(false, Ordering::Relaxed);
    let reads: u32 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 100, "the reads ran all along ({reads})");
    let mut c = db.read.get().unwrap();
    let written = crate::helpers::count_where(&mut c, "audit_log", "action = 'test.wal'");
    assert_eq!(written, writers * each, "every commit is there");
    largest
}

/// Under a steady stream of commits with reads always running, the WAL stays short: past its
/// limit (lowered here to 64 frames) the writer starts it again from its beginning, after the
/// next passive checkpoint has seen it (every 50 ms or so: the WAL then holds about that long's
/// frames, a few MB in a debug build; a restart whose wait for a reader ran out, as on a busy
/// machine, is tried again 100 ms later). Without
/// that (the same load with no limit, in the same test) a passive checkpoint never restarts it
/// while one commit follows another and some read is always on the WAL: the file holds every
/// frame written (1.7 GB in 8 s of `benches/ceiling tx`).
#[test]
fn the_wal_starts_again_under_a_steady_stream_of_commits_and_reads() {
    if crate::helpers::TestDb::new().is_postgres() {
        eprintln!("SQLite only: PostgreSQL has no writer thread");
        return;
    }
    let unbounded = largest_wal_under_steady_commits(i32::MAX);
    let bounded = largest_wal_under_steady_commits(64);
    assert!(
        bounded * 2 < unbounded,
        "the WAL reached {bounded} bytes with a limit of 64 frames, {unbounded} bytes without"
    );
}
