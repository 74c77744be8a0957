//! Building `TimeStampReq`s (for the client, tests and benchmarks).

use aws_lc_rs::digest;
use der::Encode;
use der::asn1::{IntRef, ObjectIdentifier, OctetStringRef};
use spki::AlgorithmIdentifierRef;

use crate::asn1::{MessageImprint, TimeStampReq, oid};

/// The hash algorithms a request may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlgorithm::Sha256 => oid::SHA256,
            HashAlgorithm::Sha384 => oid::SHA384,
            HashAlgorithm::Sha512 => oid::SHA512,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }
}

/// A request to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSpec {
    pub hash_algorithm: ObjectIdentifier,
    pub digest: Vec<u8>,
    /// A positive nonce, big-endian (leading zeros are dropped).
    pub nonce: Option<Vec<u8>>,
    pub cert_req: bool,
    pub policy: Option<ObjectIdentifier>,
}

impl RequestSpec {
    /// A request for `digest`, with a fresh random 64-bit nonce and the certificate asked for.
    pub fn new(algorithm: HashAlgorithm, digest: Vec<u8>) -> Self {
        RequestSpec {
            hash_algorithm: algorithm.oid(),
            digest,
            nonce: Some(random_nonce().to_vec()),
            cert_req: true,
            policy: None,
        }
    }

    pub fn to_der(&self) -> der::Result<Vec<u8>> {
        let mut nonce_buf = Vec::new();
        let nonce = match &self.nonce {
            Some(n) => {
                let trimmed: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
                if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
                    nonce_buf.push(0);
                }
                nonce_buf.extend(trimmed);
                Some(IntRef::new(&nonce_buf)?)
            }
            None => None,
        };
        TimeStampReq {
            version: 1,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierRef {
                    oid: self.hash_algorithm,
                    parameters: None,
                },
                hashed_message: OctetStringRef::new(&self.digest)?,
            },
            req_policy: self.policy,
            nonce,
            cert_req: self.cert_req,
            extensions: None,
        }
        .to_der()
    }
}

/// 64 random bits, top bit clear (a positive INTEGER of at most 8 octets).
pub fn random_nonce() -> [u8; 8] {
    let mut n = [0u8; 8];
    // A failing system RNG leaves nothing sensible to do; aws-lc aborts in that case anyway.
    aws_lc_rs::rand::fill(&mut n).expect("system random number generator");
    n[0] &= 0x7f;
    n
}
