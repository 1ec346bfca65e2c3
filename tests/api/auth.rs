//! Staff login: Argon2id hashes, roles, slow wrong passwords, and logout that really ends the
//! session.

use crate::helpers::{add_user, client, csrf_in, spawn_app, Session};

#[actix_web::test]
async fn each_role_reaches_its_own_pages_and_no_others() {
    let app = spawn_app().await;
    let city = app.city();
    let nurse_id = add_user(&app, "nurse", "clinic", Some(city.site));
    let planner_id = add_user(&app, "planner", "bureau", None);
    let root_id = add_user(&app, "root", "admin", None);

    let anon = Session::new(&app);
    for path in ["/staff", "/bureau", "/admin"] {
        let res = anon.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], format!("/login?next={path}"));
    }

    let nurse = Session::new(&app);
    let res = nurse.login("nurse", "correct horse battery").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/staff");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(nurse.get("/staff").await.status(), 200);
    assert_eq!(nurse.get("/bureau").await.status(), 403);
    assert_eq!(nurse.get("/admin").await.status(), 403);

    let planner = Session::new(&app);
    assert_eq!(
        planner
            .login("planner", "correct horse battery")
            .await
            .status(),
        303
    );
    assert_eq!(planner.get("/bureau").await.status(), 200);
    assert_eq!(planner.get("/staff").await.status(), 403);

    let root = Session::new(&app);
    assert_eq!(
        root.login("root", "correct horse battery").await.status(),
        303
    );
    for path in ["/staff", "/bureau", "/admin"] {
        assert_eq!(root.get(path).await.status(), 200, "{path}");
    }

    // Logins are audited: one row per login in the database, naming the user, and shown as that
    // row on the admin's start page and the bureau's audit page.
    let admin = root.get_text("/admin").await;
    let audit = root.get_text("/bureau/audit").await;
    for (name, id) in [
        ("nurse", nurse_id),
        ("planner", planner_id),
        ("root", root_id),
    ] {
        assert_eq!(
            app.count(
                "audit_log",
                &format!("actor = '{name}' AND action = 'login' AND subject = 'user {id}'")
            ),
            1,
            "{name}'s login is in the audit log"
        );
        assert!(
            admin.contains(&format!("<td>{name} · login · user {id}</td>")),
            "{name}'s login on /admin: {admin}"
        );
        assert!(
            audit.contains(&format!(
                "<td>{name}</td><td>login</td><td>user {name}</td>"
            )),
            "{name}'s login on /bureau/audit: {audit}"
        );
    }
    assert_eq!(app.count("audit_log", "action = 'login'"), 3);
}

#[actix_web::test]
async fn a_wrong_password_is_refused_slowly_and_sets_no_session() {
    let app = spawn_app().await;
    add_user(&app, "planner", "bureau", None);
    let c = Session::new(&app);
    let started = std::time::Instant::now();
    let res = c.login("planner", "wrong").await;
    assert_eq!(res.status(), 401);
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|v| !v.to_str().unwrap().contains("dw_session")));
    assert!(res.text().await.unwrap().contains("用户名或密码不正确"));
    assert_eq!(c.login("nobody", "wrong").await.status(), 401);
    assert_eq!(c.get("/bureau").await.status(), 303);
    let stored: String = {
        use diesel::prelude::*;
        use dosewise::db::schema::users;
        users::table
            .select(users::password_hash)
            .first(&mut *app.conn())
            .unwrap()
    };
    assert!(stored.starts_with("$argon2id$"));
}

#[actix_web::test]
async fn after_logout_the_old_session_cookie_no_longer_works() {
    let app = spawn_app().await;
    add_user(&app, "planner", "bureau", None);
    let c = Session::new(&app);
    let res = c.login("planner", "correct horse battery").await;
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("dw_session="))
        .unwrap();
    let session = session.split(';').next().unwrap().to_string();
    let page = c.get_text("/bureau").await;
    let token = csrf_in(&page).unwrap();
    let res = c.post_raw("/logout", &[("csrf", token.as_str())]).await;
    assert_eq!(res.status(), 303);

    // Replay the old cookie from a fresh client: the session was revoked on the server.
    let replay = client()
        .get(format!("{}/bureau", app.address))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
    assert_eq!(app.count("sessions", "revoked_at IS NOT NULL"), 1);
}

