// Rebuild when a migration is added: `sqlx::migrate!` embeds migrations/ at
// compile time. The templates are embedded here (minijinja-embed), rebuilt
// when one changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    minijinja_embed::embed_templates!("templates", &[".j2"][..]);
    // the web console's pages (src/web/templates), a bundle of their own
    minijinja_embed::embed_templates!("src/web/templates", &[".j2"][..], "web");
}
