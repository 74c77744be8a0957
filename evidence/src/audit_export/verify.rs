//! The offline check of an audit export, as a court or an auditor runs it: numbered steps,
//! each reported; the first line that fails, and why. A step that cannot be decided makes the
//! result indeterminate, never valid.
//!
//! Memory does not grow with the export: the file is read twice, once for the sequence
//! numbers its seals name, then line by line, keeping only the last entry read and the hashes
//! of the entries a seal names.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead};
use std::time::{Duration, UNIX_EPOCH};

use sealpost_core::audit::{ChainError, GENESIS, unhex, verify_chain_from};
use sealpost_core::records::AuditEntry;
use sealpost_tsa::asn1::oid;
use sealpost_tsa::{Expected, TrustStore, Verdict as TokenVerdict, verify_token};
use sealpost_xmldsig::wss::parse_date_time;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    Anchor, ENTRY_FIELDS, EndLine, FORMAT, FORMAT_COUNTER_STAMPED, Header, SealLine, strict_json,
    unbase64,
};
use crate::provider::{CertificateName, Provider};
use crate::seal::stamps_agree;
use crate::verify::{Outcome, Policy, Step, TIME_TOLERANCE, Verdict, shown};

/// The steps, in order (docs/audit-export.md).
pub const CHECKS: [&str; 9] = [
    "the file is a sealpost-audit-export-1 (or -2: counter-stamped) export: a header, the entries, the seals, a trailer, each line one JSON object of its documented form",
    "each entry's hash is the SHA-256 of its canonical encoding, and the SHA-256 of its request (request_base64) is its request_sha256",
    "the entries are contiguous from the header's anchor to its to_seq, each linking to the one before",
    "the trailer counts the entries and names the last one: the file is whole",
    "each seal names an exported entry by that entry's hash",
    "each seal's token is an RFC 3161 time-stamp over that hash, chaining to the trusted root",
    "the seals' time-stamps come from the provider's time-stamping unit",
    "no entry states a time later than the time-stamp of a seal that covers it",
    "a seal covers the head: every exported entry is attested by a time-stamp",
];

const HEADER_FIELDS: [&str; 6] = [
    "format",
    "provider",
    "exported_at",
    "from_seq",
    "to_seq",
    "anchor",
];
const SEAL_FIELDS: [&str; 4] = ["seq", "hash", "token_base64", "sealed_at"];
const COUNTER_STAMPED_SEAL_FIELDS: [&str; 5] = [
    "seq",
    "hash",
    "token_base64",
    "sealed_at",
    "counter_token_base64",
];
const END_FIELDS: [&str; 3] = ["entries", "head_seq", "head_hash"];

/// What the check found.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub verdict: Verdict,
    pub steps: Vec<Step>,
    /// The first line that fails, and why (when invalid).
    pub failure: Option<LineFailure>,
    /// The provider the export names (its header: the exporter's statement).
    pub provider: Option<String>,
    /// The provider whose trusted list the seals were checked against.
    pub checked_against: Option<String>,
    pub from_seq: Option<u64>,
    pub to_seq: Option<u64>,
    pub anchor: Option<Anchor>,
    /// How many entries were read and verified.
    pub entries: u64,
    /// The last entry verified.
    pub head: Option<Anchor>,
    /// The seals whose token verified.
    pub seals: Vec<VerifiedSeal>,
    /// What the export proves, in plain words (only when valid).
    pub proves_en: Option<String>,
    pub proves_fr: Option<String>,
}

/// Where reading stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LineFailure {
    /// 1 for the header.
    pub line: u64,
    /// The step it fails.
    pub step: u8,
    pub reason: String,
}

/// A seal whose token verified.
#[derive(Clone, Debug, Serialize)]
pub struct VerifiedSeal {
    pub seq: u64,
    pub line: u64,
    /// The token's genTime, xsd:dateTime UTC.
    pub time_stamped_at: String,
    /// The token's signer.
    pub by: Option<CertificateName>,
}

/// The check under a fixed policy (the trusted roots, the provider's identity).
#[derive(Clone, Debug)]
pub struct AuditExportVerifier {
    trust_store: TrustStore,
    provider: Option<Provider>,
}

