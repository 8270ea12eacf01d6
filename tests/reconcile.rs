//! Reconciliation (issue 11 point 3): a missed webhook is not a lost incident.
//! Against the real Alertmanager: alerts fire while the daemon is down (its webhook receiver
//! points at a closed port); the daemon comes up with `[reconcile]` and opens their incidents,
//! marked reconciled; an alert resolved meanwhile is resolved by its disappearance; the late
//! webhook of a reconciled group joins its incident rather than opening another.
//! Against a PagerDuty REST server that follows PagerDuty's API reference
//! (`support::pagerduty_rest`): paging over several pages, a 429 in the middle, dedup
//! against a webhook of the same transition, 401 on a bad token, resume after a restart.
//! Both run on a SQLite file and on a fresh database of the real PostgreSQL.

use jiff::{SignedDuration, Timestamp};
use postmortemd::api::{AppState, serve_on};
use postmortemd::config::{Secret, Settings};
use postmortemd::incident::grouping::PagerDutyIntake;
use postmortemd::reconcile::{Reconciler, pagerduty};
use postmortemd::record::PageAction;
use postmortemd::store::{IncidentFilter, Store};

mod support;

use support::pagerduty_rest::PagerDutyRest;
use support::services::{all_incidents, eventually, free_port, scratch_folder, start_alertmanager};

/// An incident's timeline as JSON.
async fn timeline_of(client: &reqwest::Client, daemon: &str, id: i64) -> serde_json::Value {
    let url = format!("{daemon}/api/v1/incidents/{id}/timeline?format=json");
    client.get(url).send().await.unwrap().json().await.unwrap()
}

fn named<'a>(list: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    list.iter().find(|incident| incident["title"].as_str().is_some_and(|title| title.starts_with(name)))
}

/// The store of a test: a SQLite file in `folder`, or a fresh PostgreSQL database (dropped
/// with the returned guard).
async fn store_url(postgres: bool, folder: &std::path::Path) -> (String, Option<support::postgres::TestDatabase>) {
    if postgres {
        let database = support::postgres::fresh_database().await;
        (database.url.clone(), Some(database))
    } else {
        (format!("sqlite://{}/postmortemd.db", folder.display()), None)
    }
}

#[tokio::test]
async fn alerts_fired_while_the_daemon_was_down_are_reconciled_and_their_late_webhook_joins_on_sqlite() {
    alerts_fired_while_the_daemon_was_down_are_reconciled_and_their_late_webhook_joins(false).await;
}

#[tokio::test]
async fn alerts_fired_while_the_daemon_was_down_are_reconciled_and_their_late_webhook_joins_on_postgres() {
    alerts_fired_while_the_daemon_was_down_are_reconciled_and_their_late_webhook_joins(true).await;
}

