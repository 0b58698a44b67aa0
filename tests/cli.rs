//! The billing core through the command line, on a real SQLite database.

mod common;

use common::{ACCOUNTS, Bm};
use serde_json::Value;

const NOV2: &str = "2026-11-02T09:00:00-05:00";
const NOV15: &str = "2026-11-15T08:00:00-05:00";

fn agreement<'a>(invoices: &'a [Value], account: &str, period: &str) -> Vec<&'a Value> {
    invoices.iter().filter(|i| i["account"] == account && i["kind"] == "agreement" && i["period"] == period).collect()
}

#[test]
fn tick_on_the_15th_bills_next_month_once() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    assert!(bm.at("2026-11-15T07:59:00-05:00", &["tick"]).ok().stdout.contains("nothing due"));
    let out = bm.at(NOV15, &["tick"]).ok();
    assert!(out.stdout.contains("issued INV-2026-0001 ACME agreement 2026-12"), "{}", out.stdout);
    let inv = bm.invoices();
    assert_eq!(inv.len(), 2);
    let acme = agreement(&inv, "ACME", "2026-12");
    assert_eq!(acme.len(), 1);
    assert_eq!(acme[0]["total"], "1997.50"); // 22 × 85.00 + 3 × 42.50
    assert_eq!(acme[0]["issued"], "2026-11-15");
    assert_eq!(acme[0]["due"], "2026-11-30");
    assert_eq!(agreement(&inv, "HARBOR", "2026-12")[0]["total"], "550.00");
    let outbox = bm.outbox();
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|m| m["state"] == "queued" && m["kind"] == "invoice"));
    let to_acme = outbox.iter().find(|m| m["subject"].as_str().unwrap().contains("INV-2026-0001")).unwrap();
    assert_eq!(to_acme["to"], serde_json::json!(["ap@acme-dental.example", "jane.doe@acme-dental.example"]));

    // the same tick again, and a later one the same day, change nothing
    assert!(bm.at(NOV15, &["tick"]).ok().stdout.contains("nothing due"));
    bm.at("2026-11-15T18:00:00-05:00", &["tick"]).ok();
    assert_eq!(bm.invoices().len(), 2);
    assert_eq!(bm.outbox().len(), 2);

    let show = bm.run(&["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(show["status"], "active");
    assert_eq!(show["balance"], "1997.50");
    assert_eq!(show["credit"], "0.00");
    assert_eq!(show["full_time_users"], 22);
    assert_eq!(show["open_invoices"][0]["number"], "INV-2026-0001");
    assert_eq!(show["open_invoices"][0]["period"], "2026-12");
}

#[test]
fn a_missed_month_is_caught_up_once_with_gapless_numbers_per_year() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    // down from November 16 until January 20: January's and February's are both due
    let out = bm.at("2027-01-20T10:00:00-05:00", &["tick"]).ok();
    let inv = bm.invoices();
    for period in ["2027-01", "2027-02"] {
        assert_eq!(agreement(&inv, "ACME", period).len(), 1, "{period}: {}", out.stdout);
        assert_eq!(agreement(&inv, "HARBOR", period).len(), 1, "{period}");
    }
    // issued in 2027: a new year's sequence, no gaps
    let mut numbers: Vec<&str> = inv.iter().map(|i| i["number"].as_str().unwrap()).collect();
    numbers.sort();
    assert_eq!(
        numbers,
        ["INV-2026-0001", "INV-2026-0002", "INV-2027-0001", "INV-2027-0002", "INV-2027-0003", "INV-2027-0004"]
    );
    // a late invoice is due on the next due day, not in the past
    let jan = agreement(&inv, "ACME", "2027-01")[0];
    assert_eq!(jan["issued"], "2027-01-20");
    assert_eq!(jan["due"], "2027-01-30");
    bm.at("2027-01-20T10:00:00-05:00", &["tick"]).ok();
    assert_eq!(bm.invoices().len(), 6);
}

