//! The translation catalogue is complete in both languages, and pages follow the visitor's choice.

use std::collections::BTreeSet;

use dosewise::i18n::{catalogue, Lang};

use crate::helpers::spawn_app;

/// Every catalogue key that source files and templates name literally.
fn keys_used() -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut stack = vec![
        std::path::PathBuf::from("src"),
        std::path::PathBuf::from("templates"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split('"').skip(1).step_by(2) {
                let is_key = part.contains('.')
                    && part.split('.').count() >= 2
                    && part.chars().all(|c| {
                        c.is_ascii_lowercase() || c == '.' || c == '_' || c.is_ascii_digit()
                    })
                    && [
                        "err.",
                        "nav.",
                        "home.",
                        "town.",
                        "site.",
                        "book.",
                        "form.",
                        "appt.",
                        "find.",
                        "move.",
                        "wait.",
                        "login.",
                        "staff.",
                        "bureau.",
                        "admin.",
                        "checkin.",
                        "day.",
                        "app.",
                        "lang.",
                        "footer.",
                        "status.",
                        "clinic.",
                        "shipment.",
                        "plan.",
                        "lot.",
                        "level.",
                        "cap.",
                        "notice.",
                        "audit.",
                        "mail.",
                        "vaccine.",
                        "user.",
                        "setup.",
                        "exception.",
                        "import.",
                    ]
                    .iter()
                    .any(|p| part.starts_with(p));
                if is_key {
                    used.insert(part.to_string());
                }
            }
        }
    }
    used
}

#[test]
fn both_languages_have_exactly_the_same_keys_and_no_empty_text() {
    let zh: BTreeSet<_> = catalogue(Lang::Zh).keys().collect();
    let en: BTreeSet<_> = catalogue(Lang::En).keys().collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    let only_en: Vec<_> = en.difference(&zh).collect();
    assert!(
        only_zh.is_empty() && only_en.is_empty(),
        "zh only: {only_zh:?}; en only: {only_en:?}"
    );
    for lang in Lang::ALL {
        for (k, v) in catalogue(lang) {
            assert!(!v.is_empty(), "{lang:?} {k} is empty");
        }
    }
    assert!(zh.len() > 100);
}

#[test]
fn placeholders_match_between_languages() {
    let names = |s: &str| -> BTreeSet<String> {
        s.split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
            .collect()
    };
    for (k, zh) in catalogue(Lang::Zh) {
        let en = catalogue(Lang::En)[k];
        assert_eq!(names(zh), names(en), "{k}");
    }
}

#[test]
fn every_key_the_code_names_is_in_the_catalogue() {
    let used = keys_used();
    assert!(used.len() > 50, "{}", used.len());
    let statuses = [
        "booked",
        "checked_in",
        "vaccinated",
        "cancelled",
        "no_show",
        "deferred",
    ];
    let mut missing: Vec<String> = used
        .iter()
        .filter(|k| !catalogue(Lang::Zh).contains_key(k.as_str()))
        .cloned()
        .collect();
    missing.extend(
        statuses
            .iter()
            .map(|s| format!("status.{s}"))
            .filter(|k| !catalogue(Lang::Zh).contains_key(k.as_str())),
    );
    assert!(missing.is_empty(), "missing keys: {missing:?}");
}

#[actix_web::test]
async fn pages_are_chinese_by_default_and_follow_accept_language_and_the_switch() {
    let app = spawn_app().await;
    let home = app.get_text("/").await;
    assert!(home.contains("<html lang=\"zh-CN\">"));
    let en = app
        .client
        .get(format!("{}/", app.address))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("<html lang=\"en\">"));
    let res = app.get("/lang/en?next=/find").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/find");
    let find = app.get_text("/find").await;
    assert!(find.contains("Find my appointment"));
    let res = app.get("/lang/en?next=/%09/evil.example").await;
    assert_eq!(
        res.headers()["location"],
        "/",
        "a tab cannot smuggle in //host"
    );
    let res = app.get("/lang/zh-CN?next=//evil.example").await;
    assert_eq!(res.headers()["location"], "/", "no open redirect");
    assert!(app.get_text("/find").await.contains("查询我的预约"));
}