impl AuditExportVerifier {
    pub fn new(policy: Policy) -> Self {
        AuditExportVerifier {
            trust_store: TrustStore::new(policy.anchors),
            provider: policy.provider,
        }
    }

    /// Checks the export `open` reads (it is called twice, for two readings from the start).
    /// An error is a failure to read, not a verdict.
    pub fn verify<R: BufRead>(
        &self,
        mut open: impl FnMut() -> io::Result<R>,
    ) -> io::Result<AuditReport> {
        let mut sealed_seqs = HashSet::new();
        each_line(open()?, |_, line| {
            if let Ok(Probe { seal: Some(seal) }) = serde_json::from_slice::<Probe>(line) {
                sealed_seqs.insert(seal.seq);
            }
            true
        })?;
        let mut run = Run::new(self, sealed_seqs);
        let mut halt = None;
        let lines = each_line(open()?, |n, line| {
            run.line = n;
            match run.read(line) {
                Ok(()) => true,
                Err(h) => {
                    halt = Some((n, h));
                    false
                }
            }
        })?;
        if halt.is_none() {
            if lines == 0 {
                halt = Some((1, invalid(1, "the file is empty: no header")));
            } else if run.phase != Phase::Ended {
                halt = Some((
                    lines + 1,
                    invalid(
                        4,
                        format!(
                            "the file ends after line {lines} without its trailer: it is cut short"
                        ),
                    ),
                ));
            }
        }
        Ok(run.report(halt))
    }
}

/// What the first reading looks for: the sequence number of each seal line.
#[derive(Deserialize)]
struct Probe {
    seal: Option<ProbeSeal>,
}

#[derive(Deserialize)]
struct ProbeSeal {
    seq: u64,
}

/// Calls `each` with every line (without its line feed) and its number, from 1, until it
/// says stop; how many lines were read.
fn each_line<R: BufRead>(
    mut reader: R,
    mut each: impl FnMut(u64, &[u8]) -> bool,
) -> io::Result<u64> {
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(n);
        }
        n += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if !each(n, &buf) {
            return Ok(n);
        }
    }
}

/// Why reading stopped.
enum Halt {
    /// The export is proven wrong at this line.
    Invalid { step: u8, reason: String },
    /// It cannot be judged from here on (a format this verifier does not read).
    Undecided { step: u8, reason: String },
}

fn invalid(step: u8, reason: impl Into<String>) -> Halt {
    Halt::Invalid {
        step,
        reason: reason.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Header,
    Entries,
    Seals,
    Ended,
}

/// The latest time an entry states so far: (time, its seq, its line).
type Latest = Option<(u64, u64, u64)>;

struct Run<'a> {
    verifier: &'a AuditExportVerifier,
    /// The entries a seal names (the first reading).
    sealed_seqs: HashSet<u64>,
    line: u64,
    phase: Phase,
    header: Option<Header>,
    /// The last entry read (the anchor before the first); its hash unknown only after a null
    /// anchor, before the first entry.
    prev: (u64, Option<String>),
    entries: u64,
    latest: Latest,
    /// For each entry a seal names, once read: its hash and the latest time up to it.
    sealed: HashMap<u64, (String, Latest)>,
    seal_lines: u64,
    last_seal: Option<u64>,
    verified: Vec<VerifiedSeal>,
    token_undecided: Option<String>,
    /// Of [`FORMAT_COUNTER_STAMPED`]: a seal may carry a counter-stamp.
    counter_stamped: bool,
}

/// Exactly these fields, no other.
fn exactly(map: &Map<String, Value>, fields: &[&str], what: &str) -> Result<(), Halt> {
    if let Some(extra) = map.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(invalid(
            1,
            format!("{what}: the field {:?} is not in the format", shown(extra)),
        ));
    }
    if let Some(missing) = fields.iter().find(|f| !map.contains_key(**f)) {
        return Err(invalid(1, format!("{what}: no field {missing:?}")));
    }
    Ok(())
}

