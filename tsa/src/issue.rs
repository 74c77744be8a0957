//! Issuing time-stamp tokens: [`issue`] is a pure function from a request, a time, a serial
//! number and a signer to a DER `TimeStampResp`.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;
use der::asn1::{AnyRef, BitStringRef, IntRef, ObjectIdentifier, OctetStringRef, Utf8StringRef};
use der::{Decode, Encode, Tag, TagNumber, Tagged};
use spki::AlgorithmIdentifierRef;

use crate::asn1::{
    Accuracy, Attribute, ContentInfo, EncapsulatedContentInfo, EssCertIdV2, GenTime,
    IssuerAndSerialNumber, IssuerSerial, PkiStatusInfo, RawSet, SignedData, SignerInfo,
    SigningCertificateV2, TimeStampReq, TimeStampResp, TstInfo, oid, status,
};
use crate::signer::TimeStampSigner;

/// The hash algorithms this TSA time-stamps, with their digest lengths. MD5, SHA-1 and SHA-224
/// are refused with `badAlg`.
pub const ACCEPTED_HASH_ALGORITHMS: [(ObjectIdentifier, usize); 3] =
    [(oid::SHA256, 32), (oid::SHA384, 48), (oid::SHA512, 64)];

/// What the TSA promises in its tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuePolicy {
    /// The policy of tokens whose request names none.
    pub default_policy: ObjectIdentifier,
    /// Policies a request may ask for (the default is always accepted).
    pub accepted_policies: Vec<ObjectIdentifier>,
    /// The accuracy stated in every token. genTime is truncated to the second, so this is at
    /// least one second.
    pub accuracy: Duration,
    /// Whether tokens name the TSA (`tsa` field: the certificate's subject).
    pub include_tsa_name: bool,
}

impl Default for IssuePolicy {
    fn default() -> Self {
        IssuePolicy {
            default_policy: oid::ETSI_BASELINE_TS_POLICY,
            accepted_policies: Vec::new(),
            accuracy: Duration::from_secs(1),
            include_tsa_name: true,
        }
    }
}

impl IssuePolicy {
    fn accepts(&self, policy: &ObjectIdentifier) -> bool {
        *policy == self.default_policy || self.accepted_policies.contains(policy)
    }
}

/// RFC 3161 `PKIFailureInfo` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureInfo {
    /// Unrecognized or unsupported (or weak) algorithm.
    BadAlg = 0,
    /// Transaction not permitted or supported (for example a request version other than 1).
    BadRequest = 2,
    /// The data submitted has the wrong format.
    BadDataFormat = 5,
    /// The TSA's time source is not available (or not trusted).
    TimeNotAvailable = 14,
    /// The requested TSA policy is not supported.
    UnacceptedPolicy = 15,
    /// The requested extension is not supported.
    UnacceptedExtension = 16,
    /// The request cannot be handled due to a system failure.
    SystemFailure = 25,
}

impl FailureInfo {
    pub const ALL: [FailureInfo; 7] = [
        FailureInfo::BadAlg,
        FailureInfo::BadRequest,
        FailureInfo::BadDataFormat,
        FailureInfo::TimeNotAvailable,
        FailureInfo::UnacceptedPolicy,
        FailureInfo::UnacceptedExtension,
        FailureInfo::SystemFailure,
    ];

    pub fn bit(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            FailureInfo::BadAlg => "badAlg",
            FailureInfo::BadRequest => "badRequest",
            FailureInfo::BadDataFormat => "badDataFormat",
            FailureInfo::TimeNotAvailable => "timeNotAvailable",
            FailureInfo::UnacceptedPolicy => "unacceptedPolicy",
            FailureInfo::UnacceptedExtension => "unacceptedExtension",
            FailureInfo::SystemFailure => "systemFailure",
        }
    }

    /// The DER named-bit-string encoding: trailing zero bits removed.
    fn bit_string_bytes(self) -> ([u8; 4], usize, u8) {
        let bit = self.bit();
        let mut bytes = [0u8; 4];
        bytes[bit / 8] = 0x80 >> (bit % 8);
        let unused = u8::try_from(7 - bit % 8).unwrap_or(0);
        (bytes, bit / 8 + 1, unused)
    }

    /// Reads the first failure bit set in a `PKIFailureInfo`.
    pub fn from_bit_string(bits: &BitStringRef<'_>) -> Option<FailureInfo> {
        let set: Vec<usize> = bits
            .bits()
            .enumerate()
            .filter_map(|(i, b)| b.then_some(i))
            .collect();
        FailureInfo::ALL
            .into_iter()
            .find(|f| set.contains(&f.bit()))
    }
}

