//! The vocabulary every stage shares: [`Record`], [`Source`] and the typed records that
//! `collect` reads out of artifacts and `timeline` turns into entries.
//!
//! Records keep their source's own timestamps; nothing here converts or corrects time.
//! Log lines are deliberately absent: they are streamed through
//! [`crate::timeline::LogDigest`] one at a time and never held as records.

use std::collections::BTreeMap;
use std::fmt;

/// A UTC timestamp with nanosecond precision.
pub type Instant = jiff::Timestamp;

/// The span [`nanos`] keeps instants in: ±2^62 ns, about 146 years either side of 1970
/// (1824–2116), so that the difference of any two fits an `i64`. Times beyond it are
/// nonsense for an incident; clamping them keeps hot paths free of overflow checks.
const NANOS_LIMIT: i128 = (1 << 62) - 1;

/// An instant as nanoseconds since the epoch, clamped to ±2^62 (1824–2116): the one
/// conversion hot paths (digests, the log collector's cursors) use for `i64` nanoseconds.
pub fn nanos(instant: Instant) -> i64 {
    instant.as_nanosecond().clamp(-NANOS_LIMIT, NANOS_LIMIT) as i64
}

/// The inverse of [`nanos`]; every `i64` is a valid instant, so nothing is lost in range.
pub fn instant(nanos: i64) -> Instant {
    Instant::from_nanosecond(i128::from(nanos)).unwrap_or(Instant::UNIX_EPOCH)
}

/// Where records come from, named the way an engineer says it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    pub kind: SourceKind,
    /// `logs prod/api-7d9f8b6c5-x2kqp/nginx`, `prometheus: up`, `alertmanager`, …
    pub name: String,
    /// The node the source runs on, when known (pod → `spec.nodeName`).
    pub node: Option<String>,
}

impl fmt::Display for Source {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    Logs,
    Prometheus,
    Alertmanager,
    PagerDuty,
    KubernetesEvents,
    Rollouts,
    Pods,
}

/// One raw observation from an artifact other than a log line.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Alert(AlertRecord),
    Page(PageRecord),
    K8sEvent(K8sEventRecord),
    Rollout(RolloutRecord),
    Deployment(DeploymentRecord),
    Pod(PodRecord),
    Series(SeriesRecord),
    Gap(GapRecord),
    Note(NoteRecord),
}

impl Record {
    pub fn as_alert(&self) -> Option<&AlertRecord> {
        if let Record::Alert(alert) = self { Some(alert) } else { None }
    }

    pub fn as_page(&self) -> Option<&PageRecord> {
        if let Record::Page(page) = self { Some(page) } else { None }
    }

    pub fn as_k8s_event(&self) -> Option<&K8sEventRecord> {
        if let Record::K8sEvent(event) = self { Some(event) } else { None }
    }

    pub fn as_rollout(&self) -> Option<&RolloutRecord> {
        if let Record::Rollout(rollout) = self { Some(rollout) } else { None }
    }

    pub fn as_deployment(&self) -> Option<&DeploymentRecord> {
        if let Record::Deployment(deployment) = self { Some(deployment) } else { None }
    }

    pub fn as_pod(&self) -> Option<&PodRecord> {
        if let Record::Pod(pod) = self { Some(pod) } else { None }
    }

    pub fn as_series(&self) -> Option<&SeriesRecord> {
        if let Record::Series(series) = self { Some(series) } else { None }
    }

