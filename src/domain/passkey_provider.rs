//! Passkey provider names by AAGUID ("Google Password Manager", "iCloud Keychain", "YubiKey 5
//! Series"), from the community list shipped in data/aaguids/ (source and licence there). Display
//! names only: an AAGUID is what the authenticator claims, not an attested fact.

use std::{collections::HashMap, sync::LazyLock};

/// The shipped list, parsed once. Read-only data compiled into the binary, not configuration.
static NAMES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    // The file is committed and checked by the tests below; unreadable data means no names,
    // never a failed sign-in.
    serde_json::from_str(include_str!("../../data/aaguids/aaguids.json")).unwrap_or_default()
});

/// The provider named by `aaguid` (hyphenated, any case), or None when the list does not know it.
pub fn passkey_provider_name(aaguid: &str) -> Option<&'static str> {
    NAMES.get(&aaguid.to_ascii_lowercase()).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_parses_and_names_the_common_providers() {
        assert!(NAMES.len() > 200, "only {} names: is data/aaguids/aaguids.json intact?", NAMES.len());
        assert_eq!(passkey_provider_name("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"), Some("Google Password Manager"));
        assert_eq!(passkey_provider_name("BADA5566-A7AA-401F-BD96-45619A55120D"), Some("1Password"));
        assert_eq!(passkey_provider_name("00000000-0000-0000-0000-000000000000"), None);
    }
}
