//! `sealpost-verify`: the court's tool. Verifies Sealpost evidence offline: no network, no
//! database, no server.
//!
//! Exit codes: 0 valid, 1 invalid, 2 indeterminate (for example an unknown root), 64 bad usage
//! (an option missing or wrong, a file that cannot be read). With several files or a directory
//! (an auditor's sweep), one line per evidence and the worst result as the exit code (invalid
//! before indeterminate).
//!
//! A failure is said in plain words first (the people who read a verdict are not
//! cryptographers); the technical cause follows as "technical detail" and in `--json`. When the
//! reader of standard output goes away (`| head -1`), the rest of the report is dropped quietly
//! and the exit code is still the verdict's.
//!
//! `--audit-export FILE` verifies an audit export (`sealpost admin audit export`,
//! `sealpost-audit-export-1`) instead, with the same roots, provider identity and exit codes.

use std::fmt::Display;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Parser;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sealpost_evidence::audit_export::{AuditExportVerifier, AuditReport};
use sealpost_evidence::provider::Provider;
use sealpost_evidence::verify::{EvidenceVerifier, Outcome, Policy, Report, Verdict};

const USAGE: u8 = 64;

/// A date (midnight UTC) or an xsd:dateTime with a time zone.
fn parse_date(text: &str) -> Result<SystemTime, String> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    sealpost_xmldsig::wss::parse_date_time(&full).map_err(|_| {
        format!("{text:?} is not a date (YYYY-MM-DD) or a date-time (YYYY-MM-DDTHH:MM:SSZ)")
    })
}

#[derive(Parser)]
#[command(
    name = "sealpost-verify",
    version,
    about = "Verify Sealpost evidence offline",
    after_help = "Exit codes: 0 valid, 1 invalid, 2 indeterminate, 64 bad usage (an option missing or wrong, a file that cannot be read)."
)]
struct Cli {
    /// Evidence files, or directories of them (*.xml).
    #[arg(required_unless_present = "audit_export")]
    evidence: Vec<PathBuf>,
    /// The trusted root certificate(s), PEM.
    #[arg(long)]
    trust: PathBuf,
    /// The provider's published identity: its trusted list (XML), naming the certificates of
    /// its evidence seal and its time-stamping unit. Without it no evidence is valid: who
    /// sealed is not decided (indeterminate).
    #[arg(long)]
    provider: Option<PathBuf>,
    /// The document the evidence is about: its SHA-256 must be in the evidence.
    #[arg(long)]
    document: Option<PathBuf>,
    /// Verify as on this date (UTC, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`) instead of now:
    /// the time-stamps must still prove their time then (step 11), with what the evidence
    /// carries and the trust anchors alone.
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    at: Option<SystemTime>,
    /// A machine-readable report (JSON; one object per line in batch mode).
    #[arg(long)]
    json: bool,
    /// Verify an audit export instead (sealpost-audit-export-1, written by `sealpost admin
    /// audit export`): every entry's hash, the chain, the trailer, and each seal's time-stamp,
    /// which must come from the provider's time-stamping unit (--provider) for a valid result.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["evidence", "document"])]
    audit_export: Option<PathBuf>,
}

/// Standard output, a line at a time. Once a line cannot be written (the reader has gone, as
/// `head` does, or the disk is full), nothing more is written: the verification goes on and
/// the exit code is the verdict's, never a panic.
struct Out {
    gone: bool,
}

impl Out {
    fn line(&mut self, line: impl Display) {
        if !self.gone {
            self.gone = writeln!(std::io::stdout().lock(), "{line}").is_err();
        }
    }

    fn finish(mut self, code: ExitCode) -> ExitCode {
        if !self.gone {
            self.gone = std::io::stdout().flush().is_err();
        }
        code
    }
}

/// A message on standard error (ignored if that is closed too).
fn complain(message: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "sealpost-verify: {message}");
}

