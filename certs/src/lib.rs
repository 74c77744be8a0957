//! Sealpost's development and test PKI.
//!
//! `sealpost pki init` writes [`DevPki`] to disk; tests build the certificates they need (including
//! deliberately wrong ones) with [`Authority`] and [`LeafSpec`]. Roots are self-signed, as roots
//! are; every leaf is issued by a CA, never self-signed.

mod pkcs12;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    PKCS_RSA_SHA256, RsaKeySize, SerialNumber,
};

pub use pkcs12::Pkcs12Error;

/// The password of the PKCS#12 bundles that `sealpost pki init` writes (development only).
pub const DEV_PKCS12_PASSWORD: &str = "sealpost-dev";

const DAY: Duration = Duration::from_secs(86_400);
const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// DER of `ExtKeyUsageSyntax ::= SEQUENCE { id-kp-timeStamping }` (1.3.6.1.5.5.7.3.8).
const EKU_TIME_STAMPING_DER: [u8; 12] = [
    0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08,
];
const OID_EXTENDED_KEY_USAGE: [u64; 4] = [2, 5, 29, 37];
/// DER of `ExtKeyUsageSyntax ::= SEQUENCE { sealpostEvidenceSeal }`, the key purpose
/// `2.25.92689082462782189420815959724531204195` that marks a Sealpost evidence seal (a UUID
/// OID, ITU-T X.667; its arcs do not fit rcgen's `u64` arcs, hence the DER). The verifier
/// (`sealpost_evidence::provider::check_seal_profile`) requires it.
const EKU_EVIDENCE_SEAL_DER: [u8; 24] = [
    0x30, 0x16, 0x06, 0x14, 0x69, 0x81, 0x8b, 0xbb, 0xa2, 0xa5, 0xfd, 0xe5, 0xf2, 0x90, 0xe9, 0xa2,
    0xf4, 0xae, 0xab, 0xed, 0xaf, 0x95, 0x80, 0x63,
];

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} already holds a PKI ({} exists); keys are never overwritten, remove the directory first",
        dir.display(),
        existing.display()
    )]
    AlreadyExists { dir: PathBuf, existing: PathBuf },
    #[error("PKCS#12 bundle: {0}")]
    Pkcs12(#[from] Pkcs12Error),
}

/// The key type of a generated certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EcdsaP256,
    Rsa2048,
}

/// What a leaf certificate is for; decides its key usage and extended key usage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Profile {
    /// A time-stamping unit. RFC 3161 §2.3 requires the timeStamping EKU to be critical;
    /// `eku_critical: false` exists so that tests can prove verifiers refuse such a certificate.
    TimeStamping { eku_critical: bool },
    /// The evidence seal: digitalSignature and nonRepudiation (contentCommitment), and the
    /// Sealpost evidence seal key purpose as its only extended key usage.
    Seal,
    /// A TLS server: serverAuth, with these DNS names or IP addresses.
    TlsServer { names: Vec<String> },
    /// A sender application: signs WS-Security messages, authenticates as a TLS client.
    Sender,
    /// digitalSignature and nonRepudiation, and no extended key usage: a certificate made for
    /// no purpose, so that tests can prove verifiers refuse one where a purpose is required.
    NoPurpose,
    /// A delegated OCSP responder (RFC 6960 §4.2.2.2): digitalSignature, the extended key
    /// usage id-kp-OCSPSigning, and id-pkix-ocsp-nocheck (its own status is not asked).
    OcspResponder,
}

/// Where a CA publishes the revocation status of what it issues: the OCSP responder its
/// certificates name in Authority Information Access (if it runs one), and its CRL
/// distribution point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub ocsp_url: Option<String>,
    pub crl_url: String,
}

impl Published {
    /// The issuing CA's part of the development layout under one base URL
    /// (`http://127.0.0.1:8889`): the responder at the base itself (`openssl ocsp -port`
    /// answers any path), the issuing CA's CRL at `BASE/issuing-ca.crl`.
    pub fn under(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Published {
            ocsp_url: Some(format!("{base}/")),
            crl_url: format!("{base}/issuing-ca.crl"),
        }
    }

