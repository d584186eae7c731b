//! Roles an operator gives a user: short names other services authorize on (the `roles` claim).

use crate::error::{Error, FieldReason, Result};

/// At most this many roles per user: they travel in every access token.
pub const MAX_ROLES: usize = 32;
const MAX_ROLE_CHARS: usize = 64;

/// A validated, de-duplicated role list, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roles(Vec<String>);

impl Roles {
    /// Each role: 1–64 characters of `a-z 0-9 _ . : -`, starting with a letter or digit (so the
    /// list can be stored space-separated and read back unchanged).
    pub fn parse(field: &'static str, raw: &[String]) -> Result<Self> {
        if raw.len() > MAX_ROLES {
            return Err(Error::field(field, FieldReason::TooLong, format!("at most {MAX_ROLES} roles")));
        }
        let mut roles: Vec<String> = Vec::with_capacity(raw.len());
        for role in raw {
            let well_formed = (1..=MAX_ROLE_CHARS).contains(&role.len())
                && role.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b));
            if !well_formed {
                return Err(Error::field(
                    field,
                    FieldReason::Malformed,
                    "a role is 1-64 characters of a-z, 0-9, '_', '.', ':' or '-', starting with a letter or digit",
                ));
            }
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
        Ok(Self(roles))
    }

    /// The stored form: space-separated.
    pub fn joined(&self) -> String {
        self.0.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_checked_and_deduplicated() {
        let roles = Roles::parse("roles", &["admin".into(), "billing:read".into(), "admin".into()]).unwrap();
        assert_eq!(roles.joined(), "admin billing:read");
        for bad in ["", "Admin", "a b", "-x", &"a".repeat(65)] {
            assert!(Roles::parse("roles", &[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(Roles::parse("roles", &vec!["r".to_owned(); MAX_ROLES + 1]).is_err());
    }
}
