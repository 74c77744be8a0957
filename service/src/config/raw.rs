//! The settings as written (file, environment, defaults) and their defaults: the serde
//! structures `load` fills before `validate` turns them into a `Config`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The settings as written (file, environment, defaults), before validation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default = "defaults::listen")]
    pub(super) listen: String,
    #[serde(default = "defaults::data_dir")]
    pub(super) data_dir: PathBuf,
    #[serde(default = "defaults::log_format")]
    pub(super) log_format: String,
    #[serde(default = "defaults::shutdown_grace_s")]
    pub(super) shutdown_grace_s: u64,
    #[serde(default)]
    pub(super) tls: RawTls,
    #[serde(default)]
    pub(super) tsa: RawTsa,
    #[serde(default)]
    pub(super) seal: RawSeal,
    #[serde(default)]
    pub(super) senders: RawSenders,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) audit: RawAudit,
    #[serde(default)]
    pub(super) store: RawStore,
    #[serde(default)]
    pub(super) mailbox: RawMailbox,
    #[serde(default)]
    pub(super) retention: RawRetention,
    #[serde(default)]
    pub(super) revocation: RawRevocation,
    #[serde(default)]
    pub(super) evidence: RawEvidence,
    #[serde(default)]
    pub(super) admin: RawAdmin,
    #[serde(default)]
    pub(super) saml: RawSaml,
    #[serde(default)]
    pub(super) oidc: RawOidc,
}

/// `[oidc]`: the OpenID Providers browsers log in through (OpenID Connect, authorization code
/// flow with PKCE).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOidc {
    #[serde(default)]
    pub(super) providers: Vec<RawOidcProvider>,
}

/// `[[oidc.providers]]`: one OpenID Provider, Sealpost's client there, and the claims of its
/// ID tokens that say who logged in and how strongly.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOidcProvider {
    /// Its issuer identifier: https:// (http:// only on the loopback); its metadata is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub(super) issuer: String,
    pub(super) client_id: String,
    /// A file holding the client secret (never the secret itself in the configuration).
    pub(super) client_secret_file: PathBuf,
    /// Where the provider sends the browser back: this service's `/oidc/callback` as
    /// browsers reach it.
    #[serde(default = "defaults::oidc_redirect_url")]
    pub(super) redirect_url: String,
    #[serde(default = "defaults::oidc_scopes")]
    pub(super) scopes: Vec<String>,
    /// It vouches for citizens' national register numbers: citizens log in to the mailbox
    /// through it (at most one such provider).
    #[serde(default)]
    pub(super) citizens: bool,
    /// The claim with the national register number (11 digits).
    #[serde(default = "defaults::oidc_national_number_claim")]
    pub(super) national_number_claim: String,
    /// The claim that says how strongly the person logged in.
    #[serde(default = "defaults::oidc_level_claim")]
    pub(super) level_claim: String,
    /// The level of each value of that claim; a number is the level itself; anything else
    /// counts as 0.
    #[serde(default)]
    pub(super) acr_levels: std::collections::BTreeMap<String, u8>,
    /// The CAs (PEM) the provider's TLS certificate must chain to; required for an https://
    /// issuer (no system roots are trusted).
    #[serde(default)]
    pub(super) ca: Option<PathBuf>,
    /// For agents of sender organisations: the claim naming the organisation they act for.
    #[serde(default = "defaults::attribute_organisation")]
    pub(super) organisation_claim: String,
    /// For agents: the claim with their PAGM profiles (a string or an array of strings).
    #[serde(default = "defaults::attribute_pagm")]
    pub(super) pagm_claim: String,
}

/// `[saml]`: the identity providers that vouch for senders' agents (the identification
/// vector of the WS-Security SAML Token Profile), and what their assertions must satisfy.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSaml {
    /// Sealpost's name in the assertions' AudienceRestriction.
    #[serde(default = "defaults::saml_audience")]
    pub(super) audience: String,
    /// How long after its IssueInstant an assertion may be presented.
    #[serde(default = "defaults::saml_max_assertion_age_s")]
    pub(super) max_assertion_age_s: u64,
    /// Where identity providers send browser logins' responses (HTTP-POST binding): this
    /// service's `/saml/acs` as browsers reach it.
    #[serde(default = "defaults::saml_acs_url")]
    pub(super) acs_url: String,
    #[serde(default)]
    pub(super) identity_providers: Vec<RawIdentityProvider>,
}

