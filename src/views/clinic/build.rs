//! The clinic desk's pages built from what `models::desk` read: counts, labels and local times
//! in the user's language.

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::{
    ApptRow, CheckinForm, ChooseSitePage, Counts, DeskCheckinPage, DoseForm, HistoryRow,
    ObservationRow, ReactionForm, ReactionPage, SlotBlock, StockRow, TodayPage, WalkInForm,
    WalkInPage, WastagePage, WasteForm, SCREENING_QUESTIONS,
};
use crate::domain::clinic::{Severity, WasteKind};
use crate::domain::days::local_day;
use crate::domain::{BookingCode, IdNumber};
use crate::i18n::Lang;
use crate::models::adverse_event::AdverseEvent;
use crate::models::desk::{CheckinRecord, DeskDay, DoseRecord, SiteLots, SiteSlots};
use crate::models::lot::Lot;
use crate::models::{AppointmentStatus, LocalName, Site, Town};
use crate::views::layout::Layout;
use crate::views::{at_label, day_label, hm, product_name, when, FormErrors};

/// How often the day's list reloads itself (with JavaScript) when nobody is typing.
const REFRESH_SECONDS: u32 = 30;

/// A form page as a handler has it: the values typed, their errors and a refusal to show.
#[derive(Default)]
pub struct Shown<F> {
    pub form: F,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}

impl<F> Shown<F> {
    /// The form again with the mistakes found in it.
    pub fn invalid(form: F, errors: FormErrors) -> Self {
        Shown {
            form,
            errors,
            refusal: None,
        }
    }

    /// The form again with why it was refused.
    pub fn refused(form: F, refusal: String) -> Self {
        Shown {
            form,
            errors: FormErrors::default(),
            refusal: Some(refusal),
        }
    }
}

/// What a handler adds to the day's page.
#[derive(Default)]
pub struct TodayView {
    pub notice: Option<String>,
    pub code: String,
    pub code_error: Option<String>,
}

/// What a handler adds to the check-in page.
#[derive(Default)]
pub struct CheckinView {
    pub form: CheckinForm,
    pub dose_form: Option<DoseForm>,
    pub errors: FormErrors,
    pub refusal: Option<String>,
    pub notice: Option<String>,
}

/// `lot (expires) : doses`.
fn lot_label(lang: Lang, l: &Lot, n: i64) -> String {
    lang.tf(
        "clinic.stock.lot",
        &[
            ("lot", &l.lot_number),
            ("date", &l.expires_on.format("%Y-%m-%d").to_string()),
            ("n", &n.to_string()),
        ],
    )
}

fn reaction_line(lang: Lang, tz: Tz, e: &AdverseEvent) -> String {
    format!(
        "{} · {} · {} · {}",
        hm(tz, e.occurred_at),
        lang.t(&format!("clinic.severity.{}", e.severity)),
        e.symptoms,
        e.action_taken
    )
}

/// The admin's site chooser: every active site with its town's name.
pub fn choose_site_page(ctx: Layout, sites: Vec<Site>, towns: &[Town]) -> ChooseSitePage {
    let sites = sites
        .into_iter()
        .map(|s| {
            let t = towns
                .iter()
                .find(|t| t.id == s.town_id)
                .map(|t| t.local_name(ctx.lang).to_string())
                .unwrap_or_default();
            (s.id.to_string(), s.local_name(ctx.lang).to_string(), t)
        })
        .collect();
    ChooseSitePage { ctx, sites }
}

