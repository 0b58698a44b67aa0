//! The web console in a real browser: Debian's chromium, driven over
//! WebDriver (chromium-driver) with fantoccini, against `billmail web` on
//! loopback with real books. A clerk logs in, reads a `low` user change
//! beside billmail's reading, corrects the count and applies it; a viewer
//! sees no buttons and a forged POST of theirs is refused; a customer's
//! HTML with a script, an onerror handler and a remote image stays inert
//! and fetches nothing; a POST without the CSRF token and a request without
//! a session are refused. Screenshots go to `$BILLMAIL_SCREENSHOTS` when
//! set (the README's pictures), else to the test's folder.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Bm;
use fantoccini::{Client, ClientBuilder, Locator};

const NOW: &str = "2026-12-04T10:00:00-05:00";
const TODAY: &str = "2026-12-04";
const CLERK_PASSWORD: &str = "correct horse battery";
const VIEWER_PASSWORD: &str = "a viewer's password";

/// A child process ended when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "{what} did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn message(id: &str, from: &str, subject: &str, text: &str, html: Option<&str>) -> String {
    let head = format!(
        "From: {from}\r\nTo: accounting@krgroup.example\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Thu, 03 Dec 2026 09:00:00 -0500\r\nMIME-Version: 1.0\r\n"
    );
    match html {
        None => format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"),
        Some(h) => format!(
            "{head}Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{h}\r\n--b--\r\n"
        ),
    }
}

/// Books with a few months of invoices, a payment, and four items waiting.
/// Gives the installation and the port of a "tracker" that a remote image
/// in a customer's HTML points at (nothing may ever connect to it).
fn books() -> (Bm, TcpListener) {
    let web_port = free_port();
    let config = format!("{}\n[web]\nlisten = \"127.0.0.1:{web_port}\"\n", common::CONFIG);
    let bm = Bm::with_config(&config);
    bm.write("port", &web_port.to_string());
    let accounts = "\
id,name,tier,full_time_users,part_time_users,billing_emails,authorized_emails,payer_names,start_date
ACME,Acme Dental,hybrid,22,3,ap@acme-dental.example;jane.doe@acme-dental.example,office@acme-dental.example,ACME DENTAL LLC,
HARBOR,Harborview Law,remote,10,0,billing@harborview.example,,,
LAKE,Lakeside Clinic,inclusive,35,6,ap@lakeside.example,,,
NORTH,Northwind Freight,hybrid,14,2,billing@northwind.example,,,
";
    bm.import_accounts(accounts, "2026-09-20T10:00:00-04:00").ok();
    for now in ["2026-09-20T12:00:00-04:00", "2026-10-15T09:00:00-04:00"] {
        bm.at(now, &["tick"]).ok();
    }
    // more than was owed: the rest is credit, taken by the next invoice
    bm.at(
        "2026-10-20T10:00:00-04:00",
        &["payments", "record", "--account", "HARBOR", "--amount", "1400.00", "--method", "wire"],
    )
    .ok();
    bm.at("2026-11-15T09:00:00-05:00", &["tick"]).ok();
    let first = bm.invoices().iter().find(|i| i["account"] == "LAKE").unwrap()["number"].as_str().unwrap().to_string();
    bm.at(
        "2026-11-20T10:00:00-05:00",
        &["payments", "record", "--account", "LAKE", "--amount", "1500.00", "--method", "ach", "--invoice", &first],
    )
    .ok();
    let tracker = TcpListener::bind("127.0.0.1:0").unwrap();
    tracker.set_nonblocking(true).unwrap();
    let remote = format!("http://127.0.0.1:{}/pixel.png", tracker.local_addr().unwrap().port());
    let low = message(
        "web-low@acme-dental.example",
        "Jane Doe <jane.doe@acme-dental.example>",
        "Two new hires",
        "Hi,\n\nplease add two full-time users from December 1, maybe three.\n\nThanks, Jane",
        Some(&format!(
            "<p>Hi,</p><p>please add two full-time users from December 1, maybe three.<script>alert('script ran')</script></p><img src=\"{remote}\" onerror=\"alert('onerror ran')\"><p onclick=\"alert(3)\">Thanks, Jane</p>"
        )),
    );
    let claim = message(
        "web-claim@harborview.example",
        "Billing <billing@harborview.example>",
        "Payment sent",
        "Hello, our AP team sent the payment for last month by wire yesterday.",
        None,
    );
    let stranger = message(
        "web-other@unknown.example",
        "Sam <sam@unknown.example>",
        "Question about our bill",
        "Can you add 4 users to our plan?",
        None,
    );
    let north = message(
        "web-north@northwind.example",
        "Billing <billing@northwind.example>",
        "Remove a user",
        "Please remove one part-time user, I think.",
        None,
    );
    for (name, m) in [("low.eml", &low), ("claim.eml", &claim), ("stranger.eml", &stranger), ("north.eml", &north)] {
        let p = bm.write(name, m);
        bm.at("2026-12-03T09:05:00-05:00", &["ingest", p.to_str().unwrap()]).ok();
    }
    // a change of counts that takes effect after the console's today
    let later = "id,name,tier,full_time_users,part_time_users,billing_emails\nNORTH,Northwind Freight,hybrid,16,2,billing@northwind.example\n";
    bm.import_accounts(later, "2027-01-10T09:00:00-05:00").ok();
    for (name, role, password) in [("clara", "clerk", CLERK_PASSWORD), ("vic", "viewer", VIEWER_PASSWORD)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_billmail"))
            .args(["users", "add", name, "--role", role, "--config"])
            .arg(bm.path("billmail.toml"))
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    }
    (bm, tracker)
}

