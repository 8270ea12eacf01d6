//! The fake Kubernetes API server (`tests/kube_fake/`), checked against the real `kubectl`: if kubectl
//! reads it as a cluster, the collector's tests against it mean something.
//!
//! kubectl is required (`/usr/bin/kubectl`, v1.32 here; `KUBECTL=/path/to/kubectl` picks another); without
//! it these tests fail, naming it.

#[path = "kube_fake/mod.rs"]
mod kube_fake;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use kube_fake::*;
use serde_json::Value;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn line(time: &str, text: &str) -> LogLine {
    LogLine::new(at(time), text.as_bytes().to_vec())
}

/// kubectl pointed at the fake through its own kubeconfig and discovery cache.
struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    fn new(fake: &FakeKube, test: &str) -> Kubectl {
        let folder = std::env::temp_dir().join(format!("postmortemd-kube-fake-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        Kubectl { kubeconfig: fake.kubeconfig(&folder), cache: folder.join("cache") }
    }

    async fn run(&self, args: &[&str]) -> Output {
        // KUBECTL names another binary (another version) to check the fake against.
        let program = std::env::var_os("KUBECTL").unwrap_or_else(|| "kubectl".into());
        let output = tokio::process::Command::new(&program)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .await;
        match output {
            Ok(output) => output,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                panic!("{program:?} is not installed: these tests check the fake API server against the real kubectl")
            }
            Err(error) => panic!("kubectl {args:?}: {error}"),
        }
    }

    /// Runs kubectl, expecting success; returns stdout.
    async fn ok(&self, args: &[&str]) -> Vec<u8> {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args).await;
        serde_json::from_slice(&stdout).unwrap_or_else(|error| panic!("kubectl {args:?}: not JSON ({error})"))
    }

    /// Runs kubectl, expecting failure; returns stderr.
    async fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(!output.status.success(), "kubectl {args:?} succeeded: {}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

/// prod: two api pods (one with two containers, one whose node writes `+02:00`), a web pod, events of
/// both groups, a ReplicaSet owned by a Deployment.
fn cluster() -> Cluster {
    let started = at("2025-02-09T09:00:00Z");
    let mut cluster = Cluster::new();
    cluster.namespace = "prod".to_owned();
    cluster.add(
        pod("prod", "api-1")
            .labels(&[("app", "api"), ("tier", "backend")])
            .node("node-1")
            .owner("ReplicaSet", "api-7d9f8b6c5")
            .container(container("nginx").running(started))
            .build(),
    );
    cluster.add(
        pod("prod", "api-2")
            .labels(&[("app", "api"), ("tier", "backend"), ("canary", "true")])
            .node("node-2")
            .container(container("app").running(started))
            .container(container("sidecar").running(started))
            .build(),
    );
    cluster.add(pod("prod", "web-1").labels(&[("app", "web")]).container(container("web").running(started)).build());
    cluster
        .add(pod("staging", "api-9").labels(&[("app", "api")]).container(container("nginx").running(started)).build());
    cluster.log(
        "prod",
        "api-1",
        "nginx",
        [
            line("2025-02-09T10:00:00.200000000Z", "GET /healthz 200"),
            line("2025-02-09T10:00:00.900000000Z", "GET /api/orders 200"),
            line("2025-02-09T10:00:01.300000000Z", "GET /api/orders 503"),
            line("2025-02-09T10:00:02.700000001Z", "GET /api/orders 500"),
        ],
    );
    cluster.log("prod", "api-2", "app", [line("2025-02-09T10:00:01.5Z", "connection pool exhausted")]);
    cluster.log_offset("prod", "api-2", Offset::constant(2));
    cluster
}

#[tokio::test]
async fn logs_since_time_start_at_that_second_with_nine_digit_stamps() {
    let fake = FakeKube::start(cluster()).await;
    let kubectl = Kubectl::new(&fake, "since");

    let stdout =
        kubectl.ok(&["logs", "api-1", "-c", "nginx", "--since-time=2025-02-09T10:00:01.6Z", "--timestamps"]).await;
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        "2025-02-09T10:00:01.300000000Z GET /api/orders 503\n2025-02-09T10:00:02.700000001Z GET /api/orders 500\n",
        "the apiserver truncates sinceTime to its second"
    );
    let log = fake
        .requests()
        .into_iter()
        .find(|request| request.subresource.as_deref() == Some("log"))
        .expect("kubectl asked for the log");
    assert_eq!((log.verb.as_str(), log.group.as_str(), log.resource.as_str()), ("get", "", "pods"));
    assert_eq!((log.namespace.as_deref(), log.name.as_deref()), (Some("prod"), Some("api-1")));
    assert_eq!(log.query.get("sinceTime").map(String::as_str), Some("2025-02-09T10:00:01Z"));
    assert_eq!(log.query.get("timestamps").map(String::as_str), Some("true"));
    assert_eq!(log.query.get("container").map(String::as_str), Some("nginx"));

    // Without --timestamps the lines come bare; a node writing local time keeps its offset in the stamp.
    let bare = kubectl.ok(&["logs", "api-1", "-c", "nginx", "--since-time=2025-02-09T10:00:02Z"]).await;
    assert_eq!(String::from_utf8_lossy(&bare), "GET /api/orders 500\n");
    // sinceSeconds counts back from the cluster's clock (fixed here, so the test does not race it).
    fake.update(|cluster| cluster.now = Some(at("2025-02-09T10:00:03.250Z")));
    let recent = kubectl.ok(&["logs", "api-1", "-c", "nginx", "--since=2s"]).await;
    assert_eq!(String::from_utf8_lossy(&recent), "GET /api/orders 503\nGET /api/orders 500\n");
    let offset = kubectl.ok(&["logs", "api-2", "-c", "app", "--timestamps"]).await;
    assert_eq!(String::from_utf8_lossy(&offset), "2025-02-09T12:00:01.500000000+02:00 connection pool exhausted\n");
}

