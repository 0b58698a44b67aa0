//! OAuth2 access tokens for SASL XOAUTH2, to IMAP and SMTP: Microsoft 365's
//! client-credentials flow (tenant, client id and secret) and Google's stored
//! refresh token. A token is cached and fetched again before it runs out:
//! once less than five minutes, or less than half its lifetime, is left.
//! Neither the secret nor a token is ever logged or put in an error.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::{OAuth2, Provider};

/// How long a token request may take.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// An access token and when it stops working.
#[derive(Clone, Debug)]
pub struct Token {
    pub access: SecretString,
    pub obtained_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Token {
    /// Still usable at `now` with room to spare: a token is replaced once
    /// less than five minutes, or less than half its lifetime, is left.
    pub fn fresh(&self, now: DateTime<Utc>) -> bool {
        let lifetime = self.expires_at - self.obtained_at;
        let margin = (lifetime / 2).min(chrono::Duration::minutes(5));
        now < self.expires_at - margin
    }
}

/// The SASL XOAUTH2 initial response (before base64): RFC 7628's
/// predecessor as Google and Microsoft define it.
pub fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct ErrorReply {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Fetches and caches tokens for one `[oauth2]` section.
pub struct TokenSource {
    cfg: OAuth2,
    http: reqwest::Client,
    cached: tokio::sync::Mutex<Option<Token>>,
}

impl TokenSource {
    pub fn new(cfg: &OAuth2) -> Result<TokenSource> {
        let http = reqwest::Client::builder()
            .timeout(TOKEN_TIMEOUT)
            .user_agent(concat!("billmail/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow!("cannot set up the HTTPS client: {e}"))?;
        Ok(TokenSource { cfg: cfg.clone(), http, cached: tokio::sync::Mutex::new(None) })
    }

    /// A token good at `now`: the cached one, or a new one.
    pub async fn token(&self, now: DateTime<Utc>) -> Result<SecretString> {
        Ok(self.fresh(now).await?.access)
    }

    /// As [`TokenSource::token`], with when it expires: the daemon hands
    /// it whole to each cycle's process.
    pub async fn fresh(&self, now: DateTime<Utc>) -> Result<Token> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| t.fresh(now)) {
            return Ok(t.clone());
        }
        let t = self.fetch(now).await?;
        tracing::info!(expires_at = %t.expires_at, endpoint = %self.endpoint_host(), "OAuth2 token obtained");
        *cached = Some(t.clone());
        Ok(t)
    }

    pub fn provider(&self) -> Provider {
        self.cfg.provider
    }

    /// Starts with `token` cached: a cycle's process is given the daemon's,
    /// so it does not ask the provider for one of its own.
    pub async fn seed(&self, token: Token) {
        *self.cached.lock().await = Some(token);
    }

    /// Forgets the cached token (after a server refused it).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    fn endpoint_host(&self) -> String {
        reqwest::Url::parse(&self.cfg.token_url)
            .ok()
            .and_then(|u| u.host_str().map(String::from))
            .unwrap_or_else(|| self.cfg.token_url.clone())
    }

    async fn fetch(&self, now: DateTime<Utc>) -> Result<Token> {
        let secret = super::read_secret(&self.cfg.client_secret)?;
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", self.cfg.client_id.clone()),
            ("client_secret", secret.expose_secret().to_string()),
            ("scope", self.cfg.scope.clone()),
        ];
        match self.cfg.provider {
            Provider::Microsoft => form.push(("grant_type", "client_credentials".into())),
            Provider::Google => {
                let refresh =
                    self.cfg.refresh_token.as_ref().ok_or_else(|| anyhow!("[oauth2] has no refresh token"))?;
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", super::read_secret(refresh)?.expose_secret().to_string()));
            }
        }
        let host = self.endpoint_host();
        let reply = self
            .http
            .post(&self.cfg.token_url)
            .form(&form)
            .send()
            .await
            .with_context(|| format!("cannot reach the OAuth2 token endpoint {host}"))?;
        let status = reply.status();
        let body = reply.text().await.with_context(|| format!("OAuth2 token endpoint {host}"))?;
        if !status.is_success() {
            let err: ErrorReply = serde_json::from_str(&body).unwrap_or_default();
            bail!("{}", explain(self.cfg.provider, &host, status.as_u16(), &err));
        }
        let ok: TokenReply = serde_json::from_str(&body)
            .map_err(|_| anyhow!("OAuth2 token endpoint {host} answered {status} without an access_token"))?;
        if ok.access_token.is_empty() {
            bail!("OAuth2 token endpoint {host} answered with an empty access_token");
        }
        let secs = match ok.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3600)
        .clamp(1, 24 * 3600);
        Ok(Token {
            access: ok.access_token.into(),
            obtained_at: now,
            expires_at: now + chrono::Duration::seconds(secs),
        })
    }
}

