//! The city's days. Instants are stored in UTC; every rule that speaks of days (intervals between
//! doses, ages, "today", "tomorrow", a day's list) takes them in the city's time zone. Booking,
//! the desk, the mail worker and the pages all use these functions, so a page and a message never
//! disagree about a day. No I/O here.

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// The city's date of a UTC instant.
pub fn local_day(tz: Tz, at: NaiveDateTime) -> NaiveDate {
    tz.from_utc_datetime(&at).date_naive()
}

/// The UTC instant at which the city's day `day` begins: its midnight, or the first local time
/// that exists when a daylight-saving change skips midnight (the earlier instant when it is
/// ambiguous).
pub fn day_start(tz: Tz, day: NaiveDate) -> NaiveDateTime {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    (0..=24 * 4)
        .find_map(|quarter| {
            tz.from_local_datetime(&(midnight + Duration::minutes(15 * quarter)))
                .earliest()
        })
        .map(|t| t.naive_utc())
        .unwrap_or(midnight)
}

/// The UTC range `[start, end)` of the city's day `day`.
pub fn day_bounds(tz: Tz, day: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    (
        day_start(tz, day),
        day_start(tz, day.succ_opt().unwrap_or(day)),
    )
}

/// A UTC instant in the city's zone.
pub fn local(tz: Tz, at: NaiveDateTime) -> chrono::DateTime<Tz> {
    tz.from_utc_datetime(&at)
}

/// The UTC instant of a city clock time (the earlier one when the clock is set back); `None`
/// when the clock skips that time.
pub fn utc_of_local(tz: Tz, local: NaiveDateTime) -> Option<NaiveDateTime> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.naive_utc())
}

/// The local time `minutes` after midnight of `day` as UTC: `None` in a daylight-saving gap; the
/// earlier instant when the clock goes back.
pub fn local_to_utc(tz: Tz, day: NaiveDate, minutes: i32) -> Option<NaiveDateTime> {
    utc_of_local(
        tz,
        day.and_hms_opt(0, 0, 0)? + Duration::minutes(i64::from(minutes)),
    )
}

/// The UTC starts of `n` city days from `first`, and the start of the day after them: `n + 1`
/// instants, so that day `i` is `[starts[i], starts[i + 1])`. The dashboard counts rows per city
/// day by comparing their UTC instants with these, which is right across daylight-saving
/// changes and needs no time-zone support in the database.
pub fn day_starts(tz: Tz, first: NaiveDate, n: u32) -> Vec<NaiveDateTime> {
    (0..=i64::from(n))
        .map(|i| day_start(tz, first + Duration::days(i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn a_city_day_runs_from_its_midnight_to_the_next() {
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2030, 3, 26).unwrap();
        // Midnight in Shanghai is 16:00 UTC the day before.
        assert_eq!(
            day_bounds(shanghai, d),
            (at(2030, 3, 25, 16, 0), at(2030, 3, 26, 16, 0))
        );
        assert_eq!(
            local_day(shanghai, at(2030, 3, 25, 15, 59)),
            d.pred_opt().unwrap()
        );
        assert_eq!(local_day(shanghai, at(2030, 3, 25, 16, 0)), d);
        assert_eq!(
            utc_of_local(shanghai, d.and_hms_opt(9, 30, 0).unwrap()),
            Some(at(2030, 3, 26, 1, 30))
        );
        // Berlin skips 02:00-03:00 on 2030-03-31.
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let gap = NaiveDate::from_ymd_opt(2030, 3, 31)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(utc_of_local(berlin, gap), None);
    }

    #[test]
    fn a_day_starts_at_its_first_existing_local_time() {
        // Santiago skipped from 00:00 to 01:00 on 2024-09-08 (UTC-4 to UTC-3).
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2024, 9, 8).unwrap();
        assert_eq!(day_start(santiago, day), at(2024, 9, 8, 4, 0));
        assert_eq!(local_day(santiago, day_start(santiago, day)), day);
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            day_start(berlin, NaiveDate::from_ymd_opt(2030, 7, 1).unwrap()),
            at(2030, 6, 30, 22, 0)
        );
    }

    #[test]
    fn day_starts_bound_each_city_day() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let first = NaiveDate::from_ymd_opt(2030, 3, 1).unwrap();
        let starts = day_starts(tz, first, 3);
        assert_eq!(starts.len(), 4);
        assert_eq!(starts[0], at(2030, 2, 28, 16, 0));
        assert_eq!(starts[3], at(2030, 3, 3, 16, 0));
        let ny: Tz = "America/New_York".parse().unwrap();
        let spring = day_starts(ny, NaiveDate::from_ymd_opt(2030, 3, 10).unwrap(), 1);
        assert_eq!(spring[1] - spring[0], Duration::hours(23));
    }
}
