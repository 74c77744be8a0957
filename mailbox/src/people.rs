//! Who may read which mailbox: people (a citizen reads their own `nrn:` mailbox), mandates
//! (a company's access manager lets a person read its `cbe:` mailbox, for all message types or
//! some, until a date, revocable), and the lockout after failed logins (seed 000, 2.2.2).

use serde::{Deserialize, Serialize};

/// A natural person who logs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// What they type to log in.
    pub login: String,
    pub name: String,
    /// Their national register number (`nrn:…`): they read that mailbox.
    pub nrn: Option<String>,
    /// Argon2id, PHC string.
    pub password: String,
    /// TOTP secret, base32.
    pub totp_secret: String,
    /// Set by an administrator; the first login asks for a new password.
    pub must_change_password: bool,
    /// Failed logins since the last success.
    pub failed_logins: u32,
    /// Unix seconds until which logins are refused.
    pub locked_until: u64,
    /// The last TOTP step accepted (a code counts once).
    pub last_totp_step: Option<u64>,
    /// Unix seconds of the last successful login (retention counts from it).
    pub last_login: u64,
    /// The companies (`cbe:…`) whose mandates this person manages.
    pub manages: Vec<String>,
    /// SHA-256 (hex) of the client certificates they may log in with instead.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Unix seconds when they were told their unused account will be deleted (seed 003).
    #[serde(default)]
    pub deletion_notice_at: Option<u64>,
    /// Unix seconds when a login cancelled that deletion (shown once in the mailbox).
    #[serde(default)]
    pub deletion_cancelled_at: Option<u64>,
    /// Until when (Unix seconds) the provisional password an administrator issued opens the
    /// account (seed 000 §2.2.2: its validity depends on how it was sent); `None`: no limit.
    #[serde(default)]
    pub provisional_until: Option<u64>,
    /// Where notices reach them outside the mailbox (an e-mail or postal address, as the
    /// configured notifier understands it): a deletion notice counts only once delivered
    /// there.
    #[serde(default)]
    pub contact: Option<String>,
}

/// What the retention job does with an account (seed 003: a mailbox without a login for a
/// period is deleted, after a notice the owner can answer by logging in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    Keep,
    /// Tell the owner the account will be deleted `notice_s` from now.
    Notify,
    /// The notice ran out without a login.
    Delete,
}

impl Person {
    /// The retention decision at `now`: inactive for `inactive_s` and not yet told: notify;
    /// told at least `notice_s` ago and still no login: delete. A notice is never followed by
    /// a deletion in the same run.
    pub fn retention(&self, now: u64, inactive_s: u64, notice_s: u64) -> Retention {
        if now.saturating_sub(self.last_login) < inactive_s {
            return Retention::Keep;
        }
        match self.deletion_notice_at {
            None => Retention::Notify,
            Some(at) if now.saturating_sub(at) >= notice_s && at > self.last_login => {
                Retention::Delete
            }
            Some(_) => Retention::Keep,
        }
    }
}

/// Logins after which the lockout starts, and its cap.
pub const FREE_ATTEMPTS: u32 = 3;
pub const MAX_LOCKOUT_S: u64 = 3600;

impl Person {
    /// Records a failed login at `now`: from the third, the account is locked for a delay that
    /// doubles with each further failure (30 s, 60 s, 120 s … at most an hour).
    pub fn record_failure(&mut self, now: u64) {
        self.failed_logins = self.failed_logins.saturating_add(1);
        if self.failed_logins >= FREE_ATTEMPTS {
            let doublings = (self.failed_logins - FREE_ATTEMPTS).min(16);
            let delay = (30u64 << doublings).min(MAX_LOCKOUT_S);
            self.locked_until = now + delay;
        }
    }

    pub fn is_locked(&self, now: u64) -> bool {
        now < self.locked_until
    }

    /// The password is a provisional one an administrator issued, and its validity is over:
    /// it no longer opens the account (a new one must be issued).
    pub fn provisional_expired(&self, now: u64) -> bool {
        self.must_change_password && self.provisional_until.is_some_and(|until| now >= until)
    }

    /// A login: the failures are forgotten, and a pending deletion is cancelled.
    pub fn record_success(&mut self, now: u64) {
        self.failed_logins = 0;
        self.locked_until = 0;
        self.last_login = now;
        if self.deletion_notice_at.take().is_some() {
            self.deletion_cancelled_at = Some(now);
        }
    }
}

