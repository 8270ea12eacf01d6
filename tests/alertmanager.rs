//! A real Alertmanager (Debian's `prometheus-alertmanager`, started here on a free loopback
//! port) delivers firing and resolved notifications to a real daemon over loopback HTTP;
//! the incident and its timeline appear over the API with the right rows.

use postmortemd::api::{AppState, serve_on};
use postmortemd::config::{Secret, Settings};
use postmortemd::store::Store;

mod support;

use support::services::{all_incidents, eventually, start_alertmanager};

#[tokio::test]
async fn alertmanager_delivers_firing_and_resolved_notifications() {
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
    let (mut alertmanager, alertmanager_url) =
        start_alertmanager(&folder, &format!("{daemon}/webhooks/alertmanager"), Some("am-t0ken")).await;
    let client = reqwest::Client::new();
    let api = format!("{alertmanager_url}/api/v2/alerts");

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

    let id =
        eventually("the firing notification", async || all_incidents(&client, &daemon).await?.first()?["id"].as_i64())
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
    let list = all_incidents(&client, &daemon).await.expect("the incident list answers");
    assert_eq!(list.len(), 1, "one group episode, one incident: {list:?}");
    assert_eq!(list[0]["status"], "resolved", "{list:?}");
    assert!(timeline["title"].as_str().unwrap_or("").starts_with("HighErrorRate"), "{timeline}");

    let _ = alertmanager.kill().await;
    let _ = stop.send(());
    let _ = server.await;
    let _ = std::fs::remove_dir_all(&folder);
}
