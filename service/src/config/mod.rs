//! Configuration: one TOML file, every key overridable by a `SEALPOST_*` environment variable
//! (`tsa.clock` is `SEALPOST_TSA_CLOCK`), every value validated at start (each whole number
//! within the bounds its row of `KEYS` gives) with every problem reported at once. Without a file, the embedded defaults serve the development PKI that
//! `make run` creates under `certs/dev/`.
//!
//! The settings as written and their defaults are in `raw`, the key table with its bounds in
//! `keys`, the sender registry's checks in `registry`; this file turns them into a `Config`.

mod keys;
mod raw;
mod registry;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use der::asn1::ObjectIdentifier;
use sealpost_evidence::long_term::{ArchivePolicy, digest_algorithm_named};
use sealpost_mailbox::web::Site;
use sealpost_tsa::authority::TsaSettings;
use sealpost_xmldsig::ocsp::ResponsePolicy;

use crate::adapters::crl_dp::CrlFetchSettings;
use crate::adapters::ocsp::OcspSettings;
use sealpost_tsa::clock::ClockKind;
use serde::Deserialize;

use keys::{FILE_ONLY, KEYS, Kind, NOT_SETTINGS, check_bounds, env_name};
use raw::RawConfig;
use registry::{validate_identity_providers, validate_oidc_providers, validate_registry};

pub use registry::pagm_grants;
pub use registry::{IdentityProviderEntry, OidcProviderEntry, SenderEntry, SingleSignOn};

/// Seed 003: accounts without a login for `inactive` are deleted `notice` after their owner
/// was told, unless they log in meanwhile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    pub inactive: Duration,
    pub notice: Duration,
    /// How often the job runs.
    pub interval: Duration,
    /// How long the audit log's technical traces (entries and signed requests) are kept.
    pub traces: Duration,
    /// How long evidences are kept (their legal retention).
    pub evidence: Duration,
    /// A program run for each notice with the login, the name and the deletion date
    /// (RFC 3339) as arguments (mail, SMS…); without one, the notice is logged.
    pub notifier: Option<PathBuf>,
}

/// Long-term evidences: `[evidence]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceSettings {
    /// Seal XAdES B-LT (with the validation data of the seal's and the time-stamp's chains);
    /// false: B-T, which courts find indeterminate once the certificates expire.
    pub long_term: bool,
    /// How often the archive job looks for evidences due for a new archive time-stamp.
    pub archive_interval: Duration,
    /// When an evidence is due.
    pub archive_policy: ArchivePolicy,
}

/// Where the service keeps its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreBackend {
    /// The embedded store under `data_dir`.
    Redb,
    /// A PostgreSQL database (connection string), for several processes.
    Postgres(String),
}

