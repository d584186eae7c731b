//! The architecture invariants as a test (rust-analyzer's "tidy" pattern): reads the source tree
//! and fails, naming file and line, when a layering rule breaks. The rules live here and only
//! here; ARCHITECTURE.md ("Architecture invariants") points to this file.
//!
//! The checks are textual, on code with comments and string literals blanked out: a rule names
//! what may not appear where — a path segment (`sea_orm::…`, or a name in a `use` item), or a
//! piece of code.

use std::path::{Path, PathBuf};

/// What a rule looks for in code.
#[derive(Debug, Clone, Copy)]
enum Forbidden {
    /// A path segment: a name before `::`, or any name inside a `use` item.
    Path(&'static str),
    /// `name` imported by a `use` item that starts with `from` (`use tonic::{…, Status}`).
    Import { from: &'static str, name: &'static str },
    /// A piece of code, verbatim.
    Code(&'static str),
}

/// One rule: files under `within` (path prefixes relative to the crate root) except those under
/// `except` must not contain any of `forbidden`.
#[derive(Debug)]
struct Rule {
    name: &'static str,
    within: &'static [&'static str],
    except: &'static [&'static str],
    forbidden: &'static [Forbidden],
    /// Checks only the code before a file's `#[cfg(test)]` module.
    production_only: bool,
}

/// The layers below the composition root: they get their settings as their own types, never
/// the configuration.
const BELOW_APP: &[&str] =
    &["src/domain/", "src/crypto/", "src/store/", "src/service/", "src/grpc/", "src/web/", "src/error.rs"];

const RULES: &[Rule] = &[
    Rule {
        name: "sea_orm is named only in src/store (and the migrations crate)",
        within: &["src/"],
        except: &["src/store/"],
        forbidden: &[Forbidden::Path("sea_orm")],
        production_only: false,
    },
    Rule {
        name: "tonic::Status is named only in src/grpc",
        within: &["src/"],
        except: &["src/grpc/"],
        forbidden: &[Forbidden::Code("tonic::Status"), Forbidden::Import { from: "tonic", name: "Status" }],
        production_only: false,
    },
    Rule {
        name: "generated proto types (pb) are named only in src/grpc, src/pb.rs and src/app.rs (which mounts the servers)",
        within: &["src/"],
        except: &["src/grpc/", "src/pb.rs", "src/app.rs"],
        forbidden: &[Forbidden::Path("pb")],
        production_only: false,
    },
    Rule {
        name: "domain, crypto, store and service know nothing of the transport",
        within: &["src/domain/", "src/crypto/", "src/store/", "src/service/"],
        except: &[],
        forbidden: &[Forbidden::Path("tonic"), Forbidden::Path("tonic_web"), Forbidden::Path("axum")],
        production_only: false,
    },
    Rule {
        name: "grpc and web never see store types: they get domain types from service",
        within: &["src/grpc/", "src/web/"],
        except: &[],
        forbidden: &[Forbidden::Path("store"), Forbidden::Path("Store"), Forbidden::Code(".store()")],
        production_only: false,
    },
    Rule {
        name: "nothing below src/app.rs reads the configuration: each layer owns its settings type",
        within: BELOW_APP,
        except: &[],
        forbidden: &[Forbidden::Path("config"), Forbidden::Path("Config")],
        production_only: false,
    },
    Rule {
        name: "the status mapping has no `_ =>` arm: a new error does not compile until its code is chosen",
        within: &["src/grpc/status.rs"],
        except: &[],
        forbidden: &[Forbidden::Code("_ =>")],
        production_only: false,
    },
    Rule {
        name: "the service layer reads time from its Clock (tests move it instead of sleeping)",
        within: &["src/service/"],
        except: &["src/service/clock.rs"],
        forbidden: &[Forbidden::Code("Utc::now"), Forbidden::Code("Instant::now"), Forbidden::Code("SystemTime::now")],
        production_only: true,
    },
];

/// Where every Rust file must open with a `//!` module doc saying what the file is for.
const DOCUMENTED: &[&str] = &["src/", "migrations/src/", "bench/src/", "tests/", "examples/", "build.rs"];

