//! OAuth2 (XOAUTH2) to IMAP and SMTP, all local: a token endpoint of our own
//! in Microsoft's and Google's shapes, and a real Dovecot that checks every
//! token against that server's introspection endpoint, for IMAP and for its
//! submission service (which relays through OpenSMTPD).

mod common;

use std::sync::Arc;

use billmail::config::Config;
use billmail::mail::oauth2::TokenSource;
use billmail::mail::smtp::Sender;
use billmail::store::{NewMail, Store};
use chrono::{DateTime, Duration, Utc};
use common::mailstack::MailStack;
use common::oauth::{self, TokenServer};
use common::{ACCOUNTS, Bm};

const NOV2: &str = "2026-11-02T09:00:00-05:00";
const NOV15: &str = "2026-11-15T08:00:00-05:00";
const ACCOUNTING: &str = "accounting@krgroup.example";

const QUESTION: &[u8] = b"From: Paul <paul@riverbend.example>\r\nTo: accounting@krgroup.example\r\nSubject: Question\r\nMessage-ID: <q1@riverbend.example>\r\nDate: Tue, 10 Nov 2026 10:00:00 -0500\r\n\r\nWhy did our invoice go up this month?\r\n";
const AUTO_REPLY: &[u8] = b"From: Out Of Office <ap@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: Automatic reply: Invoice\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <ooo1@acme-dental.example>\r\nDate: Tue, 10 Nov 2026 10:00:00 -0500\r\n\r\nI am out of the office until Monday.\r\n";

/// A billmail whose mailbox and SMTP both log in with XOAUTH2.
fn billmail(stack: &MailStack, oauth2: &str) -> Bm {
    let bm = Bm::new();
    bm.write("client-secret", &format!("{}\n", oauth::CLIENT_SECRET));
    bm.write("refresh-token", oauth::REFRESH_TOKEN);
    let config = format!(
        "{}
[imap]
host = \"127.0.0.1\"
port = {}
security = \"plain\"
username = \"{ACCOUNTING}\"
auth = \"oauth2\"
start = \"2026-01-01\"

[smtp]
host = \"127.0.0.1\"
port = {}
security = \"plain\"
username = \"{ACCOUNTING}\"
auth = \"oauth2\"
from = \"KR Group Accounting <{ACCOUNTING}>\"

{oauth2}",
        common::CONFIG,
        stack.imap_port,
        stack.submission_port
    );
    bm.write("billmail.toml", &config);
    bm.run(&["check-config"]).ok();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm
}

fn microsoft(server: &TokenServer) -> String {
    format!(
        "[oauth2]\nprovider = \"microsoft\"\ntenant = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"client-secret\"\ntoken_url = \"{}\"\n",
        oauth::TENANT,
        oauth::CLIENT_ID,
        server.microsoft_url()
    )
}

fn google(server: &TokenServer) -> String {
    format!(
        "[oauth2]\nprovider = \"google\"\nclient_id = \"{}\"\nclient_secret_file = \"client-secret\"\nrefresh_token_file = \"refresh-token\"\ntoken_url = \"{}\"\n",
        oauth::CLIENT_ID,
        server.google_url()
    )
}

#[test]
fn microsoft_365_client_credentials_read_the_mailbox_and_send_invoices() {
    let server = TokenServer::start();
    let stack = MailStack::start_with_oauth(&server.introspection_url());
    let bm = billmail(&stack, &microsoft(&server));
    stack.append(ACCOUNTING, "INBOX", AUTO_REPLY);
    stack.append(ACCOUNTING, "INBOX", QUESTION);

    // with every log line on, down to the libraries' traces
    let out = bm.run_env(&["tick", "--now", NOV15], &[("BILLMAIL_LOG", "trace")]).ok();
    assert!(out.stdout.contains("intake: 1 processed, 0 to review, 1 left for people"), "{}", out.stdout);
    assert!(out.stderr.contains("OAuth2 token obtained"), "{}", out.stderr);
    assert!(out.stdout.contains("sent #1") && out.stdout.contains("sent #2"), "{}", out.stdout);
    assert_eq!(stack.folder(ACCOUNTING, "Billing/Processed").len(), 1, "the auto-reply was moved");
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1, "the invoice went out through submission");
    assert_eq!(stack.wait_for("billing@harborview.example", 1).len(), 1);

    // one token served both the mailbox and SMTP, asked for as Microsoft wants
    server.with(|s| {
        assert_eq!(s.requests.len(), 1, "{:?}", s.requests);
        let r = &s.requests[0];
        assert_eq!(r["grant_type"], "client_credentials");
        assert_eq!(r["scope"], "https://outlook.office365.com/.default");
        assert_eq!(r["client_id"], oauth::CLIENT_ID);
        assert_eq!(r["client_secret"], oauth::CLIENT_SECRET, "the trailing newline of the file is dropped");
        assert!(s.introspected.len() >= 2, "Dovecot checked the token for IMAP and for submission");
        assert!(s.introspected.iter().all(|t| t == &s.issued[0]));
    });
    // nothing secret in what billmail printed or logged, in the clear or in base64
    let sasl = billmail::mail::oauth2::xoauth2(ACCOUNTING, "tok-1");
    let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
    for text in [&out.stdout, &out.stderr] {
        for secret in [oauth::CLIENT_SECRET.to_string(), "tok-1".into(), b64(&sasl), b64(oauth::CLIENT_SECRET)] {
            assert!(!text.contains(&secret), "{secret} in:\n{text}");
        }
    }
}

