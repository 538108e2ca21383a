//! The documentation agrees with the code: the crate's module list is complete, every docs/
//! page that the README, the docs or a `--help` names exists, every relative link of the README
//! and the docs leads to a file, and every docs page is reachable from the README.

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
    assert!(
        texts[0].lines().count() <= 250,
        "README.md is a front page of at most 250 lines; the manual is docs/"
    );
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

/// The relative link targets of a markdown text (`[text](target)`, images too), without
/// their `#fragment`; web links and in-page anchors are left out.
fn relative_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("](") {
        let rest = &text[i + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].split('#').next().unwrap_or("").trim();
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        out.push(target.to_string());
    }
    out
}

/// Every relative link of the README and of the docs pages leads to a file or folder, and
/// every docs page can be reached from the README by following links (the guide in order).
#[test]
fn every_link_resolves_and_every_docs_page_is_reachable_from_the_readme() {
    let mut pages: Vec<std::path::PathBuf> = vec![root().join("README.md")];
    for e in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            pages.push(path);
        }
    }
    let mut links = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for target in relative_links(&text) {
            links += 1;
            let file = page.parent().unwrap().join(&target);
            assert!(
                file.exists(),
                "{} links to {target}, which does not exist",
                page.display()
            );
        }
    }
    assert!(links > 30, "{links} links");
    // Reachability: follow .md links from the README.
    let canon = |p: &Path| p.canonicalize().unwrap();
    let docs = canon(&root().join("docs"));
    let mut seen = vec![canon(&root().join("README.md"))];
    let mut queue = seen.clone();
    while let Some(page) = queue.pop() {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in relative_links(&text) {
            if !target.ends_with(".md") {
                continue;
            }
            let c = canon(&page.parent().unwrap().join(&target));
            if c.starts_with(&docs) && !seen.contains(&c) {
                seen.push(c.clone());
                queue.push(c);
            }
        }
    }
    for page in &pages {
        assert!(
            seen.contains(&canon(page)),
            "{} cannot be reached from README.md by its links",
            page.display()
        );
    }
}

/// The "Library layout" table of docs/layout.md names what `src/` holds: every path it
/// names exists, and every folder and file of `src/` (but the crate roots) has a row.
#[test]
fn the_layout_table_matches_src() {
    let layout = std::fs::read_to_string(root().join("docs/layout.md")).unwrap();
    let rows: Vec<&str> = layout
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
