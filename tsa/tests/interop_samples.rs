//! verify() against tokens made by `openssl ts` (../shared/interop-samples/tsp, see its README):
//! an EC TSA with signingCertificateV2 and fractional-second genTime, an RSA TSA with the
//! SHA-1 ESSCertID of RFC 2634. Each is accepted as made, and refused once tampered with.

use std::path::PathBuf;

use sealpost_tsa::signer::read_pem_certificates;
use sealpost_tsa::verify::granted_token;
use sealpost_tsa::{Expected, TrustStore, Verdict, VerifyError, verify_response, verify_token};

fn samples() -> PathBuf {
    sealpost_pki::interop_samples_dir()
}

fn read(name: &str) -> Vec<u8> {
    let path = samples().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn pem(name: &str) -> Vec<u8> {
    read_pem_certificates(&samples().join(name))
        .expect("certificate")
        .remove(0)
}

fn trust(tsa: &str) -> TrustStore {
    TrustStore::new([pem("pki/ca.pem")]).with_certificates([pem(&format!("pki/tsa-{tsa}.pem"))])
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x01;
    b
}

#[test]
fn openssl_tokens_verify_as_made() {
    for tsa in ["ec", "rsa"] {
        let query = read(&format!("tsp/tsa_{tsa}.tsq"));
        let token = verify_response(&read(&format!("tsp/tsa_{tsa}.tsr")), &query, &trust(tsa))
            .unwrap_or_else(|e| panic!("{tsa}: {e}"));
        assert!(
            token
                .signer
                .contains(&format!("Interop TSA {}", tsa.to_uppercase())),
            "{}",
            token.signer
        );
        // The bare token, against the request.
        let expected = Expected::from_request(&query).expect("query");
        verify_token(&read(&format!("tsp/tsa_{tsa}.tst")), &expected, &trust(tsa))
            .unwrap_or_else(|e| panic!("{tsa} .tst: {e}"));
    }
}

#[test]
fn tampered_openssl_tokens_are_refused_with_the_right_step() {
    for tsa in ["ec", "rsa"] {
        let query = read(&format!("tsp/tsa_{tsa}.tsq"));
        let response = read(&format!("tsp/tsa_{tsa}.tsr"));
        let token = granted_token(&response).expect("granted").to_vec();
        let expected = Expected::from_request(&query).expect("query");
        let trust = trust(tsa);

        // Imprint: the token, checked against another document.
        let mut other = expected.clone();
        other.digest[0] ^= 0xff;
        assert!(
            matches!(
                verify_token(&token, &other, &trust),
                Err(VerifyError::ImprintMismatch)
            ),
            "{tsa}"
        );

        // Nonce: a request with another nonce.
        let mut other = expected.clone();
        other.nonce = Some(vec![0x01, 0x02]);
        assert!(
            matches!(
                verify_token(&token, &other, &trust),
                Err(VerifyError::NonceMismatch)
            ),
            "{tsa}"
        );

        // Signature: its last byte (the SignerInfo has no unsigned attributes, so the
        // signature value ends the token).
        let err =
            verify_token(&flip(&token, token.len() - 1), &expected, &trust).expect_err("signature");
        assert!(matches!(err, VerifyError::BadSignature), "{tsa}: {err}");

        // TSTInfo: one byte of genTime inside the signed content.
        let gen_time = token
            .windows(2)
            .position(|w| w == [0x18, 0x0f] || w == [0x18, 0x13])
            .expect("genTime");
        let err = verify_token(&flip(&token, gen_time + 5), &expected, &trust).expect_err("tst");
        assert!(
            matches!(err, VerifyError::MessageDigestMismatch),
            "{tsa}: {err}"
        );

        // Certificate: one byte inside the embedded TSA certificate's public key.
        let cert = pem(&format!("pki/tsa-{tsa}.pem"));
        let at = token
            .windows(cert.len())
            .position(|w| w == cert)
            .expect("the token carries the TSA certificate");
        let key_byte = at + cert.len() - 120;
        let err = verify_token(
            &flip(&token, key_byte),
            &expected,
            &TrustStore::new([pem("pki/ca.pem")]),
        )
        .expect_err("certificate");
        assert!(
            matches!(err, VerifyError::SigningCertificate(_)),
            "{tsa}: {err}"
        );

        // Another trust anchor: indeterminate, not valid.
        let err = verify_token(
            &token,
            &expected,
            &TrustStore::new([pem("pki/sender-ec.pem")]),
        )
        .expect_err("anchor");
        assert_eq!(err.verdict(), Verdict::Indeterminate, "{tsa}: {err}");
    }
}
