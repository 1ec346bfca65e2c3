//! The household pages: `GET /household` (every member's doses and appointments, the forms that
//! add a member and book several members together), `POST /household/members`,
//! `POST /household/book`, and `GET`/`POST /household/find` (any member's booking code and ID
//! number, through `web::lookup` with the appointment look-up's per-code slowdown). The page is
//! granted by the household cookie (a member's resident id, encrypted) or by the appointment
//! cookie of a member's booking.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::cookies;
use super::ctx::{Ctx, Posted, Visit};
use super::lookup::{self, LookupForm, LookupPage};
use super::respond::{see_other, show, View};
use super::state::{blocking, read, AppState};
use crate::booking::household::{self as house, HouseholdError};
use crate::booking::BookingError;
use crate::domain::days::local_day;
use crate::domain::{parse_date, parse_id, FieldError, IdNumber, PersonName};
use crate::error::AppError;
use crate::i18n::{day_label, Keyed, Lang};
use crate::ids::{AppointmentId, ResidentId, SiteId, SlotId};
use crate::models::{appointment, product, site, vaccination, LocalName};
use crate::views::household::{
    HouseholdFindPage, HouseholdPage, MemberForm, MemberRow, RowContext, SiteChoice, SlotChoice,
};
use crate::views::FormErrors;

/// What lets this browser see a household.
#[derive(Debug, Clone, Copy)]
enum Grant {
    /// The household cookie: a member found by code and ID number.
    Member(ResidentId),
    /// The appointment cookie: the household of that appointment's resident.
    Appointment(AppointmentId),
}

fn grant_of(req: &HttpRequest, state: &AppState) -> Option<Grant> {
    cookies::get_private(req, &state.keys.cookie, cookies::HOUSEHOLD)
        .and_then(|v| v.parse().ok())
        .map(|id| Grant::Member(ResidentId(id)))
        .or_else(|| lookup::granted(req, state).map(Grant::Appointment))
}

/// The member the grant names.
fn member_of(c: &mut crate::db::AnyConnection, grant: Grant) -> Result<ResidentId, AppError> {
    match grant {
        Grant::Member(r) => Ok(r),
        Grant::Appointment(a) => appointment::find(c, a)?
            .map(|a| ResidentId(a.resident_id))
            .ok_or(AppError::NotFound),
    }
}

/// What the page shows besides the household: the day asked for, the forms as posted, and what
/// the last action did or why it was refused.
#[derive(Default)]
struct Shown {
    site: Option<String>,
    date: Option<String>,
    form: MemberForm,
    errors: FormErrors,
    refusal: Option<String>,
    notice: Option<String>,
    chosen: Vec<i64>,
    chosen_slot: Option<i64>,
}

/// `?site=&date=` picks the day of slots; `?done=added|booked` after a POST.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HouseholdQuery {
    site: Option<String>,
    date: Option<String>,
    done: Option<String>,
}

/// `GET /household`.
pub async fn household_page(
    Visit { ctx, state }: Visit,
    req: HttpRequest,
    q: web::Query<HouseholdQuery>,
) -> Result<HttpResponse, AppError> {
    let Some(grant) = grant_of(&req, &state) else {
        return Ok(see_other("/household/find"));
    };
    let q = q.into_inner();
    let notice = match q.done.as_deref() {
        Some("added") => Some(ctx.t("house.added").to_string()),
        Some("booked") => Some(ctx.t("house.booked").to_string()),
        _ => None,
    };
    let shown = Shown {
        site: q.site,
        date: q.date,
        notice,
        ..Shown::default()
    };
    no_store(show(ctx, &state, (grant, shown), StatusCode::OK).await)
}

