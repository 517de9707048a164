//! The source tree keeps its shape: folders name the layers, imports point
//! one way, commands never call each other, reports never reach back into
//! what produced them, and no function grows past what reads as one step.
//!
//! Imports are read from the source text (`crate::a::b`, `super::x`, and
//! the items of `use crate::a::{b, c}`), resolved to the file that defines
//! the module, outside `#[cfg(test)]` blocks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Whole-file reads that never wait (`tests/layout/reads.rs`).
mod reads;
/// The size limits and the tests' own layout (`tests/layout/sizes.rs`).
mod sizes;

pub(crate) fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` → `["a", "b"]`; `src/a/mod.rs` → `["a"]`.
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts
}

/// The code outside the unit tests, without comment lines (docs name
/// modules they do not import).
pub(crate) fn without_tests(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

struct Tree {
    /// Relative path (`commands/plan.rs`) → its code without tests.
    files: BTreeMap<String, String>,
    modules: BTreeMap<Vec<String>, String>,
}

impl Tree {
    fn load() -> Tree {
        let mut paths = Vec::new();
        rust_files(&src(), &mut paths);
        let mut files = BTreeMap::new();
        let mut modules = BTreeMap::new();
        for p in paths {
            let rel = p
                .strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            modules.insert(module_of(&rel), rel.clone());
            files.insert(rel, without_tests(&text));
        }
        Tree { files, modules }
    }

    /// The file defining the longest module prefix of `path`.
    fn resolve(&self, path: &[String]) -> Option<&String> {
        (1..=path.len())
            .rev()
            .find_map(|n| self.modules.get(&path[..n]))
    }

    fn imports(&self, rel: &str) -> BTreeSet<String> {
        let text = &self.files[rel];
        let me = module_of(rel);
        let parent: Vec<String> = me[..me.len().saturating_sub(1)].to_vec();
        let path = regex::Regex::new(r"\b(crate|super)::([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)")
            .unwrap();
        let group = regex::Regex::new(r"use crate::([a-z_:]+)::\{([^}]*)\}").unwrap();
        let mut found = BTreeSet::new();
        for c in path.captures_iter(text) {
            let mut full = if &c[1] == "crate" {
                Vec::new()
            } else {
                parent.clone()
            };
            full.extend(c[2].split("::").map(str::to_string));
            if let Some(f) = self.resolve(&full) {
                found.insert(f.clone());
            }
        }
        for c in group.captures_iter(text) {
            let base: Vec<String> = c[1].split("::").map(str::to_string).collect();
            for item in c[2].split(',') {
                let item = item.trim().split(' ').next().unwrap_or_default();
                if !item.is_empty()
                    && item != "self"
                    && item.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')
                {
                    let mut full = base.clone();
                    full.push(item.to_string());
                    if let Some(f) = self.resolve(&full) {
                        found.insert(f.clone());
                    }
                }
            }
        }
        found.remove(rel);
        found
    }

    fn graph(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.files
            .keys()
            .map(|f| (f.clone(), self.imports(f)))
            .collect()
    }
}

/// A cycle through `start`, if there is one (depth-first search).
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, next, start, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let tree = Tree::load();
    let graph = tree.graph();
    // The graph is real: the engine reads the values and the commands the config.
    assert!(
        graph["engine/mod.rs"].contains("values/customer.rs"),
        "{:?}",
        graph["engine/mod.rs"]
    );
    assert!(graph["commands/customers.rs"]
        .iter()
        .any(|f| f.starts_with("config/")));
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|f| cycle_from(&graph, f))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import circles:\n{}", cycles.join("\n"));
}

/// The layers, highest first: the one declaration of the source tree's
/// shape. A file may import its own layer and any layer listed below it,
/// never one above. The README's picture under "Layout" is drawn from this
/// list (`readme_layer_picture_is_the_declared_order` prints it).
const LAYERS: &[(&str, &str)] = &[
    ("main.rs", "parse flags, init tracing; lib.rs dispatches and gives the exit code"),
    ("commands/", "one thin file per subcommand: its flags, the layers below, output; mod.rs the command line"),
    ("flows/", "one wing per fleet operation: the GitHub loop, customers, adopt, drift, rollout, doctor, local, sync"),
    ("rollout/", "rollouts: waves, their events, start and queue, ticks, the approval gate"),
    ("fleet/", "runs over customers × environments in parallel"),
    ("engine/", "one customer × environment: values → plan folder → gates → apply; the policy tools it runs"),
    ("relay/", "the GitHub side of the loop for a private manager repo"),
    ("github/", "the client and one file per API family"),
    ("dispatch/", "the dispatch payload, its signature and sealed plan artifacts"),
    ("report/", "everything rendered for people; Markdown and HTML escaping in one place; the repos `init` writes"),
    ("context.rs", "what a command runs with: its output, audit log, notifications, network settings"),
    ("notify/", "notifications: targets, delivery, the retry queue"),
    ("audit.rs", "the audit log"),
    ("output.rs", "the only printer"),
    ("error.rs", "the command's error and its exit code"),
    ("policy/", "gates, their verdict, the approval check"),
    ("terraform/", "the Terraform process, a pair's working copy and backend"),
    ("doctor/", "doctor's checks: pure functions over the settings read from GitHub"),
    ("values/", "schema, layers, value templates, customer files"),
    ("records/", "records that outlive the runner: a folder or an S3 bucket, create-only"),
    ("ci/", "the runner's side: event, outputs, step summary"),
    ("data/", "plain data: what a plan does, what its gates said, a problem and where it is"),
    ("config/", "fleetform.yml, the registry and its text-preserving edits"),
    ("version.rs", "the version and build facts"),
    ("net/", "the one HTTP client setup: proxies (HTTPS_PROXY, NO_PROXY, …), trusted CAs, TLS errors"),
    ("util/", "leaf helpers: files, paths, child processes, credentials, shown text"),
];

/// Imports that still run upward, each named by file. The list only
/// shrinks: an entry that no longer exists fails the test too, so it is
/// taken off when the import goes.
const UPWARD_STILL: &[&str] = &[];

/// The layer a file belongs to: its folder (`flows/`) or, at the top of
/// `src/`, the file itself (`audit.rs`; `lib.rs` goes with `main.rs`). A
/// folder beside a file module (`x/` beside `x.rs`) is in that file's
/// layer.
fn layer_of(rel: &str) -> &str {
    match rel.split_once('/') {
        Some((folder, _)) => LAYERS
            .iter()
            .map(|(l, _)| *l)
            .find(|l| l.strip_suffix(".rs") == Some(folder))
            .unwrap_or(&rel[..folder.len() + 1]),
        None if rel == "lib.rs" => "main.rs",
        None => rel,
    }
}

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|(l, _)| *l == layer)
}

/// Every import from one layer to another: (from layer, to layer) → the
/// file-level imports behind it.
fn layer_graph(
    graph: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<(String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (file, deps) in graph {
        for d in deps {
            let (a, b) = (layer_of(file), layer_of(d));
            if a != b {
                out.entry((a.to_string(), b.to_string()))
                    .or_default()
                    .push(format!("{file} -> {d}"));
            }
        }
    }
    out
}

#[test]
fn every_file_is_in_a_declared_layer() {
    let tree = Tree::load();
    let mut missing: BTreeSet<&str> = BTreeSet::new();
    for file in tree.files.keys() {
        if rank(layer_of(file)).is_none() {
            missing.insert(layer_of(file));
        }
    }
    assert!(
        missing.is_empty(),
        "not in LAYERS (tests/layout.rs): {missing:?}; add each where it belongs in the order"
    );
    // Every declared layer exists.
    let gone: Vec<&str> = LAYERS
        .iter()
        .map(|(l, _)| *l)
        .filter(|l| !tree.files.keys().any(|f| layer_of(f) == *l))
        .collect();
    assert!(gone.is_empty(), "declared but not in src/: {gone:?}");
}

/// The scan is real: it found imports between layers, downward ones the
/// code is known to have among them, so an empty scan cannot pass.
fn scan_found_known_imports(layers: &BTreeMap<(String, String), Vec<String>>) {
    for (from, to) in [("commands/", "config/"), ("engine/", "values/")] {
        assert!(
            layers.contains_key(&(from.to_string(), to.to_string())),
            "the scan found no import from {from} to {to}: {} layer edges",
            layers.len()
        );
    }
}

#[test]
fn layers_import_only_what_is_below_them() {
    let tree = Tree::load();
    let graph = tree.graph();
    let layers = layer_graph(&graph);
    scan_found_known_imports(&layers);
    let mut upward = BTreeSet::new();
    for ((from, to), imports) in layers {
        let (Some(a), Some(b)) = (rank(&from), rank(&to)) else {
            continue; // every_file_is_in_a_declared_layer reports it
        };
        if b < a {
            upward.extend(imports);
        }
    }
    let allowed: BTreeSet<String> = UPWARD_STILL.iter().map(|s| s.to_string()).collect();
    let new: Vec<&String> = upward.difference(&allowed).collect();
    assert!(
        new.is_empty(),
        "imports from a lower layer up to a higher one (order: LAYERS in tests/layout.rs):\n{}",
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let fixed: Vec<&String> = allowed.difference(&upward).collect();
    assert!(
        fixed.is_empty(),
        "no longer imported upward: take these off UPWARD_STILL:\n{}",
        fixed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Commands never call each other (the shared `commands/mod.rs` aside).
    let mut across = Vec::new();
    for (file, deps) in &graph {
        if file.starts_with("commands/") {
            for d in deps {
                let same = d == "commands/mod.rs"
                    || file
                        .strip_prefix("commands/")
                        .and_then(|f| f.split_once('/'))
                        .map(|(c, _)| c)
                        == d.strip_prefix("commands/")
                            .and_then(|f| f.split_once('/'))
                            .map(|(c, _)| c)
                        && file.matches('/').count() > 1;
                if d.starts_with("commands/") && !same {
                    across.push(format!("{file} imports {d}"));
                }
            }
        }
    }
    assert!(
        across.is_empty(),
        "commands call each other:\n{}",
        across.join("\n")
    );
    // ... and it looked: most command files import something.
    let importing = graph
        .iter()
        .filter(|(f, deps)| f.starts_with("commands/") && !deps.is_empty())
        .count();
    assert!(
        importing >= 10,
        "only {importing} command files import anything"
    );
}

#[test]
fn the_layer_check_catches_an_upward_import() {
    // The check is real: util importing the config is found upward, and
    // the graph it reads has the imports it should.
    let util = rank("util/").unwrap();
    let config = rank("config/").unwrap();
    assert!(config < util, "config is above util");
    assert_eq!(layer_of("lib.rs"), "main.rs");
    assert_eq!(layer_of("commands/rollout/mod.rs"), "commands/");
    let mut graph = BTreeMap::new();
    graph.insert(
        "util/fs.rs".to_string(),
        BTreeSet::from(["config/mod.rs".to_string()]),
    );
    let layers = layer_graph(&graph);
    assert_eq!(
        layers[&("util/".to_string(), "config/".to_string())],
        ["util/fs.rs -> config/mod.rs"]
    );
}

#[test]
fn no_folder_loop() {
    let tree = Tree::load();
    let graph = tree.graph();
    let allowed: BTreeSet<&str> = UPWARD_STILL.iter().copied().collect();
    let mut folders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ((from, to), imports) in layer_graph(&graph) {
        if imports.iter().any(|i| !allowed.contains(i.as_str())) {
            folders.entry(from).or_default().insert(to);
        }
    }
    assert!(folders.contains_key("commands/"));
    // The layer list is not empty and names every folder of src/ (a folder
    // beside a file module, `x/` beside `x.rs`, is in that file's
    // layer), and the folder graph holds most of them: an empty scan fails.
    let mut dirs = 0;
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            dirs += 1;
            let name = format!("{}/", path.file_name().unwrap().to_string_lossy());
            let layer = layer_of(&format!("{name}mod.rs")).to_string();
            assert!(rank(&layer).is_some(), "src/{name} is in no layer");
        }
    }
    assert!(dirs >= 10, "only {dirs} folders under src/");
    assert!(
        folders.len() * 2 >= dirs,
        "the folder graph has {} importing layers for {dirs} folders",
        folders.len()
    );
    let cycles: Vec<String> = folders
        .keys()
        .filter_map(|f| cycle_from(&folders, f))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(
        cycles.is_empty(),
        "folders in a loop:\n{}",
        cycles.join("\n")
    );
}

/// The book's picture of the layers (docs/src/contributing/layout.md),
/// as drawn from [`LAYERS`].
fn layer_picture() -> String {
    let mut s = String::from("```\n");
    for (layer, what) in LAYERS {
        let path = match *layer {
            "main.rs" => "src/main.rs, lib.rs".to_string(),
            l => format!("src/{l}"),
        };
        s.push_str(&format!("{path:<24}{what}\n"));
    }
    s.push_str(&format!(
        "{:<24}{}\n",
        "crates/fleetform-yaml/",
        "YAML with positions and limits (`fleetform_yaml`), below every layer"
    ));
    s.push_str("```\n");
    s
}

