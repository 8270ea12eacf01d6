//! Collection jobs: every incident gets a job in the store; a daemon claims the due ones
//! (with a lease, so a crashed daemon's job is taken up again, and the lease's fencing token,
//! so a daemon that lost its lease to another stores nothing: its pass is dropped, the store
//! says [`crate::store::Error::LeaseLost`]), runs each collector's pass
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
use crate::record::{AlertRecord, GapRecord, GapSource, Instant, Stream};
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
    /// Resolved incidents quiet for longer are pruned (`store.retention`); zero keeps all.
    pub retention: SignedDuration,
    /// The most bytes one incident's stored evidence may take (`store.max_evidence_bytes`).
    pub max_evidence_bytes: u64,
    /// The longest span a pass collects (`collect.max_window`): the most recent part.
    pub max_window: SignedDuration,
    /// Jobs run at once (`collect.concurrency`).
    pub concurrency: usize,
}

impl Schedule {
    pub fn from_settings(settings: &crate::config::Settings) -> Schedule {
        Schedule {
            lead_in: settings.window.lead_in,
            tail: settings.window.tail,
            recollect_every: settings.kubernetes.recollect_every,
            lease: settings.collect.lease,
            horizon: SignedDuration::from_hours(24),
            retention: settings.store.retention,
            max_evidence_bytes: settings.store.max_evidence_bytes as u64,
            max_window: settings.collect.max_window,
            concurrency: settings.collect.concurrency.max(1),
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
    /// Runs due jobs until `stop` is set, looking for new ones every `tick`, and keeps the
    /// store within its bounds (pruning after `store.retention`, hourly). A stop cancels
    /// the passes in flight at once and gives their jobs back: they run again from their
    /// stored cursors at the next start (their unfinished chunks are cleared then).
    pub async fn run(self, tick: std::time::Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut housekeeping_due = Instant::now();
        loop {
            let now = Instant::now();
            if now >= housekeeping_due {
                housekeeping_due = now.checked_add(HOUSEKEEPING_EVERY).unwrap_or(now);
                tokio::select! {
                    result = self.housekeeping(now) => if let Err(error) = result {
                        tracing::warn!(error = %error.reason(), "Store housekeeping failed; trying again within the hour.");
                    },
                    _ = stop.wait_for(|stop| *stop) => return,
                }
            }
            let claimed = std::sync::Mutex::new(BTreeMap::new());
            let stopped = tokio::select! {
                result = self.run_due_claiming(now, &claimed) => {
                    if let Err(error) = result {
                        tracing::warn!(error = %error.reason(), "Collection jobs could not be read; retrying.");
                    }
                    false
                }
                _ = stop.wait_for(|stop| *stop) => true,
            };
            if stopped {
                let claimed = std::mem::take(&mut *claimed.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
                self.give_back(claimed).await;
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Gives back the jobs of passes a stop cancelled, so the next start runs them at once
    /// rather than after their lease.
    async fn give_back(&self, claimed: BTreeMap<i64, i64>) {
        for (incident_id, token) in claimed {
            match self.store.release_job(incident_id, token).await {
                Ok(()) => tracing::info!(
                    incident = incident_id,
                    "Collection pass stopped by shutdown; it runs again from its cursors at the next start."
                ),
                Err(crate::store::Error::LeaseLost { .. }) => tracing::info!(
                    incident = incident_id,
                    "Collection pass stopped by shutdown; another daemon holds its job already."
                ),
                Err(error) => tracing::warn!(
                    incident = incident_id,
                    error = %error.reason(),
                    "A stopped pass's job could not be given back; it runs again when its lease ends."
                ),
            }
        }
    }

    /// Prunes incidents past `store.retention` and reads the store's size for `/metrics`.
    pub async fn housekeeping(&self, now: Instant) -> crate::store::Result<crate::store::Pruned> {
        let mut pruned = crate::store::Pruned::default();
        if self.schedule.retention.is_positive() {
            let before = now.checked_sub(self.schedule.retention).unwrap_or(Instant::MIN);
            pruned = self.store.prune(before).await?;
            self.metrics.pruned(pruned.incidents, now.as_second());
            if pruned != crate::store::Pruned::default() {
                tracing::info!(
                    n_incidents = pruned.incidents,
                    n_webhooks = pruned.webhooks,
                    n_log_chunks = pruned.log_chunks,
                    resolved_before = %before,
                    "Pruned incidents past store.retention."
                );
            }
        }
        let size = self.store.size().await?;
        self.metrics.store_size(size.bytes, size.free_bytes);
        Ok(pruned)
    }

    /// Creates missing jobs and runs every job due at `now`, up to `collect.concurrency` at
    /// once; returns how many passes ran.
    pub async fn run_due(&self, now: Instant) -> crate::store::Result<usize> {
        self.run_due_claiming(now, &std::sync::Mutex::new(BTreeMap::new())).await
    }

    /// [`Jobs::run_due`], keeping in `claimed` the jobs it holds (incident → lease token)
    /// until each pass is stored, so a stop can give them back.
    async fn run_due_claiming(
        &self,
        now: Instant,
        claimed: &std::sync::Mutex<BTreeMap<i64, i64>>,
    ) -> crate::store::Result<usize> {
        use futures::StreamExt as _;
        self.store.ensure_jobs(now, now.checked_sub(self.schedule.horizon).unwrap_or(now)).await?;
        let lease_until = now.checked_add(self.schedule.lease).unwrap_or(now);
        let claimed_jobs = || claimed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut running = futures::stream::FuturesUnordered::new();
        let mut n_passes = 0;
        let mut first_error = None;
        let mut claiming = true;
        loop {
            while claiming && running.len() < self.schedule.concurrency.max(1) {
                match self.store.claim_job(now, lease_until).await {
                    Ok(Some(job)) => {
                        let incident_id = job.incident_id;
                        claimed_jobs().insert(incident_id, job.token);
                        running.push(async move { (incident_id, self.run_job(job, now).await) });
                    }
                    Ok(None) => claiming = false,
                    Err(error) => {
                        first_error.get_or_insert(error);
                        claiming = false;
                    }
                }
            }
            let Some((incident_id, result)) = running.next().await else { break };
            claimed_jobs().remove(&incident_id);
            match result {
                Ok(()) => n_passes += 1,
                // Another daemon claimed the job after this one's lease lapsed: the pass is
                // its now; this one's is dropped (nothing of it was stored or will be).
                Err(crate::store::Error::LeaseLost { .. }) => {
                    tracing::info!(
                        incident = incident_id,
                        "Collection pass dropped: its lease lapsed and another daemon owns the job now."
                    );
                }
                // One incident's failed pass does not stop the others; its lease runs out
                // and it is tried again.
                Err(error) => {
                    tracing::warn!(incident = incident_id, error = %error.reason(), "Collection pass could not be stored.");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) if n_passes == 0 => Err(error),
            _ => Ok(n_passes),
        }
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
        let n_leftover = self.store.clear_log_chunks(job.incident_id, job.token, pass_number).await?;
        if n_leftover > 0 {
            tracing::info!(n_leftover, "Log chunks of an unfinished earlier try of this pass deleted.");
        }
        let used = self.store.evidence_bytes(job.incident_id).await?;
        let mut budget = EvidenceBudget::new(self.schedule.max_evidence_bytes, used);
        for collector in &self.collectors {
            let mut scope = scope.clone();
            scope.nodes = nodes_of(&pass);
            let collector_started = std::time::Instant::now();
            let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
            let cursors = &cursors;
            let collecting = async move {
                let mut on_chunk = move |chunk: LogChunk| {
                    if !chunk.lines.is_empty() {
                        let body = compress(&chunk.lines);
                        // NB: the receiver is gone only when storing failed; the pass then fails too.
                        let _ = sender.send((chunk, body));
                    }
                };
                collector.pass(&scope, cursors, &mut on_chunk).await
            };
            // Stores each chunk while the collector reads on, so a pass holds a few chunks at
            // most, not all of them.
            let storing = async {
                let mut budget = budget.clone();
                while let Some((chunk, body)) = receiver.recv().await {
                    if budget.take(&chunk, body.len() as u64) {
                        let n_bytes = chunk.lines.len() as u64;
                        self.store
                            .store_log_chunk(job.incident_id, job.token, pass_number, &chunk.key(), n_bytes, &body)
                            .await?;
                    }
                }
                crate::store::Result::Ok(budget)
            };
            let (mut found, stored) = tokio::join!(collecting, storing);
            budget = stored?;
            // Chunks a collector returned rather than streamed are stored the same way, against
            // the same budget, compressed once.
            for chunk in std::mem::take(&mut found.logs).into_iter().filter(|chunk| !chunk.lines.is_empty()) {
                let body = compress(&chunk.lines);
                if budget.take(&chunk, body.len() as u64) {
                    let n_bytes = chunk.lines.len() as u64;
                    self.store
                        .store_log_chunk(job.incident_id, job.token, pass_number, &chunk.key(), n_bytes, &body)
                        .await?;
                }
            }
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
        if !budget.cut.is_empty() {
            self.metrics.evidence_budget_reached();
            tracing::warn!(
                max_evidence_bytes = self.schedule.max_evidence_bytes,
                n_streams = budget.cut.len(),
                "The incident's evidence reached store.max_evidence_bytes: later log lines are not stored."
            );
        }
        pass.gaps.extend(budget.gaps(scope.end));
        if let (_, Some(cut)) = span(&job, &self.schedule, now) {
            pass.gaps.push(cut_gap(cut, self.schedule.max_window));
        }
        let next = self.next_run(&job, now);
        let stored = StoredPass { replaces, ..stored_pass(pass) };
        self.store.store_pass(job.incident_id, job.token, &stored, now, next).await?;
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
        let ((start, end), _) = span(job, &self.schedule, now);
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

/// How often the store is pruned and its size read.
const HOUSEKEEPING_EVERY: SignedDuration = SignedDuration::from_hours(1);

/// What is left of an incident's `store.max_evidence_bytes` in a pass, and the streams whose
/// lines it cut, with the time of the first line not stored.
#[derive(Clone, Debug)]
struct EvidenceBudget {
    limit: u64,
    left: u64,
    cut: BTreeMap<String, (Stream, Option<Instant>)>,
}

impl EvidenceBudget {
    fn new(limit: u64, used: u64) -> EvidenceBudget {
        EvidenceBudget { limit, left: limit.saturating_sub(used), cut: BTreeMap::new() }
    }

    /// Takes `stored_bytes` for `chunk` if they fit; once one chunk does not, none after it
    /// is stored either (a stream's lines are never stored with holes).
    fn take(&mut self, chunk: &LogChunk, stored_bytes: u64) -> bool {
        if self.cut.is_empty() && stored_bytes <= self.left {
            self.left -= stored_bytes;
            return true;
        }
        self.left = 0;
        self.cut.entry(chunk.key()).or_insert_with(|| (chunk.stream(), chunk.first_time()));
        false
    }

    /// A gap per stream cut, from its first line not stored to the pass's end.
    fn gaps(&self, end: Instant) -> impl Iterator<Item = GapRecord> + '_ {
        self.cut.values().map(move |(stream, first)| GapRecord {
            source: GapSource::Logs(stream.clone()),
            start: first.unwrap_or(end).min(end),
            end,
            reason: format!(
                "store.max_evidence_bytes ({}) reached: this incident's later log lines were not stored",
                crate::config::format_size(self.limit as usize)
            ),
            node: None,
        })
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

/// What a pass collects: the incident's window ([`WindowRules::span`]) up to now, and,
/// when that is longer than `collect.max_window`, where the span was cut to its most
/// recent part (the window's start, the cut).
fn span(job: &ClaimedJob, schedule: &Schedule, now: Instant) -> ((Instant, Instant), Option<(Instant, Instant)>) {
    let rules = WindowRules { lead_in: schedule.lead_in, tail: schedule.tail };
    let (start, end) = rules.span(job.opened_at, resolution(job));
    let end = end.map_or(now, |end| end.min(now)).max(start);
    match end.checked_sub(schedule.max_window) {
        Ok(cut) if cut > start => ((cut, end), Some((start, cut))),
        _ => ((start, end), None),
    }
}

/// The gap a span cut by `collect.max_window` leaves: one per incident, widened as the cut
/// moves with an open incident's end.
fn cut_gap(cut: (Instant, Instant), max_window: SignedDuration) -> GapRecord {
    GapRecord {
        source: GapSource::Other("collection".to_owned()),
        start: cut.0,
        end: cut.1,
        reason: format!(
            "collect.max_window ({max_window:#}) cut the collection span: only the incident's most recent \
             {max_window:#} were collected"
        ),
        node: None,
    }
}