/// How far an OCSP responder's clock may run ahead of the service's (its thisUpdate).
pub const OCSP_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Every problem found, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Who may use `POST /tsa` on the service port (the standalone `sealpost-tsa` is another
/// deployable, configured by its own options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsaEndpoint {
    /// Not served: 404.
    Off,
    /// Sender applications presenting a registered, active sender certificate over mutual
    /// TLS, each sender held to `per_minute` tokens a minute, `burst` at once; every token
    /// audited.
    Senders { per_minute: u32, burst: u32 },
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Remote TSAs and what their tokens must be.
#[derive(Clone, Debug)]
pub struct RemoteTsaSettings {
    pub urls: Vec<String>,
    /// PEM files of the units' certificates (the first of each).
    pub units: Vec<PathBuf>,
    pub trust_anchors: PathBuf,
    pub timeout: Duration,
    pub max_skew: Duration,
}

/// The remote TSAs of `key` (`tsa.remote`, `tsa.counter_stamp`): `Some(None)` when none is
/// configured, `None` when the settings are wrong (the problems say why).
fn remote_tsas(
    key: &str,
    urls: &[String],
    units: &[PathBuf],
    trust_anchors: Option<&PathBuf>,
    default_anchors: &Path,
    (timeout_ms, max_skew_s): (u64, u64),
    problems: &mut Vec<String>,
) -> Option<Option<RemoteTsaSettings>> {
    if urls.is_empty() {
        if !units.is_empty() {
            problems.push(format!("{key}_units without {key}"));
        }
        return Some(None);
    }
    let mut ok = true;
    for url in urls {
        if !url.starts_with("http://") {
            problems.push(format!(
                "{key} {url:?}: an http:// URL (the tokens are signed; TLS adds nothing they need)"
            ));
            ok = false;
        }
    }
    if units.is_empty() {
        problems.push(format!(
            "{key} needs {key}_units: the certificates its tokens must be signed by"
        ));
        ok = false;
    }
    for unit in units {
        readable(unit, &format!("{key}_units"), problems);
    }
    let anchors = trust_anchors
        .cloned()
        .unwrap_or_else(|| default_anchors.to_path_buf());
    readable(&anchors, &format!("{key}_trust_anchors"), problems);
    ok.then(|| {
        Some(RemoteTsaSettings {
            urls: urls.to_vec(),
            units: units.to_vec(),
            trust_anchors: anchors,
            timeout: Duration::from_millis(timeout_ms),
            max_skew: Duration::from_secs(max_skew_s),
        })
    })
}

/// The longest path a Unix socket is bound to (`sun_path` less its terminating zero).
const MAX_SOCKET_PATH: usize = 107;

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// On SIGTERM or SIGINT, how long the requests in flight may take to finish.
    pub shutdown_grace: Duration,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub tsa: TsaSettings,
    /// `tsa.endpoint`: who may use `POST /tsa` on the service port.
    pub tsa_endpoint: TsaEndpoint,
    /// `tsa.remote`: the TSAs that time-stamp evidences and the audit log instead of the
    /// embedded one; `None`: the embedded one does.
    pub tsa_remote: Option<RemoteTsaSettings>,
    /// `tsa.counter_stamp`: a second, independent TSA that counter-stamps the audit log's head
    /// and, with `tsa_counter_stamp_evidences`, every evidence's seal.
    pub tsa_counter_stamp: Option<RemoteTsaSettings>,
    pub tsa_counter_stamp_evidences: bool,
    /// `tsa.previous_units`: units that stamped before, still published in the trusted list.
    pub tsa_previous_units: Vec<PathBuf>,
    /// The seal certificate (then its chain) and key.
    pub seal_cert: PathBuf,
    pub seal_key: PathBuf,
    pub issuer_name: String,
    pub sender_trust_anchors: PathBuf,
    pub sender_intermediates: Option<PathBuf>,
    pub max_clock_skew: Duration,
    pub max_message_age: Duration,
    /// `[[senders.registry]]`: written into the store's registry at start.
    pub sender_registry: Vec<SenderEntry>,
    /// `[[saml.identity_providers]]`: who vouches for senders' agents.
    pub identity_providers: Vec<IdentityProviderEntry>,
    /// `[[oidc.providers]]`: the OpenID Providers browsers log in through.
    pub oidc_providers: Vec<OidcProviderEntry>,
    /// `saml.audience`: Sealpost's name in the assertions it accepts.
    pub saml_audience: String,
    /// `saml.acs_url`: where browser logins' responses come.
    pub saml_acs_url: String,
    /// `mailbox.password_totp_level`, `mailbox.certificate_level`.
    pub mailbox_levels: sealpost_mailbox::web::LoginLevels,
    /// `[mailbox.opening_levels]`.
    pub opening_levels: BTreeMap<String, u8>,
    /// `saml.max_assertion_age_s`.
    pub max_assertion_age: Duration,
    pub max_request_bytes: usize,
    /// The declared bytes of the large requests (over 1 MiB) read at once; more wait for none
    /// and are answered 503 with Retry-After.
    pub in_flight_bytes: u64,
    /// `limits.max_connections` and the timeouts of a connection.
    pub connections: crate::adapters::http::ConnectionLimits,
    /// `limits.body_grace_s`, `limits.body_min_bytes_per_s`: how slowly a body may arrive.
    pub body_pace: crate::adapters::admission::BodyPace,
    pub max_document_bytes: u64,
    pub max_documents: usize,
    pub audit_seal_interval: Duration,
    pub evidence: EvidenceSettings,
    /// The auditors' certificates (PEM files): they alone read the audit log over HTTPS.
    pub audit_auditors: Vec<PathBuf>,
    pub store_backend: StoreBackend,
    pub retention: RetentionSettings,
    /// CAs (and intermediates) of people's client certificates, for certificate login.
    pub mailbox_trust_anchors: PathBuf,
    pub mailbox_intermediates: Option<PathBuf>,
    /// A mailbox session ends after this long without a request.
    pub mailbox_idle_timeout_s: u64,
    /// The operator, its contact and notices, and the time zone the mailbox shows.
    pub mailbox_site: Site,
    /// The program that tells a letter's recipients it arrived (`PROGRAM new-letter LOGIN NAME
    /// CONTACT SENDER`, exit status 0 when sent); `None`: they see it in the mailbox only.
    pub mailbox_notifier: Option<PathBuf>,
    pub mailbox_notify_interval: Duration,
    /// The most memory the embedded store keeps pages in.
    pub store_cache_bytes: usize,
    /// Certificate revocation lists (files, PEM or DER) checked for every sender and mailbox
    /// certificate; empty: revocation is not checked (a warning at start).
    pub revocation_crls: Vec<PathBuf>,
    /// How often the CRL files are read again.
    pub revocation_refresh: Duration,
    /// `revocation.ocsp`: every sender and mailbox certificate is also asked about to an OCSP
    /// responder, with these settings; `None`: OCSP is off.
    pub revocation_ocsp: Option<OcspSettings>,
    /// `revocation.crl_distribution_points`: the CRLs the certificates' distribution points
    /// publish are fetched and checked too, with these settings; `None`: they are not.
    pub revocation_crl_distribution_points: Option<CrlFetchSettings>,
    /// The settings in force (defaults, then the file, then the environment) as TOML, the
    /// database password hidden: what `sealpost check-config` prints.
    pub effective: String,
    /// The administrative socket of the running service (`sealpost admin` sends its commands
    /// there while the service runs); `None`: administration only on a stopped service.
    pub admin_socket: Option<PathBuf>,
}

