//! `kubectl get … -o json` → records: Events (core/v1 and events.k8s.io/v1),
//! ReplicaSets (rollouts), Deployments (who changed the pod template), Pods (node,
//! restarts, terminations), and the namespace-wide changes a live pass lists: workloads
//! (Deployments, StatefulSets, DaemonSets: when made, by whom), ControllerRevisions
//! (StatefulSet and DaemonSet rollouts and rollbacks), HorizontalPodAutoscalers (the last
//! scaling) and Nodes (their conditions).
//!
//! A document is a `List` (what kubectl prints), a typed list (`EventList`, what the API
//! answers, whose items carry no `kind`) or one object. Items are told apart by their own
//! `kind`, else the list's, else their fields, so `kubectl get events,pods -o json` works
//! too: each parser takes its own kind and leaves the others to [`parse_objects`].

use serde_json::Value;

use super::Result;
use super::json::{Node, parse_document};
use crate::record::{
    AutoscalerRecord, ContainerRecord, DeploymentRecord, Instant, K8sEventRecord, NodeConditionRecord, PodRecord,
    RevisionRecord, Rollback, RolloutRecord, Termination, WorkloadRecord,
};

/// The object kinds this module reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Event,
    ReplicaSet,
    Deployment,
    Pod,
    StatefulSet,
    DaemonSet,
    ControllerRevision,
    HorizontalPodAutoscaler,
    Node,
}

impl ObjectKind {
    /// The kind by its Kubernetes name (`Event`, `ReplicaSet`, …), lists (`PodList`) included.
    pub fn from_kind_name(name: &str) -> Option<ObjectKind> {
        let name = name.strip_suffix("List").unwrap_or(name);
        match name {
            "Event" => Some(ObjectKind::Event),
            "ReplicaSet" => Some(ObjectKind::ReplicaSet),
            "Deployment" => Some(ObjectKind::Deployment),
            "Pod" => Some(ObjectKind::Pod),
            "StatefulSet" => Some(ObjectKind::StatefulSet),
            "DaemonSet" => Some(ObjectKind::DaemonSet),
            "ControllerRevision" => Some(ObjectKind::ControllerRevision),
            "HorizontalPodAutoscaler" => Some(ObjectKind::HorizontalPodAutoscaler),
            "Node" => Some(ObjectKind::Node),
            _ => None,
        }
    }
}

/// Everything one document held, by kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    pub events: Vec<K8sEventRecord>,
    pub rollouts: Vec<RolloutRecord>,
    pub deployments: Vec<DeploymentRecord>,
    pub pods: Vec<PodRecord>,
    /// Deployments, StatefulSets and DaemonSets (a Deployment is in `deployments` too).
    pub workloads: Vec<WorkloadRecord>,
    pub revisions: Vec<RevisionRecord>,
    pub autoscalers: Vec<AutoscalerRecord>,
    pub node_conditions: Vec<NodeConditionRecord>,
}

/// Guesses an item's kind from its fields when neither it nor its list names one.
fn infer_kind(item: Node<'_, '_>) -> Option<ObjectKind> {
    let has = |key: &str| !item.get(key).is_absent();
    if has("involvedObject") || has("regarding") || has("reason") {
        return Some(ObjectKind::Event);
    }
    let spec = item.get("spec");
    if !spec.get("containers").is_absent() || !item.get("status").get("containerStatuses").is_absent() {
        return Some(ObjectKind::Pod);
    }
    if has("revision") && has("data") {
        return Some(ObjectKind::ControllerRevision);
    }
    if !spec.get("scaleTargetRef").is_absent() {
        return Some(ObjectKind::HorizontalPodAutoscaler);
    }
    if !item.get("status").get("nodeInfo").is_absent() {
        return Some(ObjectKind::Node);
    }
    if !spec.get("strategy").is_absent() {
        return Some(ObjectKind::Deployment);
    }
    if !spec.get("template").is_absent() {
        return Some(ObjectKind::ReplicaSet);
    }
    None
}

/// Reads every object of a known kind; `only` skips the others without reading them.
fn read_objects(bytes: &[u8], only: Option<ObjectKind>) -> Result<Objects> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    root.object("a Kubernetes object or list (kubectl get … -o json)")?;
    let root_kind = root.get("kind").opt_str()?;
    let list_items = root.get("items");
    let mut objects = Objects::default();
    // Revisions with their templates (`data`), compared once all are read.
    let mut revisions: Vec<(RevisionRecord, Option<Value>)> = Vec::new();
    let mut read = |item: Node<'_, '_>, fallback: Option<ObjectKind>| -> Result<()> {
        let kind = match item.get("kind").non_empty_str()? {
            Some(name) => ObjectKind::from_kind_name(name),
            None => fallback.or(only).or_else(|| infer_kind(item)),
        };
        if kind.is_none() || (only.is_some() && kind != only) {
            return Ok(());
        }
        match kind {
            Some(ObjectKind::Event) => objects.events.push(read_event(item)?),
            Some(ObjectKind::ReplicaSet) => objects.rollouts.extend(read_replicaset(item)?),
            Some(ObjectKind::Deployment) => {
                objects.deployments.push(read_deployment(item)?);
                objects.workloads.push(read_workload("Deployment", item)?);
            }
            Some(ObjectKind::Pod) => objects.pods.push(read_pod(item)?),
            Some(ObjectKind::StatefulSet) => objects.workloads.push(read_workload("StatefulSet", item)?),
            Some(ObjectKind::DaemonSet) => objects.workloads.push(read_workload("DaemonSet", item)?),
            Some(ObjectKind::ControllerRevision) => revisions.extend(read_revision(item)?),
            Some(ObjectKind::HorizontalPodAutoscaler) => objects.autoscalers.push(read_autoscaler(item)?),
            Some(ObjectKind::Node) => objects.node_conditions.extend(read_node(item)?),
            None => {}
        }
        Ok(())
    };
    let is_list =
        root_kind.is_some_and(|kind| kind.ends_with("List")) || (root_kind.is_none() && !list_items.is_absent());
    if is_list {
        // `List` says nothing of its items; `PodList` names them all.
        let fallback = root_kind.filter(|kind| *kind != "List").and_then(ObjectKind::from_kind_name);
        let items = list_items.array_or_empty("an array of Kubernetes objects")?;
        for index in 0..items.len() {
            let item = list_items.item(items, index);
            item.object("a Kubernetes object")?;
            read(item, fallback)?;
        }
    } else {
        read(root, None)?;
    }
    objects.revisions = same_templates(revisions);
    Ok(objects)
}

