//! The service assembled from its configuration: store, notary (embedded TSA and seal), core,
//! SOAP channel, metrics, and the routes of the one port.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_lc_rs::digest;
use axum::Router;
use axum::routing::get;
use der::{Decode, Encode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use sealpost_evidence::long_term::{SharedValidationSource, ValidationSource};
use sealpost_evidence::model::{Issuer, Sha256};
use sealpost_evidence::provider::{Provider, check_seal_profile};
use sealpost_evidence::seal::{Sealer, Timestamper as TokenSource};
use sealpost_tsa::authority::{TimeStampAuthority, TsaSettings};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{AlgorithmPolicy, base64_encode};
use sealpost_xmldsig::saml::{IdentityProvider, SamlPolicy, SamlTrust};
use sealpost_xmldsig::trust::{Purpose, StatusChecker, TrustAnchors};
use sealpost_xmldsig::wss::{KnownCertificates, WssPolicy};

use crate::adapters::admission::{self, Admission};
use crate::adapters::agency::{self, AgencyPages};
use crate::adapters::audit::{self, AuditEndpoint};
use crate::adapters::browser_login::LoginDesk;
use crate::adapters::crl_dp::DistributionPointCrls;
use crate::adapters::grpc::{self, GrpcChannel};
use crate::adapters::health::{self, Readiness};
use crate::adapters::http::PeerCertificates;
use crate::adapters::mailbox::MailboxAdapter;
use crate::adapters::metrics::Metrics;
use crate::adapters::notary::EmbeddedNotary;
use crate::adapters::ocsp::OcspChecker;
use crate::adapters::oidc_sso::{self, OidcLogins, OidcProvider};
use crate::adapters::postgres::PgStore;
use crate::adapters::remote_tsa::RemoteTsas;
use crate::adapters::saml_sso::{self, SsoLogins};
use crate::adapters::soap::{self, SoapChannel};
use crate::adapters::store::{Backend, RedbStore, TimedStore};
use crate::adapters::time_stamping::{self, TsaEndpoint};
use crate::adapters::validation_data::{LoadedCrls, ServiceValidationSource};
use crate::archive::Archiver;
use crate::config::{self, Config, RemoteTsaSettings, SenderEntry, StoreBackend};
use crate::core::audit::hex;
use crate::core::audit::unhex;
use crate::core::records::{AuditSeal, SenderRegistration};
use crate::core::time_stamping::RateLimit;
use crate::core::{
    self, Clock, Directory, Ledger, Messages, Ports, Registry, Service, SubmissionLimits,
    SystemClock,
};
use sealpost_mailbox::web::{ClientCertificates, MailboxUi};
use sealpost_xmldsig::published_crl::CrlDistributionPoints;

/// The running parts.
pub struct App {
    pub service: Arc<Service>,
    pub store: Arc<dyn Backend>,
    pub tsa: Arc<TimeStampAuthority>,
    /// What time-stamps the evidences and the audit log: the embedded TSA, or the remote
    /// ones of `tsa.remote`.
    pub timestamper: Arc<dyn TokenSource + Send + Sync>,
    /// The second, independent TSA of `tsa.counter_stamp`, which counter-stamps the audit
    /// log's head (and the evidences' seals, with `tsa.counter_stamp_evidences`).
    pub counter_stamper: Option<Arc<dyn TokenSource + Send + Sync>>,
    pub metrics: Arc<Metrics>,
    pub soap: Arc<SoapChannel>,
    pub grpc: Arc<GrpcChannel>,
    /// `POST /tsa` for registered senders; `None` when `tsa.endpoint` is off.
    pub tsa_endpoint: Option<Arc<TsaEndpoint>>,
    pub mailbox: Arc<MailboxUi>,
    /// The subjects (DER) of the sender trust anchors, offered to TLS clients as hints.
    pub client_ca_subjects: Vec<Vec<u8>>,
    /// The provider's published identity, as a trusted list (`GET /provider/trusted-list.xml`).
    pub trusted_list: Arc<String>,
    /// The CRLs every sender and mailbox certificate is checked against, read again
    /// periodically; `None` when `revocation.crls` is empty.
    pub revocation: Option<Arc<Revocation>>,
    /// The CRLs of the certificates' distribution points, fetched again in the background;
    /// `None` when `revocation.crl_distribution_points` is off.
    pub crl_distribution_points: Option<Arc<DistributionPointCrls>>,
    /// `GET /audit/export`, for the auditors of `audit.auditors`.
    pub audit: Arc<AuditEndpoint>,
    /// The budget of the large requests read at once.
    pub admission: Arc<Admission>,
    /// Browser logins through identity providers and the organisations' pages; `None` when
    /// no identity provider has a single sign-on service.
    pub sso: Option<Arc<SsoLogins>>,
    /// Browser logins through OpenID Providers; `None` when `[[oidc.providers]]` is empty.
    pub oidc: Option<Arc<OidcLogins>>,
    /// The organisations' pages (`/agency/`), when a provider can sign their agents in.
    pub agency: Option<Arc<AgencyPages>>,
    /// The archive job (B-LTA), with `evidence.long_term`.
    pub archiver: Option<Arc<Archiver>>,
}

/// Where the CRLs come from and whom they apply to.
#[derive(Debug)]
pub struct Revocation {
    pub paths: Vec<PathBuf>,
    /// Every trust store that checks them (clones share their CRLs).
    pub stores: Vec<TrustAnchors>,
    /// The CRLs as last read, for the evidences' validation data.
    pub loaded: Arc<LoadedCrls>,
    pub refresh: Duration,
}

impl Revocation {
    /// Reads every CRL file and gives them to each trust store; on any failure, nothing
    /// changes (and CRLs past their nextUpdate then refuse every certificate: fail closed).
    pub fn load(&self) -> anyhow::Result<usize> {
        let crls = read_crls(&self.paths)?;
        for store in &self.stores {
            store
                .set_crls(&crls)
                .map_err(|e| anyhow::anyhow!("revocation.crls: {e}"))?;
        }
        let n = crls.len();
        self.loaded.replace(crls);
        Ok(n)
    }
}

/// The CRLs of these files, DER: each holds PEM `X509 CRL` blocks or one DER CRL.
pub fn read_crls(paths: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if bytes.windows(10).any(|w| w == b"-----BEGIN") {
            let blocks = CertificateRevocationListDer::pem_slice_iter(&bytes)
                .map(|c| c.map(|c| c.to_vec()))
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("reading {}", path.display()))?;
            anyhow::ensure!(!blocks.is_empty(), "{}: no CRL", path.display());
            out.extend(blocks);
        } else {
            out.push(bytes);
        }
    }
    Ok(out)
}