impl Config {
    /// The embedded store's file.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("sealpost.redb")
    }
}

impl Config {
    /// Reads `file` (if any), applies the `SEALPOST_*` variables of `env`, validates.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut table = match file {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => match text.parse::<toml::Table>() {
                    Ok(t) => t,
                    Err(e) => {
                        return Err(ConfigError {
                            problems: vec![format!("{}: {e}", path.display())],
                        });
                    }
                },
                Err(e) => {
                    return Err(ConfigError {
                        problems: vec![format!("{}: {e}", path.display())],
                    });
                }
            },
            None => toml::Table::new(),
        };
        let known: BTreeMap<String, (&str, Kind)> = KEYS
            .iter()
            .map(|(key, kind)| (env_name(key), (*key, *kind)))
            .collect();
        for (name, value) in env {
            if !name.starts_with("SEALPOST_") || NOT_SETTINGS.contains(&name.as_str()) {
                continue;
            }
            let Some((key, kind)) = known.get(&name) else {
                match FILE_ONLY.iter().find(|key| env_name(key) == name) {
                    Some(key) => problems.push(format!("{name}: {key} is set in the file only")),
                    None => problems.push(format!("{name}: no such setting")),
                }
                continue;
            };
            let value = match kind {
                Kind::Text => toml::Value::String(value),
                Kind::Integer { .. } => match value.trim().parse::<i64>() {
                    Ok(n) => toml::Value::Integer(n),
                    Err(_) => {
                        problems.push(format!("{name} ({key}): {value:?} is not a whole number"));
                        continue;
                    }
                },
                Kind::Bool => match value.trim() {
                    "true" => toml::Value::Boolean(true),
                    "false" => toml::Value::Boolean(false),
                    _ => {
                        problems.push(format!("{name} ({key}): {value:?} is not true or false"));
                        continue;
                    }
                },
                Kind::List => toml::Value::Array(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_owned()))
                        .collect(),
                ),
            };
            set_path(&mut table, key, value);
        }
        keys::check_kinds(&mut table, &mut problems);
        let raw = match RawConfig::deserialize(toml::Value::Table(table)) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(e.to_string().trim().to_owned());
                return Err(ConfigError { problems });
            }
        };
        let effective = raw.effective();
        let config = raw
            .validate(&mut problems)
            .map(|c| Config { effective, ..c });
        match config {
            Some(c) if problems.is_empty() => Ok(c),
            _ => Err(ConfigError { problems }),
        }
    }
}

