//! The unit file as shipped: `systemd-analyze verify` finds nothing wrong and
//! `systemd-analyze security` rates it OK or better (exposure at most 2.0).

use std::path::Path;
use std::process::Command;

/// The shipped unit, with ExecStart pointing at the binary under test (verify
/// checks that the programs exist).
fn unit_under_test() -> (tempfile::TempDir, std::path::PathBuf) {
    let unit = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/billmail.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/billmail run"), "the unit runs the packaged binary");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("billmail.service");
    std::fs::write(&path, unit.replace("/usr/bin/billmail", env!("CARGO_BIN_EXE_billmail"))).unwrap();
    (dir, path)
}

fn analyze(args: &[&str], unit: &Path) -> (i32, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze is installed (scripts/test.sh installs the systemd package)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_unit_verifies_clean() {
    let (_dir, unit) = unit_under_test();
    let (code, text) = analyze(&["verify", "--man=no"], &unit);
    assert_eq!(code, 0, "{text}");
    assert!(text.trim().is_empty(), "verify printed warnings:\n{text}");
}

#[test]
fn the_unit_is_rated_ok_or_better() {
    let (_dir, unit) = unit_under_test();
    // --threshold is the exposure times ten: above 20 (2.0) fails
    let (code, text) = analyze(&["security", "--offline=yes", "--threshold=20"], &unit);
    assert_eq!(code, 0, "{text}");
    let line = text.lines().find(|l| l.contains("Overall exposure level")).expect("an overall rating");
    let level: f64 = line.split(':').nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(level <= 2.0, "{line}");
    assert!(line.contains("OK") || line.contains("SAFE"), "{line}");
}

#[test]
fn the_unit_has_what_billmail_relies_on() {
    let (_dir, unit) = unit_under_test();
    let text = std::fs::read_to_string(&unit).unwrap();
    for needed in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "DynamicUser=yes",
        "StateDirectory=billmail",
        "LoadCredential=billmail:/etc/billmail/credentials",
        "ProtectSystem=strict",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(text.lines().any(|l| l.starts_with(needed)), "missing {needed}");
    }
}