/// Words a module doc's first line needs at least, so `//! x` does not pass for a description.
const MIN_DOC_WORDS: usize = 4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir` (relative to the root), as (relative path with `/`, contents).
fn rust_files(relative: &str) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "node_modules" && name != "target" && !name.starts_with('.') {
                    walk(root, &path, out);
                }
            } else if name.ends_with(".rs") {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let root = root();
    let start = root.join(relative);
    let mut out = Vec::new();
    if start.is_file() {
        out.push((relative.to_owned(), std::fs::read_to_string(&start).unwrap()));
    } else {
        walk(&root, &start, &mut out);
    }
    out.sort();
    out
}

/// `source` with comments and string/char literals replaced by spaces; newlines are kept, so
/// byte offsets still give the right line.
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let blank = |out: &mut Vec<u8>, b: u8| out.push(if b == b'\n' { b'\n' } else { b' ' });
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                blank(&mut out, bytes[i]);
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, bytes[i]);
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(rest).filter(|_| i == 0 || !is_ident(bytes[i - 1])) {
            // r"…", r#"…"#, br"…": ends at a quote followed by the same number of hashes.
            let open = rest.iter().position(|&b| b == b'"').unwrap() + 1;
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let end = bytes[i + open..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(bytes.len(), |p| i + open + p + close.len());
            while i < end {
                blank(&mut out, bytes[i]);
                i += 1;
            }
        } else if bytes[i] == b'"' {
            blank(&mut out, bytes[i]);
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                let step = if bytes[i] == b'\\' { 2 } else { 1 };
                for _ in 0..step.min(bytes.len() - i) {
                    blank(&mut out, bytes[i]);
                    i += 1;
                }
            }
            if i < bytes.len() {
                blank(&mut out, bytes[i]);
                i += 1;
            }
        } else if bytes[i] == b'\'' && char_literal_len(rest).is_some() {
            for _ in 0..char_literal_len(rest).unwrap() {
                blank(&mut out, bytes[i]);
                i += 1;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The number of `#` of a raw string starting here, if one does.
fn raw_string_start(rest: &[u8]) -> Option<usize> {
    let after_prefix = rest.strip_prefix(b"br").or_else(|| rest.strip_prefix(b"r"))?;
    let hashes = after_prefix.iter().take_while(|&&b| b == b'#').count();
    (after_prefix.get(hashes) == Some(&b'"')).then_some(hashes)
}

/// The length of a char literal starting here (`'a'`, `'\n'`, `'\u{..}'`, `'é'`), or None for a
/// lifetime.
fn char_literal_len(rest: &[u8]) -> Option<usize> {
    if rest.get(1) == Some(&b'\\') {
        return rest[2..].iter().position(|&b| b == b'\'').map(|p| p + 3);
    }
    let ch = std::str::from_utf8(&rest[1..rest.len().min(5)])
        .ok()
        .or_else(|| (2..5).rev().find_map(|n| std::str::from_utf8(rest.get(1..n)?).ok()))?
        .chars()
        .next()?;
    (rest.get(1 + ch.len_utf8()) == Some(&b'\'')).then_some(2 + ch.len_utf8())
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// One `use` item: its first name (after `crate`/`self`/`super`) and every name in it, with
/// byte offsets.
struct UseItem {
    first: String,
    names: Vec<(usize, String)>,
}

/// The `use` items of `code`.
fn use_items(code: &str) -> Vec<UseItem> {
    let bytes = code.as_bytes();
    let mut items = Vec::new();
    let mut search = 0;
    while let Some(found) = code[search..].find("use ") {
        let start = search + found;
        search = start + 4;
        if start > 0 && is_ident(bytes[start - 1]) {
            continue;
        }
        let Some(len) = code[start..].find(';') else { break };
        let body = &code[start + 4..start + len];
        let mut names = Vec::new();
        let mut at = 0;
        for word in body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !word.is_empty() {
                let offset = body[at..].find(word).map_or(at, |p| at + p);
                names.push((start + 4 + offset, word.to_owned()));
                at = offset + word.len();
            }
        }
        let first = names.iter().map(|(_, name)| name.as_str()).find(|n| !matches!(*n, "crate" | "self" | "super"));
        items.push(UseItem { first: first.unwrap_or_default().to_owned(), names });
        search = start + len;
    }
    items
}

