//! City set-up pages for administrators (products also for the bureau): towns, products, sites
//! with their weekly template and exceptions, publishing slots, staff accounts, the CSV import.
//! Rules live in `setup/`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Duration;
use serde::Deserialize;

use super::ctx::Ctx;
use super::resident::CsrfForm;
use super::state::{blocking, read, AppState};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::ids::{ProductId, SiteId};
use crate::models::{
    audit, exception, product, product_change, site, site_product, slot, template, town, user, Role,
};
use crate::setup::{
    self, ExceptionForm, ExceptionOutcome, ProductForm, SetupError, SiteForm, TemplateForm,
    TownForm, UserForm, HOUR_FIELDS,
};
use crate::views::admin::{
    AdminHomePage, AffectedRow, ImportPage, NotSetUpPage, ProductEditPage, ProductListRow,
    ProductsPage, SiteEditPage, SiteListRow, SitesPage, TownEditPage, TownListRow, TownsPage,
    UserRow, UsersPage,
};
use crate::views::{html, html_status, local, see_other, when, FormErrors};

const WEEKDAY_KEYS: [&str; 7] = [
    "day.mon", "day.tue", "day.wed", "day.thu", "day.fri", "day.sat", "day.sun",
];

/// A set-up error as a page shows it: field errors next to fields, a refusal on top. Internal
/// errors and "not found" become `AppError`s.
fn explain(lang: Lang, e: SetupError) -> Result<(FormErrors, Option<String>), AppError> {
    let mut errors = FormErrors::default();
    match e {
        SetupError::Invalid(list) => {
            for e in list {
                errors.add(e.field, lang.t(e.key).to_string());
            }
            Ok((errors, None))
        }
        SetupError::Refused(key) => Ok((errors, Some(lang.t(key).to_string()))),
        SetupError::NotFound => Err(AppError::NotFound),
        SetupError::Import(_) => Err(AppError::BadRequest),
        SetupError::Hash(e) => Err(AppError::Internal(e)),
        SetupError::Db(e) => Err(e.into()),
        SetupError::Pool(e) => Err(e.into()),
        SetupError::Write(e) => Err(e.into()),
    }
}

/// The status of a page re-shown after a refused form.
fn refused_status(refusal: &Option<String>) -> StatusCode {
    if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// Run a set-up action off the async workers; the outer error is the system's, the inner the
/// request's.
async fn run<T, F>(state: &web::Data<AppState>, f: F) -> Result<Result<T, SetupError>, AppError>
where
    F: FnOnce(&AppState) -> Result<T, SetupError> + Send + 'static,
    T: Send + 'static,
{
    blocking(state, move |st| Ok::<_, AppError>(f(st))).await
}

// ---- start page and publishing ------------------------------------------------------------

/// `GET /admin`: the set-up checklist, publishing, the latest audit entries.
pub async fn home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    render_home(ctx, &state, None).await
}

async fn render_home(
    ctx: Ctx,
    state: &web::Data<AppState>,
    message: Option<String>,
) -> Result<HttpResponse, AppError> {
    let tz = state.settings.time_zone;
    let (p, recent) = read(state, |c, st| {
        Ok((setup::progress(c, st.now())?, audit::recent(c, 15)?))
    })
    .await?;
    html(&AdminHomePage {
        steps: vec![
            ("admin.step_towns", p.towns, "/admin/towns", p.towns > 0),
            (
                "admin.step_products",
                p.products,
                "/admin/products",
                p.products > 0,
            ),
            ("admin.step_sites", p.sites, "/admin/sites", p.sites > 0),
            (
                "admin.step_templates",
                p.templates,
                "/admin/sites",
                p.templates > 0,
            ),
            ("admin.step_slots", p.future_slots, "/", p.future_slots > 0),
            ("admin.step_users", p.users, "/admin/users", p.users > 1),
        ],
        message,
        audit: recent
            .into_iter()
            .map(|e| {
                (
                    local(tz, e.created_at).format("%Y-%m-%d %H:%M").to_string(),
                    format!("{} · {} · {}", e.actor, e.action, e.subject),
                )
            })
            .collect(),
        ctx,
    })
}

