//! The vaccination record: the resident's page with its signed payload, `/verify` (valid,
//! changed, another key), the published key, `dosewise verify-record`, and the check done by the
//! page itself with the network off, in Chromium.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dosewise::record::{Record, RecordKey};

use crate::cli::{dosewise, text};
use crate::helpers::{give_dose, id_number, resident_form, run_in_chromium, spawn_app, TestApp};

/// Book a first dose through the form (this client gets the appointment cookie) and return the
/// booking code.
async fn booked(app: &TestApp, city: crate::helpers::City) -> String {
    let slot = app.add_slot(city, 2, 3, 0);
    app.add_stock(city, 10);
    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    let mut form = resident_form(1);
    form.push(("csrf".into(), token));
    form.push(("dose_number".into(), "1".into()));
    let res = app.post_fields(&format!("/slots/{slot}/book"), &form).await;
    assert_eq!(res.status(), 303);
    let page = app.get_text("/appointment").await;
    page.split("data-testid=\"booking-code\">").nth(1).unwrap()[..9].to_string()
}

fn payload_in(page: &str) -> String {
    page.split("data-payload=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a payload on the record page")
        .to_string()
}

/// The payload with one byte of its record changed (the lot `LOT1` becomes `LOT2`), re-encoded
/// under the original signature.
fn changed(payload: &str) -> String {
    let parts: Vec<&str> = payload.split('.').collect();
    let body = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert!(body.contains("LOT1"), "{body}");
    let body = body.replacen("LOT1", "LOT2", 1);
    format!("DW1.{}.{}", URL_SAFE_NO_PAD.encode(body), parts[2])
}

fn record_of(payload: &str) -> Record {
    let body = payload.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
}

async fn verify(app: &TestApp, payload: &str) -> String {
    let token = app.csrf("/verify").await;
    let res = app
        .post_fields(
            "/verify",
            &[
                ("csrf".into(), token),
                ("payload".into(), payload.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    // The verdict (the form above it carries every verdict's words for the page's script).
    let page = res.text().await.unwrap();
    page.split("data-testid=\"verdict\">")
        .nth(1)
        .expect("a verdict section")
        .to_string()
}

#[actix_web::test]
async fn a_record_lists_the_doses_signed_and_fails_once_one_byte_is_changed() {
    let app = spawn_app().await;
    let city = app.city();
    booked(&app, city).await;
    let empty = app.get_text("/record").await;
    assert!(
        empty.contains("还没有接种记录") && !empty.contains("data-payload"),
        "{empty}"
    );

    give_dose(&app, city, &id_number(1), 1, 0);
    let page = app.get_text("/record").await;
    let id = id_number(1);
    assert!(!page.contains(&id), "never the full ID number");
    assert!(page.contains(&format!("**************{}", &id[14..])));
    for shown in ["疫苗接种记录", "测试疫苗", "LOT1", "测试接种点", "3月4日"] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    let payload = payload_in(&page);
    let rec = record_of(&payload);
    assert_eq!(rec.id_last4, &id[14..]);
    assert!(!payload.contains(&id) && !serde_json::to_string(&rec).unwrap().contains(&id));
    assert_eq!(rec.doses.len(), 1);
    assert_eq!(
        (rec.doses[0].number, rec.doses[0].lot.as_str()),
        (1, "LOT1")
    );

    let valid = verify(&app, &payload).await;
    assert!(valid.contains("有效：由本市签发，内容未被改动"), "{valid}");
    assert!(valid.contains("LOT1") && valid.contains(&id[14..]));
    let tampered = verify(&app, &changed(&payload)).await;
    assert!(
        tampered.contains("无效：签发后内容被改动过") && !tampered.contains("有效：由本市"),
        "{tampered}"
    );
    let other = RecordKey::from_seed(&[9; 32]).sign(&rec);
    let foreign = verify(&app, &other).await;
    assert!(foreign.contains("无效：不是本市的密钥签发的"), "{foreign}");
    let junk = verify(&app, "hello").await;
    assert!(junk.contains("这不是接种记录二维码"), "{junk}");

    // The published key is the one that signed it.
    let key = app.get_text("/record/key").await;
    let ours = RecordKey::from_seed(&app.state.keys.record_seed);
    assert_eq!(key.trim(), ours.public());
    assert_eq!(rec.key_id, ours.key_id());

    // The command line: with the published key, and with the database's own.
    let url = app.db.url.clone();
    let ok = dosewise(&url, &["verify-record", "--key", key.trim(), &payload], "");
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("valid: 测试") && text(&ok).contains("LOT1"));
    let own = dosewise(&url, &["verify-record"], &payload);
    assert!(own.status.success(), "{}", text(&own));
    let bad = dosewise(&url, &["verify-record", &changed(&payload)], "");
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("tampered"));
    let foreign = dosewise(&url, &["verify-record", &other], "");
    assert_eq!(foreign.status.code(), Some(1));
    assert!(text(&foreign).contains("other key"));
}

#[actix_web::test]
async fn the_verify_page_checks_a_record_in_chromium_with_the_network_off() {
    let app = spawn_app().await;
    let city = app.city();
    let code = booked(&app, city).await;
    give_dose(&app, city, &id_number(1), 1, 0);
    let payload = payload_in(&app.get_text("/record").await);
    let stdout = run_in_chromium(
        &app,
        "record.mjs",
        &[payload.clone(), changed(&payload), code, id_number(1)],
    )
    .await;
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
}

/// In English the record page names the vaccine and site in English, while the record it signs
/// keeps the names as stored (a checker anywhere reads the same words), and so does `/verify`.
#[actix_web::test]
async fn the_record_page_names_vaccine_and_site_in_its_language_and_signs_the_stored_names() {
    let app = spawn_app().await;
    let city = app.city();
    booked(&app, city).await;
    let (site_zh, product_zh) =
        app.name_in_english(city, ["Test Clinic", "1 Test Road", "Test Vaccine"]);
    give_dose(&app, city, &id_number(1), 1, 0);
    let en = app.get_text_in("/record", "en").await;
    let table = en.split("data-payload").next().unwrap();
    assert!(
        table.contains("Test Clinic") && table.contains("Test Vaccine"),
        "{en}"
    );
    assert!(
        !table.contains(&site_zh) && !table.contains(&product_zh),
        "{en}"
    );
    let rec = record_of(&payload_in(&en));
    assert_eq!(
        (rec.doses[0].product.as_str(), rec.doses[0].site.as_str()),
        (product_zh.as_str(), site_zh.as_str())
    );
    let zh = app.get_text("/record").await;
    assert!(zh.contains(&site_zh) && zh.contains(&product_zh));
}
