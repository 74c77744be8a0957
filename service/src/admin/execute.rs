//! Each administrative command carried out: on the store (the service stopped) or in the
//! running service (its administrative socket), with its audit entry naming the operator.

use std::io::Write;
use std::time::SystemTime;

use anyhow::{Context, anyhow, bail};
use sealpost::adapters::mailbox::{People, certificate_write, mandate_write, person_write};
use sealpost::adapters::store::Backend;
use sealpost::app::{
    App, counter_stamper, evidence_timestamper, pem_certificates, pem_certificates_in,
    seal_audit_head, sender_registration, trust_anchors, trusted_fingerprint,
};
use sealpost::audit_export::{Window, export};
use sealpost::config::{Config, SenderEntry, pagm_grants};
use sealpost::core::RecordKind;
use sealpost::core::audit::{GENESIS, unhex, verify_chain_from};
use sealpost::core::ids::{RecipientId, RecipientKind};
use sealpost::core::records::Channel;
use sealpost::core::records::{Mailbox, MinimumLevel, VectorRecord};
use sealpost::core::{Changes, Clock, Ledger, Recorder, RequestContext, SystemClock};
use sealpost::retention::{LegalHold, legal_hold_write, legal_holds};
use sealpost_mailbox::credentials::{PasswordHash, TotpSecret};
use sealpost_mailbox::people::{Mandate, Person};
use sealpost_tsa::asn1::oid;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::{Expected, TrustStore, verify_token};
use sealpost_xmldsig::dsig::base64_decode;
use sealpost_xmldsig::wss::parse_date_time;

use super::{
    AdminCommand, AuditCommand, EvidenceCommand, MailboxCommand, MandateCommand, MessageCommand,
    PersonCommand, SenderCommand, VectorCommand,
};

/// Where a command's answer goes: the operator's terminal, or the socket back to it.
pub trait Output {
    /// A line of the answer (standard output).
    fn line(&mut self, text: &str) -> std::io::Result<()>;
    /// A remark about it (standard error).
    fn note(&mut self, text: &str) -> std::io::Result<()>;
    /// The command's output file (`--out`), or standard output.
    fn payload(&mut self) -> &mut dyn Write;
}

/// What a command runs against, and who gives it.
pub struct Admin<'a> {
    pub config: &'a Config,
    pub store: &'a std::sync::Arc<dyn Backend>,
    /// The running service's parts (its TSA, its core), when it runs the command or the
    /// command needs them; `None`: built from the configuration when needed.
    pub app: Option<&'a App>,
    /// Who gives the command, as the audit log names them.
    pub operator: &'a str,
}

impl std::fmt::Debug for Admin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

impl Admin<'_> {
    /// Carries out the command; every change is one commit with its audit entry.
    pub fn execute(&self, command: AdminCommand, out: &mut dyn Output) -> anyhow::Result<()> {
        match command {
            AdminCommand::Sender { command } => sender(self, command, out),
            AdminCommand::Mailbox { command } => mailbox(self, command, out),
            AdminCommand::Audit { command } => audit(self, command, out),
            AdminCommand::Person { command } => person(self, command, out),
            AdminCommand::Mandate { command } => mandate(self, command, out),
            AdminCommand::Message {
                command: MessageCommand::Request { id, out: path },
            } => {
                let Some(request) = self.store.signed_request(&id)? else {
                    bail!("no signed request is kept for message {id}");
                };
                out.payload().write_all(&request)?;
                record_changes(
                    self,
                    "MessageRequestRead",
                    &format!("the signed request of {id} written to {}", path.display()),
                    Changes::default(),
                )?;
                out.line(&format!(
                    "{} bytes written to {}",
                    request.len(),
                    path.display()
                ))?;
                Ok(())
            }
            AdminCommand::Vector { command } => vector(self, command, out),
            AdminCommand::Evidence {
                command: EvidenceCommand::Archive { due_at },
            } => {
                let Some(archiver) = self.app.and_then(|app| app.archiver.as_ref()) else {
                    bail!("evidence.long_term is false: evidences are sealed B-T and not archived");
                };
                let due_at = match due_at.as_deref() {
                    None => SystemClock.now(),
                    Some(text) => {
                        let text = if text.len() == 10 {
                            format!("{text}T00:00:00Z")
                        } else {
                            text.to_owned()
                        };
                        parse_date_time(&text).map_err(|e| {
                            anyhow!("--due-at: {e} (e.g. 2036-01-01 or 2036-01-01T00:00:00Z)")
                        })?
                    }
                };
                let report = archiver.run(due_at)?;
                for (id, why) in &report.failed {
                    out.note(&format!("{id} not archived: {why}"))?;
                }
                out.line(
                    &serde_json::json!({"examined": report.examined, "archived": report.archived.len(), "failed": report.failed.len()}).to_string(),
                )?;
                if !report.failed.is_empty() {
                    bail!(
                        "{} of the evidences due were not archived (each is in the audit log, tried again at the next round)",
                        report.failed.len()
                    );
                }
                Ok(())
            }
            AdminCommand::Retention => {
                let report = match self.app {
                    Some(app) => sealpost::retention::run(
                        self.store,
                        &app.service,
                        &self.config.retention,
                        SystemClock.now(),
                    )?,
                    None => bail!("the retention job runs with the service's parts"),
                };
                out.line(
                    &serde_json::json!({"notified": report.notified, "undelivered": report.undelivered, "deleted": report.deleted, "purged_through": report.purged_through, "purged_evidences": report.purged_evidences}).to_string(),
                )?;
                Ok(())
            }
        }
    }
}

