//! Which identity-provider certificates can be revoked. A provider's signing certificate
//! (`[[saml.identity_providers]] certificates`) is pinned: only its key signs the provider's
//! assertions. When a CA the operator trusts issued it (it chains to the sender or the mailbox
//! trust anchors), that store also checks it at each assertion, like a sender's certificate:
//! its chain, and its revocation by every configured source (CRL files, the distribution
//! points' CRLs, OCSP). A self-signed certificate, as most providers publish in their
//! metadata, cannot be revoked: its dates are all that is checked, and the start says so.

use std::time::SystemTime;

use der::Decode;
use sealpost_xmldsig::trust::{Purpose, TrustAnchors};
use x509_cert::Certificate;

/// Each of `certificates` (DER) of provider `entity_id` with the store that checks it at each
/// assertion: `senders` or `people` for one their CAs issued, none for a self-signed one.
/// Refuses a certificate that is neither: issued by a CA nobody configured, it could be
/// revoked without Sealpost being able to know.
pub fn provider_certificates(
    entity_id: &str,
    certificates: Vec<Vec<u8>>,
    senders: &TrustAnchors,
    people: &TrustAnchors,
    now: SystemTime,
) -> anyhow::Result<Vec<(Vec<u8>, Option<TrustAnchors>)>> {
    certificates
        .into_iter()
        .map(|der| {
            let cert = Certificate::from_der(&der)
                .map_err(|e| anyhow::anyhow!("identity provider {entity_id:?}: a certificate: {e}"))?;
            let tbs = &cert.tbs_certificate;
            let (not_before, not_after) = (
                tbs.validity.not_before.to_system_time(),
                tbs.validity.not_after.to_system_time(),
            );
            if now > not_after || now < not_before {
                tracing::warn!(
                    provider = entity_id,
                    certificate = %tbs.subject,
                    "an identity provider's certificate is outside its validity dates: the assertions it signs are refused"
                );
            }
            if tbs.issuer == tbs.subject {
                tracing::info!(
                    provider = entity_id,
                    certificate = %tbs.subject,
                    "an identity provider's certificate is self-signed (pinned): it cannot be revoked, only its validity dates are checked"
                );
                return Ok((der, None));
            }
            // Whether it chains, asked within its own dates (an expired one is still classed).
            let at = now.clamp(not_before, not_after);
            for (store, name) in [(senders, "sender"), (people, "mailbox")] {
                if store
                    .without_revocation()
                    .validate(&der, &[], at, Purpose::Any)
                    .is_ok()
                {
                    tracing::info!(
                        provider = entity_id,
                        certificate = %tbs.subject,
                        "an identity provider's certificate chains to the {name} trust anchors: its chain and revocation are checked at each assertion"
                    );
                    return Ok((der, Some(store.clone())));
                }
            }
            anyhow::bail!(
                "identity provider {entity_id:?}: the certificate {} is issued by {}, which is neither a sender nor a mailbox CA (senders.trust_anchors and intermediates, mailbox.trust_anchors and intermediates): its revocation could not be checked. Configure its CA there, or the provider's self-signed certificate from its metadata",
                tbs.subject,
                tbs.issuer
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealpost_pki::{Authority, KeyAlgorithm, LeafSpec, Profile, rogue_self_signed};
    use std::time::Duration;

    const YEAR: Duration = Duration::from_secs(365 * 86_400);

    #[test]
    fn a_provider_certificate_is_pinned_checked_by_the_store_of_its_ca_or_refused() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let spec = LeafSpec::new(
            "IdP",
            Profile::NoPurpose,
            KeyAlgorithm::EcdsaP256,
            now,
            YEAR,
        );
        let senders_root = Authority::root("Senders", now - YEAR, now + YEAR).expect("root");
        let people_root = Authority::root("People", now - YEAR, now + YEAR).expect("root");
        let stranger = Authority::root("Stranger", now - YEAR, now + YEAR).expect("root");
        let senders = TrustAnchors::new([senders_root.cert_der().to_vec()]);
        let people = TrustAnchors::new([people_root.cert_der().to_vec()]);
        let classify = |der: &[u8]| {
            provider_certificates("idp", vec![der.to_vec()], &senders, &people, now)
                .map(|mut v| v.remove(0).1.is_some())
        };
        let pinned = rogue_self_signed(&spec).expect("self-signed");
        assert!(!classify(pinned.cert_der()).expect("pinned"));
        for root in [&senders_root, &people_root] {
            let issued = root.issue(&spec).expect("issued");
            assert!(classify(issued.cert_der()).expect("checked by its CA's store"));
        }
        let foreign = stranger.issue(&spec).expect("issued");
        let refused = classify(foreign.cert_der()).expect_err("refused");
        assert!(
            refused
                .to_string()
                .contains("neither a sender nor a mailbox CA"),
            "{refused}"
        );
    }
}
