//! The Kubernetes collector: one [`KubeCollector::pass`] reads, for an incident's [`Scope`],
//! the logs of every container of its target pods, the pods themselves, their Events
//! (core/v1 and events.k8s.io/v1) and their workloads (Deployments with all their
//! ReplicaSets, StatefulSets, DaemonSets, Jobs), and returns them as a [`Pass`].
//!
//! A pass never fails: whatever the API refuses or loses becomes a [`GapRecord`] whose
//! reason says what to do about it. Scheduling passes, keeping cursors and storing what a
//! pass brought belong to the daemon.
//!
//! Targets come from the alerts' labels, in this order: `namespace` + `pod`; `namespace` +
//! `deployment`/`statefulset`/`daemonset`/`replicaset`/`job_name` (the workload's selector,
//! read from the object); `namespace` + `service` (its selector); then the configured
//! `[[kubernetes.targets]]` rules. Page-only incidents use `[[kubernetes.services]]`.
//! NB: the label `job` is not a Kubernetes Job: in Prometheus it is the scrape job, on every
//! alert. kube-state-metrics names the Job `job_name`; a rule can map `job` if a site means it.
//!
//! The API serves every event through both groups; both are listed (a Role may grant only
//! one), and an event already read as core/v1 is not kept again as events.k8s.io/v1.
//! Events are listed once per namespace and group (pages of 500, at most
//! [`MAX_EVENTS_PER_LIST`] per namespace and group, a gap beyond) and every one seen inside
//! the window is kept, whatever it is about: changes come first in a post-mortem, and the
//! rollout of a neighbour, a scaling, or a warning about an object nobody thought of (a PVC,
//! a node pressure eviction) is often the row that explains the incident.
//!
//! Changes in each target namespace are listed too, not only the alert's own objects
//! (issue 10): Deployments, StatefulSets, DaemonSets, ReplicaSets, ControllerRevisions and
//! HorizontalPodAutoscalers (autoscaling/v2), paged, at most [`MAX_OBJECTS_PER_LIST`] per
//! namespace and kind (a gap beyond). The rule for what is kept is [`changed_in_window`]:
//! created, written (`managedFields`), a condition's transition or an autoscaler's scaling
//! inside the window; a ReplicaSet or ControllerRevision is kept with its siblings of the
//! same owner when one of them changed, since a rollback is told by the revisions before it.
//!
//! Reads are confined to `kubernetes.namespaces` ([`Namespaces`]): a target outside it is
//! not read but reported as a gap naming the key and the refused namespace, and pods are
//! listed cluster-wide (an alert without a namespace that a selector rule matches) only when
//! it allows every namespace; otherwise such a selector is listed in each allowed namespace.
//! The webhook's sender chooses the labels, so the labels never widen what is read.
//!
//! Secrets never leave a pass: each log line (the text after its kubelet time) goes through
//! [`Redactor`] (the built-in rules and `[[redact]]`), and each object (an Event's
//! `message`, a Pod's or a workload's env values, probe headers, arguments, its last
//! applied configuration) through [`Redactor::json`], before they are handed on.
//!
//! Nodes of the target pods are read by name (`get nodes`, which only a ClusterRole can
//! grant: the `cluster` overlay), with the Node events (`involvedObject.kind=Node`, recorded
//! in the `default` namespace); a 403 is one gap saying node evidence was not readable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncBufRead, AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use kube::core::Request;
use kube::core::params::{GetParams, ListParams};
use serde_json::Value;
use tracing::{debug, info, instrument, warn};

use super::{KubeObject, LogChunk, LogCursor, Pass, Scope};
use crate::artifacts::logs::StreamPrefix;
use crate::config::{KubernetesSettings, ServiceRule, TargetRule};
use crate::ingest::kubernetes::{EventSeen, event_seen};
use crate::normalize::redact::{Counts, Redactor, StreamState};
use crate::record::{GapRecord, GapSource, Instant, Stream, StreamName, instant, nanos};

/// Attempts of one request when the API answers 429/5xx or the connection fails.
const ATTEMPTS: u32 = 4;
/// First backoff; doubled each attempt, with ±50% jitter, so retries wait under 2 s in all.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest one request (with its retries) may take before it is a timeout gap.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a log stream may stay silent before it counts as cut.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Items per list page; most events read per namespace and group.
const LIST_PAGE: u32 = 500;
pub const MAX_EVENTS_PER_LIST: usize = 5_000;
/// Objects of one kind read per namespace when looking for changes.
pub const MAX_OBJECTS_PER_LIST: usize = 2_000;
/// The namespace-wide lists of changes: (resource, API group path, kind).
const CHANGE_LISTS: &[(&str, &str, &str)] = &[
    ("deployments", "/apis/apps/v1", "Deployment"),
    ("statefulsets", "/apis/apps/v1", "StatefulSet"),
    ("daemonsets", "/apis/apps/v1", "DaemonSet"),
    ("replicasets", "/apis/apps/v1", "ReplicaSet"),
    ("controllerrevisions", "/apis/apps/v1", "ControllerRevision"),
    ("horizontalpodautoscalers", "/apis/autoscaling/v2", "HorizontalPodAutoscaler"),
];
/// The namespace the API records events about cluster-scoped objects (Nodes) in.
const CLUSTER_EVENTS_NAMESPACE: &str = "default";
/// Extra `limitBytes` beyond the budget: lines of the `sinceTime` second already taken count
/// against the API's limit but not against the budget.
const LIMIT_SLACK: u64 = 64 << 10;
/// Container logs read at the same time in one pass.
pub const CONTAINERS_AT_ONCE: usize = 4;

/// Why the collector could not be built, or a request failed (then a gap's reason).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read kubeconfig {path}")]
    Kubeconfig {
        path: std::path::PathBuf,
        #[source]
        source: Box<kube::config::KubeconfigError>,
    },
    #[error("no kubeconfig set and no in-cluster service account found")]
    InCluster(#[source] kube::config::InClusterError),
    #[error("cannot build a Kubernetes client")]
    Client(#[source] kube::Error),
    #[error("{call} failed")]
    Api {
        call: Box<Call>,
        #[source]
        source: Box<kube::Error>,
        attempts: u32,
    },
    #[error("{call} timed out after {after:?}")]
    Timeout { call: Box<Call>, after: Duration },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Kubeconfig { .. } => "kubeconfig",
            Error::InCluster(_) => "in_cluster",
            Error::Client(_) => "client",
            Error::Timeout { .. } => "timeout",
            Error::Api { source, .. } => match source.as_ref() {
                kube::Error::Api(status) => match status.code {
                    400 => "bad_request",
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "not_found",
                    429 => "throttled",
                    500..=599 => "server",
                    _ => "api",
                },
                kube::Error::SerdeError(_) | kube::Error::FromUtf8(_) => "decode",
                _ => "connection",
            },
        }
    }

    /// The HTTP status the API answered, when it answered one.
    fn code(&self) -> Option<u16> {
        match self {
            Error::Api { source, .. } => match source.as_ref() {
                kube::Error::Api(status) => Some(status.code),
                _ => None,
            },
            _ => None,
        }
    }

    fn message(&self) -> String {
        match self {
            Error::Api { source, .. } => match source.as_ref() {
                kube::Error::Api(status) => status.message.clone(),
                other => other.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// What a person reads in the gap: what failed and what to do about it.
    pub fn gap_reason(&self) -> String {
        let Error::Api { call, attempts, .. } = self else {
            return match self {
                Error::Timeout { call, after } => {
                    format!("no answer from the Kubernetes API within {after:?} to {call}")
                }
                other => other.to_string(),
            };
        };
        let message = self.message();
        let in_namespace = call.namespace.as_deref().map(|namespace| format!(" in namespace {namespace}"));
        let in_namespace = in_namespace.unwrap_or_else(|| " cluster-wide".to_owned());
        match self.code() {
            Some(403) => format!(
                "the service account may not {} {}{in_namespace} (403): add it to the {}",
                call.verb,
                call.resource,
                if call.namespace.is_some() { "Role" } else { "ClusterRole" }
            ),
            Some(401) => "the Kubernetes API rejected the service account's credentials (401)".to_owned(),
            Some(404) if call.resource.starts_with("pods") => {
                format!("pod {} was deleted before its logs were read", call.object())
            }
            Some(404) => format!("{} {} not found (404)", call.resource, call.object()),
            Some(400) if message.contains("is waiting to start") => format!(
                "container {} of pod {} is waiting to start: it has no log yet",
                call.container.as_deref().unwrap_or("?"),
                call.object()
            ),
            Some(400) if message.contains("previous terminated container") => format!(
                "the previous instance of container {} of pod {} is gone: its lines are lost",
                call.container.as_deref().unwrap_or("?"),
                call.object()
            ),
            Some(code @ (429 | 500..=599)) => {
                format!("the Kubernetes API answered {code} to {call} {attempts} times: {message}")
            }
            Some(code) => format!("the Kubernetes API refused {call} ({code}): {message}"),
            None => match self.kind() {
                "decode" => format!("the answer to {call} is not what the API sends: {message}"),
                _ => format!("cannot reach the Kubernetes API for {call}: {message}"),
            },
        }
    }
}

/// One API request, as RBAC sees it, for errors and gap reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// `get` or `list`.
    pub verb: &'static str,
    /// `pods`, `pods/log`, `events`, `events.k8s.io/events`, `deployments`, …
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub container: Option<String>,
}

impl Call {
    fn new(verb: &'static str, resource: &str, namespace: Option<&str>, name: Option<&str>) -> Self {
        Call {
            verb,
            resource: resource.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
            container: None,
        }
    }

    fn object(&self) -> String {
        match (&self.namespace, &self.name) {
            (Some(namespace), Some(name)) => format!("{namespace}/{name}"),
            (None, Some(name)) => name.clone(),
            (Some(namespace), None) => namespace.clone(),
            (None, None) => String::new(),
        }
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}", self.verb, self.resource)?;
        match (&self.namespace, &self.name) {
            (_, Some(_)) => write!(formatter, " {}", self.object()),
            (Some(namespace), None) => write!(formatter, " in {namespace}"),
            (None, None) => Ok(()),
        }
    }
}

/// Where a pass may read: `kubernetes.namespaces`, resolved once when the collector is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Namespaces {
    /// `["*"]`: every namespace, and cluster-wide lists.
    Every,
    /// These namespaces only.
    Only(BTreeSet<String>),
}

