//! ASN.1 structures of RFC 3161 (time-stamp protocol), RFC 5652 (CMS SignedData), RFC 2634 and
//! RFC 5035 (ESS signing-certificate attributes), with the RFC 5816 update.
//!
//! They borrow from the input, so parsing costs no copies. Two places keep raw bytes on purpose:
//! the SETs of a SignedData ([`RawSet`]), because the signature over the signed attributes is
//! checked on the bytes as received (a third-party TSA that did not DER-sort them still
//! verifies), and CHOICE or ANY fields that this crate only compares byte for byte.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::asn1::{AnyRef, BitStringRef, IntRef, ObjectIdentifier, OctetStringRef, Utf8StringRef};
use der::{
    DateTime, DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Sequence, SliceReader,
    Tag, Writer,
};
use spki::AlgorithmIdentifierRef;
use x509_cert::ext::Extensions;

/// OIDs used by the time-stamp protocol.
pub mod oid {
    use der::asn1::ObjectIdentifier as Oid;

    pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    pub const CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
    pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
    pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
    pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
    pub const SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
    pub const SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");

    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const SHA224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.4");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const MD5: Oid = Oid::new_unwrap("1.2.840.113549.2.5");

    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    pub const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
    pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_WITH_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");

    pub const EXTENDED_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
    pub const SUBJECT_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.14");
    pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");

    /// ETSI EN 319 421 baseline time-stamp policy (itu-t(0) identified-organization(4) etsi(0)
    /// time-stamp-policy(2023) policy-identifiers(1) baseline-ts-policy(1)).
    pub const ETSI_BASELINE_TS_POLICY: Oid = Oid::new_unwrap("0.4.0.2023.1.1");
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint<'a> {
    pub hash_algorithm: AlgorithmIdentifierRef<'a>,
    pub hashed_message: OctetStringRef<'a>,
}

/// RFC 3161 §2.4.1 `TimeStampReq`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq<'a> {
    pub version: u8,
    pub message_imprint: MessageImprint<'a>,
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    pub nonce: Option<IntRef<'a>>,
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText OPTIONAL,
/// failInfo PKIFailureInfo OPTIONAL }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo<'a> {
    pub status: u8,
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<Utf8StringRef<'a>>>,
    #[asn1(optional = "true")]
    pub fail_info: Option<BitStringRef<'a>>,
}

/// RFC 3161 §2.4.2 `TimeStampResp`; the token is a CMS `ContentInfo`, kept as its raw TLV.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp<'a> {
    pub status: PkiStatusInfo<'a>,
    #[asn1(optional = "true")]
    pub time_stamp_token: Option<AnyRef<'a>>,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER (1..999) OPTIONAL,
/// micros [1] INTEGER (1..999) OPTIONAL }`
#[derive(Clone, Copy, Debug, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

impl Accuracy {
    /// Encodes a duration (rounded down to the microsecond; zero fields left out).
    pub fn from_duration(d: Duration) -> Self {
        let nonzero_u16 = |v: u32| u16::try_from(v).ok().filter(|v| *v != 0);
        let seconds = u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Accuracy {
            seconds: Some(seconds).filter(|s| *s != 0),
            millis: nonzero_u16(d.subsec_millis()),
            micros: nonzero_u16(d.subsec_micros() % 1000),
        }
    }

    pub fn to_duration(self) -> Duration {
        Duration::from_secs(self.seconds.unwrap_or(0).into())
            + Duration::from_millis(self.millis.unwrap_or(0).into())
            + Duration::from_micros(self.micros.unwrap_or(0).into())
    }
}

/// RFC 3161 §2.4.2 `TSTInfo`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo<'a> {
    pub version: u8,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint<'a>,
    pub serial_number: IntRef<'a>,
    pub gen_time: GenTime,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<IntRef<'a>>,
    /// `tsa [0] GeneralName OPTIONAL`: a CHOICE, hence explicitly tagged.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<AnyRef<'a>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// A GeneralizedTime with optional fractional seconds (RFC 3161 allows them; the `der` crate's
/// own type does not). Encoded in DER form: `YYYYMMDDHHMMSS[.f]Z`, no trailing zeros.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Ord, PartialOrd)]
pub struct GenTime {
    since_epoch: Duration,
}

impl GenTime {
    /// The time, truncated to whole seconds (what this TSA issues).
    pub fn from_system_time_seconds(t: SystemTime) -> Option<Self> {
        let d = t.duration_since(UNIX_EPOCH).ok()?;
        Self::from_unix_duration(Duration::from_secs(d.as_secs()))
    }