#[test]
fn book_layer_picture_is_the_declared_order() {
    let book = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/src/contributing/layout.md"),
    )
    .unwrap();
    let picture = layer_picture();
    assert!(
        book.contains(&picture),
        "docs/src/contributing/layout.md's layer picture is not LAYERS in tests/layout.rs; it should read:\n{picture}"
    );
}

/// Each wing of `src/flows/` reads as one place: its tests in the
/// `tests/` folder of its name, its book chapter named alike
/// (`github_loop` → `github-loop.md`), and the book's layout table
/// pointing at both.
#[test]
fn every_wing_has_its_tests_and_its_chapter_named_alike() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("docs/src/contributing/layout.md")).unwrap();
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(src().join("flows")).unwrap() {
        let path = entry.unwrap().path();
        let wing = match path.file_stem().and_then(|s| s.to_str()) {
            Some("mod") | None => continue,
            Some(w) => w.to_string(),
        };
        let tests = format!("tests/{wing}/");
        let chapter = format!("{}.md", wing.replace('_', "-"));
        let chapters: Vec<String> = ["provider", "operations"]
            .iter()
            .map(|part| format!("docs/src/{part}/{chapter}"))
            .filter(|c| root.join(c).is_file())
            .collect();
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `flows/{wing}")));
        match (chapters.as_slice(), row) {
            ([c], Some(row)) => {
                let link = c.trim_start_matches("docs/src/");
                if !row.contains(&format!("`{tests}`")) || !row.contains(&format!("(../{link})")) {
                    wrong.push(format!(
                        "{wing}: the layout table's row names neither `{tests}` nor {link}: {row}"
                    ));
                }
            }
            ([], _) => wrong.push(format!(
                "{wing}: no chapter docs/src/{{provider,operations}}/{chapter}"
            )),
            (_, None) => wrong.push(format!(
                "{wing}: no row `| `flows/{wing}…` in the layout table"
            )),
            (many, _) => wrong.push(format!("{wing}: more than one chapter: {many:?}")),
        }
        if !root.join(&tests).is_dir() {
            wrong.push(format!("{wing}: no {tests}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "wings that do not read as one place:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_folder_says_what_lives_there_and_what_it_may_import() {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    for p in paths.iter().filter(|p| p.ends_with("mod.rs")) {
        let text = std::fs::read_to_string(p).unwrap();
        let doc: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!doc.is_empty(), "{}: no module docs", p.display());
        let folder = p
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        if folder != "commands" {
            assert!(
                doc.contains("May import"),
                "{}: the docs do not say what it may import",
                p.display()
            );
        }
    }
}

/// The layers a folder's docs say it may import: every backticked name in
/// its "May import" paragraph whose first segment is a layer (`config`,
/// `util::text` → `util/`, `audit` → `audit.rs`); other names (items,
/// crates) are details. "May import what `deploy` may" takes that
/// folder's list too.
fn declared_imports(folder_doc: &str, doc_of: &dyn Fn(&str) -> String) -> BTreeSet<String> {
    let lines: Vec<&str> = folder_doc
        .lines()
        .map(|l| l.trim_start_matches("//!").trim())
        .collect();
    let Some(start) = lines.iter().position(|l| l.contains("May import")) else {
        return BTreeSet::new();
    };
    let para = lines[start..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    // What follows "Never …" / "Nothing …" / "Not …" is what it may not.
    let para = regex::Regex::new(r"\b(?:Never|Nothing|Not)\b")
        .unwrap()
        .split(&para)
        .next()
        .unwrap_or_default()
        .to_string();
    let name = regex::Regex::new(r"`([a-z_]+)(?:::[A-Za-z_:]+)?`").unwrap();
    let mut out = BTreeSet::new();
    for c in name.captures_iter(&para) {
        let seg = &c[1];
        for layer in [format!("{seg}/"), format!("{seg}.rs")] {
            if rank(&layer).is_some() {
                out.insert(layer);
            }
        }
    }
    let inherits = regex::Regex::new(r"May import what `([a-z_]+)` may").unwrap();
    if let Some(c) = inherits.captures(&para) {
        out.extend(declared_imports(&doc_of(&c[1]), doc_of));
    }
    out
}

/// Each folder's "May import" says what it imports: every layer its files
/// import is named there, and every layer named there is imported (a
/// paragraph that no longer matches the code is caught either way).
#[test]
fn every_folders_may_import_matches_its_imports() {
    let tree = Tree::load();
    let graph = tree.graph();
    let doc_of = |folder: &str| -> String {
        std::fs::read_to_string(src().join(folder).join("mod.rs"))
            .unwrap_or_default()
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let folders: BTreeSet<String> = tree
        .files
        .keys()
        .filter(|f| f.ends_with("/mod.rs"))
        .map(|f| f.trim_end_matches("mod.rs").to_string())
        .filter(|f| layer_of(f) != "commands/")
        .collect();
    assert!(folders.len() > 15, "{folders:?}");
    let mut wrong = Vec::new();
    for folder in &folders {
        let own = layer_of(folder);
        let real: BTreeSet<String> = graph
            .iter()
            .filter(|(file, _)| file.starts_with(folder.as_str()))
            .flat_map(|(_, deps)| deps.iter().map(|d| layer_of(d).to_string()))
            .filter(|l| l != own)
            .collect();
        let doc = doc_of(folder.trim_end_matches('/'));
        let mut declared = declared_imports(&doc, &doc_of);
        declared.remove(own);
        let unnamed: Vec<&String> = real.difference(&declared).collect();
        // A folder that may import what its parent may uses a part of it.
        let inherits = doc.contains("May import what `");
        let unused: Vec<&String> = match inherits {
            true => Vec::new(),
            false => declared.difference(&real).collect(),
        };
        if !unnamed.is_empty() || !unused.is_empty() {
            wrong.push(format!(
                "src/{folder}mod.rs: imports but does not name {unnamed:?}; names but does not import {unused:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "\"May import\" out of date:\n{}",
        wrong.join("\n")
    );
}

/// `src/output.rs` is the one output layer: no other file writes to stdout
/// or stderr (their text would skip the terminal escapes and, under
/// Actions, the neutralising of workflow commands). `src/main.rs` hands the
/// log and flag errors to it.
#[test]
fn only_the_output_layer_prints() {
    let tree = Tree::load();
    let writes = regex::Regex::new(r"\b(?:e?print(?:ln)?|dbg)!|\bio::std(?:out|err)\b").unwrap();
    // The scan is real: many files, and the pattern finds the one
    // printer's own writes.
    assert!(tree.files.len() >= 100, "only {} files", tree.files.len());
    assert!(writes.is_match(&tree.files["output.rs"]));
    let mut wrong = Vec::new();
    for (file, code) in &tree.files {
        if file == "output.rs" {
            continue;
        }
        for m in writes.find_iter(code) {
            wrong.push(format!("src/{file} uses {}", m.as_str()));
        }
    }
    assert!(
        wrong.is_empty(),
        "print through src/output.rs instead:\n{}",
        wrong.join("\n")
    );
}
