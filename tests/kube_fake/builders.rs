//! Builders for the objects a test plants in the fake cluster, in the shapes the real API serves.
//!
//! Each builder returns a `serde_json::Value` as one `GET` of the object would; the server adds
//! `resourceVersion` and `uid` when the object is added and strips `kind`/`apiVersion` from list items.
//! Times follow the API's own precision: `metav1.Time` whole seconds, `MicroTime` six fraction digits.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// `metav1.Time`: RFC 3339 in UTC, whole seconds (the API drops the fraction).
pub fn time_secs(instant: Timestamp) -> String {
    instant.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `metav1.MicroTime`: RFC 3339 in UTC with exactly six fraction digits.
pub fn time_micros(instant: Timestamp) -> String {
    instant.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn label_map(labels: &[(&str, &str)]) -> Value {
    Value::Object(labels.iter().map(|(key, value)| (key.to_string(), Value::String(value.to_string()))).collect())
}

fn epoch() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

/// What a container is doing now (`status.containerStatuses[].state`).
#[derive(Clone, Debug)]
pub enum State {
    Running { started_at: Timestamp },
    Waiting { reason: String },
    Terminated { exit_code: i32, reason: String, started_at: Timestamp, finished_at: Timestamp },
}

impl State {
    fn to_json(&self, container_id: &str) -> Value {
        match self {
            State::Running { started_at } => json!({"running": {"startedAt": time_secs(*started_at)}}),
            State::Waiting { reason } => json!({"waiting": {"reason": reason}}),
            State::Terminated { exit_code, reason, started_at, finished_at } => json!({"terminated": {
                "exitCode": exit_code, "reason": reason, "startedAt": time_secs(*started_at),
                "finishedAt": time_secs(*finished_at), "containerID": container_id,
            }}),
        }
    }
}

/// One container of a pod: its spec and its status.
#[derive(Clone, Debug)]
pub struct ContainerBuilder {
    pub name: String,
    pub image: String,
    pub restart_count: u32,
    pub state: State,
    /// `lastState.terminated`: the instance `previous=true` reads.
    pub last_terminated: Option<(i32, String, Timestamp, Timestamp)>,
}

pub fn container(name: &str) -> ContainerBuilder {
    ContainerBuilder {
        name: name.to_owned(),
        image: format!("registry.example/{name}:1.0.0"),
        restart_count: 0,
        state: State::Running { started_at: epoch() },
        last_terminated: None,
    }
}

impl ContainerBuilder {
    pub fn image(mut self, image: &str) -> Self {
        self.image = image.to_owned();
        self
    }
    pub fn restarts(mut self, restart_count: u32) -> Self {
        self.restart_count = restart_count;
        self
    }
    pub fn running(mut self, started_at: Timestamp) -> Self {
        self.state = State::Running { started_at };
        self
    }
    /// `waiting` with a reason such as `ContainerCreating` or `CrashLoopBackOff`.
    pub fn waiting(mut self, reason: &str) -> Self {
        self.state = State::Waiting { reason: reason.to_owned() };
        self
    }
    pub fn terminated(mut self, exit_code: i32, reason: &str, started_at: Timestamp, finished_at: Timestamp) -> Self {
        self.state = State::Terminated { exit_code, reason: reason.to_owned(), started_at, finished_at };
        self
    }
    /// The last terminated instance (`lastState.terminated`), e.g. `(137, "OOMKilled", start, end)`.
    pub fn last_terminated(
        mut self,
        exit_code: i32,
        reason: &str,
        started_at: Timestamp,
        finished_at: Timestamp,
    ) -> Self {
        self.last_terminated = Some((exit_code, reason.to_owned(), started_at, finished_at));
        self
    }

    fn spec_json(&self) -> Value {
        json!({"name": self.name, "image": self.image, "imagePullPolicy": "IfNotPresent",
               "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"})
    }

    pub(crate) fn status_json(&self, pod_uid: &str) -> Value {
        let container_id = format!("containerd://{}-{}-{}", pod_uid, self.name, self.restart_count);
        let last_state = match &self.last_terminated {
            Some((exit_code, reason, started_at, finished_at)) => json!({"terminated": {
                "exitCode": exit_code, "reason": reason, "startedAt": time_secs(*started_at),
                "finishedAt": time_secs(*finished_at),
                "containerID": format!("containerd://{}-{}-{}", pod_uid, self.name, self.restart_count.saturating_sub(1)),
            }}),
            None => json!({}),
        };
        let running = matches!(self.state, State::Running { .. });
        let mut status = json!({
            "name": self.name, "image": self.image, "imageID": format!("{}@sha256:{:064x}", self.image, 0),
            "ready": running, "started": running, "restartCount": self.restart_count,
            "state": self.state.to_json(&container_id), "lastState": last_state,
        });
        if !matches!(self.state, State::Waiting { .. }) {
            status["containerID"] = Value::String(container_id);
        }
        status
    }
}

/// A pod: `pod("prod", "api-7d9f8b6c5-x2kqp").labels(&[("app", "api")]).node("node-1").container(..)`.
#[derive(Clone, Debug)]
pub struct PodBuilder {
    namespace: String,
    name: String,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    node: Option<String>,
    created: Timestamp,
    owner: Option<(String, String)>,
    containers: Vec<ContainerBuilder>,
    init_containers: Vec<ContainerBuilder>,
    phase: Option<String>,
}

pub fn pod(namespace: &str, name: &str) -> PodBuilder {
    PodBuilder {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        labels: Vec::new(),
        annotations: Vec::new(),
        node: Some("node-1".to_owned()),
        created: epoch(),
        owner: None,
        containers: Vec::new(),
        init_containers: Vec::new(),
        phase: None,
    }
}

impl PodBuilder {
    pub fn labels(mut self, labels: &[(&str, &str)]) -> Self {
        self.labels.extend(labels.iter().map(|(key, value)| (key.to_string(), value.to_string())));
        self
    }
    /// e.g. `kubectl.kubernetes.io/default-container`.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.push((key.to_owned(), value.to_owned()));
        self
    }
    pub fn node(mut self, node: &str) -> Self {
        self.node = Some(node.to_owned());
        self
    }
    /// Not scheduled yet: no `spec.nodeName`, phase Pending; its log answers 200 with an empty body.
    pub fn unscheduled(mut self) -> Self {
        self.node = None;
        self
    }
    pub fn created(mut self, created: Timestamp) -> Self {
        self.created = created;
        self
    }
    /// The controller owning the pod, e.g. `("ReplicaSet", "api-7d9f8b6c5")`.
    pub fn owner(mut self, kind: &str, name: &str) -> Self {
        self.owner = Some((kind.to_owned(), name.to_owned()));
        self
    }
    pub fn container(mut self, container: ContainerBuilder) -> Self {
        self.containers.push(container);
        self
    }
    pub fn init_container(mut self, container: ContainerBuilder) -> Self {
        self.init_containers.push(container);
        self
    }
    pub fn phase(mut self, phase: &str) -> Self {
        self.phase = Some(phase.to_owned());
        self
    }

    pub fn build(self) -> Value {
        let uid = uid_for("pod", &self.namespace, &self.name);
        let mut metadata = json!({
            "name": self.name, "namespace": self.namespace, "uid": uid,
            "creationTimestamp": time_secs(self.created),
        });
        if !self.labels.is_empty() {
            metadata["labels"] = Value::Object(
                self.labels.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect(),
            );
        }
        if !self.annotations.is_empty() {
            metadata["annotations"] = Value::Object(
                self.annotations.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect(),
            );
        }
        if let Some((kind, name)) = &self.owner {
            let api_version = if kind == "Job" { "batch/v1" } else { "apps/v1" };
            metadata["ownerReferences"] = json!([{
                "apiVersion": api_version, "kind": kind, "name": name,
                "uid": uid_for(&kind.to_lowercase(), &self.namespace, name), "controller": true, "blockOwnerDeletion": true,
            }]);
        }
        let mut spec = json!({
            "containers": self.containers.iter().map(ContainerBuilder::spec_json).collect::<Vec<_>>(),
            "restartPolicy": "Always", "schedulerName": "default-scheduler", "serviceAccountName": "default",
        });
        if !self.init_containers.is_empty() {
            spec["initContainers"] =
                Value::Array(self.init_containers.iter().map(ContainerBuilder::spec_json).collect());
        }
        let phase = match (&self.phase, &self.node) {
            (Some(phase), _) => phase.clone(),
            (None, None) => "Pending".to_owned(),
            (None, Some(_)) => {
                if self.containers.iter().all(|container| matches!(container.state, State::Running { .. })) {
                    "Running".to_owned()
                } else {
                    "Pending".to_owned()
                }
            }
        };
        let mut status = json!({"phase": phase, "qosClass": "BestEffort"});
        match &self.node {
            Some(node) => {
                spec["nodeName"] = Value::String(node.clone());
                status["startTime"] = Value::String(time_secs(self.created));
                status["hostIP"] = Value::String("10.0.0.10".to_owned());
                status["podIP"] = Value::String("10.244.1.17".to_owned());
                status["containerStatuses"] =
                    Value::Array(self.containers.iter().map(|container| container.status_json(&uid)).collect());
                if !self.init_containers.is_empty() {
                    status["initContainerStatuses"] = Value::Array(
                        self.init_containers.iter().map(|container| container.status_json(&uid)).collect(),
                    );
                }
                let ready = if self.containers.iter().all(|container| matches!(container.state, State::Running { .. }))
                {
                    "True"
                } else {
                    "False"
                };
                let since = time_secs(self.created);
                status["conditions"] = json!([
                    {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": since},
                    {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": since},
                    {"type": "Ready", "status": ready, "lastProbeTime": null, "lastTransitionTime": since},
                    {"type": "ContainersReady", "status": ready, "lastProbeTime": null, "lastTransitionTime": since},
                    {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": since},
                ]);
            }
            None => {
                status["conditions"] = json!([{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "lastProbeTime": null, "lastTransitionTime": time_secs(self.created),
                }]);
            }
        }
        json!({"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": spec, "status": status})
    }
}

/// A deterministic uid, so a test can name an owner's uid without asking the fake.
pub fn uid_for(kind: &str, namespace: &str, name: &str) -> String {
    // FNV-1a over the identity, spread into the 8-4-4-4-12 shape of a UUID.
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in kind.bytes().chain([0]).chain(namespace.bytes()).chain([0]).chain(name.bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let hex = format!("{hash:032x}");
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// A core/v1 Event as a kubelet or controller records it: `firstTimestamp`/`lastTimestamp`/`count`,
/// `eventTime` null. The same object is served by `events.k8s.io/v1` too, as the real API does.
#[derive(Clone, Debug)]
pub struct CoreEventBuilder {
    value: Value,
}

pub fn core_event(namespace: &str, name: &str) -> CoreEventBuilder {
    CoreEventBuilder {
        value: json!({
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": uid_for("event", namespace, name),
                         "creationTimestamp": time_secs(epoch())},
            "involvedObject": {"namespace": namespace},
            "reason": "", "source": {"component": "kubelet"},
            "firstTimestamp": null, "lastTimestamp": null, "count": 1, "type": "Normal",
            "eventTime": null, "reportingComponent": "kubelet", "reportingInstance": "",
        }),
    }
}

impl CoreEventBuilder {
    /// The object the event is about: `("Pod", "api-1")`.
    pub fn involved(mut self, kind: &str, name: &str) -> Self {
        let namespace = self.value["metadata"]["namespace"].clone();
        let api_version = match kind {
            "Pod" | "Service" | "Node" => "v1",
            "Job" | "CronJob" => "batch/v1",
            _ => "apps/v1",
        };
        self.value["involvedObject"] = json!({
            "kind": kind, "namespace": namespace, "name": name, "apiVersion": api_version,
            "uid": uid_for(&kind.to_lowercase(), namespace.as_str().unwrap_or(""), name),
        });
        self
    }
    pub fn field_path(mut self, field_path: &str) -> Self {
        self.value["involvedObject"]["fieldPath"] = Value::String(field_path.to_owned());
        self
    }
    pub fn reason(mut self, reason: &str) -> Self {
        self.value["reason"] = Value::String(reason.to_owned());
        self
    }
    pub fn message(mut self, message: &str) -> Self {
        self.value["message"] = Value::String(message.to_owned());
        self
    }
    pub fn warning(mut self) -> Self {
        self.value["type"] = Value::String("Warning".to_owned());
        self
    }
    /// `source.component`/`source.host` and the matching `reportingComponent`/`reportingInstance`.
    pub fn source(mut self, component: &str, host: &str) -> Self {
        self.value["source"] = json!({"component": component, "host": host});
        self.value["reportingComponent"] = Value::String(component.to_owned());
        self.value["reportingInstance"] = Value::String(host.to_owned());
        self
    }
    /// First and last occurrence (whole seconds) and how many times it was seen.
    pub fn seen(mut self, first: Timestamp, last: Timestamp, count: u32) -> Self {
        self.value["firstTimestamp"] = Value::String(time_secs(first));
        self.value["lastTimestamp"] = Value::String(time_secs(last));
        self.value["count"] = json!(count);
        self.value["metadata"]["creationTimestamp"] = Value::String(time_secs(first));
        self
    }
    pub fn build(self) -> Value {
        self.value
    }
}

/// An events.k8s.io/v1 Event as the scheduler or a newer controller records it: `eventTime` with six fraction
/// digits and an optional `series`, the deprecated timestamps null.
#[derive(Clone, Debug)]
pub struct NewEventBuilder {
    value: Value,
}

pub fn new_event(namespace: &str, name: &str) -> NewEventBuilder {
    NewEventBuilder {
        value: json!({
            "kind": "Event", "apiVersion": "events.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "uid": uid_for("event", namespace, name),
                         "creationTimestamp": time_secs(epoch())},
            "eventTime": time_micros(epoch()),
            "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-control-plane",
            "action": "Scheduling", "reason": "", "regarding": {"namespace": namespace},
            "type": "Normal", "deprecatedSource": {}, "deprecatedFirstTimestamp": null, "deprecatedLastTimestamp": null,
        }),
    }
}

impl NewEventBuilder {
    pub fn regarding(mut self, kind: &str, name: &str) -> Self {
        let namespace = self.value["metadata"]["namespace"].clone();
        let api_version = if kind == "Pod" { "v1" } else { "apps/v1" };
        self.value["regarding"] = json!({
            "kind": kind, "namespace": namespace, "name": name, "apiVersion": api_version,
            "uid": uid_for(&kind.to_lowercase(), namespace.as_str().unwrap_or(""), name),
        });
        self
    }
    pub fn reason(mut self, reason: &str) -> Self {
        self.value["reason"] = Value::String(reason.to_owned());
        self
    }
    pub fn note(mut self, note: &str) -> Self {
        self.value["note"] = Value::String(note.to_owned());
        self
    }
    pub fn action(mut self, action: &str) -> Self {
        self.value["action"] = Value::String(action.to_owned());
        self
    }
    pub fn warning(mut self) -> Self {
        self.value["type"] = Value::String("Warning".to_owned());
        self
    }
    pub fn controller(mut self, controller: &str, instance: &str) -> Self {
        self.value["reportingController"] = Value::String(controller.to_owned());
        self.value["reportingInstance"] = Value::String(instance.to_owned());
        self
    }
    pub fn event_time(mut self, event_time: Timestamp) -> Self {
        self.value["eventTime"] = Value::String(time_micros(event_time));
        self.value["metadata"]["creationTimestamp"] = Value::String(time_secs(event_time));
        self
    }
    /// `series{count, lastObservedTime}` of an event that repeated.
    pub fn series(mut self, count: u32, last_observed: Timestamp) -> Self {
        self.value["series"] = json!({"count": count, "lastObservedTime": time_micros(last_observed)});
        self
    }
    pub fn build(self) -> Value {
        self.value
    }
}

/// Deployment, StatefulSet, DaemonSet, ReplicaSet or Job: selector, template labels, images, owner, revision.
#[derive(Clone, Debug)]
pub struct WorkloadBuilder {
    kind: &'static str,
    namespace: String,
    name: String,
    created: Timestamp,
    labels: Vec<(String, String)>,
    selector: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    images: Vec<(String, String)>,
    owner: Option<(String, String)>,
    replicas: u32,
    managed_fields: Vec<Value>,
}

fn workload(kind: &'static str, namespace: &str, name: &str) -> WorkloadBuilder {
    WorkloadBuilder {
        kind,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        created: epoch(),
        labels: Vec::new(),
        selector: Vec::new(),
        annotations: Vec::new(),
        images: Vec::new(),
        owner: None,
        replicas: 1,
        managed_fields: Vec::new(),
    }
}

pub fn deployment(namespace: &str, name: &str) -> WorkloadBuilder {
    workload("Deployment", namespace, name)
}
pub fn statefulset(namespace: &str, name: &str) -> WorkloadBuilder {
    workload("StatefulSet", namespace, name)
}
pub fn daemonset(namespace: &str, name: &str) -> WorkloadBuilder {
    workload("DaemonSet", namespace, name)
}
pub fn replicaset(namespace: &str, name: &str) -> WorkloadBuilder {
    workload("ReplicaSet", namespace, name)
}
pub fn job(namespace: &str, name: &str) -> WorkloadBuilder {
    workload("Job", namespace, name)
}

impl WorkloadBuilder {
    pub fn created(mut self, created: Timestamp) -> Self {
        self.created = created;
        self
    }
    pub fn labels(mut self, labels: &[(&str, &str)]) -> Self {
        self.labels.extend(labels.iter().map(|(key, value)| (key.to_string(), value.to_string())));
        self
    }
    /// `spec.selector.matchLabels`, also the pod template's labels.
    pub fn selector(mut self, selector: &[(&str, &str)]) -> Self {
        self.selector.extend(selector.iter().map(|(key, value)| (key.to_string(), value.to_string())));
        self
    }
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.push((key.to_owned(), value.to_owned()));
        self
    }
    /// `deployment.kubernetes.io/revision` (Deployments and their ReplicaSets).
    pub fn revision(self, revision: u32) -> Self {
        self.annotation("deployment.kubernetes.io/revision", &revision.to_string())
    }
    /// `deployment.kubernetes.io/revision-history` of a ReplicaSet reused by a rollback: `"1,3"`.
    pub fn revision_history(self, revisions: &[u32]) -> Self {
        let history = revisions.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        self.annotation("deployment.kubernetes.io/revision-history", &history)
    }
    pub fn image(mut self, container: &str, image: &str) -> Self {
        self.images.push((container.to_owned(), image.to_owned()));
        self
    }
    /// The owning Deployment of a ReplicaSet (`ownerReferences`, controller).
    pub fn owner_deployment(mut self, name: &str) -> Self {
        self.owner = Some(("Deployment".to_owned(), name.to_owned()));
        self
    }
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }
    /// One `metadata.managedFields` entry: who changed the object (`kubectl-client-side-apply`, `argocd-controller`).
    pub fn managed_by(mut self, manager: &str, operation: &str, time: Timestamp) -> Self {
        self.managed_fields.push(json!({
            "manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": time_secs(time),
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}},
        }));
        self
    }

    pub fn build(self) -> Value {
        let api_version = if self.kind == "Job" { "batch/v1" } else { "apps/v1" };
        let mut metadata = json!({
            "name": self.name, "namespace": self.namespace,
            "uid": uid_for(&self.kind.to_lowercase(), &self.namespace, &self.name),
            "creationTimestamp": time_secs(self.created), "generation": 1,
        });
        let labels = if self.labels.is_empty() { &self.selector } else { &self.labels };
        if !labels.is_empty() {
            metadata["labels"] =
                Value::Object(labels.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect());
        }
        if !self.annotations.is_empty() {
            metadata["annotations"] = Value::Object(
                self.annotations.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect(),
            );
        }
        if let Some((kind, name)) = &self.owner {
            metadata["ownerReferences"] = json!([{
                "apiVersion": "apps/v1", "kind": kind, "name": name,
                "uid": uid_for(&kind.to_lowercase(), &self.namespace, name), "controller": true, "blockOwnerDeletion": true,
            }]);
        }
        if !self.managed_fields.is_empty() {
            metadata["managedFields"] = Value::Array(self.managed_fields.clone());
        }
        let selector_labels: Map<String, Value> =
            self.selector.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect();
        let containers: Vec<Value> = self
            .images
            .iter()
            .map(|(name, image)| json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}))
            .collect();
        let template = json!({
            "metadata": {"labels": selector_labels.clone(), "creationTimestamp": null},
            "spec": {"containers": containers, "restartPolicy": if self.kind == "Job" { "Never" } else { "Always" }},
        });
        let mut spec = json!({"selector": {"matchLabels": selector_labels}, "template": template});
        let status = match self.kind {
            "Deployment" | "ReplicaSet" | "StatefulSet" => {
                spec["replicas"] = json!(self.replicas);
                json!({"replicas": self.replicas, "readyReplicas": self.replicas, "availableReplicas": self.replicas,
                       "observedGeneration": 1})
            }
            "DaemonSet" => json!({"currentNumberScheduled": self.replicas, "desiredNumberScheduled": self.replicas,
                                  "numberReady": self.replicas, "observedGeneration": 1}),
            _ => json!({"active": self.replicas, "startTime": time_secs(self.created)}),
        };
        json!({"kind": self.kind, "apiVersion": api_version, "metadata": metadata, "spec": spec, "status": status})
    }
}

