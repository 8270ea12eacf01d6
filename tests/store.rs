//! The store behind its interface, over real SQLite files: what ARCHITECTURE.md says of its
//! writes holds (webhook intake through the one writer task, collection writes in their own
//! transactions, both serialised by the database's write lock without errors), and a URL
//! naming no backend is refused by name. A second backend's tests run these same checks.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use postmortemd::incident::grouping::AlertmanagerIntake;
use postmortemd::record::AlertStatus;
use postmortemd::store::{NextRun, Store, StoredPass, compress};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

async fn sqlite_store(name: &str) -> (Store, std::path::PathBuf) {
    let folder = std::env::temp_dir().join(format!("postmortemd-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let store = Store::open(&format!("sqlite://{}/postmortemd.db", folder.display())).await.unwrap();
    (store, folder)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn collection_writes_and_webhook_intake_share_the_write_lock() {
    let (store, folder) = sqlite_store("shared-lock").await;
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
                store.store_log_chunk(incident_id, 1, "shop/api-1/app", lines.len() as u64, &body).await.unwrap();
            }
        })
    };
    for sender in senders {
        sender.await.unwrap();
    }
    collector.await.unwrap();
    let pass = StoredPass { cursors: "{}".to_owned(), ..StoredPass::default() };
    store.store_pass(incident_id, &pass, now, NextRun::At(now + SignedDuration::from_mins(5))).await.unwrap();

    assert_eq!(store.count_webhooks().await.unwrap(), 401);
    assert_eq!(store.count_open().await.unwrap(), 9, "one incident per group");
    let evidence = store.evidence(incident_id).await.unwrap();
    assert_eq!(evidence.logs.len(), 60, "every chunk, visible once the pass is counted");
    let collection = store.collection(incident_id).await.unwrap().unwrap();
    assert_eq!(collection.passes, 1);
    let _ = std::fs::remove_dir_all(folder);
}

#[tokio::test]
async fn a_url_naming_no_backend_is_refused_by_name() {
    let error = Store::open("mysql://root@127.0.0.1/postmortemd").await.unwrap_err();
    assert_eq!(error.kind(), "open");
    let message = error.to_string();
    assert!(message.contains("mysql://") && message.contains("sqlite://"), "{message}");
}

#[tokio::test]
async fn a_second_store_on_the_same_file_is_refused_until_the_first_is_gone() {
    let (store, folder) = sqlite_store("single").await;
    let url = format!("sqlite://{}/postmortemd.db", folder.display());
    let error = Store::open(&url).await.unwrap_err();
    assert_eq!(error.kind(), "in_use", "{}", error.reason());
    let message = error.to_string();
    let lock = folder.join("postmortemd.db.lock");
    assert!(
        message.contains(&lock.display().to_string()) && message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    // The OS lock goes with its holder (as it does with a killed daemon's process).
    drop(store);
    let again = Store::open(&url).await.unwrap();
    again.ping().await.unwrap();
    drop(again);
    let _ = std::fs::remove_dir_all(folder);
}