/// What happened to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Granted {
        serial: u128,
        gen_time: SystemTime,
    },
    Rejected {
        failure: FailureInfo,
        reason: String,
    },
}

/// A DER `TimeStampResp` and what it says.
#[derive(Clone, Debug)]
pub struct Issued {
    pub response: Vec<u8>,
    pub outcome: Outcome,
}

/// Answers one `TimeStampReq` (DER). Never fails: a request that cannot be granted gets a
/// rejection response with the `PKIFailureInfo` that says why.
///
/// `now` becomes genTime (truncated to the second); `serial` must never have been used before by
/// this TSA (see [`crate::serial`]). The caller is responsible for the trustworthiness of `now`
/// (see [`crate::clock`]).
pub fn issue(
    request_der: &[u8],
    now: SystemTime,
    serial: u128,
    signer: &dyn TimeStampSigner,
    policy: &IssuePolicy,
) -> Issued {
    match try_issue(request_der, now, serial, signer, policy) {
        Ok(response) => Issued {
            response,
            outcome: Outcome::Granted {
                serial,
                gen_time: GenTime::from_system_time_seconds(now)
                    .map_or(now, GenTime::to_system_time),
            },
        },
        Err((failure, reason)) => reject(failure, reason),
    }
}

/// A rejection response.
pub fn reject(failure: FailureInfo, reason: impl Into<String>) -> Issued {
    let reason = reason.into();
    let (bytes, len, unused) = failure.bit_string_bytes();
    let response = (|| -> der::Result<Vec<u8>> {
        TimeStampResp {
            status: PkiStatusInfo {
                status: status::REJECTION,
                status_string: Some(vec![Utf8StringRef::new(&reason)?]),
                fail_info: Some(BitStringRef::new(unused, &bytes[..len])?),
            },
            time_stamp_token: None,
        }
        .to_der()
    })()
    // Only a reason longer than DER lengths allow could fail; answer without the text then.
    .unwrap_or_else(|_| minimal_rejection(failure));
    Issued {
        response,
        outcome: Outcome::Rejected { failure, reason },
    }
}

fn minimal_rejection(failure: FailureInfo) -> Vec<u8> {
    let (bytes, len, unused) = failure.bit_string_bytes();
    let mut bit_string = vec![0x03, u8::try_from(len + 1).unwrap_or(1), unused];
    bit_string.extend_from_slice(&bytes[..len]);
    let mut status_info = vec![0x30, u8::try_from(3 + bit_string.len()).unwrap_or(0)];
    status_info.extend_from_slice(&[0x02, 0x01, status::REJECTION]);
    status_info.extend_from_slice(&bit_string);
    let mut out = vec![0x30, u8::try_from(status_info.len()).unwrap_or(0)];
    out.extend_from_slice(&status_info);
    out
}

type Rejection = (FailureInfo, String);

fn bad_format(what: impl std::fmt::Display) -> Rejection {
    (FailureInfo::BadDataFormat, what.to_string())
}

fn system_failure(e: impl std::fmt::Display) -> Rejection {
    (FailureInfo::SystemFailure, format!("system failure: {e}"))
}

