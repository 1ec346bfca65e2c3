//! The vaccination record (a page that prints on A4 or shows on a phone) and the page that
//! checks one.

use askama::Template;

use super::FormErrors;
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
