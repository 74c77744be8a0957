//! sealpost-tsa against tools nobody here wrote: OpenSSL's `ts` and Python's rfc3161-client,
//! and hostile HTTP requests.

use std::path::Path;
use std::process::Command;

use sealpost_interop::{
    HttpResponse, dev_pki, http_raw, post_query, python, require_tool, run, start_tsa, text,
    workspace_root,
};
use sealpost_tsa::verify::granted_token;
use sealpost_tsa::{FailureInfo, TrustStore, VerifyError, verify_response};

fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let out = run(Command::new("openssl").args(args).current_dir(dir));
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

fn failure_of(resp: &HttpResponse) -> Option<FailureInfo> {
    match granted_token(&resp.body) {
        Err(VerifyError::Rejected { failure, .. }) => failure,
        Ok(_) => None,
        Err(e) => panic!("not a TimeStampResp: {e}"),
    }
}

#[test]
fn openssl_ts_verifies_tokens_from_sealpost_tsa() {
    require_tool("openssl", &["version"]);
    let pki = dev_pki("openssl-ts");
    let dir = pki.parent().expect("scratch").to_owned();
    let mut tsa = start_tsa(&pki, &[]);
    std::fs::write(dir.join("letter.pdf"), b"%PDF-1.7 a registered letter").expect("data");
    let root = pki.join("root-ca.pem").display().to_string();
    let untrusted = pki.join("tsa-chain.pem").display().to_string();
    let trust =
        TrustStore::new([
            sealpost_tsa::signer::read_pem_certificates(&pki.join("root-ca.pem"))
                .expect("root")
                .remove(0),
        ])
        .with_certificates(
            sealpost_tsa::signer::read_pem_certificates(&pki.join("tsa-chain.pem")).expect("chain"),
        );

    let cases: [(&str, &[&str]); 6] = [
        ("certReq and nonce", &["-sha256", "-cert"]),
        ("certReq, no nonce", &["-sha256", "-cert", "-no_nonce"]),
        ("no certReq, nonce", &["-sha256"]),
        ("no certReq, no nonce", &["-sha256", "-no_nonce"]),
        ("SHA-384", &["-sha384", "-cert"]),
        ("SHA-512", &["-sha512", "-cert"]),
    ];
    for (name, query_args) in cases {
        let mut args = vec!["ts", "-query", "-data", "letter.pdf", "-out", "q.tsq"];
        args.extend_from_slice(query_args);
        let (ok, out) = openssl(&args, &dir);
        assert!(ok, "{name}: openssl ts -query: {out}");
        let query = std::fs::read(dir.join("q.tsq")).expect("query");
        let resp = post_query(tsa.addr, &query);
        assert_eq!(resp.status, 200, "{name}");
        assert_eq!(
            resp.header("content-type"),
            Some("application/timestamp-reply")
        );
        std::fs::write(dir.join("r.tsr"), &resp.body).expect("reply");

        let ts_verify = |flag: &str, file: &str| {
            let args = [
                "ts",
                "-verify",
                "-in",
                "r.tsr",
                flag,
                file,
                "-CAfile",
                &root,
                "-untrusted",
                &untrusted,
            ];
            openssl(&args, &dir).1
        };
        let out = ts_verify("-queryfile", "q.tsq");
        assert!(
            out.contains("Verification: OK"),
            "{name}: openssl ts -verify -queryfile: {out}"
        );
        let out = ts_verify("-data", "letter.pdf");
        assert!(
            out.contains("Verification: OK"),
            "{name}: openssl ts -verify -data: {out}"
        );
        // And against other data, openssl refuses it.
        std::fs::write(dir.join("other.pdf"), b"%PDF-1.7 another letter").expect("data");
        let out = ts_verify("-data", "other.pdf");
        assert!(
            out.contains("Verification: FAILED"),
            "{name}: other data accepted: {out}"
        );

        // Our own verifier agrees.
        verify_response(&resp.body, &query, &trust).unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    // The token carries the certificate exactly when asked.
    for (flag, expect_cert) in [("-cert", true), ("-no_nonce", false)] {
        let (ok, out) = openssl(
            &["ts", "-query", "-data", "letter.pdf", flag, "-out", "q.tsq"],
            &dir,
        );
        assert!(ok, "{out}");
        let resp = post_query(tsa.addr, &std::fs::read(dir.join("q.tsq")).expect("query"));
        std::fs::write(dir.join("r.tsr"), &resp.body).expect("reply");
        let (ok, out) = openssl(
            &[
                "ts",
                "-reply",
                "-in",
                "r.tsr",
                "-token_out",
                "-out",
                "t.der",
            ],
            &dir,
        );
        assert!(ok, "{out}");
        let (_, certs) = openssl(
            &[
                "pkcs7",
                "-inform",
                "DER",
                "-in",
                "t.der",
                "-print_certs",
                "-noout",
            ],
            &dir,
        );
        assert_eq!(
            certs.contains("Sealpost Development Time-Stamping Unit"),
            expect_cert,
            "{flag}: {certs}"
        );
    }

    // A SHA-1 request is refused with badAlg, which openssl reads back.
    let (ok, out) = openssl(
        &[
            "ts",
            "-query",
            "-data",
            "letter.pdf",
            "-sha1",
            "-out",
            "q.tsq",
        ],
        &dir,
    );
    assert!(ok, "{out}");
    let resp = post_query(tsa.addr, &std::fs::read(dir.join("q.tsq")).expect("query"));
    assert_eq!(failure_of(&resp), Some(FailureInfo::BadAlg));
    std::fs::write(dir.join("r.tsr"), &resp.body).expect("reply");
    let (_, out) = openssl(&["ts", "-reply", "-in", "r.tsr", "-text"], &dir);
    assert!(out.contains("Status: Rejected"), "{out}");
    assert!(
        out.contains("unrecognized or unsupported algorithm"),
        "{out}"
    );
    assert!(tsa.is_running());
}

#[test]
fn python_rfc3161_client_verifies_tokens_from_sealpost_tsa() {
    let python = python();
    require_tool(
        python.to_str().expect("path"),
        &["-c", "import rfc3161_client"],
    );
    let pki = dev_pki("rfc3161-client");
    let tsa = start_tsa(&pki, &[]);
    let script = workspace_root().join("tests/interop/rfc3161_client_check.py");
    let out = run(Command::new(&python)
        .arg(&script)
        .arg(format!("http://{}/tsa", tsa.addr))
        .arg(pki.join("root-ca.pem"))
        .arg(pki.join("tsa.pem"))
        .arg(pki.join("issuing-ca.pem")));
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "rfc3161-client:\n{report}");
    assert_eq!(report.matches("ok   ").count(), 7, "{report}");
}