#[test]
fn a_mid_month_change_is_prorated_on_the_next_invoice() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    // on December 10 ACME has 24 full-time users
    let changed = ACCOUNTS.replace("hybrid,22,3", "hybrid,24,3");
    assert!(bm.import_accounts(&changed, "2026-12-10T11:00:00-05:00").ok().stdout.contains("1 updated"));
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok();
    let inv = bm.invoices();
    let jan = agreement(&inv, "ACME", "2027-01")[0];
    let doc = bm.invoice(jan["number"].as_str().unwrap());
    let lines = doc["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{doc:#}");
    assert_eq!(lines[0]["quantity"], "24");
    // 2 × 85.00 × 22 / 31 = 120.6451… → 120.65
    assert_eq!(lines[2]["amount"], "120.65");
    assert_eq!(lines[2]["proration"]["days"], 22);
    assert_eq!(lines[2]["proration"]["days_in_month"], 31);
    assert!(lines[2]["description"].as_str().unwrap().contains("2026-12-10"));
    assert_eq!(jan["total"], "2288.15");
    // the text invoice names the change and its date
    let text = bm.run(&["invoices", "show", jan["number"].as_str().unwrap()]).ok().stdout;
    assert!(text.contains("+2 full-time users from 2026-12-10, 22 of 31 days"), "{text}");
    // history keeps the dated change
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json();
    assert!(
        hist.as_array().unwrap().iter().any(|h| h["kind"] == "counts"
            && h["detail"].as_str().unwrap().contains("effective 2026-12-10: full-time 22 -> 24"))
    );
    // and it is not billed twice
    bm.at("2027-01-15T08:00:00-05:00", &["tick"]).ok();
    let feb = agreement(&bm.invoices(), "ACME", "2027-02")[0].clone();
    assert_eq!(bm.invoice(feb["number"].as_str().unwrap())["lines"].as_array().unwrap().len(), 2);
}

#[test]
fn proration_can_be_turned_off() {
    let bm = Bm::with_config(&common::CONFIG.replace("prorate = true", "prorate = false"));
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    bm.import_accounts(&ACCOUNTS.replace("hybrid,22,3", "hybrid,24,3"), "2026-12-10T11:00:00-05:00").ok();
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok();
    let jan = agreement(&bm.invoices(), "ACME", "2027-01")[0].clone();
    assert_eq!(jan["total"], "2167.50");
}

