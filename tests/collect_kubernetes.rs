//! The Kubernetes collector against the fake API server over loopback HTTP: targets by each
//! label kind, incremental logs without duplicates, restarts, caps, faults as gaps, events
//! and rollouts, the changes of each target namespace (workloads, revisions, autoscalers),
//! the target pods' nodes, and the requests it makes (which the shipped RBAC rules must allow).

#[path = "kube_fake/mod.rs"]
mod kube_fake;
mod support;

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use kube_fake::*;
use postmortemd::collect::kubernetes::KubeCollector;
use postmortemd::collect::{LogCursor, Pass, Scope};
use postmortemd::config::KubernetesSettings;
use postmortemd::record::{AlertRecord, AlertStatus};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The window of every test: 10:00:00.700 to 10:30.
fn scope(alerts: &[&[(&str, &str)]]) -> Scope {
    Scope {
        incident_id: 7,
        alerts: alerts
            .iter()
            .map(|labels| AlertRecord {
                name: "HighErrorRate".to_owned(),
                status: AlertStatus::Firing,
                labels: labels.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
                annotations: BTreeMap::new(),
                starts_at: at("2025-02-09T10:20:00Z"),
                ends_at: None,
                fingerprint: None,
                generator_url: None,
            })
            .collect(),
        pagerduty_services: Vec::new(),
        start: at("2025-02-09T10:00:00.700Z"),
        end: at("2025-02-09T10:30:00Z"),
        nodes: Vec::new(),
    }
}

