//! The key table `KEYS`: every key the environment can set, its kind and bounds (with the
//! units they are written in), its `SEALPOST_*` name, and `check_bounds`, which holds every
//! whole number to its row.

use super::raw::RawConfig;

/// What a key holds: how a `SEALPOST_*` variable's text becomes a TOML value and, for a whole
/// number, the range it must lie in (checked at start whoever set it: the file, the
/// environment or the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    /// A whole number in `min..=max`.
    Integer {
        min: u64,
        max: u64,
    },
    /// Comma-separated.
    List,
    /// `true` or `false`.
    Bool,
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
pub(super) const CENTURY: u64 = 100 * YEAR;
pub(super) const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
pub(super) const GIB: u64 = 1024 * MIB;

/// Every key the environment can set, with its bounds: the one table of a key's facts besides
/// its field and default (a test checks it against the fields). The README's bounds come from
/// here. Relations between keys (a document fits in a request) are checked in `validate`.
pub(super) const KEYS: &[(&str, Kind)] = &[
    ("listen", Kind::Text),
    ("data_dir", Kind::Text),
    ("log_format", Kind::Text),
    // Zero: the requests in flight are cut at once.
    ("shutdown_grace_s", int(0, HOUR)),
    ("tls.cert", Kind::Text),
    ("tls.key", Kind::Text),
    ("tsa.cert", Kind::Text),
    ("tsa.key", Kind::Text),
    ("tsa.chain", Kind::Text),
    ("tsa.clock", Kind::Text),
    ("tsa.policy", Kind::Text),
    ("tsa.accept_policies", Kind::List),
    ("revocation.crls", Kind::List),
    ("revocation.refresh_s", int(1, DAY)),
    ("revocation.ocsp", Kind::Bool),
    ("revocation.ocsp_responder", Kind::Text),
    // Long enough for a slow responder, short enough that a request waiting on it is answered.
    ("revocation.ocsp_timeout_ms", int(100, 60_000)),
    ("revocation.ocsp_max_age_s", int(1, DAY)),
    ("revocation.ocsp_require_nonce", Kind::Bool),
    ("revocation.crl_distribution_points", Kind::Bool),
    ("revocation.crl_fetch_interval_s", int(1, DAY)),
    // A CRL may be some MiB: longer than an OCSP answer, still short enough for a request.
    ("revocation.crl_timeout_ms", int(100, 60_000)),
    // genTime has whole seconds; a token vaguer than a minute says little.
    ("tsa.accuracy_ms", int(1000, 60_000)),
    ("tsa.endpoint", Kind::Text),
    ("tsa.remote", Kind::List),
    ("tsa.remote_units", Kind::List),
    ("tsa.remote_trust_anchors", Kind::Text),
    ("tsa.remote_timeout_ms", int(100, 60_000)),
    // A TSA's clock further from this host's than this is not believed.
    ("tsa.remote_max_skew_s", int(1, 3600)),
    ("tsa.counter_stamp", Kind::List),
    ("tsa.counter_stamp_units", Kind::List),
    ("tsa.counter_stamp_trust_anchors", Kind::Text),
    ("tsa.counter_stamp_evidences", Kind::Bool),
    ("tsa.previous_units", Kind::List),
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
    // Large requests (over 1 MiB) read at once, by their declared sizes.
    ("limits.in_flight_bytes", int(64 * KIB, 64 * GIB)),
    ("limits.max_connections", int(1, 1 << 20)),
    ("limits.max_connections_per_peer", int(0, 1 << 20)),
    ("limits.handshake_timeout_s", int(1, HOUR)),
    ("limits.header_timeout_s", int(1, HOUR)),
    ("limits.idle_timeout_s", int(1, DAY)),
    ("limits.body_grace_s", int(1, HOUR)),
    ("limits.body_min_bytes_per_s", int(1, GIB)),
    ("limits.large_body_min_bytes_per_s", int(1, GIB)),
    ("audit.seal_interval_s", int(1, DAY)),
    ("evidence.long_term", Kind::Bool),
    ("evidence.archive_interval_s", int(1, 30 * DAY)),
    // Days before the last time-stamp's certificate expires: up to a century ahead.
    ("evidence.archive_renew_before_days", int(1, 36_500)),
    ("evidence.archive_sunsets", Kind::List),
    ("audit.auditors", Kind::List),
    ("admin.socket", Kind::Text),
    ("mailbox.trust_anchors", Kind::Text),
    ("mailbox.intermediates", Kind::Text),
    ("mailbox.notifier", Kind::Text),
    ("mailbox.notify_interval_s", int(1, HOUR)),
    ("mailbox.idle_timeout_s", int(MINUTE, DAY)),
    ("mailbox.operator_name", Kind::Text),
    ("mailbox.contact", Kind::Text),
    ("mailbox.privacy_url", Kind::Text),
    ("mailbox.legal_url", Kind::Text),
    ("mailbox.legal_notice", Kind::Text),
    ("mailbox.time_zone", Kind::Text),
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
    ("saml.audience", Kind::Text),
    ("saml.acs_url", Kind::Text),
    ("mailbox.password_totp_level", int(0, 255)),
    ("mailbox.certificate_level", int(0, 255)),
    // An assertion is used once: its mark is kept this long.
    ("saml.max_assertion_age_s", int(1, DAY)),
];