impl Default for RawSaml {
    fn default() -> Self {
        RawSaml {
            audience: defaults::saml_audience(),
            max_assertion_age_s: defaults::saml_max_assertion_age_s(),
            acs_url: defaults::saml_acs_url(),
            identity_providers: Vec::new(),
        }
    }
}

/// `[[saml.identity_providers]]`: one provider, its signing certificates (from its metadata)
/// and the names of the attributes of the vector in its assertions.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdentityProvider {
    pub(super) entity_id: String,
    /// PEM files, one certificate each (the first of the file).
    pub(super) certificates: Vec<PathBuf>,
    #[serde(default = "defaults::attribute_organisation")]
    pub(super) organisation_attribute: String,
    #[serde(default = "defaults::attribute_pagm")]
    pub(super) pagm_attribute: String,
    #[serde(default = "defaults::attribute_level")]
    pub(super) level_attribute: String,
    /// Its single sign-on service, for browser logins (SAML 2.0 Web SSO): none, no browser
    /// login through it.
    #[serde(default)]
    pub(super) sso_url: Option<String>,
    /// How AuthnRequests reach it: "redirect" (HTTP-Redirect) or "post" (HTTP-POST).
    #[serde(default = "defaults::sso_binding")]
    pub(super) sso_binding: String,
    /// It vouches for citizens' national register numbers: citizens log in to the mailbox
    /// through it (at most one such provider).
    #[serde(default)]
    pub(super) citizens: bool,
    /// The attribute holding the national register number (11 digits); none: the NameID.
    #[serde(default)]
    pub(super) national_number_attribute: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    /// The administrative socket; none: `{data_dir}/admin/sealpost.sock`; "off": none.
    #[serde(default)]
    pub(super) socket: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRevocation {
    #[serde(default)]
    pub(super) crls: Vec<PathBuf>,
    #[serde(default = "defaults::crl_refresh_s")]
    pub(super) refresh_s: u64,
    #[serde(default)]
    pub(super) ocsp: bool,
    #[serde(default)]
    pub(super) ocsp_responder: Option<String>,
    #[serde(default = "defaults::ocsp_timeout_ms")]
    pub(super) ocsp_timeout_ms: u64,
    #[serde(default = "defaults::ocsp_max_age_s")]
    pub(super) ocsp_max_age_s: u64,
    #[serde(default = "defaults::ocsp_require_nonce")]
    pub(super) ocsp_require_nonce: bool,
    #[serde(default)]
    pub(super) crl_distribution_points: bool,
    #[serde(default = "defaults::crl_fetch_interval_s")]
    pub(super) crl_fetch_interval_s: u64,
    #[serde(default = "defaults::crl_timeout_ms")]
    pub(super) crl_timeout_ms: u64,
}