#[test]
fn a_bad_csv_is_refused_whole_and_writes_nothing() {
    let bm = Bm::new();
    let header = "id,name,tier,full_time_users,part_time_users,billing_emails\n";
    let good = "GOOD,Good Co,hybrid,1,0,a@good.example\n";
    for (bad, needle) in [
        ("BAD,Bad Co,gold,1,0,a@bad.example\n", "line 3: unknown tier \"gold\""),
        ("BAD,Bad Co,hybrid,-1,0,a@bad.example\n", "line 3: full_time_users is negative"),
        (
            "BAD,Bad Co,hybrid,1,0,not-an-address\n",
            "line 3: billing_emails: \"not-an-address\" is not an email address",
        ),
        ("BAD,Bad Co,hybrid,1,zero,a@bad.example\n", "line 3: part_time_users \"zero\" is not a whole number"),
        ("GOOD,Again,hybrid,1,0,a@good.example\n", "line 3: account GOOD already appears on line 2"),
        ("BAD,Bad Co,hybrid,1,0\n", "line 3: 5 fields where the header has 6"),
    ] {
        let out = bm.import_accounts(&format!("{header}{good}{bad}"), NOV2).fails();
        assert!(out.stderr.contains(needle), "want {needle:?} in {:?}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "one line: {}", out.stderr);
    }
    let rate = "id,name,tier,full_time_users,part_time_users,billing_emails,full_time_rate\nX,X,hybrid,1,0,a@x.example,12.345\n";
    assert!(
        bm.import_accounts(rate, NOV2)
            .fails()
            .stderr
            .contains("line 2: full_time_rate: \"12.345\" has more than two decimal places")
    );
    assert!(bm.run(&["accounts", "list"]).ok().stdout.contains("no accounts yet"));
    // subscriptions: unknown account, bad amount
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    let subs = bm.write("subs.csv", "account,product,quantity,unit_price\nACME,Backup,2,45.50\nNOPE,Backup,1,10\n");
    let out = bm.at(NOV2, &["subscriptions", "import", subs.to_str().unwrap()]).fails();
    assert!(out.stderr.contains("line 3: no account \"NOPE\""), "{}", out.stderr);
    let subs = bm.write("subs.csv", "account,product,quantity,unit_price\nACME,Backup,2,45.50\nACME,O365,1,ten\n");
    let out = bm.at(NOV2, &["subscriptions", "import", subs.to_str().unwrap()]).fails();
    assert!(out.stderr.contains("line 3: unit_price"), "{}", out.stderr);
    bm.at("2026-12-05T09:00:00-05:00", &["tick"]).ok();
    assert!(!bm.invoices().iter().any(|i| i["kind"] == "recurring"), "nothing of the refused files was kept");
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json();
    assert!(!hist.as_array().unwrap().iter().any(|h| h["kind"] == "subscription"));
}

#[test]
fn reimport_updates_in_place() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    let out = bm.import_accounts(ACCOUNTS, "2026-11-03T09:00:00-05:00").ok();
    assert!(out.stdout.contains("0 created, 0 updated, 2 unchanged"), "{}", out.stdout);
    let renamed = ACCOUNTS.replace("Acme Dental,", "Acme Dental Group,");
    assert!(bm.import_accounts(&renamed, "2026-11-04T09:00:00-05:00").ok().stdout.contains("1 updated"));
    let list = bm.run(&["accounts", "list", "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["name"], "Acme Dental Group");
}

#[test]
fn the_first_run_does_not_bill_before_an_account_starts() {
    let bm = Bm::new();
    let csv = "id,name,tier,full_time_users,part_time_users,billing_emails,start_date\n\
               LATER,Later Co,inclusive,4,2,ap@later.example,2027-03-01\n\
               OLD,Old Co,inclusive,4,2,ap@old.example,2019-01-01\n";
    bm.import_accounts(csv, NOV2).ok();
    // the first run two months after the import: a catch-up a person asks for
    bm.at("2027-01-15T08:00:00-05:00", &["tick", "--catch-up"]).ok();
    let inv = bm.invoices();
    assert!(agreement(&inv, "LATER", "2027-02").is_empty());
    assert!(inv.iter().all(|i| i["account"] != "LATER"));
    // an account that started years ago is billed from the month it was imported, not back to 2019
    let mut old: Vec<&str> =
        inv.iter().filter(|i| i["account"] == "OLD").map(|i| i["period"].as_str().unwrap()).collect();
    old.sort();
    assert_eq!(old, ["2026-11", "2026-12", "2027-01", "2027-02"]);
    bm.at("2027-02-15T08:00:00-05:00", &["tick"]).ok();
    let later = agreement(&bm.invoices(), "LATER", "2027-03")[0].clone();
    assert_eq!(later["total"], "625.00"); // 4 × 125 + 2 × 62.50
    assert_eq!(later["due"], "2027-02-28"); // due day 30 clamped to February
}

#[test]
fn recurring_and_service_invoices() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    let subs = bm.write(
        "subs.csv",
        "account,product,quantity,unit_price\nACME,Office 365 Business Premium,25,22.00\nACME,Cloud backup (per TB),2,45.50\n",
    );
    bm.at("2026-11-20T09:00:00-05:00", &["subscriptions", "import", subs.to_str().unwrap()]).ok();
    bm.at(
        "2026-12-01T16:00:00-05:00",
        &[
            "service",
            "add",
            "--account",
            "ACME",
            "--date",
            "2026-12-01",
            "--engineer",
            "Sam Ortiz",
            "--hours",
            "2.5",
            "--rate",
            "145",
            "--description",
            "Restored the file share",
        ],
    )
    .ok();
    bm.at("2026-12-05T08:00:00-05:00", &["tick"]).ok();
    let inv = bm.invoices();
    let rec: Vec<_> = inv.iter().filter(|i| i["kind"] == "recurring").collect();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0]["period"], "2026-12");
    assert_eq!(rec[0]["total"], "641.00"); // 25 × 22 + 2 × 45.50
    let svc: Vec<_> = inv.iter().filter(|i| i["kind"] == "service").collect();
    assert_eq!(svc.len(), 1);
    assert_eq!(svc[0]["total"], "362.50");
    assert_eq!(svc[0]["due"], "2027-01-04");
    let text = bm.run(&["invoices", "show", svc[0]["number"].as_str().unwrap()]).ok().stdout;
    assert!(text.contains("2026-12-01 · Sam Ortiz · Restored the file share"), "{text}");
    assert!(text.contains("2.5 h x $145.00 = $362.50"), "{text}");
    // quantity 0 ends a subscription; the next month bills only the other
    let end = bm.write("end.csv", "account,product,quantity,unit_price\nACME,Cloud backup (per TB),0,45.50\n");
    bm.at("2026-12-20T09:00:00-05:00", &["subscriptions", "import", end.to_str().unwrap()]).ok();
    bm.at("2027-01-05T08:00:00-05:00", &["tick"]).ok();
    let jan: Vec<_> =
        bm.invoices().into_iter().filter(|i| i["kind"] == "recurring" && i["period"] == "2027-01").collect();
    assert_eq!(jan[0]["total"], "550.00");
    // a bad service entry is refused
    let out = bm
        .run(&[
            "service",
            "add",
            "--account",
            "ACME",
            "--date",
            "2026-13-01",
            "--engineer",
            "S",
            "--hours",
            "1",
            "--rate",
            "1",
            "--description",
            "x",
        ])
        .fails();
    assert!(out.stderr.contains("--date"));
    let out = bm
        .run(&[
            "service",
            "add",
            "--account",
            "NOPE",
            "--date",
            "2026-12-01",
            "--engineer",
            "S",
            "--hours",
            "1",
            "--rate",
            "1",
            "--description",
            "x",
        ])
        .fails();
    assert!(out.stderr.contains("no account \"NOPE\""), "{}", out.stderr);
}

