//! Site pages: the list, adding, the site page with its details, products, weekly template
//! and exceptions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::forms::{exception_input, site_input, template_input};
use super::{explain, run_parsed, Refusal, SetupForm};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::ids::SiteId;
use crate::models::LocalName;
use crate::models::{exception, product, site, site_product, slot, template, town};
use crate::setup::{self, ExceptionOutcome, SetupError};
use crate::views::admin::{
    AffectedRow, ExceptionForm, SiteEditPage, SiteForm, SiteListRow, SitesPage, TemplateForm,
    HOUR_FIELDS,
};
use crate::views::{when, FormErrors};
use crate::web::ctx::{staff_form, Acting, Admin, Ctx, Signed};
use crate::web::respond::{redirect_or, refused_status, see_other, show, View};
use crate::web::state::{read, AppState};

staff_form!(Admin: TemplateForm);

const WEEKDAY_KEYS: [&str; 7] = [
    "day.mon", "day.tue", "day.wed", "day.thu", "day.fri", "day.sat", "day.sun",
];

/// The towns to choose from, each named in the page's language.
fn town_options(lang: Lang, towns: Vec<crate::models::Town>) -> Vec<(String, String)> {
    towns
        .into_iter()
        .map(|t| {
            (
                t.id.to_string(),
                format!("{} · {}", t.code, t.local_name(lang)),
            )
        })
        .collect()
}

/// `GET /admin/sites`.
pub async fn sites(Signed { ctx, state, .. }: Signed<Admin>) -> Result<HttpResponse, AppError> {
    let empty = (SiteForm::default(), FormErrors::default());
    show(ctx, &state, empty, StatusCode::OK).await
}

/// The site list with the add form (empty, or again with its errors).
impl View for (SiteForm, FormErrors) {
    type Page = SitesPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (form, errors) = self;
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
                    .map(|t| t.local_name(ctx.lang).to_string())
                    .unwrap_or_default(),
                has_template: templates.iter().any(|t| t.site_id == s.id),
                name: s.local_name(ctx.lang).to_string(),
                address: s.local_address(ctx.lang).to_string(),
                active: s.active,
            })
            .collect();
        Ok(SitesPage {
            sites: rows,
            towns: town_options(ctx.lang, towns.into_iter().filter(|t| t.active).collect()),
            form,
            errors,
            ctx,
        })
    }
}

/// The site form: a site is added on `/admin/sites` (its template is then set up on its page)
/// and its details edited on its page.
impl SetupForm for SiteForm {
    const LIST: &'static str = "/admin/sites";

    fn save(&self, st: &AppState, id: Option<i64>, actor: &str) -> Result<i64, SetupError> {
        let input = site_input(self, id.is_none())?;
        let tz = st.settings.time_zone;
        setup::save_site(&st.db, id, input, tz, actor, st.now())
    }

    fn saved_to(id: Option<i64>, saved: i64) -> String {
        match id {
            None => format!("/admin/sites/{saved}#template"),
            Some(id) => format!("/admin/sites/{id}"),
        }
    }

    async fn again(self, r: Refusal<'_>) -> Result<HttpResponse, AppError> {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        let Some(id) = r.id else {
            return show(r.ctx, r.state, (self, r.errors), status).await;
        };
        let v = SiteView {
            form: Some(self),
            errors: r.errors,
            ..Default::default()
        };
        show(r.ctx, r.state, (id, v), status).await
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
    preview: Option<setup::Preview>,
    message: Option<String>,
    refusal: Option<String>,
}