/// The one object a single-field line (`{"seal":{...}}`, `{"end":{...}}`) holds, with exactly
/// `fields`.
fn inner<'m>(
    map: &'m Map<String, Value>,
    name: &str,
    fields: &[&str],
    what: &str,
) -> Result<&'m Map<String, Value>, Halt> {
    exactly(map, &[name], what)?;
    let Some(Value::Object(inner)) = map.get(name) else {
        return Err(invalid(1, format!("{what}: {name:?} is not an object")));
    };
    exactly(inner, fields, what)?;
    Ok(inner)
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl<'a> Run<'a> {
    fn new(verifier: &'a AuditExportVerifier, sealed_seqs: HashSet<u64>) -> Self {
        Run {
            verifier,
            sealed_seqs,
            line: 0,
            phase: Phase::Header,
            header: None,
            prev: (0, None),
            entries: 0,
            latest: None,
            sealed: HashMap::new(),
            seal_lines: 0,
            last_seal: None,
            verified: Vec::new(),
            token_undecided: None,
            counter_stamped: false,
        }
    }

    fn to_seq(&self) -> u64 {
        self.header.as_ref().map_or(0, |h| h.to_seq)
    }

    fn read(&mut self, bytes: &[u8]) -> Result<(), Halt> {
        let value = strict_json::parse(bytes)
            .map_err(|e| invalid(1, format!("not one JSON value: {e}")))?;
        let Value::Object(map) = value else {
            return Err(invalid(1, "not a JSON object"));
        };
        match self.phase {
            Phase::Header => self.header(map),
            Phase::Ended => Err(invalid(4, "a line after the trailer")),
            Phase::Entries | Phase::Seals => {
                if map.contains_key("format") {
                    Err(invalid(1, "a second header"))
                } else if map.contains_key("seal") {
                    self.seal(&map)
                } else if map.contains_key("end") {
                    self.end(&map)
                } else {
                    self.entry(map)
                }
            }
        }
    }

    fn header(&mut self, map: Map<String, Value>) -> Result<(), Halt> {
        match map.get("format").and_then(Value::as_str) {
            Some(FORMAT) => {}
            Some(FORMAT_COUNTER_STAMPED) => self.counter_stamped = true,
            Some(other) if other.starts_with("sealpost-audit-export-") => {
                return Err(Halt::Undecided {
                    step: 1,
                    reason: format!(
                        "the format {:?}: this verifier reads {FORMAT} and {FORMAT_COUNTER_STAMPED} only",
                        shown(other)
                    ),
                });
            }
            _ => {
                return Err(invalid(
                    1,
                    format!("the first line is not the header of a {FORMAT} export"),
                ));
            }
        }
        exactly(&map, &HEADER_FIELDS, "the header")?;
        let header: Header = serde_json::from_value(Value::Object(map))
            .map_err(|e| invalid(1, format!("the header: {e}")))?;
        parse_date_time(&header.exported_at)
            .map_err(|_| invalid(1, "the header: exported_at is not an xsd:dateTime"))?;
        match &header.anchor {
            Some(anchor) => {
                if !is_sha256_hex(&anchor.hash) {
                    return Err(invalid(
                        1,
                        "the header: the anchor's hash is not a SHA-256 in lower-case hex",
                    ));
                }
                if anchor.seq == 0 && anchor.hash != GENESIS {
                    return Err(invalid(
                        3,
                        "the anchor 0 is the start of the log: its hash must be the genesis hash (64 zeros)",
                    ));
                }
                if anchor.seq.checked_add(1) != Some(header.from_seq) {
                    return Err(invalid(
                        1,
                        format!(
                            "the header: from_seq {} does not follow the anchor {}",
                            header.from_seq, anchor.seq
                        ),
                    ));
                }
                self.prev = (anchor.seq, Some(anchor.hash.clone()));
            }
            None => {
                if header.from_seq == 0 {
                    return Err(invalid(
                        1,
                        "the header: from_seq 0 (sequence numbers begin at 1)",
                    ));
                }
                self.prev = (header.from_seq - 1, None);
            }
        }
        if header.to_seq < header.from_seq - 1 {
            return Err(invalid(
                1,
                format!(
                    "the header: to_seq {} is before from_seq {}",
                    header.to_seq, header.from_seq
                ),
            ));
        }
        self.header = Some(header);
        self.phase = Phase::Entries;
        Ok(())
    }

    fn entry(&mut self, mut map: Map<String, Value>) -> Result<(), Halt> {
        if self.phase != Phase::Entries {
            return Err(invalid(
                1,
                "an entry after the seals: the entries come first, then the seals",
            ));
        }
        exactly(&map, &ENTRY_FIELDS, "an entry")?;
        let request = match map.remove("request_base64") {
            Some(Value::String(text)) => unbase64(&text)
                .ok_or_else(|| invalid(2, "request_base64 is not standard base64"))?,
            _ => return Err(invalid(1, "an entry: request_base64 is not a string")),
        };
        let entry: AuditEntry = serde_json::from_value(Value::Object(map))
            .map_err(|e| invalid(1, format!("not an audit entry: {e}")))?;
        let (seq, hash, time) = (entry.seq, entry.hash.clone(), entry.record.time);
        let to_seq = self.to_seq();
        if seq > to_seq {
            return Err(invalid(
                3,
                format!("entry {seq} is past the header's to_seq {to_seq}"),
            ));
        }
        let first = self.entries == 0;
        // After a null anchor, the first entry's link is taken as it is (step 3 says so).
        let prev_hash = self
            .prev
            .1
            .clone()
            .unwrap_or_else(|| entry.prev_hash.clone());
        verify_chain_from((self.prev.0, prev_hash), [(entry, request)]).map_err(|e| match e {
            ChainError::Sequence { seq, expected } => invalid(
                3,
                format!(
                    "entry {seq} where entry {expected} must come: an entry is missing, repeated or out of order"
                ),
            ),
            ChainError::Link(seq) if first => invalid(
                3,
                format!("entry {seq}: its prev_hash is not the anchor's hash"),
            ),
            ChainError::Link(seq) => invalid(
                3,
                format!(
                    "entry {seq}: its prev_hash is not the hash of entry {}",
                    seq - 1
                ),
            ),
            ChainError::Hash(seq) => invalid(
                2,
                format!(
                    "entry {seq}: its hash is not the SHA-256 of its canonical encoding: the entry was changed"
                ),
            ),
            ChainError::Request(seq) => invalid(
                2,
                format!(
                    "entry {seq}: the SHA-256 of request_base64 is not its request_sha256: the request was changed"
                ),
            ),
        })?;
        self.entries += 1;
        if self.latest.is_none_or(|(t, _, _)| time > t) {
            self.latest = Some((time, seq, self.line));
        }
        if self.sealed_seqs.contains(&seq) {
            self.sealed.insert(seq, (hash.clone(), self.latest));
        }
        self.prev = (seq, Some(hash));
        Ok(())
    }

    /// Before the first seal or the trailer: every entry the header announces was read.
    fn entries_complete(&mut self) -> Result<(), Halt> {
        let to_seq = self.to_seq();
        if self.prev.0 != to_seq {
            return Err(invalid(
                3,
                format!(
                    "the entries stop at entry {}, before the header's to_seq {to_seq}",
                    self.prev.0
                ),
            ));
        }
        Ok(())
    }

    fn seal(&mut self, map: &Map<String, Value>) -> Result<(), Halt> {
        let countered = self.counter_stamped
            && map
                .get("seal")
                .and_then(Value::as_object)
                .is_some_and(|s| s.contains_key("counter_token_base64"));
        if countered {
            inner(map, "seal", &COUNTER_STAMPED_SEAL_FIELDS, "a seal")?;
        } else {
            inner(map, "seal", &SEAL_FIELDS, "a seal")?;
        }
        let SealLine { seal } = serde_json::from_value(Value::Object(map.clone()))
            .map_err(|e| invalid(1, format!("a seal: {e}")))?;
        if self.phase == Phase::Entries {
            self.entries_complete()?;
            self.phase = Phase::Seals;
        }
        self.seal_lines += 1;
        let seq = seal.seq;
        if let Some(last) = self.last_seal.filter(|last| seq <= *last) {
            return Err(invalid(
                5,
                format!(
                    "the seal of entry {seq} after that of entry {last}: seals come once each, in sequence order"
                ),
            ));
        }
        self.last_seal = Some(seq);
        let (from, to) = self
            .header
            .as_ref()
            .map_or((0, 0), |h| (h.from_seq, h.to_seq));
        if seq < from || seq > to {
            return Err(invalid(
                5,
                format!("the seal of entry {seq} is outside the entries exported ({from} to {to})"),
            ));
        }
        let Some((hash, latest)) = self.sealed.remove(&seq) else {
            return Err(invalid(
                1,
                "the file changed while it was read (a seal its first reading did not see)",
            ));
        };
        if seal.hash != hash {
            return Err(invalid(
                5,
                format!(
                    "the seal of entry {seq} names the hash {}, not the entry's {hash}",
                    shown(&seal.hash)
                ),
            ));
        }
        let digest = unhex(&hash).ok_or_else(|| invalid(5, "the entry's hash is not hex"))?;
        let Some(token) = self.seal_token(seq, &digest, &seal.token_base64, "")? else {
            return Ok(());
        };
        // The independent TSA's counter-stamp: as sound, from a published unit, and at the
        // same time give or take the clocks' agreement.
        if let Some(counter) = &seal.counter_token_base64 {
            let Some(counter) =
                self.seal_token(seq, &digest, counter, " (counter_token_base64)")?
            else {
                return Ok(());
            };
            stamps_agree(
                (token.gen_time, token.accuracy),
                (counter.gen_time, counter.accuracy),
            )
            .map_err(|e| invalid(8, format!("the seal of entry {seq}: {e}")))?;
        }
        let stamped = token
            .gen_time
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let limit = stamped
            .saturating_add(token.accuracy.unwrap_or_default())
            .saturating_add(TIME_TOLERANCE);
        if let Some((time, entry, line)) = latest
            && Duration::from_secs(time) > limit
        {
            return Err(invalid(
                8,
                format!(
                    "entry {entry} (line {line}) states the time {time} (Unix seconds), later than the time-stamp of the seal of entry {seq} that covers it ({}, {} s tolerance)",
                    sealpost_model::format_date_time(token.gen_time),
                    TIME_TOLERANCE.as_secs()
                ),
            ));
        }
        self.verified.push(VerifiedSeal {
            seq,
            line: self.line,
            time_stamped_at: sealpost_model::format_date_time(token.gen_time),
            by: token.path.first().map(|c| CertificateName::of(c)),
        });
        Ok(())
    }

    /// A seal's token (base64) verified over `digest` and from the provider's unit; `None`
    /// when it cannot be decided here (remembered as such). `field` names the token in the
    /// reasons: empty for the seal's own, ` (counter_token_base64)` for its counter-stamp.
    fn seal_token(
        &mut self,
        seq: u64,
        digest: &[u8],
        base64: &str,
        field: &str,
    ) -> Result<Option<sealpost_tsa::verify::VerifiedToken>, Halt> {
        let token = unbase64(base64).ok_or_else(|| {
            invalid(
                6,
                format!("the seal of entry {seq}{field}: not standard base64"),
            )
        })?;
        let expected = Expected::digest(oid::SHA256, digest);
        let token = match verify_token(&token, &expected, &self.verifier.trust_store) {
            Ok(token) => token,
            Err(e) if e.verdict() == TokenVerdict::Invalid => {
                return Err(invalid(6, format!("the seal of entry {seq}{field}: {e}")));
            }
            Err(e) => {
                self.token_undecided.get_or_insert(format!(
                    "the seal of entry {seq}{field} (line {}): {e}",
                    self.line
                ));
                return Ok(None);
            }
        };
        if let Some(provider) = &self.verifier.provider {
            match token.path.first() {
                Some(tsa) if provider.is_tsa(tsa) => {}
                Some(tsa) => {
                    let named = CertificateName::of(tsa);
                    return Err(invalid(
                        7,
                        format!(
                            "the seal of entry {seq}{field}: time-stamped by {} (SHA-256 {}), not a time-stamping unit of {}",
                            named.subject,
                            named.sha256,
                            shown(&provider.name)
                        ),
                    ));
                }
                None => {
                    return Err(invalid(
                        7,
                        format!("the seal of entry {seq}{field}: the time-stamp names no signer"),
                    ));
                }
            }
        }
        Ok(Some(token))
    }

    fn end(&mut self, map: &Map<String, Value>) -> Result<(), Halt> {
        inner(map, "end", &END_FIELDS, "the trailer")?;
        let EndLine { end } = serde_json::from_value(Value::Object(map.clone()))
            .map_err(|e| invalid(1, format!("the trailer: {e}")))?;
        if self.phase == Phase::Entries {
            self.entries_complete()?;
        }
        self.phase = Phase::Ended;
        if end.entries != self.entries {
            return Err(invalid(
                4,
                format!(
                    "the trailer counts {} entries; the file holds {}",
                    end.entries, self.entries
                ),
            ));
        }
        let (seq, hash) = &self.prev;
        if end.head_seq != *seq || hash.as_ref().is_some_and(|h| *h != end.head_hash) {
            return Err(invalid(
                4,
                format!(
                    "the trailer names the head entry {} ({}); the last entry is {seq} ({})",
                    end.head_seq,
                    shown(&end.head_hash),
                    hash.as_deref().unwrap_or("?")
                ),
            ));
        }
        Ok(())
    }

    fn report(self, halt: Option<(u64, Halt)>) -> AuditReport {
        let header = self.header.as_ref();
        let mut report = AuditReport {
            verdict: Verdict::Indeterminate,
            steps: Vec::new(),
            failure: None,
            provider: header.map(|h| h.provider.clone()),
            checked_against: self.verifier.provider.as_ref().map(|p| p.name.clone()),
            from_seq: header.map(|h| h.from_seq),
            to_seq: header.map(|h| h.to_seq),
            anchor: header.and_then(|h| h.anchor.clone()),
            entries: self.entries,
            head: self.prev.1.as_ref().map(|hash| Anchor {
                seq: self.prev.0,
                hash: hash.clone(),
            }),
            seals: self.verified.clone(),
            proves_en: None,
            proves_fr: None,
        };
        let outcomes: Vec<Outcome> = match (halt, header) {
            (Some((line, halt)), _) => {
                let (step, outcome) = match halt {
                    Halt::Invalid { step, reason } => {
                        report.failure = Some(LineFailure {
                            line,
                            step,
                            reason: reason.clone(),
                        });
                        (step, Outcome::Failed(format!("line {line}: {reason}")))
                    }
                    Halt::Undecided { step, reason } => (
                        step,
                        Outcome::Indeterminate(format!("line {line}: {reason}")),
                    ),
                };
                let mut outcome = Some(outcome);
                (1..=9u8)
                    .map(|n| match outcome.take_if(|_| n == step) {
                        Some(o) => o,
                        None => Outcome::Indeterminate(format!(
                            "not completed: reading stopped at line {line}"
                        )),
                    })
                    .collect()
            }
            (None, Some(header)) => self.outcomes(header),
            (None, None) => vec![Outcome::Failed("no header".into())],
        };
        report.steps = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| Step {
                number: u8::try_from(i + 1).unwrap_or(0),
                check: CHECKS.get(i).copied().unwrap_or(""),
                outcome,
                // The first failing line's reason (`AuditReport::failure`) says it.
                plain: None,
            })
            .collect();
        let failed = report
            .steps
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Failed(_)));
        let undecided = report
            .steps
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Indeterminate(_)));
        report.verdict = match (failed, undecided) {
            (true, _) => Verdict::Invalid,
            (false, true) => Verdict::Indeterminate,
            (false, false) => Verdict::Valid,
        };
        if report.verdict == Verdict::Valid
            && let (Some(header), Some(provider), Some(head)) = (
                header,
                self.verifier.provider.as_ref(),
                self.verified.last(),
            )
        {
            let (en, fr) = statements(header, provider, head, self.entries);
            report.proves_en = Some(en);
            report.proves_fr = Some(fr);
        }
        report
    }

    /// The steps' outcomes once the whole file was read without a failure.
    fn outcomes(&self, header: &Header) -> Vec<Outcome> {
        let (n, s) = (self.entries, self.seal_lines);
        let (from, to) = (header.from_seq, header.to_seq);
        let no_seal = || Outcome::NotApplicable("the export holds no seal".into());
        let chain = match &header.anchor {
            None => Outcome::Indeterminate(
                "the header names no anchor: the first entry's prev_hash is not checked".into(),
            ),
            Some(_) if n == 0 => Outcome::Passed(format!(
                "no entry; the export continues from entry {}",
                from - 1
            )),
            Some(a) if a.seq == 0 => Outcome::Passed(format!(
                "entries {from} to {to}, from the start of the log (the genesis hash)"
            )),
            Some(a) => Outcome::Passed(format!(
                "entries {from} to {to}, continuing from entry {} (hash {}), which the export does not hold: the entries up to it are not checked here",
                a.seq, a.hash
            )),
        };
        let provider = match (&self.verifier.provider, s) {
            (_, 0) => no_seal(),
            (None, _) => Outcome::Indeterminate(
                "no provider identity given (--provider): the seals were checked against the trusted roots only, and which time-stamping unit made them is not decided".into(),
            ),
            (Some(p), _) if p.name != header.provider => Outcome::Indeterminate(format!(
                "the export names the provider \"{}\"; the trusted list given is \"{}\"'s",
                shown(&header.provider),
                shown(&p.name)
            )),
            (Some(_), _) if self.token_undecided.is_some() => Outcome::Indeterminate(
                "the time-stamping unit of a token that did not verify is not decided".into(),
            ),
            (Some(p), _) => Outcome::Passed(format!(
                "by a published time-stamping unit of {}",
                shown(&p.name)
            )),
        };
        let head = match self.verified.last() {
            _ if n == 0 => {
                Outcome::Indeterminate("the export holds no entry: nothing is sealed".into())
            }
            Some(v) if v.seq == to => Outcome::Passed(format!(
                "the head, entry {to}, is sealed: time-stamped at {} by {}",
                v.time_stamped_at,
                v.by.as_ref().map_or("?", |b| b.subject.as_str())
            )),
            Some(v) => Outcome::Indeterminate(format!(
                "entries {} to {to} come after the last verified seal (entry {}): no time-stamp attests them; export up to a sealed entry (sealpost admin audit seal, then export)",
                v.seq + 1,
                v.seq
            )),
            None => Outcome::Indeterminate(
                "no verified seal: no time-stamp attests these entries; seal the log (sealpost admin audit seal) before exporting".into(),
            ),
        };
        vec![
            Outcome::Passed(format!(
                "{FORMAT}: a header, {n} entries, {s} seals, a trailer"
            )),
            if n == 0 {
                Outcome::NotApplicable("the export holds no entry".into())
            } else {
                Outcome::Passed(format!("{n} entries re-derived"))
            },
            chain,
            Outcome::Passed(format!("{n} entries, the last {}", self.prev.0)),
            if s == 0 {
                no_seal()
            } else {
                Outcome::Passed(format!("{s} seal(s), each naming its entry's hash"))
            },
            match &self.token_undecided {
                _ if s == 0 => no_seal(),
                Some(reason) => Outcome::Indeterminate(reason.clone()),
                None => Outcome::Passed(format!(
                    "{s} token(s), each chaining to the trusted root at its genTime"
                )),
            },
            provider,
            if self.verified.is_empty() {
                Outcome::NotApplicable("no verified seal".into())
            } else {
                Outcome::Passed(format!(
                    "{} s tolerance beyond each token's stated accuracy",
                    TIME_TOLERANCE.as_secs()
                ))
            },
            head,
        ]
    }
}