/// Reads every Event, ReplicaSet (of a Deployment), Deployment and Pod of a document.
pub fn parse_objects(bytes: &[u8]) -> Result<Objects> {
    read_objects(bytes, None)
}

/// Reads the Events of `kubectl get events -o json` (either API group).
pub fn parse_events(bytes: &[u8]) -> Result<Vec<K8sEventRecord>> {
    Ok(read_objects(bytes, Some(ObjectKind::Event))?.events)
}

/// Reads the ReplicaSets of `kubectl get replicasets -o json` as rollouts; ReplicaSets no
/// Deployment owns are not rollouts and are left out.
pub fn parse_replicasets(bytes: &[u8]) -> Result<Vec<RolloutRecord>> {
    Ok(read_objects(bytes, Some(ObjectKind::ReplicaSet))?.rollouts)
}

/// Reads who changed each Deployment's spec, from `kubectl get deployments -o json`.
pub fn parse_deployments(bytes: &[u8]) -> Result<Vec<DeploymentRecord>> {
    Ok(read_objects(bytes, Some(ObjectKind::Deployment))?.deployments)
}

/// Reads node, container restarts and terminations from `kubectl get pods -o json`.
pub fn parse_pods(bytes: &[u8]) -> Result<Vec<PodRecord>> {
    Ok(read_objects(bytes, Some(ObjectKind::Pod))?.pods)
}

/// Where an Event says it was last seen, in order: `series.lastObservedTime` →
/// `lastTimestamp` → `deprecatedLastTimestamp` → `eventTime` → creation (both API groups'
/// spellings).
const LAST_SEEN: [&[&str]; 5] = [
    &["series", "lastObservedTime"],
    &["lastTimestamp"],
    &["deprecatedLastTimestamp"],
    &["eventTime"],
    &["metadata", "creationTimestamp"],
];

/// Where an Event says it was first seen, in order: `firstTimestamp` →
/// `deprecatedFirstTimestamp` → `eventTime`.
const FIRST_SEEN: [&[&str]; 3] = [&["firstTimestamp"], &["deprecatedFirstTimestamp"], &["eventTime"]];

/// When an Event was last and first seen, by the precedence of [`LAST_SEEN`] and [`FIRST_SEEN`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventSeen {
    pub last: Option<Instant>,
    pub first: Option<Instant>,
}

/// Where a pod ran, as events tell it when no pod list was exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub namespace: String,
    pub node: String,
}

/// Pods' nodes from events, by pod name: the scheduler's `Scheduled` event ("Successfully
/// assigned NAMESPACE/POD to NODE") first, else the host of a kubelet's event about the pod.
pub fn pod_placements(events: &[&K8sEventRecord]) -> std::collections::BTreeMap<String, Placement> {
    let mut placements = std::collections::BTreeMap::new();
    for event in events {
        let Some(pod) = event.object.strip_prefix("Pod/") else { continue };
        if event.reason == "Scheduled"
            && let Some(rest) = event.message.strip_prefix("Successfully assigned ")
            && let Some((namespaced, node)) = rest.split_once(" to ")
        {
            let (namespace, name) = namespaced.split_once('/').unwrap_or((event.namespace.as_str(), namespaced));
            if name == pod {
                let node = node.trim().trim_end_matches('.').to_owned();
                placements.insert(pod.to_owned(), Placement { namespace: namespace.to_owned(), node });
            }
        }
    }
    for event in events {
        let (Some(pod), Some(host)) = (event.object.strip_prefix("Pod/"), &event.host) else { continue };
        placements
            .entry(pod.to_owned())
            .or_insert_with(|| Placement { namespace: event.namespace.clone(), node: host.clone() });
    }
    placements
}

/// When an Event (core/v1 or events.k8s.io/v1 JSON) was last and first seen: the one rule,
/// which the Kubernetes collector uses to keep events of the window and this module to read
/// them. A time that is not RFC 3339 is passed over for the next field.
pub fn event_seen(event: &Value) -> EventSeen {
    let event = Node::root(event);
    let readable = |candidate: Node<'_, '_>| Ok(candidate.opt_time().ok().flatten());
    // NB: `readable` never fails, so neither does `seen`.
    seen(event, readable).unwrap_or_default()
}

/// [`EventSeen`] of `event`, each time read by `read` (strict or lenient).
fn seen(event: Node<'_, '_>, read: impl Fn(Node<'_, '_>) -> Result<Option<Instant>>) -> Result<EventSeen> {
    let first_of = |candidates: &[&[&str]]| -> Result<Option<Instant>> {
        for keys in candidates {
            if let Some(time) = read(event.at(keys))? {
                return Ok(Some(time));
            }
        }
        Ok(None)
    };
    Ok(EventSeen { last: first_of(&LAST_SEEN)?, first: first_of(&FIRST_SEEN)? })
}

