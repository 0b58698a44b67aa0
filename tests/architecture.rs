//! The import graph between billmail's modules, drawn from the `crate::`
//! (and, inside `domain`, `super::`) paths in `src/`, and the rules it must
//! keep: no loop between modules, the mail edge never reaching into intake,
//! intake never into the cycle, and the domain pure and free of circles.
//! `cargo test --test architecture -- --nocapture` prints the graph as DOT.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its comments (a doc link is not an import).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each name that follows `prefix` (`crate::` or `super::`), including
/// every name of a group (`crate::{a, b::c}`).
fn targets(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    for (i, _) in text.match_indices(prefix) {
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(inner.split(',').map(|part| ident(part.trim())).filter(|n| !n.is_empty()));
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn graphs() -> (Graph, Graph) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut top = Graph::new();
    let mut domain = Graph::new();
    for f in &files {
        let from = module_of(&src, f);
        let text = code(f);
        let edges = top.entry(from.clone()).or_default();
        edges.extend(targets(&text, "crate::").into_iter().filter(|t| modules.contains(t) && *t != from));
        let rel = f.strip_prefix(&src).unwrap();
        if from == "domain" && rel.components().count() == 2 {
            let stem = rel.file_stem().unwrap().to_string_lossy().to_string();
            if stem == "mod" || stem == "tests" {
                continue;
            }
            let siblings: BTreeSet<String> = std::fs::read_dir(src.join("domain"))
                .unwrap()
                .flatten()
                .filter_map(|e| e.path().file_stem().map(|s| s.to_string_lossy().to_string()))
                .filter(|s| s != "mod" && s != "tests")
                .collect();
            let edges = domain.entry(stem.clone()).or_default();
            edges.extend(targets(&text, "super::").into_iter().filter(|t| siblings.contains(t) && *t != stem));
        }
    }
    (top, domain)
}

/// `src/engine/billing.rs` is in `engine`; `src/render.rs` is `render`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// A loop in `g`, as the path that closes it, if there is one.
fn find_loop(g: &Graph) -> Option<Vec<String>> {
    fn visit(n: &str, g: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
}

fn dot(name: &str, g: &Graph) -> String {
    let mut out = format!("digraph {name} {{\n");
    for (from, tos) in g {
        for to in tos {
            out.push_str(&format!("  {from} -> {to};\n"));
        }
    }
    out + "}\n"
}

#[test]
fn the_modules_import_each_other_without_a_loop() {
    let (top, domain) = graphs();
    println!("{}", dot("billmail", &top));
    println!("{}", dot("domain", &domain));
    assert!(top.len() > 10, "the graph was drawn: {top:?}");
    if let Some(cycle) = find_loop(&top) {
        panic!("a loop between modules: {}\n{}", cycle.join(" -> "), dot("billmail", &top));
    }
    for (from, to) in [("mail", "intake"), ("intake", "engine"), ("inbox", "mail"), ("inbox", "intake")] {
        assert!(!top[from].contains(to), "{from} imports {to}:\n{}", dot("billmail", &top));
    }
    // the pure core: the domain imports nothing of billmail's, and no
    // file of it imports another that imports it back
    assert!(top["domain"].is_empty(), "domain imports {:?}", top["domain"]);
    for pure in ["reading", "acting"] {
        for io in ["store", "mail", "engine", "intake", "daemon", "cli"] {
            assert!(!top[pure].contains(io), "{pure} imports {io}");
        }
    }
    assert!(domain.len() > 5, "the domain's graph was drawn: {domain:?}");
    if let Some(cycle) = find_loop(&domain) {
        panic!("a circle in the domain: {}\n{}", cycle.join(" -> "), dot("domain", &domain));
    }
}

#[test]
fn a_loop_is_found_when_there_is_one() {
    let g: Graph = [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec![])]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(find_loop(&g), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let tree: Graph = [("a", vec!["b", "c"]), ("b", vec!["c"]), ("c", vec![])]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(find_loop(&tree), None);
    assert_eq!(
        targets("use crate::{config::Config, domain::Money};\nlet x = crate::store::open();", "crate::"),
        ["config", "domain", "store"].into_iter().map(String::from).collect()
    );
}
