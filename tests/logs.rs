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
    let secret_text = "Our door code is 4417, please keep it private";
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
    assert!(!log.contains("4417"), "the customer's text");
    assert!(stack.wait_for("ap@acme-dental.example", 1).len() == 1, "and the cycle did its work");
}
