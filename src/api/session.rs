//! Sign-in for browsers. With `api.bearer_tokens` set, a browser cannot send an
//! `Authorization` header from a link, so the read routes it opens (those negotiating HTML)
//! answer a missing token with a sign-in form instead of a JSON 401. The form posts the token
//! to `POST /signin`, which sets a session cookie (HttpOnly, SameSite=Strict) and sends the
//! browser back where it was going; API clients keep their bearer header and JSON errors.
//!
//! The cookie is stateless, so every replica on one database accepts it: an expiry and an
//! HMAC-SHA256 of it keyed by the token that signed in. It never holds the token, and it stops
//! working when that token is removed from `api.bearer_tokens` (a rotation signs everyone out)
//! or when it expires (`api.session_lifetime`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::AppState;
use super::pages;
use crate::config::Secret;
use crate::record::Instant;
use crate::telemetry::{AuthFailure, AuthRoute};
use crate::timeline::render::{Format, html};

/// The session cookie's name.
pub const COOKIE: &str = "postmortemd_session";

/// What a session cookie signs: a fixed label (so no other HMAC of this key is a session)
/// and the expiry.
fn signature(token: &Secret, expires: i64) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.expose().as_bytes()).expect("HMAC takes a key of any length");
    mac.update(b"postmortemd session v1\n");
    mac.update(expires.to_string().as_bytes());
    mac.finalize().into_bytes().into()
}

/// The cookie value for `token`, valid until `expires` (Unix seconds): `EXPIRES.HEXMAC`.
pub fn session_value(token: &Secret, expires: i64) -> String {
    format!("{expires}.{}", hex::encode(signature(token, expires)))
}

/// Whether the request carries a session cookie signed by one of `tokens` and not expired at
/// `now`. Every token is tried, so the time taken does not say which one signed it.
pub fn signed_in(headers: &HeaderMap, tokens: &[Secret], now: Instant) -> bool {
    let Some(value) = cookie(headers, COOKIE) else { return false };
    let Some((expires, mac)) = value.split_once('.') else { return false };
    let (Ok(expires), Ok(mac)) = (expires.parse::<i64>(), hex::decode(mac)) else { return false };
    if expires <= now.as_second() {
        return false;
    }
    tokens.iter().fold(false, |matched, token| matched | bool::from(signature(token, expires).ct_eq(mac.as_slice())))
}

/// The value of the cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// Whether a request is a browser asking for a page: `?format=html`, or no `?format=` and an
/// `Accept` header whose first known type is HTML (what `incidents::negotiate` would pick).
pub fn wants_page(request: &Request) -> bool {
    let format = request.uri().query().and_then(|query| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find_map(|(key, value)| (key == "format").then_some(value))
    });
    match format {
        Some(format) => format.parse::<Format>().is_ok_and(|format| format == Format::Html),
        None => super::incidents::negotiate(None, request.headers()).is_ok_and(|format| format == Format::Html),
    }
}

/// Where a sign-in may send the browser back to: a path on this daemon (no scheme, no host,
/// no `//` or `\` that a browser would read as another host), else `/`.
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|character| character.is_control());
    if local { next } else { "/" }
}

/// The sign-in form, answered with 401 to a browser without a session, or again after a wrong
/// token (`refused`), with `next` the path it came for.
pub fn sign_in_page(next: &str, refused: bool) -> Response {
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Sign in · postmortemd</title>",
    );
    page.push_str(&format!("<style>{SIGN_IN_STYLE}</style></head><body><main>\n<h1>postmortemd</h1>\n"));
    page.push_str("<p>These pages need one of this daemon's API tokens (<code>api.bearer_tokens</code>).</p>\n");
    if refused {
        page.push_str("<p class=\"refused\" role=\"alert\">That token is not one of this daemon's API tokens.</p>\n");
    }
    page.push_str(&format!(
        "<form method=\"post\" action=\"/signin\">\n\
<label for=\"token\">API token</label>\n\
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\n\
<input type=\"hidden\" name=\"next\" value=\"{}\">\n\
<button type=\"submit\">Sign in</button>\n</form>\n\
<p class=\"hint\">The token is exchanged for a session cookie this browser sends with each page; \
the cookie does not hold the token. API clients send <code>Authorization: Bearer …</code> instead.</p>\n\
</main></body></html>\n",
        html::escape(safe_next(next))
    ));
    let mut response = (StatusCode::UNAUTHORIZED, pages::page_headers(SIGN_IN_STYLE), page).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const SIGN_IN_STYLE: &str = "body{font-family:system-ui,sans-serif;color:#222;background:#f6f6f6;margin:0}\
main{max-width:26rem;margin:12vh auto;background:#fff;padding:2rem 2.2rem;border:1px solid #ddd;border-radius:6px}\
h1{margin-top:0;font-size:1.4rem}label{display:block;font-weight:600;margin:1rem 0 .3rem}\
input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #aaa;border-radius:4px}\
button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit;border:0;border-radius:4px;background:#245;color:#fff;cursor:pointer}\
.refused{color:#a00;font-weight:600}.hint{color:#666;font-size:.85rem}code{font-size:.9em}";

