//! Security headers, CSRF tokens on every form, and resident ID numbers kept out of storage,
//! pages and URLs.

use diesel::prelude::*;
use diesel::sql_types::Text;
use dosewise::db::AnyConnection;

use crate::helpers::{count_where, id_number, resident, resident_form, spawn_app};

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
    let (city, slot) = app.city_with_slot(1, 3, 0, 3);
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
    app.post_fields(&format!("/slots/{slot}/book"), &form).await;
    pages.push(app.get_text("/appointment").await);
    pages.push(app.get_text("/appointment/cancel").await);
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

/// Every column of every table of the database, read from its catalogue (`sqlite_master` and
/// `pragma_table_info`, or PostgreSQL's `information_schema.columns`).
fn every_column(c: &mut AnyConnection) -> Vec<(String, String)> {
    #[derive(QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        t: String,
        #[diesel(sql_type = Text)]
        c: String,
    }
    let sql = match c {
        AnyConnection::Sqlite(_) => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid"
        }
        AnyConnection::Postgresql(_) => {
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        }
    };
    diesel::sql_query(sql)
        .load::<Col>(c)
        .unwrap()
        .into_iter()
        .map(|x| (x.t, x.c))
        .collect()
}

/// The `table.column`s whose value (as text) contains `needle`.
fn columns_containing(c: &mut AnyConnection, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (table, col) in every_column(c) {
        let n = count_where(
            c,
            &format!("\"{table}\""),
            &format!("CAST(\"{col}\" AS TEXT) LIKE '%{needle}%'"),
        );
        if n > 0 {
            found.push(format!("{table}.{col}"));
        }
    }
    found
}