#[actix_web::test]
async fn the_qr_code_link_leads_clinic_staff_to_the_check_in_page_after_login() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(0, 3, 0, 5);
    add_user(&app, "nurse", "clinic", Some(city.site));
    let booked: serde_json::Value = app
        .book_api(slot, 1, &crate::helpers::resident(1))
        .await
        .json()
        .await
        .unwrap();
    let code = booked["code"].as_str().unwrap();
    let nurse = Session::new(&app);
    let res = nurse.get(&format!("/staff/checkin/{code}")).await;
    assert_eq!(res.status(), 303);
    let to_login = res.headers()["location"].to_str().unwrap().to_string();
    assert!(to_login.starts_with("/login?next=/staff/checkin/"));
    let page = nurse.get_text(&to_login).await;
    let token = csrf_in(&page).unwrap();
    let res = nurse
        .post_raw(
            "/login",
            &[
                ("csrf", token.as_str()),
                ("username", "nurse"),
                ("password", "correct horse battery"),
                ("next", &format!("/staff/checkin/{code}")),
            ],
        )
        .await;
    assert_eq!(res.headers()["location"], format!("/staff/checkin/{code}"));
    let page = nurse.get_text(&format!("/staff/checkin/{code}")).await;
    assert!(page.contains("已预约"), "{page}");
    assert!(page.contains("**************"));
    assert!(!page.contains(&crate::helpers::id_number(1)));
}

#[actix_web::test]
async fn a_flood_of_wrong_passwords_does_not_starve_the_reads() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    let app = spawn_app().await;
    app.city();
    add_user(&app, "planner", "bureau", None);
    let page = app.get_text("/login").await;
    let token = csrf_in(&page).unwrap();
    // Warm up (the first wrong login also builds the hash used for unknown users).
    let warm = app
        .post_raw(
            "/login",
            &[("csrf", &token), ("username", "planner"), ("password", "x")],
        )
        .await;
    assert_eq!(warm.status(), 401);
    let towns = format!("{}/api/v1/towns", app.address);
    assert_eq!(app.client.get(&towns).send().await.unwrap().status(), 200);

    // 64 clients keep sending wrong passwords (for a real account and an unknown one)...
    let in_flight = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let logins = (0..64).map(|i| {
        let (app, token) = (&app, token.clone());
        let (in_flight, done) = (in_flight.clone(), done.clone());
        async move {
            let mut statuses = Vec::new();
            while !done.load(Ordering::SeqCst) {
                in_flight.fetch_add(1, Ordering::SeqCst);
                let user = if i % 2 == 0 { "planner" } else { "nobody" };
                let res = app
                    .post_raw(
                        "/login",
                        &[("csrf", &token), ("username", user), ("password", "wrong")],
                    )
                    .await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                statuses.push(res.status().as_u16());
            }
            statuses
        }
    });
    // ...while a resident's reads are timed.
    let reads = async {
        while in_flight.load(Ordering::SeqCst) < 64 {
            actix_web::rt::time::sleep(Duration::from_millis(1)).await;
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        let mut samples = Vec::new();
        for _ in 0..15 {
            let before = in_flight.load(Ordering::SeqCst);
            let started = Instant::now();
            let res = client().get(&towns).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap();
            let took = started.elapsed();
            let after = in_flight.load(Ordering::SeqCst);
            samples.push((took, before.min(after)));
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        done.store(true, Ordering::SeqCst);
        samples
    };
    let (statuses, samples) = futures::join!(futures::future::join_all(logins), reads);
    let statuses: Vec<u16> = statuses.into_iter().flatten().collect();
    assert!(statuses.len() >= 64, "{} logins", statuses.len());
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // The reads really ran during the flood: each with dozens of logins in flight.
    assert!(
        samples.iter().all(|(_, n)| *n >= 32),
        "reads did not overlap the logins: {samples:?}"
    );
    let mut times: Vec<Duration> = samples.iter().map(|(t, _)| *t).collect();
    times.sort();
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(150),
        "median read {median:?} during the login flood: {samples:?}"
    );
    assert_eq!(app.count("sessions", "1 = 1"), 0);
}

