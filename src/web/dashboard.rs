//! `GET /bureau[?town=ID]`: the bureau's dashboard for the city or one town (bureau and admin).
//! The numbers are read by `models::dashboard`, the figures drawn by `views::dashboard`.

use actix_web::{web, HttpResponse};
use chrono::Duration;
use serde::Deserialize;

use super::ctx::{Bureau, Signed};
use super::respond::html;
use super::state::read;
use crate::domain::clinic::Severity;
use crate::error::AppError;
use crate::models::adverse_event;
use crate::models::dashboard::{self, Scope};
use crate::views::clinic::severe_reaction_rows;
use crate::views::dashboard::{figures, scope_name, DashboardPage};

/// The dashboard's query: a town's id, or nothing for the city.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DashboardQuery {
    town: String,
}

/// `GET /bureau[?town=ID]`: a town that is not a number is a 400, one that is not an active
/// town a 404.
pub async fn dashboard(
    q: web::Query<DashboardQuery>,
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    let town = match q.town.trim() {
        "" => None,
        t => Some(t.parse::<i64>().map_err(|_| AppError::BadRequest)?),
    };
    let (lang, tz, now, today) = (
        ctx.lang,
        state.settings.time_zone,
        state.now(),
        state.today(),
    );
    let (data, severe) = read(&state, move |c, _| {
        let data = dashboard::read(c, Scope { town }, tz, today)?.ok_or(AppError::NotFound)?;
        let severe = adverse_event::list_by_severity_since(
            c,
            Severity::Severe.as_str(),
            now - Duration::days(7),
            100,
        )?;
        Ok((data, severe))
    })
    .await?;
    html(&DashboardPage {
        towns: crate::views::town_choices(lang, &data.towns),
        town: town.map(|t| t.to_string()).unwrap_or_default(),
        scope_name: scope_name(&data, lang),
        today: crate::i18n::day_label(lang, today),
        figures: figures(&data, lang),
        severe: severe_reaction_rows(lang, tz, severe)
            .into_iter()
            .skip(1)
            .collect(),
        ctx,
    })
}
