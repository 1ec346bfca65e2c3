//! HTTP: the one route table, extractor configuration, and the handler modules per area.

pub mod admin;
pub mod api;
pub mod auth;
pub mod bureau;
pub mod cache;
pub mod clinic;
pub mod common;
pub mod cookies;
pub mod ctx;
pub mod dashboard;
pub mod draw;
pub mod exports;
pub mod find;
pub mod household;
pub mod limits;
pub mod lookup;
pub mod metrics;
pub mod middleware;
pub mod moving;
pub mod record;
pub mod refusal;
pub mod resident;
pub mod respond;
pub mod site_day;
pub mod staff;
pub mod state;

use actix_web::error::UrlencodedError;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::error::AppError;
use crate::i18n::Lang;

/// The largest form or JSON body accepted.
pub const BODY_LIMIT: usize = 16 * 1024;

/// Every route, in one table.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::FormConfig::default()
            .limit(BODY_LIMIT)
            .error_handler(|err, _| match err {
                UrlencodedError::Overflow { .. } => AppError::TooLarge.into(),
                _ => AppError::BadRequest.into(),
            }),
    )
    .app_data(
        web::JsonConfig::default()
            .limit(BODY_LIMIT)
            .content_type_required(true)
            .error_handler(api::ApiError::from_json),
    )
    .app_data(web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()))
    .app_data(web::QueryConfig::default().error_handler(|_, _| AppError::BadRequest.into()))
    .app_data(web::PayloadConfig::default().limit(BODY_LIMIT))
    // The cheap reads the whole city sends come first: actix tries the routes in this order,
    // and each dynamic route passed on the way costs a regex match (measured: a tenth of a
    // cheap request when `/healthz` came after some fifty of them; BENCHMARKS.md).
    // JSON API
    .route("/api/v1/towns", web::get().to(api::towns))
    .route("/api/v1/availability", web::get().to(api::availability))
    .route("/api/v1/appointments", web::post().to(api::book))
    .route("/api/v1/appointments/lookup", web::post().to(api::lookup))
    .route("/api/v1/appointments/cancel", web::post().to(api::cancel))
    .route("/api/v1/entries/lookup", web::post().to(api::entry_lookup))
    .route("/api/v1/draws/{id}", web::get().to(api::draw))
    // Plumbing
    .route("/healthz", web::get().to(api::healthz))
    .route("/readyz", web::get().to(api::readyz))
    .route("/static/app.css", web::get().to(stylesheet))
    .route("/static/clinic.js", web::get().to(clinic::script))
    .route(
        "/static/desk-offline.js",
        web::get().to(clinic::offline_script),
    )
    .route("/static/desk-sw.js", web::get().to(clinic::service_worker))
    .route(
        "/static/countdown.js",
        web::get().to(draw::countdown_script),
    )
    .route("/static/verify.js", web::get().to(verify_script))
    // Residents
    .route("/", web::get().to(resident::home))
    .route("/towns/{id}", web::get().to(resident::town_page))
    .route("/towns/{id}/wait", web::post().to(resident::join_waiting))
    .route("/sites/{id}", web::get().to(resident::site_page))
    .route("/slots/{id}/book", web::get().to(resident::book_form))
    .route("/slots/{id}/book", web::post().to(resident::book_submit))
    .route("/appointment", web::get().to(resident::appointment_page))
    .route(
        "/appointment/cancel",
        web::get().to(resident::cancel_confirm),
    )
    .route("/appointment/cancel", web::post().to(resident::cancel))
    .route("/appointment/move", web::get().to(resident::move_form))
    .route("/appointment/move", web::post().to(resident::move_submit))
    .route("/household", web::get().to(household::household_page))
    .route("/household/find", web::get().to(household::find_form))
    .route("/household/find", web::post().to(household::find_submit))
    .route("/household/members", web::post().to(household::add_member))
    .route("/household/book", web::post().to(household::book))
    .route("/record", web::get().to(record::record_page))
    .route("/record/key", web::get().to(record::public_key))
    .route("/verify", web::get().to(record::verify_page))
    .route("/verify", web::post().to(record::verify_submit))
    .route("/find", web::get().to(find::find_form))
    .route("/find", web::post().to(find::find_submit))
    .route("/entry", web::get().to(draw::entry_page))
    .route("/entry/find", web::get().to(draw::entry_find_form))
    .route("/entry/find", web::post().to(draw::entry_find_submit))
    .route("/draws/{id}", web::get().to(draw::draw_page))
    .route("/lang/{code}", web::get().to(switch_lang))
    // Staff, bureau, admin
    .route("/login", web::get().to(auth::login_form))
    .route("/login", web::post().to(auth::login))
    .route("/logout", web::post().to(auth::logout))
    .route("/staff", web::get().to(staff::clinic_home))
    // Clinic desk (issue 4)
    .route("/staff/sites/{id}", web::get().to(clinic::today))
    .route(
        "/staff/sites/{id}/today.json",
        web::get().to(clinic::today_json),
    )
    .route(
        "/staff/sites/{id}/no-shows",
        web::post().to(clinic::no_shows),
    )
    .route(
        "/staff/sites/{id}/walk-in",
        web::get().to(clinic::site_form::<clinic::WalkInForm>),
    )
    .route(
        "/staff/sites/{id}/walk-in",
        web::post().to(clinic::walkin_submit),
    )
    .route(
        "/staff/sites/{id}/wastage",
        web::get().to(clinic::site_form::<clinic::WasteForm>),
    )
    .route(
        "/staff/sites/{id}/wastage",
        web::post().to(clinic::wastage_submit),
    )
    .route("/staff/checkin", web::get().to(clinic::find_code))
    .route("/clinic/sync", web::post().to(clinic::sync))
    .route("/staff/checkin/{code}", web::get().to(clinic::checkin_page))
    .route(
        "/staff/checkin/{code}",
        web::post().to(clinic::checkin_submit),
    )
    .route(
        "/staff/checkin/{code}/dose",
        web::post().to(clinic::dose_submit),
    )
    .route(
        "/staff/checkin/{code}/record",
        web::get().to(clinic::record_page),
    )
    .route(
        "/staff/vaccinations/{id}/reaction",
        web::get().to(clinic::reaction_form),
    )
    .route(
        "/staff/vaccinations/{id}/reaction",
        web::post().to(clinic::reaction_submit),
    )
    .route("/bureau", web::get().to(dashboard::dashboard))
    .route("/admin", web::get().to(admin::home))
    // The bureau's shipment workflow
    .route("/bureau/shipments", web::get().to(bureau::shipments))
    .route("/bureau/shipments", web::post().to(bureau::record_shipment))
    .route(
        "/bureau/shipments/{id}",
        web::get().to(bureau::shipment_detail),
    )
    .route(
        "/bureau/shipments/{id}/plan",
        web::post().to(bureau::make_plan),
    )
    .route("/bureau/plans/{id}", web::get().to(bureau::plan_detail))
    .route("/bureau/plans/{id}/adjust", web::post().to(bureau::adjust))
    .route(
        "/bureau/plans/{id}/approve",
        web::post().to(bureau::approve),
    )
    .route(
        "/bureau/plans/{id}/instance.json",
        web::get().to(bureau::instance_json),
    )
    .route("/bureau/notices", web::get().to(bureau::notices))
    .route("/bureau/audit", web::get().to(exports::audit_page))
    .route("/bureau/mail", web::get().to(bureau::mail))
    // The bureau sees the campaign (issue 12)
    .route("/bureau/exports", web::get().to(exports::exports_page))
    .route(
        "/bureau/exports/{name}.csv",
        web::get().to(exports::export_csv),
    )
    // City set-up (admin; products also bureau)
    .route("/admin/publish", web::post().to(admin::publish))
    .route("/admin/towns", web::get().to(admin::towns))
    .route(
        "/admin/towns",
        web::post().to(admin::create::<admin::TownForm>),
    )
    .route("/admin/towns/{id}", web::get().to(admin::town_page))
    .route(
        "/admin/towns/{id}",
        web::post().to(admin::update::<admin::TownForm>),
    )
    .route(
        "/admin/towns/{id}/delete",
        web::post().to(admin::delete_town),
    )
    .route("/admin/products", web::get().to(admin::products))
    .route(
        "/admin/products",
        web::post().to(admin::create::<admin::ProductForm>),
    )
    .route("/admin/products/{id}", web::get().to(admin::product_page))
    .route(
        "/admin/products/{id}",
        web::post().to(admin::update::<admin::ProductForm>),
    )
    .route("/admin/sites", web::get().to(admin::sites))
    .route(
        "/admin/sites",
        web::post().to(admin::create::<admin::SiteForm>),
    )
    .route("/admin/sites/{id}", web::get().to(admin::site_page))
    .route(
        "/admin/sites/{id}",
        web::post().to(admin::update::<admin::SiteForm>),
    )
    .route(
        "/admin/sites/{id}/template",
        web::post().to(admin::save_template),
    )
    .route(
        "/admin/sites/{id}/exceptions",
        web::post().to(admin::add_exception),
    )
    .route("/admin/users", web::get().to(admin::users))
    .route(
        "/admin/users",
        web::post().to(admin::create::<admin::UserForm>),
    )
    .route(
        "/admin/users/{id}/active",
        web::post().to(admin::set_active),
    )
    .route(
        "/admin/users/{id}/password",
        web::post().to(admin::reset_password),
    )
    .route("/admin/import", web::get().to(admin::import_form))
    .route("/admin/import", web::post().to(admin::import))
    .route(
        "/admin/import/example.csv",
        web::get().to(admin::import_example),
    )
    .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

