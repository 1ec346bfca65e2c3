//! Middleware: request ids and one log line per request (no personal data: the route pattern,
//! not the path), request metrics, the CSRF cookie, security headers, and localised error pages.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{web, HttpMessage, HttpResponse};
use askama::Template;

use super::cookies;
use super::ctx::{csrf_binding, request_lang, CsrfToken};
use super::respond::OwnPage;
use super::state::AppState;
use crate::error::AppError;
use crate::views::ErrorPage;

/// Headers on every response: a CSP with no inline script, no framing, no sniffing, no referrer.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ))
        .add(("Cache-Control", "no-store"))
}

/// Answer `HEAD` like `GET` (every page and API read): the route table names only `GET`, and
/// actix-http sends no body for a `HEAD` request whatever the handler returns, keeping the
/// headers (`Content-Length`, `ETag`, `Cache-Control`).
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
}

/// A weak `ETag` on every successful `GET` whose handler allowed caching (any `Cache-Control`
/// but `no-store`), and `304 Not Modified` when the client already holds that version: the
/// availability API, the site's day page and the static files. The tag is a hash of the body,
/// so a page that differs per visitor (a signed-in header, a token) differs in its tag too.
pub async fn etag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_get = req.method() == actix_web::http::Method::GET;
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let res = next.call(req).await?;
    let cacheable = is_get
        && res.status() == actix_web::http::StatusCode::OK
        && res
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| !v.contains("no-store"));
    if !cacheable {
        return Ok(res.map_into_boxed_body());
    }
    // A handler that knows its version (a static file) set the tag itself: no need to read
    // the body.
    if let Some(tag) = res.headers().get(header::ETAG).cloned() {
        if !holds(if_none_match.as_ref(), &tag) {
            return Ok(res.map_into_boxed_body());
        }
        let (req, res) = res.into_parts();
        return Ok(ServiceResponse::new(req, not_modified(res.headers(), tag)));
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let Ok(bytes) = actix_web::body::to_bytes(body).await else {
        return Ok(ServiceResponse::new(
            req,
            HttpResponse::InternalServerError().finish(),
        ));
    };
    let tag = HeaderValue::from_str(&weak_etag(&bytes))
        .map_err(actix_web::error::ErrorInternalServerError)?;
    if holds(if_none_match.as_ref(), &tag) {
        return Ok(ServiceResponse::new(req, not_modified(head.headers(), tag)));
    }
    head.headers_mut().insert(header::ETAG, tag);
    Ok(ServiceResponse::new(
        req,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

/// Whether an `If-None-Match` header names `tag` (or `*`).
fn holds(if_none_match: Option<&HeaderValue>, tag: &HeaderValue) -> bool {
    let (Some(v), Ok(tag)) = (if_none_match.and_then(|v| v.to_str().ok()), tag.to_str()) else {
        return false;
    };
    v.split(',').any(|t| t.trim() == tag || t.trim() == "*")
}

/// `304 Not Modified` with the tag and the caching headers of the response it stands for.
fn not_modified(headers: &header::HeaderMap, tag: HeaderValue) -> HttpResponse {
    let mut res = HttpResponse::NotModified();
    for name in [header::CACHE_CONTROL, header::VARY] {
        if let Some(v) = headers.get(&name) {
            res.insert_header((name, v.clone()));
        }
    }
    res.insert_header((header::ETAG, tag));
    res.finish()
}

/// A weak `ETag` naming these bytes.
pub fn weak_etag(bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("W/\"{:016x}\"", h.finish())
}

/// Give each request an id (echoed in `X-Request-Id`) and log one line when it ends: at `debug`
/// level (`RUST_LOG=dosewise=debug` turns the access log on), and at `warn` for server errors.
/// The route pattern is looked up only when the line is written: it routes the path a second
/// time (a regex match per dynamic route), which cost a measurable share of a cheap request.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = rand::random::<u64>();
    let mut res = next.call(req).await?;
    let status = res.status().as_u16();
    let mut hex = [0u8; 16];
    for (i, b) in hex.iter_mut().enumerate() {
        *b = b"0123456789abcdef"[((id >> (60 - 4 * i)) & 0xf) as usize];
    }
    if let Ok(v) = HeaderValue::from_bytes(&hex) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), v);
    }
    let server_error = status >= 500;
    if server_error || tracing::enabled!(tracing::Level::DEBUG) {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let method = res.request().method().clone();
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "(unmatched)".into());
        let id = format!("{id:016x}");
        if server_error {
            tracing::warn!(request_id = %id, %method, %route, status, ms = format!("{ms:.1}"), "request");
        } else {
            tracing::debug!(request_id = %id, %method, %route, status, ms = format!("{ms:.1}"), "request");
        }
    }
    Ok(res)
}

/// Count each request and its latency under its route pattern, method and status
/// (`dosewise_http_request_duration_seconds`). The pattern comes from the route actix already
/// matched (a walk down the resource tree by index, no second routing); a path no route matched
/// is counted as `(unmatched)`, so no id or typed path ever becomes a label.
pub async fn record_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = crate::metrics::method_label(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await;
    if let Some(state) = state {
        let seconds = started.elapsed().as_secs_f64();
        let (route, status) = match &res {
            Ok(res) => (res.request().match_pattern(), res.status()),
            Err(e) => (None, e.as_response_error().status_code()),
        };
        let route = route.as_deref().unwrap_or(crate::metrics::UNMATCHED);
        state
            .metrics
            .observe_request(route, method, status.as_str(), seconds);
    }
    res
}