fn sender(a: &Admin, command: SenderCommand, out: &mut dyn Output) -> anyhow::Result<()> {
    let (config, store) = (a.config, a.store);
    match command {
        SenderCommand::Set {
            id,
            name,
            certs,
            types,
            recipients,
            inactive,
            identity_providers,
            pagm,
            minimum_levels,
        } => {
            for p in &identity_providers {
                if !config.identity_providers.iter().any(|i| i.entity_id == *p)
                    && !config.oidc_providers.iter().any(|o| o.issuer == *p)
                {
                    bail!(
                        "identity provider {p:?} is in neither [[saml.identity_providers]] nor [[oidc.providers]] of the configuration"
                    );
                }
            }
            let trust = trust_anchors(
                &config.sender_trust_anchors,
                config.sender_intermediates.as_deref(),
            )?;
            let recipient_kinds = recipients
                .iter()
                .map(|r| {
                    RecipientKind::parse(r.trim())
                        .with_context(|| format!("{r:?}: citizen or company"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let types: Vec<String> = types
                .iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect();
            let grants = pagm
                .iter()
                .map(|g| {
                    let (profile, rest) = g.split_once('=').with_context(|| {
                        format!("--pagm {g:?}: PROFILE=TYPE[,TYPE...][@RECIPIENTS]")
                    })?;
                    let (types, kinds) = match rest.split_once('@') {
                        Some((t, k)) => (t, k.split('+').map(str::to_owned).collect()),
                        None => (rest, recipients.clone()),
                    };
                    Ok((
                        profile.to_owned(),
                        types.split(',').map(str::to_owned).collect(),
                        kinds,
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut problems = Vec::new();
            let pagm = pagm_grants("--pagm", grants, &types, &mut problems);
            let minimum_levels = minimum_levels
                .iter()
                .map(|m| {
                    let parsed = m
                        .split_once('=')
                        .and_then(|(t, l)| Some((t.trim(), l.trim().parse::<u8>().ok()?)));
                    match parsed {
                        Some((t, level)) if types.iter().any(|x| x == t) => Ok(MinimumLevel {
                            message_type: t.to_owned(),
                            level,
                        }),
                        _ => Err(anyhow!(
                            "--minimum-level {m:?}: TYPE=LEVEL, a message type of --types and a level 0 to 255"
                        )),
                    }
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            if identity_providers.is_empty() && !(pagm.is_empty() && minimum_levels.is_empty()) {
                problems.push(
                    "--pagm and --minimum-level apply to agents: name the sender's --identity-provider"
                        .into(),
                );
            }
            if !problems.is_empty() {
                bail!("{}", problems.join("; "));
            }
            let registration = sender_registration(
                &trust,
                &SenderEntry {
                    id,
                    name,
                    certificates: certs.iter().map(|c| c.name.clone().into()).collect(),
                    message_types: types,
                    recipient_kinds,
                    active: !inactive,
                    identity_providers,
                    pagm,
                    minimum_levels,
                },
                &certs,
                SystemClock.now(),
            )?;
            record_changes(
                a,
                "SenderSet",
                &format!(
                    "sender {} set: {}",
                    registration.id,
                    serde_json::to_string(&registration)?
                ),
                Changes {
                    senders: vec![registration.clone()],
                    ..Changes::default()
                },
            )?;
            out.line(&serde_json::to_string(&registration)?)?;
        }
        SenderCommand::List => {
            for s in store.senders()? {
                out.line(&serde_json::to_string(&s)?)?;
            }
        }
    }
    Ok(())
}

fn now_unix() -> u64 {
    SystemClock
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mailbox(a: &Admin, command: MailboxCommand, out: &mut dyn Output) -> anyhow::Result<()> {
    let store = a.store;
    let put = |operation, detail: &str, mut mailboxes: Vec<Mailbox>| {
        // A mailbox added again (an import of the whole directory) keeps its owner's refusal
        // of electronic delivery: only its owner withdraws it.
        for m in &mut mailboxes {
            if let Some(stored) = store.mailbox(&m.id)? {
                m.refused_at = stored.refused_at;
            }
        }
        record_changes(
            a,
            operation,
            detail,
            Changes {
                mailboxes,
                ..Changes::default()
            },
        )
    };
    let set_active = |id: &str, active: bool| -> anyhow::Result<()> {
        let id = RecipientId::parse(id)?;
        let Some(mut m) = store.mailbox(id.as_str())? else {
            bail!("no mailbox {id}");
        };
        m.active = active;
        let state = if active { "activated" } else { "deactivated" };
        put("MailboxSet", &format!("mailbox {id} {state}"), vec![m])
    };
    match command {
        MailboxCommand::Add { id, name } => {
            let id = RecipientId::parse(&id)?;
            put(
                "MailboxAdd",
                &format!("mailbox {id} added ({name})"),
                vec![Mailbox {
                    id: id.to_string(),
                    display_name: name,
                    active: true,
                    created_at: now_unix(),
                    refused_at: None,
                }],
            )?;
            out.line(&format!("mailbox {id} active"))?;
        }
        MailboxCommand::Import { file } => {
            let text = std::str::from_utf8(&file.bytes)
                .with_context(|| format!("{}: not UTF-8 text", file.name))?;
            let mut mailboxes = Vec::new();
            let mut problems = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let mut parts = line.splitn(3, ',').map(str::trim);
                let id = parts.next().unwrap_or("");
                let name = parts.next().unwrap_or("");
                let active = match parts.next() {
                    None | Some("active") => true,
                    Some("inactive") => false,
                    Some(other) => {
                        problems.push(format!("line {}: state {other:?}", n + 1));
                        continue;
                    }
                };
                match RecipientId::parse(id) {
                    Ok(id) => mailboxes.push(Mailbox {
                        id: id.to_string(),
                        display_name: name.to_owned(),
                        active,
                        created_at: now_unix(),
                        refused_at: None,
                    }),
                    Err(e) => problems.push(format!("line {}: {e}", n + 1)),
                }
            }
            if !problems.is_empty() {
                bail!("nothing imported:\n  {}", problems.join("\n  "));
            }
            let count = mailboxes.len();
            put(
                "MailboxImport",
                &format!("{count} mailboxes imported from {}", file.name),
                mailboxes,
            )?;
            out.line(&format!("{count} mailboxes imported"))?;
        }
        MailboxCommand::Deactivate { id } => set_active(&id, false)?,
        MailboxCommand::Activate { id } => set_active(&id, true)?,
        MailboxCommand::List => {
            for m in store.mailboxes()? {
                out.line(&serde_json::to_string(&m)?)?;
            }
        }
    }
    Ok(())
}

fn audit(a: &Admin, command: AuditCommand, out: &mut dyn Output) -> anyhow::Result<()> {
    let (config, store_handle) = (a.config, a.store);
    let store = store_handle.as_ref();
    match command {
        AuditCommand::Verify { trust } => {
            let anchor = store.audit_anchor()?;
            if let Some((seq, hash)) = &anchor {
                out.line(&format!(
                    "entries up to {seq} were purged (retention); the chain starts after {hash}"
                ))?;
            }
            let purged_through = anchor.as_ref().map_or(0, |(seq, _)| *seq);
            let seals: Vec<_> = store
                .audit_seals()?
                .into_iter()
                .filter(|s| s.seq > purged_through)
                .collect();
            // The sealed entries' hashes, found while the chain is read in pages (its memory
            // does not grow with the log).
            let mut sealed: std::collections::HashMap<u64, Option<String>> =
                seals.iter().map(|s| (s.seq, None)).collect();
            let mut at = anchor.unwrap_or((0, GENESIS.to_owned()));
            let mut count = 0usize;
            loop {
                let page = store.audit_entries_page(at.0 + 1, 1000, 16 << 20)?;
                if page.is_empty() {
                    break;
                }
                for (entry, _) in &page {
                    if let Some(hash) = sealed.get_mut(&entry.seq) {
                        *hash = Some(entry.hash.clone());
                    }
                }
                count += page.len();
                at = verify_chain_from(at, page).context("the audit chain is broken")?;
            }
            let head = at.1;
            let anchors = match &trust {
                Some(file) => pem_certificates_in(file)?,
                None => pem_certificates(&config.sender_trust_anchors)?,
            };
            let trust = TrustStore::new(anchors);
            for seal in &seals {
                if sealed.get(&seal.seq).and_then(Option::as_ref) != Some(&seal.hash) {
                    bail!("the seal of entry {} names another hash", seal.seq);
                }
                let digest = unhex(&seal.hash).with_context(|| {
                    format!("the seal of entry {}: its hash is not hex", seal.seq)
                })?;
                let token = base64_decode(&seal.token)?;
                verify_token(&token, &Expected::digest(oid::SHA256, &digest), &trust)
                    .with_context(|| format!("the seal of entry {}", seal.seq))?;
            }
            let verdict = format!(
                "audit log valid: {count} entries, head {head}, {} sealed heads verified",
                seals.len()
            );
            // Reading the traces is itself traced.
            record_changes(a, "AuditVerify", &verdict, Changes::default())?;
            out.line(&verdict)?;
        }
        AuditCommand::Export {
            from,
            to,
            out: path,
        } => {
            let bound = |t: Option<String>| -> anyhow::Result<Option<u64>> {
                t.map(|text| {
                    Ok(parse_date_time(&text)
                        .map_err(|e| anyhow::anyhow!("{text:?}: {e}"))?
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()))
                })
                .transpose()
            };
            let window = Window {
                from: bound(from)?,
                to: bound(to)?,
            };
            let end = export(
                store,
                window,
                &config.issuer_name,
                SystemClock.now(),
                out.payload(),
            )?;
            let n = end.entries;
            let range = if n == 0 {
                "no entry".to_owned()
            } else {
                format!("entries {} to {}", end.head_seq + 1 - n, end.head_seq)
            };
            // Reading the traces is itself traced.
            record_changes(
                a,
                "AuditExport",
                &format!(
                    "{n} audit entries ({range}) exported to {}",
                    path.as_deref()
                        .map_or("standard output".into(), |p| p.display().to_string())
                ),
                Changes::default(),
            )?;
            out.note(&format!(
                "{n} entries exported ({range}), head {}",
                end.head_hash
            ))?;
        }
        AuditCommand::Hold {
            from_seq,
            since,
            reason,
        } => {
            anyhow::ensure!(!reason.trim().is_empty(), "a legal hold needs a --reason");
            let from_seq = match (from_seq, since) {
                (Some(seq), None) => seq,
                (None, Some(text)) => {
                    let at = parse_date_time(&text)
                        .map_err(|e| anyhow::anyhow!("--since {text:?}: {e}"))?
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    store.audit_last_before(at)?.map_or(1, |(seq, _)| seq + 1)
                }
                _ => bail!("give --from-seq or --since"),
            };
            let hold = LegalHold {
                id: format!("hold-{}", random_hex(8)),
                from_seq: from_seq.max(1),
                reason: reason.trim().to_owned(),
                placed_at: now_unix(),
                released_at: None,
            };
            record(
                a,
                "LegalHold",
                &format!(
                    "legal hold {} placed on the traces from entry {}: {}",
                    hold.id, hold.from_seq, hold.reason
                ),
                vec![legal_hold_write(&hold)?],
            )?;
            out.line(&serde_json::to_string(&hold)?)?;
        }
        AuditCommand::Release { id } => {
            let Some(mut hold) = legal_holds(store)?.into_iter().find(|h| h.id == id) else {
                bail!("no legal hold {id}");
            };
            hold.released_at.get_or_insert(now_unix());
            record(
                a,
                "LegalHoldRelease",
                &format!("legal hold {id} released"),
                vec![legal_hold_write(&hold)?],
            )?;
            out.line(&serde_json::to_string(&hold)?)?;
        }
        AuditCommand::Holds => {
            for hold in legal_holds(store)? {
                out.line(&serde_json::to_string(&hold)?)?;
            }
        }
        AuditCommand::Seal => {
            // The running service's time-stamps (its TSA's serial numbers are its own), else
            // those of the configuration (the embedded TSA or the remote ones).
            let (tsa, counter) = match a.app {
                Some(app) => (
                    std::sync::Arc::clone(&app.timestamper),
                    app.counter_stamper.clone(),
                ),
                None => (
                    evidence_timestamper(
                        config,
                        &std::sync::Arc::new(TimeStampAuthority::from_settings(&config.tsa)?),
                        std::sync::Arc::new(SystemClock),
                    )?,
                    counter_stamper(config, std::sync::Arc::new(SystemClock))?,
                ),
            };
            let counter = counter
                .as_deref()
                .map(|c| c as &dyn sealpost_evidence::seal::Timestamper);
            match seal_audit_head(store, tsa.as_ref(), counter, SystemClock.now())? {
                Some(seal) => out.line(&format!("audit head {} sealed", seal.seq))?,
                None => out.line("nothing to seal")?,
            }
        }
    }
    Ok(())
}

/// An administrative change and its audit entry, in one commit (naming the operator; the
/// request kept is the change's description).
fn record(
    a: &Admin,
    operation: &'static str,
    detail: &str,
    records: Vec<sealpost::core::RecordWrite>,
) -> anyhow::Result<()> {
    record_changes(
        a,
        operation,
        detail,
        Changes {
            records,
            ..Changes::default()
        },
    )
}

/// [`record`] for any administrative change: the registry, the directory, people.
fn vector(a: &Admin, command: VectorCommand, out: &mut dyn Output) -> anyhow::Result<()> {
    let all = || -> anyhow::Result<Vec<VectorRecord>> {
        a.store
            .entities(RecordKind::Vector.name())?
            .iter()
            .map(|bytes| serde_json::from_slice(bytes).context("a stored vector does not decode"))
            .collect()
    };
    match command {
        VectorCommand::List { agent, from, to } => {
            let time = |t: &Option<String>| -> anyhow::Result<Option<u64>> {
                t.as_deref()
                    .map(|t| {
                        let at = parse_date_time(t).map_err(|e| anyhow!("{t:?}: {e}"))?;
                        Ok(at
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs()))
                    })
                    .transpose()
            };
            let (from, to) = (time(&from)?, time(&to)?);
            let mut found: Vec<VectorRecord> = all()?
                .into_iter()
                .filter(|v| {
                    v.agent.id == agent
                        && from.is_none_or(|f| v.time >= f)
                        && to.is_none_or(|t| v.time < t)
                })
                .collect();
            found.sort_by(|x, y| (x.time, &x.correlation_id).cmp(&(y.time, &y.correlation_id)));
            record_changes(
                a,
                "VectorList",
                &format!(
                    "the requests of agent {agent} listed ({} found)",
                    found.len()
                ),
                Changes::default(),
            )?;
            for v in found {
                out.line(
                    &serde_json::json!({
                        "time": sealpost_xmldsig::wss_sign::format_date_time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(v.time)),
                        "correlation_id": v.correlation_id,
                        "operation": v.operation,
                        "outcome": v.outcome,
                        "code": v.code,
                        "message_id": v.message_id,
                        "identity": v.identity,
                        "pagm": v.agent.profiles,
                        "authentication_level": v.agent.authentication_level,
                        "identity_provider": v.agent.identity_provider,
                        "assertion_id": v.agent.assertion_id,
                    })
                    .to_string(),
                )?;
            }
            Ok(())
        }
        VectorCommand::Show { id } => {
            let found = match a.store.entity(RecordKind::Vector.name(), &id)? {
                Some(bytes) => Some(
                    serde_json::from_slice::<VectorRecord>(&bytes)
                        .context("the stored vector does not decode")?,
                ),
                // A message's id: the vector of the request that submitted it.
                None => all()?.into_iter().find(|v| {
                    v.message_id.as_deref() == Some(id.as_str())
                        && v.outcome == "accepted"
                        && v.operation == "SubmitRegisteredMail"
                }),
            };
            let Some(found) = found else {
                bail!("no identification vector came with request or message {id}");
            };
            record_changes(
                a,
                "VectorRead",
                &format!(
                    "the vector of request {} read (agent {})",
                    found.correlation_id, found.agent.id
                ),
                Changes::default(),
            )?;
            out.line(&serde_json::to_string(&found)?)?;
            Ok(())
        }
    }
}

fn record_changes(
    a: &Admin,
    operation: &'static str,
    detail: &str,
    changes: Changes,
) -> anyhow::Result<()> {
    let clock = std::sync::Arc::new(SystemClock);
    let recorder = Recorder::new(
        std::sync::Arc::clone(a.store) as std::sync::Arc<dyn Ledger>,
        clock.clone(),
    );
    let ctx = RequestContext {
        correlation_id: sealpost_evidence::model::new_evidence_id(clock.now()),
        channel: Channel::Admin,
        operation,
        request: std::sync::Arc::new(detail.as_bytes().to_vec()),
        seen: None,
        vector: None,
    };
    recorder
        .record_change(&ctx, a.operator, true, detail, changes)
        .map(|_| ())
        .map_err(|r| anyhow::anyhow!("the audit log: {}", r.kind.row().code))
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // aws-lc aborts if the system RNG fails; nothing sensible is left to do then.
    aws_lc_rs::rand::fill(&mut b).expect("system random number generator");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn person(a: &Admin, command: PersonCommand, out: &mut dyn Output) -> anyhow::Result<()> {
    let (config, store) = (a.config, a.store);
    let people = People(store.as_ref());
    match command {
        PersonCommand::Add {
            login,
            name,
            nrn,
            manages,
            password,
            totp_secret,
            certs,
            valid_days,
            contact,
        } => {
            let trust = trust_anchors(
                &config.mailbox_trust_anchors,
                config.mailbox_intermediates.as_deref(),
            )?;
            let mut certificates = Vec::new();
            for file in &certs {
                let fingerprint = trusted_fingerprint(&trust, file, SystemClock.now())?;
                if let Some(owner) = people.certificate_owner(&fingerprint)?
                    && owner != login.trim()
                {
                    bail!("{}: the certificate is already someone else's", file.name);
                }
                certificates.push(fingerprint);
            }
            if login.trim().is_empty() || name.trim().is_empty() {
                bail!("a person needs a login and a name");
            }
            let nrn = nrn
                .map(|n| RecipientId::parse(&n).map(|id| id.to_string()))
                .transpose()?;
            if nrn.as_deref().is_some_and(|n| !n.starts_with("nrn:")) {
                bail!("--nrn takes a national register number (nrn:…)");
            }
            let manages = manages
                .iter()
                .map(|c| {
                    let id = RecipientId::parse(c.trim())?;
                    anyhow::ensure!(
                        id.as_str().starts_with("cbe:"),
                        "--manages takes enterprise numbers (cbe:…)"
                    );
                    Ok(id.to_string())
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = password.unwrap_or_else(|| random_hex(9));
            let totp = match totp_secret {
                Some(s) => TotpSecret::from_base32(&s).context("--totp-secret: base32")?,
                None => TotpSecret::generate(),
            };
            let person = Person {
                login: login.trim().to_owned(),
                name: name.trim().to_owned(),
                nrn,
                password: PasswordHash::new(&password)?.as_phc().to_owned(),
                totp_secret: totp.to_base32(),
                must_change_password: true,
                failed_logins: 0,
                locked_until: 0,
                last_totp_step: None,
                last_login: now_unix(),
                manages,
                certificates,
                deletion_notice_at: None,
                deletion_cancelled_at: None,
                contact: contact.filter(|c| !c.trim().is_empty()),
                provisional_until: Some(now_unix() + valid_days.saturating_mul(86_400)),
            };
            let mut records = vec![person_write(&person)?];
            records.extend(
                person
                    .certificates
                    .iter()
                    .map(|fingerprint| certificate_write(fingerprint, &person.login)),
            );
            record(
                a,
                "PersonAdd",
                &format!("person {} added", person.login),
                records,
            )?;
            out.line(&format!(
                "{}",
                serde_json::json!({
                    "login": person.login,
                    "one_time_password": password,
                    "totp_secret": person.totp_secret,
                    "otpauth": totp.enrolment_uri("Sealpost", &person.login),
                })
            ))?;
        }
        PersonCommand::Reset {
            login,
            password,
            valid_days,
        } => {
            let Some(mut person) = people.person(&login)? else {
                bail!("no person {login:?}");
            };
            let password = password.unwrap_or_else(|| random_hex(9));
            let valid_until = now_unix() + valid_days.saturating_mul(86_400);
            person.password = PasswordHash::new(&password)?.as_phc().to_owned();
            person.must_change_password = true;
            person.provisional_until = Some(valid_until);
            person.failed_logins = 0;
            person.locked_until = 0;
            record(
                a,
                "PersonReset",
                &format!(
                    "person {}: provisional password issued, valid until {valid_until}, account unlocked",
                    person.login
                ),
                vec![person_write(&person)?],
            )?;
            out.line(&format!(
                "{}",
                serde_json::json!({"one_time_password": password, "valid_until": valid_until})
            ))?;
        }
        PersonCommand::List => {
            // By login: entities come in key order.
            for p in people.everyone()? {
                out.line(&format!(
                    "{}",
                    serde_json::json!({
                        "login": p.login, "name": p.name, "nrn": p.nrn, "manages": p.manages,
                        "locked_until": p.locked_until, "last_login": p.last_login,
                    })
                ))?;
            }
        }
    }
    Ok(())
}

fn mandate(a: &Admin, command: MandateCommand, out: &mut dyn Output) -> anyhow::Result<()> {
    let store = a.store;
    let people = People(store.as_ref());
    match command {
        MandateCommand::Grant {
            company,
            person,
            types,
            days,
        } => {
            let company = RecipientId::parse(company.trim())?.to_string();
            anyhow::ensure!(company.starts_with("cbe:"), "--company takes cbe:…");
            anyhow::ensure!(
                people.person(&person)?.is_some(),
                "no person {person:?} (sealpost admin person add)"
            );
            let now = now_unix();
            let mandate = Mandate {
                id: format!("mandate-{}", random_hex(16)),
                company,
                person,
                message_types: types
                    .iter()
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect(),
                valid_from: now,
                valid_until: now + days.saturating_mul(86_400),
                revoked_at: None,
                granted_by: a.operator.to_owned(),
            };
            record(
                a,
                "MandateGrant",
                &format!(
                    "mandate {} to {} for {}",
                    mandate.id, mandate.person, mandate.company
                ),
                vec![mandate_write(&mandate)?],
            )?;
            out.line(&serde_json::to_string(&mandate)?)?;
        }
        MandateCommand::Revoke { id } => {
            let Some(mut m) = people.mandates()?.into_iter().find(|m| m.id == id) else {
                bail!("no mandate {id}");
            };
            m.revoked_at.get_or_insert(now_unix());
            record(
                a,
                "MandateRevoke",
                &format!("mandate {} revoked", m.id),
                vec![mandate_write(&m)?],
            )?;
            out.line(&serde_json::to_string(&m)?)?;
        }
        MandateCommand::List => {
            for m in people.mandates()? {
                out.line(&serde_json::to_string(&m)?)?;
            }
        }
    }
    Ok(())
}
