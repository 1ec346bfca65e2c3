//! The builders of a resident's pages: a town's page, a slot's booking form, their appointment
//! and the question before cancelling it (from `models::my_appointment`'s read).

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::layout::Layout;
use super::{
    hm, qr_svg, when, AppointmentPage, BookPage, CancelPage, FormErrors, HomePage, ResidentForm,
    SiteRow, TownPage, TownRow,
};
use crate::booking::draw::Opening;
use crate::domain::eligibility::next_dose_window;
use crate::domain::{BookingCode, IdNumber};
use crate::i18n::day_label;
use crate::models::my_appointment::MyAppointment;
use crate::models::{Appointment, AppointmentStatus, LocalName, Product, Site, Slot, Town};

/// What the appointment page says beside the appointment: the city's zone and day, where the
/// desk's QR code leads, how long people stay after the injection, and what led here
/// (`booked`, `moved` or `cancelled`, or nothing when looked up again later).
pub struct AppointmentContext<'a> {
    pub tz: Tz,
    pub today: NaiveDate,
    pub base_url: &'a str,
    pub observation_minutes: i64,
    pub done: Option<&'a str>,
}

/// The appointment page.
pub fn appointment_page(
    ctx: Layout,
    read: MyAppointment,
    c: AppointmentContext,
) -> AppointmentPage {
    let MyAppointment {
        appointment: a,
        resident: r,
        slot: sl,
        site: s,
        product: p,
        doses,
        next_booked,
        deferral_reason,
    } = read;
    let (lang, tz) = (ctx.lang, c.tz);
    let status = a.status();
    let next_dose_n = doses.len() as i32 + 1;
    let next_dose = (status == AppointmentStatus::Vaccinated
        && next_dose_n <= p.doses_in_series
        && next_booked.is_none())
    .then(|| next_dose_window(&p.series(), &doses, next_dose_n, tz))
    .flatten()
    .map(|window| {
        let args = [
            ("n", next_dose_n.to_string()),
            ("opens", day_label(lang, window.opens)),
            ("closes", day_label(lang, window.closes)),
        ];
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if window.is_past(c.today) {
            lang.tf("appt.next_dose_overdue", &args)
        } else {
            lang.tf("appt.next_dose_window", &args)
        }
    });
    let arrive_at = hm(tz, sl.starts_at - Duration::minutes(10));
    AppointmentPage {
        qr: qr_svg(&format!("{}/staff/checkin/{}", c.base_url, a.code)),
        code: BookingCode::shown(&a.code),
        name: r.name,
        masked_id: IdNumber::mask_stored(&r.id_last4),
        site_id: s.id.to_string(),
        site_name: s.local_name(lang).to_string(),
        address: s.local_address(lang).to_string(),
        when: when(lang, tz, sl.starts_at, sl.ends_at),
        arrive: lang.tf("appt.arrive", &[("time", &arrive_at)]),
        observe: lang.tf("appt.observe", &[("n", &c.observation_minutes.to_string())]),
        product: p.local_name(lang).to_string(),
        dose_number: a.dose_number,
        status_label: lang.t(&format!("status.{}", status.as_str())),
        status: status.as_str(),
        active: status == AppointmentStatus::Booked,
        heading: match (status, c.done) {
            (AppointmentStatus::Booked, Some("booked")) => "appt.confirmed",
            (AppointmentStatus::Booked, Some("moved")) => "appt.moved_title",
            (AppointmentStatus::Cancelled, Some("cancelled")) => "appt.cancelled_title",
            _ => "appt.title",
        },
        next_dose,
        town_id: s.town_id.to_string(),
        deferral_reason: deferral_reason.filter(|r| !r.trim().is_empty()),
        rebook: matches!(
            status,
            AppointmentStatus::Cancelled | AppointmentStatus::Deferred | AppointmentStatus::NoShow
        ),
        ctx,
    }
}

