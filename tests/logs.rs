//! Nothing secret or private in the log at any level: at `BILLMAIL_LOG=trace`
//! a cycle that logs in to the mailbox (AUTHENTICATE PLAIN, as Dovecot
//! offers it), reads a customer's message and sends mail leaves neither the
//! password (in clear or in base64) nor the message's text in the log.

mod common;

use base64::Engine;
use common::mailstack::MailStack;
use common::{ACCOUNTS, Bm};

#[test]
fn at_trace_level_the_log_holds_no_password_and_no_customer_text() {
    let stack = MailStack::start();
    let bm = Bm::new();
    let pw = bm.write("imap-password", &stack.password);
    bm.write("billmail.toml", &format!("{}\n{}\n{}", common::CONFIG, stack.imap_config(&pw), stack.smtp_config()));
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    // (a code no timing, port or id in a log could spell by chance: "4417"
    // alone once matched a number in the trace)
    let secret_text = "Our door code is QZ4417XK, please keep it private";
    stack.append(
        "accounting@krgroup.example",
        "INBOX",
        format!(
            "From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: Access\r\n\
             Message-ID: <log-1@acme-dental.example>\r\nDate: Tue, 17 Nov 2026 10:00:00 -0500\r\n\r\n{secret_text}\r\n"
        )
        .as_bytes(),
    );
    let out = bm.run_env(&["tick", "--now", "2026-11-15T08:00:00-05:00"], &[("BILLMAIL_LOG", "trace")]).ok();
    let log = out.stderr;
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "the log is at trace level: {log}");
    let plain =
        base64::engine::general_purpose::STANDARD.encode(format!("\0accounting@krgroup.example\0{}", stack.password));
    assert!(!log.contains(&stack.password), "the password");
    assert!(!log.contains(&plain), "the PLAIN login in base64");
    assert!(!log.contains("QZ4417XK"), "the customer's text");
    assert!(stack.wait_for("ap@acme-dental.example", 1).len() == 1, "and the cycle did its work");
}

/// What a log must not hold for a secret: the secret itself and its base64
/// (SASL sends both PLAIN and LOGIN answers in base64).
fn assert_not_in(log: &str, secrets: &[String]) {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for secret in secrets {
        assert!(!log.contains(secret.as_str()), "{secret:?} in the log");
        assert!(!log.contains(&b64(secret)), "{secret:?} in base64 in the log");
    }
}

/// A server that does not list its capabilities in its greeting gets the
/// IMAP `LOGIN` command (the password in the clear on the wire); SMTP logs
/// in through Dovecot's submission service with a password (SASL PLAIN).
/// Neither password reaches a trace log.
#[test]
fn a_greeting_without_capabilities_gets_login_and_the_password_stays_out_of_the_log() {
    let stack = MailStack::start();
    let bare = common::bare::BareGreeting::start(stack.imap_port);
    let bm = Bm::new();
    let pw = bm.write("imap-password", &stack.password);
    bm.write(
        "billmail.toml",
        &format!(
            "{}\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nusername = \"accounting@krgroup.example\"\n\
             password_file = \"{}\"\nstart = \"2026-01-01\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n\
             username = \"accounting@krgroup.example\"\npassword_file = \"{}\"\n\
             from = \"KR Group Accounting <accounting@krgroup.example>\"\n",
            common::CONFIG,
            bare.port,
            pw.display(),
            stack.submission_port,
            pw.display()
        ),
    );
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    stack.append(
        "accounting@krgroup.example",
        "INBOX",
        b"From: Jane Doe <jane.doe@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: Access\r\n\
          Message-ID: <log-2@acme-dental.example>\r\nDate: Tue, 17 Nov 2026 10:00:00 -0500\r\n\r\nThe alarm code is 9083.\r\n",
    );
    let out = bm.run_env(&["tick", "--now", "2026-11-15T08:00:00-05:00"], &[("BILLMAIL_LOG", "trace")]).ok();
    let greetings = bare.greetings.lock().unwrap().clone();
    assert!(!greetings.is_empty() && greetings.iter().all(|g| !g.contains("CAPABILITY")), "{greetings:?}");
    let log = out.stderr;
    assert!(log.contains("mechanism=Login"), "the LOGIN command was used: {log}");
    assert_not_in(&log, &[stack.password.clone(), format!("\0accounting@krgroup.example\0{}", stack.password)]);
    assert!(!log.contains("9083"), "the customer's text");
    assert!(out.stdout.contains("intake: 0 processed, 0 to review, 1 left for people"), "{}", out.stdout);
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1, "the invoice went out through submission");
}

/// XOAUTH2 to the same capability-less greeting, and to submission: neither
/// the token, the client secret nor the SASL string reaches a trace log.
#[test]
fn xoauth2_behind_a_greeting_without_capabilities_keeps_the_token_out_of_the_log() {
    use common::oauth::{self, TokenServer};
    let server = TokenServer::start();
    let stack = MailStack::start_with_oauth(&server.introspection_url());
    let bare = common::bare::BareGreeting::start(stack.imap_port);
    let bm = Bm::new();
    bm.write("client-secret", &format!("{}\n", oauth::CLIENT_SECRET));
    bm.write(
        "billmail.toml",
        &format!(
            "{}\n[imap]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\nusername = \"accounting@krgroup.example\"\n\
             auth = \"oauth2\"\nstart = \"2026-01-01\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"plain\"\n\
             username = \"accounting@krgroup.example\"\nauth = \"oauth2\"\n\
             from = \"KR Group Accounting <accounting@krgroup.example>\"\n\n[oauth2]\nprovider = \"microsoft\"\n\
             tenant = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"client-secret\"\ntoken_url = \"{}\"\n",
            common::CONFIG,
            bare.port,
            stack.submission_port,
            oauth::TENANT,
            oauth::CLIENT_ID,
            server.microsoft_url()
        ),
    );
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    let out = bm.run_env(&["tick", "--now", "2026-11-15T08:00:00-05:00"], &[("BILLMAIL_LOG", "trace")]).ok();
    let greetings = bare.greetings.lock().unwrap().clone();
    assert!(!greetings.is_empty() && greetings.iter().all(|g| !g.contains("CAPABILITY")), "{greetings:?}");
    assert_eq!(stack.wait_for("ap@acme-dental.example", 1).len(), 1, "the invoice went out through submission");
    let token = server.with(|s| {
        assert!(s.introspected.len() >= 2, "Dovecot checked the token for IMAP and for submission");
        s.issued[0].clone()
    });
    let sasl = billmail::mail::oauth2::xoauth2("accounting@krgroup.example", &token);
    for text in [&out.stdout, &out.stderr] {
        assert_not_in(text, &[token.clone(), sasl.clone(), oauth::CLIENT_SECRET.to_string()]);
    }
}