/// A Service whose `spec.selector` (a plain map, unlike workloads) picks its pods.
pub fn service(namespace: &str, name: &str, selector: &[(&str, &str)]) -> Value {
    json!({
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace, "uid": uid_for("service", namespace, name),
                     "creationTimestamp": time_secs(epoch()), "labels": label_map(selector)},
        "spec": {"selector": label_map(selector), "type": "ClusterIP", "clusterIP": "10.96.0.17",
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
        "status": {"loadBalancer": {}},
    })
}

/// A Node (cluster-scoped): `node("node-2").condition("Ready", "False", "KubeletNotReady", "…", t)`.
/// Without conditions of its own it is Ready, with no pressure, since the epoch.
#[derive(Clone, Debug)]
pub struct NodeBuilder {
    name: String,
    created: Timestamp,
    conditions: Vec<(String, String, String, String, Timestamp)>,
    unschedulable: bool,
}

pub fn node(name: &str) -> NodeBuilder {
    let since = epoch();
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        (kind.to_owned(), status.to_owned(), reason.to_owned(), message.to_owned(), since)
    };
    NodeBuilder {
        name: name.to_owned(),
        created: since,
        conditions: vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        unschedulable: false,
    }
}

impl NodeBuilder {
    /// Sets one condition (replacing the one of that type): status `True`, `False` or `Unknown`,
    /// with its reason, message and `lastTransitionTime`.
    pub fn condition(mut self, kind: &str, status: &str, reason: &str, message: &str, since: Timestamp) -> Self {
        self.conditions.retain(|condition| condition.0 != kind);
        self.conditions.push((kind.to_owned(), status.to_owned(), reason.to_owned(), message.to_owned(), since));
        self
    }
    /// Cordoned: `spec.unschedulable` and the taint the node controller adds.
    pub fn cordoned(mut self) -> Self {
        self.unschedulable = true;
        self
    }

