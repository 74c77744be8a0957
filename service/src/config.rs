//! Configuration: one TOML file, every key overridable by a `SEALPOST_*` environment variable
//! (`tsa.clock` is `SEALPOST_TSA_CLOCK`), every value validated at start (each whole number
//! within the bounds its row of `KEYS` gives) with every problem reported at once. Without a file, the embedded defaults serve the development PKI that
//! `make run` creates under `certs/dev/`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use der::asn1::ObjectIdentifier;
use sealpost_tsa::authority::TsaSettings;
use sealpost_tsa::clock::ClockKind;
use serde::{Deserialize, Serialize};

use crate::core::ids::RecipientKind;

/// The settings as written (file, environment, defaults), before validation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "defaults::listen")]
    listen: String,
    #[serde(default = "defaults::data_dir")]
    data_dir: PathBuf,
    #[serde(default = "defaults::log_format")]
    log_format: String,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    tsa: RawTsa,
    #[serde(default)]
    seal: RawSeal,
    #[serde(default)]
    senders: RawSenders,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    mailbox: RawMailbox,
    #[serde(default)]
    retention: RawRetention,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    #[serde(default = "defaults::inactive_s")]
    inactive_s: u64,
    #[serde(default = "defaults::notice_s")]
    notice_s: u64,
    #[serde(default = "defaults::retention_interval_s")]
    interval_s: u64,
    #[serde(default = "defaults::traces_s")]
    traces_s: u64,
    #[serde(default = "defaults::evidence_s")]
    evidence_s: u64,
    #[serde(default)]
    notifier: Option<PathBuf>,
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            inactive_s: defaults::inactive_s(),
            notice_s: defaults::notice_s(),
            interval_s: defaults::retention_interval_s(),
            traces_s: defaults::traces_s(),
            evidence_s: defaults::evidence_s(),
            notifier: None,
        }
    }
}

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

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawMailbox {
    /// PEM file of the CAs people's client certificates must chain to (certificate login).
    #[serde(default = "defaults::senders_trust")]
    trust_anchors: PathBuf,
    #[serde(default = "defaults::senders_intermediates")]
    intermediates: Option<PathBuf>,
    #[serde(default = "defaults::mailbox_idle_timeout_s")]
    idle_timeout_s: u64,
}

impl Default for RawMailbox {
    fn default() -> Self {
        RawMailbox {
            trust_anchors: defaults::senders_trust(),
            intermediates: defaults::senders_intermediates(),
            idle_timeout_s: defaults::mailbox_idle_timeout_s(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default = "defaults::store_backend")]
    backend: String,
    #[serde(default = "defaults::store_cache_mib")]
    cache_mib: u64,
    #[serde(default)]
    postgres_url: Option<String>,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            backend: defaults::store_backend(),
            cache_mib: defaults::store_cache_mib(),
            postgres_url: None,
        }
    }
}

/// Where the service keeps its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreBackend {
    /// The embedded store under `data_dir`.
    Redb,
    /// A PostgreSQL database (connection string), for several processes.
    Postgres(String),
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawSeal {
    #[serde(default = "defaults::seal_cert")]
    cert: PathBuf,
    #[serde(default = "defaults::seal_key")]
    key: PathBuf,
    #[serde(default = "defaults::issuer_name")]
    issuer_name: String,
}