/// A PostgreSQL connection string with its password replaced by `***`, in either form:
/// `key=value` pairs (`password=…`) or a URL (`postgres://user:…@host/db`).
pub fn hide_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = rest
            .split_once('/')
            .map_or((rest, None), |(a, t)| (a, Some(t)));
        let authority = match authority.rsplit_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _)) => format!("{name}:***@{host}"),
                None => authority.to_owned(),
            },
            None => authority.to_owned(),
        };
        let tail = tail.map(|t| {
            t.split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.ends_with("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        return match tail {
            Some(t) => format!("{scheme}://{authority}/{t}"),
            None => format!("{scheme}://{authority}"),
        };
    }
    // key = value pairs; a value may be single-quoted, with \' and \\ inside.
    let mut out = String::new();
    let mut chars = url.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            out.push(c);
            chars.next();
            continue;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            out.push_str(&key);
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            value.push('\'');
            chars.next();
            while let Some(c) = chars.next() {
                value.push(c);
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    _ => {}
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        let value = if key == "password" {
            "***".to_owned()
        } else {
            value
        };
        out.push_str(&format!("{key}={value}"));
    }
    out
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(t) = entry else {
            return;
        };
        current = t;
    }
    current.insert(last.to_owned(), value);
}

fn readable(path: &Path, what: &str, problems: &mut Vec<String>) {
    if let Err(e) = std::fs::File::open(path) {
        problems.push(format!("{what} {}: {e}", path.display()));
    }
}

impl RawConfig {
    /// These settings as TOML, the database password hidden.
    fn effective(&self) -> String {
        let mut shown = self.clone();
        shown.store.postgres_url = shown.store.postgres_url.as_deref().map(hide_password);
        toml::to_string(&shown).unwrap_or_else(|e| format!("# the settings cannot be shown: {e}\n"))
    }

    /// What the mailbox tells people about the service: every text present, the notices'
    /// addresses https or this site's, the time zone one the system knows.
    fn mailbox_site(&self, problems: &mut Vec<String>) -> Option<Site> {
        let m = &self.mailbox;
        let mut ok = true;
        for (key, value) in [
            ("mailbox.operator_name", &m.operator_name),
            ("mailbox.contact", &m.contact),
            ("mailbox.legal_notice", &m.legal_notice),
        ] {
            if value.trim().is_empty() {
                problems.push(format!("{key}: empty (every page shows it)"));
                ok = false;
            }
        }
        for (key, value) in [
            ("mailbox.privacy_url", &m.privacy_url),
            ("mailbox.legal_url", &m.legal_url),
        ] {
            if !Site::link_ok(value) {
                problems.push(format!(
                    "{key} {value:?}: an https:// address or a path of this service (such as /mailbox/help#privacy)"
                ));
                ok = false;
            }
        }
        let time_zone = Site::time_zone(&m.time_zone)
            .map_err(|e| problems.push(format!("mailbox.time_zone: {e}")))
            .ok();
        Some(Site {
            operator: m.operator_name.trim().to_owned(),
            contact: m.contact.trim().to_owned(),
            privacy_url: m.privacy_url.clone(),
            legal_url: m.legal_url.clone(),
            legal_notice: m.legal_notice.trim().to_owned(),
            time_zone: time_zone?,
        })
        .filter(|_| ok)
    }

