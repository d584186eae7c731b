//! Where a better-auth app keeps its models: the default table and column names (better-auth's
//! core schema and the passkey and two-factor plugins' schemas), or the app's own, given the way
//! better-auth's config gives them (`user: { modelName, fields }`, `advanced.database` aside) in
//! a JSON mapping file:
//!
//! ```json
//! { "usePlural": false,
//!   "user": { "modelName": "users", "fields": { "emailVerified": "email_verified" } },
//!   "session": { "modelName": "user_sessions" } }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// The models the import reads.
pub const MODELS: [&str; 6] = ["user", "account", "session", "verification", "passkey", "twoFactor"];

/// One model's custom names, as in better-auth's config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelNames {
    pub model_name: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// The mapping file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Names {
    /// better-auth's `usePlural`: tables are the model names plus "s".
    #[serde(default)]
    pub use_plural: bool,
    pub user: Option<ModelNames>,
    pub account: Option<ModelNames>,
    pub session: Option<ModelNames>,
    pub verification: Option<ModelNames>,
    pub passkey: Option<ModelNames>,
    pub two_factor: Option<ModelNames>,
}

/// The longest mapping file read (it holds a few dozen names).
const MAX_MAPPING_BYTES: usize = 64 * 1024;

impl Names {
    /// Parses a mapping file's text; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_MAPPING_BYTES {
            return Err(format!("the mapping file is larger than {MAX_MAPPING_BYTES} bytes"));
        }
        serde_json::from_str(text).map_err(|err| format!("the mapping file: {err}"))
    }

    fn model(&self, model: &str) -> Option<&ModelNames> {
        match model {
            "user" => self.user.as_ref(),
            "account" => self.account.as_ref(),
            "session" => self.session.as_ref(),
            "verification" => self.verification.as_ref(),
            "passkey" => self.passkey.as_ref(),
            "twoFactor" => self.two_factor.as_ref(),
            _ => None,
        }
    }

    /// The table of `model`.
    pub fn table(&self, model: &str) -> String {
        match self.model(model).and_then(|names| names.model_name.clone()) {
            Some(name) => name,
            None if self.use_plural => format!("{model}s"),
            None => model.to_owned(),
        }
    }

    /// The column of `model`'s `field`.
    pub fn column<'a>(&'a self, model: &str, field: &'a str) -> &'a str {
        self.model(model).and_then(|names| names.fields.get(field)).map_or(field, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_plural_and_custom_names() {
        let defaults = Names::default();
        assert_eq!(
            (defaults.table("user"), defaults.column("user", "emailVerified")),
            ("user".into(), "emailVerified")
        );
        let custom = Names::parse(
            r#"{"usePlural": true, "user": {"modelName": "people", "fields": {"emailVerified": "email_verified"}}}"#,
        )
        .unwrap();
        assert_eq!(custom.table("user"), "people");
        assert_eq!(custom.table("session"), "sessions");
        assert_eq!(custom.column("user", "emailVerified"), "email_verified");
        assert_eq!(custom.column("user", "email"), "email");
        assert!(Names::parse(r#"{"users": {}}"#).unwrap_err().contains("unknown field"));
        assert!(Names::parse("not json").is_err());
    }
}
