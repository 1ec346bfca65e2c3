//! Rendering an outbox row into a message, from the database as it is when the message is sent,
//! in the recipient's language, with plain-text and HTML parts from `templates/mail/`. A message
//! about an appointment states the slot its row names (the time booked, or moved to, when it was
//! queued), not wherever the appointment is by the time it is sent; days ("today", "tomorrow")
//! are the city's days at the moment of sending.

use askama::Template;
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use diesel::QueryResult;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart};
use lettre::Message;

use super::ics;
use crate::db::AnyConnection;
use crate::domain::days::local_day;
use crate::domain::eligibility::{next_dose_window, DoseWindow};
use crate::domain::BookingCode;
use crate::i18n::{day_label, when, Lang};
use crate::ids::{AppointmentId, ProductId, ResidentId, SiteId, SlotId, TownId};
use crate::models::outbox::{Kind, OutboxRow};
use crate::models::{
    appointment, product, resident, shipment, site, slot, town, vaccination, waiting, LocalName,
    Product, Resident, Site,
};

/// The text part.
#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextBody<'a> {
    greeting: &'a str,
    paragraphs: &'a [String],
    facts: &'a [(String, String)],
    link: &'a Option<(String, String)>,
    footer: &'a str,
}

/// The HTML part: the text part's fields (reached through `Deref`), with a language and a title.
#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlBody<'a> {
    lang: &'a str,
    title: &'a str,
    text: TextBody<'a>,
}

impl<'a> std::ops::Deref for HtmlBody<'a> {
    type Target = TextBody<'a>;

    fn deref(&self) -> &TextBody<'a> {
        &self.text
    }
}

/// What goes into a message before it becomes MIME.
pub(super) struct Content {
    pub subject: String,
    pub greeting: String,
    pub paragraphs: Vec<String>,
    pub facts: Vec<(String, String)>,
    pub link: Option<(String, String)>,
    pub ics: Option<String>,
}

/// What the renderer needs besides the database.
pub struct Env<'a> {
    pub base_url: &'a str,
    pub tz: Tz,
    pub from: &'a str,
    pub now: NaiveDateTime,
}

impl Env<'_> {
    /// A link in a message: its label (the catalogue's `key`) and the address of `path` here.
    pub(super) fn link(&self, lang: Lang, key: &str, path: &str) -> Option<(String, String)> {
        Some((lang.t(key).into(), format!("{}{path}", self.base_url)))
    }
}

/// Why a row cannot become a message.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("the message cannot be built: {0}")]
    Build(String),
}

/// Build the message for a row; `None` when it should no longer be sent (a reminder for an
/// appointment that was cancelled, an invitation to someone who has booked).
pub fn render(
    c: &mut AnyConnection,
    env: &Env<'_>,
    row: &OutboxRow,
) -> Result<Option<Message>, RenderError> {
    let lang = Lang::from_code(&row.lang).unwrap_or_default();
    let Some(kind) = Kind::parse(&row.kind) else {
        return Err(RenderError::Build(format!("unknown kind {}", row.kind)));
    };
    let content = match kind {
        Kind::Booked | Kind::Moved | Kind::Cancelled | Kind::Reminder => {
            appointment_mail(c, env, lang, kind, row)?
        }
        Kind::SecondDoseWindow | Kind::SecondDoseOpen | Kind::SecondDoseLastCall => {
            second_dose_mail(c, env, lang, kind, row.ref_id)?
        }
        Kind::SeatsOpened => seats_mail(c, env, lang, row.ref_id)?,
        Kind::TownNotice => town_notice_mail(c, lang, row.ref_id)?,
        Kind::EntryResult => entry_mail(c, env, lang, row.ref_id)?,
        Kind::Relocated => super::relocated::render(c, env, lang, row)?,
    };
    let Some(content) = content else {
        return Ok(None);
    };
    build(env, lang, row, content).map(Some)
}

/// A booking or entry code as residents see it (grouped, as on their pages); a stored code that
/// does not parse is shown as stored.
pub(super) fn shown_code(code: &str) -> String {
    BookingCode::parse(code)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| code.to_string())
}

/// The resident, site and product a message names, by their ids; `None` when one is gone (the
/// message is then not sent).
pub(super) fn named(
    c: &mut AnyConnection,
    resident: i64,
    site: i64,
    product: i64,
) -> QueryResult<Option<(Resident, Site, Product)>> {
    Ok(
        match (
            resident::find(c, ResidentId(resident))?,
            site::find(c, SiteId(site))?,
            product::find(c, ProductId(product))?,
        ) {
            (Some(r), Some(s), Some(p)) => Some((r, s, p)),
            _ => None,
        },
    )
}