impl Namespaces {
    /// The setting's list; empty means the namespace of the collector's own credentials.
    pub fn from_setting(list: &[String], own_namespace: &str) -> Self {
        if list.iter().any(|name| name == "*") {
            Namespaces::Every
        } else if list.is_empty() {
            Namespaces::Only(BTreeSet::from([own_namespace.to_owned()]))
        } else {
            Namespaces::Only(list.iter().cloned().collect())
        }
    }

    pub fn allows(&self, namespace: &str) -> bool {
        match self {
            Namespaces::Every => true,
            Namespaces::Only(names) => names.contains(namespace),
        }
    }

    /// Why a read of `namespace` is refused, the reason of its gap; `None`: allowed.
    pub fn refusal(&self, namespace: &str) -> Option<String> {
        match self {
            Namespaces::Only(names) if !names.contains(namespace) => Some(format!(
                "namespace {namespace} is outside kubernetes.namespaces ({}): not read",
                names.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
            )),
            _ => None,
        }
    }
}

/// What an incident points at, before its pods are listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `namespace` + `pod` labels.
    Pod { namespace: String, name: String },
    /// A workload whose selector names the pods: `deployments`, `statefulsets`, … (the resource).
    Workload { namespace: String, resource: &'static str, name: String },
    /// A Service whose `spec.selector` names the pods.
    Service { namespace: String, name: String },
    /// A label selector from a rule; no namespace: every namespace.
    Selector { namespace: Option<String>, selector: String },
}

impl Target {
    /// The namespace it names; `None`: a selector for every namespace.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Target::Pod { namespace, .. } | Target::Workload { namespace, .. } | Target::Service { namespace, .. } => {
                Some(namespace)
            }
            Target::Selector { namespace, .. } => namespace.as_deref(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Pod { namespace, name } => format!("pod {namespace}/{name}"),
            Target::Workload { namespace, resource, name } => {
                format!("{} {namespace}/{name}", resource.trim_end_matches('s'))
            }
            Target::Service { namespace, name } => format!("service {namespace}/{name}"),
            Target::Selector { namespace: Some(namespace), selector } => format!("pods {selector:?} in {namespace}"),
            Target::Selector { namespace: None, selector } => format!("pods {selector:?} in every namespace"),
        }
    }
}

/// Built-in workload labels (kube-state-metrics' names) and their API resources.
const WORKLOAD_LABELS: &[(&str, &str)] = &[
    ("deployment", "deployments"),
    ("statefulset", "statefulsets"),
    ("daemonset", "daemonsets"),
    ("replicaset", "replicasets"),
    ("job_name", "jobs"),
];

/// Why an alert's labels or a rule named no usable target: every value that goes into a
/// URL path or a selector is checked first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("label {label}={value:?} is not a Kubernetes name")]
    NotAName { label: String, value: String },
    #[error("label {label}={value:?} is not a valid label value for selector {selector:?}")]
    NotALabelValue { label: String, value: String, selector: String },
    #[error("selector {selector:?} has an unclosed {{{{")]
    UnclosedPlaceholder { selector: String },
    #[error("namespace {namespace:?} is not a Kubernetes namespace name")]
    NotANamespace { namespace: String },
}

/// A label that could not be made into a target (a value that is no Kubernetes name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetProblem {
    pub alert: String,
    pub reason: TargetError,
}

/// The targets of an incident: from each alert's labels, else (page-only) the service rules.
pub fn targets(
    alerts: &[(String, &BTreeMap<String, String>)],
    pagerduty_services: &[String],
    target_rules: &[TargetRule],
    service_rules: &[ServiceRule],
) -> (Vec<Target>, Vec<TargetProblem>) {
    let mut found = BTreeSet::new();
    let mut problems = Vec::new();
    for (alert, labels) in alerts {
        match target_of(labels, target_rules) {
            Ok(Some(target)) => {
                found.insert(target);
            }
            Ok(None) => {}
            Err(reason) => problems.push(TargetProblem { alert: alert.clone(), reason }),
        }
    }
    if found.is_empty() {
        for rule in service_rules {
            if !pagerduty_services.iter().any(|service| service == &rule.pagerduty_service) {
                continue;
            }
            if !is_name(&rule.namespace) {
                problems.push(TargetProblem {
                    alert: format!("pagerduty service {:?}", rule.pagerduty_service),
                    reason: TargetError::NotANamespace { namespace: rule.namespace.clone() },
                });
                continue;
            }
            found.insert(Target::Selector { namespace: Some(rule.namespace.clone()), selector: rule.selector.clone() });
        }
    }
    (found.into_iter().collect(), problems)
}

/// One alert's target; `Ok(None)` when no label or rule applies.
fn target_of(labels: &BTreeMap<String, String>, rules: &[TargetRule]) -> Result<Option<Target>, TargetError> {
    let name_label = |label: &str| -> Result<Option<String>, TargetError> {
        match labels.get(label).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(value) if is_name(value) => Ok(Some(value.to_owned())),
            Some(value) => Err(TargetError::NotAName { label: label.to_owned(), value: value.to_owned() }),
        }
    };
    let namespace = name_label("namespace")?;
    if let Some(namespace) = &namespace {
        if let Some(name) = name_label("pod")? {
            return Ok(Some(Target::Pod { namespace: namespace.clone(), name }));
        }
        for (label, resource) in WORKLOAD_LABELS {
            if let Some(name) = name_label(label)? {
                return Ok(Some(Target::Workload { namespace: namespace.clone(), resource, name }));
            }
        }
        if let Some(name) = name_label("service")? {
            return Ok(Some(Target::Service { namespace: namespace.clone(), name }));
        }
    }
    for rule in rules {
        let Some(value) = labels.get(&rule.label).filter(|value| !value.is_empty()) else { continue };
        let selector = template(&rule.selector, value, labels)?;
        let Some(selector) = selector else { continue };
        return Ok(Some(Target::Selector { namespace, selector }));
    }
    Ok(None)
}

/// Fills `{value}` and `{{label}}` in a selector rule; `Ok(None)` when a `{{label}}` is
/// missing from the alert (the rule does not apply). Every value must be a valid label
/// value, so no alert can widen a selector (`a,b!=c`).
pub fn template(selector: &str, value: &str, labels: &BTreeMap<String, String>) -> Result<Option<String>, TargetError> {
    let check = |name: &str, value: &str| -> Result<(), TargetError> {
        if is_label_value(value) {
            Ok(())
        } else {
            Err(TargetError::NotALabelValue {
                label: name.to_owned(),
                value: value.to_owned(),
                selector: selector.to_owned(),
            })
        }
    };
    let mut out = String::with_capacity(selector.len() + value.len());
    let mut rest = selector;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            let Some(close) = after.find("}}") else {
                return Err(TargetError::UnclosedPlaceholder { selector: selector.to_owned() });
            };
            let name = after[..close].trim();
            let Some(label_value) = labels.get(name) else { return Ok(None) };
            check(name, label_value)?;
            out.push_str(label_value);
            rest = &after[close + 2..];
        } else if let Some(after) = rest.strip_prefix("{value}") {
            check("value", value)?;
            out.push_str(value);
            rest = after;
        } else {
            let next = rest[1..].find('{').map_or(rest.len(), |index| index + 1);
            out.push_str(&rest[..next]);
            rest = &rest[next..];
        }
    }
    Ok(Some(out))
}

/// A label value: at most 63 of `[A-Za-z0-9_.-]`, alphanumeric at both ends (or empty).
pub fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() <= 63
        && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
        && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.last().is_none_or(u8::is_ascii_alphanumeric)
}

/// A DNS subdomain name (pods, namespaces, workloads): safe to put in a URL path.
pub fn is_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 253
        && bytes.iter().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'-' | b'.'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// A `LabelSelector` object (`matchLabels`, `matchExpressions`) as selector text; `None` for
/// an empty or unreadable one (it would select every pod).
pub fn selector_text(selector: &Value) -> Option<String> {
    let mut terms = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            terms.push(format!("{key}={}", value.as_str()?));
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").and_then(Value::as_array) {
        for expression in expressions {
            let key = expression.get("key")?.as_str()?;
            let values: Vec<&str> = expression
                .get("values")
                .and_then(Value::as_array)
                .map(|values| values.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            terms.push(match expression.get("operator")?.as_str()? {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_owned(),
                "DoesNotExist" => format!("!{key}"),
                _ => return None,
            });
        }
    }
    if terms.is_empty() { None } else { Some(terms.join(",")) }
}

/// A Service's `spec.selector` map as selector text.
fn service_selector_text(service: &Value) -> Option<String> {
    let labels = service.pointer("/spec/selector")?.as_object()?;
    let terms: Option<Vec<String>> =
        labels.iter().map(|(key, value)| value.as_str().map(|value| format!("{key}={value}"))).collect();
    terms.filter(|terms| !terms.is_empty()).map(|terms| terms.join(","))
}

/// What happened to one log stream, beyond the lines it gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// The body ended after a whole line (or was empty).
    Clean,
    /// A line after the window's end: nothing more is wanted.
    PastWindow,
    /// The budget is spent; `at` is the first line not taken.
    Capped { at: Option<i64> },
    /// The body ended inside a line (`limitBytes`, or a truncated response), `bytes` dropped.
    PartialLine { bytes: usize, at_limit: bool },
    /// The connection failed mid-body.
    Cut { error: String },
}

/// Takes lines of one container's log: skips what the cursor says was taken, drops lines
/// outside the window, keeps the budget, and writes `[pod/POD/CONTAINER] <line>\n`.
#[derive(Debug)]
pub struct LineTaker {
    prefix: Vec<u8>,
    start_nanos: i64,
    end_nanos: i64,
    /// The cursor as the stream began: what to skip.
    skip_last_nanos: i64,
    skip_at_last: u32,
    seen_at_skip: u32,
    /// The cursor as lines are taken.
    pub cursor: LogCursor,
    budget: u64,
    pub lines: Vec<u8>,
    pub n_taken: u64,
    pub n_without_time: u64,
    redactor: Arc<Redactor>,
    /// A private key's lines span a stream (both instances of a container read in a pass
    /// carry on separately, as the API sends them).
    redact_state: StreamState,
}

/// What became of one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    Taken,
    Skipped,
    PastWindow,
    OverBudget,
}

impl LineTaker {
    pub fn new(pod: &str, container: &str, start: Instant, end: Instant, cursor: LogCursor, budget: u64) -> Self {
        LineTaker {
            prefix: StreamPrefix { resource: "pod", pod, container }.to_string().into_bytes(),
            start_nanos: nanos(start),
            end_nanos: nanos(end),
            skip_last_nanos: cursor.last_nanos,
            skip_at_last: cursor.at_last,
            seen_at_skip: 0,
            cursor,
            budget,
            lines: Vec::new(),
            n_taken: 0,
            n_without_time: 0,
            redactor: Arc::new(Redactor::default()),
            redact_state: StreamState::default(),
        }
    }