impl Default for RawSeal {
    fn default() -> Self {
        RawSeal {
            cert: defaults::seal_cert(),
            key: defaults::seal_key(),
            issuer_name: defaults::issuer_name(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawSenders {
    /// PEM file of the CAs sender certificates must chain to.
    #[serde(default = "defaults::senders_trust")]
    trust_anchors: PathBuf,
    /// PEM file of intermediate CAs that may complete a sender's path.
    #[serde(default = "defaults::senders_intermediates")]
    intermediates: Option<PathBuf>,
    #[serde(default = "defaults::max_clock_skew_s")]
    max_clock_skew_s: u64,
    #[serde(default = "defaults::max_message_age_s")]
    max_message_age_s: u64,
    /// Sender organisations declared here (`[[senders.registry]]`), written into the store's
    /// registry when the service starts.
    #[serde(default)]
    registry: Vec<RawSenderEntry>,
}

impl Default for RawSenders {
    fn default() -> Self {
        RawSenders {
            trust_anchors: defaults::senders_trust(),
            intermediates: defaults::senders_intermediates(),
            max_clock_skew_s: defaults::max_clock_skew_s(),
            max_message_age_s: defaults::max_message_age_s(),
            registry: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawSenderEntry {
    id: String,
    name: String,
    /// PEM files, one certificate each (the first of the file).
    certificates: Vec<PathBuf>,
    message_types: Vec<String>,
    #[serde(default = "defaults::recipient_kinds")]
    recipients: Vec<String>,
    #[serde(default = "defaults::active")]
    active: bool,
}

/// A sender organisation declared in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderEntry {
    pub id: String,
    pub name: String,
    pub certificates: Vec<PathBuf>,
    pub message_types: Vec<String>,
    pub recipient_kinds: Vec<RecipientKind>,
    pub active: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default = "defaults::max_request_bytes")]
    max_request_bytes: u64,
    #[serde(default = "defaults::max_document_bytes")]
    max_document_bytes: u64,
    #[serde(default = "defaults::max_documents")]
    max_documents: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_request_bytes: defaults::max_request_bytes(),
            max_document_bytes: defaults::max_document_bytes(),
            max_documents: defaults::max_documents(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    #[serde(default = "defaults::audit_seal_interval_s")]
    seal_interval_s: u64,
}

impl Default for RawAudit {
    fn default() -> Self {
        RawAudit {
            seal_interval_s: defaults::audit_seal_interval_s(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default = "defaults::tls_cert")]
    cert: PathBuf,
    #[serde(default = "defaults::tls_key")]
    key: PathBuf,
}

impl Default for RawTls {
    fn default() -> Self {
        RawTls {
            cert: defaults::tls_cert(),
            key: defaults::tls_key(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawTsa {
    #[serde(default = "defaults::tsa_cert")]
    cert: PathBuf,
    #[serde(default = "defaults::tsa_key")]
    key: PathBuf,
    #[serde(default = "defaults::tsa_chain")]
    chain: Option<PathBuf>,
    #[serde(default = "defaults::tsa_clock")]
    clock: String,
    #[serde(default = "defaults::tsa_policy")]
    policy: String,
    #[serde(default)]
    accept_policies: Vec<String>,
    #[serde(default = "defaults::tsa_accuracy_ms")]
    accuracy_ms: u64,
    /// Who may use `POST /tsa` on the service port: `off` (not served) or `senders`
    /// (registered senders over mutual TLS).
    #[serde(default = "defaults::tsa_endpoint")]
    endpoint: String,
    /// With `senders`: the tokens a sender may have a minute, and at once.
    #[serde(default = "defaults::tsa_endpoint_rate_per_minute")]
    endpoint_rate_per_minute: u64,
    #[serde(default = "defaults::tsa_endpoint_burst")]
    endpoint_burst: u64,
}

impl Default for RawTsa {
    fn default() -> Self {
        RawTsa {
            cert: defaults::tsa_cert(),
            key: defaults::tsa_key(),
            chain: defaults::tsa_chain(),
            clock: defaults::tsa_clock(),
            policy: defaults::tsa_policy(),
            accept_policies: Vec::new(),
            accuracy_ms: defaults::tsa_accuracy_ms(),
            endpoint: defaults::tsa_endpoint(),
            endpoint_rate_per_minute: defaults::tsa_endpoint_rate_per_minute(),
            endpoint_burst: defaults::tsa_endpoint_burst(),
        }
    }
}

mod defaults {
    use std::path::PathBuf;

    pub fn listen() -> String {
        "127.0.0.1:8443".into()
    }
    pub fn data_dir() -> PathBuf {
        "var".into()
    }
    pub fn log_format() -> String {
        "text".into()
    }
    pub fn tls_cert() -> PathBuf {
        "certs/dev/tls-chain.pem".into()
    }
    pub fn tls_key() -> PathBuf {
        "certs/dev/tls.key".into()
    }
    pub fn tsa_cert() -> PathBuf {
        "certs/dev/tsa.pem".into()
    }
    pub fn tsa_key() -> PathBuf {
        "certs/dev/tsa.key".into()
    }
    pub fn tsa_chain() -> Option<PathBuf> {
        Some("certs/dev/issuing-ca.pem".into())
    }
    pub fn tsa_clock() -> String {
        "kernel".into()
    }
    pub fn tsa_policy() -> String {
        "0.4.0.2023.1.1".into()
    }
    pub fn tsa_accuracy_ms() -> u64 {
        1000
    }
    pub fn tsa_endpoint() -> String {
        "off".into()
    }
    pub fn tsa_endpoint_rate_per_minute() -> u64 {
        60
    }
    pub fn tsa_endpoint_burst() -> u64 {
        10
    }
    pub fn seal_cert() -> PathBuf {
        "certs/dev/seal-chain.pem".into()
    }
    pub fn seal_key() -> PathBuf {
        "certs/dev/seal.key".into()
    }
    pub fn issuer_name() -> String {
        "Sealpost".into()
    }
    pub fn senders_trust() -> PathBuf {
        "certs/dev/root-ca.pem".into()
    }
    pub fn senders_intermediates() -> Option<PathBuf> {
        Some("certs/dev/issuing-ca.pem".into())
    }
    pub fn max_clock_skew_s() -> u64 {
        300
    }
    pub fn max_message_age_s() -> u64 {
        900
    }
    pub fn max_request_bytes() -> u64 {
        140 * 1024 * 1024
    }
    pub fn max_document_bytes() -> u64 {
        100 * 1024 * 1024
    }
    pub fn max_documents() -> u64 {
        16
    }
    pub fn audit_seal_interval_s() -> u64 {
        300
    }
    pub fn inactive_s() -> u64 {
        365 * 86_400
    }
    pub fn notice_s() -> u64 {
        30 * 86_400
    }
    pub fn evidence_s() -> u64 {
        3652 * 86_400
    }
    pub fn traces_s() -> u64 {
        365 * 86_400
    }
    pub fn retention_interval_s() -> u64 {
        86_400
    }
    pub fn mailbox_idle_timeout_s() -> u64 {
        900
    }
    pub fn store_backend() -> String {
        "redb".into()
    }
    pub fn store_cache_mib() -> u64 {
        64
    }
    pub fn recipient_kinds() -> Vec<String> {
        vec!["citizen".into(), "company".into()]
    }
    pub fn active() -> bool {
        true
    }
}

/// What a key holds: how a `SEALPOST_*` variable's text becomes a TOML value and, for a whole
/// number, the range it must lie in (checked at start whoever set it: the file, the
/// environment or the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    /// A whole number in `min..=max`.
    Integer {
        min: u64,
        max: u64,
    },
    /// Comma-separated.
    List,
}

/// A whole number in `min..=max`.
const fn int(min: u64, max: u64) -> Kind {
    Kind::Integer { min, max }
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const YEAR: u64 = 365 * DAY;
/// The longest retention: a century, far from where `SystemTime` arithmetic overflows.
const CENTURY: u64 = 100 * YEAR;
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Every key the environment can set, with its bounds: the one table of a key's facts besides
/// its field and default (a test checks it against the fields). The README's bounds come from
/// here. Relations between keys (a document fits in a request) are checked in `validate`.
const KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("data_dir", Kind::Text),
    ("log_format", Kind::Text),
    ("tls.cert", Kind::Text),
    ("tls.key", Kind::Text),
    ("tsa.cert", Kind::Text),
    ("tsa.key", Kind::Text),
    ("tsa.chain", Kind::Text),
    ("tsa.clock", Kind::Text),
    ("tsa.policy", Kind::Text),
    ("tsa.accept_policies", Kind::List),
    // genTime has whole seconds; a token vaguer than a minute says little.
    ("tsa.accuracy_ms", int(1000, 60_000)),
    ("tsa.endpoint", Kind::Text),
    ("tsa.endpoint_rate_per_minute", int(1, 1_000_000)),
    ("tsa.endpoint_burst", int(1, 1_000_000)),
    ("seal.cert", Kind::Text),
    ("seal.key", Kind::Text),
    ("seal.issuer_name", Kind::Text),
    ("senders.trust_anchors", Kind::Text),
    ("senders.intermediates", Kind::Text),
    ("senders.max_clock_skew_s", int(0, HOUR)),
    ("senders.max_message_age_s", int(1, DAY)),
    // A signed SOAP envelope alone takes kilobytes; the body is held in memory.
    ("limits.max_request_bytes", int(64 * KIB, GIB)),
    ("limits.max_document_bytes", int(KIB, GIB)),
    ("limits.max_documents", int(1, 64)),
    ("audit.seal_interval_s", int(1, DAY)),
    ("mailbox.trust_anchors", Kind::Text),
    ("mailbox.intermediates", Kind::Text),
    ("mailbox.idle_timeout_s", int(MINUTE, DAY)),
    ("retention.inactive_s", int(1, CENTURY)),
    // Zero: deleted at the first run after the notice.
    ("retention.notice_s", int(0, CENTURY)),
    ("retention.interval_s", int(1, 30 * DAY)),
    ("retention.traces_s", int(1, CENTURY)),
    ("retention.evidence_s", int(1, CENTURY)),
    ("retention.notifier", Kind::Text),
    ("store.backend", Kind::Text),
    ("store.cache_mib", int(1, 64 * 1024)),
    ("store.postgres_url", Kind::Text),
];

/// Keys only the file sets (tables of their own), not the environment.
const FILE_ONLY: &[&str] = &["senders.registry"];

/// Environment variables with the prefix that are not settings.
const NOT_SETTINGS: &[&str] = &["SEALPOST_CONFIG", "SEALPOST_LOG"];

fn env_name(key: &str) -> String {
    format!("SEALPOST_{}", key.replace('.', "_").to_uppercase())
}

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

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub tsa: TsaSettings,
    /// `tsa.endpoint`: who may use `POST /tsa` on the service port.
    pub tsa_endpoint: TsaEndpoint,
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
    pub max_request_bytes: usize,
    pub max_document_bytes: u64,
    pub max_documents: usize,
    pub audit_seal_interval: Duration,
    pub store_backend: StoreBackend,
    pub retention: RetentionSettings,
    /// CAs (and intermediates) of people's client certificates, for certificate login.
    pub mailbox_trust_anchors: PathBuf,
    pub mailbox_intermediates: Option<PathBuf>,
    /// A mailbox session ends after this long without a request.
    pub mailbox_idle_timeout_s: u64,
    /// The most memory the embedded store keeps pages in.
    pub store_cache_bytes: usize,
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
        let raw = match RawConfig::deserialize(toml::Value::Table(table)) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(e.to_string().trim().to_owned());
                return Err(ConfigError { problems });
            }
        };
        let config = raw.validate(&mut problems);
        match config {
            Some(c) if problems.is_empty() => Ok(c),
            _ => Err(ConfigError { problems }),
        }
    }
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
    fn validate(self, problems: &mut Vec<String>) -> Option<Config> {
        check_bounds(&self, problems);
        if self.limits.max_document_bytes > self.limits.max_request_bytes {
            problems.push(format!(
                "limits.max_document_bytes {}: at most limits.max_request_bytes ({}), the request carrying it",
                self.limits.max_document_bytes, self.limits.max_request_bytes
            ));
        }
        let listen = self
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| problems.push(format!("listen {:?}: {e}", self.listen)))
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
        if let Some(n) = &self.retention.notifier
            && !n.is_file()
        {
            problems.push(format!("retention.notifier {}: not a file", n.display()));
        }
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
        Some(Config {
            listen: listen?,
            log_format: log_format?,
            tls_cert: self.tls.cert,
            tls_key: self.tls.key,
            tsa: TsaSettings {
                cert: self.tsa.cert,
                key: self.tsa.key,
                chain: self.tsa.chain,
                serial_state: self.data_dir.join("tsa").join("serial"),
                clock: clock?,
                policy: policy?,
                accepted_policies: accepted.into_iter().collect::<Option<Vec<_>>>()?,
                accuracy: Duration::from_millis(self.tsa.accuracy_ms),
            },
            tsa_endpoint: tsa_endpoint?,
            data_dir: self.data_dir,
            seal_cert: self.seal.cert,
            seal_key: self.seal.key,
            issuer_name: self.seal.issuer_name,
            sender_trust_anchors: self.senders.trust_anchors,
            sender_intermediates: self.senders.intermediates,
            max_clock_skew: Duration::from_secs(self.senders.max_clock_skew_s),
            max_message_age: Duration::from_secs(self.senders.max_message_age_s),
            sender_registry,
            max_request_bytes: usize::try_from(self.limits.max_request_bytes).unwrap_or(usize::MAX),
            max_document_bytes: self.limits.max_document_bytes,
            max_documents: usize::try_from(self.limits.max_documents).unwrap_or(16),
            audit_seal_interval: Duration::from_secs(self.audit.seal_interval_s),
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
            store_cache_bytes: usize::try_from(self.store.cache_mib.saturating_mul(1 << 20))
                .unwrap_or(usize::MAX),
        })
    }
}

/// Every whole number within the bounds of its row in `KEYS`, read by key from the settings as
/// deserialized (so whatever set it: the file, the environment or the default).
fn check_bounds(raw: &RawConfig, problems: &mut Vec<String>) {
    let settings = match serde_json::to_value(raw) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("the settings cannot be read back: {e}"));
            return;
        }
    };
    for &(key, kind) in KEYS {
        let Kind::Integer { min, max } = kind else {
            continue;
        };
        match setting(&settings, key) {
            Some(serde_json::Value::Number(n)) => match n.as_u64() {
                Some(v) if (min..=max).contains(&v) => {}
                _ => problems.push(format!("{key} {n}: between {min} and {max}")),
            },
            // An optional number left out.
            Some(serde_json::Value::Null) => {}
            _ => problems.push(format!("{key}: not a whole number setting")),
        }
    }
}

/// The value of a dotted key in the settings as a JSON value.
fn setting<'a>(settings: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    key.split('.').try_fold(settings, |v, part| v.get(part))
}