fn build(env: &Env<'_>, lang: Lang, row: &OutboxRow, m: Content) -> Result<Message, RenderError> {
    let footer = lang.t("mail.footer");
    let bad = |e: &dyn std::fmt::Display| RenderError::Build(e.to_string());
    let parts = HtmlBody {
        lang: lang.code(),
        title: &m.subject,
        text: TextBody {
            greeting: &m.greeting,
            paragraphs: &m.paragraphs,
            facts: &m.facts,
            link: &m.link,
            footer,
        },
    };
    let text = parts.text.render().map_err(|e| bad(&e))?;
    let html = parts.render().map_err(|e| bad(&e))?;
    let alternative = MultiPart::alternative_plain_html(text, html);
    let body = match m.ics {
        Some(ics) => {
            let method = if ics.contains("METHOD:CANCEL") {
                "CANCEL"
            } else {
                "REQUEST"
            };
            let ctype =
                ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                    .map_err(|e| bad(&e))?;
            MultiPart::mixed()
                .multipart(alternative)
                .singlepart(Attachment::new("appointment.ics".into()).body(ics, ctype))
        }
        None => alternative,
    };
    Message::builder()
        .from(env.from.parse().map_err(|e| bad(&e))?)
        .to(row.recipient.parse().map_err(|e| bad(&e))?)
        .subject(m.subject)
        .message_id(Some(row.message_id.clone()))
        .multipart(body)
        .map_err(|e| bad(&e))
}

fn appointment_mail(
    c: &mut AnyConnection,
    env: &Env<'_>,
    lang: Lang,
    kind: Kind,
    row: &OutboxRow,
) -> Result<Option<Content>, RenderError> {
    let Some(a) = appointment::find(c, AppointmentId(row.ref_id))? else {
        return Ok(None);
    };
    // A reminder is about the appointment as it is now, and only if it is still at the time the
    // reminder was queued for (after a move, the new time gets its own reminder). Other messages
    // state the slot their row names (rows written before it was recorded: the current one).
    let slot_id = match (kind, row.slot_id) {
        (Kind::Reminder, _) | (_, None) => a.slot_id,
        (_, Some(queued)) => queued,
    };
    let Some(sl) = slot::find(c, SlotId(slot_id))? else {
        return Ok(None);
    };
    if kind == Kind::Reminder {
        if a.status != "booked" || sl.starts_at <= env.now {
            return Ok(None);
        }
        if let Some(queued) = row.slot_id.filter(|q| *q != a.slot_id) {
            let moved = slot::find(c, SlotId(queued))?.is_none_or(|q| q.starts_at != sl.starts_at);
            if moved {
                return Ok(None);
            }
        }
    }
    let Some((r, s, p)) = named(c, a.resident_id, sl.site_id, sl.product_id)? else {
        return Ok(None);
    };
    let code = shown_code(&a.code);
    let at = when(lang, env.tz, sl.starts_at, sl.ends_at);
    let (subject_key, body_key) = match kind {
        Kind::Moved => ("mail.moved.subject", "mail.moved.body"),
        Kind::Cancelled => ("mail.cancelled.subject", "mail.cancelled.body"),
        Kind::Reminder => {
            // Today, tomorrow or the date: the city's days, as of sending.
            let (day, today) = (local_day(env.tz, sl.starts_at), local_day(env.tz, env.now));
            if day == today {
                ("mail.reminder.subject_today", "mail.reminder.body_today")
            } else if today.succ_opt() == Some(day) {
                (
                    "mail.reminder.subject_tomorrow",
                    "mail.reminder.body_tomorrow",
                )
            } else {
                ("mail.reminder.subject", "mail.reminder.body")
            }
        }
        _ => ("mail.booked.subject", "mail.booked.body"),
    };
    let date = day_label(lang, local_day(env.tz, sl.starts_at));
    let subject = lang.tf(subject_key, &[("site", s.local_name(lang)), ("when", &at)]);
    let mut paragraphs = vec![lang.tf(body_key, &[("date", &date)])];
    if kind != Kind::Cancelled {
        paragraphs.push(format!(
            "{} {} {}",
            lang.t("appt.bring_id"),
            lang.t("appt.bring_code"),
            lang.t("appt.bring_mask")
        ));
    }
    let dose = lang.tf("form.dose_n", &[("n", &a.dose_number.to_string())]);
    let location = format!("{} {}", s.local_name(lang), s.local_address(lang));
    let ics = (kind != Kind::Reminder).then(|| {
        ics::render(&ics::Event {
            uid: format!("{}@dosewise", a.id),
            // The version of the event this message carries: 0 for the booking, later for each
            // change, by when the message was queued (not by when it is sent).
            sequence: (row.created_at - a.created_at).num_seconds().max(0),
            start: sl.starts_at,
            end: sl.ends_at,
            stamp: env.now,
            summary: &format!("{} · {}", lang.t("mail.event"), s.local_name(lang)),
            location: &location,
            description: &format!(
                "{}: {code} · {} {dose}",
                lang.t("appt.code"),
                p.local_name(lang)
            ),
            cancelled: kind == Kind::Cancelled,
        })
    });
    Ok(Some(Content {
        subject,
        greeting: lang.tf("mail.greeting", &[("name", &r.name)]),
        paragraphs,
        facts: vec![
            (lang.t("appt.code").into(), code),
            (lang.t("appt.site").into(), s.local_name(lang).to_string()),
            (
                lang.t("mail.address").into(),
                s.local_address(lang).to_string(),
            ),
            (lang.t("appt.when").into(), at),
            (
                lang.t("appt.product").into(),
                format!("{} · {dose}", p.local_name(lang)),
            ),
        ],
        link: env.link(lang, "mail.manage", "/find"),
        ics,
    }))
}

