//! Per-address rate limits (governor's keyed GCRA limiters): booking and entering a draw,
//! looking up or cancelling an appointment by code, and wrong passwords. Over the limit a
//! request is answered 429 with `Retry-After` (JSON on the API, a page in the visitor's
//! language elsewhere) before it reaches a handler or the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use askama::Template;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::ctx::request_lang;
use super::state::AppState;
use crate::config::Settings;
use crate::views::ErrorPage;

/// What a limited request is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Booking (alone or for a household), moving, entering a draw, joining a waiting list,
    /// adding a household member.
    Book,
    /// Looking up (an appointment, a household) or cancelling by booking or entry code.
    Lookup,
    /// Logging in: only wrong passwords count ([`Limits::login_failed`]), so the staff of one
    /// clinic, logging in rightly from one address, never wait for each other.
    Login,
}

impl Action {
    /// The limited action a request is, if any (only POSTs are limited).
    pub fn of(method: &Method, path: &str) -> Option<Action> {
        if method != Method::POST {
            return None;
        }
        match path {
            "/api/v1/appointments"
            | "/appointment/move"
            | "/household/members"
            | "/household/book" => Some(Action::Book),
            "/login" => Some(Action::Login),
            "/find" | "/entry/find" | "/appointment/cancel" | "/household/find" => {
                Some(Action::Lookup)
            }
            p if p.starts_with("/api/v1/appointments/") || p.starts_with("/api/v1/entries") => {
                Some(Action::Lookup)
            }
            p if (p.starts_with("/slots/") && p.ends_with("/book"))
                || (p.starts_with("/towns/") && p.ends_with("/wait")) =>
            {
                Some(Action::Book)
            }
            _ => None,
        }
    }
}

/// Wrong look-ups per booking or entry code: after [`CodeAttempts::FREE`] wrong ID numbers for
/// one code, each further try on that code waits twice as long as the one before (2 s, 4 s, ...
/// up to 10 minutes), whichever address it comes from; a right answer clears the count. Kept
/// per process: behind a load balancer the wait applies on each process separately.
#[derive(Default)]
pub struct CodeAttempts {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl CodeAttempts {
    /// Wrong tries a code is allowed before it is slowed.
    pub const FREE: u32 = 3;
    const MAX_WAIT: u64 = 600;

    /// Seconds before `code` may be tried again, if it must wait.
    pub fn wait(&self, code: &str) -> Option<u64> {
        let map = self.failures.lock().ok()?;
        let (n, last) = map.get(code)?;
        if *n < Self::FREE {
            return None;
        }
        let wait = (1u64 << (n - Self::FREE + 1).min(10)).min(Self::MAX_WAIT);
        let waited = last.elapsed().as_secs();
        (waited < wait).then(|| wait - waited)
    }

    /// A wrong ID number (or an unknown code) was given for `code`.
    pub fn failed(&self, code: &str) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (_, last)| last.elapsed().as_secs() < Self::MAX_WAIT);
            }
            let e = map.entry(code.to_string()).or_insert((0, Instant::now()));
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    /// The right ID number was given: the count starts again.
    pub fn succeeded(&self, code: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(code);
        }
    }
}

/// The limiters of one process (a limit of 0 per minute turns that one off).
pub struct Limits {
    /// Wrong look-ups per code.
    pub codes: CodeAttempts,
    book: Option<DefaultKeyedRateLimiter<IpAddr>>,
    lookup: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Wrong passwords per address.
    failed_logins: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// The addresses whose wrong passwords went over that limit, and until when their logins
    /// wait.
    login_blocked: Mutex<HashMap<IpAddr, Instant>>,
    checks: AtomicU32,
}

fn limiter(per_minute: u32) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    let n = NonZeroU32::new(per_minute)?;
    // A burst of a third of the minute's allowance (at least 3): a family booking together
    // or a mistyped code is never slowed; a script sending hundreds a second is.
    let burst = NonZeroU32::new((per_minute / 3).max(3)).unwrap_or(n);
    Some(RateLimiter::keyed(Quota::per_minute(n).allow_burst(burst)))
}

impl Limits {
    /// Limiters from the settings (`DOSEWISE_RATE_BOOK`, `_LOOKUP`, `_LOGIN`, per minute).
    pub fn new(s: &Settings) -> Limits {
        Limits {
            codes: CodeAttempts::default(),
            book: limiter(s.rate_book_per_minute),
            lookup: limiter(s.rate_lookup_per_minute),
            failed_logins: limiter(s.rate_login_per_minute),
            login_blocked: Mutex::default(),
            checks: AtomicU32::new(0),
        }
    }