async fn alerts_fired_while_the_daemon_was_down_are_reconciled_and_their_late_webhook_joins(postgres: bool) {
    let folder = scratch_folder(if postgres { "reconcile-am-postgres" } else { "reconcile-am" });
    // The daemon is down: nothing listens where Alertmanager sends its webhooks.
    let webhook_port = free_port();
    let (mut alertmanager, alertmanager_url) =
        start_alertmanager(&folder, &format!("http://127.0.0.1:{webhook_port}/webhooks/alertmanager"), None).await;
    let client = reqwest::Client::new();
    let now = Timestamp::now();
    let starts_at = now.checked_sub(SignedDuration::from_mins(10)).unwrap();
    let alert = |name: &str, ends_at: Timestamp| {
        serde_json::json!([{
            "labels": {"alertname": name, "severity": "critical", "namespace": "shop"},
            "annotations": {"summary": format!("{name} in shop")},
            "startsAt": starts_at.to_string(), "endsAt": ends_at.to_string(),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up&g0.tab=1"
        }])
    };
    let later = now.checked_add(SignedDuration::from_hours(1)).unwrap();
    for name in ["CheckoutDown", "QueueBacklog"] {
        let posted =
            client.post(format!("{alertmanager_url}/api/v2/alerts")).json(&alert(name, later)).send().await.unwrap();
        assert!(posted.status().is_success(), "{:?}", posted.text().await);
    }

    // The daemon comes up with [reconcile] (its API on a port of its own for now).
    let mut settings = Settings::default();
    let (url, _database) = store_url(postgres, &folder).await;
    settings.store.url = url;
    // Two HA peers; one of them is down and decides nothing.
    let dead_peer = format!("http://127.0.0.1:{}", free_port());
    settings.reconcile.alertmanager_urls = vec![alertmanager_url.clone(), dead_peer.clone()];
    settings.reconcile.interval = SignedDuration::from_millis(500);
    let store = Store::open(&settings.store.url).await.unwrap();
    let state = AppState::new(settings, store);
    let reconciler = Reconciler::new(&state.settings, state.store.clone(), state.metrics.clone()).unwrap().unwrap();
    let (stop_reconciling, stop) = tokio::sync::watch::channel(false);
    let reconciling = tokio::spawn(reconciler.run(stop));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let daemon = format!("http://{}", listener.local_addr().unwrap());
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let api = tokio::spawn(serve_on(listener, state.clone(), async move {
        let _ = api_stopped.await;
    }));

    // Both alerts become incidents, marked reconciled, open since the alerts' own start.
    let list = eventually("reconciled incidents for both alerts", async || {
        let list = all_incidents(&client, &daemon).await?;
        (named(&list, "CheckoutDown").is_some() && named(&list, "QueueBacklog").is_some()).then_some(list)
    })
    .await;
    assert_eq!(list.len(), 2, "{list:?}");
    for incident in &list {
        assert_eq!(incident["reconciled"], true, "{incident}");
        assert_eq!(incident["status"], "open", "{incident}");
        let opened: Timestamp = incident["opened_at"].as_str().unwrap().parse().unwrap();
        assert!(opened.duration_since(starts_at).abs() < SignedDuration::from_millis(1), "{opened} vs {starts_at}");
    }
    let checkout = named(&list, "CheckoutDown").unwrap()["id"].as_i64().unwrap();
    let timeline = timeline_of(&client, &daemon, checkout).await;
    let entries = timeline["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|entry| entry["event"] == "CheckoutDown firing (critical): CheckoutDown in shop"),
        "{timeline}"
    );
    let note = entries
        .iter()
        .find(|entry| entry["source"] == "alertmanager reconciliation")
        .unwrap_or_else(|| panic!("no reconciliation note: {timeline}"));
    let note_text = note["event"].as_str().unwrap();
    assert!(note_text.contains("found by reconciliation"), "{note}");
    assert!(
        note_text.contains(&alertmanager_url) && !note_text.contains(&dead_peer),
        "only peers that answered: {note}"
    );

    // QueueBacklog resolves while webhooks still fail: it is gone from Alertmanager, so the
    // reconciler resolves its incident at the poll that found it gone.
    let ended = Timestamp::now();
    client.post(format!("{alertmanager_url}/api/v2/alerts")).json(&alert("QueueBacklog", ended)).send().await.unwrap();
    let backlog = eventually("the vanished alert's incident resolved", async || {
        let list = all_incidents(&client, &daemon).await?;
        let incident = named(&list, "QueueBacklog")?.clone();
        (incident["status"] == "resolved").then_some(incident)
    })
    .await;
    let resolved: Timestamp = backlog["resolved_at"].as_str().unwrap().parse().unwrap();
    assert!(resolved >= ended, "resolved at a poll after the alert ended: {resolved} vs {ended}");
    assert_eq!(backlog["counts"]["reconciled"], 2, "a missed firing and a resolution by disappearance: {backlog}");
    let backlog_id = backlog["id"].as_i64().unwrap();
    let timeline = timeline_of(&client, &daemon, backlog_id).await;
    let gone = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|entry| entry["event"].as_str().is_some_and(|text| text.contains("resolved by reconciliation")));
    assert!(gone, "the resolution says it was inferred: {timeline}");

    // Webhooks work again: Alertmanager's next try delivers CheckoutDown's group, which joins
    // the reconciled incident (one of its alert occurrences) instead of opening another.
    let webhook_listener = tokio::net::TcpListener::bind(("127.0.0.1", webhook_port)).await.unwrap();
    let (stop_webhooks, webhooks_stopped) = tokio::sync::oneshot::channel::<()>();
    let webhooks = tokio::spawn(serve_on(webhook_listener, state.clone(), async move {
        let _ = webhooks_stopped.await;
    }));
    let joined = eventually("the late webhook", async || {
        let list = all_incidents(&client, &daemon).await?;
        let incident = named(&list, "CheckoutDown")?.clone();
        (incident["counts"]["webhooks"].as_i64()? > incident["counts"]["reconciled"].as_i64()?).then_some(list)
    })
    .await;
    assert_eq!(joined.len(), 2, "the webhook joined the reconciled incident: {joined:?}");
    let checkout_row = named(&joined, "CheckoutDown").unwrap();
    assert_eq!(checkout_row["id"], checkout, "{checkout_row}");
    assert_eq!(checkout_row["status"], "open", "{checkout_row}");
    // Polls after the webhook neither reopen, duplicate nor re-mark anything.
    let reconciled_before = checkout_row["counts"]["reconciled"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let after = all_incidents(&client, &daemon).await.unwrap();
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(named(&after, "CheckoutDown").unwrap()["counts"]["reconciled"], reconciled_before, "{after:?}");

    let _ = stop_reconciling.send(true);
    reconciling.await.unwrap();
    // No peer answers: the poll fails and decides nothing (CheckoutDown stays open).
    let _ = alertmanager.kill().await;
    let _ = alertmanager.wait().await;
    let failed = postmortemd::reconcile::alertmanager::reconcile(
        &client,
        &state.store,
        &state.settings.reconcile,
        state.settings.window.quiet_period,
        Timestamp::now(),
    )
    .await;
    assert!(failed.is_err(), "{failed:?}");
    let after = all_incidents(&client, &daemon).await.unwrap();
    assert_eq!(named(&after, "CheckoutDown").unwrap()["status"], "open", "{after:?}");
    let _ = stop_webhooks.send(());
    let _ = stop_api.send(());
    let _ = webhooks.await;
    let _ = api.await;
    let _ = std::fs::remove_dir_all(&folder);
}