/// The first non-empty string of `candidates`, in order.
fn first_str<'v>(candidates: &[Node<'v, '_>]) -> Result<Option<&'v str>> {
    for candidate in candidates {
        if let Some(text) = candidate.non_empty_str()? {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// One Event. core/v1 and events.k8s.io/v1 name the same things differently; both
/// spellings are read, so either API group (or a mix) works.
fn read_event(event: Node<'_, '_>) -> Result<K8sEventRecord> {
    let metadata = event.get("metadata");
    let series = event.get("series");
    // A time present but not RFC 3339 is an error naming its field.
    let seen = seen(event, |candidate| candidate.opt_time())?;
    let time = seen.last.ok_or_else(|| {
        metadata
            .get("creationTimestamp")
            .error_with("expected an RFC 3339 time: the event has no lastTimestamp, eventTime or series either")
    })?;
    let first_seen = seen.first;
    let involved =
        if event.get("involvedObject").is_absent() { event.get("regarding") } else { event.get("involvedObject") };
    let object_kind = involved.get("kind").str_or_empty()?;
    let object_name = involved.get("name").str_or_empty()?;
    let object = if object_kind.is_empty() { object_name.to_string() } else { format!("{object_kind}/{object_name}") };
    let namespace = first_str(&[metadata.get("namespace"), involved.get("namespace")])?;
    let message = first_str(&[event.get("message"), event.get("note")])?;
    let count = match series.get("count").opt_u64()? {
        Some(count) => Some(count),
        None => match event.get("count").opt_u64()? {
            Some(count) => Some(count),
            None => event.get("deprecatedCount").opt_u64()?,
        },
    };
    let source = event.get("source");
    let deprecated_source = event.get("deprecatedSource");
    let reporter = first_str(&[
        event.get("reportingController"),
        event.get("reportingComponent"),
        source.get("component"),
        deprecated_source.get("component"),
    ])?;
    // Only a kubelet's instance is a node name; the scheduler's is `default-scheduler-<host>`.
    let kubelet_instance =
        if reporter == Some("kubelet") { event.get("reportingInstance").non_empty_str()? } else { None };
    let host = match first_str(&[source.get("host"), deprecated_source.get("host")])? {
        Some(host) => Some(host),
        None => kubelet_instance,
    };
    Ok(K8sEventRecord {
        time,
        first_time: first_seen,
        event_type: event.get("type").str_or_empty()?.to_string(),
        reason: event.get("reason").str_or_empty()?.to_string(),
        message: message.unwrap_or("").to_string(),
        namespace: namespace.unwrap_or("").to_string(),
        object,
        // An event happened at least once; recorders leave `count` unset for that.
        count: count.unwrap_or(1).max(1),
        reporter: reporter.map(str::to_string),
        host: host.map(str::to_string),
    })
}

/// One `metadata.managedFields` entry.
struct ManagedField<'v> {
    manager: &'v str,
    time: Option<Instant>,
    touches_spec: bool,
    is_status: bool,
}

fn managed_fields<'v>(metadata: Node<'v, '_>) -> Result<Vec<ManagedField<'v>>> {
    let list = metadata.get("managedFields");
    let items = list.array_or_empty("an array of managedFields entries")?;
    let mut fields = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        let entry = list.item(items, index);
        entry.object("a managedFields entry")?;
        let touches_spec =
            entry.get("fieldsV1").value().and_then(Value::as_object).is_some_and(|map| map.contains_key("f:spec"));
        fields.push(ManagedField {
            manager: entry.get("manager").str_or_empty()?,
            time: entry.get("time").opt_time()?,
            touches_spec,
            is_status: entry.get("subresource").opt_str()? == Some("status"),
        });
    }
    Ok(fields)
}

/// The entry with the newest time among those `keep` accepts (the later one on a tie).
fn newest<'a, 'v>(
    fields: &'a [ManagedField<'v>],
    keep: impl Fn(&ManagedField<'v>) -> bool,
) -> Option<&'a ManagedField<'v>> {
    fields.iter().filter(|field| field.time.is_some() && keep(field)).max_by_key(|field| field.time)
}

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";

fn read_replicaset(replicaset: Node<'_, '_>) -> Result<Option<RolloutRecord>> {
    let metadata = replicaset.get("metadata");
    let owners = metadata.get("ownerReferences");
    let owner_items = owners.array_or_empty("an array of owner references")?;
    let mut deployment = None;
    for index in 0..owner_items.len() {
        let owner = owners.item(owner_items, index);
        if owner.get("kind").opt_str()? == Some("Deployment") {
            deployment = Some(owner.get("name").str()?);
            break;
        }
    }
    let Some(deployment) = deployment else {
        return Ok(None);
    };
    let annotations = metadata.get("annotations");
    annotations.string_map()?;
    let revision_node = annotations.get(REVISION);
    // A missing revision (never written by the deployment controller) reads as 0: unknown.
    let revision = match revision_node.opt_str()? {
        None => 0,
        Some(text) => text.trim().parse().map_err(|_| revision_node.error("a revision number"))?,
    };
    let history_node = annotations.get(REVISION_HISTORY);
    let mut revision_history = Vec::new();
    for part in history_node.str_or_empty()?.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let number = part.parse().map_err(|_| history_node.error("comma-separated revision numbers"))?;
        revision_history.push(number);
    }
    let images = template_images(replicaset.at(&["spec", "template"]))?;
    let fields = managed_fields(metadata)?;
    let manager = newest(&fields, |field| field.touches_spec)
        .or_else(|| newest(&fields, |_| true))
        .map(|field| field.manager.to_string())
        .filter(|manager| !manager.is_empty());
    let created = metadata.get("creationTimestamp").time()?;
    // A rollback reuses an old ReplicaSet: its creation is long past, and the controller's
    // update of its annotations is the rollout. Status writes come later (readiness) and
    // would move the time after the rollout, so they are not counted.
    let time = if revision_history.is_empty() {
        created
    } else {
        newest(&fields, |field| !field.is_status).and_then(|field| field.time).unwrap_or(created)
    };
    Ok(Some(RolloutRecord {
        time,
        namespace: metadata.get("namespace").str_or_empty()?.to_string(),
        deployment: deployment.to_string(),
        replicaset: metadata.get("name").str_or_empty()?.to_string(),
        revision,
        revision_history,
        images,
        manager,
    }))
}

fn read_deployment(deployment: Node<'_, '_>) -> Result<DeploymentRecord> {
    let metadata = deployment.get("metadata");
    Ok(DeploymentRecord {
        namespace: metadata.get("namespace").str_or_empty()?.to_string(),
        name: metadata.get("name").str_or_empty()?.to_string(),
        spec_managers: spec_managers(&managed_fields(metadata)?),
    })
}