/// The endpoint's refusal, with what the admin has to do about it.
fn explain(provider: Provider, host: &str, status: u16, err: &ErrorReply) -> String {
    let first_line = err.error_description.lines().next().unwrap_or("").trim();
    let said = match (err.error.as_str(), first_line) {
        ("", "") => format!("HTTP {status}"),
        (e, "") => e.to_string(),
        ("", d) => d.to_string(),
        (e, d) => format!("{e}: {d}"),
    };
    let code = |c: &str| err.error_description.contains(c);
    let hint = match provider {
        Provider::Microsoft if code("AADSTS7000215") || code("AADSTS7000222") => {
            "the client secret is wrong or has expired: create a new one under Certificates & secrets and put it where [oauth2] client_secret_* points"
        }
        Provider::Microsoft if code("AADSTS700016") => {
            "the client id is not an application in this tenant: check [oauth2] client_id and tenant against the app registration"
        }
        Provider::Microsoft if code("AADSTS90002") || code("AADSTS900023") => {
            "the tenant is unknown: [oauth2] tenant must be the directory (tenant) id or its primary domain"
        }
        Provider::Microsoft
            if code("AADSTS65001") || code("AADSTS650057") || code("AADSTS500011") || err.error == "invalid_scope" =>
        {
            "consent is missing: give the app the Office 365 Exchange Online application permissions IMAP.AccessAsApp and SMTP.SendAsApp, then Grant admin consent"
        }
        Provider::Microsoft => "see the AADSTS code in Microsoft's documentation",
        Provider::Google if err.error == "invalid_grant" => {
            "the refresh token was revoked or has expired: run the consent again for the mailbox's account and store the new refresh token"
        }
        Provider::Google if err.error == "invalid_client" || err.error == "unauthorized_client" => {
            "the client id or secret is wrong, or the client may not use this grant: check [oauth2] against the Google Cloud console"
        }
        Provider::Google => "check the OAuth client and consent in the Google Cloud console",
    };
    format!("the OAuth2 token endpoint {host} refused (HTTP {status}, {said}); {hint}")
}

/// What to say when a mail server refuses a token the endpoint gave.
pub fn refused_hint(provider: Provider) -> &'static str {
    match provider {
        Provider::Microsoft => {
            "the token was issued but the mailbox refused it: in Exchange Online, register the app's service principal (New-ServicePrincipal) and give it access to this mailbox (Add-MailboxPermission -AccessRights FullAccess; for sending, Add-RecipientPermission SendAs), and check that IMAP and authenticated SMTP are enabled for the mailbox"
        }
        Provider::Google => {
            "the token was issued but the mailbox refused it: the username must be the account that gave consent, with the scope https://mail.google.com/ and IMAP enabled in Gmail's settings"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(obtained: i64, lifetime: i64) -> Token {
        let t0 = DateTime::from_timestamp(obtained, 0).unwrap();
        Token { access: "x".into(), obtained_at: t0, expires_at: t0 + chrono::Duration::seconds(lifetime) }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn an_hour_token_is_replaced_five_minutes_before_it_ends() {
        let t = token(0, 3600);
        assert!(t.fresh(at(0)));
        assert!(t.fresh(at(3299)));
        assert!(!t.fresh(at(3300)));
        assert!(!t.fresh(at(4000)));
    }

    #[test]
    fn a_short_token_is_replaced_at_half_its_life() {
        let t = token(100, 60);
        assert!(t.fresh(at(129)));
        assert!(!t.fresh(at(130)));
    }

    #[test]
    fn the_sasl_string_is_as_providers_define_it() {
        assert_eq!(xoauth2("a@b.example", "tok"), "user=a@b.example\x01auth=Bearer tok\x01\x01");
    }

    #[test]
    fn a_token_is_never_printed() {
        let t = Token { access: "secret-token-value".into(), ..token(0, 10) };
        assert!(!format!("{t:?}").contains("secret-token-value"));
    }

    #[test]
    fn refusals_say_what_to_do() {
        let e = ErrorReply {
            error: "invalid_client".into(),
            error_description: "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1".into(),
        };
        let m = explain(Provider::Microsoft, "login.microsoftonline.com", 401, &e);
        assert!(m.contains("AADSTS7000215: Invalid client secret provided."), "{m}");
        assert!(!m.contains("Trace ID"), "{m}");
        assert!(m.contains("client secret is wrong or has expired"), "{m}");
        let consent = ErrorReply {
            error: "invalid_grant".into(),
            error_description: "AADSTS65001: The user or administrator has not consented".into(),
        };
        assert!(explain(Provider::Microsoft, "h", 400, &consent).contains("Grant admin consent"));
        let revoked = ErrorReply {
            error: "invalid_grant".into(),
            error_description: "Token has been expired or revoked.".into(),
        };
        assert!(explain(Provider::Google, "h", 400, &revoked).contains("run the consent again"));
        assert!(explain(Provider::Google, "h", 502, &ErrorReply::default()).contains("HTTP 502"));
    }
}