/// The site's day as of `now` (`today` in the city's time zone `tz`).
pub fn today_page(
    ctx: Layout,
    day: DeskDay,
    view: TodayView,
    (now, today, tz): (NaiveDateTime, NaiveDate, Tz),
) -> TodayPage {
    let lang = ctx.lang;
    let DeskDay {
        site,
        slots,
        appointments,
        deferral_reasons,
        products,
        balances,
        lots,
        observing,
        mut observing_reactions,
    } = day;
    let mut totals = Counts::default();
    let mut any_to_mark = false;
    let blocks = slots
        .iter()
        .map(|sl| {
            let mut counts = Counts::default();
            let rows: Vec<ApptRow> = appointments
                .iter()
                .filter(|(a, _)| a.slot_id == sl.id)
                .filter(|(a, _)| a.status() != AppointmentStatus::Cancelled)
                .map(|(a, r)| {
                    let st = a.status();
                    match st {
                        AppointmentStatus::Booked => counts.booked += 1,
                        AppointmentStatus::CheckedIn => counts.checked_in += 1,
                        AppointmentStatus::Vaccinated => counts.vaccinated += 1,
                        AppointmentStatus::NoShow => counts.no_show += 1,
                        AppointmentStatus::Deferred => counts.deferred += 1,
                        AppointmentStatus::Cancelled => {}
                    }
                    ApptRow {
                        code: a.code.clone(),
                        code_shown: BookingCode::shown(&a.code),
                        name: r.name.clone(),
                        masked_id: IdNumber::mask_stored(&r.id_last4),
                        dose: a.dose_number,
                        status: st.as_str(),
                        status_label: lang.t(&format!("status.{}", st.as_str())),
                        reason: deferral_reasons.get(&a.id).cloned().unwrap_or_default(),
                    }
                })
                .collect();
            let ended = sl.ends_at <= now;
            if ended && counts.booked > 0 {
                any_to_mark = true;
            }
            totals.booked += counts.booked;
            totals.checked_in += counts.checked_in;
            totals.vaccinated += counts.vaccinated;
            totals.no_show += counts.no_show;
            totals.deferred += counts.deferred;
            SlotBlock {
                id: sl.id.to_string(),
                time: crate::i18n::span(tz, sl.starts_at, sl.ends_at),
                product: product_name(lang, &products, sl.product_id),
                seats: sl.seats,
                taken: sl.booked_first + sl.booked_second,
                counts,
                ended,
                current: sl.starts_at <= now && now < sl.ends_at,
                rows,
            }
        })
        .collect();
    let stock = balances
        .iter()
        .map(|b| StockRow {
            product: product_name(lang, &products, b.product_id),
            on_hand: b.on_hand,
            promised: b.promised,
            free: b.on_hand - b.promised,
            lots: lots
                .iter()
                .filter(|(l, _)| l.product_id == b.product_id)
                .map(|(l, n)| lot_label(lang, l, *n))
                .collect(),
        })
        .collect();
    let observation = observing
        .into_iter()
        .map(|(v, r)| {
            let reactions = observing_reactions.remove(&v.id).unwrap_or_default();
            ObservationRow {
                vaccination_id: v.id.to_string(),
                name: r.name,
                masked_id: IdNumber::mask_stored(&r.id_last4),
                given: hm(tz, v.given_at),
                leave_at: hm(tz, v.observation_until),
                severe: reactions.iter().any(|e| e.severity == "severe"),
                reactions: reactions
                    .iter()
                    .map(|e| reaction_line(lang, tz, e))
                    .collect(),
            }
        })
        .collect();
    TodayPage {
        site_id: site.id.to_string(),
        site_name: site.local_name(lang).to_string(),
        day: day_label(lang, today),
        updated: hm(tz, now),
        notice: view.notice,
        code: view.code,
        code_error: view.code_error,
        totals,
        stock,
        slots: blocks,
        observation,
        any_to_mark,
        refresh_seconds: REFRESH_SECONDS,
        ctx,
    }
}

/// The check-in page before anything is known of the code: the handler's input only (a kept
/// dose form is shown by [`DeskCheckinPage::show`]).
pub fn checkin_page(ctx: Layout, code: &BookingCode, view: CheckinView) -> DeskCheckinPage {
    DeskCheckinPage {
        code: code.to_string(),
        site_id: None,
        rows: Vec::new(),
        problem: None,
        refusal: view.refusal,
        notice: view.notice,
        stage: "none",
        form: view.form,
        dose_form: DoseForm::default(),
        errors: view.errors,
        lots: Vec::new(),
        doses_in_series: 1,
        history: Vec::new(),
        questions: SCREENING_QUESTIONS,
        ctx,
    }
}

impl DeskCheckinPage {
    /// Show the appointment found: who, which lots the dose may come from, the resident's doses
    /// (`here` says which were given where this user may act). `dose_form` is what the handler
    /// kept of a refused dose form, if any.
    pub fn show(
        &mut self,
        rec: CheckinRecord,
        dose_form: Option<DoseForm>,
        (now, tz): (NaiveDateTime, Tz),
        here: impl Fn(i64) -> bool,
    ) {
        let lang = self.ctx.lang;
        let CheckinRecord {
            appointment: a,
            resident: r,
            site: s,
            slot: sl,
            products,
            history,
            lots,
        } = rec;
        self.site_id = Some(a.site_id.to_string());
        let p = products.iter().find(|p| p.id == a.product_id);
        self.doses_in_series = p.map_or(1, |p| p.doses_in_series);
        self.rows = vec![
            ("appt.name", r.name.clone()),
            ("appt.id_number", IdNumber::mask_stored(&r.id_last4)),
            ("appt.site", s.local_name(lang).to_string()),
            ("appt.when", when(lang, tz, sl.starts_at, sl.ends_at)),
            (
                "appt.product",
                format!(
                    "{} · {}",
                    product_name(lang, &products, a.product_id),
                    lang.tf("form.dose_n", &[("n", &a.dose_number.to_string())])
                ),
            ),
            (
                "appt.status",
                lang.t(&format!("status.{}", a.status().as_str()))
                    .to_string(),
            ),
        ];
        self.lots = lots
            .iter()
            .filter(|(l, _)| l.product_id == a.product_id)
            .map(|(l, n)| (l.lot_number.clone(), lot_label(lang, l, *n)))
            .collect();
        if self.form.time.is_empty() {
            self.form.time = hm(tz, now);
        }
        self.dose_form = dose_form.unwrap_or_else(|| DoseForm {
            lot: self.lots.first().map(|l| l.0.clone()).unwrap_or_default(),
            dose_number: a.dose_number.to_string(),
            time: hm(tz, now),
            csrf: String::new(),
        });
        self.history = history
            .into_iter()
            .map(|(v, reactions)| HistoryRow {
                vaccination_id: v.id.to_string(),
                dose: v.dose_number,
                product: product_name(lang, &products, v.product_id),
                given: format!(
                    "{} {}",
                    day_label(lang, local_day(tz, v.given_at)),
                    hm(tz, v.given_at)
                ),
                lot: v.lot.clone(),
                here: here(v.site_id),
                reactions: reactions
                    .iter()
                    .map(|e| reaction_line(lang, tz, e))
                    .collect(),
            })
            .collect();
    }
}

