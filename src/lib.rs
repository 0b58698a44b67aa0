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
pub mod inbox;
pub mod intake;
pub mod logging;
pub mod mail;
pub mod reading;
pub mod render;
pub mod store;
pub mod trust;
