//! The set-up forms read into `setup` inputs: each field through its domain type, the rules
//! across fields through the domain constructors, every refusal noted next to its field.

use chrono::{Duration, NaiveDate};

use crate::domain::city::{
    checkbox, parse_emails, parse_text, AgeRange, AgeYears, ClockTime, Code, DayHours, DaysAhead,
    DoseCount, DrawMinutes, Eligible, ExceptionSeats, Interval, IntervalDays, PackSize, Password,
    ReleaseDays, Seats, SlotMinutes, Username, Window,
};
use crate::domain::{parse_id, text, PlainText, TextRule};
use crate::models::template::ReleaseRule;
use crate::models::Role;
use crate::setup::{
    ExceptionInput, ExceptionKind, FieldErrors, ProductInput, SetupError, SiteInput, TemplateInput,
    TownInput, UserInput,
};
use crate::views::admin::{
    ExceptionForm, ProductForm, SiteForm, TemplateForm, TownForm, UserForm, HOUR_FIELDS,
};

/// The town form (a new town is active).
pub fn town_input(f: &TownForm, new: bool) -> Result<TownInput, SetupError> {
    let mut check = FieldErrors::default();
    let code = check.read("code", Code::parse(&f.code));
    let name = check.read("name", parse_text(&f.name, 60, "err.setup.name"));
    let name_en = check.read("name_en", optional_text(&f.name_en, 60, "err.setup.name"));
    let eligible = check.read("eligible", Eligible::parse(&f.eligible));
    let emails = check.read(
        "contact_emails",
        parse_emails(&f.contact_emails, "err.setup.emails"),
    );
    check.finish(|| {
        Some(TownInput {
            code: code?,
            name: name?,
            name_en: name_en?,
            eligible: eligible?,
            contact_emails: emails?,
            active: new || checkbox(&f.active),
        })
    })
}

