//! The bureau's shipment pages: record a shipment, plan it, adjust and approve the plan, the
//! notices to towns, and the mail that failed. Rules live in `bureau/`; the rows and a plan's
//! page are built by `views::bureau` (the audit log is `web::exports::audit_page`).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::ctx::{staff_form, Acting, Bureau, Button, Ctx, Signed};
use super::respond::{html, redirect_or, refused_status, show, View};
use super::state::{attempt, read, AppState};
use crate::bureau::{self, BureauError, ShipmentInput};
use crate::domain::{parse_date, parse_id, text, PlainText, TextRule};
use crate::error::AppError;
use crate::i18n::{Keyed, Lang};
use crate::models::shipment;
use crate::models::{product, site, LocalName, Site};
use crate::views::bureau::{
    self as views_bureau, shipment_row, AdjustShown, NoticesPage, PlanPage, PlanRead, ShipmentForm,
    ShipmentPage, ShipmentRead, ShipmentsPage,
};
use crate::views::FormErrors;

/// A bureau error as the page shows it: field errors next to the field, the rest on top.
fn explain(lang: Lang, e: &BureauError) -> (FormErrors, Option<String>) {
    let mut errors = FormErrors::default();
    let mut refusal = None;
    match e {
        BureauError::Field { field, key } => errors.add(field, lang.t(key).to_string()),
        BureauError::Lot { line, key } => errors.add(
            "lots",
            lang.tf(
                "err.lot.line",
                &[("line", &line.to_string()), ("problem", lang.t(key))],
            ),
        ),
        BureauError::Instance(msg) => refusal = Some(lang.tf(e.key(), &[("problem", msg)])),
        BureauError::NotFound | BureauError::Storage(_) => {
            refusal = Some(lang.t("err.internal").to_string())
        }
        e => refusal = Some(lang.t(e.key()).to_string()),
    }
    (errors, refusal)
}

/// The shipment list with the form that records one (empty, or again with its errors).
impl View for (ShipmentForm, FormErrors) {
    type Page = ShipmentsPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (mut form, errors) = self;
        let (list, products) = read(state, |c, _| {
            Ok((shipment::list(c, 100)?, product::list(c)?))
        })
        .await?;
        if form.received_on.is_empty() {
            form.received_on = state.today().to_string();
        }
        Ok(ShipmentsPage {
            shipments: list
                .iter()
                .map(|s| shipment_row(ctx.lang, s, &products))
                .collect(),
            products: products
                .iter()
                .map(|p| (p.id.to_string(), p.local_name(ctx.lang).to_string()))
                .collect(),
            form,
            errors,
            ctx,
        })
    }
}

/// `GET /bureau/shipments`.
pub async fn shipments(
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    let empty = (ShipmentForm::default(), FormErrors::default());
    show(ctx, &state, empty, StatusCode::OK).await
}

/// Parse the shipment form, collecting field errors.
fn parse_shipment(lang: Lang, f: &ShipmentForm) -> Result<ShipmentInput, FormErrors> {
    let mut errors = FormErrors::default();
    let date = |v: &str, name: &'static str, errors: &mut FormErrors| {
        parse_date(v, name)
            .map_err(|e| errors.add(name, lang.t(e.key).to_string()))
            .ok()
    };
    let product_id = parse_id(&f.product_id);
    if product_id.is_none() {
        errors.add("product_id", lang.t("err.shipment.product").to_string());
    }
    let doses = text::clean(&f.doses)
        .and_then(|d| d.parse::<i32>().ok())
        .filter(|d| *d > 0 && *d <= 10_000_000);
    if doses.is_none() {
        errors.add("doses", lang.t("err.shipment.doses").to_string());
    }
    let received_on = date(&f.received_on, "received_on", &mut errors);
    let next_expected_on = date(&f.next_expected_on, "next_expected_on", &mut errors);
    let next_latest_on = date(&f.next_latest_on, "next_latest_on", &mut errors);
    let lots = match bureau::parse_lots(&f.lots) {
        Ok(l) => Some(l),
        Err(e) => {
            let (e, _) = explain(lang, &e);
            for (field, msg) in e.all() {
                errors.add(field, msg.to_string());
            }
            None
        }
    };
    // Every field read, or the errors of those that were not.
    let input = (|| {
        Some(ShipmentInput {
            product_id: product_id?,
            doses: doses?,
            received_on: received_on?,
            next_expected_on: next_expected_on?,
            next_latest_on: next_latest_on?,
            lots: lots?,
        })
    })();
    match input {
        Some(input) if errors.is_empty() => Ok(input),
        _ => Err(errors),
    }
}

