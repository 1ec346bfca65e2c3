//! `Layout`: what every page's frame needs (the language, the CSRF token its forms carry, the
//! path for the language switch, the signed-in user). `web::ctx` builds it from the request and
//! adds the request's checks; pages only read it.

use crate::i18n::Lang;
use crate::models::Role;

/// The logged-in user, as pages need them.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub site_id: Option<i64>,
    /// The hash of the session token (for logout).
    pub session_hash: String,
}

impl CurrentUser {
    /// The work pages this user may open, for the header.
    pub fn links(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.role.allows(Role::Clinic) {
            out.push(("staff.title", "/staff"));
        }
        if self.role.allows(Role::Bureau) {
            out.push(("bureau.shipments", "/bureau/shipments"));
        }
        if self.role == Role::Admin {
            out.push(("admin.title", "/admin"));
        }
        out
    }
}

/// The page frame's data: templates read it as `ctx`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub lang: Lang,
    pub csrf: String,
    pub path: String,
    pub user: Option<CurrentUser>,
}

impl Layout {
    /// The catalogue string for `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The catalogue string with placeholders filled.
    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.lang.tf(key, args)
    }

    /// The other language, for the switch link.
    pub fn other_lang(&self) -> Lang {
        match self.lang {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The URL that switches to the other language and comes back here.
    pub fn switch_url(&self) -> String {
        format!(
            "/lang/{}?next={}",
            self.other_lang().code(),
            encode(&self.path)
        )
    }
}

/// Percent-encode a string for a query parameter.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
