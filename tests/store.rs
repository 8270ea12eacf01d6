//! The store behind its interface, every check on both backends: real SQLite files, and a
//! fresh database on the real PostgreSQL (`support/postgres.rs`; unreachable fails). What
//! ARCHITECTURE.md says of the store holds on each: webhook intake and collection writes
//! interleave without errors or losses; several replicas (separate stores, separate
//! connection pools, on one PostgreSQL database) store a notification delivered to all of
//! them at once once, in one incident per episode; a collection job's lease is fenced, so a
//! replica that lost it stores nothing; the timeline's cache key moves when any replica
//! stores; replicas starting together migrate a fresh database once; `sslmode` sets TLS;
//! and a URL naming no backend is refused by name.

#[path = "support/postgres.rs"]
#[macro_use]
mod postgres_support;

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use postgres_support::{Backend, Fresh, TestDatabase, fresh_database};
use postmortemd::incident::grouping::{AlertmanagerIntake, PagerDutyIntake};
use postmortemd::record::{AlertStatus, GapRecord, GapSource, PageAction, ResponderInput, ResponderRecord};
use postmortemd::store::{Error, IncidentFilter, IncidentStatus, NextRun, Store, StoredPass, compress};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn notification(group: usize, index: usize) -> AlertmanagerIntake {
    let starts_at = at("2025-02-09T10:00:00Z") + SignedDuration::from_secs(index as i64);
    AlertmanagerIntake {
        dedup_key: format!("{group}-{index}"),
        received_at: starts_at,
        body: format!("{{\"n\":{index}}}").into_bytes(),
        group_key: format!("{{}}:{{alertname=\"A{group}\"}}"),
        status: AlertStatus::Firing,
        starts_at,
        fired_at: starts_at,
        ends_at: None,
        title: format!("A{group}"),
        severity: Some("warning".to_owned()),
        truncated_alerts: 0,
        labels: BTreeMap::from([("alertname".to_owned(), format!("A{group}"))]),
    }
}

/// Notification `index` of `group` resolving the episode that fired at `fired`.
fn resolution(group: usize, index: usize, fired: Timestamp, resolved: Timestamp) -> AlertmanagerIntake {
    AlertmanagerIntake {
        dedup_key: format!("{group}-resolved-{index}"),
        received_at: resolved,
        status: AlertStatus::Resolved,
        starts_at: fired,
        fired_at: fired,
        ends_at: Some(resolved),
        ..notification(group, index)
    }
}

on_both_backends!(collection_writes_and_webhook_intake_interleave);
async fn collection_writes_and_webhook_intake_interleave(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let store = fresh.open().await;
    let quiet = SignedDuration::from_mins(30);
    // One incident to collect for, with its job claimed.
    let first = store.record_alertmanager(notification(0, 0), quiet).await.unwrap();
    let incident_id = first.incident_id.unwrap();
    let now = at("2025-02-09T10:01:00Z");
    store.ensure_jobs(now, at("2025-02-08T10:00:00Z")).await.unwrap();
    let job = store.claim_job(now, now + SignedDuration::from_mins(10)).await.unwrap().expect("a due job");
    assert_eq!(job.incident_id, incident_id);

    // 400 webhooks of 8 groups from 32 senders, while the collector stores 60 chunks and
    // the pass: every write succeeds (no busy error, no deadlock) and nothing is lost.
    let mut senders = Vec::new();
    for sender in 0..32 {
        let store = store.clone();
        senders.push(tokio::spawn(async move {
            for index in 0..13 {
                let number = sender * 13 + index;
                if number >= 400 {
                    break;
                }
                store.record_alertmanager(notification(number % 8 + 1, number), quiet).await.unwrap();
            }
        }));
    }
    let collector = {
        let store = store.clone();
        tokio::spawn(async move {
            for chunk in 0..60 {
                let lines = format!("[pod/api-1/app] 2025-02-09T10:00:{:02}.000000000Z line {chunk}\n", chunk % 60);
                let body = compress(lines.as_bytes());
                store
                    .store_log_chunk(incident_id, job.token, 1, "shop/api-1/app", lines.len() as u64, &body)
                    .await
                    .unwrap();
            }
        })
    };
    for sender in senders {
        sender.await.unwrap();
    }
    collector.await.unwrap();
    let pass = StoredPass { cursors: "{}".to_owned(), ..StoredPass::default() };
    store
        .store_pass(incident_id, job.token, &pass, now, NextRun::At(now + SignedDuration::from_mins(5)))
        .await
        .unwrap();

    assert_eq!(store.count_webhooks().await.unwrap(), 401);
    assert_eq!(store.count_open().await.unwrap(), 9, "one incident per group");
    let evidence = store.evidence(incident_id).await.unwrap();
    assert_eq!(evidence.logs.len(), 60, "every chunk, visible once the pass is counted");
    let collection = store.collection(incident_id).await.unwrap().unwrap();
    assert_eq!(collection.passes, 1);
}