/// A v3 webhook event `event_id` of PagerDuty incident `PINC1`: `action` at `occurred_at`.
fn webhook_event(event_id: &str, action: PageAction, occurred_at: &str) -> PagerDutyIntake {
    let body = serde_json::json!({"event": {
        "id": event_id, "event_type": format!("incident.{}", action.as_str()), "resource_type": "incident",
        "occurred_at": occurred_at, "agent": {"id": "PUSER1", "type": "user_reference", "summary": "Alice"},
        "client": null,
        "data": {"id": "PINC1", "type": "incident", "title": "Checkout down (PINC1)", "incident_key": "checkout-1",
                 "service": {"id": "PSVC1", "type": "service_reference", "summary": "Checkout API"}}
    }});
    PagerDutyIntake {
        dedup_key: event_id.to_owned(),
        received_at: occurred_at.parse().unwrap(),
        body: serde_json::to_vec(&body).unwrap(),
        occurred_at: occurred_at.parse().unwrap(),
        action: Some(action),
        pd_incident_id: Some("PINC1".to_owned()),
        incident_key: Some("checkout-1".to_owned()),
        title: Some("Checkout down (PINC1)".to_owned()),
        link: None,
    }
}

#[tokio::test]
async fn pagerduty_log_entries_are_paged_rate_limited_deduplicated_and_resumed_on_sqlite() {
    pagerduty_log_entries_are_paged_rate_limited_deduplicated_and_resumed(false).await;
}

#[tokio::test]
async fn pagerduty_log_entries_are_paged_rate_limited_deduplicated_and_resumed_on_postgres() {
    pagerduty_log_entries_are_paged_rate_limited_deduplicated_and_resumed(true).await;
}