/// The `[[senders.registry]]` entries, checked for what can be checked without the PKI (the
/// certificates are validated against the trust anchors when the service starts).
fn validate_registry(entries: &[RawSenderEntry], problems: &mut Vec<String>) -> Vec<SenderEntry> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = format!("senders.registry[{i}] ({:?})", e.id);
        if e.id.trim().is_empty() || e.name.trim().is_empty() {
            problems.push(format!("{at}: id and name must not be empty"));
        }
        if !seen.insert(e.id.clone()) {
            problems.push(format!("{at}: the id is declared twice"));
        }
        if e.certificates.is_empty() {
            problems.push(format!("{at}: no certificate"));
        }
        for cert in &e.certificates {
            readable(cert, &format!("{at} certificate"), problems);
        }
        let message_types: Vec<String> = e
            .message_types
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if message_types.is_empty() {
            problems.push(format!("{at}: no message type"));
        }
        let mut recipient_kinds = Vec::new();
        for r in &e.recipients {
            match RecipientKind::parse(r.trim()) {
                Some(kind) => recipient_kinds.push(kind),
                None => problems.push(format!("{at}: recipient kind {r:?}: citizen or company")),
            }
        }
        if recipient_kinds.is_empty() {
            problems.push(format!("{at}: no recipient kind"));
        }
        out.push(SenderEntry {
            id: e.id.clone(),
            name: e.name.clone(),
            certificates: e.certificates.clone(),
            message_types,
            recipient_kinds,
            active: e.active,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn files(dir: &Path) -> Vec<(String, String)> {
        for f in [
            "tls.pem",
            "tls.key",
            "tsa.pem",
            "tsa.key",
            "chain.pem",
            "seal.pem",
            "seal.key",
            "root.pem",
        ] {
            std::fs::write(dir.join(f), "x").expect("write");
        }
        let p = |f: &str| dir.join(f).display().to_string();
        vec![
            ("SEALPOST_TLS_CERT".into(), p("tls.pem")),
            ("SEALPOST_TLS_KEY".into(), p("tls.key")),
            ("SEALPOST_TSA_CERT".into(), p("tsa.pem")),
            ("SEALPOST_TSA_KEY".into(), p("tsa.key")),
            ("SEALPOST_TSA_CHAIN".into(), p("chain.pem")),
            ("SEALPOST_SEAL_CERT".into(), p("seal.pem")),
            ("SEALPOST_SEAL_KEY".into(), p("seal.key")),
            ("SEALPOST_SENDERS_TRUST_ANCHORS".into(), p("root.pem")),
            ("SEALPOST_SENDERS_INTERMEDIATES".into(), p("chain.pem")),
            ("SEALPOST_MAILBOX_TRUST_ANCHORS".into(), p("root.pem")),
            ("SEALPOST_MAILBOX_INTERMEDIATES".into(), p("chain.pem")),
        ]
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sealpost-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = temp_dir("override");
        let file = dir.join("sealpost.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\n[tsa]\nclock = \"kernel\"\n",
        )
        .expect("write");
        let mut vars = files(&dir);
        vars.extend(env(&[
            ("SEALPOST_TSA_CLOCK", "unchecked"),
            ("SEALPOST_TSA_ACCEPT_POLICIES", "1.2.3.4, 1.2.3.5"),
            ("PATH", "/usr/bin"),
        ]));
        let config = Config::load(Some(&file), vars).expect("valid");
        assert_eq!(config.listen.port(), 1);
        assert_eq!(config.tsa.clock, ClockKind::Unchecked);
        assert_eq!(config.tsa.accepted_policies.len(), 2);
        assert_eq!(config.tsa.serial_state, Path::new("var/tsa/serial"));
        assert_eq!(config.tsa_endpoint, TsaEndpoint::Off, "off by default");
    }

    #[test]
    fn the_time_stamp_endpoint_is_opened_to_senders_with_a_rate() {
        let dir = temp_dir("tsa-endpoint");
        let mut vars = files(&dir);
        vars.extend(env(&[
            ("SEALPOST_TSA_ENDPOINT", "senders"),
            ("SEALPOST_TSA_ENDPOINT_BURST", "3"),
        ]));
        let config = Config::load(None, vars).expect("valid");
        assert_eq!(
            config.tsa_endpoint,
            TsaEndpoint::Senders {
                per_minute: 60,
                burst: 3
            }
        );
        let mut vars = files(&dir);
        vars.extend(env(&[
            ("SEALPOST_TSA_ENDPOINT", "everyone"),
            ("SEALPOST_TSA_ENDPOINT_RATE_PER_MINUTE", "0"),
        ]));
        let all = Config::load(None, vars)
            .expect_err("invalid")
            .problems
            .join("\n");
        assert!(all.contains("tsa.endpoint \"everyone\""), "{all}");
        let mut vars = files(&dir);
        vars.extend(env(&[
            ("SEALPOST_TSA_ENDPOINT", "senders"),
            ("SEALPOST_TSA_ENDPOINT_RATE_PER_MINUTE", "0"),
        ]));
        let all = Config::load(None, vars)
            .expect_err("invalid")
            .problems
            .join("\n");
        assert!(all.contains("tsa.endpoint_rate_per_minute 0"), "{all}");
    }

    #[test]
    fn the_sender_registry_is_read_from_the_file_with_every_mistake_named() {
        let dir = temp_dir("registry");
        let file = dir.join("sealpost.toml");
        let cert = dir.join("root.pem").display().to_string();
        std::fs::write(
            &file,
            format!(
                "[[senders.registry]]\nid = \"agency-a\"\nname = \"Agency A\"\ncertificates = [{cert:?}]\nmessage_types = [\"tax-assessment\", \" \"]\n\n[[senders.registry]]\nid = \"agency-b\"\nname = \"Agency B\"\ncertificates = [{cert:?}]\nmessage_types = [\"information\"]\nrecipients = [\"citizen\"]\nactive = false\n"
            ),
        )
        .expect("write");
        let vars = files(&dir);
        let config = Config::load(Some(&file), vars.clone()).expect("valid");
        assert_eq!(config.sender_registry.len(), 2);
        let a = &config.sender_registry[0];
        assert_eq!(a.message_types, vec!["tax-assessment".to_owned()]);
        assert_eq!(
            a.recipient_kinds,
            vec![RecipientKind::Citizen, RecipientKind::Company]
        );
        assert!(a.active);
        let b = &config.sender_registry[1];
        assert_eq!(b.recipient_kinds, vec![RecipientKind::Citizen]);
        assert!(!b.active);

        std::fs::write(
            &file,
            "[[senders.registry]]\nid = \"x\"\nname = \"X\"\ncertificates = [\"/nonexistent.pem\"]\nmessage_types = []\nrecipients = [\"robot\"]\n\n[[senders.registry]]\nid = \"x\"\nname = \"X again\"\ncertificates = []\nmessage_types = [\"a\"]\n",
        )
        .expect("write");
        let problems = Config::load(Some(&file), vars)
            .expect_err("invalid")
            .problems;
        for expected in [
            "/nonexistent.pem",
            "no message type",
            "\"robot\"",
            "declared twice",
            "no certificate",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected}: {problems:?}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = temp_dir("problems");
        let file = dir.join("sealpost.toml");
        std::fs::write(
            &file,
            "listen = \"nowhere\"\n[tsa]\nclock = \"sundial\"\npolicy = \"x\"\naccuracy_ms = 10\n",
        )
        .expect("write");
        let mut vars = env(&[
            ("SEALPOST_TLS_CERT", "/nonexistent/tls.pem"),
            ("SEALPOST_TYPO", "1"),
        ]);
        vars.push(("SEALPOST_TSA_ACCURACY_MS".into(), "soon".into()));
        let err = Config::load(Some(&file), vars).expect_err("invalid");
        let all = err.problems.join("\n");
        for expected in [
            "SEALPOST_TYPO: no such setting",
            "SEALPOST_TSA_ACCURACY_MS",
            "listen \"nowhere\"",
            "tls.cert /nonexistent/tls.pem",
            "tsa.clock",
            "tsa.policy \"x\"",
            "tsa.accuracy_ms 10",
        ] {
            assert!(all.contains(expected), "{expected:?} missing from:\n{all}");
        }
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error() {
        let dir = temp_dir("unknown");
        let file = dir.join("sealpost.toml");
        std::fs::write(&file, "[tsa]\nclokc = \"kernel\"\n").expect("write");
        let err = Config::load(Some(&file), files(&dir)).expect_err("typo");
        assert!(err.problems.join("\n").contains("clokc"), "{err}");
    }

    /// Every key the serde structure has: the leaves of the settings written back (a table is
    /// walked; anything else, a list included, is one key), with what each holds.
    fn fields(
        value: &serde_json::Value,
        prefix: &str,
        out: &mut BTreeMap<String, serde_json::Value>,
    ) {
        match value {
            serde_json::Value::Object(map) => {
                for (name, v) in map {
                    let key = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    fields(v, &key, out);
                }
            }
            leaf => {
                out.insert(prefix.to_owned(), leaf.clone());
            }
        }
    }

    /// The defaults, as `load` sees them with neither file nor environment.
    fn default_settings() -> serde_json::Value {
        let raw = RawConfig::deserialize(toml::Value::Table(toml::Table::new())).expect("defaults");
        serde_json::to_value(&raw).expect("the settings serialize")
    }

    /// The keys with bounds: (key, min, max).
    fn bounded() -> impl Iterator<Item = (&'static str, u64, u64)> {
        KEYS.iter().filter_map(|&(key, kind)| match kind {
            Kind::Integer { min, max } => Some((key, min, max)),
            Kind::Text | Kind::List => None,
        })
    }

    /// The problems of loading the test files with `pairs` as well; none if it loads.
    fn problems_with(dir: &Path, pairs: &[(&str, String)]) -> Vec<String> {
        let mut vars = files(dir);
        vars.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        Config::load(None, vars)
            .err()
            .map_or_else(Vec::new, |e| e.problems)
    }

    #[test]
    fn the_key_table_names_every_field_and_only_fields() {
        let mut read = BTreeMap::new();
        fields(&default_settings(), "", &mut read);
        let table: std::collections::BTreeSet<&str> = KEYS
            .iter()
            .map(|(key, _)| *key)
            .chain(FILE_ONLY.iter().copied())
            .collect();
        assert_eq!(
            table.len(),
            KEYS.len() + FILE_ONLY.len(),
            "a key is listed twice"
        );
        let not_in_table: Vec<&String> = read
            .keys()
            .filter(|k| !table.contains(k.as_str()))
            .collect();
        assert!(
            not_in_table.is_empty(),
            "fields no row of KEYS (or FILE_ONLY) names, so the environment cannot set them: {not_in_table:?}"
        );
        let not_read: Vec<&&str> = table.iter().filter(|k| !read.contains_key(**k)).collect();
        assert!(
            not_read.is_empty(),
            "keys in KEYS (or FILE_ONLY) that no field reads: {not_read:?}"
        );
        for (key, kind) in KEYS {
            let held = &read[*key];
            let fits = match (kind, held) {
                // An optional setting left out by default.
                (_, serde_json::Value::Null) => true,
                (Kind::Text, serde_json::Value::String(_))
                | (Kind::List, serde_json::Value::Array(_)) => true,
                (Kind::Integer { .. }, serde_json::Value::Number(n)) => n.is_u64(),
                _ => false,
            };
            assert!(fits, "{key}: {kind:?} in KEYS, but its default is {held}");
        }
    }

    #[test]
    fn the_defaults_load_and_lie_within_their_bounds() {
        let dir = temp_dir("defaults");
        let config = Config::load(None, files(&dir)).expect("the defaults are valid");
        assert_eq!(config.max_clock_skew, Duration::from_secs(300));
        assert_eq!(config.max_request_bytes, 140 << 20);
        let settings = default_settings();
        for (key, min, max) in bounded() {
            let value = setting(&settings, key)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or_else(|| panic!("{key}: no default"));
            assert!((min..=max).contains(&value), "{key} {value}: {min}..={max}");
        }
    }

    #[test]
    fn a_huge_value_of_any_bounded_key_is_refused_naming_the_key() {
        let dir = temp_dir("huge");
        for (key, _, max) in bounded() {
            for value in [i64::MAX.to_string(), (max + 1).to_string()] {
                let problems = problems_with(&dir, &[(&env_name(key), value.clone())]);
                let expected = format!("{key} {value}: between");
                assert!(
                    problems.iter().any(|p| p.starts_with(&expected)),
                    "{key} = {value}: {problems:?}"
                );
            }
        }
        // From the file too, all reported at once.
        let file = dir.join("sealpost.toml");
        std::fs::write(
            &file,
            "[senders]\nmax_clock_skew_s = 9223372036854775807\n[retention]\nevidence_s = 9223372036854775807\n",
        )
        .expect("write");
        let err = Config::load(Some(&file), files(&dir)).expect_err("too large");
        let all = err.problems.join("\n");
        for key in ["senders.max_clock_skew_s", "retention.evidence_s"] {
            assert!(
                all.contains(&format!("{key} 9223372036854775807: between")),
                "{all}"
            );
        }
    }

    #[test]
    fn zero_is_refused_where_it_makes_no_sense_and_so_is_anything_under_the_floor() {
        let dir = temp_dir("zero");
        let zero_allowed: Vec<&str> = bounded()
            .filter(|(_, min, _)| *min == 0)
            .map(|(key, ..)| key)
            .collect();
        assert_eq!(
            zero_allowed,
            ["senders.max_clock_skew_s", "retention.notice_s"],
            "no skew tolerated; deletion at the first run after the notice"
        );
        for key in zero_allowed {
            let problems = problems_with(&dir, &[(&env_name(key), "0".into())]);
            assert!(problems.is_empty(), "{key} = 0: {problems:?}");
        }
        for (key, min, _) in bounded().filter(|(_, min, _)| *min > 0) {
            for value in [0, min - 1] {
                let problems = problems_with(&dir, &[(&env_name(key), value.to_string())]);
                let expected = format!("{key} {value}: between {min} and");
                assert!(
                    problems.iter().any(|p| p.starts_with(&expected)),
                    "{key} = {value}: {problems:?}"
                );
            }
        }
    }

    #[test]
    fn a_document_must_fit_in_a_request() {
        let dir = temp_dir("document-size");
        let size = |request: u64, document: u64| {
            problems_with(
                &dir,
                &[
                    ("SEALPOST_LIMITS_MAX_REQUEST_BYTES", request.to_string()),
                    ("SEALPOST_LIMITS_MAX_DOCUMENT_BYTES", document.to_string()),
                ],
            )
        };
        let problems = size(96 * KIB, 96 * KIB + 1);
        assert!(
            problems.iter().any(|p| p.starts_with(
                "limits.max_document_bytes 98305: at most limits.max_request_bytes (98304)"
            )),
            "{problems:?}"
        );
        assert_eq!(size(96 * KIB, 96 * KIB), Vec::<String>::new());
    }

    #[test]
    fn the_largest_values_accepted_do_not_overflow_time_arithmetic() {
        let dir = temp_dir("largest");
        let mut vars = files(&dir);
        vars.extend(bounded().map(|(key, _, max)| (env_name(key), max.to_string())));
        vars.push(("SEALPOST_TSA_ENDPOINT".into(), "senders".into()));
        let config = Config::load(None, vars).expect("the ceilings are valid together");
        // As the SOAP and gRPC channels, the retention job and the timers compute them.
        // Centuries from now, and before the epoch (a clock set wrong).
        for now in [
            std::time::UNIX_EPOCH + Duration::from_secs(5 * CENTURY),
            std::time::UNIX_EPOCH - Duration::from_secs(CENTURY),
        ] {
            let skew = config.max_clock_skew;
            assert!(now + config.max_message_age + skew + skew > now);
            assert!(now - config.max_message_age - skew < now);
            assert!(now + config.retention.notice > now);
            for d in [
                config.retention.inactive,
                config.retention.traces,
                config.retention.evidence,
            ] {
                assert!(now - d < now);
            }
        }
        let start = std::time::Instant::now();
        assert!(start + config.retention.interval + config.audit_seal_interval > start);
        assert_eq!(
            config.tsa_endpoint,
            TsaEndpoint::Senders {
                per_minute: 1_000_000,
                burst: 1_000_000
            }
        );
        assert_eq!(config.max_request_bytes as u64, GIB);
        assert_eq!(config.store_cache_bytes as u64, 64 * GIB);
    }

    #[test]
    fn a_negative_value_is_refused_naming_the_key() {
        let dir = temp_dir("negative");
        let problems = problems_with(&dir, &[("SEALPOST_SENDERS_MAX_MESSAGE_AGE_S", "-1".into())]);
        assert!(
            problems.iter().any(|p| p.contains("max_message_age_s")),
            "{problems:?}"
        );
    }

    #[test]
    fn the_sender_registry_is_not_set_by_the_environment() {
        let dir = temp_dir("registry-env");
        let problems = problems_with(&dir, &[("SEALPOST_SENDERS_REGISTRY", "x".into())]);
        assert_eq!(
            problems,
            ["SEALPOST_SENDERS_REGISTRY: senders.registry is set in the file only"]
        );
    }
}
