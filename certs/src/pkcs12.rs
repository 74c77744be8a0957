//! PKCS#12 (RFC 7292) bundles for client applications: one private key with its certificate and
//! chain, as OpenSSL 3 writes them by default: the key in a PKCS8ShroudedKeyBag under PBES2
//! (PBKDF2-HMAC-SHA256, AES-256-CBC), certificates in plain CertBags, integrity by HMAC-SHA256
//! with the RFC 7292 appendix B key derivation. Java 17 keytool, OpenSSL 3 and Python
//! `cryptography` read them.

use aws_lc_rs::cipher::{AES_256, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::{digest, hmac, pbkdf2, rand};
use der::asn1::{AnyRef, BmpString, ObjectIdentifier, OctetStringRef, SetOfVec};
use der::{Encode, Sequence};
use std::num::NonZeroU32;

const ITERATIONS: u32 = 2048;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_PKCS8_SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const ID_CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
const ID_X509_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
const ID_FRIENDLY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
const ID_LOCAL_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");
const ID_PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const ID_PBKDF2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
const ID_HMAC_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
const ID_AES256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

#[derive(Debug, thiserror::Error)]
pub enum Pkcs12Error {
    #[error("encoding: {0}")]
    Encoding(#[from] der::Error),
    #[error("cryptographic operation failed")]
    Crypto,
}

impl From<aws_lc_rs::error::Unspecified> for Pkcs12Error {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        Pkcs12Error::Crypto
    }
}

#[derive(Sequence)]
struct ContentInfo<'a> {
    content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: OctetStringRef<'a>,
}

#[derive(Sequence, PartialEq, Eq, PartialOrd, Ord)]
struct Attribute<'a> {
    attr_type: ObjectIdentifier,
    values: SetOfVec<AnyRef<'a>>,
}

impl der::ValueOrd for Attribute<'_> {
    fn value_cmp(&self, other: &Self) -> der::Result<std::cmp::Ordering> {
        Ok(self.to_der()?.cmp(&other.to_der()?))
    }
}

#[derive(Sequence)]
struct SafeBag<'a> {
    bag_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    bag_value: AnyRef<'a>,
    #[asn1(optional = "true")]
    bag_attributes: Option<SetOfVec<Attribute<'a>>>,
}

#[derive(Sequence)]
struct CertBag<'a> {
    cert_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    cert_value: OctetStringRef<'a>,
}

#[derive(Sequence)]
struct AlgorithmIdentifier<'a> {
    algorithm: ObjectIdentifier,
    #[asn1(optional = "true")]
    parameters: Option<AnyRef<'a>>,
}

#[derive(Sequence)]
struct Pbkdf2Params<'a> {
    salt: OctetStringRef<'a>,
    iteration_count: u32,
    prf: AlgorithmIdentifier<'a>,
}

#[derive(Sequence)]
struct Pbes2Params<'a> {
    key_derivation_func: AlgorithmIdentifier<'a>,
    encryption_scheme: AlgorithmIdentifier<'a>,
}

#[derive(Sequence)]
struct EncryptedPrivateKeyInfo<'a> {
    encryption_algorithm: AlgorithmIdentifier<'a>,
    encrypted_data: OctetStringRef<'a>,
}

#[derive(Sequence)]
struct DigestInfo<'a> {
    digest_algorithm: AlgorithmIdentifier<'a>,
    digest: OctetStringRef<'a>,
}

#[derive(Sequence)]
struct MacData<'a> {
    mac: DigestInfo<'a>,
    mac_salt: OctetStringRef<'a>,
    iterations: u32,
}

#[derive(Sequence)]
struct Pfx<'a> {
    version: u8,
    auth_safe: ContentInfo<'a>,
    mac_data: MacData<'a>,
}

const NULL_DER: [u8; 2] = [0x05, 0x00];

