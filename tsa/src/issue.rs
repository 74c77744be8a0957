//! Issuing time-stamp tokens: [`issue`] is a pure function from a request, a time, a serial
//! number and a signer to a DER `TimeStampResp`.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;
use der::asn1::{AnyRef, BitStringRef, IntRef, ObjectIdentifier, OctetStringRef, Utf8StringRef};
use der::{Decode, Encode, Tag, TagNumber, Tagged};
use spki::AlgorithmIdentifierRef;

use crate::asn1::{
    Accuracy, Attribute, EssCertIdV2, GenTime, IssuerAndSerialNumber, IssuerSerial, PkiStatusInfo,
    RawSet, SigningCertificateV2, TimeStampReq, TimeStampResp, element_tlvs, oid, status,
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
    if let Some(params) = &imprint.hash_algorithm.parameters
        && (params.tag() != Tag::Null || !params.value().is_empty())
    {
        return Err((
            FailureInfo::BadAlg,
            "hash algorithm parameters must be absent or NULL".into(),
        ));
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

    // The request's own TLVs, copied byte for byte: messageImprint, reqPolicy, nonce. The
    // request parsed as DER above, so its elements are, in order: version, messageImprint,
    // then the optional fields, each recognisable by its tag.
    let request_content = AnyRef::from_der(request_der).map_err(system_failure)?;
    let mut elements = element_tlvs(request_content.value()).skip(1);
    let imprint = elements
        .next()
        .ok_or_else(|| bad_format("no message imprint"))?;
    let imprint = imprint.map_err(system_failure)?;
    let (mut requested_policy, mut nonce): (&[u8], &[u8]) = (&[], &[]);
    for element in elements {
        let element = element.map_err(system_failure)?;
        match element.first() {
            Some(&OBJECT_IDENTIFIER) => requested_policy = element,
            Some(&INTEGER) => nonce = element,
            _ => {}
        }
    }
    let default_policy;
    let policy_oid = if requested_policy.is_empty() {
        default_policy = token_policy.to_der().map_err(system_failure)?;
        &default_policy[..]
    } else {
        requested_policy
    };
    let token = token(
        &Fields {
            imprint,
            policy_oid,
            nonce,
            cert_req: request.cert_req,
        },
        now,
        serial,
        signer,
        policy,
    )?;
    // TimeStampResp { PKIStatusInfo { granted }, timeStampToken }.
    Ok(Der::Tlv(
        SEQUENCE,
        &[
            Der::Raw(&[SEQUENCE, 3, INTEGER, 1, status::GRANTED]),
            Der::Raw(&token),
        ],
    )
    .encode())
}

/// What a token repeats of its request, as DER TLVs: the messageImprint, the policy (the
/// requested one or the default), the nonce (empty when there is none); and whether the
/// TSA's certificate goes in.
struct Fields<'a> {
    imprint: &'a [u8],
    policy_oid: &'a [u8],
    nonce: &'a [u8],
    cert_req: bool,
}

/// A token over a SHA-256 digest for the TSA's own use (the service time-stamping a
/// document or a seal): what a DER request for it would get (version 1, the default policy,
/// no nonce, the certificate asked for), issued without writing a request or reading a
/// response. Fails with the reason a request would have been rejected for.
pub fn issue_sha256_token(
    sha256: &[u8; 32],
    now: SystemTime,
    serial: u128,
    signer: &dyn TimeStampSigner,
    policy: &IssuePolicy,
) -> Result<Vec<u8>, (FailureInfo, String)> {
    let constants = &*CONSTANTS;
    let imprint = Der::Tlv(
        SEQUENCE,
        &[
            Der::Raw(&constants.sha256_algorithm),
            Der::Tlv(OCTET_STRING, &[Der::Raw(sha256)]),
        ],
    )
    .encode();
    let policy_oid = policy.default_policy.to_der().map_err(system_failure)?;
    token(
        &Fields {
            imprint: &imprint,
            policy_oid: &policy_oid,
            nonce: &[],
            cert_req: true,
        },
        now,
        serial,
        signer,
        policy,
    )
}

