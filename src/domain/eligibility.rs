//! Who may have which dose when: a product's series, the window for the next dose, the dose
//! check and the age check, and the one [`Refusal`] they give. Booking, reschedule, walk-ins, the
//! desk's dose record, the mail scheduler and the pages all ask here, so they never disagree.
//! Pure: no database, no HTTP; days are the city's days (see [`super::days`]).

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::age_on;
use super::days::local_day;

/// Why a dose or an age is refused. `booking::BookingError` and `booking::clinic::ClinicError`
/// each turn it into their own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The dose number is outside the product's series.
    NotInSeries,
    /// This dose is already recorded for the resident.
    AlreadyGiven,
    /// The dose before it is not recorded.
    PreviousDoseMissing,
    /// The previous dose was of another product.
    WrongProduct,
    /// The window for this dose opens on `opens`, `min_days` after the previous dose.
    TooEarly { opens: NaiveDate, min_days: i32 },
    /// Younger than the product's minimum age.
    TooYoung,
    /// Older than the product's maximum age.
    TooOld,
}

/// What the rules need of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    pub product_id: i64,
    /// Doses in the series (dose numbers run from 1 to this).
    pub doses: i32,
    pub min_interval_days: i32,
    pub max_interval_days: i32,
    pub min_age_years: i32,
    pub max_age_years: i32,
}

/// A dose already given, as the rules see it (implemented by `models::Vaccination`).
pub trait GivenDose {
    /// Its place in the series, from 1.
    fn dose_number(&self) -> i32;
    /// The product given.
    fn product_id(&self) -> i64;
    /// When it was given (UTC).
    fn given_at(&self) -> NaiveDateTime;
}

/// The city days between which a dose is due, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoseWindow {
    /// The first day the dose may be given or booked.
    pub opens: NaiveDate,
    /// The last day it is due; later it is overdue (still allowed).
    pub closes: NaiveDate,
}

impl DoseWindow {
    /// The window `min_days` to `max_days` after the city day on which the previous dose was
    /// given.
    pub fn after(tz: Tz, previous_given_at: NaiveDateTime, min_days: i32, max_days: i32) -> Self {
        DoseWindow::after_day(local_day(tz, previous_given_at), min_days, max_days)
    }

    /// The window `min_days` to `max_days` after the city day `given` (a cohort of first doses
    /// given that day, as the allocation counts them).
    pub fn after_day(given: NaiveDate, min_days: i32, max_days: i32) -> Self {
        DoseWindow {
            opens: given + Duration::days(i64::from(min_days)),
            closes: given + Duration::days(i64::from(max_days)),
        }
    }

    /// Whether `day` is inside the window.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.opens <= day && day <= self.closes
    }

    /// Whether `day` is after the window's last day.
    pub fn is_past(&self, day: NaiveDate) -> bool {
        day > self.closes
    }

    /// The latest city day the previous dose can have been given on for the window of
    /// [`after_day`](Self::after_day) to be open by `day`: `after_day(g, min, _).opens <= day`
    /// exactly when `g <= opened_by(day, min)`. The dashboard asks the database with it.
    pub fn opened_by(day: NaiveDate, min_days: i32) -> NaiveDate {
        day - Duration::days(i64::from(min_days))
    }

    /// The latest city day the previous dose can have been given on for the window of
    /// [`after_day`](Self::after_day) to be past on `day`: `after_day(g, _, max).is_past(day)`
    /// exactly when `g <= past_by(day, max)`.
    pub fn past_by(day: NaiveDate, max_days: i32) -> NaiveDate {
        day - Duration::days(i64::from(max_days) + 1)
    }
}

/// The window for `dose` of `series`, from the previous dose's day and the product's interval;
/// `None` while the previous dose is not recorded.
pub fn next_dose_window<D: GivenDose>(
    series: &Series,
    given: &[D],
    dose: i32,
    tz: Tz,
) -> Option<DoseWindow> {
    let previous = given.iter().find(|v| v.dose_number() == dose - 1)?;
    Some(DoseWindow::after(
        tz,
        previous.given_at(),
        series.min_interval_days,
        series.max_interval_days,
    ))
}

/// Whether `dose` of `series` may be given (or booked) for the city day `on`, after the doses
/// already `given`: in the series, not yet given, and (after the first) the previous dose
/// recorded, of the same product, and its window open by `on`. A dose after the window closes
/// is overdue, not refused.
pub fn check_dose<D: GivenDose>(
    series: &Series,
    given: &[D],
    dose: i32,
    on: NaiveDate,
    tz: Tz,
) -> Result<(), Refusal> {
    if dose < 1 || dose > series.doses {
        return Err(Refusal::NotInSeries);
    }
    if given.iter().any(|v| v.dose_number() == dose) {
        return Err(Refusal::AlreadyGiven);
    }
    if dose > 1 {
        let previous = given
            .iter()
            .find(|v| v.dose_number() == dose - 1)
            .ok_or(Refusal::PreviousDoseMissing)?;
        if previous.product_id() != series.product_id {
            return Err(Refusal::WrongProduct);
        }
        let window = DoseWindow::after(
            tz,
            previous.given_at(),
            series.min_interval_days,
            series.max_interval_days,
        );
        if on < window.opens {
            return Err(Refusal::TooEarly {
                opens: window.opens,
                min_days: series.min_interval_days,
            });
        }
    }
    Ok(())
}