    /// The root's part of the development layout: no responder, its CRL (which says whether
    /// the issuing CA is revoked) at `BASE/root-ca.crl`.
    pub fn root_under(base: &str) -> Self {
        Published {
            ocsp_url: None,
            crl_url: format!("{}/root-ca.crl", base.trim_end_matches('/')),
        }
    }
}

/// The base URL of the development PKI's revocation services unless told otherwise.
pub const DEV_REVOCATION_URL: &str = "http://127.0.0.1:8889";

/// A leaf certificate to issue.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    pub common_name: String,
    pub organization: String,
    pub profile: Profile,
    pub key: KeyAlgorithm,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl LeafSpec {
    /// A spec valid from one hour before `now` (clock skew) for `lifetime`.
    pub fn new(
        common_name: &str,
        profile: Profile,
        key: KeyAlgorithm,
        now: SystemTime,
        lifetime: Duration,
    ) -> Self {
        let not_before = now - Duration::from_secs(3600);
        LeafSpec {
            common_name: common_name.to_owned(),
            organization: "Sealpost Development".to_owned(),
            profile,
            key,
            not_before,
            not_after: not_before + lifetime,
        }
    }
}

/// A certificate with its private key.
#[derive(Debug)]
pub struct Credential {
    cert_der: Vec<u8>,
    key: KeyPair,
    /// The line of an `openssl ca` database (`index.txt`) that says it is valid.
    index_line: String,
}

impl Credential {
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    /// The private key as PKCS#8 DER.
    pub fn key_pkcs8_der(&self) -> Vec<u8> {
        self.key.serialize_der()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Its line in an `openssl ca` database (`index.txt`): valid (`V`), its expiry, its
    /// serial in hexadecimal, its subject.
    pub fn index_line(&self) -> &str {
        &self.index_line
    }

    pub fn key_algorithm(&self) -> KeyAlgorithm {
        if self.key.algorithm() == &PKCS_RSA_SHA256 {
            KeyAlgorithm::Rsa2048
        } else {
            KeyAlgorithm::EcdsaP256
        }
    }
}

/// A certification authority that can issue certificates.
#[derive(Debug)]
pub struct Authority {
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
    /// Named in every leaf it issues (but a delegated OCSP responder's), when set.
    published: Option<Published>,
}

impl Authority {
    /// A self-signed root CA (EC P-256), valid from `not_before` to `not_after`.
    pub fn root(
        common_name: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let params = ca_params(
            common_name,
            BasicConstraints::Constrained(1),
            not_before,
            not_after,
        );
        let cert = params.self_signed(&key)?;
        Ok(Authority {
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
            published: None,
        })
    }

    /// An issuing CA under this one (path length 0: it issues only leaves).
    pub fn issue_ca(
        &self,
        common_name: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Authority, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let params = ca_params(
            common_name,
            BasicConstraints::Constrained(0),
            not_before,
            not_after,
        );
        let mut named = params.clone();
        if let Some(published) = &self.published {
            published.name_in(&mut named);
        }
        let cert = named.signed_by(&key, &self.issuer)?;
        Ok(Authority {
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
            published: None,
        })
    }

    /// From now on, the certificates this CA issues (leaves but a delegated OCSP responder,
    /// and CAs) name `published`: its OCSP responder (Authority Information Access) and its
    /// CRL distribution point.
    pub fn publishing(mut self, published: Published) -> Self {
        self.published = Some(published);
        self
    }

    /// Issues a leaf certificate with a fresh key.
    pub fn issue(&self, spec: &LeafSpec) -> Result<Credential, PkiError> {
        let (mut params, key) = leaf_params(spec)?;
        if let Some(published) = &self.published
            && spec.profile != Profile::OcspResponder
        {
            published.name_in(&mut params);
        }
        let cert = params.signed_by(&key, &self.issuer)?;
        let serial = params
            .serial_number
            .as_ref()
            .map(|s| s.to_bytes())
            .unwrap_or_default();
        Ok(Credential {
            cert_der: cert.der().to_vec(),
            key,
            index_line: index_line(spec, &serial),
        })
    }

