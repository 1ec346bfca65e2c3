//! Secrets and hashes: keys derived from the master secret, the keyed hash under which resident
//! ID numbers are stored, random tokens, and Argon2id password hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::IdNumber;

type HmacSha256 = Hmac<Sha256>;

/// Keys derived from the master secret, each for one purpose.
#[derive(Clone)]
pub struct Keys {
    /// Signs and encrypts cookies.
    pub cookie: actix_web::cookie::Key,
    id_hash: [u8; 32],
    csrf: [u8; 32],
    /// The seed of the Ed25519 key that signs vaccination records (`record::RecordKey`).
    pub record_seed: [u8; 32],
}

impl Keys {
    /// Derive every key from the master secret.
    pub fn derive(secret: &str) -> Keys {
        let mut cookie_material = Vec::with_capacity(64);
        cookie_material.extend_from_slice(&hmac(secret.as_bytes(), b"dosewise cookie key 1"));
        cookie_material.extend_from_slice(&hmac(secret.as_bytes(), b"dosewise cookie key 2"));
        Keys {
            cookie: actix_web::cookie::Key::from(&cookie_material),
            id_hash: hmac(secret.as_bytes(), b"dosewise resident id hash"),
            csrf: hmac(secret.as_bytes(), b"dosewise csrf key"),
            record_seed: hmac(secret.as_bytes(), b"dosewise record signing key"),
        }
    }

    /// A CSRF token bound to `binding` (the hash of the session token, or "" before login):
    /// 16 random bytes and 16 bytes of their HMAC with the binding, as 64 hex characters. Only
    /// this server can make one, and a token made for one session fails for any other.
    pub fn csrf_token(&self, binding: &str) -> String {
        let mut nonce = [0u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        let nonce = hex(&nonce);
        let mac = self.csrf_mac(&nonce, binding);
        format!("{nonce}{mac}")
    }

    /// True when `token` came from [`Keys::csrf_token`] with this key and `binding`.
    pub fn csrf_valid(&self, token: &str, binding: &str) -> bool {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
        let (nonce, mac) = token.split_at(32);
        constant_time_eq(mac, &self.csrf_mac(nonce, binding))
    }

    fn csrf_mac(&self, nonce: &str, binding: &str) -> String {
        let msg = format!("{nonce}\n{binding}");
        hex(&hmac(&self.csrf, msg.as_bytes())[..16])
    }

    /// The stored form of an ID number: HMAC-SHA256 under a secret key, so lookups work but a
    /// copy of the database alone does not reveal the numbers.
    pub fn hash_id_number(&self, id: &IdNumber) -> String {
        hex(&hmac(&self.id_hash, id.expose().as_bytes()))
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes as hex: session tokens, CSRF tokens, generated secrets.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex(&b)
}

/// SHA-256 as hex (session tokens are stored only hashed).
pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// An Argon2id hash (PHC string) of a password.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// True when `password` matches the stored Argon2 hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Compare two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn id_hashes_depend_on_the_secret() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        let a = Keys::derive(&"a".repeat(32)).hash_id_number(&id);
        let b = Keys::derive(&"b".repeat(32)).hash_id_number(&id);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(!a.contains("1949"));
        assert_eq!(a, Keys::derive(&"a".repeat(32)).hash_id_number(&id));
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_key_and_the_session() {
        let keys = Keys::derive(&"a".repeat(32));
        let t = keys.csrf_token("session-1");
        assert_eq!(t.len(), 64);
        assert!(keys.csrf_valid(&t, "session-1"));
        assert!(!keys.csrf_valid(&t, "session-2"));
        assert!(!keys.csrf_valid(&t, ""));
        assert!(!Keys::derive(&"b".repeat(32)).csrf_valid(&t, "session-1"));
        assert!(!keys.csrf_valid(&"a".repeat(64), "session-1"));
        assert!(!keys.csrf_valid(&t[..63], "session-1"));
        assert_ne!(t, keys.csrf_token("session-1"));
    }

    #[test]
    fn tokens_are_random_and_compare_in_constant_time() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token());
        assert!(constant_time_eq(&t, &t.clone()));
        assert!(!constant_time_eq(&t, &random_token()));
        assert!(!constant_time_eq("a", "ab"));
    }
}