/// Checks a parsed request against the policy; returns the policy the token will carry.
pub fn check_request(
    request: &TimeStampReq<'_>,
    policy: &IssuePolicy,
) -> Result<ObjectIdentifier, (FailureInfo, String)> {
    if request.version != 1 {
        return Err((
            FailureInfo::BadRequest,
            format!("unsupported request version {}", request.version),
        ));
    }
    let imprint = &request.message_imprint;
    let algorithm = imprint.hash_algorithm.oid;
    let Some((_, digest_len)) = ACCEPTED_HASH_ALGORITHMS
        .iter()
        .find(|(oid, _)| *oid == algorithm)
    else {
        return Err((
            FailureInfo::BadAlg,
            format!("hash algorithm {algorithm} is not accepted (use SHA-256, SHA-384 or SHA-512)"),
        ));
    };
    if let Some(params) = &imprint.hash_algorithm.parameters {
        if params.tag() != Tag::Null || !params.value().is_empty() {
            return Err((
                FailureInfo::BadAlg,
                "hash algorithm parameters must be absent or NULL".into(),
            ));
        }
    }
    let digest = imprint.hashed_message.as_bytes();
    if digest.len() != *digest_len {
        return Err(bad_format(format!(
            "the message imprint has {} bytes, {algorithm} digests have {digest_len}",
            digest.len()
        )));
    }
    if request.extensions.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err((
            FailureInfo::UnacceptedExtension,
            "request extensions are not supported".into(),
        ));
    }
    match request.req_policy {
        Some(requested) if !policy.accepts(&requested) => Err((
            FailureInfo::UnacceptedPolicy,
            format!("policy {requested} is not offered by this TSA"),
        )),
        Some(requested) => Ok(requested),
        None => Ok(policy.default_policy),
    }
}

fn try_issue(
    request_der: &[u8],
    now: SystemTime,
    serial: u128,
    signer: &dyn TimeStampSigner,
    policy: &IssuePolicy,
) -> Result<Vec<u8>, Rejection> {
    let request = TimeStampReq::from_der(request_der)
        .map_err(|e| bad_format(format!("malformed TimeStampReq: {e}")))?;
    let token_policy = check_request(&request, policy)?;
    let gen_time = GenTime::from_system_time_seconds(now).ok_or((
        FailureInfo::TimeNotAvailable,
        "the clock reads a time that cannot be encoded".to_owned(),
    ))?;
    let identity = signer.identity();

    let mut serial_buf = [0u8; 17];
    let tsa_name = identity.tsa_general_name();
    let tst_info = TstInfo {
        version: 1,
        policy: token_policy,
        message_imprint: request.message_imprint.clone(),
        serial_number: IntRef::new(positive_integer(serial, &mut serial_buf))
            .map_err(system_failure)?,
        gen_time,
        accuracy: Some(Accuracy::from_duration(policy.accuracy)),
        ordering: false,
        nonce: request.nonce,
        tsa: if policy.include_tsa_name {
            Some(AnyRef::try_from(tsa_name).map_err(system_failure)?)
        } else {
            None
        },
        extensions: None,
    }
    .to_der()
    .map_err(system_failure)?;

    // Signed attributes, DER-sorted: contentType, messageDigest, signingCertificateV2.
    let tst_digest = digest::digest(&digest::SHA256, &tst_info);
    let message_digest = message_digest_attribute(tst_digest.as_ref()).map_err(system_failure)?;
    let mut attrs: [&[u8]; 3] = [
        &ATTR_CONTENT_TYPE_TST_INFO,
        &message_digest,
        identity.signing_certificate_attribute(),
    ];
    attrs.sort_unstable();
    let signed_attrs_content = attrs.concat();
    let signed_attrs = RawSet::from_content(&signed_attrs_content);
    let signature = signer
        .sign(&signed_attrs.to_set_der().map_err(system_failure)?)
        .map_err(system_failure)?;

    let signer_info = SignerInfo {
        version: 1,
        sid: AnyRef::try_from(identity.issuer_and_serial()).map_err(system_failure)?,
        digest_algorithm: SHA256_ALGORITHM,
        signed_attrs: Some(signed_attrs),
        signature_algorithm: AlgorithmIdentifierRef {
            oid: oid::ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: OctetStringRef::new(&signature).map_err(system_failure)?,
        unsigned_attrs: None,
    }
    .to_der()
    .map_err(system_failure)?;
    let digest_algorithms = SHA256_ALGORITHM.to_der().map_err(system_failure)?;
    let signed_data = SignedData {
        version: 3,
        digest_algorithms: RawSet::from_content(&digest_algorithms),
        encap_content_info: EncapsulatedContentInfo {
            e_content_type: oid::CT_TST_INFO,
            e_content: Some(OctetStringRef::new(&tst_info).map_err(system_failure)?),
        },
        certificates: request
            .cert_req
            .then(|| RawSet::from_content(identity.certificate_set())),
        crls: None,
        signer_infos: RawSet::from_content(&signer_info),
    }
    .to_der()
    .map_err(system_failure)?;
    let token = ContentInfo {
        content_type: oid::SIGNED_DATA,
        content: AnyRef::try_from(signed_data.as_slice()).map_err(system_failure)?,
    }
    .to_der()
    .map_err(system_failure)?;
    TimeStampResp {
        status: PkiStatusInfo {
            status: status::GRANTED,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: Some(AnyRef::try_from(token.as_slice()).map_err(system_failure)?),
    }
    .to_der()
    .map_err(system_failure)
}

const SHA256_ALGORITHM: AlgorithmIdentifierRef<'static> = AlgorithmIdentifierRef {
    oid: oid::SHA256,
    parameters: None,
};

/// `Attribute { contentType, SET { id-ct-TSTInfo } }`, DER.
static ATTR_CONTENT_TYPE_TST_INFO: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let value = oid::CT_TST_INFO.to_der().unwrap_or_default();
    Attribute {
        attr_type: oid::CONTENT_TYPE,
        attr_values: RawSet::from_content(&value),
    }
    .to_der()
    .unwrap_or_default()
});

