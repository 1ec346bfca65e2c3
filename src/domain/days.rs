//! The city's days. Instants are stored in UTC; every rule that speaks of days (intervals between
//! doses, "today", "tomorrow") takes them in the city's time zone. Booking and the mail worker
//! both use these functions, so a page and a message never disagree about a day. No I/O here.

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

/// The city days `(opens, closes)` between which the next dose is due: `min_days` and
/// `max_days` after the city day on which the previous dose was given.
pub fn dose_window(
    tz: Tz,
    previous_given_at: NaiveDateTime,
    min_days: i32,
    max_days: i32,
) -> (NaiveDate, NaiveDate) {
    let given = local_day(tz, previous_given_at);
    (
        given + Duration::days(i64::from(min_days)),
        given + Duration::days(i64::from(max_days)),
    )
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
    fn the_window_counts_city_days_not_utc_days() {
        let shanghai: Tz = "Asia/Shanghai".parse().unwrap();
        // 2030-03-04 23:30 UTC is already 03-05 in Shanghai.
        let (opens, closes) = dose_window(shanghai, at(2030, 3, 4, 23, 30), 21, 56);
        assert_eq!(opens, NaiveDate::from_ymd_opt(2030, 3, 26).unwrap());
        assert_eq!(closes, NaiveDate::from_ymd_opt(2030, 4, 30).unwrap());
        // It opens at midnight in Shanghai, 16:00 UTC the day before.
        assert_eq!(day_start(shanghai, opens), at(2030, 3, 25, 16, 0));
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
}