    pub fn as_gap(&self) -> Option<&GapRecord> {
        if let Record::Gap(gap) = self { Some(gap) } else { None }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert occurrence as Alertmanager reported it (webhook payload or API v2).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRecord {
    pub name: String,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Instant,
    /// `None` while firing (Alertmanager's `0001-01-01T00:00:00Z`).
    pub ends_at: Option<Instant>,
    pub fingerprint: Option<String>,
    pub generator_url: Option<String>,
}

/// One PagerDuty log entry or v3 webhook event.
#[derive(Clone, Debug, PartialEq)]
pub struct PageRecord {
    pub time: Instant,
    /// Normalized action: `triggered`, `acknowledged`, `annotated`, `escalated`,
    /// `reassigned`, `notified`, `resolved`, … (v3 `event_type` without `incident.`).
    pub action: String,
    /// Who did it (`agent.summary`), when a person or integration is named.
    pub actor: Option<String>,
    /// The note's text for annotations, the summary otherwise.
    pub text: String,
    pub incident_id: Option<String>,
    pub incident_title: Option<String>,
    pub incident_key: Option<String>,
}

/// One Kubernetes event (core/v1 or events.k8s.io/v1), already reduced to its last-seen time.
#[derive(Clone, Debug, PartialEq)]
pub struct K8sEventRecord {
    /// Last seen: `series.lastObservedTime` → `lastTimestamp` → `eventTime` → creation.
    pub time: Instant,
    /// First seen, when the event says so (`firstTimestamp` or `eventTime`).
    pub first_time: Option<Instant>,
    /// `Normal` or `Warning`.
    pub event_type: String,
    pub reason: String,
    pub message: String,
    pub namespace: String,
    /// `Pod/api-7d9f8b6c5-x2kqp`.
    pub object: String,
    pub count: u64,
    /// `reportingController`/`source.component`, when given.
    pub reporter: Option<String>,
    /// The node whose clock stamped the event (`source.host`/`reportingInstance` of a kubelet).
    pub host: Option<String>,
}

/// One ReplicaSet of a Deployment: a rollout (or rollback) to a revision.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutRecord {
    /// When this revision was rolled out (creation, or the newest managedFields time on a rollback).
    pub time: Instant,
    pub namespace: String,
    pub deployment: String,
    pub replicaset: String,
    pub revision: u64,
    /// Earlier revisions this ReplicaSet served (`revision-history`): non-empty on a rollback.
    pub revision_history: Vec<u64>,
    pub images: Vec<String>,
    /// The `managedFields` manager that last changed the template (`kubectl-client-side-apply`, `argocd-controller`, …).
    pub manager: Option<String>,
}

/// What `kubectl get deployments -o json` says of who changed a Deployment's pod template.
///
/// ReplicaSets are written by the deployment controller, so the person or tool behind a
/// rollout shows only in the Deployment's own `managedFields`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentRecord {
    pub namespace: String,
    pub name: String,
    /// `(manager, time)` of each `managedFields` entry that touched `f:spec`, newest last.
    pub spec_managers: Vec<(String, Instant)>,
}

/// What `kubectl get pods -o json` says of one pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodRecord {
    pub namespace: String,
    pub name: String,
    pub created_at: Option<Instant>,
    pub node: Option<String>,
    pub containers: Vec<ContainerRecord>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRecord {
    pub name: String,
    pub restart_count: u64,
    /// Start of the running instance, when running.
    pub started_at: Option<Instant>,
    pub last_termination: Option<Termination>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Termination {
    pub started_at: Option<Instant>,
    pub finished_at: Option<Instant>,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
}

/// One Prometheus range-query series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRecord {
    /// The PromQL that produced it (from `queries.json`, else the file name).
    pub query: String,
    pub labels: BTreeMap<String, String>,
    /// Samples in time order; NaN and ±Inf kept as such.
    pub samples: Vec<(Instant, f64)>,
}

impl SeriesRecord {
    /// `{pod="a", code="500"}`, in label order, without `__name__`.
    pub fn label_text(&self) -> String {
        let inner: Vec<String> = self
            .labels
            .iter()
            .filter(|(key, _)| key.as_str() != "__name__")
            .map(|(key, value)| format!("{key}={value:?}"))
            .collect();
        format!("{{{}}}", inner.join(", "))
    }
}

/// A stretch a collector or sender knows it could not see, and why: a 403 on `pods/log`,
/// a pod deleted before its logs were read, a cap, alerts Alertmanager did not deliver.
/// Unlike the gaps `timeline` infers from silences, this one is reported, not guessed.
#[derive(Clone, Debug, PartialEq)]
pub struct GapRecord {
    /// The source that is missing, named like [`Source::name`]: `logs shop/api-1/app`.
    pub source: String,
    pub start: Instant,
    pub end: Instant,
    /// What happened, in words a person can act on: `403 Forbidden: the service account may not get pods/log in shop`.
    pub reason: String,
    pub node: Option<String>,
}

/// Something a source said about its own answer that a reader should see: Prometheus's
/// `warnings` and `infos` ("PromQL info: metric might not be a counter").
#[derive(Clone, Debug, PartialEq)]
pub struct NoteRecord {
    /// `prometheus: rate(http_requests_total[5m])`.
    pub source: String,
    pub text: String,
}