#[test]
fn payments_pay_named_invoices_then_oldest_and_overpayment_becomes_credit() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok();
    let inv = bm.invoices();
    let dec = agreement(&inv, "ACME", "2026-12")[0]["number"].as_str().unwrap().to_string();
    let jan = agreement(&inv, "ACME", "2027-01")[0]["number"].as_str().unwrap().to_string();
    // name January's invoice: it is paid first, the rest goes to December's
    let out = bm
        .at(
            "2026-12-16T10:00:00-05:00",
            &[
                "payments",
                "record",
                "--account",
                "ACME",
                "--amount",
                "2500.00",
                "--method",
                "ach",
                "--reference",
                "TRACE-1",
                "--invoice",
                &jan.to_lowercase(),
            ],
        )
        .ok();
    assert!(out.stdout.contains(&format!("$1,997.50 applied to {jan}")), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("$502.50 applied to {dec}")), "{}", out.stdout);
    assert_eq!(bm.invoice(&jan)["status"], "paid");
    assert_eq!(bm.invoice(&dec)["balance"], "1495.00");
    // pay the rest and 100 more: credit, applied to the next invoice
    bm.at(
        "2026-12-17T10:00:00-05:00",
        &["payments", "record", "--account", "ACME", "--amount", "1595", "--method", "wire"],
    )
    .ok();
    let show = bm.run(&["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(show["balance"], "0.00");
    assert_eq!(show["credit"], "100.00");
    bm.at("2027-01-15T08:00:00-05:00", &["tick"]).ok();
    let feb = agreement(&bm.invoices(), "ACME", "2027-02")[0]["number"].as_str().unwrap().to_string();
    let doc = bm.invoice(&feb);
    assert_eq!(doc["credit_applied"], "100.00");
    assert_eq!(doc["balance"], "1897.50");
    assert!(bm.run(&["invoices", "show", &feb]).ok().stdout.contains("Credit applied: -$100.00"));
    let show = bm.run(&["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(show["credit"], "0.00");
    assert_eq!(show["balance"], "1897.50");
    // refused: an invoice of another account, a bad amount
    let harbor = agreement(&bm.invoices(), "HARBOR", "2026-12")[0]["number"].as_str().unwrap().to_string();
    let out = bm
        .run(&["payments", "record", "--account", "ACME", "--amount", "5", "--method", "ach", "--invoice", &harbor])
        .fails();
    assert!(out.stderr.contains("belongs to account HARBOR"), "{}", out.stderr);
    assert!(
        bm.run(&["payments", "record", "--account", "ACME", "--amount", "-5", "--method", "ach"])
            .fails()
            .stderr
            .contains("--amount")
    );
    assert_eq!(bm.run(&["accounts", "show", "ACME", "--json"]).ok().json()["credit"], "0.00");
}

#[test]
fn check_config_reports_every_problem() {
    let bm = Bm::new();
    let bad = common::CONFIG
        .replace("timezone = \"America/New_York\"", "timezone = \"Mars/Olympus\"")
        .replace("agreement_due_day = 30", "agreement_due_day = 0")
        .replace("part_time_rate = \"27.50\"\n", "")
        .replace("[trust]", "[trust]\ncolour = \"blue\"");
    bm.write("billmail.toml", &bad);
    let out = bm.run(&["check-config"]);
    assert_eq!(out.code, 1);
    for needle in [
        "Mars/Olympus",
        "agreement_due_day: must be 1-31, got 0",
        "[tiers.remote] part_time_rate: missing",
        "unknown key \"colour\"",
        "4 problem(s)",
    ] {
        assert!(out.stdout.contains(needle), "want {needle:?}:\n{}", out.stdout);
    }
    // other commands refuse a bad config in one line
    let out = bm.run(&["accounts", "list"]).fails();
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    bm.write("billmail.toml", common::CONFIG);
    assert_eq!(bm.run(&["check-config"]).ok().code, 0);
}

#[test]
fn commands_need_an_initialised_database_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("billmail.toml"), common::CONFIG).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["accounts", "list", "--config"])
        .arg(dir.path().join("billmail.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("run `billmail init` first"));
    assert!(!dir.path().join("billmail.db").exists(), "nothing created");
}

#[test]
fn a_reader_that_closes_the_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let bm = Bm::new();
    let eml = bm.write("m.eml", "From: a@b.example\r\nSubject: Add one user\r\nDate: Wed, 11 Nov 2026 09:00:00 -0500\r\n\r\nPlease add Maria Lopez.\r\n");
    // `billmail parse m.eml --json | head -0`: the reading end is gone before it writes
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["parse", eml.to_str().unwrap(), "--json"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc_sigpipe()), "{:?} {stderr}", out.status);
}

