//! Collection jobs over a real store, every check on both backends (a real SQLite file and
//! a fresh database on the real PostgreSQL): when passes run, what span they cover, that
//! cursors come back to the next pass, that a crashed daemon's job is taken up again, that a
//! pass whose lease another replica took is dropped, and the evidence limits and retention.
//! The collector here records its calls; the real collectors have their own tests.

#[path = "support/postgres.rs"]
#[macro_use]
mod postgres_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use postgres_support::{Backend, Fresh};
use postmortemd::collect::{ChunkSink, Collector, PassFuture};
use postmortemd::collect::{LogChunk, LogCursor, Pass, Scope};
use postmortemd::jobs::{Jobs, Schedule};
use postmortemd::record::AlertStatus;
use postmortemd::store::{AlertmanagerIntake, ClaimedJob, Store};
use postmortemd::telemetry::Metrics;

/// Records each pass's scope and cursors; returns one log line per pass and a cursor.
#[derive(Default)]
struct Recording {
    calls: Mutex<Vec<(Scope, BTreeMap<String, LogCursor>)>>,
}

impl Collector for Recording {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn pass<'a>(
        &'a self,
        scope: &'a Scope,
        cursors: &'a BTreeMap<String, LogCursor>,
        _on_chunk: ChunkSink<'a>,
    ) -> PassFuture<'a> {
        Box::pin(async move {
            let mut calls = self.calls.lock().unwrap();
            calls.push((scope.clone(), cursors.clone()));
            let n = calls.len() as u32;
            let line = format!("[pod/api-1/app] {} pass {n}\n", scope.end.strftime("%Y-%m-%dT%H:%M:%S.%9fZ"));
            let chunk = LogChunk {
                namespace: "shop".into(),
                pod: "api-1".into(),
                container: "app".into(),
                lines: line.into_bytes(),
            };
            let cursor =
                LogCursor { last_nanos: scope.end.as_nanosecond() as i64, at_last: 1, restart_count: n, bytes: 0 };
            Pass { logs: vec![chunk], cursors: [("shop/api-1/app".to_owned(), cursor)].into(), ..Pass::default() }
        })
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn minutes(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn notification(
    status: AlertStatus,
    starts_at: Timestamp,
    ends_at: Option<Timestamp>,
    received_at: Timestamp,
) -> AlertmanagerIntake {
    let body = serde_json::json!({
        "version": "4", "status": if status == AlertStatus::Firing { "firing" } else { "resolved" },
        "groupKey": "{}:{alertname=\"HighErrorRate\"}", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": {"alertname": "HighErrorRate", "namespace": "shop", "pod": "api-1"},
            "annotations": {}, "startsAt": starts_at.to_string(),
            "endsAt": ends_at.map_or("0001-01-01T00:00:00Z".to_owned(), |end| end.to_string()),
            "fingerprint": "f1"}]
    });
    AlertmanagerIntake {
        dedup_key: format!("{status:?}{received_at}"),
        received_at,
        body: body.to_string().into_bytes(),
        group_key: "{}:{alertname=\"HighErrorRate\"}".into(),
        status,
        starts_at,
        fired_at: starts_at,
        ends_at,
        title: "HighErrorRate".into(),
        severity: None,
        truncated_alerts: 0,
        labels: [("alertname".to_owned(), "HighErrorRate".to_owned()), ("namespace".to_owned(), "shop".to_owned())]
            .into(),
    }
}

fn jobs(store: &Store, collector: Arc<Recording>, stored: Arc<Mutex<Vec<i64>>>) -> Jobs {
    Jobs {
        store: store.clone(),
        collectors: vec![collector],
        schedule: Schedule {
            lead_in: minutes(20),
            tail: minutes(10),
            recollect_every: minutes(5),
            lease: minutes(10),
            horizon: SignedDuration::from_hours(24),
            retention: SignedDuration::from_hours(90 * 24),
            max_evidence_bytes: 1 << 30,
            max_window: SignedDuration::from_hours(24),
            concurrency: 4,
        },
        metrics: Arc::new(Metrics::new()),
        on_stored: Arc::new(move |incident| stored.lock().unwrap().push(incident)),
    }
}