fn main() -> ExitCode {
    let mut out = Out { gone: false };
    let code = run(&mut out);
    out.finish(code)
}

fn run(out: &mut Out) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(USAGE),
            };
        }
    };
    let usage = |message: String| {
        complain(message);
        ExitCode::from(USAGE)
    };
    let anchors: Vec<Vec<u8>> = match CertificateDer::pem_file_iter(&cli.trust).and_then(|certs| {
        certs
            .map(|c| c.map(|c| c.to_vec()))
            .collect::<Result<Vec<_>, _>>()
    }) {
        Ok(a) if !a.is_empty() => a,
        Ok(_) => return usage(format!("{}: no certificate", cli.trust.display())),
        Err(e) => return usage(format!("{}: {e}", cli.trust.display())),
    };
    let provider = match &cli.provider {
        Some(path) => match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Provider::from_trusted_list(&bytes))
        {
            Ok(p) => Some(p),
            Err(e) => return usage(format!("{}: {e}", path.display())),
        },
        None => None,
    };
    if let Some(path) = &cli.audit_export {
        let verifier = AuditExportVerifier::new(Policy { anchors, provider });
        let report =
            match verifier.verify(|| std::fs::File::open(path).map(std::io::BufReader::new)) {
                Ok(report) => report,
                Err(e) => return usage(format!("{}: {e}", path.display())),
            };
        if cli.json {
            let mut value = serde_json::to_value(&report).unwrap_or_default();
            value["file"] = serde_json::Value::String(path.display().to_string());
            out.line(value);
        } else {
            print_audit_report(out, path, &report);
        }
        return ExitCode::from(u8::try_from(report.verdict.exit_code()).unwrap_or(USAGE));
    }
    let document = match &cli.document {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) => return usage(format!("{}: {e}", path.display())),
        },
        None => None,
    };
    let mut files = Vec::new();
    for path in &cli.evidence {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "xml"))
                    .collect(),
                Err(e) => return usage(format!("{}: {e}", path.display())),
            };
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let batch = files.len() > 1 || cli.evidence.iter().any(|p| p.is_dir());
    let verifier = EvidenceVerifier::new(Policy { anchors, provider });
    // The court's tool decides "now", once for the whole run: the time it verifies at.
    #[allow(
        clippy::disallowed_methods,
        reason = "the command line's main decides the time of the verification"
    )]
    let now = cli.at.unwrap_or_else(SystemTime::now);
    let mut worst = Verdict::Valid;
    for file in &files {
        let report = match std::fs::read(file) {
            Ok(bytes) => verifier.verify(&bytes, document.as_deref(), now),
            Err(e) => return usage(format!("{}: {e}", file.display())),
        };
        worst = match (worst, report.verdict) {
            (Verdict::Invalid, _) | (_, Verdict::Invalid) => Verdict::Invalid,
            (Verdict::Indeterminate, _) | (_, Verdict::Indeterminate) => Verdict::Indeterminate,
            _ => Verdict::Valid,
        };
        if cli.json {
            let mut value = serde_json::to_value(&report).unwrap_or_default();
            value["file"] = serde_json::Value::String(file.display().to_string());
            out.line(value);
        } else if batch {
            out.line(one_line(file, &report));
        } else {
            print_report(out, file, &report);
        }
    }
    ExitCode::from(u8::try_from(worst.exit_code()).unwrap_or(USAGE))
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "VALID",
        Verdict::Invalid => "INVALID",
        Verdict::Indeterminate => "INDETERMINATE",
    }
}

fn one_line(file: &std::path::Path, report: &Report) -> String {
    let detail = report
        .finding
        .clone()
        .or_else(|| report.proves_en.clone())
        .unwrap_or_default();
    format!(
        "{:<13} {}  {detail}",
        verdict_word(report.verdict),
        file.display()
    )
}