    pub fn build(self) -> Value {
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .map(|(kind, status, reason, message, since)| {
                json!({"type": kind, "status": status, "reason": reason, "message": message,
                       "lastHeartbeatTime": time_secs(*since), "lastTransitionTime": time_secs(*since)})
            })
            .collect();
        let mut spec = json!({"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]});
        if self.unschedulable {
            spec["unschedulable"] = json!(true);
            spec["taints"] = json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                                     "timeAdded": time_secs(self.created)}]);
        }
        json!({
            "kind": "Node", "apiVersion": "v1",
            "metadata": {"name": self.name, "uid": uid_for("node", "", &self.name),
                         "creationTimestamp": time_secs(self.created),
                         "labels": {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux"}},
            "spec": spec,
            "status": {
                "conditions": conditions,
                "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}, {"type": "Hostname", "address": self.name}],
                "nodeInfo": {"kubeletVersion": "v1.32.0", "containerRuntimeVersion": "containerd://1.7.24",
                             "operatingSystem": "linux", "architecture": "amd64"},
                "images": [{"names": ["registry.example/app@sha256:0000"], "sizeBytes": 12345678}],
            },
        })
    }
}

/// A ControllerRevision of a StatefulSet or DaemonSet: the pod template of one revision, as
/// the controller writes it (`data` holds `spec.template` with `$patch: replace`).
#[derive(Clone, Debug)]
pub struct RevisionBuilder {
    namespace: String,
    name: String,
    owner: (String, String),
    revision: u64,
    images: Vec<(String, String)>,
    created: Timestamp,
    updated: Option<Timestamp>,
}

pub fn controller_revision(namespace: &str, name: &str) -> RevisionBuilder {
    RevisionBuilder {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        owner: ("StatefulSet".to_owned(), String::new()),
        revision: 1,
        images: Vec::new(),
        created: epoch(),
        updated: None,
    }
}

impl RevisionBuilder {
    /// `("StatefulSet", "db")` or `("DaemonSet", "agent")`.
    pub fn owner(mut self, kind: &str, name: &str) -> Self {
        self.owner = (kind.to_owned(), name.to_owned());
        self
    }
    pub fn revision(mut self, revision: u64) -> Self {
        self.revision = revision;
        self
    }
    pub fn image(mut self, container: &str, image: &str) -> Self {
        self.images.push((container.to_owned(), image.to_owned()));
        self
    }
    pub fn created(mut self, created: Timestamp) -> Self {
        self.created = created;
        self
    }
    /// The controller's later update: it raised the revision number on a rollback.
    pub fn updated(mut self, updated: Timestamp) -> Self {
        self.updated = Some(updated);
        self
    }