on_both_backends!(replicas_store_a_notification_once_in_one_incident_per_episode);
async fn replicas_store_a_notification_once_in_one_incident_per_episode(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let replicas = fresh.replicas(backend, 6).await;
    let quiet = SignedDuration::from_mins(30);
    let fired = at("2025-02-09T10:00:00Z");
    let refired = at("2025-02-09T12:00:00Z");
    // Three episodes of 8 groups: firing, resolved, firing again two hours later. Each
    // notification goes to every replica at the same moment (an HA Alertmanager pair, and
    // a retry, for every one), and the groups overlap in time.
    let phases: Vec<Vec<AlertmanagerIntake>> = vec![
        (0..8).flat_map(|group| (0..6).map(move |index| notification(group, index))).collect(),
        (0..8).map(|group| resolution(group, 0, fired, fired + SignedDuration::from_mins(10))).collect(),
        (0..8)
            .flat_map(|group| {
                (100..104).map(move |index| AlertmanagerIntake {
                    received_at: refired,
                    starts_at: refired,
                    fired_at: refired,
                    ..notification(group, index)
                })
            })
            .collect(),
    ];
    let mut stored: BTreeMap<String, BTreeSet<(i64, Option<i64>)>> = BTreeMap::new();
    let mut episodes: BTreeMap<usize, Vec<BTreeSet<i64>>> = BTreeMap::new();
    for (phase, notifications) in phases.iter().enumerate() {
        let mut deliveries = Vec::new();
        for intake in notifications {
            for replica in &replicas {
                let (replica, intake) = (replica.clone(), intake.clone());
                deliveries.push(tokio::spawn(async move {
                    let stored = replica.record_alertmanager(intake.clone(), quiet).await;
                    (intake, stored.unwrap_or_else(|error| panic!("{}", error.reason())))
                }));
            }
        }
        let mut fresh_ones = 0;
        for delivery in deliveries {
            let (intake, result) = delivery.await.unwrap();
            fresh_ones += usize::from(!result.duplicate);
            stored.entry(intake.dedup_key.clone()).or_default().insert((result.webhook_id, result.incident_id));
            let group: usize = intake.dedup_key.split('-').next().unwrap().parse().unwrap();
            let of_group = episodes.entry(group).or_default();
            // Phases 0 and 1 are the first episode, phase 2 the second.
            let episode = usize::from(phase == 2);
            if of_group.len() <= episode {
                of_group.resize(episode + 1, BTreeSet::new());
            }
            of_group[episode].insert(result.incident_id.unwrap());
        }
        assert_eq!(fresh_ones, notifications.len(), "phase {phase}: each notification stored by exactly one replica");
    }
    for (dedup_key, answers) in &stored {
        assert_eq!(answers.len(), 1, "{dedup_key}: every replica answered with the one stored webhook: {answers:?}");
    }
    let n_notifications: usize = phases.iter().map(Vec::len).sum();
    assert_eq!(replicas[0].count_webhooks().await.unwrap(), n_notifications as i64);
    for (group, of_group) in &episodes {
        assert_eq!(of_group.len(), 2, "group {group}: two episodes");
        for (episode, incidents) in of_group.iter().enumerate() {
            assert_eq!(incidents.len(), 1, "group {group}, episode {episode}: one incident, {incidents:?}");
        }
        assert_ne!(of_group[0], of_group[1], "group {group}: the second episode is a new incident");
    }
    let incidents = replicas[1].incidents(&IncidentFilter::default()).await.unwrap();
    assert_eq!(incidents.len(), 16, "8 groups × 2 episodes");
    for incident in &incidents {
        let expected = if incident.status.as_str() == "open" { 4 } else { 7 };
        assert_eq!(incident.n_webhooks, expected, "{incident:?}");
    }
}

