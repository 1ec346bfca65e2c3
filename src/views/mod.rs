//! Page structs rendered by askama templates in `templates/`, and the formatting they share
//! (times in the city's zone, dates in the page's language, the QR code).

pub mod clinic;
pub mod draw;
pub mod household;
pub mod layout;
pub mod record;
pub mod resident;
pub mod site_day;

use std::collections::BTreeMap;

use askama::Template;

pub use crate::domain::days::{day_bounds, local};
pub use crate::i18n::{at_label, day_label, hm, when};
use layout::Layout;

/// Field errors of a form, already in the page's language.
#[derive(Debug, Default, Clone)]
pub struct FormErrors(BTreeMap<&'static str, String>);

impl FormErrors {
    /// Add a message for a field.
    pub fn add(&mut self, field: &'static str, message: String) {
        self.0.entry(field).or_insert(message);
    }

    /// The message for a field.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// Whether the form has no errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every error, for the summary at the top of the form.
    pub fn all(&self) -> Vec<(&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

/// `(id, name in lang)` of each town, for a choice of town.
pub fn town_choices(
    lang: crate::i18n::Lang,
    towns: &[crate::models::Town],
) -> Vec<(String, String)> {
    use crate::models::LocalName;
    towns
        .iter()
        .map(|t| (t.id.to_string(), t.local_name(lang).to_string()))
        .collect()
}

/// The name of product `id` among `products` in `lang` ("" if it is not there).
pub fn product_name(
    lang: crate::i18n::Lang,
    products: &[crate::models::Product],
    id: i64,
) -> String {
    use crate::models::LocalName;
    products
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.local_name(lang).to_string())
        .unwrap_or_default()
}

/// An inline SVG QR code for `text`, sized by CSS.
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            match svg.find("<svg") {
                Some(i) => svg[i..].to_string(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

/// Any error page (`web::ctx` builds it for a request).
#[derive(Template)]
#[template(path = "errors/error.html")]
pub struct ErrorPage {
    pub ctx: Layout,
    pub status: u16,
    pub message: &'static str,
}

/// A town on the home page.
pub struct TownRow {
    pub id: String,
    pub name: String,
    pub sites: usize,
}

/// The home page.
#[derive(Template)]
#[template(path = "resident/home.html")]
pub struct HomePage {
    pub ctx: Layout,
    pub towns: Vec<TownRow>,
    pub first_run: bool,
}

/// A site on a town's page.
pub struct SiteRow {
    pub id: String,
    pub name: String,
    pub address: String,
    pub next_free: Option<String>,
    /// Seats free but no dose left to promise: the site takes no booking now.
    pub no_stock: bool,
}

/// The values typed into the resident details form, kept on errors.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct ResidentForm {
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub email: String,
    pub dose_number: String,
    /// A draw entry's "another site in the same town will do" checkbox (`on` when ticked).
    pub any_site_in_town: String,
    pub csrf: String,
}

impl ResidentForm {
    /// Residents booking give an e-mail address (the walk-in form's is optional).
    pub fn email_required(&self) -> bool {
        true
    }
}

/// A town's sites, and the waiting list when nothing is free.
#[derive(Template)]
#[template(path = "resident/town.html")]
pub struct TownPage {
    pub ctx: Layout,
    pub town_id: String,
    pub town_name: String,
    pub sites: Vec<SiteRow>,
    pub any_free: bool,
    pub waiting: i64,
    pub form: ResidentForm,
    pub errors: FormErrors,
}

/// One slot in a day's list.
pub struct SlotRow {
    pub id: String,
    pub time: String,
    pub product: String,
    pub free_first: i32,
    pub free_second: i32,
    /// Seats free but no dose in stock to promise: nothing can be booked here now.
    pub no_stock: bool,
    pub label: String,
    /// Why it cannot be booked or entered now ("opens at ..."), if so.
    pub closed: Option<String>,
    /// Whether a request for it is an entry in its draw.
    pub in_draw: bool,
    /// Closed by the site (no seats): `label` says so, with the reason when known.
    pub shut: bool,
    /// The slot of the appointment being moved (not offered as a place to move to).
    pub current: bool,
    /// Moving: whether this slot would take the appointment (a seat for its dose, the dose
    /// window and age range on that day).
    pub movable: bool,
}

impl SlotRow {
    /// Whether a first-come booking can take a seat here now: open, not closed by the site, a
    /// seat and a dose to promise (the household page offers only these).
    pub fn takes_booking(&self) -> bool {
        !self.shut && self.closed.is_none() && !self.no_stock && self.free_second > 0
    }
}

/// A site's day of slots.
#[derive(Template)]
#[template(path = "resident/site.html")]
pub struct SitePage {
    pub ctx: Layout,
    pub site_id: String,
    pub site_name: String,
    pub address: String,
    pub town_id: String,
    pub town_name: String,
    pub day: String,
    pub prev_date: Option<String>,
    pub next_date: Option<String>,
    pub slots: Vec<SlotRow>,
    /// The site holds no dose of any vaccine left to promise: the page says so first.
    pub no_stock: bool,
    /// The draws the day's slots open with.
    pub draws: Vec<draw::DrawRow>,
    /// The time left until the day's next slot opens, if one has not yet.
    pub countdown: Option<draw::Countdown>,
    /// When set, each slot offers "move here" for the resident's appointment.
    pub moving: bool,
    /// What was wrong with the `?date=` asked for (the page then shows today).
    pub date_error: Option<String>,
    pub other_sites: Vec<(String, String)>,
}

/// The booking form for one slot.
#[derive(Template)]
#[template(path = "resident/book.html")]
pub struct BookPage {
    pub ctx: Layout,
    pub slot_id: String,
    pub site_id: String,
    pub site_name: String,
    pub address: String,
    pub when: String,
    pub product: String,
    pub doses_in_series: i32,
    pub form: ResidentForm,
    pub errors: FormErrors,
    pub refusal: Option<String>,
    /// The slot's opening: not yet, or in a draw.
    pub notice: Option<String>,
    /// Whether submitting enters a draw rather than booking.
    pub entering: bool,
}

/// An appointment, as its holder sees it.
#[derive(Template)]
#[template(path = "resident/appointment.html")]
pub struct AppointmentPage {
    pub ctx: Layout,
    pub code: String,
    pub qr: String,
    pub name: String,
    pub masked_id: String,
    pub site_id: String,
    pub site_name: String,
    pub address: String,
    pub when: String,
    pub arrive: String,
    /// How long to stay after the injection (`DOSEWISE_OBSERVATION_MINUTES`).
    pub observe: String,
    pub product: String,
    pub dose_number: i32,
    pub status_label: &'static str,
    /// The status as stored: its colour on the page (only a live or done one is green).
    pub status: &'static str,
    pub active: bool,
    /// The catalogue key of the heading: booked, moved, or just "my appointment".
    pub heading: &'static str,
    pub next_dose: Option<String>,
    pub town_id: String,
    /// Why screening deferred the dose, when it did.
    pub deferral_reason: Option<String>,
    /// Whether the page offers to book the dose again (cancelled, deferred, missed).
    pub rebook: bool,
}

/// "Cancel this appointment?": the step before the cancel form posts.
#[derive(Template)]
#[template(path = "resident/cancel.html")]
pub struct CancelPage {
    pub ctx: Layout,
    pub code: String,
    pub site_name: String,
    pub when: String,
}

/// Find an appointment by code and ID number.
#[derive(Template)]
#[template(path = "resident/find.html")]
pub struct FindPage {
    pub ctx: Layout,
    pub code: String,
    pub errors: FormErrors,
    pub refusal: Option<String>,
    /// Found, the appointment's move page opens (`/find?then=move`).
    pub to_move: bool,
}

/// Joined a waiting list.
#[derive(Template)]
#[template(path = "resident/waiting.html")]
pub struct WaitingPage {
    pub ctx: Layout,
    pub town_name: String,
    pub message: String,
}

/// The staff login page.
#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub ctx: Layout,
    pub username: String,
    pub next: String,
    pub error: Option<&'static str>,
}

pub mod admin;
pub mod audit;
pub mod bureau;
pub mod chart;
pub mod dashboard;
pub mod exports;