/// `(manager, time)` of each entry that touched `f:spec`, oldest first.
fn spec_managers(fields: &[ManagedField<'_>]) -> Vec<(String, Instant)> {
    let mut managers: Vec<(String, Instant)> = fields
        .iter()
        .filter(|field| field.touches_spec)
        .filter_map(|field| Some((field.manager.to_string(), field.time?)))
        .collect();
    managers.sort_by_key(|(_, time)| *time);
    managers
}

/// The images of a pod template's containers, in order.
fn template_images(template: Node<'_, '_>) -> Result<Vec<String>> {
    let containers = template.at(&["spec", "containers"]);
    let container_items = containers.array_or_empty("an array of containers")?;
    let mut images = Vec::new();
    for index in 0..container_items.len() {
        if let Some(image) = containers.item(container_items, index).get("image").non_empty_str()? {
            images.push(image.to_string());
        }
    }
    Ok(images)
}

/// A Deployment, StatefulSet or DaemonSet: its creation, spec managers and images.
fn read_workload(kind: &str, workload: Node<'_, '_>) -> Result<WorkloadRecord> {
    let metadata = workload.get("metadata");
    Ok(WorkloadRecord {
        kind: kind.to_string(),
        namespace: metadata.get("namespace").str_or_empty()?.to_string(),
        name: metadata.get("name").str_or_empty()?.to_string(),
        created: metadata.get("creationTimestamp").opt_time()?,
        spec_managers: spec_managers(&managed_fields(metadata)?),
        images: template_images(workload.at(&["spec", "template"]))?,
    })
}

/// How much later than its creation a revision must be updated to count as reused: the
/// controller writes a new revision once, and only a rollback updates it again.
const REUSED_AFTER_SECONDS: i64 = 60;

/// A ControllerRevision of a StatefulSet or DaemonSet (others, e.g. of a third-party
/// controller, are no rollouts and are left out), with its template (`data`) for
/// [`same_templates`].
///
/// NB: both controllers keep one revision per distinct template. A rollback to an earlier
/// template does not make a new revision: the controller raises the old revision's number
/// (`revision`) to the next one, so its `creationTimestamp` is the first rollout's and its
/// last `managedFields` update is the rollback's. That is the rule here: a revision updated
/// more than [`REUSED_AFTER_SECONDS`] after it was made is a rollback at that update.
/// A DaemonSet revision's `deprecated.daemonset.template.generation` annotation is not
/// rewritten by that update (only `revision` is), so it says when the template was first
/// made, not whether it came back: the update time is the evidence here.
fn read_revision(revision: Node<'_, '_>) -> Result<Option<(RevisionRecord, Option<Value>)>> {
    let metadata = revision.get("metadata");
    let owners = metadata.get("ownerReferences");
    let owner_items = owners.array_or_empty("an array of owner references")?;
    let mut owner = None;
    for index in 0..owner_items.len() {
        let reference = owners.item(owner_items, index);
        if let Some(kind @ ("StatefulSet" | "DaemonSet")) = reference.get("kind").opt_str()? {
            owner = Some((kind, reference.get("name").str()?));
            break;
        }
    }
    let Some((owner_kind, owner)) = owner else {
        return Ok(None);
    };
    let created = metadata.get("creationTimestamp").time()?;
    let fields = managed_fields(metadata)?;
    let updated = newest(&fields, |field| !field.is_status).and_then(|field| field.time);
    let reused = updated.filter(|updated| updated.duration_since(created).as_secs() > REUSED_AFTER_SECONDS);
    let data = revision.get("data");
    let record = RevisionRecord {
        time: reused.unwrap_or(created),
        namespace: metadata.get("namespace").str_or_empty()?.to_string(),
        owner_kind: owner_kind.to_string(),
        owner: owner.to_string(),
        revision: revision.get("revision").opt_u64()?.unwrap_or(0),
        rollback: reused.map(|_| Rollback::Reused { created }),
        images: template_images(data.at(&["spec", "template"]))?,
    };
    Ok(Some((record, data.value().cloned())))
}

/// Revisions whose template equals that of an earlier revision of the same owner are
/// rollbacks to it (the controllers avoid this, but a hash collision or a hand-made revision
/// can make one); the others keep what [`read_revision`] found.
fn same_templates(revisions: Vec<(RevisionRecord, Option<Value>)>) -> Vec<RevisionRecord> {
    let mut records: Vec<RevisionRecord> = Vec::with_capacity(revisions.len());
    for (index, (record, data)) in revisions.iter().enumerate() {
        let mut record = record.clone();
        let earlier = revisions
            .iter()
            .enumerate()
            .filter(|(other_index, (other, other_data))| {
                *other_index != index
                    && other.namespace == record.namespace
                    && other.owner_kind == record.owner_kind
                    && other.owner == record.owner
                    && other.revision < record.revision
                    && data.is_some()
                    && other_data == data
            })
            .map(|(_, (other, _))| other.revision)
            .max();
        if record.rollback.is_none()
            && let Some(revision) = earlier
        {
            record.rollback = Some(Rollback::SameAs { revision });
        }
        records.push(record);
    }
    records
}

/// A HorizontalPodAutoscaler (autoscaling/v2 or v1): its target and its last scaling.
fn read_autoscaler(autoscaler: Node<'_, '_>) -> Result<AutoscalerRecord> {
    let metadata = autoscaler.get("metadata");
    let target = autoscaler.at(&["spec", "scaleTargetRef"]);
    let status = autoscaler.get("status");
    Ok(AutoscalerRecord {
        namespace: metadata.get("namespace").str_or_empty()?.to_string(),
        name: metadata.get("name").str_or_empty()?.to_string(),
        target: format!("{}/{}", target.get("kind").str_or_empty()?, target.get("name").str_or_empty()?),
        last_scale: status.get("lastScaleTime").opt_time()?,
        current_replicas: status.get("currentReplicas").opt_u64()?,
        desired_replicas: status.get("desiredReplicas").opt_u64()?,
    })
}

/// A Node's conditions that say when they last changed.
fn read_node(node: Node<'_, '_>) -> Result<Vec<NodeConditionRecord>> {
    let name = node.at(&["metadata", "name"]).str()?;
    let list = node.at(&["status", "conditions"]);
    let items = list.array_or_empty("an array of node conditions")?;
    let mut conditions = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        let condition = list.item(items, index);
        condition.object("a node condition")?;
        let Some(since) = condition.get("lastTransitionTime").opt_time()? else { continue };
        conditions.push(NodeConditionRecord {
            node: name.to_string(),
            condition: condition.get("type").str()?.to_string(),
            status: condition.get("status").str_or_empty()?.to_string(),
            since,
            reason: condition.get("reason").non_empty_str()?.map(str::to_string),
            message: condition.get("message").non_empty_str()?.map(str::to_string),
        });
    }
    Ok(conditions)
}