on_both_backends!(a_lapsed_lease_claimed_again_fences_off_the_first_holder);
async fn a_lapsed_lease_claimed_again_fences_off_the_first_holder(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let replicas = fresh.replicas(backend, 2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let quiet = SignedDuration::from_mins(30);
    let incident_id = a.record_alertmanager(notification(1, 0), quiet).await.unwrap().incident_id.unwrap();
    let now = at("2025-02-09T10:01:00Z");
    a.ensure_jobs(now, at("2025-02-08T10:00:00Z")).await.unwrap();
    b.ensure_jobs(now, at("2025-02-08T10:00:00Z")).await.unwrap();
    // A claims the job and stalls mid-pass (one chunk stored) past its lease.
    let lease = SignedDuration::from_mins(10);
    let first = a.claim_job(now, now + lease).await.unwrap().expect("a due job");
    a.clear_log_chunks(incident_id, first.token, 1).await.unwrap();
    a.store_log_chunk(incident_id, first.token, 1, "shop/api-1/app", 3, &compress(b"a1\n")).await.unwrap();
    assert!(b.claim_job(now + SignedDuration::from_mins(5), now + lease).await.unwrap().is_none(), "A holds it");
    // B claims it once the lease lapsed: a new token, the same pass to run.
    let later = now + SignedDuration::from_mins(11);
    let second = b.claim_job(later, later + lease).await.unwrap().expect("the lapsed job");
    assert_eq!((second.incident_id, second.passes), (incident_id, 0));
    assert_ne!(second.token, first.token);
    assert_eq!(b.clear_log_chunks(incident_id, second.token, 1).await.unwrap(), 1, "A's leftover chunk");
    b.store_log_chunk(incident_id, second.token, 1, "shop/api-1/app", 3, &compress(b"b1\n")).await.unwrap();
    // A wakes up: every write of its pass is refused, whatever order it comes in.
    let lost = |result: Result<_, Error>| match result {
        Err(error @ Error::LeaseLost { .. }) => {
            assert_eq!(error.kind(), "lease_lost");
            assert!(error.to_string().starts_with("lease lost: "), "{error}");
        }
        other => panic!("A's write after B's claim: {:?}", other.map(|_| ())),
    };
    lost(a.store_log_chunk(incident_id, first.token, 1, "shop/api-1/app", 3, &compress(b"a2\n")).await);
    lost(a.clear_log_chunks(incident_id, first.token, 1).await.map(|_| ()));
    let pass = StoredPass { cursors: "{\"from\":\"A\"}".to_owned(), ..StoredPass::default() };
    lost(a.store_pass(incident_id, first.token, &pass, later, NextRun::At(later + lease)).await);
    lost(a.release_job(incident_id, first.token).await);
    // B's pass is stored, once.
    let pass = StoredPass { cursors: "{\"from\":\"B\"}".to_owned(), ..StoredPass::default() };
    b.store_pass(incident_id, second.token, &pass, later, NextRun::At(later + lease)).await.unwrap();
    let evidence = a.evidence(incident_id).await.unwrap();
    assert_eq!(evidence.logs.len(), 1, "B's chunk, once; none of A's");
    let body = a.log_chunk(evidence.logs[0].0).await.unwrap().unwrap();
    assert_eq!(postmortemd::store::decompress(&body).unwrap(), b"b1\n");
    assert_eq!(a.passes(incident_id).await.unwrap(), 1);
    // The next claim (of the next pass) has cursors of B's pass.
    let next = a.claim_job(later + lease, later + lease + lease).await.unwrap().expect("the next pass");
    assert_eq!((next.passes, next.cursors.as_str()), (1, "{\"from\":\"B\"}"));
    assert!(next.token != second.token && next.token != first.token);
    // Giving back with the current token works; a stale one is refused.
    lost(b.release_job(incident_id, second.token).await);
    a.release_job(incident_id, next.token).await.unwrap();
}

on_both_backends!(the_timeline_cache_key_moves_when_any_replica_stores);
async fn the_timeline_cache_key_moves_when_any_replica_stores(backend: Backend, name: &str) {
    let fresh = Fresh::new(backend, name).await;
    let replicas = fresh.replicas(backend, 2).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let quiet = SignedDuration::from_mins(30);
    let incident_id = a.record_alertmanager(notification(1, 0), quiet).await.unwrap().incident_id.unwrap();
    // The key `api::incidents` caches a timeline under (`timeline_key`), as replica A reads
    // it per request: newest webhook id, number of webhooks, passes.
    let key = async || {
        let row = a.incident(incident_id).await.unwrap().unwrap();
        (row.last_webhook_id, row.n_webhooks, a.passes(incident_id).await.unwrap())
    };
    let before = key().await;
    // B stores a webhook of the incident: A's next read has a new key.
    b.record_alertmanager(notification(1, 1), quiet).await.unwrap();
    let after_webhook = key().await;
    assert!(after_webhook.0 > before.0 && after_webhook.2 == before.2, "{before:?} → {after_webhook:?}");
    // B stores a pass: A's next read has a new key again.
    let now = at("2025-02-09T10:01:00Z");
    b.ensure_jobs(now, at("2025-02-08T10:00:00Z")).await.unwrap();
    let job = b.claim_job(now, now + SignedDuration::from_mins(10)).await.unwrap().unwrap();
    let pass = StoredPass { cursors: "{}".to_owned(), ..StoredPass::default() };
    b.store_pass(incident_id, job.token, &pass, now, NextRun::At(now + SignedDuration::from_mins(5))).await.unwrap();
    let after_pass = key().await;
    assert_eq!(after_pass, (after_webhook.0, after_webhook.1, after_webhook.2 + 1));
    if let Backend::Postgres = backend {
        // Two replicas' webhooks committing out of their ids' order (PostgreSQL draws ids
        // before commit): the newest id does not move when the earlier one commits, the
        // count does, so the key still does.
        let pool = sqlx::PgPool::connect(&fresh.url).await.unwrap();
        let insert = "INSERT INTO webhooks (source, dedup_key, received_at_ms, incident_id, body) \
                      VALUES ('alertmanager', $1, 0, $2, '\\x') RETURNING id";
        let mut late = pool.begin().await.unwrap();
        let late_id: i64 =
            sqlx::query_scalar(insert).bind("late").bind(incident_id).fetch_one(&mut *late).await.unwrap();
        let early_id: i64 = sqlx::query_scalar(insert).bind("early").bind(incident_id).fetch_one(&pool).await.unwrap();
        assert!(early_id > late_id);
        let before_late = key().await;
        late.commit().await.unwrap();
        let after_late = key().await;
        assert_eq!(after_late.0, before_late.0, "the newest id is the same");
        assert_ne!(after_late, before_late, "the key moved");
        pool.close().await;
    }
}

/// A store on a fresh PostgreSQL database holding one webhook (its writer has a connection).
async fn postgres_store_with_a_webhook() -> (TestDatabase, Store) {
    let database = fresh_database().await;
    let store = Store::open(&database.url).await.unwrap();
    store.record_alertmanager(notification(1, 0), SignedDuration::from_mins(30)).await.unwrap();
    (database, store)
}

/// A replica's writer keeps its connection from batch to batch. When the server ended it
/// meanwhile (a restart, a failover, an administrator), the next webhook is stored all the
/// same: its batch is tried again on a new connection, not answered with an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_after_the_server_closed_the_writers_connection_is_stored() {
    let (database, store) = postgres_store_with_a_webhook().await;
    let quiet = SignedDuration::from_mins(30);
    assert!(database.end_sessions().await > 0, "the store's sessions ended");
    let second = store.record_alertmanager(notification(1, 1), quiet).await;
    let second = second.unwrap_or_else(|error| panic!("answered with an error: {}", error.reason()));
    assert!(!second.duplicate);
    assert_eq!(store.count_webhooks().await.unwrap(), 2);
}

