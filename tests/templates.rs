//! Templates an MSP brands without rebuilding: `[templates] dir` replaces
//! built-in templates by name, and a broken one is refused before it can
//! stop a billing run.

mod common;

use common::{ACCOUNTS, Bm};

const NOV2: &str = "2026-11-02T09:00:00-05:00";
const NOV15: &str = "2026-11-15T08:00:00-05:00";

fn with_templates(files: &[(&str, &str)]) -> Bm {
    let bm = Bm::new();
    std::fs::create_dir(bm.path("brand")).unwrap();
    for (name, text) in files {
        bm.write(&format!("brand/{name}"), text);
    }
    let config = std::fs::read_to_string(bm.path("billmail.toml")).unwrap();
    bm.write("billmail.toml", &format!("{config}\n[templates]\ndir = \"brand\"\n"));
    bm
}

#[test]
fn a_template_in_the_folder_replaces_the_built_in_one_of_that_name() {
    let bm = with_templates(&[
        (
            "invoice_agreement.txt.j2",
            "{% include \"_brand.txt.j2\" %}\nInvoice {{ invoice.number }} for {{ customer.name }}: {{ invoice.amount_due }} by {{ invoice.due }}.\n",
        ),
        ("_brand.txt.j2", "*** {{ company.name }}: IT that just works ***"),
    ]);
    let check = bm.run(&["check-config"]).ok();
    assert!(check.stdout.contains("templates from"), "{}", check.stdout);
    bm.import_accounts(ACCOUNTS, NOV2).ok();
    bm.at(NOV15, &["tick"]).ok();
    let text = bm.run(&["outbox", "show", "1"]).ok().stdout;
    assert!(text.contains("*** KR Group: IT that just works ***"), "{text}");
    assert!(text.contains("Invoice INV-2026-0001 for Acme Dental: $1,997.50 by November 30, 2026."), "{text}");
    // what is not replaced stays built in
    let html = bm.run(&["outbox", "show", "1", "--html"]).ok().stdout;
    assert!(html.contains("<!DOCTYPE html>") && html.contains("INV-2026-0001"), "{html}");
    let shown = bm.run(&["invoices", "show", "INV-2026-0001"]).ok().stdout;
    assert!(shown.contains("IT that just works"), "{shown}");
}

#[test]
fn a_broken_template_is_refused_before_anything_is_issued() {
    for (name, text, says) in [
        ("invoice_service.html.j2", "<p>{% if %}</p>", "invoice_service.html.j2: syntax error"),
        (
            "reminder.txt.j2",
            "Dear {{ customr.name }}",
            "reminder.txt.j2: uses customr which this template is not given",
        ),
        ("invoice_recurring.txt.j2", "{{ invoice.nmber }}", "undefined value"),
        ("invoice_agrement.txt.j2", "typo", "invoice_agrement.txt.j2: billmail has no template of that name"),
        ("invoice_agreement.txt.j2", "{% include \"_missing.txt.j2\" %}", "_missing.txt.j2"),
    ] {
        let bm = with_templates(&[(name, text)]);
        let check = bm.run(&["check-config"]);
        assert_eq!(check.code, 1, "{name}: {}", check.stdout);
        assert!(check.stdout.contains(says), "{name}: {}", check.stdout);
        bm.import_accounts(ACCOUNTS, NOV2).ok();
        let tick = bm.at(NOV15, &["tick"]).fails();
        assert!(tick.stderr.contains(says), "{name}: {}", tick.stderr);
        assert_eq!(tick.stderr.trim().lines().count(), 1, "{}", tick.stderr);
        assert!(bm.invoices().is_empty(), "{name}: nothing issued");
    }
}

#[test]
fn a_missing_folder_is_a_config_error() {
    let bm = Bm::new();
    let config = std::fs::read_to_string(bm.path("billmail.toml")).unwrap();
    bm.write("billmail.toml", &format!("{config}\n[templates]\ndir = \"nowhere\"\n"));
    let check = bm.run(&["check-config"]);
    assert_eq!(check.code, 1);
    assert!(
        check.stdout.contains("[templates] dir:") && check.stdout.contains("nowhere is not a folder"),
        "{}",
        check.stdout
    );
}