/// `kubectl logs -l … --prefix --timestamps` is the form `postmortemd draft` reads (`incident-logs.txt`).
#[tokio::test]
async fn logs_by_selector_with_prefixes() {
    let fake = FakeKube::start(cluster()).await;
    let kubectl = Kubectl::new(&fake, "prefix");

    let stdout = kubectl.ok(&["logs", "-l", "app=api", "--prefix", "--timestamps", "--all-containers"]).await;
    // kubectl reads the pods concurrently: the order between streams is its own.
    let mut lines: Vec<String> = String::from_utf8(stdout).unwrap().lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "[pod/api-1/nginx] 2025-02-09T10:00:00.200000000Z GET /healthz 200",
            "[pod/api-1/nginx] 2025-02-09T10:00:00.900000000Z GET /api/orders 200",
            "[pod/api-1/nginx] 2025-02-09T10:00:01.300000000Z GET /api/orders 503",
            "[pod/api-1/nginx] 2025-02-09T10:00:02.700000001Z GET /api/orders 500",
            "[pod/api-2/app] 2025-02-09T12:00:01.500000000+02:00 connection pool exhausted",
        ]
    );
    let logs: Vec<(String, String)> = fake
        .requests()
        .into_iter()
        .filter(|request| request.subresource.as_deref() == Some("log"))
        .map(|request| (request.name.unwrap_or_default(), request.query.get("container").cloned().unwrap_or_default()))
        .collect();
    assert_eq!(logs.len(), 3, "one log request per container: {logs:?}");
    assert!(logs.contains(&("api-2".to_owned(), "sidecar".to_owned())), "{logs:?}");
}

#[tokio::test]
async fn logs_previous_read_the_last_terminated_instance() {
    let fake = FakeKube::start(cluster()).await;
    let kubectl = Kubectl::new(&fake, "previous");

    let stderr = kubectl.fails(&["logs", "api-1", "-c", "nginx", "--previous"]).await;
    assert_eq!(
        stderr.trim_end(),
        r#"Error from server (BadRequest): previous terminated container "nginx" in pod "api-1" not found"#
    );

    // The container restarts while the fake runs: its lines become the previous instance's.
    assert!(fake.restart_container("prod", "api-1", "nginx", at("2025-02-09T10:00:03Z"), 137, "OOMKilled"));
    fake.append_log("prod", "api-1", "nginx", [line("2025-02-09T10:00:04Z", "started again")]);
    let previous = kubectl.ok(&["logs", "api-1", "-c", "nginx", "--previous", "--tail=2"]).await;
    assert_eq!(String::from_utf8_lossy(&previous), "GET /api/orders 503\nGET /api/orders 500\n");
    let current = kubectl.ok(&["logs", "api-1", "-c", "nginx"]).await;
    assert_eq!(String::from_utf8_lossy(&current), "started again\n");
    let pod = kubectl.json(&["get", "pod", "api-1", "-o", "json"]).await;
    let status = &pod["status"]["containerStatuses"][0];
    assert_eq!(status["restartCount"], 1);
    assert_eq!(status["lastState"]["terminated"]["reason"], "OOMKilled");
    assert_eq!(status["lastState"]["terminated"]["finishedAt"], "2025-02-09T10:00:03Z");
}

