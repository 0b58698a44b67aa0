//! A local OAuth2 authorization server for tests: a token endpoint in
//! Microsoft's (client credentials) and Google's (refresh token) shapes, and
//! an RFC 7662 introspection endpoint that Dovecot asks about each token.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub const TENANT: &str = "contoso.example";
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_SECRET: &str = "s3cr3t~client~value";
pub const REFRESH_TOKEN: &str = "1//refresh-token-value";
pub const MAILBOX: &str = "accounting@krgroup.example";

pub struct State {
    /// Seconds each token lives (`expires_in`).
    pub lifetime: u64,
    /// Whether the app may open the mailbox (introspection says active).
    pub mailbox_permission: bool,
    /// Whether an admin consented to the permissions.
    pub consent: bool,
    /// Every token request's form.
    pub requests: Vec<BTreeMap<String, String>>,
    /// Tokens issued, in order.
    pub issued: Vec<String>,
    pub revoked: HashSet<String>,
    /// Every token Dovecot asked about.
    pub introspected: Vec<String>,
}

pub struct TokenServer {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
}

impl TokenServer {
    pub fn start() -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            lifetime: 3599,
            mailbox_permission: true,
            consent: true,
            requests: vec![],
            issued: vec![],
            revoked: HashSet::new(),
            introspected: vec![],
        }));
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &s);
                });
            }
        });
        TokenServer { port, state }
    }

    pub fn microsoft_url(&self) -> String {
        format!("http://127.0.0.1:{}/{TENANT}/oauth2/v2.0/token", self.port)
    }

    pub fn google_url(&self) -> String {
        format!("http://127.0.0.1:{}/google/token", self.port)
    }

    pub fn introspection_url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn token_requests(&self) -> usize {
        self.with(|s| s.requests.len())
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form(body: &str) -> BTreeMap<String, String> {
    body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((_, v)) = l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (status, json) = answer(&path, form(&body), state);
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )?;
    conn.flush()
}

fn answer(path: &str, f: BTreeMap<String, String>, state: &Mutex<State>) -> (&'static str, String) {
    let mut s = state.lock().unwrap();
    let error = |status, error: &str, description: &str| {
        (status, serde_json::json!({"error": error, "error_description": description}).to_string())
    };
    let ms = format!("/{TENANT}/oauth2/v2.0/token");
    if path == "/introspect" {
        let token = f.get("token").cloned().unwrap_or_default();
        s.introspected.push(token.clone());
        let active = s.mailbox_permission && s.issued.contains(&token) && !s.revoked.contains(&token);
        let reply = if active {
            serde_json::json!({"active": true, "email": MAILBOX})
        } else {
            serde_json::json!({"active": false})
        };
        return ("200 OK", reply.to_string());
    }
    if path != ms && path != "/google/token" {
        return error("404 Not Found", "not_found", "no such endpoint");
    }
    s.requests.push(f.clone());
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return error(
            "400 Bad Request",
            "unauthorized_client",
            "AADSTS700016: Application with identifier was not found in the directory.",
        );
    }
    if f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
        return error(
            "401 Unauthorized",
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 0000\r\nCorrelation ID: 1111",
        );
    }
    if path == ms {
        if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return error("400 Bad Request", "unsupported_grant_type", "AADSTS70003: wrong grant");
        }
        if !s.consent {
            return error(
                "400 Bad Request",
                "invalid_grant",
                "AADSTS65001: The user or administrator has not consented to use the application.",
            );
        }
    } else if f.get("grant_type").map(String::as_str) != Some("refresh_token")
        || f.get("refresh_token").map(String::as_str) != Some(REFRESH_TOKEN)
    {
        return error("400 Bad Request", "invalid_grant", "Token has been expired or revoked.");
    }
    let token = format!("tok-{}-{}", s.issued.len() + 1, std::process::id());
    s.issued.push(token.clone());
    ("200 OK", serde_json::json!({"token_type": "Bearer", "access_token": token, "expires_in": s.lifetime}).to_string())
}
