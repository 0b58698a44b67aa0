//! billmail: the billing daemon of a managed-IT-services provider.
//!
//! `domain` is the pure core; `config`, `store`, `render`, `engine` and
//! `cli` are the shell around it. See ARCHITECTURE.md.

pub mod acting;
pub mod by_hand;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod domain;
pub mod engine;
pub mod export;
pub mod imports;
pub mod inbox;
pub mod intake;
pub mod logging;
pub mod mail;
pub mod pdf;
pub mod reading;
pub mod render;
pub mod store;
pub mod trust;
pub mod web;

/// mimalloc for every binary that links billmail (the daemon, the CLI, the
/// tests and benches). Measured on `cargo bench --bench reader`: the system
/// allocator's malloc and free were about 14% of the reader's instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Gives memory freed by a round of work back to the system: mimalloc's
/// free pages (of this thread and those abandoned by others) and the C
/// allocator's (SQLite's, which allocates with malloc). The daemon calls it
/// after each cycle (which ran in a child; this gives back what the
/// daemon's own queries and the child's answer took), so it idles small
/// (`cargo bench --bench mail`, idle).
pub fn give_back_memory() {
    // SAFETY: both only walk the allocators' own free lists; no pointer of
    // ours is read or invalidated.
    unsafe {
        libmimalloc_sys::mi_collect(true);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        libc::malloc_trim(0);
    }
}

/// This very program, for the children billmail starts from its own
/// binary (`cycle-worker`, `pdf-worker`): `/proc/self/exe`, which names the
/// running file even after a package upgrade replaced it on disk.
pub fn own_program() -> std::path::PathBuf {
    let me = std::path::PathBuf::from("/proc/self/exe");
    if me.exists() { me } else { std::env::current_exe().unwrap_or(me) }
}

/// The one TLS crypto provider billmail uses (ring), named rather than left
/// to rustls to guess: a build where another crate enables a second provider
/// (a test's browser driver does) would otherwise panic at the first TLS
/// connection.
pub fn tls_provider() -> std::sync::Arc<tokio_rustls::rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}