/// SIGPIPE's number on Linux.
fn libc_sigpipe() -> i32 {
    13
}

#[test]
fn one_damaged_account_does_not_hide_the_others() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    // a stored date damaged by hand (or by a bad disk)
    let db = format!("sqlite://{}", bm.path("billmail.db").display());
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query("UPDATE count_changes SET effective_date = 'garbage' WHERE account_id = 'HARBOR'")
            .execute(&mut c)
            .await
            .unwrap();
    });
    let out = bm.at(NOV15, &["accounts", "list"]).fails();
    assert!(out.stdout.contains("ACME "), "{}", out.stdout);
    assert!(out.stdout.contains("HARBOR     cannot be read"), "{}", out.stdout);
    assert!(
        out.stderr.contains("account HARBOR cannot be read") && out.stderr.contains("\"garbage\""),
        "{}",
        out.stderr
    );
    let json: Value = serde_json::from_str(&bm.at(NOV15, &["accounts", "list", "--json"]).fails().stdout).unwrap();
    let rows = json.as_array().unwrap();
    assert!(rows.iter().any(|r| r["id"] == "ACME" && r["error"].is_null()));
    assert!(rows.iter().any(|r| r["id"] == "HARBOR" && r["error"].as_str().unwrap().contains("malformed")));
}

#[test]
fn damage_inside_the_database_is_noticed() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    // damage one page of the file: the root page of the account history,
    // which `status` itself never reads
    let path = bm.path("billmail.db");
    let db = format!("sqlite://{}", path.display());
    let (page_size, root): (i64, i64) =
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::SqliteConnection::connect(&db).await.unwrap();
            let size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut c).await.unwrap();
            let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'history'")
                .fetch_one(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
            (size, root)
        });
    let mut bytes = std::fs::read(&path).unwrap();
    let at = ((root - 1) * page_size) as usize;
    bytes[at] = 0x01; // no b-tree page has this type
    std::fs::write(&path, bytes).unwrap();
    let out = bm.at(NOV15, &["status"]).fails();
    assert!(out.stderr.contains("is damaged") && out.stderr.contains("restore it from a backup"), "{}", out.stderr);
    assert!(bm.at(NOV15, &["tick"]).fails().stderr.contains("is damaged"));
}