#[test]
fn google_refresh_token_reads_and_sends() {
    let server = TokenServer::start();
    let stack = MailStack::start_with_oauth(&server.introspection_url());
    let bm = billmail(&stack, &google(&server));
    stack.append(ACCOUNTING, "INBOX", AUTO_REPLY);
    let out = bm.at(NOV15, &["tick"]).ok();
    assert!(out.stdout.contains("intake: 1 processed"), "{}", out.stdout);
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1);
    server.with(|s| {
        assert_eq!(s.requests.len(), 1);
        let r = &s.requests[0];
        assert_eq!(r["grant_type"], "refresh_token");
        assert_eq!(r["refresh_token"], oauth::REFRESH_TOKEN);
        assert_eq!(r["scope"], "https://mail.google.com/");
    });
}

#[test]
fn a_refused_secret_missing_consent_or_missing_mailbox_permission_is_one_clear_error() {
    let server = TokenServer::start();
    let stack = MailStack::start_with_oauth(&server.introspection_url());
    let bm = billmail(&stack, &microsoft(&server));
    stack.append(ACCOUNTING, "INBOX", AUTO_REPLY);

    // a wrong (or expired) secret
    bm.write("client-secret", "an-old-secret");
    let out = bm.at(NOV15, &["tick"]).fails();
    // one stage failed, and it is named once (the lines above it are the log)
    let failed = out.failures();
    assert_eq!(failed.len(), 1, "{}", out.stderr);
    let err = failed[0];
    assert!(err.starts_with("billmail: the mailbox: "), "{err}");
    assert!(!out.stderr.contains("an-old-secret"), "{}", out.stderr);
    assert!(err.contains("AADSTS7000215: Invalid client secret provided"), "{err}");
    assert!(err.contains("the client secret is wrong or has expired"), "{err}");
    assert!(!err.contains("Trace ID") && !err.contains("an-old-secret"), "{err}");
    let status = bm.at(NOV15, &["status", "--json"]).ok().json();
    assert!(status["last_error"]["detail"].as_str().unwrap().contains("AADSTS7000215"), "{status}");

    // the right secret, but nobody granted admin consent
    bm.write("client-secret", oauth::CLIENT_SECRET);
    server.with(|s| s.consent = false);
    let err = bm.at(NOV15, &["tick"]).fails().stderr;
    assert!(err.contains("AADSTS65001") && err.contains("Grant admin consent"), "{err}");

    // a token, but the app was never given the mailbox
    server.with(|s| {
        s.consent = true;
        s.mailbox_permission = false;
    });
    let err = bm.at(NOV15, &["tick"]).fails().stderr;
    assert!(err.contains(&format!("IMAP XOAUTH2 as {ACCOUNTING} refused")), "{err}");
    assert!(err.contains("Add-MailboxPermission"), "{err}");
    assert!(!err.contains("tok-"), "{err}");
    // nothing was read or moved; the 15th's invoices were issued all the
    // same and wait in the outbox (SMTP takes the same token)
    assert_eq!(stack.folder(ACCOUNTING, "INBOX").len(), 1);
    assert_eq!(bm.invoices().len(), 2);
    assert!(bm.outbox().iter().all(|m| m["state"] == "queued"));

    // once the admin fixes it, the next cycle works
    server.with(|s| s.mailbox_permission = true);
    let out = bm.at("2026-11-15T09:00:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("intake: 1 processed"), "{}", out.stdout);
    assert!(out.stdout.contains("sent #1"), "{}", out.stdout);
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn queue(store: &Store, n: u32, now: DateTime<Utc>) {
    let mut tx = store.begin().await.unwrap();
    let mail = NewMail {
        kind: "invoice".into(),
        account: None,
        invoice_id: None,
        to: vec!["ap@one.example".into()],
        cc: vec![],
        subject: format!("Message {n}"),
        text: format!("text {n}"),
        html: format!("<p>html {n}</p>"),
        message_id: format!("<m{n}.{}@krgroup.example>", now.timestamp()),
        in_reply_to: None,
        references: None,
    };
    tx.queue_mail(&mail, now).await.unwrap();
    tx.commit().await.unwrap();
}

#[test]
fn a_long_running_sender_replaces_its_token_before_it_runs_out() {
    let server = TokenServer::start();
    server.with(|s| s.lifetime = 60);
    let stack = MailStack::start_with_oauth(&server.introspection_url());
    let bm = billmail(&stack, &microsoft(&server));
    let config = Config::load(&bm.path("billmail.toml")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = Store::open(&config.database.path).await.unwrap();
        let tokens = Arc::new(TokenSource::new(config.oauth2.as_ref().unwrap()).unwrap());
        let sender = Sender::new(config.smtp.as_ref().unwrap(), Some(tokens.clone())).unwrap();
        let t0 = t("2026-11-20T10:00:00Z");
        let renderer = billmail::render::Renderer::new();
        let pdfs = billmail::engine::Pdfs { renderer: &renderer, company: &config.company };

        queue(&store, 1, t0).await;
        let d = billmail::engine::deliver(&store, &sender, pdfs, t0).await.unwrap();
        assert_eq!(d.sent.len(), 1, "{d:?}");
        assert_eq!(server.token_requests(), 1);

        // twenty seconds on, the token is good: no new request
        queue(&store, 2, t0 + Duration::seconds(20)).await;
        let d = billmail::engine::deliver(&store, &sender, pdfs, t0 + Duration::seconds(20)).await.unwrap();
        assert_eq!(d.sent.len(), 1, "{d:?}");
        assert_eq!(server.token_requests(), 1);

        // past half its life, it is replaced, and the pool logs in with the new one
        queue(&store, 3, t0 + Duration::seconds(31)).await;
        let d = billmail::engine::deliver(&store, &sender, pdfs, t0 + Duration::seconds(31)).await.unwrap();
        assert_eq!(d.sent.len(), 1, "{d:?}");
        assert_eq!(server.token_requests(), 2);
        server.with(|s| assert_eq!(s.introspected.last(), s.issued.get(1)));

        store.close().await;
    });
    assert_eq!(stack.wait_for("ap@one.example", 3).len(), 3, "each message once");
}

#[test]
fn an_smtp_login_refused_keeps_the_mail_queued_with_the_reason() {
    let server = TokenServer::start();
    let stack = MailStack::start_with_oauth(&server.introspection_url());
    let bm = billmail(&stack, &microsoft(&server));
    // only sending: the mailbox is read by someone else
    let config = std::fs::read_to_string(bm.path("billmail.toml")).unwrap();
    let start = config.rfind("\n[imap]\n").unwrap();
    let end = config.rfind("\n[smtp]\n").unwrap();
    bm.write("billmail.toml", &format!("{}{}", &config[..start], &config[end..]));
    server.with(|s| s.mailbox_permission = false);
    let out = bm.at(NOV15, &["tick"]).ok();
    assert!(out.stdout.contains("will retry #1"), "{}", out.stdout);
    assert!(out.stdout.contains("the SMTP server refused the login"), "{}", out.stdout);
    assert!(out.stdout.contains("Add-RecipientPermission SendAs"), "{}", out.stdout);
    assert!(bm.outbox().iter().all(|m| m["state"] == "queued"));
    server.with(|s| s.mailbox_permission = true);
    let out = bm.at("2026-11-15T09:00:00-05:00", &["tick"]).ok();
    assert!(out.stdout.contains("sent #1") && out.stdout.contains("sent #2"), "{}", out.stdout);
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1);
}

#[test]
fn the_daemon_asks_for_one_token_and_hands_it_to_each_cycle() {
    let server = TokenServer::start();
    let stack = MailStack::start_with_oauth(&server.introspection_url());
    let bm = billmail(&stack, &microsoft(&server));
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["run", "--now", NOV15, "--config"])
        .arg(bm.path("billmail.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // the first cycle sends the invoices; a message that arrives later wakes
    // a second one (each in a child of its own, logging in with XOAUTH2)
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1);
    stack.append(ACCOUNTING, "INBOX", AUTO_REPLY);
    let start = std::time::Instant::now();
    while stack.folder(ACCOUNTING, "Billing/Processed").is_empty() {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "the second cycle did not read the mailbox");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let pid = daemon.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(daemon.wait().unwrap().success());
    server.with(|s| {
        assert_eq!(s.requests.len(), 1, "one token for the daemon and its cycles: {:?}", s.requests);
        assert!(s.introspected.len() >= 3, "the daemon's IDLE login and each cycle's logins used it");
        assert!(s.introspected.iter().all(|t| t == &s.issued[0]));
    });
}