    /// Redacting with `redactor` rather than the built-in rules alone.
    pub fn redacting(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// One line as the API sent it, without its `\n`; its text (after the kubelet time) is
    /// redacted as it is taken. The budget counts the bytes the API sent.
    pub fn push(&mut self, line: &[u8]) -> Take {
        let Some(stamp) = crate::normalize::time::kubelet_time(line) else {
            // kubelet stamps every line; one without a stamp cannot be placed or deduplicated.
            self.n_without_time += 1;
            return Take::Skipped;
        };
        let time = nanos(stamp.instant);
        if time > self.end_nanos {
            return Take::PastWindow;
        }
        if time < self.start_nanos || time < self.skip_last_nanos {
            return Take::Skipped;
        }
        if time == self.skip_last_nanos && self.seen_at_skip < self.skip_at_last {
            self.seen_at_skip += 1;
            return Take::Skipped;
        }
        let size = line.len() as u64 + 1;
        if self.cursor.bytes.saturating_add(size) > self.budget {
            return Take::OverBudget;
        }
        self.lines.extend_from_slice(&self.prefix);
        let text_start = stamp.text_start.unwrap_or(line.len()).min(line.len());
        self.lines.extend_from_slice(&line[..text_start]);
        let text = self.redactor.bytes(&mut self.redact_state, &line[text_start..], &mut Counts::new());
        self.lines.extend_from_slice(&text);
        self.lines.push(b'\n');
        self.cursor.bytes += size;
        self.n_taken += 1;
        if time == self.cursor.last_nanos {
            self.cursor.at_last = self.cursor.at_last.saturating_add(1);
        } else {
            self.cursor.last_nanos = time;
            self.cursor.at_last = 1;
        }
        Take::Taken
    }
}

/// The kubelet time at the start of a line, in nanoseconds.
pub fn line_nanos(line: &[u8]) -> Option<i64> {
    // The recogniser `draft` reads these files with: the cursor and the reader agree on every time.
    crate::normalize::time::kubelet_time(line).map(|time| nanos(time.instant))
}

/// `sinceTime`: the later of the window start and the cursor, floored to the second (the
/// API truncates to seconds and kube-rs rounds to the nearest: a rounded-up second would
/// lose lines).
pub fn since_time(start: Instant, cursor: Option<&LogCursor>) -> Instant {
    let from = cursor.filter(|cursor| cursor.last_nanos > 0).map_or(start, |cursor| instant(cursor.last_nanos));
    let from = from.max(start);
    Instant::from_second(from.as_second() - i64::from(from.subsec_nanosecond() < 0)).unwrap_or(from)
}

/// Reads a log body line by line into `taker`; never holds more than one line besides the output.
pub async fn read_stream(
    mut reader: impl AsyncBufRead + Unpin,
    taker: &mut LineTaker,
    limit: u64,
    read_timeout: Duration,
) -> StreamEnd {
    let mut line = Vec::with_capacity(4096);
    let mut n_bytes: u64 = 0;
    loop {
        line.clear();
        let read = match tokio::time::timeout(read_timeout, reader.read_until(b'\n', &mut line)).await {
            Err(_) => {
                return StreamEnd::Cut { error: format!("no data for {read_timeout:?}") };
            }
            Ok(Err(error)) => return StreamEnd::Cut { error: error.to_string() },
            Ok(Ok(read)) => read,
        };
        if read == 0 {
            return StreamEnd::Clean;
        }
        n_bytes += read as u64;
        let Some(body) = line.strip_suffix(b"\n") else {
            return StreamEnd::PartialLine { bytes: line.len(), at_limit: n_bytes >= limit };
        };
        match taker.push(body) {
            Take::Taken | Take::Skipped => {}
            Take::PastWindow => return StreamEnd::PastWindow,
            Take::OverBudget => return StreamEnd::Capped { at: line_nanos(body) },
        }
    }
}

/// Sizes as people write them: `32 MiB`.
fn human_size(bytes: u64) -> String {
    for (unit, multiplier) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= multiplier && bytes.is_multiple_of(multiplier) {
            return format!("{} {unit}", bytes / multiplier);
        }
    }
    format!("{bytes} bytes")
}

/// Pulls Kubernetes evidence for incidents.
#[derive(Clone)]
pub struct KubeCollector {
    client: kube::Client,
    max_pods: usize,
    max_bytes_per_container: u64,
    target_rules: Vec<TargetRule>,
    service_rules: Vec<ServiceRule>,
    namespaces: Namespaces,
    redactor: Arc<Redactor>,
    call_timeout: Duration,
    read_timeout: Duration,
}

impl std::fmt::Debug for KubeCollector {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KubeCollector")
            .field("max_pods", &self.max_pods)
            .field("namespaces", &self.namespaces)
            .finish_non_exhaustive()
    }
}

