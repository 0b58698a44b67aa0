//! The only place that speaks SQL. SQLite through sqlx, migrated from
//! `migrations/`; WAL, foreign keys on, every multi-row change in one
//! `BEGIN IMMEDIATE` transaction. Rows read back are parsed into domain
//! types again, not trusted.

mod accounts;
mod books;
mod collections;
mod export;
mod imports;
mod intake;
mod invoices;
mod lock;
mod outbox;
mod statements;
mod status;
mod types;
mod web;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

pub use accounts::{AccountSummary, HistoryEntry};
pub use collections::Collectable;
pub use export::{Scope, Voided, Written};
pub use imports::{AccountImport, SubscriptionImport};
pub use intake::{NewMessage, NewReview, ReviewRecord, StoredMessage};
pub use invoices::{InvoiceRecord, IssueItem};
pub use lock::InstanceLock;
pub use outbox::{NewMail, OutboxRecord, QueuedMail};
pub use statements::Ledger;
pub use status::{Event, Hold, Recorded, StatusReport};
pub use web::{AccountRow, InvoiceFilter, PaymentRow, WebSession, WebUser};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const LOCAL_FMT: &str = "%Y-%m-%dT%H:%M:%S";

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// A write transaction: everything done through it lands together or not at all.
pub struct Tx {
    tx: Transaction<'static, Sqlite>,
}

impl Store {
    async fn connect(path: &Path, create: bool) -> Result<Store> {
        if create && !path.exists() {
            // the books hold customers' names and money: readable by billmail's
            // user alone, whatever the umask (SQLite gives its -wal and -shm
            // files the database file's mode)
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create database {}", path.display()))?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;
        Ok(Store { pool })
    }

    /// SQLite frees what its connection caches (pages, statements' memory)
    /// and can rebuild: the daemon's idle memory, between cycles.
    pub async fn shrink_memory(&self) {
        if let Err(e) = sqlx::query("PRAGMA shrink_memory").execute(&self.pool).await {
            tracing::debug!(error = %e, "PRAGMA shrink_memory");
        }
    }

    /// SQLite's own check of the file's structure (`PRAGMA quick_check`):
    /// an error naming the first problems when the file is damaged.
    pub async fn ensure_sound(&self, path: &Path) -> Result<()> {
        let damaged = |what: String| {
            anyhow::anyhow!(
                "the database {} is damaged ({what}); stop billmail and restore it from a backup",
                path.display()
            )
        };
        let problems: Vec<String> = match sqlx::query_scalar("PRAGMA quick_check(5)").fetch_all(&self.pool).await {
            Ok(p) => p,
            // SQLite may refuse to walk a damaged page at all
            Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("11") | Some("26")) => {
                return Err(damaged(e.message().to_string()));
            }
            Err(e) => return Err(e).with_context(|| format!("checking database {}", path.display())),
        };
        if problems.len() == 1 && problems[0] == "ok" {
            return Ok(());
        }
        Err(damaged(problems.join("; ")))
    }

    /// Creates the database or migrates it to the current schema.
    pub async fn init(path: &Path) -> Result<(Store, usize)> {
        let store = Store::connect(path, true).await?;
        let before = store.applied_migrations().await.unwrap_or(0);
        MIGRATOR.run(&store.pool).await.context("migrating the database")?;
        let after = store.applied_migrations().await?;
        Ok((store, after - before))
    }

    /// Opens an existing database that is at the current schema.
    pub async fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            if let Some(service) = service_database_besides(path) {
                bail!(
                    "no database at {}; the service's is {}: set [database] url = \"sqlite://{}\" in the config",
                    path.display(),
                    service.display(),
                    service.display()
                );
            }
            bail!("no database at {}: run `billmail init` first", path.display());
        }
        let store = Store::connect(path, false).await?;
        let applied = store.applied_migrations().await.unwrap_or(0);
        let known = MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).count();
        if applied < known {
            bail!("the database at {} is at an older schema: run `billmail init` to migrate it", path.display());
        }
        if applied > known {
            bail!("the database at {} was migrated by a newer billmail; use that version", path.display());
        }
        Ok(store)
    }

    async fn applied_migrations(&self) -> Result<usize> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1").fetch_one(&self.pool).await?;
        Ok(n as usize)
    }

    pub async fn begin(&self) -> Result<Tx> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.context("starting a transaction")?;
        Ok(Tx { tx })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await.context("committing")?;
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.tx
    }
}

/// Whether `e` is a passing trouble (the database busy or locked, the disk
/// full, an I/O error) rather than something wrong with the input.
pub fn is_temporary(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() {
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL (primary codes)
            let primary = db.code().and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
            return matches!(primary, Some(5 | 6 | 10 | 13));
        }
        matches!(cause.downcast_ref::<sqlx::Error>(), Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut))
            || cause.downcast_ref::<std::io::Error>().is_some()
    })
}

/// Where the packaged service (billmail.service) keeps its books.
pub const SERVICE_DATABASE: &str = "/var/lib/billmail/billmail.db";

/// The packaged service's database, when it exists and is not `path`: an
/// admin's shell next to the service is told where the service's books are.
pub fn service_database_besides(path: &Path) -> Option<&'static Path> {
    let service = Path::new(SERVICE_DATABASE);
    (service.exists() && path != service).then_some(service)
}

pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| format!("stored date {s:?} is malformed"))
}

pub fn parse_local(s: &str) -> Result<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, LOCAL_FMT).with_context(|| format!("stored local time {s:?} is malformed"))
}

pub fn parse_decimal(s: &str) -> Result<rust_decimal::Decimal> {
    rust_decimal::Decimal::from_str(s).with_context(|| format!("stored number {s:?} is malformed"))
}