/// The question before cancelling the appointment.
pub fn cancel_page(ctx: Layout, tz: Tz, a: &Appointment, s: &Site, sl: &Slot) -> CancelPage {
    CancelPage {
        code: BookingCode::shown(&a.code),
        site_name: s.local_name(ctx.lang).to_string(),
        when: when(ctx.lang, tz, sl.starts_at, sl.ends_at),
        ctx,
    }
}

/// What a slot's booking form is made from: the slot, its site and vaccine, where its opening
/// stands, and whether the site has no dose of it left to promise.
pub struct BookRead {
    pub slot: Slot,
    pub site: Site,
    pub product: Product,
    pub opening: Opening,
    pub dry: bool,
}

/// A slot's booking form (empty, again with its errors, or refused), at `now`.
pub fn book_page(
    ctx: Layout,
    tz: Tz,
    now: NaiveDateTime,
    read: BookRead,
    form: ResidentForm,
    errors: FormErrors,
    refusal: Option<String>,
) -> BookPage {
    let BookRead {
        slot: sl,
        site: s,
        product: p,
        opening,
        dry,
    } = read;
    let lang = ctx.lang;
    let entering = matches!(opening, Opening::Window(_));
    // Said before the form is filled: a slot that has started, or (first come) no dose to
    // promise.
    let refusal = refusal
        .or_else(|| (sl.starts_at <= now).then(|| lang.t("err.book.slot_started").to_string()))
        .or_else(|| (dry && !entering).then(|| lang.t("err.book.no_stock").to_string()));
    BookPage {
        slot_id: sl.id.to_string(),
        site_id: s.id.to_string(),
        site_name: s.local_name(lang).to_string(),
        address: s.local_address(lang).to_string(),
        when: when(lang, tz, sl.starts_at, sl.ends_at),
        product: p.local_name(lang).to_string(),
        doses_in_series: p.doses_in_series,
        notice: super::draw::opening_notice(lang, tz, &opening),
        form,
        errors,
        refusal,
        entering,
        ctx,
    }
}

/// What a town's page is read from: the town, its sites, each site's next free slot, how many
/// wait on its list, and the sites with no dose to promise (kept a second in `web::cache`).
pub type TownRead = (Town, Vec<Site>, Vec<Slot>, i64, Vec<i64>);

/// A town's page from its [`TownRead`], with the waiting-list form.
pub fn town_page(
    ctx: Layout,
    tz: Tz,
    read: &TownRead,
    form: ResidentForm,
    errors: FormErrors,
) -> TownPage {
    let (t, sites, free, waiting, dry) = read;
    let lang = ctx.lang;
    let rows: Vec<SiteRow> = sites
        .iter()
        .map(|s| SiteRow {
            id: s.id.to_string(),
            name: s.local_name(lang).to_string(),
            address: s.local_address(lang).to_string(),
            next_free: free
                .iter()
                .find(|f| f.site_id == s.id)
                .map(|f| when(lang, tz, f.starts_at, f.ends_at)),
            no_stock: dry.contains(&s.id),
        })
        .collect();
    TownPage {
        town_id: t.id.to_string(),
        town_name: t.local_name(lang).to_string(),
        any_free: !free.is_empty(),
        sites: rows,
        waiting: *waiting,
        form,
        errors,
        ctx,
    }
}

/// The home page: the towns to choose from, each with how many sites it has; `first_run`
/// until some site has published slots.
pub fn home_page(ctx: Layout, first_run: bool, list: &(Vec<Town>, Vec<Site>)) -> HomePage {
    let (towns, sites) = list;
    HomePage {
        first_run,
        towns: towns
            .iter()
            .map(|t| TownRow {
                id: t.id.to_string(),
                name: t.local_name(ctx.lang).to_string(),
                sites: sites.iter().filter(|s| s.town_id == t.id).count(),
            })
            .collect(),
        ctx,
    }
}
