//! Languages: every locale complete and consistent with English, every key the code uses defined,
//! whole conversations in one language, the choice kept across restarts, deep links, HTML
//! escaping of hostile names and links, and the per-language command menus.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serial_test::serial;
use smm_storefront::bot::callback::Cb;
use smm_storefront::bot::lang::LANGUAGES;
use smm_storefront::bot::schema::schema;
use smm_storefront::bot::text::{esc, thousands};
use smm_storefront::bot::{Lang, State};
use smm_storefront::money::{self, Naira};
use smm_storefront::panel::OrderStatus;
use smm_storefront::sandbox::{CatalogSpec, SandboxConfig};
use smm_storefront::store::LedgerKind;
use teloxide::types::{InlineKeyboardButtonKind, User};
use teloxide_tests::server::Responses;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageText, MockUser};

use crate::common::Harness;

// ---------------------------------------------------------------------------------------------
// Reading the locale files: rust-i18n's nested YAML maps, flattened to dotted keys.
// ---------------------------------------------------------------------------------------------

/// A flattened locale: dotted key → text.
type Locale = BTreeMap<String, String>;

fn locales_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("locales")
}

/// Reads `locales/<code>.yml`, panicking with the file and line on anything unexpected.
fn locale(code: &str) -> Locale {
    let path = locales_dir().join(format!("{code}.yml"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    flatten_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Flattens the YAML subset the locale files use: `key:` opening a nested map (by indentation),
/// `key: value` with a double-quoted, single-quoted or plain value, comments and blank lines.
/// Top-level keys starting with `_` (rust-i18n's `_version`) are metadata and skipped.
/// Anything else (block scalars, flow collections, anchors, tabs, duplicates) is an error,
/// so a file this cannot read is a file worth looking at.
fn flatten_yaml(text: &str) -> Result<Locale, String> {
    let mut out = Locale::new();
    // Open maps: (indentation, key).
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = raw.trim_end_matches('\r');
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if content.starts_with('\t') {
            return Err(format!("line {line_no}: tab indentation"));
        }
        let indent = line.len() - content.len();
        let Some(colon) = content.find(':') else {
            return Err(format!("line {line_no}: expected `key: value`"));
        };
        let key = &content[..colon];
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("line {line_no}: unsupported key {key:?}"));
        }
        let rest = content[colon + 1..].trim_start();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        if let Some((parent, _)) = stack.last()
            && indent <= *parent
        {
            return Err(format!("line {line_no}: bad indentation"));
        }
        if stack.is_empty() && indent != 0 {
            return Err(format!("line {line_no}: indented top-level key"));
        }
        if rest.is_empty() || rest.starts_with('#') {
            stack.push((indent, key.to_string()));
            continue;
        }
        let value = scalar(rest).map_err(|e| format!("line {line_no}: {e}"))?;
        let mut full: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        full.push(key);
        if full[0].starts_with('_') {
            continue;
        }
        let full = full.join(".");
        if out.insert(full.clone(), value).is_some() {
            return Err(format!("line {line_no}: duplicate key {full}"));
        }
    }
    Ok(out)
}

/// One scalar value, with an optional trailing comment.
fn scalar(rest: &str) -> Result<String, String> {
    let trailing = |tail: &str| {
        let tail = tail.trim_start();
        if tail.is_empty() || tail.starts_with('#') {
            Ok(())
        } else {
            Err(format!("text after the closing quote: {tail:?}"))
        }
    };
    if let Some(body) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    trailing(&body[i + 1..])?;
                    return Ok(out);
                }
                '\\' => match chars.next().map(|(_, e)| e) {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('u') => {
                        let hex: String =
                            (0..4).filter_map(|_| chars.next().map(|x| x.1)).collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or(format!("bad \\u escape {hex:?}"))?;
                        out.push(ch);
                    }
                    other => return Err(format!("unsupported escape \\{other:?}")),
                },
                c => out.push(c),
            }
        }
        return Err("unterminated double-quoted string".into());
    }
    if let Some(body) = rest.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|x| x.1) == Some('\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    trailing(&body[i + 1..])?;
                    return Ok(out);
                }
            } else {
                out.push(c);
            }
        }
        return Err("unterminated single-quoted string".into());
    }
    if rest.starts_with(['|', '>', '&', '*', '!', '[', '{', '%', '@', '`']) {
        return Err(format!("unsupported YAML value {rest:?}"));
    }
    let plain = match rest.find(" #") {
        Some(i) => &rest[..i],
        None => rest,
    };
    Ok(plain.trim_end().to_string())
}