on_both_backends!(passes_run_at_first_signal_while_open_and_once_after_the_tail);
async fn passes_run_at_first_signal_while_open_and_once_after_the_tail(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let fired = at("2026-11-27T10:00:00Z");
    let intake = notification(AlertStatus::Firing, fired, None, fired + SignedDuration::from_secs(30));
    let incident = store.record_alertmanager(intake, minutes(30)).await.unwrap().incident_id.unwrap();
    let collector = Arc::new(Recording::default());
    let stored = Arc::new(Mutex::new(Vec::new()));
    let jobs = jobs(&store, collector.clone(), stored.clone());

    // First signal: one pass reaching back over the lead-in.
    let first = fired + SignedDuration::from_secs(31);
    assert_eq!(jobs.run_due(first).await.unwrap(), 1);
    // Nothing is due again before recollect_every.
    assert_eq!(jobs.run_due(first + minutes(4)).await.unwrap(), 0);
    assert_eq!(jobs.run_due(first + minutes(5)).await.unwrap(), 1);
    // Resolved at 10:20: the next pass covers up to now, the final one up to 10:30.
    let resolved_at = at("2026-11-27T10:20:00Z");
    store
        .record_alertmanager(notification(AlertStatus::Resolved, fired, Some(resolved_at), resolved_at), minutes(30))
        .await
        .unwrap();
    assert_eq!(jobs.run_due(first + minutes(10)).await.unwrap(), 1);
    let final_at = at("2026-11-27T10:31:00Z");
    assert_eq!(jobs.run_due(final_at).await.unwrap(), 1);
    assert_eq!(jobs.run_due(final_at + minutes(60)).await.unwrap(), 0, "no pass after the final one");

    let calls = collector.calls.lock().unwrap().clone();
    let spans: Vec<(Timestamp, Timestamp)> = calls.iter().map(|(scope, _)| (scope.start, scope.end)).collect();
    let start = at("2026-11-27T09:40:00Z");
    assert_eq!(
        spans,
        vec![
            (start, first),
            (start, first + minutes(5)),
            (start, first + minutes(10)),
            (start, at("2026-11-27T10:30:00Z")),
        ]
    );
    assert_eq!(calls[0].0.alerts.len(), 1);
    assert_eq!(calls[0].0.alerts[0].labels["pod"], "api-1");
    assert!(calls[0].1.is_empty(), "the first pass has no cursors");
    // Each pass gets the cursors the one before it stored.
    for (index, (_, cursors)) in calls.iter().enumerate().skip(1) {
        assert_eq!(cursors["shop/api-1/app"].restart_count, index as u32);
    }
    assert_eq!(*stored.lock().unwrap(), vec![incident; 4]);
    let evidence = store.evidence(incident).await.unwrap();
    assert_eq!(evidence.logs.len(), 4, "one chunk per pass, none lost");
    let exposition = jobs.metrics.render(0);
    assert!(exposition.contains("postmortemd_collect_passes_total 4\n"), "{exposition}");
    assert!(
        exposition.contains("postmortemd_collect_duration_seconds_count{collector=\"kubernetes\"} 4\n"),
        "{exposition}"
    );
}

on_both_backends!(a_job_a_crashed_daemon_held_is_taken_up_after_its_lease);
async fn a_job_a_crashed_daemon_held_is_taken_up_after_its_lease(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let fired = at("2026-11-27T10:00:00Z");
    store.record_alertmanager(notification(AlertStatus::Firing, fired, None, fired), minutes(30)).await.unwrap();
    let now = fired + SignedDuration::from_secs(5);
    store.ensure_jobs(now, now - SignedDuration::from_hours(24)).await.unwrap();
    // A daemon claims the job and dies without storing its pass.
    assert!(store.claim_job(now, now + minutes(10)).await.unwrap().is_some());
    let collector = Arc::new(Recording::default());
    let jobs = jobs(&store, collector.clone(), Arc::new(Mutex::new(Vec::new())));
    assert_eq!(jobs.run_due(now + minutes(1)).await.unwrap(), 0, "held by the other daemon");
    assert_eq!(jobs.run_due(now + minutes(11)).await.unwrap(), 1, "its lease ran out");
}

