//! Whether webhook writes work, the same on every backend: a failed batch keeps its fault
//! (since when, of what kind, the last error) and `/readyz` reports it ([`Error::Writes`])
//! until a batch commits, or until [`FAULT_HOLD`] has passed since the last failure. The
//! hold ends it because a replica that is not ready gets no webhooks from its Service, so
//! none could commit: without it, a fault that healed (space freed, the database writable
//! again after a failover) would keep the replica out until a restart. What kind a fault is
//! each backend tells (its error codes).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::{Error, Result};
use crate::record::Instant;

/// How long after the last failed batch a fault is still reported: long enough for
/// Kubernetes' readiness probe (every 5 s, three failures) to take the replica out. A fault
/// that goes on is reported anew by the next webhook after the hold, so readiness comes and
/// goes; the webhooks answered 503 are what its alert counts
/// (`PostmortemdWebhooksNotStored`).
pub(super) const FAULT_HOLD: Duration = Duration::from_secs(60);

/// The write fault of one store, shared by its handles and its writer task.
#[derive(Debug, Default)]
pub(super) struct WriteHealth {
    failing: Mutex<Option<WriteFault>>,
}

/// Since when webhook writes fail, of what kind, the last error with its causes, and when
/// the last batch failed.
#[derive(Clone, Debug)]
pub(super) struct WriteFault {
    since: Instant,
    fault: &'static str,
    detail: String,
    last: std::time::Instant,
}

impl WriteFault {
    /// What a webhook of the failed batch is answered with.
    pub(super) fn error(&self) -> Error {
        Error::Writes { since: self.since, fault: self.fault, detail: self.detail.clone() }
    }
}

impl WriteHealth {
    /// Writes are not failing (as of `now`): no fault, or none within [`FAULT_HOLD`].
    pub(super) fn check(&self, now: std::time::Instant) -> Result<()> {
        match &*self.failing.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(fault) if now.saturating_duration_since(fault.last) < FAULT_HOLD => Err(fault.error()),
            _ => Ok(()),
        }
    }

    /// A batch failed with `error`, a fault of kind `fault`: keeps and logs it, keeping the
    /// start of a fault that goes on.
    pub(super) fn failed(&self, error: &Error, fault: &'static str) -> WriteFault {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        let now = std::time::Instant::now();
        let fault = WriteFault {
            since: failing.as_ref().map_or_else(Instant::now, |fault| fault.since),
            fault,
            detail: error.reason(),
            last: now,
        };
        tracing::error!(
            fault = fault.fault,
            error = %fault.detail,
            since = %fault.since,
            "Store write failed; its webhooks were answered 503 and their senders retry."
        );
        *failing = Some(fault.clone());
        fault
    }

    /// A batch committed: writes work again.
    pub(super) fn succeeded(&self) {
        if let Some(fault) = self.failing.lock().unwrap_or_else(PoisonError::into_inner).take() {
            tracing::info!(since = %fault.since, fault = fault.fault, "Store writes work again.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_is_reported_until_a_commit_or_for_the_hold_after_the_last_failure() {
        let health = WriteHealth::default();
        let start = std::time::Instant::now();
        health.check(start).unwrap();
        let error = Error::Query { query: "commit", source: sqlx::Error::PoolTimedOut };
        let answered = health.failed(&error, "read-only").error();
        let Error::Writes { since, fault: "read-only", .. } = answered else { panic!("{answered:?}") };
        let reported = health.check(start).unwrap_err();
        assert!(reported.reason().contains("(read-only)"), "{}", reported.reason());
        assert!(health.check(start + FAULT_HOLD - Duration::from_secs(1)).is_err());
        // Nothing failed for the hold: reported no more, so the replica gets webhooks again.
        health.check(std::time::Instant::now() + FAULT_HOLD).unwrap();
        // A fault that goes on keeps its start and is reported again.
        let again = health.failed(&error, "read-only").error();
        assert!(matches!(again, Error::Writes { since: again_since, .. } if again_since == since));
        assert!(health.check(std::time::Instant::now()).is_err());
        health.succeeded();
        health.check(std::time::Instant::now()).unwrap();
    }
}
