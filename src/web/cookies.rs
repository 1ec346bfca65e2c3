//! Cookie helpers: private (encrypted and signed) cookies for sessions and the resident's
//! "manage this appointment" grant, and the settings every cookie shares.

use actix_web::cookie::{time::Duration, Cookie, CookieJar, Key, SameSite};
use actix_web::{HttpRequest, HttpResponse};

use super::state::AppState;

/// The staff session cookie.
pub const SESSION: &str = "dw_session";
/// The resident's grant to see and change one appointment, after code + ID number.
pub const APPOINTMENT: &str = "dw_appt";
/// How long the appointment grant lasts, in seconds.
pub const APPOINTMENT_SECONDS: i64 = 2 * 3600;
/// The resident's grant to see their household (a member's resident id), after code + ID number.
pub const HOUSEHOLD: &str = "dw_house";
/// How long the household grant lasts, in seconds (as the appointment's).
pub const HOUSEHOLD_SECONDS: i64 = APPOINTMENT_SECONDS;
/// The resident's grant to see one draw entry, after entering or code + ID number.
pub const ENTRY: &str = "dw_entry";
/// How long the entry grant lasts, in seconds (past the draw, to read the result).
pub const ENTRY_SECONDS: i64 = 7 * 86400;
/// The CSRF cookie: a token the server signed for the visitor's session, echoed in each form.
pub const CSRF: &str = "dw_csrf";
/// The language choice.
pub const LANG: &str = "dw_lang";

/// Read and decrypt a private cookie; `None` if absent or tampered with.
pub fn get_private(req: &HttpRequest, key: &Key, name: &str) -> Option<String> {
    let cookie = req.cookie(name)?;
    let mut jar = CookieJar::new();
    jar.add_original(cookie);
    jar.private(key).get(name).map(|c| c.value().to_string())
}

/// A private cookie, HttpOnly and SameSite=Lax, for `max_age` seconds.
pub fn private(
    key: &Key,
    name: &str,
    value: String,
    max_age: i64,
    secure: bool,
) -> Cookie<'static> {
    let mut jar = CookieJar::new();
    jar.private_mut(key)
        .add(plain(name, value, max_age, secure));
    jar.get(name)
        .cloned()
        .unwrap_or_else(|| plain(name, String::new(), 0, secure))
}

/// A 303 to `to` that grants the resident `id` for `max_age` seconds in the private cookie
/// `name` (an appointment after booking or look-up, a draw entry).
pub fn grant(state: &AppState, name: &str, id: i64, max_age: i64, to: &str) -> HttpResponse {
    let cookie = private(
        &state.keys.cookie,
        name,
        id.to_string(),
        max_age,
        state.settings.cookie_secure,
    );
    let mut res = super::respond::see_other(to);
    let _ = res.add_cookie(&cookie);
    res
}

/// A plain HttpOnly, SameSite=Lax cookie on `/`.
pub fn plain(name: &str, value: String, max_age: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(name.to_string(), value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(max_age))
        .finish()
}

/// A cookie that removes `name`.
pub fn removal(name: &str, secure: bool) -> Cookie<'static> {
    let mut c = plain(name, String::new(), 0, secure);
    c.make_removal();
    c
}
