//! One resident journey in Debian's headless Chromium, driven by playwright-core over the
//! DevTools protocol (tests/browser/journey.mjs), on a phone-sized and a desktop window.
//! Screenshots of each step land in target/screenshots/.

use std::process::Command;

use dosewise::demo::{generate_city, CityOptions};

use crate::helpers::{spawn_app, test_now};

#[actix_web::test]
async fn a_resident_books_in_a_real_browser_on_a_phone_and_a_desktop() {
    assert!(
        std::path::Path::new("tests/browser/node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/browser` first (scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Debian's chromium is needed: apt-get install chromium (scripts/test.sh does)"
    );
    let app = spawn_app().await;
    let opts = CityOptions {
        towns: 3,
        sites_per_town: 2,
        days: 5,
        seats_per_slot: 6,
        residents_in_series: 3,
        waiting_per_town: 5,
        stock_days: 2,
        users: false,
    };
    generate_city(
        app.database(),
        &app.state.keys,
        app.state.settings.time_zone,
        test_now(),
        opts,
    )
    .unwrap();
    let dir = format!(
        "target/screenshots/{}",
        if app.db.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    let address = app.address.clone();
    let out = actix_web::web::block(move || {
        Command::new("node")
            .args(["tests/browser/journey.mjs", &address, &dir])
            .env("CHROMIUM", chromium)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser journey failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert_eq!(
        app.count("appointments", "status = 'booked' AND dose_number = 1"),
        2,
        "one booking per run"
    );
}