/// Keys only the file sets (tables of their own), not the environment.
pub(super) const FILE_ONLY: &[&str] = &[
    "senders.registry",
    "saml.identity_providers",
    "oidc.providers",
    "mailbox.opening_levels",
];

/// Environment variables with the prefix that are not settings.
pub(super) const NOT_SETTINGS: &[&str] = &["SEALPOST_CONFIG", "SEALPOST_LOG"];

pub(super) fn env_name(key: &str) -> String {
    format!("SEALPOST_{}", key.replace('.', "_").to_uppercase())
}

/// Every whole number within the bounds of its row in `KEYS`, read by key from the settings as
/// deserialized (so whatever set it: the file, the environment or the default).
pub(super) fn check_bounds(raw: &RawConfig, problems: &mut Vec<String>) {
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
pub(super) fn setting<'a>(
    settings: &'a serde_json::Value,
    key: &str,
) -> Option<&'a serde_json::Value> {
    key.split('.').try_fold(settings, |v, part| v.get(part))
}

/// Every key's value of the kind its row says (a whole number in its bounds' type, text, a
/// list of texts), whoever set it; one that is not is named, in the documented key's words,
/// and taken out, so that the rest is still read and every problem is reported at once.
pub(super) fn check_kinds(table: &mut toml::Table, problems: &mut Vec<String>) {
    for &(key, kind) in KEYS {
        let Some(value) = lookup(table, key) else {
            continue;
        };
        let fits = match (kind, value) {
            (Kind::Integer { .. }, toml::Value::Integer(n)) => *n >= 0,
            (Kind::Text, toml::Value::String(_)) | (Kind::Bool, toml::Value::Boolean(_)) => true,
            (Kind::List, toml::Value::Array(items)) => items.iter().all(toml::Value::is_str),
            _ => false,
        };
        if fits {
            continue;
        }
        problems.push(match kind {
            Kind::Integer { min, max } => {
                format!("{key} {value}: a whole number between {min} and {max}")
            }
            Kind::Text => format!("{key} {value}: text expected (in quotes in the file)"),
            Kind::Bool => format!("{key} {value}: true or false expected"),
            Kind::List => format!("{key} {value}: a list of texts expected ([\"…\", \"…\"])"),
        });
        remove(table, key);
    }
}

fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let (parents, last) = key
        .rsplit_once('.')
        .map_or((None, key), |(p, l)| (Some(p), l));
    let mut current = table;
    for part in parents.into_iter().flat_map(|p| p.split('.')) {
        current = current.get(part)?.as_table()?;
    }
    current.get(last)
}

fn remove(table: &mut toml::Table, key: &str) {
    let (parents, last) = key
        .rsplit_once('.')
        .map_or((None, key), |(p, l)| (Some(p), l));
    let mut current = table;
    for part in parents.into_iter().flat_map(|p| p.split('.')) {
        match current.get_mut(part).and_then(toml::Value::as_table_mut) {
            Some(t) => current = t,
            None => return,
        }
    }
    current.remove(last);
}
