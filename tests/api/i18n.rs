//! The translation catalogue is complete in both languages, and pages follow the visitor's choice.

use std::collections::BTreeSet;

use dosewise::i18n::{catalogue, Lang};

use crate::helpers::spawn_app;

/// Every file below the folders `roots`, with its text.
fn files_under(roots: &[&str]) -> Vec<(std::path::PathBuf, String)> {
    let mut stack: Vec<std::path::PathBuf> = roots.iter().map(Into::into).collect();
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    files
}

/// Every catalogue key that source files and templates name literally.
fn keys_used() -> BTreeSet<String> {
    let areas: BTreeSet<&str> = Lang::ALL
        .iter()
        .flat_map(|l| catalogue(*l).keys())
        .filter_map(|k| k.split('.').next())
        .collect();
    let mut used = BTreeSet::new();
    for (_, text) in files_under(&["src", "templates"]) {
        for part in text.split('"').skip(1).step_by(2) {
            let first = part.split('.').next().unwrap_or_default();
            let is_key = part.contains('.')
                && !first.is_empty()
                && part.split('.').count() >= 2
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_' || c.is_ascii_digit())
                && ([
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
                .any(|p| part.starts_with(p))
                // Any area the catalogue already has, so a new key there is not missed.
                || areas.contains(first));
            if is_key {
                used.insert(part.to_string());
            }
        }
    }
    used
}

/// Every line of every catalogue file that is neither blank nor a comment must be
/// `key = value` with a value: the parser drops any other line silently, so a `key =` line
/// would be missing text at run time, not an error.
#[test]
fn every_catalogue_line_is_a_key_with_a_value_and_no_key_is_given_twice() {
    let mut problems = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("locales")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let mut seen: std::collections::BTreeMap<(String, String), String> = Default::default();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let lang = if name.contains("zh-CN") {
            "zh-CN"
        } else {
            "en"
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{name}:{}", n + 1);
            let (key, value) = match line.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => {
                    problems.push(format!("{at}: not `key = value`: {line:?}"));
                    continue;
                }
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                problems.push(format!("{at}: no key: {line:?}"));
            } else if value.is_empty() {
                problems.push(format!("{at}: {key} has an empty value"));
            } else if !line.contains(" = ") {
                problems.push(format!("{at}: write `{key} = value` with spaces: {line:?}"));
            } else if catalogue(Lang::from_code(lang).unwrap()).get(key) != Some(&value) {
                problems.push(format!("{at}: {key} is not what the catalogue holds"));
            }
            if let Some(first) = seen.insert((lang.to_string(), key.to_string()), at.clone()) {
                problems.push(format!("{at}: {key} was already given at {first}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "catalogue lines:\n{}",
        problems.join("\n")
    );
}

/// The string literals of the `match` arms of `fn as_str` in `file` after `impl_line`.
fn as_str_values(file: &str, impl_line: &str) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let from = text
        .find(impl_line)
        .unwrap_or_else(|| panic!("{impl_line} in {file}"));
    let body = &text[from..];
    let body = &body[body.find("fn as_str").unwrap()..];
    let body = &body[..body.find("\n    }").unwrap()];
    body.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Keys built at run time (`format!("status.{}", ..)`) escape the literal scan: every such
/// place must be listed here, and each value it can take must be in both catalogues.
#[test]
fn keys_built_at_run_time_are_in_both_catalogues() {
    use dosewise::domain::clinic::Severity;
    use dosewise::models::appointment::AppointmentStatus;
    // Every stored status, read from the code that writes it and checked against the parser.
    let statuses = as_str_values("src/models/appointment.rs", "impl AppointmentStatus");
    assert!(statuses.len() >= 5, "{statuses:?}");
    for s in &statuses {
        assert_eq!(AppointmentStatus::parse(s).as_str(), s, "status {s}");
    }
    let built: Vec<(&str, Vec<String>)> = vec![
        ("status.", statuses),
        (
            "clinic.severity.",
            Severity::ALL
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
    ];
    // Every prefix the code builds keys under is one of those above.
    let mut prefixes = BTreeSet::new();
    for (path, text) in files_under(&["src"]) {
        for (at, _) in text.match_indices("t(&format!(\"") {
            let rest = &text[at + "t(&format!(\"".len()..];
            let prefix = &rest[..rest.find('{').unwrap_or(0)];
            prefixes.insert(format!("{}: {prefix}", path.display()));
            assert!(
                built.iter().any(|(p, _)| *p == prefix),
                "{}: a key built at run time under {prefix:?}: list its values in this test",
                path.display()
            );
        }
    }
    assert!(prefixes.len() >= 2, "{prefixes:?}");
    let mut missing = Vec::new();
    for (prefix, values) in &built {
        for v in values {
            for lang in Lang::ALL {
                let key = format!("{prefix}{v}");
                if catalogue(lang)
                    .get(key.as_str())
                    .is_none_or(|t| t.is_empty())
                {
                    missing.push(format!("{lang:?} {key}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing keys built at run time: {missing:?}"
    );
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
    let en = app.get_text_in("/", "en-US,en;q=0.9").await;
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