/// What a mandate allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    pub id: String,
    /// The company (`cbe:…`) whose mailbox it opens.
    pub company: String,
    /// The person (login) it is given to.
    pub person: String,
    /// The message types it covers; empty: all.
    pub message_types: Vec<String>,
    /// Unix seconds.
    pub valid_from: u64,
    pub valid_until: u64,
    pub revoked_at: Option<u64>,
    /// The access manager (login) who granted it.
    pub granted_by: String,
}

impl Mandate {
    pub fn in_force(&self, now: u64) -> bool {
        self.revoked_at.is_none_or(|r| now < r) && self.valid_from <= now && now < self.valid_until
    }

    pub fn covers(&self, message_type: &str) -> bool {
        self.message_types.is_empty() || self.message_types.iter().any(|t| t == message_type)
    }
}

/// One mailbox a person may read, and under what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub mailbox: String,
    /// The mandates in force for it (company mailboxes): together they cover the union of
    /// their message types. Empty for the person's own mailbox.
    pub mandates: Vec<Mandate>,
}

impl Access {
    /// The person's own mailbox.
    pub fn own(&self) -> bool {
        self.mandates.is_empty()
    }

    pub fn may_read(&self, message_type: &str) -> bool {
        self.own() || self.mandate_for(message_type).is_some()
    }

    /// The mandate a letter of `message_type` is read under: the first in force that covers
    /// it. `None` for the person's own mailbox (and for a type no mandate covers).
    pub fn mandate_for(&self, message_type: &str) -> Option<&Mandate> {
        self.mandates.iter().find(|m| m.covers(message_type))
    }

    /// Whether every message type may be read here.
    pub fn unrestricted(&self) -> bool {
        self.own() || self.mandates.iter().any(|m| m.message_types.is_empty())
    }
}

impl Mandate {
    /// The mandate as a handover evidence states it, so the proof stands alone: who holds
    /// it, for which company and message types, valid from when to when, granted by whom.
    pub fn statement(&self) -> String {
        let types = if self.message_types.is_empty() {
            "all message types".to_owned()
        } else {
            format!("message types {}", self.message_types.join(", "))
        };
        format!(
            "{}: {} for {}, {types}, valid from {} to {}, granted by {}",
            self.id,
            self.person,
            self.company,
            crate::web::utc_date(self.valid_from),
            crate::web::utc_date(self.valid_until),
            self.granted_by
        )
    }
}

