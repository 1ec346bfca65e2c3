//! The bureau's records: the CSV exports (`/bureau/exports`, `/bureau/exports/{name}.csv`) and
//! the audit trail's page (`/bureau/audit`), which share their filters; bureau and admin.
//!
//! A file is streamed: the first page of rows is read like any page (so a database outage is a
//! 503 before anything is sent); the rest is read on a blocking thread, a page of `PAGE` rows at
//! a time by keyset (`models::export`), each page on a pooled read connection taken and given
//! back per page, and handed to the response through a channel of two parts. A slow client
//! therefore holds a thread but no connection, and memory stays at about two pages whatever the
//! size of the table. The cells are written by `views::exports::Sheet`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use chrono::{Duration, NaiveDateTime};
use chrono_tz::Tz;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::ctx::{Bureau, Signed};
use super::respond::html;
use super::state::{read, AppState};
use crate::bureau::StoredPlan;
use crate::db::AnyConnection;
use crate::domain::days::day_start;
use crate::domain::parse_date;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::models::export::{self, Filter, Key};
use crate::models::{audit, town};
use crate::views::audit::AuditPage;
use crate::views::exports::{Export, ExportsPage, PlanLine, Sheet};
use crate::views::town_choices;

/// Rows per page read from the database.
pub const PAGE: i64 = 500;

/// Entries per page of `/bureau/audit`.
pub const AUDIT_PAGE: i64 = 50;

/// The filters of an export or of the audit page, as typed (`kind` and `user` only for the
/// audit log, `page` only for its page).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExportQuery {
    from: String,
    to: String,
    town: String,
    kind: String,
    user: String,
    page: String,
}

impl ExportQuery {
    /// The filter in UTC: `from` and `to` are city days, both included.
    fn filter(&self, tz: Tz) -> Result<Filter, AppError> {
        let word = |v: &str| match v.trim() {
            "" => Ok(None),
            v if v.chars().count() <= 100 && !v.chars().any(char::is_control) => {
                Ok(Some(v.to_string()))
            }
            _ => Err(AppError::BadRequest),
        };
        let day = |v: &str, name| match v.trim() {
            "" => Ok(None),
            v => parse_date(v, name)
                .map(Some)
                .map_err(|_| AppError::BadRequest),
        };
        let town = match self.town.trim() {
            "" => None,
            t => Some(t.parse::<i64>().map_err(|_| AppError::BadRequest)?),
        };
        Ok(Filter {
            from: day(&self.from, "from")?.map(|d| day_start(tz, d)),
            to: day(&self.to, "to")?.map(|d| day_start(tz, d + Duration::days(1))),
            town,
            kind: word(&self.kind)?,
            actor: word(&self.user)?,
        })
    }