    pub fn from_unix_duration(since_epoch: Duration) -> Option<Self> {
        // Representable with a four-digit year.
        DateTime::from_unix_duration(Duration::from_secs(since_epoch.as_secs())).ok()?;
        Some(GenTime { since_epoch })
    }

    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + self.since_epoch
    }

    pub fn unix_duration(self) -> Duration {
        self.since_epoch
    }

    /// The DER value: `YYYYMMDDHHMMSS[.f]Z`, at most 25 bytes, written without formatting
    /// machinery (this is on the token-issuing hot path).
    pub fn der_value(&self) -> ([u8; 25], usize) {
        fn push_digits(out: &mut [u8; 25], len: &mut usize, value: u32, digits: u32) {
            for i in (0..digits).rev() {
                out[*len] = b'0' + u8::try_from((value / 10u32.pow(i)) % 10).unwrap_or(0);
                *len += 1;
            }
        }
        let dt = DateTime::from_unix_duration(Duration::from_secs(self.since_epoch.as_secs()))
            .unwrap_or(DateTime::INFINITY);
        let mut out = [0u8; 25];
        let mut len = 0;
        push_digits(&mut out, &mut len, u32::from(dt.year()), 4);
        for part in [dt.month(), dt.day(), dt.hour(), dt.minutes(), dt.seconds()] {
            push_digits(&mut out, &mut len, u32::from(part), 2);
        }
        let mut nanos = self.since_epoch.subsec_nanos();
        if nanos != 0 {
            let mut digits = 9;
            while nanos.is_multiple_of(10) {
                nanos /= 10;
                digits -= 1;
            }
            out[len] = b'.';
            len += 1;
            push_digits(&mut out, &mut len, nanos, digits);
        }
        out[len] = b'Z';
        (out, len + 1)
    }

    fn parse(bytes: &[u8]) -> Option<Self> {
        let digits = |b: &[u8]| -> Option<u32> {
            b.iter().try_fold(0u32, |acc, c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let (body, rest) = (bytes.get(..14)?, bytes.get(14..)?);
        let dt = DateTime::new(
            u16::try_from(digits(&body[0..4])?).ok()?,
            u8::try_from(digits(&body[4..6])?).ok()?,
            u8::try_from(digits(&body[6..8])?).ok()?,
            u8::try_from(digits(&body[8..10])?).ok()?,
            u8::try_from(digits(&body[10..12])?).ok()?,
            u8::try_from(digits(&body[12..14])?).ok()?,
        )
        .ok()?;
        let nanos = match rest {
            [b'Z'] => 0,
            [b'.', frac @ .., b'Z'] if (1..=9).contains(&frac.len()) => {
                digits(frac)? * 10u32.pow(9 - u32::try_from(frac.len()).ok()?)
            }
            _ => return None,
        };
        Some(GenTime {
            since_epoch: dt.unix_duration() + Duration::from_nanos(nanos.into()),
        })
    }
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_slice(header.length)?;
        GenTime::parse(bytes).ok_or_else(|| Tag::GeneralizedTime.value_error())
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.der_value().1)
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        let (bytes, len) = self.der_value();
        writer.write(&bytes[..len])
    }
}

/// The content of a SET (or SET OF) exactly as received: each element is a complete TLV. Used
/// where the bytes matter (signed attributes) or where the element type varies.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct RawSet<'a> {
    content: &'a [u8],
}

impl<'a> RawSet<'a> {
    /// Wraps already concatenated element encodings (the caller orders them).
    pub fn from_content(content: &'a [u8]) -> Self {
        RawSet { content }
    }

    pub fn content(&self) -> &'a [u8] {
        self.content
    }

    /// The elements, in the order received, decoded as TLVs.
    pub fn elements(&self) -> impl Iterator<Item = der::Result<AnyRef<'a>>> + 'a {
        self.element_bytes()
            .map(|bytes| bytes.and_then(AnyRef::try_from))
    }

    /// The raw bytes of each element's TLV, in the order received.
    pub fn element_bytes(&self) -> impl Iterator<Item = der::Result<&'a [u8]>> + 'a {
        element_tlvs(self.content)
    }

    /// The DER of the SET itself (universal tag), as signatures over signed attributes need.
    pub fn to_set_der(&self) -> der::Result<Vec<u8>> {
        der::Encode::to_der(self)
    }
}

/// The raw TLVs that make up constructed content (a SEQUENCE's or a SET's), in order.
pub fn element_tlvs<'a>(content: &'a [u8]) -> impl Iterator<Item = der::Result<&'a [u8]>> + 'a {
    let mut reader = SliceReader::new(content).ok();
    std::iter::from_fn(move || {
        let r = reader.as_mut()?;
        if r.is_finished() {
            return None;
        }
        let start = usize::try_from(r.position()).unwrap_or(usize::MAX);
        let item = r.decode::<AnyRef<'a>>().and_then(|_| {
            let end = usize::try_from(r.position())?;
            content
                .get(start..end)
                .ok_or_else(|| Tag::Set.length_error())
        });
        if item.is_err() {
            reader = None;
        }
        Some(item)
    })
}

impl FixedTag for RawSet<'_> {
    const TAG: Tag = Tag::Set;
}

