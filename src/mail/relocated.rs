//! The mail to a resident whose booking an exception displaced, rendered from its
//! `exception_moves` row: the exception's reason, and either the new time (with a new calendar
//! entry and a link to choose another time through the usual move flow) or the cancellation
//! (with a calendar cancellation and their first place on the town's waiting list).

use chrono::NaiveDateTime;

use super::ics;
use super::render::{named, shown_code, Content, Env, RenderError};
use crate::db::AnyConnection;
use crate::i18n::{when, Lang};
use crate::ids::{AppointmentId, SiteId, SlotId, TownId};
use crate::models::outbox::OutboxRow;
use crate::models::{appointment, exception, exception_move, site, slot, town, LocalName};

/// The message for a `relocated` row; `None` when what it is about is gone.
pub(super) fn render(
    c: &mut AnyConnection,
    env: &Env<'_>,
    lang: Lang,
    row: &OutboxRow,
) -> Result<Option<Content>, RenderError> {
    let Some(m) = exception_move::find(c, row.ref_id)? else {
        return Ok(None);
    };
    let Some(exc) = exception::find(c, m.exception_id)? else {
        return Ok(None);
    };
    let Some(a) = appointment::find(c, AppointmentId(m.appointment_id))? else {
        return Ok(None);
    };
    let Some((r, from_site, p)) = named(c, a.resident_id, m.from_site_id, a.product_id)? else {
        return Ok(None);
    };
    let code = shown_code(&a.code);
    let old_when = when(lang, env.tz, m.from_starts_at, m.from_ends_at);
    let dose = lang.tf("form.dose_n", &[("n", &a.dose_number.to_string())]);
    let greeting = lang.tf("mail.greeting", &[("name", &r.name)]);
    let reason = exc.reason.clone();
    let event = |start: NaiveDateTime, end: NaiveDateTime, place: &str, cancelled: bool| {
        ics::render(&ics::Event {
            uid: format!("{}@dosewise", a.id),
            // A later version of the booking's event, as every change (see `render`).
            sequence: (row.created_at - a.created_at).num_seconds().max(1),
            start,
            end,
            stamp: env.now,
            summary: &format!("{} · {}", lang.t("mail.event"), place),
            location: place,
            description: &format!(
                "{}: {code} · {} {dose}",
                lang.t("appt.code"),
                p.local_name(lang)
            ),
            cancelled,
        })
    };
    let Some(to_id) = m.to_slot_id else {
        let t = town::find(c, TownId(from_site.town_id))?;
        let town_name = t
            .map(|t| t.local_name(lang).to_string())
            .unwrap_or_default();
        let args = [
            ("site", from_site.local_name(lang)),
            ("when", old_when.as_str()),
            ("reason", reason.as_str()),
            ("town", town_name.as_str()),
        ];
        let place = format!(
            "{} {}",
            from_site.local_name(lang),
            from_site.local_address(lang)
        );
        return Ok(Some(Content {
            subject: lang.tf("mail.displaced.subject", &args),
            greeting,
            paragraphs: vec![
                lang.tf("mail.displaced.body", &args),
                lang.tf("mail.displaced.waiting", &args),
            ],
            facts: vec![
                (lang.t("appt.code").into(), code.clone()),
                (lang.t("mail.reason").into(), reason.clone()),
                (
                    lang.t("appt.site").into(),
                    from_site.local_name(lang).to_string(),
                ),
                (lang.t("appt.when").into(), old_when.clone()),
                (
                    lang.t("appt.product").into(),
                    format!("{} · {dose}", p.local_name(lang)),
                ),
            ],
            link: env.link(
                lang,
                "mail.displaced.link",
                &format!("/towns/{}", from_site.town_id),
            ),
            ics: Some(event(m.from_starts_at, m.from_ends_at, &place, true)),
        }));
    };
    let Some(sl) = slot::find(c, SlotId(to_id))? else {
        return Ok(None);
    };
    let Some(to_site) = site::find(c, SiteId(sl.site_id))? else {
        return Ok(None);
    };
    let new_when = when(lang, env.tz, sl.starts_at, sl.ends_at);
    let args = [
        ("from_site", from_site.local_name(lang)),
        ("old_when", old_when.as_str()),
        ("reason", reason.as_str()),
        ("site", to_site.local_name(lang)),
        ("when", new_when.as_str()),
    ];
    let place = format!(
        "{} {}",
        to_site.local_name(lang),
        to_site.local_address(lang)
    );
    Ok(Some(Content {
        subject: lang.tf("mail.relocated.subject", &args),
        greeting,
        paragraphs: vec![
            lang.tf("mail.relocated.body", &args),
            lang.t("mail.relocated.choose").to_string(),
            format!(
                "{} {} {}",
                lang.t("appt.bring_id"),
                lang.t("appt.bring_code"),
                lang.t("appt.bring_mask")
            ),
        ],
        facts: vec![
            (lang.t("appt.code").into(), code.clone()),
            (lang.t("mail.reason").into(), reason.clone()),
            (
                lang.t("appt.site").into(),
                to_site.local_name(lang).to_string(),
            ),
            (
                lang.t("mail.address").into(),
                to_site.local_address(lang).to_string(),
            ),
            (lang.t("appt.when").into(), new_when.clone()),
            (lang.t("mail.relocated.previous").into(), old_when.clone()),
            (
                lang.t("appt.product").into(),
                format!("{} · {dose}", p.local_name(lang)),
            ),
        ],
        link: env.link(lang, "mail.relocated.link", "/find?then=move"),
        ics: Some(event(sl.starts_at, sl.ends_at, &place, false)),
    }))
}
