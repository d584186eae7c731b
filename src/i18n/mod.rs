//! The languages Keyward speaks to users: one JSON catalog per language in this directory
//! (`en.json`, `de.json`, `fr.json`, `es.json`), compiled in, and the choice among them from a
//! request's `Accept-Language` (RFC 9110 §12.5.4, q-values honoured), English when none fits.
//!
//! A catalog's `page` maps each English text of the sign-in page (its text nodes, whitespace
//! collapsed) to the language's text; English is the source, so `en.json` maps every text to
//! itself and is the list every other catalog must match key for key (checked by the tests
//! below). Its `mail` holds the link mails' texts by key, with `{product}`-style placeholders. To add a language: copy `de.json` to `<code>.json`, translate the values, and add
//! one line to `CATALOGS`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Every shipped language: its primary subtag and its catalog's source. English first: the
/// fallback.
const CATALOGS: &[(&str, &str)] = &[
    ("en", include_str!("en.json")),
    ("de", include_str!("de.json")),
    ("fr", include_str!("fr.json")),
    ("es", include_str!("es.json")),
];

/// One language's texts.
#[derive(Debug, serde::Deserialize)]
pub struct Catalog {
    #[serde(skip)]
    code: &'static str,
    page: BTreeMap<String, String>,
    mail: BTreeMap<String, String>,
}

impl Catalog {
    /// The language's primary subtag (`"de"`), for `<html lang>` and `Content-Language`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Every page text: the English source and this language's.
    pub fn page_texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.page.iter().map(|(english, text)| (english.as_str(), text.as_str()))
    }

    /// The mail text `key` (`"magic_link.subject"`) with each `{name}` in `values` filled in;
    /// English's where this catalog lacks it.
    #[must_use]
    pub fn mail(&self, key: &str, values: &[(&str, &str)]) -> String {
        let text = self.mail.get(key).or_else(|| english().mail.get(key)).map_or(key, String::as_str);
        values.iter().fold(text.to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
    }

    /// The page text `english` in this language; `english` itself where the catalog lacks it.
    #[must_use]
    pub fn page<'a>(&'a self, english: &'a str) -> &'a str {
        self.page.get(english).map_or(english, String::as_str)
    }
}

static LOADED: LazyLock<Vec<Catalog>> = LazyLock::new(|| {
    CATALOGS
        .iter()
        .map(|(code, source)| {
            // Compiled in and checked by the tests below, so a broken catalog never ships.
            let mut catalog: Catalog =
                serde_json::from_str(source).unwrap_or_else(|error| panic!("catalog {code}.json: {error}"));
            catalog.code = code;
            catalog
        })
        .collect()
});

/// Every shipped catalog, English first.
#[must_use]
pub fn catalogs() -> &'static [Catalog] {
    &LOADED
}

/// English: the source language and the fallback.
#[must_use]
pub fn english() -> &'static Catalog {
    &catalogs()[0]
}

/// The catalog `accept_language` prefers: the highest-q range that names a shipped language
/// (by primary subtag, so `de-AT` gets German), ties in the header's order; `*` or nothing
/// usable gives English. Malformed entries are skipped, never an error: the header is the
/// browser's guess, not a request the user typed.
#[must_use]
pub fn negotiate(accept_language: Option<&str>) -> &'static Catalog {
    let Some(header) = accept_language else { return english() };
    let mut best: Option<(f32, &'static Catalog)> = None;
    // Bounded: a header longer than any browser sends is not worth reading through.
    for range in header.split(',').take(32) {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let quality = parts
            .find_map(|param| param.trim().strip_prefix("q=").or_else(|| param.trim().strip_prefix("Q=")))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)));
        let Some(quality) = quality else { continue };
        if quality <= 0.0 {
            continue;
        }
        let primary = tag.split('-').next().unwrap_or_default();
        let catalog = if primary == "*" {
            Some(english())
        } else {
            catalogs().iter().find(|catalog| catalog.code.eq_ignore_ascii_case(primary))
        };
        if let Some(catalog) = catalog
            && best.is_none_or(|(q, _)| quality > q)
        {
            best = Some((quality, catalog));
        }
    }
    best.map_or_else(english, |(_, catalog)| catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(header: &str) -> &'static str {
        negotiate(Some(header)).code()
    }

    #[test]
    fn accept_language_picks_the_preferred_shipped_language() {
        assert_eq!(negotiate(None).code(), "en");
        assert_eq!(chosen("de-DE,de;q=0.9,en;q=0.8"), "de");
        assert_eq!(chosen("fr-CA"), "fr");
        assert_eq!(chosen("ES"), "es");
        assert_eq!(chosen("ja, de;q=0.5"), "de");
        assert_eq!(chosen("en;q=0.4, fr;q=0.7"), "fr");
        assert_eq!(chosen("ja, zh-CN;q=0.9"), "en");
        assert_eq!(chosen("de;q=0, fr;q=0.1"), "fr");
        assert_eq!(chosen("*;q=0.5, es;q=0.1"), "en");
        assert_eq!(chosen("de;q=abc, es"), "es");
        assert_eq!(chosen(""), "en");
    }

    #[test]
    fn every_catalog_translates_exactly_the_english_texts() {
        let english = english();
        assert!(english.page.iter().all(|(key, value)| key == value), "en.json must map each text to itself");
        for catalog in catalogs() {
            let keys: Vec<_> = catalog.page.keys().collect();
            let expected: Vec<_> = english.page.keys().collect();
            assert_eq!(keys, expected, "{}.json has other texts than en.json", catalog.code);
            assert!(
                catalog.page.values().all(|text| !text.trim().is_empty()),
                "{}.json has an empty text",
                catalog.code
            );
        }
    }
}
