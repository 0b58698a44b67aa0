//! Bounded numbers: an absurd count, quantity, price or number of hours is
//! one clear error at the edge and changes nothing; a value that got into
//! the books anyway stops only its own account's invoice, never the others'
//! and never as a wrapped number.

mod common;

use common::{ACCOUNTS, Bm};

const NOV2: &str = "2026-11-02T09:00:00-05:00";

#[test]
fn absurd_counts_quantities_prices_and_hours_are_refused_at_the_edge() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    for absurd in ["9223372036854775807", "1000000000000000", "100001"] {
        let csv = ACCOUNTS.replace("hybrid,22,3", &format!("hybrid,{absurd},3"));
        let p = bm.write("big.csv", &csv);
        let out = bm.at(NOV2, &["accounts", "import", p.to_str().unwrap()]).fails();
        assert!(out.stderr.contains("full_time_users"), "{absurd}: {}", out.stderr);
    }
    let acme = bm.at(NOV2, &["accounts", "show", "ACME", "--json"]).ok().json();
    assert_eq!(acme["full_time_users"], 22, "nothing changed");

    for (row, says) in [
        ("ACME,Backup,1000001,1.00", "quantity"),
        ("ACME,Backup,2,1000000.01", "unit_price"),
        ("ACME,Backup,9223372036854775807,92233720368547758.07", "quantity"),
    ] {
        let p = bm.write("subs.csv", &format!("account,product,quantity,unit_price\n{row}\n"));
        let out = bm.at(NOV2, &["subscriptions", "import", p.to_str().unwrap()]).fails();
        assert!(out.stderr.contains(says), "{row}: {}", out.stderr);
    }

    let work = |hours: &str, rate: &str| {
        bm.at(
            NOV2,
            &[
                "service",
                "add",
                "--account",
                "ACME",
                "--date",
                "2026-11-02",
                "--engineer",
                "Sam",
                "--hours",
                hours,
                "--rate",
                rate,
                "--description",
                "Work",
            ],
        )
    };
    for (hours, rate, says) in [
        ("99999999999999999999", "145", "--hours"),
        ("1e3", "145", "--hours"),
        ("10001", "145", "--hours"),
        ("2", "1000000.01", "--rate"),
    ] {
        let out = work(hours, rate).fails();
        assert!(out.stderr.contains(says), "{hours} at {rate}: {}", out.stderr);
    }
    // nothing was recorded: the next cycle issues no service invoice
    bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    assert!(bm.invoices().iter().all(|i| i["kind"] != "service"), "{:?}", bm.invoices());
    assert!(work("2.5", "145").ok().stdout.contains("= $362.50"));
}

#[test]
fn a_count_out_of_range_in_the_books_stops_only_its_own_invoice() {
    let bm = Bm::new();
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    // as if an older version had let it in
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", bm.path("billmail.db").display())).await.unwrap();
        sqlx::query("UPDATE count_changes SET delta_full_time = 1000000000000000 WHERE account_id = 'ACME'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let out = bm.at("2026-11-15T08:00:00-05:00", &["tick"]).ok();
    let numbers: Vec<String> = bm.invoices().iter().map(|i| i["account"].as_str().unwrap().to_string()).collect();
    assert_eq!(numbers, ["HARBOR"], "Harborview is billed, Acme is not: {}", out.stdout);
    assert!(bm.outbox().iter().all(|m| m["account"] != "ACME"), "nothing queued to Acme");
    let status = bm.at("2026-11-15T08:01:00-05:00", &["status", "--json"]).ok().json();
    let error = status["last_error"]["detail"].as_str().unwrap_or_default().to_string();
    assert!(error.starts_with("ACME not billed:") && error.contains("outside 0 to 100000"), "{status}");
}