    /// The private key as PKCS#8 DER (tests sign OCSP responses as the CA with it).
    pub fn key_pkcs8_der(&self) -> Vec<u8> {
        self.issuer.key().serialize_der()
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A certificate revocation list of this CA (DER, version 2 with a CRL number), issued at
    /// `this_update`, valid until `next_update`, revoking the certificates of these serial
    /// numbers (their INTEGER content octets, as in the certificate).
    pub fn crl(
        &self,
        revoked_serials: &[Vec<u8>],
        this_update: SystemTime,
        next_update: SystemTime,
        number: u64,
    ) -> Result<Vec<u8>, PkiError> {
        let params = rcgen::CertificateRevocationListParams {
            this_update: this_update.into(),
            next_update: next_update.into(),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked_serials
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: SerialNumber::from_slice(serial),
                    revocation_time: this_update.into(),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.der().to_vec())
    }
}

/// A leaf that signs itself, as an attacker would make one: for tests proving that verifiers
/// refuse self-signed signers. Never part of the development PKI.
pub fn rogue_self_signed(spec: &LeafSpec) -> Result<Credential, PkiError> {
    let (params, key) = leaf_params(spec)?;
    let cert = params.self_signed(&key)?;
    let serial = params
        .serial_number
        .as_ref()
        .map(|s| s.to_bytes())
        .unwrap_or_default();
    Ok(Credential {
        cert_der: cert.der().to_vec(),
        key,
        index_line: index_line(spec, &serial),
    })
}

impl Published {
    /// Names the responder (if any) and the CRL distribution point in a certificate to issue.
    fn name_in(&self, params: &mut CertificateParams) {
        if let Some(ocsp_url) = &self.ocsp_url {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &OID_AUTHORITY_INFO_ACCESS,
                    authority_info_access(ocsp_url),
                ));
        }
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec![self.crl_url.clone()],
        }];
    }
}

/// `id-pe-authorityInfoAccess`.
const OID_AUTHORITY_INFO_ACCESS: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 1, 1];
/// `id-pkix-ocsp-nocheck`.
const OID_OCSP_NOCHECK: [u64; 10] = [1, 3, 6, 1, 5, 5, 7, 48, 1, 5];

/// A DER tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// `AuthorityInfoAccessSyntax ::= SEQUENCE { AccessDescription { id-ad-ocsp,
/// uniformResourceIdentifier [6] IA5String } }`.
fn authority_info_access(ocsp_url: &str) -> Vec<u8> {
    const ID_AD_OCSP: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let mut description = ID_AD_OCSP.to_vec();
    description.extend(tlv(0x86, ocsp_url.as_bytes()));
    tlv(0x30, &tlv(0x30, &description))
}

/// A valid certificate's line in an `openssl ca` database: `V`, expiry (`YYMMDDHHMMSSZ`), no
/// revocation date, serial (upper-case hexadecimal), file `unknown`, subject.
fn index_line(spec: &LeafSpec, serial: &[u8]) -> String {
    let expiry = time::OffsetDateTime::from(spec.not_after);
    let hex: String = serial.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "V\t{:02}{:02}{:02}{:02}{:02}{:02}Z\t\t{hex}\tunknown\t/C=BE/O={}/CN={}\n",
        expiry.year() % 100,
        u8::from(expiry.month()),
        expiry.day(),
        expiry.hour(),
        expiry.minute(),
        expiry.second(),
        spec.organization,
        spec.common_name
    )
}