/// What a valid export proves, in English and in French.
fn statements(
    header: &Header,
    provider: &Provider,
    head: &VerifiedSeal,
    entries: u64,
) -> (String, String) {
    let (from, to, name) = (header.from_seq, header.to_seq, shown(&provider.name));
    let by = head
        .by
        .as_ref()
        .map_or("?".to_owned(), |b| shown(&b.subject));
    let at = head.time_stamped_at.replace('T', " ").replace('Z', " UTC");
    let (since_en, since_fr) = match &header.anchor {
        Some(a) if a.seq == 0 => (
            "the start of the log".to_owned(),
            "au début du journal".to_owned(),
        ),
        Some(a) => (
            format!("entry {} (hash {})", a.seq, a.hash),
            format!("à l'entrée {} (empreinte {})", a.seq, a.hash),
        ),
        None => (
            "an entry not named".to_owned(),
            "à une entrée non nommée".to_owned(),
        ),
    };
    (
        format!(
            "The {entries} entries {from} to {to} of the audit log of {name} are those the log held when its entry {to} was time-stamped at {at} by {by}; they continue from {since_en}."
        ),
        format!(
            "Les {entries} entrées {from} à {to} du journal d'audit de {name} sont celles que le journal contenait quand son entrée {to} a été horodatée le {at} par {by} ; elles font suite {since_fr}."
        ),
    )
}
