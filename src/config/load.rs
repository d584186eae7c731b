//! Loading the configuration: defaults ← TOML file ← environment ← command-line flags (figment),
//! then validation. The only code that reads the environment (the OpenTelemetry SDK reads its
//! own `OTEL_*` variables once traces are on; see `traces.rs`).

use std::path::Path;

use figment::{
    Figment,
    error::Kind,
    providers::{Env, Format, Serialized, Toml},
};

use super::{Config, ConfigError, Overrides, TraceExport, validate::invalid};

impl Config {
    /// Reads defaults ← `file` ← environment ← `overrides`, then validates.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(invalid("config", format!("{} is not a readable file", file.display())));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let mut config: Config = figment
            .merge(Env::raw().only(&["DATABASE_URL", "RUST_LOG"]).map(|key| {
                if key.as_str().eq_ignore_ascii_case("RUST_LOG") { "log".into() } else { "database_url".into() }
            }))
            // `__` nests: KEYWARD_OAUTH__GITHUB__CLIENT_SECRET sets oauth.github.client_secret.
            .merge(Env::prefixed("KEYWARD_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|err| {
                let from_env = err.metadata.as_ref().is_some_and(|m| m.name.contains("environment"));
                let source = err
                    .metadata
                    .as_ref()
                    .map(|m| match &m.source {
                        Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
                        _ => format!(" (from {})", m.name),
                    })
                    .unwrap_or_default();
                if let Kind::UnknownField(field, expected) = &err.kind {
                    // The error's path ends with the unknown key itself.
                    let mut path: Vec<&str> = err.path.iter().map(String::as_str).collect();
                    if path.last() != Some(&field.as_str()) {
                        path.push(field);
                    }
                    return unknown_setting(&path, expected, from_env, &source);
                }
                let setting = if err.path.is_empty() { "config".to_owned() } else { err.path.join(".") };
                invalid(&setting, format!("{}{source}", err.kind))
            })?;
        config.traces = TraceExport::from_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }
}

/// An unknown key, with the nearest valid one when it is close enough to be a typo.
fn unknown_setting(path: &[&str], expected: &[&str], from_env: bool, source: &str) -> ConfigError {
    let Some((field, section)) = path.split_last() else { return invalid("config", "unknown setting") };
    let name = |key: &str| {
        let full: Vec<&str> = section.iter().copied().chain([key]).collect();
        if from_env { format!("KEYWARD_{}", full.join("__").to_uppercase()) } else { full.join(".") }
    };
    let hint = nearest(field, expected).map(|key| format!("; did you mean `{}`?", name(key))).unwrap_or_default();
    invalid(&name(field), format!("unknown setting{source}{hint}"))
}

/// The candidate within a typo's reach of `typed` (edit distance at most a third of its length,
/// and at least 2), the closest first.
fn nearest<'a>(typed: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let typed = typed.to_lowercase();
    let reach = (typed.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|candidate| (edit_distance(&typed, candidate), *candidate))
        .filter(|(distance, _)| *distance <= reach)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_setting_and_strangers_do_not() {
        let keys = ["rp_origins", "rp_id", "listen", "log_format", "session_cache_ttl_ms"];
        assert_eq!(nearest("rp_orgins", &keys), Some("rp_origins"));
        assert_eq!(nearest("RP_ORIGIN", &keys), Some("rp_origins"));
        assert_eq!(nearest("lisen", &keys), Some("listen"));
        assert_eq!(nearest("session_cache_ttl", &keys), Some("session_cache_ttl_ms"));
        assert_eq!(nearest("database", &keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_section_and_form() {
        let err = unknown_setting(&["oauth", "githb"], &["github", "oidc"], false, " (from keyward.toml)");
        assert_eq!(err.setting, "oauth.githb");
        assert_eq!(err.message, "unknown setting (from keyward.toml); did you mean `oauth.github`?");
        let err = unknown_setting(&["rp_orgins"], &["rp_origins"], true, "");
        assert_eq!(err.setting, "KEYWARD_RP_ORGINS");
        assert!(err.message.ends_with("did you mean `KEYWARD_RP_ORIGINS`?"), "{}", err.message);
    }
}