/// The mailboxes `person` may read at `now`: their own, then each company they hold a mandate
/// in force for (one access per company, with every mandate in force for it).
pub fn accesses(person: &Person, mandates: &[Mandate], now: u64) -> Vec<Access> {
    let mut out: Vec<Access> = person
        .nrn
        .iter()
        .map(|nrn| Access {
            mailbox: nrn.clone(),
            mandates: Vec::new(),
        })
        .collect();
    for m in mandates
        .iter()
        .filter(|m| m.person == person.login && m.in_force(now))
    {
        match out.iter_mut().find(|a| a.mailbox == m.company && !a.own()) {
            Some(access) => access.mandates.push(m.clone()),
            None => out.push(Access {
                mailbox: m.company.clone(),
                mandates: vec![m.clone()],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> Person {
        Person {
            login: "marie".into(),
            name: "Marie Dubois".into(),
            nrn: Some("nrn:85073003328".into()),
            password: String::new(),
            totp_secret: String::new(),
            must_change_password: false,
            failed_logins: 0,
            locked_until: 0,
            last_totp_step: None,
            last_login: 0,
            manages: Vec::new(),
            certificates: Vec::new(),
            deletion_notice_at: None,
            deletion_cancelled_at: None,
            provisional_until: None,
            contact: None,
        }
    }

    fn mandate(id: &str, types: &[&str], until: u64, revoked: Option<u64>) -> Mandate {
        Mandate {
            id: id.into(),
            company: "cbe:0203201340".into(),
            person: "marie".into(),
            message_types: types.iter().map(|t| (*t).to_owned()).collect(),
            valid_from: 100,
            valid_until: until,
            revoked_at: revoked,
            granted_by: "boss".into(),
        }
    }

    #[test]
    fn failed_logins_lock_the_account_for_a_growing_delay() {
        let mut p = person();
        p.record_failure(1000);
        p.record_failure(1000);
        assert!(!p.is_locked(1000));
        p.record_failure(1000);
        assert!(p.is_locked(1029) && !p.is_locked(1030));
        p.record_failure(2000);
        assert!(p.is_locked(2059) && !p.is_locked(2060));
        for _ in 0..20 {
            p.record_failure(5000);
        }
        assert!(p.is_locked(5000 + MAX_LOCKOUT_S - 1) && !p.is_locked(5000 + MAX_LOCKOUT_S));
        p.record_success(9000);
        assert!(!p.is_locked(9000));
        assert_eq!((p.failed_logins, p.last_login), (0, 9000));
    }

    #[test]
    fn an_unused_account_is_noticed_then_deleted_unless_its_owner_logs_in() {
        let year = 365 * 86_400;
        let month = 30 * 86_400;
        let mut p = person();
        p.last_login = 1_000;
        assert_eq!(p.retention(1_000 + year - 1, year, month), Retention::Keep);
        assert_eq!(p.retention(1_000 + year, year, month), Retention::Notify);
        p.deletion_notice_at = Some(1_000 + year);
        assert_eq!(
            p.retention(1_000 + year + month - 1, year, month),
            Retention::Keep
        );
        assert_eq!(
            p.retention(1_000 + year + month, year, month),
            Retention::Delete
        );
        // The owner objects by logging in: kept, and the mailbox says so.
        p.record_success(1_000 + year + 5);
        assert_eq!(p.deletion_notice_at, None);
        assert_eq!(p.deletion_cancelled_at, Some(1_000 + year + 5));
        assert_eq!(
            p.retention(1_000 + year + month, year, month),
            Retention::Keep
        );
    }

    #[test]
    fn mandates_open_company_mailboxes_for_their_types_while_in_force() {
        let p = person();
        let scoped = mandate("m1", &["tax-assessment"], 500, None);
        let accesses_now = accesses(&p, std::slice::from_ref(&scoped), 200);
        assert_eq!(accesses_now.len(), 2);
        assert_eq!(accesses_now[0].mailbox, "nrn:85073003328");
        assert!(accesses_now[0].may_read("anything"));
        let company = &accesses_now[1];
        assert!(company.may_read("tax-assessment") && !company.may_read("payment-notice"));
        // Not yet, expired, revoked, someone else's.
        assert_eq!(accesses(&p, std::slice::from_ref(&scoped), 99).len(), 1);
        assert_eq!(accesses(&p, std::slice::from_ref(&scoped), 500).len(), 1);
        let revoked = mandate("m2", &[], 500, Some(150));
        assert_eq!(accesses(&p, std::slice::from_ref(&revoked), 149).len(), 2);
        assert_eq!(accesses(&p, &[revoked], 150).len(), 1);
        let mut other = mandate("m3", &[], 500, None);
        other.person = "jan".into();
        assert_eq!(accesses(&p, &[other], 200).len(), 1);
    }

    #[test]
    fn two_partial_mandates_for_one_company_combine_and_each_letter_names_the_one_it_is_read_under()
    {
        let p = person();
        let tax = mandate("m-tax", &["tax-assessment"], 500, None);
        let payments = mandate("m-pay", &["payment-notice"], 500, None);
        let all = accesses(&p, &[tax, payments], 200);
        assert_eq!(all.len(), 2, "one access for the company");
        let company = &all[1];
        assert!(company.may_read("tax-assessment") && company.may_read("payment-notice"));
        assert!(!company.may_read("summons") && !company.unrestricted());
        assert_eq!(
            company.mandate_for("payment-notice").map(|m| m.id.as_str()),
            Some("m-pay")
        );
        // The handover states the mandate whole: holder, company, scope, validity, grantor.
        let statement = company
            .mandate_for("tax-assessment")
            .expect("m-tax")
            .statement();
        assert!(
            statement.starts_with("m-tax: marie for cbe:")
                && statement.contains("message types tax-assessment")
                && statement.contains("valid from 1970-01-01 00:01 UTC to 1970-01-01 00:08 UTC"),
            "{statement}"
        );
    }
}