fn web_port(bm: &Bm) -> u16 {
    std::fs::read_to_string(bm.path("port")).unwrap().parse().unwrap()
}

fn start_web(bm: &Bm) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_billmail"))
        .args(["web", "--now", NOW, "--config"])
        .arg(bm.path("billmail.toml"))
        .stderr(std::fs::File::create(bm.path("web.log")).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(web_port(bm), "billmail web");
    Killed(child)
}

async fn browser() -> (Client, Killed) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; scripts/test.sh installs it)");
    let driver = Killed(driver);
    wait_for_port(port, "chromedriver");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,900", "--lang=en-US"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session");
    (client, driver)
}

fn shots_dir(bm: &Bm) -> PathBuf {
    match std::env::var_os("BILLMAIL_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => bm.path("shots"),
    }
}

async fn shot(c: &Client, dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(dir.join(name), png).unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    // a page that a form or a click asked for may still be loading
    match c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap(),
        Err(e) => {
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let source = c.source().await.unwrap_or_default();
            panic!("{css}: {e}\nat {url}:\n{source}")
        }
    }
}

/// Logs in on the page the browser is at (the login page, perhaps
/// reached by a redirect that says where to go next), or on /login.
async fn log_in(c: &Client, base: &str, name: &str, password: &str) {
    if c.current_url().await.unwrap().path() != "/login" {
        c.goto(&format!("{base}/login")).await.unwrap();
    }
    let f = c.form(Locator::Css("form[action='/login']")).await.unwrap();
    f.set_by_name("name", name).await.unwrap();
    f.set_by_name("password", password).await.unwrap();
    f.submit().await.unwrap();
    // the next page: the console's (logged in) or the login page saying why not
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("header.top, p.flash.error"))
        .await
        .expect("a page after the login");
}

/// A request outside the browser, with the browser's session cookie if given.
async fn post(base: &str, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut req = http.post(format!("{base}{path}")).form(form);
    if let Some(c) = cookie {
        req = req.header("Cookie", format!("billmail_session={c}"));
    }
    req.send().await.unwrap()
}

/// `common::sql` from inside the test's runtime.
fn sql(bm: &Bm, query: &str) -> String {
    tokio::task::block_in_place(|| common::sql(bm.db(), query)).trim().to_string()
}

fn review_state(bm: &Bm, id: i64) -> String {
    sql(bm, &format!("SELECT state || '|' || COALESCE(decided_by, '') FROM review_items WHERE id = {id}"))
}