    fn validate(self, problems: &mut Vec<String>) -> Option<Config> {
        check_bounds(&self, problems);
        if self.limits.in_flight_bytes < self.limits.max_request_bytes {
            problems.push(format!(
                "limits.in_flight_bytes {} is less than limits.max_request_bytes {}: a request of the largest size could never be read",
                self.limits.in_flight_bytes, self.limits.max_request_bytes
            ));
        }
        if self.limits.max_document_bytes > self.limits.max_request_bytes {
            problems.push(format!(
                "limits.max_document_bytes {}: at most limits.max_request_bytes ({}), the request carrying it",
                self.limits.max_document_bytes, self.limits.max_request_bytes
            ));
        }
        let listen = self
            .listen
            .parse::<SocketAddr>()
            .map_err(|_| {
                problems.push(format!(
                    "listen {:?}: an IP address and a port, such as 127.0.0.1:8443 or [::]:8443 (a host name is not taken)",
                    self.listen
                ));
            })
            .ok();
        let log_format = match self.log_format.as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            other => {
                problems.push(format!(
                    "log_format {other:?}: expected \"text\" or \"json\""
                ));
                None
            }
        };
        readable(&self.tls.cert, "tls.cert", problems);
        readable(&self.tls.key, "tls.key", problems);
        readable(&self.tsa.cert, "tsa.cert", problems);
        readable(&self.tsa.key, "tsa.key", problems);
        if let Some(chain) = &self.tsa.chain {
            readable(chain, "tsa.chain", problems);
        }
        readable(&self.seal.cert, "seal.cert", problems);
        readable(&self.seal.key, "seal.key", problems);
        readable(
            &self.senders.trust_anchors,
            "senders.trust_anchors",
            problems,
        );
        if let Some(p) = &self.senders.intermediates {
            readable(p, "senders.intermediates", problems);
        }
        if self.seal.issuer_name.trim().is_empty() {
            problems.push("seal.issuer_name: empty".into());
        }
        readable(
            &self.mailbox.trust_anchors,
            "mailbox.trust_anchors",
            problems,
        );
        if let Some(p) = &self.mailbox.intermediates {
            readable(p, "mailbox.intermediates", problems);
        }
        if let Some(n) = &self.mailbox.notifier
            && !n.is_file()
        {
            problems.push(format!("mailbox.notifier {}: not a file", n.display()));
        }
        let mailbox_site = self.mailbox_site(problems);
        for auditor in &self.audit.auditors {
            readable(auditor, "audit.auditors", problems);
        }
        for crl in &self.revocation.crls {
            readable(crl, "revocation.crls", problems);
        }
        if let Some(url) = &self.revocation.ocsp_responder
            && !url
                .parse::<hyper::Uri>()
                .is_ok_and(|u| u.scheme_str() == Some("http") && u.host().is_some())
        {
            problems.push(format!(
                "revocation.ocsp_responder {url:?}: not an http:// URL"
            ));
        }
        if !self.revocation.ocsp && self.revocation.ocsp_responder.is_some() {
            problems.push(
                "revocation.ocsp_responder is set but revocation.ocsp is false: say revocation.ocsp = true to check OCSP".into(),
            );
        }
        if let Some(n) = &self.retention.notifier
            && !n.is_file()
        {
            problems.push(format!("retention.notifier {}: not a file", n.display()));
        }
        let sunsets = archive_sunsets(&self.evidence.archive_sunsets, problems);
        let store_backend = match (self.store.backend.as_str(), &self.store.postgres_url) {
            ("redb", _) => Some(StoreBackend::Redb),
            ("postgres", Some(url)) if !url.trim().is_empty() => {
                Some(StoreBackend::Postgres(url.clone()))
            }
            ("postgres", _) => {
                problems.push("store.backend \"postgres\" needs store.postgres_url".into());
                None
            }
            (other, _) => {
                problems.push(format!(
                    "store.backend {other:?}: expected \"redb\" or \"postgres\""
                ));
                None
            }
        };
        let sender_registry = validate_registry(&self.senders.registry, problems);
        let identity_providers =
            validate_identity_providers(&self.saml.identity_providers, problems);
        let oidc_providers = validate_oidc_providers(&self.oidc.providers, problems);
        // A sender's providers: SAML ones (its agents' vectors, their sign-in) or OpenID
        // Providers (their sign-in to the organisation's pages).
        for sender in &sender_registry {
            for p in &sender.identity_providers {
                if !identity_providers.iter().any(|i| i.entity_id == *p)
                    && !oidc_providers.iter().any(|o| o.issuer == *p)
                {
                    problems.push(format!(
                        "senders.registry {:?}: identity provider {p:?} is not in [[saml.identity_providers]] nor [[oidc.providers]]",
                        sender.id
                    ));
                }
            }
        }
        if self.saml.audience.trim().is_empty() {
            problems.push("saml.audience must not be empty".into());
        }
        if identity_providers.iter().filter(|p| p.citizens).count() > 1 {
            problems.push(
                "[[saml.identity_providers]]: at most one provider with citizens = true".into(),
            );
        }
        if !self.saml.acs_url.starts_with("https://") {
            problems.push(format!(
                "saml.acs_url {:?}: an https:// URL",
                self.saml.acs_url
            ));
        }
        let clock = self
            .tsa
            .clock
            .parse::<ClockKind>()
            .map_err(|e| problems.push(format!("tsa.clock: {e}")))
            .ok();
        let mut oid = |what: &str, text: &str| {
            text.parse::<ObjectIdentifier>()
                .map_err(|e| problems.push(format!("{what} {text:?}: not an OID ({e})")))
                .ok()
        };
        let policy = oid("tsa.policy", &self.tsa.policy);
        let accepted: Vec<Option<ObjectIdentifier>> = self
            .tsa
            .accept_policies
            .iter()
            .map(|p| oid("tsa.accept_policies", p))
            .collect();
        let tsa_endpoint = match self.tsa.endpoint.as_str() {
            "off" => Some(TsaEndpoint::Off),
            // Within u32 once within their bounds (checked above).
            "senders" => match (
                u32::try_from(self.tsa.endpoint_rate_per_minute),
                u32::try_from(self.tsa.endpoint_burst),
            ) {
                (Ok(per_minute), Ok(burst)) => Some(TsaEndpoint::Senders { per_minute, burst }),
                _ => None,
            },
            other => {
                problems.push(format!(
                    "tsa.endpoint {other:?}: expected \"off\" or \"senders\""
                ));
                None
            }
        };
        let tsa_remote = remote_tsas(
            "tsa.remote",
            &self.tsa.remote,
            &self.tsa.remote_units,
            self.tsa.remote_trust_anchors.as_ref(),
            &self.senders.trust_anchors,
            (self.tsa.remote_timeout_ms, self.tsa.remote_max_skew_s),
            problems,
        );
        for unit in &self.tsa.previous_units {
            readable(unit, "tsa.previous_units", problems);
        }
        let tsa_counter_stamp = remote_tsas(
            "tsa.counter_stamp",
            &self.tsa.counter_stamp,
            &self.tsa.counter_stamp_units,
            self.tsa.counter_stamp_trust_anchors.as_ref(),
            &self.senders.trust_anchors,
            (self.tsa.remote_timeout_ms, self.tsa.remote_max_skew_s),
            problems,
        );
        // A Unix socket's path has at most 107 bytes: one configured longer stops the start;
        // the default under a long data_dir is left out (administration then on the stopped
        // service, as the start's log says).
        let admin_socket = match self.admin.socket.as_deref() {
            Some("off") => Some(None),
            Some(path) if path.len() > MAX_SOCKET_PATH => {
                problems.push(format!(
                    "admin.socket {path:?}: longer than {MAX_SOCKET_PATH} bytes"
                ));
                None
            }
            Some(path) => Some(Some(PathBuf::from(path))),
            None => Some(
                Some(self.data_dir.join("admin").join("sealpost.sock"))
                    .filter(|p| p.as_os_str().len() <= MAX_SOCKET_PATH),
            ),
        };
        Some(Config {
            listen: listen?,
            log_format: log_format?,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_s),
            tls_cert: self.tls.cert,
            tls_key: self.tls.key,
            tsa: TsaSettings {
                cert: self.tsa.cert,
                key: self.tsa.key,
                chain: self.tsa.chain,
                serial_state: self.data_dir.join("tsa").join("serial"),
                // Set from the store at start (`Backend::node_number`).
                node: 0,
                clock: clock?,
                policy: policy?,
                accepted_policies: accepted.into_iter().collect::<Option<Vec<_>>>()?,
                accuracy: Duration::from_millis(self.tsa.accuracy_ms),
            },
            tsa_endpoint: tsa_endpoint?,
            tsa_remote: tsa_remote?,
            tsa_counter_stamp: tsa_counter_stamp?,
            tsa_counter_stamp_evidences: self.tsa.counter_stamp_evidences,
            tsa_previous_units: self.tsa.previous_units.clone(),
            seal_cert: self.seal.cert,
            seal_key: self.seal.key,
            issuer_name: self.seal.issuer_name,
            sender_trust_anchors: self.senders.trust_anchors,
            sender_intermediates: self.senders.intermediates,
            max_clock_skew: Duration::from_secs(self.senders.max_clock_skew_s),
            max_message_age: Duration::from_secs(self.senders.max_message_age_s),
            sender_registry,
            identity_providers,
            oidc_providers,
            saml_audience: self.saml.audience.clone(),
            saml_acs_url: self.saml.acs_url.clone(),
            mailbox_levels: sealpost_mailbox::web::LoginLevels {
                password_totp: u8::try_from(self.mailbox.password_totp_level).unwrap_or(u8::MAX),
                certificate: u8::try_from(self.mailbox.certificate_level).unwrap_or(u8::MAX),
            },
            opening_levels: self.mailbox.opening_levels.clone(),
            max_assertion_age: Duration::from_secs(self.saml.max_assertion_age_s),
            max_request_bytes: usize::try_from(self.limits.max_request_bytes).unwrap_or(usize::MAX),
            in_flight_bytes: self.limits.in_flight_bytes,
            connections: crate::adapters::http::ConnectionLimits {
                max_connections: usize::try_from(self.limits.max_connections).unwrap_or(usize::MAX),
                max_connections_per_peer: usize::try_from(self.limits.max_connections_per_peer)
                    .unwrap_or(usize::MAX),
                handshake_timeout: Duration::from_secs(self.limits.handshake_timeout_s),
                header_timeout: Duration::from_secs(self.limits.header_timeout_s),
                idle_timeout: Duration::from_secs(self.limits.idle_timeout_s),
            },
            body_pace: crate::adapters::admission::BodyPace {
                grace: Duration::from_secs(self.limits.body_grace_s),
                min_bytes_per_s: self.limits.body_min_bytes_per_s,
                large_min_bytes_per_s: self.limits.large_body_min_bytes_per_s,
            },
            max_document_bytes: self.limits.max_document_bytes,
            max_documents: usize::try_from(self.limits.max_documents).unwrap_or(16),
            audit_seal_interval: Duration::from_secs(self.audit.seal_interval_s),
            evidence: EvidenceSettings {
                long_term: self.evidence.long_term,
                archive_interval: Duration::from_secs(self.evidence.archive_interval_s),
                archive_policy: ArchivePolicy {
                    renew_before: Duration::from_secs(
                        self.evidence
                            .archive_renew_before_days
                            .saturating_mul(86_400),
                    ),
                    sunsets,
                },
            },
            audit_auditors: self.audit.auditors,
            store_backend: store_backend?,
            retention: RetentionSettings {
                inactive: Duration::from_secs(self.retention.inactive_s),
                notice: Duration::from_secs(self.retention.notice_s),
                interval: Duration::from_secs(self.retention.interval_s),
                traces: Duration::from_secs(self.retention.traces_s),
                evidence: Duration::from_secs(self.retention.evidence_s),
                notifier: self.retention.notifier,
            },
            mailbox_trust_anchors: self.mailbox.trust_anchors,
            mailbox_intermediates: self.mailbox.intermediates,
            mailbox_idle_timeout_s: self.mailbox.idle_timeout_s,
            mailbox_site: mailbox_site?,
            mailbox_notifier: self.mailbox.notifier,
            mailbox_notify_interval: Duration::from_secs(self.mailbox.notify_interval_s),
            store_cache_bytes: usize::try_from(self.store.cache_mib.saturating_mul(1 << 20))
                .unwrap_or(usize::MAX),
            revocation_crls: self.revocation.crls,
            revocation_refresh: Duration::from_secs(self.revocation.refresh_s),
            revocation_ocsp: self.revocation.ocsp.then(|| OcspSettings {
                responder: self.revocation.ocsp_responder.clone(),
                timeout: Duration::from_millis(self.revocation.ocsp_timeout_ms),
                policy: ResponsePolicy {
                    max_age: Duration::from_secs(self.revocation.ocsp_max_age_s),
                    clock_skew: OCSP_CLOCK_SKEW,
                    require_nonce: self.revocation.ocsp_require_nonce,
                },
            }),
            revocation_crl_distribution_points: self.revocation.crl_distribution_points.then(
                || CrlFetchSettings {
                    timeout: Duration::from_millis(self.revocation.crl_timeout_ms),
                    fetch_interval: Duration::from_secs(self.revocation.crl_fetch_interval_s),
                },
            ),
            admin_socket: admin_socket?,
            effective: String::new(),
            data_dir: self.data_dir,
        })
    }
}