fn second_dose_mail(
    c: &mut AnyConnection,
    env: &Env<'_>,
    lang: Lang,
    kind: Kind,
    vaccination_id: i64,
) -> Result<Option<Content>, RenderError> {
    let Some(v) = vaccination::find(c, vaccination_id)? else {
        return Ok(None);
    };
    let Some((r, s, p)) = named(c, v.resident_id, v.site_id, v.product_id)? else {
        return Ok(None);
    };
    let doses = vaccination::list_for_resident(c, ResidentId(r.id))?;
    let next = v.dose_number + 1;
    if next > p.doses_in_series || doses.iter().any(|d| d.dose_number >= next) {
        return Ok(None);
    }
    if kind != Kind::SecondDoseWindow
        && appointment::find_active_for_dose(c, ResidentId(r.id), next)?.is_some()
    {
        return Ok(None);
    }
    let Some(DoseWindow { opens, closes }) = next_dose_window(&p.series(), &doses, next, env.tz)
    else {
        return Ok(None);
    };
    let (subject_key, body_key) = match kind {
        Kind::SecondDoseOpen => ("mail.dose2_open.subject", "mail.dose2_open.body"),
        Kind::SecondDoseLastCall => ("mail.dose2_last_call.subject", "mail.dose2_last_call.body"),
        _ => ("mail.dose2_window.subject", "mail.dose2_window.body"),
    };
    let args = [
        ("n", next.to_string()),
        ("opens", day_label(lang, opens)),
        ("closes", day_label(lang, closes)),
    ];
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(Some(Content {
        subject: lang.tf(subject_key, &args),
        greeting: lang.tf("mail.greeting", &[("name", &r.name)]),
        paragraphs: vec![lang.tf(body_key, &args)],
        facts: vec![
            (lang.t("mail.opens").into(), day_label(lang, opens)),
            (lang.t("mail.closes").into(), day_label(lang, closes)),
            (
                lang.t("appt.product").into(),
                p.local_name(lang).to_string(),
            ),
        ],
        link: env.link(lang, "mail.book_now", &format!("/towns/{}", s.town_id)),
        ics: None,
    }))
}

fn seats_mail(
    c: &mut AnyConnection,
    env: &Env<'_>,
    lang: Lang,
    entry_id: i64,
) -> Result<Option<Content>, RenderError> {
    let Some(w) = waiting::find(c, entry_id)? else {
        return Ok(None);
    };
    let (Some(t), Some(r)) = (
        town::find(c, TownId(w.town_id))?,
        resident::find(c, ResidentId(w.resident_id))?,
    ) else {
        return Ok(None);
    };
    Ok(Some(Content {
        subject: lang.tf("mail.seats.subject", &[("town", t.local_name(lang))]),
        greeting: lang.tf("mail.greeting", &[("name", &r.name)]),
        paragraphs: vec![lang.tf("mail.seats.body", &[("town", t.local_name(lang))])],
        facts: Vec::new(),
        link: env.link(lang, "mail.book_now", &format!("/towns/{}", t.id)),
        ics: None,
    }))
}

