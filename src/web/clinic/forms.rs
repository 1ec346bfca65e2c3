//! The clinic desk's query strings and the parsing of its forms into the commands of
//! `booking::clinic`. The forms' typed values (kept on errors) are page data in `views::clinic`.

use chrono::{NaiveDateTime, NaiveTime};
use serde::Deserialize;

use crate::booking::clinic::{CheckIn, Desk, Reaction, Waste};
use crate::booking::ResidentDetails;
use crate::domain::clinic::{
    parse_clock_time, parse_doses, parse_last4, parse_yes_no, screening_outcome, Decision, Note,
    ScreeningAnswers, Severity, WasteKind,
};
use crate::domain::{
    parse_dose_number, parse_id, parse_lot_number, text, BookingCode, Email, FieldError,
};
use crate::i18n::Lang;
use crate::ids::{ProductId, SiteId, SlotId};
use crate::views::clinic::{CheckinForm, DoseForm, ReactionForm, WalkInForm, WasteForm};
use crate::views::{FormErrors, ResidentForm};
use crate::web::resident::{field_message, parse_person};

/// The `?done=` notice shown after a successful POST.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoticeQuery {
    done: String,
    n: Option<u32>,
}

impl NoticeQuery {
    /// The notice in `lang`, if `done` names one.
    pub fn message(&self, lang: Lang) -> Option<String> {
        let key = match self.done.as_str() {
            "checked_in" => "clinic.done.checked_in",
            "deferred" => "clinic.done.deferred",
            "dose" => "clinic.done.dose",
            "walk_in" => "clinic.done.walk_in",
            "no_show" => "clinic.done.no_show",
            "wastage" => "clinic.done.wastage",
            "reaction" => "clinic.done.reaction",
            _ => return None,
        };
        Some(lang.tf(key, &[("n", &self.n.unwrap_or(0).to_string())]))
    }
}

/// The query of the typed check-in code.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeQuery {
    pub code: String,
    pub site: String,
}

/// `POST /staff/sites/{id}/no-shows`: mark the still-booked appointments of ended slots.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoShowForm {
    pub csrf: String,
    pub slot: String,
}

fn note(errors: &mut FormErrors, lang: Lang) -> impl FnMut(FieldError) + '_ {
    move |e: FieldError| errors.add(e.field, field_message(lang, e))
}

/// Identity and screening as a check-in of `code` at `desk`: a typed time is today's, a blank
/// one is now.
pub fn parse_checkin(
    lang: Lang,
    code: &BookingCode,
    form: &CheckinForm,
    desk: &Desk,
) -> Result<CheckIn, FormErrors> {
    let mut errors = FormErrors::default();
    let parsed = {
        let mut note = note(&mut errors, lang);
        let last4 = parse_last4(&form.last4).map_err(&mut note).ok();
        let mut answer = |raw: &str, field| parse_yes_no(raw, field).map_err(&mut note).ok();
        let answers = match (
            answer(&form.fever, "fever"),
            answer(&form.allergy, "allergy"),
            answer(&form.pregnant, "pregnant"),
            answer(&form.recent_vaccine, "recent_vaccine"),
        ) {
            (Some(fever), Some(allergy), Some(pregnant), Some(recent_vaccine)) => {
                Some(ScreeningAnswers {
                    fever,
                    allergy,
                    pregnant,
                    recent_vaccine,
                })
            }
            _ => None,
        };
        let decision = Decision::parse(&form.decision).map_err(&mut note).ok();
        let time = match text::clean(&form.time) {
            Some("") => Some(desk.now),
            _ => parse_clock_time(&form.time, "time")
                .map(|t| desk.today_at(t))
                .map_err(&mut note)
                .ok(),
        };
        let outcome = match (answers, decision) {
            (Some(a), Some(d)) => screening_outcome(a, d, &form.reason)
                .map_err(&mut note)
                .ok(),
            _ => None,
        };
        match (last4, answers, outcome, time) {
            (Some(last4), Some(answers), Some(outcome), Some(time)) => Some(CheckIn {
                code: code.clone(),
                last4,
                answers,
                outcome,
                at: time,
            }),
            _ => None,
        }
    };
    parsed.ok_or(errors)
}