/// Reads the CRLs again every `refresh`, until the process ends.
pub async fn refresh_crls_periodically(revocation: Arc<Revocation>) {
    let mut ticks = tokio::time::interval(revocation.refresh);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let r = Arc::clone(&revocation);
        match tokio::task::spawn_blocking(move || r.load()).await {
            Ok(Ok(n)) => tracing::debug!(crls = n, "revocation lists read again"),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the revocation lists cannot be read again: the previous ones stay, until their nextUpdate")
            }
            Err(e) => tracing::error!(error = %e, "the revocation task failed"),
        }
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// A file's name and contents, read where a command is typed and checked where it runs (an
/// administrative command sent to the running service carries the files it names).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NamedFile {
    pub name: String,
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

impl NamedFile {
    pub fn read(path: &std::path::Path) -> anyhow::Result<NamedFile> {
        Ok(NamedFile {
            name: path.display().to_string(),
            bytes: std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        })
    }
}

/// Bytes as base64 text in JSON (a certificate file in an administrative command).
mod base64_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&sealpost_xmldsig::dsig::base64_encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        sealpost_xmldsig::dsig::base64_decode(&text).map_err(serde::de::Error::custom)
    }
}

/// A sender's registration: each certificate (the first of each PEM file, `certificates`
/// holding the files `entry.certificates` names) must chain to the sender trust anchors now
/// and not be self-signed; the store knows it by its SHA-256.
pub fn sender_registration(
    trust: &TrustAnchors,
    entry: &SenderEntry,
    certificates: &[NamedFile],
    now: SystemTime,
) -> anyhow::Result<SenderRegistration> {
    anyhow::ensure!(
        !entry.id.trim().is_empty() && !entry.message_types.is_empty(),
        "a sender needs an id and at least one message type"
    );
    let fingerprints = certificates
        .iter()
        .map(|file| trusted_fingerprint(trust, file, now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(SenderRegistration {
        id: entry.id.clone(),
        name: entry.name.clone(),
        certificates: fingerprints,
        message_types: entry.message_types.clone(),
        recipient_kinds: entry.recipient_kinds.clone(),
        active: entry.active,
        identity_providers: entry.identity_providers.clone(),
        pagm: entry.pagm.clone(),
        minimum_levels: entry.minimum_levels.clone(),
    })
}

/// The identity providers of `[[saml.identity_providers]]`, each with the keys of its
/// certificates (pinned, as its metadata publishes them; one a sender or mailbox CA issued is
/// also checked by that store at each assertion: `idp_trust`), and what assertions must
/// satisfy.
pub fn saml_trust(
    config: &Config,
    senders: &TrustAnchors,
    people: &TrustAnchors,
    now: SystemTime,
) -> anyhow::Result<SamlTrust> {
    let providers = config
        .identity_providers
        .iter()
        .map(|p| {
            let certificates = first_certificates(&p.certificates)?;
            let certificates = crate::adapters::idp_trust::provider_certificates(
                &p.entity_id,
                certificates,
                senders,
                people,
                now,
            )?;
            IdentityProvider::checked(&p.entity_id, &certificates)
                .with_context(|| format!("identity provider {:?}", p.entity_id))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(SamlTrust {
        policy: SamlPolicy {
            algorithms: AlgorithmPolicy::default(),
            audience: config.saml_audience.clone(),
            max_clock_skew: config.max_clock_skew,
            max_age: config.max_assertion_age,
        },
        providers,
    })
}

/// The configured store: redb under `data_dir` (locked while open: one process), or
/// PostgreSQL.
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Backend>> {
    Ok(match &config.store_backend {
        StoreBackend::Redb => Arc::new(
            RedbStore::open(&config.store_path(), config.store_cache_bytes).with_context(|| {
                format!(
                    "opening {} (the embedded store is locked while the service runs)",
                    config.store_path().display()
                )
            })?,
        ),
        StoreBackend::Postgres(url) => {
            Arc::new(PgStore::open(url).context("opening the PostgreSQL store")?)
        }
    })
}

/// The SHA-256 (hex) of the first certificate of a PEM file, which must chain to `trust` now
/// for client authentication and not be self-signed.
pub fn trusted_fingerprint(
    trust: &TrustAnchors,
    file: &NamedFile,
    now: SystemTime,
) -> anyhow::Result<String> {
    let der = pem_certificates_in(file)?
        .into_iter()
        .next()
        .context("no certificate")?;
    trust
        .validate(&der, &[], now, Purpose::SenderApplication)
        .with_context(|| format!("{}: refused", file.name))?;
    Ok(hex(digest::digest(&digest::SHA256, &der).as_ref()))
}

/// The trust anchors and intermediates of two PEM files (the second optional).
pub fn trust_anchors(
    anchors: &std::path::Path,
    intermediates: Option<&std::path::Path>,
) -> anyhow::Result<TrustAnchors> {
    Ok(
        TrustAnchors::new(pem_certificates(anchors)?).with_intermediates(match intermediates {
            Some(p) => pem_certificates(p)?,
            None => Vec::new(),
        }),
    )
}

/// The certificates of a PEM file, DER.
pub fn pem_certificates(path: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    pem_certificates_in(&NamedFile::read(path)?)
}

/// The certificates of a PEM file's contents, DER.
pub fn pem_certificates_in(file: &NamedFile) -> anyhow::Result<Vec<Vec<u8>>> {
    let certs = CertificateDer::pem_slice_iter(&file.bytes)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {}", file.name))?;
    anyhow::ensure!(!certs.is_empty(), "{}: no certificate", file.name);
    Ok(certs)
}

impl App {
    pub fn build(config: &Config) -> anyhow::Result<App> {
        let metrics = Arc::new(Metrics::default());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = open_store(config)?;
        // Its serials carry this node's number among those sharing the store.
        let node = store
            .node_number()
            .context("numbering this node among those sharing the store")?;
        let tsa = Arc::new(
            TimeStampAuthority::from_settings(&TsaSettings {
                node,
                ..config.tsa.clone()
            })
            .context("setting up the embedded TSA")?,
        );
        let timestamper = evidence_timestamper(config, &tsa, Arc::clone(&clock))?;
        let counter_stamper = counter_stamper(config, Arc::clone(&clock))?;
        // The seal certificate must have the seal profile, or the service does not start.
        let trusted_list = Arc::new(provider_identity(config)?.to_trusted_list());
        let seal_certs = pem_certificates(&config.seal_cert)?;
        let PrivateKeyDer::Pkcs8(seal_key) = PrivateKeyDer::from_pem_file(&config.seal_key)
            .with_context(|| format!("reading {}", config.seal_key.display()))?
        else {
            anyhow::bail!("{}: not a PKCS#8 key", config.seal_key.display());
        };
        // The evidences' validation data: OCSP (the checker the trust stores are also given,
        // below) and the CRLs as `Revocation` reads them.
        let ocsp = config
            .revocation_ocsp
            .as_ref()
            .map(|settings| OcspChecker::new(settings).map(Arc::new))
            .transpose()?;
        let loaded_crls = Arc::new(LoadedCrls::default());
        // The distribution points' CRLs (`revocation.crl_distribution_points`): fetched at the
        // first need, for the trust stores (below) and the evidences alike.
        let distribution_points = config
            .revocation_crl_distribution_points
            .as_ref()
            .map(|settings| Arc::new(DistributionPointCrls::new(settings, Arc::clone(&clock))));
        let validation: Arc<ServiceValidationSource> = Arc::new(ServiceValidationSource::new(
            known_certificates(config, &seal_certs)?,
            ocsp.clone(),
            Arc::clone(&loaded_crls),
            distribution_points
                .clone()
                .map(|d| d as Arc<dyn CrlDistributionPoints>),
            Arc::clone(&clock),
        ));
        let mut sealer = Sealer::new(
            DocumentSigner::new(seal_key.secret_pkcs8_der(), seal_certs.clone())
                .context("the seal key and certificate")?,
        )?;
        if let Some(counter) = &counter_stamper
            && config.tsa_counter_stamp_evidences
        {
            sealer = sealer.with_second_timestamper(Arc::clone(counter));
        }
        let sealer = if config.evidence.long_term {
            sealer.with_validation_source(Arc::clone(&validation) as SharedValidationSource)
        } else {
            tracing::warn!(
                "evidence.long_term is false: evidences are sealed XAdES B-T, without the validation data of their certificates; a court will find them INDETERMINATE once it cannot check those certificates' revocation itself"
            );
            sealer
        };
        let notary = Arc::new(EmbeddedNotary {
            sealer,
            tsa: Arc::clone(&timestamper),
            clock: Arc::clone(&clock),
            issuer: Issuer {
                name: config.issuer_name.clone(),
                policy_id: format!("urn:oid:{}", config.tsa.policy),
            },
            metrics: Arc::clone(&metrics),
        });
        // Reads go to the store; commits are timed for the metrics.
        let ledger: Arc<dyn Ledger> = Arc::new(TimedStore {
            inner: Arc::clone(&store),
            metrics: Arc::clone(&metrics),
        });
        let service = Arc::new(Service::new(
            Ports {
                registry: Arc::clone(&store) as Arc<dyn Registry>,
                directory: Arc::clone(&store) as Arc<dyn Directory>,
                messages: Arc::clone(&store) as Arc<dyn Messages>,
                ledger,
                timestamper: Arc::clone(&notary) as Arc<dyn core::Timestamper>,
                sealer: notary,
                clock: Arc::clone(&clock),
            },
            SubmissionLimits {
                max_documents: config.max_documents,
                max_document_bytes: config.max_document_bytes,
            },
        ));
        let intermediates = match &config.sender_intermediates {
            Some(p) => pem_certificates(p)?,
            None => Vec::new(),
        };
        let anchors = pem_certificates(&config.sender_trust_anchors)?;
        let client_ca_subjects = anchors
            .iter()
            .map(|der| {
                x509_cert::Certificate::from_der(der)
                    .and_then(|c| c.tbs_certificate.subject.to_der())
                    .context("a sender trust anchor")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let trust = TrustAnchors::new(anchors).with_intermediates(intermediates);
        let trust_for_ocsp = trust.clone();
        let people_trust = trust_anchors(
            &config.mailbox_trust_anchors,
            config.mailbox_intermediates.as_deref(),
        )?;
        let revocation = if config.revocation_crls.is_empty() {
            if config.revocation_ocsp.is_none()
                && config.revocation_crl_distribution_points.is_none()
            {
                tracing::warn!(
                    "revocation.crls is empty, revocation.ocsp and revocation.crl_distribution_points are off: sender and mailbox certificates are NOT checked for revocation"
                );
            }
            None
        } else {
            let revocation = Arc::new(Revocation {
                paths: config.revocation_crls.clone(),
                stores: vec![trust.clone(), people_trust.clone()],
                loaded: Arc::clone(&loaded_crls),
                refresh: config.revocation_refresh,
            });
            let n = revocation.load()?;
            tracing::info!(
                crls = n,
                "sender and mailbox certificates are checked for revocation"
            );
            Some(revocation)
        };
        // The configuration's senders, each written (with its audit entry) when it differs
        // from the registry's.
        let registered = store.senders()?;
        for entry in &config.sender_registry {
            let certificates = entry
                .certificates
                .iter()
                .map(|path| NamedFile::read(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let registration = sender_registration(&trust, entry, &certificates, clock.now())
                .with_context(|| format!("senders.registry: sender {:?}", entry.id))?;
            if registered.contains(&registration) {
                continue;
            }
            let detail = format!(
                "sender {} set from the configuration: {}",
                registration.id,
                serde_json::to_string(&registration)?
            );
            let ctx = core::RequestContext {
                correlation_id: sealpost_evidence::model::new_evidence_id(clock.now()),
                channel: core::records::Channel::Admin,
                operation: "SenderSet",
                request: Arc::new(detail.as_bytes().to_vec()),
                seen: None,
                vector: None,
            };
            service
                .recorder()
                .record_change(
                    &ctx,
                    "the configuration (senders.registry)",
                    true,
                    &detail,
                    core::Changes {
                        senders: vec![registration],
                        ..core::Changes::default()
                    },
                )
                .map_err(|r| {
                    anyhow::anyhow!(
                        "senders.registry: sender {:?}: {}",
                        entry.id,
                        r.kind.row().code
                    )
                })?;
        }
        if !config.sender_registry.is_empty() {
            tracing::info!(
                senders = config.sender_registry.len(),
                "sender registry: the configuration's senders are registered"
            );
        }
        let policy = WssPolicy {
            max_clock_skew: config.max_clock_skew,
            max_age: config.max_message_age,
            ..WssPolicy::default()
        };
        let grpc = Arc::new(GrpcChannel {
            service: Arc::clone(&service),
            trust: trust.clone(),
            policy,
            clock: Arc::clone(&clock),
            metrics: Arc::clone(&metrics),
            max_request_bytes: config.max_request_bytes,
        });
        let tsa_endpoint = match config.tsa_endpoint {
            config::TsaEndpoint::Off => None,
            config::TsaEndpoint::Senders { per_minute, burst } => Some(Arc::new(TsaEndpoint {
                service: Arc::clone(&service),
                tsa: Arc::clone(&tsa),
                trust: trust.clone(),
                limit: RateLimit::new(per_minute, burst),
                clock: Arc::clone(&clock),
                metrics: Arc::clone(&metrics),
            })),
        };
        let identity = saml_trust(config, &trust, &people_trust, clock.now())?;
        let soap = Arc::new(SoapChannel {
            service: Arc::clone(&service),
            trust,
            known: KnownCertificates::default(),
            policy,
            identity: identity.clone(),
            providers: config.identity_providers.clone(),
            clock: Arc::clone(&clock),
            metrics: Arc::clone(&metrics),
            max_request_bytes: config.max_request_bytes,
        });
        // The auditors: each certificate must chain to the mailbox trust anchors now.
        let auditors = config
            .audit_auditors
            .iter()
            .map(|path| {
                NamedFile::read(path)
                    .and_then(|file| trusted_fingerprint(&people_trust, &file, clock.now()))
                    .and_then(|hex| Sha256::from_hex(&hex).context("a certificate fingerprint"))
                    .with_context(|| format!("audit.auditors: {}", path.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        let audit = Arc::new(AuditEndpoint {
            people_trust: people_trust.clone(),
            auditors,
            store: Arc::clone(&store),
            service: Arc::clone(&service),
            provider: config.issuer_name.clone(),
        });
        let mut mailbox_ui = MailboxUi::new(
            Arc::new(MailboxAdapter {
                store: Arc::clone(&store),
                service: Arc::clone(&service),
                people_trust: people_trust.clone(),
                opening_levels: config.opening_levels.clone(),
            }),
            config.mailbox_idle_timeout_s,
            config.mailbox_site.clone(),
        )
        .map_err(|e| anyhow::anyhow!("the mailbox: {e}"))?;
        mailbox_ui.levels = config.mailbox_levels;
        mailbox_ui.saml_login = config
            .identity_providers
            .iter()
            .any(|p| p.citizens && p.sso.is_some());
        mailbox_ui.oidc_login = config.oidc_providers.iter().any(|p| p.citizens);
        let mailbox = Arc::new(mailbox_ui);
        let desk = LoginDesk {
            service: Arc::clone(&service),
            store: Arc::clone(&store),
            mailbox: Arc::clone(&mailbox),
            clock: Arc::clone(&clock),
        };
        // The organisations' pages, and which providers start an agent's sign-in.
        let agency = Arc::new(AgencyPages::new(
            desk.clone(),
            config
                .identity_providers
                .iter()
                .filter(|p| p.sso.is_some())
                .map(|p| p.entity_id.clone())
                .collect(),
            config
                .oidc_providers
                .iter()
                .map(|p| p.issuer.clone())
                .collect(),
        ));
        let oidc = if config.oidc_providers.is_empty() {
            None
        } else {
            let providers = config
                .oidc_providers
                .iter()
                .map(|entry| {
                    OidcProvider::new(entry.clone())
                        .with_context(|| format!("oidc.providers {:?}", entry.issuer))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Some(Arc::new(OidcLogins::new(
                desk.clone(),
                providers,
                Arc::clone(&agency),
            )))
        };
        let with_keys: Vec<_> = config
            .identity_providers
            .iter()
            .cloned()
            .zip(identity.providers.iter().cloned())
            .collect();
        let sso = with_keys.iter().any(|(p, _)| p.sso.is_some()).then(|| {
            Arc::new(SsoLogins::new(
                desk.clone(),
                with_keys,
                identity.policy.clone(),
                config.saml_acs_url.clone(),
                Arc::clone(&agency),
            ))
        });
        let agency = (sso.is_some() || oidc.is_some()).then_some(agency);
        // OCSP from here on, for every clone of both stores: the certificates checked above at
        // start (registry, auditors) are asked about at each request instead, so that an
        // unreachable responder refuses requests but does not stop the service from starting.
        if let (Some(settings), Some(checker)) = (&config.revocation_ocsp, &ocsp) {
            let checker: Arc<dyn StatusChecker> = Arc::clone(checker) as Arc<dyn StatusChecker>;
            trust_for_ocsp.set_status_checker(Arc::clone(&checker));
            people_trust.set_status_checker(checker);
            tracing::info!(
                responder = settings
                    .responder
                    .as_deref()
                    .unwrap_or("each certificate's own (Authority Information Access)"),
                "sender and mailbox certificates are checked by OCSP"
            );
        }
        // B-LT: the validation data of the service's own chains must be at hand, or nothing
        // could be sealed.
        let archiver = if config.evidence.long_term {
            check_validation_data(config, validation.as_ref(), &seal_certs)?;
            Some(Arc::new(Archiver {
                store: Arc::clone(&store),
                service: Arc::clone(&service),
                tsa: Arc::clone(&timestamper),
                source: Arc::clone(&validation) as SharedValidationSource,
                policy: config.evidence.archive_policy.clone(),
                units: first_certificates(&stamping_units(config))?,
            }))
        } else {
            None
        };
        // The distribution points' CRLs likewise from here on: fetched at the first request
        // that needs one, not at start.
        let crl_distribution_points = distribution_points.inspect(|source| {
            trust_for_ocsp.set_crl_distribution_points(Arc::clone(source) as _);
            people_trust.set_crl_distribution_points(Arc::clone(source) as _);
            tracing::info!(
                "sender and mailbox certificates are checked against the CRLs of their distribution points"
            );
        });
        Ok(App {
            archiver,
            crl_distribution_points,
            mailbox,
            service,
            store,
            tsa,
            timestamper,
            counter_stamper,
            metrics,
            soap,
            grpc,
            tsa_endpoint,
            client_ca_subjects,
            trusted_list,
            revocation,
            audit,
            admission: Arc::new(Admission::new(config.in_flight_bytes, config.body_pace)),
            sso,
            oidc,
            agency,
        })
    }

    /// Every route of the one port (`/tsa` only when `tsa.endpoint` opens it).
    pub fn router(&self) -> Router {
        let metrics = Arc::clone(&self.metrics);
        let admission_gauges = Arc::clone(&self.admission);
        let trusted_list = Arc::clone(&self.trusted_list);
        let entry_ui = Arc::clone(&self.mailbox);
        let fallback_ui = Arc::clone(&self.mailbox);
        let router =
            tonic::service::Routes::new(grpc::endpoint(Arc::clone(&self.grpc))).into_axum_router();
        let router = match &self.tsa_endpoint {
            Some(endpoint) => router.route("/tsa", time_stamping::endpoint(Arc::clone(endpoint))),
            // Said plainly: an unknown path would get the gRPC router's answer.
            None => router.route("/tsa", axum::routing::any(time_stamping::off)),
        };
        let router = match &self.sso {
            Some(sso) => router.merge(saml_sso::router(Arc::clone(sso))),
            None => router,
        };
        let router = match &self.oidc {
            Some(oidc) => router.merge(oidc_sso::router(Arc::clone(oidc))),
            None => router,
        };
        let router = match &self.agency {
            Some(agency) => router.merge(agency::router(Arc::clone(agency))),
            None => router,
        };
        router
            .route("/soap", soap::endpoint(Arc::clone(&self.soap)))
            .route("/audit/export", audit::endpoint(Arc::clone(&self.audit)))
            .nest(
                "/mailbox",
                sealpost_mailbox::web::router(Arc::clone(&self.mailbox)).layer(
                    axum::middleware::map_request(
                        |mut request: axum::extract::Request| async move {
                            // The TLS client certificates, as the mailbox knows them.
                            if let Some(PeerCertificates(chain)) =
                                request.extensions().get::<PeerCertificates>().cloned()
                            {
                                request.extensions_mut().insert(ClientCertificates(chain));
                            }
                            request
                        },
                    ),
                ),
            )
            // The documented address, with its slash (the nested router takes `/mailbox`).
            .route(
                "/mailbox/",
                get(move |headers: axum::http::HeaderMap| {
                    sealpost_mailbox::web::entry(Arc::clone(&entry_ui), headers)
                }),
            )
            .route(
                "/",
                get(|| async { axum::response::Redirect::to("/mailbox/") }),
            )
            .route("/healthz", get(|| async { "ok\n" }))
            .route(
                "/readyz",
                health::readiness(Arc::new(Readiness::new(
                    Arc::clone(&self.store),
                    Arc::clone(&self.timestamper),
                ))),
            )
            .route(
                "/provider/trusted-list.xml",
                get(move || async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/xml; charset=utf-8",
                        )],
                        trusted_list.as_str().to_owned(),
                    )
                }),
            )
            .route(
                "/metrics",
                get(move || {
                    let metrics = Arc::clone(&metrics);
                    let admission = Arc::clone(&admission_gauges);
                    async move {
                        (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            metrics.render() + &admission.render(),
                        )
                    }
                }),
            )
            .fallback(move |request: axum::extract::Request| {
                let ui = Arc::clone(&fallback_ui);
                async move { not_the_service(&ui, &request) }
            })
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.admission),
                admission::admit,
            ))
    }
}

/// The answer to a request for something that is not the service: a gRPC call to a method
/// that does not exist gets the gRPC status Unimplemented (as a gRPC client expects), anything
/// else the mailbox's 404 page (HTML, in the language asked for).
fn not_the_service(ui: &MailboxUi, request: &axum::extract::Request) -> axum::response::Response {
    let grpc = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::unimplemented("no such gRPC method").into_http::<axum::body::Body>();
    }
    sealpost_mailbox::web::not_found_page(ui, request.headers(), request.uri().query())
}

/// Seals the audit log's head with a time-stamp token, unless it is already sealed; with a
/// second, independent TSA (`counter`), counter-stamped by it too. When the two times
/// disagree (`stamps_agree`), one of the clocks is wrong: nothing is sealed.
pub fn seal_audit_head(
    store: &dyn Backend,
    tsa: &dyn TokenSource,
    counter: Option<&dyn TokenSource>,
    now: SystemTime,
) -> anyhow::Result<Option<AuditSeal>> {
    let (seq, hash) = store.audit_head()?;
    if seq == 0 || store.audit_seals()?.last().is_some_and(|s| s.seq == seq) {
        return Ok(None);
    }
    let digest = unhex(&hash).context("the audit head hash is not hex")?;
    let token = tsa.timestamp(&digest)?;
    let counter_token = match counter {
        Some(counter) => {
            let counter_token = counter.timestamp(&digest)?;
            let time = |token: &[u8]| {
                sealpost_tsa::verify::read_unverified(token)
                    .map(|t| (t.gen_time, t.accuracy))
                    .map_err(|e| anyhow::anyhow!("a time-stamp token: {e}"))
            };
            sealpost_evidence::seal::stamps_agree(time(&token)?, time(&counter_token)?)
                .map_err(|e| anyhow::anyhow!("the audit head {seq} is not sealed: {e}"))?;
            Some(base64_encode(&counter_token))
        }
        None => None,
    };
    let seal = AuditSeal {
        seq,
        hash,
        token: base64_encode(&token),
        sealed_at: now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        counter_token,
    };
    store.put_audit_seal(&seal)?;
    Ok(Some(seal))
}

/// Seals the audit head every `interval` while this node holds the job's lease, until the
/// process ends.
pub async fn seal_audit_periodically(
    store: Arc<dyn Backend>,
    tsa: Arc<dyn TokenSource + Send + Sync>,
    counter: Option<Arc<dyn TokenSource + Send + Sync>>,
    interval: Duration,
    lease: crate::lease::JobLease,
) {
    crate::lease::every_round(
        lease,
        interval,
        false,
        || SystemClock.now(),
        move |now| {
            seal_audit_head(
                store.as_ref(),
                tsa.as_ref(),
                counter.as_deref().map(|c| c as &dyn TokenSource),
                now,
            )
        },
        |sealed| {
            if let Some(seal) = sealed {
                tracing::info!(seq = seal.seq, "audit head sealed");
            }
        },
    )
    .await;
}

/// The units that time-stamp the evidences and the audit log now: `tsa.remote_units`, or
/// the embedded TSA's certificate.
fn stamping_units(config: &Config) -> Vec<PathBuf> {
    match &config.tsa_remote {
        Some(remote) => remote.units.clone(),
        None => vec![config.tsa.cert.clone()],
    }
}

/// The first certificate of each of these PEM files.
fn first_certificates(paths: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    paths
        .iter()
        .map(|path| {
            pem_certificates(path)?
                .into_iter()
                .next()
                .with_context(|| format!("{}: no certificate", path.display()))
        })
        .collect()
}

/// The provider identity this configuration seals with: its evidence seal certificate and the
/// embedded time-stamping unit's, under the issuer name. The service publishes it as a trusted
/// list (`GET /provider/trusted-list.xml`, `sealpost pki trusted-list`); a court verifies
/// evidences against it. Refuses a seal certificate without the evidence seal profile.
pub fn provider_identity(config: &Config) -> anyhow::Result<Provider> {
    let seal = pem_certificates(&config.seal_cert)?
        .into_iter()
        .next()
        .context("no seal certificate")?;
    check_seal_profile(&seal).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}; a development PKI made before the seal profile existed must be made anew (remove certs/dev)",
            config.seal_cert.display()
        )
    })?;
    // The units whose tokens the evidences and the audit log carry, the second TSA's too,
    // and those that stamped before (`tsa.previous_units`): their tokens stay in the proofs.
    let mut units = stamping_units(config);
    if let Some(counter) = &config.tsa_counter_stamp {
        units.extend(counter.units.iter().cloned());
    }
    units.extend(config.tsa_previous_units.iter().cloned());
    let tsa_certificates = first_certificates(&units)?;
    Ok(Provider {
        name: config.issuer_name.clone(),
        seal_certificates: vec![seal],
        tsa_certificates,
    })
}

/// The certificates the evidences' validation data completes paths from: the seal chain, the
/// embedded TSA's certificate and chain, the remote and counter-stamping units and their trust
/// anchors, the sender CAs.
fn known_certificates(config: &Config, seal_chain: &[Vec<u8>]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut files = vec![config.tsa.cert.clone(), config.sender_trust_anchors.clone()];
    files.extend(config.tsa.chain.clone());
    files.extend(config.sender_intermediates.clone());
    for remote in [&config.tsa_remote, &config.tsa_counter_stamp]
        .into_iter()
        .flatten()
    {
        files.extend(remote.units.iter().cloned());
        files.push(remote.trust_anchors.clone());
    }
    let mut known = seal_chain.to_vec();
    for file in files {
        for cert in pem_certificates(&file)? {
            if !known.contains(&cert) {
                known.push(cert);
            }
        }
    }
    Ok(known)
}

/// At start, with `evidence.long_term`: the validation data of the seal's chain and of every
/// time-stamping unit's (the embedded one, or each of `tsa.remote_units`, and each of
/// `tsa.counter_stamp_units` when they counter-stamp the evidences) can be had now;
/// otherwise the start stops, saying what is missing and how to give it.
fn check_validation_data(
    config: &Config,
    source: &dyn ValidationSource,
    seal_chain: &[Vec<u8>],
) -> anyhow::Result<()> {
    let mut chains = vec![("the seal (seal.cert)".to_owned(), seal_chain.to_vec())];
    match &config.tsa_remote {
        Some(remote) => {
            for unit in &remote.units {
                chains.push((
                    format!(
                        "the time-stamping unit {} (tsa.remote_units)",
                        unit.display()
                    ),
                    pem_certificates(unit)?,
                ));
            }
        }
        None => {
            let mut chain = pem_certificates(&config.tsa.cert)?;
            if let Some(path) = &config.tsa.chain {
                chain.extend(pem_certificates(path)?);
            }
            chains.push((
                "the embedded time-stamping unit (tsa.cert)".to_owned(),
                chain,
            ));
        }
    }
    if let Some(counter) = config
        .tsa_counter_stamp
        .as_ref()
        .filter(|_| config.tsa_counter_stamp_evidences)
    {
        for unit in &counter.units {
            chains.push((
                format!(
                    "the counter-stamping unit {} (tsa.counter_stamp_units)",
                    unit.display()
                ),
                pem_certificates(unit)?,
            ));
        }
    }
    for (what, chain) in chains {
        source.validation_data(&[chain]).map_err(|e| {
            anyhow::anyhow!(
                "evidence.long_term: no validation data for {what}: {e}. Give the CAs' current CRLs in revocation.crls (for the development PKI: sealpost pki crl --dir certs/dev, then SEALPOST_REVOCATION_CRLS=certs/dev/issuing-ca.crl.pem,certs/dev/root-ca.crl.pem), or turn on revocation.ocsp with a responder that answers, or set evidence.long_term = false (evidences B-T: courts will find them indeterminate)"
            )
        })?;
    }
    tracing::info!(
        "evidences are sealed XAdES B-LT: the validation data of the seal's and the time-stamping unit's chains is at hand"
    );
    Ok(())
}

/// What time-stamps the evidences and the audit log: the remote TSAs of `tsa.remote` when
/// there are any (their tokens checked: see [`RemoteTsas`]), else `embedded`.
pub fn evidence_timestamper(
    config: &Config,
    embedded: &Arc<TimeStampAuthority>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn TokenSource + Send + Sync>> {
    match &config.tsa_remote {
        Some(remote) => remote_timestamper(remote, "tsa.remote_units", clock),
        None => Ok(Arc::clone(embedded) as Arc<dyn TokenSource + Send + Sync>),
    }
}

/// The second, independent TSA of `tsa.counter_stamp`, if configured.
pub fn counter_stamper(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Option<Arc<dyn TokenSource + Send + Sync>>> {
    config
        .tsa_counter_stamp
        .as_ref()
        .map(|settings| remote_timestamper(settings, "tsa.counter_stamp_units", clock))
        .transpose()
}

/// Remote TSAs of these settings, their tokens checked (see [`RemoteTsas`]); `units_key`
/// names the setting in errors.
fn remote_timestamper(
    remote: &RemoteTsaSettings,
    units_key: &str,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn TokenSource + Send + Sync>> {
    let units = first_certificates(&remote.units).with_context(|| units_key.to_owned())?;
    let trust = sealpost_tsa::TrustStore::new(pem_certificates(&remote.trust_anchors)?)
        .with_certificates(units.clone());
    Ok(Arc::new(RemoteTsas::new(
        &remote.urls,
        remote.timeout,
        trust,
        units,
        remote.max_skew,
        clock,
    )?))
}