/// The token (a DER ContentInfo holding the signed TSTInfo) for `fields` at `now`.
fn token(
    fields: &Fields<'_>,
    now: SystemTime,
    serial: u128,
    signer: &dyn TimeStampSigner,
    policy: &IssuePolicy,
) -> Result<Vec<u8>, Rejection> {
    let gen_time = GenTime::from_system_time_seconds(now).ok_or((
        FailureInfo::TimeNotAvailable,
        "the clock reads a time that cannot be encoded".to_owned(),
    ))?;
    let identity = signer.identity();
    let constants = &*CONSTANTS;
    let Fields {
        imprint,
        policy_oid,
        nonce,
        cert_req,
    } = *fields;
    let mut serial_buf = [0u8; 17];
    let (time, time_len) = gen_time.der_value();
    let accuracy = Accuracy::from_duration(policy.accuracy)
        .to_der()
        .map_err(system_failure)?;
    let tsa_name: &[Der<'_>] = if policy.include_tsa_name {
        &[Der::Raw(identity.tsa_general_name())]
    } else {
        &[]
    };
    let tst_info = Der::Tlv(
        SEQUENCE,
        &[
            Der::Raw(&[INTEGER, 1, 1]),
            Der::Raw(policy_oid),
            Der::Raw(imprint),
            Der::Tlv(
                INTEGER,
                &[Der::Raw(positive_integer(serial, &mut serial_buf))],
            ),
            Der::Tlv(GENERALIZED_TIME, &[Der::Raw(&time[..time_len])]),
            Der::Raw(&accuracy),
            Der::Raw(nonce),
            Der::Optional(CONTEXT_0, tsa_name),
        ],
    )
    .encode();

    // Signed attributes, DER-sorted: contentType, messageDigest, signingCertificateV2. The
    // signature covers them as a SET; the SignerInfo carries them as [0].
    let tst_digest = digest::digest(&digest::SHA256, &tst_info);
    let message_digest = Der::Tlv(
        SEQUENCE,
        &[
            Der::Raw(&constants.message_digest_oid),
            Der::Tlv(
                SET,
                &[Der::Tlv(OCTET_STRING, &[Der::Raw(tst_digest.as_ref())])],
            ),
        ],
    )
    .encode();
    let mut sorted: [&[u8]; 3] = [
        &constants.content_type_attribute,
        &message_digest,
        identity.signing_certificate_attribute(),
    ];
    sorted.sort_unstable();
    let attrs = sorted.map(Der::Raw);
    let signature = signer
        .sign(&Der::Tlv(SET, &attrs).encode())
        .map_err(system_failure)?;

    let certificates: &[Der<'_>] = if cert_req {
        &[Der::Raw(identity.certificate_set())]
    } else {
        &[]
    };
    let signer_info = Der::Tlv(
        SEQUENCE,
        &[
            Der::Raw(&[INTEGER, 1, 1]),
            Der::Raw(identity.issuer_and_serial()),
            Der::Raw(&constants.sha256_algorithm),
            Der::Tlv(CONTEXT_0, &attrs),
            Der::Raw(&constants.ecdsa_with_sha256_algorithm),
            Der::Tlv(OCTET_STRING, &[Der::Raw(&signature)]),
        ],
    );
    let signed_data = Der::Tlv(
        SEQUENCE,
        &[
            Der::Raw(&[INTEGER, 1, 3]),
            Der::Tlv(SET, &[Der::Raw(&constants.sha256_algorithm)]),
            Der::Tlv(
                SEQUENCE,
                &[
                    Der::Raw(&constants.ct_tst_info_oid),
                    Der::Tlv(CONTEXT_0, &[Der::Tlv(OCTET_STRING, &[Der::Raw(&tst_info)])]),
                ],
            ),
            Der::Optional(CONTEXT_0, certificates),
            Der::Tlv(SET, &[signer_info]),
        ],
    );
    // ContentInfo { signedData, [0] SignedData }.
    Ok(Der::Tlv(
        SEQUENCE,
        &[
            Der::Raw(&constants.signed_data_oid),
            Der::Tlv(CONTEXT_0, &[signed_data]),
        ],
    )
    .encode())
}

