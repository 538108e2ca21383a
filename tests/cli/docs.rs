//! The documentation agrees with the code: the crate's module list is complete, and every
//! docs/ page that the README, the docs or a `--help` names exists.

use std::path::Path;

use crate::support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_crate_documentation_lists_every_module() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let doc: String = lib
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .collect();
    assert!(modules.len() >= 10, "{modules:?}");
    for m in modules {
        assert!(
            doc.contains(&format!("[`{m}`]")) || doc.contains(&format!("`{m}`")),
            "src/lib.rs's documentation does not list the module {m}"
        );
    }
}

#[test]
fn every_docs_page_named_exists() {
    let mut texts = vec![std::fs::read_to_string(root().join("README.md")).unwrap()];
    for e in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = e.unwrap().path();
        // Pages only: docs/ holds screenshots too.
        if path.extension().is_some_and(|x| x == "md") {
            texts.push(std::fs::read_to_string(path).unwrap());
        }
    }
    for cmd in ["search", "bench", "resume", "report", "bench-controller"] {
        texts.push(run_ok(&[cmd, "--help"]));
    }
    let mut named = 0;
    for text in &texts {
        for (i, _) in text.match_indices("docs/") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c))
                .collect();
            let name = name.trim_end_matches('.');
            if name.ends_with(".md") {
                named += 1;
                assert!(
                    root().join(name).exists(),
                    "{name} is named but does not exist"
                );
            }
        }
    }
    assert!(named > 5, "{named}");
}

/// The README's "Library layout" table names what `src/` holds: every path it names exists,
/// and every folder and file of `src/` (but the crate roots) has a row.
#[test]
fn the_readme_layout_table_matches_src() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("## Library layout").expect("a layout section");
    let end = start + readme[start..].find("\n## ").expect("a section after it");
    let rows: Vec<&str> = readme[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .collect();
    for path in &rows {
        assert!(
            root().join(path).exists(),
            "the layout table names {path}, which is gone"
        );
    }
    for e in std::fs::read_dir(root().join("src")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "lib.rs" || name == "main.rs" {
            continue;
        }
        let path = if e.path().is_dir() {
            format!("src/{name}/")
        } else {
            format!("src/{name}")
        };
        assert!(
            rows.contains(&path.as_str()),
            "the layout table has no row for {path}"
        );
    }
}