    /// `Ok` if `ip` may do `action` now, else how many seconds until it may.
    pub fn check(&self, action: Action, ip: IpAddr) -> Result<(), u64> {
        self.tick();
        let limiter = match action {
            Action::Book => &self.book,
            Action::Lookup => &self.lookup,
            Action::Login => return self.login_wait(ip),
        };
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            whole_seconds(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }

    /// Forget quiet addresses now and then, so the maps stay small.
    fn tick(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 != 9_999 {
            return;
        }
        for l in [&self.book, &self.lookup, &self.failed_logins]
            .into_iter()
            .flatten()
        {
            l.retain_recent();
        }
        if let Ok(mut blocked) = self.login_blocked.lock() {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
    }

    /// Seconds the logins from `ip` must wait, if its wrong passwords went over the limit: asked
    /// before a login's password is checked (429 without hashing it) and again once it has been
    /// (see `web::auth::login`), so logins sent together learn nothing past the limit.
    pub fn login_wait(&self, ip: IpAddr) -> Result<(), u64> {
        let Ok(blocked) = self.login_blocked.lock() else {
            return Ok(());
        };
        match blocked.get(&ip) {
            Some(until) => match whole_seconds(until.saturating_duration_since(Instant::now())) {
                0 => Ok(()),
                wait => Err(wait),
            },
            None => Ok(()),
        }
    }

    /// A wrong password (or an unknown user) came from `ip`: counted, and once over the limit
    /// its logins wait until the limit allows another.
    pub fn login_failed(&self, ip: IpAddr) {
        self.tick();
        let Some(limiter) = &self.failed_logins else {
            return;
        };
        if let Err(not_until) = limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            if let Ok(mut blocked) = self.login_blocked.lock() {
                blocked.insert(ip, Instant::now() + wait);
            }
        }
    }
}

/// A wait in whole seconds, rounded up (what `Retry-After` says).
fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Answer 429 to an address over its limit, before the handler runs.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Only a limited POST looks further (every GET passes straight through).
    let wait = Action::of(req.method(), req.path()).and_then(|action| {
        let ip = req.peer_addr()?.ip();
        let state = req.app_data::<web::Data<AppState>>()?;
        state
            .limits
            .check(action, ip)
            .err()
            .map(|wait| (action, wait))
    });
    let Some((action, wait)) = wait else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    tracing::info!(action = ?action, retry_after = wait, "rate limited");
    let res = too_many(req.request(), wait);
    Ok(req.into_response(res))
}

/// The 429 answer of a request over its limit, with `Retry-After`: JSON on the API, a page in
/// the visitor's language elsewhere.
pub fn too_many(req: &actix_web::HttpRequest, wait: u64) -> HttpResponse {
    let status = StatusCode::TOO_MANY_REQUESTS;
    let mut res = if req.path().starts_with("/api/") {
        HttpResponse::build(status).json(serde_json::json!({
            "error": crate::i18n::Lang::En.t("err.rate_limited"),
            "code": "rate_limited",
            "retry_after": wait,
        }))
    } else {
        let page = ErrorPage::new(request_lang(req), req, status.as_u16(), "err.rate_limited");
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(page.render().unwrap_or_else(|_| status.to_string()))
    };
    super::middleware::retry_after(&mut res, wait);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_posts_that_book_look_up_or_log_in_are_limited() {
        let post = Method::POST;
        assert_eq!(
            Action::of(&post, "/api/v1/appointments"),
            Some(Action::Book)
        );
        assert_eq!(Action::of(&post, "/slots/12/book"), Some(Action::Book));
        assert_eq!(Action::of(&post, "/towns/3/wait"), Some(Action::Book));
        assert_eq!(Action::of(&post, "/find"), Some(Action::Lookup));
        assert_eq!(Action::of(&post, "/household/find"), Some(Action::Lookup));
        assert_eq!(Action::of(&post, "/entry/find"), Some(Action::Lookup));
        assert_eq!(Action::of(&post, "/household/book"), Some(Action::Book));
        assert_eq!(
            Action::of(&post, "/api/v1/appointments/lookup"),
            Some(Action::Lookup)
        );
        assert_eq!(Action::of(&post, "/login"), Some(Action::Login));
        assert_eq!(Action::of(&Method::GET, "/slots/12/book"), None);
        assert_eq!(Action::of(&post, "/staff/sites/1/walk-in"), None);
    }

    #[test]
    fn a_code_is_slowed_after_three_wrong_tries_and_cleared_by_a_right_one() {
        let c = CodeAttempts::default();
        for _ in 0..CodeAttempts::FREE {
            assert_eq!(c.wait("ABCD2345"), None);
            c.failed("ABCD2345");
        }
        assert_eq!(c.wait("ABCD2345"), Some(2));
        c.failed("ABCD2345");
        assert_eq!(
            c.wait("ABCD2345"),
            Some(4),
            "each wrong try doubles the wait"
        );
        assert_eq!(c.wait("EFGH6789"), None, "other codes are not slowed");
        c.succeeded("ABCD2345");
        assert_eq!(c.wait("ABCD2345"), None);
    }

    #[test]
    fn a_burst_passes_then_the_address_waits_and_others_do_not() {
        let mut s = Settings::defaults();
        s.rate_book_per_minute = 6;
        let l = Limits::new(&s);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(l.check(Action::Book, a), Ok(()));
        }
        let wait = l.check(Action::Book, a).unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        assert_eq!(l.check(Action::Book, b), Ok(()));
        assert_eq!(
            l.check(Action::Login, a),
            Ok(()),
            "each action has its own limit"
        );
    }

    #[test]
    fn logins_wait_only_after_a_burst_of_wrong_passwords_and_only_at_that_address() {
        let mut s = Settings::defaults();
        s.rate_login_per_minute = 6;
        let l = Limits::new(&s);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..50 {
            assert_eq!(
                l.check(Action::Login, a),
                Ok(()),
                "right logins never count"
            );
        }
        for _ in 0..3 {
            l.login_failed(a);
            assert_eq!(l.check(Action::Login, a), Ok(()), "within the burst");
        }
        l.login_failed(a);
        let wait = l.check(Action::Login, a).unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        assert_eq!(l.check(Action::Login, b), Ok(()));
        assert_eq!(l.check(Action::Book, a), Ok(()), "only logins wait");
    }
}