impl<'a> DecodeValue<'a> for RawSet<'a> {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let set = RawSet {
            content: reader.read_slice(header.length)?,
        };
        for element in set.elements() {
            element?;
        }
        Ok(set)
    }
}

impl EncodeValue for RawSet<'_> {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.content.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.content)
    }
}

/// CMS `ContentInfo`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct ContentInfo<'a> {
    pub content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    pub content: AnyRef<'a>,
}

/// CMS `EncapsulatedContentInfo`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EncapsulatedContentInfo<'a> {
    pub e_content_type: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub e_content: Option<OctetStringRef<'a>>,
}

/// CMS `SignedData` (RFC 5652 §5.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SignedData<'a> {
    pub version: u8,
    pub digest_algorithms: RawSet<'a>,
    pub encap_content_info: EncapsulatedContentInfo<'a>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub certificates: Option<RawSet<'a>>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub crls: Option<RawSet<'a>>,
    pub signer_infos: RawSet<'a>,
}

/// CMS `SignerInfo` (RFC 5652 §5.3). `sid` is the raw CHOICE: an `IssuerAndSerialNumber`
/// SEQUENCE, or `[0] SubjectKeyIdentifier`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SignerInfo<'a> {
    pub version: u8,
    pub sid: AnyRef<'a>,
    pub digest_algorithm: AlgorithmIdentifierRef<'a>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub signed_attrs: Option<RawSet<'a>>,
    pub signature_algorithm: AlgorithmIdentifierRef<'a>,
    pub signature: OctetStringRef<'a>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub unsigned_attrs: Option<RawSet<'a>>,
}

/// `Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Attribute<'a> {
    pub attr_type: ObjectIdentifier,
    pub attr_values: RawSet<'a>,
}

/// `IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber CertificateSerialNumber }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerAndSerialNumber<'a> {
    pub issuer: AnyRef<'a>,
    pub serial_number: IntRef<'a>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial<'a> {
    pub issuer: AnyRef<'a>,
    pub serial_number: IntRef<'a>,
}

/// RFC 5035 `ESSCertIDv2`; an absent hash algorithm means SHA-256.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2<'a> {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierRef<'a>>,
    pub cert_hash: OctetStringRef<'a>,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial<'a>>,
}

/// RFC 5035 `SigningCertificateV2`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2<'a> {
    pub certs: Vec<EssCertIdV2<'a>>,
    #[asn1(optional = "true")]
    pub policies: Option<AnyRef<'a>>,
}

/// RFC 2634 `ESSCertID` (SHA-1 certificate hash).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertId<'a> {
    pub cert_hash: OctetStringRef<'a>,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial<'a>>,
}

/// RFC 2634 `SigningCertificate`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificate<'a> {
    pub certs: Vec<EssCertId<'a>>,
    #[asn1(optional = "true")]
    pub policies: Option<AnyRef<'a>>,
}

/// PKIStatus values (RFC 3161 §2.4.2).
pub mod status {
    pub const GRANTED: u8 = 0;
    pub const GRANTED_WITH_MODS: u8 = 1;
    pub const REJECTION: u8 = 2;
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};

    #[test]
    fn gen_time_round_trips_with_and_without_fraction() {
        for (text, nanos) in [
            ("20261122194550Z", 0u32),
            ("20261122194550.5Z", 500_000_000),
            ("20261122194550.123456789Z", 123_456_789),
        ] {
            let der = [
                &[0x18, u8::try_from(text.len()).expect("len")][..],
                text.as_bytes(),
            ]
            .concat();
            let t = GenTime::from_der(&der).expect("parse");
            assert_eq!(t.unix_duration().subsec_nanos(), nanos);
            assert_eq!(t.to_der().expect("encode"), der);
        }
    }

    #[test]
    fn gen_time_refuses_malformed_values() {
        for text in [
            "20261122194550",
            "20261122194550.Z",
            "20261122194550.1234567890Z",
            "20261322194550Z",
            "2026112219455aZ",
            "20261122194550+0100",
        ] {
            let der = [
                &[0x18, u8::try_from(text.len()).expect("len")][..],
                text.as_bytes(),
            ]
            .concat();
            assert!(GenTime::from_der(&der).is_err(), "{text} accepted");
        }
    }

    #[test]
    fn accuracy_encodes_only_nonzero_parts() {
        let a = Accuracy::from_duration(Duration::from_micros(1_250_003));
        assert_eq!(
            a,
            Accuracy {
                seconds: Some(1),
                millis: Some(250),
                micros: Some(3)
            }
        );
        assert_eq!(a.to_duration(), Duration::from_micros(1_250_003));
        let one_second = Accuracy::from_duration(Duration::from_secs(1));
        assert_eq!(
            one_second.to_der().expect("der"),
            [0x30, 0x03, 0x02, 0x01, 0x01]
        );
    }
}
