//! The city's set-up values as typed by an administrator: codes, names, counts, clock times,
//! contact addresses, usernames and passwords, each a type whose `parse` returns the value or
//! the catalogue key of its refusal, and the rules across fields (interval and age order, opening
//! hours with lunch inside them, an exception's window) as constructors. No I/O here.

use std::fmt;

use super::{text, Email, PlainText, TextRule};

// Text fields are read as [`PlainText`]: the error is `key` (the field's own message) or
// `text::CHARS` when the text has control or text-direction characters.

/// A required one-line `field` of at most `max` characters, each of which `allowed` accepts;
/// refused with `key` (or `text::CHARS`).
fn word(
    raw: &str,
    field: &'static str,
    max: usize,
    key: &'static str,
    allowed: impl Fn(char) -> bool,
) -> Result<PlainText, &'static str> {
    let s = PlainText::parse(raw, TextRule::line(field, max).required())
        .map_err(|e| e.or_key(key).key)?;
    s.as_str().chars().all(allowed).then_some(s).ok_or(key)
}

/// A town or product code: 1-20 letters, digits, `-` or `_`, kept upper-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    /// Read a code; refused with `err.setup.code` (or `text::CHARS`).
    pub fn parse(raw: &str) -> Result<Code, &'static str> {
        let s = word(raw, "code", 20, "err.setup.code", |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        })?;
        Ok(Code(s.as_str().to_ascii_uppercase()))
    }

    /// The code, upper-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as a `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A refusal's key shown under another message: `key` unless the refusal is about characters
/// (`text::CHARS` keeps its own message).
pub fn relabel(refused: &'static str, key: &'static str) -> &'static str {
    if refused == text::CHARS {
        refused
    } else {
        key
    }
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

/// Whole numbers within fixed bounds, each refused with its own catalogue key.
macro_rules! bounded {
    ($($(#[$doc:meta])* $name:ident($t:ty) in $min:literal..=$max:literal, $key:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name($t);

        impl $name {
            /// The smallest value allowed.
            pub const MIN: $t = $min;
            /// The largest value allowed.
            pub const MAX: $t = $max;
            /// The catalogue key of a refusal.
            pub const KEY: &'static str = $key;

            /// Read a whole number in `MIN..=MAX`, else `KEY`.
            pub fn parse(raw: &str) -> Result<Self, &'static str> {
                parse_int(raw, i64::from(Self::MIN), i64::from(Self::MAX))
                    .and_then(|n| <$t>::try_from(n).ok())
                    .map($name)
                    .ok_or($key)
            }

            /// The number.
            pub fn get(self) -> $t {
                self.0
            }
        }
    )*};
}

bounded! {
    /// A town's eligible population.
    Eligible(i64) in 0..=100_000_000, "err.setup.eligible";
    /// Doses in a product's series.
    DoseCount(i32) in 1..=5, "err.setup.doses";
    /// Days between two doses (one end of a product's interval).
    IntervalDays(i32) in 0..=365, "err.setup.days";
    /// An age in whole years (one end of a product's age range).
    AgeYears(i32) in 0..=120, "err.setup.age";
    /// Doses in one pack of a product.
    PackSize(i32) in 1..=1000, "err.setup.pack";
    /// Seats in one slot of a site's template.
    Seats(i32) in 1..=1000, "err.setup.seats";
    /// Seats per slot set by an exception (0: none left).
    ExceptionSeats(i32) in 0..=1000, "err.setup.exception_seats";
    /// The length of one slot, in minutes.
    SlotMinutes(i32) in 5..=240, "err.setup.slot_minutes";
    /// How many days ahead a template publishes.
    DaysAhead(i32) in 1..=60, "err.setup.days_ahead";
    /// How many days before a slot's day its seats are released.
    ReleaseDays(i32) in 1..=60, "err.setup.release_days";
    /// The draw window after a release, in minutes (0: first come, first served).
    DrawMinutes(i32) in 0..=240, "err.setup.draw_minutes";
}

/// The days allowed between two doses of a product: the shortest is not above the longest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    min: IntervalDays,
    max: IntervalDays,
}

impl Interval {
    /// The interval, or `err.setup.interval_order` when `max` is below `min`.
    pub fn new(min: IntervalDays, max: IntervalDays) -> Result<Interval, &'static str> {
        (min <= max)
            .then_some(Interval { min, max })
            .ok_or("err.setup.interval_order")
    }

    /// The shortest interval, in days.
    pub fn min(self) -> i32 {
        self.min.get()
    }

    /// The longest interval, in days.
    pub fn max(self) -> i32 {
        self.max.get()
    }
}

