//! Page structs of city set-up: towns, products, sites with their template and exceptions,
//! staff accounts, and the CSV import.

use askama::Template;

use super::FormErrors;
use crate::setup::{ExceptionForm, ProductForm, SiteForm, TemplateForm, TownForm, UserForm};
use crate::web::ctx::Ctx;

/// The administrator's start page: what the city has so far, and what to do next.
#[derive(Template)]
#[template(path = "admin/home.html")]
pub struct AdminHomePage {
    pub ctx: Ctx,
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
    pub ctx: Ctx,
    pub towns: Vec<TownListRow>,
    pub form: TownForm,
    pub errors: FormErrors,
}

/// One town's form (edit, deactivate, delete).
#[derive(Template)]
#[template(path = "admin/town.html")]
pub struct TownEditPage {
    pub ctx: Ctx,
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
    pub ctx: Ctx,
    pub products: Vec<ProductListRow>,
    pub form: ProductForm,
    pub errors: FormErrors,
}

/// One product's form, and its interval history.
#[derive(Template)]
#[template(path = "admin/product.html")]
pub struct ProductEditPage {
    pub ctx: Ctx,
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
    pub ctx: Ctx,
    pub sites: Vec<SiteListRow>,
    pub towns: Vec<(String, String)>,
    pub form: SiteForm,
    pub errors: FormErrors,
}

/// An appointment an exception would cancel.
pub struct AffectedRow {
    pub code: String,
    pub masked_id: String,
    pub when: String,
    pub dose: i32,
}

/// One site: details, products and weekly template, exceptions.
#[derive(Template)]
#[template(path = "admin/site.html")]
pub struct SiteEditPage {
    pub ctx: Ctx,
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
    pub ctx: Ctx,
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
    pub ctx: Ctx,
    pub csv: String,
    pub problems: Vec<(usize, String)>,
    pub message: Option<String>,
}

/// What residents see until some site has published slots.
#[derive(Template)]
#[template(path = "resident/not_set_up.html")]
pub struct NotSetUpPage {
    pub ctx: Ctx,
}
