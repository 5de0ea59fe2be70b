//! The structure of the code, checked: the lanes side by side under the runner (no lane
//! imports another), no circle among modules, and every path under the output directory
//! spelled in the layout module only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The module a file belongs to, as `a::b` (`lib.rs` and `main.rs` are the crate root "").
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts.join("::")
}

/// Every `crate::a::b` path a file's code (not its comments) names, cut to `depth` parts.
fn imports(file: &Path, depth: usize) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut found = BTreeSet::new();
    for line in text.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let path: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).take(depth).collect();
            if let Some(first) = parts.first() {
                // `use crate::{a, b}` names several modules at once.
                if first.is_empty() {
                    continue;
                }
                found.insert(parts.join("::"));
            }
        }
        if let Some(at) = line.find("use crate::{") {
            let inside = &line[at + "use crate::{".len()..];
            for name in inside.split(|c: char| c == ',' || c == '}').map(str::trim) {
                let first = name.split("::").next().unwrap_or("");
                if !first.is_empty() && first.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    found.insert(first.to_string());
                }
            }
        }
    }
    found
}

const LANES: [&str; 4] = ["ingest", "transform", "model", "publish"];
/// The shared vocabulary below the lanes.
const VOCABULARY: [&str; 6] = ["canonical", "config", "contract", "layout", "manifest", "table"];

#[test]
fn lanes_import_only_the_vocabulary_below_them() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(file);
        let top = module.split("::").next().unwrap_or("").to_string();
        let allowed: Vec<&str> = if LANES.contains(&top.as_str()) {
            VOCABULARY.iter().copied().chain([top.as_str()]).collect()
        } else if VOCABULARY.contains(&top.as_str()) {
            VOCABULARY.to_vec()
        } else {
            continue;
        };
        for import in imports(file, 1) {
            if !allowed.contains(&import.as_str()) {
                wrong.push(format!("{} ({module}) imports crate::{import}", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "lanes and vocabulary reach sideways or up:\n{}", wrong.join("\n"));
}

#[test]
fn no_module_imports_go_round_in_a_circle() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    // Edges between sibling modules (two levels deep: `report::charts` → `report::svg`).
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        for import in imports(file, 2) {
            if import != module
                && !module.starts_with(&format!("{import}::"))
                && !import.starts_with(&format!("{module}::"))
            {
                edges.entry(module.clone()).or_default().insert(import);
            }
        }
        let text = std::fs::read_to_string(file).unwrap();
        let parent = module.clone();
        for line in text.lines().map(str::trim_start).filter(|l| l.starts_with("use super::")) {
            let sibling: String =
                line["use super::".len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let up = parent.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string());
            let target = if up.is_empty() { sibling } else { format!("{up}::{sibling}") };
            if target != module {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    // A module depends on its own submodules by containing them; drop those edges.
    for (from, to) in edges.iter_mut() {
        to.retain(|t| !t.starts_with(&format!("{from}::")));
    }
    fn reaches(
        edges: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        target: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in edges.get(from).into_iter().flatten() {
            let next_top = next.as_str();
            if next_top == target || (target.starts_with(&format!("{next_top}::"))) {
                return true;
            }
            if seen.insert(next.clone()) && reaches(edges, next, target, seen) {
                return true;
            }
        }
        false
    }
    let circles: Vec<String> = edges.keys().filter(|m| reaches(&edges, m, m, &mut BTreeSet::new())).cloned().collect();
    assert!(circles.is_empty(), "modules that import their way back to themselves: {circles:?}\n{edges:#?}");
}

#[test]
fn only_the_layout_module_spells_paths_under_the_output_directory() {
    // Files and folders of the layout, as they would appear in a string literal.
    let files =
        ["part-0.parquet", "manifest.json", "failure.json", "model.json", "COMMIT.json", ".vitals.lock", "as_of="];
    let folders = ["runs", "bronze", "drafts", "reports", "models", ".staging", "facts"];
    let spells = |literal: &str| {
        files.iter().any(|f| literal.contains(f))
            || folders
                .iter()
                .any(|f| literal == *f || literal.starts_with(&format!("{f}/")) || literal.contains(&format!("/{f}/")))
    };
    let mut files_found = Vec::new();
    rust_files(&src(), &mut files_found);
    let mut found = Vec::new();
    for file in files_found.iter().filter(|f| !f.ends_with("layout.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            // The string literals of the line: every other piece between double quotes.
            for literal in code.split('"').skip(1).step_by(2).filter(|l| spells(l)) {
                found.push(format!("{}:{}: \"{literal}\"", file.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "paths under <out> spelled outside src/layout.rs:\n{}", found.join("\n"));
}