/// Offsets where `forbidden` occurs in `code`.
fn occurrences(code: &str, forbidden: Forbidden) -> Vec<usize> {
    let bytes = code.as_bytes();
    let word_at = |at: usize, word: &str| {
        code[at..].starts_with(word)
            && (at == 0 || !is_ident(bytes[at - 1]))
            && bytes.get(at + word.len()).is_none_or(|&b| !is_ident(b))
    };
    match forbidden {
        Forbidden::Code(text) => code.match_indices(text).map(|(at, _)| at).collect(),
        Forbidden::Path(segment) => {
            let mut hits: Vec<usize> = code
                .match_indices(segment)
                .map(|(at, _)| at)
                .filter(|&at| word_at(at, segment) && code[at + segment.len()..].trim_start().starts_with("::"))
                .collect();
            for UseItem { names, .. } in use_items(code) {
                hits.extend(names.iter().filter(|(_, name)| name == segment).map(|(at, _)| *at));
            }
            hits.sort_unstable();
            hits.dedup();
            hits
        }
        Forbidden::Import { from, name } => use_items(code)
            .into_iter()
            .filter(|item| item.first == from)
            .flat_map(|UseItem { names, .. }| names.into_iter().filter(|(_, n)| n == name).map(|(at, _)| at))
            .collect(),
    }
}

fn line_of(code: &str, offset: usize) -> usize {
    code[..offset].matches('\n').count() + 1
}

/// Every broken layering rule, as `path:line: rule`.
fn layering_violations() -> Vec<String> {
    let mut violations = Vec::new();
    for rule in RULES {
        for within in rule.within {
            for (path, source) in rust_files(within) {
                if rule.except.iter().any(|except| path.starts_with(except)) {
                    continue;
                }
                let mut code = code_only(&source);
                if rule.production_only
                    && let Some(tests) = code.find("#[cfg(test)]")
                {
                    code.truncate(tests);
                }
                for forbidden in rule.forbidden {
                    for at in occurrences(&code, *forbidden) {
                        violations.push(format!("{path}:{}: {} (found {forbidden:?})", line_of(&code, at), rule.name));
                    }
                }
            }
        }
    }
    violations
}

/// Every Rust file that does not open with a `//!` line of at least `MIN_DOC_WORDS` words.
fn undocumented_files() -> Vec<String> {
    DOCUMENTED
        .iter()
        .flat_map(|dir| rust_files(dir))
        .filter(|(_, source)| {
            let first = source.lines().next().unwrap_or_default();
            first.strip_prefix("//!").is_none_or(|doc| doc.split_whitespace().count() < MIN_DOC_WORDS)
        })
        .map(|(path, _)| format!("{path}:1: every source file opens with a `//!` module doc saying what it is for"))
        .collect()
}

#[test]
fn layering_rules_hold() {
    let violations = layering_violations();
    assert!(violations.is_empty(), "layering rules broken (see tests/it/tidy.rs):\n{}", violations.join("\n"));
}

#[test]
fn every_source_file_has_a_module_doc() {
    let missing = undocumented_files();
    assert!(missing.is_empty(), "files without a module doc:\n{}", missing.join("\n"));
}

/// The checker itself: each kind of rule catches what it should and ignores comments and strings.
#[test]
fn the_checks_see_code_and_nothing_else() {
    let code = code_only(concat!(
        "use crate::{store::X, pb};\n",
        "// use sea_orm::Foo;\n",
        "let s = \"sea_orm::x _ => tonic::Status\";\n",
        "let r = r#\"config::Config\"#; let c = '\"'; fn f<'a>(x: &'a str) {}\n",
        "use tonic::{Request, Status};\n",
        "match x { _ => 1 }\n",
        "let y = other::config::thing; let z = self.store();\n",
    ));
    assert_eq!(occurrences(&code, Forbidden::Path("sea_orm")), Vec::<usize>::new(), "comment and string ignored");
    assert_eq!(occurrences(&code, Forbidden::Path("store")).len(), 1);
    assert_eq!(occurrences(&code, Forbidden::Path("pb")).len(), 1);
    assert_eq!(occurrences(&code, Forbidden::Path("config")).len(), 1, "the raw string is ignored");
    assert_eq!(occurrences(&code, Forbidden::Code(".store()")).len(), 1);
    assert_eq!(occurrences(&code, Forbidden::Import { from: "tonic", name: "Status" }).len(), 1);
    assert_eq!(occurrences(&code, Forbidden::Code("tonic::Status")), Vec::<usize>::new());
    let arms = occurrences(&code, Forbidden::Code("_ =>"));
    assert_eq!(arms.iter().map(|&at| line_of(&code, at)).collect::<Vec<_>>(), [6]);
}