#[test]
fn hostile_requests_get_clear_answers_and_never_stop_the_server() {
    let pki = dev_pki("hostile");
    let mut tsa = start_tsa(&pki, &[]);

    // Not a time-stamp request at all: HTTP errors.
    let get = http_raw(tsa.addr, "GET /tsa HTTP/1.1", b"");
    assert_eq!(get.status, 405);
    assert!(get.header("allow").is_some_and(|a| a.contains("POST")));
    let wrong_type = http_raw(
        tsa.addr,
        "POST /tsa HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 5",
        b"hello",
    );
    assert_eq!(wrong_type.status, 415);
    assert!(text(&wrong_type.body).contains("application/timestamp-query"));
    let missing_type = http_raw(tsa.addr, "POST /tsa HTTP/1.1\r\nContent-Length: 0", b"");
    assert_eq!(missing_type.status, 415);
    // Over the 16 KiB limit: refused from the declared length, before any body is read (a
    // client that sends the body anyway may see the connection reset under its unread bytes).
    for length in ["17408", "1000000000000"] {
        let too_big = http_raw(
            tsa.addr,
            &format!(
                "POST /tsa HTTP/1.1\r\nContent-Type: application/timestamp-query\r\nExpect: 100-continue\r\nContent-Length: {length}"
            ),
            b"",
        );
        assert_eq!(too_big.status, 413, "Content-Length {length}");
    }
    assert_eq!(
        http_raw(tsa.addr, "POST /nowhere HTTP/1.1\r\nContent-Length: 0", b"").status,
        404
    );

    // Time-stamp requests that are wrong: a TimeStampResp with the reason, HTTP 200.
    let mut good = Vec::new();
    {
        let spec = sealpost_tsa::RequestSpec::new(sealpost_tsa::HashAlgorithm::Sha256, vec![1; 32]);
        good.extend(spec.to_der().expect("request"));
    }
    let mut version_2 = good.clone();
    let at = version_2
        .windows(3)
        .position(|w| w == [2, 1, 1])
        .expect("version");
    version_2[at + 2] = 2;
    let mut random = vec![0u8; 300];
    for (i, b) in random.iter_mut().enumerate() {
        *b = u8::try_from((i * 7919 + 13) % 251).expect("byte");
    }
    let cases: Vec<(&str, Vec<u8>, FailureInfo)> = vec![
        ("empty", Vec::new(), FailureInfo::BadDataFormat),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            FailureInfo::BadDataFormat,
        ),
        (
            "huge inner length",
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01],
            FailureInfo::BadDataFormat,
        ),
        (
            "indefinite length (BER)",
            vec![0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00],
            FailureInfo::BadDataFormat,
        ),
        (
            "deep nesting",
            [vec![0x30, 0x82, 0x0f, 0xa0], vec![0x30; 4000]].concat(),
            FailureInfo::BadDataFormat,
        ),
        ("random bytes", random, FailureInfo::BadDataFormat),
        ("version 2", version_2, FailureInfo::BadRequest),
    ];
    for (name, body, expected) in cases {
        let resp = post_query(tsa.addr, &body);
        assert_eq!(resp.status, 200, "{name}");
        assert_eq!(failure_of(&resp), Some(expected), "{name}");
    }
    // A client that announces a body and hangs up mid-way does not disturb anyone.
    {
        let mut s = std::net::TcpStream::connect(tsa.addr).expect("connect");
        std::io::Write::write_all(
            &mut s,
            b"POST /tsa HTTP/1.1\r\nHost: x\r\nContent-Type: application/timestamp-query\r\nContent-Length: 100\r\n\r\n\x30\x10",
        )
        .expect("write");
    }
    // Still serving, and still granting.
    let resp = post_query(tsa.addr, &good);
    assert!(granted_token(&resp.body).is_ok());
    assert!(tsa.is_running());
}
