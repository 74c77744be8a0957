//! The configuration's unit tests: loading, the environment over the file, every problem at
//! once, the key table against the fields, the bounds and the sender registry.

use super::keys::{CENTURY, GIB, KIB, setting};
use super::*;
use crate::core::ids::RecipientKind;

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
    let dir = std::env::temp_dir().join(format!("sealpost-config-{name}-{}", std::process::id()));
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
fn an_organisation_acting_through_its_agents_is_read_with_its_grants_and_every_mistake_named() {
    let dir = temp_dir("agents");
    let file = dir.join("sealpost.toml");
    let cert = dir.join("root.pem").display().to_string();
    let provider = format!(
        "[[saml.identity_providers]]\nentity_id = \"https://idp.example\"\ncertificates = [{cert:?}]\n\n"
    );
    std::fs::write(
        &file,
        format!(
            "{provider}[[senders.registry]]\nid = \"agency-a\"\nname = \"Agency A\"\ncertificates = [{cert:?}]\nmessage_types = [\"tax-assessment\", \"information\"]\nrecipients = [\"citizen\"]\nidentity_providers = [\"https://idp.example\"]\nminimum_levels = {{ tax-assessment = 3 }}\n\n[[senders.registry.pagm]]\nprofile = \"tax-officer\"\nmessage_types = [\"tax-assessment\"]\n"
        ),
    )
    .expect("write");
    let vars = files(&dir);
    let config = Config::load(Some(&file), vars.clone()).expect("valid");
    let a = &config.sender_registry[0];
    assert_eq!(a.identity_providers, ["https://idp.example"]);
    assert_eq!(
        a.pagm[0].recipient_kinds,
        [RecipientKind::Citizen],
        "a grant's recipients default to the sender's"
    );
    assert_eq!(a.minimum_levels[0].level, 3);

    std::fs::write(
        &file,
        format!(
            "{provider}[[senders.registry]]\nid = \"agency-a\"\nname = \"Agency A\"\ncertificates = [{cert:?}]\nmessage_types = [\"information\"]\nidentity_providers = [\"https://idp.elsewhere.example\"]\nminimum_levels = {{ tax-assessment = 3 }}\n\n[[senders.registry.pagm]]\nprofile = \"tax-officer\"\nmessage_types = [\"tax-assessment\"]\n\n[[senders.registry]]\nid = \"agency-b\"\nname = \"Agency B\"\ncertificates = [{cert:?}]\nmessage_types = [\"information\"]\nminimum_levels = {{ information = 2 }}\n"
        ),
    )
    .expect("write");
    let problems = Config::load(Some(&file), vars)
        .expect_err("invalid")
        .problems;
    for expected in [
        "identity provider \"https://idp.elsewhere.example\" is not in [[saml.identity_providers]]",
        "grants \"tax-assessment\", which the sender may not send",
        "minimum_levels names \"tax-assessment\", which the sender may not send",
        "pagm and minimum_levels apply to agents",
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
fn fields(value: &serde_json::Value, prefix: &str, out: &mut BTreeMap<String, serde_json::Value>) {
    match value {
        // An empty table (a map the file fills, `[mailbox.opening_levels]`) is a key of its own.
        serde_json::Value::Object(map) if !map.is_empty() => {
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
        Kind::Text | Kind::List | Kind::Bool => None,
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
            | (Kind::List, serde_json::Value::Array(_))
            | (Kind::Bool, serde_json::Value::Bool(_)) => true,
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
        [
            "shutdown_grace_s",
            "senders.max_clock_skew_s",
            "limits.max_connections_per_peer",
            "retention.notice_s",
            "mailbox.password_totp_level",
            "mailbox.certificate_level"
        ],
        "no grace at a stop; no skew tolerated; no limit per address (behind a load balancer); deletion at the first run after the notice; a login method that counts for no level"
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

#[test]
fn the_administrative_socket_lies_under_the_data_directory_unless_configured_or_off() {
    let dir = temp_dir("admin-socket");
    let load = |pairs: &[(&str, &str)]| {
        let mut vars = files(&dir);
        vars.extend(env(pairs));
        Config::load(None, vars)
    };
    let config = load(&[("SEALPOST_DATA_DIR", "/var/lib/sealpost")]).expect("valid");
    assert_eq!(
        config.admin_socket.as_deref(),
        Some(Path::new("/var/lib/sealpost/admin/sealpost.sock"))
    );
    let config = load(&[("SEALPOST_ADMIN_SOCKET", "/run/sealpost/admin.sock")]).expect("valid");
    assert_eq!(
        config.admin_socket.as_deref(),
        Some(Path::new("/run/sealpost/admin.sock"))
    );
    assert_eq!(
        load(&[("SEALPOST_ADMIN_SOCKET", "off")])
            .expect("valid")
            .admin_socket,
        None
    );
    // A Unix socket's path is short: a configured one too long is refused, naming the key;
    // the default under a long data directory is left out.
    let long = format!("/{}", "d".repeat(120));
    let all = load(&[("SEALPOST_ADMIN_SOCKET", &format!("{long}/admin.sock"))])
        .expect_err("too long")
        .problems
        .join("\n");
    assert!(all.contains("admin.socket"), "{all}");
    assert_eq!(
        load(&[("SEALPOST_DATA_DIR", &long)])
            .expect("valid")
            .admin_socket,
        None
    );
}

#[test]
fn the_database_password_is_never_shown() {
    for (url, shown) in [
        (
            "host=db user=sealpost password=s3cret dbname=sp",
            "host=db user=sealpost password=*** dbname=sp",
        ),
        (
            "host=db password = 'a \\' b c' dbname=sp",
            "host=db password=*** dbname=sp",
        ),
        (
            "postgres://sealpost:s3cret@db:5432/sp?sslmode=require",
            "postgres://sealpost:***@db:5432/sp?sslmode=require",
        ),
        (
            "postgresql://db/sp?user=sp&password=s3cret",
            "postgresql://db/sp?user=sp&password=***",
        ),
        ("host=db user=sealpost", "host=db user=sealpost"),
    ] {
        assert_eq!(hide_password(url), shown);
    }
    let dir = temp_dir("effective");
    let mut vars = files(&dir);
    vars.extend(env(&[
        ("SEALPOST_STORE_BACKEND", "postgres"),
        (
            "SEALPOST_STORE_POSTGRES_URL",
            "host=db user=sealpost password=s3cret",
        ),
    ]));
    let config = Config::load(None, vars).expect("valid");
    assert!(!config.effective.contains("s3cret"), "{}", config.effective);
    assert!(
        config.effective.contains("password=***") && config.effective.contains("[store]"),
        "{}",
        config.effective
    );
}

#[test]
fn a_value_of_the_wrong_kind_is_named_and_the_rest_is_still_checked() {
    let dir = temp_dir("kinds");
    let file = dir.join("sealpost.toml");
    std::fs::write(
        &file,
        "log_format = 7\n[limits]\nmax_documents = -3\n[tsa]\naccept_policies = \"1.2.3\"\n",
    )
    .expect("write");
    let mut vars = files(&dir);
    vars.extend(env(&[("SEALPOST_LISTEN", "nonsense")]));
    let all = Config::load(Some(&file), vars)
        .expect_err("invalid")
        .problems
        .join("\n");
    for named in [
        "limits.max_documents -3: a whole number between 1 and 64",
        "log_format 7: text expected",
        "tsa.accept_policies \"1.2.3\": a list of texts expected",
        "listen \"nonsense\": an IP address and a port",
    ] {
        assert!(all.contains(named), "{named}: {all}");
    }
    assert!(!all.contains("u64"), "{all}");
}

#[test]
fn ocsp_is_off_by_default_and_set_from_the_file_or_the_environment() {
    let dir = temp_dir("ocsp");
    let config = Config::load(None, files(&dir)).expect("defaults");
    assert!(config.revocation_ocsp.is_none(), "off by default");
    let file = dir.join("sealpost.toml");
    std::fs::write(
        &file,
        "[revocation]\nocsp = true\nocsp_timeout_ms = 1500\nocsp_max_age_s = 60\n",
    )
    .expect("write");
    let config = Config::load(Some(&file), files(&dir)).expect("valid");
    let ocsp = config.revocation_ocsp.expect("on");
    assert_eq!(ocsp.responder, None, "the certificates' own responders");
    assert_eq!(ocsp.timeout, Duration::from_millis(1500));
    assert_eq!(ocsp.policy.max_age, Duration::from_secs(60));
    assert!(ocsp.policy.require_nonce, "a nonce is required by default");
    let mut vars = files(&dir);
    vars.extend(env(&[
        ("SEALPOST_REVOCATION_OCSP", "true"),
        (
            "SEALPOST_REVOCATION_OCSP_RESPONDER",
            "http://127.0.0.1:8889/",
        ),
        ("SEALPOST_REVOCATION_OCSP_REQUIRE_NONCE", "false"),
    ]));
    let ocsp = Config::load(None, vars)
        .expect("valid")
        .revocation_ocsp
        .expect("on");
    assert_eq!(ocsp.responder.as_deref(), Some("http://127.0.0.1:8889/"));
    assert!(!ocsp.policy.require_nonce);
}

#[test]
fn a_mistaken_ocsp_setting_is_refused_naming_the_key() {
    let dir = temp_dir("ocsp-bad");
    for (pairs, key) in [
        (
            vec![("SEALPOST_REVOCATION_OCSP", "yes".to_owned())],
            "SEALPOST_REVOCATION_OCSP",
        ),
        (
            vec![
                ("SEALPOST_REVOCATION_OCSP", "true".to_owned()),
                (
                    "SEALPOST_REVOCATION_OCSP_RESPONDER",
                    "https://ocsp.example".to_owned(),
                ),
            ],
            "revocation.ocsp_responder",
        ),
        (
            // A responder named while OCSP is off: the operator meant something.
            vec![(
                "SEALPOST_REVOCATION_OCSP_RESPONDER",
                "http://127.0.0.1:8889".to_owned(),
            )],
            "revocation.ocsp is false",
        ),
        (
            vec![("SEALPOST_REVOCATION_OCSP_TIMEOUT_MS", "0".to_owned())],
            "revocation.ocsp_timeout_ms",
        ),
    ] {
        let problems = problems_with(&dir, &pairs);
        assert!(
            problems.iter().any(|p| p.contains(key)),
            "{pairs:?}: {problems:?}"
        );
    }
}

#[test]
fn the_mailbox_shows_its_operator_and_local_time_and_bad_values_are_named_at_start() {
    let dir = temp_dir("mailbox-site");
    let config = Config::load(None, files(&dir)).expect("the defaults");
    assert_eq!(
        config.mailbox_site.time_zone.iana_name(),
        Some("Europe/Brussels")
    );
    assert!(!config.mailbox_site.operator.is_empty());
    assert!(!config.mailbox_site.contact.is_empty());
    let config = Config::load(
        None,
        files(&dir)
            .into_iter()
            .chain(env(&[
                ("SEALPOST_MAILBOX_TIME_ZONE", "America/New_York"),
                ("SEALPOST_MAILBOX_OPERATOR_NAME", "SPF BOSA"),
                (
                    "SEALPOST_MAILBOX_PRIVACY_URL",
                    "https://bosa.example/privacy",
                ),
            ]))
            .collect::<Vec<_>>(),
    )
    .expect("valid");
    assert_eq!(config.mailbox_site.operator, "SPF BOSA");
    assert_eq!(
        config.mailbox_site.time_zone.iana_name(),
        Some("America/New_York")
    );
    assert_eq!(
        config.mailbox_site.privacy_url,
        "https://bosa.example/privacy"
    );
    let problems = problems_with(
        &dir,
        &[
            ("SEALPOST_MAILBOX_TIME_ZONE", "Europe/Atlantis".into()),
            ("SEALPOST_MAILBOX_OPERATOR_NAME", " ".into()),
            ("SEALPOST_MAILBOX_LEGAL_URL", "javascript:alert(1)".into()),
        ],
    )
    .join("\n");
    for expected in [
        "mailbox.time_zone: \"Europe/Atlantis\"",
        "mailbox.operator_name: empty",
        "mailbox.legal_url \"javascript:alert(1)\"",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} missing from:\n{problems}"
        );
    }
}

/// Loads `file` (TOML) with the test files.
fn load_file(dir: &Path, file: &str) -> Result<Config, Vec<String>> {
    let path = dir.join("sealpost.toml");
    std::fs::write(&path, file).expect("write");
    Config::load(Some(&path), files(dir)).map_err(|e| e.problems)
}

#[test]
fn an_openid_provider_is_read_from_the_file_with_its_defaults() {
    let dir = temp_dir("oidc");
    let secret = dir.join("client-secret");
    std::fs::write(&secret, "the secret itself\n").expect("write");
    let config = load_file(
        &dir,
        &format!(
            "[[oidc.providers]]\nissuer = \"http://127.0.0.1:9000\"\nclient_id = \"sealpost\"\nclient_secret_file = \"{}\"\ncitizens = true\nacr_levels = {{ \"urn:high\" = 4 }}\n",
            secret.display()
        ),
    )
    .expect("valid");
    let p = &config.oidc_providers[0];
    assert_eq!(p.issuer, "http://127.0.0.1:9000");
    assert_eq!(p.redirect_url, "https://127.0.0.1:8443/oidc/callback");
    assert_eq!(p.scopes, ["openid"]);
    assert_eq!(p.national_number_claim, "sub");
    assert_eq!(p.level_claim, "acr");
    assert_eq!(p.acr_levels.get("urn:high"), Some(&4));
    assert!(p.citizens && p.ca.is_none());
    // check-config shows the file's path, never what it holds.
    assert!(
        config.effective.contains("[[oidc.providers]]"),
        "{}",
        config.effective
    );
    assert!(config.effective.contains(&secret.display().to_string()));
    assert!(!config.effective.contains("the secret itself"));
    let problems = problems_with(&dir, &[("SEALPOST_OIDC_PROVIDERS", "x".into())]);
    assert_eq!(
        problems,
        ["SEALPOST_OIDC_PROVIDERS: oidc.providers is set in the file only"]
    );
}

#[test]
fn every_mistake_in_an_openid_provider_is_named() {
    let dir = temp_dir("oidc-bad");
    let empty = dir.join("empty-secret");
    std::fs::write(&empty, "\n").expect("write");
    let provider = |issuer: &str, secret: &Path, more: &str| {
        format!(
            "[[oidc.providers]]\nissuer = \"{issuer}\"\nclient_id = \"sealpost\"\nclient_secret_file = \"{}\"\ncitizens = true\n{more}\n",
            secret.display()
        )
    };
    let problems = load_file(&dir, &provider("http://idp.example", &empty, ""))
        .expect_err("refused")
        .join("\n");
    for expected in [
        "oidc.providers[0] (\"http://idp.example\"): issuer: an https:// URL (http:// only on the loopback)",
        "oidc.providers[0] (\"http://idp.example\"): client_secret_file",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} missing from:\n{problems}"
        );
    }
    let problems = load_file(
        &dir,
        &[
            provider(
                "https://idp.example",
                &dir.join("no-such-secret"),
                "redirect_url = \"https://sealpost.example/saml/acs\"\nscopes = [\"profile\"]\n",
            ),
            provider(
                "https://idp.example",
                &empty,
                "ca = \"/no/such/ca.pem\"\nnational_number_claim = \"\"",
            ),
            provider(
                "ftp://idp.example/?x=1",
                &empty,
                "redirect_url = \"http://127.0.0.1:8443/oidc/callback\"",
            ),
        ]
        .concat(),
    )
    .expect_err("refused")
    .join("\n");
    for expected in [
        "oidc.providers[0] (\"https://idp.example\"): an https:// issuer needs ca",
        "oidc.providers[0] (\"https://idp.example\"): client_secret_file",
        "oidc.providers[0] (\"https://idp.example\"): redirect_url \"https://sealpost.example/saml/acs\"",
        "oidc.providers[0] (\"https://idp.example\"): scopes must include \"openid\"",
        "oidc.providers[1] (\"https://idp.example\"): the issuer is declared twice",
        "oidc.providers[1] (\"https://idp.example\"): client_secret_file",
        "oidc.providers[1] (\"https://idp.example\") ca /no/such/ca.pem",
        "oidc.providers[1] (\"https://idp.example\"): national_number_claim must not be empty",
        "oidc.providers[2] (\"ftp://idp.example/?x=1\"): issuer: an https:// URL",
        "oidc.providers[2] (\"ftp://idp.example/?x=1\"): redirect_url \"http://127.0.0.1:8443/oidc/callback\"",
        "[[oidc.providers]]: at most one provider with citizens = true",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} missing from:\n{problems}"
        );
    }
}