/// `evidence.archive_sunsets`: each `ALGORITHM=YYYY-MM-DD` (sha384, sha512; a date from which
/// that digest algorithm is no longer trusted), every mistake named.
fn archive_sunsets(
    entries: &[String],
    problems: &mut Vec<String>,
) -> Vec<(ObjectIdentifier, std::time::SystemTime)> {
    let mut sunsets = Vec::new();
    for entry in entries {
        let Some((name, date)) = entry.split_once('=') else {
            problems.push(format!(
                "evidence.archive_sunsets {entry:?}: ALGORITHM=YYYY-MM-DD expected, such as \"sha384=2045-01-01\""
            ));
            continue;
        };
        let (name, date) = (name.trim(), date.trim());
        let Some(algorithm) = digest_algorithm_named(name) else {
            problems.push(format!(
                "evidence.archive_sunsets {entry:?}: {name:?} is not a digest algorithm (sha256, sha384, sha512)"
            ));
            continue;
        };
        if algorithm == sealpost_tsa::asn1::oid::SHA256 {
            problems.push(format!(
                "evidence.archive_sunsets {entry:?}: the archive time-stamps are made with SHA-256, so a new one would not help once SHA-256 is no longer trusted; leave sha256 out"
            ));
            continue;
        }
        let at = (date.len() == 10)
            .then(|| sealpost_xmldsig::wss::parse_date_time(&format!("{date}T00:00:00Z")).ok())
            .flatten();
        match at {
            Some(at) => sunsets.push((algorithm, at)),
            None => problems.push(format!(
                "evidence.archive_sunsets {entry:?}: {date:?} is not a date (YYYY-MM-DD)"
            )),
        }
    }
    sunsets
}
