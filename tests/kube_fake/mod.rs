//! A fake Kubernetes API server for tests: real paths, query parameters, list shapes and `Status` errors
//! over loopback HTTP, checked against the real `kubectl` by `tests/kube_fake.rs`.
//!
//! It serves what the collector reads (pods and their logs, events of both groups, ReplicaSets,
//! Deployments, StatefulSets, DaemonSets, ControllerRevisions, HorizontalPodAutoscalers
//! (autoscaling/v2), Services, Jobs, and the cluster-scoped Nodes: every node a pod names exists,
//! Ready since the epoch, unless a test adds its own) and the discovery documents kubectl needs,
//! records every request the way the apiserver's authorizer sees it (verb, group, resource,
//! subresource), and injects faults (403, delays, dropped log streams, 5xx/429 a number of times,
//! a proxy's non-JSON 502). Writes are not served. Include it with
//! `#[path = "kube_fake/mod.rs"] mod kube_fake;` (from an example: `"../tests/kube_fake/mod.rs"`);
//! it uses only the package's dependencies and dev-dependencies.
//!
//! ```ignore
//! let mut cluster = Cluster::new();
//! cluster.namespace = "prod".to_owned(); // the kubeconfig's namespace
//! cluster.add(pod("prod", "api-1").labels(&[("app", "api")]).container(container("nginx").running(t)).build());
//! cluster.log("prod", "api-1", "nginx", [LogLine::new(t, b"GET / 200".to_vec())]);
//! cluster.add(core_event("prod", "api-1.1").involved("Pod", "api-1").reason("BackOff").seen(t, t, 3).build());
//! let fake = FakeKube::start(cluster).await;
//! let kubeconfig = fake.kubeconfig(&dir); // or fake.url() for a hand-made client config
//! fake.restart_container("prod", "api-1", "nginx", t2, 137, "OOMKilled"); // while it runs
//! fake.forbid("", "pods", Some("log"));
//! assert!(fake.requests().iter().any(|request| request.subresource.as_deref() == Some("log")));
//! ```
//!
//! Checked against kube-rs 5.0 by hand as well: lists (with `limit`/`continue`), `log_stream`, the Status
//! errors (`Error::Api`), its own retries of 503, and a non-JSON 502 (`reason: "Failed to parse error data"`).
//! Not served: writes, `follow=true` streams that stay open (the body ends with the lines present), watch
//! events (a watch answers 200 and ends at once), Table output, protobuf, aggregated discovery (kubectl
//! falls back to the per-group documents, as against an older server).
#![allow(dead_code)]

pub mod builders;
pub mod checkout;
pub mod logs;
pub mod selector;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::Offset;
use serde_json::{Value, json};

// Re-exports for the includers; an includer that uses none of some must still build warning-free.
#[allow(unused_imports)]
pub use builders::*;
#[allow(unused_imports)]
pub use logs::{LogLine, LogOptions, lines_every};
#[allow(unused_imports)]
pub use selector::{FieldSelector, LabelSelector};

use logs::{ContainerLogs, Render};

/// One request as the apiserver's authorizer would see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `get` (a named object or subresource), `list` (a collection) or `watch` (`watch=true`);
    /// other methods keep their RBAC verb (`create`, `update`, `patch`, `delete`).
    pub verb: String,
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub query: BTreeMap<String, String>,
}

/// A resource the fake serves, with what discovery says about it.
struct Kind {
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
}

const KINDS: &[Kind] = &[
    Kind {
        group: "",
        version: "v1",
        resource: "namespaces",
        kind: "Namespace",
        singular: "namespace",
        short_names: &["ns"],
    },
    Kind { group: "", version: "v1", resource: "pods", kind: "Pod", singular: "pod", short_names: &["po"] },
    Kind { group: "", version: "v1", resource: "events", kind: "Event", singular: "event", short_names: &["ev"] },
    Kind {
        group: "",
        version: "v1",
        resource: "services",
        kind: "Service",
        singular: "service",
        short_names: &["svc"],
    },
    Kind {
        group: "apps",
        version: "v1",
        resource: "deployments",
        kind: "Deployment",
        singular: "deployment",
        short_names: &["deploy"],
    },
    Kind {
        group: "apps",
        version: "v1",
        resource: "replicasets",
        kind: "ReplicaSet",
        singular: "replicaset",
        short_names: &["rs"],
    },
    Kind {
        group: "apps",
        version: "v1",
        resource: "statefulsets",
        kind: "StatefulSet",
        singular: "statefulset",
        short_names: &["sts"],
    },
    Kind {
        group: "apps",
        version: "v1",
        resource: "daemonsets",
        kind: "DaemonSet",
        singular: "daemonset",
        short_names: &["ds"],
    },
    Kind {
        group: "apps",
        version: "v1",
        resource: "controllerrevisions",
        kind: "ControllerRevision",
        singular: "controllerrevision",
        short_names: &[],
    },
    Kind {
        group: "autoscaling",
        version: "v2",
        resource: "horizontalpodautoscalers",
        kind: "HorizontalPodAutoscaler",
        singular: "horizontalpodautoscaler",
        short_names: &["hpa"],
    },
    Kind { group: "", version: "v1", resource: "nodes", kind: "Node", singular: "node", short_names: &["no"] },
    Kind { group: "batch", version: "v1", resource: "jobs", kind: "Job", singular: "job", short_names: &[] },
    Kind {
        group: "events.k8s.io",
        version: "v1",
        resource: "events",
        kind: "Event",
        singular: "event",
        short_names: &["ev"],
    },
];

