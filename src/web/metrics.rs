//! The metrics listener's one route: `GET /metrics` in the Prometheus text format. It is served
//! by a second server on `DOSEWISE_METRICS_BIND` (see `startup`), never by the public route table.

use actix_web::{web, HttpResponse};

use super::state::{blocking, AppState};
use crate::error::AppError;

/// The metrics listener's routes: `/metrics`, and 404 for anything else.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape))
        .default_service(web::to(|| async { HttpResponse::NotFound().finish() }));
}

/// `GET /metrics`: the outbox and pool gauges read now, then every metric.
async fn scrape(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let text = blocking(&state, |st| {
        st.metrics.refresh(&st.db);
        st.metrics.render().map_err(AppError::Internal)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .insert_header(("Cache-Control", "no-store"))
        .body(text))
}