/// A collector built the way the daemon builds it: from a kubeconfig file.
async fn collector(fake: &FakeKube, settings: KubernetesSettings) -> KubeCollector {
    let dir = std::env::temp_dir().join(format!(
        "postmortemd-collect-kube-{}-{}",
        std::process::id(),
        fake.url().rsplit(':').next().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let settings = KubernetesSettings { kubeconfig: Some(fake.kubeconfig(&dir)), ..settings };
    KubeCollector::new(&settings).await.expect("a collector for the fake")
}

/// Settings that allow every namespace: tests of other behaviour read wherever their alerts
/// point; the tests of `kubernetes.namespaces` set their own list.
fn every_namespace() -> KubernetesSettings {
    KubernetesSettings { namespaces: vec!["*".to_owned()], ..KubernetesSettings::default() }
}

fn line(time: &str, text: &str) -> LogLine {
    LogLine::new(at(time), text.as_bytes().to_vec())
}

fn running(name: &str) -> ContainerBuilder {
    container(name).running(at("2025-02-09T09:00:00Z"))
}

/// The log text of one container in a pass.
fn log_of(pass: &Pass, pod: &str, container: &str) -> String {
    pass.logs
        .iter()
        .filter(|chunk| chunk.pod == pod && chunk.container == container)
        .map(|chunk| String::from_utf8_lossy(&chunk.lines).into_owned())
        .collect()
}

fn pods_of(pass: &Pass) -> BTreeSet<String> {
    pass.objects
        .iter()
        .filter(|object| object.kind == "Pod")
        .map(|object| object.json["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn gap_reasons(pass: &Pass) -> Vec<String> {
    pass.gaps.iter().map(|gap| format!("{}: {}", gap.source, gap.reason)).collect()
}

/// What RBAC is asked for: (verb, group, resource/subresource).
fn rbac(fake: &FakeKube) -> BTreeSet<(String, String, String)> {
    fake.requests()
        .iter()
        .map(|request| {
            let resource = match &request.subresource {
                Some(subresource) => format!("{}/{subresource}", request.resource),
                None => request.resource.clone(),
            };
            (request.verb.clone(), request.group.clone(), resource)
        })
        .collect()
}

/// Read-only verbs on the resources the install's Role grants, and nothing else.
#[track_caller]
fn assert_read_only(fake: &FakeKube) {
    let allowed = support::rbac::COLLECTOR_READS.iter().chain(support::rbac::CLUSTER_READS);
    let allowed: Vec<&(&str, &str)> = allowed.collect();
    for (verb, group, resource) in rbac(fake) {
        assert!(verb == "get" || verb == "list", "{verb} {group} {resource}");
        assert!(allowed.contains(&&(group.as_str(), resource.as_str())), "{verb} {group:?} {resource}");
    }
}

fn shop() -> Cluster {
    let mut cluster = Cluster::new();
    cluster
        .add(deployment("shop", "api").selector(&[("app", "api")]).build())
        .add(
            replicaset("shop", "api-1")
                .selector(&[("app", "api"), ("pod-template-hash", "1")])
                .owner_deployment("api")
                .revision(1)
                .build(),
        )
        .add(
            replicaset("shop", "api-2")
                .selector(&[("app", "api"), ("pod-template-hash", "2")])
                .owner_deployment("api")
                .revision(2)
                .build(),
        )
        .add(
            pod("shop", "api-2-a")
                .labels(&[("app", "api"), ("pod-template-hash", "2")])
                .owner("ReplicaSet", "api-2")
                .container(running("app"))
                .build(),
        )
        .add(statefulset("shop", "db").selector(&[("app", "db")]).build())
        .add(
            pod("shop", "db-0")
                .labels(&[("app", "db")])
                .owner("StatefulSet", "db")
                .container(running("postgres"))
                .build(),
        )
        .add(daemonset("shop", "agent").selector(&[("app", "agent")]).build())
        .add(
            pod("shop", "agent-x")
                .labels(&[("app", "agent")])
                .owner("DaemonSet", "agent")
                .container(running("agent"))
                .build(),
        )
        .add(job("shop", "migrate").selector(&[("job-name", "migrate")]).build())
        .add(
            pod("shop", "migrate-y")
                .labels(&[("job-name", "migrate")])
                .owner("Job", "migrate")
                .container(running("migrate"))
                .build(),
        )
        .add(service("shop", "web", &[("app", "web")]))
        .add(pod("shop", "web-1").labels(&[("app", "web")]).container(running("nginx")).build())
        .add(pod("shop", "cart-1").labels(&[("app.kubernetes.io/name", "cart")]).container(running("cart")).build())
        .add(pod("other", "cart-2").labels(&[("app.kubernetes.io/name", "cart")]).container(running("cart")).build());
    cluster
}

/// An alert's labels and the pods they target.
type TargetRow<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

#[tokio::test]
async fn targets_by_each_label_kind() {
    let fake = FakeKube::start(shop()).await;
    let collector = collector(&fake, every_namespace()).await;
    let rows: &[TargetRow] = &[
        (&[("namespace", "shop"), ("pod", "web-1")], &["web-1"]),
        (&[("namespace", "shop"), ("deployment", "api")], &["api-2-a"]),
        (&[("namespace", "shop"), ("replicaset", "api-2")], &["api-2-a"]),
        (&[("namespace", "shop"), ("statefulset", "db")], &["db-0"]),
        (&[("namespace", "shop"), ("daemonset", "agent")], &["agent-x"]),
        (&[("namespace", "shop"), ("job_name", "migrate")], &["migrate-y"]),
        (&[("namespace", "shop"), ("service", "web")], &["web-1"]),
        (&[("namespace", "shop"), ("app.kubernetes.io/name", "cart")], &["cart-1"]),
        (&[("namespace", "shop"), ("job", "kubernetes-pods")], &[]),
    ];
    for (labels, expected) in rows {
        let pass = collector.pass(&scope(&[labels]), &BTreeMap::new()).await;
        let expected: BTreeSet<String> = expected.iter().map(|name| name.to_string()).collect();
        assert_eq!(pods_of(&pass), expected, "{labels:?}: {:?}", gap_reasons(&pass));
        assert!(pass.gaps.is_empty(), "{labels:?}: {:?}", gap_reasons(&pass));
    }
    let requests = fake.requests();
    assert!(
        requests.iter().any(|request| request.resource == "pods"
            && request.verb == "list"
            && request.query.get("labelSelector").map(String::as_str) == Some("app=api")),
        "the Deployment's selector lists its pods: {requests:#?}"
    );
    assert_read_only(&fake);
}

#[tokio::test]
async fn rollouts_and_owners_of_a_deployment() {
    let fake = FakeKube::start(shop()).await;
    let collector = collector(&fake, every_namespace()).await;
    let pass = collector.pass(&scope(&[&[("namespace", "shop"), ("pod", "api-2-a")]]), &BTreeMap::new()).await;
    let kinds: BTreeSet<(String, String)> = pass
        .objects
        .iter()
        .map(|object| (object.kind.clone(), object.json["metadata"]["name"].as_str().unwrap_or("").to_owned()))
        .collect();
    for expected in [("Pod", "api-2-a"), ("ReplicaSet", "api-1"), ("ReplicaSet", "api-2"), ("Deployment", "api")] {
        assert!(kinds.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {kinds:?}");
    }
    for object in &pass.objects {
        assert_eq!(
            object.json["kind"].as_str(),
            Some(object.kind.rsplit('/').next().unwrap()),
            "list items get their kind back"
        );
        assert_eq!(object.json["metadata"]["uid"].as_str(), Some(object.uid.as_str()));
    }
    // The bundle's replicasets.json is read by draft: the rollouts come back with their revisions.
    let list = serde_json::json!({"kind": "List", "apiVersion": "v1", "items":
        pass.objects.iter().filter(|object| object.kind == "ReplicaSet").map(|object| object.json.clone()).collect::<Vec<_>>()});
    let rollouts = postmortemd::ingest::kubernetes::parse_replicasets(&serde_json::to_vec(&list).unwrap()).unwrap();
    let revisions: BTreeSet<u64> = rollouts.iter().map(|rollout| rollout.revision).collect();
    assert_eq!(revisions, BTreeSet::from([1, 2]));
    let of_kind = |kind: &str| {
        let items: Vec<serde_json::Value> =
            pass.objects.iter().filter(|object| object.kind == kind).map(|object| object.json.clone()).collect();
        serde_json::to_vec(&serde_json::json!({"kind": "List", "apiVersion": "v1", "items": items})).unwrap()
    };
    let pods = postmortemd::ingest::kubernetes::parse_pods(&of_kind("Pod")).unwrap();
    assert_eq!(pods.iter().map(|pod| pod.name.as_str()).collect::<Vec<_>>(), ["api-2-a"]);
    assert_eq!(pods[0].node.as_deref(), Some("node-1"));
    assert_eq!(postmortemd::collect::kubernetes::nodes_of(&pass), ["node-1"]);
    let deployments = postmortemd::ingest::kubernetes::parse_deployments(&of_kind("Deployment")).unwrap();
    assert_eq!(deployments.len(), 1);
    assert_read_only(&fake);
}

fn one_pod() -> Cluster {
    let mut cluster = Cluster::new();
    cluster.add(pod("shop", "api-1").labels(&[("app", "api")]).container(running("app")).build());
    cluster.log(
        "shop",
        "api-1",
        "app",
        [
            line("2025-02-09T10:00:00.500Z", "before the window"),
            line("2025-02-09T10:00:01.250Z", "first"),
            line("2025-02-09T10:05:00.000000001Z", "second"),
            line("2025-02-09T10:05:00.000000001Z", "same instant"),
        ],
    );
    cluster
}

fn target() -> Scope {
    scope(&[&[("namespace", "shop"), ("pod", "api-1")]])
}

#[tokio::test]
async fn logs_are_incremental_without_duplicates() {
    let fake = FakeKube::start(one_pod()).await;
    let collector = collector(&fake, every_namespace()).await;
    let first = collector.pass(&target(), &BTreeMap::new()).await;
    assert!(first.gaps.is_empty(), "{:?}", gap_reasons(&first));
    assert_eq!(
        log_of(&first, "api-1", "app"),
        "[pod/api-1/app] 2025-02-09T10:00:01.250000000Z first\n\
         [pod/api-1/app] 2025-02-09T10:05:00.000000001Z second\n\
         [pod/api-1/app] 2025-02-09T10:05:00.000000001Z same instant\n"
    );
    let log_request =
        fake.requests().into_iter().find(|request| request.subresource.as_deref() == Some("log")).unwrap();
    assert_eq!(
        log_request.query.get("sinceTime").map(String::as_str),
        Some("2025-02-09T10:00:00Z"),
        "floored, not rounded up"
    );
    assert_eq!(log_request.query.get("timestamps").map(String::as_str), Some("true"));
    assert_eq!(log_request.query.get("container").map(String::as_str), Some("app"));
    assert!(log_request.query.contains_key("limitBytes"));

    fake.append_log(
        "shop",
        "api-1",
        "app",
        [
            line("2025-02-09T10:05:00.000000001Z", "third at the same instant"),
            line("2025-02-09T10:06:00Z", "fourth"),
            line("2025-02-09T10:31:00Z", "after the window"),
        ],
    );
    fake.clear_requests();
    let second = collector.pass(&target(), &first.cursors).await;
    assert!(second.gaps.is_empty(), "{:?}", gap_reasons(&second));
    assert_eq!(
        log_of(&second, "api-1", "app"),
        "[pod/api-1/app] 2025-02-09T10:05:00.000000001Z third at the same instant\n\
         [pod/api-1/app] 2025-02-09T10:06:00.000000000Z fourth\n"
    );
    let log_request =
        fake.requests().into_iter().find(|request| request.subresource.as_deref() == Some("log")).unwrap();
    assert_eq!(log_request.query.get("sinceTime").map(String::as_str), Some("2025-02-09T10:05:00Z"));
    let third = collector.pass(&target(), &second.cursors).await;
    assert_eq!(log_of(&third, "api-1", "app"), "", "nothing new, nothing repeated");
    assert_read_only(&fake);
}

#[tokio::test]
async fn invalid_utf8_is_kept_as_bytes() {
    let mut cluster = one_pod();
    cluster.log("shop", "api-1", "app", [LogLine::new(at("2025-02-09T10:07:00Z"), b"\xff\xfe binary \xc3".to_vec())]);
    let fake = FakeKube::start(cluster).await;
    let collector = collector(&fake, every_namespace()).await;
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    let chunk = &pass.logs[0];
    assert!(
        chunk.lines.ends_with(b"[pod/api-1/app] 2025-02-09T10:07:00.000000000Z \xff\xfe binary \xc3\n"),
        "{}",
        String::from_utf8_lossy(&chunk.lines)
    );
}

#[tokio::test]
async fn a_restart_reads_the_previous_instance_first() {
    let fake = FakeKube::start(one_pod()).await;
    let collector = collector(&fake, every_namespace()).await;
    let first = collector.pass(&target(), &BTreeMap::new()).await;
    fake.append_log("shop", "api-1", "app", [line("2025-02-09T10:08:00Z", "last words")]);
    assert!(fake.restart_container("shop", "api-1", "app", at("2025-02-09T10:09:00Z"), 137, "OOMKilled"));
    fake.append_log("shop", "api-1", "app", [line("2025-02-09T10:09:30Z", "starting again")]);
    fake.clear_requests();
    let second = collector.pass(&target(), &first.cursors).await;
    assert!(second.gaps.is_empty(), "{:?}", gap_reasons(&second));
    assert_eq!(
        log_of(&second, "api-1", "app"),
        "[pod/api-1/app] 2025-02-09T10:08:00.000000000Z last words\n\
         [pod/api-1/app] 2025-02-09T10:09:30.000000000Z starting again\n",
        "the previous instance's rest, then the new one, in time order"
    );
    let previous: Vec<Option<String>> = fake
        .requests()
        .iter()
        .filter(|request| request.subresource.as_deref() == Some("log"))
        .map(|request| request.query.get("previous").cloned())
        .collect();
    assert_eq!(previous, vec![Some("true".to_owned()), None]);
    assert_eq!(second.cursors["shop/api-1/app"].restart_count, 1);

    // Two restarts between passes: only the last terminated instance is left.
    fake.restart_container("shop", "api-1", "app", at("2025-02-09T10:10:00Z"), 1, "Error");
    fake.restart_container("shop", "api-1", "app", at("2025-02-09T10:11:00Z"), 1, "Error");
    let third = collector.pass(&target(), &second.cursors).await;
    let reasons = gap_reasons(&third);
    assert!(
        reasons.iter().any(|reason| reason.contains("restarted 2 times") && reason.contains("1 instances are lost")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn the_byte_cap_is_a_gap() {
    let mut cluster = Cluster::new();
    cluster.add(pod("shop", "api-1").container(running("app")).build());
    let lines: Vec<LogLine> = (0..50)
        .map(|index| line(&format!("2025-02-09T10:01:{index:02}Z"), &format!("line {index:02} padded to some length")))
        .collect();
    cluster.log("shop", "api-1", "app", lines);
    let fake = FakeKube::start(cluster).await;
    let settings = KubernetesSettings { max_bytes_per_container: 1 << 10, ..every_namespace() };
    let collector = collector(&fake, settings).await;
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    let text = log_of(&pass, "api-1", "app");
    let kubelet_bytes: usize = text.lines().map(|line| line.len() + 1 - "[pod/api-1/app] ".len()).sum();
    assert!(kubelet_bytes <= 1 << 10 && kubelet_bytes > 900, "{kubelet_bytes} bytes taken");
    assert!(
        text.ends_with("\n") && text.lines().all(|line| line.ends_with("padded to some length")),
        "whole lines only"
    );
    let reasons = gap_reasons(&pass);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].starts_with("logs shop/api-1/app: log capped at 1 KiB"), "{reasons:?}");
    let limit: u64 = fake
        .requests()
        .iter()
        .find_map(|request| request.query.get("limitBytes").map(|limit| limit.parse().unwrap()))
        .unwrap();
    assert!(limit < 1 << 20, "limitBytes follows the budget: {limit}");
    // The next pass does not ask again; the gap stays.
    fake.clear_requests();
    let again = collector.pass(&target(), &pass.cursors).await;
    assert!(fake.requests().iter().all(|request| request.subresource.is_none()));
    assert!(gap_reasons(&again).iter().any(|reason| reason.contains("log capped")));
}

#[tokio::test]
async fn forbidden_logs_name_the_missing_rule() {
    let fake = FakeKube::start(one_pod()).await;
    fake.forbid("", "pods", Some("log"));
    let collector = collector(&fake, every_namespace()).await;
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    assert_eq!(pods_of(&pass), BTreeSet::from(["api-1".to_owned()]), "the pod is still read");
    assert_eq!(
        gap_reasons(&pass),
        vec![
            "logs shop/api-1/app: the service account may not get pods/log in namespace shop (403): add it to the Role"
                .to_owned()
        ]
    );
}

#[tokio::test]
async fn a_pod_deleted_between_passes_keeps_its_lines() {
    let fake = FakeKube::start(one_pod()).await;
    let collector = collector(&fake, every_namespace()).await;
    let first = collector.pass(&target(), &BTreeMap::new()).await;
    assert!(!first.logs.is_empty());
    assert!(fake.delete_pod("shop", "api-1"));
    let second = collector.pass(&target(), &first.cursors).await;
    assert!(second.logs.is_empty());
    let reasons = gap_reasons(&second);
    assert!(
        reasons.len() == 1 && reasons[0].starts_with("logs shop/api-1/app: pod shop/api-1 was deleted: lines up to"),
        "{reasons:?}"
    );
    assert_eq!(second.cursors.get("shop/api-1/app"), first.cursors.get("shop/api-1/app"), "the cursor carries over");
}

#[tokio::test]
async fn a_truncated_stream_drops_the_partial_line_and_resumes() {
    let fake = FakeKube::start(one_pod()).await;
    // The body from 10:00:00 holds 49 + 37 bytes before the third line: cut inside it.
    fake.truncate_log("shop", "api-1", Some("app"), 100);
    let collector = collector(&fake, every_namespace()).await;
    let first = collector.pass(&target(), &BTreeMap::new()).await;
    assert_eq!(log_of(&first, "api-1", "app"), "[pod/api-1/app] 2025-02-09T10:00:01.250000000Z first\n");
    let reasons = gap_reasons(&first);
    assert!(reasons.len() == 1 && reasons[0].contains("read again on the next pass"), "{reasons:?}");
    fake.clear_faults();
    let second = collector.pass(&target(), &first.cursors).await;
    assert_eq!(
        log_of(&second, "api-1", "app"),
        "[pod/api-1/app] 2025-02-09T10:05:00.000000001Z second\n\
         [pod/api-1/app] 2025-02-09T10:05:00.000000001Z same instant\n"
    );
}

#[tokio::test]
async fn transient_errors_are_retried_within_a_bound() {
    let fake = FakeKube::start(one_pod()).await;
    fake.fail_first("/api/v1/namespaces/shop/pods/api-1/log", 503, 2);
    let collector = collector(&fake, every_namespace()).await;
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    assert!(pass.gaps.is_empty(), "{:?}", gap_reasons(&pass));
    assert_eq!(pass.logs.len(), 1);
    let n_log_requests = fake.requests().iter().filter(|request| request.subresource.as_deref() == Some("log")).count();
    assert_eq!(n_log_requests, 3, "two 503s, then the answer");

    fake.fail_first("/api/v1/namespaces/shop/pods/api-1/log", 500, 100);
    let started = std::time::Instant::now();
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "bounded: {:?}", started.elapsed());
    let reasons = gap_reasons(&pass);
    assert!(reasons.iter().any(|reason| reason.contains("answered 500") && reason.contains("4 times")), "{reasons:?}");
}

#[tokio::test]
async fn events_of_both_groups_and_namespace_warnings() {
    let mut cluster = one_pod();
    let seen = |minute: i64| at("2025-02-09T10:00:00Z") + SignedDuration::from_mins(minute);
    cluster
        .add(
            core_event("shop", "api-1.backoff")
                .involved("Pod", "api-1")
                .reason("BackOff")
                .warning()
                .seen(seen(5), seen(6), 3)
                .build(),
        )
        .add(
            core_event("shop", "api-1.pulled")
                .involved("Pod", "api-1")
                .reason("Pulled")
                .seen(seen(1), seen(1), 1)
                .build(),
        )
        .add(
            core_event("shop", "data.full")
                .involved("PersistentVolumeClaim", "data")
                .reason("VolumeFull")
                .warning()
                .seen(seen(7), seen(7), 1)
                .build(),
        )
        .add(
            core_event("shop", "other.normal")
                .involved("Pod", "other")
                .reason("Pulled")
                .seen(seen(2), seen(2), 1)
                .build(),
        )
        .add(
            core_event("shop", "api-1.old")
                .involved("Pod", "api-1")
                .reason("Started")
                .seen(seen(-90), seen(-90), 1)
                .build(),
        )
        .add(
            new_event("shop", "api-1.scheduled")
                .regarding("Pod", "api-1")
                .reason("Scheduled")
                .event_time(seen(0) + SignedDuration::from_secs(1))
                .build(),
        );
    let fake = FakeKube::start(cluster).await;
    let collector = collector(&fake, every_namespace()).await;
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    let events: BTreeSet<(String, String)> = pass
        .objects
        .iter()
        .filter(|object| object.kind.ends_with("Event"))
        .map(|object| (object.kind.clone(), object.json["metadata"]["name"].as_str().unwrap().to_owned()))
        .collect();
    let names: BTreeSet<&str> = events.iter().map(|(_, name)| name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["api-1.backoff", "api-1.pulled", "data.full", "other.normal", "api-1.scheduled"]),
        "every event of the namespace inside the window, each once: {events:?}"
    );
    let requested = rbac(&fake);
    let groups: BTreeSet<(&str, &str)> = requested
        .iter()
        .filter(|(_, _, resource)| resource == "events")
        .map(|(verb, group, _)| (if verb == "list" { "list" } else { "other" }, group.as_str()))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    assert_eq!(groups, BTreeSet::from([("list", ""), ("list", "events.k8s.io")]));
    // draft reads them back as events.
    let list = serde_json::json!({"kind": "List", "apiVersion": "v1", "items":
        pass.objects.iter().filter(|object| object.kind.ends_with("Event")).map(|object| object.json.clone()).collect::<Vec<_>>()});
    let records = postmortemd::ingest::kubernetes::parse_events(&serde_json::to_vec(&list).unwrap()).unwrap();
    assert_eq!(records.len(), 5);
    assert_read_only(&fake);
}

#[tokio::test]
async fn the_pod_cap_is_a_gap_naming_how_many() {
    let mut cluster = Cluster::new();
    for index in 0..5 {
        cluster.add(pod("shop", &format!("api-{index}")).labels(&[("app", "api")]).container(running("app")).build());
    }
    let fake = FakeKube::start(cluster).await;
    let settings = KubernetesSettings {
        max_pods: 3,
        targets: vec![postmortemd::config::TargetRule { label: "app".to_owned(), selector: "app={value}".to_owned() }],
        ..every_namespace()
    };
    let collector = collector(&fake, settings).await;
    let pass = collector.pass(&scope(&[&[("namespace", "shop"), ("app", "api")]]), &BTreeMap::new()).await;
    assert_eq!(pods_of(&pass).len(), 3);
    let reasons = gap_reasons(&pass);
    assert!(reasons.iter().any(|reason| reason.contains("max_pods = 3 reached: 2 more pods")), "{reasons:?}");
    let _: Option<&LogCursor> = pass.cursors.values().next();
}

#[tokio::test]
async fn waiting_unscheduled_and_offset_pods() {
    let mut cluster = Cluster::new();
    cluster
        .add(
            pod("shop", "api-1")
                .labels(&[("app", "api")])
                .container(running("app"))
                .container(container("sidecar").waiting("ContainerCreating"))
                .build(),
        )
        .add(
            pod("shop", "api-2")
                .labels(&[("app", "api")])
                .unscheduled()
                .container(container("app").waiting("Pending"))
                .build(),
        )
        .log_offset("shop", "api-1", jiff::tz::Offset::constant(2))
        .log("shop", "api-1", "app", [line("2025-02-09T10:03:00.5Z", "from a node writing +02:00")]);
    let fake = FakeKube::start(cluster).await;
    let collector = collector(&fake, every_namespace()).await;
    let mut page = scope(&[]);
    page.pagerduty_services = vec!["Checkout API".to_owned()];
    let settings = KubernetesSettings {
        services: vec![postmortemd::config::ServiceRule {
            pagerduty_service: "Checkout API".to_owned(),
            namespace: "shop".to_owned(),
            selector: "app=api".to_owned(),
        }],
        ..every_namespace()
    };
    let page_collector = KubeCollector::from_config(kube::Config::new(fake.url().parse().unwrap()), &settings).unwrap();
    let pass = page_collector.pass(&page, &BTreeMap::new()).await;
    assert_eq!(
        pods_of(&pass),
        BTreeSet::from(["api-1".to_owned(), "api-2".to_owned()]),
        "a page-only incident by its service"
    );
    assert_eq!(
        log_of(&pass, "api-1", "app"),
        "[pod/api-1/app] 2025-02-09T12:03:00.500000000+02:00 from a node writing +02:00\n",
        "the kubelet time exactly as sent"
    );
    let reasons = gap_reasons(&pass);
    assert!(
        reasons.contains(
            &"logs shop/api-1/sidecar: container sidecar of pod shop/api-1 is waiting to start: it has no log yet"
                .to_owned()
        ),
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|reason| reason.contains("api-2")),
        "an unscheduled pod has an empty log, not a fault: {reasons:?}"
    );
    // Without the service rule the page targets nothing.
    let nothing = collector.pass(&page, &BTreeMap::new()).await;
    assert!(nothing.objects.is_empty() && nothing.gaps.is_empty());
}

#[tokio::test]
async fn stalled_streams_and_slow_answers_are_bounded() {
    let fake = FakeKube::start(one_pod()).await;
    // The body from 10:00:00 holds 49 + 37 bytes: stall inside the third line.
    fake.stall_log("shop", "api-1", Some("app"), 100);
    let bounds = (std::time::Duration::from_secs(2), std::time::Duration::from_millis(300));
    let collector = collector(&fake, every_namespace()).await.with_timeouts(bounds.0, bounds.1);
    let first = collector.pass(&target(), &BTreeMap::new()).await;
    assert_eq!(log_of(&first, "api-1", "app"), "[pod/api-1/app] 2025-02-09T10:00:01.250000000Z first\n");
    let reasons = gap_reasons(&first);
    assert!(reasons.len() == 1 && reasons[0].contains("was cut (no data for 300ms)"), "{reasons:?}");

    fake.clear_faults();
    fake.delay_path("/api/v1/namespaces/shop/pods/api-1", Some(std::time::Duration::from_secs(5)));
    let second = collector.pass(&target(), &first.cursors).await;
    assert_eq!(
        gap_reasons(&second),
        vec![
            "kubernetes pod shop/api-1: no answer from the Kubernetes API within 2s to get pods shop/api-1".to_owned()
        ]
    );
}

#[tokio::test]
async fn chunks_stream_out_and_passes_can_be_spawned() {
    let mut cluster = Cluster::new();
    let n_lines = 20_000;
    for pod_idx in 0..3 {
        let name = format!("api-{pod_idx}");
        cluster.add(
            pod("shop", &name)
                .labels(&[("app", "api")])
                .node(&format!("node-{}", pod_idx % 2))
                .container(running("app"))
                .build(),
        );
        let start = at("2025-02-09T10:01:00Z");
        cluster.log(
            "shop",
            &name,
            "app",
            (0..n_lines).map(|line_idx| {
                LogLine::new(start + SignedDuration::from_millis(line_idx * 50), format!("line {line_idx} of {name}"))
            }),
        );
    }
    let fake = FakeKube::start(cluster).await;
    let settings = KubernetesSettings {
        targets: vec![postmortemd::config::TargetRule { label: "app".to_owned(), selector: "app={value}".to_owned() }],
        ..every_namespace()
    };
    let collector = collector(&fake, settings).await;
    let scope = scope(&[&[("namespace", "shop"), ("app", "api")]]);
    // The daemon runs passes in tasks: the future is Send.
    let spawned = tokio::spawn({
        let collector = collector.clone();
        let scope = scope.clone();
        async move { collector.pass(&scope, &BTreeMap::new()).await }
    });
    let whole = spawned.await.unwrap();
    // And through the daemon's job trait, the same pass.
    let as_job: &dyn postmortemd::collect::Collector = &collector;
    assert_eq!(as_job.name(), "kubernetes");
    let mut through_job = Vec::new();
    let job_pass = as_job.pass(&scope, &BTreeMap::new(), &mut |chunk| through_job.push(chunk)).await;
    assert!(job_pass.logs.is_empty(), "the job streams chunks out");
    assert_eq!(through_job, whole.logs);
    let mut streamed = Vec::new();
    let pass = collector.pass_with(&scope, &BTreeMap::new(), &mut |chunk| streamed.push(chunk)).await;
    assert!(pass.logs.is_empty(), "chunks went to the callback");
    assert_eq!(postmortemd::collect::kubernetes::nodes_of(&pass), ["node-0", "node-1"]);
    assert_eq!(streamed, whole.logs);
    assert_eq!(pass.cursors, whole.cursors);
    for chunk in &streamed {
        let n_chunk_lines = chunk.lines.iter().filter(|byte| **byte == b'\n').count();
        assert_eq!(n_chunk_lines, n_lines as usize, "{}", chunk.key());
    }
}

/// The drift test: every request a full pass makes (each label kind, logs, previous logs,
/// events, rollouts) is allowed by both shipped overlays, rendered by the real kubectl.
#[tokio::test]
async fn the_shipped_rbac_allows_every_request_made() {
    use support::rbac::{ApiRequest, allows, bound_rules, unneeded};
    let mut cluster = shop();
    cluster.add(core_event("shop", "api.warn").involved("Pod", "api-2-a").reason("BackOff").warning().build());
    let fake = FakeKube::start(cluster).await;
    let collector = collector(&fake, every_namespace()).await;
    let first = collector
        .pass(
            &scope(&[
                &[("namespace", "shop"), ("pod", "web-1")],
                &[("namespace", "shop"), ("deployment", "api")],
                &[("namespace", "shop"), ("statefulset", "db")],
                &[("namespace", "shop"), ("daemonset", "agent")],
                &[("namespace", "shop"), ("job_name", "migrate")],
                &[("namespace", "shop"), ("service", "web")],
                &[("app.kubernetes.io/name", "cart")],
            ]),
            &BTreeMap::new(),
        )
        .await;
    fake.restart_container("shop", "api-2-a", "app", at("2025-02-09T10:09:00Z"), 1, "Error");
    collector.pass(&scope(&[&[("namespace", "shop"), ("deployment", "api")]]), &first.cursors).await;
    let requests: BTreeSet<ApiRequest> = fake
        .requests()
        .iter()
        .map(|request| ApiRequest {
            verb: request.verb.clone(),
            group: request.group.clone(),
            resource: request.resource.clone(),
            subresource: request.subresource.clone(),
            namespace: request.namespace.clone(),
        })
        .collect();
    let overlays = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/kustomize/overlays");
    let cluster_rules = bound_rules(&overlays.join("cluster")).unwrap();
    for request in &requests {
        assert!(allows(&cluster_rules, request), "the cluster overlay refuses {request:?}");
    }
    // The namespaced overlay reads its own namespace: the same requests made there.
    let namespaced_rules = bound_rules(&overlays.join("namespaced")).unwrap();
    for request in requests.iter().filter(|request| request.namespace.is_some()) {
        let home = ApiRequest { namespace: Some("postmortemd".to_owned()), ..request.clone() };
        assert!(allows(&namespaced_rules, &home), "the namespaced overlay refuses {home:?}");
    }
    let requests: Vec<ApiRequest> = requests.into_iter().collect();
    // And nothing is granted that no request needed.
    assert_eq!(unneeded(&cluster_rules, &requests), Vec::<String>::new(), "granted but never requested");
}

#[tokio::test]
async fn pods_created_during_the_incident_join_and_restarts_before_the_first_pass_are_told() {
    let mut cluster = Cluster::new();
    cluster.add(
        pod("shop", "api-1")
            .labels(&[("app", "api")])
            .container(container("app").running(at("2025-02-09T10:12:00Z")).restarts(3).last_terminated(
                137,
                "OOMKilled",
                at("2025-02-09T10:06:00Z"),
                at("2025-02-09T10:12:00Z"),
            ))
            .build(),
    );
    cluster.previous_log("shop", "api-1", "app", [line("2025-02-09T10:11:59Z", "killed soon")]);
    cluster.log("shop", "api-1", "app", [line("2025-02-09T10:12:01Z", "started again")]);
    let fake = FakeKube::start(cluster).await;
    let settings = KubernetesSettings {
        targets: vec![postmortemd::config::TargetRule { label: "app".to_owned(), selector: "app={value}".to_owned() }],
        ..every_namespace()
    };
    let collector = collector(&fake, settings).await;
    let scope = scope(&[&[("namespace", "shop"), ("app", "api")]]);
    let first = collector.pass(&scope, &BTreeMap::new()).await;
    assert_eq!(
        log_of(&first, "api-1", "app"),
        "[pod/api-1/app] 2025-02-09T10:11:59.000000000Z killed soon\n[pod/api-1/app] 2025-02-09T10:12:01.000000000Z started again\n"
    );
    let reasons = gap_reasons(&first);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("has restarted 3 times") && reasons[0].contains("before 2025-02-09T10:06:00Z"),
        "{reasons:?}"
    );

    fake.add(pod("shop", "api-2").labels(&[("app", "api")]).container(running("app")).build());
    fake.append_log("shop", "api-2", "app", [line("2025-02-09T10:20:00Z", "new replica")]);
    let second = collector.pass(&scope, &first.cursors).await;
    assert_eq!(pods_of(&second), BTreeSet::from(["api-1".to_owned(), "api-2".to_owned()]));
    assert_eq!(log_of(&second, "api-2", "app"), "[pod/api-2/app] 2025-02-09T10:20:00.000000000Z new replica\n");
    assert_eq!(log_of(&second, "api-1", "app"), "", "nothing twice");
}

/// (kind, name) of every object of a pass but pods and events.
fn changes_of(pass: &Pass) -> BTreeSet<(String, String)> {
    pass.objects
        .iter()
        .filter(|object| object.kind != "Pod" && !object.kind.ends_with("Event") && object.kind != "Node")
        .map(|object| (object.kind.clone(), object.json["metadata"]["name"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn the_changes_of_a_target_namespace_are_listed_and_kept_by_the_window() {
    let mut cluster = one_pod();
    let long_ago = at("2024-06-01T00:00:00Z");
    cluster
        // Created mid-incident by hand: neither a target nor owned by one.
        .add(
            deployment("shop", "mitigation")
                .created(at("2025-02-09T10:12:00Z"))
                .selector(&[("app", "mitigation")])
                .image("app", "shop/mitigation:1")
                .managed_by("kubectl-create", "Update", at("2025-02-09T10:12:00Z"))
                .build(),
        )
        .add(
            replicaset("shop", "mitigation-5d")
                .created(at("2025-02-09T10:12:00Z"))
                .owner_deployment("mitigation")
                .selector(&[("app", "mitigation")])
                .revision(1)
                .build(),
        )
        .add(deployment("shop", "quiet").created(long_ago).selector(&[("app", "quiet")]).build())
        .add(replicaset("shop", "quiet-1").created(long_ago).owner_deployment("quiet").revision(1).build())
        .add(deployment("other", "elsewhere").created(at("2025-02-09T10:12:00Z")).build())
        // A StatefulSet rolled out at 10:05: both revisions are kept, the old one tells what it replaced.
        .add(statefulset("shop", "db").created(long_ago).selector(&[("app", "db")]).build())
        .add(
            controller_revision("shop", "db-6b")
                .owner("StatefulSet", "db")
                .revision(1)
                .image("pg", "postgres:16.1")
                .created(long_ago)
                .build(),
        )
        .add(
            controller_revision("shop", "db-7c")
                .owner("StatefulSet", "db")
                .revision(2)
                .image("pg", "postgres:16.2")
                .created(at("2025-02-09T10:05:00Z"))
                .build(),
        )
        .add(controller_revision("shop", "agent-1").owner("DaemonSet", "agent").revision(1).created(long_ago).build())
        .add(autoscaler("shop", "api", "api", at("2025-02-09T10:14:00Z"), 4, 6))
        .add(autoscaler("shop", "web", "web", long_ago, 2, 2));
    let fake = FakeKube::start(cluster).await;
    let collector = collector(&fake, every_namespace()).await;
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    assert!(pass.gaps.is_empty(), "{:?}", gap_reasons(&pass));
    let expected: BTreeSet<(String, String)> = [
        ("Deployment", "mitigation"),
        ("ReplicaSet", "mitigation-5d"),
        ("ControllerRevision", "db-6b"),
        ("ControllerRevision", "db-7c"),
        ("HorizontalPodAutoscaler", "api"),
    ]
    .iter()
    .map(|(kind, name)| (kind.to_string(), name.to_string()))
    .collect();
    assert_eq!(changes_of(&pass), expected);
    for (group, resource) in [
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("apps", "replicasets"),
        ("apps", "controllerrevisions"),
        ("autoscaling", "horizontalpodautoscalers"),
    ] {
        assert!(
            fake.requests().iter().any(|request| request.verb == "list"
                && request.group == group
                && request.resource == resource
                && request.namespace.as_deref() == Some("shop")
                && request.query.get("limit").map(String::as_str) == Some("500")),
            "list {group}/{resource} in shop, paged"
        );
    }
    assert!(fake.requests().iter().all(|request| request.namespace.as_deref() != Some("other")));
    // draft reads them back as records of the changes.
    let items: Vec<serde_json::Value> = pass.objects.iter().map(|object| object.json.clone()).collect();
    let list = serde_json::to_vec(&serde_json::json!({"kind": "List", "apiVersion": "v1", "items": items})).unwrap();
    let objects = postmortemd::ingest::kubernetes::parse_objects(&list).unwrap();
    let workloads: Vec<&str> = objects.workloads.iter().map(|workload| workload.name.as_str()).collect();
    assert_eq!(workloads, ["mitigation"]);
    assert_eq!(objects.workloads[0].spec_managers[0].0, "kubectl-create");
    let revisions: BTreeSet<(u64, Vec<String>)> =
        objects.revisions.iter().map(|revision| (revision.revision, revision.images.clone())).collect();
    assert_eq!(
        revisions,
        BTreeSet::from([(1, vec!["postgres:16.1".to_owned()]), (2, vec!["postgres:16.2".to_owned()])])
    );
    assert_eq!(objects.autoscalers[0].desired_replicas, Some(6));
    assert_read_only(&fake);
}

#[tokio::test]
async fn a_namespace_with_more_objects_than_the_cap_is_a_gap() {
    let mut cluster = one_pod();
    let cap = postmortemd::collect::kubernetes::MAX_OBJECTS_PER_LIST;
    for index in 0..=cap {
        cluster.add(deployment("shop", &format!("d-{index:05}")).created(at("2025-02-09T10:10:00Z")).build());
    }
    let fake = FakeKube::start(cluster).await;
    let collector = collector(&fake, every_namespace()).await;
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    assert_eq!(
        gap_reasons(&pass),
        vec![format!(
            "kubernetes deployments in shop: namespace shop holds more than {cap} deployments: changes among the rest were not read"
        )]
    );
    let kept = pass.objects.iter().filter(|object| object.kind == "Deployment").count();
    assert_eq!(kept, cap, "the pages read are kept");
}

#[tokio::test]
async fn nodes_of_the_target_pods_with_their_conditions_and_events() {
    let mut cluster = one_pod();
    cluster
        .add(
            node("node-1")
                .condition(
                    "Ready",
                    "False",
                    "KubeletNotReady",
                    "container runtime network not ready",
                    at("2025-02-09T10:15:30Z"),
                )
                .build(),
        )
        .add(node("node-9").build())
        .add(
            core_event("default", "node-1.notready")
                .involved("Node", "node-1")
                .reason("NodeNotReady")
                .message("Node node-1 status is now: NodeNotReady")
                .source("node-controller", "")
                .seen(at("2025-02-09T10:15:31Z"), at("2025-02-09T10:15:31Z"), 1)
                .build(),
        )
        .add(
            core_event("default", "node-9.rebooted")
                .involved("Node", "node-9")
                .reason("Rebooted")
                .warning()
                .seen(at("2025-02-09T10:16:00Z"), at("2025-02-09T10:16:00Z"), 1)
                .build(),
        )
        .add(
            core_event("default", "web.pulled")
                .involved("Pod", "web")
                .reason("Pulled")
                .seen(at("2025-02-09T10:16:00Z"), at("2025-02-09T10:16:00Z"), 1)
                .build(),
        );
    let fake = FakeKube::start(cluster).await;
    let collector = collector(&fake, every_namespace()).await;
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    assert!(pass.gaps.is_empty(), "{:?}", gap_reasons(&pass));
    let nodes: Vec<&serde_json::Value> =
        pass.objects.iter().filter(|object| object.kind == "Node").map(|object| &object.json).collect();
    assert_eq!(nodes.len(), 1, "only the target pod's node");
    assert_eq!(nodes[0]["metadata"]["name"], "node-1");
    assert!(nodes[0]["status"]["images"].is_null(), "a node's images are left out");
    let events: BTreeSet<&str> = pass
        .objects
        .iter()
        .filter(|object| object.kind == "Event")
        .map(|object| object.json["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(events, BTreeSet::from(["node-1.notready"]), "the node's events, not other nodes' or pods'");
    let events_request = fake
        .requests()
        .into_iter()
        .find(|request| request.resource == "events" && request.namespace.as_deref() == Some("default"))
        .expect("the Node events are listed in default");
    assert_eq!(events_request.query.get("fieldSelector").map(String::as_str), Some("involvedObject.kind=Node"));
    // draft reads the condition and the event back.
    let items: Vec<serde_json::Value> = pass.objects.iter().map(|object| object.json.clone()).collect();
    let list = serde_json::to_vec(&serde_json::json!({"kind": "List", "apiVersion": "v1", "items": items})).unwrap();
    let objects = postmortemd::ingest::kubernetes::parse_objects(&list).unwrap();
    let not_ready: Vec<&str> = objects
        .node_conditions
        .iter()
        .filter(|condition| condition.condition == "Ready")
        .map(|condition| condition.status.as_str())
        .collect();
    assert_eq!(not_ready, ["False"]);
    assert_read_only(&fake);

    // A namespaced install may not read nodes: one gap that says so and what grants it.
    fake.forbid("", "nodes", None);
    fake.clear_requests();
    let pass = collector.pass(&target(), &BTreeMap::new()).await;
    assert_eq!(
        gap_reasons(&pass),
        vec![
            "kubernetes nodes: node evidence was not readable: the service account may not get nodes cluster-wide \
             (403): add it to the ClusterRole (overlays/cluster grants it; a namespaced install cannot)"
                .to_owned()
        ]
    );
    assert!(
        !fake.requests().iter().any(|request| request.namespace.as_deref() == Some("default")),
        "no node events without the nodes"
    );
}

/// The shop's pods plus a control-plane pod with a planted secret in its log.
fn shop_and_kube_system() -> Cluster {
    let mut cluster = shop();
    cluster.add(pod("kube-system", "etcd-node1").labels(&[("component", "etcd")]).container(running("etcd")).build());
    cluster.log("kube-system", "etcd-node1", "etcd", [line("2025-02-09T10:01:00Z", "peer auth password=hunter2")]);
    cluster
}

fn confined_to(namespaces: &[&str]) -> KubernetesSettings {
    KubernetesSettings {
        namespaces: namespaces.iter().map(|name| name.to_string()).collect(),
        ..KubernetesSettings::default()
    }
}

/// Requests the fake received in `namespace`, as `verb resource`.
fn requests_in(fake: &FakeKube, namespace: &str) -> Vec<String> {
    fake.requests()
        .iter()
        .filter(|request| request.namespace.as_deref() == Some(namespace))
        .map(|request| format!("{} {}", request.verb, request.resource))
        .collect()
}

/// Issue 14: the webhook's sender chooses the labels, so labels, a cursor of a pod followed
/// before, and `[[kubernetes.services]]` rules never read outside `kubernetes.namespaces`;
/// the refusal is a gap naming the key and the namespace, which the draft shows.
#[tokio::test]
async fn alert_labels_never_read_outside_the_allowed_namespaces() {
    let fake = FakeKube::start(shop_and_kube_system()).await;
    let settings = KubernetesSettings {
        services: vec![postmortemd::config::ServiceRule {
            pagerduty_service: "Control plane".to_owned(),
            namespace: "kube-system".to_owned(),
            selector: "component=etcd".to_owned(),
        }],
        ..confined_to(&["shop"])
    };
    let collector = collector(&fake, settings).await;
    let alerts: &[&[(&str, &str)]] =
        &[&[("namespace", "kube-system"), ("pod", "etcd-node1")], &[("namespace", "shop"), ("pod", "web-1")]];
    let followed = BTreeMap::from([(
        "kube-system/etcd-node1/etcd".to_owned(),
        LogCursor { last_nanos: 0, at_last: 0, restart_count: 0, bytes: 0 },
    )]);
    let pass = collector.pass(&scope(alerts), &followed).await;
    assert_eq!(pods_of(&pass), BTreeSet::from(["web-1".to_owned()]), "{:?}", gap_reasons(&pass));
    let refused = "namespace kube-system is outside kubernetes.namespaces (shop): not read";
    assert_eq!(
        gap_reasons(&pass),
        [
            format!("kubernetes pod kube-system/etcd-node1: {refused}"),
            format!("kubernetes pod kube-system/etcd-node1: {refused}"),
        ],
        "the target and the followed pod, each refused"
    );
    assert!(requests_in(&fake, "kube-system").is_empty(), "{:?}", requests_in(&fake, "kube-system"));
    assert!(!requests_in(&fake, "shop").is_empty());
    assert!(pass.logs.iter().all(|chunk| !String::from_utf8_lossy(&chunk.lines).contains("hunter2")));

    // The draft shows the refusal as a gap row.
    let folder = std::env::temp_dir().join(format!("postmortemd-confined-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("gaps.json"), postmortemd::ingest::gaps::to_json(&pass.gaps, &[])).unwrap();
    let timeline = postmortemd::draft::draft(&postmortemd::draft::DraftOptions {
        paths: vec![folder.clone()],
        window: Some((at("2025-02-09T10:00:00Z"), at("2025-02-09T10:30:00Z"))),
        ..postmortemd::draft::DraftOptions::default()
    })
    .unwrap();
    let gaps: Vec<String> = timeline.gaps.iter().map(|gap| format!("{}: {}", gap.source, gap.reason)).collect();
    assert!(gaps.contains(&format!("kubernetes pod kube-system/etcd-node1: {refused}")), "{gaps:?}");
    let _ = std::fs::remove_dir_all(&folder);

    // A page-only incident whose service rule names kube-system: refused alike.
    let mut page_only = scope(&[]);
    page_only.pagerduty_services = vec!["Control plane".to_owned()];
    let pass = collector.pass(&page_only, &BTreeMap::new()).await;
    assert!(pods_of(&pass).is_empty());
    assert_eq!(gap_reasons(&pass), [format!("kubernetes pods \"component=etcd\" in kube-system: {refused}")]);
    assert!(requests_in(&fake, "kube-system").is_empty(), "{:?}", requests_in(&fake, "kube-system"));
}

/// An alert without a namespace that a selector rule matches lists pods in each allowed
/// namespace, and cluster-wide only with `["*"]`.
#[tokio::test]
async fn selector_rules_list_cluster_wide_only_when_allowed() {
    let cart: &[&[(&str, &str)]] = &[&[("app.kubernetes.io/name", "cart")]];
    let cluster_wide = |fake: &FakeKube| {
        fake.requests().iter().filter(|request| request.resource == "pods" && request.namespace.is_none()).count()
    };

    let fake = FakeKube::start(shop()).await;
    let confined = collector(&fake, confined_to(&["shop"])).await;
    let pass = confined.pass(&scope(cart), &BTreeMap::new()).await;
    assert_eq!(pods_of(&pass), BTreeSet::from(["cart-1".to_owned()]), "{:?}", gap_reasons(&pass));
    assert_eq!(cluster_wide(&fake), 0, "{:#?}", fake.requests());
    assert!(requests_in(&fake, "other").is_empty(), "{:?}", requests_in(&fake, "other"));
    assert!(requests_in(&fake, "shop").contains(&"list pods".to_owned()));

    let fake = FakeKube::start(shop()).await;
    let everywhere = collector(&fake, every_namespace()).await;
    let pass = everywhere.pass(&scope(cart), &BTreeMap::new()).await;
    assert_eq!(pods_of(&pass), BTreeSet::from(["cart-1".to_owned(), "cart-2".to_owned()]));
    assert_eq!(cluster_wide(&fake), 1, "[\"*\"] lists the pods of every namespace at once");
}

/// No list given: the namespace of the collector's own credentials (the kubeconfig's context
/// here; in a pod, its service account's).
#[tokio::test]
async fn by_default_only_the_credentials_namespace_is_read() {
    let mut cluster = shop_and_kube_system();
    cluster.namespace = "shop".to_owned();
    let fake = FakeKube::start(cluster).await;
    let collector = collector(&fake, KubernetesSettings::default()).await;
    let alerts: &[&[(&str, &str)]] =
        &[&[("namespace", "kube-system"), ("pod", "etcd-node1")], &[("namespace", "shop"), ("pod", "web-1")]];
    let pass = collector.pass(&scope(alerts), &BTreeMap::new()).await;
    assert_eq!(pods_of(&pass), BTreeSet::from(["web-1".to_owned()]));
    assert_eq!(
        gap_reasons(&pass),
        [
            "kubernetes pod kube-system/etcd-node1: namespace kube-system is outside kubernetes.namespaces (shop): not read"
        ]
    );
    assert!(requests_in(&fake, "kube-system").is_empty());
}
