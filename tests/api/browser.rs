//! One resident journey in Debian's headless Chromium, driven by playwright-core over the
//! DevTools protocol (tests/browser/journey.mjs), on a phone-sized and a desktop window.
//! Screenshots of each step land in target/screenshots/.

use dosewise::demo::CityOptions;

use crate::helpers::{run_in_chromium, spawn_app};

#[actix_web::test]
async fn a_resident_books_in_a_real_browser_on_a_phone_and_a_desktop() {
    let app = spawn_app().await;
    app.demo_city(CityOptions {
        towns: 3,
        sites_per_town: 2,
        days: 5,
        residents_in_series: 3,
        waiting_per_town: 5,
        users: false,
        ..CityOptions::demo()
    });
    let stdout = run_in_chromium(&app, "journey.mjs", &[]).await;
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert_eq!(
        app.count("appointments", "status = 'booked' AND dose_number = 1"),
        2,
        "one booking per run"
    );
}