/// The site `id`'s page: its stored values with what the view adds.
impl View for (i64, SiteView) {
    type Page = SiteEditPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (id, v) = self;
        let today = state.today();
        let ((s, towns, products, t, hours, chosen, excs, future), rule) =
            read(state, move |c, st| {
                let s = site::find(c, SiteId(id))?.ok_or(AppError::NotFound)?;
                let future = slot::count_future_for_site(c, SiteId(id), st.now())?;
                let rule = template::release_rule(c, SiteId(id))?;
                let t = template::find(c, SiteId(id))?;
                // A site without a template yet is offered the city's default draw window.
                let rule = if t.is_none() {
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
                        t,
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
            name_en: s.name_en.clone().unwrap_or_default(),
            address_en: s.address_en.clone().unwrap_or_default(),
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
            towns: town_options(ctx.lang, towns),
            form,
            errors: v.errors,
            products: products
                .into_iter()
                .map(|p| {
                    (
                        p.id.to_string(),
                        format!("{} · {}", p.code, p.local_name(ctx.lang)),
                    )
                })
                .collect(),
            template,
            template_errors: v.template_errors,
            days,
            exception: v.exception,
            exception_errors: v.exception_errors,
            moved: v.preview.as_ref().map_or(0, setup::Preview::moved),
            plan_token: v
                .preview
                .as_ref()
                .map(|p| p.token.clone())
                .unwrap_or_default(),
            plan_changed: v.preview.as_ref().is_some_and(|p| p.changed),
            affected: v
                .preview
                .map(|p| p.rows)
                .unwrap_or_default()
                .into_iter()
                .map(|(a, to)| AffectedRow {
                    code: a.code,
                    masked_id: a.masked_id,
                    when: when(lang, tz, a.starts_at, a.ends_at),
                    dose: a.dose_number,
                    to: to.map(|t| {
                        format!(
                            "{} · {}",
                            t.local_name(lang),
                            when(lang, tz, t.starts_at, t.ends_at)
                        )
                    }),
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
        Ok(page)
    }
}

/// Query of a site page after an action.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    created: Option<usize>,
    cancelled: Option<usize>,
    moved: Option<usize>,
}

/// `GET /admin/sites/{id}`: details, products and template, exceptions.
pub async fn site_page(
    path: web::Path<i64>,
    q: web::Query<DoneQuery>,
    Signed { ctx, state, .. }: Signed<Admin>,
) -> Result<HttpResponse, AppError> {
    let message = match (q.created, q.cancelled) {
        (Some(n), _) => Some(ctx.tf("site.template_saved", &[("n", &n.to_string())])),
        (_, Some(n)) => Some(ctx.tf(
            "exception.saved",
            &[
                ("n", &n.to_string()),
                ("moved", &q.moved.unwrap_or(0).to_string()),
            ],
        )),
        _ => None,
    };
    let v = SiteView {
        message,
        ..Default::default()
    };
    show(ctx, &state, (*path, v), StatusCode::OK).await
}

/// `POST /admin/sites/{id}/template`: save products and the weekly template, and publish.
pub async fn save_template(
    path: web::Path<i64>,
    Acting(ctx, state, user, mut form): Acting<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    if form.draw_minutes.trim().is_empty() {
        form.draw_minutes = state.settings.draw_minutes.to_string();
    }
    let id = *path;
    let outcome = run_parsed(&state, template_input(&form), move |st, input| {
        let tz = st.settings.time_zone;
        setup::save_template(&st.db, id, input, tz, &user.username, st.now())
    })
    .await?;
    let done =
        |r: setup::PublishReport| format!("/admin/sites/{id}?created={}#template", r.created);
    redirect_or(outcome, done, |e| async move {
        let (template_errors, refusal) = explain(ctx.lang, e)?;
        let v = SiteView {
            template: Some(form),
            template_errors,
            refusal,
            ..Default::default()
        };
        show(ctx, &state, (id, v), StatusCode::UNPROCESSABLE_ENTITY).await
    })
    .await
}

/// `POST /admin/sites/{id}/exceptions`: close a site for (part of) a day or change a day's
/// seats. Booked appointments inside are listed first; the second post confirms.
pub async fn add_exception(
    path: web::Path<i64>,
    Acting(ctx, state, user, form): Acting<ExceptionForm>,
) -> Result<HttpResponse, AppError> {
    let actor = user.username;
    let id = *path;
    let parsed = exception_input(&form, state.today());
    let again_as = actor.clone();
    let outcome = run_parsed(&state, parsed, move |st, input| {
        setup::apply_exception(&st.db, id, input, st.rules(), &actor)
    })
    .await?;
    let (outcome, changed) = match outcome {
        // The plan confirmed could not be carried out as computed: nothing was kept; show the
        // plan as it is now, saying so.
        Err(SetupError::Refused(setup::PLAN_CHANGED)) => {
            let parsed = exception_input(&form, state.today());
            let again = run_parsed(&state, parsed, move |st, mut input| {
                input.confirmed = None;
                setup::apply_exception(&st.db, id, input, st.rules(), &again_as)
            })
            .await?;
            (again, true)
        }
        other => (other, false),
    };
    match outcome {
        Ok(ExceptionOutcome::Applied {
            moved, cancelled, ..
        }) => Ok(see_other(&format!(
            "/admin/sites/{id}?cancelled={cancelled}&moved={moved}#exceptions"
        ))),
        Ok(ExceptionOutcome::NeedsConfirmation(mut preview)) => {
            preview.changed |= changed;
            let v = SiteView {
                exception: ExceptionForm {
                    confirm: String::new(),
                    ..form
                },
                preview: Some(preview),
                ..Default::default()
            };
            show(ctx, &state, (id, v), StatusCode::CONFLICT).await
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
            show(ctx, &state, (id, v), status).await
        }
    }
}
