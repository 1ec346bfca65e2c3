//! The vaccination record (a page that prints on A4 or shows on a phone) and the page that
//! checks one.

use askama::Template;
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::{qr_svg, FormErrors};
use crate::domain::days::local_day;
use crate::domain::IdNumber;
use crate::i18n::day_label;
use crate::models::{LocalName, Product, Resident, Site, Vaccination};
use crate::record::Record;
use crate::views::layout::Layout;

/// One dose on the record, as shown.
pub struct DoseLine {
    pub number: i32,
    pub product: String,
    pub lot: String,
    /// The city day, in words.
    pub day: String,
    pub site: String,
}

/// `GET /record`: the resident's doses with the QR code of the signed payload.
#[derive(Template)]
#[template(path = "resident/record.html")]
pub struct RecordPage {
    pub ctx: Layout,
    pub name: String,
    pub masked_id: String,
    /// The day issued, in words.
    pub issued: String,
    pub doses: Vec<DoseLine>,
    /// The signed payload (empty when no dose is recorded yet).
    pub payload: String,
    /// Its QR code, inline SVG.
    pub qr: String,
}

/// What a check found, as shown.
pub struct VerdictView {
    pub valid: bool,
    /// The catalogue key of the headline.
    pub key: &'static str,
    pub record: Option<Record>,
}

/// `GET`/`POST /verify`: paste a payload and see whether it is this city's and unchanged. The
/// page checks in the browser too (no network needed once loaded).
#[derive(Template)]
#[template(path = "resident/verify.html")]
pub struct VerifyPage {
    pub ctx: Layout,
    /// The public key (base64url) the page's script checks against.
    pub public_key: String,
    /// Its id, as records name it.
    pub key_id: String,
    pub payload: String,
    pub errors: FormErrors,
    pub verdict: Option<VerdictView>,
}

/// The record page of `resident` on the city day `today`: their doses, named in the page's
/// language, and the QR code of `payload` (the record as signed; empty before any dose).
pub fn record_page(
    ctx: Layout,
    tz: Tz,
    today: NaiveDate,
    resident: &Resident,
    doses: Vec<(Vaccination, Product, Site)>,
    payload: String,
) -> RecordPage {
    let lang = ctx.lang;
    RecordPage {
        name: resident.name.clone(),
        masked_id: IdNumber::mask_stored(&resident.id_last4),
        issued: day_label(lang, today),
        doses: doses
            .into_iter()
            .map(|(v, product, site)| DoseLine {
                number: v.dose_number,
                product: product.local_name(lang).to_string(),
                day: day_label(lang, local_day(tz, v.given_at)),
                site: site.local_name(lang).to_string(),
                lot: v.lot,
            })
            .collect(),
        qr: if payload.is_empty() {
            String::new()
        } else {
            qr_svg(&payload)
        },
        payload,
        ctx,
    }
}