    pub fn build(self) -> Value {
        let (owner_kind, owner) = &self.owner;
        let containers: Vec<Value> =
            self.images.iter().map(|(name, image)| json!({"name": name, "image": image})).collect();
        let mut metadata = json!({
            "name": self.name, "namespace": self.namespace,
            "uid": uid_for("controllerrevision", &self.namespace, &self.name),
            "creationTimestamp": time_secs(self.created),
            "labels": {"controller-revision-hash": self.name.rsplit('-').next().unwrap_or_default()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner,
                "uid": uid_for(&owner_kind.to_lowercase(), &self.namespace, owner), "controller": true,
                "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
                "time": time_secs(self.updated.unwrap_or(self.created)), "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {}, "f:revision": {}}}],
        });
        if owner_kind == "DaemonSet" {
            metadata["annotations"] = json!({"deprecated.daemonset.template.generation": self.revision.to_string()});
        }
        json!({
            "kind": "ControllerRevision", "apiVersion": "apps/v1", "metadata": metadata,
            "data": {"spec": {"template": {"$patch": "replace", "metadata": {"creationTimestamp": null},
                                            "spec": {"containers": containers}}}},
            "revision": self.revision,
        })
    }
}

/// An autoscaling/v2 HorizontalPodAutoscaler of a Deployment, with its last scaling.
pub fn autoscaler(
    namespace: &str,
    name: &str,
    deployment: &str,
    last_scale: Timestamp,
    current: u32,
    desired: u32,
) -> Value {
    json!({
        "kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
        "metadata": {"name": name, "namespace": namespace, "uid": uid_for("horizontalpodautoscaler", namespace, name),
                     "creationTimestamp": time_secs(epoch())},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
                 "minReplicas": 2, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                              "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": {"currentReplicas": current, "desiredReplicas": desired, "lastScaleTime": time_secs(last_scale),
                   "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                                   "message": "recommended size matches current size",
                                   "lastTransitionTime": time_secs(last_scale)}]},
    })
}
