//! Product pages (bureau too): the list, adding, editing with the interval history.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::forms::product_input;
use super::{Refusal, SetupForm};
use crate::error::AppError;
use crate::ids::ProductId;
use crate::models::LocalName;
use crate::models::{product, product_change};
use crate::setup::{self, SetupError};
use crate::views::admin::{ProductEditPage, ProductForm, ProductListRow, ProductsPage};
use crate::views::FormErrors;
use crate::web::ctx::{Bureau, Ctx, Signed};
use crate::web::respond::{show, View};
use crate::web::state::{read, AppState};

/// `GET /admin/products` (bureau too).
pub async fn products(Signed { ctx, state, .. }: Signed<Bureau>) -> Result<HttpResponse, AppError> {
    let form = ProductForm {
        doses_in_series: "2".into(),
        min_interval_days: "21".into(),
        max_interval_days: "56".into(),
        min_age_years: "18".into(),
        max_age_years: "120".into(),
        pack_size: "1".into(),
        ..Default::default()
    };
    show(ctx, &state, (form, FormErrors::default()), StatusCode::OK).await
}

/// The product list with the add form (empty, or again with its errors).
impl View for (ProductForm, FormErrors) {
    type Page = ProductsPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let list = read(state, |c, _| Ok(product::list(c)?)).await?;
        let (form, errors) = self;
        Ok(ProductsPage {
            products: list
                .into_iter()
                .map(|p| ProductListRow {
                    id: p.id.to_string(),
                    name: p.local_name(ctx.lang).to_string(),
                    code: p.code,
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
        })
    }
}

/// The product form (bureau too): added on `/admin/products`, edited on the product's page,
/// where an interval change after doses were given needs a reason.
impl SetupForm for ProductForm {
    const LIST: &'static str = "/admin/products";

    fn save(&self, st: &AppState, id: Option<i64>, actor: &str) -> Result<i64, SetupError> {
        setup::save_product(&st.db, id, product_input(self)?, actor, st.now())
    }

    async fn again(self, r: Refusal<'_>) -> Result<HttpResponse, AppError> {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        match r.id {
            None => show(r.ctx, r.state, (self, r.errors), status).await,
            Some(id) => show(r.ctx, r.state, (id, self, r.errors), status).await,
        }
    }
}

/// `GET /admin/products/{id}`.
pub async fn product_page(
    product: web::Path<i64>,
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    let id = *product;
    let p = read(&state, move |c, _| {
        product::find(c, ProductId(id))?.ok_or(AppError::NotFound)
    })
    .await?;
    let form = ProductForm {
        code: p.code,
        name: p.name,
        name_en: p.name_en.unwrap_or_default(),
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
    show(
        ctx,
        &state,
        (id, form, FormErrors::default()),
        StatusCode::OK,
    )
    .await
}

/// The product `id`'s page with its form (as stored, or again with its errors).
impl View for (i64, ProductForm, FormErrors) {
    type Page = ProductEditPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (id, form, errors) = self;
        let tz = state.settings.time_zone;
        let (given, history) = read(state, move |c, _| {
            product::find(c, ProductId(id))?.ok_or(AppError::NotFound)?;
            Ok((
                product::has_been_given(c, ProductId(id))?,
                product_change::list_for_product(c, ProductId(id))?,
            ))
        })
        .await?;
        Ok(ProductEditPage {
            id: id.to_string(),
            given,
            form,
            errors,
            history: history
                .into_iter()
                .map(|h| {
                    (
                        crate::i18n::stamp(tz, h.changed_at),
                        format!("{}–{}", h.old_min_interval_days, h.old_max_interval_days),
                        format!("{}–{}", h.new_min_interval_days, h.new_max_interval_days),
                        h.reason,
                        h.changed_by,
                    )
                })
                .collect(),
            ctx,
        })
    }
}
