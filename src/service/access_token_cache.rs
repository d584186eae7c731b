//! The per-replica cache of access tokens whose signature was already verified.
//!
//! Verifying an Ed25519 signature is most of what GetSession with an access token costs; a
//! service that forwards the same token on every request pays it again and again. This cache
//! remembers tokens that verified, keyed by SHA-256 of the token (so the map never holds a
//! usable credential), and only the signature check is skipped on a hit. Everything that can
//! change while a token is cached is still checked on every call by the caller
//! (`Services::authenticate_access_token`): the token's expiry against the service `Clock`, that
//! its signing key is still in the key set (a withdrawn key stops its tokens at once), and the
//! session named by `sid` through the session cache and store, so revocation, idle expiry and a
//! disabled user show exactly as without this cache (RFC 8725 §3.1: the checks are the
//! verifier's, whatever it remembers; OWASP ASVS 5 V9.1.1).

use std::{sync::Arc, time::Duration};

use crate::crypto::AccessClaims;

/// A verified token's claims and the key that signed it.
#[derive(Debug)]
pub struct Verified {
    pub claims: AccessClaims,
    pub kid: String,
}

/// SHA-256 of a token: what the cache is keyed by.
pub type TokenDigest = [u8; 32];

/// Bounded by entry count (least recently used go first) and by age: an entry older than the
/// longest a token can live is useless, so it leaves (moka's own clock; only memory depends on
/// it, never an answer).
#[derive(Debug, Clone)]
pub struct AccessTokenCache {
    verified: moka::sync::Cache<TokenDigest, Arc<Verified>>,
}

impl AccessTokenCache {
    pub fn new(max_entries: u64, token_lifetime: Duration) -> Self {
        Self { verified: moka::sync::Cache::builder().max_capacity(max_entries).time_to_live(token_lifetime).build() }
    }

    pub fn digest(token: &str) -> TokenDigest {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        key
    }

    /// The claims of a token that verified before, if still cached.
    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<Verified>> {
        self.verified.get(digest)
    }

    /// Remembers a token whose signature verified.
    pub fn put(&self, digest: TokenDigest, verified: Arc<Verified>) {
        self.verified.insert(digest, verified);
    }

    /// Forgets every token (tests; a key withdrawn is handled by the caller's kid check).
    #[cfg(test)]
    pub fn clear(&self) {
        self.verified.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sid: &str) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "u".into(),
            sid: sid.into(),
            iat: 0,
            exp: 10,
            jti: "j".into(),
            roles: vec![],
        }
    }

    #[test]
    fn keyed_by_the_tokens_digest_only() {
        let cache = AccessTokenCache::new(10, Duration::from_secs(60));
        let (a, b) = (AccessTokenCache::digest("a.b.c"), AccessTokenCache::digest("a.b.d"));
        assert_ne!(a, b);
        cache.put(a, Arc::new(Verified { claims: claims("s1"), kid: "k".into() }));
        assert_eq!(cache.get(&a).map(|v| v.claims.sid.clone()).as_deref(), Some("s1"));
        assert!(cache.get(&b).is_none(), "a token differing in its signature is not a hit");
        cache.clear();
        assert!(cache.get(&a).is_none());
    }
}
