//! What a person proves at login: a password (kept as an Argon2id hash) and a TOTP code
//! (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, as authenticator apps expect).

use std::time::{SystemTime, UNIX_EPOCH};

use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::{constant_time, hmac, rand};
use base64ct::{Base64Unpadded, Encoding};

/// Argon2id cost: OWASP's first recommended setting (19 MiB, 2 passes, 1 lane).
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;
const HASH_BYTES: usize = 32;
const SALT_BYTES: usize = 16;

/// A password's Argon2id hash in PHC string form:
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (unpadded base64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordHash(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("not an Argon2id hash this service wrote")]
    Malformed,
    #[error("Argon2: {0}")]
    Argon2(String),
}

fn argon2(m: u32, t: u32, p: u32) -> Result<Argon2<'static>, CredentialError> {
    let params = Params::new(m, t, p, Some(HASH_BYTES))
        .map_err(|e| CredentialError::Argon2(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &str) -> Result<PasswordHash, CredentialError> {
        let mut salt = [0u8; SALT_BYTES];
        rand::fill(&mut salt).map_err(|_| CredentialError::Argon2("no randomness".into()))?;
        let mut hash = [0u8; HASH_BYTES];
        argon2(MEMORY_KIB, PASSES, LANES)?
            .hash_password_into(password.as_bytes(), &salt, &mut hash)
            .map_err(|e| CredentialError::Argon2(e.to_string()))?;
        Ok(PasswordHash(format!(
            "$argon2id$v=19$m={MEMORY_KIB},t={PASSES},p={LANES}${}${}",
            Base64Unpadded::encode_string(&salt),
            Base64Unpadded::encode_string(&hash)
        )))
    }

    /// A hash as stored.
    pub fn from_phc(text: &str) -> Result<PasswordHash, CredentialError> {
        let hash = PasswordHash(text.to_owned());
        hash.parts()?;
        Ok(hash)
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }

    fn parts(&self) -> Result<Phc, CredentialError> {
        let bad = |_| CredentialError::Malformed;
        let fields: Vec<&str> = self.0.split('$').collect();
        let ["", "argon2id", "v=19", params, salt, hash] = fields.as_slice() else {
            return Err(CredentialError::Malformed);
        };
        let mut m = None;
        let mut t = None;
        let mut p = None;
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("m", v)) => m = v.parse::<u32>().ok(),
                Some(("t", v)) => t = v.parse::<u32>().ok(),
                Some(("p", v)) => p = v.parse::<u32>().ok(),
                _ => return Err(CredentialError::Malformed),
            }
        }
        let (Some(m), Some(t), Some(p)) = (m, t, p) else {
            return Err(CredentialError::Malformed);
        };
        Ok(Phc {
            m,
            t,
            p,
            salt: Base64Unpadded::decode_vec(salt).map_err(bad)?,
            hash: Base64Unpadded::decode_vec(hash).map_err(bad)?,
        })
    }

    /// Whether `password` is the one hashed (compared in constant time).
    pub fn verify(&self, password: &str) -> Result<bool, CredentialError> {
        PASSWORD_VERIFICATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Phc {
            m,
            t,
            p,
            salt,
            hash: expected,
        } = self.parts()?;
        if expected.is_empty() || expected.len() > 64 {
            return Err(CredentialError::Malformed);
        }
        let mut hash = vec![0u8; expected.len()];
        let params = Params::new(m, t, p, Some(expected.len()))
            .map_err(|e| CredentialError::Argon2(e.to_string()))?;
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password.as_bytes(), &salt, &mut hash)
            .map_err(|e| CredentialError::Argon2(e.to_string()))?;
        Ok(constant_time::verify_slices_are_equal(&hash, &expected).is_ok())
    }
}

