//! One instance: the process that runs cycles and sends mail (`run`, `tick`,
//! `outbox retry`) holds an exclusive lock on a file beside the database, so
//! a second daemon, or a `tick` by hand while the daemon runs, refuses
//! instead of sending everything twice. `ingest` and the read-only commands
//! do not take it: SQLite's own locking orders their writes. The lock goes
//! with the process (a crash frees it).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    pub path: PathBuf,
}

impl InstanceLock {
    /// The lock beside `database` (`billmail.db.lock`), taken for `what`
    /// (`billmail run`, `billmail tick`); an error naming its holder when
    /// another process has it.
    pub fn acquire(database: &Path, what: &str) -> Result<InstanceLock> {
        let path = PathBuf::from(format!("{}.lock", database.display()));
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = OpenOptions::new()
            .mode(0o600)
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0)?;
                file.rewind()?;
                writeln!(file, "{what} (pid {})", std::process::id())?;
                Ok(InstanceLock { _file: file, path })
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another billmail" } else { holder };
                bail!(
                    "{holder} is running on this database ({} is locked): it runs the cycles and sends the mail itself; \
                     stop it first to do this by hand",
                    path.display()
                )
            }
            Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("billmail.db");
        let first = InstanceLock::acquire(&db, "billmail run").unwrap();
        let second = InstanceLock::acquire(&db, "billmail tick").unwrap_err().to_string();
        assert!(second.contains("billmail run (pid"), "{second}");
        drop(first);
        InstanceLock::acquire(&db, "billmail tick").unwrap();
    }
}
