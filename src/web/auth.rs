//! Who is asking: console users (argon2id password hashes), sessions kept
//! in the database by the SHA-256 of their cookie, a CSRF token per session
//! on every form, and a limit on failed logins per name and per address.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{App, Remote};

pub const SESSION_COOKIE: &str = "billmail_session";
const LOGIN_COOKIE: &str = "billmail_login";
/// Failed logins for one name, or from one address, before a pause.
pub const MAX_FAILED: i64 = 5;
pub const FAILED_WINDOW_MINUTES: i64 = 15;

/// The roles, least to most: a viewer reads; a clerk also decides and records; an admin is a clerk
/// (users are managed on the command line).
pub const ROLES: [&str; 3] = ["viewer", "clerk", "admin"];

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the system's random source");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

/// An argon2id hash (PHC string) of a new password.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow!("random source: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow!("salt: {e}"))?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow!("hashing: {e}"))?.to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A password a new user may have.
pub fn check_new_password(p: &str) -> Result<()> {
    if p.chars().count() < 10 {
        anyhow::bail!("the password must be at least 10 characters");
    }
    Ok(())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(app: &App, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.web.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"))
        .expect("a cookie of hex digits")
}

/// The user behind a request, from its session cookie.
#[derive(Clone, Debug)]
pub struct Who {
    pub name: String,
    pub role: String,
    pub csrf: String,
    pub token_hash: String,
}

impl Who {
    /// Clerks and admins change things; viewers read.
    pub fn may_change(&self) -> bool {
        self.role == "clerk" || self.role == "admin"
    }

    /// A form may act when it carries this session's token and its user may
    /// change things; else the one refusal to answer with, and nothing is done.
    pub fn refuse(&self, csrf: &str) -> Option<Response> {
        let given = csrf.as_bytes();
        let ok = given.len() == self.csrf.len()
            && given.iter().zip(self.csrf.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !ok {
            tracing::warn!(user = %self.name, "web: a form without this session's CSRF token was refused");
            return Some(refusal(
                StatusCode::FORBIDDEN,
                "This form is stale or did not come from billmail's console: nothing was done. Reload the page and try again.",
            ));
        }
        if !self.may_change() {
            tracing::warn!(user = %self.name, "web: a viewer's change was refused");
            return Some(refusal(
                StatusCode::FORBIDDEN,
                "Your role (viewer) may look but not change anything: nothing was done.",
            ));
        }
        None
    }
}

/// A plain refusal page (no template: it must work when nothing else does).
pub fn refusal(status: StatusCode, why: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Refused</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head><body><main class=\"narrow\"><h1>Refused</h1><p class=\"error\">{}</p><p><a href=\"/\">Back to the console</a></p></main></body></html>",
        html_escape::encode_text(why)
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

impl FromRequestParts<Arc<App>> for Who {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        let to_login = |parts: &Parts| {
            let next = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
            let next = if parts.method == axum::http::Method::GET { next } else { "/".into() };
            Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_login(parts)) };
        let hash = sha256_hex(&token);
        match app.store.session(&hash, app.clock.now()).await {
            Ok(Some(s)) => Ok(Who { name: s.user, role: s.role, csrf: s.csrf, token_hash: hash }),
            Ok(None) => Err(to_login(parts)),
            Err(e) => Err(super::failure(&e)),
        }
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only a path of this site is followed after a login (`/x`, never `//host`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".into(),
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_page(State(app): State<Arc<App>>, Query(q): Query<LoginQuery>) -> Response {
    login_form(&app, q.next.as_deref(), None, StatusCode::OK)
}

fn login_form(app: &App, next: Option<&str>, error: Option<&str>, status: StatusCode) -> Response {
    // a login form's token is the cookie it came with (double submit): a
    // page elsewhere cannot post a login of its choosing
    let token = random_hex(16);
    let ctx = minijinja::context! { next => safe_next(next), error => error, token => &token, company => &app.config.company.name };
    let mut r = app.render("login.html.j2", ctx);
    *r.status_mut() = status;
    r.headers_mut().append(header::SET_COOKIE, set_cookie(app, LOGIN_COOKIE, &token, 3600));
    r
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
    next: Option<String>,
}

pub async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(remote): ConnectInfo<Remote>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let now = app.clock.now();
    if f.token.is_empty() || cookie(&headers, LOGIN_COOKIE).as_deref() != Some(f.token.as_str()) {
        return login_form(
            &app,
            f.next.as_deref(),
            Some("The login form had expired; please try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let name = f.name.trim();
    let since = now - chrono::Duration::minutes(FAILED_WINDOW_MINUTES);
    match app.store.failed_logins(name, &remote.0, since).await {
        Ok(n) if n >= MAX_FAILED => {
            tracing::warn!(user = name, remote = %remote.0, "web: login refused, {n} failed attempts in {FAILED_WINDOW_MINUTES} minutes");
            let _ = app.store.record_login(name, &remote.0, false, now).await;
            let why = format!(
                "Too many failed logins for this name or from this address: wait {FAILED_WINDOW_MINUTES} minutes."
            );
            return login_form(&app, f.next.as_deref(), Some(&why), StatusCode::TOO_MANY_REQUESTS);
        }
        Ok(_) => {}
        Err(e) => return super::failure(&e),
    }
    let user = match app.store.web_user(name).await {
        Ok(u) => u,
        Err(e) => return super::failure(&e),
    };
    // an unknown name costs the same time as a wrong password
    let ok = match &user {
        Some((_, hash)) => verify_password(&f.password, hash),
        None => {
            let _ = verify_password(&f.password, &app.dummy_hash);
            false
        }
    };
    if let Err(e) = app.store.record_login(name, &remote.0, ok, now).await {
        return super::failure(&e);
    }
    if !ok {
        tracing::warn!(user = name, remote = %remote.0, "web: failed login");
        return login_form(&app, f.next.as_deref(), Some("Wrong name or password."), StatusCode::UNAUTHORIZED);
    }
    tracing::info!(user = name, remote = %remote.0, "web: login");
    let token = random_hex(32);
    let csrf = random_hex(32);
    let expires = now + chrono::TimeDelta::from_std(app.web.session).unwrap_or(chrono::TimeDelta::hours(8));
    if let Err(e) = app.store.insert_session(&sha256_hex(&token), name, &csrf, now, expires).await {
        return super::failure(&e);
    }
    let mut r = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, &token, app.web.session.as_secs() as i64));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&app, LOGIN_COOKIE, "", 0));
    r
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(State(app): State<Arc<App>>, who: Who, Form(f): Form<CsrfForm>) -> Response {
    // a viewer may log out too: only the token is asked for
    if f.csrf != who.csrf {
        return refusal(StatusCode::FORBIDDEN, "This form is stale: nothing was done.");
    }
    if let Err(e) = app.store.end_session(&who.token_hash).await {
        return super::failure(&e);
    }
    tracing::info!(user = %who.name, "web: logout");
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", 0));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/review/3")), "/review/3");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; billmail_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
