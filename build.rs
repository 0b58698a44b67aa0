// Rebuild when a migration is added: `sqlx::migrate!` embeds migrations/ at
// compile time. The templates are embedded here (minijinja-embed), rebuilt
// when one changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    minijinja_embed::embed_templates!("templates", &[".j2"][..]);
    // the web console's pages (src/web/templates), a bundle of their own
    minijinja_embed::embed_templates!("src/web/templates", &[".j2"][..], "web");
    // The binary's 168,000 relative relocations packed (DT_RELR, glibc 2.36
    // and later): as RELA they are 3.9 MiB that the loader reads at every
    // start and that stay resident in every billmail process, the daemon
    // included (measured in `cargo bench --bench mail`'s idle part).
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