/// The staff of one clinic share one address. Logging in rightly never counts against it, so
/// eight of them logging in at once all get in; wrong passwords do count: after a burst of them
/// the address's next login waits (429 with `Retry-After`, no session made), right password or
/// not.
#[actix_web::test]
async fn a_clinic_s_staff_log_in_together_and_only_wrong_passwords_make_an_address_wait() {
    // Three wrong passwords a minute, in a burst of 3: the fourth within 20 s goes over.
    let app = crate::helpers::spawn_app_with_settings(|s| s.rate_login_per_minute = 3).await;
    let city = app.city();
    let names: Vec<String> = (1..=8).map(|i| format!("nurse{i}")).collect();
    for n in &names {
        add_user(&app, n, "clinic", Some(city.site));
    }
    let staff: Vec<Session> = names.iter().map(|_| Session::new(&app)).collect();
    let answers = futures::future::join_all(
        staff
            .iter()
            .zip(&names)
            .map(|(s, n)| s.login(n, crate::helpers::PASSWORD)),
    )
    .await;
    for (n, res) in names.iter().zip(answers) {
        assert_eq!(res.status(), 303, "{n}");
    }
    assert_eq!(app.count("sessions", "revoked_at IS NULL"), 8);

    let guesser = Session::new(&app);
    // The burst is told the password was wrong; the one that goes over it is told to wait.
    for i in 0..3 {
        let res = guesser.login("nurse1", &format!("wrong {i}")).await;
        assert_eq!(res.status(), 401, "wrong password {i}");
    }
    assert_eq!(guesser.login("nurse1", "wrong 3").await.status(), 429);
    let colleague = Session::new(&app);
    let res = colleague.login("nurse1", crate::helpers::PASSWORD).await;
    assert_eq!(
        res.status(),
        429,
        "the address now waits, right password or not"
    );
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=20).contains(&wait),
        "one wrong password in 20 s: {wait}"
    );
    assert_eq!(
        app.count("sessions", "revoked_at IS NULL"),
        8,
        "no session made"
    );
}

/// Wrong passwords sent all at once learn no more than the limit allows: each is counted when
/// its password has been checked, and every answer after the one that went over the limit is a
/// 429 (no session), whatever its password.
#[actix_web::test]
async fn wrong_passwords_sent_together_get_no_more_answers_than_the_limit() {
    let app = crate::helpers::spawn_app_with_settings(|s| s.rate_login_per_minute = 3).await;
    let city = app.city();
    add_user(&app, "nurse", "clinic", Some(city.site));
    let guessers: Vec<Session> = (0..20).map(|_| Session::new(&app)).collect();
    let answers = futures::future::join_all(guessers.iter().enumerate().map(|(i, s)| {
        s.login(
            "nurse",
            if i == 19 {
                crate::helpers::PASSWORD
            } else {
                "guess"
            },
        )
    }))
    .await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    let told = statuses.iter().filter(|s| **s != 429).count();
    assert!(
        statuses.iter().all(|s| [303, 401, 429].contains(s)),
        "{statuses:?}"
    );
    // At most the burst of 3 and the one that went over it (the right one, if it came first)
    // got an answer about their password.
    assert!(told <= 5, "{told} answered: {statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let sessions = app.count("sessions", "revoked_at IS NULL");
    assert_eq!(
        sessions,
        i64::from(statuses.contains(&303)),
        "a session only for an answered right password"
    );
}