    /// The filters given, with `page` if any, as a query string for links ("" or `?…`).
    fn query(&self, page: Option<u32>) -> String {
        let page = page.map(|p| p.to_string());
        let pairs: Vec<(&str, &str)> = [
            ("from", self.from.trim()),
            ("to", self.to.trim()),
            ("town", self.town.trim()),
            ("kind", self.kind.trim()),
            ("user", self.user.trim()),
            ("page", page.as_deref().unwrap_or("")),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        match serde_urlencoded::to_string(&pairs) {
            Ok(s) if !s.is_empty() => format!("?{s}"),
            _ => String::new(),
        }
    }

    /// The 1-based page number asked for.
    fn page(&self) -> Result<u32, AppError> {
        match self.page.trim() {
            "" => Ok(1),
            p => p
                .parse::<u32>()
                .ok()
                .filter(|p| (1..=100_000).contains(p))
                .ok_or(AppError::BadRequest),
        }
    }
}

/// `GET /bureau/audit[?kind=&town=&user=&from=&to=&page=]`: a page of the audit trail, newest
/// first, with names instead of ids.
pub async fn audit_page(
    q: web::Query<ExportQuery>,
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    let tz = state.settings.time_zone;
    let lang = ctx.lang;
    let filter = q.filter(tz)?;
    let page = q.page()?;
    let offset = i64::from(page - 1) * AUDIT_PAGE;
    let (entries, names, actions, towns) = read(&state, move |c, _| {
        let mut entries = audit::page(c, &filter, offset, AUDIT_PAGE + 1)?;
        let more = entries.len() > AUDIT_PAGE as usize;
        entries.truncate(AUDIT_PAGE as usize);
        let names = audit::names(c, &crate::views::audit::mentioned(&entries), lang)?;
        Ok((
            (entries, more),
            names,
            audit::actions(c)?,
            town::list_all(c)?,
        ))
    })
    .await?;
    let (entries, more) = entries;
    html(&AuditPage {
        rows: crate::views::audit::rows(entries, &names, tz),
        actions,
        towns: town_choices(ctx.lang, &towns),
        from: q.from.trim().to_string(),
        to: q.to.trim().to_string(),
        town: q.town.trim().to_string(),
        kind: q.kind.trim().to_string(),
        user: q.user.trim().to_string(),
        page,
        prev: (page > 1).then(|| format!("/bureau/audit{}", q.query(Some(page - 1)))),
        next: more.then(|| format!("/bureau/audit{}", q.query(Some(page + 1)))),
        export: format!("/bureau/exports/audit.csv{}", q.query(None)),
        ctx,
    })
}

/// `GET /bureau/exports`: the filter form and a link per export.
pub async fn exports_page(
    q: web::Query<ExportQuery>,
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    q.filter(state.settings.time_zone)?;
    let towns = read(&state, |c, _| Ok(town::list_all(c)?)).await?;
    html(&ExportsPage {
        exports: Export::ALL
            .iter()
            .map(|e| (e.name(), e.title_key()))
            .collect(),
        towns: town_choices(ctx.lang, &towns),
        query: q.query(None),
        from: q.from.trim().to_string(),
        to: q.to.trim().to_string(),
        town: q.town.trim().to_string(),
        ctx,
    })
}

/// `GET /bureau/exports/{name}.csv[?from=&to=&town=]`: one export, streamed.
pub async fn export_csv(
    path: web::Path<String>,
    q: web::Query<ExportQuery>,
    Signed { ctx, state, .. }: Signed<Bureau>,
) -> Result<HttpResponse, AppError> {
    let export = Export::from_name(&path).ok_or(AppError::NotFound)?;
    let tz = state.settings.time_zone;
    let pager = Pager {
        export,
        filter: q.filter(tz)?,
        lang: ctx.lang,
        tz,
        after: None,
        first: true,
        done: false,
    };
    let (first, pager) = read(&state, move |c, _| {
        let mut pager = pager;
        let part = pager.next(c)?;
        Ok((part, pager))
    })
    .await?;
    let rest = (!pager.done).then(|| spawn_rest(&state, pager));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}.csv\"", export.name()),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(CsvBody {
            first: first.map(Bytes::from),
            rest,
        }))
}

/// Read the pages after the first on a blocking thread, into a channel of two parts.
fn spawn_rest(state: &web::Data<AppState>, mut pager: Pager) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(2);
    let st = state.clone();
    actix_web::rt::task::spawn_blocking(move || loop {
        let part = st
            .db
            .read
            .get()
            .map_err(AppError::from)
            .and_then(|mut c| pager.next(&mut c));
        match part {
            Ok(Some(bytes)) => {
                if tx.blocking_send(Ok(Bytes::from(bytes))).is_err() {
                    return; // the client went away
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(export = pager.export.name(), error = %e, "export stopped");
                let _ = tx.blocking_send(Err(io::Error::other("export stopped")));
                return;
            }
        }
    });
    rx
}

/// The response body: the first part, then what the channel brings.
struct CsvBody {
    first: Option<Bytes>,
    rest: Option<mpsc::Receiver<io::Result<Bytes>>>,
}

