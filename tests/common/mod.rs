//! A temporary billmail installation driven through the built binary.
#![allow(dead_code)]

pub mod bare;
pub mod dns;
pub mod mailstack;
pub mod oauth;
pub mod pdf;
pub mod procs;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub struct Bm {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "exit {}\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr);
        self
    }
    pub fn fails(self) -> Run {
        assert_ne!(self.code, 0, "expected failure\nstdout:\n{}", self.stdout);
        self
    }
    /// The failures billmail named on standard error (`billmail: …`), not
    /// the log lines around them.
    pub fn failures(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("billmail: ")).collect()
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// The line our receiving server (`authserv_ids` in the example config)
/// writes when it takes a message in: its Authentication-Results above it are
/// believed.
pub const ENTRY: &str = "Received: from mail.sender.example (mail.sender.example [203.0.113.10])\r\n\tby mx1.krgroup.example (Postfix) with ESMTPS; Mon, 16 Nov 2026 09:00:00 -0500\r\n";

/// The message of `tests/corpus` whose name starts with `name`: our own
/// fixtures only, so the tests pass on a clone with nothing beside it.
pub fn corpus(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let found = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).find(|p| {
        p.file_name().unwrap().to_string_lossy().starts_with(name) && p.extension().is_some_and(|x| x == "eml")
    });
    std::fs::read(found.unwrap_or_else(|| panic!("no corpus message {name}"))).unwrap()
}

/// A small deterministic generator (xorshift64*): the same sequence from
/// the same seed, for generated books and crash schedules.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub const CONFIG: &str = include_str!("../../examples/billmail.toml");

pub const ACCOUNTS: &str = "\
id,name,tier,full_time_users,part_time_users,billing_emails,authorized_emails,payer_names,start_date
ACME,Acme Dental,hybrid,22,3,ap@acme-dental.example;jane.doe@acme-dental.example,office@acme-dental.example,ACME DENTAL LLC,
HARBOR,Harborview Law,remote,10,0,billing@harborview.example,,,2026-12-01
";

impl Bm {
    /// A fresh folder with the example config and an initialised database.
    pub fn new() -> Bm {
        Bm::with_config(CONFIG)
    }

    pub fn with_config(config: &str) -> Bm {
        let bm = Bm { dir: tempfile::tempdir().unwrap() };
        bm.write("billmail.toml", config);
        bm.run(&["init"]).ok();
        bm
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// `args` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out: Output = Command::new(env!("CARGO_BIN_EXE_billmail"))
            .args(args)
            .envs(env.iter().copied())
            .arg("--config")
            .arg(self.path("billmail.toml"))
            .env_remove("BILLMAIL_CONFIG")
            .output()
            .expect("billmail runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// What `args` writes to standard output, as bytes (a PDF is not text).
    pub fn stdout_bytes(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new(env!("CARGO_BIN_EXE_billmail"))
            .args(args)
            .arg("--config")
            .arg(self.path("billmail.toml"))
            .env_remove("BILLMAIL_CONFIG")
            .output()
            .expect("billmail runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// `args` at `--now now`.
    pub fn at(&self, now: &str, args: &[&str]) -> Run {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--now", now]);
        self.run(&a)
    }

    pub fn import_accounts(&self, csv: &str, now: &str) -> Run {
        let p = self.write("accounts.csv", csv);
        self.at(now, &["accounts", "import", p.to_str().unwrap()])
    }

    pub fn invoices(&self) -> Vec<Value> {
        self.run(&["invoices", "list", "--json"]).ok().json().as_array().unwrap().clone()
    }

    pub fn invoice(&self, number: &str) -> Value {
        self.run(&["invoices", "show", number, "--format", "json"]).ok().json()
    }

    pub fn outbox(&self) -> Vec<Value> {
        self.run(&["outbox", "list", "--json"]).ok().json().as_array().unwrap().clone()
    }

    pub fn db(&self) -> &Path {
        self.dir.path()
    }
}

/// The rows `query` gives on the database in `dir`, a line each, the
/// columns joined by `|` (text and numbers as SQLite gives them; NULL empty).
pub fn sql(dir: &Path, query: &str) -> String {
    use sqlx::{Column, Row, ValueRef};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", dir.join("billmail.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows = sqlx::query(query).fetch_all(&pool).await.unwrap_or_else(|e| panic!("{query}: {e}"));
        pool.close().await;
        rows.iter()
            .map(|r| {
                r.columns()
                    .iter()
                    .map(|c| {
                        let i = c.ordinal();
                        if r.try_get_raw(i).map(|v| v.is_null()).unwrap_or(true) {
                            String::new()
                        } else if let Ok(n) = r.try_get::<i64, _>(i) {
                            n.to_string()
                        } else {
                            r.try_get::<String, _>(i).unwrap_or_default()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}
