//! A real Alertmanager (Debian's `prometheus-alertmanager`, started here on a free loopback
//! port) delivers firing and resolved notifications to a real daemon over loopback HTTP;
//! the incident and its timeline appear over the API with the right rows.

use std::process::Stdio;
use std::time::Duration;

use postmortemd::api::{AppState, serve_on};
use postmortemd::config::{Secret, Settings};
use postmortemd::store::Store;

const BINARY: &str = "/usr/bin/prometheus-alertmanager";

/// How long to wait for a condition (POSTMORTEMD_TEST_PATIENCE seconds, default 60).
fn patience() -> Duration {
    let seconds = std::env::var("POSTMORTEMD_TEST_PATIENCE").ok().and_then(|text| text.parse().ok()).unwrap_or(60);
    Duration::from_secs(seconds)
}

async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + patience();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn alertmanager_delivers_firing_and_resolved_notifications() {
    assert!(
        std::path::Path::new(BINARY).exists(),
        "{BINARY} missing: apt-get install prometheus-alertmanager (.ci/run does)"
    );
    let folder = std::env::temp_dir().join(format!("postmortemd-am-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();

    // The daemon, with the bearer token Alertmanager is configured to send.
    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}/postmortemd.db", folder.display());
    settings.webhooks.alertmanager_bearer_token = Some(Secret::new("am-t0ken"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let daemon = format!("http://{}", listener.local_addr().unwrap());
    let store = Store::open(&settings.store.url).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(listener, AppState::new(settings, store), async move {
        let _ = stopped.await;
    }));

    // Alertmanager, grouping by alertname, quick intervals, its webhook at the daemon.
    let port = free_port();
    std::fs::write(folder.join("token"), "am-t0ken").unwrap();
    std::fs::write(
        folder.join("alertmanager.yml"),
        format!(
            "route:\n  receiver: postmortemd\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n\
             receivers:\n- name: postmortemd\n  webhook_configs:\n  - url: {daemon}/webhooks/alertmanager\n    send_resolved: true\n\
             \x20   http_config:\n      authorization:\n        credentials_file: {}\n",
            folder.join("token").display()
        ),
    )
    .unwrap();
    let mut alertmanager = tokio::process::Command::new(BINARY)
        .arg(format!("--config.file={}", folder.join("alertmanager.yml").display()))
        .arg(format!("--storage.path={}", folder.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("alertmanager starts");
    let client = reqwest::Client::new();
    let api = format!("http://127.0.0.1:{port}/api/v2/alerts");
    eventually("alertmanager ready", async || {
        let response = client.get(format!("http://127.0.0.1:{port}/-/ready")).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await;

    // An alert that started ten minutes ago.
    let now = jiff::Timestamp::now();
    let starts_at = now.checked_sub(jiff::SignedDuration::from_mins(10)).unwrap();
    let alert = |ends_at: jiff::Timestamp| {
        serde_json::json!([{
            "labels": {"alertname": "HighErrorRate", "severity": "critical", "namespace": "shop"},
            "annotations": {"summary": "API 5xx ratio above 5%"},
            "startsAt": starts_at.to_string(), "endsAt": ends_at.to_string(),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up&g0.tab=1"
        }])
    };
    let posted = client
        .post(&api)
        .json(&alert(now.checked_add(jiff::SignedDuration::from_hours(1)).unwrap()))
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{:?}", posted.text().await);

    let incidents = format!("{daemon}/api/v1/incidents");
    let id = eventually("the firing notification", async || {
        let list: serde_json::Value = client.get(&incidents).send().await.ok()?.json().await.ok()?;
        list.as_array()?.first()?["id"].as_i64()
    })
    .await;
    let timeline_url = format!("{daemon}/api/v1/incidents/{id}/timeline?format=json");
    let timeline: serde_json::Value = client.get(&timeline_url).send().await.unwrap().json().await.unwrap();
    let first = &timeline["entries"][0];
    assert_eq!(first["event"], "HighErrorRate firing (critical): API 5xx ratio above 5%", "{timeline}");
    let first_time: jiff::Timestamp = first["time"].as_str().unwrap().parse().unwrap();
    assert!(first_time.duration_since(starts_at).as_secs_f64().abs() < 0.001, "{first_time} vs {starts_at}");

    // Resolve it: Alertmanager sends the resolved notification at the next group interval.
    let ended = jiff::Timestamp::now();
    client.post(&api).json(&alert(ended)).send().await.unwrap();
    let timeline = eventually("the resolved notification", async || {
        let timeline: serde_json::Value = client.get(&timeline_url).send().await.ok()?.json().await.ok()?;
        let resolved = timeline["entries"].as_array()?.iter().any(|entry| entry["event"] == "HighErrorRate resolved");
        resolved.then_some(timeline)
    })
    .await;
    let list: serde_json::Value = client.get(&incidents).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "one group episode, one incident: {list}");
    assert_eq!(list[0]["status"], "resolved", "{list}");
    assert!(timeline["title"].as_str().unwrap_or("").starts_with("HighErrorRate"), "{timeline}");

    let _ = alertmanager.kill().await;
    let _ = stop.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&folder);
}
