//! The core's Notifier port over a program the operator configures (`mailbox.notifier`: a mail
//! or SMS gateway): for a letter delivered, each person who reads that mailbox (its citizen,
//! or the holders of a mandate in force for the company and its message type) is told at
//! their contact address, `PROGRAM new-letter LOGIN NAME CONTACT SENDER`, exit status 0 when
//! sent. Without a program, nobody is told outside the mailbox (the notice is done, told to
//! no one). A program that fails leaves the notice for the next pass: a person may then be
//! told twice, never not at all.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use super::mailbox::People;
use super::store::Backend;
use crate::core::records::Notice;
use crate::core::{Notifier, Service, Unavailable};

pub struct ProgramNotifier {
    pub program: Option<PathBuf>,
    pub store: Arc<dyn Backend>,
    pub service: Arc<Service>,
}

impl std::fmt::Debug for ProgramNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgramNotifier")
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

impl Notifier for ProgramNotifier {
    fn tell(&self, notice: &Notice) -> Result<usize, Unavailable> {
        let Some(program) = &self.program else {
            return Ok(0);
        };
        let unavailable = |e: &dyn std::fmt::Display| Unavailable(e.to_string());
        let people = People(self.store.as_ref());
        let message = self
            .store
            .message(&notice.message_id)
            .map_err(|e| unavailable(&e))?;
        let message_type = message.map(|m| m.message_type).unwrap_or_default();
        let sender = self
            .store
            .senders()
            .map_err(|e| unavailable(&e))?
            .into_iter()
            .find(|s| s.id == notice.sender_id)
            .map_or_else(|| notice.sender_id.clone(), |s| s.name);
        let now = self
            .service
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mandataries: Vec<String> = people
            .mandates()
            .map_err(|e| unavailable(&e))?
            .into_iter()
            .filter(|m| m.company == notice.mailbox && m.in_force(now) && m.covers(&message_type))
            .map(|m| m.person)
            .collect();
        let mut told = 0;
        for person in people.everyone().map_err(|e| unavailable(&e))? {
            let reads = person.nrn.as_deref() == Some(notice.mailbox.as_str())
                || mandataries.contains(&person.login);
            let Some(contact) = person.contact.as_deref().filter(|c| !c.trim().is_empty()) else {
                continue;
            };
            if !reads {
                continue;
            }
            let status = Command::new(program)
                .args(["new-letter", &person.login, &person.name, contact, &sender])
                .status()
                .map_err(|e| unavailable(&format!("the notifier cannot run: {e}")))?;
            if !status.success() {
                return Err(Unavailable(format!("the notifier failed: {status}")));
            }
            told += 1;
        }
        Ok(told)
    }
}

/// Sends the waiting notices every `interval` while this node holds the job's lease, until the
/// process ends.
pub async fn send_notices_periodically(
    store: Arc<dyn Backend>,
    service: Arc<Service>,
    notifier: Arc<ProgramNotifier>,
    interval: Duration,
    lease: crate::lease::JobLease,
) {
    let clock = Arc::clone(&service);
    crate::lease::every_round(
        lease,
        interval,
        true,
        move || clock.now(),
        move |_| service.send_notices(store.as_ref(), notifier.as_ref(), 100),
        |sent| {
            if sent.sent + sent.deferred > 0 {
                tracing::info!(sent = sent.sent, deferred = sent.deferred, "notices");
            }
        },
    )
    .await;
}