/// The ages a product is given at: the lowest is not above the highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeRange {
    min: AgeYears,
    max: AgeYears,
}

impl AgeRange {
    /// The range, or `err.setup.age_order` when `max` is below `min`.
    pub fn new(min: AgeYears, max: AgeYears) -> Result<AgeRange, &'static str> {
        (min <= max)
            .then_some(AgeRange { min, max })
            .ok_or("err.setup.age_order")
    }

    /// The lowest age, in years.
    pub fn min(self) -> i32 {
        self.min.get()
    }

    /// The highest age, in years.
    pub fn max(self) -> i32 {
        self.max.get()
    }
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

/// A local clock time: minutes after midnight in steps of 5 minutes, `00:00` to `24:00` (the
/// end of a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(i32);

impl ClockTime {
    /// Midnight at the start of a day.
    pub const MIDNIGHT: ClockTime = ClockTime(0);
    /// `24:00`, the end of a day.
    pub const END_OF_DAY: ClockTime = ClockTime(1440);
    /// The catalogue key of a refusal (it states the 5-minute rule).
    pub const KEY: &'static str = "err.setup.time";

    /// Read `HH:MM` on a 5-minute step from `00:00` to `24:00`, else `KEY`.
    pub fn parse(raw: &str) -> Result<ClockTime, &'static str> {
        Self::read(raw).map(ClockTime).ok_or(Self::KEY)
    }

    /// Read a time at which something happens within a day (`00:00` to `23:55`), else `key`.
    pub fn parse_within_day(raw: &str, key: &'static str) -> Result<ClockTime, &'static str> {
        Self::parse(raw)
            .ok()
            .filter(|t| *t < Self::END_OF_DAY)
            .ok_or(key)
    }

    fn read(raw: &str) -> Option<i32> {
        let (h, m) = text::clean(raw)?.split_once(':')?;
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        let ok = (0..=24).contains(&h) && (0..60).contains(&m) && m % 5 == 0 && h * 60 + m <= 1440;
        ok.then_some(h * 60 + m)
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> i32 {
        self.0
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hm(self.0))
    }
}

/// A site's opening hours on one weekday: opens, an optional lunch break inside the hours,
/// closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayHours {
    weekday: u32,
    opens: ClockTime,
    lunch: Option<(ClockTime, ClockTime)>,
    closes: ClockTime,
}

impl DayHours {
    /// The hours of `weekday` (0 = Monday), or `err.setup.hours_order` unless they run
    /// opens < lunch starts < lunch ends < closes.
    pub fn new(
        weekday: u32,
        opens: ClockTime,
        lunch: Option<(ClockTime, ClockTime)>,
        closes: ClockTime,
    ) -> Result<DayHours, &'static str> {
        let ordered = match lunch {
            Some((a, b)) => opens < a && a < b && b < closes,
            None => opens < closes,
        };
        ordered
            .then_some(DayHours {
                weekday,
                opens,
                lunch,
                closes,
            })
            .ok_or("err.setup.hours_order")
    }

    /// The weekday, 0 = Monday.
    pub fn weekday(&self) -> u32 {
        self.weekday
    }

    /// Opening time, minutes after midnight.
    pub fn opens(&self) -> i32 {
        self.opens.minutes()
    }

    /// The lunch break, minutes after midnight.
    pub fn lunch(&self) -> Option<(i32, i32)> {
        self.lunch.map(|(a, b)| (a.minutes(), b.minutes()))
    }

    /// Closing time, minutes after midnight.
    pub fn closes(&self) -> i32 {
        self.closes.minutes()
    }
}

/// The part of a day an exception covers: it ends after it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    starts: ClockTime,
    ends: ClockTime,
}

impl Window {
    /// The whole day.
    pub const WHOLE_DAY: Window = Window {
        starts: ClockTime::MIDNIGHT,
        ends: ClockTime::END_OF_DAY,
    };

