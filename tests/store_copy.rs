//! `postmortemd store copy` (issue 12): a SQLite store that served a daemon — webhooks of both
//! senders, a responder's note, a merge, collected evidence — copied by the real binary into a
//! fresh PostgreSQL database serves the same timelines, byte for byte; a target that holds
//! incidents is refused; the copy names every table either backend has.

mod support;

use std::process::Command;

use jiff::SignedDuration;
use postmortemd::record::{GapRecord, GapSource};
use postmortemd::store::copy::TABLES;
use postmortemd::store::{NextRun, Store, StoredPass, compress};
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use support::daemon::Served;
use support::postgres::fresh_database;

fn copy(from: &str, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postmortemd"))
        .args(["store", "copy", "--from", from, "--to", to])
        .output()
        .expect("postmortemd store copy runs")
}

/// Every incident's timeline (JSON and Markdown), post-mortem and summary, as served.
async fn served(base: &str) -> Vec<(i64, String, String, String, Value)> {
    let client = reqwest::Client::new();
    let mut served = Vec::new();
    for incident in support::services::all_incidents(&client, base).await.expect("the list") {
        let id = incident["id"].as_i64().unwrap();
        let get = async |path: &str| {
            client.get(format!("{base}/api/v1/incidents/{id}{path}")).send().await.unwrap().text().await.unwrap()
        };
        let summary: Value = serde_json::from_str(&get("").await).unwrap();
        served.push((
            id,
            get("/timeline?format=json").await,
            get("/timeline?format=md").await,
            get("/postmortem?format=md").await,
            summary,
        ));
    }
    served
}

