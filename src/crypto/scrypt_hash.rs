//! better-auth's password hashes, carried over by `keyward import better-auth`: checked once, at
//! sign-in, on the CPU pool, then replaced by argon2id (like imported bcrypt).
//!
//! better-auth (`@better-auth/utils/password`, read in its 1.7 source) stores
//! `hex(salt) ":" hex(key)` with `key = scrypt(password.normalize("NFKC"), hex(salt), N=16384,
//! r=16, p=1, dkLen=64)`: the salt passed to scrypt is the 32 hex *characters*, not the 16 bytes
//! they spell. The import stores it as `$better-auth-scrypt$<salt hex>$<key hex>` so the stored
//! string says what it is; the parameters are better-auth's fixed ones (it has no others).
//! One verification costs 32 MiB and about as much CPU as an argon2id one.

use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

/// The prefix of a better-auth scrypt hash as Keyward stores it.
pub const PREFIX: &str = "$better-auth-scrypt$";

/// scrypt's cost: N = 2^14.
const LOG_N: u8 = 14;
const R: u32 = 16;
const P: u32 = 1;
const KEY_BYTES: usize = 64;
/// better-auth's salt: 16 random bytes as 32 lowercase hex characters.
const SALT_CHARS: usize = 32;

/// True when `stored` claims to be an imported better-auth scrypt hash, valid or not.
pub fn is_better_auth_scrypt(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// better-auth's `salt:key` as it sits in `account.password` → Keyward's stored form. The error
/// says what is wrong (never the value).
pub fn from_better_auth(value: &str) -> Result<String, String> {
    let (salt, key) = value.split_once(':').ok_or("not better-auth's salt:key scrypt format")?;
    check_parts(salt, key)?;
    Ok(format!("{PREFIX}{salt}${key}"))
}

fn check_parts(salt: &str, key: &str) -> Result<(), String> {
    let hex = |part: &str| part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if salt.len() != SALT_CHARS || !hex(salt) {
        return Err(format!("scrypt salt is not {SALT_CHARS} lowercase hex digits"));
    }
    if key.len() != KEY_BYTES * 2 || !hex(key) {
        return Err(format!("scrypt key is not {} lowercase hex digits", KEY_BYTES * 2));
    }
    Ok(())
}

/// The salt and expected key of a stored hash.
fn parse(stored: &str) -> Result<(&str, Vec<u8>), String> {
    let rest = stored.strip_prefix(PREFIX).ok_or("not a better-auth scrypt hash")?;
    let (salt, key) = rest.split_once('$').ok_or("malformed better-auth scrypt hash")?;
    check_parts(salt, key)?;
    let key = (0..key.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&key[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "scrypt key is not hex".to_owned())?;
    Ok((salt, key))
}

/// Checks that `stored` is a hash Keyward can verify.
pub fn check(stored: &str) -> Result<(), String> {
    parse(stored).map(drop)
}

/// A stored hash of `password` (random bytes, used as their hex) under `salt`, exactly as an
/// imported one is laid out: the dummy an address without a password is verified against when
/// the accounts hold imported better-auth hashes (`service/login_timing.rs`). One scrypt run.
pub fn dummy(password: &[u8], salt: [u8; 16]) -> Result<String, String> {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let salt = hex(&salt);
    let params = scrypt::Params::new(LOG_N, R, P).map_err(|err| format!("scrypt parameters: {err}"))?;
    let mut key = [0u8; KEY_BYTES];
    scrypt::scrypt(hex(password).as_bytes(), salt.as_bytes(), &params, &mut key)
        .map_err(|err| format!("scrypt: {err}"))?;
    Ok(format!("{PREFIX}{salt}${}", hex(&key)))
}

/// Verifies `password` as better-auth does (NFKC, then scrypt), comparing in constant time.
/// Call on the CPU pool.
pub fn verify(password: &[u8], stored: &str) -> Result<bool, String> {
    let (salt, expected) = parse(stored)?;
    let password = std::str::from_utf8(password).map_err(|_| "password is not UTF-8".to_owned())?;
    let normalized: String = password.nfkc().collect();
    let params = scrypt::Params::new(LOG_N, R, P).map_err(|err| format!("scrypt parameters: {err}"))?;
    let mut key = [0u8; KEY_BYTES];
    scrypt::scrypt(normalized.as_bytes(), salt.as_bytes(), &params, &mut key)
        .map_err(|err| format!("scrypt: {err}"))?;
    Ok(key.as_slice().ct_eq(&expected).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by better-auth 1.7.29 itself: `hashPassword(…)` from `better-auth/crypto`
    /// (tests/better-auth/node_modules, Node 20).
    const BETTER_AUTH_VECTOR: &str = "01cb97bea00ceb0103f788c5705cd2a1:9e2fff4728fe5f4e7b51adb697428048cffe16d2cf4e9e6e982301918207fcec20d18c1325c257da9a721d73b969bab6bbde1ab911ace90d55da1ba89fa74470";
    /// `hashPassword("Ｐａｓｓ-ﬁsh-42-ever")`: full-width letters and a ligature, which NFKC
    /// turns into "Pass-fish-42-ever" before scrypt.
    const BETTER_AUTH_NFKC_VECTOR: &str = "17f4fe88f9dda13ff5239ce9febdb10e:8b4a6f1c4449f0c6e85e9d35dda7aa7503f35d50967661641dfc1513f55082e9fb71d7c73e4387811d94e45028dbf6a269bf78a32c29ff5c7f8a819da28a6e54";

    #[test]
    fn hashes_made_by_better_auth_verify() {
        let stored = from_better_auth(BETTER_AUTH_VECTOR).unwrap();
        assert_eq!(verify(b"violet-otter-lamp-93", &stored), Ok(true));
        assert_eq!(verify(b"violet-otter-lamp-94", &stored), Ok(false));
        let nfkc = from_better_auth(BETTER_AUTH_NFKC_VECTOR).unwrap();
        assert_eq!(verify("Ｐａｓｓ-ﬁsh-42-ever".as_bytes(), &nfkc), Ok(true));
        assert_eq!(verify(b"Pass-fish-42-ever", &nfkc), Ok(true), "the same password once NFKC-normalized");
        assert_eq!(verify(b"Pass-fish-42-Ever", &nfkc), Ok(false));
    }

    #[test]
    fn refuses_what_is_not_better_auths_format() {
        let (salt, key) = BETTER_AUTH_VECTOR.split_once(':').unwrap();
        for bad in [
            "".to_owned(),
            "no-colon".to_owned(),
            format!("{}:{key}", &salt[..30]),
            format!("{salt}:{}", &key[..126]),
            format!("{}:{key}", salt.to_uppercase()),
            format!("zz{}:{key}", &salt[2..]),
            format!("{salt}:{key}:extra"),
        ] {
            assert!(from_better_auth(&bad).is_err(), "{bad}");
        }
        assert!(check("$better-auth-scrypt$garbage").is_err());
        let dummy = dummy(b"random bytes", [7; 16]).unwrap();
        assert_eq!(check(&dummy), Ok(()), "a dummy is laid out like an imported hash");
        assert_eq!(verify(b"random bytes", &dummy), Ok(false), "its password is the bytes' hex");
        assert_eq!(verify(b"72616e646f6d206279746573", &dummy), Ok(true));
        assert!(verify(b"x", "$better-auth-scrypt$garbage").is_err());
    }
}