fn leaf_params(spec: &LeafSpec) -> Result<(CertificateParams, KeyPair), PkiError> {
    let key = match spec.key {
        KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?,
        KeyAlgorithm::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)?,
    };
    let mut params = base_params(
        &spec.common_name,
        &spec.organization,
        spec.not_before,
        spec.not_after,
    );
    params.is_ca = IsCa::ExplicitNoCa;
    match &spec.profile {
        Profile::TimeStamping { eku_critical } => {
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ];
            let mut eku = CustomExtension::from_oid_content(
                &OID_EXTENDED_KEY_USAGE,
                EKU_TIME_STAMPING_DER.to_vec(),
            );
            eku.set_criticality(*eku_critical);
            params.custom_extensions.push(eku);
        }
        Profile::Seal => {
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ];
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &OID_EXTENDED_KEY_USAGE,
                    EKU_EVIDENCE_SEAL_DER.to_vec(),
                ));
        }
        Profile::TlsServer { names } => {
            params.subject_alt_names = CertificateParams::new(names.clone())?.subject_alt_names;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
        Profile::NoPurpose => {
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ];
        }
        Profile::Sender => {
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        Profile::OcspResponder => {
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &OID_OCSP_NOCHECK,
                    vec![0x05, 0x00],
                ));
        }
    }
    Ok((params, key))
}

/// The development PKI of DESIGN.md.
#[derive(Debug)]
pub struct DevPki {
    pub root: Authority,
    pub issuing: Authority,
    pub tsa: Credential,
    pub seal: Credential,
    pub tls: Credential,
    /// Two sender applications: `sender-a` (EC P-256) and `sender-b` (RSA-2048).
    pub senders: Vec<(String, Credential)>,
    /// The issuing CA's delegated OCSP responder.
    pub ocsp: Credential,
}

/// The common names of the development CAs.
pub const DEV_ROOT_CA: &str = "Sealpost Development Root CA";
pub const DEV_ISSUING_CA: &str = "Sealpost Development Issuing CA";

impl Authority {
    /// A development CA written by [`DevPki::write_to`], back from its certificate and key
    /// files, to issue CRLs: `common_name` is [`DEV_ROOT_CA`] or [`DEV_ISSUING_CA`] (the
    /// name its certificate carries).
    pub fn load_dev(common_name: &str, cert_der: &[u8], key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let cert_der = cert_der.to_vec();
        let constraints = if common_name == DEV_ROOT_CA {
            BasicConstraints::Constrained(1)
        } else {
            BasicConstraints::Constrained(0)
        };
        let params = ca_params(
            common_name,
            constraints,
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH,
        );
        Ok(Authority {
            cert_der,
            issuer: Issuer::new(params, key),
            published: None,
        })
    }
}

impl DevPki {
    /// Generates the whole PKI with fresh keys, valid from (about) `now`, its revocation
    /// services under [`DEV_REVOCATION_URL`].
    pub fn generate(now: SystemTime) -> Result<Self, PkiError> {
        Self::generate_publishing(now, DEV_REVOCATION_URL)
    }

    /// Generates the whole PKI with its revocation services under `base`: every leaf of the
    /// issuing CA names [`Published::under`] `base` (its OCSP responder and CRL distribution
    /// point), the issuing CA [`Published::root_under`] `base` (the root's CRL).
    pub fn generate_publishing(now: SystemTime, base: &str) -> Result<Self, PkiError> {
        let published = Published::under(base);
        let start = now - Duration::from_secs(3600);
        let root = Authority::root(DEV_ROOT_CA, start, start + 20 * YEAR)?
            .publishing(Published::root_under(base));
        let issuing = root
            .issue_ca(DEV_ISSUING_CA, start, start + 10 * YEAR)?
            .publishing(published);
        let ocsp = issuing.issue(&LeafSpec::new(
            "Sealpost Development OCSP Responder",
            Profile::OcspResponder,
            KeyAlgorithm::EcdsaP256,
            now,
            YEAR,
        ))?;
        let tsa = issuing.issue(&LeafSpec::new(
            "Sealpost Development Time-Stamping Unit",
            Profile::TimeStamping { eku_critical: true },
            KeyAlgorithm::EcdsaP256,
            now,
            5 * YEAR,
        ))?;
        let seal = issuing.issue(&LeafSpec::new(
            "Sealpost Development Evidence Seal",
            Profile::Seal,
            KeyAlgorithm::EcdsaP256,
            now,
            5 * YEAR,
        ))?;
        let tls = issuing.issue(&LeafSpec::new(
            "localhost",
            Profile::TlsServer {
                names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            },
            KeyAlgorithm::EcdsaP256,
            now,
            YEAR - DAY,
        ))?;
        let sender_a = issuing.issue(&LeafSpec {
            organization: "Development Agency A".into(),
            ..LeafSpec::new(
                "Sender A (development)",
                Profile::Sender,
                KeyAlgorithm::EcdsaP256,
                now,
                3 * YEAR,
            )
        })?;
        let sender_b = issuing.issue(&LeafSpec {
            organization: "Development Agency B".into(),
            ..LeafSpec::new(
                "Sender B (development)",
                Profile::Sender,
                KeyAlgorithm::Rsa2048,
                now,
                3 * YEAR,
            )
        })?;
        Ok(DevPki {
            root,
            issuing,
            tsa,
            seal,
            tls,
            senders: vec![("sender-a".into(), sender_a), ("sender-b".into(), sender_b)],
            ocsp,
        })
    }