fn alert(group: &str, status: &str, starts: &str, ends: &str) -> Value {
    json!({"version": "4", "groupKey": format!("{{}}:{{alertname=\"{group}\"}}"), "status": status,
        "receiver": "postmortemd", "groupLabels": {"alertname": group}, "commonLabels": {"alertname": group},
        "commonAnnotations": {}, "externalURL": "http://am:9093", "truncatedAlerts": 0,
        "alerts": [{"status": status, "fingerprint": format!("{:016x}", group.len()),
            "labels": {"alertname": group, "severity": "critical", "namespace": "shop"},
            "annotations": {"summary": format!("{group} is failing")}, "startsAt": starts, "endsAt": ends,
            "generatorURL": ""}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_store_serves_the_same_timelines() {
    // A daemon on SQLite takes the incidents: two alert groups (resolved), a page of the first,
    // a note, a corrected title, and the second merged into the first.
    let config = "[api]\nwrite_tokens = [\"writer\"]\n";
    let daemon = Served::start_with_config("copy-source", config, &[]).await;
    let client = reqwest::Client::new();
    let base = daemon.base.clone();
    let post = async |path: &str, body: Value| {
        let answer = client.post(format!("{base}{path}")).bearer_auth("writer").json(&body).send().await.unwrap();
        assert!(answer.status().is_success(), "{path}: {:?}", answer.text().await);
    };
    for (group, starts, ends) in [
        ("CheckoutErrors", "2025-02-09T10:05:00Z", "2025-02-09T10:35:00Z"),
        ("QueueBacklog", "2025-02-09T10:07:00Z", "2025-02-09T10:30:00Z"),
    ] {
        post("/webhooks/alertmanager", alert(group, "firing", starts, "0001-01-01T00:00:00Z")).await;
        post("/webhooks/alertmanager", alert(group, "resolved", starts, ends)).await;
    }
    let incidents = support::services::all_incidents(&client, &base).await.unwrap();
    let id_of = |group: &str| {
        incidents.iter().find(|incident| incident["title"].as_str().unwrap().starts_with(group)).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (checkout, queue) = (id_of("CheckoutErrors"), id_of("QueueBacklog"));
    post(
        &format!("/api/v1/incidents/{checkout}/notes"),
        json!({"at": "2025-02-09T10:12:00Z", "author": "Alice", "text": "rolled back"}),
    )
    .await;
    let answer = client
        .patch(format!("{base}/api/v1/incidents/{checkout}"))
        .bearer_auth("writer")
        .json(&json!({"author": "Alice", "title": "Checkout down after inventory 2.4.0"}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    post(&format!("/api/v1/incidents/{checkout}/merge"), json!({"author": "Alice", "from": queue})).await;
    let sqlite_url = format!("sqlite://{}/postmortemd.db", daemon.folder.display());
    let folder = daemon.folder.clone();
    // Stop it (the store's lock goes with it), keeping its folder.
    let mut daemon = daemon;
    let _ = daemon.child.kill();
    let _ = daemon.child.wait();

    // Evidence, as a collection pass stores it: a log chunk, a Pod, a file and a gap.
    {
        let store = Store::open(&sqlite_url).await.unwrap();
        let now: jiff::Timestamp = "2025-02-09T11:00:00Z".parse().unwrap();
        store.ensure_jobs(now, now - SignedDuration::from_hours(48)).await.unwrap();
        while let Some(job) = store.claim_job(now, now + SignedDuration::from_mins(10)).await.unwrap() {
            let lines = "[pod/api-1/app] 2025-02-09T10:06:01.000000000Z level=error msg=\"payment failed: upstream 503\"\n\
                         [pod/api-1/app] 2025-02-09T10:06:02.000000000Z level=error msg=\"payment failed: upstream 503\"\n";
            let pod = json!({"kind": "Pod", "metadata": {"name": "api-1", "namespace": "shop", "uid": "u-1"},
                "spec": {"nodeName": "node-1"}, "status": {}});
            let pass = StoredPass {
                logs: vec![("shop/api-1/app".to_owned(), lines.len() as u64, compress(lines.as_bytes()))],
                objects: vec![("Pod".to_owned(), "u-1".to_owned(), compress(pod.to_string().as_bytes()))],
                files: vec![],
                gaps: vec![GapRecord {
                    source: GapSource::Other("prometheus: up".to_owned()),
                    start: "2025-02-09T10:10:00Z".parse().unwrap(),
                    end: "2025-02-09T10:14:00Z".parse().unwrap(),
                    reason: "Prometheus was unreachable".to_owned(),
                    node: None,
                }],
                cursors: "{}".to_owned(),
                replaces: vec![],
            };
            store.store_pass(job.incident_id, job.token, &pass, now, NextRun::Finished).await.unwrap();
        }
    }

    let before = {
        let daemon = Served::start_configured_on("copy-before", &sqlite_url, config).await;
        served(&daemon.base).await
    };
    assert_eq!(before.len(), 1, "the merged incident is read as its target's");
    let timeline: Value = serde_json::from_str(&before[0].1).unwrap();
    let text = timeline.to_string();
    for planted in
        ["rolled back", "payment failed", "Prometheus was unreachable", "Checkout down after inventory 2.4.0"]
    {
        assert!(text.contains(planted), "{planted}: {timeline:#}");
    }

    let database = fresh_database().await;
    let output = copy(&sqlite_url, &database.url);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("incidents: 2 rows") && report.contains("responder_inputs: 3 rows"), "{report}");
    assert!(report.contains("evidence_logs: 2 rows"), "{report}");

    let after = Served::start_configured_on("copy-after", &database.url, config).await;
    let copied = served(&after.base).await;
    assert_eq!(copied.len(), before.len());
    for (old, new) in before.iter().zip(&copied) {
        assert_eq!(old.0, new.0, "the same ids");
        assert_eq!(old.1, new.1, "the same timeline JSON");
        assert_eq!(old.2, new.2, "the same Markdown");
        assert_eq!(old.3, new.3, "the same post-mortem");
        assert_eq!(old.4, new.4, "the same summary");
    }
    // The merged incident still points at its target.
    let moved = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = moved.get(format!("{}/api/v1/incidents/{queue}/timeline", after.base)).send().await.unwrap();
    assert_eq!(answer.status(), 301);
    // A new incident on the copy gets a new id, past those copied.
    let answer = client
        .post(format!("{}/webhooks/alertmanager", after.base))
        .json(&alert("DiskFull", "firing", "2025-02-10T08:00:00Z", "0001-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
    let newest = support::services::all_incidents(&client, &after.base).await.unwrap();
    assert!(newest[0]["id"].as_i64().unwrap() > checkout.max(queue), "{newest:#?}");

    // A target holding incidents is refused, and keeps what it has.
    drop(after);
    let output = copy(&sqlite_url, &database.url);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already holds incidents or webhooks"), "{stderr}");
    let _ = std::fs::remove_dir_all(folder);
}

/// The copy's table list names every table either backend's migrations make, so a table
/// added later cannot be left behind by `store copy`.
#[tokio::test]
async fn the_copy_names_every_table_of_both_backends() {
    let folder = support::services::scratch_folder("copy-tables");
    let sqlite_url = format!("sqlite://{}/postmortemd.db", folder.display());
    drop(Store::open(&sqlite_url).await.unwrap());
    let mut sqlite = sqlx::SqliteConnection::connect(&sqlite_url).await.unwrap();
    let sqlite_tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut sqlite)
    .await
    .unwrap()
    .iter()
    .map(|row| row.get(0))
    .collect();
    let database = fresh_database().await;
    drop(Store::open(&database.url).await.unwrap());
    let mut postgres = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let postgres_tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(&mut postgres)
    .await
    .unwrap()
    .iter()
    .map(|row| row.get(0))
    .collect();
    let mut copied: Vec<String> = TABLES.iter().map(|(table, _)| (*table).to_owned()).collect();
    copied.sort();
    assert_eq!(sqlite_tables, copied);
    assert_eq!(postgres_tables, copied);
    let _ = postgres.close().await;
    let _ = std::fs::remove_dir_all(folder);
}