/// Answers like the Prometheus collector: the whole window each pass, as files under
/// `prometheus/`; the second pass finds Prometheus down and reports a gap instead.
#[derive(Default)]
struct Snapshots {
    n_passes: Mutex<u32>,
}

impl Collector for Snapshots {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn pass<'a>(
        &'a self,
        scope: &'a Scope,
        _cursors: &'a BTreeMap<String, LogCursor>,
        on_chunk: ChunkSink<'a>,
    ) -> PassFuture<'a> {
        Box::pin(async move {
            let n = {
                let mut n_passes = self.n_passes.lock().unwrap();
                *n_passes += 1;
                *n_passes
            };
            let file = |name: &str| postmortemd::collect::EvidenceFile { name: name.to_owned(), bytes: b"{}".to_vec() };
            // Chunks handed out during the pass are stored with it like returned ones.
            on_chunk(LogChunk {
                namespace: "shop".into(),
                pod: "api-1".into(),
                container: "app".into(),
                lines: format!("[pod/api-1/app] {} pass {n}\n", scope.end.strftime("%Y-%m-%dT%H:%M:%S.%9fZ"))
                    .into_bytes(),
            });
            match n {
                2 => Pass {
                    gaps: vec![postmortemd::record::GapRecord {
                        source: postmortemd::record::GapSource::Other("prometheus: up".into()),
                        start: scope.start,
                        end: scope.end,
                        reason: "prometheus at http://p:9090 unreachable: connection refused".into(),
                        node: None,
                    }],
                    ..Pass::default()
                },
                1 => Pass { files: vec![file("prometheus/up.json"), file("prometheus/old.json")], ..Pass::default() },
                _ => {
                    Pass { files: vec![file("prometheus/up.json"), file("prometheus/queries.json")], ..Pass::default() }
                }
            }
        })
    }
}

on_both_backends!(a_snapshot_replaces_the_previous_one_only_when_it_brought_data);
async fn a_snapshot_replaces_the_previous_one_only_when_it_brought_data(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let fired = at("2026-11-27T10:00:00Z");
    let incident = store
        .record_alertmanager(notification(AlertStatus::Firing, fired, None, fired), minutes(30))
        .await
        .unwrap()
        .incident_id
        .unwrap();
    let mut jobs = jobs(&store, Arc::new(Recording::default()), Arc::new(Mutex::new(Vec::new())));
    let snapshots = Arc::new(Snapshots::default());
    jobs.collectors = vec![snapshots.clone()];
    let names = async |store: &Store| {
        let evidence = store.evidence(incident).await.unwrap();
        let files: Vec<String> = evidence.files.into_iter().map(|(name, _)| name).collect();
        assert_eq!(evidence.logs.len() as u32, *snapshots.n_passes.lock().unwrap(), "one streamed chunk per pass");
        (files, evidence.gaps.len())
    };
    jobs.run_due(fired + minutes(1)).await.unwrap();
    assert_eq!(names(&store).await, (vec!["prometheus/old.json".to_owned(), "prometheus/up.json".to_owned()], 0));
    jobs.run_due(fired + minutes(6)).await.unwrap();
    assert_eq!(
        names(&store).await,
        (vec!["prometheus/old.json".to_owned(), "prometheus/up.json".to_owned()], 1),
        "a failed pass keeps the last answers and adds its gap"
    );
    jobs.run_due(fired + minutes(11)).await.unwrap();
    assert_eq!(
        names(&store).await,
        (vec!["prometheus/queries.json".to_owned(), "prometheus/up.json".to_owned()], 0),
        "a pass that answered replaces files and gaps"
    );
}

/// Hands one chunk per try to the pass as it reads; the first try then never ends (its
/// daemon dies mid-pass), later ones end at once.
#[derive(Default)]
struct Crashing {
    n_tries: Mutex<u32>,
}