/// The `%{name}` placeholders of a text.
fn placeholders(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(i) = rest.find("%{") {
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                out.insert(after[..j].to_string());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// The HTML tags of a text, sorted (`<b>`, `</b>`, …).
fn tags(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        let after = &rest[i..];
        let end = after.find('>').map_or(after.len(), |j| j + 1);
        out.push(after[..end].to_string());
        rest = &after[end..];
    }
    out.sort();
    out
}

/// Substitutes `%{name}` placeholders the way rust-i18n does.
fn render(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in args {
        out = out.replace(&format!("%{{{k}}}"), v);
    }
    out
}

/// The text of `key` in locale `code` with `args`.
fn tr(code: &str, key: &str, args: &[(&str, &str)]) -> String {
    let loc = locale(code);
    let t = loc
        .get(key)
        .unwrap_or_else(|| panic!("{code} has no {key}"));
    render(t, args)
}

// ---------------------------------------------------------------------------------------------
// Telegram's HTML: the tags it accepts, properly nested; `<`, `>`, `&` only as markup/entities.
// ---------------------------------------------------------------------------------------------

const TELEGRAM_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

/// Checks `text` parses as Telegram HTML; returns why not.
fn telegram_html(text: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    let b = text.as_bytes();
    while i < b.len() {
        match b[i] {
            b'<' => {
                let end = text[i..]
                    .find('>')
                    .map(|j| i + j)
                    .ok_or(format!("unclosed `<` at {i}"))?;
                let inner = &text[i + 1..end];
                if inner.contains('<') {
                    return Err(format!("raw `<` at {i}"));
                }
                if let Some(name) = inner.strip_prefix('/') {
                    match open.pop() {
                        Some(top) if top == name => {}
                        other => return Err(format!("`</{name}>` closes {other:?}")),
                    }
                } else {
                    let name = inner.split_whitespace().next().unwrap_or_default();
                    if !TELEGRAM_TAGS.contains(&name) {
                        return Err(format!("unsupported tag `<{inner}>`"));
                    }
                    open.push(name.to_string());
                }
                i = end + 1;
            }
            b'>' => return Err(format!("raw `>` at {i}")),
            b'&' => {
                let end = text[i..]
                    .find(';')
                    .map(|j| i + j)
                    .ok_or(format!("raw `&` at {i}"))?;
                let entity = &text[i + 1..end];
                let ok = matches!(entity, "lt" | "gt" | "amp" | "quot")
                    || entity
                        .strip_prefix("#x")
                        .is_some_and(|h| !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit()))
                    || entity
                        .strip_prefix('#')
                        .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
                if !ok {
                    return Err(format!("raw `&` at {i} (`&{entity};` is no entity)"));
                }
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    match open.last() {
        Some(t) => Err(format!("`<{t}>` never closed")),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Matching a sent message against a locale: a message is one or more rendered texts of that
// locale joined by line breaks; a placeholder stands for any text.
// ---------------------------------------------------------------------------------------------

enum Piece {
    Lit(String),
    Any,
}

fn pieces(template: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find("%{") {
        let Some(j) = rest[i..].find('}') else { break };
        if i > 0 {
            out.push(Piece::Lit(rest[..i].to_string()));
        }
        out.push(Piece::Any);
        rest = &rest[i + j + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest.to_string()));
    }
    out
}

/// Every end position where `p` matches `s` from `at`.
fn ends(s: &str, at: usize, p: &[Piece], out: &mut Vec<usize>) {
    match p.split_first() {
        None => out.push(at),
        Some((Piece::Lit(l), rest)) => {
            if s[at..].starts_with(l.as_str()) {
                ends(s, at + l.len(), rest, out);
            }
        }
        Some((Piece::Any, rest)) => {
            for (k, _) in s[at..].char_indices().chain([(s.len() - at, ' ')]) {
                ends(s, at + k, rest, out);
            }
        }
    }
}

fn composed_of(s: &str, at: usize, templates: &[Vec<Piece>], depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    for t in templates {
        let mut found = Vec::new();
        ends(s, at, t, &mut found);
        found.sort_unstable();
        found.dedup();
        for end in found.into_iter().rev() {
            if end == s.len() {
                return true;
            }
            for sep in ["\n\n", "\n"] {
                if s[end..].starts_with(sep)
                    && composed_of(s, end + sep.len(), templates, depth + 1)
                {
                    return true;
                }
            }
        }
    }
    false
}

/// True when `message` is made only of texts of `loc` (placeholders filled with anything).
fn is_rendering_of(message: &str, loc: &Locale) -> bool {
    // Texts that are only placeholders and punctuation (`%{word}`, `%{page}/%{pages}`) would
    // match anything; they never make a message on their own.
    let templates: Vec<Vec<Piece>> = loc
        .values()
        .filter(|t| {
            pieces(t).iter().any(|p| match p {
                Piece::Lit(l) => l.chars().any(char::is_alphabetic),
                Piece::Any => false,
            })
        })
        .map(|t| pieces(t))
        .collect();
    composed_of(message, 0, &templates, 0)
}

/// English sentences a translation must not leak: literal runs of English texts (between
/// placeholders and tags) of three words or more that the other locale does not also use.
fn english_sentences(other: &Locale) -> Vec<String> {
    let en = locale("en");
    let theirs: String = other.values().cloned().collect::<Vec<_>>().join("\n");
    let mut out = BTreeSet::new();
    for text in en.values() {
        for part in text.split(['<', '>', '%', '\n', '{', '}']) {
            let part = part.trim();
            if part.split_whitespace().count() >= 3 && !theirs.contains(part) {
                out.insert(part.to_string());
            }
        }
    }
    out.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// Consistency of the files.
// ---------------------------------------------------------------------------------------------

fn shipped() -> Vec<&'static str> {
    LANGUAGES.iter().map(|(c, _)| *c).collect()
}

#[test]
fn the_flattener_reads_the_subset_and_rejects_the_rest() {
    let ok = "_version: 1\n# note\na:\n  b: \"x\\n\\\"y\\\" %{n}\" # c\n  c:\n    d: 'it''s'\ne: plain text\n";
    let map = flatten_yaml(ok).unwrap();
    assert_eq!(map.get("a.b").map(String::as_str), Some("x\n\"y\" %{n}"));
    assert_eq!(map.get("a.c.d").map(String::as_str), Some("it's"));
    assert_eq!(map.get("e").map(String::as_str), Some("plain text"));
    assert_eq!(map.len(), 3);
    for bad in [
        "a:\n  b: |\n    x\n",
        "a:\n  b: \"x\"\n  b: \"y\"\n",
        "a:\n\tb: \"x\"\n",
        "a: \"open\n",
        "a:\n  b: [1, 2]\n",
        "  a: \"x\"\n",
    ] {
        assert!(flatten_yaml(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn every_shipped_language_has_a_locale_file_and_every_file_is_shipped() {
    let mut files: Vec<String> = std::fs::read_dir(locales_dir())
        .expect("locales/")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".yml"))
                .map(str::to_string)
        })
        .collect();
    files.sort();
    let mut codes: Vec<String> = shipped().iter().map(|c| c.to_string()).collect();
    codes.sort();
    assert_eq!(files, codes);
    for code in shipped() {
        assert_eq!(Lang::from_code(code), Some(Lang(code)));
    }
}

#[test]
fn every_locale_has_exactly_the_english_keys_placeholders_and_tags() {
    let en = locale("en");
    assert!(en.len() > 50, "en.yml looks truncated: {} keys", en.len());
    let mut problems = Vec::new();
    for code in shipped().into_iter().filter(|c| *c != "en") {
        let loc = locale(code);
        for key in en.keys().filter(|k| !loc.contains_key(*k)) {
            problems.push(format!("{code}: missing {key}"));
        }
        for key in loc.keys().filter(|k| !en.contains_key(*k)) {
            problems.push(format!("{code}: {key} is not in en"));
        }
        for (key, text) in &loc {
            let Some(en_text) = en.get(key) else { continue };
            if placeholders(text) != placeholders(en_text) {
                problems.push(format!(
                    "{code}: {key} uses {:?}, en uses {:?}",
                    placeholders(text),
                    placeholders(en_text)
                ));
            }
            if tags(text) != tags(en_text) {
                problems.push(format!(
                    "{code}: {key} has tags {:?}, en has {:?}",
                    tags(text),
                    tags(en_text)
                ));
            }
            if text.trim().is_empty() {
                problems.push(format!("{code}: {key} is empty"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_locale_text_is_valid_telegram_html() {
    let mut problems = Vec::new();
    for code in shipped() {
        for (key, text) in locale(code) {
            let sample = render(&text, &[]).replace("%{", "x").replace('}', "");
            if let Err(e) = telegram_html(&sample) {
                problems.push(format!("{code}: {key}: {e}"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_html_checker_catches_what_telegram_rejects() {
    assert!(telegram_html("<b>ok</b> &lt;x&gt; &amp; &#36; &#x41; → ₦1,560.00").is_ok());
    for bad in [
        "<script>",
        "a < b",
        "a > b",
        "fish & chips",
        "<b>open",
        "<b><i>x</b></i>",
        "&nbsp;",
    ] {
        assert!(telegram_html(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_locale_matcher_accepts_joined_texts_only() {
    let loc = locale("pcm");
    let joined = format!(
        "{}\n\n{}",
        tr("pcm", "order.share_link", &[("link", "https://x.y")]),
        tr("pcm", "order.ask_quantity", &[("min", "1"), ("max", "2")])
    );
    assert!(is_rendering_of(&joined, &loc));
    assert!(!is_rendering_of(
        &tr("en", "order.ask_quantity", &[("min", "1"), ("max", "2")]),
        &loc
    ));
}

// ---------------------------------------------------------------------------------------------
// Keys the code uses must exist in English.
// ---------------------------------------------------------------------------------------------

/// Keys built at run time (`format!("status.{}", …)`): every family and all of its members.
fn dynamic_families() -> Vec<(&'static str, Vec<String>)> {
    let statuses = [
        "pending",
        "in progress",
        "processing",
        "completed",
        "partial",
        "cancelled",
        "failed",
        "refunded",
        "something new",
    ];
    vec![(
        "status",
        statuses
            .iter()
            .map(|w| format!("status.{}", OrderStatus::parse(w).key()))
            .collect(),
    )]
}

/// The string literals of a Rust source file (comments and char literals skipped).
fn string_literals(src: &str) -> Vec<String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'\'' => {
                // A char literal ('"', '\'', 'x') or a lifetime ('a).
                if b.get(i + 1) == Some(&b'\\') {
                    let close = src[i + 2..].find('\'').map_or(b.len(), |j| i + 2 + j);
                    i = close + 1;
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                let open = i + 1 + hashes;
                if b.get(open) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let end = src[open + 1..]
                    .find(&close)
                    .map_or(b.len(), |j| open + 1 + j);
                out.push(src[open + 1..end.min(b.len())].to_string());
                i = end + close.len();
            }
            b'"' => {
                let mut s = String::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if let Some(c) = src.get(i..).and_then(|r| r.chars().next()) {
                        s.push(c);
                        i += c.len_utf8();
                    } else {
                        i += 1;
                    }
                }
                out.push(s);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("readable source dir")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn looks_like_key(s: &str) -> bool {
    let mut parts = s.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| p.starts_with(|c: char| c.is_ascii_lowercase()));
    first_ok
        && s.contains('.')
        && s.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

#[test]
fn the_string_scanner_sees_keys_but_not_comments_or_chars() {
    let src = r##"
        // t!("comment.key")
        let a = '"'; let b = t!("order.placed", locale = l);
        let c = ("cmd.order", r#"raw.key"#); /* "block.key" */ let d = '\'';
        let e = "esc\"aped.key";
    "##;
    let lits = string_literals(src);
    assert!(lits.contains(&"order.placed".to_string()), "{lits:?}");
    assert!(lits.contains(&"cmd.order".to_string()), "{lits:?}");
    assert!(lits.contains(&"raw.key".to_string()), "{lits:?}");
    assert!(
        !lits
            .iter()
            .any(|l| l.contains("comment") || l.contains("block")),
        "{lits:?}"
    );
}

#[test]
fn every_key_the_code_uses_is_defined_in_english() {
    let en = locale("en");
    let sections: BTreeSet<&str> = en.keys().filter_map(|k| k.split('.').next()).collect();
    let families = dynamic_families();
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10);
    let mut problems = BTreeSet::new();
    let mut seen = 0;
    for file in &files {
        let src = std::fs::read_to_string(file).expect("readable source");
        let name = file.display();
        // Keys passed straight to t!: whatever they look like, they must exist.
        for (i, _) in src.match_indices("t!(\"") {
            // `t!(`, not `format!(` or `assert!(`.
            let before = src[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &src[i + 4..];
            let key = &rest[..rest.find('"').unwrap_or(0)];
            seen += 1;
            if !en.contains_key(key) {
                problems.insert(format!("{name}: t!(\"{key}\") is not in en.yml"));
            }
        }
        for lit in string_literals(&src) {
            // Families built at run time: `"status.{}"`, `"status.{key}"`.
            if let Some((prefix, _)) = lit.split_once(".{")
                && sections.contains(prefix)
            {
                if !families.iter().any(|(f, _)| *f == prefix) {
                    problems.insert(format!(
                        "{name}: dynamic key family {lit:?}: list its members in dynamic_families()"
                    ));
                }
                continue;
            }
            // Keys held in tables and variables (`("cmd.order", …)`, `let key = "order.x"`).
            if looks_like_key(&lit) && lit.split('.').next().is_some_and(|s| sections.contains(s)) {
                seen += 1;
                if !en.contains_key(&lit) {
                    problems.insert(format!(
                        "{name}: {lit:?} looks like a key but is not in en.yml"
                    ));
                }
            }
        }
    }
    for (family, members) in &families {
        for key in members {
            if !en.contains_key(key) {
                problems.insert(format!("family {family}: {key} is not in en.yml"));
            }
        }
    }
    assert!(seen > 50, "the scan found only {seen} keys");
    let problems: Vec<String> = problems.into_iter().collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Conversations.
// ---------------------------------------------------------------------------------------------

fn user(lang: Option<&str>) -> User {
    let mut u = MockUser::new().build();
    u.language_code = lang.map(str::to_string);
    u
}

/// The HTML text of every message sent or edited in one dispatch, as sent to Telegram.
fn texts(r: &Responses) -> Vec<String> {
    r.sent_messages_text
        .iter()
        .map(|m| m.bot_request.text.clone())
        .chain(
            r.edited_messages_text
                .iter()
                .map(|e| e.bot_request.text.clone()),
        )
        .collect()
}

/// Every inline button (label, data) in one dispatch.
fn buttons(r: &Responses) -> Vec<(String, String)> {
    let markups = r
        .sent_messages
        .iter()
        .filter_map(|m| m.reply_markup().cloned())
        .chain(
            r.edited_messages_text
                .iter()
                .filter_map(|e| e.message.reply_markup().cloned()),
        );
    let mut out = Vec::new();
    for m in markups {
        for row in m.inline_keyboard {
            for b in row {
                if let InlineKeyboardButtonKind::CallbackData(d) = b.kind {
                    out.push((b.text, d));
                }
            }
        }
    }
    out
}

/// Everything a customer saw: texts and button labels, dispatch by dispatch.
#[derive(Default)]
struct Transcript {
    texts: Vec<String>,
    labels: Vec<String>,
}

impl Transcript {
    fn add(&mut self, r: Responses) -> Responses {
        self.texts.extend(texts(&r));
        self.labels.extend(buttons(&r).into_iter().map(|(t, _)| t));
        r
    }
}

/// A live (non-sandbox) shop, so every line comes from the locale (the sandbox mark has its
/// own test), with money in the customer's wallet.
async fn live_harness(catalog: CatalogSpec, extra: &[(&str, &str)]) -> Harness {
    let mut vars = vec![("IACAFE_API_KEY", "test-key")];
    vars.extend_from_slice(extra);
    let h = Harness::with(
        SandboxConfig {
            catalog,
            ..SandboxConfig::default()
        },
        &vars,
    )
    .await;
    h.store
        .apply_ledger(
            MockUser::ID,
            Naira::from_kobo(500_000_000),
            LedgerKind::Adjustment,
            "test:credit",
            Some("test money"),
            None,
        )
        .await
        .expect("credit");
    h
}

/// Orders 1,500 of service 101 in `code` through the menus; checks exact texts on the way.
async fn order_in(code: &str) {
    let h = live_harness(CatalogSpec::Standard, &[]).await;
    let who = user(Some(code));
    let loc = locale(code);
    let mut seen = Transcript::default();

    let mut bot = MockBot::new(
        MockMessageText::new().text("/order").from(who.clone()),
        schema(),
    );
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    assert_eq!(texts(&r), vec![tr(code, "order.choose_category", &[])]);
    let (_, insta) = buttons(&r)
        .into_iter()
        .find(|(t, _)| t == "Instagram")
        .expect("Instagram button");

    bot.update(MockCallbackQuery::new().data(insta).from(who.clone()));
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    assert_eq!(
        texts(&r),
        vec![tr(
            code,
            "order.choose_service",
            &[("category", "Instagram")]
        )]
    );
    let svc_data = Cb::Service { id: 101 }.encode();
    assert!(buttons(&r).iter().any(|(_, d)| *d == svc_data));

    bot.update(MockCallbackQuery::new().data(svc_data).from(who.clone()));
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    let snap = h.shop.catalog.get().await.expect("catalog");
    let svc = snap.service(101).expect("service 101").clone();
    let rate = snap.price_per_1k(&svc);
    let yes = tr(code, "order.yes", &[]);
    let no = tr(code, "order.no", &[]);
    let details = tr(
        code,
        "order.details",
        &[
            ("name", &esc(&svc.name)),
            ("category", "Instagram"),
            ("price", &rate.to_string()),
            ("min", "100"),
            ("max", "100,000"),
            ("refill", &yes),
            ("cancel", &yes),
            ("dripfeed", &no),
        ],
    );
    let share = tr(
        code,
        "order.share_link",
        &[("link", "https://t.me/smm_test_bot?start=svc_101")],
    );
    let ask = tr(
        code,
        "order.ask_link",
        &[("hint", &tr(code, "order.hint_instagram", &[]))],
    );
    assert_eq!(texts(&r), vec![format!("{details}\n\n{share}\n\n{ask}")]);
    assert_eq!(
        buttons(&r).into_iter().map(|(t, _)| t).collect::<Vec<_>>(),
        vec![tr(code, "common.back", &[])]
    );

    bot.update(MockMessageText::new().text("instagram").from(who.clone()));
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    assert_eq!(
        texts(&r),
        vec![tr(
            code,
            "order.bad_link",
            &[("hint", &tr(code, "order.hint_instagram", &[]))]
        )]
    );

    bot.update(
        MockMessageText::new()
            .text("https://instagram.com/yourpage")
            .from(who.clone()),
    );
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    assert_eq!(
        texts(&r),
        vec![tr(
            code,
            "order.ask_quantity",
            &[("min", "100"), ("max", "100,000")]
        )]
    );

    bot.update(MockMessageText::new().text("1,500").from(who.clone()));
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    let total = money::cost(1500, rate).expect("cost");
    let before = h.store.balance(MockUser::ID).expect("balance");
    let confirm = tr(
        code,
        "order.confirm",
        &[
            ("service", &esc(&svc.name)),
            ("link", "https://instagram.com/yourpage"),
            ("quantity", &thousands(1500)),
            ("rate", &rate.to_string()),
            ("total", &total.to_string()),
        ],
    );
    let wallet = tr(
        code,
        "order.confirm_wallet",
        &[
            ("before", &before.to_string()),
            (
                "after",
                &(before.checked_sub(total).expect("enough")).to_string(),
            ),
        ],
    );
    assert_eq!(texts(&r), vec![format!("{confirm}\n{wallet}")]);
    let labels: Vec<String> = buttons(&r).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        labels,
        vec![
            tr(code, "order.confirm_button", &[]),
            tr(code, "order.cancel_button", &[]),
            tr(code, "common.back", &[]),
        ]
    );

    bot.update(MockMessageText::new().text("ok").from(who.clone()));
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    assert_eq!(texts(&r), vec![tr(code, "order.press_a_button", &[])]);

    let State::Confirming { token, .. } = bot.get_state::<State>().await else {
        panic!("not confirming");
    };
    bot.update(
        MockCallbackQuery::new()
            .data(
                Cb::Confirm {
                    token: token.clone(),
                }
                .encode(),
            )
            .from(who.clone()),
    );
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    // The typing indicator goes out while the panel is called.
    assert!(
        r.sent_chat_actions.iter().any(|a| a.action == "typing"),
        "no typing indicator"
    );
    let rec = h
        .store
        .order_by_token(&token)
        .expect("store")
        .expect("order recorded");
    let order_id = rec.api_order_id.expect("placed").to_string();
    assert_eq!(
        texts(&r),
        vec![tr(
            code,
            "order.placed",
            &[("order_id", &order_id), ("amount", &rec.price.to_string())]
        )]
    );
    assert_eq!(h.sandbox.order_count(), 1);

    // /help and an unknown text, in the same language.
    bot.update(MockMessageText::new().text("/help").from(who.clone()));
    bot.dispatch().await;
    let r = seen.add(bot.get_responses());
    assert_eq!(
        texts(&r),
        vec![format!(
            "{}\n\n{}",
            tr(code, "help.text", &[]),
            // No STARS_NGN_RATE here: the wallet paragraph does not offer /topup.
            tr(code, "help.wallet_no_stars", &[])
        )]
    );

    // Every message and every button label is this locale's, valid HTML, with no English.
    let leaks = english_sentences(&loc);
    assert!(
        leaks.len() > 20,
        "{code} shares too much with en: {}",
        leaks.len()
    );
    for text in &seen.texts {
        assert!(is_rendering_of(text, &loc), "not {code}: {text}");
        telegram_html(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        for sentence in &leaks {
            assert!(
                !text.contains(sentence.as_str()),
                "English {sentence:?} in {text}"
            );
        }
    }
    let label_texts: BTreeSet<&String> = loc.values().collect();
    for label in &seen.labels {
        let ours = label_texts.contains(label)
            || label.contains('₦') // service buttons: name · price
            || snap.categories.contains(label)
            || label.chars().all(|c| c.is_ascii_digit() || c == '/');
        assert!(ours, "button {label:?} is not {code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn a_whole_order_in_pidgin_speaks_only_pidgin() {
    order_in("pcm").await;
    // Spot-check the file itself, so a silent fallback to English cannot pass.
    assert_eq!(tr("pcm", "order.confirm_button", &[]), "✅ Confirm am");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn a_whole_order_in_hausa_speaks_only_hausa() {
    order_in("ha").await;
    assert_eq!(tr("ha", "order.confirm_button", &[]), "✅ Tabbatar");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn a_language_chosen_with_the_command_is_kept_across_a_restart() {
    let h = Harness::new().await;
    let who = user(Some("en"));
    let mut bot = MockBot::new(
        MockMessageText::new().text("/language").from(who.clone()),
        schema(),
    );
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(texts(&r), vec![tr("en", "language.choose", &[])]);
    let offered: Vec<String> = buttons(&r).into_iter().map(|(_, d)| d).collect();
    let expected: Vec<String> = shipped()
        .iter()
        .map(|c| {
            Cb::Language {
                code: c.to_string(),
            }
            .encode()
        })
        .collect();
    assert_eq!(offered, expected);

    bot.update(
        MockCallbackQuery::new()
            .data(Cb::Language { code: "yo".into() }.encode())
            .from(who.clone()),
    );
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(
        texts(&r),
        vec![format!(
            "{}\n\n{}",
            tr("yo", "language.changed", &[]),
            tr("yo", "menu.choose", &[])
        )]
    );
    let labels: Vec<String> = buttons(&r).into_iter().map(|(t, _)| t).collect();
    assert!(
        labels.contains(&tr("yo", "menu.new_order", &[])),
        "{labels:?}"
    );
    assert_eq!(
        h.store
            .get_user(MockUser::ID)
            .expect("store")
            .and_then(|u| u.language),
        Some("yo".to_string())
    );

    // Restart: close everything, reopen the store on the same folder.
    drop(bot);
    let Harness {
        sandbox,
        dir,
        shop,
        store,
        storage,
    } = h;
    drop((shop, store, storage));
    let h = Harness::over(dir, sandbox, &[]);
    let mut bot = MockBot::new(
        MockMessageText::new().text("/help").from(who.clone()),
        schema(),
    );
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let r = bot.get_responses();
    let text = texts(&r).concat();
    assert!(text.starts_with(&tr("yo", "help.text", &[])), "{text}");
    // Telegram still says English; the stored choice wins.
    bot.update(MockMessageText::new().text("/start").from(who.clone()));
    bot.dispatch().await;
    let text = texts(&bot.get_responses()).concat();
    assert!(
        text.contains(&tr("yo", "menu.greeting", &[("shop", "SMM Storefront")])),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn the_menu_button_offers_the_languages_and_a_tap_answers_in_the_new_one() {
    let h = live_harness(CatalogSpec::Standard, &[]).await;
    let who = user(Some("pcm"));
    let mut bot = MockBot::new(
        MockCallbackQuery::new()
            .data(Cb::MenuLanguage.encode())
            .from(who.clone()),
        schema(),
    );
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(texts(&r), vec![tr("pcm", "language.choose", &[])]);
    let labels: Vec<String> = buttons(&r).into_iter().map(|(t, _)| t).collect();
    assert_eq!(labels.len(), LANGUAGES.len());
    assert!(
        labels.contains(&"✅ Naijá (Pidgin)".to_string()),
        "{labels:?}"
    );

    bot.update(
        MockCallbackQuery::new()
            .data(Cb::Language { code: "fr".into() }.encode())
            .from(who.clone()),
    );
    bot.dispatch().await;
    let text = texts(&bot.get_responses()).concat();
    assert!(
        text.starts_with(&tr("fr", "language.changed", &[])),
        "{text}"
    );
    assert_eq!(
        h.store
            .get_user(MockUser::ID)
            .ok()
            .flatten()
            .and_then(|u| u.language),
        Some("fr".into())
    );

    // A forged code for a language we do not ship changes nothing.
    bot.update(MockCallbackQuery::new().data("l:de").from(who.clone()));
    bot.dispatch().await;
    let text = texts(&bot.get_responses()).concat();
    assert_eq!(text, tr("fr", "common.expired", &[]));
    assert_eq!(
        h.store
            .get_user(MockUser::ID)
            .ok()
            .flatten()
            .and_then(|u| u.language),
        Some("fr".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn a_deep_link_opens_the_service_at_the_link_step() {
    let h = live_harness(CatalogSpec::Standard, &[]).await;
    let mut bot = MockBot::new(
        MockMessageText::new()
            .text("/start svc_113")
            .from(user(Some("ig"))),
        schema(),
    );
    bot.dependencies(h.deps());
    bot.dispatch().await;
    assert_eq!(
        bot.get_state::<State>().await,
        State::EnteringLink { service_id: 113 }
    );
    let text = texts(&bot.get_responses()).concat();
    let snap = h.shop.catalog.get().await.expect("catalog");
    let svc = snap.service(113).expect("service 113");
    assert!(
        text.starts_with(&format!("<b>{}</b>\n", esc(&svc.name))),
        "{text}"
    );
    assert!(text.contains(&snap.price_per_1k(svc).to_string()), "{text}");
    assert!(
        text.contains(&tr(
            "ig",
            "order.share_link",
            &[("link", "https://t.me/smm_test_bot?start=svc_113")]
        )),
        "{text}"
    );
    assert!(
        text.contains(&tr("ig", "order.hint_youtube", &[])),
        "{text}"
    );

    // The link step works from there.
    bot.update(
        MockMessageText::new()
            .text("https://youtube.com/@mine")
            .from(user(Some("ig"))),
    );
    bot.dispatch().await;
    assert!(matches!(
        bot.get_state::<State>().await,
        State::EnteringQuantity {
            service_id: 113,
            ..
        }
    ));

    // Unknown or malformed ids: no service step.
    for arg in ["/start svc_99999", "/start svc_abc", "/start svc_"] {
        bot.update(MockMessageText::new().text(arg).from(user(Some("ig"))));
        bot.dispatch().await;
        let state = bot.get_state::<State>().await;
        assert!(
            !matches!(state, State::EnteringLink { .. }),
            "{arg}: {state:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn hostile_names_links_and_comments_are_escaped_in_every_message() {
    use smm_storefront::sandbox::{HOSTILE_CATEGORY, HOSTILE_COMMENTS_NAME, HOSTILE_NAME};
    let shop_name = "<Shop> & \"Sons\" 🛍️ متجر";
    let h = live_harness(CatalogSpec::Hostile, &[("SHOP_NAME", shop_name)]).await;
    let who = MockUser::new()
        .first_name("<b>Ade</b> & سارة 😀".to_string())
        .username("ade_&_co")
        .build();
    let mut all = Vec::new();
    let link = "https://instagram.com/p/x?utm=a&b=<i>c</i>&q=\"ok\"";

    let mut bot = MockBot::new(
        MockMessageText::new().text("/start").from(who.clone()),
        schema(),
    );
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let t = texts(&bot.get_responses()).concat();
    assert!(t.contains(&esc(shop_name)), "{t}");
    all.push(t);

    // A search with markup in it.
    bot.update(MockMessageText::new().text("/order").from(who.clone()));
    bot.dispatch().await;
    all.extend(texts(&bot.get_responses()));
    bot.update(
        MockMessageText::new()
            .text("<b>&amp; شيء")
            .from(who.clone()),
    );
    bot.dispatch().await;
    let t = texts(&bot.get_responses()).concat();
    assert!(t.contains("&lt;b&gt;&amp;amp; شيء"), "{t}");
    all.push(t);

    // The hostile category and service 101.
    let r = bot.get_responses();
    let (_, cat) = buttons(&r)
        .into_iter()
        .find(|(t, _)| t == HOSTILE_CATEGORY)
        .expect("the hostile category button, unescaped (buttons are plain text)");
    bot.update(MockCallbackQuery::new().data(cat).from(who.clone()));
    bot.dispatch().await;
    let t = texts(&bot.get_responses()).concat();
    assert!(
        t.contains(&format!("<b>{}</b>", esc(HOSTILE_CATEGORY))),
        "{t}"
    );
    all.push(t);
    bot.update(
        MockCallbackQuery::new()
            .data(Cb::Service { id: 101 }.encode())
            .from(who.clone()),
    );
    bot.dispatch().await;
    let t = texts(&bot.get_responses()).concat();
    assert!(
        t.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Followers"),
        "{t}"
    );
    all.push(t);
    bot.update(MockMessageText::new().text(link).from(who.clone()));
    bot.dispatch().await;
    all.extend(texts(&bot.get_responses()));
    bot.update(MockMessageText::new().text("100").from(who.clone()));
    bot.dispatch().await;
    let confirm = texts(&bot.get_responses()).concat();
    assert!(confirm.contains("&lt;script&gt;"), "{confirm}");
    assert!(!confirm.contains("<script>"), "{confirm}");
    assert!(confirm.contains(&esc(link)), "{confirm}");
    all.push(confirm);
    let State::Confirming { token, .. } = bot.get_state::<State>().await else {
        panic!("not confirming");
    };
    bot.update(
        MockCallbackQuery::new()
            .data(Cb::Confirm { token }.encode())
            .from(who.clone()),
    );
    bot.dispatch().await;
    all.extend(texts(&bot.get_responses()));
    assert_eq!(h.sandbox.order_count(), 1);

    // Custom comments (service 106) with markup, emoji and Arabic in the lines.
    bot.update(
        MockMessageText::new()
            .text("/start svc_106")
            .from(who.clone()),
    );
    bot.dispatch().await;
    let t = texts(&bot.get_responses()).concat();
    assert!(t.contains(&esc(HOSTILE_COMMENTS_NAME)), "{t}");
    assert!(!t.contains(HOSTILE_COMMENTS_NAME), "{t}");
    all.push(t);
    bot.update(MockMessageText::new().text(link).from(who.clone()));
    bot.dispatch().await;
    all.extend(texts(&bot.get_responses()));
    let comments: Vec<String> = (0..10)
        .map(|i| format!("<b>{i}</b> & <script>x</script> 🔥 رائع جدا"))
        .collect();
    bot.update(
        MockMessageText::new()
            .text(comments.join("\n"))
            .from(who.clone()),
    );
    bot.dispatch().await;
    let confirm = texts(&bot.get_responses()).concat();
    assert!(confirm.contains(&esc(HOSTILE_COMMENTS_NAME)), "{confirm}");
    all.push(confirm);
    let State::Confirming { token, .. } = bot.get_state::<State>().await else {
        panic!("not confirming the comments");
    };
    bot.update(
        MockCallbackQuery::new()
            .data(Cb::Confirm { token }.encode())
            .from(who.clone()),
    );
    bot.dispatch().await;
    all.extend(texts(&bot.get_responses()));
    assert_eq!(h.sandbox.order_count(), 2);

    assert!(all.len() >= 10);
    for text in &all {
        telegram_html(text).unwrap_or_else(|e| panic!("invalid HTML ({e}): {text}"));
        assert!(!text.contains(HOSTILE_NAME), "{text}");
        assert!(!text.contains("<script>"), "{text}");
    }
}

/// The SANDBOX mark is shown in the customer's language too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[serial]
async fn the_sandbox_mark_follows_the_customer_language() {
    let h = Harness::new().await;
    let mut bot = MockBot::new(
        MockMessageText::new()
            .text("/order")
            .from(user(Some("pcm"))),
        schema(),
    );
    bot.dependencies(h.deps());
    bot.dispatch().await;
    let text = texts(&bot.get_responses()).concat();
    assert!(
        text.starts_with(&tr("pcm", "common.sandbox_mark", &[])),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// Command menus.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_menus_are_registered_per_language_and_per_admin() {
    use smm_storefront::fake_telegram::{FAKE_TOKEN, FakeTelegram};
    use teloxide::Bot;

    let tg = FakeTelegram::start().await.expect("fake Telegram");
    let bot = Bot::new(FAKE_TOKEN).set_api_url(reqwest::Url::parse(&tg.api_url()).expect("url"));
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = crate::common::config(dir.path(), &[("ADMIN_IDS", "11,22")]);
    smm_storefront::bot::setup::register_commands(&bot, &cfg).await;

    let calls: Vec<_> = tg
        .calls()
        .into_iter()
        .filter(|c| c.method == "setmycommands")
        .collect();
    let commands_of = |c: &smm_storefront::fake_telegram::Call| -> Vec<(String, String)> {
        c.body["commands"]
            .as_array()
            .expect("commands")
            .iter()
            .map(|x| {
                (
                    x["command"].as_str().unwrap_or_default().to_string(),
                    x["description"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let customer = [
        "order", "myorders", "status", "wallet", "topup", "language", "help", "cancel",
    ];
    for code in shipped() {
        let scoped: Vec<_> = calls
            .iter()
            .filter(|c| c.body.get("scope").is_none())
            .filter(|c| {
                c.body.get("language_code").and_then(|v| v.as_str())
                    == (code != "en").then_some(code)
            })
            .collect();
        assert_eq!(scoped.len(), 1, "{code}: {calls:?}");
        let got = commands_of(scoped[0]);
        let want: Vec<(String, String)> = customer
            .iter()
            .map(|c| (c.to_string(), tr(code, &format!("cmd.{c}"), &[])))
            .collect();
        assert_eq!(got, want, "{code}");
    }
    for admin in [11, 22] {
        let mine: Vec<_> = calls
            .iter()
            .filter(|c| c.body["scope"]["type"] == "chat" && c.body["scope"]["chat_id"] == admin)
            .collect();
        assert_eq!(mine.len(), 1, "admin {admin}");
        let names: Vec<String> = commands_of(mine[0]).into_iter().map(|(c, _)| c).collect();
        assert!(names.contains(&"order".to_string()) && names.contains(&"credit".to_string()));
    }
    assert_eq!(calls.len(), LANGUAGES.len() + 2);
}
