//! Processes as Linux's /proc shows them: the children billmail starts
//! from its own binary (`cycle-worker`, `pdf-worker`), and whether one is
//! still alive. Shared with `benches/mail.rs`.

/// The children of `pid` (of any of its threads) run as `billmail <what>`.
pub fn children_running(pid: u32, what: &str) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let mut found = Vec::new();
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            if cmdline.split(|b| *b == 0).nth(1) == Some(what.as_bytes()) {
                found.push(child);
            }
        }
    }
    found
}

/// Whether `pid` runs (a zombie, ended but not yet waited for, does not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"))
}