/// `POST /bureau/shipments`: record a shipment, then 303 to it.
pub async fn record_shipment(
    Acting(ctx, state, user, form): Acting<ShipmentForm>,
) -> Result<HttpResponse, AppError> {
    let input = match parse_shipment(ctx.lang, &form) {
        Ok(i) => i,
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show(ctx, &state, (form, errors), status).await;
        }
    };
    let outcome = attempt(&state, move |st| {
        bureau::record_shipment(&st.db, input, st.today(), &user.username, st.now())
    })
    .await?;
    let done = |id| format!("/bureau/shipments/{id}");
    redirect_or(outcome, done, |e| async move {
        let (mut errors, refusal) = explain(ctx.lang, &e);
        if let Some(r) = refusal {
            errors.add("product_id", r);
        }
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        show(ctx, &state, (form, errors), status).await
    })
    .await
}

/// The shipment `id`'s page, with the refusal of its plan button if any.
impl View for (i64, Option<String>) {
    type Page = ShipmentPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (id, refusal) = self;
        let (s, lots, plans, products) = read(state, move |c, _| {
            let s = shipment::find(c, id)?.ok_or(AppError::NotFound)?;
            Ok((
                s,
                shipment::lots_of(c, id)?,
                shipment::plans_of(c, id)?,
                product::list(c)?,
            ))
        })
        .await?;
        let tz = state.settings.time_zone;
        let read = ShipmentRead {
            shipment: s,
            lots,
            plans,
            products,
        };
        Ok(views_bureau::shipment_page(ctx, tz, read, refusal))
    }
}

/// `GET /bureau/shipments/{id}`.
pub async fn shipment_detail(
    path: web::Path<i64>,
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    show(ctx, &state, (*path, None), StatusCode::OK).await
}

/// A refusal of a plan's or shipment's button: a record that is not there is the plain 404.
fn found(e: BureauError) -> Result<BureauError, AppError> {
    match e {
        BureauError::NotFound => Err(AppError::NotFound),
        e => Ok(e),
    }
}

/// `POST /bureau/shipments/{id}/plan`: build the instance from the database and plan it.
pub async fn make_plan(
    shipment: web::Path<i64>,
    Acting(ctx, state, user, _): Acting<Button<Bureau>>,
) -> Result<HttpResponse, AppError> {
    let id = *shipment;
    let outcome = attempt(&state, move |st| {
        let tz = st.settings.time_zone;
        bureau::make_plan(&st.db, id, st.today(), tz, &user.username, st.now())
    })
    .await?;
    let done = |plan| format!("/bureau/plans/{plan}");
    redirect_or(outcome, done, |e| async move {
        let (errors, refusal) = explain(ctx.lang, &found(e)?);
        let msg = refusal.or_else(|| errors.all().first().map(|(_, m)| m.to_string()));
        show(ctx, &state, (id, msg), StatusCode::CONFLICT).await
    })
    .await
}

/// The plan `id`'s page with its adjust form.
impl View for (i64, AdjustShown) {
    type Page = PlanPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (id, form) = self;
        let (loaded, notices, towns, sites) = read(state, move |c, _| {
            let loaded = bureau::load_plan(c, id)?;
            let notices = shipment::notices_of_plan(c, id)?;
            let sites: HashMap<i64, Site> =
                site::list_all(c)?.into_iter().map(|s| (s.id, s)).collect();
            Ok((loaded, notices, bureau::towns_by_id(c)?, sites))
        })
        .await?;
        let read = PlanRead {
            loaded,
            notices,
            towns,
            sites,
        };
        Ok(views_bureau::plan_page(ctx, read, form))
    }
}

/// `GET /bureau/plans/{id}`.
pub async fn plan_detail(
    path: web::Path<i64>,
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    let shown = (*path, AdjustShown::default());
    show(ctx, &state, shown, StatusCode::OK).await
}

staff_form!(Bureau: ShipmentForm, AdjustForm);

/// The adjust form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AdjustForm {
    code: String,
    doses: String,
    reason: String,
    csrf: String,
}

