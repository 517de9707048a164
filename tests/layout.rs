//! The source tree keeps its shape: folders name the layers, imports point
//! one way, commands never call each other, reports never reach back into
//! what produced them, and no function grows past what reads as one step.
//!
//! Imports are read from the source text (`crate::a::b`, `super::x`, and
//! the items of `use crate::a::{b, c}`), resolved to the file that defines
//! the module, outside `#[cfg(test)]` blocks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
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
fn without_tests(text: &str) -> String {
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
        graph["terraform/engine.rs"].contains("values/customer.rs"),
        "{:?}",
        graph["terraform/engine.rs"]
    );
    assert!(graph["commands/plan.rs"]
        .iter()
        .any(|f| f.starts_with("config/")));
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|f| cycle_from(&graph, f))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import circles:\n{}", cycles.join("\n"));
}

#[test]
fn layers_import_only_what_is_below_them() {
    let tree = Tree::load();
    let graph = tree.graph();
    let forbidden: &[(&str, &[&str])] = &[
        // Commands never call each other.
        ("commands/", &["commands/"]),
        // Below the commands, nothing imports them.
        ("deploy/", &["commands/"]),
        ("fleet/", &["commands/", "deploy/", "github/"]),
        // Reports read plain data; they never reach back into what made it.
        (
            "report/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "github/",
                "terraform/engine.rs",
                "terraform/cli.rs",
            ],
        ),
        (
            "policy/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "github/",
                "report/",
                "terraform/engine.rs",
            ],
        ),
        (
            "values/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "github/",
                "report/",
                "terraform/",
                "policy/",
            ],
        ),
        (
            "config/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "github/",
                "report/",
                "terraform/",
                "values/",
            ],
        ),
        (
            "github/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "report/",
                "terraform/",
                "values/",
            ],
        ),
        // The relay: the GitHub side of the loop, below every command.
        (
            "relay/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "report/",
                "terraform/",
                "values/",
                "policy/",
            ],
        ),
        // The doctor's checks are pure: facts in, checklist out.
        (
            "doctor/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "github/",
                "report/",
                "terraform/",
                "values/",
                "policy/",
                "ci/",
            ],
        ),
        (
            "ci/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "report/",
                "terraform/",
                "values/",
                "github/",
                "config/",
            ],
        ),
        // Notifications read the targets and post; they never reach into
        // what happened.
        (
            "notify/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "report/",
                "terraform/",
                "values/",
                "github/",
                "policy/",
                "dispatch/",
                "rollout/",
            ],
        ),
        // The network setup is a leaf every client uses.
        (
            "net/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "report/",
                "terraform/",
                "values/",
                "github/",
                "config/",
                "policy/",
                "ci/",
                "dispatch/",
                "doctor/",
                "records/",
                "relay/",
                "notify/",
                "rollout/",
                "util/",
            ],
        ),
        (
            "util/",
            &[
                "commands/",
                "deploy/",
                "fleet/",
                "report/",
                "terraform/",
                "values/",
                "github/",
                "config/",
                "policy/",
                "ci/",
                "dispatch/",
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (file, deps) in &graph {
        for (layer, banned) in forbidden {
            if !file.starts_with(layer) {
                continue;
            }
            for d in deps {
                let same_command = *layer == "commands/" && d == "commands/mod.rs";
                if banned.iter().any(|b| d.starts_with(b)) && !same_command && d != file {
                    wrong.push(format!("{file} imports {d}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
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

/// Lines of each `fn` body (outside unit tests), by a brace count that
/// skips strings, chars and comments well enough for this code base.
fn long_functions(text: &str, limit: usize) -> Vec<(String, usize)> {
    let fn_re =
        regex::Regex::new(r"^\s*(?:pub(?:\([a-z]+\))? )?(?:async )?fn ([a-z_0-9]+)").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(c) = fn_re.captures(lines[i]) else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - lines[i].trim_start().len();
        let mut j = i;
        while j < lines.len() && !lines[j].trim_end().ends_with('{') {
            if lines[j].trim_end().ends_with(';') {
                break;
            }
            j += 1;
        }
        if lines.get(j).is_some_and(|l| l.trim_end().ends_with(';')) {
            // A declaration without a body (a trait method).
            i = j + 1;
            continue;
        }
        let mut k = j + 1;
        while k < lines.len() {
            let l = lines[k];
            if l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}') {
                break;
            }
            k += 1;
        }
        let n = k.saturating_sub(i) + 1;
        if n > limit {
            out.push((c[1].to_string(), n));
        }
        i += 1;
    }
    out
}

#[test]
fn no_function_grows_past_a_few_named_steps() {
    let tree = Tree::load();
    let mut long = Vec::new();
    for (file, text) in &tree.files {
        for (name, n) in long_functions(text, 90) {
            long.push(format!("src/{file}: fn {name} is {n} lines"));
        }
    }
    // The scan is real: a long function is found.
    let sample = format!("fn long() {{\n{}}}\n", "    step();\n".repeat(100));
    assert_eq!(long_functions(&sample, 90).len(), 1);
    // A trait method without a body is not measured to the next brace.
    let declared = format!(
        "trait T {{\n    fn f(\n        &self,\n    ) -> u8;\n{}}}\n",
        "    // note\n".repeat(100)
    );
    assert!(long_functions(&declared, 90).is_empty());
    assert!(
        long.is_empty(),
        "split these into named steps:\n{}",
        long.join("\n")
    );
}

/// The integration tests are one binary (`autotests = false`): a file in
/// `tests/` that `tests/integration.rs` does not declare would never be
/// compiled, let alone run.
#[test]
fn every_test_file_is_a_module_of_the_integration_binary() {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(tests.join("integration.rs")).unwrap();
    let declared: BTreeSet<&str> = root
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&tests).unwrap() {
        let p = e.unwrap().path();
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let is_rs = p.extension().is_some_and(|x| x == "rs");
        if is_rs && stem != "integration" && !declared.contains(stem) {
            missing.push(stem.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/{{{}}}.rs are not declared in tests/integration.rs: add `mod <name>;` there",
        missing.join(",")
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
