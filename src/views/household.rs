//! The household page: every member's doses and appointments, the form that adds a member, and
//! the one that books several members together; and the page that finds a household.

use askama::Template;
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::FormErrors;
use crate::domain::days::local_day;
use crate::domain::eligibility::next_dose_window;
use crate::domain::{BookingCode, IdNumber};
use crate::i18n::{at_label, day_label, Lang};
use crate::models::{appointment, vaccination};
use crate::views::layout::Layout;

/// One member, as the household page shows them (the ID number masked).
pub struct MemberRow {
    /// The resident's id: the value of their checkbox.
    pub id: String,
    pub name: String,
    pub masked_id: String,
    /// Each dose given, in words.
    pub doses: Vec<String>,
    /// Each appointment still ahead or held, in words.
    pub appointments: Vec<String>,
    /// What comes next for them, in words.
    pub next: String,
    /// Whether they can be chosen for a booking together.
    pub bookable: bool,
    /// Whether their box is ticked (the form again after a refusal).
    pub chosen: bool,
}

/// One slot offered for a booking together.
pub struct SlotChoice {
    pub id: String,
    pub time: String,
    pub product: String,
    pub label: String,
    /// It takes no booking: no seat left, closed, no dose to promise, not open yet or being
    /// drawn (the label says which).
    pub full: bool,
    pub chosen: bool,
}

/// A site in the site list.
pub struct SiteChoice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

/// The typed values of the add-a-member form, kept on errors (the ID number only in the answer
/// to the same POST, and only when another field is wrong).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct MemberForm {
    pub name: String,
    pub id_number: String,
    pub csrf: String,
}

/// `GET /household`.
#[derive(Template)]
#[template(path = "resident/household.html")]
pub struct HouseholdPage {
    pub ctx: Layout,
    pub members: Vec<MemberRow>,
    /// "n of max members".
    pub count: String,
    pub can_add: bool,
    pub form: MemberForm,
    pub errors: FormErrors,
    /// Why the last action was refused (nothing was done).
    pub refusal: Option<String>,
    /// What the last action did.
    pub notice: Option<String>,
    pub sites: Vec<SiteChoice>,
    pub site_id: String,
    /// The day shown, `YYYY-MM-DD`, and in words.
    pub date: String,
    pub day: String,
    pub slots: Vec<SlotChoice>,
    pub any_bookable: bool,
}

/// `GET /household/find`: a booking code of any member and that member's ID number.
#[derive(Template)]
#[template(path = "resident/household_find.html")]
pub struct HouseholdFindPage {
    pub ctx: Layout,
    pub code: String,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}

/// What every member's row is written with.
pub struct RowContext<'a> {
    pub lang: Lang,
    pub tz: Tz,
    pub today: NaiveDate,
    pub products: &'a [crate::models::Product],
    /// Every site's name in the page's language.
    pub site_names: &'a [(i64, String)],
    /// The members ticked on the form being shown again.
    pub chosen: &'a [i64],
}

/// A member's doses in words, what comes next for them, and whether they can be booked now.
pub fn member_row(
    rc: &RowContext<'_>,
    m: &crate::models::Resident,
    given: &[vaccination::Vaccination],
    appts: &[appointment::Appointment],
) -> MemberRow {
    let RowContext {
        lang,
        tz,
        today,
        products,
        site_names,
        chosen,
    } = *rc;
    let site_name = |id: i64| {
        site_names
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    let doses = given
        .iter()
        .map(|v| {
            let day = day_label(lang, local_day(tz, v.given_at));
            let n = v.dose_number.to_string();
            let product = super::product_name(lang, products, v.product_id);
            let site = site_name(v.site_id);
            let args = [
                ("n", n.as_str()),
                ("product", &product),
                ("day", &day),
                ("site", &site),
            ];
            lang.tf("house.dose_given", &args)
        })
        .collect();
    let appointments = appts
        .iter()
        .map(|a| {
            let at = at_label(lang, tz, a.starts_at);
            let code = BookingCode::shown(&a.code);
            let n = a.dose_number.to_string();
            let status = lang.t(&format!("status.{}", a.status().as_str()));
            let site = site_name(a.site_id);
            let args = [
                ("n", n.as_str()),
                ("when", &at),
                ("site", &site),
                ("code", &code),
                ("status", status),
            ];
            lang.tf("house.appt_line", &args)
        })
        .collect();
    let vaccs = given;
    let next_n = vaccs.len() as i32 + 1;
    let n = next_n.to_string();
    let series = vaccs
        .first()
        .and_then(|v| products.iter().find(|p| p.id == v.product_id))
        .map(|p| p.series());
    let booked = appts
        .iter()
        .any(|a| a.dose_number == next_n && a.status().is_active());
    let (next, bookable) = match series {
        Some(s) if next_n > s.doses => (lang.t("house.complete").to_string(), false),
        _ if booked => (lang.tf("house.next_booked", &[("n", &n)]), false),
        Some(s) => match next_dose_window(&s, vaccs, next_n, tz) {
            Some(w) if w.opens > today => {
                let date = day_label(lang, w.opens);
                (
                    lang.tf("house.next_from", &[("n", &n), ("date", &date)]),
                    true,
                )
            }
            _ => (lang.tf("house.next_dose", &[("n", &n)]), true),
        },
        None => (lang.tf("house.next_dose", &[("n", &n)]), true),
    };
    MemberRow {
        id: m.id.to_string(),
        name: m.name.clone(),
        masked_id: IdNumber::mask_stored(&m.id_last4),
        doses,
        appointments,
        next,
        bookable,
        chosen: chosen.contains(&m.id),
    }
}
