//! Polling Alertmanager: `GET /api/v2/alerts/groups` of every peer, merged into one
//! [`AlertmanagerPoll`] (a group by receiver and labels, an alert by fingerprint with the
//! earliest `startsAt` any peer lists), handed to the store, which stores what
//! `incident::grouping::reconcile_alertmanager` calls for. A peer that does not answer
//! decides nothing; when none answers, nothing is stored.

use std::collections::BTreeMap;

use jiff::SignedDuration;

use super::{Error, Result};
use crate::config::ReconcileSettings;
use crate::incident::grouping::{AlertmanagerPoll, PolledAlert, PolledGroup};
use crate::ingest::alertmanager::{ApiGroup, parse_api_groups};
use crate::record::Instant;
use crate::store::Store;

/// Polls every peer at `now` and stores what the poll calls for; the number stored.
/// An unreachable peer is logged; the poll fails only when no peer answered.
pub async fn reconcile(
    client: &reqwest::Client,
    store: &Store,
    settings: &ReconcileSettings,
    quiet_period: SignedDuration,
    now: Instant,
) -> Result<usize> {
    let answers = futures::future::join_all(settings.alertmanager_urls.iter().map(|url| groups(client, url))).await;
    let mut answered = Vec::new();
    let mut peers = Vec::new();
    let mut first_error = None;
    for (url, answer) in settings.alertmanager_urls.iter().zip(answers) {
        match answer {
            Ok(groups) => {
                answered.push(url.clone());
                peers.push(groups);
            }
            Err(error) => {
                tracing::warn!(
                    peer = %url,
                    error = %crate::telemetry::error_chain(&error),
                    "Alertmanager peer did not answer; it decides nothing this poll."
                );
                first_error.get_or_insert(error);
            }
        }
    }
    if answered.is_empty() {
        return Err(first_error.unwrap_or(Error::Settings("reconcile.alertmanager_urls is empty")));
    }
    let poll = AlertmanagerPoll { at: now, answered, groups: merge(peers), settle: settings.interval };
    let stored = store.reconcile_alertmanager(&poll, &settings.alertmanager_receivers, quiet_period).await?;
    Ok(stored.len())
}

/// One peer's alert groups.
async fn groups(client: &reqwest::Client, base: &str) -> Result<Vec<ApiGroup>> {
    let url = format!("{base}/api/v2/alerts/groups");
    let response = client
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|source| Error::Request { url: url.clone(), source })?;
    let status = response.status();
    let body = response.bytes().await.map_err(|source| Error::Request { url: url.clone(), source })?;
    if !status.is_success() {
        let message = String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_owned();
        return Err(Error::Status { url, status: status.as_u16(), message });
    }
    parse_api_groups(&body).map_err(|source| Error::Parse { url, source })
}

/// The peers' groups as one: a group by (receiver, labels), an alert by fingerprint with the
/// earliest start any peer lists (Alertmanager keeps the earliest), active when any peer
/// says so.
fn merge(peers: Vec<Vec<ApiGroup>>) -> Vec<PolledGroup> {
    let mut groups: BTreeMap<(String, BTreeMap<String, String>), BTreeMap<String, PolledAlert>> = BTreeMap::new();
    for group in peers.into_iter().flatten() {
        let alerts = groups.entry((group.receiver, group.labels)).or_default();
        for (alert, active) in group.alerts {
            let key = alert.fingerprint.clone().unwrap_or_else(|| format!("{:?}", alert.labels));
            match alerts.get_mut(&key) {
                Some(known) => {
                    known.active |= active;
                    if alert.starts_at < known.alert.starts_at {
                        known.alert = alert;
                    }
                }
                None => {
                    alerts.insert(key, PolledAlert { alert, active });
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|((receiver, labels), alerts)| PolledGroup { receiver, labels, alerts: alerts.into_values().collect() })
        .collect()
}