#[tokio::test]
async fn logs_of_a_missing_or_deleted_pod_are_not_found() {
    let fake = FakeKube::start(cluster()).await;
    let kubectl = Kubectl::new(&fake, "missing");

    // kubectl logs wraps the Status message (`pods "ghost" not found`) after checking the namespace exists.
    let stderr = kubectl.fails(&["logs", "ghost"]).await;
    assert_eq!(stderr.trim_end(), r#"error: error from server (NotFound): pods "ghost" not found in namespace "prod""#);
    let stderr = kubectl.fails(&["get", "pod", "ghost", "-o", "json"]).await;
    assert_eq!(stderr.trim_end(), r#"Error from server (NotFound): pods "ghost" not found"#);

    assert!(fake.delete_pod("prod", "api-1"));
    let stderr = kubectl.fails(&["logs", "api-1", "-c", "nginx"]).await;
    assert_eq!(stderr.trim_end(), r#"error: error from server (NotFound): pods "api-1" not found in namespace "prod""#);
    let namespace_checks = fake.requests().into_iter().filter(|request| request.resource == "namespaces").count();
    assert!(namespace_checks >= 1, "kubectl checks the namespace of a pod it cannot find");
}

#[tokio::test]
async fn forbidden_logs_answer_the_authorizers_403() {
    let fake = FakeKube::start(cluster()).await;
    let kubectl = Kubectl::new(&fake, "forbidden");
    fake.forbid("", "pods", Some("log"));

    let stderr = kubectl.fails(&["logs", "api-1", "-c", "nginx"]).await;
    assert_eq!(
        stderr.trim_end(),
        r#"Error from server (Forbidden): pods "api-1" is forbidden: User "system:serviceaccount:postmortemd:postmortemd" cannot get resource "pods/log" in API group "" in the namespace "prod""#
    );
    // The pod itself stays readable: only the subresource is forbidden.
    kubectl.ok(&["get", "pod", "api-1", "-o", "json"]).await;

    fake.forbid("apps", "replicasets", None);
    let stderr = kubectl.fails(&["get", "replicasets", "-o", "json"]).await;
    assert_eq!(
        stderr.trim_end(),
        r#"Error from server (Forbidden): replicasets.apps is forbidden: User "system:serviceaccount:postmortemd:postmortemd" cannot list resource "replicasets" in API group "apps" in the namespace "prod""#
    );
}

#[tokio::test]
async fn limit_bytes_counts_the_timestamp_and_may_cut_a_line() {
    let fake = FakeKube::start(cluster()).await;
    let kubectl = Kubectl::new(&fake, "limit");

    let stdout = kubectl.ok(&["logs", "api-1", "-c", "nginx", "--timestamps", "--limit-bytes=60"]).await;
    let whole = "2025-02-09T10:00:00.200000000Z GET /healthz 200\n2025-02-09T10:00:00.900000000Z GET /api/orders 200\n";
    assert_eq!(String::from_utf8(stdout).unwrap(), whole[..60]);
    let stdout = kubectl.ok(&["logs", "api-1", "-c", "nginx", "--timestamps", "--limit-bytes=10"]).await;
    assert_eq!(String::from_utf8_lossy(&stdout), "2025-02-09", "a body can end mid-timestamp");
}

#[tokio::test]
async fn get_pods_by_label_selector() {
    let fake = FakeKube::start(cluster()).await;
    let kubectl = Kubectl::new(&fake, "pods");

    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = kubectl.json(&["get", "pods", "-l", "app=api", "-o", "json"]).await;
    assert_eq!(names(&list), ["api-1", "api-2"], "this namespace only, in name order");
    assert_eq!(list["items"][0]["kind"], "Pod");
    assert_eq!(list["items"][0]["spec"]["nodeName"], "node-1");
    let list = kubectl.json(&["get", "pods", "-l", "tier in (backend,frontend),!canary", "-o", "json"]).await;
    assert_eq!(names(&list), ["api-1"]);
    let list = kubectl.json(&["get", "pods", "-l", "app!=api", "-o", "json"]).await;
    assert_eq!(names(&list), ["web-1"]);
    let list = kubectl.json(&["get", "pods", "-l", "app=api", "-A", "-o", "json"]).await;
    assert_eq!(names(&list), ["api-1", "api-2", "api-9"]);
    let list = kubectl.json(&["get", "pods", "--field-selector", "spec.nodeName=node-2", "-o", "json"]).await;
    assert_eq!(names(&list), ["api-2"]);
    // Pages of one item each, followed through `continue`.
    let list = kubectl.json(&["get", "pods", "--chunk-size=1", "-o", "json"]).await;
    assert_eq!(names(&list), ["api-1", "api-2", "web-1"]);

    let stderr = kubectl.fails(&["get", "pods", "-l", "app in api", "-o", "json"]).await;
    assert!(stderr.contains("unable to parse requirement"), "{stderr}");

    let lists: Vec<Request> = fake.requests().into_iter().filter(|request| request.resource == "pods").collect();
    assert!(lists.iter().all(|request| request.verb == "list" && request.subresource.is_none()), "{lists:?}");
    assert_eq!(lists[0].query.get("labelSelector").map(String::as_str), Some("app=api"));
    assert_eq!(lists[0].namespace.as_deref(), Some("prod"));
    assert!(lists.iter().any(|request| request.namespace.is_none()), "-A lists across namespaces");
    assert!(lists.iter().any(|request| request.query.contains_key("continue")));
}

#[tokio::test]
async fn events_are_served_by_both_groups() {
    let mut cluster = cluster();
    cluster.add(
        core_event("prod", "api-1.17f2a")
            .involved("Pod", "api-1")
            .field_path("spec.containers{nginx}")
            .reason("BackOff")
            .message("Back-off restarting failed container nginx")
            .warning()
            .source("kubelet", "node-1")
            .seen(at("2025-02-09T10:01:00Z"), at("2025-02-09T10:04:00Z"), 7)
            .build(),
    );
    cluster.add(
        new_event("prod", "api-2.17f2b")
            .regarding("Pod", "api-2")
            .reason("FailedScheduling")
            .note("0/3 nodes are available")
            .warning()
            .event_time(at("2025-02-09T10:00:30.123456Z"))
            .series(4, at("2025-02-09T10:02:00.5Z"))
            .build(),
    );
    let fake = FakeKube::start(cluster).await;
    let kubectl = Kubectl::new(&fake, "events");

    let core = kubectl.json(&["get", "events", "-o", "json"]).await;
    let items = core["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let backoff = &items[0];
    assert_eq!(backoff["apiVersion"], "v1");
    assert_eq!(backoff["involvedObject"]["name"], "api-1");
    assert_eq!(backoff["firstTimestamp"], "2025-02-09T10:01:00Z");
    assert_eq!(backoff["lastTimestamp"], "2025-02-09T10:04:00Z");
    assert_eq!(backoff["count"], 7);
    assert_eq!(backoff["eventTime"], Value::Null);
    let scheduling = &items[1];
    assert_eq!(scheduling["eventTime"], "2025-02-09T10:00:30.123456Z");
    assert_eq!(scheduling["series"]["count"], 4);
    assert_eq!(scheduling["series"]["lastObservedTime"], "2025-02-09T10:02:00.500000Z");
    assert_eq!(scheduling["firstTimestamp"], Value::Null);
    assert_eq!(scheduling["message"], "0/3 nodes are available");

    let new = kubectl.json(&["get", "events.v1.events.k8s.io", "-o", "json"]).await;
    let items = new["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(items[0]["metadata"]["uid"], backoff["metadata"]["uid"], "one object, two views");
    assert_eq!(items[0]["regarding"]["name"], "api-1");
    assert_eq!(items[0]["deprecatedCount"], 7);
    assert_eq!(items[0]["deprecatedLastTimestamp"], "2025-02-09T10:04:00Z");
    assert_eq!(items[0]["note"], "Back-off restarting failed container nginx");
    assert_eq!(items[1]["eventTime"], "2025-02-09T10:00:30.123456Z");
    assert_eq!(items[1]["reportingController"], "default-scheduler");

    let selected = kubectl
        .json(&["get", "events", "--field-selector", "involvedObject.name=api-2,involvedObject.kind=Pod", "-o", "json"])
        .await;
    assert_eq!(selected["items"].as_array().unwrap().len(), 1);
    assert_eq!(selected["items"][0]["reason"], "FailedScheduling");
    let selected = kubectl
        .json(&["get", "events.v1.events.k8s.io", "--field-selector", "regarding.name=api-1", "-o", "json"])
        .await;
    assert_eq!(selected["items"].as_array().unwrap().len(), 1);
    assert_eq!(selected["items"][0]["reason"], "BackOff");
    let stderr = kubectl.fails(&["get", "events", "--field-selector", "regarding.name=api-1", "-o", "json"]).await;
    assert!(stderr.contains("field label not supported: regarding.name"), "{stderr}");

    let groups: Vec<(String, String)> = fake
        .requests()
        .into_iter()
        .filter(|request| request.resource == "events")
        .map(|request| (request.verb, request.group))
        .collect();
    assert!(groups.contains(&("list".to_owned(), String::new())));
    assert!(groups.contains(&("list".to_owned(), "events.k8s.io".to_owned())));
}

#[tokio::test]
async fn replicasets_carry_revision_owner_images_and_managers() {
    let mut cluster = cluster();
    cluster.add(
        replicaset("prod", "api-7d9f8b6c5")
            .owner_deployment("api")
            .selector(&[("app", "api"), ("pod-template-hash", "7d9f8b6c5")])
            .image("nginx", "registry.example/api:2.4.1")
            .revision(3)
            .revision_history(&[1])
            .created(at("2025-02-09T09:58:00Z"))
            .managed_by("kube-controller-manager", "Update", at("2025-02-09T09:58:00Z"))
            .build(),
    );
    cluster.add(
        deployment("prod", "api")
            .selector(&[("app", "api")])
            .image("nginx", "registry.example/api:2.4.1")
            .revision(3)
            .build(),
    );
    let fake = FakeKube::start(cluster).await;
    let kubectl = Kubectl::new(&fake, "replicasets");

    let list = kubectl.json(&["get", "replicasets", "-o", "json", "--show-managed-fields"]).await;
    let replicaset = &list["items"][0];
    assert_eq!(replicaset["kind"], "ReplicaSet");
    assert_eq!(replicaset["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    assert_eq!(replicaset["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"], "1");
    assert_eq!(replicaset["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    assert_eq!(replicaset["metadata"]["ownerReferences"][0]["name"], "api");
    assert_eq!(replicaset["metadata"]["creationTimestamp"], "2025-02-09T09:58:00Z");
    assert_eq!(replicaset["metadata"]["managedFields"][0]["manager"], "kube-controller-manager");
    assert_eq!(replicaset["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/api:2.4.1");
    let deployment = kubectl.json(&["get", "deployment", "api", "-o", "json"]).await;
    assert_eq!(deployment["spec"]["selector"]["matchLabels"]["app"], "api");

    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .any(|request| request.verb == "list" && request.group == "apps" && request.resource == "replicasets")
    );
    assert!(requests.iter().any(|request| request.verb == "get"
        && request.group == "apps"
        && request.resource == "deployments"
        && request.name.as_deref() == Some("api")));
}

#[tokio::test]
async fn waiting_and_unscheduled_pods_answer_like_a_cluster() {
    let mut cluster = cluster();
    cluster.add(pod("prod", "new-1").container(container("app").waiting("ContainerCreating")).build());
    cluster.add(pod("prod", "pending-1").unscheduled().container(container("app")).build());
    let fake = FakeKube::start(cluster).await;
    let kubectl = Kubectl::new(&fake, "waiting");

    let stderr = kubectl.fails(&["logs", "new-1"]).await;
    assert_eq!(
        stderr.trim_end(),
        r#"Error from server (BadRequest): container "app" in pod "new-1" is waiting to start: ContainerCreating"#
    );
    let stdout = kubectl.ok(&["logs", "pending-1"]).await;
    assert!(stdout.is_empty(), "a pod not yet scheduled has an empty log");
}

/// The API the way a client library sees it: raw HTTP, status codes, Status bodies, chunked bodies, faults.
#[tokio::test]
async fn http_status_bodies_streams_and_faults() {
    let mut cluster = cluster();
    cluster.log(
        "prod",
        "web-1",
        "web",
        lines_every(
            at("2025-02-09T10:00:00Z"),
            SignedDuration::from_millis(1),
            (0..2_000).map(|index| format!("request {index:05}")),
        ),
    );
    cluster.log("prod", "web-1", "web", [LogLine::new(at("2025-02-09T10:00:03Z"), b"bad \xff\xfe bytes".to_vec())]);
    let fake = FakeKube::start(cluster).await;
    let client = reqwest::Client::new();
    let base = fake.url();

    let response = client.get(format!("{base}/api/v1/namespaces/prod/pods/api-2/log")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(status["code"], 400);
    assert_eq!(status["message"], "a container name must be specified for pod api-2, choose one of: [app sidecar]");

    let response =
        client.get(format!("{base}/api/v1/namespaces/prod/pods/api-2/log?container=nope")).send().await.unwrap();
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["message"], "container nope is not valid for pod api-2");

    let response = client.get(format!("{base}/api/v1/namespaces/prod/pods/ghost")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["details"], serde_json::json!({"name": "ghost", "kind": "pods"}));

    let response = client.get(format!("{base}/api/v1/namespaces/prod/configmaps")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["message"], "the server could not find the requested resource");

    // Lists: kind and apiVersion on the list only, pages through limit/continue.
    let page: Value =
        client.get(format!("{base}/api/v1/namespaces/prod/pods?limit=2")).send().await.unwrap().json().await.unwrap();
    assert_eq!((page["kind"].as_str(), page["apiVersion"].as_str()), (Some("PodList"), Some("v1")));
    assert!(page["items"][0].get("kind").is_none() && page["items"][0].get("apiVersion").is_none());
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    let token = page["metadata"]["continue"].as_str().unwrap();
    let rest: Value = client
        .get(format!("{base}/api/v1/namespaces/prod/pods?limit=2&continue={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"][0]["metadata"]["name"], "web-1");
    assert!(rest["metadata"].get("continue").is_none());

    // A long log comes chunked, as text/plain, with invalid UTF-8 passed through untouched.
    let response =
        client.get(format!("{base}/api/v1/namespaces/prod/pods/web-1/log?timestamps=true")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    assert_eq!(response.headers()["content-type"], "text/plain");
    let body = response.bytes().await.unwrap();
    assert_eq!(body.iter().filter(|byte| **byte == b'\n').count(), 2_001);
    assert!(body.ends_with(b"2025-02-09T10:00:03.000000000Z bad \xff\xfe bytes\n"));

    // A dropped stream: the client gets the first bytes, then an error instead of the body's end.
    fake.truncate_log("prod", "web-1", None, 5_000);
    let mut response = client.get(format!("{base}/api/v1/namespaces/prod/pods/web-1/log")).send().await.unwrap();
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the truncated stream ended properly after {} bytes", received.len()),
            Err(error) => break error,
        }
    };
    assert_eq!(received.len(), 5_000, "{error}");
    assert_eq!(&received[..12], b"request 0000");

    // A stalled stream: the first bytes, then silence on an open connection.
    fake.clear_faults();
    fake.stall_log("prod", "web-1", Some("web"), 3_000);
    let mut response =
        client.get(format!("{base}/api/v1/namespaces/prod/pods/web-1/log?container=web")).send().await.unwrap();
    let mut received = Vec::new();
    while received.len() < 3_000 {
        match response.chunk().await.unwrap() {
            Some(chunk) => received.extend_from_slice(&chunk),
            None => panic!("the stalled stream ended after {} bytes", received.len()),
        }
    }
    assert_eq!(received.len(), 3_000);
    let next = tokio::time::timeout(Duration::from_millis(300), response.chunk()).await;
    assert!(next.is_err(), "a stalled stream neither ends nor sends more: {next:?}");
    fake.clear_faults();

    // The first K answers fail, then the path works again.
    let path = "/api/v1/namespaces/prod/pods";
    fake.fail_first(path, 500, 2);
    for _ in 0..2 {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 500);
        let status: Value = response.json().await.unwrap();
        assert_eq!(status["reason"], "InternalError");
    }
    assert_eq!(client.get(format!("{base}{path}")).send().await.unwrap().status(), 200);
    fake.fail_first(path, 429, 1);
    let response = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(client.get(format!("{base}{path}")).send().await.unwrap().status(), 200);

    fake.bad_gateway(path);
    let response = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], "text/html");
    assert!(serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).is_err());
    fake.clear_faults();

    let delay = Duration::from_millis(200);
    fake.delay(Some(delay));
    let started = std::time::Instant::now();
    assert_eq!(client.get(format!("{base}{path}")).send().await.unwrap().status(), 200);
    assert!(started.elapsed() >= delay);
    fake.delay(None);
    fake.delay_path("/api/v1/namespaces/prod/pods/api-1/log", Some(delay));
    let started = std::time::Instant::now();
    let response = client.get(format!("{base}/api/v1/namespaces/prod/pods/api-1/log")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() >= delay);
    fake.delay_path("/api/v1/namespaces/prod/pods/api-1/log", None);

    // Verbs as the authorizer maps them.
    fake.clear_requests();
    for url in [
        format!("{base}/api/v1/namespaces/prod/pods"),
        format!("{base}/api/v1/namespaces/prod/pods?watch=true"),
        format!("{base}/api/v1/namespaces/prod/pods/api-1"),
        format!("{base}/api/v1/namespaces/prod/pods/api-1/log?container=nginx"),
        format!("{base}/apis/apps/v1/daemonsets"),
    ] {
        client.get(url).send().await.unwrap().bytes().await.unwrap();
    }
    let seen: Vec<(String, String, String, Option<String>)> = fake
        .requests()
        .into_iter()
        .map(|request| (request.verb, request.group, request.resource, request.subresource))
        .collect();
    let expected = [
        ("list", "", "pods", None),
        ("watch", "", "pods", None),
        ("get", "", "pods", None),
        ("get", "", "pods", Some("log")),
        ("list", "apps", "daemonsets", None),
    ];
    let expected: Vec<(String, String, String, Option<String>)> = expected
        .iter()
        .map(|(verb, group, resource, subresource)| {
            (verb.to_string(), group.to_string(), resource.to_string(), subresource.map(str::to_owned))
        })
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn workloads_services_and_jobs_select_their_pods() {
    let started = at("2025-02-09T09:00:00Z");
    let mut cluster = Cluster::new();
    cluster.namespace = "shop".to_owned();
    for (name, restarts) in [("shop-a", 0), ("shop-b", 3)] {
        cluster.add(
            pod("shop", name)
                .labels(&[("app", "shop")])
                .created(started)
                .container(container("app").running(started).restarts(restarts))
                .build(),
        );
        cluster.log("shop", name, "app", [line("2025-02-09T10:00:00Z", &format!("hello from {name}"))]);
    }
    cluster.add(deployment("shop", "shop").selector(&[("app", "shop")]).image("app", "shop:1").build());
    cluster.add(statefulset("shop", "db").selector(&[("app", "db")]).image("postgres", "postgres:17").build());
    cluster.add(daemonset("shop", "agent").selector(&[("app", "agent")]).image("agent", "agent:2").build());
    cluster.add(service("shop", "shop", &[("app", "shop")]));
    cluster.add(job("shop", "migrate").selector(&[("job-name", "migrate")]).image("migrate", "shop:1").build());
    let fake = FakeKube::start(cluster).await;
    let kubectl = Kubectl::new(&fake, "workloads");

    let list = kubectl.json(&["get", "statefulsets,daemonsets,services,jobs", "-o", "json"]).await;
    let kinds: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["kind"].as_str().unwrap().to_owned(), item["metadata"]["name"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("StatefulSet", "db"), ("DaemonSet", "agent"), ("Service", "shop"), ("Job", "migrate")];
    assert_eq!(kinds, expected.map(|(kind, name)| (kind.to_owned(), name.to_owned())));
    assert_eq!(list["items"][2]["spec"]["selector"]["app"], "shop", "a Service's selector is a plain map");
    assert_eq!(list["items"][0]["spec"]["selector"]["matchLabels"]["app"], "db");

    // kubectl resolves a Deployment to its pods by the selector and reads the one with most restarts.
    let stdout = kubectl.ok(&["logs", "deployment/shop"]).await;
    assert_eq!(String::from_utf8_lossy(&stdout), "hello from shop-b\n");
    let requests = fake.requests();
    let list = requests
        .iter()
        .find(|request| request.resource == "pods" && request.verb == "list")
        .expect("kubectl listed the Deployment's pods");
    assert_eq!(list.query.get("labelSelector").map(String::as_str), Some("app=shop"));
    for resource in ["statefulsets", "daemonsets", "services", "jobs"] {
        assert!(
            requests.iter().any(|request| request.verb == "list" && request.resource == resource),
            "{resource} listed: {requests:?}"
        );
    }
}

#[tokio::test]
async fn revisions_autoscalers_and_nodes_answer_like_a_cluster() {
    let mut cluster = cluster();
    cluster
        .add(
            controller_revision("prod", "db-6b5f")
                .owner("StatefulSet", "db")
                .revision(1)
                .image("pg", "postgres:16.1")
                .created(at("2025-01-20T08:00:00Z"))
                .build(),
        )
        .add(
            controller_revision("prod", "db-7c9d")
                .owner("StatefulSet", "db")
                .revision(2)
                .image("pg", "postgres:16.2")
                .created(at("2025-02-09T10:05:00Z"))
                .build(),
        )
        .add(autoscaler("prod", "api", "api", at("2025-02-09T10:14:00Z"), 4, 6))
        .add(
            node("node-2")
                .condition("Ready", "False", "KubeletNotReady", "PLEG is not healthy", at("2025-02-09T10:15:30Z"))
                .build(),
        )
        .add(
            core_event("default", "node-2.notready")
                .involved("Node", "node-2")
                .reason("NodeNotReady")
                .source("node-controller", "")
                .seen(at("2025-02-09T10:15:31Z"), at("2025-02-09T10:15:31Z"), 1)
                .build(),
        );
    let fake = FakeKube::start(cluster).await;
    let kubectl = Kubectl::new(&fake, "changes");

    let revisions = kubectl.json(&["get", "controllerrevisions", "-n", "prod", "-o", "json"]).await;
    let items = revisions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["kind"], "ControllerRevision");
    assert_eq!(items[1]["revision"], 2);
    assert_eq!(items[1]["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    assert_eq!(items[1]["data"]["spec"]["template"]["spec"]["containers"][0]["image"], "postgres:16.2");
    // Paged as kubectl pages (`--chunk-size`): every item, once.
    let paged = kubectl.json(&["get", "controllerrevisions", "-n", "prod", "--chunk-size", "1", "-o", "json"]).await;
    assert_eq!(paged["items"].as_array().unwrap().len(), 2);

    // `hpa` is a short name discovery gives; autoscaling/v2 is the group's version.
    let autoscalers = kubectl.json(&["get", "hpa", "-n", "prod", "-o", "json"]).await;
    let autoscaler = &autoscalers["items"][0];
    assert_eq!(autoscaler["apiVersion"], "autoscaling/v2");
    assert_eq!(autoscaler["spec"]["scaleTargetRef"]["name"], "api");
    assert_eq!(autoscaler["status"]["lastScaleTime"], "2025-02-09T10:14:00Z");
    assert_eq!(autoscaler["status"]["desiredReplicas"], 6);

    // Nodes are cluster-scoped: every node a pod names, the planted one as planted.
    let nodes = kubectl.json(&["get", "nodes", "-o", "json"]).await;
    let names: Vec<&str> =
        nodes["items"].as_array().unwrap().iter().map(|node| node["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["node-1", "node-2"]);
    let node = kubectl.json(&["get", "node", "node-2", "-o", "json"]).await;
    assert!(node["metadata"]["namespace"].is_null());
    let ready =
        node["status"]["conditions"].as_array().unwrap().iter().find(|condition| condition["type"] == "Ready").unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["lastTransitionTime"].as_str()),
        (Some("False"), Some("2025-02-09T10:15:30Z"))
    );
    let cordoned = kubectl.json(&["get", "nodes", "--field-selector", "spec.unschedulable=false", "-o", "json"]).await;
    assert_eq!(cordoned["items"].as_array().unwrap().len(), 2);
    // Node events live in `default`, found by the involved object's kind.
    let events = kubectl
        .json(&["get", "events", "-n", "default", "--field-selector", "involvedObject.kind=Node", "-o", "json"])
        .await;
    assert_eq!(events["items"][0]["reason"], "NodeNotReady");
    assert!(fake.requests().iter().any(|request| request.resource == "nodes" && request.namespace.is_none()));

    // A namespaced install: the authorizer's 403 at the cluster scope.
    fake.forbid("", "nodes", None);
    let stderr = kubectl.fails(&["get", "node", "node-2", "-o", "json"]).await;
    assert_eq!(
        stderr.trim_end(),
        r#"Error from server (Forbidden): nodes "node-2" is forbidden: User "system:serviceaccount:postmortemd:postmortemd" cannot get resource "nodes" in API group "" at the cluster scope"#
    );
    let stderr = kubectl.fails(&["get", "nodes"]).await;
    assert!(stderr.contains(r#"cannot list resource "nodes" in API group "" at the cluster scope"#), "{stderr}");
}
