//! Collection jobs: every incident gets a job in the store; a daemon claims the due ones
//! (with a lease, so a crashed daemon's job is taken up again), runs each collector's pass
//! over the incident's scope and stores what came back with the cursors that resume it.
//! Passes run at the first signal (reaching back over the lead-in), every
//! `recollect_every` while the incident is open (logs die with their pods), and a final
//! time once resolution plus the tail has passed.
//!
//! What each collector does is `collect`'s; how evidence is stored is the store's.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::SignedDuration;

use crate::collect::kubernetes::nodes_of;
use crate::collect::{Collector, LogChunk, LogCursor, Pass, Scope};
use crate::incident::WindowRules;
use crate::ingest::{alertmanager, pagerduty};
use crate::record::{AlertRecord, Instant};
use crate::store::{ClaimedJob, IncidentStatus, NextRun, Store, StoredPass, WebhookSource, compress};

/// When passes run.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub lead_in: SignedDuration,
    pub tail: SignedDuration,
    pub recollect_every: SignedDuration,
    /// How long a claimed job is held before another daemon may take it.
    pub lease: SignedDuration,
    /// Incidents quiet for longer than this when collection starts get no job: their
    /// evidence is gone.
    pub horizon: SignedDuration,
}

impl Schedule {
    pub fn from_settings(settings: &crate::config::Settings) -> Schedule {
        Schedule {
            lead_in: settings.window.lead_in,
            tail: settings.window.tail,
            recollect_every: settings.kubernetes.recollect_every,
            lease: SignedDuration::from_mins(10),
            horizon: SignedDuration::from_hours(24),
        }
    }
}

/// The scheduler: collectors in the order they run (Kubernetes first: Prometheus asks for
/// the nodes of the pods it found).
pub struct Jobs {
    pub store: Store,
    pub collectors: Vec<Arc<dyn Collector>>,
    pub schedule: Schedule,
    pub metrics: Arc<crate::telemetry::Metrics>,
    /// Called with an incident id after a pass is stored (the timeline cache forgets it).
    pub on_stored: Arc<dyn Fn(i64) + Send + Sync>,
}