#[test]
fn a_reimport_without_the_optional_columns_keeps_them_and_history_says_what_changed() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    // only the required columns: the authorized contacts and payer names stay
    let required = "id,name,tier,full_time_users,part_time_users,billing_emails\n\
                    ACME,Acme Dental,hybrid,22,3,ap@acme-dental.example;jane.doe@acme-dental.example\n\
                    HARBOR,Harborview Law,remote,10,0,billing@harborview.example\n";
    let out = bm.import_accounts(required, "2026-11-03T09:00:00-05:00").ok();
    assert!(out.stdout.contains("0 updated, 2 unchanged"), "{}", out.stdout);
    let acme = bm.run(&["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(acme["authorized_emails"][0]["email"], "office@acme-dental.example", "{acme}");
    // the column present and changed: history keeps the old values beside the new
    let changed = ACCOUNTS
        .replace("office@acme-dental.example,ACME DENTAL LLC", "frontdesk@acme-dental.example,ACME DENTAL GROUP LLC");
    bm.import_accounts(&changed, "2026-11-04T09:00:00-05:00").ok();
    let hist = bm.run(&["accounts", "history", "ACME", "--json"]).ok().json();
    let details: Vec<&str> = hist.as_array().unwrap().iter().map(|h| h["detail"].as_str().unwrap()).collect();
    let line = details.iter().find(|d| d.contains("authorized contacts")).expect("an import history line");
    for needle in [
        "authorized contacts office@acme-dental.example -> frontdesk@acme-dental.example",
        "payer names ACME DENTAL LLC -> ACME DENTAL GROUP LLC",
    ] {
        assert!(line.contains(needle), "{needle} in {line}");
    }
}

#[test]
fn an_account_code_is_one_account_whatever_its_case() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    // a later file that writes the code in lower case updates the same account
    let lower = ACCOUNTS.replace("ACME,Acme Dental,", "acme,Acme Dental Group,");
    let out = bm.import_accounts(&lower, "2026-11-03T09:00:00-05:00").ok();
    assert!(out.stdout.contains("0 created, 1 updated"), "{}", out.stdout);
    let list = bm.run(&["accounts", "list", "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(bm.run(&["accounts", "show", "acme", "--json"]).ok().json()["name"], "Acme Dental Group");
    // one file naming it twice in two cases is refused
    let twice = format!("{ACCOUNTS}acme,Acme again,hybrid,1,0,x@acme-dental.example,,,\n");
    let err = bm.import_accounts(&twice, "2026-11-04T09:00:00-05:00").fails().stderr;
    assert!(err.contains("already appears on line 2"), "{err}");
    // and the other commands find it too
    let out = bm.run(&["payments", "record", "--account", "acme", "--amount", "10.00", "--method", "check"]).ok();
    assert!(out.stdout.contains("for ACME"), "{}", out.stdout);
}

#[test]
fn the_books_are_readable_by_their_owner_alone() {
    use std::os::unix::fs::PermissionsExt;
    // whatever the umask of the shell that ran `init` (022 makes 0644 files)
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, "2026-11-02T09:00:00-05:00").ok();
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    for name in ["billmail.db", "billmail.db.lock"] {
        let mode = std::fs::metadata(bm.path(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} is {mode:o}");
    }
}

#[test]
fn invoices_show_in_every_format() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    let text = bm.run(&["invoices", "show", "INV-2026-0001"]).ok().stdout;
    for needle in [
        "KR Group",
        "Acme Dental",
        "INV-2026-0001",
        "December 2026",
        "$1,997.50",
        "November 30, 2026",
        "First Ohio Bank",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    let html = bm.run(&["invoices", "show", "INV-2026-0001", "--format", "html"]).ok().stdout;
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("$1,997.50"));
    let json = bm.invoice("INV-2026-0001");
    assert_eq!(json["total"], "1997.50");
    assert_eq!(json["full_time_users"], 22);
    assert!(bm.run(&["invoices", "show", "INV-2099-9999"]).fails().stderr.contains("no invoice"));
    // what was queued is what `show` renders
    let outbox = bm.outbox();
    let id =
        outbox.iter().find(|m| m["subject"].as_str().unwrap().contains("INV-2026-0001")).unwrap()["id"].to_string();
    let queued = bm.run(&["outbox", "show", &id]).ok().stdout;
    assert_eq!(queued, text);
}

#[test]
fn the_aging_report_matches_the_ledger() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok(); // December invoices, due November 30
    bm.at("2026-12-15T08:00:00-05:00", &["tick"]).ok(); // January invoices, due December 30
    // Harborview pays part of December's
    bm.at(
        "2026-12-20T10:00:00-05:00",
        &["payments", "record", "--account", "HARBOR", "--amount", "200", "--method", "check"],
    )
    .ok();
    let jan10 = "2027-01-10T09:00:00-05:00";
    let report = bm.at(jan10, &["report", "aging", "--json"]).ok().json();
    assert_eq!(report["as_of"], "2027-01-10");
    let acme = report["accounts"].as_array().unwrap().iter().find(|a| a["account"] == "ACME").unwrap().clone();
    assert_eq!(acme["31-60"], "1997.50"); // due Nov 30: 41 days past due
    assert_eq!(acme["1-30"], "1997.50"); // due Dec 30: 11 days
    assert_eq!(acme["current"], "0.00");
    assert_eq!(acme["total"], "3995.00");
    let harbor = report["accounts"].as_array().unwrap().iter().find(|a| a["account"] == "HARBOR").unwrap().clone();
    assert_eq!(harbor["31-60"], "350.00"); // 550 - 200 paid on the oldest
    assert_eq!(harbor["1-30"], "550.00");
    // the totals are the ledger's balances
    let mut ledger = 0i64;
    for id in ["ACME", "HARBOR"] {
        let b =
            bm.at(jan10, &["accounts", "show", id, "--json"]).ok().json()["balance"].as_str().unwrap().replace('.', "");
        ledger += b.parse::<i64>().unwrap();
    }
    assert_eq!(report["totals"]["total"].as_str().unwrap().replace('.', "").parse::<i64>().unwrap(), ledger);
    assert!(bm.at(jan10, &["report", "aging"]).ok().stdout.contains("TOTAL"));
}

