//! Page structs of city set-up: towns, products, sites with their template and exceptions,
//! staff accounts, and the CSV import.

use askama::Template;
use serde::Deserialize;

use super::FormErrors;
use crate::domain::city::hm;
use crate::models::template::{self, SiteHours, SiteTemplate};
use crate::views::layout::Layout;

/// The administrator's start page: what the city has so far, and what to do next.
#[derive(Template)]
#[template(path = "admin/home.html")]
pub struct AdminHomePage {
    pub ctx: Layout,
    /// `(label key, count, link, done)` per step.
    pub steps: Vec<(&'static str, i64, &'static str, bool)>,
    pub message: Option<String>,
    pub audit: Vec<(String, String)>,
}

/// A town in the list.
pub struct TownListRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub eligible: i64,
    pub contact_emails: String,
    pub active: bool,
    pub sites: usize,
}

/// Towns and the form to add one.
#[derive(Template)]
#[template(path = "admin/towns.html")]
pub struct TownsPage {
    pub ctx: Layout,
    pub towns: Vec<TownListRow>,
    pub form: TownForm,
    pub errors: FormErrors,
}

/// One town's form (edit, deactivate, delete).
#[derive(Template)]
#[template(path = "admin/town.html")]
pub struct TownEditPage {
    pub ctx: Layout,
    pub id: String,
    pub form: TownForm,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}

/// A product in the list.
pub struct ProductListRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub manufacturer: String,
    pub doses: i32,
    pub interval: String,
    pub ages: String,
    pub pack_size: i32,
}

/// Products and the form to add one.
#[derive(Template)]
#[template(path = "admin/products.html")]
pub struct ProductsPage {
    pub ctx: Layout,
    pub products: Vec<ProductListRow>,
    pub form: ProductForm,
    pub errors: FormErrors,
}

/// One product's form, and its interval history.
#[derive(Template)]
#[template(path = "admin/product.html")]
pub struct ProductEditPage {
    pub ctx: Layout,
    pub id: String,
    pub given: bool,
    pub form: ProductForm,
    pub errors: FormErrors,
    /// `(when, from, to, reason, by)`.
    pub history: Vec<(String, String, String, String, String)>,
}

/// A site in the list.
pub struct SiteListRow {
    pub id: String,
    pub name: String,
    pub town: String,
    pub address: String,
    pub active: bool,
    pub has_template: bool,
}

/// Sites and the form to add one.
#[derive(Template)]
#[template(path = "admin/sites.html")]
pub struct SitesPage {
    pub ctx: Layout,
    pub sites: Vec<SiteListRow>,
    pub towns: Vec<(String, String)>,
    pub form: SiteForm,
    pub errors: FormErrors,
}

/// An appointment an exception would displace, and where it would go.
pub struct AffectedRow {
    pub code: String,
    pub masked_id: String,
    /// The time booked.
    pub when: String,
    pub dose: i32,
    /// The site and time it moves to; `None`: cancelled, first on the waiting list.
    pub to: Option<String>,
}

/// One site: details, products and weekly template, exceptions.
#[derive(Template)]
#[template(path = "admin/site.html")]
pub struct SiteEditPage {
    pub ctx: Layout,
    pub id: String,
    pub towns: Vec<(String, String)>,
    pub form: SiteForm,
    pub errors: FormErrors,
    pub products: Vec<(String, String)>,
    pub template: TemplateForm,
    pub template_errors: FormErrors,
    /// `(weekday label key, field names, values)` per weekday.
    pub days: Vec<(&'static str, [&'static str; 4], [String; 4])>,
    pub exception: ExceptionForm,
    pub exception_errors: FormErrors,
    pub affected: Vec<AffectedRow>,
    /// How many of `affected` move (the rest are cancelled).
    pub moved: usize,
    /// The plan's fingerprint, posted back to confirm it.
    pub plan_token: String,
    /// The admin confirmed a plan that has since changed.
    pub plan_changed: bool,
    /// `(day, what, reason)`.
    pub exceptions: Vec<(String, String, String)>,
    pub future_slots: i64,
    pub message: Option<String>,
    pub refusal: Option<String>,
}

impl SiteEditPage {
    /// Whether a product's checkbox is ticked.
    pub fn has_product(&self, id: &str) -> bool {
        self.template.products.iter().any(|p| p == id)
    }
}

/// A user in the list.
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub role: String,
    pub site: String,
    pub active: bool,
    pub is_me: bool,
}

/// Staff accounts.
#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    pub ctx: Layout,
    pub users: Vec<UserRow>,
    pub sites: Vec<(String, String)>,
    pub form: UserForm,
    pub errors: FormErrors,
    pub message: Option<String>,
    pub refusal: Option<String>,
}

/// The CSV import.
#[derive(Template)]
#[template(path = "admin/import.html")]
pub struct ImportPage {
    pub ctx: Layout,
    pub csv: String,
    pub problems: Vec<(usize, String)>,
    pub message: Option<String>,
}

/// What residents see until some site has published slots.
#[derive(Template)]
#[template(path = "resident/not_set_up.html")]
pub struct NotSetUpPage {
    pub ctx: Layout,
}

// The set-up forms as posted (raw strings, with their CSRF token); `web::admin::forms` reads
// them into `setup` inputs, and a refused form is shown again as typed.

