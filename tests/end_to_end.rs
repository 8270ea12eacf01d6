//! End to end, on real parts wherever one runs here: Debian's Alertmanager delivers an
//! alert (three days old) to the daemon over loopback; the daemon's collection jobs read the
//! fake Kubernetes API (checked against the real kubectl by tests/kube_fake.rs) and a real
//! Prometheus backfilled with promtool; the timeline served over HTTP shows the planted
//! rows (rollout, first errors, alert, page, recovery, a Deployment someone created
//! mid-incident beside the target), node-2's clock 90 s ahead, the
//! restart gap and the missing-samples gap, and nothing false. A second run injects faults
//! (403 on pods/log, a stream cut short, slow answers, Prometheus stopped) and still ends
//! with a finished incident whose gaps say why.

#[path = "kube_fake/mod.rs"]
mod kube_fake;
mod support;

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kube_fake::checkout::{NODE2_AHEAD_SECS, cluster, history, t};
use kube_fake::{Cluster, FakeKube, autoscaler, deployment, node};
use postmortemd::api::{AppState, serve_on};
use postmortemd::collect::Collector;
use postmortemd::collect::kubernetes::KubeCollector;
use postmortemd::collect::prometheus::PrometheusCollector;
use postmortemd::config::{PrometheusQuery, Settings};
use postmortemd::store::Store;
use sha2::{Digest, Sha256};
use support::services::{all_incidents, eventually, scratch_folder, start_alertmanager, start_prometheus};

struct Run {
    timeline: serde_json::Value,
    incident: serde_json::Value,
    requests: Vec<kube_fake::Request>,
}