/// The database turns read-only under the replica (a failover to a standby, an
/// administrator): its webhooks are answered with the fault, `/readyz` (`ping`) reports it
/// while the reads still work, and once the database takes writes again the next webhook is
/// stored and the replica is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_failing_on_postgres_are_reported_until_a_batch_commits() {
    let (database, store) = postgres_store_with_a_webhook().await;
    let quiet = SignedDuration::from_mins(30);
    // Sessions take the setting when they start: the store's are ended, so it reconnects.
    let read_only = async |on: bool| {
        database
            .alter(if on { "SET default_transaction_read_only = on" } else { "RESET default_transaction_read_only" })
            .await;
        database.end_sessions().await;
    };
    read_only(true).await;
    let error = store.record_alertmanager(notification(1, 1), quiet).await.unwrap_err();
    assert!(matches!(error, Error::Writes { fault: "read-only", .. }), "{}", error.reason());
    let not_ready = store.ping().await.unwrap_err().reason();
    assert!(not_ready.starts_with("store writes failing since ") && not_ready.contains("(read-only)"), "{not_ready}");
    assert_eq!(store.count_webhooks().await.unwrap(), 1, "reads still work");
    read_only(false).await;
    let stored = store.record_alertmanager(notification(1, 1), quiet).await;
    assert!(stored.is_ok(), "{}", stored.unwrap_err().reason());
    store.ping().await.unwrap();
    assert_eq!(store.count_webhooks().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_on_a_fresh_postgres_database_migrate_it_once() {
    let database = fresh_database().await;
    let opens = futures::future::join_all((0..8).map(|_| Store::open(&database.url))).await;
    for (replica, open) in opens.iter().enumerate() {
        if let Err(error) = open {
            panic!("replica {replica}: {}", error.reason());
        }
    }
    let stores: Vec<Store> = opens.into_iter().map(Result::unwrap).collect();
    for store in &stores {
        store.ping().await.unwrap();
    }
    // Each migration applied once, every one of them.
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let applied: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/postgres/migrations"))
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().ends_with(".sql"))
        .count();
    assert_eq!(applied.len(), files, "{applied:?}");
    assert!(applied.iter().all(|(_, success)| *success), "{applied:?}");
    pool.close().await;
}