async fn pagerduty_log_entries_are_paged_rate_limited_deduplicated_and_resumed(postgres: bool) {
    let folder = scratch_folder(if postgres { "reconcile-pd-postgres" } else { "reconcile-pd" });
    let rest = PagerDutyRest::start("s3cret-token", 2).await;
    // The store keeps times to the millisecond.
    let now = Timestamp::from_millisecond(Timestamp::now().as_millisecond()).unwrap();
    let minutes_ago = |minutes: i64| now.checked_sub(SignedDuration::from_mins(minutes)).unwrap().to_string();
    rest.add_incident("PINC1", "PSVC1", "PTEAM1", &minutes_ago(30), "checkout-1");
    // Another service's incident: not followed.
    rest.add_incident("PINC2", "POTHER", "PTEAM9", &minutes_ago(25), "other-1");
    rest.add_log_entry("R1", "PINC1", "trigger_log_entry", &minutes_ago(30), "Checkout API");
    rest.add_log_entry("R2", "PINC1", "notify_log_entry", &minutes_ago(29), "Alice");
    let acknowledged_at = minutes_ago(28);
    rest.add_log_entry("R3", "PINC1", "acknowledge_log_entry", &acknowledged_at, "Alice");
    rest.add_log_entry("R4", "PINC1", "annotate_log_entry", &minutes_ago(20), "Alice");
    rest.add_log_entry("R5", "PINC1", "resolve_log_entry", &minutes_ago(10), "Alice");
    rest.add_log_entry("R9", "PINC2", "trigger_log_entry", &minutes_ago(25), "Other");

    let mut settings = Settings::default();
    let (url, _database) = store_url(postgres, &folder).await;
    settings.store.url = url;
    settings.reconcile.pagerduty_api_url = rest.url.clone();
    settings.reconcile.pagerduty_services = vec!["PSVC1".to_owned()];
    let client = reqwest::Client::new();
    let store = Store::open(&settings.store.url).await.unwrap();
    // The acknowledgement came by webhook too: it must not count twice.
    let webhook =
        store.record_pagerduty(webhook_event("01EVENTACK", PageAction::Acknowledged, &acknowledged_at)).await.unwrap();

    // A bad token: PagerDuty's 401 with its message; nothing stored, the position kept.
    let wrong = Secret::new("wrong");
    let error = pagerduty::Poller::new(&client, &settings.reconcile, &wrong).reconcile(&store, now).await.unwrap_err();
    let message = postmortemd::telemetry::error_chain(&error);
    assert!(message.contains("401") && message.contains("Authentication failed"), "{message}");
    assert_eq!(store.reconcile_position(pagerduty::POSITION).await.unwrap(), None);

    // Five entries over three pages of two, the second log page answered 429 first.
    let requests_before = rest.requests().len();
    rest.rate_limit_request(requests_before + 3);
    let token = Secret::new("s3cret-token");
    let n_stored = pagerduty::Poller::new(&client, &settings.reconcile, &token).reconcile(&store, now).await.unwrap();
    assert_eq!(n_stored, 4, "five entries, the acknowledgement already stored by its webhook");
    let requests: Vec<_> = rest.requests().split_off(requests_before);
    let statuses: Vec<(String, u16)> = requests.iter().map(|request| (request.path.clone(), request.status)).collect();
    assert_eq!(
        statuses,
        [
            ("/incidents".to_owned(), 200),
            ("/incidents/PINC1/log_entries".to_owned(), 200),
            ("/incidents/PINC1/log_entries".to_owned(), 429),
            ("/incidents/PINC1/log_entries".to_owned(), 200),
            ("/incidents/PINC1/log_entries".to_owned(), 200),
        ]
    );
    assert_eq!(requests[0].values("service_ids[]"), ["PSVC1"]);
    assert_eq!(requests[3].values("offset"), ["2"], "the 429'd page asked again");
    assert_eq!(requests[4].values("offset"), ["4"]);
    assert_eq!(requests[1].values("include[]"), ["incidents"]);

    let incident = store.incidents(&IncidentFilter::default()).await.unwrap();
    assert_eq!(incident.len(), 1, "{incident:?}");
    let incident = &incident[0];
    assert_eq!(Some(incident.id), webhook.incident_id, "the REST entries joined the webhook's incident");
    assert_eq!((incident.n_webhooks, incident.n_reconciled), (5, 4));
    assert_eq!(incident.status.as_str(), "resolved");
    // The timeline reads the REST entries beside the webhook: each transition one row.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let daemon = format!("http://{}", listener.local_addr().unwrap());
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let api = tokio::spawn(serve_on(listener, AppState::new(settings.clone(), store.clone()), async move {
        let _ = api_stopped.await;
    }));
    let timeline = timeline_of(&client, &daemon, incident.id).await;
    let pages: Vec<(&str, &str)> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["kind"] == "page")
        .map(|entry| (entry["time"].as_str().unwrap(), entry["event"].as_str().unwrap()))
        .collect();
    assert_eq!(pages.len(), 5, "trigger, notify, acknowledge, note, resolve: {pages:?}");
    let acknowledged = acknowledged_at.parse::<Timestamp>().unwrap();
    let at_acknowledgement =
        pages.iter().filter(|(time, _)| time.parse::<Timestamp>().unwrap() == acknowledged).count();
    assert_eq!(at_acknowledgement, 1, "{pages:?}");
    let _ = stop_api.send(());
    let _ = api.await;
    // Again: nothing new.
    let again = pagerduty::Poller::new(&client, &settings.reconcile, &token).reconcile(&store, now).await.unwrap();
    assert_eq!(again, 0);
    // The resolution's webhook, arriving after its REST entry, is the same transition.
    let resolved_at = minutes_ago(10);
    let late =
        store.record_pagerduty(webhook_event("01EVENTRESOLVE", PageAction::Resolved, &resolved_at)).await.unwrap();
    assert!(late.duplicate, "{late:?}");
    assert_eq!(late.incident_id, webhook.incident_id);

    // A restart: the store reopened resumes from the last seen time.
    drop(store);
    let store = Store::open(&settings.store.url).await.unwrap();
    assert_eq!(store.reconcile_position(pagerduty::POSITION).await.unwrap(), Some(now));
    let later = now.checked_add(SignedDuration::from_mins(5)).unwrap();
    rest.add_log_entry(
        "R6",
        "PINC1",
        "reopen_log_entry",
        &now.checked_add(SignedDuration::from_mins(1)).unwrap().to_string(),
        "Bob",
    );
    let requests_before = rest.requests().len();
    let n_stored = pagerduty::Poller::new(&client, &settings.reconcile, &token).reconcile(&store, later).await.unwrap();
    assert_eq!(n_stored, 1);
    let log_request = &rest.requests()[requests_before + 1];
    assert_eq!(log_request.values("since"), [now.to_string().as_str()], "resumed where the last poll ended");
    let incident = &store.incidents(&IncidentFilter::default()).await.unwrap()[0];
    assert_eq!(incident.status.as_str(), "open", "reopened after its resolution, in event time");
    let _ = std::fs::remove_dir_all(&folder);
}