fn read_pod(pod: Node<'_, '_>) -> Result<PodRecord> {
    let metadata = pod.get("metadata");
    // Init containers are not listed: their restarts are rare and their logs end early.
    let statuses = pod.at(&["status", "containerStatuses"]);
    let items = statuses.array_or_empty("an array of container statuses")?;
    let mut containers = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        let status = statuses.item(items, index);
        status.object("a container status")?;
        let terminated = status.at(&["lastState", "terminated"]);
        let last_termination = if terminated.is_absent() {
            None
        } else {
            terminated.object("a terminated state")?;
            Some(Termination {
                started_at: terminated.get("startedAt").opt_time()?,
                finished_at: terminated.get("finishedAt").opt_time()?,
                reason: terminated.get("reason").non_empty_str()?.map(str::to_string),
                exit_code: terminated.get("exitCode").opt_i32()?,
            })
        };
        containers.push(ContainerRecord {
            name: status.get("name").str()?.to_string(),
            restart_count: status.get("restartCount").opt_u64()?.unwrap_or(0),
            started_at: status.get("state").get("running").get("startedAt").opt_time()?,
            last_termination,
        });
    }
    Ok(PodRecord {
        namespace: metadata.get("namespace").str_or_empty()?.to_string(),
        name: metadata.get("name").str()?.to_string(),
        created_at: metadata.get("creationTimestamp").opt_time()?,
        node: pod.get("spec").get("nodeName").non_empty_str()?.map(str::to_string),
        containers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> Instant {
        text.parse().unwrap()
    }

    /// A kubelet-style core/v1 event as `kubectl get events -o json` prints it.
    const CORE_EVENT: &str = r#"{"apiVersion":"v1","count":5,"eventTime":null,
        "firstTimestamp":"2025-02-09T10:05:01Z","involvedObject":{"apiVersion":"v1","fieldPath":"spec.containers{nginx}",
        "kind":"Pod","name":"api-7d9f8b6c5-x2kqp","namespace":"prod","resourceVersion":"123","uid":"u1"},
        "kind":"Event","lastTimestamp":"2025-02-09T10:07:31Z","message":"Back-off restarting failed container nginx",
        "metadata":{"creationTimestamp":"2025-02-09T10:05:01Z","name":"api-7d9f8b6c5-x2kqp.182a","namespace":"prod"},
        "reason":"BackOff","reportingComponent":"kubelet","reportingInstance":"node-2",
        "source":{"component":"kubelet","host":"node-2"},"type":"Warning"}"#;

    /// A scheduler event in core/v1 form: eventTime and series, no first/last timestamps.
    const SCHEDULER_EVENT: &str = r#"{"apiVersion":"v1","action":"Scheduling","eventTime":"2025-02-09T10:04:00.123456Z",
        "firstTimestamp":null,"involvedObject":{"kind":"Pod","name":"api-7d9f8b6c5-q4hjn","namespace":"prod"},
        "kind":"Event","lastTimestamp":null,"message":"0/3 nodes are available","metadata":{"creationTimestamp":"2025-02-09T10:04:00Z",
        "name":"api.183b","namespace":"prod"},"reason":"FailedScheduling","reportingComponent":"default-scheduler",
        "reportingInstance":"default-scheduler-control-plane","series":{"count":4,"lastObservedTime":"2025-02-09T10:06:30.654321Z"},
        "source":{},"type":"Warning"}"#;

    /// The events.k8s.io/v1 spelling of a kubelet event.
    const NEW_EVENT: &str = r#"{"apiVersion":"events.k8s.io/v1","kind":"Event","eventTime":null,
        "deprecatedFirstTimestamp":"2025-02-09T10:05:01Z","deprecatedLastTimestamp":"2025-02-09T10:05:11Z","deprecatedCount":2,
        "deprecatedSource":{"component":"kubelet","host":"node-3"},"metadata":{"creationTimestamp":"2025-02-09T10:05:01Z",
        "name":"api.184c","namespace":"prod"},"note":"Liveness probe failed: HTTP probe failed with statuscode: 500","reason":"Unhealthy",
        "regarding":{"kind":"Pod","name":"api-7d9f8b6c5-zz9kk","namespace":"prod"},"reportingController":"kubelet",
        "reportingInstance":"node-3","type":"Warning"}"#;

    fn event_record(
        time: &str,
        first: Option<&str>,
        reason: &str,
        object: &str,
        count: u64,
        reporter: &str,
        host: Option<&str>,
    ) -> (Instant, Option<Instant>, String, String, u64, Option<String>, Option<String>) {
        (
            instant(time),
            first.map(instant),
            reason.into(),
            object.into(),
            count,
            Some(reporter.into()),
            host.map(Into::into),
        )
    }

    #[test]
    fn events_take_last_seen_first_seen_reporter_and_host() {
        let rows = [
            (
                CORE_EVENT.to_string(),
                event_record(
                    "2025-02-09T10:07:31Z",
                    Some("2025-02-09T10:05:01Z"),
                    "BackOff",
                    "Pod/api-7d9f8b6c5-x2kqp",
                    5,
                    "kubelet",
                    Some("node-2"),
                ),
            ),
            (
                SCHEDULER_EVENT.to_string(),
                event_record(
                    "2025-02-09T10:06:30.654321Z",
                    Some("2025-02-09T10:04:00.123456Z"),
                    "FailedScheduling",
                    "Pod/api-7d9f8b6c5-q4hjn",
                    4,
                    "default-scheduler",
                    None,
                ),
            ),
            (
                NEW_EVENT.to_string(),
                event_record(
                    "2025-02-09T10:05:11Z",
                    Some("2025-02-09T10:05:01Z"),
                    "Unhealthy",
                    "Pod/api-7d9f8b6c5-zz9kk",
                    2,
                    "kubelet",
                    Some("node-3"),
                ),
            ),
            (
                // Only the creation time, no count, host only as the kubelet's instance.
                NEW_EVENT
                    .replace(r#""deprecatedFirstTimestamp":"2025-02-09T10:05:01Z","deprecatedLastTimestamp":"2025-02-09T10:05:11Z","deprecatedCount":2,"#, "")
                    .replace(r#""deprecatedSource":{"component":"kubelet","host":"node-3"},"#, ""),
                event_record(
                    "2025-02-09T10:05:01Z",
                    None,
                    "Unhealthy",
                    "Pod/api-7d9f8b6c5-zz9kk",
                    1,
                    "kubelet",
                    Some("node-3"),
                ),
            ),
        ];
        for (event, expected) in rows {
            let events = parse_events(event.as_bytes()).unwrap();
            assert_eq!(events.len(), 1, "{event}");
            let event_record = &events[0];
            let got = (
                event_record.time,
                event_record.first_time,
                event_record.reason.clone(),
                event_record.object.clone(),
                event_record.count,
                event_record.reporter.clone(),
                event_record.host.clone(),
            );
            assert_eq!(got, expected, "{event}");
            assert_eq!(event_record.namespace, "prod");
            assert_eq!(event_record.event_type, "Warning");
        }
    }

    #[test]
    fn event_lists_in_every_spelling() {
        // A typed list's items carry no kind: the list names it.
        let typed = CORE_EVENT.replace(r#""kind":"Event","#, "");
        let rows = [
            format!(
                r#"{{"apiVersion":"v1","items":[{CORE_EVENT},{SCHEDULER_EVENT}],"kind":"List","metadata":{{"resourceVersion":""}}}}"#
            ),
            format!(r#"{{"kind":"EventList","apiVersion":"v1","metadata":{{}},"items":[{typed},{SCHEDULER_EVENT}]}}"#),
            format!(
                r#"{{"apiVersion":"v1","items":[{CORE_EVENT},{{"kind":"Pod","metadata":{{"name":"x"}}}},{NEW_EVENT}],"kind":"List"}}"#
            ),
        ];
        for body in rows {
            assert_eq!(parse_events(body.as_bytes()).unwrap().len(), 2, "{body}");
        }
    }

    #[track_caller]
    fn check_seen(event: serde_json::Value, last: Option<&str>, first: Option<&str>) {
        let expected = EventSeen { last: last.map(instant), first: first.map(instant) };
        assert_eq!(event_seen(&event), expected, "{event}");
    }

    #[test]
    fn events_are_seen_by_one_precedence() {
        check_seen(
            serde_json::json!({"series": {"lastObservedTime": "2025-02-09T10:10:00Z"}, "lastTimestamp": "2025-02-09T10:05:00Z",
                "eventTime": "2025-02-09T10:00:00.000000Z", "metadata": {"creationTimestamp": "2025-02-09T10:00:00Z"}}),
            Some("2025-02-09T10:10:00Z"),
            Some("2025-02-09T10:00:00Z"),
        );
        check_seen(
            serde_json::json!({"deprecatedLastTimestamp": "2025-02-09T10:05:11Z", "deprecatedFirstTimestamp": "2025-02-09T10:05:01Z",
                "eventTime": "2025-02-09T10:00:00Z"}),
            Some("2025-02-09T10:05:11Z"),
            Some("2025-02-09T10:05:01Z"),
        );
        check_seen(
            serde_json::json!({"metadata": {"creationTimestamp": "2025-02-09T10:00:00Z"}}),
            Some("2025-02-09T10:00:00Z"),
            None,
        );
        // What cannot be read is passed over for the next field (the parser fails instead).
        check_seen(
            serde_json::json!({"lastTimestamp": "Sunday", "firstTimestamp": 3, "eventTime": "2025-02-09T10:00:00Z"}),
            Some("2025-02-09T10:00:00Z"),
            Some("2025-02-09T10:00:00Z"),
        );
        check_seen(serde_json::json!({}), None, None);
    }

    #[test]
    fn event_errors_name_the_field() {
        let rows = [
            (
                format!(
                    r#"{{"kind":"List","items":[{}]}}"#,
                    CORE_EVENT.replace(r#""lastTimestamp":"2025-02-09T10:07:31Z""#, r#""lastTimestamp":"Sunday""#)
                ),
                r#"items[0].lastTimestamp: expected an RFC 3339 time, found "Sunday""#,
            ),
            (
                r#"{"kind":"Event","metadata":{"name":"x"}}"#.to_string(),
                "metadata.creationTimestamp: expected an RFC 3339 time: the event has no lastTimestamp, eventTime or series either",
            ),
            (
                format!(r#"{{"kind":"List","items":[{}]}}"#, CORE_EVENT.replace(r#""count":5"#, r#""count":"5""#)),
                r#"items[0].count: expected a non-negative integer, found "5""#,
            ),
            (
                r#"{"kind":"List","items":[3]}"#.to_string(),
                "items[0]: expected a Kubernetes object, found the number 3",
            ),
            (
                "[]".to_string(),
                "top level: expected a Kubernetes object or list (kubectl get … -o json), found an array",
            ),
        ];
        for (body, expected) in rows {
            let error = parse_events(body.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), expected, "{body}");
        }
    }

    fn replicaset(name: &str, revision: &str, history: Option<&str>, created: &str) -> String {
        let history = history
            .map(|history| format!(r#","deployment.kubernetes.io/revision-history":"{history}""#))
            .unwrap_or_default();
        format!(
            r#"{{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{{"annotations":{{
            "deployment.kubernetes.io/desired-replicas":"3","deployment.kubernetes.io/max-replicas":"4",
            "deployment.kubernetes.io/revision":"{revision}"{history}}},"creationTimestamp":"{created}",
            "managedFields":[
              {{"apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{{"f:metadata":{{"f:annotations":{{}}}},"f:spec":{{"f:replicas":{{}}}}}},
                "manager":"kube-controller-manager","operation":"Update","time":"2025-02-09T10:01:00Z"}},
              {{"apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{{"f:status":{{}}}},"manager":"kube-controller-manager",
                "operation":"Update","subresource":"status","time":"2025-02-09T10:03:00Z"}}],
            "name":"{name}","namespace":"prod","ownerReferences":[{{"apiVersion":"apps/v1","blockOwnerDeletion":true,
            "controller":true,"kind":"Deployment","name":"api","uid":"d1"}}]}},
            "spec":{{"replicas":3,"template":{{"metadata":{{}},"spec":{{"containers":[
              {{"image":"registry.example/api:1.4.2","name":"api"}},{{"image":"nginx:1.27","name":"nginx"}}]}}}}}},
            "status":{{"replicas":3}}}}"#
        )
    }

    #[test]
    fn replicasets_are_rollouts_and_rollbacks() {
        let rows = [
            (replicaset("api-7d9f8b6c5", "5", None, "2025-02-09T10:00:30Z"), ("2025-02-09T10:00:30Z", 5, vec![])),
            (
                // A rollback: created long ago, rolled out by the controller's last update.
                replicaset("api-6c8e7a4b3", "7", Some("3,5"), "2025-01-20T08:00:00Z"),
                ("2025-02-09T10:01:00Z", 7, vec![3, 5]),
            ),
        ];
        for (body, (time, revision, history)) in rows {
            let rollouts = parse_replicasets(body.as_bytes()).unwrap();
            assert_eq!(rollouts.len(), 1);
            let rollout = &rollouts[0];
            assert_eq!(rollout.time, instant(time));
            assert_eq!(rollout.revision, revision);
            assert_eq!(rollout.revision_history, history);
            assert_eq!(rollout.deployment, "api");
            assert_eq!(rollout.namespace, "prod");
            assert_eq!(rollout.images, vec!["registry.example/api:1.4.2".to_string(), "nginx:1.27".to_string()]);
            assert_eq!(rollout.manager.as_deref(), Some("kube-controller-manager"));
        }
        // Without a Deployment owner a ReplicaSet is no rollout.
        let orphan = replicaset("lonely", "1", None, "2025-02-09T10:00:30Z")
            .replace(r#""kind":"Deployment""#, r#""kind":"Rollout""#);
        assert_eq!(parse_replicasets(orphan.as_bytes()).unwrap(), vec![]);
    }

    #[test]
    fn replicaset_errors_name_the_annotation() {
        let rows = [
            (
                replicaset("a", "five", None, "2025-02-09T10:00:30Z"),
                r#"metadata.annotations["deployment.kubernetes.io/revision"]: expected a revision number, found "five""#,
            ),
            (
                replicaset("a", "5", Some("3,x"), "2025-02-09T10:00:30Z"),
                r#"metadata.annotations["deployment.kubernetes.io/revision-history"]: expected comma-separated revision numbers, found "3,x""#,
            ),
            (
                replicaset("a", "5", None, "2025-02-09"),
                r#"metadata.creationTimestamp: expected an RFC 3339 time, found "2025-02-09""#,
            ),
        ];
        for (body, expected) in rows {
            let error = parse_replicasets(body.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), expected);
        }
    }

    #[test]
    fn deployments_list_spec_managers_oldest_first() {
        let body = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"apps/v1","kind":"Deployment",
            "metadata":{"name":"api","namespace":"prod","managedFields":[
              {"manager":"kubectl-client-side-apply","operation":"Update","time":"2025-02-09T10:00:29Z",
               "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{},"f:spec":{"f:template":{}}}},
              {"manager":"argocd-controller","operation":"Apply","time":"2025-01-10T00:00:00Z",
               "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}},
              {"manager":"kube-controller-manager","operation":"Update","subresource":"status","time":"2025-02-09T10:02:00Z",
               "fieldsType":"FieldsV1","fieldsV1":{"f:status":{}}},
              {"manager":"kubectl-rollout","operation":"Update","time":null,"fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]},
            "spec":{"strategy":{"type":"RollingUpdate"},"template":{}}}]}"#;
        let deployments = parse_deployments(body.as_bytes()).unwrap();
        assert_eq!(
            deployments,
            vec![DeploymentRecord {
                namespace: "prod".into(),
                name: "api".into(),
                spec_managers: vec![
                    ("argocd-controller".into(), instant("2025-01-10T00:00:00Z")),
                    ("kubectl-client-side-apply".into(), instant("2025-02-09T10:00:29Z")),
                ],
            }]
        );
    }

    #[test]
    fn pods_give_node_restarts_and_terminations() {
        let body = r#"{"apiVersion":"v1","items":[{"apiVersion":"v1","kind":"Pod",
            "metadata":{"creationTimestamp":"2025-02-09T09:00:00Z","name":"api-7d9f8b6c5-x2kqp","namespace":"prod"},
            "spec":{"containers":[{"name":"nginx"}],"nodeName":"node-2"},
            "status":{"containerStatuses":[
              {"name":"nginx","restartCount":3,"ready":true,"image":"nginx:1.27",
               "lastState":{"terminated":{"containerID":"containerd://x","exitCode":137,"finishedAt":"2025-02-09T10:12:01Z",
                 "reason":"OOMKilled","startedAt":"2025-02-09T10:05:20Z"}},
               "state":{"running":{"startedAt":"2025-02-09T10:12:05Z"}}},
              {"name":"sidecar","restartCount":0,"lastState":{},"state":{"waiting":{"reason":"ContainerCreating"}}},
              {"name":"lost","restartCount":1,"lastState":{"terminated":{"exitCode":137,"finishedAt":null,
                 "reason":"ContainerStatusUnknown","startedAt":null}},"state":{"running":{"startedAt":"2025-02-09T10:00:00Z"}}}]}},
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"pending","namespace":"prod"},"spec":{},"status":{"phase":"Pending"}}],
            "kind":"List","metadata":{"resourceVersion":""}}"#;
        let pods = parse_pods(body.as_bytes()).unwrap();
        assert_eq!(
            pods,
            vec![
                PodRecord {
                    namespace: "prod".into(),
                    name: "api-7d9f8b6c5-x2kqp".into(),
                    created_at: Some(instant("2025-02-09T09:00:00Z")),
                    node: Some("node-2".into()),
                    containers: vec![
                        ContainerRecord {
                            name: "nginx".into(),
                            restart_count: 3,
                            started_at: Some(instant("2025-02-09T10:12:05Z")),
                            last_termination: Some(Termination {
                                started_at: Some(instant("2025-02-09T10:05:20Z")),
                                finished_at: Some(instant("2025-02-09T10:12:01Z")),
                                reason: Some("OOMKilled".into()),
                                exit_code: Some(137),
                            }),
                        },
                        ContainerRecord {
                            name: "sidecar".into(),
                            restart_count: 0,
                            started_at: None,
                            last_termination: None,
                        },
                        ContainerRecord {
                            name: "lost".into(),
                            restart_count: 1,
                            started_at: Some(instant("2025-02-09T10:00:00Z")),
                            last_termination: Some(Termination {
                                started_at: None,
                                finished_at: None,
                                reason: Some("ContainerStatusUnknown".into()),
                                exit_code: Some(137),
                            }),
                        },
                    ],
                },
                PodRecord {
                    namespace: "prod".into(),
                    name: "pending".into(),
                    created_at: None,
                    node: None,
                    containers: vec![],
                },
            ]
        );
        let error = parse_pods(
            br#"{"kind":"Pod","metadata":{"name":"p"},"status":{"containerStatuses":[{"name":"c","lastState":{"terminated":{"exitCode":"1"}}}]}}"#,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"status.containerStatuses[0].lastState.terminated.exitCode: expected a 32-bit integer, found "1""#
        );
    }

    #[test]
    fn workloads_say_when_they_were_made_and_by_whom() {
        let body = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"mitigation","namespace":"shop",
              "creationTimestamp":"2025-02-09T10:12:00Z","managedFields":[
                {"manager":"kube-controller-manager","operation":"Update","subresource":"status","time":"2025-02-09T10:12:05Z",
                 "fieldsType":"FieldsV1","fieldsV1":{"f:status":{}}},
                {"manager":"kubectl-create","operation":"Update","time":"2025-02-09T10:12:00Z",
                 "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:replicas":{}}}}]},
             "spec":{"strategy":{},"template":{"spec":{"containers":[{"name":"app","image":"shop/mitigation:1"}]}}}},
            {"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db","namespace":"shop"},
             "spec":{"template":{"spec":{"containers":[{"name":"pg","image":"postgres:16"}]}}}},
            {"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","namespace":"shop","creationTimestamp":"2025-01-01T00:00:00Z"},
             "spec":{"template":{"spec":{"containers":[]}}}}]}"#;
        let objects = parse_objects(body.as_bytes()).unwrap();
        assert_eq!(objects.deployments.len(), 1, "a Deployment is still a DeploymentRecord");
        type Row<'a> = (&'a str, &'a str, Option<Instant>, Vec<&'a str>, Vec<String>);
        let got: Vec<Row> = objects
            .workloads
            .iter()
            .map(|workload| {
                (
                    workload.kind.as_str(),
                    workload.name.as_str(),
                    workload.created,
                    workload.spec_managers.iter().map(|(manager, _)| manager.as_str()).collect(),
                    workload.images.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "Deployment",
                    "mitigation",
                    Some(instant("2025-02-09T10:12:00Z")),
                    vec!["kubectl-create"],
                    vec!["shop/mitigation:1".to_string()]
                ),
                ("StatefulSet", "db", None, vec![], vec!["postgres:16".to_string()]),
                ("DaemonSet", "agent", Some(instant("2025-01-01T00:00:00Z")), vec![], vec![]),
            ]
        );
    }

    fn revision(owner_kind: &str, name: &str, number: u64, created: &str, updated: &str, image: &str) -> String {
        format!(
            r#"{{"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{{"name":"{name}","namespace":"shop",
            "creationTimestamp":"{created}","managedFields":[{{"manager":"kube-controller-manager","operation":"Update",
              "time":"{updated}","fieldsType":"FieldsV1","fieldsV1":{{"f:revision":{{}}}}}}],
            "ownerReferences":[{{"apiVersion":"apps/v1","kind":"{owner_kind}","name":"db","uid":"u","controller":true}}]}},
            "data":{{"spec":{{"template":{{"$patch":"replace","spec":{{"containers":[{{"name":"pg","image":"{image}"}}]}}}}}}}},
            "revision":{number}}}"#
        )
    }

    #[test]
    fn controller_revisions_are_rollouts_and_rollbacks() {
        let body = format!(
            r#"{{"kind":"List","apiVersion":"v1","items":[{},{},{},{}]}}"#,
            // Made at 10:05, never touched again: a rollout at 10:05.
            revision("StatefulSet", "db-1", 2, "2025-02-09T10:05:00Z", "2025-02-09T10:05:00Z", "postgres:16.2"),
            // Made in January and raised to revision 3 at 10:20: the controller reused it, a rollback.
            revision("StatefulSet", "db-0", 3, "2025-01-20T08:00:00Z", "2025-02-09T10:20:00Z", "postgres:16.1"),
            // Another owner's revision with the same template as revision 1 of it: a rollback to 1.
            revision("DaemonSet", "db-a", 1, "2025-02-09T09:00:00Z", "2025-02-09T09:00:00Z", "agent:1"),
            revision("DaemonSet", "db-b", 4, "2025-02-09T10:10:00Z", "2025-02-09T10:10:00Z", "agent:1"),
        );
        let mut with_orphan: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut orphan: serde_json::Value =
            serde_json::from_str(&revision("StatefulSet", "x", 1, "2025-02-09T10:00:00Z", "2025-02-09T10:00:00Z", "a"))
                .unwrap();
        orphan["metadata"]["ownerReferences"][0]["kind"] = "Rollout".into();
        with_orphan["items"].as_array_mut().unwrap().push(orphan);
        let revisions = parse_objects(&serde_json::to_vec(&with_orphan).unwrap()).unwrap().revisions;
        type Row<'a> = (&'a str, u64, Instant, Option<Rollback>, Vec<String>);
        let got: Vec<Row> = revisions
            .iter()
            .map(|revision| {
                (
                    revision.owner_kind.as_str(),
                    revision.revision,
                    revision.time,
                    revision.rollback.clone(),
                    revision.images.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("StatefulSet", 2, instant("2025-02-09T10:05:00Z"), None, vec!["postgres:16.2".to_string()]),
                (
                    "StatefulSet",
                    3,
                    instant("2025-02-09T10:20:00Z"),
                    Some(Rollback::Reused { created: instant("2025-01-20T08:00:00Z") }),
                    vec!["postgres:16.1".to_string()]
                ),
                ("DaemonSet", 1, instant("2025-02-09T09:00:00Z"), None, vec!["agent:1".to_string()]),
                (
                    "DaemonSet",
                    4,
                    instant("2025-02-09T10:10:00Z"),
                    Some(Rollback::SameAs { revision: 1 }),
                    vec!["agent:1".to_string()]
                ),
            ],
            "a revision of a third-party owner is left out"
        );
    }

    #[test]
    fn autoscalers_and_node_conditions() {
        let body = r#"{"kind":"List","apiVersion":"v1","items":[
            {"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"api","namespace":"shop"},
             "spec":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"api"},"maxReplicas":10},
             "status":{"lastScaleTime":"2025-02-09T10:14:00Z","currentReplicas":4,"desiredReplicas":6}},
            {"apiVersion":"v1","kind":"Node","metadata":{"name":"node-2"},"status":{"nodeInfo":{},"conditions":[
              {"type":"Ready","status":"False","reason":"KubeletNotReady","message":"container runtime is down",
               "lastHeartbeatTime":"2025-02-09T10:16:00Z","lastTransitionTime":"2025-02-09T10:15:30Z"},
              {"type":"MemoryPressure","status":"False","lastTransitionTime":null}]}}]}"#;
        let objects = parse_objects(body.as_bytes()).unwrap();
        assert_eq!(
            objects.autoscalers,
            vec![AutoscalerRecord {
                namespace: "shop".into(),
                name: "api".into(),
                target: "Deployment/api".into(),
                last_scale: Some(instant("2025-02-09T10:14:00Z")),
                current_replicas: Some(4),
                desired_replicas: Some(6),
            }]
        );
        assert_eq!(
            objects.node_conditions,
            vec![NodeConditionRecord {
                node: "node-2".into(),
                condition: "Ready".into(),
                status: "False".into(),
                since: instant("2025-02-09T10:15:30Z"),
                reason: Some("KubeletNotReady".into()),
                message: Some("container runtime is down".into()),
            }],
            "a condition without a transition time says nothing of when"
        );
        let error = parse_objects(br#"{"kind":"Node","metadata":{"name":"n"},"status":{"conditions":[{"type":"Ready","lastTransitionTime":"soon"}]}}"#)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"status.conditions[0].lastTransitionTime: expected an RFC 3339 time, found "soon""#
        );
    }

    #[test]
    fn mixed_lists_give_every_kind() {
        let body = format!(
            r#"{{"apiVersion":"v1","kind":"List","items":[{CORE_EVENT},{},{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p","namespace":"prod"}}}},{{"kind":"ConfigMap","metadata":{{"name":"c"}}}}]}}"#,
            replicaset("api-7d9f8b6c5", "5", None, "2025-02-09T10:00:30Z")
        );
        let objects = parse_objects(body.as_bytes()).unwrap();
        assert_eq!(
            (objects.events.len(), objects.rollouts.len(), objects.pods.len(), objects.deployments.len()),
            (1, 1, 1, 0)
        );
    }
}