impl Jobs {
    /// Runs due jobs until `stop` is set, looking for new ones every `tick`.
    pub async fn run(self, tick: std::time::Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.run_due(Instant::now()).await {
                tracing::warn!(%error, "Collection jobs could not be read; retrying.");
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Creates missing jobs and runs every job due at `now`; returns how many passes ran.
    pub async fn run_due(&self, now: Instant) -> crate::store::Result<usize> {
        self.store.ensure_jobs(now, now.checked_sub(self.schedule.horizon).unwrap_or(now)).await?;
        let mut n_passes = 0;
        while let Some(job) = self.store.claim_job(now, now.checked_add(self.schedule.lease).unwrap_or(now)).await? {
            self.run_job(job, now).await?;
            n_passes += 1;
        }
        Ok(n_passes)
    }

    #[tracing::instrument(skip_all, fields(incident = job.incident_id, pass = job.passes + 1))]
    async fn run_job(&self, job: ClaimedJob, now: Instant) -> crate::store::Result<()> {
        let scope = self.scope(&job, now).await?;
        let started = std::time::Instant::now();
        // Cursors this daemon wrote; unreadable ones (an older format) start over.
        let cursors: BTreeMap<String, LogCursor> = serde_json::from_str(&job.cursors).unwrap_or_default();
        let mut pass = Pass { cursors: cursors.clone(), ..Pass::default() };
        let mut replaces = Vec::new();
        // Chunks are stored as they come, tagged with this pass's number; `store_pass` makes
        // them visible with the cursors. A retry of a pass that crashed drops its leftovers.
        let pass_number = job.passes + 1;
        let n_leftover = self.store.clear_log_chunks(job.incident_id, pass_number).await?;
        if n_leftover > 0 {
            tracing::info!(n_leftover, "Log chunks of an unfinished earlier try of this pass deleted.");
        }
        for collector in &self.collectors {
            let mut scope = scope.clone();
            scope.nodes = nodes_of(&pass);
            let collector_started = std::time::Instant::now();
            let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
            let cursors = &cursors;
            let collecting = async move {
                let mut on_chunk = move |chunk: LogChunk| {
                    if !chunk.lines.is_empty() {
                        // NB: the receiver is gone only when storing failed; the pass then fails too.
                        let _ = sender.send((chunk.key(), chunk.lines.len() as u64, compress(&chunk.lines)));
                    }
                };
                collector.pass(&scope, cursors, &mut on_chunk).await
            };
            // Stores each chunk while the collector reads on, so a pass holds a few chunks at
            // most, not all of them.
            let storing = async {
                while let Some((stream, n_bytes, body)) = receiver.recv().await {
                    self.store.store_log_chunk(job.incident_id, pass_number, &stream, n_bytes, &body).await?;
                }
                crate::store::Result::Ok(())
            };
            let (found, stored) = tokio::join!(collecting, storing);
            stored?;
            self.metrics.collected(collector.name(), collector_started.elapsed().as_secs_f64(), found.gaps.len());
            tracing::debug!(
                collector = collector.name(),
                n_logs = found.logs.len(),
                n_objects = found.objects.len(),
                n_files = found.files.len(),
                n_gaps = found.gaps.len(),
                "Collector pass done."
            );
            // A collector that re-reads the whole window (its files under one folder) and
            // brought files replaces what it stored before; one that failed keeps the old.
            if let Some(folder) = found.files.first().and_then(|file| file.name.split_inclusive('/').next())
                && folder.ends_with('/')
            {
                replaces.push((folder.to_owned(), format!("{}:", collector.name())));
            }
            pass.logs.extend(found.logs);
            pass.objects.extend(found.objects);
            pass.files.extend(found.files);
            pass.gaps.extend(found.gaps);
            pass.cursors.extend(found.cursors);
        }
        let next = self.next_run(&job, now);
        let stored = StoredPass { replaces, ..stored_pass(pass) };
        self.store.store_pass(job.incident_id, &stored, now, next).await?;
        self.metrics.pass_stored();
        (self.on_stored)(job.incident_id);
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            n_gaps = stored.gaps.len(),
            final_pass = next == NextRun::Finished,
            "Collection pass stored."
        );
        Ok(())
    }

    /// The incident's alerts (newest state of each) and the span to collect.
    async fn scope(&self, job: &ClaimedJob, now: Instant) -> crate::store::Result<Scope> {
        let webhooks = self.store.incident_webhooks(job.incident_id).await?;
        let mut alerts: BTreeMap<(String, Instant), AlertRecord> = BTreeMap::new();
        // Page-only incidents find their pods by `[[kubernetes.services]]`: by name or id.
        let mut pagerduty_services: Vec<String> = webhooks
            .iter()
            .filter(|webhook| webhook.source == WebhookSource::PagerDuty)
            .filter_map(|webhook| pagerduty::service_of(&webhook.body))
            .flat_map(|(id, summary)| summary.into_iter().chain(id))
            .collect();
        pagerduty_services.sort();
        pagerduty_services.dedup();
        for webhook in webhooks.iter().filter(|webhook| webhook.source == WebhookSource::Alertmanager) {
            let Ok(payload) = alertmanager::parse_webhook(&webhook.body) else { continue };
            for alert in payload.alerts {
                let key = (alert.fingerprint.clone().unwrap_or_else(|| alert.name.clone()), alert.starts_at);
                alerts.insert(key, alert);
            }
        }
        let (start, end) = span(job, &self.schedule, now);
        Ok(Scope {
            incident_id: job.incident_id,
            alerts: alerts.into_values().collect(),
            pagerduty_services,
            start,
            end,
            nodes: Vec::new(),
        })
    }

    fn next_run(&self, job: &ClaimedJob, now: Instant) -> NextRun {
        let again = now.checked_add(self.schedule.recollect_every).unwrap_or(now);
        match resolution(job) {
            None => NextRun::At(again),
            Some(resolved) => {
                let rules = WindowRules { lead_in: self.schedule.lead_in, tail: self.schedule.tail };
                let last = rules.end(resolved, resolved);
                if now >= last { NextRun::Finished } else { NextRun::At(again.min(last)) }
            }
        }
    }
}

/// A pass compressed for the store, its cursors as the store keeps them (JSON).
pub fn stored_pass(pass: Pass) -> StoredPass {
    StoredPass {
        logs: pass
            .logs
            .iter()
            .filter(|chunk| !chunk.lines.is_empty())
            .map(|chunk| (chunk.key(), chunk.lines.len() as u64, compress(&chunk.lines)))
            .collect(),
        objects: pass
            .objects
            .iter()
            .map(|object| (object.kind.clone(), object.uid.clone(), compress(object.json.to_string().as_bytes())))
            .collect(),
        files: pass.files.iter().map(|file| (file.name.clone(), compress(&file.bytes))).collect(),
        gaps: pass.gaps,
        cursors: serde_json::to_string(&pass.cursors).unwrap_or_else(|_| "{}".to_owned()),
        replaces: Vec::new(),
    }
}

/// When a claimed job's incident resolved, if it is resolved.
fn resolution(job: &ClaimedJob) -> Option<Instant> {
    job.resolved_at.filter(|_| job.status == IncidentStatus::Resolved)
}

/// What a pass collects: the incident's window ([`WindowRules::span`]) up to now.
fn span(job: &ClaimedJob, schedule: &Schedule, now: Instant) -> (Instant, Instant) {
    let rules = WindowRules { lead_in: schedule.lead_in, tail: schedule.tail };
    let (start, end) = rules.span(job.opened_at, resolution(job));
    (start, end.map_or(now, |end| end.min(now)).max(start))
}