/// `postmortemd serve --config FILE` with its log in `folder/daemon.log`.
fn serve(folder: &std::path::Path, config: &str) -> std::process::Child {
    std::fs::write(folder.join("postmortemd.toml"), config).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_postmortemd"))
        .args(["serve", "--config"])
        .arg(folder.join("postmortemd.toml"))
        .env("POSTMORTEMD_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(folder.join("daemon.log")).unwrap())
        .spawn()
        .expect("postmortemd serve starts")
}

#[tokio::test]
async fn serve_runs_the_reconciler_and_stops_it_on_sigterm() {
    let folder = scratch_folder("reconcile-serve");
    let webhook_port = free_port();
    let (mut alertmanager, alertmanager_url) =
        start_alertmanager(&folder, &format!("http://127.0.0.1:{webhook_port}/webhooks/alertmanager"), None).await;
    let client = reqwest::Client::new();
    let starts_at = Timestamp::now().checked_sub(SignedDuration::from_mins(5)).unwrap();
    let ends_at = Timestamp::now().checked_add(SignedDuration::from_hours(1)).unwrap();
    let alert = serde_json::json!([{
        "labels": {"alertname": "DiskFull", "severity": "warning"},
        "annotations": {}, "startsAt": starts_at.to_string(), "endsAt": ends_at.to_string(),
    }]);
    client.post(format!("{alertmanager_url}/api/v2/alerts")).json(&alert).send().await.unwrap();

    let port = free_port();
    let mut daemon = serve(
        &folder,
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[store]\nurl = \"sqlite://{}/p.db\"\n\
             [reconcile]\nalertmanager_urls = [\"{alertmanager_url}\"]\ninterval = \"500ms\"\n",
            folder.display()
        ),
    );
    let daemon_url = format!("http://127.0.0.1:{port}");
    let list = eventually("the daemon's reconciled incident", async || {
        let list = all_incidents(&client, &daemon_url).await?;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["reconciled"], true, "{list:?}");
    let metrics = client.get(format!("{daemon_url}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("postmortemd_reconciled_webhooks_total{source=\"alertmanager\"} 1"), "{metrics}");

    let killed = std::process::Command::new("kill").arg("-TERM").arg(daemon.id().to_string()).status().unwrap();
    assert!(killed.success());
    let status = eventually("the daemon to exit", async || daemon.try_wait().unwrap()).await;
    let log = std::fs::read_to_string(folder.join("daemon.log")).unwrap();
    assert!(status.success(), "{status:?}: {log}");
    assert!(log.contains("Reconciliation stopped."), "{log}");
    let _ = alertmanager.kill().await;
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn serve_refuses_a_pagerduty_token_that_follows_nothing() {
    let folder = scratch_folder("reconcile-refuse");
    let mut daemon = serve(
        &folder,
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[store]\nurl = \"sqlite://{}/p.db\"\n\
             [reconcile.pagerduty]\napi_token = \"read-only\"\n",
            folder.display()
        ),
    );
    let status = daemon.wait().unwrap();
    let log = std::fs::read_to_string(folder.join("daemon.log")).unwrap();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("neither services nor teams"), "{log}");
    let _ = std::fs::remove_dir_all(&folder);
}