    /// Writes the PKI into `dir` (created if missing). Refuses to touch a directory that already
    /// holds one. Private keys are written with mode 0600.
    ///
    /// Files: `root-ca.{pem,key}`, `issuing-ca.{pem,key}`, `ca-chain.pem` (issuing then root),
    /// and for each of `tsa`, `seal`, `tls`, `sender-a`, `sender-b`: `NAME.pem` (certificate),
    /// `NAME.key` (PKCS#8), `NAME-chain.pem` (certificate then issuing CA); plus `sender-a.p12`
    /// and `sender-b.p12` (key, certificate and chain, password `pkcs12_password`); the
    /// issuing CA's delegated OCSP responder `ocsp.{pem,key}` and its `openssl ca` database
    /// `index.txt` (every leaf valid) with `index.txt.attr`, so that
    /// `openssl ocsp -index index.txt -CA issuing-ca.pem -rsigner ocsp.pem -rkey ocsp.key
    /// -port N` answers for it, and `openssl ca -revoke` revokes in it.
    pub fn write_to(&self, dir: &Path, pkcs12_password: &str) -> Result<Vec<PathBuf>, PkiError> {
        let marker = dir.join("root-ca.pem");
        if marker.exists() {
            return Err(PkiError::AlreadyExists {
                dir: dir.to_owned(),
                existing: marker,
            });
        }
        fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut written = Vec::new();
        let mut put = |name: &str, bytes: &[u8], secret: bool| -> Result<(), PkiError> {
            let path = dir.join(name);
            write_new(&path, bytes, secret)?;
            written.push(path);
            Ok(())
        };
        put("root-ca.pem", self.root.cert_pem().as_bytes(), false)?;
        put("root-ca.key", self.root.key_pem().as_bytes(), true)?;
        put("issuing-ca.pem", self.issuing.cert_pem().as_bytes(), false)?;
        put("issuing-ca.key", self.issuing.key_pem().as_bytes(), true)?;
        let ca_chain = self.issuing.cert_pem() + &self.root.cert_pem();
        put("ca-chain.pem", ca_chain.as_bytes(), false)?;
        let leaves: Vec<(&str, &Credential)> =
            [("tsa", &self.tsa), ("seal", &self.seal), ("tls", &self.tls)]
                .into_iter()
                .chain(self.senders.iter().map(|(n, c)| (n.as_str(), c)))
                .collect();
        put("ocsp.pem", self.ocsp.cert_pem().as_bytes(), false)?;
        put("ocsp.key", self.ocsp.key_pem().as_bytes(), true)?;
        let index: String = leaves
            .iter()
            .map(|(_, c)| c.index_line())
            .chain(std::iter::once(self.ocsp.index_line()))
            .collect();
        put("index.txt", index.as_bytes(), false)?;
        put("index.txt.attr", b"unique_subject = no\n", false)?;
        for (name, cred) in leaves {
            put(&format!("{name}.pem"), cred.cert_pem().as_bytes(), false)?;
            put(&format!("{name}.key"), cred.key_pem().as_bytes(), true)?;
            let chain = cred.cert_pem() + &self.issuing.cert_pem();
            put(&format!("{name}-chain.pem"), chain.as_bytes(), false)?;
        }
        for (name, cred) in &self.senders {
            let p12 = write_pkcs12(
                name,
                &cred.key_pkcs8_der(),
                cred.cert_der(),
                &[self.issuing.cert_der(), self.root.cert_der()],
                pkcs12_password,
            )?;
            put(&format!("{name}.p12"), &p12, true)?;
        }
        Ok(written)
    }
}