const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OBJECT_IDENTIFIER: u8 = 0x06;
const GENERALIZED_TIME: u8 = 0x18;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const CONTEXT_0: u8 = 0xa0;

/// DER to write, as a tree on the stack: issuing assembles tokens with this rather than with
/// the derived encoders, which allocate and recompute nested lengths at every level. It is
/// written back to front into one buffer (children first, then the header in front of them),
/// so every length is known when its header is written. `the_response_is_der` checks that the
/// result is the DER the derived decoders and encoders agree on.
#[derive(Clone, Copy)]
enum Der<'a> {
    /// Bytes that are already DER.
    Raw(&'a [u8]),
    /// A TLV whose content is the concatenation of its parts.
    Tlv(u8, &'a [Der<'a>]),
    /// Like `Tlv`, or nothing at all when there are no parts.
    Optional(u8, &'a [Der<'a>]),
}

impl Der<'_> {
    /// At least the encoded length (a header takes at most 6 bytes here).
    fn bound(&self) -> usize {
        match self {
            Der::Raw(bytes) => bytes.len(),
            Der::Tlv(_, parts) | Der::Optional(_, parts) => {
                6 + parts.iter().map(Der::bound).sum::<usize>()
            }
        }
    }

    /// Writes `self` so that it ends at `end`; returns where it starts.
    fn write_back(&self, buf: &mut [u8], end: usize) -> usize {
        match self {
            Der::Raw(bytes) => {
                let start = end - bytes.len();
                buf[start..end].copy_from_slice(bytes);
                start
            }
            Der::Optional(_, []) => end,
            Der::Tlv(tag, parts) | Der::Optional(tag, parts) => {
                let mut start = end;
                for part in parts.iter().rev() {
                    start = part.write_back(buf, start);
                }
                let content = end - start;
                if content < 0x80 {
                    start -= 1;
                    buf[start] = u8::try_from(content).unwrap_or(0);
                } else {
                    let bytes = content.to_be_bytes();
                    let significant = &bytes[bytes.iter().take_while(|b| **b == 0).count()..];
                    start -= significant.len();
                    buf[start..start + significant.len()].copy_from_slice(significant);
                    start -= 1;
                    buf[start] = 0x80 | u8::try_from(significant.len()).unwrap_or(0);
                }
                start -= 1;
                buf[start] = *tag;
                start
            }
        }
    }

    fn encode(self) -> Vec<u8> {
        let bound = self.bound();
        let mut buf = vec![0u8; bound];
        let start = self.write_back(&mut buf, bound);
        buf.drain(..start);
        buf
    }
}

/// DER encodings that never change.
struct Constants {
    sha256_algorithm: Vec<u8>,
    ecdsa_with_sha256_algorithm: Vec<u8>,
    ct_tst_info_oid: Vec<u8>,
    signed_data_oid: Vec<u8>,
    message_digest_oid: Vec<u8>,
    /// `Attribute { contentType, SET { id-ct-TSTInfo } }`
    content_type_attribute: Vec<u8>,
}

/// DER of a value whose encoding cannot fail (constants).
fn der<T: Encode>(value: &T) -> Vec<u8> {
    value.to_der().unwrap_or_default()
}

static CONSTANTS: LazyLock<Constants> = LazyLock::new(|| {
    let ct_tst_info_oid = der(&oid::CT_TST_INFO);
    Constants {
        sha256_algorithm: der(&AlgorithmIdentifierRef {
            oid: oid::SHA256,
            parameters: None,
        }),
        ecdsa_with_sha256_algorithm: der(&AlgorithmIdentifierRef {
            oid: oid::ECDSA_WITH_SHA256,
            parameters: None,
        }),
        signed_data_oid: der(&oid::SIGNED_DATA),
        message_digest_oid: der(&oid::MESSAGE_DIGEST),
        content_type_attribute: Der::Tlv(
            SEQUENCE,
            &[
                Der::Raw(&der(&oid::CONTENT_TYPE)),
                Der::Tlv(SET, &[Der::Raw(&ct_tst_info_oid)]),
            ],
        )
        .encode(),
        ct_tst_info_oid,
    }
});

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
pub fn general_names_directory(name_der: &[u8]) -> der::Result<Vec<u8>> {
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