/// The whole path, with `faults` applied to the fake before the alert fires and
/// `mid_incident` run after the first collection pass.
async fn run(
    name: &str,
    cluster: Cluster,
    faults: impl FnOnce(&kube_fake::Handle),
    mid_incident: impl FnOnce(&kube_fake::Handle),
    stop_prometheus_mid_incident: bool,
) -> Run {
    let folder = scratch_folder(name);
    let fake = FakeKube::start(cluster).await;
    faults(&fake.handle());
    let (mut prometheus, prometheus_url) = start_prometheus(&folder, &history()).await;

    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}/postmortemd.db", folder.display());
    settings.kubernetes.kubeconfig = Some(fake.kubeconfig(&folder));
    settings.kubernetes.recollect_every = SignedDuration::from_secs(1);
    // The incident is replayed days after its alerts started, so while it is open its span
    // reaches back days: more than the default collect.max_window, which would cut it.
    settings.collect.max_window = SignedDuration::from_hours(24 * 30);
    // The incident's namespace, as an install confined to it would read.
    settings.kubernetes.namespaces = vec!["shop".to_owned()];
    settings.prometheus.url = prometheus_url;
    settings.prometheus.timeout = SignedDuration::from_secs(5);
    settings.prometheus.queries = vec![PrometheusQuery {
        name: "queue depth".to_owned(),
        matchers: Default::default(),
        query: "checkout_queue_depth{namespace=\"{{namespace}}\"}".to_owned(),
    }];
    let kubernetes = KubeCollector::new(&settings.kubernetes).await.expect("a collector for the fake");
    let kubernetes = kubernetes.with_timeouts(Duration::from_secs(10), Duration::from_secs(10));
    let prometheus_collector = PrometheusCollector::new(&settings.prometheus).unwrap();
    let collectors: Vec<Arc<dyn Collector>> = vec![Arc::new(kubernetes), Arc::new(prometheus_collector)];
    let store = Store::open(&settings.store.url).await.unwrap();
    let state = AppState::new(settings, store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let daemon = format!("http://{}", listener.local_addr().unwrap());
    let (stop_sender, stop) = tokio::sync::watch::channel(false);
    let mut server_stop = stop.clone();
    tokio::spawn(serve_on(listener, state.clone(), async move {
        let _ = server_stop.wait_for(|stop| *stop).await;
    }));
    let jobs = tokio::spawn(state.jobs(collectors).run(Duration::from_millis(200), stop));

    let (_alertmanager, alertmanager) =
        start_alertmanager(&folder, &format!("{daemon}/webhooks/alertmanager"), None).await;
    let client = reqwest::Client::new();
    let alert = |ends_at: Timestamp| {
        serde_json::json!([{
            "labels": {"alertname": "CheckoutErrors", "severity": "critical", "namespace": "shop", "deployment": "checkout"},
            "annotations": {"summary": "checkout 5xx ratio above 5%"},
            "startsAt": t("05:00").to_string(), "endsAt": ends_at.to_string(),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=checkout_error_ratio+%3E+0.05&g0.tab=1"
        }])
    };
    let posted = client
        .post(format!("{alertmanager}/api/v2/alerts"))
        .json(&alert(Timestamp::now() + SignedDuration::from_hours(1)))
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success());
    let incident_url = eventually("the incident and its first pass", async || {
        let id = all_incidents(&client, &daemon).await?.first()?["id"].as_i64()?;
        let url = format!("{daemon}/api/v1/incidents/{id}");
        let incident: serde_json::Value = client.get(&url).send().await.ok()?.json().await.ok()?;
        (incident["collection"]["passes"].as_i64()? >= 1).then_some(url)
    })
    .await;
    if stop_prometheus_mid_incident {
        prometheus.kill().await.unwrap();
    }
    mid_incident(&fake.handle());
    // The page, from Alertmanager's PagerDuty integration (incident_key = sha256 of the group key).
    let incident_key = hex::encode(Sha256::digest(br#"{}:{alertname="CheckoutErrors"}"#));
    let page = serde_json::json!({"event": {"id": "01PAGE", "event_type": "incident.triggered", "resource_type": "incident",
        "occurred_at": t("06:00").to_string(), "agent": {"type": "service_reference", "summary": "Alertmanager"}, "client": null,
        "data": {"id": "Q0CHECKOUT", "type": "incident", "title": "CheckoutErrors", "incident_key": incident_key,
            "service": {"id": "PSVC", "type": "service_reference", "summary": "Checkout API"}}}});
    let answer = client.post(format!("{daemon}/webhooks/pagerduty")).json(&page).send().await.unwrap();
    assert!(answer.status().is_success(), "{:?}", answer.text().await);
    // Resolved at 10:35: Alertmanager sends it at the next group interval.
    let posted = client.post(format!("{alertmanager}/api/v2/alerts")).json(&alert(t("35:00"))).send().await.unwrap();
    assert!(posted.status().is_success());
    let incident = eventually("the final pass after resolution", async || {
        let incident: serde_json::Value = client.get(&incident_url).send().await.ok()?.json().await.ok()?;
        (incident["status"] == "resolved" && incident["collection"]["finished_at"].is_string()).then_some(incident)
    })
    .await;
    let timeline: serde_json::Value =
        client.get(format!("{incident_url}/timeline?format=json")).send().await.unwrap().json().await.unwrap();
    let _ = stop_sender.send(true);
    let _ = jobs.await;
    let requests = fake.handle().requests();
    let _ = std::fs::remove_dir_all(&folder);
    Run { timeline, incident, requests }
}

fn entries(timeline: &serde_json::Value) -> Vec<(Timestamp, String, String, String)> {
    timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["time"].as_str().unwrap().parse().unwrap(),
                entry["kind"].as_str().unwrap().to_owned(),
                entry["source"].as_str().unwrap().to_owned(),
                entry["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn row(timeline: &serde_json::Value, kind: &str, text: &str) -> (Timestamp, String) {
    entries(timeline)
        .into_iter()
        .filter(|(_, entry_kind, _, event)| entry_kind == kind && event.contains(text))
        .map(|(time, _, source, _)| (time, source))
        .min()
        .unwrap_or_else(|| panic!("no {kind} row with {text:?} in {:#}", timeline["entries"]))
}

/// The first entry whose event contains `text`, as JSON.
#[track_caller]
fn entry_with<'a>(timeline: &'a serde_json::Value, text: &str) -> &'a serde_json::Value {
    timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["event"].as_str().unwrap().contains(text))
        .unwrap_or_else(|| panic!("no row with {text:?} in {:#}", timeline["entries"]))
}

#[track_caller]
fn near(time: Timestamp, expected: Timestamp, seconds: i64) {
    assert!((time - expected).as_secs().abs() <= seconds, "{time} is not within {seconds} s of {expected}");
}

