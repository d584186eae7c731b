//! bcrypt hashes carried over from Auth.js apps (the credentials tutorials hash with `bcryptjs`):
//! checked once, at sign-in, with the `bcrypt` crate on the CPU pool, then replaced by argon2id.
//!
//! The 72-byte limit behaves exactly as bcrypt's: the password's first 72 bytes of UTF-8 count,
//! and a password that only differs after them matches (bcryptjs, OpenBSD and the `bcrypt`
//! crate's `verify` all truncate there). Once the hash is upgraded to argon2id on the first
//! successful sign-in, the whole password counts.

/// The highest bcrypt cost Keyward verifies. Each step doubles the work: cost 10 took 64 ms on
/// the reference machine, so cost 15 is about 2 s of one core, so a hostile or mistaken row cannot hold a hashing thread for minutes
/// (cost 31 would be days). Apps use 10–12; the import refuses higher costs.
pub const MAX_BCRYPT_COST: u32 = 15;

/// The lowest cost bcrypt allows.
const MIN_BCRYPT_COST: u32 = 4;

/// True when `stored` claims to be a bcrypt hash (`$2…$`), valid or not.
pub fn is_bcrypt(stored: &str) -> bool {
    stored.starts_with("$2")
}

/// Checks that `stored` is a bcrypt hash Keyward can verify: `$2a$`, `$2b$` or `$2y$` (PHP's
/// name for `$2b$`), cost 4–15, 22 salt and 31 hash characters of bcrypt's base64. `$2x$`
/// (hashes made by the 2011 crypt_blowfish sign-extension bug) and `$2$` are refused.
pub fn check(stored: &str) -> Result<u32, String> {
    let version = stored.get(..4).unwrap_or_default();
    if !matches!(version, "$2a$" | "$2b$" | "$2y$") {
        return Err(format!("bcrypt variant {:?} is not supported (only $2a$, $2b$ and $2y$)", version));
    }
    let parts: ::bcrypt::HashParts =
        stored.parse().map_err(|err: ::bcrypt::BcryptError| format!("malformed bcrypt hash: {err}"))?;
    let cost = parts.get_cost();
    if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(format!("bcrypt cost {cost} is outside the accepted {MIN_BCRYPT_COST}–{MAX_BCRYPT_COST}"));
    }
    Ok(cost)
}

/// A bcrypt hash of `password` at `cost` (clamped to what Keyward verifies) with `salt`: what
/// the sign-in's dummy for an address without a password is, so that it costs what an imported
/// hash of that cost does. Making it costs exactly what verifying it does.
pub fn dummy(password: &[u8], salt: [u8; 16], cost: u32) -> Result<String, String> {
    let cost = cost.clamp(MIN_BCRYPT_COST, MAX_BCRYPT_COST);
    let parts = ::bcrypt::hash_with_salt(password, cost, salt).map_err(|err| format!("bcrypt dummy: {err}"))?;
    Ok(parts.format_for_version(::bcrypt::Version::TwoB))
}

/// Verifies `password` against a bcrypt hash (constant-time comparison inside the crate).
/// Call on the CPU pool: this is the deliberately slow part.
pub fn verify(password: &[u8], stored: &str) -> Result<bool, String> {
    check(stored)?;
    ::bcrypt::verify(password, stored).map_err(|err| format!("bcrypt verification: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_every_accepted_variant() {
        let hash = ::bcrypt::hash("violet-otter-lamp-93", 4).unwrap();
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        for variant in ["$2a$", "$2b$", "$2y$"] {
            let stored = format!("{variant}{}", &hash[4..]);
            assert_eq!(check(&stored), Ok(4));
            assert_eq!(verify(b"violet-otter-lamp-93", &stored), Ok(true), "{variant}");
            assert_eq!(verify(b"violet-otter-lamp-94", &stored), Ok(false), "{variant}");
        }
    }

    #[test]
    fn the_72_byte_limit_is_bcrypts() {
        let long = "é".repeat(40); // 80 bytes of UTF-8
        let hash = ::bcrypt::hash(&long, 4).unwrap();
        let same_first_72 = format!("{}tail", &long[..72]);
        assert_eq!(verify(same_first_72.as_bytes(), &hash), Ok(true));
        assert_eq!(verify(&long.as_bytes()[..71], &hash), Ok(false));
    }

    #[test]
    fn refuses_what_it_cannot_or_should_not_verify() {
        let hash = ::bcrypt::hash("violet-otter-lamp-93", 4).unwrap();
        for stored in [
            format!("$2x${}", &hash[4..]),
            format!("$2b$16${}", &hash[7..]),
            format!("$2b$31${}", &hash[7..]),
            format!("$2b$03${}", &hash[7..]),
            hash[..59].to_owned(),
            "$2b$".to_owned(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        ] {
            assert!(check(&stored).is_err(), "{stored}");
            assert!(verify(b"violet-otter-lamp-93", &stored).is_err(), "{stored}");
        }
    }
}