    /// The window, or `err.setup.window_order` unless `starts < ends`.
    pub fn new(starts: ClockTime, ends: ClockTime) -> Result<Window, &'static str> {
        (starts < ends)
            .then_some(Window { starts, ends })
            .ok_or("err.setup.window_order")
    }

    /// The start, minutes after midnight.
    pub fn starts(self) -> i32 {
        self.starts.minutes()
    }

    /// The end, minutes after midnight.
    pub fn ends(self) -> i32 {
        self.ends.minutes()
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Read a username; refused with `err.setup.username` (or `text::CHARS`).
    pub fn parse(raw: &str) -> Result<Username, &'static str> {
        let s = word(raw, "username", 64, "err.setup.username", |c| {
            c.is_alphanumeric() || "._-".contains(c)
        })?;
        Ok(Username(s.into_string()))
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 10 to 200 characters, none of them control or text-direction characters
/// (kept as typed, not trimmed). Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Read a new password; refused with `err.setup.password`.
    pub fn parse(raw: &str) -> Result<Password, &'static str> {
        let n = raw.chars().count();
        let ok = (10..=200).contains(&n) && raw.chars().all(|c| text::allowed(c, false));
        ok.then(|| Password(raw.to_string()))
            .ok_or("err.setup.password")
    }

    /// The password as typed, to be hashed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(raw: &str) -> ClockTime {
        ClockTime::parse(raw).unwrap()
    }

    #[test]
    fn clock_times_run_from_midnight_to_the_end_of_the_day_in_five_minute_steps() {
        assert_eq!(t("00:00").minutes(), 0);
        assert_eq!(t("08:30").minutes(), 510);
        assert_eq!(t("23:55").minutes(), 1435);
        assert_eq!(t("24:00"), ClockTime::END_OF_DAY);
        for bad in [
            "24:05",
            "8",
            "08:07",
            "16:03",
            "-1:00",
            "08:60",
            "",
            "ab:cd",
            "08:00\u{c}",
        ] {
            assert_eq!(ClockTime::parse(bad), Err("err.setup.time"), "{bad:?}");
        }
        assert_eq!(t("8:05").to_string(), "08:05");
        assert_eq!(hm(510), "08:30");
    }

    #[test]
    fn a_time_within_the_day_stops_at_23_55() {
        let k = "err.setup.release_time";
        assert_eq!(ClockTime::parse_within_day("23:55", k), Ok(t("23:55")));
        assert_eq!(
            ClockTime::parse_within_day("00:00", k),
            Ok(ClockTime::MIDNIGHT)
        );
        assert_eq!(ClockTime::parse_within_day("24:00", k), Err(k));
        assert_eq!(ClockTime::parse_within_day("16:03", k), Err(k));
    }

    #[test]
    fn bounded_numbers_take_both_ends_and_refuse_one_past() {
        fn ends<T: std::fmt::Debug>(p: fn(&str) -> Result<T, &'static str>, min: i64, max: i64) {
            assert!(p(&min.to_string()).is_ok(), "{min}");
            assert!(p(&max.to_string()).is_ok(), "{max}");
            assert!(p(&(min - 1).to_string()).is_err(), "{}", min - 1);
            assert!(p(&(max + 1).to_string()).is_err(), "{}", max + 1);
            assert!(p("").is_err());
            assert!(p("1.5").is_err());
        }
        ends(Eligible::parse, 0, 100_000_000);
        ends(DoseCount::parse, 1, 5);
        ends(IntervalDays::parse, 0, 365);
        ends(AgeYears::parse, 0, 120);
        ends(PackSize::parse, 1, 1000);
        ends(Seats::parse, 1, 1000);
        ends(ExceptionSeats::parse, 0, 1000);
        ends(SlotMinutes::parse, 5, 240);
        ends(DaysAhead::parse, 1, 60);
        ends(ReleaseDays::parse, 1, 60);
        ends(DrawMinutes::parse, 0, 240);
        assert_eq!(Seats::parse(" 6 ").map(Seats::get), Ok(6));
        assert_eq!(Seats::parse("0"), Err("err.setup.seats"));
        assert_eq!(DoseCount::parse("6"), Err("err.setup.doses"));
        assert_eq!(IntervalDays::parse("366"), Err("err.setup.days"));
        assert_eq!(Seats::parse("99999999999999999999"), Err("err.setup.seats"));
    }

    #[test]
    fn intervals_and_age_ranges_may_be_one_day_but_not_reversed() {
        let d = |n: &str| IntervalDays::parse(n).unwrap();
        assert_eq!(Interval::new(d("21"), d("21")).map(Interval::max), Ok(21));
        assert_eq!(
            Interval::new(d("21"), d("20")),
            Err("err.setup.interval_order")
        );
        let a = |n: &str| AgeYears::parse(n).unwrap();
        assert_eq!(AgeRange::new(a("18"), a("60")).map(AgeRange::min), Ok(18));
        assert_eq!(AgeRange::new(a("60"), a("59")), Err("err.setup.age_order"));
    }

    #[test]
    fn opening_hours_keep_lunch_strictly_inside() {
        let h = |o, l: Option<(&str, &str)>, c| {
            DayHours::new(0, t(o), l.map(|(a, b)| (t(a), t(b))), t(c))
        };
        assert!(h("08:00", None, "08:05").is_ok());
        assert!(h("08:00", Some(("12:00", "13:00")), "17:00").is_ok());
        let k = Err("err.setup.hours_order");
        assert_eq!(h("08:00", None, "08:00"), k);
        assert_eq!(h("17:00", None, "08:00"), k);
        assert_eq!(h("08:00", Some(("08:00", "13:00")), "17:00"), k);
        assert_eq!(h("08:00", Some(("12:00", "17:00")), "17:00"), k);
        assert_eq!(h("08:00", Some(("13:00", "12:00")), "17:00"), k);
        let day = h("00:00", Some(("12:00", "13:00")), "24:00").unwrap();
        assert_eq!(
            (day.opens(), day.lunch(), day.closes()),
            (0, Some((720, 780)), 1440)
        );
    }

    #[test]
    fn a_window_ends_after_it_starts() {
        assert_eq!(
            Window::new(t("10:00"), t("10:05")).map(Window::ends),
            Ok(605)
        );
        assert_eq!(
            Window::new(t("10:00"), t("10:00")),
            Err("err.setup.window_order")
        );
        assert_eq!(Window::WHOLE_DAY.starts(), 0);
        assert_eq!(Window::WHOLE_DAY.ends(), 1440);
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
    fn names_codes_usernames_and_passwords_refuse_control_and_text_direction_characters() {
        let k = "err.setup.name";
        assert_eq!(parse_text(" 城关镇 ", 60, k).as_deref(), Ok("城关镇"));
        assert_eq!(parse_text("城关\u{202E}镇", 60, k), Err(text::CHARS));
        assert_eq!(parse_text("城关镇\u{c}", 60, k), Err(text::CHARS));
        assert_eq!(parse_text("", 60, k), Err(k));
        assert_eq!(parse_text(&"镇".repeat(61), 60, k), Err(k));
        assert_eq!(
            Code::parse("t001").map(Code::into_string).as_deref(),
            Ok("T001")
        );
        assert_eq!(Code::parse("T0\u{0}01"), Err(text::CHARS));
        assert_eq!(Code::parse("T 1"), Err("err.setup.code"));
        assert!(Code::parse(&"A".repeat(20)).is_ok());
        assert_eq!(Code::parse(&"A".repeat(21)), Err("err.setup.code"));
        assert_eq!(
            relabel("err.setup.code", "err.import.code"),
            "err.import.code"
        );
        assert_eq!(relabel(text::CHARS, "err.import.code"), text::CHARS);
        assert_eq!(Username::parse("nurse\u{2066}"), Err(text::CHARS));
        assert_eq!(
            Username::parse("nurse.li-2")
                .map(|u| u.as_str().to_string())
                .as_deref(),
            Ok("nurse.li-2")
        );
        assert_eq!(Username::parse(&"u".repeat(65)), Err("err.setup.username"));
        assert_eq!(Username::parse("nurse li"), Err("err.setup.username"));
        assert_eq!(parse_int("7\u{85}", 1, 60), None);
        assert!(Password::parse("correct horse battery").is_ok());
        assert!(Password::parse(&"x".repeat(10)).is_ok());
        assert!(Password::parse(&"x".repeat(200)).is_ok());
        assert_eq!(Password::parse(&"x".repeat(9)), Err("err.setup.password"));
        assert_eq!(Password::parse(&"x".repeat(201)), Err("err.setup.password"));
        assert!(Password::parse("correct horse\0battery").is_err());
        assert!(Password::parse("correct\u{202E} horse battery").is_err());
        assert_eq!(
            format!("{:?}", Password::parse("correct horse battery")),
            "Ok(Password(..))"
        );
    }
}
