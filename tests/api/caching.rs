//! HEAD answered like GET; ETag and 304 on the cacheable reads; the one-second read cache never
//! hides this process's own writes.

use serde_json::Value;

use crate::helpers::{resident, spawn_app};

#[actix_web::test]
async fn head_is_answered_like_get_without_a_body() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 5);
    app.add_slot(city, 1, 5, 0);
    for path in [
        "/",
        "/static/app.css",
        &format!("/sites/{}", city.site),
        "/healthz",
    ] {
        let get = app.get(path).await;
        assert_eq!(get.status(), 200, "GET {path}");
        let length = get.bytes().await.unwrap().len();
        let head = app
            .client
            .head(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        let said = head
            .headers()
            .get("content-length")
            .map(|v| v.to_str().unwrap().parse::<usize>().unwrap());
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
        if path != "/" {
            // The home page mints a CSRF token per visitor, so its length may differ.
            assert_eq!(said, Some(length), "HEAD {path} says the GET's length");
        }
    }
}

#[actix_web::test]
async fn availability_and_the_day_page_revalidate_with_etags_and_show_a_booking_at_once() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 5);
    let slot = app.add_slot(city, 1, 5, 0);
    let day = (crate::helpers::test_now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let api = format!("/api/v1/availability?site={}&date={day}", city.site);
    let page = format!("/sites/{}?date={day}", city.site);
    for path in [&api, &page, &"/static/app.css".to_string()] {
        let first = app.get(path).await;
        assert_eq!(first.status(), 200);
        let tag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(tag.starts_with("W/\""), "{tag}");
        let again = app
            .client
            .get(format!("{}{path}", app.address))
            .header("If-None-Match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), tag);
        assert!(again.bytes().await.unwrap().is_empty());
    }
    assert!(app.get_text(&page).await.contains("剩余 5 个名额"));
    let before: Value = app.get(&api).await.json().await.unwrap();
    assert_eq!(before["slots"][0]["free_first_dose"], 5);
    let tag = app.get(&api).await.headers()["etag"].clone();

    // A booking in this process shows at once, inside the cache's second.
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    let after = app
        .client
        .get(format!("{}{api}", app.address))
        .header("If-None-Match", tag)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200, "the old version is no longer current");
    let after: Value = after.json().await.unwrap();
    assert_eq!(after["slots"][0]["free_first_dose"], 4);
    let html = app.get_text(&page).await;
    assert!(html.contains("剩余 4 个名额"), "{html}");
}

#[actix_web::test]
async fn a_script_booking_from_one_address_is_slowed_with_429_and_gains_nothing() {
    let app = crate::helpers::spawn_app_with_settings(|s| {
        s.rate_book_per_minute = 6;
    })
    .await;
    let city = app.city();
    app.add_stock(city, 100);
    let slot = app.add_slot(city, 1, 100, 0);
    // 60 requests at once from 127.0.0.1.
    let people: Vec<Value> = (0..60).map(|i| resident(100 + i)).collect();
    let tries = people.iter().map(|who| app.book_api(slot, 1, who));
    let answers = futures::future::join_all(tries).await;
    let mut booked = 0;
    let mut limited = 0;
    for res in answers {
        match res.status().as_u16() {
            201 => booked += 1,
            429 => {
                let wait: u64 = res.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&wait), "{wait}");
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["code"], "rate_limited", "{body}");
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(booked <= 3, "a burst of at most 3 passes, not {booked}");
    assert_eq!(booked + limited, 60);
    assert_eq!(app.count("appointments", "1=1"), booked);
    assert_eq!(app.slot_counts(slot).0, booked as i32);
    // Another address is not slowed by it.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let res = other
        .post(format!("{}/api/v1/appointments", app.address))
        .json(&serde_json::json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": resident(999)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // The page form is limited too, with a page in the visitor's language.
    let page = app
        .client
        .post(format!("{}/slots/{slot}/book", app.address))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.unwrap().contains("请求过于频繁"));
}

#[actix_web::test]
async fn a_booking_code_tried_with_wrong_id_numbers_is_slowed_whoever_asks() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let slot = app.add_slot(city, 1, 10, 0);
    let mut codes = Vec::new();
    for i in [1, 2] {
        let res = app.book_api(slot, 1, &resident(i)).await;
        assert_eq!(res.status(), 201);
        let v: Value = res.json().await.unwrap();
        codes.push(v["code"].as_str().unwrap().to_string());
    }
    let lookup = |code: &str, id: &str| {
        app.client
            .post(format!("{}/api/v1/appointments/lookup", app.address))
            .json(&serde_json::json!({"code": code, "id_number": id}))
            .send()
    };
    let wrong = crate::helpers::id_number(77);
    for _ in 0..3 {
        assert_eq!(lookup(&codes[0], &wrong).await.unwrap().status(), 404);
    }
    // Now even the right ID number waits, from any address.
    let slowed = lookup(&codes[0], &crate::helpers::id_number(1))
        .await
        .unwrap();
    assert_eq!(slowed.status(), 429);
    let wait: u64 = slowed.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(wait, 2);
    let body: Value = slowed.json().await.unwrap();
    assert_eq!(body["code"], "too_many_attempts", "{body}");
    // The page form says so in the resident's language.
    let token = app.csrf("/find").await;
    let page = app
        .post_raw(
            "/find",
            &[
                ("csrf", token.as_str()),
                ("code", codes[0].as_str()),
                ("id_number", crate::helpers::id_number(1).as_str()),
            ],
        )
        .await;
    assert_eq!(page.status(), 429);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("输错身份证号的次数过多"));
    // Another code is not slowed, and after the wait the right answer is served and clears it.
    let other = lookup(&codes[1], &crate::helpers::id_number(2))
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let ok = lookup(&codes[0], &crate::helpers::id_number(1))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let again = lookup(&codes[0], &wrong).await.unwrap();
    assert_eq!(again.status(), 404, "the count started again");
}

/// Every look-up by code counts against the one per-address allowance of look-ups, whichever
/// form or API it comes through: once an address has spent it on `/find`, the draw entry's,
/// the household's and the API's look-ups answer 429 too (the entry's was left out before).
#[actix_web::test]
async fn every_look_up_by_code_shares_the_address_s_look_up_limit() {
    let app = crate::helpers::spawn_app_with_settings(|s| s.rate_lookup_per_minute = 6).await;
    let wrong = crate::helpers::id_number(77);
    let find = |path: &'static str, code: &'static str| {
        let app = &app;
        let wrong = wrong.clone();
        async move {
            let token = app.csrf(path).await;
            let form = [
                ("csrf", token.as_str()),
                ("code", code),
                ("id_number", &wrong),
            ];
            app.post_raw(path, &form).await.status()
        }
    };
    // A burst of a third of the minute's 6, at least 3: unknown codes, each its own.
    for code in ["AAAA2222", "BBBB3333", "CCCC4444"] {
        assert_eq!(find("/find", code).await, 404, "{code}");
    }
    for path in ["/entry/find", "/household/find", "/find"] {
        assert_eq!(find(path, "DDDD5555").await, 429, "{path}");
    }
    let api = app
        .client
        .post(format!("{}/api/v1/entries/lookup", app.address))
        .json(&serde_json::json!({"code": "EEEE6666", "id_number": wrong}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 429);
}