const GROUPS: &[(&str, &str)] = &[("apps", "v1"), ("autoscaling", "v2"), ("batch", "v1"), ("events.k8s.io", "v1")];

/// Resources that live outside namespaces (stored with namespace `""`).
fn cluster_scoped(resource: &str) -> bool {
    matches!(resource, "namespaces" | "nodes")
}

fn find_kind(group: &str, version: &str, resource: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|kind| kind.group == group && kind.version == version && kind.resource == resource)
}

fn group_of(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// An object as stored: where it lives and its JSON. Events of both groups are stored once, in the
/// core/v1 shape, and converted for events.k8s.io/v1, as the apiserver does.
#[derive(Clone, Debug)]
struct Stored {
    group: String,
    resource: String,
    namespace: String,
    name: String,
    value: Value,
}

/// The cluster's contents: objects, container logs, and how the nodes write log timestamps.
#[derive(Clone, Debug)]
pub struct Cluster {
    objects: Vec<Stored>,
    logs: BTreeMap<(String, String, String), ContainerLogs>,
    log_offsets: BTreeMap<(String, String), Offset>,
    /// The kubeconfig's namespace.
    pub namespace: String,
    /// The user named in 403 messages.
    pub user: String,
    /// The clock `sinceSeconds` counts back from; `None` is the wall clock.
    pub now: Option<Timestamp>,
    resource_version: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster::new()
    }
}

impl Cluster {
    pub fn new() -> Cluster {
        Cluster {
            objects: Vec::new(),
            logs: BTreeMap::new(),
            log_offsets: BTreeMap::new(),
            namespace: "default".to_owned(),
            user: "system:serviceaccount:postmortemd:postmortemd".to_owned(),
            now: None,
            resource_version: 1000,
        }
    }

