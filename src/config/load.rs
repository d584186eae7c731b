//! Loading the configuration: defaults ← TOML file ← environment ← command-line flags (figment),
//! then validation. The only code that reads the environment.

use std::path::Path;

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};

use super::{Config, ConfigError, Overrides, validate::invalid};

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
        let config: Config = figment
            .merge(Env::raw().only(&["DATABASE_URL", "RUST_LOG"]).map(|key| {
                if key.as_str().eq_ignore_ascii_case("RUST_LOG") { "log".into() } else { "database_url".into() }
            }))
            // `__` nests: KEYWARD_OAUTH__GITHUB__CLIENT_SECRET sets oauth.github.client_secret.
            .merge(Env::prefixed("KEYWARD_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|err| {
                let setting = if err.path.is_empty() { "config".to_owned() } else { err.path.join(".") };
                let source = err.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
                invalid(&setting, format!("{}{source}", err.kind))
            })?;
        config.validate()?;
        Ok(config)
    }
}