impl Collector for Crashing {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn pass<'a>(
        &'a self,
        _scope: &'a Scope,
        cursors: &'a BTreeMap<String, LogCursor>,
        on_chunk: ChunkSink<'a>,
    ) -> PassFuture<'a> {
        Box::pin(async move {
            let n = {
                let mut n_tries = self.n_tries.lock().unwrap();
                *n_tries += 1;
                *n_tries
            };
            assert!(cursors.is_empty(), "try {n}: no pass was stored, so there are no cursors");
            on_chunk(LogChunk {
                namespace: "shop".into(),
                pod: "api-1".into(),
                container: "app".into(),
                lines: format!("[pod/api-1/app] 2026-11-27T10:00:00.000000000Z try {n}\n").into_bytes(),
            });
            if n == 1 {
                std::future::pending::<()>().await;
            }
            let cursor = LogCursor { last_nanos: 1, at_last: 1, restart_count: 0, bytes: 0 };
            Pass { cursors: [("shop/api-1/app".to_owned(), cursor)].into(), ..Pass::default() }
        })
    }
}

on_both_backends!(chunks_of_a_pass_that_never_stored_its_cursors_stay_invisible_and_its_retry_stores_them_once);
async fn chunks_of_a_pass_that_never_stored_its_cursors_stay_invisible_and_its_retry_stores_them_once(
    backend: Backend,
    name: &str,
) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let fired = at("2026-11-27T10:00:00Z");
    let incident = store
        .record_alertmanager(notification(AlertStatus::Firing, fired, None, fired), minutes(30))
        .await
        .unwrap()
        .incident_id
        .unwrap();
    let crashing = Arc::new(Crashing::default());
    let mut first = jobs(&store, Arc::new(Recording::default()), Arc::new(Mutex::new(Vec::new())));
    first.collectors = vec![crashing.clone()];
    let running = tokio::spawn(async move { first.run_due(fired + minutes(1)).await });
    // The first try's chunk reaches the store before the try ends (it never does).
    let n_rows = async || fresh.count_rows("evidence_logs").await;
    let mut waited = 0;
    while n_rows().await == 0 {
        assert!(waited < 600, "the first try's chunk was never stored");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    // The daemon dies: no store_pass, the lease still held.
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    assert_eq!(n_rows().await, 1);
    assert!(store.evidence(incident).await.unwrap().logs.is_empty(), "lines without their cursors are not visible");
    assert_eq!(store.passes(incident).await.unwrap(), 0);

    // Another daemon takes the job up once the lease ran out, and runs the same pass again.
    let mut second = jobs(&store, Arc::new(Recording::default()), Arc::new(Mutex::new(Vec::new())));
    second.collectors = vec![crashing.clone()];
    assert_eq!(second.run_due(fired + minutes(12)).await.unwrap(), 1);
    assert_eq!(*crashing.n_tries.lock().unwrap(), 2);
    assert_eq!(store.passes(incident).await.unwrap(), 1);
    let evidence = store.evidence(incident).await.unwrap();
    assert_eq!(evidence.logs.len(), 1, "the retried pass's chunk, once");
    assert_eq!(n_rows().await, 1, "the first try's leftover chunk is gone");
    let (chunk_id, n_bytes) = evidence.logs[0];
    let body = store.log_chunk(chunk_id).await.unwrap().expect("the visible chunk is stored");
    let mut lines = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(body.as_slice()), &mut lines).unwrap();
    assert_eq!(lines, "[pod/api-1/app] 2026-11-27T10:00:00.000000000Z try 2\n");
    assert_eq!(n_bytes, lines.len() as u64);
}