fn town_notice_mail(
    c: &mut AnyConnection,
    lang: Lang,
    notice_id: i64,
) -> Result<Option<Content>, RenderError> {
    let Some(n) = shipment::find_notice(c, notice_id)? else {
        return Ok(None);
    };
    let Some(t) = town::find(c, TownId(n.town_id))? else {
        return Ok(None);
    };
    let due = match n.due_by {
        Some(d) => lang.tf(
            "mail.notice.due_by",
            &[
                ("n", &n.second_doses_due.to_string()),
                ("date", &d.to_string()),
            ],
        ),
        None => n.second_doses_due.to_string(),
    };
    Ok(Some(Content {
        subject: lang.tf(
            "mail.notice.subject",
            &[
                ("town", t.local_name(lang)),
                ("date", &n.arrives_on.to_string()),
            ],
        ),
        greeting: lang.tf("mail.notice.greeting", &[("town", t.local_name(lang))]),
        paragraphs: vec![lang.t("mail.notice.body").to_string()],
        facts: vec![
            (lang.t("notice.doses").into(), n.doses.to_string()),
            (lang.t("notice.arrives_on").into(), n.arrives_on.to_string()),
            (lang.t("notice.second_due").into(), due),
            (
                lang.t("notice.first_seats").into(),
                n.first_dose_seats.to_string(),
            ),
        ],
        link: None,
        ics: None,
    }))
}

fn entry_mail(
    c: &mut AnyConnection,
    env: &Env<'_>,
    lang: Lang,
    entry_id: i64,
) -> Result<Option<Content>, RenderError> {
    use crate::models::draw_entry::{self, EntryStatus};
    let Some(e) = draw_entry::find(c, entry_id)? else {
        return Ok(None);
    };
    let Some(d) = crate::models::draw::find(c, e.draw_id)? else {
        return Ok(None);
    };
    let (Some(r), Some(draw_site)) = (
        resident::find(c, ResidentId(e.resident_id))?,
        site::find(c, SiteId(d.site_id))?,
    ) else {
        return Ok(None);
    };
    let mut facts = vec![(lang.t("entry.code").to_string(), shown_code(&e.code))];
    let greeting = lang.tf("mail.greeting", &[("name", &r.name)]);
    match e.status() {
        EntryStatus::Waiting => Ok(None),
        EntryStatus::Drawn => {
            let Some(a) = e
                .appointment_id
                .map(|id| appointment::find(c, AppointmentId(id)))
                .transpose()?
                .flatten()
            else {
                return Ok(None);
            };
            let Some(sl) = slot::find(c, SlotId(a.slot_id))? else {
                return Ok(None);
            };
            // The seat may be at another site of the town (the entry allowed it): name that one.
            let s = if a.site_id == draw_site.id {
                draw_site
            } else {
                match site::find(c, SiteId(a.site_id))? {
                    Some(s) => s,
                    None => return Ok(None),
                }
            };
            let at = when(lang, env.tz, sl.starts_at, sl.ends_at);
            facts.push((lang.t("appt.code").into(), shown_code(&a.code)));
            facts.push((lang.t("appt.site").into(), s.local_name(lang).to_string()));
            facts.push((
                lang.t("mail.address").into(),
                s.local_address(lang).to_string(),
            ));
            facts.push((lang.t("appt.when").into(), at.clone()));
            Ok(Some(Content {
                subject: lang.tf(
                    "mail.entry.drawn.subject",
                    &[("site", s.local_name(lang)), ("when", &at)],
                ),
                greeting,
                paragraphs: vec![lang.t("mail.entry.drawn.body").to_string()],
                facts,
                link: env.link(lang, "mail.manage", "/find"),
                ics: None,
            }))
        }
        EntryStatus::NotDrawn => {
            let s = draw_site;
            let body = match e.reason.as_deref() {
                Some(crate::models::draw_entry::REASON_CONTACT_CAP) => {
                    "mail.entry.contact_cap.body"
                }
                Some(crate::models::draw_entry::REASON_NO_STOCK) => "mail.entry.no_stock.body",
                _ => "mail.entry.not_drawn.body",
            };
            facts.push((lang.t("appt.site").into(), s.local_name(lang).to_string()));
            Ok(Some(Content {
                subject: lang.tf(
                    "mail.entry.not_drawn.subject",
                    &[("site", s.local_name(lang))],
                ),
                greeting,
                paragraphs: vec![lang.t(body).to_string()],
                facts,
                link: env.link(lang, "entry.join_waiting", &format!("/towns/{}", s.town_id)),
                ics: None,
            }))
        }
    }
}