/// How many password hashes were computed to check a password, since the process started (the
/// metrics show it: a login does the same work whether the account exists, is locked or not).
static PASSWORD_VERIFICATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// [`PASSWORD_VERIFICATIONS`].
pub fn password_verifications() -> u64 {
    PASSWORD_VERIFICATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The fields of a PHC string: memory (KiB), passes, lanes, salt, hash.
struct Phc {
    m: u32,
    t: u32,
    p: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

/// TOTP time step, seconds.
pub const TOTP_STEP: u64 = 30;

/// A TOTP secret (20 random bytes, as RFC 4226 recommends).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl TotpSecret {
    pub fn generate() -> TotpSecret {
        let mut bytes = vec![0u8; 20];
        // aws-lc aborts if the system RNG fails; nothing sensible is left to do then.
        rand::fill(&mut bytes).expect("system random number generator");
        TotpSecret(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> TotpSecret {
        TotpSecret(bytes)
    }

    /// RFC 4648 base32 without padding, as authenticator apps take it.
    pub fn to_base32(&self) -> String {
        let mut out = String::new();
        let mut buffer = 0u32;
        let mut bits = 0;
        for &b in &self.0 {
            buffer = (buffer << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    /// Reads base32 (either case, spaces and padding ignored).
    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        let mut out = Vec::new();
        let mut buffer = 0u32;
        let mut bits = 0;
        for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
            let v = BASE32
                .iter()
                .position(|&b| b == c.to_ascii_uppercase() as u8)?;
            buffer = (buffer << 5) | v as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((buffer >> bits) as u8);
            }
        }
        (out.len() >= 10).then_some(TotpSecret(out))
    }

    /// The code for time step `step`.
    pub fn code_at_step(&self, step: u64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &step.to_be_bytes());
        let mac = tag.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            mac[offset] & 0x7f,
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]);
        format!("{:06}", binary % 1_000_000)
    }

    /// The step `code` belongs to, if it is the code of the step of `now` or of the step just
    /// before or after (clock drift), and later than `last_used` (a code counts once).
    pub fn accept(&self, code: &str, now: SystemTime, last_used: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = now.duration_since(UNIX_EPOCH).ok()?.as_secs() / TOTP_STEP;
        [current.saturating_sub(1), current, current + 1]
            .into_iter()
            .filter(|step| last_used.is_none_or(|used| *step > used))
            .find(|step| {
                constant_time::verify_slices_are_equal(
                    self.code_at_step(*step).as_bytes(),
                    code.as_bytes(),
                )
                .is_ok()
            })
    }

    /// The `otpauth://` URI an authenticator app enrols from.
    pub fn enrolment_uri(&self, issuer: &str, account: &str) -> String {
        let enc = crate::percent_encode;
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period=30",
            enc(issuer),
            enc(account),
            self.to_base32(),
            enc(issuer)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = PasswordHash::new("correct horse battery staple").expect("hash");
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let stored = PasswordHash::from_phc(hash.as_phc()).expect("stored");
        assert!(
            stored
                .verify("correct horse battery staple")
                .expect("verify")
        );
        assert!(
            !stored
                .verify("correct horse battery stapler")
                .expect("verify")
        );
        // Two hashes of one password differ (salt).
        assert_ne!(
            PasswordHash::new("x").expect("hash"),
            PasswordHash::new("x").expect("hash")
        );
        assert_eq!(
            PasswordHash::from_phc("$argon2i$v=19$m=8,t=1,p=1$AAAA$AAAA"),
            Err(CredentialError::Malformed)
        );
    }

    /// RFC 6238 appendix B, SHA-1 rows (8 digits there; the last 6 are what 6-digit codes show).
    #[test]
    fn totp_matches_the_rfc_6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (time, eight) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code_at_step(time / TOTP_STEP), eight[2..]);
        }
    }

    #[test]
    fn a_totp_code_counts_once_and_only_near_its_time() {
        let secret = TotpSecret::generate();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_015);
        let step = 1_800_000_015 / TOTP_STEP;
        let code = secret.code_at_step(step);
        assert_eq!(secret.accept(&code, now, None), Some(step));
        assert_eq!(secret.accept(&code, now, Some(step)), None, "replayed");
        let previous = secret.code_at_step(step - 1);
        assert_eq!(secret.accept(&previous, now, None), Some(step - 1));
        let old = secret.code_at_step(step - 2);
        assert_eq!(secret.accept(&old, now, None), None);
        assert_eq!(secret.accept("12345", now, None), None);
        assert_eq!(secret.accept("abcdef", now, None), None);
    }

    #[test]
    fn secrets_round_trip_through_base32() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq"),
            Some(secret.clone())
        );
        assert_eq!(TotpSecret::from_base32("GEZ!"), None);
        assert!(
            secret
                .enrolment_uri("Sealpost", "jan@example.be")
                .starts_with("otpauth://totp/Sealpost:jan%40example.be?secret=GEZDGNBV")
        );
    }
}