on_both_backends!(a_page_only_incident_scopes_its_pagerduty_service);
/// A page-only incident's pass names the PagerDuty service (name and id), which
/// `[[kubernetes.services]]` rules turn into pods.
async fn a_page_only_incident_scopes_its_pagerduty_service(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let occurred = at("2026-11-27T10:00:00Z");
    let body = serde_json::json!({"event": {"id": "01EV", "event_type": "incident.triggered", "resource_type": "incident",
        "occurred_at": occurred.to_string(), "agent": null, "client": null,
        "data": {"id": "Q1", "type": "incident", "title": "Checkout is slow",
            "service": {"id": "PSVC42", "type": "service_reference", "summary": "Checkout API"}}}});
    let intake = postmortemd::store::PagerDutyIntake {
        dedup_key: "01EV".into(),
        received_at: occurred,
        body: body.to_string().into_bytes(),
        occurred_at: occurred,
        action: Some(postmortemd::record::PageAction::Triggered),
        pd_incident_id: Some("Q1".into()),
        incident_key: None,
        title: Some("Checkout is slow".into()),
        link: None,
    };
    store.record_pagerduty(intake).await.unwrap();
    let collector = Arc::new(Recording::default());
    let jobs = jobs(&store, collector.clone(), Arc::new(Mutex::new(Vec::new())));
    assert_eq!(jobs.run_due(occurred + minutes(1)).await.unwrap(), 1);
    let calls = collector.calls.lock().unwrap().clone();
    assert!(calls[0].0.alerts.is_empty());
    assert_eq!(calls[0].0.pagerduty_services, ["Checkout API", "PSVC42"]);
}

/// A firing notification of its own alert group `name` (so each is its own incident).
fn firing_group(name: &str, starts_at: Timestamp, received_at: Timestamp) -> AlertmanagerIntake {
    let mut intake = notification(AlertStatus::Firing, starts_at, None, received_at);
    intake.group_key = format!("{{}}:{{alertname=\"{name}\"}}");
    intake.dedup_key = format!("{name}{received_at}");
    intake.title = name.to_owned();
    intake
}

on_both_backends!(incidents_past_retention_are_pruned_with_their_evidence_and_the_rest_is_kept);
async fn incidents_past_retention_are_pruned_with_their_evidence_and_the_rest_is_kept(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let now = at("2026-11-27T10:00:00Z");
    let days = |n: i64| SignedDuration::from_hours(24 * n);
    // Resolved 100 days ago, with evidence; resolved 10 days ago; open for 200 days.
    let old_fired = now - days(101);
    let old = store.record_alertmanager(firing_group("Old", old_fired, old_fired), minutes(30)).await.unwrap();
    let collector = Arc::new(Recording::default());
    let jobs = jobs(&store, collector.clone(), Arc::new(Mutex::new(Vec::new())));
    assert_eq!(jobs.run_due(old_fired + minutes(1)).await.unwrap(), 1);
    let mut resolved = notification(AlertStatus::Resolved, old_fired, Some(now - days(100)), now - days(100));
    resolved.group_key = "{}:{alertname=\"Old\"}".into();
    store.record_alertmanager(resolved, minutes(30)).await.unwrap();
    let recent_fired = now - days(11);
    let recent =
        store.record_alertmanager(firing_group("Recent", recent_fired, recent_fired), minutes(30)).await.unwrap();
    let mut resolved = notification(AlertStatus::Resolved, recent_fired, Some(now - days(10)), now - days(10));
    resolved.group_key = "{}:{alertname=\"Recent\"}".into();
    store.record_alertmanager(resolved, minutes(30)).await.unwrap();
    let open =
        store.record_alertmanager(firing_group("Open", now - days(200), now - days(200)), minutes(30)).await.unwrap();
    let old = old.incident_id.unwrap();
    assert!(!store.evidence(old).await.unwrap().logs.is_empty(), "the old incident had evidence");
    let webhooks_before = store.count_webhooks().await.unwrap();

    let pruned = jobs.housekeeping(now).await.unwrap();
    assert_eq!((pruned.incidents, pruned.webhooks, pruned.log_chunks), (1, 2, 1));
    assert_eq!(store.incident(old).await.unwrap(), None, "the old incident is gone");
    let evidence = store.evidence(old).await.unwrap();
    assert!(evidence.logs.is_empty() && evidence.objects.is_empty() && evidence.gaps.is_empty());
    assert_eq!(store.collection(old).await.unwrap(), None, "its job is gone");
    assert_eq!(store.count_webhooks().await.unwrap(), webhooks_before - 2);
    for kept in [recent.incident_id.unwrap(), open.incident_id.unwrap()] {
        assert!(store.incident(kept).await.unwrap().is_some(), "incident {kept} is within retention or open");
    }
    let exposition = jobs.metrics.render(0);
    assert!(exposition.contains("postmortemd_store_pruned_incidents_total 1\n"), "{exposition}");
    assert!(
        exposition.contains(&format!("postmortemd_store_last_prune_timestamp_seconds {}\n", now.as_second())),
        "{exposition}"
    );
    let bytes: u64 = exposition
        .lines()
        .find_map(|line| line.strip_prefix("postmortemd_store_bytes "))
        .and_then(|value| value.parse().ok())
        .expect("the store's size is exported");
    assert!(bytes > 0);
    // A second prune finds nothing more; zero retention keeps everything.
    assert_eq!(jobs.housekeeping(now).await.unwrap(), Default::default());
    let mut forever = jobs;
    forever.schedule.retention = SignedDuration::ZERO;
    assert_eq!(forever.housekeeping(now + days(1000)).await.unwrap(), Default::default());
    assert!(store.incident(recent.incident_id.unwrap()).await.unwrap().is_some());
}