/// `POST /admin/publish`: publish every site's slots now (the daily job does the same).
pub async fn publish(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let report = run(&state, move |st| {
        setup::publish_all(&st.db, st.settings.time_zone, st.now(), &actor)
    })
    .await?;
    match report {
        Ok(r) => {
            let msg = ctx.tf(
                "admin.published",
                &[
                    ("created", &r.created.to_string()),
                    ("reshaped", &r.reshaped.to_string()),
                    ("withdrawn", &r.withdrawn.to_string()),
                ],
            );
            render_home(ctx, &state, Some(msg)).await
        }
        Err(e) => Err(explain(ctx.lang, e).err().unwrap_or(AppError::BadRequest)),
    }
}

// ---- towns --------------------------------------------------------------------------------

/// `GET /admin/towns`.
pub async fn towns(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    towns_page(
        ctx,
        &state,
        TownForm::default(),
        FormErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn towns_page(
    ctx: Ctx,
    state: &web::Data<AppState>,
    form: TownForm,
    errors: FormErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (towns, sites) = read(state, |c, _| Ok((town::list_all(c)?, site::list_all(c)?))).await?;
    html_status(
        &TownsPage {
            towns: towns
                .into_iter()
                .map(|t| TownListRow {
                    sites: sites.iter().filter(|s| s.town_id == t.id).count(),
                    id: t.id.to_string(),
                    code: t.code,
                    name: t.name,
                    eligible: t.eligible,
                    contact_emails: t.contact_emails,
                    active: t.active,
                })
                .collect(),
            form,
            errors,
            ctx,
        },
        status,
    )
}

/// `POST /admin/towns`: add a town.
pub async fn create_town(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<TownForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let outcome = match setup::parse_town(&form, true) {
        Ok(input) => {
            run(&state, move |st| {
                setup::save_town(&st.db, None, input, &actor, st.now())
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other("/admin/towns")),
        Err(e) => {
            let (errors, _) = explain(ctx.lang, e)?;
            towns_page(ctx, &state, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `GET /admin/towns/{id}`.
pub async fn town_page(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    let id = *path;
    let t = read(&state, move |c, _| {
        town::find(c, crate::ids::TownId(id))?.ok_or(AppError::NotFound)
    })
    .await?;
    let form = TownForm {
        code: t.code,
        name: t.name,
        eligible: t.eligible.to_string(),
        contact_emails: t.contact_emails,
        active: if t.active { "on".into() } else { String::new() },
        csrf: String::new(),
    };
    html(&TownEditPage {
        id: id.to_string(),
        form,
        errors: FormErrors::default(),
        refusal: None,
        ctx,
    })
}

/// `POST /admin/towns/{id}`: edit a town (or deactivate it).
pub async fn update_town(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<TownForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let id = *path;
    let form = form.into_inner();
    let outcome = match setup::parse_town(&form, false) {
        Ok(input) => {
            run(&state, move |st| {
                setup::save_town(&st.db, Some(id), input, &actor, st.now())
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/towns/{id}"))),
        Err(e) => {
            let (errors, refusal) = explain(ctx.lang, e)?;
            let status = refused_status(&refusal);
            html_status(
                &TownEditPage {
                    id: id.to_string(),
                    form,
                    errors,
                    refusal,
                    ctx,
                },
                status,
            )
        }
    }
}

/// `POST /admin/towns/{id}/delete`: delete a town with no sites (others are deactivated).
pub async fn delete_town(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let id = *path;
    let outcome = run(&state, move |st| {
        setup::delete_town(&st.db, id, &actor, st.now())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(see_other("/admin/towns")),
        Err(e) => {
            let (errors, refusal) = explain(ctx.lang, e)?;
            let t = read(&state, move |c, _| {
                town::find(c, crate::ids::TownId(id))?.ok_or(AppError::NotFound)
            })
            .await?;
            html_status(
                &TownEditPage {
                    id: id.to_string(),
                    form: TownForm {
                        code: t.code,
                        name: t.name,
                        eligible: t.eligible.to_string(),
                        contact_emails: t.contact_emails,
                        active: if t.active { "on".into() } else { String::new() },
                        csrf: String::new(),
                    },
                    errors,
                    refusal,
                    ctx,
                },
                StatusCode::CONFLICT,
            )
        }
    }
}

// ---- products -----------------------------------------------------------------------------

/// `GET /admin/products` (bureau too).
pub async fn products(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Bureau)?;
    let form = ProductForm {
        doses_in_series: "2".into(),
        min_interval_days: "21".into(),
        max_interval_days: "56".into(),
        min_age_years: "18".into(),
        max_age_years: "120".into(),
        pack_size: "1".into(),
        ..Default::default()
    };
    products_page(ctx, &state, form, FormErrors::default(), StatusCode::OK).await
}

async fn products_page(
    ctx: Ctx,
    state: &web::Data<AppState>,
    form: ProductForm,
    errors: FormErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let list = read(state, |c, _| Ok(product::list(c)?)).await?;
    html_status(
        &ProductsPage {
            products: list
                .into_iter()
                .map(|p| ProductListRow {
                    id: p.id.to_string(),
                    code: p.code,
                    name: p.name,
                    manufacturer: p.manufacturer,
                    doses: p.doses_in_series,
                    interval: format!("{}–{}", p.min_interval_days, p.max_interval_days),
                    ages: format!("{}–{}", p.min_age_years, p.max_age_years),
                    pack_size: p.pack_size,
                })
                .collect(),
            form,
            errors,
            ctx,
        },
        status,
    )
}

/// `POST /admin/products`: add a product.
pub async fn create_product(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<ProductForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Bureau)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let outcome = match setup::parse_product(&form) {
        Ok(input) => {
            run(&state, move |st| {
                setup::save_product(&st.db, None, input, &actor, st.now())
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other("/admin/products")),
        Err(e) => {
            let (errors, _) = explain(ctx.lang, e)?;
            products_page(ctx, &state, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `GET /admin/products/{id}`.
pub async fn product_page(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Bureau)?;
    let id = *path;
    let p = read(&state, move |c, _| {
        product::find(c, ProductId(id))?.ok_or(AppError::NotFound)
    })
    .await?;
    let form = ProductForm {
        code: p.code,
        name: p.name,
        manufacturer: p.manufacturer,
        doses_in_series: p.doses_in_series.to_string(),
        min_interval_days: p.min_interval_days.to_string(),
        max_interval_days: p.max_interval_days.to_string(),
        min_age_years: p.min_age_years.to_string(),
        max_age_years: p.max_age_years.to_string(),
        pack_size: p.pack_size.to_string(),
        reason: String::new(),
        csrf: String::new(),
    };
    product_edit(ctx, &state, id, form, FormErrors::default(), StatusCode::OK).await
}

async fn product_edit(
    ctx: Ctx,
    state: &web::Data<AppState>,
    id: i64,
    form: ProductForm,
    errors: FormErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let tz = state.settings.time_zone;
    let (given, history) = read(state, move |c, _| {
        product::find(c, ProductId(id))?.ok_or(AppError::NotFound)?;
        Ok((
            product::has_been_given(c, ProductId(id))?,
            product_change::list_for_product(c, ProductId(id))?,
        ))
    })
    .await?;
    html_status(
        &ProductEditPage {
            id: id.to_string(),
            given,
            form,
            errors,
            history: history
                .into_iter()
                .map(|h| {
                    (
                        local(tz, h.changed_at).format("%Y-%m-%d %H:%M").to_string(),
                        format!("{}–{}", h.old_min_interval_days, h.old_max_interval_days),
                        format!("{}–{}", h.new_min_interval_days, h.new_max_interval_days),
                        h.reason,
                        h.changed_by,
                    )
                })
                .collect(),
            ctx,
        },
        status,
    )
}

/// `POST /admin/products/{id}`: edit a product; an interval change after doses were given
/// needs a reason.
pub async fn update_product(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<ProductForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Bureau)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let id = *path;
    let form = form.into_inner();
    let outcome = match setup::parse_product(&form) {
        Ok(input) => {
            run(&state, move |st| {
                setup::save_product(&st.db, Some(id), input, &actor, st.now())
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/products/{id}"))),
        Err(e) => {
            let (errors, _) = explain(ctx.lang, e)?;
            product_edit(
                ctx,
                &state,
                id,
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ---- sites --------------------------------------------------------------------------------

fn town_options(towns: Vec<crate::models::Town>) -> Vec<(String, String)> {
    towns
        .into_iter()
        .map(|t| (t.id.to_string(), format!("{} · {}", t.code, t.name)))
        .collect()
}

/// `GET /admin/sites`.
pub async fn sites(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    sites_page(
        ctx,
        &state,
        SiteForm::default(),
        FormErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn sites_page(
    ctx: Ctx,
    state: &web::Data<AppState>,
    form: SiteForm,
    errors: FormErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (sites, towns, templates) = read(state, |c, _| {
        Ok((site::list_all(c)?, town::list_all(c)?, template::list(c)?))
    })
    .await?;
    let rows = sites
        .into_iter()
        .map(|s| SiteListRow {
            id: s.id.to_string(),
            town: towns
                .iter()
                .find(|t| t.id == s.town_id)
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            has_template: templates.iter().any(|t| t.site_id == s.id),
            name: s.name,
            address: s.address,
            active: s.active,
        })
        .collect();
    html_status(
        &SitesPage {
            sites: rows,
            towns: town_options(towns.into_iter().filter(|t| t.active).collect()),
            form,
            errors,
            ctx,
        },
        status,
    )
}

/// `POST /admin/sites`: add a site, then set up its template on its page.
pub async fn create_site(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<SiteForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let outcome = match setup::parse_site(&form, true) {
        Ok(input) => {
            run(&state, move |st| {
                setup::save_site(&st.db, None, input, st.settings.time_zone, &actor, st.now())
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(id) => Ok(see_other(&format!("/admin/sites/{id}#template"))),
        Err(e) => {
            let (errors, _) = explain(ctx.lang, e)?;
            sites_page(ctx, &state, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// What a site page shows besides the stored values.
#[derive(Default)]
struct SiteView {
    form: Option<SiteForm>,
    errors: FormErrors,
    template: Option<TemplateForm>,
    template_errors: FormErrors,
    exception: ExceptionForm,
    exception_errors: FormErrors,
    affected: Vec<setup::Affected>,
    message: Option<String>,
    refusal: Option<String>,
}

async fn site_edit(
    ctx: Ctx,
    state: &web::Data<AppState>,
    id: i64,
    v: SiteView,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let today = state.today();
    let ((s, towns, products, t, hours, chosen, excs, future), rule) = read(state, move |c, st| {
        let s = site::find(c, SiteId(id))?.ok_or(AppError::NotFound)?;
        let future: i64 = slot::list_future_for_site(c, SiteId(id), st.now())?.len() as i64;
        let rule = template::release_rule(c, SiteId(id))?;
        // A site without a template yet is offered the city's default draw window.
        let rule = if template::find(c, SiteId(id))?.is_none() {
            template::ReleaseRule {
                draw_minutes: st.settings.draw_minutes,
                ..rule
            }
        } else {
            rule
        };
        Ok((
            (
                s,
                town::list_all(c)?,
                product::list(c)?,
                template::find(c, SiteId(id))?,
                template::hours(c, SiteId(id))?,
                site_product::list_for_site(c, SiteId(id))?,
                exception::list_for_site_from(c, SiteId(id), today)?,
                future,
            ),
            rule,
        ))
    })
    .await?;
    let lang = ctx.lang;
    let tz = state.settings.time_zone;
    let form = v.form.unwrap_or_else(|| SiteForm {
        town_id: s.town_id.to_string(),
        name: s.name.clone(),
        address: s.address.clone(),
        active: if s.active { "on".into() } else { String::new() },
        csrf: String::new(),
    });
    let template = v.template.unwrap_or_else(|| {
        TemplateForm::from_stored(t.as_ref(), &hours, &chosen).with_release(&rule)
    });
    let days = (0..7)
        .map(|d| (WEEKDAY_KEYS[d], HOUR_FIELDS[d], template.hours[d].clone()))
        .collect();
    let page = SiteEditPage {
        id: id.to_string(),
        towns: town_options(towns),
        form,
        errors: v.errors,
        products: products
            .into_iter()
            .map(|p| (p.id.to_string(), format!("{} · {}", p.code, p.name)))
            .collect(),
        template,
        template_errors: v.template_errors,
        days,
        exception: v.exception,
        exception_errors: v.exception_errors,
        affected: v
            .affected
            .into_iter()
            .map(|a| AffectedRow {
                code: a.code,
                masked_id: a.masked_id,
                when: when(
                    lang,
                    tz,
                    a.starts_at,
                    a.starts_at
                        + Duration::minutes(i64::from(t.as_ref().map_or(30, |t| t.slot_minutes))),
                ),
                dose: a.dose_number,
            })
            .collect(),
        exceptions: excs
            .into_iter()
            .map(|e| {
                let what = match e.seats {
                    Some(n) if e.kind == "seats" => lang.tf(
                        "exception.seats_to",
                        &[
                            ("from", &setup::hm(e.starts)),
                            ("to", &setup::hm(e.ends)),
                            ("n", &n.to_string()),
                        ],
                    ),
                    _ => lang.tf(
                        "exception.closed_at",
                        &[("from", &setup::hm(e.starts)), ("to", &setup::hm(e.ends))],
                    ),
                };
                (e.day.to_string(), what, e.reason)
            })
            .collect(),
        future_slots: future,
        message: v.message,
        refusal: v.refusal,
        ctx,
    };
    html_status(&page, status)
}

/// Query of a site page after an action.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    created: Option<usize>,
    cancelled: Option<usize>,
}

/// `GET /admin/sites/{id}`: details, products and template, exceptions.
pub async fn site_page(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    q: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    let message = match (q.created, q.cancelled) {
        (Some(n), _) => Some(ctx.tf("site.template_saved", &[("n", &n.to_string())])),
        (_, Some(n)) => Some(ctx.tf("exception.saved", &[("n", &n.to_string())])),
        _ => None,
    };
    site_edit(
        ctx,
        &state,
        *path,
        SiteView {
            message,
            ..Default::default()
        },
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/sites/{id}`: edit a site's details.
pub async fn update_site(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<SiteForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let id = *path;
    let form = form.into_inner();
    let outcome = match setup::parse_site(&form, false) {
        Ok(input) => {
            run(&state, move |st| {
                setup::save_site(
                    &st.db,
                    Some(id),
                    input,
                    st.settings.time_zone,
                    &actor,
                    st.now(),
                )
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/sites/{id}"))),
        Err(e) => {
            let (errors, _) = explain(ctx.lang, e)?;
            let v = SiteView {
                form: Some(form),
                errors,
                ..Default::default()
            };
            site_edit(ctx, &state, id, v, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /admin/sites/{id}/template`: save products and the weekly template, and publish.
pub async fn save_template(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    pairs: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    let mut form = TemplateForm::from_pairs(pairs.into_inner());
    ctx.check_csrf(&form.csrf)?;
    if form.draw_minutes.trim().is_empty() {
        form.draw_minutes = state.settings.draw_minutes.to_string();
    }
    let id = *path;
    let outcome = match setup::parse_template(&form) {
        Ok(input) => {
            run(&state, move |st| {
                setup::save_template(&st.db, id, input, st.settings.time_zone, &actor, st.now())
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(r) => Ok(see_other(&format!(
            "/admin/sites/{id}?created={}#template",
            r.created
        ))),
        Err(e) => {
            let (template_errors, refusal) = explain(ctx.lang, e)?;
            let v = SiteView {
                template: Some(form),
                template_errors,
                refusal,
                ..Default::default()
            };
            site_edit(ctx, &state, id, v, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /admin/sites/{id}/exceptions`: close a site for (part of) a day or change a day's
/// seats. Booked appointments inside are listed first; the second post confirms.
pub async fn add_exception(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<ExceptionForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let id = *path;
    let form = form.into_inner();
    let outcome = match setup::parse_exception(&form, state.today()) {
        Ok(input) => {
            run(&state, move |st| {
                setup::apply_exception(&st.db, id, input, st.settings.time_zone, &actor, st.now())
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(ExceptionOutcome::Applied { cancelled, .. }) => Ok(see_other(&format!(
            "/admin/sites/{id}?cancelled={cancelled}#exceptions"
        ))),
        Ok(ExceptionOutcome::NeedsConfirmation(affected)) => {
            let v = SiteView {
                exception: ExceptionForm {
                    confirm: String::new(),
                    ..form
                },
                affected,
                ..Default::default()
            };
            site_edit(ctx, &state, id, v, StatusCode::CONFLICT).await
        }
        Err(e) => {
            let (exception_errors, refusal) = explain(ctx.lang, e)?;
            let status = refused_status(&refusal);
            let v = SiteView {
                exception: form,
                exception_errors,
                refusal,
                ..Default::default()
            };
            site_edit(ctx, &state, id, v, status).await
        }
    }
}

// ---- staff accounts -----------------------------------------------------------------------

/// `GET /admin/users`.
pub async fn users(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    users_page(
        ctx,
        &state,
        UserForm::default(),
        FormErrors::default(),
        None,
        None,
    )
    .await
}

async fn users_page(
    ctx: Ctx,
    state: &web::Data<AppState>,
    form: UserForm,
    errors: FormErrors,
    message: Option<String>,
    refusal: Option<String>,
) -> Result<HttpResponse, AppError> {
    let status = if !errors.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let me = ctx.user.as_ref().map_or(0, |u| u.id);
    let (list, sites) = read(state, |c, _| Ok((user::list(c)?, site::list_all(c)?))).await?;
    html_status(
        &UsersPage {
            users: list
                .into_iter()
                .map(|u| UserRow {
                    id: u.id.to_string(),
                    site: u
                        .site_id
                        .and_then(|sid| sites.iter().find(|s| s.id == sid))
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    is_me: u.id == me,
                    username: u.username,
                    role: u.role,
                    active: u.active,
                })
                .collect(),
            sites: sites
                .into_iter()
                .map(|s| (s.id.to_string(), s.name))
                .collect(),
            form: UserForm {
                password: String::new(),
                ..form
            },
            errors,
            message,
            refusal,
            ctx,
        },
        status,
    )
}

/// `POST /admin/users`: create a staff, bureau or admin account.
pub async fn create_user(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<UserForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let outcome = match setup::parse_user(&form) {
        Ok(input) => {
            run(&state, move |st| {
                setup::create_user(&st.db, input, &actor, st.now())
            })
            .await?
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other("/admin/users")),
        Err(e) => {
            let (errors, refusal) = explain(ctx.lang, e)?;
            users_page(ctx, &state, form, errors, None, refusal).await
        }
    }
}

/// The activate/deactivate form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActiveForm {
    active: String,
    csrf: String,
}

/// `POST /admin/users/{id}/active`: deactivate (ending their sessions at once) or reactivate.
pub async fn set_active(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<ActiveForm>,
) -> Result<HttpResponse, AppError> {
    let me = ctx.require(Role::Admin)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let id = *path;
    let active = match form.active.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(AppError::BadRequest),
    };
    let outcome = run(&state, move |st| {
        setup::set_user_active(&st.db, id, active, me.id, &me.username, st.now())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(see_other("/admin/users")),
        Err(e) => {
            let (_, refusal) = explain(ctx.lang, e)?;
            users_page(
                ctx,
                &state,
                UserForm::default(),
                FormErrors::default(),
                None,
                refusal,
            )
            .await
        }
    }
}

/// The password reset form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    password: String,
    csrf: String,
}

/// `POST /admin/users/{id}/password`: set a new password and end the user's sessions.
pub async fn reset_password(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let id = *path;
    let password = form.into_inner().password;
    let outcome = run(&state, move |st| {
        setup::reset_password(&st.db, id, &password, &actor, st.now())
    })
    .await?;
    match outcome {
        Ok(()) => {
            let msg = ctx.t("user.password_reset").to_string();
            users_page(
                ctx,
                &state,
                UserForm::default(),
                FormErrors::default(),
                Some(msg),
                None,
            )
            .await
        }
        Err(e) => {
            let (errors, refusal) = explain(ctx.lang, e)?;
            let refusal = refusal.or_else(|| errors.all().first().map(|(_, m)| m.to_string()));
            users_page(
                ctx,
                &state,
                UserForm::default(),
                FormErrors::default(),
                None,
                refusal,
            )
            .await
        }
    }
}

// ---- import -------------------------------------------------------------------------------

/// `GET /admin/import`: the format, the example, the form.
pub async fn import_form(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    html(&ImportPage {
        csv: String::new(),
        problems: Vec::new(),
        message: None,
        ctx,
    })
}

/// The import form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportForm {
    csv: String,
    csrf: String,
}

/// `POST /admin/import`: all rows or nothing.
pub async fn import(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<ImportForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.require(Role::Admin)?.username.clone();
    ctx.check_csrf(&form.csrf)?;
    let csv = form.into_inner().csv;
    let text = csv.clone();
    let outcome = run(&state, move |st| {
        setup::import_csv(&st.db, &text, &actor, st.now())
    })
    .await?;
    let lang = ctx.lang;
    match outcome {
        Ok(r) => {
            let message = Some(ctx.tf(
                "import.done",
                &[
                    ("towns", &r.towns.to_string()),
                    ("sites", &r.sites.to_string()),
                ],
            ));
            html(&ImportPage {
                csv: String::new(),
                problems: Vec::new(),
                message,
                ctx,
            })
        }
        Err(SetupError::Import(problems)) => html_status(
            &ImportPage {
                csv,
                problems: problems
                    .into_iter()
                    .map(|(line, key)| (line, lang.t(&key).to_string()))
                    .collect(),
                message: None,
                ctx,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(explain(lang, e).err().unwrap_or(AppError::BadRequest)),
    }
}

/// `GET /admin/import/example.csv`.
pub async fn import_example(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"dosewise-towns-and-sites.csv\"",
        ))
        .body(setup::EXAMPLE_CSV))
}

// ---- residents before set-up --------------------------------------------------------------

/// `Some(page)` while no site has published slots: resident pages other than home show it.
pub async fn not_set_up(
    ctx: &Ctx,
    state: &web::Data<AppState>,
) -> Result<Option<HttpResponse>, AppError> {
    let open = state
        .caches
        .published
        .get_or_load((), state.db.generation(), || {
            read(state, |c, st| Ok(slot::any_published(c, st.now())?))
        })
        .await?;
    if open {
        return Ok(None);
    }
    html_status(
        &NotSetUpPage { ctx: ctx.clone() },
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .map(Some)
}
