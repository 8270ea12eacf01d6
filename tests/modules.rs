//! The crate's modules form a DAG: no top-level module of `src/` uses one that uses it back
//! (ARCHITECTURE.md's layering). Read from the source text: every `crate::NAME` path (and
//! `crate::{A, B}` group) outside comments is an edge from the file's top-level module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `src/NAME.rs` or `src/NAME/…` → `NAME`; `lib.rs` and `main.rs` are the roots, not modules.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The top-level modules a source text names through `crate::`, comments left out.
fn uses(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or("");
                for item in group.split(',') {
                    let name: String =
                        item.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        names.insert(name);
                    }
                }
            } else {
                let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        }
    }
    names
}

fn rust_files(folder: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            out.push(path);
        }
    }
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|on_path| on_path == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn graph_of(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(file.strip_prefix(root).unwrap()) else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        let edges = graph.entry(module.clone()).or_default();
        edges.extend(uses(&text).into_iter().filter(|used| *used != module));
    }
    graph
}

#[test]
fn no_module_uses_one_that_uses_it_back() {
    let graph = graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() > 10, "the source tree was read: {graph:?}");
    if let Some(found) = cycle(&graph) {
        panic!("modules use each other: {}", found.join(" → "));
    }
}

#[test]
fn the_reader_finds_paths_groups_and_cycles() {
    assert_eq!(
        uses("use crate::record::Instant;\nuse crate::{store, timeline::Window};\n// crate::api in a comment"),
        ["record", "store", "timeline"].map(str::to_owned).into()
    );
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("a".into(), ["b".to_owned()].into());
    graph.insert("b".into(), ["c".to_owned()].into());
    graph.insert("c".into(), BTreeSet::new());
    assert_eq!(cycle(&graph), None);
    graph.get_mut("c").unwrap().insert("a".into());
    assert_eq!(cycle(&graph), Some(["a", "b", "c", "a"].map(str::to_owned).to_vec()));
}

#[test]
fn the_post_mortem_sits_after_the_timeline_and_before_the_api() {
    let graph = graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let uses = &graph["postmortem"];
    assert!(uses.contains("timeline"), "the post-mortem reads the timeline: {uses:?}");
    for later in ["api", "store", "collect", "jobs", "draft", "artifacts"] {
        assert!(!uses.contains(later), "postmortem uses {later}: it reads a built timeline, no second pipeline");
    }
    assert!(graph["api"].contains("postmortem"), "the daemon serves the post-mortem");
    assert!(!graph["timeline"].contains("postmortem"));
}