/// Streams `n_chunks` chunks of incompressible lines of 4 KiB for each of two containers.
struct Chatty {
    n_chunks: usize,
}

impl Collector for Chatty {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn pass<'a>(
        &'a self,
        scope: &'a Scope,
        _cursors: &'a BTreeMap<String, LogCursor>,
        on_chunk: ChunkSink<'a>,
    ) -> PassFuture<'a> {
        Box::pin(async move {
            let mut state = 0x9e37_79b9_7f4a_7c15_u64;
            for container in ["app", "sidecar"] {
                for chunk_idx in 0..self.n_chunks {
                    let time = scope.start + SignedDuration::from_secs(60 * chunk_idx as i64);
                    let mut lines = String::new();
                    while lines.len() < 4096 {
                        let mut noise = String::new();
                        for _ in 0..6 {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            noise.push_str(&format!("{state:016x}"));
                        }
                        lines.push_str(&format!(
                            "[pod/api-1/{container}] {} noise {noise}\n",
                            time.strftime("%Y-%m-%dT%H:%M:%S.%9fZ")
                        ));
                    }
                    on_chunk(LogChunk {
                        namespace: "shop".into(),
                        pod: "api-1".into(),
                        container: container.into(),
                        lines: lines.into_bytes(),
                    });
                }
            }
            Pass::default()
        })
    }
}

on_both_backends!(evidence_stops_at_max_evidence_bytes_with_a_gap_per_stream_cut);
async fn evidence_stops_at_max_evidence_bytes_with_a_gap_per_stream_cut(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let fired = at("2026-11-27T10:00:00Z");
    let incident = store
        .record_alertmanager(firing_group("Chatty", fired, fired), minutes(30))
        .await
        .unwrap()
        .incident_id
        .unwrap();
    let mut jobs = jobs(&store, Arc::new(Recording::default()), Arc::new(Mutex::new(Vec::new())));
    jobs.collectors = vec![Arc::new(Chatty { n_chunks: 10 })];
    let limit = 8 << 10;
    jobs.schedule.max_evidence_bytes = limit;
    assert_eq!(jobs.run_due(fired + minutes(1)).await.unwrap(), 1);
    let used = store.evidence_bytes(incident).await.unwrap();
    assert!(used <= limit, "{used} bytes stored, limit {limit}");
    assert!(used > limit / 2, "the budget was used, not refused whole: {used}");
    let evidence = store.evidence(incident).await.unwrap();
    let cut: Vec<(String, Timestamp, Timestamp)> = evidence
        .gaps
        .iter()
        .filter(|gap| gap.reason.contains("store.max_evidence_bytes (8KiB) reached"))
        .map(|gap| (gap.source.to_string(), gap.start, gap.end))
        .collect();
    let start = fired - minutes(20);
    // The budget ran out inside app's stream: its gap starts at its first chunk not stored
    // (each chunk is about 2 KiB compressed); sidecar's whole stream was cut.
    assert_eq!(cut.len(), 2, "{cut:?} of {:?}", evidence.gaps);
    assert_eq!(cut[0].0, "logs shop/api-1/app");
    assert!(cut[0].1 > start && cut[0].1 < start + minutes(10), "{cut:?}");
    assert_eq!(cut[1], ("logs shop/api-1/sidecar".to_owned(), start, fired + minutes(1)));
    assert!(jobs.metrics.render(0).contains("postmortemd_evidence_budget_reached_total 1\n"));
    // The next pass stores nothing more and widens the same gaps.
    assert_eq!(jobs.run_due(fired + minutes(6)).await.unwrap(), 1);
    assert_eq!(store.evidence_bytes(incident).await.unwrap(), used);
    let evidence = store.evidence(incident).await.unwrap();
    assert_eq!(evidence.gaps.len(), 2, "{:?}", evidence.gaps);
    assert!(evidence.gaps.iter().all(|gap| gap.end == fired + minutes(6)));
}