/// An optional one-line text (an English name): `None` when left empty.
fn optional_text(raw: &str, max: usize, key: &'static str) -> Result<Option<String>, &'static str> {
    if text::clean(raw) == Some("") {
        return Ok(None);
    }
    parse_text(raw, max, key).map(Some)
}

/// The product form.
pub fn product_input(f: &ProductForm) -> Result<ProductInput, SetupError> {
    let mut check = FieldErrors::default();
    let doses = check.read("doses_in_series", DoseCount::parse(&f.doses_in_series));
    let min = check.read(
        "min_interval_days",
        IntervalDays::parse(&f.min_interval_days),
    );
    let max = check.read(
        "max_interval_days",
        IntervalDays::parse(&f.max_interval_days),
    );
    let min_age = check.read("min_age_years", AgeYears::parse(&f.min_age_years));
    let max_age = check.read("max_age_years", AgeYears::parse(&f.max_age_years));
    let pack = check.read("pack_size", PackSize::parse(&f.pack_size));
    let code = check.read("code", Code::parse(&f.code));
    let name = check.read("name", parse_text(&f.name, 60, "err.setup.name"));
    let name_en = check.read("name_en", optional_text(&f.name_en, 60, "err.setup.name"));
    let manufacturer = check.read(
        "manufacturer",
        parse_text(&f.manufacturer, 80, "err.setup.name"),
    );
    let interval = min
        .zip(max)
        .and_then(|(a, b)| check.read("max_interval_days", Interval::new(a, b)));
    let ages = min_age
        .zip(max_age)
        .and_then(|(a, b)| check.read("max_age_years", AgeRange::new(a, b)));
    let reason = check
        .read(
            "reason",
            PlainText::parse(&f.reason, TextRule::line("reason", 200))
                .map_err(|e| e.or_key("err.setup.reason").key),
        )
        .map(PlainText::into_string);
    check.finish(|| {
        Some(ProductInput {
            code: code?,
            name: name?,
            name_en: name_en?,
            manufacturer: manufacturer?,
            doses_in_series: doses?,
            interval: interval?,
            ages: ages?,
            pack_size: pack?,
            reason: reason?,
        })
    })
}

/// The site form (a new site is active).
pub fn site_input(f: &SiteForm, new: bool) -> Result<SiteInput, SetupError> {
    let mut check = FieldErrors::default();
    let town_id = check.read("town_id", parse_id(&f.town_id).ok_or("err.setup.town"));
    let name = check.read("name", parse_text(&f.name, 60, "err.setup.name"));
    let address = check.read("address", parse_text(&f.address, 120, "err.setup.address"));
    let name_en = check.read("name_en", optional_text(&f.name_en, 60, "err.setup.name"));
    let address_en = check.read(
        "address_en",
        optional_text(&f.address_en, 120, "err.setup.address"),
    );
    check.finish(|| {
        Some(SiteInput {
            town_id: town_id?,
            name: name?,
            address: address?,
            name_en: name_en?,
            address_en: address_en?,
            active: new || checkbox(&f.active),
        })
    })
}

/// The template form: products, opening hours per weekday, slots, and the release rule.
pub fn template_input(f: &TemplateForm) -> Result<TemplateInput, SetupError> {
    let mut check = FieldErrors::default();
    let slot_minutes = check.read("slot_minutes", SlotMinutes::parse(&f.slot_minutes));
    let seats = check.read("seats", Seats::parse(&f.seats));
    let days_ahead = check.read("days_ahead", DaysAhead::parse(&f.days_ahead));
    let mut products = Vec::new();
    for p in &f.products {
        match parse_id(p) {
            Some(id) if !products.contains(&id) => products.push(id),
            Some(_) => {}
            None => check.add("products", "err.setup.products"),
        }
    }
    if products.is_empty() {
        check.add("products", "err.setup.products");
    }
    let mut hours = Vec::new();
    for (d, raw) in f.hours.iter().enumerate() {
        if let Some(h) = day_hours(d, raw, &mut check) {
            hours.push(h);
        }
    }
    if check.is_empty() && hours.is_empty() {
        check.add(HOUR_FIELDS[0][0], "err.setup.no_hours");
    }
    let release = release_rule(f, &mut check);
    check.finish(|| {
        Some(TemplateInput {
            hours,
            slot_minutes: slot_minutes?,
            seats: seats?,
            days_ahead: days_ahead?,
            products,
            release,
        })
    })
}

/// One weekday's hours (`None` when closed or refused): opens and closes both given or both
/// empty, lunch both or neither, in order.
fn day_hours(d: usize, raw: &[String; 4], check: &mut FieldErrors) -> Option<DayHours> {
    let names = HOUR_FIELDS[d];
    let blank: Vec<bool> = raw.iter().map(|s| text::clean(s) == Some("")).collect();
    if blank[0] && blank[3] {
        if !(blank[1] && blank[2]) {
            check.add(names[0], "err.setup.hours_missing");
        }
        return None;
    }
    let parsed: Vec<Option<ClockTime>> = raw.iter().map(|s| ClockTime::parse(s).ok()).collect();
    let mut bad = false;
    for i in 0..4 {
        let required = i == 0 || i == 3;
        if (required || !blank[i]) && parsed[i].is_none() {
            check.add(names[i], ClockTime::KEY);
            bad = true;
        }
    }
    if blank[1] != blank[2] {
        check.add(names[1], "err.setup.lunch_both");
        bad = true;
    }
    if bad {
        return None;
    }
    let (opens, closes) = (parsed[0]?, parsed[3]?);
    let lunch = parsed[1].zip(parsed[2]);
    check.read(names[3], DayHours::new(d as u32, opens, lunch, closes))
}

/// The release rule of the template form: both day and time, or neither (no rule).
fn release_rule(f: &TemplateForm, check: &mut FieldErrors) -> ReleaseRule {
    let (days_raw, time_raw) = (f.release_days.trim(), f.release_time.trim());
    let draw_minutes = if f.draw_minutes.trim().is_empty() {
        ReleaseRule::NONE.draw_minutes
    } else {
        check
            .read("draw_minutes", DrawMinutes::parse(&f.draw_minutes))
            .map_or(0, DrawMinutes::get)
    };
    let mut rule = ReleaseRule {
        draw_minutes,
        ..ReleaseRule::NONE
    };
    if days_raw.is_empty() && time_raw.is_empty() {
        return rule;
    }
    rule.release_days = check
        .read("release_days", ReleaseDays::parse(days_raw))
        .map(ReleaseDays::get);
    rule.release_minutes = check
        .read(
            "release_time",
            ClockTime::parse_within_day(time_raw, "err.setup.release_time"),
        )
        .map(ClockTime::minutes);
    rule
}

/// The exception form; an empty window means the whole day, which is today or within a year.
pub fn exception_input(f: &ExceptionForm, today: NaiveDate) -> Result<ExceptionInput, SetupError> {
    let mut check = FieldErrors::default();
    let day = text::clean(&f.day).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match day {
        None => check.add("day", "err.setup.date"),
        Some(d) if d < today => check.add("day", "err.setup.past"),
        Some(d) if d > today + Duration::days(366) => check.add("day", "err.setup.too_far"),
        _ => {}
    }
    let time = |raw: &str, default: ClockTime| {
        if text::clean(raw) == Some("") {
            Ok(default)
        } else {
            ClockTime::parse(raw)
        }
    };
    let starts = check.read("starts", time(&f.starts, ClockTime::MIDNIGHT));
    let ends = check.read("ends", time(&f.ends, ClockTime::END_OF_DAY));
    let window = starts
        .zip(ends)
        .and_then(|(a, b)| check.read("ends", Window::new(a, b)));
    let kind = match f.kind.as_str() {
        "closed" => Some(ExceptionKind::Closed),
        "seats" => check
            .read("seats", ExceptionSeats::parse(&f.seats))
            .map(ExceptionKind::Seats),
        _ => {
            check.add("kind", "err.setup.kind");
            None
        }
    };
    let reason = check.read(
        "reason",
        parse_text(&f.reason, 200, "err.setup.reason_required"),
    );
    // The fingerprint of the plan confirmed (`count-hex`); anything else confirms nothing.
    let confirmed = text::clean(&f.confirm)
        .filter(|c| !c.is_empty() && c.len() <= 40)
        .filter(|c| c.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-'))
        .map(str::to_string);
    check.finish(|| {
        Some(ExceptionInput {
            day: day?,
            kind: kind?,
            window: window?,
            reason: reason?,
            confirmed,
        })
    })
}

/// The user form (a site only for clinic staff, who must have one).
pub fn user_input(f: &UserForm) -> Result<UserInput, SetupError> {
    let mut check = FieldErrors::default();
    let username = check.read("username", Username::parse(&f.username));
    let role = check.read("role", Role::parse(&f.role).ok_or("err.setup.role"));
    let site_id = parse_id(&f.site_id);
    if role == Some(Role::Clinic) && site_id.is_none() {
        check.add("site_id", "err.setup.user_site");
    }
    let password = check.read("password", Password::parse(&f.password));
    check.finish(|| {
        Some(UserInput {
            username: username?,
            role: role?,
            site_id: site_id.filter(|_| role == Some(Role::Clinic)),
            password: password?,
        })
    })
}
