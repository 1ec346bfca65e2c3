//! `/metrics` (issue 12): served on `DOSEWISE_METRICS_BIND` only, in the Prometheus text format,
//! with requests by route pattern, bookings, entries, cancellations, the outbox and the pools.

use std::collections::HashMap;

use chrono::Duration;
use serde_json::json;

use crate::concurrency::book_with_page;
use crate::helpers::{
    book_code, id_number, open_in_draw, resident, spawn_app_with_settings, test_now, TestApp,
};

/// A test server with the metrics listener on a free port.
async fn app_with_metrics() -> TestApp {
    spawn_app_with_settings(|s| {
        s.metrics_bind = Some("127.0.0.1:0".into());
    })
    .await
}

/// Scrape the metrics listener: the raw text.
async fn scrape_text(app: &TestApp) -> String {
    let url = format!("{}/metrics", app.metrics_address.as_ref().unwrap());
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    res.text().await.unwrap()
}

/// Each sample line as `name{labels}` -> value (labels as the encoder sorts them).
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse::<f64>().unwrap())
        })
        .collect()
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[actix_web::test]
async fn bookings_are_counted_by_route_pattern_on_the_metrics_port_only() {
    let app = app_with_metrics().await;
    let city = app.city();
    app.add_stock(city, 20);
    let slot = app.add_slot(city, 1, 10, 0);

    let before = parse(&scrape_text(&app).await);
    assert_eq!(value(&before, "dosewise_bookings_total"), 0.0);

    // Three bookings through the API, one through the pages, one refused (already booked).
    for i in 1..=3 {
        book_code(&app, slot, i).await;
    }
    book_with_page(&app, slot, 4).await;
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 409);
    // One of them cancels.
    let code = book_code(&app, slot, 5).await;
    let res = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": code, "id_number": id_number(5)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get(&format!("/sites/{}", city.site)).await.status(),
        200
    );

    // The public port has no /metrics.
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 404);
    assert!(!res
        .text()
        .await
        .unwrap()
        .contains("dosewise_bookings_total"));

    let text = scrape_text(&app).await;
    let after = parse(&text);
    assert_eq!(app.count("appointments", "1=1"), 5);
    assert_eq!(
        value(&after, "dosewise_bookings_total") - value(&before, "dosewise_bookings_total"),
        5.0
    );
    assert_eq!(value(&after, "dosewise_cancellations_total"), 1.0);
    assert_eq!(value(&after, "dosewise_draw_entries_total"), 0.0);
    // Requests by route pattern, method and status; never by raw path.
    let count = |route: &str, method: &str, status: u16| {
        value(
            &after,
            &format!(
                "dosewise_http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(count("/api/v1/appointments", "POST", 201), 4.0);
    assert_eq!(count("/api/v1/appointments", "POST", 409), 1.0);
    assert_eq!(count("/slots/{id}/book", "POST", 303), 1.0);
    assert_eq!(count("/slots/{id}/book", "GET", 200), 1.0);
    assert_eq!(count("/sites/{id}", "GET", 200), 1.0);
    assert_eq!(count("(unmatched)", "GET", 404), 1.0);
    assert!(after.contains_key(
        "dosewise_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/appointments\",status=\"201\",le=\"+Inf\"}"
    ));
    for id in [city.site, slot] {
        assert!(!text.contains(&id.to_string()), "an id in a label:\n{text}");
    }
    // No resident's ID number, nor anything else they typed.
    for i in 1..=5 {
        assert!(!text.contains(&id_number(i)), "{text}");
        assert!(!text.contains(&format!("139{i:08}")), "{text}");
    }
    // The outbox depth is the database's: the confirmations and the cancellation, unsent.
    let queued = app.count("outbox", "status IN ('pending', 'sending')");
    assert!(queued > 0, "{queued}");
    assert_eq!(value(&after, "dosewise_outbox_depth"), queued as f64);
    assert_eq!(value(&after, "dosewise_outbox_failed"), 0.0);
    // Pool waits were measured on the read pool.
    assert!(value(&after, "dosewise_db_pool_wait_seconds_count{pool=\"read\"}") > 0.0);
    assert_eq!(
        value(&after, "dosewise_db_pool_timeouts_total{pool=\"read\"}"),
        0.0
    );
    if app.db.is_postgres() {
        assert!(!text.contains("dosewise_sqlite_writer"));
    } else {
        // Every write went through the writer, in groups of at least one.
        assert_eq!(value(&after, "dosewise_sqlite_writer_queue"), 0.0);
        let groups = value(&after, "dosewise_sqlite_writer_group_size_count");
        let jobs = value(&after, "dosewise_sqlite_writer_group_size_sum");
        assert!(groups >= 1.0 && jobs >= 6.0, "{groups} groups, {jobs} jobs");
    }

    // Once delivered, the outbox is empty again at the next scrape.
    app.deliver_mail().await;
    let later = parse(&scrape_text(&app).await);
    assert_eq!(value(&later, "dosewise_outbox_depth"), 0.0);
    assert_eq!(app.count("outbox", "status IN ('pending', 'sending')"), 0);
}

#[actix_web::test]
async fn draw_entries_are_counted_and_only_metrics_is_served_on_the_metrics_port() {
    let app = app_with_metrics().await;
    let city = app.city();
    app.add_stock(city, 10);
    let start = test_now() + Duration::days(3) + Duration::hours(1);
    let slot = crate::helpers::add_slot_at(&mut app.conn(), city, start, 5, 0);
    open_in_draw(&mut app.conn(), city, &[slot], test_now(), 10);
    for i in 1..=2 {
        assert_eq!(app.book_api(slot, 1, &resident(i)).await.status(), 202);
    }
    let samples = parse(&scrape_text(&app).await);
    assert_eq!(value(&samples, "dosewise_draw_entries_total"), 2.0);
    assert_eq!(value(&samples, "dosewise_bookings_total"), 0.0);
    assert_eq!(app.count("draw_entries", "1=1"), 2);
    // The metrics listener serves nothing else: not the pages, not the API.
    let base = app.metrics_address.clone().unwrap();
    for path in ["/", "/healthz", "/api/v1/towns", "/metrics/x"] {
        let res = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}

#[actix_web::test]
async fn without_the_setting_there_is_no_metrics_listener() {
    let app = crate::helpers::spawn_app().await;
    assert!(app.metrics_address.is_none());
    assert_eq!(app.get("/metrics").await.status(), 404);
}