#[test]
fn status_tells_what_was_done_and_what_waits() {
    let bm = Bm::new();
    let fresh = bm.at(NOV15, &["status", "--json"]).ok().json();
    assert_eq!(fresh["last_cycle"], Value::Null);
    assert_eq!(fresh["last_intake"], Value::Null);
    assert_eq!(fresh["last_error"], Value::Null);
    assert_eq!(fresh["accounts"], 0);
    let text = bm.at(NOV15, &["status"]).ok().stdout;
    assert!(text.contains("last cycle:   never run"), "{text}");
    assert!(text.contains("last intake:  no [imap] configured"), "{text}");

    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    let s = bm.at("2026-11-15T09:00:00-05:00", &["status", "--json"]).ok().json();
    assert_eq!(s["accounts"], 2);
    assert_eq!(s["last_cycle"]["at"], "2026-11-15T13:00:00Z");
    assert_eq!(s["last_cycle"]["detail"], "2 invoice(s) issued, 0 collections step(s), no [smtp]: nothing sent");
    assert_eq!(s["outbox"]["queued"], 2);
    assert_eq!(s["outbox"]["failed"], 0);
    assert_eq!(s["review_open"], 0);
    assert_eq!(s["on_hold"], serde_json::json!([]));
    let text = bm.at("2026-11-15T09:00:00-05:00", &["status"]).ok().stdout;
    assert!(text.contains("last cycle:   2026-11-15 08:00  2 invoice(s) issued"), "{text}");
    assert!(text.contains("outbox:       2 queued, next attempt 2026-11-15 08:00, 0 failed"), "{text}");
}
