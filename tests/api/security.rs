//! Security headers, CSRF tokens on every form, and resident ID numbers kept out of storage,
//! pages and URLs.

use crate::helpers::{id_number, resident, spawn_app};

#[actix_web::test]
async fn every_page_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/find", "/login", "/nope", "/api/v1/towns"] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(h.contains_key("x-request-id"), "{path}");
    }
}

#[actix_web::test]
async fn every_form_posts_a_csrf_token() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 1, 3, 0);
    app.add_stock(city, 3);
    let mut pages = vec![
        app.get_text(&format!("/slots/{slot}/book")).await,
        app.get_text("/find").await,
        app.get_text("/login").await,
        app.get_text(&format!("/towns/{}", city.town)).await,
    ];
    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    let mut form = crate::helpers::resident_form(1);
    form.push(("csrf".into(), token));
    form.push(("dose_number".into(), "1".into()));
    app.client
        .post(format!("{}/slots/{slot}/book", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    pages.push(app.get_text("/appointment").await);
    let mut forms = 0;
    for page in &pages {
        for chunk in page.split("<form").skip(1) {
            let form = &chunk[..chunk.find("</form>").unwrap()];
            if form.contains("method=\"post\"") {
                forms += 1;
                assert!(
                    form.contains("name=\"csrf\""),
                    "form without a token: {form}"
                );
            }
        }
    }
    assert!(forms >= 4, "{forms}");
}

#[actix_web::test]
async fn id_numbers_are_stored_only_as_a_keyed_hash_and_the_last_four() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 1, 3, 0);
    app.add_stock(city, 3);
    assert_eq!(app.book_api(slot, 1, &resident(5)).await.status(), 201);
    let id = id_number(5);
    assert_eq!(
        app.count("residents", &format!("id_last4 = '{}'", &id[14..])),
        1
    );
    for (table, col) in [
        ("residents", "id_hash"),
        ("residents", "name"),
        ("residents", "id_last4"),
        ("audit_log", "detail"),
    ] {
        assert_eq!(
            app.count(table, &format!("{col} LIKE '%{}%'", &id[..14])),
            0,
            "{table}.{col}"
        );
    }
    let hash: String = {
        use diesel::prelude::*;
        use dosewise::db::schema::residents;
        residents::table
            .select(residents::id_hash)
            .first(&mut *app.conn())
            .unwrap()
    };
    assert_eq!(hash.len(), 64);
    assert_ne!(
        hash,
        dosewise::security::sha256_hex(&id),
        "keyed, not a plain hash"
    );
}

/// The value of cookie `name` set by a response.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

#[actix_web::test]
async fn a_forged_csrf_cookie_and_form_pair_is_refused_and_writes_nothing() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 5, 0);
    app.add_stock(city, 10);
    let path = format!("{}/slots/{slot}/book", app.address);
    let mut form = crate::helpers::resident_form(1);
    form.push(("dose_number".into(), "1".into()));
    // An attacker who can plant a cookie (a sibling subdomain, plain HTTP) picks any value of
    // the right shape and posts it in the form too: the server did not make it, so it fails.
    let well_formed = dosewise::security::random_token();
    for fake in ["a".repeat(64), "0".repeat(64), well_formed] {
        let mut forged = form.clone();
        forged.push(("csrf".into(), fake.clone()));
        let res = crate::helpers::client()
            .post(&path)
            .header("cookie", format!("dw_csrf={fake}"))
            .form(&forged)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{fake}");
        assert!(res.text().await.unwrap().contains("表单已过期"));
    }
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.count("residents", "1=1"), 0);
    assert_eq!(app.slot_counts(slot), (0, 0, 5));
    // The same form with the token the server gave this browser goes through.
    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    form.push(("csrf".into(), token));
    let res = app.client.post(&path).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.slot_counts(slot), (1, 0, 5));
}

#[actix_web::test]
async fn the_csrf_token_from_before_login_no_longer_works_after_it() {
    let app = spawn_app().await;
    let name = "planner";
    dosewise::models::user::insert(
        &mut app.conn(),
        &dosewise::models::NewUser {
            id: dosewise::ids::new_id(),
            username: name.into(),
            password_hash: dosewise::security::hash_password("correct horse battery").unwrap(),
            role: "bureau".into(),
            site_id: None,
            active: true,
            created_at: crate::helpers::test_now(),
        },
    )
    .unwrap();
    let c = crate::helpers::client();
    let before = crate::helpers::csrf_in(
        &c.get(format!("{}/login", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let res = c
        .post(format!("{}/login", app.address))
        .form(&[
            ("csrf", before.as_str()),
            ("username", name),
            ("password", "correct horse battery"),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let session = set_cookie(&res, "dw_session").expect("a session");
    // The login rotates the token.
    let rotated = set_cookie(&res, "dw_csrf").expect("a new CSRF cookie at login");
    assert_ne!(rotated, before);

    // The old token, in the form only or in cookie and form (as an attacker who planted it
    // before the login would send it), no longer works: the session is not ended.
    let res = c
        .post(format!("{}/logout", app.address))
        .form(&[("csrf", before.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = crate::helpers::client()
        .post(format!("{}/logout", app.address))
        .header("cookie", format!("dw_session={session}; dw_csrf={before}"))
        .form(&[("csrf", before.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("sessions", "revoked_at IS NULL"), 1);
    assert_eq!(
        c.get(format!("{}/bureau", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Another session's valid token does not work for this one either.
    let other = crate::helpers::client();
    let other_token = crate::helpers::csrf_in(
        &other
            .get(format!("{}/login", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let res = crate::helpers::client()
        .post(format!("{}/logout", app.address))
        .header(
            "cookie",
            format!("dw_session={session}; dw_csrf={other_token}"),
        )
        .form(&[("csrf", other_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("sessions", "revoked_at IS NULL"), 1);

    // The token of a page seen after login works.
    let page = c
        .get(format!("{}/bureau", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let after = crate::helpers::csrf_in(&page).unwrap();
    assert_eq!(after, rotated);
    let res = c
        .post(format!("{}/logout", app.address))
        .form(&[("csrf", after.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("sessions", "revoked_at IS NOT NULL"), 1);
}