async fn verify_script() -> HttpResponse {
    static_file(
        include_str!("../../static/verify.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn stylesheet() -> HttpResponse {
    static_file(
        include_str!("../../static/app.css"),
        "text/css; charset=utf-8",
    )
}

/// A file built into the binary, with its `ETag` computed once per process.
pub(crate) fn static_file(body: &'static str, content_type: &'static str) -> HttpResponse {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static TAGS: OnceLock<Mutex<HashMap<usize, String>>> = OnceLock::new();
    let tag = TAGS
        .get_or_init(Default::default)
        .lock()
        .map(|mut tags| {
            tags.entry(body.as_ptr() as usize)
                .or_insert_with(|| middleware::weak_etag(body.as_bytes()))
                .clone()
        })
        .unwrap_or_else(|_| middleware::weak_etag(body.as_bytes()));
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("ETag", tag))
        .body(body)
}

/// Query of the language switch.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NextQuery {
    next: String,
}

/// `GET /lang/{code}?next=/path`: remember the language and go back.
async fn switch_lang(
    path: web::Path<String>,
    q: web::Query<NextQuery>,
    state: web::Data<state::AppState>,
) -> Result<HttpResponse, AppError> {
    let lang = Lang::from_code(&path).ok_or(AppError::NotFound)?;
    let next = auth::safe_next(&q.next).unwrap_or("/");
    let mut res = respond::see_other(next);
    let _ = res.add_cookie(&cookies::plain(
        cookies::LANG,
        lang.code().to_string(),
        365 * 86400,
        state.settings.cookie_secure,
    ));
    Ok(res)
}
