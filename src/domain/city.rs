//! The city's set-up values as typed by an administrator: codes, names, counts, clock times,
//! contact addresses, usernames and passwords. Each parser returns the value or the catalogue key
//! of its refusal. No I/O here.

use super::{text, Email, PlainText, TextRule};

// Text fields are read as [`PlainText`]: the error is `key` (the field's own message) or
// `text::CHARS` when the text has control or text-direction characters.

/// A code (town or product): 1-20 letters, digits, `-` or `_`, kept upper-case.
pub fn parse_code(raw: &str, key: &'static str) -> Result<String, &'static str> {
    let s = PlainText::parse(raw, TextRule::line("code", 20).required())
        .map_err(|e| e.or_key(key).key)?;
    let ok = s
        .as_str()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| s.as_str().to_ascii_uppercase()).ok_or(key)
}

/// A name or address: 1-`max` characters of one line.
pub fn parse_text(raw: &str, max: usize, key: &'static str) -> Result<String, &'static str> {
    PlainText::parse(raw, TextRule::line("text", max).required())
        .map(PlainText::into_string)
        .map_err(|e| e.or_key(key).key)
}

/// A whole number in `[min, max]`.
pub fn parse_int(raw: &str, min: i64, max: i64) -> Option<i64> {
    text::clean(raw)?
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
}

/// Contact addresses separated by commas, semicolons or spaces; stored `a@x.cn; b@y.cn`.
pub fn parse_emails(raw: &str, key: &'static str) -> Result<String, &'static str> {
    let all = PlainText::parse(raw, TextRule::line("contact_emails", 3000))
        .map_err(|e| e.or_key(key).key)?;
    let mut out = Vec::new();
    for part in all
        .as_str()
        .split([',', ';', '，', '；', ' '])
        .filter(|p| !p.trim().is_empty())
    {
        let e = Email::parse(part).map_err(|e| e.or_key(key).key)?;
        let e = e.as_str().to_string();
        if !out.contains(&e) {
            out.push(e);
        }
    }
    (out.len() <= 10).then(|| out.join("; ")).ok_or(key)
}

/// `HH:MM` as minutes after midnight (`24:00` allowed as the end of a day).
pub fn parse_hm(raw: &str) -> Option<i32> {
    let (h, m) = text::clean(raw)?.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let ok = (0..=24).contains(&h) && (0..60).contains(&m) && m % 5 == 0 && h * 60 + m <= 1440;
    ok.then_some(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn hm(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Whether an HTML checkbox was ticked.
pub fn checkbox(raw: &str) -> bool {
    matches!(raw, "on" | "true" | "1" | "yes")
}

/// A username: 1-64 letters, digits, dots, hyphens or underscores (as `create-user`).
pub fn parse_username(raw: &str) -> Result<String, &'static str> {
    let key = "err.setup.username";
    let s = PlainText::parse(raw, TextRule::line("username", 64).required())
        .map_err(|e| e.or_key(key).key)?;
    let ok = s
        .as_str()
        .chars()
        .all(|c| c.is_alphanumeric() || "._-".contains(c));
    ok.then(|| s.into_string()).ok_or(key)
}

/// A new password: 10 to 200 characters, none of them control or text-direction characters
/// (kept as typed, not trimmed).
pub fn parse_password(raw: &str) -> Option<String> {
    let n = raw.chars().count();
    let ok = (10..=200).contains(&n) && raw.chars().all(|c| text::allowed(c, false));
    ok.then(|| raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_refuse_nonsense() {
        assert_eq!(parse_hm("08:30"), Some(510));
        assert_eq!(parse_hm("24:00"), Some(1440));
        assert_eq!(parse_hm("24:05"), None);
        assert_eq!(parse_hm("8"), None);
        assert_eq!(parse_hm("08:07"), None);
        assert_eq!(hm(510), "08:30");
    }

    #[test]
    fn emails_are_normalised_and_bad_ones_refused() {
        let k = "err.setup.emails";
        assert_eq!(
            parse_emails("a@x.cn, b@y.cn;a@x.cn", k).as_deref(),
            Ok("a@x.cn; b@y.cn")
        );
        assert_eq!(parse_emails("a@x.cn\r\nb@y.cn", k), Err(text::CHARS));
        assert_eq!(parse_emails("", k).as_deref(), Ok(""));
        assert_eq!(parse_emails("not-an-address", k), Err(k));
        assert_eq!(parse_emails("a@x.cn\u{202E}", k), Err(text::CHARS));
        assert_eq!(parse_emails("a@x.cn; \0b@y.cn", k), Err(text::CHARS));
    }

    #[test]
    fn names_codes_and_passwords_refuse_control_and_text_direction_characters() {
        let k = "err.setup.name";
        assert_eq!(parse_text(" 城关镇 ", 60, k).as_deref(), Ok("城关镇"));
        assert_eq!(parse_text("城关\u{202E}镇", 60, k), Err(text::CHARS));
        assert_eq!(parse_text("城关镇\u{c}", 60, k), Err(text::CHARS));
        assert_eq!(parse_text("", 60, k), Err(k));
        assert_eq!(parse_text(&"镇".repeat(61), 60, k), Err(k));
        assert_eq!(parse_code("t001", "c").as_deref(), Ok("T001"));
        assert_eq!(parse_code("T0\u{0}01", "c"), Err(text::CHARS));
        assert_eq!(parse_code("T 1", "c"), Err("c"));
        assert_eq!(parse_username("nurse\u{2066}"), Err(text::CHARS));
        assert_eq!(parse_int("7\u{85}", 1, 60), None);
        assert_eq!(parse_hm("08:00\u{c}"), None);
        assert!(parse_password("correct horse battery").is_some());
        assert!(parse_password("correct horse\0battery").is_none());
        assert!(parse_password("correct\u{202E} horse battery").is_none());
    }
}