/// The dose form as `(dose number, time given, lot)`.
pub fn parse_dose(lang: Lang, form: &DoseForm) -> Result<(i32, NaiveTime, String), FormErrors> {
    let mut errors = FormErrors::default();
    let (dose, time) = {
        let mut note = note(&mut errors, lang);
        let dose = parse_dose_number(&form.dose_number).map_err(&mut note).ok();
        let time = parse_clock_time(&form.time, "time").map_err(&mut note).ok();
        (dose, time)
    };
    let lot = parse_lot_number(&form.lot, "lot")
        .map_err(|e| {
            let e = e.or_key("clinic.err.lot_required");
            errors.add(e.field, field_message(lang, e))
        })
        .ok();
    match (dose, time, lot, errors.is_empty()) {
        (Some(dose), Some(time), Some(lot), true) => Ok((dose, time, lot)),
        _ => Err(errors),
    }
}

/// The walk-in form as the resident's details and the slot chosen.
pub fn parse_walkin(
    lang: Lang,
    form: &WalkInForm,
) -> Result<(ResidentDetails, SlotId), FormErrors> {
    let details = parse_person(
        lang,
        &ResidentForm {
            name: form.name.clone(),
            id_number: form.id_number.clone(),
            phone: form.phone.clone(),
            email: form.email.clone(),
            ..Default::default()
        },
        Email::optional,
    );
    let slot_id = parse_id(&form.slot).map(SlotId);
    match (details, slot_id) {
        (Ok(d), Some(s)) => Ok((d, s)),
        (details, slot_id) => {
            let mut errors = details.err().unwrap_or_default();
            if slot_id.is_none() {
                errors.add("slot", lang.t("clinic.err.no_current_slot").to_string());
            }
            Err(errors)
        }
    }
}

/// The wastage form as doses wasted at `site`.
pub fn parse_waste(lang: Lang, site: SiteId, form: &WasteForm) -> Result<Waste, FormErrors> {
    let mut errors = FormErrors::default();
    let parsed = {
        let mut note = note(&mut errors, lang);
        // The select's value is `PRODUCT_ID:LOT_NUMBER`.
        let lot = match form.lot.split_once(':') {
            Some((p, l)) => parse_id(p)
                .ok_or(FieldError::new("lot", "clinic.err.lot_required"))
                .and_then(|p| {
                    let l = parse_lot_number(l, "lot")
                        .map_err(|e| e.or_key("clinic.err.lot_required"))?;
                    Ok((ProductId(p), l))
                }),
            None => Err(FieldError::new("lot", "clinic.err.lot_required")),
        }
        .map_err(&mut note)
        .ok();
        let doses = parse_doses(&form.doses).map_err(&mut note).ok();
        let kind = WasteKind::parse(&form.kind).map_err(&mut note).ok();
        let reason = Note::parse(&form.reason, "reason").map_err(&mut note).ok();
        match (lot, doses, kind, reason) {
            (Some((product, lot)), Some(doses), Some(kind), Some(reason)) => Some(Waste {
                site,
                product,
                lot,
                doses,
                kind,
                reason,
            }),
            _ => None,
        }
    };
    parsed.ok_or(errors)
}

/// The reaction form as a reaction to `vaccination`; `at` places the typed time on today.
pub fn parse_reaction(
    lang: Lang,
    vaccination: i64,
    form: &ReactionForm,
    at: impl Fn(NaiveTime) -> NaiveDateTime,
) -> Result<Reaction, FormErrors> {
    let mut errors = FormErrors::default();
    let parsed = {
        let mut note = note(&mut errors, lang);
        let severity = Severity::parse(&form.severity).map_err(&mut note).ok();
        let symptoms = Note::parse(&form.symptoms, "symptoms")
            .map_err(&mut note)
            .ok();
        let action = Note::parse(&form.action, "action").map_err(&mut note).ok();
        let time = parse_clock_time(&form.time, "time").map_err(&mut note).ok();
        match (severity, symptoms, action, time) {
            (Some(severity), Some(symptoms), Some(action), Some(time)) => Some(Reaction {
                vaccination,
                severity,
                symptoms,
                action,
                occurred_at: at(time),
            }),
            _ => None,
        }
    };
    parsed.ok_or(errors)
}
