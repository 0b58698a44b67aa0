//! billmail: the billing daemon of a managed-IT-services provider.
//!
//! `domain` is the pure core; `config`, `store`, `render`, `engine` and
//! `cli` are the shell around it. See ARCHITECTURE.md.

pub mod acting;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod domain;
pub mod engine;
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

/// mimalloc for every binary that links billmail (the daemon, the CLI, the
/// tests and benches). Measured on `cargo bench --bench reader`: the system
/// allocator's malloc and free were about 14% of the reader's instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