/// The town form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TownForm {
    pub code: String,
    pub name: String,
    /// The English name (optional).
    pub name_en: String,
    pub eligible: String,
    pub contact_emails: String,
    pub active: String,
    pub csrf: String,
}

/// The product form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProductForm {
    pub code: String,
    pub name: String,
    /// The English name (optional).
    pub name_en: String,
    pub manufacturer: String,
    pub doses_in_series: String,
    pub min_interval_days: String,
    pub max_interval_days: String,
    pub min_age_years: String,
    pub max_age_years: String,
    pub pack_size: String,
    pub reason: String,
    pub csrf: String,
}

/// The site form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SiteForm {
    pub town_id: String,
    pub name: String,
    pub address: String,
    /// The English name and address (optional).
    pub name_en: String,
    pub address_en: String,
    pub active: String,
    pub csrf: String,
}

/// Field names of the opening hours, per weekday (0 = Monday): opens, lunch starts, lunch ends,
/// closes.
pub const HOUR_FIELDS: [[&str; 4]; 7] = [
    ["opens_0", "lunch_starts_0", "lunch_ends_0", "closes_0"],
    ["opens_1", "lunch_starts_1", "lunch_ends_1", "closes_1"],
    ["opens_2", "lunch_starts_2", "lunch_ends_2", "closes_2"],
    ["opens_3", "lunch_starts_3", "lunch_ends_3", "closes_3"],
    ["opens_4", "lunch_starts_4", "lunch_ends_4", "closes_4"],
    ["opens_5", "lunch_starts_5", "lunch_ends_5", "closes_5"],
    ["opens_6", "lunch_starts_6", "lunch_ends_6", "closes_6"],
];

/// The template form as typed (built from the form's pairs: products are repeated checkboxes).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(from = "Vec<(String, String)>")]
pub struct TemplateForm {
    /// Per weekday: opens, lunch starts, lunch ends, closes (`HH:MM` or empty).
    pub hours: [[String; 4]; 7],
    pub slot_minutes: String,
    pub seats: String,
    pub days_ahead: String,
    pub products: Vec<String>,
    pub csrf: String,
    /// The release rule: days before the slot's day (empty: no rule), local `HH:MM`, and the
    /// draw window in minutes (empty: 10).
    pub release_days: String,
    pub release_time: String,
    pub draw_minutes: String,
}

impl From<Vec<(String, String)>> for TemplateForm {
    /// Collect the form from its `name=value` pairs (what `Deserialize` reads it from).
    fn from(pairs: Vec<(String, String)>) -> TemplateForm {
        let mut f = TemplateForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "slot_minutes" => f.slot_minutes = v,
                "seats" => f.seats = v,
                "days_ahead" => f.days_ahead = v,
                "product" => f.products.push(v),
                "csrf" => f.csrf = v,
                "release_days" => f.release_days = v,
                "release_time" => f.release_time = v,
                "draw_minutes" => f.draw_minutes = v,
                _ => {
                    for (d, names) in HOUR_FIELDS.iter().enumerate() {
                        if let Some(i) = names.iter().position(|n| *n == k) {
                            f.hours[d][i] = v.clone();
                        }
                    }
                }
            }
        }
        f
    }
}

impl TemplateForm {
    /// Show a stored release rule in the form.
    pub fn with_release(mut self, rule: &template::ReleaseRule) -> Self {
        self.release_days = rule.release_days.map(|d| d.to_string()).unwrap_or_default();
        self.release_time = rule.release_minutes.map(hm).unwrap_or_default();
        self.draw_minutes = rule.draw_minutes.to_string();
        self
    }

    /// The form showing a stored template.
    pub fn from_stored(t: Option<&SiteTemplate>, hours: &[SiteHours], products: &[i64]) -> Self {
        let mut f = TemplateForm {
            slot_minutes: t.map_or("30".into(), |t| t.slot_minutes.to_string()),
            seats: t.map_or("6".into(), |t| t.seats.to_string()),
            days_ahead: t.map_or("14".into(), |t| t.days_ahead.to_string()),
            products: products.iter().map(i64::to_string).collect(),
            ..Default::default()
        };
        for h in hours {
            if let Some(day) = usize::try_from(h.weekday)
                .ok()
                .and_then(|d| f.hours.get_mut(d))
            {
                *day = [
                    hm(h.opens),
                    h.lunch_starts.map(hm).unwrap_or_default(),
                    h.lunch_ends.map(hm).unwrap_or_default(),
                    hm(h.closes),
                ];
            }
        }
        f
    }
}

/// The user form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct UserForm {
    pub username: String,
    pub role: String,
    pub site_id: String,
    pub password: String,
    pub csrf: String,
}

/// The exception form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ExceptionForm {
    #[serde(rename = "exc-day")]
    pub day: String,
    pub kind: String,
    #[serde(rename = "exc-starts")]
    pub starts: String,
    #[serde(rename = "exc-ends")]
    pub ends: String,
    #[serde(rename = "exc-seats")]
    pub seats: String,
    #[serde(rename = "exc-reason")]
    pub reason: String,
    /// How many affected appointments the admin saw and confirmed.
    pub confirm: String,
    pub csrf: String,
}
