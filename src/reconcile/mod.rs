//! Reconciliation: a missed webhook is not a lost incident. One task of the daemon polls, every
//! `reconcile.interval`, what the webhook senders know: Alertmanager's alert groups
//! (`alertmanager.rs`; incidents for firing alerts never notified, resolutions for alerts
//! gone) and PagerDuty's REST API (`pagerduty.rs`; log entries no webhook brought). What it
//! learns is stored as the webhooks it stands for, marked reconciled, and grouped by the same
//! rules (`incident::grouping`); deciding and storing are the store's and `incident`'s.
//!
//! A poll never fails the daemon: each failure is a log line and
//! `postmortemd_reconcile_polls_total{outcome="failed"}`, and the next poll tries again.

pub mod alertmanager;
pub mod pagerduty;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ReconcileSettings, Settings};
use crate::record::Instant;
use crate::store::Store;
use crate::telemetry::Metrics;

/// What one request of a poll ran into.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// Settings that would poll what nobody asked for.
    #[error("{0}")]
    Settings(&'static str),
    #[error("GET {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GET {url} answered {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("GET {url} answered what is not its API's JSON")]
    Parse {
        url: String,
        #[source]
        source: crate::ingest::ParseError,
    },
    #[error("storing what the poll found failed")]
    Store(#[from] crate::store::Error),
}

impl Error {
    /// A fixed label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Client(_) => "client",
            Error::Settings(_) => "settings",
            Error::Request { .. } => "request",
            Error::Status { status: 401 | 403, .. } => "unauthorized",
            Error::Status { status: 429, .. } => "rate_limited",
            Error::Status { .. } => "status",
            Error::Parse { .. } => "parse",
            Error::Store(_) => "store",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The reconciliation task: the sources its settings name, polled in turn.
pub struct Reconciler {
    settings: ReconcileSettings,
    quiet_period: jiff::SignedDuration,
    store: Store,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
}

impl Reconciler {
    /// The reconciler of `settings.reconcile`; `None` when it names nothing to poll.
    pub fn new(settings: &Settings, store: Store, metrics: Arc<Metrics>) -> Result<Option<Reconciler>> {
        let reconcile = &settings.reconcile;
        if reconcile.alertmanager_urls.is_empty() && reconcile.pagerduty_api_token.is_none() {
            return Ok(None);
        }
        if reconcile.pagerduty_api_token.is_some()
            && reconcile.pagerduty_services.is_empty()
            && reconcile.pagerduty_teams.is_empty()
        {
            return Err(Error::Settings(
                "reconcile.pagerduty.api_token is set but neither services nor teams say whose incidents to follow",
            ));
        }
        let timeout = reconcile.timeout.unsigned_abs();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .user_agent(concat!("postmortemd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Client)?;
        Ok(Some(Reconciler {
            settings: reconcile.clone(),
            quiet_period: settings.window.quiet_period,
            store,
            metrics,
            client,
        }))
    }

    /// One poll of every configured source; failures are logged and counted, never returned.
    pub async fn poll_once(&self) {
        if !self.settings.alertmanager_urls.is_empty() {
            let outcome =
                alertmanager::reconcile(&self.client, &self.store, &self.settings, self.quiet_period, Instant::now())
                    .await;
            self.count("alertmanager", outcome);
        }
        if let Some(token) = &self.settings.pagerduty_api_token {
            let poller = pagerduty::Poller::new(&self.client, &self.settings, token);
            let outcome = poller.reconcile(&self.store, Instant::now()).await;
            self.count("pagerduty", outcome);
        }
    }

    fn count(&self, source: &'static str, outcome: Result<usize>) {
        match outcome {
            Ok(n_stored) => {
                if n_stored > 0 {
                    tracing::info!(source, n_stored, "Reconciliation stored what webhooks missed.");
                }
                self.metrics.reconcile_polled(source, false, n_stored);
            }
            Err(error) => {
                tracing::warn!(
                    source,
                    kind = error.kind(),
                    error = %crate::telemetry::error_chain(&error),
                    "Reconciliation poll failed; the next one tries again."
                );
                self.metrics.reconcile_polled(source, true, 0);
            }
        }
    }

    /// Polls every `interval` until `stop` turns true (or its sender is gone). A poll in
    /// flight is dropped then (a PagerDuty poll may be waiting out a `Retry-After`): each
    /// store is one transaction, rolled back when dropped, and PagerDuty's position moves
    /// only after a whole poll, so the next start polls that span again.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        tracing::info!(
            alertmanagers = self.settings.alertmanager_urls.len(),
            pagerduty = self.settings.pagerduty_api_token.is_some(),
            interval = %format!("{:#}", self.settings.interval),
            "Reconciling missed webhooks."
        );
        loop {
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                () = self.poll_once() => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.interval.unsigned_abs()) => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
        }
        tracing::info!("Reconciliation stopped.");
    }
}