pub use pkcs12::write_pkcs12;

fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

fn base_params(
    common_name: &str,
    organization: &str,
    not_before: SystemTime,
    not_after: SystemTime,
) -> CertificateParams {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "BE");
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    let mut serial = [0u8; 16];
    // Entropy failure here means the platform RNG is broken; nothing sensible can continue.
    aws_lc_rs::rand::fill(&mut serial).expect("system random number generator");
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    params.use_authority_key_identifier_extension = true;
    params
}

fn ca_params(
    common_name: &str,
    constraints: BasicConstraints,
    not_before: SystemTime,
    not_after: SystemTime,
) -> CertificateParams {
    let mut params = base_params(common_name, "Sealpost Development", not_before, not_after);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// The shared interop samples made by third-party tools (`../shared/interop-samples` beside
/// the clone, or `$INTEROP_SAMPLES`): test vectors for every crate's tests. Panics, naming the
/// place it looked, when they are missing: a test that needs them must not pass without them.
pub fn interop_samples_dir() -> PathBuf {
    let dir = std::env::var_os("INTEROP_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/interop-samples")
        });
    assert!(
        dir.join("README.md").exists(),
        "interop samples not found at {} (set INTEROP_SAMPLES)",
        dir.display()
    );
    dir
}

/// PEM-encodes DER with 64-column base64 lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any time will do: these tests read the files and certificates, not their validity.
    fn a_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn dev_pki_writes_every_file_and_refuses_to_overwrite() {
        let dir = std::env::temp_dir().join(format!("sealpost-pki-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let pki = DevPki::generate(a_time()).expect("generate");
        let written = pki.write_to(&dir, "pw").expect("write");
        assert_eq!(written.len(), 5 + 5 * 3 + 2 + 4);
        let mode = fs::metadata(dir.join("tsa.key"))
            .expect("key")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let err = pki
            .write_to(&dir, "pw")
            .expect_err("second write must refuse");
        assert!(matches!(err, PkiError::AlreadyExists { .. }), "{err}");
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    /// extnID id-ce-extKeyUsage followed by critical TRUE.
    const CRITICAL_EKU: [u8; 8] = [0x06, 0x03, 0x55, 0x1d, 0x25, 0x01, 0x01, 0xff];

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn tsa_certificate_has_critical_time_stamping_eku_and_can_be_made_without() {
        let pki = DevPki::generate(a_time()).expect("generate");
        assert!(contains(pki.tsa.cert_der(), &CRITICAL_EKU));
        assert!(contains(pki.tsa.cert_der(), &EKU_TIME_STAMPING_DER));
        assert!(!contains(pki.seal.cert_der(), &EKU_TIME_STAMPING_DER));
        let lax = pki
            .issuing
            .issue(&LeafSpec::new(
                "lax",
                Profile::TimeStamping {
                    eku_critical: false,
                },
                KeyAlgorithm::EcdsaP256,
                a_time(),
                YEAR,
            ))
            .expect("issue");
        assert!(!contains(lax.cert_der(), &CRITICAL_EKU));
        assert_eq!(pki.senders[1].1.key_algorithm(), KeyAlgorithm::Rsa2048);
        assert_eq!(pki.senders[0].1.key_algorithm(), KeyAlgorithm::EcdsaP256);
    }
}
