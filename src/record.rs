//! The signed vaccination record: what a resident shows an employer or a border, as a page and a
//! QR code carrying a compact payload signed with Ed25519.
//!
//! The payload is `DW1.<body>.<signature>`: `body` is the record as compact JSON, `signature`
//! the Ed25519 signature of those JSON bytes, both base64url without padding. The record names
//! the key that signed it (`k`, the first 8 bytes of SHA-256 of the public key, in hex), so a
//! checker can tell a record signed by another key from one changed after signing. It holds
//! no full ID number: the name, the last four characters, and the doses.
//!
//! The signing key is derived from the master secret (`security::Keys::record_seed`), so it is
//! kept exactly as the secret is; its public half is published at `/record/key`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The payload's prefix (format version 1).
pub const PREFIX: &str = "DW1";

/// One dose as the record states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dose {
    /// Dose number in the series.
    #[serde(rename = "n")]
    pub number: i32,
    /// Product name.
    #[serde(rename = "p")]
    pub product: String,
    /// Lot number.
    #[serde(rename = "l")]
    pub lot: String,
    /// City day given, `YYYY-MM-DD`.
    #[serde(rename = "d")]
    pub date: String,
    /// Vaccination site.
    #[serde(rename = "s")]
    pub site: String,
}

/// A resident's record: who (without their ID number) and the doses given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The signing key's id (see the module doc).
    #[serde(rename = "k")]
    pub key_id: String,
    /// Name.
    #[serde(rename = "nm")]
    pub name: String,
    /// Last four characters of the ID number.
    #[serde(rename = "id4")]
    pub id_last4: String,
    /// City day the record was issued, `YYYY-MM-DD`.
    #[serde(rename = "at")]
    pub issued: String,
    /// The doses, in order.
    #[serde(rename = "ds")]
    pub doses: Vec<Dose>,
}

/// How the record writes a city day.
const DAY: &str = "%Y-%m-%d";

impl Dose {
    /// Dose `number` of `product` from `lot`, given at `site` on the city day `day`.
    pub fn given(number: i32, product: &str, lot: &str, day: NaiveDate, site: &str) -> Dose {
        Dose {
            number,
            product: product.to_string(),
            lot: lot.to_string(),
            date: day.format(DAY).to_string(),
            site: site.to_string(),
        }
    }
}

impl Record {
    /// The record of `doses`, issued on the city day `issued` to the resident `name` (ID number
    /// ending `id_last4`). `key_id` is filled in by [`RecordKey::sign`].
    pub fn issue(name: &str, id_last4: &str, issued: NaiveDate, doses: Vec<Dose>) -> Record {
        Record {
            key_id: String::new(),
            name: name.to_string(),
            id_last4: id_last4.to_string(),
            issued: issued.format(DAY).to_string(),
            doses,
        }
    }
}

/// The key that signs records.
#[derive(Clone)]
pub struct RecordKey {
    signing: SigningKey,
}

impl RecordKey {
    /// The key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> RecordKey {
        RecordKey {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The public key, base64url (32 bytes): what `/record/key` publishes.
    pub fn public(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes())
    }

    /// The public half, to check records with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// Check `payload` against this key (see [`verify`]).
    pub fn verify(&self, payload: &str) -> Verdict {
        verify(payload, &self.verifying_key())
    }

    /// This key's id, as records name it.
    pub fn key_id(&self) -> String {
        key_id(&self.signing.verifying_key())
    }

    /// Sign `record` (its `key_id` is set to this key's) into a payload.
    pub fn sign(&self, record: &Record) -> String {
        let mut record = record.clone();
        record.key_id = self.key_id();
        let body = serde_json::to_vec(&record).unwrap_or_default();
        let sig = self.signing.sign(&body);
        format!(
            "{PREFIX}.{}.{}",
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(sig.to_bytes())
        )
    }
}

fn key_id(key: &VerifyingKey) -> String {
    crate::security::hex(&Sha256::digest(key.as_bytes())[..8])
}

/// What checking a payload found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by this key and unchanged since.
    Valid(Record),
    /// It names this key, but its signature does not match its contents: changed after signing.
    Tampered,
    /// Signed by another key (or names one): not a record of this city's.
    OtherKey,
    /// Not a record payload at all.
    Unreadable,
}

impl Verdict {
    /// The catalogue key of the verdict's headline.
    pub fn key(&self) -> &'static str {
        match self {
            Verdict::Valid(_) => "record.verdict.valid",
            Verdict::Tampered => "record.verdict.tampered",
            Verdict::OtherKey => "record.verdict.other_key",
            Verdict::Unreadable => "record.verdict.unreadable",
        }
    }
}

/// The public key from its base64url form.
pub fn public_key(b64: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(b64.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Check `payload` against the public key `key`.
pub fn verify(payload: &str, key: &VerifyingKey) -> Verdict {
    let mut parts = payload.trim().split('.');
    let (Some(PREFIX), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Verdict::Unreadable;
    };
    // Shaped like a record but its contents do not decode: damaged or changed.
    let Some((body, record)) = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice::<Record>(&b).ok().map(|r| (b, r)))
    else {
        return Verdict::Tampered;
    };
    if record.key_id != key_id(key) {
        return Verdict::OtherKey;
    }
    let signed = URL_SAFE_NO_PAD
        .decode(sig)
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
        .is_some_and(|s| key.verify(&body, &Signature::from_bytes(&s)).is_ok());
    if signed {
        Verdict::Valid(record)
    } else {
        Verdict::Tampered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            key_id: String::new(),
            name: "张三".into(),
            id_last4: "123X".into(),
            issued: "2030-03-04".into(),
            doses: vec![Dose {
                number: 1,
                product: "疫苗".into(),
                lot: "LOT1".into(),
                date: "2030-03-04".into(),
                site: "城关".into(),
            }],
        }
    }

    #[test]
    fn a_signed_record_verifies_and_any_changed_byte_does_not() {
        let key = RecordKey::from_seed(&[7; 32]);
        let public = public_key(&key.public()).unwrap();
        let payload = key.sign(&record());
        let Verdict::Valid(r) = verify(&payload, &public) else {
            panic!("valid");
        };
        assert_eq!(r.name, "张三");
        assert_eq!(r.key_id, key.key_id());
        // Change each character of the body and signature in turn.
        let start = PREFIX.len() + 1;
        for i in start..payload.len() {
            let mut bytes = payload.clone().into_bytes();
            if bytes[i] == b'.' {
                continue;
            }
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            let v = verify(&changed, &public);
            assert!(
                !matches!(v, Verdict::Valid(_)),
                "a change at {i} must not verify"
            );
        }
    }

    #[test]
    fn a_record_signed_by_another_key_is_told_apart_from_a_changed_one() {
        let ours = RecordKey::from_seed(&[7; 32]);
        let theirs = RecordKey::from_seed(&[8; 32]);
        let public = public_key(&ours.public()).unwrap();
        assert_eq!(verify(&theirs.sign(&record()), &public), Verdict::OtherKey);
        assert_eq!(verify("hello", &public), Verdict::Unreadable);
        assert_eq!(verify("DW1.!!.??", &public), Verdict::Tampered);
    }
}
