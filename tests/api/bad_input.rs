//! Bad input gets a clear 4xx page or JSON, never a 500, and writes nothing.

use serde_json::{json, Value};

use crate::helpers::{id_number, resident, spawn_app};

#[actix_web::test]
async fn malformed_booking_forms_get_their_4xx_page_and_write_nothing() {
    let app = spawn_app().await;
    let (_, slot) = app.city_with_slot(2, 5, 0, 10);
    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    let good_id = id_number(1);
    let mut wrong_check = good_id.clone();
    let last = wrong_check.pop().unwrap();
    wrong_check.push(if last == '0' { '1' } else { '0' });
    let huge = "名".repeat(6000);
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "wrong check digit",
            vec![("id_number", wrong_check)],
            422,
            "校验位",
        ),
        (
            "impossible birth date",
            vec![("id_number", "110105199002300010".into())],
            422,
            "出生日期",
        ),
        (
            "short id",
            vec![("id_number", "1101051990".into())],
            422,
            "18 位",
        ),
        (
            "html in name",
            vec![("name", "<script>alert(1)</script>".into())],
            422,
            "姓名只能",
        ),
        (
            "sql in name",
            vec![("name", "x'); DROP TABLE residents;--".into())],
            422,
            "姓名只能",
        ),
        ("empty name", vec![("name", "".into())], 422, "请填写姓名"),
        ("bad phone", vec![("phone", "12345".into())], 422, "11 位"),
        (
            "bad email",
            vec![("email", "not-an-email".into())],
            422,
            "电子邮箱",
        ),
        ("bad dose", vec![("dose_number", "abc".into())], 422, "剂次"),
        ("huge body", vec![("name", huge)], 413, "太大"),
    ];
    for (what, overrides, status, text) in cases {
        let mut form: Vec<(&str, String)> = vec![
            ("csrf", token.clone()),
            ("name", "王小明".into()),
            ("id_number", good_id.clone()),
            ("phone", "13800138000".into()),
            ("email", "w@example.com".into()),
            ("dose_number", "1".into()),
        ];
        for (k, v) in overrides {
            form.retain(|(f, _)| *f != k);
            form.push((k, v));
        }
        let res = app
            .post_raw(
                &format!("/slots/{slot}/book"),
                &form
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect::<Vec<_>>(),
            )
            .await;
        assert_eq!(res.status().as_u16(), status, "{what}");
        let page = res.text().await.unwrap();
        assert!(page.contains(text), "{what}: {page}");
        if status == 422 {
            let kept = if what == "bad phone" {
                "value=\"w@example.com\""
            } else {
                "value=\"13800138000\""
            };
            assert!(page.contains(kept), "{what}: input kept");
        }
        assert!(!page.contains("<script>alert"), "{what}: markup escaped");
    }
    let res = app
        .post_raw(
            "/slots/99/book",
            &[
                ("csrf", &token),
                ("name", "王小明"),
                ("id_number", &good_id),
                ("phone", "13800138000"),
                ("email", "w@example.com"),
                ("dose_number", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 404, "unknown slot");
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.count("residents", "1=1"), 0);
    assert_eq!(app.slot_counts(slot), (0, 0, 5));
}

#[actix_web::test]
async fn a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (_, slot) = app.city_with_slot(2, 5, 0, 10);
    let _ = app.csrf(&format!("/slots/{slot}/book")).await;
    let form = [
        ("name", "王小明"),
        ("id_number", &id_number(1)[..]),
        ("phone", "13800138000"),
        ("email", "w@example.com"),
        ("dose_number", "1"),
    ];
    let res = app.post_raw(&format!("/slots/{slot}/book"), &form).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("表单已过期"));
    let mut forged = form.to_vec();
    let fake = "0".repeat(64);
    forged.push(("csrf", &fake));
    assert_eq!(
        app.post_raw(&format!("/slots/{slot}/book"), &forged)
            .await
            .status(),
        403
    );
    // A fresh browser with no cookie at all.
    let res = crate::helpers::client()
        .post(format!("{}/slots/{slot}/book", app.address))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.count("residents", "1=1"), 0);
}

#[actix_web::test]
async fn malformed_json_gets_a_json_error_never_a_500() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(2, 5, 0, 10);
    let raw = |body: &'static str, ctype: &'static str| {
        let c = app.client.clone();
        let url = format!("{}/api/v1/appointments", app.address);
        async move {
            c.post(url)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    for (body, ctype, status) in [
        ("{not json", "application/json", 400),
        ("\"just a string\"", "application/json", 400),
        ("{\"slot_id\": 1}", "text/plain", 400),
    ] {
        let res = raw(body, ctype).await;
        assert_eq!(res.status(), status, "{body}");
        let v: Value = res.json().await.unwrap();
        assert!(v["error"].is_string(), "{body}");
    }
    let big = json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": {"name": "x".repeat(20_000)}});
    assert_eq!(
        app.post_json("/api/v1/appointments", &big).await.status(),
        413
    );

    let mut bad_id = resident(1);
    bad_id["id_number"] = json!("110105194912310021");
    let cases = [
        (
            json!({"dose_number": 1, "resident": resident(1)}),
            "slot_id",
        ),
        (
            json!({"slot_id": "abc", "dose_number": 1, "resident": resident(1)}),
            "slot_id",
        ),
        (
            json!({"slot_id": "123", "dose_number": 1, "resident": resident(1)}),
            "slot_id",
        ),
        (
            json!({"slot_id": slot.to_string(), "dose_number": 0, "resident": resident(1)}),
            "dose_number",
        ),
        (
            json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": bad_id}),
            "id_number",
        ),
        (
            json!({"slot_id": slot.to_string(), "dose_number": 1}),
            "id_number",
        ),
        (
            json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": {"id_number": id_number(1), "name": "<b>x</b>", "phone": "13800138000", "email": "a@b.cn"}}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let res = app.post_json("/api/v1/appointments", &body).await;
        assert_eq!(res.status(), 422, "{body}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["field"], field, "{body}");
        assert!(v["error"].is_string());
    }
    let res = app.get("/api/v1/availability?site=abc").await;
    assert_eq!(res.status(), 422);
    let res = app
        .get(&format!(
            "/api/v1/availability?site={}&date=2030-02-30",
            city.site
        ))
        .await;
    assert_eq!(res.status(), 422);
    let res = app.get("/api/v1/availability?site=42").await;
    assert_eq!(res.status(), 404);
    assert!(res.json::<Value>().await.unwrap()["error"].is_string());
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.count("residents", "1=1"), 0);
}

#[actix_web::test]
async fn unknown_pages_and_bad_parameters_get_a_page_in_the_visitors_language() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_slot(city, 1, 3, 0); // residents' pages open once a slot is published
    for (path, status) in [
        ("/nope", 404),
        ("/sites/abc", 404),
        ("/sites/42", 404),
        ("/towns/42", 404),
        ("/slots/42/book", 404),
        ("/lang/fr", 404),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        let page = res.text().await.unwrap();
        assert!(page.contains("出错了"), "{path}: {page}");
    }
    // A date that cannot be read gets the day page itself, saying what is wrong.
    let res = app
        .get(&format!("/sites/{}?date=not-a-date", city.site))
        .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("网址中的日期无法使用：请填写日期，格式为 年-月-日。"),
        "{page}"
    );
    assert!(app
        .get_text_in("/nope", "en-GB,en;q=0.9")
        .await
        .contains("We could not find that page"));
}