    /// Adds (or replaces) an object built by one of the builders (or any JSON in an API shape).
    ///
    /// # Panics
    /// On an object whose `apiVersion`/`kind` the fake does not serve, or without name or namespace:
    /// a mistake in the test, not input.
    pub fn add(&mut self, object: Value) -> &mut Self {
        let api_version = object["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind_name = object["kind"].as_str().unwrap_or_default().to_owned();
        let (group, version) = group_of(&api_version);
        let kind = KINDS
            .iter()
            .find(|kind| kind.group == group && kind.version == version && kind.kind == kind_name)
            .unwrap_or_else(|| panic!("the fake does not serve {api_version} {kind_name}"));
        let mut value = if group == "events.k8s.io" { event_to_core(&object) } else { object };
        let group = if kind.resource == "events" { "" } else { kind.group };
        let namespace = if cluster_scoped(kind.resource) {
            String::new()
        } else {
            value["metadata"]["namespace"].as_str().expect("object has metadata.namespace").to_owned()
        };
        let name = value["metadata"]["name"].as_str().expect("object has metadata.name").to_owned();
        self.resource_version += 1;
        value["metadata"]["resourceVersion"] = Value::String(self.resource_version.to_string());
        if value["metadata"]["uid"].is_null() {
            value["metadata"]["uid"] = Value::String(uid_for(kind.resource, &namespace, &name));
        }
        self.objects.retain(|stored| {
            !(stored.group == group
                && stored.resource == kind.resource
                && stored.namespace == namespace
                && stored.name == name)
        });
        self.objects.push(Stored {
            group: group.to_owned(),
            resource: kind.resource.to_owned(),
            namespace,
            name,
            value,
        });
        self
    }

    /// Removes an object; `false` when there was none. An event is one object whichever group names it.
    pub fn delete(&mut self, group: &str, resource: &str, namespace: &str, name: &str) -> bool {
        let group = if resource == "events" { "" } else { group };
        let before = self.objects.len();
        self.objects.retain(|stored| {
            !(stored.group == group
                && stored.resource == resource
                && stored.namespace == namespace
                && stored.name == name)
        });
        self.resource_version += 1;
        before != self.objects.len()
    }

    /// Deletes a pod and its logs: from now on the pod and its log answer 404.
    pub fn delete_pod(&mut self, namespace: &str, name: &str) -> bool {
        self.logs.retain(|(log_namespace, pod, _), _| !(log_namespace == namespace && pod == name));
        self.delete("", "pods", namespace, name)
    }

    /// Appends lines to a container's current log.
    pub fn log(
        &mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        lines: impl IntoIterator<Item = LogLine>,
    ) -> &mut Self {
        let logs = self.logs.entry((namespace.to_owned(), pod.to_owned(), container.to_owned())).or_default();
        Arc::make_mut(&mut logs.current).extend(lines);
        self
    }

    /// Sets the log of the container's last terminated instance (`previous=true`).
    pub fn previous_log(
        &mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        lines: impl IntoIterator<Item = LogLine>,
    ) -> &mut Self {
        self.logs.entry((namespace.to_owned(), pod.to_owned(), container.to_owned())).or_default().previous =
            Arc::new(lines.into_iter().collect());
        self
    }

    /// The node of this pod writes log timestamps with a numeric offset (`+02:00`) instead of `Z`.
    pub fn log_offset(&mut self, namespace: &str, pod: &str, offset: Offset) -> &mut Self {
        self.log_offsets.insert((namespace.to_owned(), pod.to_owned()), offset);
        self
    }

    /// The container restarted at `at`: its restart count goes up, its status gets `lastState.terminated`
    /// (exit code and reason) and a new running state, and its current lines become the previous log.
    pub fn restart_container(
        &mut self,
        namespace: &str,
        pod: &str,
        container: &str,
        at: Timestamp,
        exit_code: i32,
        reason: &str,
    ) -> bool {
        let Some(stored) = self.find_mut("", "pods", namespace, pod) else {
            return false;
        };
        let uid = stored.value["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
        let Some(statuses) = stored.value["status"]["containerStatuses"].as_array_mut() else {
            return false;
        };
        let Some(status) = statuses.iter_mut().find(|status| status["name"] == container) else {
            return false;
        };
        let restarts = status["restartCount"].as_u64().unwrap_or(0) + 1;
        let started_at = status["state"]["running"]["startedAt"].clone();
        let old_id = status["containerID"].clone();
        status["lastState"] = json!({"terminated": {
            "exitCode": exit_code, "reason": reason, "startedAt": started_at,
            "finishedAt": time_secs(at), "containerID": old_id,
        }});
        status["state"] = json!({"running": {"startedAt": time_secs(at)}});
        status["restartCount"] = json!(restarts);
        status["containerID"] = Value::String(format!("containerd://{uid}-{container}-{restarts}"));
        self.resource_version += 1;
        let logs = self.logs.entry((namespace.to_owned(), pod.to_owned(), container.to_owned())).or_default();
        logs.previous = std::mem::take(&mut logs.current);
        true
    }

    fn find(&self, group: &str, resource: &str, namespace: &str, name: &str) -> Option<&Stored> {
        self.objects.iter().find(|stored| {
            stored.group == group && stored.resource == resource && stored.namespace == namespace && stored.name == name
        })
    }

    fn find_mut(&mut self, group: &str, resource: &str, namespace: &str, name: &str) -> Option<&mut Stored> {
        self.objects.iter_mut().find(|stored| {
            stored.group == group && stored.resource == resource && stored.namespace == namespace && stored.name == name
        })
    }

    /// The namespaces that exist: `default`, `kube-system`, the kubeconfig's and every object's.
    pub fn namespaces(&self) -> BTreeSet<String> {
        let mut namespaces: BTreeSet<String> = self.objects.iter().map(|stored| stored.namespace.clone()).collect();
        namespaces.extend(["default".to_owned(), "kube-system".to_owned(), self.namespace.clone()]);
        namespaces
    }

    /// The nodes pods run on that no test added: each a Ready node since the epoch.
    fn implied_nodes(&self) -> Vec<Stored> {
        let named: BTreeSet<&str> = self
            .objects
            .iter()
            .filter(|stored| stored.resource == "pods")
            .filter_map(|stored| stored.value["spec"]["nodeName"].as_str())
            .collect();
        named
            .into_iter()
            .filter(|name| self.find("", "nodes", "", name).is_none())
            .map(|name| {
                let mut value = builders::node(name).build();
                value["metadata"]["resourceVersion"] = json!("1");
                Stored {
                    group: String::new(),
                    resource: "nodes".to_owned(),
                    namespace: String::new(),
                    name: name.to_owned(),
                    value,
                }
            })
            .collect()
    }

    fn namespace_objects(&self) -> Vec<Stored> {
        self.namespaces()
            .into_iter()
            .map(|name| Stored {
                group: String::new(),
                resource: "namespaces".to_owned(),
                namespace: String::new(),
                value: json!({"kind": "Namespace", "apiVersion": "v1",
                    "metadata": {"name": name, "uid": uid_for("namespace", "", &name), "resourceVersion": "1",
                                 "creationTimestamp": time_secs(Timestamp::UNIX_EPOCH),
                                 "labels": {"kubernetes.io/metadata.name": name}},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
                name,
            })
            .collect()
    }

    /// The stored object as a `GET` would return it (events.k8s.io events converted), if any.
    pub fn get(&self, api_version: &str, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let (group, _) = group_of(api_version);
        let storage_group = if resource == "events" { "" } else { group };
        if resource == "namespaces" {
            return self.namespace_objects().into_iter().find(|stored| stored.name == name).map(|stored| stored.value);
        }
        if resource == "nodes" && self.find("", "nodes", "", name).is_none() {
            return self.implied_nodes().into_iter().find(|stored| stored.name == name).map(|stored| stored.value);
        }
        let stored = self.find(storage_group, resource, namespace, name)?;
        Some(if group == "events.k8s.io" { event_to_new(&stored.value) } else { stored.value.clone() })
    }
}

/// core/v1 Event → events.k8s.io/v1 Event: the same object under the newer field names.
fn event_to_new(core: &Value) -> Value {
    let mut event = json!({
        "kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": core["metadata"],
        "eventTime": core["eventTime"], "regarding": core["involvedObject"],
        "deprecatedSource": if core["source"].is_object() { core["source"].clone() } else { json!({}) },
        "deprecatedFirstTimestamp": core["firstTimestamp"], "deprecatedLastTimestamp": core["lastTimestamp"],
    });
    for (from, to) in [
        ("series", "series"),
        ("reportingComponent", "reportingController"),
        ("reportingInstance", "reportingInstance"),
        ("action", "action"),
        ("reason", "reason"),
        ("related", "related"),
        ("message", "note"),
        ("type", "type"),
        ("count", "deprecatedCount"),
    ] {
        let value = &core[from];
        let empty = value.is_null() || value == "" || value == 0;
        if !empty {
            event[to] = value.clone();
        }
    }
    event
}

/// events.k8s.io/v1 Event → the core/v1 shape it is stored in.
fn event_to_core(new: &Value) -> Value {
    let mut event = json!({
        "kind": "Event", "apiVersion": "v1", "metadata": new["metadata"],
        "involvedObject": new["regarding"], "reason": new["reason"].as_str().unwrap_or(""),
        "source": if new["deprecatedSource"].is_object() { new["deprecatedSource"].clone() } else { json!({}) },
        "firstTimestamp": new["deprecatedFirstTimestamp"], "lastTimestamp": new["deprecatedLastTimestamp"],
        "eventTime": new["eventTime"],
        "reportingComponent": new["reportingController"].as_str().unwrap_or(""),
        "reportingInstance": new["reportingInstance"].as_str().unwrap_or(""),
    });
    for (from, to) in [
        ("series", "series"),
        ("action", "action"),
        ("related", "related"),
        ("note", "message"),
        ("type", "type"),
        ("deprecatedCount", "count"),
    ] {
        if !new[from].is_null() {
            event[to] = new[from].clone();
        }
    }
    event
}

/// What goes wrong with a log stream after some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LogFault {
    /// The connection drops without the chunked body's end.
    Drop(usize),
    /// The stream stays open and silent, as a hung kubelet's does.
    Stall(usize),
}

/// Faults injected while the fake runs.
#[derive(Clone, Debug, Default)]
struct Faults {
    forbidden: BTreeSet<(String, String, Option<String>)>,
    delay: Option<Duration>,
    /// path → extra delay for that path only.
    path_delays: BTreeMap<String, Duration>,
    /// (namespace, pod, container or any) → what goes wrong with its log stream.
    log_faults: BTreeMap<(String, String, Option<String>), LogFault>,
    /// path → (status, answers left).
    fail_first: BTreeMap<String, (u16, u32)>,
    bad_gateway: BTreeSet<String>,
}

#[derive(Debug)]
struct Inner {
    cluster: Cluster,
    faults: Faults,
    requests: Vec<Request>,
    discovery: Vec<String>,
}

/// A handle on the running fake: change the cluster, inject faults, read the recorded requests.
#[derive(Clone, Debug)]
pub struct Handle {
    inner: Arc<Mutex<Inner>>,
}

impl Handle {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock poisons it; the data is still what it was.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the cluster in any way `Cluster` allows. The fake is locked meanwhile: call no other
    /// method of the handle inside `change`.
    pub fn update<T>(&self, change: impl FnOnce(&mut Cluster) -> T) -> T {
        change(&mut self.lock().cluster)
    }

    pub fn add(&self, object: Value) {
        self.update(|cluster| {
            cluster.add(object);
        });
    }

    pub fn delete_pod(&self, namespace: &str, name: &str) -> bool {
        self.update(|cluster| cluster.delete_pod(namespace, name))
    }

    pub fn append_log(&self, namespace: &str, pod: &str, container: &str, lines: impl IntoIterator<Item = LogLine>) {
        self.update(|cluster| {
            cluster.log(namespace, pod, container, lines);
        });
    }

    pub fn restart_container(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        at: Timestamp,
        exit_code: i32,
        reason: &str,
    ) -> bool {
        self.update(|cluster| cluster.restart_container(namespace, pod, container, at, exit_code, reason))
    }

    /// Every resource request so far, in arrival order (discovery requests are kept apart).
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Paths of the discovery requests (`/api`, `/apis/apps/v1`, `/version`) so far.
    pub fn discovery_requests(&self) -> Vec<String> {
        self.lock().discovery.clone()
    }

    pub fn clear_requests(&self) {
        let mut inner = self.lock();
        inner.requests.clear();
        inner.discovery.clear();
    }

    /// Waits (polling, bounded by `patience`) until a recorded request satisfies `wanted`.
    pub async fn wait_for_request(&self, patience: Duration, wanted: impl Fn(&Request) -> bool) -> Option<Request> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if let Some(request) = self.lock().requests.iter().find(|request| wanted(request)) {
                return Some(request.clone());
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Answers 403 Forbidden to every request on (group, resource, subresource), e.g. `("", "pods", Some("log"))`.
    pub fn forbid(&self, group: &str, resource: &str, subresource: Option<&str>) {
        self.lock().faults.forbidden.insert((group.to_owned(), resource.to_owned(), subresource.map(str::to_owned)));
    }

    pub fn allow(&self, group: &str, resource: &str, subresource: Option<&str>) {
        self.lock().faults.forbidden.remove(&(group.to_owned(), resource.to_owned(), subresource.map(str::to_owned)));
    }

    /// Delays every response by `delay` (`None`: no delay).
    pub fn delay(&self, delay: Option<Duration>) {
        self.lock().faults.delay = delay;
    }

    /// Delays the responses for one `path` (no query) by `delay`, on top of any global delay.
    pub fn delay_path(&self, path: &str, delay: Option<Duration>) {
        let mut inner = self.lock();
        match delay {
            Some(delay) => inner.faults.path_delays.insert(path.to_owned(), delay),
            None => inner.faults.path_delays.remove(path),
        };
    }

    /// Drops the connection after `bytes` of this pod's log body (of one container, or any), without the
    /// chunked body's proper end; a body shorter than that is sent whole, then dropped the same way.
    pub fn truncate_log(&self, namespace: &str, pod: &str, container: Option<&str>, bytes: usize) {
        self.lock()
            .faults
            .log_faults
            .insert((namespace.to_owned(), pod.to_owned(), container.map(str::to_owned)), LogFault::Drop(bytes));
    }

    /// Sends `bytes` of this pod's log body, then keeps the stream open and silent (for 10 minutes, or
    /// until the client gives up): what a client's read timeout is for.
    pub fn stall_log(&self, namespace: &str, pod: &str, container: Option<&str>, bytes: usize) {
        self.lock()
            .faults
            .log_faults
            .insert((namespace.to_owned(), pod.to_owned(), container.map(str::to_owned)), LogFault::Stall(bytes));
    }

    /// Answers the next `times` requests for `path` (no query) with `status` as a Status: 429 (with
    /// `Retry-After: 1`), 503, 504, or anything else as a 500-style InternalError with that code.
    pub fn fail_first(&self, path: &str, status: u16, times: u32) {
        self.lock().faults.fail_first.insert(path.to_owned(), (status, times));
    }

    /// Answers every request for `path` with a proxy's non-JSON 502.
    pub fn bad_gateway(&self, path: &str) {
        self.lock().faults.bad_gateway.insert(path.to_owned());
    }

    pub fn clear_faults(&self) {
        self.lock().faults = Faults::default();
    }
}

/// The running fake API server; it stops when dropped.
pub struct FakeKube {
    address: std::net::SocketAddr,
    handle: Handle,
    server: tokio::task::JoinHandle<()>,
}

impl std::ops::Deref for FakeKube {
    type Target = Handle;
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeKube {
    /// Serves `cluster` on 127.0.0.1 at a free port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(cluster: Cluster) -> FakeKube {
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port for the fake API");
        let address = listener.local_addr().expect("the fake API's address");
        let handle = Handle {
            inner: Arc::new(Mutex::new(Inner {
                cluster,
                faults: Faults::default(),
                requests: Vec::new(),
                discovery: Vec::new(),
            })),
        };
        let router = Router::new().fallback(serve).with_state(handle.clone());
        let server = tokio::spawn(async move {
            // The server ends only when the test drops the fake (abort) or the runtime stops.
            let _ = axum::serve(listener, router).await;
        });
        FakeKube { address, handle, server }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Writes `DIR/kubeconfig` pointing at the fake (plain HTTP, a token, the cluster's namespace).
    ///
    /// # Panics
    /// When the file cannot be written.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let namespace = self.lock().cluster.namespace.clone();
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\n\
             current-context: fake\nusers:\n- name: fake\n  user:\n    token: fake-token\npreferences: {{}}\n",
            url = self.url()
        );
        let path = dir.join("kubeconfig");
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        path
    }
}

/// What a path names.
#[derive(Debug)]
enum Route {
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources { group: String, version: String },
    Resource(Request),
    Unknown,
}

fn route(method: &Method, path: &str, query: &BTreeMap<String, String>) -> Route {
    let segments: Vec<&str> = path.trim_start_matches('/').trim_end_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["version"] => return Route::Version,
        ["api"] => return Route::CoreVersions,
        ["apis"] => return Route::Groups,
        ["apis", group] => return Route::Group(group.to_string()),
        ["api", version] => return Route::Resources { group: String::new(), version: version.to_string() },
        ["apis", group, version] => return Route::Resources { group: group.to_string(), version: version.to_string() },
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Route::Unknown,
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(namespace.to_string()), rest),
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(name.to_string()), None),
        [resource, name, subresource] => (*resource, Some(name.to_string()), Some(subresource.to_string())),
        _ => return Route::Unknown,
    };
    let watch = query.get("watch").is_some_and(|watch| logs::parse_bool(watch) == Some(true));
    let verb = match *method {
        Method::GET | Method::HEAD if name.is_none() && watch => "watch",
        Method::GET | Method::HEAD if name.is_none() => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if name.is_none() => "deletecollection",
        Method::DELETE => "delete",
        _ => "unknown",
    };
    Route::Resource(Request {
        verb: verb.to_owned(),
        group: group.to_owned(),
        version: version.to_owned(),
        resource: resource.to_owned(),
        subresource,
        namespace,
        name,
        query: query.clone(),
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A `metav1.Status` failure, as the apiserver encodes it.
fn status_error(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    json_response(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &body)
}

/// `GroupResource.String()`: `pods`, `replicasets.apps`.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() { resource.to_owned() } else { format!("{resource}.{group}") }
}

/// `apierrors.NewNotFound` / `NewForbidden` details: name, group (omitted when core), kind = resource.
fn details(group: &str, resource: &str, name: Option<&str>) -> Value {
    let mut details = json!({"kind": resource});
    if let Some(name) = name {
        details["name"] = Value::String(name.to_owned());
    }
    if !group.is_empty() {
        details["group"] = Value::String(group.to_owned());
    }
    details
}

fn not_found(group: &str, resource: &str, name: &str) -> Response {
    status_error(
        404,
        "NotFound",
        &format!("{} {name:?} not found", qualified(group, resource)),
        Some(details(group, resource, Some(name))),
    )
}

fn no_such_resource() -> Response {
    status_error(404, "NotFound", "the server could not find the requested resource", Some(json!({})))
}

fn bad_request(message: &str) -> Response {
    status_error(400, "BadRequest", message, None)
}

/// An error answer on its way out of a helper (boxed: a `Response` is large).
type Refusal = Box<Response>;

fn refused_bad_request(message: &str) -> Refusal {
    Box::new(bad_request(message))
}

/// The authorizer's 403 (`responsewriters.Forbidden` wrapped in `apierrors.NewForbidden`).
fn forbidden(user: &str, request: &Request) -> Response {
    let resource = match &request.subresource {
        Some(subresource) => format!("{}/{subresource}", request.resource),
        None => request.resource.clone(),
    };
    let scope = match &request.namespace {
        Some(namespace) => format!("in the namespace {namespace:?}"),
        None => "at the cluster scope".to_owned(),
    };
    let reason =
        format!("User {user:?} cannot {} resource {resource:?} in API group {:?} {scope}", request.verb, request.group);
    let subject = qualified(&request.group, &request.resource);
    let message = match &request.name {
        Some(name) => format!("{subject} {name:?} is forbidden: {reason}"),
        None => format!("{subject} is forbidden: {reason}"),
    };
    status_error(403, "Forbidden", &message, Some(details(&request.group, &request.resource, request.name.as_deref())))
}

/// The one handler: record, apply faults, then answer discovery, objects, lists or logs.
async fn serve(State(handle): State<Handle>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    let query: BTreeMap<String, String> = match Query::<Vec<(String, String)>>::try_from_uri(&uri) {
        Ok(Query(pairs)) => pairs.into_iter().collect(),
        Err(error) => return bad_request(&format!("invalid query: {error}")),
    };
    let route = route(&method, &path, &query);
    let (delay, injected) = {
        let mut inner = handle.lock();
        match &route {
            Route::Resource(request) => inner.requests.push(request.clone()),
            _ => inner.discovery.push(path.clone()),
        }
        let mut injected = None;
        if let Some((status, left)) = inner.faults.fail_first.get_mut(&path)
            && *left > 0
        {
            *left -= 1;
            injected = Some(*status);
        }
        if injected.is_none() && inner.faults.bad_gateway.contains(&path) {
            injected = Some(502);
        }
        let delay =
            inner.faults.delay.unwrap_or_default() + inner.faults.path_delays.get(&path).copied().unwrap_or_default();
        (delay, injected)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match injected {
        Some(429) => {
            let mut response = status_error(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
                Some(json!({"retryAfterSeconds": 1})),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        Some(502) => {
            let mut response =
                (StatusCode::BAD_GATEWAY, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
                    .into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            return response;
        }
        Some(503) => {
            return status_error(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
                Some(json!({})),
            );
        }
        Some(504) => {
            return status_error(
                504,
                "Timeout",
                "The list operation timed out, please try again",
                Some(json!({"retryAfterSeconds": 1})),
            );
        }
        Some(code) => {
            return status_error(
                code,
                "InternalError",
                "Internal error occurred: injected fault",
                Some(json!({"causes": [{"message": "injected fault"}]})),
            );
        }
        None => {}
    }
    if method != Method::GET && method != Method::HEAD {
        return status_error(
            405,
            "MethodNotAllowed",
            &format!("the server does not allow this method on the requested resource ({method} {path})"),
            Some(json!({})),
        );
    }
    match route {
        Route::Version => json_response(
            StatusCode::OK,
            &json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake", "gitCommit": "fake",
                    "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
                    "compiler": "gc", "platform": "linux/amd64"}),
        ),
        Route::CoreVersions => json_response(
            StatusCode::OK,
            &json!({"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or_default()}]}),
        ),
        Route::Groups => {
            let groups: Vec<Value> = GROUPS.iter().map(|(group, version)| group_json(group, version)).collect();
            json_response(StatusCode::OK, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        Route::Group(group) => match GROUPS.iter().find(|(name, _)| *name == group) {
            Some((group, version)) => {
                let mut body = group_json(group, version);
                body["kind"] = json!("APIGroup");
                body["apiVersion"] = json!("v1");
                json_response(StatusCode::OK, &body)
            }
            None => no_such_resource(),
        },
        Route::Resources { group, version } => resource_list(&group, &version),
        Route::Resource(request) => {
            let inner = handle.lock();
            if inner.faults.forbidden.contains(&(
                request.group.clone(),
                request.resource.clone(),
                request.subresource.clone(),
            )) {
                return forbidden(&inner.cluster.user, &request);
            }
            drop(inner);
            resource(&handle, &request)
        }
        Route::Unknown => no_such_resource(),
    }
}

fn group_json(group: &str, version: &str) -> Value {
    let group_version = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [group_version], "preferredVersion": group_version})
}

/// `/api/v1`, `/apis/GROUP/VERSION`: an `APIResourceList` of what the fake serves there.
fn resource_list(group: &str, version: &str) -> Response {
    let served: Vec<&Kind> = KINDS.iter().filter(|kind| kind.group == group && kind.version == version).collect();
    if served.is_empty() {
        return no_such_resource();
    }
    let mut resources = Vec::new();
    for kind in served {
        let mut resource = json!({
            "name": kind.resource, "singularName": kind.singular, "namespaced": !cluster_scoped(kind.resource), "kind": kind.kind,
            "verbs": ["get", "list", "watch"],
        });
        if !kind.short_names.is_empty() {
            resource["shortNames"] = json!(kind.short_names);
        }
        resources.push(resource);
        if kind.resource == "pods" {
            resources.push(
                json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}),
            );
        }
    }
    let group_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

/// A resource request that passed the faults: an object, a list, a watch, or a pod's log.
fn resource(handle: &Handle, request: &Request) -> Response {
    let Some(kind) = find_kind(&request.group, &request.version, &request.resource) else {
        return no_such_resource();
    };
    let storage_group = if kind.resource == "events" { "" } else { kind.group };
    // `/api/v1/namespaces/x/nodes` names nothing: a cluster-scoped resource has no namespaced path.
    if cluster_scoped(kind.resource) && request.namespace.is_some() {
        return no_such_resource();
    }
    let inner = handle.lock();
    let cluster = &inner.cluster;
    match (&request.name, &request.subresource) {
        (None, _) if request.verb == "watch" => {
            // Nothing changes while a watch is open: the stream ends at once, as after a timeout.
            let mut response = Response::new(Body::empty());
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        (None, _) => {
            let labels = match LabelSelector::parse(request.query.get("labelSelector").map_or("", String::as_str)) {
                Ok(labels) => labels,
                Err(message) => return bad_request(&message),
            };
            let fields = match FieldSelector::parse(
                kind.group,
                kind.resource,
                request.query.get("fieldSelector").map_or("", String::as_str),
            ) {
                Ok(fields) => fields,
                Err(message) => return bad_request(&message),
            };
            let namespaces = match kind.resource {
                "namespaces" => cluster.namespace_objects(),
                "nodes" => cluster.implied_nodes(),
                _ => Vec::new(),
            };
            let mut items: Vec<(&str, &str, Value)> = cluster
                .objects
                .iter()
                .chain(namespaces.iter())
                .filter(|stored| stored.group == storage_group && stored.resource == kind.resource)
                .filter(|stored| request.namespace.as_ref().is_none_or(|namespace| stored.namespace == *namespace))
                .map(|stored| {
                    let value =
                        if kind.group == "events.k8s.io" { event_to_new(&stored.value) } else { stored.value.clone() };
                    (stored.namespace.as_str(), stored.name.as_str(), value)
                })
                .filter(|(_, _, value)| labels.matches_object(value) && fields.matches(value))
                .collect();
            // etcd returns keys in order: namespace, then name.
            items.sort_by(|left, right| (left.0, left.1).cmp(&(right.0, right.1)));
            // `limit`/`continue`: the continue token is opaque to clients; here it is the next offset.
            let offset: usize = match request.query.get("continue") {
                Some(token) => match token.parse() {
                    Ok(offset) => offset,
                    Err(_) => return bad_request("continue key is not valid: illegal base64 data at input byte 0"),
                },
                None => 0,
            };
            let limit =
                request.query.get("limit").and_then(|limit| limit.parse::<usize>().ok()).filter(|limit| *limit > 0);
            let total = items.len();
            let end = limit.map_or(total, |limit| offset.saturating_add(limit).min(total));
            let mut list_metadata = json!({"resourceVersion": cluster.resource_version.to_string()});
            if end < total {
                list_metadata["continue"] = Value::String(end.to_string());
                list_metadata["remainingItemCount"] = json!(total - end);
            }
            let items: Vec<Value> = items
                .into_iter()
                .skip(offset)
                .take(end.saturating_sub(offset))
                .map(|(_, _, mut value)| {
                    // List items carry no kind/apiVersion on the wire; the list does.
                    if let Some(object) = value.as_object_mut() {
                        object.remove("kind");
                        object.remove("apiVersion");
                    }
                    value
                })
                .collect();
            let api_version = if kind.group.is_empty() {
                kind.version.to_owned()
            } else {
                format!("{}/{}", kind.group, kind.version)
            };
            json_response(
                StatusCode::OK,
                &json!({"kind": format!("{}List", kind.kind), "apiVersion": api_version,
                        "metadata": list_metadata, "items": items}),
            )
        }
        (Some(name), None) => {
            let namespace = request.namespace.as_deref().unwrap_or_default();
            let api_version = if kind.group.is_empty() {
                kind.version.to_owned()
            } else {
                format!("{}/{}", kind.group, kind.version)
            };
            match cluster.get(&api_version, kind.resource, namespace, name) {
                Some(value) => json_response(StatusCode::OK, &value),
                None => not_found(kind.group, kind.resource, name),
            }
        }
        (Some(name), Some(subresource)) if kind.resource == "pods" && subresource == "log" => {
            let namespace = request.namespace.clone().unwrap_or_default();
            let fault = inner
                .faults
                .log_faults
                .iter()
                .find(|((log_namespace, pod, container), _)| {
                    *log_namespace == namespace
                        && pod == name
                        && container.as_ref().is_none_or(|container| request.query.get("container") == Some(container))
                })
                .map(|(_, fault)| *fault);
            match pod_log(cluster, &namespace, name, &request.query) {
                Ok(body) => stream(body, fault),
                Err(response) => *response,
            }
        }
        (Some(_), Some(_)) => no_such_resource(),
    }
}

/// Container names as Go prints a `[]string`: `[init-a app sidecar]`, init containers first.
fn container_names(pod: &Value) -> Vec<String> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|field| pod["spec"][field].as_array().cloned().unwrap_or_default())
        .filter_map(|container| container["name"].as_str().map(str::to_owned))
        .collect()
}

/// The apiserver's `LogLocation` checks, then the kubelet's `validateContainerLogStatus`, then the body.
fn pod_log(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Result<Render, Refusal> {
    let Some(pod) = cluster.find("", "pods", namespace, name).map(|stored| &stored.value) else {
        return Err(Box::new(not_found("", "pods", name)));
    };
    let options = log_options(cluster, name, query)?;
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .map(|containers| {
            containers.iter().filter_map(|container| container["name"].as_str().map(str::to_owned)).collect()
        })
        .unwrap_or_default();
    let container = match &options.container {
        Some(container) => {
            if !container_names(pod).contains(container) {
                return Err(refused_bad_request(&format!("container {container} is not valid for pod {name}")));
            }
            container.clone()
        }
        None => match containers.as_slice() {
            [only] => only.clone(),
            [] => return Err(refused_bad_request(&format!("a container name must be specified for pod {name}"))),
            _ => {
                return Err(refused_bad_request(&format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    container_names(pod).join(" ")
                )));
            }
        },
    };
    if pod["spec"]["nodeName"].as_str().unwrap_or_default().is_empty() {
        // Not scheduled: the apiserver has no kubelet to ask and answers with an empty body.
        return Ok(Render::new(Arc::default(), options, None));
    }
    let status = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .flat_map(|field| pod["status"][field].as_array().cloned().unwrap_or_default())
        .find(|status| status["name"] == container.as_str());
    let Some(status) = status else {
        return Err(refused_bad_request(&format!("container {container:?} in pod {name:?} is not available")));
    };
    let last_terminated = status["lastState"]["terminated"].is_object();
    let state = &status["state"];
    if options.previous {
        if !last_terminated {
            return Err(refused_bad_request(&format!(
                "previous terminated container {container:?} in pod {name:?} not found"
            )));
        }
    } else if !state["running"].is_object() && !state["terminated"].is_object() && !last_terminated {
        let reason = state["waiting"]["reason"].as_str().unwrap_or_default();
        let why = match reason {
            "ErrImagePull" => "image can't be pulled".to_owned(),
            "ImagePullBackOff" => "trying and failing to pull image".to_owned(),
            _ => reason.to_owned(),
        };
        return Err(refused_bad_request(&format!(
            "container {container:?} in pod {name:?} is waiting to start: {why}"
        )));
    }
    let logs = cluster.logs.get(&(namespace.to_owned(), name.to_owned(), container));
    let lines = match logs {
        Some(logs) if options.previous => logs.previous.clone(),
        Some(logs) => logs.current.clone(),
        None => Arc::default(),
    };
    let offset = cluster.log_offsets.get(&(namespace.to_owned(), name.to_owned())).copied();
    Ok(Render::new(lines, options, offset))
}

/// Parses and validates the `PodLogOptions` query the way the apiserver does.
fn log_options(cluster: &Cluster, name: &str, query: &BTreeMap<String, String>) -> Result<LogOptions, Refusal> {
    let boolean = |key: &str| -> Result<bool, Refusal> {
        match query.get(key) {
            None => Ok(false),
            Some(text) => logs::parse_bool(text)
                .ok_or_else(|| refused_bad_request(&format!("strconv.ParseBool: parsing {text:?}: invalid syntax"))),
        }
    };
    let integer = |key: &str| -> Result<Option<i64>, Refusal> {
        match query.get(key) {
            None => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .map(Some)
                .map_err(|_| refused_bad_request(&format!("strconv.ParseInt: parsing {text:?}: invalid syntax"))),
        }
    };
    let invalid = |field: &str, value: &str, why: &str| -> Refusal {
        Box::new(status_error(
            422,
            "Invalid",
            &format!("PodLogOptions {name:?} is invalid: {field}: Invalid value: {value}: {why}"),
            Some(
                json!({"name": name, "kind": "PodLogOptions", "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {value}: {why}"), "field": field}]}),
            ),
        ))
    };
    let since_seconds = integer("sinceSeconds")?;
    let tail_lines = integer("tailLines")?;
    let limit_bytes = integer("limitBytes")?;
    let since_time = match query.get("sinceTime") {
        None => None,
        Some(text) => {
            let parsed: Timestamp = text.parse().map_err(|_| {
                refused_bad_request(&format!(
                    "parsing time {text:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {text:?} as \"2006\""
                ))
            })?;
            // The apiserver passes sinceTime on at whole-second precision: the fraction is dropped.
            Some(
                Timestamp::from_second(parsed.as_second())
                    .map_err(|_| refused_bad_request("sinceTime out of range"))?,
            )
        }
    };
    if since_seconds.is_some() && since_time.is_some() {
        return Err(invalid("sinceSeconds", "", "at most one of `sinceTime` or `sinceSeconds` may be specified"));
    }
    if let Some(seconds) = since_seconds
        && seconds < 1
    {
        return Err(invalid("sinceSeconds", &seconds.to_string(), "must be greater than 0"));
    }
    if let Some(lines) = tail_lines
        && lines < 0
    {
        return Err(invalid("tailLines", &lines.to_string(), "must be greater than or equal to 0"));
    }
    if let Some(bytes) = limit_bytes
        && bytes < 1
    {
        return Err(invalid("limitBytes", &bytes.to_string(), "must be greater than 0"));
    }
    let now = cluster.now.unwrap_or_else(Timestamp::now);
    let since = match since_seconds {
        Some(seconds) => Some(now.checked_sub(jiff::SignedDuration::from_secs(seconds)).unwrap_or(Timestamp::MIN)),
        None => since_time,
    };
    Ok(LogOptions {
        container: query.get("container").filter(|container| !container.is_empty()).cloned(),
        previous: boolean("previous")?,
        timestamps: boolean("timestamps")?,
        since,
        tail_lines: tail_lines.map(|lines| lines.unsigned_abs()),
        limit_bytes: limit_bytes.map(|bytes| bytes.unsigned_abs()),
    })
}

const CHUNK_BYTES: usize = 8 * 1024;

/// Streams a log body in chunks (chunked transfer, `text/plain`). A `Drop` fault sends that many bytes and
/// then fails the body, so the server drops the connection without the chunked terminator; a `Stall`
/// sends them and then nothing more while the connection stays open.
fn stream(mut render: Render, fault: Option<LogFault>) -> Response {
    let (mut sender, channel) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(2);
    tokio::spawn(async move {
        let mut left = match fault {
            Some(LogFault::Drop(bytes) | LogFault::Stall(bytes)) => bytes,
            None => usize::MAX,
        };
        while left > 0 {
            let Some(mut chunk) = render.next_chunk(CHUNK_BYTES.min(left)) else {
                break;
            };
            chunk.truncate(left);
            left -= chunk.len();
            if sender.send_data(Bytes::from(chunk)).await.is_err() {
                return;
            }
        }
        if let Some(LogFault::Stall(_)) = fault {
            tokio::time::sleep(Duration::from_secs(600)).await;
            return;
        }
        if let Some(LogFault::Drop(_)) = fault {
            // Let the server take the last chunk before the error ends the connection.
            for _ in 0..5_000 {
                if sender.capacity() == sender.max_capacity() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            sender.abort(std::io::Error::other("injected fault: log stream dropped"));
        }
    });
    let mut response = Response::new(Body::new(channel));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