impl KubeCollector {
    /// From `settings.kubeconfig`, else the in-cluster service account. An error means no
    /// Kubernetes collection: the daemon decides whether to run without it.
    pub async fn new(settings: &KubernetesSettings) -> Result<Self> {
        let config = match &settings.kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .map_err(|source| Error::Kubeconfig { path: path.clone(), source: Box::new(source) })?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
                    .await
                    .map_err(|source| Error::Kubeconfig { path: path.clone(), source: Box::new(source) })?
            }
            None => kube::Config::incluster().map_err(Error::InCluster)?,
        };
        Self::from_config(config, settings)
    }

    /// From a client config. kube's own retry layer is turned off: it retries 429/503/504 up
    /// to 15 times with backoff growing to 1000 s and obeys any `Retry-After`, so a pass could
    /// wait for minutes; [`ATTEMPTS`] bounded retries here replace it.
    pub fn from_config(mut config: kube::Config, settings: &KubernetesSettings) -> Result<Self> {
        config.default_retry = false;
        config.read_timeout = Some(READ_TIMEOUT);
        let client = kube::Client::try_from(config).map_err(Error::Client)?;
        Ok(Self::from_client(client, settings))
    }

    /// From a ready client (tests); build it with `default_retry = false` to keep waits bounded.
    /// An empty `settings.namespaces` confines it to the client's default namespace (in a
    /// pod, the service account's).
    pub fn from_client(client: kube::Client, settings: &KubernetesSettings) -> Self {
        let namespaces = Namespaces::from_setting(&settings.namespaces, client.default_namespace());
        KubeCollector {
            namespaces,
            redactor: Arc::new(Redactor::default()),
            client,
            max_pods: settings.max_pods,
            max_bytes_per_container: settings.max_bytes_per_container as u64,
            target_rules: settings.targets.clone(),
            service_rules: settings.services.clone(),
            call_timeout: CALL_TIMEOUT,
            read_timeout: READ_TIMEOUT,
        }
    }

    /// Redacting with `redactor` (the built-in rules and the settings' `[[redact]]`) rather
    /// than the built-in rules alone.
    pub fn with_redactor(mut self, redactor: Arc<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// Other bounds than [`CALL_TIMEOUT`] for a request with its retries and [`READ_TIMEOUT`]
    /// for a silent log stream (tests of stalled and slow APIs).
    pub fn with_timeouts(mut self, call_timeout: Duration, read_timeout: Duration) -> Self {
        self.call_timeout = call_timeout;
        self.read_timeout = read_timeout;
        self
    }

    /// One collection pass over the incident's targets. Never fails: what could not be read
    /// is a gap in the returned [`Pass`].
    pub async fn pass(&self, scope: &Scope, cursors: &BTreeMap<String, LogCursor>) -> Pass {
        let mut logs = Vec::new();
        let mut pass = self.pass_with(scope, cursors, &mut |chunk| logs.push(chunk)).await;
        pass.logs = logs;
        pass
    }

    /// [`Self::pass`], handing each container's chunk to `on_chunk` as soon as it is read
    /// instead of holding every chunk until the pass ends (`Pass::logs` stays empty): a pass
    /// over 20 pods of 24 MB each then holds at most [`CONTAINERS_AT_ONCE`] containers' lines,
    /// each under `max_bytes_per_container`. A chunk's cursor is in the returned
    /// `Pass::cursors` only, so store the chunks before (or with) the cursors.
    #[instrument(skip_all, fields(incident = scope.incident_id))]
    pub async fn pass_with(
        &self,
        scope: &Scope,
        cursors: &BTreeMap<String, LogCursor>,
        on_chunk: &mut (dyn FnMut(LogChunk) + Send),
    ) -> Pass {
        let mut run = Run {
            on_chunk,
            n_chunks: 0,
            scope,
            pass: Pass::default(),
            objects: HashMap::new(),
            owners: BTreeSet::new(),
            failed_pods: BTreeMap::new(),
            redactor: &self.redactor,
        };
        // Cursors of streams this pass does not reach (a pod deleted, a pod over the cap) carry over.
        run.pass.cursors = cursors.clone();

        let alerts: Vec<(String, &BTreeMap<String, String>)> =
            scope.alerts.iter().map(|alert| (alert.name.clone(), &alert.labels)).collect();
        let (targets, problems) = targets(&alerts, &scope.pagerduty_services, &self.target_rules, &self.service_rules);
        for problem in problems {
            run.gap(format!("kubernetes targets of {}", problem.alert), scope.start, problem.reason.to_string());
        }
        info!(n_targets = targets.len(), "Kubernetes pass started.");

        let mut pods: BTreeMap<(String, String), Value> = BTreeMap::new();
        for target in &targets {
            self.pods_of(target, &mut run, &mut pods).await;
        }
        // Pods followed on earlier passes stay followed, even when their labels moved on.
        let followed: BTreeSet<(String, String)> = cursors
            .keys()
            .filter_map(|key| {
                let mut parts = key.splitn(3, '/');
                Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
            })
            .collect();
        for (namespace, name) in &followed {
            if pods.contains_key(&(namespace.clone(), name.clone())) {
                continue;
            }
            // Followed before the allow-list changed: no longer read.
            if let Some(reason) = self.namespaces.refusal(namespace) {
                run.gap(format!("kubernetes pod {namespace}/{name}"), scope.start, reason);
                continue;
            }
            let pod_key = (namespace.clone(), name.clone());
            let answer = match run.failed_pods.get(&pod_key) {
                // Asked already as a target: a 404 is reported below, other failures were.
                Some(Some(404)) => Err(None),
                Some(_) => continue,
                None => {
                    let call = Call::new("get", "pods", Some(namespace), Some(name));
                    self.get(&call, &format!("/api/v1/namespaces/{namespace}/pods"), name).await.map_err(Some)
                }
            };
            match answer {
                Ok(pod) => {
                    pods.insert(pod_key, with_kind(pod, "v1", "Pod"));
                }
                Err(error) if error.as_ref().is_none_or(|error| error.code() == Some(404)) => {
                    let pod_prefix = format!("{namespace}/{name}/");
                    for (key, cursor) in cursors.iter().filter(|(key, _)| key.starts_with(&pod_prefix)) {
                        let start = if cursor.last_nanos > 0 { instant(cursor.last_nanos) } else { scope.start };
                        let container = &key[pod_prefix.len()..];
                        run.log_gap(
                            Stream::container(Some(namespace), name, container),
                            start,
                            format!(
                                "pod {namespace}/{name} was deleted: lines up to {start} were collected, the rest of its log is lost"
                            ),
                            None,
                        );
                    }
                }
                Err(error) => {
                    let reason = error.map_or_else(String::new, |error| error.gap_reason());
                    run.gap(format!("kubernetes pod {namespace}/{name}"), scope.start, reason);
                }
            }
        }

        let pods = self.cap(pods, &followed, &mut run);
        let mut containers = Vec::new();
        for ((namespace, name), pod) in &pods {
            containers.extend(self.pod_containers(namespace, name, pod, &mut run));
        }
        // A few containers at a time: a pass over 20 busy pods is bound by log throughput,
        // and at most CONTAINERS_AT_ONCE chunks (each under the byte budget) are held.
        // `buffered` keeps the order, so chunks, gaps and cursors are deterministic.
        for job in &mut containers {
            job.old = run.pass.cursors.get(&format!("{}/{}/{}", job.namespace, job.pod, job.container)).copied();
        }
        let mut logs = futures::stream::iter(containers.into_iter().map(|job| async move {
            let status = job.status.as_ref();
            self.read_container(&job.namespace, &job.pod, &job.container, status, scope, job.old).await
        }))
        .buffered(CONTAINERS_AT_ONCE);
        while let Some(log) = logs.next().await {
            let node = pods
                .iter()
                .find(|((namespace, name), _)| {
                    log.stream.namespace.as_ref() == Some(namespace) && log.stream.pod == *name
                })
                .and_then(|(_, pod)| text_at(pod, "/spec/nodeName"));
            for (start, reason) in log.gaps {
                run.log_gap(Stream::Container(log.stream.clone()), start, reason, node);
            }
            run.pass.cursors.insert(log.key, log.cursor);
            if let Some(chunk) = log.chunk {
                run.n_chunks += 1;
                (run.on_chunk)(chunk);
            }
        }
        drop(logs);
        self.collect_owners(&mut run).await;
        // Owners come from pods read in allowed namespaces; filtered again all the same.
        let namespaces: BTreeSet<String> = run
            .owners
            .iter()
            .map(|(_, namespace, _)| namespace.clone())
            .filter(|namespace| self.namespaces.allows(namespace))
            .collect();
        for namespace in &namespaces {
            self.collect_changes(namespace, &mut run).await;
            self.collect_events(namespace, &mut run).await;
        }
        self.collect_nodes(&mut run).await;
        run.pass.objects = run.objects.into_values().collect();
        run.pass.objects.sort_by(|left, right| (&left.kind, &left.uid).cmp(&(&right.kind, &right.uid)));
        info!(
            n_pods = pods.len(),
            n_chunks = run.n_chunks,
            n_objects = run.pass.objects.len(),
            n_gaps = run.pass.gaps.len(),
            "Kubernetes pass finished."
        );
        run.pass
    }

    /// Keeps at most `max_pods`: pods already followed first, then by namespace and name.
    fn cap(
        &self,
        pods: BTreeMap<(String, String), Value>,
        followed: &BTreeSet<(String, String)>,
        run: &mut Run<'_>,
    ) -> Vec<((String, String), Value)> {
        let (mut kept, rest): (Vec<_>, Vec<_>) = pods.into_iter().partition(|(key, _)| followed.contains(key));
        kept.extend(rest);
        if kept.len() > self.max_pods {
            let left_out = kept.split_off(self.max_pods);
            let names: Vec<String> =
                left_out.iter().take(5).map(|((namespace, name), _)| format!("{namespace}/{name}")).collect();
            let more = if left_out.len() > names.len() { ", …" } else { "" };
            run.gap(
                "kubernetes pods".to_owned(),
                run.scope.start,
                format!(
                    "kubernetes.max_pods = {} reached: {} more pods were not collected ({}{more})",
                    self.max_pods,
                    left_out.len(),
                    names.join(", ")
                ),
            );
        }
        kept.sort_by(|left, right| left.0.cmp(&right.0));
        kept
    }

    /// The pods a target names, into `pods`; the workloads and services it went through, into the run.
    async fn pods_of(&self, target: &Target, run: &mut Run<'_>, pods: &mut BTreeMap<(String, String), Value>) {
        let source = format!("kubernetes {}", target.describe());
        if let Some(reason) = target.namespace().and_then(|namespace| self.namespaces.refusal(namespace)) {
            return run.gap(source, run.scope.start, reason);
        }
        let (namespace, selector) = match target {
            Target::Pod { namespace, name } => {
                let call = Call::new("get", "pods", Some(namespace), Some(name));
                match self.get(&call, &format!("/api/v1/namespaces/{namespace}/pods"), name).await {
                    Ok(pod) => {
                        pods.insert((namespace.clone(), name.clone()), with_kind(pod, "v1", "Pod"));
                    }
                    Err(error) => {
                        let followed =
                            run.pass.cursors.keys().any(|key| key.starts_with(&format!("{namespace}/{name}/")));
                        run.failed_pods.insert((namespace.clone(), name.clone()), error.code());
                        // A followed pod that is gone is reported per container, with what was kept.
                        if !(followed && error.code() == Some(404)) {
                            run.gap(source, run.scope.start, error.gap_reason());
                        }
                    }
                }
                return;
            }
            Target::Workload { namespace, resource, name } => {
                let (group_path, kind) = workload_api(resource);
                let call = Call::new("get", resource, Some(namespace), Some(name));
                let workload =
                    match self.get(&call, &format!("{group_path}/namespaces/{namespace}/{resource}"), name).await {
                        Ok(workload) => workload,
                        Err(error) => return run.gap(source, run.scope.start, error.gap_reason()),
                    };
                let workload = with_kind(workload, api_version(group_path), kind);
                let selector = workload.pointer("/spec/selector").and_then(selector_text);
                run.owners.insert((kind.to_owned(), namespace.clone(), name.clone()));
                run.object(kind, workload);
                match selector {
                    Some(selector) => (Some(namespace.clone()), selector),
                    None => {
                        return run.gap(
                            source,
                            run.scope.start,
                            format!("{} has no pod selector: its pods cannot be found", target.describe()),
                        );
                    }
                }
            }
            Target::Service { namespace, name } => {
                let call = Call::new("get", "services", Some(namespace), Some(name));
                let service = match self.get(&call, &format!("/api/v1/namespaces/{namespace}/services"), name).await {
                    Ok(service) => service,
                    Err(error) => return run.gap(source, run.scope.start, error.gap_reason()),
                };
                run.owners.insert(("Service".to_owned(), namespace.clone(), name.clone()));
                match service_selector_text(&service) {
                    Some(selector) => (Some(namespace.clone()), selector),
                    None => {
                        return run.gap(
                            source,
                            run.scope.start,
                            format!("service {namespace}/{name} has no selector: its pods cannot be found"),
                        );
                    }
                }
            }
            Target::Selector { namespace, selector } => (namespace.clone(), selector.clone()),
        };
        // No namespace: cluster-wide only when every namespace is allowed, else each allowed one.
        let namespaces: Vec<Option<String>> = match (namespace, &self.namespaces) {
            (Some(namespace), _) => vec![Some(namespace)],
            (None, Namespaces::Every) => vec![None],
            (None, Namespaces::Only(names)) => names.iter().cloned().map(Some).collect(),
        };
        for namespace in namespaces {
            self.list_pods(namespace.as_deref(), &selector, &source, run, pods).await;
        }
    }

    /// The pods `selector` selects in `namespace` (`None`: every namespace), into `pods`.
    async fn list_pods(
        &self,
        namespace: Option<&str>,
        selector: &str,
        source: &str,
        run: &mut Run<'_>,
        pods: &mut BTreeMap<(String, String), Value>,
    ) {
        let path = match namespace {
            Some(namespace) => format!("/api/v1/namespaces/{namespace}/pods"),
            None => "/api/v1/pods".to_owned(),
        };
        let call = Call::new("list", "pods", namespace, None);
        match self.list(&call, &path, ListParams::default().labels(selector)).await {
            Ok(items) => {
                if items.is_empty() {
                    debug!(selector, "No pods match.");
                }
                for pod in items {
                    let pod = with_kind(pod, "v1", "Pod");
                    let (Some(pod_namespace), Some(name)) =
                        (text_at(&pod, "/metadata/namespace"), text_at(&pod, "/metadata/name"))
                    else {
                        continue;
                    };
                    pods.insert((pod_namespace.to_owned(), name.to_owned()), pod);
                }
            }
            Err(error) => run.gap(source.to_owned(), run.scope.start, error.gap_reason()),
        }
    }

    /// Records the pod object and its owners; returns its containers, whose logs are read next.
    fn pod_containers(&self, namespace: &str, name: &str, pod: &Value, run: &mut Run<'_>) -> Vec<ContainerJob> {
        let mut jobs = Vec::new();
        run.owners.insert(("Pod".to_owned(), namespace.to_owned(), name.to_owned()));
        for owner in pod.pointer("/metadata/ownerReferences").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(kind), Some(owner_name)) = (text_at(owner, "/kind"), text_at(owner, "/name")) {
                run.owners.insert((kind.to_owned(), namespace.to_owned(), owner_name.to_owned()));
            }
        }
        run.object("Pod", pod.clone());
        for (containers, statuses) in [
            ("/spec/initContainers", "/status/initContainerStatuses"),
            ("/spec/containers", "/status/containerStatuses"),
        ] {
            for container in pod.pointer(containers).and_then(Value::as_array).into_iter().flatten() {
                let Some(container) = text_at(container, "/name") else { continue };
                let status = pod
                    .pointer(statuses)
                    .and_then(Value::as_array)
                    .and_then(|statuses| statuses.iter().find(|status| text_at(status, "/name") == Some(container)));
                jobs.push(ContainerJob {
                    namespace: namespace.to_owned(),
                    pod: name.to_owned(),
                    container: container.to_owned(),
                    status: status.cloned(),
                    old: None,
                });
            }
        }
        jobs
    }

    /// One container's new lines: the previous instance first when it restarted, then the current one.
    async fn read_container(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        status: Option<&Value>,
        scope: &Scope,
        old: Option<LogCursor>,
    ) -> ContainerLog {
        let key = format!("{namespace}/{pod}/{container}");
        let stream =
            StreamName { namespace: Some(namespace.to_owned()), pod: pod.to_owned(), container: container.to_owned() };
        let mut gaps: Vec<(Instant, String)> = Vec::new();
        let restart_count =
            status.and_then(|status| status.get("restartCount")).and_then(Value::as_u64).unwrap_or(0) as u32;
        let terminated = status.and_then(|status| status.pointer("/lastState/terminated"));
        let time_at = |value: Option<&Value>, pointer: &str| -> Option<Instant> {
            value.and_then(|value| text_at(value, pointer)).and_then(|text| text.parse().ok())
        };
        let read_previous = match &old {
            Some(old) => restart_count > old.restart_count,
            None => {
                terminated.is_some()
                    && time_at(terminated, "/finishedAt").is_none_or(|finished| finished >= scope.start)
            }
        };
        let lost = match &old {
            Some(old) if restart_count > old.restart_count + 1 => Some((
                instant(old.last_nanos.max(nanos(scope.start))),
                format!(
                    "container {container} of pod {namespace}/{pod} restarted {} times since the last pass: \
                     only the last terminated instance keeps its log, {} instances are lost",
                    restart_count - old.restart_count,
                    restart_count - old.restart_count - 1
                ),
            )),
            None if read_previous && restart_count > 1 => time_at(terminated, "/startedAt")
                .filter(|started| *started > scope.start)
                .map(|started| {
                    (
                        scope.start,
                        format!(
                            "container {container} of pod {namespace}/{pod} has restarted {restart_count} times: \
                             only the last terminated instance keeps its log, lines of earlier ones before {started} are lost"
                        ),
                    )
                }),
            _ => None,
        };
        if let Some((start, reason)) = lost {
            gaps.push((start, reason));
        }

        let mut cursor = old.unwrap_or_default();
        let mut lines = Vec::new();
        let instances: &[bool] = if read_previous { &[true, false] } else { &[false] };
        for &previous in instances {
            let remaining = self.max_bytes_per_container.saturating_sub(cursor.bytes);
            if remaining == 0 {
                let at = if cursor.last_nanos > 0 { instant(cursor.last_nanos) } else { scope.start };
                gaps.push((at, self.capped_reason()));
                break;
            }
            let since = since_time(scope.start, Some(&cursor));
            let limit = remaining + LIMIT_SLACK;
            let params = LogParams {
                container: Some(container.to_owned()),
                previous,
                // NB: kube uses jiff 0.2; `since` is a whole second, so the conversion is exact.
                since_time: k8s_openapi::jiff::Timestamp::from_second(since.as_second()).ok(),
                timestamps: true,
                limit_bytes: Some(i64::try_from(limit).unwrap_or(i64::MAX)),
                ..LogParams::default()
            };
            let mut call = Call::new("get", "pods/log", Some(namespace), Some(pod));
            call.container = Some(container.to_owned());
            let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
            let stream = self.call(&call, || api.log_stream(pod, &params)).await;
            let reader = match stream {
                Ok(reader) => reader,
                Err(error) => {
                    gaps.push((since, error.gap_reason()));
                    continue;
                }
            };
            let mut taker =
                LineTaker::new(pod, container, scope.start, scope.end, cursor, self.max_bytes_per_container)
                    .redacting(self.redactor.clone());
            let end = read_stream(Box::pin(reader), &mut taker, limit, self.read_timeout).await;
            debug!(key, previous, n_lines = taker.n_taken, ?end, "Log stream read.");
            cursor = taker.cursor;
            // NB: moved, not copied, when it is the only instance read: a copy would hold a
            // busy container's lines twice at the pass's peak.
            if lines.is_empty() {
                lines = std::mem::take(&mut taker.lines);
            } else {
                lines.extend_from_slice(&taker.lines);
            }
            let resume = if cursor.last_nanos > 0 { instant(cursor.last_nanos) } else { since };
            match end {
                StreamEnd::Clean | StreamEnd::PastWindow => {}
                StreamEnd::Capped { at } => {
                    // Spent: later passes do not ask again for a few bytes that no line fits in.
                    cursor.bytes = self.max_bytes_per_container;
                    gaps.push((at.map_or(resume, instant), self.capped_reason()));
                    break;
                }
                // limitBytes ended the body after lines were taken: the next pass goes on from them.
                StreamEnd::PartialLine { at_limit: true, .. } if taker.n_taken > 0 => {}
                // NB: nothing taken before limitBytes: the lines of the cursor's second that were
                // already taken outweigh budget and slack, and every later pass would stall here.
                StreamEnd::PartialLine { at_limit: true, .. } => {
                    cursor.bytes = self.max_bytes_per_container;
                    gaps.push((resume, self.capped_reason()));
                    break;
                }
                StreamEnd::PartialLine { bytes, at_limit: false } => gaps.push((
                    resume,
                    format!(
                        "the log stream of {}container {container} of pod {namespace}/{pod} ended inside a line: \
                         its last {bytes} bytes were dropped and are read again on the next pass",
                        if previous { "the previous instance of " } else { "" }
                    ),
                )),
                StreamEnd::Cut { error } => gaps.push((
                    resume,
                    format!(
                        "the log stream of container {container} of pod {namespace}/{pod} was cut ({error}): \
                         lines after {resume} are read again on the next pass"
                    ),
                )),
            }
            if taker.n_without_time > 0 {
                debug!(key, n_lines = taker.n_without_time, "Lines without a kubelet time were skipped.");
            }
        }
        cursor.restart_count = restart_count;
        let chunk = (!lines.is_empty()).then(|| LogChunk {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            container: container.to_owned(),
            lines,
        });
        ContainerLog { key, stream, cursor, chunk, gaps }
    }

    fn capped_reason(&self) -> String {
        format!(
            "log capped at {} (kubernetes.max_bytes_per_container): later lines were not collected",
            human_size(self.max_bytes_per_container)
        )
    }

    /// The owners of the target pods, up to the Deployment, and every ReplicaSet of each Deployment.
    async fn collect_owners(&self, run: &mut Run<'_>) {
        let mut done: BTreeSet<(String, String, String)> = BTreeSet::new();
        // ReplicaSets first: they name their Deployments.
        for round in 0..2 {
            let owners: Vec<(String, String, String)> = run.owners.iter().cloned().collect();
            for owner in owners {
                let (kind, namespace, name) = &owner;
                let resource = match kind.as_str() {
                    "ReplicaSet" if round == 0 => "replicasets",
                    "Deployment" if round == 1 => "deployments",
                    "StatefulSet" if round == 1 => "statefulsets",
                    "DaemonSet" if round == 1 => "daemonsets",
                    "Job" if round == 1 => "jobs",
                    _ => continue,
                };
                if !done.insert(owner.clone()) {
                    continue;
                }
                let (group_path, kind) = workload_api(resource);
                let object = if run.objects.values().any(|object| {
                    object.kind == kind
                        && text_at(&object.json, "/metadata/name") == Some(name)
                        && text_at(&object.json, "/metadata/namespace") == Some(namespace)
                }) {
                    None
                } else {
                    let call = Call::new("get", resource, Some(namespace), Some(name));
                    match self.get(&call, &format!("{group_path}/namespaces/{namespace}/{resource}"), name).await {
                        Ok(object) => Some(with_kind(object, api_version(group_path), kind)),
                        Err(error) => {
                            run.gap(
                                format!("kubernetes {kind} {namespace}/{name}"),
                                run.scope.start,
                                error.gap_reason(),
                            );
                            continue;
                        }
                    }
                };
                if let Some(object) = object {
                    for owner in
                        object.pointer("/metadata/ownerReferences").and_then(Value::as_array).into_iter().flatten()
                    {
                        if let (Some(owner_kind), Some(owner_name)) = (text_at(owner, "/kind"), text_at(owner, "/name"))
                        {
                            run.owners.insert((owner_kind.to_owned(), namespace.clone(), owner_name.to_owned()));
                        }
                    }
                    run.object(kind, object);
                }
                if kind == "Deployment" {
                    self.collect_replicasets(namespace, name, run).await;
                }
            }
        }
    }

    /// Every ReplicaSet a Deployment owns: its rollout history.
    async fn collect_replicasets(&self, namespace: &str, deployment: &str, run: &mut Run<'_>) {
        let Some(uid) = run
            .objects
            .values()
            .find(|object| {
                object.kind == "Deployment"
                    && text_at(&object.json, "/metadata/name") == Some(deployment)
                    && text_at(&object.json, "/metadata/namespace") == Some(namespace)
            })
            .map(|object| object.uid.clone())
        else {
            return;
        };
        let selector = run
            .objects
            .get(&("Deployment".to_owned(), uid.clone()))
            .and_then(|object| object.json.pointer("/spec/selector"))
            .and_then(selector_text);
        let mut params = ListParams::default();
        if let Some(selector) = &selector {
            params = params.labels(selector);
        }
        let call = Call::new("list", "replicasets", Some(namespace), None);
        match self.list(&call, &format!("/apis/apps/v1/namespaces/{namespace}/replicasets"), params).await {
            Ok(items) => {
                for replicaset in items {
                    let owned = replicaset
                        .pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .is_some_and(|owners| owners.iter().any(|owner| text_at(owner, "/uid") == Some(uid.as_str())));
                    if owned {
                        run.object("ReplicaSet", with_kind(replicaset, "apps/v1", "ReplicaSet"));
                    }
                }
            }
            Err(error) => run.gap(
                format!("kubernetes rollouts of deployment {namespace}/{deployment}"),
                run.scope.start,
                error.gap_reason(),
            ),
        }
    }

    /// Events of both groups in a namespace, every one seen in the window.
    async fn collect_events(&self, namespace: &str, run: &mut Run<'_>) {
        for (path, resource, api_version, kind) in [
            (format!("/api/v1/namespaces/{namespace}/events"), "events", "v1", "Event"),
            (
                format!("/apis/events.k8s.io/v1/namespaces/{namespace}/events"),
                "events.k8s.io/events",
                "events.k8s.io/v1",
                "events.k8s.io/Event",
            ),
        ] {
            let call = Call::new("list", resource, Some(namespace), None);
            let listed = self
                .list_paged(&call, &path, ListParams::default(), MAX_EVENTS_PER_LIST, |event| {
                    // NB: both groups serve the same stored events; one already read as core/v1 is not kept twice.
                    let duplicate = kind != "Event"
                        && text_at(&event, "/metadata/uid")
                            .is_some_and(|uid| run.objects.contains_key(&("Event".to_owned(), uid.to_owned())));
                    if !duplicate && event_in_window(&event, run.scope) {
                        run.object(kind, with_kind(event, api_version, "Event"));
                    }
                })
                .await;
            match listed {
                Ok(false) => {}
                Ok(true) => run.gap(
                    "kubernetes events".to_owned(),
                    run.scope.start,
                    format!(
                        "namespace {namespace} holds more than {MAX_EVENTS_PER_LIST} {resource}: the rest were not read"
                    ),
                ),
                Err(error) => run.gap("kubernetes events".to_owned(), run.scope.start, error.gap_reason()),
            }
        }
    }

    /// The workloads, revisions and autoscalers of a namespace that changed in the window
    /// (by [`changed_in_window`]), each kind listed page by page.
    async fn collect_changes(&self, namespace: &str, run: &mut Run<'_>) {
        for (resource, group_path, kind) in CHANGE_LISTS {
            let call = Call::new("list", resource, Some(namespace), None);
            let path = format!("{group_path}/namespaces/{namespace}/{resource}");
            let mut items = Vec::new();
            let listed = self
                .list_paged(&call, &path, ListParams::default(), MAX_OBJECTS_PER_LIST, |item| items.push(item))
                .await;
            let source = format!("kubernetes {resource} in {namespace}");
            match listed {
                Ok(false) => {}
                Ok(true) => run.gap(
                    source,
                    run.scope.start,
                    format!(
                        "namespace {namespace} holds more than {MAX_OBJECTS_PER_LIST} {resource}: \
                         changes among the rest were not read"
                    ),
                ),
                Err(error) => {
                    run.gap(source, run.scope.start, error.gap_reason());
                    continue;
                }
            }
            // A rollback is told by the revisions before it: the siblings of a changed one stay.
            let by_owner = matches!(*kind, "ReplicaSet" | "ControllerRevision");
            let changed_owners: BTreeSet<String> = if by_owner {
                items
                    .iter()
                    .filter(|item| changed_in_window(item, run.scope))
                    .filter_map(|item| controller_uid(item).map(str::to_owned))
                    .collect()
            } else {
                BTreeSet::new()
            };
            for item in items {
                let keep = if by_owner {
                    controller_uid(&item).is_some_and(|owner| changed_owners.contains(owner))
                } else {
                    changed_in_window(&item, run.scope)
                };
                if keep {
                    run.object(kind, with_kind(item, api_version(group_path), kind));
                }
            }
        }
    }

    /// The Nodes the target pods run on and the events about them: what the node did
    /// (NotReady, pressure, evictions) while the incident ran.
    async fn collect_nodes(&self, run: &mut Run<'_>) {
        let nodes: BTreeSet<String> = run
            .objects
            .values()
            .filter(|object| object.kind == "Pod")
            .filter_map(|object| text_at(&object.json, "/spec/nodeName"))
            .map(str::to_owned)
            .collect();
        let not_readable = |error: &Error| {
            format!(
                "node evidence was not readable: {} (overlays/cluster grants it; a namespaced install cannot)",
                error.gap_reason()
            )
        };
        for node in &nodes {
            let call = Call::new("get", "nodes", None, Some(node));
            match self.get(&call, "/api/v1/nodes", node).await {
                Ok(mut object) => {
                    // The images a node holds are most of its size and say nothing of the incident.
                    if let Some(status) = object.get_mut("status").and_then(Value::as_object_mut) {
                        status.remove("images");
                    }
                    run.object("Node", with_kind(object, "v1", "Node"));
                }
                Err(error) if error.code() == Some(403) => {
                    return run.gap("kubernetes nodes".to_owned(), run.scope.start, not_readable(&error));
                }
                Err(error) => run.gap(format!("kubernetes node {node}"), run.scope.start, error.gap_reason()),
            }
        }
        if nodes.is_empty() {
            return;
        }
        let call = Call::new("list", "events", Some(CLUSTER_EVENTS_NAMESPACE), None);
        let path = format!("/api/v1/namespaces/{CLUSTER_EVENTS_NAMESPACE}/events");
        let params = ListParams::default().fields("involvedObject.kind=Node");
        let listed = self
            .list_paged(&call, &path, params, MAX_EVENTS_PER_LIST, |event| {
                let about = text_at(&event, "/involvedObject/name").unwrap_or_default();
                if nodes.contains(about) && event_in_window(&event, run.scope) {
                    run.object("Event", with_kind(event, "v1", "Event"));
                }
            })
            .await;
        match listed {
            Ok(false) => {}
            Ok(true) => run.gap(
                "kubernetes node events".to_owned(),
                run.scope.start,
                format!("more than {MAX_EVENTS_PER_LIST} Node events: the rest were not read"),
            ),
            Err(error) if error.code() == Some(403) => {
                run.gap("kubernetes node events".to_owned(), run.scope.start, not_readable(&error))
            }
            Err(error) => run.gap("kubernetes node events".to_owned(), run.scope.start, error.gap_reason()),
        }
    }

    /// Lists a collection page by page (`limit`/`continue`), handing each item to `each`,
    /// until its end or `max` items; `Ok(true)` when `max` cut it short. A failed page ends
    /// the list with its error (the items of earlier pages were handed on).
    async fn list_paged(
        &self,
        call: &Call,
        collection: &str,
        params: ListParams,
        max: usize,
        mut each: impl FnMut(Value) + Send,
    ) -> Result<bool> {
        let mut n_read = 0;
        let mut token: Option<String> = None;
        loop {
            let mut page_params = params.clone().limit(LIST_PAGE);
            if let Some(token) = &token {
                page_params = page_params.continue_token(token);
            }
            let page = self.list_page(call, collection, page_params).await?;
            token = text_at(&page, "/metadata/continue").filter(|token| !token.is_empty()).map(str::to_owned);
            let items = match page {
                Value::Object(mut map) => match map.remove("items") {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            n_read += items.len();
            items.into_iter().for_each(&mut each);
            if token.is_none() {
                return Ok(false);
            }
            if n_read >= max {
                return Ok(true);
            }
        }
    }

    async fn get(&self, call: &Call, collection: &str, name: &str) -> Result<Value> {
        let request = Request::new(collection);
        self.call(call, || async {
            let http_request = request.get(name, &GetParams::default()).map_err(kube::Error::BuildRequest)?;
            self.client.request::<Value>(http_request).await
        })
        .await
    }

    async fn list(&self, call: &Call, collection: &str, params: ListParams) -> Result<Vec<Value>> {
        match self.list_page(call, collection, params).await? {
            Value::Object(mut map) => match map.remove("items") {
                Some(Value::Array(items)) => Ok(items),
                Some(Value::Null) | None => Ok(Vec::new()),
                Some(_) => Err(Error::Api {
                    call: Box::new(call.clone()),
                    source: Box::new(kube::Error::SerdeError(serde::de::Error::custom("items is not a list"))),
                    attempts: 1,
                }),
            },
            _ => Err(Error::Api {
                call: Box::new(call.clone()),
                source: Box::new(kube::Error::SerdeError(serde::de::Error::custom("the answer is not an object"))),
                attempts: 1,
            }),
        }
    }

    async fn list_page(&self, call: &Call, collection: &str, params: ListParams) -> Result<Value> {
        let request = Request::new(collection);
        self.call(call, || async {
            let http_request = request.list(&params).map_err(kube::Error::BuildRequest)?;
            self.client.request::<Value>(http_request).await
        })
        .await
    }

    /// One request with bounded retries of transient failures (429, 500, 502, 503, 504,
    /// connection errors), exponential backoff with jitter, under [`CALL_TIMEOUT`] in all.
    async fn call<T, F, Fut>(&self, call: &Call, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let attempts = async {
            let mut n_attempts = 0;
            loop {
                n_attempts += 1;
                match attempt().await {
                    Ok(value) => return Ok(value),
                    Err(error) if n_attempts < ATTEMPTS && is_transient(&error) => {
                        let backoff = super::jittered(FIRST_BACKOFF * 2u32.pow(n_attempts - 1), 0.5..1.5);
                        debug!(%call, %error, ?backoff, "Transient Kubernetes API failure, retrying.");
                        tokio::time::sleep(backoff).await;
                    }
                    Err(error) => {
                        let error =
                            Error::Api { call: Box::new(call.clone()), source: Box::new(error), attempts: n_attempts };
                        warn!(%call, kind = error.kind(), reason = error.gap_reason(), "Kubernetes API request failed.");
                        return Err(error);
                    }
                }
            }
        };
        match tokio::time::timeout(self.call_timeout, attempts).await {
            Ok(result) => result,
            Err(_) => {
                warn!(%call, "Kubernetes API request timed out.");
                Err(Error::Timeout { call: Box::new(call.clone()), after: self.call_timeout })
            }
        }
    }
}

/// The nodes of the pods a pass found (`spec.nodeName`), sorted and once each: what
/// [`Scope::nodes`] holds for the Prometheus collector's node clock series.
pub fn nodes_of(pass: &Pass) -> Vec<String> {
    let nodes: BTreeSet<&str> = pass
        .objects
        .iter()
        .filter(|object| object.kind == "Pod")
        .filter_map(|object| text_at(&object.json, "/spec/nodeName"))
        .collect();
    nodes.into_iter().map(str::to_owned).collect()
}

/// The daemon's collection jobs run this collector beside the Prometheus one.
impl crate::collect::Collector for KubeCollector {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn pass<'a>(
        &'a self,
        scope: &'a Scope,
        cursors: &'a BTreeMap<String, LogCursor>,
        on_chunk: crate::collect::ChunkSink<'a>,
    ) -> crate::collect::PassFuture<'a> {
        Box::pin(KubeCollector::pass_with(self, scope, cursors, on_chunk))
    }
}

fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// The API group path and kind of a workload resource.
fn workload_api(resource: &str) -> (&'static str, &'static str) {
    match resource {
        "deployments" => ("/apis/apps/v1", "Deployment"),
        "statefulsets" => ("/apis/apps/v1", "StatefulSet"),
        "daemonsets" => ("/apis/apps/v1", "DaemonSet"),
        "replicasets" => ("/apis/apps/v1", "ReplicaSet"),
        "jobs" => ("/apis/batch/v1", "Job"),
        _ => ("/api/v1", "Pod"),
    }
}

fn api_version(group_path: &str) -> &str {
    group_path.trim_start_matches("/apis/").trim_start_matches("/api/")
}

/// Items of a list carry no `kind`: put it back, so the bundle reads like `kubectl get -o json`.
fn with_kind(mut object: Value, api_version: &str, kind: &str) -> Value {
    if let Value::Object(map) = &mut object {
        map.entry("apiVersion").or_insert_with(|| Value::String(api_version.to_owned()));
        map.entry("kind").or_insert_with(|| Value::String(kind.to_owned()));
    }
    object
}

fn text_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// Whether an object changed inside the window, the one rule for namespace-wide lists: it
/// was created (`metadata.creationTimestamp`), written (a `metadata.managedFields` entry's
/// `time`: spec, annotations and status writes alike, so a ReplicaSet reused by a rollback or
/// a revision renumbered counts), a status condition moved (`lastTransitionTime`), or an
/// autoscaler scaled (`status.lastScaleTime`), between the window's start and end.
fn changed_in_window(object: &Value, scope: &Scope) -> bool {
    let inside = |value: &Value| {
        value
            .as_str()
            .and_then(|text| text.parse::<Instant>().ok())
            .is_some_and(|time| scope.start <= time && time <= scope.end)
    };
    let any_inside = |list: &str, field: &str| {
        object
            .pointer(list)
            .and_then(Value::as_array)
            .is_some_and(|entries| entries.iter().any(|entry| entry.get(field).is_some_and(inside)))
    };
    object.pointer("/metadata/creationTimestamp").is_some_and(inside)
        || object.pointer("/status/lastScaleTime").is_some_and(inside)
        || any_inside("/metadata/managedFields", "time")
        || any_inside("/status/conditions", "lastTransitionTime")
}

