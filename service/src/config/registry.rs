//! The sender registry declared in the file (`[[senders.registry]]`): its entries and their
//! validation.

use std::path::PathBuf;

use crate::core::ids::RecipientKind;
use crate::core::records::{MinimumLevel, PagmGrant};

use super::raw::{RawIdentityProvider, RawOidcProvider, RawSenderEntry};
use super::readable;

/// A sender organisation declared in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderEntry {
    pub id: String,
    pub name: String,
    pub certificates: Vec<PathBuf>,
    pub message_types: Vec<String>,
    pub recipient_kinds: Vec<RecipientKind>,
    pub active: bool,
    pub identity_providers: Vec<String>,
    pub pagm: Vec<PagmGrant>,
    pub minimum_levels: Vec<MinimumLevel>,
}

/// An identity provider declared in `[[saml.identity_providers]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityProviderEntry {
    pub entity_id: String,
    pub certificates: Vec<PathBuf>,
    /// The names of the vector's attributes in its assertions.
    pub organisation_attribute: String,
    pub pagm_attribute: String,
    pub level_attribute: String,
    /// Browser logins: its single sign-on service and how requests reach it.
    pub sso: Option<SingleSignOn>,
    /// It vouches for citizens (mailbox logins).
    pub citizens: bool,
    /// The attribute with the national register number; none: the NameID.
    pub national_number_attribute: Option<String>,
}

/// An identity provider's single sign-on service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SingleSignOn {
    pub url: String,
    /// HTTP-POST rather than HTTP-Redirect for AuthnRequests.
    pub post: bool,
}

/// The `[[saml.identity_providers]]` entries.
pub(super) fn validate_identity_providers(
    entries: &[RawIdentityProvider],
    problems: &mut Vec<String>,
) -> Vec<IdentityProviderEntry> {
    let mut seen = std::collections::BTreeSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let at = format!("saml.identity_providers[{i}] ({:?})", e.entity_id);
            if e.entity_id.trim().is_empty() || e.entity_id.trim() != e.entity_id {
                problems.push(format!("{at}: the entity id must not be empty or padded"));
            }
            if !seen.insert(e.entity_id.clone()) {
                problems.push(format!("{at}: the entity id is declared twice"));
            }
            if e.certificates.is_empty() {
                problems.push(format!("{at}: no certificate"));
            }
            for cert in &e.certificates {
                readable(cert, &format!("{at} certificate"), problems);
            }
            let post = match e.sso_binding.as_str() {
                "redirect" => false,
                "post" => true,
                other => {
                    problems.push(format!(
                        "{at}: sso_binding {other:?}: \"redirect\" or \"post\""
                    ));
                    false
                }
            };
            if let Some(url) = &e.sso_url
                && !url.starts_with("https://")
                && !url.starts_with("http://127.0.0.1:")
                && !url.starts_with("http://localhost:")
            {
                problems.push(format!(
                    "{at}: sso_url {url:?}: an https:// URL (http:// only on the loopback)"
                ));
            }
            if e.citizens && e.sso_url.is_none() {
                problems.push(format!("{at}: citizens = true needs an sso_url"));
            }
            IdentityProviderEntry {
                sso: e.sso_url.clone().map(|url| SingleSignOn { url, post }),
                citizens: e.citizens,
                national_number_attribute: e.national_number_attribute.clone(),
                entity_id: e.entity_id.clone(),
                certificates: e.certificates.clone(),
                organisation_attribute: e.organisation_attribute.clone(),
                pagm_attribute: e.pagm_attribute.clone(),
                level_attribute: e.level_attribute.clone(),
            }
        })
        .collect()
}

/// An OpenID Provider declared in `[[oidc.providers]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcProviderEntry {
    /// Its issuer identifier, as its ID tokens' `iss` must say.
    pub issuer: String,
    pub client_id: String,
    /// The file with the client secret (read when the service starts).
    pub client_secret_file: PathBuf,
    pub redirect_url: String,
    pub scopes: Vec<String>,
    pub citizens: bool,
    pub national_number_claim: String,
    pub level_claim: String,
    pub acr_levels: std::collections::BTreeMap<String, u8>,
    /// The CAs its TLS certificate must chain to (an https:// issuer has them).
    pub ca: Option<PathBuf>,
    /// For agents: the claims naming their organisation and their PAGM profiles.
    pub organisation_claim: String,
    pub pagm_claim: String,
}

/// An http(s) URL's scheme and the rest, if it has a host and no query or fragment.
fn loopback_or_https(url: &str) -> Result<bool, &'static str> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err("an https:// URL (http:// only on the loopback)");
    };
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("no query, fragment or spaces");
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("a host, and no user name in the URL");
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(authority, |(host, _)| host);
    if !https && !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err("an https:// URL (http:// only on the loopback)");
    }
    Ok(https)
}

