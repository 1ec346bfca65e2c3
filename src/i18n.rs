//! The translation catalogue: every user-visible string, in zh-CN (the default) and en, from
//! `locales/*.txt` (`key = value` lines). `tests/i18n.rs` fails when a key is missing in either
//! language or a template uses a key the catalogue lacks. Dates and times as people read them in
//! each language (`day_label`, `hm`, `when`) are here too, shared by the pages and the mail.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use chrono_tz::Tz;

use crate::domain::days::{local, local_day};

/// A thing whose message is in the catalogue: the services' errors, which say why they refused.
pub trait Keyed {
    /// The catalogue key of the message.
    fn key(&self) -> &'static str;
}

/// A language the pages are offered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Every language, default first.
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// The BCP 47 code, used in `<html lang>`, cookies and stored preferences.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Parse a code as stored or sent in a link.
    pub fn from_code(s: &str) -> Option<Lang> {
        match s {
            "zh-CN" | "zh" | "zh-Hans" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first supported language in an `Accept-Language` header, by q-value order.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut prefs: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut it = part.trim().split(';');
                let tag = it.next()?.trim().to_ascii_lowercase();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                let lang = if tag.starts_with("zh") {
                    Lang::Zh
                } else if tag.starts_with("en") {
                    Lang::En
                } else {
                    return None;
                };
                Some((q, lang))
            })
            .collect();
        prefs.sort_by(|a, b| b.0.total_cmp(&a.0));
        prefs.first().map(|p| p.1)
    }

    /// The catalogue string for `key` (the key itself if missing, which tests forbid).
    pub fn t(self, key: &str) -> &'static str {
        let cat = catalogue(self);
        match cat.get_key_value(key) {
            Some((_, v)) => v,
            None => missing(key),
        }
    }

    /// The catalogue string with `{name}` placeholders filled in.
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.t(key).to_string();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }
}

fn missing(key: &str) -> &'static str {
    tracing::warn!(key, "missing translation");
    "?"
}

/// One file per area and language, so areas can grow without touching each other's text.
const ZH_SOURCES: [&str; 9] = [
    include_str!("../locales/mail.zh-CN.txt"),
    include_str!("../locales/zh-CN.txt"),
    include_str!("../locales/bureau.zh-CN.txt"),
    include_str!("../locales/clinic.zh-CN.txt"),
    include_str!("../locales/setup.zh-CN.txt"),
    include_str!("../locales/draw.zh-CN.txt"),
    include_str!("../locales/report.zh-CN.txt"),
    include_str!("../locales/dashboard.zh-CN.txt"),
    include_str!("../locales/household.zh-CN.txt"),
];
const EN_SOURCES: [&str; 9] = [
    include_str!("../locales/mail.en.txt"),
    include_str!("../locales/en.txt"),
    include_str!("../locales/bureau.en.txt"),
    include_str!("../locales/clinic.en.txt"),
    include_str!("../locales/setup.en.txt"),
    include_str!("../locales/draw.en.txt"),
    include_str!("../locales/report.en.txt"),
    include_str!("../locales/dashboard.en.txt"),
    include_str!("../locales/household.en.txt"),
];

/// Parse `key = value` lines; blank lines and `#` comments are skipped.
pub fn parse_catalogue(sources: &[&'static str]) -> HashMap<&'static str, &'static str> {
    sources
        .iter()
        .flat_map(|s| s.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" = ").map(|(k, v)| (k.trim(), v.trim())))
        .collect()
}

/// The parsed catalogue of a language (parsed once; it is compiled-in data, not settings).
pub fn catalogue(lang: Lang) -> &'static HashMap<&'static str, &'static str> {
    static ZH: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    static EN: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    match lang {
        Lang::Zh => ZH.get_or_init(|| parse_catalogue(&ZH_SOURCES)),
        Lang::En => EN.get_or_init(|| parse_catalogue(&EN_SOURCES)),
    }
}

/// `HH:MM` in the city's zone.
pub fn hm(tz: Tz, at: NaiveDateTime) -> String {
    local(tz, at).format("%H:%M").to_string()
}

/// A day as people read it: `11月30日 星期一` or `Mon 30 Nov`.
pub fn day_label(lang: Lang, d: NaiveDate) -> String {
    let wd = match d.weekday() {
        Weekday::Mon => "day.mon",
        Weekday::Tue => "day.tue",
        Weekday::Wed => "day.wed",
        Weekday::Thu => "day.thu",
        Weekday::Fri => "day.fri",
        Weekday::Sat => "day.sat",
        Weekday::Sun => "day.sun",
    };
    match lang {
        Lang::Zh => format!("{}月{}日 {}", d.month(), d.day(), lang.t(wd)),
        Lang::En => format!("{} {} {}", lang.t(wd), d.day(), d.format("%b")),
    }
}

/// An instant as people read it: `3月11日 星期一 20:00`.
pub fn at_label(lang: Lang, tz: Tz, at: NaiveDateTime) -> String {
    format!("{} {}", day_label(lang, local_day(tz, at)), hm(tz, at))
}

/// A time range within a day: `09:00–09:30`.
pub fn span(tz: Tz, start: NaiveDateTime, end: NaiveDateTime) -> String {
    format!("{}–{}", hm(tz, start), hm(tz, end))
}

/// A city time to the minute as lists, logs and exports show it: `2030-03-04 09:00`.
pub fn stamp(tz: Tz, at: NaiveDateTime) -> String {
    local(tz, at).format("%Y-%m-%d %H:%M").to_string()
}

/// A full date and time range: `11月30日 星期一 09:00–09:30`.
pub fn when(lang: Lang, tz: Tz, start: NaiveDateTime, end: NaiveDateTime) -> String {
    format!(
        "{} {}",
        day_label(lang, local_day(tz, start)),
        span(tz, start, end)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_the_highest_q() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("fr, en;q=0.5, zh-CN;q=0.8"),
            Some(Lang::Zh)
        );
        assert_eq!(Lang::from_accept_language("fr-FR"), None);
    }

    #[test]
    fn placeholders_are_filled() {
        let s = Lang::En.tf("site.seats_left", &[("n", "3")]);
        assert!(s.contains('3') && !s.contains("{n}"), "{s}");
    }
}