fn message_digest_attribute(digest: &[u8]) -> der::Result<Vec<u8>> {
    let value = OctetStringRef::new(digest)?.to_der()?;
    Attribute {
        attr_type: oid::MESSAGE_DIGEST,
        attr_values: RawSet::from_content(&value),
    }
    .to_der()
}

/// The minimal two's-complement encoding of a non-negative integer.
pub(crate) fn positive_integer(value: u128, buf: &mut [u8; 17]) -> &[u8] {
    buf[0] = 0;
    buf[1..].copy_from_slice(&value.to_be_bytes());
    let first = buf[1..].iter().position(|b| *b != 0).unwrap_or(15) + 1;
    let start = if buf[first] & 0x80 != 0 {
        first - 1
    } else {
        first
    };
    &buf[start..]
}

/// Builds the `signingCertificateV2` attribute (ESSCertIDv2, SHA-256, with IssuerSerial).
pub(crate) fn signing_certificate_v2_attribute(
    cert_der: &[u8],
    issuer_name_der: &[u8],
    serial: IntRef<'_>,
) -> der::Result<Vec<u8>> {
    let cert_hash = digest::digest(&digest::SHA256, cert_der);
    let general_names = general_names_directory(issuer_name_der)?;
    let value = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetStringRef::new(cert_hash.as_ref())?,
            issuer_serial: Some(IssuerSerial {
                issuer: AnyRef::try_from(general_names.as_slice())?,
                serial_number: serial,
            }),
        }],
        policies: None,
    }
    .to_der()?;
    Attribute {
        attr_type: oid::SIGNING_CERTIFICATE_V2,
        attr_values: RawSet::from_content(&value),
    }
    .to_der()
}

/// `GeneralName ::= directoryName [4] Name` (explicit: Name is a CHOICE).
pub(crate) fn general_name_directory(name_der: &[u8]) -> der::Result<Vec<u8>> {
    AnyRef::new(
        Tag::ContextSpecific {
            constructed: true,
            number: TagNumber::N4,
        },
        name_der,
    )?
    .to_der()
}

/// `GeneralNames ::= SEQUENCE OF GeneralName` holding one directoryName.
pub(crate) fn general_names_directory(name_der: &[u8]) -> der::Result<Vec<u8>> {
    let name = general_name_directory(name_der)?;
    vec![AnyRef::try_from(name.as_slice())?].to_der()
}

pub(crate) fn issuer_and_serial_der(
    issuer_name_der: &[u8],
    serial: IntRef<'_>,
) -> der::Result<Vec<u8>> {
    IssuerAndSerialNumber {
        issuer: AnyRef::try_from(issuer_name_der)?,
        serial_number: serial,
    }
    .to_der()
}