/// The uid of the object's controller (`ownerReferences[controller=true]`).
fn controller_uid(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|owner| owner.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|owner| text_at(owner, "/uid"))
}

/// Whether an event was seen inside the window (last seen not before the start, first seen
/// not after the end), by the times `ingest::kubernetes` reads events with.
fn event_in_window(event: &Value, scope: &Scope) -> bool {
    let EventSeen { last, first } = event_seen(event);
    last.is_none_or(|last| last >= scope.start) && first.is_none_or(|first| first <= scope.end)
}

/// One container whose log a pass reads.
struct ContainerJob {
    namespace: String,
    pod: String,
    container: String,
    status: Option<Value>,
    /// The cursor it resumes from.
    old: Option<LogCursor>,
}

/// What reading one container's log brought: its chunk, its cursor, its gaps (start, reason).
struct ContainerLog {
    /// The cursor's key: `namespace/pod/container`.
    key: String,
    stream: StreamName,
    cursor: LogCursor,
    chunk: Option<LogChunk>,
    gaps: Vec<(Instant, String)>,
}

/// The state of one pass while it runs.
struct Run<'a> {
    scope: &'a Scope,
    on_chunk: &'a mut (dyn FnMut(LogChunk) + Send),
    n_chunks: usize,
    pass: Pass,
    /// Objects by (kind, uid): one copy each.
    objects: HashMap<(String, String), KubeObject>,
    /// Involved objects (kind, namespace, name): the pods, their owners, the workloads, the services.
    owners: BTreeSet<(String, String, String)>,
    /// Pods a target named that could not be read, with the status the API answered.
    failed_pods: BTreeMap<(String, String), Option<u16>>,
    redactor: &'a Redactor,
}

