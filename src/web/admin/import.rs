//! The CSV import of towns and sites.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde::Deserialize;

use super::explain;
use crate::error::AppError;
use crate::setup::{self, SetupError};
use crate::views::admin::ImportPage;
use crate::web::ctx::{staff_form, Acting, Admin, Signed};
use crate::web::respond::{html, html_status};
use crate::web::state::attempt;

/// `GET /admin/import`: the format, the example, the form.
pub async fn import_form(Signed { ctx, .. }: Signed<Admin>) -> Result<HttpResponse, AppError> {
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
staff_form!(Admin: ImportForm);

/// `POST /admin/import`: all rows or nothing.
pub async fn import(
    Acting(ctx, state, user, form): Acting<ImportForm>,
) -> Result<HttpResponse, AppError> {
    let csv = form.csv;
    let text = csv.clone();
    let outcome = attempt(&state, move |st| {
        setup::import_csv(&st.db, &text, &user.username, st.now())
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
pub async fn import_example(_: Signed<Admin>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"dosewise-towns-and-sites.csv\"",
        ))
        .body(setup::EXAMPLE_CSV))
}