/// The `[[oidc.providers]]` entries.
pub(super) fn validate_oidc_providers(
    entries: &[RawOidcProvider],
    problems: &mut Vec<String>,
) -> Vec<OidcProviderEntry> {
    let mut seen = std::collections::BTreeSet::new();
    let entries: Vec<OidcProviderEntry> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let at = format!("oidc.providers[{i}] ({:?})", e.issuer);
            match loopback_or_https(&e.issuer) {
                Ok(true) if e.ca.is_none() => problems.push(format!(
                    "{at}: an https:// issuer needs ca, the CAs (PEM) its TLS certificate chains to"
                )),
                Ok(_) => {}
                Err(why) => problems.push(format!("{at}: issuer: {why}")),
            }
            if !seen.insert(e.issuer.trim_end_matches('/').to_owned()) {
                problems.push(format!("{at}: the issuer is declared twice"));
            }
            if e.client_id.trim().is_empty() || e.client_id.trim() != e.client_id {
                problems.push(format!("{at}: client_id must not be empty or padded"));
            }
            match std::fs::read_to_string(&e.client_secret_file) {
                Ok(secret) if secret.trim().is_empty() => problems.push(format!(
                    "{at}: client_secret_file {}: empty",
                    e.client_secret_file.display()
                )),
                Ok(_) => {}
                Err(err) => problems.push(format!(
                    "{at}: client_secret_file {}: {err}",
                    e.client_secret_file.display()
                )),
            }
            match loopback_or_https(&e.redirect_url) {
                Ok(true) if e.redirect_url.ends_with("/oidc/callback") => {}
                _ => problems.push(format!(
                    "{at}: redirect_url {:?}: this service's https:// address of /oidc/callback",
                    e.redirect_url
                )),
            }
            if !e.scopes.iter().any(|s| s == "openid") {
                problems.push(format!("{at}: scopes must include \"openid\""));
            }
            if e.scopes.iter().any(|s| {
                s.is_empty()
                    || !s
                        .chars()
                        .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
            }) {
                problems.push(format!("{at}: a scope is empty or has spaces or quotes"));
            }
            for (what, claim) in [
                ("national_number_claim", &e.national_number_claim),
                ("level_claim", &e.level_claim),
            ] {
                if claim.trim().is_empty() {
                    problems.push(format!("{at}: {what} must not be empty"));
                }
            }
            if let Some(ca) = &e.ca {
                readable(ca, &format!("{at} ca"), problems);
            }
            OidcProviderEntry {
                issuer: e.issuer.clone(),
                client_id: e.client_id.clone(),
                client_secret_file: e.client_secret_file.clone(),
                redirect_url: e.redirect_url.clone(),
                scopes: e.scopes.clone(),
                citizens: e.citizens,
                national_number_claim: e.national_number_claim.clone(),
                level_claim: e.level_claim.clone(),
                acr_levels: e.acr_levels.clone(),
                ca: e.ca.clone(),
                organisation_claim: e.organisation_claim.clone(),
                pagm_claim: e.pagm_claim.clone(),
            }
        })
        .collect();
    if entries.iter().filter(|p| p.citizens).count() > 1 {
        problems.push("[[oidc.providers]]: at most one provider with citizens = true".into());
    }
    entries
}

/// PAGM grants, checked: a profile, message types the sender may send, recipient kinds.
pub fn pagm_grants(
    at: &str,
    grants: impl IntoIterator<Item = (String, Vec<String>, Vec<String>)>,
    message_types: &[String],
    problems: &mut Vec<String>,
) -> Vec<PagmGrant> {
    grants
        .into_iter()
        .map(|(profile, types, recipients)| {
            let profile = profile.trim().to_owned();
            if profile.is_empty() {
                problems.push(format!("{at}: a PAGM grant without a profile"));
            }
            let types: Vec<String> = types.iter().map(|t| t.trim().to_owned()).collect();
            if types.is_empty() {
                problems.push(format!(
                    "{at}: PAGM profile {profile:?} grants no message type"
                ));
            }
            for t in &types {
                if !message_types.contains(t) {
                    problems.push(format!(
                        "{at}: PAGM profile {profile:?} grants {t:?}, which the sender may not send"
                    ));
                }
            }
            let mut recipient_kinds = Vec::new();
            for r in &recipients {
                match RecipientKind::parse(r.trim()) {
                    Some(kind) => recipient_kinds.push(kind),
                    None => problems.push(format!(
                        "{at}: PAGM profile {profile:?}: recipient kind {r:?}: citizen or company"
                    )),
                }
            }
            PagmGrant {
                profile,
                message_types: types,
                recipient_kinds,
            }
        })
        .collect()
}

/// The `[[senders.registry]]` entries, checked for what can be checked without the PKI (the
/// certificates are validated against the trust anchors when the service starts).
pub(super) fn validate_registry(
    entries: &[RawSenderEntry],
    problems: &mut Vec<String>,
) -> Vec<SenderEntry> {
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
        // A grant's recipients default to the sender's own, as `sealpost admin sender set`'s.
        let pagm = pagm_grants(
            &at,
            e.pagm.iter().map(|g| {
                (
                    g.profile.clone(),
                    g.message_types.clone(),
                    g.recipients.clone().unwrap_or_else(|| e.recipients.clone()),
                )
            }),
            &message_types,
            problems,
        );
        for t in e.minimum_levels.keys() {
            if !message_types.contains(t) {
                problems.push(format!(
                    "{at}: minimum_levels names {t:?}, which the sender may not send"
                ));
            }
        }
        if e.identity_providers.is_empty() && !(e.pagm.is_empty() && e.minimum_levels.is_empty()) {
            problems.push(format!(
                "{at}: pagm and minimum_levels apply to agents: name the sender's identity_providers"
            ));
        }
        let minimum_levels = e
            .minimum_levels
            .iter()
            .map(|(message_type, level)| MinimumLevel {
                message_type: message_type.clone(),
                level: *level,
            })
            .collect();
        out.push(SenderEntry {
            id: e.id.clone(),
            name: e.name.clone(),
            certificates: e.certificates.clone(),
            message_types,
            recipient_kinds,
            active: e.active,
            identity_providers: e.identity_providers.clone(),
            pagm,
            minimum_levels,
        });
    }
    out
}