#[tokio::test]
async fn alert_to_timeline_with_the_planted_rows_skew_and_gaps() {
    // Mid-incident someone creates a Deployment beside the target: no alert names it and no
    // target owns it, but it is a change in the alert's namespace.
    let mitigation = |fake: &kube_fake::Handle| {
        // And node-2 comes under memory pressure while the autoscaler adds replicas.
        fake.add(
            node("node-2")
                .condition(
                    "MemoryPressure",
                    "True",
                    "KubeletHasInsufficientMemory",
                    "kubelet has insufficient memory available",
                    t("14:00"),
                )
                .build(),
        );
        fake.add(autoscaler("shop", "checkout", "checkout", t("14:30"), 2, 4));
        fake.add(
            deployment("shop", "checkout-fallback")
                .created(t("12:00"))
                .selector(&[("app", "checkout-fallback")])
                .image("app", "registry.example/checkout-fallback:0.9.0")
                .managed_by("kubectl-create", "Update", t("12:00"))
                .build(),
        );
    };
    let Run { timeline, incident, requests } = run("e2e", cluster(t("50:00")), |_| {}, mitigation, false).await;
    assert_eq!(incident["collection"]["gaps"], 0, "{incident}");
    let (created, source) = row(&timeline, "deploy", "Deployment shop/checkout-fallback created");
    near(created, t("12:00"), 0);
    assert_eq!(source, "kubernetes workloads");
    let created_row = entry_with(&timeline, "checkout-fallback created");
    assert_eq!(created_row["actor"], "kubectl-create", "{created_row:#}");
    // Nodes and autoscalers come back from the bundle (nodes.json, replicasets.json) as rows;
    // the pressure is the kubelet's word, stamped by node-2's clock: corrected like its logs.
    let (pressure, source) = row(&timeline, "k8s_event", "Node node-2 MemoryPressure (KubeletHasInsufficientMemory");
    near(pressure, t("14:00") - SignedDuration::from_secs(NODE2_AHEAD_SECS), 5);
    assert_eq!(source, "kubernetes nodes");
    let pressure_row = entry_with(&timeline, "MemoryPressure");
    let recorded: Timestamp = pressure_row["recorded_time"].as_str().unwrap().parse().unwrap();
    assert_eq!(recorded, t("14:00"), "{pressure_row:#}");
    assert_eq!(pressure_row["flags"], serde_json::json!(["clock_skew"]), "{pressure_row:#}");
    near(
        row(&timeline, "deploy", "HorizontalPodAutoscaler shop/checkout rescaled Deployment/checkout").0,
        t("14:30"),
        0,
    );

    let (rollout, _) = row(&timeline, "deploy", "revision 2");
    near(rollout, t("02:00"), 0);
    let deploy = timeline["entries"].as_array().unwrap().iter().find(|entry| entry["kind"] == "deploy").unwrap();
    assert_eq!(deploy["actor"], "kubectl-client-side-apply", "who rolled out: {deploy:#}");
    let (first_error, _) = row(&timeline, "log", "payment authorization failed");
    near(first_error, t("03:10"), 5);
    near(row(&timeline, "alert", "CheckoutErrors").0, t("05:00"), 0);
    near(row(&timeline, "page", "").0, t("06:00"), 0);
    let (recovered, _) = row(&timeline, "alert", "resolved");
    near(recovered, t("35:00"), 0);

    // node-2's clock: found and corrected.
    let skews: Vec<&serde_json::Value> =
        timeline["clock_skew"].as_array().unwrap().iter().filter(|skew| skew["flagged"] == true).collect();
    assert_eq!(skews.len(), 1, "{skews:#?}");
    assert!(skews[0]["subject"].as_str().unwrap().contains("node-2"), "{skews:#?}");
    let offset = skews[0]["offset_seconds"].as_f64().unwrap();
    assert!((offset - NODE2_AHEAD_SECS as f64).abs() < 5.0, "{skews:#?}");

    // Exactly the two planted gaps: pod A's restart, and the queue depth's missing samples.
    let gaps: Vec<(String, Timestamp, Timestamp)> = timeline["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|gap| {
            (
                gap["source"].as_str().unwrap().to_owned(),
                gap["start"].as_str().unwrap().parse().unwrap(),
                gap["end"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(gaps.len(), 2, "{gaps:#?}");
    let restart = gaps.iter().find(|(source, _, _)| source.contains("aaaaa")).expect("the restart gap");
    near(restart.1, t("15:00"), 60);
    near(restart.2, t("16:40"), 60);
    // Named after its configured query's name.
    let hole =
        gaps.iter().find(|(source, _, _)| source.starts_with("prometheus: queue depth")).expect("the missing samples");
    // Prometheus repeats the last sample for its 5 min lookback: the hole shows from 10:25.
    near(hole.1, t("25:00"), 60);
    near(hole.2, t("30:00"), 60);
    // And node-2's rows are put back in true time, keeping what its clock said.
    let node2_errors = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["source"].as_str().unwrap().contains("bbbbb") && entry["kind"] == "log")
        .expect("node-2's first errors");
    let corrected: Timestamp = node2_errors["time"].as_str().unwrap().parse().unwrap();
    let recorded: Timestamp = node2_errors["recorded_time"].as_str().unwrap().parse().unwrap();
    near(corrected, t("03:10"), 5);
    assert_eq!((recorded - corrected).as_secs(), NODE2_AHEAD_SECS);

    // The collector only read, and the shipped RBAC (rendered by kubectl) allows every
    // request it made; tests/collect_kubernetes.rs checks that nothing more is granted.
    assert!(requests.iter().all(|request| matches!(request.verb.as_str(), "get" | "list")), "{requests:#?}");
    let overlays = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/kustomize/overlays");
    let cluster_rules = support::rbac::bound_rules(&overlays.join("cluster")).unwrap();
    for request in &requests {
        let request = support::rbac::ApiRequest {
            verb: request.verb.clone(),
            group: request.group.clone(),
            resource: request.resource.clone(),
            subresource: request.subresource.clone(),
            namespace: request.namespace.clone(),
        };
        assert!(support::rbac::allows(&cluster_rules, &request), "the shipped ClusterRole refuses {request:?}");
    }
}

#[tokio::test]
async fn faults_become_gaps_and_the_incident_still_finishes() {
    let faults = |fake: &kube_fake::Handle| {
        fake.forbid("", "pods", Some("log"));
        fake.delay(Some(Duration::from_millis(150)));
    };
    let Run { timeline, incident, .. } = run("e2e-faults", cluster(t("50:00")), faults, |_| {}, true).await;
    assert_eq!(incident["status"], "resolved");
    let reasons: Vec<String> =
        timeline["gaps"].as_array().unwrap().iter().map(|gap| gap["reason"].as_str().unwrap().to_owned()).collect();
    assert!(reasons.iter().any(|reason| reason.contains("pods/log") && reason.contains("403")), "{reasons:#?}");
    // Prometheus answered the first pass; once it was stopped the later passes kept those
    // answers and said it was unreachable.
    assert!(reasons.iter().any(|reason| reason.contains("unreachable")), "{reasons:#?}");
    near(row(&timeline, "alert", "CheckoutErrors").0, t("05:00"), 0);
}

#[tokio::test]
async fn a_pod_deleted_mid_incident_keeps_its_lines_and_a_cut_stream_loses_nothing() {
    let cut = |fake: &kube_fake::Handle| fake.truncate_log("shop", "checkout-6f7c9d8b4-bbbbb", Some("app"), 64 * 1024);
    let delete = |fake: &kube_fake::Handle| {
        fake.delete_pod("shop", "checkout-6f7c9d8b4-aaaaa");
    };
    let Run { timeline, incident, .. } = run("e2e-deleted", cluster(t("25:00")), cut, delete, false).await;
    assert_eq!(incident["status"], "resolved");
    let reasons: Vec<String> =
        timeline["gaps"].as_array().unwrap().iter().map(|gap| gap["reason"].as_str().unwrap().to_owned()).collect();
    // Pod A logged until 10:25, was read, then deleted: its lines are still there, and the
    // rest of the window is a gap that says why.
    let pod_a_errors = entries(&timeline).into_iter().find(|(_, kind, source, event)| {
        kind == "log" && source.contains("aaaaa") && event.contains("payment authorization failed")
    });
    near(pod_a_errors.expect("pod A's errors, collected before it was deleted").0, t("03:10"), 5);
    assert!(reasons.iter().any(|reason| reason.contains("checkout-6f7c9d8b4-aaaaa was deleted")), "{reasons:#?}");
    // Pod B's stream was cut every 64 KiB, and each pass read on from its cursor: no line
    // is missing, so the cuts are not gaps (nor duplicates: the errors are counted once).
    assert!(!reasons.iter().any(|reason| reason.contains("was cut")), "{reasons:#?}");
    let pod_b_lines =
        entries(&timeline).into_iter().filter(|(_, kind, source, _)| kind == "log" && source.contains("bbbbb")).count();
    assert!(pod_b_lines > 0, "{timeline:#}");
    let deleted = timeline["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|gap| gap["reason"].as_str().unwrap().contains("deleted"))
        .unwrap();
    near(deleted["start"].as_str().unwrap().parse().unwrap(), t("25:00"), 5);
    near(deleted["end"].as_str().unwrap().parse().unwrap(), t("45:00"), 0);
    // It replaces the stream's own guess for that span ("pod deleted or export ended early").
    assert_eq!(reasons.len(), 3, "restart, deletion, missing samples: {reasons:#?}");
}