#[tokio::test]
async fn a_postgres_store_whose_database_is_gone_is_not_ready() {
    let database = fresh_database().await;
    let store = Store::open(&database.url).await.unwrap();
    store.ping().await.unwrap();
    database.drop_now().await;
    let started = std::time::Instant::now();
    let error = store.ping().await.expect_err("the database is gone");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "not ready is said promptly");
    assert_eq!(error.kind(), "query", "{}", error.reason());
    // And one that cannot be reached at all is refused at start, its password not shown.
    let error = Store::open("postgres://postmortemd:s3cret@127.0.0.1:1/postmortemd").await.unwrap_err();
    assert_eq!(error.kind(), "open");
    let message = error.reason();
    assert!(
        message.contains("postgres://postmortemd:***@127.0.0.1:1/postmortemd") && !message.contains("s3cret"),
        "{message}"
    );
}

#[tokio::test]
async fn a_url_naming_no_backend_is_refused_by_name() {
    let error = Store::open("mysql://root@127.0.0.1/postmortemd").await.unwrap_err();
    assert_eq!(error.kind(), "open");
    let message = error.to_string();
    assert!(
        message.contains("mysql://") && message.contains("sqlite://") && message.contains("postgres://"),
        "{message}"
    );
}

#[tokio::test]
async fn a_second_store_on_the_same_sqlite_file_is_refused_until_the_first_is_gone() {
    let fresh = Fresh::new(Backend::Sqlite, "single").await;
    let store = fresh.open().await;
    let folder = fresh.folder.clone().unwrap();
    let error = Store::open(&fresh.url).await.unwrap_err();
    assert_eq!(error.kind(), "in_use", "{}", error.reason());
    let message = error.to_string();
    let lock = folder.join("postmortemd.db.lock");
    assert!(
        message.contains(&lock.display().to_string()) && message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    // The OS lock goes with its holder (as it does with a killed daemon's process).
    drop(store);
    let again = Store::open(&fresh.url).await.unwrap();
    again.ping().await.unwrap();
}

/// A PagerDuty event of PagerDuty incident `pd_id`.
fn page(
    dedup_key: &str,
    pd_id: &str,
    action: PageAction,
    at: Timestamp,
    incident_key: Option<String>,
) -> PagerDutyIntake {
    PagerDutyIntake {
        dedup_key: dedup_key.to_owned(),
        received_at: at,
        body: format!("{{\"page\":\"{dedup_key}\"}}").into_bytes(),
        occurred_at: at,
        action: Some(action),
        pd_incident_id: Some(pd_id.to_owned()),
        incident_key,
        title: Some(format!("page {pd_id}")),
        link: None,
    }
}

/// Every query of the store once, its answers written down: the same scenario must read
/// the same on both backends (SQLite is the reference), ids included (both number from 1).
async fn every_query_once(backend: Backend) -> String {
    let fresh = Fresh::new(backend, "every-query").await;
    let store = fresh.open().await;
    let quiet = SignedDuration::from_mins(30);
    let mut out = String::new();
    let mut note = |line: String| out.push_str(&(line + "\n"));
    let fired = at("2025-02-09T10:00:00Z");
    // Alertmanager incidents of two groups; group 1 resolves.
    for (group, index) in [(1, 0), (2, 1), (1, 2)] {
        note(format!("{:?}", store.record_alertmanager(notification(group, index), quiet).await.unwrap()));
    }
    let resolved = fired + SignedDuration::from_mins(10);
    note(format!("{:?}", store.record_alertmanager(resolution(1, 3, fired, resolved), quiet).await.unwrap()));
    // Pages: one of group 2's (by incident_key), one of its own, its follow-up, a repeat, a ping.
    let key_of_2 = postmortemd::incident::grouping::group_key_hash(&notification(2, 0).group_key);
    let pages = [
        page("p1", "PD1", PageAction::Triggered, fired + SignedDuration::from_mins(1), Some(key_of_2)),
        page("p2", "PD2", PageAction::Triggered, fired + SignedDuration::from_mins(2), None),
        page("p3", "PD2", PageAction::Acknowledged, fired + SignedDuration::from_mins(3), None),
        page("p3", "PD2", PageAction::Acknowledged, fired + SignedDuration::from_mins(3), None),
        PagerDutyIntake { action: None, pd_incident_id: None, ..page("ping", "-", PageAction::Triggered, fired, None) },
    ];
    for intake in pages {
        note(format!("{:?}", store.record_pagerduty(intake).await.unwrap()));
    }
    // The same transition from PagerDuty's REST log is the webhook's; a new one is stored.
    let rest = |key: &str, action, minutes| PagerDutyIntake {
        dedup_key: format!("rest:{key}"),
        ..page(key, "PD2", action, fired + SignedDuration::from_mins(minutes), None)
    };
    note(format!("{:?}", store.record_pagerduty_rest(rest("r1", PageAction::Acknowledged, 3)).await.unwrap()));
    note(format!("{:?}", store.record_pagerduty_rest(rest("r2", PageAction::Resolved, 20)).await.unwrap()));
    note(format!("{:?}", store.reconcile_position("pagerduty").await.unwrap()));
    store.set_reconcile_position("pagerduty", fired).await.unwrap();
    store.set_reconcile_position("pagerduty", resolved).await.unwrap();
    note(format!("{:?}", store.reconcile_position("pagerduty").await.unwrap()));
    // Lists: all, by status, since, a page after a cursor; arrivals; one incident, its webhooks.
    let all = store.incidents(&IncidentFilter::default()).await.unwrap();
    note(format!("{all:?}"));
    for filter in [
        IncidentFilter { status: Some(IncidentStatus::Open), ..IncidentFilter::default() },
        IncidentFilter { since: Some(fired + SignedDuration::from_mins(15)), ..IncidentFilter::default() },
        IncidentFilter { limit: Some(1), after: Some((all[0].opened_at, all[0].id)), ..IncidentFilter::default() },
    ] {
        note(format!("{filter:?}: {:?}", store.incidents(&filter).await.unwrap()));
    }
    let ids: Vec<i64> = all.iter().map(|incident| incident.id).collect();
    note(format!("{:?}", store.webhook_arrivals(&ids).await.unwrap()));
    note(format!("{:?} {:?}", store.incident(ids[0]).await.unwrap(), store.incident(999).await.unwrap()));
    note(format!("{:?}", store.incident_webhooks(ids[0]).await.unwrap()));
    note(format!("{} {}", store.count_webhooks().await.unwrap(), store.count_open().await.unwrap()));
    // Collection: two passes of objects, files, gaps and logs, the second replacing the first's files.
    let now = fired + SignedDuration::from_mins(1);
    note(format!("jobs {}", store.ensure_jobs(now, fired - SignedDuration::from_hours(24)).await.unwrap()));
    let group_1 = all.iter().find(|incident| incident.title == "A1").unwrap().id;
    for pass_number in 1..=2 {
        let now = now + SignedDuration::from_mins(5 * pass_number);
        let mut job = store.claim_job(now, now + SignedDuration::from_mins(10)).await.unwrap().unwrap();
        while job.incident_id != group_1 {
            let pass = StoredPass { cursors: "{}".to_owned(), ..StoredPass::default() };
            store
                .store_pass(job.incident_id, job.token, &pass, now, NextRun::At(now + SignedDuration::from_hours(1)))
                .await
                .unwrap();
            job = store.claim_job(now, now + SignedDuration::from_mins(10)).await.unwrap().unwrap();
        }
        note(format!("{job:?}"));
        note(format!("cleared {}", store.clear_log_chunks(group_1, job.token, pass_number).await.unwrap()));
        let line = format!("line of pass {pass_number}\n");
        store
            .store_log_chunk(
                group_1,
                job.token,
                pass_number,
                "shop/api-1/app",
                line.len() as u64,
                &compress(line.as_bytes()),
            )
            .await
            .unwrap();
        let gap = |reason: &str, minutes: i64| GapRecord {
            source: GapSource::Other("prometheus: up".to_owned()),
            start: fired + SignedDuration::from_mins(minutes),
            end: fired + SignedDuration::from_mins(minutes + 5),
            reason: reason.to_owned(),
            node: Some("node-1".to_owned()),
        };
        let pass = StoredPass {
            logs: vec![("shop/api-2/app".to_owned(), 4, compress(b"end\n"))],
            objects: vec![(
                "Pod".to_owned(),
                "uid-1".to_owned(),
                compress(format!("{{\"v\":{pass_number}}}").as_bytes()),
            )],
            files: vec![(format!("prometheus/pass-{pass_number}.json"), compress(b"{}"))],
            gaps: vec![gap("down", pass_number), gap("scrape failed", 0)],
            cursors: format!("{{\"pass\":{pass_number}}}"),
            replaces: vec![("prometheus/".to_owned(), "prometheus:".to_owned())],
        };
        let next = if pass_number == 2 { NextRun::Finished } else { NextRun::At(now + SignedDuration::from_mins(5)) };
        store.store_pass(group_1, job.token, &pass, now, next).await.unwrap();
    }
    let evidence = store.evidence(group_1).await.unwrap();
    note(format!("{evidence:?}"));
    for (chunk, _) in &evidence.logs {
        note(format!(
            "{:?}",
            postmortemd::store::decompress(&store.log_chunk(*chunk).await.unwrap().unwrap()).unwrap()
        ));
    }
    note(format!("{:?}", store.log_chunk(999).await.unwrap()));
    note(format!("{:?} {:?}", store.collection(group_1).await.unwrap(), store.collection(999).await.unwrap()));
    note(format!("passes {} {}", store.passes(group_1).await.unwrap(), store.passes(999).await.unwrap()));
    note(format!("evidence bytes {}", store.evidence_bytes(group_1).await.unwrap()));
    assert!(store.size().await.unwrap().bytes > 0);
    // An incident to merge below, opened before pruning: SQLite would give a pruned newest
    // incident's id again (its rowid), PostgreSQL never.
    let merged = store.record_alertmanager(notification(3, 10), quiet).await.unwrap().incident_id.unwrap();
    // Pruning: group 1's incident is resolved and quiet before the cut; the rest are open or later.
    note(format!("{:?}", store.prune(fired + SignedDuration::from_hours(1)).await.unwrap()));
    note(format!("{:?}", store.incidents(&IncidentFilter::default()).await.unwrap()));
    note(format!("{:?} {}", store.evidence(group_1).await.unwrap(), store.count_webhooks().await.unwrap()));
    // Responders: a note, a correction, a merge (the merged one leaves the list and its
    // inputs are read as its target's), a manual resolve of both, and the refusals.
    let target = store.incidents(&IncidentFilter::default()).await.unwrap()[0].id;
    let by = |minutes: i64, input: ResponderInput| ResponderRecord {
        at: fired + SignedDuration::from_mins(minutes),
        author: "Alice".to_owned(),
        input,
    };
    let received = fired + SignedDuration::from_hours(2);
    for (id, input) in [
        (merged, by(4, ResponderInput::Note { text: "restarted the pods".to_owned() })),
        (target, by(5, ResponderInput::Note { text: "rolled back".to_owned() })),
        (target, by(6, ResponderInput::Correction { title: Some("Checkout down".to_owned()), severity: None })),
        (target, by(7, ResponderInput::Merge { from: merged })),
        (merged, by(8, ResponderInput::Note { text: "too late: merged".to_owned() })),
        (target, by(9, ResponderInput::Merge { from: target })),
        (target, by(10, ResponderInput::Resolve { note: Some("all green".to_owned()) })),
        (999, by(11, ResponderInput::Note { text: "nowhere".to_owned() })),
    ] {
        note(format!("{:?}", store.add_responder_input(id, &input, received).await.unwrap()));
    }
    note(format!("{:?}", store.responders(target).await.unwrap()));
    note(format!("{:?}", store.responders(merged).await.unwrap()));
    note(format!("{:?}", store.incidents(&IncidentFilter::default()).await.unwrap()));
    note(format!("{:?}", store.incident(merged).await.unwrap()));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_answers_the_same_on_both_backends() {
    let sqlite = every_query_once(Backend::Sqlite).await;
    let postgres = every_query_once(Backend::Postgres).await;
    for (line, (expected, found)) in sqlite.lines().zip(postgres.lines()).enumerate() {
        assert_eq!(found, expected, "line {line} differs (left: PostgreSQL, right: SQLite)");
    }
    assert_eq!(sqlite.lines().count(), postgres.lines().count());
    // What the scenario must show, on either: the page of group 2 joined its incident (2), the
    // acknowledgement sent twice and its REST entry are one webhook (7), and the two resolved
    // incidents are pruned with their webhooks (3 + 3, and the ping) and evidence.
    let lines: Vec<&str> = sqlite.lines().collect();
    assert_eq!(lines[4], "Intake { webhook_id: 5, incident_id: Some(2), duplicate: false }", "{sqlite}");
    assert_eq!(lines[7], "Intake { webhook_id: 7, incident_id: Some(3), duplicate: true }", "{sqlite}");
    assert_eq!(lines[9], "Intake { webhook_id: 7, incident_id: Some(3), duplicate: true }", "{sqlite}");
    assert!(sqlite.contains("\nPruned { incidents: 2, webhooks: 7, log_chunks: 4 }\n"), "{sqlite}");
}

#[tokio::test]
async fn sslmode_in_a_postgres_url_sets_tls() {
    let database = fresh_database().await;
    // The server here has TLS on with a self-signed certificate: `require` encrypts without
    // checking it, `verify-full` checks it against the roots and refuses it.
    let store = Store::open(&format!("{}?sslmode=require", database.url)).await.unwrap();
    store.ping().await.unwrap();
    let admin = sqlx::PgPool::connect(&database.url).await.unwrap();
    let encrypted: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.datname = $1 AND a.application_name = 'postmortemd' AND s.ssl",
    )
    .bind(&database.name)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(encrypted > 0, "the store's connections use TLS");
    admin.close().await;
    let error = Store::open(&format!("{}?sslmode=verify-full", database.url)).await.unwrap_err();
    let message = error.reason();
    assert!(error.kind() == "open" && message.contains("invalid peer certificate: UnknownIssuer"), "{message}");
}
