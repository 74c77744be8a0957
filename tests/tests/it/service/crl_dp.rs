//! CRLs from the distribution points (`revocation.crl_distribution_points`): the development
//! PKI's certificates name `BASE/issuing-ca.crl` (the leaves) and `BASE/root-ca.crl` (the
//! issuing CA); a static HTTP server (Python's `http.server`) publishes what `sealpost pki
//! crl` issues there; the service fetches, verifies and keeps them. A sender revoked in the
//! list published is refused over SOAP, and so is every sender of a revoked issuing CA; a
//! distribution point that cannot be reached, with no list fetched before, lets nobody
//! through.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sealpost_interop::{
    CITIZEN, CrlPublisher, audit_log, dev_pki_with, free_port, issue_dev_crls, letters, text,
};

use super::{Fixture, Letter, as_sender, code, fixture_on};

/// A development PKI whose certificates name distribution points on `port`.
fn pki_publishing_on(name: &str, port: u16) -> PathBuf {
    dev_pki_with(
        name,
        &["--revocation-url", &format!("http://127.0.0.1:{port}")],
    )
}

/// The service reading the distribution points' CRLs (fetched again every second).
fn serving_with_distribution_points(pki: PathBuf) -> Fixture {
    fixture_on(
        pki,
        &[
            ("SEALPOST_REVOCATION_CRL_DISTRIBUTION_POINTS", "true"),
            ("SEALPOST_REVOCATION_REFRESH_S", "1"),
            ("SEALPOST_REVOCATION_CRL_FETCH_INTERVAL_S", "1"),
        ],
    )
}

/// The refusals of the audit log (the service stopped), with their detail.
fn refusals(pki: &Path, data: &Path) -> Vec<String> {
    audit_log(pki, data, &[])
        .into_iter()
        .filter(|e| e["outcome"] == "refused")
        .map(|e| {
            assert_eq!(e["code"], "SEALPOST-AUTH-002", "{e}");
            e["detail"].as_str().expect("detail").to_owned()
        })
        .collect()
}

#[test]
fn a_sender_revoked_in_the_crl_its_distribution_point_publishes_is_refused_over_soap() {
    let port = free_port();
    let pki = pki_publishing_on("crl-dp-revoked", port);
    let publisher = CrlPublisher::start(&pki.with_file_name("published"), port);
    issue_dev_crls(&pki, &[]);
    publisher.publish(&pki);
    let f = serving_with_distribution_points(pki);
    let r = as_sender(&f, "sender-a", &Letter::new("dp-1", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));

    // What the holder of a stolen key wanted: keep sending after the CA revoked it. The CA
    // publishes a new list; the one held is fetched again within the interval.
    issue_dev_crls(&f.pki, &["sender-a"]);
    publisher.publish(&f.pki);
    std::thread::sleep(Duration::from_millis(3000));
    let r = as_sender(&f, "sender-a", &Letter::new("dp-2", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    // Others still send.
    let r = as_sender(&f, "sender-b", &Letter::new("dp-3", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));

    let Fixture { pki, data, server } = f;
    drop(server);
    assert_eq!(letters(&audit_log(&pki, &data, &[])).len(), 2);
    let refused = refusals(&pki, &data);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("revoked"),
        "the audit says why: {refused:?}"
    );
}

#[test]
fn with_the_distribution_point_unreachable_and_no_crl_fetched_no_sender_is_let_through() {
    let port = free_port();
    let pki = pki_publishing_on("crl-dp-unreachable", port);
    // Nothing listens on the port the certificates name.
    let f = serving_with_distribution_points(pki);
    for key in ["dp-u1", "dp-u2"] {
        let r = as_sender(&f, "sender-a", &Letter::new(key, CITIZEN).body());
        assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    }
    let Fixture { pki, data, server } = f;
    drop(server);
    assert!(letters(&audit_log(&pki, &data, &[])).is_empty());
    let refused = refusals(&pki, &data);
    assert_eq!(refused.len(), 2, "{refused:?}");
    let url = format!("http://127.0.0.1:{port}/issuing-ca.crl");
    assert!(
        refused[0].contains("cannot be established")
            && refused[0].contains(&url)
            && refused[0].contains("cannot be reached"),
        "the audit says why: {refused:?}"
    );
}

#[test]
fn an_issuing_ca_revoked_in_the_roots_crl_refuses_every_one_of_its_senders() {
    let port = free_port();
    let pki = pki_publishing_on("crl-dp-ca-revoked", port);
    let publisher = CrlPublisher::start(&pki.with_file_name("published"), port);
    issue_dev_crls(&pki, &[]);
    publisher.publish(&pki);
    let f = serving_with_distribution_points(pki);
    let r = as_sender(&f, "sender-b", &Letter::new("dp-ca-1", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));

    // The issuing CA's key is compromised: the root revokes it. Its leaves' own list (which
    // it signs) says nothing of it.
    issue_dev_crls(&f.pki, &["issuing-ca"]);
    publisher.publish(&f.pki);
    std::thread::sleep(Duration::from_millis(3000));
    for (who, key) in [("sender-a", "dp-ca-2"), ("sender-b", "dp-ca-3")] {
        let r = as_sender(&f, who, &Letter::new(key, CITIZEN).body());
        assert_eq!(code(&r), "SEALPOST-AUTH-002", "{who}: {}", text(&r.body));
    }
    let Fixture { pki, data, server } = f;
    drop(server);
    assert_eq!(letters(&audit_log(&pki, &data, &[])).len(), 1);
    let refused = refusals(&pki, &data);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|d| d.contains("revoked")), "{refused:?}");
}