#[actix_web::test]
async fn id_numbers_are_stored_only_as_a_keyed_hash_and_the_last_four() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_slot(city, 3, 0, 0);
    // Everything that takes an ID number: the waiting list (while no seat is free),
    // the API, the booking form, the lookup, a move, a cancellation and the mail about them.
    let token = app.csrf(&format!("/towns/{}", city.town)).await;
    let mut form = resident_form(7);
    form.push(("csrf".into(), token));
    let res = app
        .post_fields(&format!("/towns/{}/wait", city.town), &form)
        .await;
    assert_eq!(res.status(), 200);
    let waited = res.text().await.unwrap();
    let slot = app.add_slot(city, 1, 3, 0);
    let other = app.add_slot(city, 2, 3, 0);
    app.add_stock(city, 3);
    let res = app.book_api(slot, 1, &resident(5)).await;
    assert_eq!(res.status(), 201);
    let location = format!("{:?}", res.headers().get("location"));
    let body = res.text().await.unwrap();
    assert!(!body.contains(&id_number(5)), "booking answer: {body}");
    assert!(!location.contains(&id_number(5)));
    let booked: serde_json::Value = serde_json::from_str(&body).unwrap();
    let code = booked["code"].as_str().unwrap().to_string();

    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    let mut form = resident_form(6);
    form.push(("csrf".into(), token));
    form.push(("dose_number".into(), "1".into()));
    let res = app
        .client
        .post(format!("{}/slots/{slot}/book", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let mut pages = vec![
        waited,
        format!("{:?}", res.headers()),
        res.text().await.unwrap(),
        app.get_text("/appointment").await,
    ];
    let token = app.csrf("/appointment/cancel").await;
    let res = app
        .post_raw(
            "/appointment/move",
            &[("csrf", &token), ("slot_id", &other.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
    pages.push(app.get_text("/appointment").await);
    let confirm = app.get_text("/appointment/cancel").await;
    let token = crate::helpers::csrf_in(&confirm).unwrap();
    pages.push(confirm);
    assert_eq!(
        app.post_raw("/appointment/cancel", &[("csrf", &token)])
            .await
            .status(),
        303
    );

    let token = app.csrf("/find").await;
    let res = app
        .post_raw(
            "/find",
            &[
                ("csrf", &token),
                ("code", &code),
                ("id_number", &id_number(5)),
            ],
        )
        .await;
    pages.push(format!("{:?}", res.headers()));
    pages.push(res.text().await.unwrap());
    let page = app.get_text("/appointment").await;
    assert!(
        page.contains(&format!("{}-{}", &code[..4], &code[4..])),
        "the lookup found the appointment"
    );
    pages.push(page);

    app.deliver_mail().await;
    let mail: Vec<String> = app
        .sent_mail()
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert!(mail.len() >= 3, "booked, moved, cancelled: {}", mail.len());

    assert_eq!(app.count("residents", "1=1"), 3);
    let mut c = app.conn();
    let columns = every_column(&mut c);
    assert!(columns.len() > 50, "{columns:?}");
    assert!(columns.contains(&("audit_log".into(), "detail".into())));
    // The scan finds what is stored in the clear (so an empty result means something).
    let clear = columns_containing(&mut c, "r6@example.com");
    assert!(
        clear.contains(&"residents.email".to_string())
            && clear.contains(&"outbox.recipient".to_string()),
        "{clear:?}"
    );
    for i in [5, 6, 7] {
        let id = id_number(i);
        assert_eq!(
            count_where(&mut c, "residents", &format!("id_last4 = '{}'", &id[14..])),
            1
        );
        assert_eq!(
            columns_containing(&mut c, &id),
            Vec::<String>::new(),
            "resident {i}'s ID number is stored in the clear"
        );
        for page in pages.iter().chain(&mail) {
            assert!(!page.contains(&id), "resident {i}'s ID number shown");
        }
    }
    drop(c);
    let hash: String = {
        use dosewise::db::schema::residents;
        residents::table
            .select(residents::id_hash)
            .filter(residents::id_last4.eq(&id_number(5)[14..]))
            .first(&mut *app.conn())
            .unwrap()
    };
    assert_eq!(hash.len(), 64);
    assert_ne!(
        hash,
        dosewise::security::sha256_hex(&id_number(5)),
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
    let (_, slot) = app.city_with_slot(2, 5, 0, 10);
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
    let c = crate::helpers::Session::new(&app);
    let before = crate::helpers::csrf_in(&c.get_text("/login").await).unwrap();
    let res = c
        .post_raw(
            "/login",
            &[
                ("csrf", before.as_str()),
                ("username", name),
                ("password", "correct horse battery"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let session = set_cookie(&res, "dw_session").expect("a session");
    // The login rotates the token.
    let rotated = set_cookie(&res, "dw_csrf").expect("a new CSRF cookie at login");
    assert_ne!(rotated, before);

    // The old token, in the form only or in cookie and form (as an attacker who planted it
    // before the login would send it), no longer works: the session is not ended.
    let res = c.post_raw("/logout", &[("csrf", before.as_str())]).await;
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
    assert_eq!(c.get("/bureau").await.status(), 200);
    // Another session's valid token does not work for this one either.
    let other = crate::helpers::Session::new(&app);
    let other_token = crate::helpers::csrf_in(&other.get_text("/login").await).unwrap();
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
    let page = c.get_text("/bureau").await;
    let after = crate::helpers::csrf_in(&page).unwrap();
    assert_eq!(after, rotated);
    let res = c.post_raw("/logout", &[("csrf", after.as_str())]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("sessions", "revoked_at IS NOT NULL"), 1);
}

/// Every form a visitor can post without logging in goes through the same check: without this
/// browser's token, or with one the server did not make, each is refused (403, the form has
/// expired) and nothing is written, though the browser holds an appointment's grant, so the
/// forms behind one would otherwise act.
#[actix_web::test]
async fn every_public_form_refuses_a_post_without_this_browser_s_token_and_writes_nothing() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(2, 5, 0, 10);
    let other = app.add_slot(city, 3, 5, 0);
    crate::helpers::add_user(&app, "desk", "clinic", Some(city.site));
    let mut booked = resident_form(1);
    booked.push(("dose_number".into(), "1".into()));
    booked.push((
        "csrf".into(),
        app.csrf(&format!("/slots/{slot}/book")).await,
    ));
    let res = app
        .post_fields(&format!("/slots/{slot}/book"), &booked)
        .await;
    assert_eq!(
        res.status(),
        303,
        "the booking that grants this browser its appointment"
    );

    let tables = [
        "residents",
        "appointments",
        "waiting_list",
        "sessions",
        "households",
        "household_members",
        "audit_log",
        "outbox",
    ];
    let snapshot = || {
        let counts: Vec<i64> = tables.iter().map(|t| app.count(t, "1=1")).collect();
        (counts, app.slot_counts(slot), app.slot_counts(other))
    };
    let before = snapshot();
    let id = id_number(2);
    let person: Vec<(&str, &str)> = vec![
        ("name", "王小明"),
        ("id_number", &id),
        ("phone", "13800138002"),
        ("email", "w2@example.com"),
        ("dose_number", "1"),
    ];
    let other_id = other.to_string();
    let password = crate::helpers::PASSWORD;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/login".into(),
            vec![("username", "desk"), ("password", password)],
        ),
        ("/logout".into(), vec![]),
        ("/verify".into(), vec![("payload", "DW1.x.y")]),
        (format!("/slots/{other}/book"), person.clone()),
        (format!("/towns/{}/wait", city.town), person.clone()),
        ("/appointment/cancel".into(), vec![]),
        ("/appointment/move".into(), vec![("slot_id", &other_id)]),
        (
            "/household/members".into(),
            vec![("name", "王小红"), ("id_number", &id)],
        ),
        (
            "/household/book".into(),
            vec![("slot_id", &other_id), ("member", "1")],
        ),
        (
            "/find".into(),
            vec![("code", "7K3Q9MZD"), ("id_number", &id)],
        ),
        (
            "/entry/find".into(),
            vec![("code", "7K3Q9MZD"), ("id_number", &id)],
        ),
        (
            "/household/find".into(),
            vec![("code", "7K3Q9MZD"), ("id_number", &id)],
        ),
    ];
    let forged = "0".repeat(64);
    for (path, fields) in &forms {
        let mut with_forged = fields.clone();
        with_forged.push(("csrf", &forged));
        for form in [fields, &with_forged] {
            let res = app.post_raw(path, form).await;
            assert_eq!(res.status(), 403, "{path} {form:?}");
            let body = res.text().await.unwrap();
            assert!(body.contains("表单已过期"), "{path}: {body}");
        }
    }
    assert_eq!(snapshot(), before, "a refused form wrote something");
    // The grant was live all along: with the token, the cancel goes through.
    let token = app.csrf("/appointment/cancel").await;
    let res = app
        .post_raw("/appointment/cancel", &[("csrf", &token)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.slot_counts(slot).0, 0, "the booking is cancelled");
}
