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