/// Give each page request its CSRF token: the visitor's `dw_csrf` cookie when this server made
/// it for the visitor's session (see `Keys::csrf_token`), otherwise a fresh one, set as the cookie
/// on the response. A planted or stale cookie is never trusted; the login sets a new one.
pub async fn csrf_cookie(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // The JSON API, static files and probes have no forms: no token for them.
    let path = req.path();
    let formless = path.starts_with("/api/")
        || path.starts_with("/static/")
        || path == "/healthz"
        || path == "/readyz";
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let fresh = match state.as_ref().filter(|_| !formless) {
        None => None,
        Some(state) => {
            let binding = csrf_binding(req.request(), &state.keys);
            let current = req
                .cookie(cookies::CSRF)
                .map(|c| c.value().to_string())
                .filter(|t| state.keys.csrf_valid(t, &binding));
            let (token, fresh) = match current {
                Some(t) => (t, None),
                None => {
                    let t = state.keys.csrf_token(&binding);
                    (t.clone(), Some(t))
                }
            };
            req.extensions_mut().insert(CsrfToken(token));
            fresh
        }
    };
    let secure = state.is_some_and(|s| s.settings.cookie_secure);
    let mut res = next.call(req).await?;
    let handler_set_one = res.response().cookies().any(|c| c.name() == cookies::CSRF);
    if let Some(token) = fresh.filter(|_| !handler_set_one) {
        // A year: the token only proves a form came from our own page for this session.
        let _ = res.response_mut().add_cookie(&cookies::plain(
            cookies::CSRF,
            token,
            365 * 86400,
            secure,
        ));
    }
    Ok(res)
}

/// Turn an `AppError` (or a framework error) into a page in the visitor's language, or a JSON
/// body under `/api`. 5xx pages say nothing internal; the cause chain goes to the log. A page a
/// handler rendered itself (marked [`OwnPage`], e.g. the look-up form with "no such code") stays.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || res.response().extensions().contains::<OwnPage>()
    {
        return Ok(res);
    }
    let app_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>());
    let api = res.request().path().starts_with("/api/");
    if api && status == StatusCode::SERVICE_UNAVAILABLE {
        // Every API 503 says the same, in the request's language, with `Retry-After`.
        if let Some(AppError::Internal(cause)) = app_error {
            tracing::warn!(error = %format!("{cause:#}"), "database unavailable");
        }
        let (req, res) = res.into_parts();
        let body = serde_json::json!({ "error": request_lang(&req).t("err.unavailable") });
        let mut out = HttpResponse::build(status).json(body);
        retry_after(&mut out, u64::from(crate::error::RETRY_AFTER_SECONDS));
        copy_cookies(&res, &mut out);
        return Ok(ServiceResponse::new(req, out));
    }
    if app_error.is_none() && api {
        // The API's own errors already carry their JSON body.
        return Ok(res);
    }
    let key = match app_error {
        Some(AppError::LoginRequired(_)) => return Ok(res),
        Some(e @ AppError::Internal(cause)) if e.is_unavailable() => {
            tracing::warn!(error = %format!("{cause:#}"), "database unavailable");
            e.key()
        }
        Some(e @ AppError::Internal(cause)) => {
            tracing::error!(error = %format!("{cause:#}"), "internal error");
            e.key()
        }
        Some(e) => e.key(),
        None if res.response().error().is_some() || status.as_u16() == 404 => {
            if let Some(e) = res.response().error() {
                if status.is_server_error() {
                    tracing::error!(error = %e, "internal error");
                }
            }
            fallback_key(status.as_u16())
        }
        None => return Ok(res),
    };
    let (req, res) = res.into_parts();
    if req.path().starts_with("/api/") {
        let body = serde_json::json!({ "error": crate::i18n::Lang::En.t(key) });
        let mut out = HttpResponse::build(status).json(body);
        copy_cookies(&res, &mut out);
        return Ok(ServiceResponse::new(req, out));
    }
    let lang = request_lang(&req);
    let page = ErrorPage::new(lang, &req, status.as_u16(), key);
    let html = page.render().unwrap_or_else(|_| status.to_string());
    let mut out = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        retry_after(&mut out, u64::from(crate::error::RETRY_AFTER_SECONDS));
    }
    copy_cookies(&res, &mut out);
    Ok(ServiceResponse::new(req, out))
}

/// Ask the client to come back in `seconds` (at least one): every 503 and 429.
pub(crate) fn retry_after(res: &mut HttpResponse, seconds: u64) {
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
}

fn copy_cookies(from: &HttpResponse, to: &mut HttpResponse) {
    for c in from.cookies() {
        let _ = to.add_cookie(&c);
    }
}

fn fallback_key(status: u16) -> &'static str {
    match status {
        400 => "err.bad_request",
        403 => "err.forbidden",
        404 => "err.not_found",
        405 => "err.bad_request",
        413 => "err.too_large",
        s if s >= 500 => "err.internal",
        _ => "err.bad_request",
    }
}