fn print_report(out: &mut Out, file: &std::path::Path, report: &Report) {
    out.line(format_args!("Evidence: {}", file.display()));
    // The verdict first, in plain words; the steps and their technical detail after.
    match &report.finding {
        Some(finding) => out.line(format_args!(
            "Result: {}: {finding}.",
            verdict_word(report.verdict)
        )),
        None => out.line(format_args!("Result: {}", verdict_word(report.verdict))),
    }
    if let (Some(id), Some(event)) = (&report.evidence_id, &report.event) {
        out.line(format_args!("  {id}\n  {event}"));
    }
    match &report.sealed_by {
        Some(by) => out.line(format_args!(
            "  sealed by {} (SHA-256 {})",
            by.subject, by.sha256
        )),
        None => out.line("  sealed by: not established"),
    }
    match &report.provider {
        Some(name) => out.line(format_args!(
            "  checked against the published identity of {name}"
        )),
        None => out.line("  no provider identity given (--provider): who sealed is not decided"),
    }
    out.line("The checks:");
    for step in &report.steps {
        out.line(step_line(step));
    }
    match (&report.proves_en, &report.proves_fr) {
        (Some(en), Some(fr)) => {
            out.line(format_args!("\nThis evidence proves that:\n  {en}"));
            out.line(format_args!("Cette preuve établit que :\n  {fr}"));
        }
        _ => out.line("This evidence proves nothing. / Cette preuve n'établit rien."),
    }
}

fn step_line(step: &sealpost_evidence::verify::Step) -> String {
    let (mark, detail) = match &step.outcome {
        Outcome::Passed(d) => ("ok  ", d),
        Outcome::Failed(d) => ("FAIL", d),
        Outcome::Indeterminate(d) => ("??  ", d),
        Outcome::NotApplicable(d) => ("n/a ", d),
    };
    match &step.plain {
        // A failed or undecided step: what it means first, then the technical cause.
        Some(plain) => format!(
            "  {} [{mark}] {}: {plain}\n           technical detail: {detail}",
            step.number, step.check
        ),
        None => format!("  {} [{mark}] {}: {detail}", step.number, step.check),
    }
}

fn print_audit_report(out: &mut Out, file: &std::path::Path, report: &AuditReport) {
    out.line(format_args!("Audit export: {}", file.display()));
    if let (Some(from), Some(to)) = (report.from_seq, report.to_seq) {
        let since = match &report.anchor {
            Some(a) if a.seq == 0 => "from the start of the log".to_owned(),
            Some(a) => format!("continuing from entry {} ({})", a.seq, a.hash),
            None => "continuing from an entry it does not name".to_owned(),
        };
        out.line(format_args!("  entries {from} to {to}, {since}"));
    }
    match (&report.provider, &report.checked_against) {
        (Some(named), Some(list)) => out.line(format_args!(
            "  says it is the log of {named}; checked against the published identity of {list}"
        )),
        (named, None) => {
            if let Some(named) = named {
                out.line(format_args!("  says it is the log of {named}"));
            }
            out.line(format_args!(
                "  no provider identity given (--provider): the seals are checked against the roots only"
            ));
        }
        (None, Some(list)) => out.line(format_args!(
            "  checked against the published identity of {list}"
        )),
    }
    for step in &report.steps {
        out.line(format_args!("{}", step_line(step)));
    }
    out.line(format_args!("Result: {}", verdict_word(report.verdict)));
    if let Some(f) = &report.failure {
        out.line(format_args!(
            "First failing line: {} (step {}): {}",
            f.line, f.step, f.reason
        ));
    }
    match (&report.proves_en, &report.proves_fr) {
        (Some(en), Some(fr)) => {
            out.line(format_args!("\nThis export proves that:\n  {en}"));
            out.line(format_args!("Cet export établit que :\n  {fr}"));
        }
        _ => out.line(format_args!(
            "This export proves nothing. / Cet export n'établit rien."
        )),
    }
}