/// The household page, with what `shown` adds.
impl View for (Grant, Shown) {
    type Page = HouseholdPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (grant, shown) = self;
        let data = read(state, move |c, _| {
            let me = member_of(c, grant)?;
            let (_, members) = house::members_of(c, me)?;
            let ids: Vec<i64> = members.iter().map(|m| m.id).collect();
            let given = vaccination::list_for_residents(c, &ids)?;
            let appts = appointment::list_for_residents(c, &ids)?;
            let rows: Vec<_> = members
                .into_iter()
                .map(|m| {
                    let of = |resident_id: i64| resident_id == m.id;
                    let g: Vec<_> = given
                        .iter()
                        .filter(|v| of(v.resident_id))
                        .cloned()
                        .collect();
                    let a: Vec<_> = appts
                        .iter()
                        .filter(|a| of(a.resident_id))
                        .cloned()
                        .collect();
                    (m, g, a)
                })
                .collect();
            Ok((rows, product::list(c)?, site::list_all(c)?))
        })
        .await?;
        let (rows, products, all_sites) = data;
        let lang = ctx.lang;
        let tz = state.settings.time_zone;
        let site_names: Vec<(i64, String)> = all_sites
            .iter()
            .map(|s| (s.id, s.local_name(lang).to_string()))
            .collect();
        let active: Vec<&crate::models::Site> = all_sites.iter().filter(|s| s.active).collect();
        // The site asked for, else the one of the household's latest appointment, else the first.
        let latest = rows
            .iter()
            .flat_map(|(_, _, a)| a.iter())
            .max_by_key(|a| a.created_at)
            .map(|a| a.site_id);
        let site_id = shown
            .site
            .as_deref()
            .and_then(parse_id)
            .or(latest)
            .filter(|id| active.iter().any(|s| s.id == *id))
            .or_else(|| active.first().map(|s| s.id));
        let today = state.today();
        let asked = shown
            .date
            .as_deref()
            .filter(|d| !d.is_empty())
            .and_then(|d| parse_date(d, "date").ok());
        let day = match (asked, site_id) {
            (Some(d), _) => d,
            (None, Some(s)) => super::moving::first_free_day(state, SiteId(s))
                .await?
                .unwrap_or(today),
            (None, None) => today,
        };
        let day = crate::views::site_day::shown_day(today, day);
        // The day's slots as the site's own page lists them, with the same reasons why one takes
        // no booking (a household books first come: not into a slot whose seats are drawn).
        let slots: Vec<SlotChoice> = match site_id {
            Some(s) => {
                let day = super::site_day::read_day(state, SiteId(s), day).await?;
                let (slots, draws, stock) = &*day.slots;
                let rows = crate::views::site_day::Day {
                    lang,
                    tz,
                    rules: state.rules(),
                    slots,
                    draws,
                    stock,
                    products: &products,
                    exceptions: &day.exceptions,
                    mover: None,
                    first_come: true,
                }
                .rows();
                rows.into_iter()
                    .map(|row| SlotChoice {
                        full: !row.takes_booking(),
                        chosen: shown.chosen_slot.is_some_and(|c| c.to_string() == row.id),
                        label: row.closed.clone().unwrap_or(row.label),
                        id: row.id,
                        time: row.time,
                        product: row.product,
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        let rc = RowContext {
            lang,
            tz,
            today,
            products: &products,
            site_names: &site_names,
            chosen: &shown.chosen,
        };
        let members: Vec<MemberRow> = rows
            .iter()
            .map(|(m, given, appts)| crate::views::household::member_row(&rc, m, given, appts))
            .collect();
        let max = state.settings.household_max;
        let page = HouseholdPage {
            count: ctx.tf(
                "house.count",
                &[("n", &members.len().to_string()), ("max", &max.to_string())],
            ),
            can_add: (members.len() as i32) < max,
            any_bookable: members.iter().any(|m| m.bookable),
            members,
            form: shown.form,
            errors: shown.errors,
            refusal: shown.refusal,
            notice: shown.notice,
            sites: active
                .iter()
                .map(|s| SiteChoice {
                    id: s.id.to_string(),
                    name: s.local_name(lang).to_string(),
                    selected: Some(s.id) == site_id,
                })
                .collect(),
            site_id: site_id.map(|s| s.to_string()).unwrap_or_default(),
            date: day.format("%Y-%m-%d").to_string(),
            day: day_label(lang, day),
            slots,
            ctx,
        };
        Ok(page)
    }
}

/// A household page as answered: never kept by a cache (it names every member).
fn no_store(res: Result<HttpResponse, AppError>) -> Result<HttpResponse, AppError> {
    let mut res = res?;
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}

fn field_message(lang: Lang, e: FieldError) -> String {
    lang.t(e.key).to_string()
}

/// `POST /household/members`: add a member under the household's phone number and e-mail
/// address, then 303 back to the page; refused, the page again saying why.
pub async fn add_member(
    req: HttpRequest,
    Posted { ctx, state, form }: Posted<MemberForm>,
) -> Result<HttpResponse, AppError> {
    let grant = grant_of(&req, &state).ok_or(AppError::Forbidden)?;
    let mut errors = FormErrors::default();
    let mut note = |e: FieldError| errors.add(e.field, field_message(ctx.lang, e));
    let name = PersonName::parse(&form.name).map_err(&mut note).ok();
    let id = IdNumber::parse(&form.id_number).map_err(&mut note).ok();
    let (Some(name), Some(id)) = (name, id) else {
        let shown = Shown {
            form,
            errors,
            ..Shown::default()
        };
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return no_store(show(ctx, &state, (grant, shown), status).await);
    };
    let added = blocking(&state, move |st| {
        let me = member_of(&mut *st.db.read.get()?, grant)?;
        let max = st.settings.household_max;
        Ok::<_, AppError>(house::add_member(
            &st.db,
            &st.keys,
            st.now(),
            max,
            me,
            &name,
            &id,
        ))
    })
    .await?;
    match added {
        Ok(_) => Ok(see_other("/household?done=added")),
        Err(e) if e.is_internal() => Err(e.into()),
        Err(e) => {
            let shown = Shown {
                refusal: Some(ctx.t(e.key()).to_string()),
                form,
                ..Shown::default()
            };
            no_store(show(ctx, &state, (grant, shown), StatusCode::CONFLICT).await)
        }
    }
}

/// The booking-together form: one CSRF token, one slot, any number of members, and the day shown
/// (to show it again). A field other than `member` given twice is refused (400), as a form is.
#[derive(Deserialize)]
#[serde(try_from = "Vec<(String, String)>")]
pub struct BookForm {
    csrf: String,
    slot: Option<i64>,
    members: Vec<i64>,
    site: Option<String>,
    date: Option<String>,
}

super::ctx::posted_form!(BookForm, MemberForm);

impl TryFrom<Vec<(String, String)>> for BookForm {
    type Error = &'static str;

    fn try_from(pairs: Vec<(String, String)>) -> Result<BookForm, Self::Error> {
        let mut f = BookForm {
            csrf: String::new(),
            slot: None,
            members: Vec::new(),
            site: None,
            date: None,
        };
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in pairs {
            if k != "member" {
                if seen.contains(&k) {
                    return Err("a field given twice");
                }
                seen.push(k.clone());
            }
            match k.as_str() {
                "csrf" => f.csrf = v,
                "member" => f
                    .members
                    .push(parse_id(&v).ok_or("a member that is no id")?),
                "slot_id" if v.trim().is_empty() => {}
                "slot_id" => f.slot = Some(parse_id(&v).ok_or("a slot that is no id")?),
                "site" => f.site = Some(v),
                "date" => f.date = Some(v),
                _ => {}
            }
        }
        Ok(f)
    }
}

/// A household refusal in words, saying that nothing was booked.
fn refusal_text(lang: Lang, tz: chrono_tz::Tz, e: &HouseholdError) -> String {
    match e {
        HouseholdError::Member(name, why) => lang.tf(
            "err.house.member",
            &[
                ("name", name),
                ("why", &super::resident::refusal_text(lang, tz, why)),
            ],
        ),
        HouseholdError::Booking(why) => lang.tf(
            "err.house.refused",
            &[("why", &super::resident::refusal_text(lang, tz, why))],
        ),
        e => lang.t(e.key()).to_string(),
    }
}

/// `POST /household/book`: book the chosen members' next doses together (all or none), then 303
/// back to the page; refused, the page again with the choice kept, saying why.
pub async fn book(
    req: HttpRequest,
    Posted {
        ctx,
        state,
        form: f,
    }: Posted<BookForm>,
) -> Result<HttpResponse, AppError> {
    let grant = grant_of(&req, &state).ok_or(AppError::Forbidden)?;
    let again = |refusal: String| Shown {
        site: f.site.clone(),
        date: f.date.clone(),
        refusal: Some(refusal),
        chosen: f.members.clone(),
        chosen_slot: f.slot,
        ..Shown::default()
    };
    let Some(start) = f.slot.map(SlotId) else {
        let shown = again(ctx.t("err.house.slot").to_string());
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return no_store(show(ctx, &state, (grant, shown), status).await);
    };
    let chosen: Vec<ResidentId> = f.members.iter().copied().map(ResidentId).collect();
    let booked = blocking(&state, move |st| {
        let me = member_of(&mut *st.db.read.get()?, grant)?;
        let cap = st.settings.contact_day_cap;
        Ok::<_, AppError>(house::book_together(
            &st.db,
            st.rules(),
            cap,
            me,
            &chosen,
            start,
        ))
    })
    .await?;
    match booked {
        Ok(appts) => {
            let day = appts.first().map_or_else(
                || state.today(),
                |a| local_day(state.settings.time_zone, a.starts_at),
            );
            let site = appts.first().map_or(0, |a| a.site_id);
            Ok(see_other(&format!(
                "/household?done=booked&site={site}&date={}",
                day.format("%Y-%m-%d")
            )))
        }
        Err(HouseholdError::Booking(BookingError::SlotNotFound)) => Err(AppError::NotFound),
        Err(e) if e.is_internal() => Err(e.into()),
        Err(e) => {
            let shown = again(refusal_text(ctx.lang, state.settings.time_zone, &e));
            no_store(show(ctx, &state, (grant, shown), StatusCode::CONFLICT).await)
        }
    }
}

/// The household's look-up page: the appointment's, under the same per-code count.
const FIND: LookupPage<HouseholdFindPage> =
    LookupPage::appointment(|ctx, code, errors, refusal| HouseholdFindPage {
        ctx,
        code,
        errors,
        refusal,
    });

/// `GET /household/find`.
pub async fn find_form(ctx: Ctx) -> Result<HttpResponse, AppError> {
    FIND.empty(ctx)
}

/// `POST /household/find`: a member's booking code and ID number, then 303 to the household
/// with the cookie that lets this browser see it.
pub async fn find_submit(posted: Posted<LookupForm>) -> Result<HttpResponse, AppError> {
    let grant = |st: &AppState, a: appointment::Appointment| {
        cookies::grant(
            st,
            cookies::HOUSEHOLD,
            a.resident_id,
            cookies::HOUSEHOLD_SECONDS,
            "/household",
        )
    };
    FIND.submit(posted, lookup::find_appointment, grant).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_booking_form_takes_many_members_but_every_other_field_once() {
        let f = BookForm::try_from(pairs(&[
            ("csrf", "t"),
            ("member", "11"),
            ("member", "12"),
            ("slot_id", "7"),
            ("unknown", "x"),
        ]))
        .unwrap();
        assert_eq!(
            (f.members, f.slot, f.csrf.as_str()),
            (vec![11, 12], Some(7), "t")
        );
        for bad in [
            pairs(&[("slot_id", "7"), ("slot_id", "8")]),
            pairs(&[("csrf", "t"), ("csrf", "u")]),
            pairs(&[("member", "x")]),
            pairs(&[("member", "")]),
            pairs(&[("slot_id", "1.5")]),
        ] {
            assert!(BookForm::try_from(bad).is_err());
        }
        let none = BookForm::try_from(pairs(&[("slot_id", " ")])).unwrap();
        assert_eq!((none.slot, none.members.len()), (None, 0));
    }
}