/// The form `POST /signin` reads (`application/x-www-form-urlencoded`).
#[derive(serde::Deserialize)]
pub struct SignIn {
    token: String,
    #[serde(default)]
    next: String,
}

/// `POST /signin`: a token of `api.bearer_tokens` → the session cookie and a 303 back to
/// `next`; a wrong one → the form again with 401 (counted like any refused read). Without
/// tokens configured the pages are open: straight back.
pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, form: axum::Form<SignIn>) -> Response {
    let tokens = &state.settings.api.bearer_tokens;
    let next = safe_next(&form.next).to_owned();
    if tokens.is_empty() {
        return see_other(&next, None);
    }
    let given = form.token.trim();
    let Some(token) = tokens.iter().find(|token| bool::from(given.as_bytes().ct_eq(token.expose().as_bytes()))) else {
        super::webhooks::refused(&state, AuthRoute::ReadApi, AuthFailure::WrongToken);
        return sign_in_page(&next, true);
    };
    let lifetime = state.settings.api.session_lifetime;
    let expires = Instant::now().as_second().saturating_add(lifetime.as_secs());
    let secure = secure_attribute(&headers);
    let cookie = format!(
        "{COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        session_value(token, expires),
        lifetime.as_secs()
    );
    see_other(&next, Some(cookie))
}

/// `POST /signout`: the cookie cleared, back to `/`.
pub async fn sign_out(headers: HeaderMap) -> Response {
    let secure = secure_attribute(&headers);
    see_other("/", Some(format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}")))
}

/// `; Secure` when the browser reached us over HTTPS through a proxy that terminated it (the
/// daemon itself serves plain HTTP), else nothing.
fn secure_attribute(headers: &HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.split(',').next().is_some_and(|first| first.trim().eq_ignore_ascii_case("https")));
    if https { "; Secure" } else { "" }
}

fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(cookie) = cookie.and_then(|cookie| HeaderValue::from_str(&cookie).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn a_session_is_valid_for_the_token_that_signed_it_until_it_expires() {
        let (reader, other) = (Secret::new("reader-token".to_owned()), Secret::new("other".to_owned()));
        let now: Instant = "2026-12-02T12:00:00Z".parse().unwrap();
        let expires = now.as_second() + 3600;
        let value = session_value(&reader, expires);
        let headers = with_cookie(&format!("theme=dark; {COOKIE}={value}; x=1"));
        assert!(signed_in(&headers, &[other.clone(), reader.clone()], now));
        // The token removed from the settings: signed out.
        assert!(!signed_in(&headers, std::slice::from_ref(&other), now));
        // Expired.
        let later: Instant = "2026-12-02T13:00:00Z".parse().unwrap();
        assert!(!signed_in(&headers, std::slice::from_ref(&reader), later));
        // A moved expiry, a changed MAC, garbage: none is a session.
        let forged = format!("{COOKIE}={}.{}", expires + 86_400, value.split_once('.').unwrap().1);
        for cookie in [forged.as_str(), "postmortemd_session=", "postmortemd_session=1.zz", "postmortemd_session=abc"] {
            assert!(!signed_in(&with_cookie(cookie), std::slice::from_ref(&reader), now), "{cookie}");
        }
        // The cookie never carries the token.
        assert!(!value.contains("reader-token"));
    }

    #[test]
    fn next_stays_on_this_daemon() {
        for (next, kept) in [
            ("/api/v1/incidents/3/timeline?format=html", true),
            ("/", true),
            ("//evil.example/x", false),
            ("/\\evil.example", false),
            ("https://evil.example/", false),
            ("javascript:alert(1)", false),
            ("", false),
            ("/a\nb", false),
        ] {
            assert_eq!(safe_next(next) == next, kept, "{next:?}");
        }
    }
}