fn item_of(bm: &Bm, message_id: &str) -> i64 {
    sql(
        bm,
        &format!(
            "SELECT r.id FROM review_items r JOIN messages m ON m.id = r.message_id WHERE m.message_id = '<{message_id}>'"
        ),
    )
    .parse()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerk_corrects_a_low_change_viewer_only_looks_and_forgeries_fail() {
    let (bm, tracker) = books();
    let _web = start_web(&bm);
    let base = format!("http://127.0.0.1:{}", web_port(&bm));
    let shots = shots_dir(&bm);
    let (c, _driver) = browser().await;

    // no session: every page goes to the login page
    c.goto(&format!("{base}/accounts/ACME")).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), "/login", "{url}");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http.get(format!("{base}/review")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login"));

    // a wrong password, then the clerk's own
    log_in(&c, &base, "clara", "not the password").await;
    assert!(text(&c, ".flash.error").await.contains("Wrong name or password"));
    log_in(&c, &base, "clara", CLERK_PASSWORD).await;
    text(&c, "#account-counts").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/accounts/ACME", "back where the redirect came from");

    // the queue: the low change waits, with why
    c.goto(&format!("{base}/review")).await.unwrap();
    let queue = text(&c, "table.list").await;
    assert!(queue.contains("Two new hires") && queue.contains("tentative"), "{queue}");
    assert!(queue.contains("Payment sent") && queue.contains("Question about our bill"), "{queue}");
    shot(&c, &shots, "console-review-queue.png").await;

    // the item: the message as received beside the reading and the account
    let low = item_of(&bm, "web-low@acme-dental.example");
    c.find(Locator::Css(&format!("a[href='/review/{low}']"))).await.unwrap().click().await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), format!("/review/{low}"));
    let body = text(&c, "#message-text").await;
    assert!(body.contains("please add two full-time users"), "{body}");
    let marked = text(&c, "#message-text mark").await;
    assert!(marked.contains("two full-time"), "the evidence is marked: {marked}");
    assert!(text(&c, "section.reading").await.contains("low confidence"));
    assert_eq!(text(&c, "#account-counts").await, "22 full-time, 3 part-time");
    // the customer's HTML is there, inert: no script, no image, no handler
    assert!(text(&c, "#message-html").await.contains("Thanks, Jane"));
    let live = c
        .execute("return document.querySelectorAll('script, #message-html img, [onerror], [onclick]').length", vec![])
        .await
        .unwrap();
    assert_eq!(live, serde_json::json!(0));
    assert!(c.get_alert_text().await.is_err(), "no alert was raised");
    shot(&c, &shots, "console-review-item.png").await;

    // the correction starts from the counts on the day the change takes effect
    let proposed = c.find(Locator::Css("form#correct input[name=full_time]")).await.unwrap().prop("value").await;
    assert_eq!(proposed.unwrap().as_deref(), Some("24"), "22 on December 1, and two more");

    // correct the count (three, from today) and apply it
    let f = c.form(Locator::Css("form#correct")).await.unwrap();
    f.set_by_name("full_time", "25").await.unwrap();
    f.set_by_name("effective", "").await.unwrap();
    c.execute(&format!("document.querySelector('form#correct input[name=effective]').value = '{TODAY}'"), vec![])
        .await
        .unwrap();
    f.submit().await.unwrap();
    let said = text(&c, ".flash").await;
    assert!(said.contains("corrected to 25 full-time") && said.contains("user change applied to ACME"), "{said}");
    assert!(text(&c, "p.decided").await.contains("by clara"));
    assert_eq!(review_state(&bm, low), "approved|clara");

    // the account: the new count, and the history names the clerk
    c.goto(&format!("{base}/accounts/ACME")).await.unwrap();
    assert_eq!(text(&c, "#account-counts").await, "25 full-time, 3 part-time");
    let history = text(&c, "#history").await;
    assert!(history.contains("by clara"), "{history}");
    shot(&c, &shots, "console-account.png").await;

    // release ACME's service hold by hand: told to the customer with the reason
    let f = c.form(Locator::Css("form#release-hold")).await.unwrap();
    f.set_by_name("reason", "payment plan agreed by phone").await.unwrap();
    f.submit().await.unwrap();
    let said = text(&c, ".flash").await;
    assert!(said.contains("released") && said.contains("by clara"), "{said}");
    assert!(text(&c, "dl.facts").await.contains("active"));
    assert!(c.find(Locator::Css("form#place-hold")).await.is_ok(), "an active account may be held by hand");
    let told = bm
        .outbox()
        .into_iter()
        .filter(|m| {
            m["kind"] == "hold_released" && m["to"].as_array().unwrap().iter().any(|t| t == "ap@acme-dental.example")
        })
        .count();
    assert_eq!(told, 1, "the customer is told once (and the services team has its copy)");

    // the customer is told once
    let confirmations: Vec<_> = bm
        .outbox()
        .into_iter()
        .filter(|m| m["kind"] == "change_confirmation" && m["to"][0] == "jane.doe@acme-dental.example")
        .collect();
    assert_eq!(confirmations.len(), 1, "{confirmations:?}");

    // the aging chart and the other pages render
    c.goto(&format!("{base}/aging")).await.unwrap();
    let bars = c.execute("return document.querySelectorAll('#aging-chart svg rect').length", vec![]).await.unwrap();
    assert!(bars.as_u64().unwrap() > 3, "{bars}");
    assert!(text(&c, "table.list").await.contains("LAKE"));
    shot(&c, &shots, "console-aging.png").await;
    // a change that takes effect later is shown with its day
    c.goto(&format!("{base}/accounts/NORTH")).await.unwrap();
    assert_eq!(text(&c, "#account-counts").await, "14 full-time, 2 part-time");
    assert_eq!(text(&c, "dd.scheduled").await, "16 full-time, 2 part-time");
    assert!(text(&c, "dl.facts").await.contains("From 2027-01-10"));

    // the list's balances and the aging total are the books' own
    c.goto(&format!("{base}/accounts")).await.unwrap();
    let rows = c
        .execute(
            "return [...document.querySelectorAll('table.list tbody tr')].map(r => [r.cells[0].innerText, r.cells[5].innerText])",
            vec![],
        )
        .await
        .unwrap();
    let plain = |s: &str| s.replace(['$', ','], "");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let id = row[0].as_str().unwrap();
        let shown = bm.run(&["accounts", "show", id, "--json"]).ok().json();
        assert_eq!(plain(row[1].as_str().unwrap()), shown["balance"].as_str().unwrap(), "{id}");
    }
    let credited = sql(&bm, "SELECT COUNT(*) FROM invoices WHERE credit_applied_cents > 0 AND status = 'open'");
    assert_ne!(credited, "0", "an invoice took credit, so the balances above count it");
    let aging = bm.at(NOW, &["report", "aging", "--json"]).ok().json();
    c.goto(&format!("{base}/aging")).await.unwrap();
    let total = text(&c, "table.list tfoot th:last-child").await;
    assert_eq!(plain(&total), aging["totals"]["total"].as_str().unwrap());
    for (page, name) in [
        ("/accounts", "console-accounts.png"),
        ("/invoices?account=ACME", "console-invoices.png"),
        ("/operations", "console-operations.png"),
    ] {
        c.goto(&format!("{base}{page}")).await.unwrap();
        assert!(text(&c, "h1").await.len() > 3, "{page}");
        shot(&c, &shots, name).await;
    }
    // an invoice as the customer saw it, in its frame
    c.goto(&format!("{base}/invoices?account=ACME")).await.unwrap();
    c.find(Locator::Css("table.list td a[href^='/invoices/']")).await.unwrap().click().await.unwrap();
    let frame = c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("iframe.invoice")).await.unwrap();
    frame.enter_frame().await.unwrap();
    let inside = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
    assert!(inside.contains("Acme Dental") && inside.contains("$"), "{inside}");
    c.enter_parent_frame().await.unwrap();
    shot(&c, &shots, "console-invoice.png").await;

    // a POST without the session's CSRF token changes nothing
    let session = c.get_named_cookie("billmail_session").await.unwrap().value().to_string();
    // a customer's claim with no amount: the clerk enters what the bank shows
    let claim = item_of(&bm, "web-claim@harborview.example");
    let owed = bm.run(&["accounts", "show", "HARBOR", "--json"]).ok().json();
    let oldest = owed["open_invoices"].as_array().unwrap().last().unwrap()["number"].as_str().unwrap().to_string();
    c.goto(&format!("{base}/review/{claim}")).await.unwrap();
    let f = c.form(Locator::Css("form#correct")).await.unwrap();
    f.set_by_name("amount", "100.00").await.unwrap();
    f.set_by_name("invoices", &oldest).await.unwrap();
    f.submit().await.unwrap();
    let said = text(&c, ".flash").await;
    assert!(said.contains("amount 100.00") && said.contains("payment recorded for HARBOR"), "{said}");
    let after = bm.run(&["accounts", "show", "HARBOR", "--json"]).ok().json();
    let cents = |v: &serde_json::Value| plain(v.as_str().unwrap()).replace('.', "").parse::<i64>().unwrap();
    assert_eq!(cents(&owed["balance"]) - cents(&after["balance"]), 10000, "{after}");

    // forged requests change nothing
    let north = item_of(&bm, "web-north@northwind.example");
    let r = post(&base, &format!("/review/{north}/reject"), Some(&session), &[("reason", "forged")]).await;
    assert_eq!(r.status(), 403);
    let r = post(&base, &format!("/review/{north}/approve"), Some(&session), &[("csrf", "0000")]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(review_state(&bm, north), "open|");

    // the viewer: no buttons, and a forged POST with their own token is refused
    c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("form[action='/login']")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    log_in(&c, &base, "vic", VIEWER_PASSWORD).await;
    c.goto(&format!("{base}/review/{north}")).await.unwrap();
    assert!(text(&c, "section.reading").await.contains("may look but not decide"));
    let buttons = c.execute("return document.querySelectorAll('main form button').length", vec![]).await.unwrap();
    assert_eq!(buttons, serde_json::json!(0));
    c.goto(&format!("{base}/accounts/LAKE")).await.unwrap();
    text(&c, "#account-counts").await;
    let buttons = c.execute("return document.querySelectorAll('main form button').length", vec![]).await.unwrap();
    assert_eq!(buttons, serde_json::json!(0), "no hold or payment forms for a viewer");
    let viewer = c.get_named_cookie("billmail_session").await.unwrap().value().to_string();
    let csrf = c
        .execute("return document.querySelector('form[action=\"/logout\"] input[name=csrf]').value", vec![])
        .await
        .unwrap();
    let r = post(&base, &format!("/review/{north}/approve"), Some(&viewer), &[("csrf", csrf.as_str().unwrap())]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(review_state(&bm, north), "open|");

    // nothing ever asked the tracker for its image
    match tracker.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the remote image was requested: {other:?}"),
    }
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_and_logged() {
    let (bm, _tracker) = books();
    let _web = start_web(&bm);
    let base = format!("http://127.0.0.1:{}", web_port(&bm));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let attempt = |password: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let page = http.get(format!("{base}/login")).send().await.unwrap();
            let cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
            let html = page.text().await.unwrap();
            let token = html.split("name=\"token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
            http.post(format!("{base}/login"))
                .header("Cookie", cookie)
                .form(&[("name", "clara"), ("password", password), ("token", &token)])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // a login posted without the form's own token is refused
    let r = http.post(format!("{base}/login")).form(&[("name", "clara"), ("password", CLERK_PASSWORD)]).send().await;
    assert_eq!(r.unwrap().status(), 403);
    for _ in 0..5 {
        assert_eq!(attempt("wrong").await, 401);
    }
    // the sixth, even with the right password, waits
    assert_eq!(attempt(CLERK_PASSWORD).await, 429);
    let failed = sql(&bm, "SELECT COUNT(*) FROM web_logins WHERE ok = 0 AND user_name = 'clara'");
    assert_eq!(failed, "6");
    let log = std::fs::read_to_string(bm.path("web.log")).unwrap();
    assert!(log.contains("failed login") && log.contains("login refused"), "{log}");
}

/// `billmail run` serves the console beside its cycle when `[web]` is set,
/// and both stop together on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_the_console_and_stops_with_it() {
    let web_port = free_port();
    let config = format!("{}\n[web]\nlisten = \"127.0.0.1:{web_port}\"\n", common::CONFIG);
    let bm = Bm::with_config(&config);
    let mut daemon = Killed(
        Command::new(env!("CARGO_BIN_EXE_billmail"))
            .args(["run", "--now", NOW, "--config"])
            .arg(bm.path("billmail.toml"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(web_port, "billmail run's console");
    let page = reqwest::get(format!("http://127.0.0.1:{web_port}/login")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"password\""));
    unsafe { libc::kill(daemon.0.id() as i32, libc::SIGTERM) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "billmail run did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", web_port)).is_err(), "the console stopped with the daemon");
}

/// `tls_cert` and `tls_key`: the console over HTTPS, its cookies Secure;
/// a key that is missing is one clear error from check-config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_serves_https_with_secure_cookies() {
    let web_port = free_port();
    let bm = Bm::new();
    // a CA made for the run, and the console's certificate signed by it
    let ext = bm.write(
        "ext.cnf",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").current_dir(bm.dir.path()).args(args).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=billmail test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "console.key",
        "-out",
        "console.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "console.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "console.crt",
        "-extfile",
        ext.to_str().unwrap(),
    ]);
    let web = |key: &str| {
        format!(
            "{}\n[web]\nlisten = \"127.0.0.1:{web_port}\"\ntls_cert = \"console.crt\"\ntls_key = \"{key}\"\n",
            common::CONFIG
        )
    };
    bm.write("billmail.toml", &web("missing.key"));
    let refused = bm.run(&["check-config"]).fails();
    assert!(
        refused.stdout.contains("[web] tls_key:") && refused.stdout.contains("cannot be read"),
        "{}",
        refused.stdout
    );
    bm.write("billmail.toml", &web("console.key"));
    bm.run(&["check-config"]).ok();
    std::fs::write(bm.path("port"), web_port.to_string()).unwrap();
    let _web = start_web(&bm);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(bm.path("ca.crt")).unwrap()).unwrap();
    let https = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let page = https.get(format!("https://127.0.0.1:{web_port}/login")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // plain HTTP to the same port gets no page
    let plain = reqwest::get(format!("http://127.0.0.1:{web_port}/login")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}