on_both_backends!(a_span_longer_than_max_window_is_cut_to_its_most_recent_part_with_a_gap);
async fn a_span_longer_than_max_window_is_cut_to_its_most_recent_part_with_a_gap(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let received = at("2026-11-27T10:00:00Z");
    // An alert that says it started in year 1: collected over the last day only.
    let incident = store
        .record_alertmanager(firing_group("Ancient", at("0001-01-01T00:00:01Z"), received), minutes(30))
        .await
        .unwrap()
        .incident_id
        .unwrap();
    let collector = Arc::new(Recording::default());
    let jobs = jobs(&store, collector.clone(), Arc::new(Mutex::new(Vec::new())));
    let now = received + minutes(1);
    assert_eq!(jobs.run_due(now).await.unwrap(), 1);
    let calls = collector.calls.lock().unwrap().clone();
    assert_eq!((calls[0].0.start, calls[0].0.end), (now - SignedDuration::from_hours(24), now));
    let gaps = store.evidence(incident).await.unwrap().gaps;
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].source.to_string(), "collection");
    assert!(gaps[0].reason.starts_with("collect.max_window (24h) cut the collection span"), "{}", gaps[0].reason);
    assert_eq!((gaps[0].start, gaps[0].end), (at("0000-12-31T23:40:01Z"), now - SignedDuration::from_hours(24)));
}

/// Waits in every pass until `expected` passes are inside at once (or gives up), and never
/// finishes the pass of the incident titled `Stuck`.
struct Gathering {
    inside: tokio::sync::Semaphore,
    expected: u32,
    most_at_once: Mutex<usize>,
}

impl Collector for Gathering {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn pass<'a>(
        &'a self,
        scope: &'a Scope,
        _cursors: &'a BTreeMap<String, LogCursor>,
        _on_chunk: ChunkSink<'a>,
    ) -> PassFuture<'a> {
        Box::pin(async move {
            self.inside.add_permits(1);
            let stuck = scope.alerts.iter().any(|alert| alert.name == "Stuck");
            let gathered = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                loop {
                    let now_inside = self.inside.available_permits();
                    {
                        let mut most = self.most_at_once.lock().unwrap();
                        *most = (*most).max(now_inside);
                    }
                    if now_inside >= self.expected as usize {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            })
            .await;
            assert!(gathered.is_ok(), "passes did not run at once");
            if stuck {
                std::future::pending::<()>().await;
            }
            Pass::default()
        })
    }
}