/// The walk-in page: the slots running at `now` with a second-dose seat free (the first is
/// chosen when the form names none).
pub fn walkin_page(
    ctx: Layout,
    SiteSlots {
        site,
        slots,
        products,
    }: SiteSlots,
    shown: Shown<WalkInForm>,
    (now, tz): (NaiveDateTime, Tz),
) -> WalkInPage {
    let lang = ctx.lang;
    let running: Vec<(String, String)> = slots
        .iter()
        .filter(|sl| sl.starts_at <= now && now < sl.ends_at && sl.free_second() > 0)
        .map(|sl| {
            (
                sl.id.to_string(),
                lang.tf(
                    "clinic.walkin.slot",
                    &[
                        ("time", &crate::i18n::span(tz, sl.starts_at, sl.ends_at)),
                        ("product", &product_name(lang, &products, sl.product_id)),
                        ("n", &sl.free_second().to_string()),
                    ],
                ),
            )
        })
        .collect();
    let mut form = shown.form;
    if form.slot.is_empty() {
        if let Some((id, _)) = running.first() {
            form.slot = id.clone();
        }
    }
    WalkInPage {
        site_id: site.id.to_string(),
        site_name: site.local_name(lang).to_string(),
        slots: running,
        form,
        errors: shown.errors,
        refusal: shown.refusal,
        ctx,
    }
}

/// The wastage page: every lot the site holds, as `PRODUCT_ID:LOT_NUMBER` with its label.
pub fn wastage_page(
    ctx: Layout,
    SiteLots {
        site,
        lots,
        products,
    }: SiteLots,
    shown: Shown<WasteForm>,
) -> WastagePage {
    let lang = ctx.lang;
    let lots = lots
        .iter()
        .map(|(l, n)| {
            (
                format!("{}:{}", l.product_id, l.lot_number),
                format!(
                    "{} · {}",
                    product_name(lang, &products, l.product_id),
                    lot_label(lang, l, *n)
                ),
            )
        })
        .collect();
    WastagePage {
        site_id: site.id.to_string(),
        site_name: site.local_name(lang).to_string(),
        lots,
        kinds: WasteKind::ALL.iter().map(|k| k.as_str()).collect(),
        form: shown.form,
        errors: shown.errors,
        refusal: shown.refusal,
        ctx,
    }
}

/// The reaction page of a dose, with the reactions recorded so far.
pub fn reaction_page(
    ctx: Layout,
    rec: DoseRecord,
    shown: Shown<ReactionForm>,
    tz: Tz,
) -> ReactionPage {
    let lang = ctx.lang;
    let DoseRecord {
        vaccination: v,
        resident: r,
        product: p,
        reactions,
    } = rec;
    ReactionPage {
        vaccination_id: v.id.to_string(),
        site_id: v.site_id.to_string(),
        rows: vec![
            ("appt.name", r.name),
            ("appt.id_number", IdNumber::mask_stored(&r.id_last4)),
            (
                "appt.product",
                format!(
                    "{} · {} · {}",
                    p.local_name(lang),
                    lang.tf("form.dose_n", &[("n", &v.dose_number.to_string())]),
                    v.lot
                ),
            ),
            ("clinic.dose.given_at", hm(tz, v.given_at)),
            ("clinic.observe.leave_at", hm(tz, v.observation_until)),
        ],
        existing: reactions
            .iter()
            .map(|e| reaction_line(lang, tz, e))
            .collect(),
        severities: Severity::ALL.iter().map(|s| s.as_str()).collect(),
        form: shown.form,
        errors: shown.errors,
        refusal: shown.refusal,
        ctx,
    }
}

/// The bureau's alert rows: a header row, then one row per severe reaction (site and time,
/// symptoms and action), in the order given.
pub fn severe_reaction_rows(
    lang: Lang,
    tz: Tz,
    events: Vec<(AdverseEvent, String)>,
) -> Vec<(String, String)> {
    let mut rows = vec![(
        lang.t("clinic.bureau.severe_title").to_string(),
        lang.tf(
            "clinic.bureau.severe_count",
            &[("n", &events.len().to_string())],
        ),
    )];
    for (e, site_name) in events {
        rows.push((
            format!("⚠ {} · {}", site_name, at_label(lang, tz, e.occurred_at)),
            format!("{} · {}", e.symptoms, e.action_taken),
        ));
    }
    rows
}