impl MessageBody for CsvBody {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        match (&self.first, &self.rest) {
            (Some(b), None) => BodySize::Sized(b.len() as u64),
            (None, None) => BodySize::Sized(0),
            _ => BodySize::Stream,
        }
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, io::Error>>> {
        let this = self.get_mut();
        if let Some(b) = this.first.take() {
            return Poll::Ready(Some(Ok(b)));
        }
        match this.rest.as_mut() {
            Some(rx) => rx.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}

/// Where an export has got to.
struct Pager {
    export: Export,
    filter: Filter,
    lang: Lang,
    tz: Tz,
    after: Key,
    first: bool,
    done: bool,
}

fn csv_failed(e: csv::Error) -> AppError {
    AppError::Internal(anyhow::Error::new(e))
}

/// A row of a plain export: where the next page starts after it (its time and id).
trait Keyed {
    fn key(&self) -> (NaiveDateTime, i64);
}

/// `keyed!(Row: time, ...)`: each row type keyed by its time column and id.
macro_rules! keyed {
    ($($row:ty: $time:ident),+ $(,)?) => {
        $(impl Keyed for $row {
            fn key(&self) -> (NaiveDateTime, i64) {
                (self.$time, self.id)
            }
        })+
    };
}

keyed!(
    export::AppointmentRow: starts_at,
    export::VaccinationRow: given_at,
    export::StockRow: created_at,
    export::ReactionRow: occurred_at,
    export::WaitingRow: created_at,
);

/// How a plain export reads a page of its rows, and how the sheet writes one.
type ReadPage<R> = fn(&mut AnyConnection, &Filter, Key, i64) -> diesel::QueryResult<Vec<R>>;
type WriteRow<R> = fn(&mut Sheet, &R) -> csv::Result<()>;

impl Pager {
    /// The next part of the file (the first carries the BOM and header), or None when all is
    /// sent.
    fn next(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<u8>>, AppError> {
        if self.done {
            return Ok(None);
        }
        let mut sheet =
            Sheet::new(self.export, self.lang, self.tz, self.first).map_err(csv_failed)?;
        self.first = false;
        let (f, after) = (self.filter.clone(), self.after);
        let n = match self.export {
            Export::Appointments => {
                self.rows(c, &mut sheet, export::appointments, Sheet::appointment)?
            }
            Export::Vaccinations => {
                self.rows(c, &mut sheet, export::vaccinations, Sheet::vaccination)?
            }
            Export::Stock => self.rows(c, &mut sheet, export::stock, Sheet::stock)?,
            Export::Reactions => self.rows(c, &mut sheet, export::reactions, Sheet::reaction)?,
            Export::Waiting => self.rows(c, &mut sheet, export::waiting, Sheet::waiting)?,
            Export::Audit => {
                let entries = export::audit(c, &f, after, PAGE)?;
                if let Some(e) = entries.last() {
                    self.after = Some((e.created_at, e.id));
                }
                let n = entries.len();
                // The export names things as stored (in Chinese), as the other exports do.
                let mentioned = crate::views::audit::mentioned(&entries);
                let names = audit::names(c, &mentioned, Lang::Zh)?;
                for r in crate::views::audit::rows(entries, &names, self.tz) {
                    sheet.audit(&r).map_err(csv_failed)?;
                }
                n
            }
            Export::Plans => {
                // A plan has a line per town and site: fewer plans per page.
                let plans = export::plans(c, &f, after, PAGE / 10)?;
                for p in &plans {
                    plan_lines(&mut sheet, p, f.town)?;
                }
                if let Some(p) = plans.last() {
                    self.after = Some((p.approved_at, p.id));
                }
                plans.len().saturating_mul(10)
            }
        };
        if i64::try_from(n).unwrap_or(i64::MAX) < PAGE {
            self.done = true;
        }
        Ok(Some(sheet.finish().map_err(csv_failed)?))
    }

    /// A page of a plain export: read with `read`, each row written with `write`; the key moves
    /// past the last row. The number of rows read.
    fn rows<R: Keyed>(
        &mut self,
        c: &mut AnyConnection,
        sheet: &mut Sheet,
        read: ReadPage<R>,
        write: WriteRow<R>,
    ) -> Result<usize, AppError> {
        let rows = read(c, &self.filter, self.after, PAGE)?;
        for r in &rows {
            write(sheet, r).map_err(csv_failed)?;
        }
        if let Some(r) = rows.last() {
            self.after = Some(r.key());
        }
        Ok(rows.len())
    }
}

/// An approved plan's lines: each town (of the filter) and under it each of its sites.
fn plan_lines(sheet: &mut Sheet, p: &export::PlanRow, town: Option<i64>) -> Result<(), AppError> {
    let plan: StoredPlan = serde_json::from_str(&p.plan_json)
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let approved_at: NaiveDateTime = p.approved_at;
    let by = p.approved_by.as_deref().unwrap_or("");
    for t in plan
        .towns
        .iter()
        .filter(|t| town.is_none_or(|id| id == t.town_id))
    {
        let line = PlanLine {
            plan: p.id,
            approved_at,
            approved_by: by,
            product: &p.product,
            town_code: &t.code,
            town: &t.name,
            site: None,
            ship: t.ship,
            urgent_second: Some(t.urgent_second),
            reserve: Some(t.reserve),
            first: t.first,
            other_second: Some(t.other_second),
            second_total: t.second_doses.values().sum(),
        };
        sheet.plan_line(&line).map_err(csv_failed)?;
        for s in &t.sites {
            sheet
                .plan_line(&PlanLine {
                    site: Some(&s.name),
                    ship: s.ship,
                    urgent_second: None,
                    reserve: None,
                    first: s.first,
                    other_second: None,
                    second_total: s.second_doses.values().sum(),
                    ..line
                })
                .map_err(csv_failed)?;
        }
    }
    Ok(())
}
