//! Staff and bureau login and logout. Passwords are Argon2id hashes; a wrong password costs a
//! pause; sessions live in the database so logout (or deactivation) ends them for good.

use std::sync::OnceLock;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Duration;
use serde::Deserialize;

use super::common::CsrfForm;
use super::cookies;
use super::ctx::{Ctx, Posted};
use super::respond::{html, html_status, see_other};
use super::state::blocking;
use crate::domain::{PlainText, TextRule};
use crate::error::AppError;
use crate::models::{audit, user, Role, Session};
use crate::security::{hash_password, random_token, sha256_hex, verify_password};
use crate::views::LoginPage;

/// How long a login lasts.
const SESSION_HOURS: i64 = 12;

/// Where a role starts.
pub fn home_for(role: Role) -> &'static str {
    match role {
        Role::Clinic => "/staff",
        Role::Bureau => "/bureau",
        Role::Admin => "/admin",
    }
}

/// A `next` parameter that stays on this site.
pub fn safe_next(next: &str) -> Option<&str> {
    // Only a local path of visible ASCII: browsers drop tabs and newlines from URLs, so
    // "/\t/evil.example" would otherwise become "//evil.example".
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    (local && next.bytes().all(|b| b.is_ascii_graphic())).then_some(next)
}

/// Query of the login page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

/// `GET /login`.
pub async fn login_form(ctx: Ctx, q: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    if let Some(u) = &ctx.user {
        return Ok(see_other(safe_next(&q.next).unwrap_or(home_for(u.role))));
    }
    html(&LoginPage {
        username: String::new(),
        next: safe_next(&q.next).unwrap_or_default().to_string(),
        error: None,
        ctx,
    })
}

/// The login form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    next: String,
    csrf: String,
}

super::ctx::posted_form!(LoginForm);

/// A hash to verify against when the user does not exist, so both cases take as long.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// Check a password against `stored` (or the dummy hash, answering false) on the hasher: at
/// most one Argon2 run per core at a time, holding no database connection. A flood of logins
/// then queues here (as cheap waiting tasks), not in front of the pools and threads that serve
/// everyone's reads.
async fn verify_on_hasher(password: String, stored: Option<String>) -> Result<bool, AppError> {
    static HASHER: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    let hasher = HASHER.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    let _permit = hasher
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(web::block(move || match stored {
        Some(h) => verify_password(&password, &h),
        None => {
            verify_password(&password, dummy_hash());
            false
        }
    })
    .await?)
}

/// `POST /login`.
pub async fn login(
    req: HttpRequest,
    Posted { ctx, state, form }: Posted<LoginForm>,
) -> Result<HttpResponse, AppError> {
    // No account has a name with control or text-direction characters (nor can the database
    // look one up: PostgreSQL refuses a NUL): say so at once.
    let username = match PlainText::parse(&form.username, TextRule::line("username", 200)) {
        Ok(u) => u.into_string(),
        Err(e) => {
            let page = LoginPage {
                username: String::new(),
                next: safe_next(&form.next).unwrap_or_default().to_string(),
                error: Some(e.key),
                ctx,
            };
            return html_status(&page, actix_web::http::StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    // The user is read and the connection returned before the password is hashed.
    let user = blocking(&state, move |st| {
        let mut c = st.db.read.get()?;
        user::find_active_by_username(&mut c, &username).map_err(AppError::from)
    })
    .await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_on_hasher(form.password.clone(), stored).await?;
    // A wrong password counts against the address; then, right or wrong, a login from an address
    // over its limit is refused (429, no session), so logins sent together learn nothing past it.
    if let Some(ip) = req.peer_addr().map(|a| a.ip()) {
        if !(ok && user.is_some()) {
            state.limits.login_failed(ip);
        }
        if let Err(wait) = state.limits.login_wait(ip) {
            tracing::info!(retry_after = wait, "login over the limit");
            return Ok(super::limits::too_many(&req, wait));
        }
    }
    let token = random_token();
    let found = match user.filter(|_| ok) {
        None => None,
        Some(u) => {
            let token_hash = sha256_hex(&token);
            let (user_id, name) = (u.id, u.username.clone());
            blocking(&state, move |st| {
                let now = st.now();
                st.db.transaction(move |w| -> Result<(), AppError> {
                    user::insert_session(
                        w,
                        &Session {
                            id: token_hash,
                            user_id,
                            created_at: now,
                            expires_at: now + Duration::hours(SESSION_HOURS),
                            revoked_at: None,
                        },
                    )?;
                    audit::record(w, now, &name, "login", &format!("user {user_id}"), "")?;
                    Ok(())
                })
            })
            .await?;
            Some(u)
        }
    };
    match found {
        Some(u) => {
            let to = safe_next(&form.next)
                .unwrap_or(home_for(u.role()))
                .to_string();
            let mut res = see_other(&to);
            // A new CSRF token bound to the new session: the one used before login (which
            // someone else may have planted) stops working.
            let csrf = state.keys.csrf_token(&sha256_hex(&token));
            let _ = res.add_cookie(&cookies::private(
                &state.keys.cookie,
                cookies::SESSION,
                token,
                SESSION_HOURS * 3600,
                state.settings.cookie_secure,
            ));
            let _ = res.add_cookie(&cookies::plain(
                cookies::CSRF,
                csrf,
                365 * 86400,
                state.settings.cookie_secure,
            ));
            Ok(res)
        }
        None => {
            tracing::info!("failed login");
            actix_web::rt::time::sleep(std::time::Duration::from_millis(
                state.settings.login_delay_ms,
            ))
            .await;
            let page = LoginPage {
                username: form.username.trim().chars().take(64).collect(),
                next: safe_next(&form.next).unwrap_or_default().to_string(),
                error: Some("login.failed"),
                ctx,
            };
            html_status(&page, actix_web::http::StatusCode::UNAUTHORIZED)
        }
    }
}

/// `POST /logout`: the session is revoked in the database, not just forgotten by the browser.
pub async fn logout(Posted { ctx, state, .. }: Posted<CsrfForm>) -> Result<HttpResponse, AppError> {
    if let Some(u) = ctx.user.clone() {
        blocking(&state, move |st| {
            let now = st.now();
            st.db.transaction(move |w| -> Result<(), AppError> {
                user::revoke_session(w, &u.session_hash, now)?;
                audit::record(w, now, &u.username, "logout", &format!("user {}", u.id), "")?;
                Ok(())
            })
        })
        .await?;
    }
    let mut res = see_other("/");
    // The desk's offline copy of the day (Cache Storage, IndexedDB, its service worker) goes
    // with the session.
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("clear-site-data"),
        actix_web::http::header::HeaderValue::from_static("\"cache\", \"storage\""),
    );
    let _ = res.add_cookie(&cookies::removal(
        cookies::SESSION,
        state.settings.cookie_secure,
    ));
    Ok(res)
}
