//! Storing a run of Alertmanager notifications, the same on every backend: the decisions
//! are `incident::grouping`'s, made in memory in arrival order; what a backend brings is its
//! queries ([`RunQueries`], implemented on its write transaction), which load what the
//! decisions need and persist what they decide. No SQL here.

use std::collections::HashMap;

use jiff::SignedDuration;

use super::{AlertmanagerIntake, Error, Intake, PagerDutyIntake, Result};
use crate::incident::grouping::{IncidentState, episode_for, group_key_hash};

/// What [`alertmanager_run`] asks of a backend, inside its write transaction.
pub(super) trait RunQueries {
    /// The stored Alertmanager webhooks among `dedup_keys`: (dedup key, its intake, a duplicate).
    async fn stored_before(&mut self, dedup_keys: &[&str]) -> Result<Vec<(String, Intake)>>;
    /// The incidents whose `pd_incident_key` is one of `hashes` (every incident of those groups,
    /// and page-only incidents still open), by id, with their states.
    async fn incidents_of_groups(&mut self, hashes: &[String]) -> Result<Vec<(i64, IncidentState)>>;
    /// Whether any incident is under a provisional group key (so a notification may adopt one).
    async fn may_adopt(&mut self) -> Result<bool>;
    /// The provisional incident holding one of the notification's alert occurrences, if
    /// any, marked adopted (see `reconcile.rs` of each backend).
    async fn provisional_holder(&mut self, intake: &AlertmanagerIntake) -> Result<Option<(i64, IncidentState)>>;
    /// Inserts new incidents (each of its own group key); returns (group key, id) of each.
    async fn insert_incidents(&mut self, incidents: &[&IncidentState]) -> Result<Vec<(String, i64)>>;
    /// Inserts the webhooks of notifications in their incidents; returns (dedup key, id) of
    /// each stored.
    async fn insert_webhooks(&mut self, webhooks: &[(&AlertmanagerIntake, Option<i64>)]) -> Result<Vec<(String, i64)>>;
    /// Writes every column of incident `id` from its state.
    async fn update_incident(&mut self, id: i64, state: &IncidentState) -> Result<()>;
    /// Stores a PagerDuty event (once), linked as `incident::grouping::page_link_steps` says.
    async fn pagerduty_in(&mut self, intake: &PagerDutyIntake) -> Result<Intake>;
}

/// The most webhooks one commit holds.
pub(super) const MAX_BATCH: usize = 256;

/// A webhook waiting for a backend's writer task.
pub(super) enum Pending {
    Alertmanager(AlertmanagerIntake, SignedDuration),
    PagerDuty(PagerDutyIntake),
}

/// A webhook and where its answer goes, once the batch holding it committed.
pub(super) struct Job {
    pub(super) pending: Pending,
    pub(super) reply: tokio::sync::oneshot::Sender<Result<Intake>>,
}

/// Hands a webhook to a writer task and waits for its answer, which comes after the commit.
pub(super) async fn write(writer: &tokio::sync::mpsc::Sender<Job>, pending: Pending) -> Result<Intake> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let closed = || Error::Query { query: "writer", source: sqlx::Error::PoolClosed };
    writer.send(Job { pending, reply }).await.map_err(|_| closed())?;
    answer.await.map_err(|_| closed())?
}

/// Stores a batch of webhooks in order in the transaction: runs of Alertmanager notifications
/// a run at a time with a handful of statements ([`alertmanager_run`]); a PagerDuty event,
/// rare next to them, takes its own few queries in its place in the order.
pub(super) async fn store_batch(transaction: &mut impl RunQueries, batch: &[Job]) -> Result<Vec<Intake>> {
    let mut intakes = Vec::with_capacity(batch.len());
    let mut next = 0;
    while next < batch.len() {
        match &batch[next].pending {
            Pending::PagerDuty(intake) => {
                intakes.push(transaction.pagerduty_in(intake).await?);
                next += 1;
            }
            Pending::Alertmanager(..) => {
                let run: Vec<(&AlertmanagerIntake, SignedDuration)> = batch[next..]
                    .iter()
                    .map_while(|job| match &job.pending {
                        Pending::Alertmanager(intake, quiet_period) => Some((intake, *quiet_period)),
                        Pending::PagerDuty(_) => None,
                    })
                    .collect();
                let stored = alertmanager_run(transaction, &run).await?;
                next += stored.len();
                intakes.extend(stored);
            }
        }
    }
    Ok(intakes)
}

