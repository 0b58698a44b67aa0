//! The web console under a large book: 10,000 accounts with two invoices
//! each (20,000), 2,000 items waiting for review. Every page is asked for
//! 20 times over loopback (after one unmeasured request) and its median and
//! slowest times printed, against the stylesheet served by the same server
//! in the same run (the cost of the stack itself). Target: every page under
//! 50 ms. Run with `cargo bench --bench web`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use billmail::config::Config;
use billmail::daemon::Clock;
use billmail::domain::AccountId;
use billmail::engine::run_billing;
use billmail::intake::{Actor, Origin, take_in};
use billmail::render::Renderer;

mod common;

use common::{ACCOUNTS, at, seeded};

const REVIEWS: usize = 2_000;
const ROUNDS: usize = 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let text = format!("{}\n[web]\nlisten = \"127.0.0.1:0\"\n", include_str!("../examples/billmail.toml"));
    let config = Config::parse(&text, Path::new(".")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let store = seeded(dir.path(), &config).await;
    let renderer = Renderer::new();
    run_billing(&config, &store, &renderer, at("2026-12-05T08:00:00-05:00"), false).await.unwrap();
    let actor = Actor { config: &config, renderer: &renderer, dkim: None };
    for i in 0..REVIEWS {
        let raw = format!(
            "From: AP <ap@customer{i}.example>\r\nTo: accounting@krgroup.example\r\nSubject: users\r\nMessage-ID: <bench-{i}@customer{i}.example>\r\nDate: Fri, 04 Dec 2026 09:00:00 -0500\r\n\r\nPlease add two full-time users, maybe three.\r\n"
        );
        take_in(&store, &actor, raw.as_bytes(), Origin::INGEST, at("2026-12-04T09:00:00-05:00")).await.unwrap();
    }
    let now = at("2026-12-06T10:00:00-05:00");
    let hash = billmail::web::hash_password("bench password 1").unwrap();
    store.add_web_user("clara", "clerk", &hash, now).await.unwrap();
    let (open, total) = store.review_page(true, 0, 0).await.unwrap();
    drop(open);
    println!(
        "web: {ACCOUNTS} accounts, {} invoices, {total} review items open (seeded in {:.1} s)",
        store.invoices(None, false).await.unwrap().len(),
        t.elapsed().as_secs_f64()
    );
    assert!(total as usize >= REVIEWS, "every bench message waits for review");

    let app = Arc::new(billmail::web::App::new(config.clone(), store.clone(), Clock::starting_at(now)).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = billmail::web::router(app);
    tokio::spawn(async move {
        axum::serve(listener, routes.into_make_service_with_connect_info::<billmail::web::Remote>()).await.unwrap();
    });

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let login_cookie = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    let token = html.split("name=\"token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = http
        .post(format!("{base}/login"))
        .header("Cookie", login_cookie)
        .form(&[("name", "clara"), ("password", "bench password 1"), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("billmail_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let review_id = store.review_page(true, 1000, 1).await.unwrap().0[0].id;
    let invoice = store.invoices(Some(&AccountId::parse("A05000").unwrap()), false).await.unwrap()[0].number.clone();
    let pages = [
        "/static/style.css".to_string(),
        "/review".into(),
        "/review?page=40".into(),
        format!("/review/{review_id}"),
        "/accounts".into(),
        "/accounts?page=200".into(),
        "/accounts?q=customer4".into(),
        "/accounts?status=active&page=100".into(),
        "/accounts/A05000".into(),
        "/invoices".into(),
        "/invoices?page=400".into(),
        "/invoices?kind=agreement&status=open&period=2027-01".into(),
        format!("/invoices/{invoice}"),
        format!("/invoices/{invoice}/html"),
        "/aging".into(),
        "/operations".into(),
        "/operations?page=400".into(),
    ];
    let mut baseline = Duration::ZERO;
    let mut worst: (Duration, String) = (Duration::ZERO, String::new());
    println!("  {:<52} {:>9} {:>9} {:>8}", "page", "median", "slowest", "x base");
    for p in &pages {
        let get = || http.get(format!("{base}{p}")).header("Cookie", &session).send();
        let first = get().await.unwrap();
        assert_eq!(first.status(), 200, "{p}");
        first.bytes().await.unwrap();
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let r = get().await.unwrap();
            r.bytes().await.unwrap();
            times.push(t.elapsed());
        }
        let slowest = *times.iter().max().unwrap();
        let m = median(times);
        if p.starts_with("/static") {
            baseline = m;
        } else if m > worst.0 {
            worst = (m, p.clone());
        }
        println!(
            "  {:<52} {:>7.2}ms {:>7.2}ms {:>7.1}x",
            p,
            m.as_secs_f64() * 1e3,
            slowest.as_secs_f64() * 1e3,
            m.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
        );
    }
    let met = worst.0 < Duration::from_millis(50);
    println!(
        "  slowest page by median: {} at {:.2} ms (target < 50 ms): {}",
        worst.1,
        worst.0.as_secs_f64() * 1e3,
        if met { "met" } else { "NOT met" }
    );
}