impl Run<'_> {
    /// A gap of something other than a log stream, named in words: `kubernetes pod shop/api-1`.
    fn gap(&mut self, source: String, start: Instant, reason: String) {
        self.push_gap(GapSource::Other(source), start, reason, None);
    }

    /// A gap in a container's log stream, on its node when known.
    fn log_gap(&mut self, stream: Stream, start: Instant, reason: String, node: Option<&str>) {
        self.push_gap(GapSource::Logs(stream), start, reason, node);
    }

    fn push_gap(&mut self, source: GapSource, start: Instant, reason: String, node: Option<&str>) {
        warn!(%source, reason, "Kubernetes evidence is missing.");
        let start = start.clamp(self.scope.start, self.scope.end.max(self.scope.start));
        self.pass.gaps.push(GapRecord {
            source,
            start,
            end: self.scope.end.max(start),
            reason,
            node: node.map(str::to_owned),
        });
    }

    fn object(&mut self, kind: &str, mut json: Value) {
        // Every object whole: an Event's message, a Pod's or a workload's env values, probe
        // headers, arguments and the last applied configuration.
        self.redactor.json(&mut json, &mut Counts::new());
        let uid = text_at(&json, "/metadata/uid")
            .map(str::to_owned)
            .or_else(|| {
                // An object without a uid (hand-made fakes): its namespace and name stand in.
                Some(format!("{}/{}", text_at(&json, "/metadata/namespace")?, text_at(&json, "/metadata/name")?))
            })
            .unwrap_or_default();
        self.objects.insert((kind.to_owned(), uid.clone()), KubeObject { kind: kind.to_owned(), uid, json });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    fn rule(label: &str, selector: &str) -> TargetRule {
        TargetRule { label: label.to_owned(), selector: selector.to_owned() }
    }

    #[track_caller]
    fn check_target(pairs: &[(&str, &str)], expected: Result<Option<Target>, &str>) {
        let rules = [
            rule("app.kubernetes.io/name", "app.kubernetes.io/name={value}"),
            rule("team", "team={value},tier={{tier}}"),
        ];
        let got = target_of(&labels(pairs), &rules).map_err(|error| error.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "{pairs:?}");
    }

    #[test]
    fn targets_from_alert_labels() {
        let shop = || "shop".to_owned();
        check_target(
            &[("namespace", "shop"), ("pod", "api-1"), ("deployment", "api")],
            Ok(Some(Target::Pod { namespace: shop(), name: "api-1".to_owned() })),
        );
        for (label, resource) in WORKLOAD_LABELS {
            check_target(
                &[("namespace", "shop"), (label, "api"), ("service", "api")],
                Ok(Some(Target::Workload { namespace: shop(), resource, name: "api".to_owned() })),
            );
        }
        check_target(
            &[("namespace", "shop"), ("service", "web")],
            Ok(Some(Target::Service { namespace: shop(), name: "web".to_owned() })),
        );
        check_target(
            &[("namespace", "shop"), ("app.kubernetes.io/name", "cart")],
            Ok(Some(Target::Selector { namespace: Some(shop()), selector: "app.kubernetes.io/name=cart".to_owned() })),
        );
        check_target(
            &[("app.kubernetes.io/name", "cart")],
            Ok(Some(Target::Selector { namespace: None, selector: "app.kubernetes.io/name=cart".to_owned() })),
        );
        // A rule whose {{label}} the alert lacks does not apply.
        check_target(&[("namespace", "shop"), ("team", "pay")], Ok(None));
        check_target(
            &[("namespace", "shop"), ("team", "pay"), ("tier", "web")],
            Ok(Some(Target::Selector { namespace: Some(shop()), selector: "team=pay,tier=web".to_owned() })),
        );
        // Without a namespace, pod and workload labels cannot name an object.
        check_target(&[("pod", "api-1"), ("job", "kubernetes-pods")], Ok(None));
        check_target(&[("namespace", "shop"), ("job", "api")], Ok(None));
        check_target(
            &[("namespace", "shop"), ("pod", "../../secrets")],
            Err("label pod=\"../../secrets\" is not a Kubernetes name"),
        );
        check_target(
            &[("namespace", "shop"), ("app.kubernetes.io/name", "a,b!=c")],
            Err("label value=\"a,b!=c\" is not a valid label value for selector \"app.kubernetes.io/name={value}\""),
        );
    }

    #[test]
    fn page_only_incidents_use_service_rules() {
        let services = [ServiceRule {
            pagerduty_service: "Checkout API".to_owned(),
            namespace: "shop".to_owned(),
            selector: "app=checkout".to_owned(),
        }];
        let (found, problems) = targets(&[], &["Checkout API".to_owned()], &[], &services);
        assert_eq!(
            found,
            vec![Target::Selector { namespace: Some("shop".to_owned()), selector: "app=checkout".to_owned() }]
        );
        assert!(problems.is_empty());
        let (found, _) = targets(&[], &["Other".to_owned()], &[], &services);
        assert!(found.is_empty());
        let alert = labels(&[("namespace", "shop"), ("pod", "api-1")]);
        let (found, _) = targets(&[("A".to_owned(), &alert)], &["Checkout API".to_owned()], &[], &services);
        assert_eq!(found, vec![Target::Pod { namespace: "shop".to_owned(), name: "api-1".to_owned() }], "alerts win");
    }

    #[test]
    fn selectors_from_objects() {
        let rows: &[(&str, Option<&str>)] = &[
            (r#"{"matchLabels":{"app":"api","tier":"web"}}"#, Some("app=api,tier=web")),
            (
                r#"{"matchExpressions":[{"key":"env","operator":"In","values":["a","b"]},{"key":"x","operator":"Exists"},{"key":"y","operator":"DoesNotExist"},{"key":"z","operator":"NotIn","values":["c"]}]}"#,
                Some("env in (a,b),x,!y,z notin (c)"),
            ),
            ("{}", None),
            (r#"{"matchExpressions":[{"key":"x","operator":"Near"}]}"#, None),
            (r#"{"matchLabels":{"app":3}}"#, None),
        ];
        for (json, expected) in rows {
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(selector_text(&value).as_deref(), *expected, "{json}");
        }
        let service: Value = serde_json::from_str(r#"{"spec":{"selector":{"app":"web"}}}"#).unwrap();
        assert_eq!(service_selector_text(&service).as_deref(), Some("app=web"));
        assert_eq!(service_selector_text(&serde_json::json!({"spec":{}})), None);
    }

    fn at(text: &str) -> Instant {
        text.parse().unwrap()
    }

    #[test]
    fn since_time_is_floored_and_never_before_the_window() {
        let start = at("2025-02-09T10:00:00.700Z");
        assert_eq!(since_time(start, None), at("2025-02-09T10:00:00Z"), "the start floored, not rounded up");
        let cursor =
            LogCursor { last_nanos: nanos(at("2025-02-09T10:05:07.999999999Z")), at_last: 1, ..LogCursor::default() };
        assert_eq!(since_time(start, Some(&cursor)), at("2025-02-09T10:05:07Z"));
        let early = LogCursor { last_nanos: nanos(at("2025-02-09T09:00:00Z")), ..LogCursor::default() };
        assert_eq!(since_time(start, Some(&early)), at("2025-02-09T10:00:00Z"));
    }

    fn taker(cursor: LogCursor, budget: u64) -> LineTaker {
        LineTaker::new("api-1", "app", at("2025-02-09T10:00:00Z"), at("2025-02-09T10:30:00Z"), cursor, budget)
    }

    #[test]
    fn lines_are_prefixed_windowed_and_deduplicated_by_the_cursor() {
        let mut first = taker(LogCursor::default(), 1 << 20);
        let rows: &[(&[u8], Take)] = &[
            (b"2025-02-09T09:59:59.000000000Z before the window", Take::Skipped),
            (b"2025-02-09T10:00:01.000000000Z a", Take::Taken),
            (b"2025-02-09T10:00:01.000000000Z b", Take::Taken),
            (b"2025-02-09T12:00:01.000000000+02:00 \xff\xfe not utf-8", Take::Taken),
            (b"garbage without a time", Take::Skipped),
            (b"2025-02-09T10:30:00.000000001Z after", Take::PastWindow),
        ];
        for (line, expected) in rows {
            assert_eq!(first.push(line), *expected, "{}", String::from_utf8_lossy(line));
        }
        assert_eq!(
            first.lines,
            b"[pod/api-1/app] 2025-02-09T10:00:01.000000000Z a\n[pod/api-1/app] 2025-02-09T10:00:01.000000000Z b\n\
              [pod/api-1/app] 2025-02-09T12:00:01.000000000+02:00 \xff\xfe not utf-8\n"
                .to_vec(),
            "the kubelet time is kept as sent, bytes untouched"
        );
        assert_eq!((first.cursor.at_last, first.n_without_time), (3, 1), "three lines at 10:00:01 (one via +02:00)");

        // The next pass asks from 10:00:01 again: the three lines taken are skipped, a new one at the same nanosecond is not.
        let mut second = taker(first.cursor, 1 << 20);
        for (line, expected) in [
            (&b"2025-02-09T10:00:01.000000000Z a"[..], Take::Skipped),
            (b"2025-02-09T10:00:01.000000000Z b", Take::Skipped),
            (b"2025-02-09T12:00:01.000000000+02:00 \xff\xfe not utf-8", Take::Skipped),
            (b"2025-02-09T10:00:01.000000000Z c", Take::Taken),
            (b"2025-02-09T10:00:02.000000000Z d", Take::Taken),
        ] {
            assert_eq!(second.push(line), expected, "{}", String::from_utf8_lossy(line));
        }
        assert_eq!((second.cursor.last_nanos, second.cursor.at_last), (nanos(at("2025-02-09T10:00:02Z")), 1));
    }

    #[test]
    fn the_budget_caps_whole_lines() {
        let line = b"2025-02-09T10:00:01.000000000Z 0123456789";
        let mut capped = taker(LogCursor::default(), 2 * (line.len() as u64 + 1));
        assert_eq!(capped.push(line), Take::Taken);
        assert_eq!(capped.push(line), Take::Taken);
        assert_eq!(capped.push(line), Take::OverBudget);
        assert_eq!(capped.cursor.bytes, 2 * (line.len() as u64 + 1));
    }

    async fn read(body: &[u8], limit: u64) -> (StreamEnd, Vec<u8>) {
        let mut taker = taker(LogCursor::default(), 1 << 20);
        let end = read_stream(body, &mut taker, limit, READ_TIMEOUT).await;
        (end, taker.lines)
    }

    #[tokio::test]
    async fn partial_last_lines_are_dropped_and_told_apart() {
        let whole = b"2025-02-09T10:00:01.000000000Z a\n";
        let (end, lines) = read(whole, 1 << 20).await;
        assert_eq!((end, lines.len()), (StreamEnd::Clean, whole.len() + "[pod/api-1/app] ".len()));
        let cut = b"2025-02-09T10:00:01.000000000Z a\n2025-02-09T10:00:0";
        let (end, lines) = read(cut, 1 << 20).await;
        assert_eq!(end, StreamEnd::PartialLine { bytes: 18, at_limit: false });
        assert_eq!(lines, b"[pod/api-1/app] 2025-02-09T10:00:01.000000000Z a\n");
        let (end, _) = read(cut, cut.len() as u64).await;
        assert_eq!(end, StreamEnd::PartialLine { bytes: 18, at_limit: true }, "limitBytes cut it");
    }

    #[track_caller]
    fn check_reason(call: Call, code: u16, message: &str, expected: &str) {
        let status = kube::core::Status::failure(message, "Reason").with_code(code);
        let error =
            Error::Api { call: Box::new(call), source: Box::new(kube::Error::Api(status.boxed())), attempts: 4 };
        assert_eq!(error.gap_reason(), expected);
    }

    #[test]
    fn errors_become_reasons_a_person_can_act_on() {
        let log = || {
            let mut call = Call::new("get", "pods/log", Some("shop"), Some("x"));
            call.container = Some("app".to_owned());
            call
        };
        check_reason(
            log(),
            403,
            "pods \"x\" is forbidden",
            "the service account may not get pods/log in namespace shop (403): add it to the Role",
        );
        check_reason(
            Call::new("list", "pods", None, None),
            403,
            "forbidden",
            "the service account may not list pods cluster-wide (403): add it to the ClusterRole",
        );
        check_reason(log(), 404, "pods \"x\" not found", "pod shop/x was deleted before its logs were read");
        check_reason(
            Call::new("get", "deployments", Some("shop"), Some("api")),
            404,
            "not found",
            "deployments shop/api not found (404)",
        );
        check_reason(
            log(),
            400,
            "container \"app\" in pod \"x\" is waiting to start: ContainerCreating",
            "container app of pod shop/x is waiting to start: it has no log yet",
        );
        check_reason(
            log(),
            400,
            "previous terminated container \"app\" in pod \"x\" not found",
            "the previous instance of container app of pod shop/x is gone: its lines are lost",
        );
        check_reason(
            log(),
            503,
            "overloaded",
            "the Kubernetes API answered 503 to get pods/log shop/x 4 times: overloaded",
        );
        let timeout = Error::Timeout { call: Box::new(log()), after: Duration::from_secs(60) };
        assert_eq!(timeout.gap_reason(), "no answer from the Kubernetes API within 60s to get pods/log shop/x");
        assert_eq!(timeout.kind(), "timeout");
    }

    #[tokio::test]
    async fn constructors_name_what_is_missing() {
        let settings = KubernetesSettings {
            kubeconfig: Some("/nonexistent/postmortemd/kubeconfig".into()),
            ..KubernetesSettings::default()
        };
        let error = KubeCollector::new(&settings).await.unwrap_err();
        assert_eq!(error.to_string(), "cannot read kubeconfig /nonexistent/postmortemd/kubeconfig");
        assert_eq!(error.kind(), "kubeconfig");
        // TLS builds with the one crypto provider compiled in (no process default needed).
        let config = kube::Config::new("https://127.0.0.1:6443".parse().unwrap());
        assert!(KubeCollector::from_config(config, &KubernetesSettings::default()).is_ok());
    }

    #[test]
    fn names_and_label_values() {
        for (value, name, label) in [
            ("api-7d9f8b6c5-x2kqp", true, true),
            ("shop", true, true),
            ("Checkout_API", false, true),
            ("../x", false, false),
            ("a,b", false, false),
            ("", false, true),
            ("-a", false, false),
        ] {
            assert_eq!((is_name(value), is_label_value(value)), (name, label), "{value:?}");
        }
        assert_eq!(template("{{team}}-{value}", "x", &labels(&[("team", "pay")])), Ok(Some("pay-x".to_owned())));
        assert!(template("{{team", "x", &labels(&[])).is_err());
        assert_eq!(
            template("{{team", "x", &labels(&[])).unwrap_err().to_string(),
            r#"selector "{{team" has an unclosed {{"#
        );
    }

    /// A scope from 10:00 to 11:00.
    fn ten_to_eleven() -> Scope {
        Scope {
            incident_id: 1,
            alerts: Vec::new(),
            pagerduty_services: Vec::new(),
            start: at("2025-02-09T10:00:00Z"),
            end: at("2025-02-09T11:00:00Z"),
            nodes: Vec::new(),
        }
    }

    #[test]
    fn changes_are_kept_by_the_window() {
        let scope = ten_to_eleven();
        let old = "2024-01-01T00:00:00Z";
        let rows = [
            (serde_json::json!({"metadata": {"creationTimestamp": "2025-02-09T10:12:00Z"}}), true),
            (serde_json::json!({"metadata": {"creationTimestamp": old}}), false),
            (serde_json::json!({"metadata": {"creationTimestamp": "2025-02-09T11:00:01Z"}}), false),
            (
                serde_json::json!({"metadata": {"creationTimestamp": old,
                    "managedFields": [{"manager": "a", "time": old}, {"manager": "kube-controller-manager", "time": "2025-02-09T10:20:00Z"}]}}),
                true,
            ),
            (
                serde_json::json!({"metadata": {"creationTimestamp": old},
                    "status": {"conditions": [{"type": "Available", "lastTransitionTime": "2025-02-09T10:30:00Z"}]}}),
                true,
            ),
            (
                serde_json::json!({"metadata": {"creationTimestamp": old}, "status": {"lastScaleTime": "2025-02-09T10:14:00Z"}}),
                true,
            ),
            (serde_json::json!({"metadata": {"creationTimestamp": "yesterday"}}), false),
        ];
        for (object, expected) in rows {
            assert_eq!(changed_in_window(&object, &scope), expected, "{object}");
        }
        let owned = serde_json::json!({"metadata": {"ownerReferences": [
            {"kind": "Foo", "uid": "a"}, {"kind": "StatefulSet", "uid": "b", "controller": true}]}});
        assert_eq!(controller_uid(&owned), Some("b"));
        assert_eq!(controller_uid(&serde_json::json!({"metadata": {}})), None);
    }

    #[test]
    fn events_are_kept_by_window() {
        let scope = ten_to_eleven();
        let rows = [
            (
                serde_json::json!({"lastTimestamp": "2025-02-09T10:05:00Z", "firstTimestamp": "2025-02-09T09:00:00Z"}),
                true,
            ),
            (serde_json::json!({"lastTimestamp": "2025-02-09T09:59:59Z"}), false),
            (serde_json::json!({"eventTime": "2025-02-09T11:00:01.000000Z"}), false),
            (
                serde_json::json!({"eventTime": "2025-02-09T09:00:00.000000Z", "series": {"lastObservedTime": "2025-02-09T10:10:00.000000Z"}}),
                true,
            ),
        ];
        for (event, expected) in rows {
            assert_eq!(event_in_window(&event, &scope), expected, "{event}");
        }
    }
}