/// Whether a booking of `dose` held for the city day `booked` may be moved by the system (not by
/// the resident) to the city day `on`: a first dose anywhere; a later dose never after its
/// window's last day (or after the day already booked, if that was later: a move must not make
/// an overdue dose later still). The window's first day is [`check_dose`]'s.
pub fn stays_in_window<D: GivenDose>(
    series: &Series,
    given: &[D],
    dose: i32,
    booked: NaiveDate,
    on: NaiveDate,
    tz: Tz,
) -> bool {
    match next_dose_window(series, given, dose, tz) {
        Some(w) if dose > 1 => on <= w.closes.max(booked),
        _ => true,
    }
}

/// Whether someone born on `birth` is, on the city day `on`, inside the product's age range
/// (whole years, both ends included).
pub fn check_age(series: &Series, birth: NaiveDate, on: NaiveDate) -> Result<(), Refusal> {
    let age = age_on(birth, on);
    if age < series.min_age_years {
        Err(Refusal::TooYoung)
    } else if age > series.max_age_years {
        Err(Refusal::TooOld)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Given(i32, i64, NaiveDateTime);

    impl GivenDose for Given {
        fn dose_number(&self) -> i32 {
            self.0
        }
        fn product_id(&self) -> i64 {
            self.1
        }
        fn given_at(&self) -> NaiveDateTime {
            self.2
        }
    }

    const NONE: [Given; 0] = [];

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        day(y, m, d).and_hms_opt(h, min, 0).unwrap()
    }

    fn series() -> Series {
        Series {
            product_id: 7,
            doses: 2,
            min_interval_days: 21,
            max_interval_days: 56,
            min_age_years: 18,
            max_age_years: 59,
        }
    }

    fn shanghai() -> Tz {
        "Asia/Shanghai".parse().unwrap()
    }

    proptest::proptest! {
        /// The dashboard's question (was the dose given by this day?) and the booking's (is the
        /// window open, or past, on this day?) are one rule: checked for every given day, day
        /// and interval.
        #[test]
        fn the_day_bounds_answer_as_the_window_does(
            given_after in 0i64..1_000,
            on_after in 0i64..1_200,
            min in 0i32..100,
            longer in 0i32..100,
        ) {
            let epoch = day(2030, 1, 1);
            let given = epoch + Duration::days(given_after);
            let on = epoch + Duration::days(on_after);
            let max = min + longer;
            let window = DoseWindow::after_day(given, min, max);
            proptest::prop_assert_eq!(window.opens <= on, given <= DoseWindow::opened_by(on, min));
            proptest::prop_assert_eq!(window.is_past(on), given <= DoseWindow::past_by(on, max));
        }

        /// The same at the days where an answer changes: two days either side of the window's
        /// first day and of the first day after it (a random day lands there rarely).
        #[test]
        fn the_day_bounds_answer_as_the_window_does_at_its_edges(
            given_after in 0i64..1_000,
            min in 0i32..100,
            longer in 0i32..100,
            at_close in proptest::bool::ANY,
            near in -2i64..=2,
        ) {
            let given = day(2030, 1, 1) + Duration::days(given_after);
            let max = min + longer;
            let edge = if at_close { i64::from(max) + 1 } else { i64::from(min) };
            let on = given + Duration::days(edge + near);
            let window = DoseWindow::after_day(given, min, max);
            proptest::prop_assert_eq!(window.opens <= on, given <= DoseWindow::opened_by(on, min));
            proptest::prop_assert_eq!(window.is_past(on), given <= DoseWindow::past_by(on, max));
        }
    }

    #[test]
    fn a_system_move_keeps_a_later_dose_inside_its_window() {
        let first = [Given(1, 7, at(2030, 1, 1, 2, 0))];
        let tz = shanghai();
        let keeps = |given: &[Given], dose: i32, booked: NaiveDate, on: NaiveDate| {
            stays_in_window(&series(), given, dose, booked, on, tz)
        };
        let booked = day(2030, 2, 1);
        // The window is 2030-01-22 ..= 2030-02-26.
        assert!(keeps(&first, 2, booked, day(2030, 2, 26)));
        assert!(!keeps(&first, 2, booked, day(2030, 2, 27)));
        // Booked overdue: never later than the day booked.
        let late = day(2030, 3, 3);
        assert!(keeps(&first, 2, late, day(2030, 3, 2)));
        assert!(!keeps(&first, 2, late, day(2030, 3, 4)));
        // A first dose has no window.
        assert!(keeps(&NONE, 1, booked, day(2031, 1, 1)));
    }

    #[test]
    fn the_window_counts_city_days_not_utc_days() {
        // 2030-03-04 23:30 UTC is already 03-05 in Shanghai.
        let w = DoseWindow::after(shanghai(), at(2030, 3, 4, 23, 30), 21, 56);
        assert_eq!(w.opens, day(2030, 3, 26));
        assert_eq!(w.closes, day(2030, 4, 30));
        // The same instant in a zone behind UTC is still 03-04 there.
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let w = DoseWindow::after(la, at(2030, 3, 4, 23, 30), 21, 56);
        assert_eq!(w.opens, day(2030, 3, 25));
    }

    #[test]
    fn a_second_dose_is_refused_the_day_before_the_window_and_accepted_from_its_first_day() {
        let given = [Given(1, 7, at(2030, 3, 4, 23, 30))]; // 03-05 in Shanghai
        let s = series();
        assert_eq!(
            check_dose(&s, &given, 2, day(2030, 3, 25), shanghai()),
            Err(Refusal::TooEarly {
                opens: day(2030, 3, 26),
                min_days: 21
            })
        );
        assert_eq!(
            check_dose(&s, &given, 2, day(2030, 3, 26), shanghai()),
            Ok(())
        );
        // The window's last day and the day after: overdue is allowed, only reported as past.
        let w = next_dose_window(&s, &given, 2, shanghai()).unwrap();
        assert_eq!(
            check_dose(&s, &given, 2, day(2030, 4, 30), shanghai()),
            Ok(())
        );
        assert!(w.contains(day(2030, 4, 30)) && !w.is_past(day(2030, 4, 30)));
        assert!(!w.contains(day(2030, 5, 1)) && w.is_past(day(2030, 5, 1)));
        assert!(!w.contains(day(2030, 3, 25)) && w.contains(day(2030, 3, 26)));
    }

    #[test]
    fn a_city_without_daylight_saving_keeps_the_window_across_the_european_change() {
        // Europe moved its clocks on 2030-03-31; Shanghai did not, and its days stay 24 hours.
        let given = [Given(1, 7, at(2030, 3, 20, 16, 0))]; // 03-21 00:00 in Shanghai
        let w = next_dose_window(&series(), &given, 2, shanghai()).unwrap();
        assert_eq!(w.opens, day(2030, 4, 11));
        assert_eq!(
            super::super::days::day_start(shanghai(), w.opens),
            at(2030, 4, 10, 16, 0)
        );
        let given = [Given(1, 7, at(2030, 3, 20, 15, 59))]; // 03-20 23:59 in Shanghai
        let w = next_dose_window(&series(), &given, 2, shanghai()).unwrap();
        assert_eq!(w.opens, day(2030, 4, 10));
    }

    #[test]
    fn the_dose_rules_refuse_in_a_fixed_order() {
        let s = series();
        let first = Given(1, 7, at(2030, 1, 1, 2, 0));
        let on = day(2030, 6, 1);
        assert_eq!(
            check_dose(&s, &NONE, 0, on, shanghai()),
            Err(Refusal::NotInSeries)
        );
        assert_eq!(
            check_dose(&s, &NONE, 3, on, shanghai()),
            Err(Refusal::NotInSeries)
        );
        assert_eq!(check_dose(&s, &NONE, 1, on, shanghai()), Ok(()));
        assert_eq!(
            check_dose(&s, &[first], 1, on, shanghai()),
            Err(Refusal::AlreadyGiven)
        );
        assert_eq!(
            check_dose(&s, &NONE, 2, on, shanghai()),
            Err(Refusal::PreviousDoseMissing)
        );
        let other = Given(1, 8, at(2030, 1, 1, 2, 0));
        assert_eq!(
            check_dose(&s, &[other], 2, on, shanghai()),
            Err(Refusal::WrongProduct)
        );
        assert_eq!(next_dose_window(&s, &NONE, 2, shanghai()), None);
    }

    #[test]
    fn the_age_range_includes_both_ends_on_the_city_day() {
        let s = series();
        let birth = day(2012, 6, 15);
        assert_eq!(
            check_age(&s, birth, day(2030, 6, 14)),
            Err(Refusal::TooYoung)
        );
        assert_eq!(check_age(&s, birth, day(2030, 6, 15)), Ok(()));
        assert_eq!(check_age(&s, birth, day(2072, 6, 14)), Ok(()));
        assert_eq!(check_age(&s, birth, day(2072, 6, 15)), Err(Refusal::TooOld));
    }
}