/// Builds a PKCS#12 bundle holding `key_pkcs8_der` and `cert_der` (both tagged with
/// `friendly_name`, the alias Java gives them) and the `chain` certificates.
pub fn write_pkcs12(
    friendly_name: &str,
    key_pkcs8_der: &[u8],
    cert_der: &[u8],
    chain: &[&[u8]],
    password: &str,
) -> Result<Vec<u8>, Pkcs12Error> {
    let null = AnyRef::try_from(&NULL_DER[..])?;
    let local_key_id = digest::digest(&digest::SHA256, cert_der);
    let local_key_id = OctetStringRef::new(&local_key_id.as_ref()[..20])?.to_der()?;
    let friendly = BmpString::from_utf8(friendly_name)?.to_der()?;
    let leaf_attributes = || -> Result<SetOfVec<Attribute<'_>>, Pkcs12Error> {
        let mut attrs = SetOfVec::new();
        attrs.insert(Attribute {
            attr_type: ID_FRIENDLY_NAME,
            values: SetOfVec::try_from(vec![AnyRef::try_from(friendly.as_slice())?])?,
        })?;
        attrs.insert(Attribute {
            attr_type: ID_LOCAL_KEY_ID,
            values: SetOfVec::try_from(vec![AnyRef::try_from(local_key_id.as_slice())?])?,
        })?;
        Ok(attrs)
    };

    // The shrouded key: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC.
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rand::fill(&mut salt)?;
    rand::fill(&mut iv)?;
    let mut key = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(ITERATIONS).ok_or(Pkcs12Error::Crypto)?,
        &salt,
        password.as_bytes(),
        &mut key,
    );
    let cipher = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, &key)?)?;
    let mut encrypted = key_pkcs8_der.to_vec();
    cipher.less_safe_encrypt(
        &mut encrypted,
        aws_lc_rs::cipher::EncryptionContext::Iv128(iv.into()),
    )?;
    let pbkdf2_params = Pbkdf2Params {
        salt: OctetStringRef::new(&salt)?,
        iteration_count: ITERATIONS,
        prf: AlgorithmIdentifier {
            algorithm: ID_HMAC_WITH_SHA256,
            parameters: Some(null),
        },
    }
    .to_der()?;
    let iv_der = OctetStringRef::new(&iv)?.to_der()?;
    let pbes2_params = Pbes2Params {
        key_derivation_func: AlgorithmIdentifier {
            algorithm: ID_PBKDF2,
            parameters: Some(AnyRef::try_from(pbkdf2_params.as_slice())?),
        },
        encryption_scheme: AlgorithmIdentifier {
            algorithm: ID_AES256_CBC,
            parameters: Some(AnyRef::try_from(iv_der.as_slice())?),
        },
    }
    .to_der()?;
    let shrouded_key = EncryptedPrivateKeyInfo {
        encryption_algorithm: AlgorithmIdentifier {
            algorithm: ID_PBES2,
            parameters: Some(AnyRef::try_from(pbes2_params.as_slice())?),
        },
        encrypted_data: OctetStringRef::new(&encrypted)?,
    }
    .to_der()?;
    let key_bags = vec![SafeBag {
        bag_id: ID_PKCS8_SHROUDED_KEY_BAG,
        bag_value: AnyRef::try_from(shrouded_key.as_slice())?,
        bag_attributes: Some(leaf_attributes()?),
    }]
    .to_der()?;

    // The certificates, leaf first.
    let cert_bags: Vec<Vec<u8>> = std::iter::once(cert_der)
        .chain(chain.iter().copied())
        .map(|der| {
            CertBag {
                cert_id: ID_X509_CERTIFICATE,
                cert_value: OctetStringRef::new(der)?,
            }
            .to_der()
        })
        .collect::<Result<_, _>>()?;
    let mut safe_bags = Vec::with_capacity(cert_bags.len());
    for (i, bag) in cert_bags.iter().enumerate() {
        safe_bags.push(SafeBag {
            bag_id: ID_CERT_BAG,
            bag_value: AnyRef::try_from(bag.as_slice())?,
            bag_attributes: if i == 0 {
                Some(leaf_attributes()?)
            } else {
                None
            },
        });
    }
    let cert_safe = safe_bags.to_der()?;

    let auth_safe = vec![
        ContentInfo {
            content_type: ID_DATA,
            content: OctetStringRef::new(&cert_safe)?,
        },
        ContentInfo {
            content_type: ID_DATA,
            content: OctetStringRef::new(&key_bags)?,
        },
    ]
    .to_der()?;

    // Integrity: HMAC-SHA256 keyed by the RFC 7292 appendix B.2 derivation (ID 3).
    let mut mac_salt = [0u8; 16];
    rand::fill(&mut mac_salt)?;
    let mac_key = pkcs12_kdf_sha256(password, &mac_salt, 3, ITERATIONS);
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &mac_key), &auth_safe);
    Ok(Pfx {
        version: 3,
        auth_safe: ContentInfo {
            content_type: ID_DATA,
            content: OctetStringRef::new(&auth_safe)?,
        },
        mac_data: MacData {
            mac: DigestInfo {
                digest_algorithm: AlgorithmIdentifier {
                    algorithm: ID_SHA256,
                    parameters: Some(null),
                },
                digest: OctetStringRef::new(mac.as_ref())?,
            },
            mac_salt: OctetStringRef::new(&mac_salt)?,
            iterations: ITERATIONS,
        },
    }
    .to_der()?)
}

/// RFC 7292 appendix B.2 key derivation with SHA-256 (u = 32, v = 64), for a 32-byte key.
fn pkcs12_kdf_sha256(password: &str, salt: &[u8], id: u8, iterations: u32) -> [u8; 32] {
    const V: usize = 64;
    // The password as a BMPString with a terminating NUL.
    let mut bmp: Vec<u8> = password
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    bmp.extend_from_slice(&[0, 0]);
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let len = V * src.len().div_ceil(V);
        src.iter().copied().cycle().take(len).collect()
    };
    let mut input = vec![id; V];
    input.extend(fill(salt));
    input.extend(fill(&bmp));
    let mut a = digest::digest(&digest::SHA256, &input);
    for _ in 1..iterations {
        a = digest::digest(&digest::SHA256, a.as_ref());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(a.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7292's KDF has no published SHA-256 vector; this one was produced by OpenSSL 3.0's
    /// `PKCS12_key_gen_utf8` (password "sealpost", salt 00..07, id 3, 2048 iterations, SHA-256).
    #[test]
    fn kdf_matches_openssl() {
        let salt: Vec<u8> = (0u8..8).collect();
        let key = pkcs12_kdf_sha256("sealpost", &salt, 3, 2048);
        assert_eq!(
            hex(&key),
            "108d40c8f908605f0aeb286cb67b30a529fa6f9155b6a50d9016f834e012199d",
            "derived key differs from OpenSSL's"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