/// An incident as the writer holds it while it stores a run of notifications: its row id
/// (`None` until the run's new incidents are inserted), the state `incident::grouping`
/// decides on, and whether that changed.
#[derive(Clone, Debug)]
struct Slot {
    id: Option<i64>,
    state: IncidentState,
    changed: bool,
}

/// What became of one notification of a run.
enum Outcome {
    Stored {
        incident: usize,
    },
    /// Stored before this batch.
    Duplicate(Intake),
    /// The same notification earlier in this run (HA Alertmanagers send both at once).
    DuplicateOf(usize),
}

/// Stores a run of Alertmanager notifications (a prefix of `run`; returns one intake per
/// notification it stored) with a fixed number of statements whatever the run's length: one
/// lookup of the run's dedup keys, one of the incidents of its groups (and of page-only
/// incidents waiting for them), then the new incidents, the webhooks and the changed
/// incidents, each one multi-row statement. The decisions in between are made in memory,
/// in order, exactly as one notification at a time would make them.
///
/// A run stops before a notification that would open a second new incident for a group
/// already opened in it (a group resolved and fired again within one batch), so that the
/// run's new incidents are told apart by their group key.
pub(super) async fn alertmanager_run(
    transaction: &mut impl RunQueries,
    run: &[(&AlertmanagerIntake, SignedDuration)],
) -> Result<Vec<Intake>> {
    let keys: Vec<&str> = run.iter().map(|(intake, _)| intake.dedup_key.as_str()).collect();
    let stored_before: HashMap<String, Intake> = transaction.stored_before(&keys).await?.into_iter().collect();

    // The incidents of the run's groups, and page-only incidents (opened by a page of
    // Alertmanager's PagerDuty integration before the notification came) carrying their key.
    let mut incidents: Vec<Slot> = Vec::new();
    // Each group's episodes (slots), which `grouping::episode_for` picks from.
    let mut episodes_of_group: HashMap<String, Vec<usize>> = HashMap::new();
    let mut page_only: HashMap<String, usize> = HashMap::new();
    {
        let fresh: Vec<&AlertmanagerIntake> = run
            .iter()
            .map(|(intake, _)| *intake)
            .filter(|intake| !stored_before.contains_key(&intake.dedup_key))
            .collect();
        if !fresh.is_empty() {
            let hashes: Vec<String> = fresh.iter().map(|intake| group_key_hash(&intake.group_key)).collect();
            // By the hash of the group key, which every incident of a group carries as
            // `pd_incident_key` (and a page-only one its page's `incident_key`).
            let rows = transaction.incidents_of_groups(&hashes).await?;
            for (id, state) in rows {
                let slot = incidents.len();
                match (&state.group_key, &state.pd_incident_key) {
                    (Some(group_key), _) => episodes_of_group.entry(group_key.clone()).or_default().push(slot),
                    (None, Some(key)) => {
                        page_only.insert(key.clone(), slot);
                    }
                    (None, None) => {}
                }
                incidents.push(Slot { id: Some(id), state, changed: false });
            }
        }
    }

    let mut outcomes: Vec<Outcome> = Vec::with_capacity(run.len());
    let mut first_in_run: HashMap<&str, usize> = HashMap::new();
    let mut provisional_incidents: Option<bool> = None;
    for (intake, quiet_period) in run {
        if let Some(existing) = stored_before.get(&intake.dedup_key) {
            outcomes.push(Outcome::Duplicate(*existing));
            continue;
        }
        if let Some(first) = first_in_run.get(intake.dedup_key.as_str()) {
            outcomes.push(Outcome::DuplicateOf(*first));
            continue;
        }
        let episodes = episodes_of_group.get(&intake.group_key).map(Vec::as_slice).unwrap_or_default();
        let states: Vec<&IncidentState> = episodes.iter().map(|slot| &incidents[*slot].state).collect();
        let current = episode_for(&states, intake, *quiet_period).map(|index| episodes[index]);
        let slot = match current {
            Some(slot) => slot,
            None => {
                if episodes.iter().any(|slot| incidents[*slot].id.is_none()) {
                    break;
                }
                // Whether reconciliation left any incident under a provisional group key:
                // asked once per run, and only when a notification would open an incident.
                let may_adopt = match provisional_incidents {
                    Some(exist) => exist,
                    None => *provisional_incidents.insert(transaction.may_adopt().await?),
                };
                let adopted = if may_adopt { transaction.provisional_holder(intake).await? } else { None };
                if let Some((id, mut state)) = adopted {
                    // Reconciliation opened this group's incident under a provisional key: the
                    // notification holds one of its alerts and names the group for good.
                    state.group_key = Some(intake.group_key.clone());
                    state.pd_incident_key = Some(group_key_hash(&intake.group_key));
                    incidents.push(Slot { id: Some(id), state, changed: true });
                    incidents.len() - 1
                } else {
                    let key = group_key_hash(&intake.group_key);
                    let taken_over = page_only.get(&key).copied().filter(|slot| {
                        let page_only = &incidents[*slot].state;
                        page_only.is_page_only_of(intake) && page_only.takes(intake, *quiet_period)
                    });
                    match taken_over {
                        // The page came first: the notification takes its incident over.
                        Some(slot) => {
                            page_only.remove(&key);
                            incidents[slot].state.take_over(intake);
                            slot
                        }
                        None => {
                            incidents.push(Slot { id: None, state: IncidentState::opened_by(intake), changed: true });
                            incidents.len() - 1
                        }
                    }
                }
            }
        };
        incidents[slot].state.apply(intake);
        incidents[slot].changed = true;
        let episodes = episodes_of_group.entry(intake.group_key.clone()).or_default();
        if !episodes.contains(&slot) {
            episodes.push(slot);
        }
        first_in_run.insert(intake.dedup_key.as_str(), outcomes.len());
        outcomes.push(Outcome::Stored { incident: slot });
    }
    let run = &run[..outcomes.len()];

    // The new incidents: one statement, told apart by their group key.
    let new: Vec<usize> = (0..incidents.len()).filter(|slot| incidents[*slot].id.is_none()).collect();
    if !new.is_empty() {
        let states: Vec<&IncidentState> = new.iter().map(|slot| &incidents[*slot].state).collect();
        let ids: HashMap<String, i64> = transaction.insert_incidents(&states).await?.into_iter().collect();
        for slot in new {
            let incident = &mut incidents[slot];
            incident.id = incident.state.group_key.as_ref().and_then(|group_key| ids.get(group_key)).copied();
            incident.changed = false;
            if incident.id.is_none() {
                return Err(Error::Query { query: "new incidents", source: sqlx::Error::RowNotFound });
            }
        }
    }

    // The webhooks: one statement, told apart by their dedup key (unique per source).
    let mut webhook_ids: HashMap<String, i64> = HashMap::new();
    let stored: Vec<usize> =
        (0..outcomes.len()).filter(|index| matches!(outcomes[*index], Outcome::Stored { .. })).collect();
    if !stored.is_empty() {
        let webhooks: Vec<(&AlertmanagerIntake, Option<i64>)> = stored
            .iter()
            .filter_map(|index| match outcomes[*index] {
                Outcome::Stored { incident } => Some((run[*index].0, incidents[incident].id)),
                _ => None,
            })
            .collect();
        webhook_ids = transaction.insert_webhooks(&webhooks).await?.into_iter().collect();
    }

    // The incidents that were there before the run and changed.
    for incident in incidents.iter().filter(|incident| incident.changed) {
        if let Some(id) = incident.id {
            transaction.update_incident(id, &incident.state).await?;
        }
    }

    let mut intakes: Vec<Intake> = Vec::with_capacity(outcomes.len());
    for (index, outcome) in outcomes.iter().enumerate() {
        let intake = match outcome {
            Outcome::Duplicate(existing) => *existing,
            Outcome::DuplicateOf(first) => Intake { duplicate: true, ..intakes[*first] },
            Outcome::Stored { incident } => {
                let webhook_id = webhook_ids
                    .get(&run[index].0.dedup_key)
                    .copied()
                    .ok_or(Error::Query { query: "insert webhooks", source: sqlx::Error::RowNotFound })?;
                Intake { webhook_id, incident_id: incidents[*incident].id, duplicate: false }
            }
        };
        intakes.push(intake);
    }
    Ok(intakes)
}