/// `POST /bureau/plans/{id}/adjust`: change one town's share, with a reason.
pub async fn adjust(
    path: web::Path<i64>,
    Acting(ctx, state, user, form): Acting<AdjustForm>,
) -> Result<HttpResponse, AppError> {
    let id = *path;
    let mut st8 = AdjustShown {
        code: form.code.clone(),
        doses: form.doses.clone(),
        reason: form.reason.clone(),
        ..Default::default()
    };
    let doses = text::clean(&form.doses)
        .and_then(|d| d.parse::<u64>().ok())
        .filter(|d| *d <= 100_000_000);
    if doses.is_none() {
        st8.errors
            .add("doses", ctx.t("err.adjust.doses").to_string());
    }
    let code = PlainText::parse(&form.code, TextRule::line("code", 20).required())
        .map_err(|e| {
            let e = e.or_key("err.adjust.town");
            st8.errors.add(e.field, ctx.t(e.key).to_string())
        })
        .ok();
    let reason = PlainText::parse(&form.reason, TextRule::line("reason", 500).required())
        .map_err(|e| {
            let e = e.or_key("err.adjust.reason");
            st8.errors.add(e.field, ctx.t(e.key).to_string())
        })
        .ok();
    let (Some(doses), Some(code), Some(reason)) = (doses, code, reason) else {
        return show(ctx, &state, (id, st8), StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let (code, reason) = (code.into_string(), reason.into_string());
    let outcome = attempt(&state, move |st| {
        bureau::adjust(&st.db, id, &code, doses, &reason, &user.username, st.now())
    })
    .await?;
    let done = |()| format!("/bureau/plans/{id}");
    redirect_or(outcome, done, |e| async move {
        if let BureauError::NotFound = e {
            st8.errors
                .add("doses", ctx.t("err.adjust.town").to_string());
            return show(ctx, &state, (id, st8), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        let (errors, refusal) = explain(ctx.lang, &e);
        let status = refused_status(&refusal);
        st8.errors = errors;
        st8.refusal = refusal;
        show(ctx, &state, (id, st8), status).await
    })
    .await
}

/// `POST /bureau/plans/{id}/approve`: one transaction; approving twice does nothing more.
pub async fn approve(
    plan: web::Path<i64>,
    Acting(ctx, state, user, _): Acting<Button<Bureau>>,
) -> Result<HttpResponse, AppError> {
    let id = *plan;
    let outcome = attempt(&state, move |st| {
        bureau::approve(&st.db, id, st.settings.time_zone, &user.username, st.now())
    })
    .await?;
    let done = |_| format!("/bureau/plans/{id}");
    redirect_or(outcome, done, |e| async move {
        let (_, refusal) = explain(ctx.lang, &found(e)?);
        let shown = AdjustShown {
            refusal,
            ..Default::default()
        };
        show(ctx, &state, (id, shown), StatusCode::CONFLICT).await
    })
    .await
}

/// `GET /bureau/plans/{id}/instance.json`: the instance as planned, for `dosewise plan-allocation`.
pub async fn instance_json(
    plan: web::Path<i64>,
    Signed { state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    let id = *plan;
    let loaded = read(&state, move |c, _| Ok(bureau::load_plan(c, id)?)).await?;
    let body = serde_json::to_string_pretty(&loaded.instance.instance)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"instance-{id}.json\""),
        ))
        .body(body))
}

/// Query of the notices page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TownQuery {
    town: Option<i64>,
}

/// `GET /bureau/notices[?town=ID]`: what each town has been told.
pub async fn notices(
    q: web::Query<TownQuery>,
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    let town = q.town;
    let (list, towns) = read(&state, move |c, _| {
        Ok((shipment::notices(c, town, 500)?, bureau::towns_by_id(c)?))
    })
    .await?;
    html(&NoticesPage {
        rows: views_bureau::notice_rows(ctx.lang, list, &towns),
        ctx,
    })
}

/// `GET /bureau/mail`: how much mail is waiting, and what failed for good.
pub async fn mail(Signed { ctx, state, .. }: Signed<Bureau>) -> Result<HttpResponse, AppError> {
    let tz = state.settings.time_zone;
    let (counts, failed) = read(&state, |c, _| {
        Ok((
            crate::models::outbox::counts(c)?,
            crate::models::outbox::failed(c, 200)?,
        ))
    })
    .await?;
    html(&views_bureau::mail_page(ctx, tz, counts, failed))
}
