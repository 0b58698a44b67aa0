//! TLS and STARTTLS to real servers: Dovecot's IMAP and submission with a
//! certificate from a CA made for the run, trusted through `ca_file`; and a
//! server billmail cannot trust refused before any password is sent.

mod common;

use common::mailstack::MailStack;
use common::{ACCOUNTS, Bm};

const NOV2: &str = "2026-11-02T09:00:00-05:00";
const NOV15: &str = "2026-11-15T08:00:00-05:00";
const ACCOUNTING: &str = "accounting@krgroup.example";

const AUTO_REPLY: &[u8] = b"From: Out Of Office <ap@acme-dental.example>\r\nTo: accounting@krgroup.example\r\nSubject: Automatic reply: Invoice\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <ooo-tls@acme-dental.example>\r\nDate: Tue, 10 Nov 2026 10:00:00 -0500\r\n\r\nI am out of the office until Monday.\r\n";

/// A billmail reading and sending over the given security, trusting `ca`.
fn billmail(stack: &MailStack, security: &str, imap_port: u16, smtp_port: u16, ca: Option<&str>) -> Bm {
    let bm = Bm::new();
    bm.write("password", &stack.password);
    let ca = ca.map(|c| format!("ca_file = \"{c}\"\n")).unwrap_or_default();
    let config = format!(
        "{}
[imap]
host = \"localhost\"
port = {imap_port}
security = \"{security}\"
{ca}username = \"{ACCOUNTING}\"
password_file = \"password\"
start = \"2026-01-01\"

[smtp]
host = \"127.0.0.1\"
port = {smtp_port}
security = \"{security}\"
{ca}username = \"{ACCOUNTING}\"
password_file = \"password\"
from = \"KR Group Accounting <{ACCOUNTING}>\"
",
        common::CONFIG
    );
    bm.write("billmail.toml", &config);
    bm.run(&["check-config"]).ok();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm
}

#[test]
fn tls_and_starttls_with_a_private_ca_read_and_send() {
    let stack = MailStack::start();
    let ca = stack.tls_ca.to_str().unwrap().to_string();
    for (security, imap, smtp, who) in [
        ("tls", stack.imaps_port, stack.submissions_port, "ap@acme-dental.example"),
        ("starttls", stack.imap_port, stack.submission_port, "billing@harborview.example"),
    ] {
        let bm = billmail(&stack, security, imap, smtp, Some(&ca));
        stack.append(ACCOUNTING, "INBOX", AUTO_REPLY);
        let out = bm.at(NOV15, &["tick"]).ok();
        assert!(out.stdout.contains("intake: 1 processed"), "{security}: {}", out.stdout);
        assert!(out.stdout.contains("sent #1") && out.stdout.contains("sent #2"), "{security}: {}", out.stdout);
        assert!(stack.wait_for(who, 1).iter().any(|m| String::from_utf8_lossy(m).contains("INV-2026-")));
    }
    // the logins went over TLS, with PLAIN as Dovecot offers it
    let log = std::fs::read_to_string(stack.dir.path().join("dovecot/dovecot.log")).unwrap();
    assert!(log.contains("imap-login: Info: Login: user=<accounting@krgroup.example>, method=PLAIN"), "{log}");
    assert!(log.lines().any(|l| l.contains("imap-login: Info: Login:") && l.contains("TLS")), "{log}");
    assert!(log.lines().any(|l| l.contains("submission-login: Info: Login:") && l.contains("TLS")), "{log}");
}

#[test]
fn a_server_that_cannot_be_trusted_gets_no_password() {
    let stack = MailStack::start();
    for security in ["tls", "starttls"] {
        let port = if security == "tls" { stack.imaps_port } else { stack.imap_port };
        let bm = billmail(&stack, security, port, stack.submission_port, None);
        let out = bm.at(NOV15, &["tick"]).fails();
        // one stage failed, and it is named; the log lines above it are the log
        let failed = out.failures();
        assert_eq!(failed.len(), 1, "{}", out.stderr);
        assert!(failed[0].starts_with("billmail: the mailbox: "), "{security}: {}", failed[0]);
        assert!(
            failed[0].contains("TLS handshake") && failed[0].contains("UnknownIssuer"),
            "{security}: {}",
            failed[0]
        );
        // the 15th's invoices are issued all the same, and wait in the outbox
        // (the SMTP server cannot be trusted either: nothing is sent to it)
        assert_eq!(bm.invoices().len(), 2, "{security}");
        assert!(bm.outbox().iter().all(|m| m["state"] == "queued"), "{security}");
    }
    let log = std::fs::read_to_string(stack.dir.path().join("dovecot/dovecot.log")).unwrap();
    assert!(!log.contains("Login: user=<accounting@krgroup.example>"), "{log}");
}
