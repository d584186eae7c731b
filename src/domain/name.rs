//! `DisplayName`: a user's optional display name, validated.

use crate::error::{Error, FieldReason, Result};

/// Display names longer than this are refused rather than truncated.
pub const MAX_NAME_CHARS: usize = 200;

/// An optional display name: trimmed, bounded, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(Option<String>);

impl DisplayName {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(Self(None));
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(Error::field(
                field,
                FieldReason::TooLong,
                format!("name must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Error::field(field, FieldReason::Malformed, "name contains control characters"));
        }
        Ok(Self(Some(trimmed.to_owned())))
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}