#[test]
fn evidences_are_long_term_by_default_and_archived_under_the_configured_policy() {
    let dir = temp_dir("evidence");
    let config = Config::load(None, files(&dir)).expect("defaults");
    assert!(config.evidence.long_term, "B-LT by default");
    assert_eq!(
        config.evidence.archive_interval,
        Duration::from_secs(86_400)
    );
    assert_eq!(
        config.evidence.archive_policy,
        ArchivePolicy {
            renew_before: Duration::from_secs(365 * 86_400),
            sunsets: Vec::new(),
        }
    );
    let mut vars = files(&dir);
    vars.extend(env(&[
        ("SEALPOST_EVIDENCE_LONG_TERM", "false"),
        ("SEALPOST_EVIDENCE_ARCHIVE_INTERVAL_S", "3600"),
        ("SEALPOST_EVIDENCE_ARCHIVE_RENEW_BEFORE_DAYS", "30"),
        (
            "SEALPOST_EVIDENCE_ARCHIVE_SUNSETS",
            "sha384=2040-01-01, sha512=2050-06-30",
        ),
    ]));
    let evidence = Config::load(None, vars).expect("valid").evidence;
    assert!(!evidence.long_term);
    assert_eq!(evidence.archive_interval, Duration::from_secs(3600));
    assert_eq!(
        evidence.archive_policy.renew_before,
        Duration::from_secs(30 * 86_400)
    );
    let date = |text: &str| sealpost_xmldsig::wss::parse_date_time(text).expect("date");
    assert_eq!(
        evidence.archive_policy.sunsets,
        vec![
            (
                sealpost_tsa::asn1::oid::SHA384,
                date("2040-01-01T00:00:00Z")
            ),
            (
                sealpost_tsa::asn1::oid::SHA512,
                date("2050-06-30T00:00:00Z")
            ),
        ]
    );
}

#[test]
fn a_sunset_of_sha256_or_a_mistaken_one_stops_the_start_saying_why() {
    let dir = temp_dir("evidence-bad");
    for (value, why) in [
        (
            "sha256=2040-01-01",
            "archive time-stamps are made with SHA-256",
        ),
        ("md5=2040-01-01", "not a digest algorithm"),
        ("sha384", "ALGORITHM=YYYY-MM-DD expected"),
        ("sha384=1 January 2040", "not a date"),
        ("sha384=2040-13-01", "not a date"),
    ] {
        let problems = problems_with(
            &dir,
            &[("SEALPOST_EVIDENCE_ARCHIVE_SUNSETS", value.to_owned())],
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("evidence.archive_sunsets") && p.contains(why)),
            "{value}: {problems:?}"
        );
    }
    for key in [
        "SEALPOST_EVIDENCE_ARCHIVE_INTERVAL_S",
        "SEALPOST_EVIDENCE_ARCHIVE_RENEW_BEFORE_DAYS",
    ] {
        assert!(
            !problems_with(&dir, &[(key, "0".to_owned())]).is_empty(),
            "{key} 0"
        );
    }
}