on_both_backends!(incidents_are_collected_at_once_and_a_stuck_one_holds_up_no_other);
async fn incidents_are_collected_at_once_and_a_stuck_one_holds_up_no_other(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let fired = at("2026-11-27T10:00:00Z");
    for name in ["Stuck", "Second", "Third"] {
        let mut intake = firing_group(name, fired, fired);
        // The incident's alerts are read from the stored body.
        intake.body = String::from_utf8(intake.body).unwrap().replace("HighErrorRate", name).into_bytes();
        store.record_alertmanager(intake, minutes(30)).await.unwrap();
    }
    let gathering =
        Arc::new(Gathering { inside: tokio::sync::Semaphore::new(0), expected: 3, most_at_once: Mutex::new(0) });
    let mut jobs = jobs(&store, Arc::new(Recording::default()), Arc::new(Mutex::new(Vec::new())));
    jobs.collectors = vec![gathering.clone()];
    jobs.schedule.concurrency = 3;
    let jobs = Arc::new(jobs);
    let running = tokio::spawn({
        let jobs = jobs.clone();
        async move { jobs.run_due(fired + minutes(1)).await }
    });
    // The two others are stored while the stuck one still runs.
    let mut waited = 0;
    while store.incidents(&Default::default()).await.unwrap().len() != 3
        || futures::future::join_all((1..=3).map(|id| store.passes(id)))
            .await
            .iter()
            .filter(|n| matches!(n, Ok(1)))
            .count()
            < 2
    {
        assert!(waited < 400, "the other incidents' passes were not stored while one was stuck");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(*gathering.most_at_once.lock().unwrap(), 3, "three passes ran at once");
    assert!(!running.is_finished(), "the stuck pass is still running");
    running.abort();
}

/// A pass that stalls past its lease: while it runs, another replica claims the job (its
/// lease lapsed) and is handed what it claimed.
struct Overtaken {
    other: Store,
    claim_at: Timestamp,
    claimed: Mutex<Option<ClaimedJob>>,
}

impl Collector for Overtaken {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn pass<'a>(
        &'a self,
        _scope: &'a Scope,
        _cursors: &'a BTreeMap<String, LogCursor>,
        _on_chunk: ChunkSink<'a>,
    ) -> PassFuture<'a> {
        Box::pin(async move {
            let claimed = self.other.claim_job(self.claim_at, self.claim_at + minutes(10)).await.unwrap();
            *self.claimed.lock().unwrap() = claimed;
            let chunk = LogChunk {
                namespace: "shop".into(),
                pod: "api-1".into(),
                container: "app".into(),
                lines: b"[pod/api-1/app] 2026-11-27T10:00:00.000000000Z overtaken\n".to_vec(),
            };
            Pass { logs: vec![chunk], ..Pass::default() }
        })
    }
}

on_both_backends!(a_pass_whose_lease_another_replica_took_is_dropped);
/// Replica A's pass loses its lease to replica B mid-pass: A drops it (no error, nothing
/// stored, not counted), and B's pass of the same number is stored, once.
async fn a_pass_whose_lease_another_replica_took_is_dropped(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let [a, b]: [Store; 2] = fresh.replicas(backend, 2).await.try_into().unwrap_or_else(|_| unreachable!());
    let fired = at("2026-11-27T10:00:00Z");
    let incident = a
        .record_alertmanager(notification(AlertStatus::Firing, fired, None, fired), minutes(30))
        .await
        .unwrap()
        .incident_id
        .unwrap();
    let now = fired + minutes(1);
    let overtaken = Arc::new(Overtaken { other: b.clone(), claim_at: now + minutes(11), claimed: Mutex::new(None) });
    let stored = Arc::new(Mutex::new(Vec::new()));
    let mut replica_a = jobs(&a, Arc::new(Recording::default()), stored.clone());
    replica_a.collectors = vec![overtaken.clone()];
    assert_eq!(replica_a.run_due(now).await.unwrap(), 0, "A's pass is dropped, not failed");
    assert!(stored.lock().unwrap().is_empty(), "A stored no pass");
    assert!(a.evidence(incident).await.unwrap().logs.is_empty());
    assert_eq!(a.passes(incident).await.unwrap(), 0);
    let exposition = replica_a.metrics.render(0);
    assert!(exposition.contains("postmortemd_collect_passes_total 0\n"), "{exposition}");
    // B runs the pass A lost: it is stored once.
    let job = overtaken.claimed.lock().unwrap().clone().expect("B claimed the lapsed job");
    assert_eq!((job.incident_id, job.passes), (incident, 0));
    let pass = postmortemd::jobs::stored_pass(Pass::default());
    let later = now + minutes(11);
    b.store_pass(incident, job.token, &pass, later, postmortemd::store::NextRun::At(later + minutes(5))).await.unwrap();
    assert_eq!(a.passes(incident).await.unwrap(), 1);
}