impl Default for RawRevocation {
    fn default() -> Self {
        RawRevocation {
            crls: Vec::new(),
            refresh_s: defaults::crl_refresh_s(),
            ocsp: false,
            ocsp_responder: None,
            ocsp_timeout_ms: defaults::ocsp_timeout_ms(),
            ocsp_max_age_s: defaults::ocsp_max_age_s(),
            ocsp_require_nonce: defaults::ocsp_require_nonce(),
            crl_distribution_points: false,
            crl_fetch_interval_s: defaults::crl_fetch_interval_s(),
            crl_timeout_ms: defaults::crl_timeout_ms(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetention {
    #[serde(default = "defaults::inactive_s")]
    pub(super) inactive_s: u64,
    #[serde(default = "defaults::notice_s")]
    pub(super) notice_s: u64,
    #[serde(default = "defaults::retention_interval_s")]
    pub(super) interval_s: u64,
    #[serde(default = "defaults::traces_s")]
    pub(super) traces_s: u64,
    #[serde(default = "defaults::evidence_s")]
    pub(super) evidence_s: u64,
    #[serde(default)]
    pub(super) notifier: Option<PathBuf>,
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

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
    /// PEM file of the CAs people's client certificates must chain to (certificate login).
    #[serde(default = "defaults::senders_trust")]
    pub(super) trust_anchors: PathBuf,
    #[serde(default = "defaults::senders_intermediates")]
    pub(super) intermediates: Option<PathBuf>,
    #[serde(default = "defaults::mailbox_idle_timeout_s")]
    pub(super) idle_timeout_s: u64,
    #[serde(default)]
    pub(super) notifier: Option<PathBuf>,
    #[serde(default = "defaults::notify_interval_s")]
    pub(super) notify_interval_s: u64,
    /// The operator's name, on every page.
    #[serde(default = "defaults::operator_name")]
    pub(super) operator_name: String,
    /// How to reach the operator's help desk, on every page.
    #[serde(default = "defaults::contact")]
    pub(super) contact: String,
    #[serde(default = "defaults::privacy_url")]
    pub(super) privacy_url: String,
    #[serde(default = "defaults::legal_url")]
    pub(super) legal_url: String,
    #[serde(default = "defaults::legal_notice")]
    pub(super) legal_notice: String,
    /// The IANA time zone every time is shown in.
    #[serde(default = "defaults::time_zone")]
    pub(super) time_zone: String,
    /// The authentication level a password and TOTP login counts as.
    #[serde(default = "defaults::password_totp_level")]
    pub(super) password_totp_level: u64,
    /// The authentication level a client certificate login counts as.
    #[serde(default = "defaults::certificate_level")]
    pub(super) certificate_level: u64,
    /// `[mailbox.opening_levels]`: message type = the least login level that opens it.
    #[serde(default)]
    pub(super) opening_levels: std::collections::BTreeMap<String, u8>,
}

impl Default for RawMailbox {
    fn default() -> Self {
        RawMailbox {
            trust_anchors: defaults::senders_trust(),
            intermediates: defaults::senders_intermediates(),
            idle_timeout_s: defaults::mailbox_idle_timeout_s(),
            notifier: None,
            notify_interval_s: defaults::notify_interval_s(),
            operator_name: defaults::operator_name(),
            contact: defaults::contact(),
            privacy_url: defaults::privacy_url(),
            legal_url: defaults::legal_url(),
            legal_notice: defaults::legal_notice(),
            time_zone: defaults::time_zone(),
            password_totp_level: defaults::password_totp_level(),
            certificate_level: defaults::certificate_level(),
            opening_levels: std::collections::BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    #[serde(default = "defaults::store_backend")]
    pub(super) backend: String,
    #[serde(default = "defaults::store_cache_mib")]
    pub(super) cache_mib: u64,
    #[serde(default)]
    pub(super) postgres_url: Option<String>,
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

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSeal {
    #[serde(default = "defaults::seal_cert")]
    pub(super) cert: PathBuf,
    #[serde(default = "defaults::seal_key")]
    pub(super) key: PathBuf,
    #[serde(default = "defaults::issuer_name")]
    pub(super) issuer_name: String,
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
pub(super) struct RawSenders {
    /// PEM file of the CAs sender certificates must chain to.
    #[serde(default = "defaults::senders_trust")]
    pub(super) trust_anchors: PathBuf,
    /// PEM file of intermediate CAs that may complete a sender's path.
    #[serde(default = "defaults::senders_intermediates")]
    pub(super) intermediates: Option<PathBuf>,
    #[serde(default = "defaults::max_clock_skew_s")]
    pub(super) max_clock_skew_s: u64,
    #[serde(default = "defaults::max_message_age_s")]
    pub(super) max_message_age_s: u64,
    /// Sender organisations declared here (`[[senders.registry]]`), written into the store's
    /// registry when the service starts.
    #[serde(default)]
    pub(super) registry: Vec<RawSenderEntry>,
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
pub(super) struct RawSenderEntry {
    pub(super) id: String,
    pub(super) name: String,
    /// PEM files, one certificate each (the first of the file).
    pub(super) certificates: Vec<PathBuf>,
    pub(super) message_types: Vec<String>,
    #[serde(default = "defaults::recipient_kinds")]
    pub(super) recipients: Vec<String>,
    #[serde(default = "defaults::active")]
    pub(super) active: bool,
    /// Entity ids of `[[saml.identity_providers]]` that vouch for its agents: when there is
    /// any, every request carries an identification vector of one of them.
    #[serde(default)]
    pub(super) identity_providers: Vec<String>,
    /// `[[senders.registry.pagm]]`: what each PAGM profile lets its agents send.
    #[serde(default)]
    pub(super) pagm: Vec<RawPagmGrant>,
    /// Message type = the least authentication level its agents need.
    #[serde(default)]
    pub(super) minimum_levels: std::collections::BTreeMap<String, u8>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPagmGrant {
    pub(super) profile: String,
    pub(super) message_types: Vec<String>,
    /// Default: the sender's `recipients`.
    #[serde(default)]
    pub(super) recipients: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    #[serde(default = "defaults::max_request_bytes")]
    pub(super) max_request_bytes: u64,
    #[serde(default = "defaults::max_document_bytes")]
    pub(super) max_document_bytes: u64,
    #[serde(default = "defaults::max_documents")]
    pub(super) max_documents: u64,
    #[serde(default = "defaults::in_flight_bytes")]
    pub(super) in_flight_bytes: u64,
    #[serde(default = "defaults::max_connections")]
    pub(super) max_connections: u64,
    #[serde(default = "defaults::max_connections_per_peer")]
    pub(super) max_connections_per_peer: u64,
    #[serde(default = "defaults::handshake_timeout_s")]
    pub(super) handshake_timeout_s: u64,
    #[serde(default = "defaults::header_timeout_s")]
    pub(super) header_timeout_s: u64,
    #[serde(default = "defaults::idle_timeout_s")]
    pub(super) idle_timeout_s: u64,
    #[serde(default = "defaults::body_grace_s")]
    pub(super) body_grace_s: u64,
    #[serde(default = "defaults::body_min_bytes_per_s")]
    pub(super) body_min_bytes_per_s: u64,
    #[serde(default = "defaults::large_body_min_bytes_per_s")]
    pub(super) large_body_min_bytes_per_s: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_request_bytes: defaults::max_request_bytes(),
            max_document_bytes: defaults::max_document_bytes(),
            max_documents: defaults::max_documents(),
            in_flight_bytes: defaults::in_flight_bytes(),
            max_connections: defaults::max_connections(),
            max_connections_per_peer: defaults::max_connections_per_peer(),
            handshake_timeout_s: defaults::handshake_timeout_s(),
            header_timeout_s: defaults::header_timeout_s(),
            idle_timeout_s: defaults::idle_timeout_s(),
            body_grace_s: defaults::body_grace_s(),
            body_min_bytes_per_s: defaults::body_min_bytes_per_s(),
            large_body_min_bytes_per_s: defaults::large_body_min_bytes_per_s(),
        }
    }
}

/// `[evidence]`: long-term evidences (XAdES B-LT when sealed, B-LTA archive time-stamps over
/// the years).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvidence {
    #[serde(default = "defaults::long_term")]
    pub(super) long_term: bool,
    #[serde(default = "defaults::archive_interval_s")]
    pub(super) archive_interval_s: u64,
    #[serde(default = "defaults::archive_renew_before_days")]
    pub(super) archive_renew_before_days: u64,
    /// `ALGORITHM=YYYY-MM-DD`: digest algorithms no longer trusted from that date.
    #[serde(default)]
    pub(super) archive_sunsets: Vec<String>,
}

impl Default for RawEvidence {
    fn default() -> Self {
        RawEvidence {
            long_term: defaults::long_term(),
            archive_interval_s: defaults::archive_interval_s(),
            archive_renew_before_days: defaults::archive_renew_before_days(),
            archive_sunsets: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    #[serde(default = "defaults::audit_seal_interval_s")]
    pub(super) seal_interval_s: u64,
    #[serde(default)]
    pub(super) auditors: Vec<PathBuf>,
}

impl Default for RawAudit {
    fn default() -> Self {
        RawAudit {
            seal_interval_s: defaults::audit_seal_interval_s(),
            auditors: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    #[serde(default = "defaults::tls_cert")]
    pub(super) cert: PathBuf,
    #[serde(default = "defaults::tls_key")]
    pub(super) key: PathBuf,
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
pub(super) struct RawTsa {
    #[serde(default = "defaults::tsa_cert")]
    pub(super) cert: PathBuf,
    #[serde(default = "defaults::tsa_key")]
    pub(super) key: PathBuf,
    #[serde(default = "defaults::tsa_chain")]
    pub(super) chain: Option<PathBuf>,
    #[serde(default = "defaults::tsa_clock")]
    pub(super) clock: String,
    #[serde(default = "defaults::tsa_policy")]
    pub(super) policy: String,
    #[serde(default)]
    pub(super) accept_policies: Vec<String>,
    #[serde(default = "defaults::tsa_accuracy_ms")]
    pub(super) accuracy_ms: u64,
    /// Who may use `POST /tsa` on the service port: `off` (not served) or `senders`
    /// (registered senders over mutual TLS).
    #[serde(default = "defaults::tsa_endpoint")]
    pub(super) endpoint: String,
    /// With `senders`: the tokens a sender may have a minute, and at once.
    #[serde(default = "defaults::tsa_endpoint_rate_per_minute")]
    pub(super) endpoint_rate_per_minute: u64,
    #[serde(default = "defaults::tsa_endpoint_burst")]
    pub(super) endpoint_burst: u64,
    /// Remote TSAs (http:// URLs) that time-stamp the evidences and the audit log instead of
    /// the embedded one, asked in turn until one gives a good token.
    #[serde(default)]
    pub(super) remote: Vec<String>,
    /// The remote TSAs' unit certificates (PEM files): a token must be signed by one, and the
    /// trusted list publishes them.
    #[serde(default)]
    pub(super) remote_units: Vec<PathBuf>,
    /// The anchors the remote tokens chain to (default: senders.trust_anchors).
    #[serde(default)]
    pub(super) remote_trust_anchors: Option<PathBuf>,
    #[serde(default = "defaults::tsa_remote_timeout_ms")]
    pub(super) remote_timeout_ms: u64,
    #[serde(default = "defaults::tsa_remote_max_skew_s")]
    pub(super) remote_max_skew_s: u64,
    /// A second, independent TSA (http:// URLs of its servers, asked in turn) that
    /// counter-stamps the audit log's head and, with `counter_stamp_evidences`, every evidence.
    #[serde(default)]
    pub(super) counter_stamp: Vec<String>,
    /// Its unit certificates (PEM files); the trusted list publishes them.
    #[serde(default)]
    pub(super) counter_stamp_units: Vec<PathBuf>,
    /// The anchors its tokens chain to (default: senders.trust_anchors).
    #[serde(default)]
    pub(super) counter_stamp_trust_anchors: Option<PathBuf>,
    #[serde(default = "defaults::counter_stamp_evidences")]
    pub(super) counter_stamp_evidences: bool,
    /// Units that time-stamped before (PEM files): no longer used, still published in the
    /// trusted list, since the proofs they stamped carry their tokens.
    #[serde(default)]
    pub(super) previous_units: Vec<PathBuf>,
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
            remote: Vec::new(),
            remote_units: Vec::new(),
            remote_trust_anchors: None,
            remote_timeout_ms: defaults::tsa_remote_timeout_ms(),
            remote_max_skew_s: defaults::tsa_remote_max_skew_s(),
            counter_stamp: Vec::new(),
            counter_stamp_units: Vec::new(),
            counter_stamp_trust_anchors: None,
            counter_stamp_evidences: true,
            previous_units: Vec::new(),
        }
    }
}

mod defaults {
    use std::path::PathBuf;

    pub fn crl_refresh_s() -> u64 {
        60
    }

    pub fn ocsp_timeout_ms() -> u64 {
        3000
    }

    pub fn ocsp_max_age_s() -> u64 {
        300
    }

    pub fn ocsp_require_nonce() -> bool {
        true
    }

    pub fn counter_stamp_evidences() -> bool {
        true
    }

    pub fn crl_fetch_interval_s() -> u64 {
        3600
    }

    pub fn crl_timeout_ms() -> u64 {
        10_000
    }

    pub fn notify_interval_s() -> u64 {
        10
    }

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
    /// Two requests of the largest size at once.
    pub fn in_flight_bytes() -> u64 {
        2 * max_request_bytes()
    }
    /// Connections open at once, from their TCP accept on.
    pub fn max_connections() -> u64 {
        4096
    }
    /// From one address: a tenth of all.
    pub fn max_connections_per_peer() -> u64 {
        max_connections() / 10
    }
    pub fn handshake_timeout_s() -> u64 {
        10
    }
    /// HTTP/1.1: a request's headers, also the wait for the next one on a kept-alive
    /// connection.
    pub fn header_timeout_s() -> u64 {
        20
    }
    /// A connection with no request in flight for this long is closed (HTTP/2 too).
    pub fn idle_timeout_s() -> u64 {
        60
    }
    pub fn body_grace_s() -> u64 {
        10
    }
    /// 16 KiB/s: a 140 MiB request may take 2.5 hours; one dripping bytes is cut.
    pub fn body_min_bytes_per_s() -> u64 {
        16 * 1024
    }
    /// 1 MiB/s (8 Mbit/s) for a body holding a share of the in-flight budget: a 140 MiB
    /// request may take 2.5 minutes.
    pub fn large_body_min_bytes_per_s() -> u64 {
        1024 * 1024
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
    pub fn long_term() -> bool {
        true
    }
    pub fn archive_interval_s() -> u64 {
        86_400
    }
    pub fn archive_renew_before_days() -> u64 {
        365
    }
    pub fn mailbox_idle_timeout_s() -> u64 {
        900
    }
    pub fn operator_name() -> String {
        "Sealpost development operator".into()
    }
    pub fn contact() -> String {
        "help@sealpost.example".into()
    }
    pub fn privacy_url() -> String {
        "/mailbox/help#privacy".into()
    }
    pub fn legal_url() -> String {
        "/mailbox/help#legal".into()
    }
    pub fn legal_notice() -> String {
        "A development instance of Sealpost: its letters and proofs have no legal effect.".into()
    }
    pub fn time_zone() -> String {
        "Europe/Brussels".into()
    }
    pub fn store_backend() -> String {
        "redb".into()
    }
    pub fn tsa_remote_timeout_ms() -> u64 {
        3000
    }

    pub fn tsa_remote_max_skew_s() -> u64 {
        10
    }

    pub fn shutdown_grace_s() -> u64 {
        30
    }

    pub fn store_cache_mib() -> u64 {
        64
    }
    pub fn saml_audience() -> String {
        "urn:sealpost".into()
    }
    pub fn saml_max_assertion_age_s() -> u64 {
        600
    }
    pub fn saml_acs_url() -> String {
        "https://127.0.0.1:8443/saml/acs".into()
    }
    pub fn oidc_redirect_url() -> String {
        "https://127.0.0.1:8443/oidc/callback".into()
    }
    pub fn oidc_scopes() -> Vec<String> {
        vec!["openid".into()]
    }
    pub fn oidc_national_number_claim() -> String {
        "sub".into()
    }
    pub fn oidc_level_claim() -> String {
        "acr".into()
    }
    pub fn sso_binding() -> String {
        "redirect".into()
    }
    pub fn password_totp_level() -> u64 {
        2
    }
    pub fn certificate_level() -> u64 {
        3
    }
    pub fn attribute_organisation() -> String {
        "urn:sealpost:interops:organisation".into()
    }
    pub fn attribute_pagm() -> String {
        "urn:sealpost:interops:pagm".into()
    }
    pub fn attribute_level() -> String {
        "urn:sealpost:interops:authentication-level".into()
    }
    pub fn recipient_kinds() -> Vec<String> {
        vec!["citizen".into(), "company".into()]
    }
    pub fn active() -> bool {
        true
    }
}
