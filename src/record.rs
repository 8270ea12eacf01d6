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

/// A container's log stream: `kubectl logs --prefix` names the pod and container, the pod
/// object its namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamName {
    /// `None` when no pod object of that name was read.
    pub namespace: Option<String>,
    pub pod: String,
    pub container: String,
}

/// Which log stream lines came from. Stages pass this struct; its text
/// (`prod/api-7d9f8b6c5-x2kqp/nginx`, `billing.log`) is for people and files only.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    Container(StreamName),
    /// A log file that names no container, by its file name.
    File(String),
}

impl Stream {
    /// The stream of a pod's container.
    pub fn container(namespace: Option<&str>, pod: &str, container: &str) -> Self {
        Stream::Container(StreamName {
            namespace: namespace.map(str::to_owned),
            pod: pod.to_owned(),
            container: container.to_owned(),
        })
    }
}

/// `namespace/pod/container` (`pod/container` without a namespace), or the file name.
impl fmt::Display for Stream {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stream::Container(StreamName { namespace: Some(namespace), pod, container }) => {
                write!(formatter, "{namespace}/{pod}/{container}")
            }
            Stream::Container(StreamName { namespace: None, pod, container }) => write!(formatter, "{pod}/{container}"),
            Stream::File(name) => formatter.write_str(name),
        }
    }
}

/// A log stream and the node it runs on: what a [`crate::timeline::LogDigest`] reads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    pub kind: SourceKind,
    pub stream: Stream,
    /// The node the source runs on, when known (pod → `spec.nodeName`).
    pub node: Option<String>,
}

/// The name an engineer says and rows show: `logs prod/api-7d9f8b6c5-x2kqp/nginx`.
impl fmt::Display for Source {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "logs {}", self.stream)
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
    /// Namespace-wide changes a live pass lists: workloads, StatefulSet and DaemonSet
    /// revisions, autoscaler scalings, node conditions.
    Workload(WorkloadRecord),
    Revision(RevisionRecord),
    Autoscaler(AutoscalerRecord),
    NodeCondition(NodeConditionRecord),
    Series(SeriesRecord),
    Gap(GapRecord),
    Note(NoteRecord),
    /// A collector the daemon runs without (no settings for it).
    NotConfigured(NotConfiguredRecord),
    Rule(RuleRecord),
    Target(TargetRecord),
    /// What a responder added over the write API: a note, a correction, a manual
    /// resolution or a merge; human input, not evidence a system recorded.
    Responder(ResponderRecord),
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

    pub fn as_workload(&self) -> Option<&WorkloadRecord> {
        if let Record::Workload(workload) = self { Some(workload) } else { None }
    }

    pub fn as_revision(&self) -> Option<&RevisionRecord> {
        if let Record::Revision(revision) = self { Some(revision) } else { None }
    }

    pub fn as_autoscaler(&self) -> Option<&AutoscalerRecord> {
        if let Record::Autoscaler(autoscaler) = self { Some(autoscaler) } else { None }
    }

    pub fn as_node_condition(&self) -> Option<&NodeConditionRecord> {
        if let Record::NodeCondition(condition) = self { Some(condition) } else { None }
    }

    pub fn as_series(&self) -> Option<&SeriesRecord> {
        if let Record::Series(series) = self { Some(series) } else { None }
    }

    pub fn as_gap(&self) -> Option<&GapRecord> {
        if let Record::Gap(gap) = self { Some(gap) } else { None }
    }

    pub fn as_rule(&self) -> Option<&RuleRecord> {
        if let Record::Rule(rule) = self { Some(rule) } else { None }
    }

    pub fn as_target(&self) -> Option<&TargetRecord> {
        if let Record::Target(target) = self { Some(target) } else { None }
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
    /// What happened to the PagerDuty incident.
    pub action: PageAction,
    /// Who did it (`agent.summary`), when a person or integration is named.
    pub actor: Option<String>,
    /// The note's text for annotations, the summary otherwise.
    pub text: String,
    pub incident_id: Option<String>,
    pub incident_title: Option<String>,
    pub incident_key: Option<String>,
}

/// What a PagerDuty log entry or v3 event did, in one vocabulary for both formats: the v3
/// `event_type` without `incident.` (nested types flattened with `_`), or the log entry
/// type's past tense. Actions the incident's status follows have their own variant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PageAction {
    Triggered,
    Acknowledged,
    Annotated,
    Resolved,
    Reopened,
    /// Any other action, by its word: `escalated`, `reassigned`, `notified`, …
    Other(String),
}

impl PageAction {
    /// The action a word of the vocabulary names.
    pub fn from_word(word: &str) -> PageAction {
        match word {
            "triggered" => PageAction::Triggered,
            "acknowledged" => PageAction::Acknowledged,
            "annotated" => PageAction::Annotated,
            "resolved" => PageAction::Resolved,
            "reopened" => PageAction::Reopened,
            other => PageAction::Other(other.to_owned()),
        }
    }

    /// The action's word: `triggered`, `priority_updated`, …
    pub fn as_str(&self) -> &str {
        match self {
            PageAction::Triggered => "triggered",
            PageAction::Acknowledged => "acknowledged",
            PageAction::Annotated => "annotated",
            PageAction::Resolved => "resolved",
            PageAction::Reopened => "reopened",
            PageAction::Other(word) => word,
        }
    }
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

impl K8sEventRecord {
    /// Reasons of `Normal` events that are changes a reader needs: rollouts and scalings
    /// (`ScalingReplicaSet`), autoscaler resizes and nodes leaving service.
    pub const CHANGE_REASONS: &'static [&'static str] = &[
        "ScalingReplicaSet",
        "SuccessfulRescale",
        "NodeNotReady",
        "NodeNotSchedulable",
        "RemovingNode",
        "Rebooted",
        "TaintManagerEviction",
        // The kubelet's own word that its node came under pressure (the condition's transition).
        "NodeHasInsufficientMemory",
        "NodeHasDiskPressure",
        "NodeHasInsufficientPID",
    ];

    /// A warning, or a `Normal` event that is a change; routine ones (`Scheduled`, `Pulled`,
    /// `Started`, …) happen at any time and say nothing about when the incident was.
    pub fn is_notable(&self) -> bool {
        self.event_type != "Normal" || Self::CHANGE_REASONS.contains(&self.reason.as_str())
    }
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

/// A Deployment, StatefulSet or DaemonSet as its object says: when it was made and who
/// changed its spec (`metadata.managedFields`).
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadRecord {
    /// `Deployment`, `StatefulSet` or `DaemonSet`.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub created: Option<Instant>,
    /// `(manager, time)` of each `managedFields` entry that touched `f:spec`, oldest first:
    /// the first is who created it, the one closest to a rollout who made that.
    pub spec_managers: Vec<(String, Instant)>,
    pub images: Vec<String>,
}

/// One ControllerRevision of a StatefulSet or DaemonSet: a rollout (or rollback) to a revision.
#[derive(Clone, Debug, PartialEq)]
pub struct RevisionRecord {
    /// When this revision was rolled out: its creation, or, when the controller reused an
    /// older revision (a rollback), its last update.
    pub time: Instant,
    pub namespace: String,
    /// `StatefulSet` or `DaemonSet`.
    pub owner_kind: String,
    pub owner: String,
    pub revision: u64,
    /// A rollback: the controller reused a revision made earlier (its number was raised),
    /// or an earlier revision of the same owner holds the same template (that one's number).
    pub rollback: Option<Rollback>,
    pub images: Vec<String>,
}

/// How a revision was recognised as a rollback.
#[derive(Clone, Debug, PartialEq)]
pub enum Rollback {
    /// Made at this time, reused now with a higher number.
    Reused { created: Instant },
    /// The template of this earlier revision.
    SameAs { revision: u64 },
}

/// A HorizontalPodAutoscaler's last scaling (`status.lastScaleTime`) and its replica counts
/// when it was read.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerRecord {
    pub namespace: String,
    pub name: String,
    /// `Deployment/api`: `spec.scaleTargetRef`.
    pub target: String,
    pub last_scale: Option<Instant>,
    pub current_replicas: Option<u64>,
    pub desired_replicas: Option<u64>,
}

/// One condition of a Node (`Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`, …)
/// and when it last changed.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConditionRecord {
    pub node: String,
    pub condition: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub since: Instant,
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// What a series measures: an incident metric, or evidence of a node's clock. Decided once,
/// where the series enters (`ingest::prometheus::series_kind`); the timeline matches on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SeriesKind {
    /// An incident metric: rows for departures from its baseline, gaps for its holes.
    #[default]
    Plain,
    /// `node_time_seconds - timestamp(node_time_seconds)`: the values are clock offsets.
    NodeClockOffset,
    /// Raw `node_time_seconds`: value minus sample time is the offset.
    NodeClockRaw,
    /// `node_timex_offset_seconds`: NTP's own view of the offset.
    NodeTimexOffset,
    /// `node_timex_sync_status`: 1 synchronised, 0 not.
    NodeTimexSync,
}

impl SeriesKind {
    /// Clock evidence rather than an incident metric.
    pub fn is_clock(self) -> bool {
        self != SeriesKind::Plain
    }
}

/// One Prometheus range-query series.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRecord {
    /// The PromQL that produced it (from `queries.json`, else the file name).
    pub query: String,
    /// The query's name, when `queries.json` gives one (a configured `[[prometheus.queries]]`).
    pub name: Option<String>,
    pub kind: SeriesKind,
    pub labels: BTreeMap<String, String>,
    /// Samples in time order; NaN and ±Inf kept as such.
    pub samples: Vec<(Instant, f64)>,
}

impl SeriesRecord {
    /// The source its rows and gaps name: `prometheus: NAME` when the query has a name,
    /// else `prometheus: QUERY`.
    pub fn source_name(&self) -> String {
        format!("prometheus: {}", self.name.as_deref().unwrap_or(&self.query))
    }

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
    /// The source that is missing.
    pub source: GapSource,
    pub start: Instant,
    pub end: Instant,
    /// What happened, in words a person can act on: `403 Forbidden: the service account may not get pods/log in shop`.
    pub reason: String,
    pub node: Option<String>,
}

/// What a reported gap is missing: a log stream (as a struct, so the timeline matches it to
/// the stream's digest), or another source in words.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GapSource {
    /// `logs shop/api-1/app`, named like [`Source`].
    Logs(Stream),
    /// `prometheus: up`, `kubernetes pod shop/api-1`, `alertmanager`, …
    Other(String),
}

impl GapSource {
    /// Reads back the text [`Display`](fmt::Display) writes, where a gap was stored as text
    /// (`gaps.json`, the store): the one place that text is parsed. Names hold no `/`
    /// (Kubernetes names and file names cannot), so every stream reads back as itself.
    pub fn parse(text: &str) -> Self {
        let Some(stream) = text.strip_prefix("logs ") else {
            return GapSource::Other(text.to_owned());
        };
        let parts: Vec<&str> = stream.split('/').collect();
        match parts.as_slice() {
            [name] => GapSource::Logs(Stream::File((*name).to_owned())),
            [pod, container] => GapSource::Logs(Stream::container(None, pod, container)),
            [namespace, pod, container] => GapSource::Logs(Stream::container(Some(namespace), pod, container)),
            _ => GapSource::Other(text.to_owned()),
        }
    }

    /// The log stream the gap is in, if it is a log stream's.
    pub fn stream(&self) -> Option<&Stream> {
        match self {
            GapSource::Logs(stream) => Some(stream),
            GapSource::Other(_) => None,
        }
    }
}

/// The name rows show and files store: `logs shop/api-1/app`, `prometheus: up`.
impl fmt::Display for GapSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GapSource::Logs(stream) => write!(formatter, "logs {stream}"),
            GapSource::Other(text) => formatter.write_str(text),
        }
    }
}

/// Something a source said about its own answer that a reader should see: Prometheus's
/// `warnings` and `infos` ("PromQL info: metric might not be a counter").
#[derive(Clone, Debug, PartialEq)]
pub struct NoteRecord {
    /// `prometheus: rate(http_requests_total[5m])`.
    pub source: String,
    pub text: String,
}

/// One input of a responder (`POST /api/v1/incidents/{id}/notes` and the other write
/// routes), kept with who gave it and when: the daemon stores it, its bundle carries it as
/// `responders.json`, and a draft shows it as a row of source `responder`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponderRecord {
    /// When it happened: a note's or resolution's own time (given, else when it was sent);
    /// a correction's or merge's is when it was sent.
    pub at: Instant,
    /// Who gave it, as they named themselves.
    pub author: String,
    pub input: ResponderInput,
}

/// What a responder said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponderInput {
    Note {
        text: String,
    },
    /// The incident's title and/or severity corrected; `None` leaves one as it was.
    Correction {
        title: Option<String>,
        severity: Option<String>,
    },
    /// The incident resolved by hand at `at`, with an optional note.
    Resolve {
        note: Option<String>,
    },
    /// Incident `from` merged into this one.
    Merge {
        from: i64,
    },
}

impl ResponderInput {
    /// The word the store and `responders.json` keep it by.
    pub fn kind(&self) -> &'static str {
        match self {
            ResponderInput::Note { .. } => "note",
            ResponderInput::Correction { .. } => "correction",
            ResponderInput::Resolve { .. } => "resolve",
            ResponderInput::Merge { .. } => "merge",
        }
    }
}

/// A collector the daemon was not given settings for: nothing of its kind was looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotConfiguredRecord {
    /// The collector: `kubernetes`, `prometheus`.
    pub source: String,
    /// What to set: `set prometheus.url`.
    pub hint: String,
}

/// An alerting rule as Prometheus reports it (`/api/v1/rules`): what an alert of its name
/// stands for, and how long its condition must hold before it fires (`for:`).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleRecord {
    /// The alert name.
    pub name: String,
    /// Its PromQL expression.
    pub query: String,
    /// `for:` (zero without one).
    pub duration: jiff::SignedDuration,
    /// Labels the rule adds to its alerts (values may be templates).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The rule group and the file it was loaded from.
    pub group: String,
    pub file: String,
}

impl RuleRecord {
    /// Whether `alert` can be one of this rule's: the same name, and every label the rule
    /// sets carried by the alert with the same value (templated values, `{{ … }}`, aside).
    pub fn fits(&self, alert: &AlertRecord) -> bool {
        self.name == alert.name
            && self.labels.iter().all(|(label, value)| value.contains("{{") || alert.labels.get(label) == Some(value))
    }
}

/// The rule `alert` fired from, among `rules`: those it [fits](RuleRecord::fits), the one
/// setting the most labels; `None` when none fits, or when the closest fits disagree on
/// `for:` (a wrong onset would mislead more than none).
pub fn rule_of<'a>(alert: &AlertRecord, rules: &[&'a RuleRecord]) -> Option<&'a RuleRecord> {
    let fitting: Vec<&RuleRecord> = rules.iter().copied().filter(|rule| rule.fits(alert)).collect();
    let most = fitting.iter().map(|rule| rule.labels.len()).max()?;
    let mut closest = fitting.into_iter().filter(|rule| rule.labels.len() == most);
    let first = closest.next()?;
    closest.all(|other| other.duration == first.duration).then_some(first)
}

/// The health of a scrape target at its last scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetHealth {
    Up,
    Down,
    Unknown,
}

/// One scrape target as Prometheus reports it (`/api/v1/targets`), at its last scrape: why
/// its series may have stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetRecord {
    /// Labels after relabelling (`instance`, `job`, …): those its series carry.
    pub labels: BTreeMap<String, String>,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub health: TargetHealth,
    /// Empty when the last scrape succeeded.
    pub last_error: String,
    /// `None` before the first scrape.
    pub last_scrape: Option<Instant>,
}

impl TargetRecord {
    /// Whether the last scrape failed.
    pub fn is_failing(&self) -> bool {
        self.health == TargetHealth::Down || !self.last_error.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_gap_source(source: GapSource, text: &str) {
        assert_eq!(source.to_string(), text);
        assert_eq!(GapSource::parse(text), source, "{text}");
    }

    #[test]
    fn gap_sources_read_back_as_written() {
        check_gap_source(GapSource::Logs(Stream::container(Some("shop"), "api-1", "app")), "logs shop/api-1/app");
        check_gap_source(GapSource::Logs(Stream::container(None, "api-1", "app")), "logs api-1/app");
        check_gap_source(GapSource::Logs(Stream::File("billing.log".to_owned())), "logs billing.log");
        check_gap_source(GapSource::Other("prometheus: up".to_owned()), "prometheus: up");
        check_gap_source(GapSource::Other("kubernetes pod shop/api-1".to_owned()), "kubernetes pod shop/api-1");
        check_gap_source(GapSource::Other("logs a/b/c/d".to_owned()), "logs a/b/c/d");
        check_gap_source(GapSource::Other("logsx".to_owned()), "logsx");
    }

    #[test]
    fn sources_are_named_by_their_stream() {
        let source = Source {
            kind: SourceKind::Logs,
            stream: Stream::container(Some("prod"), "api-7d9f8b6c5-x2kqp", "nginx"),
            node: None,
        };
        assert_eq!(source.to_string(), "logs prod/api-7d9f8b6c5-x2kqp/nginx");
    }
}

/// A seeded splitmix64 for generated tests, rather than `proptest`: no new dependency, and
/// a failing case prints its seed.
#[cfg(test)]
pub(crate) mod random {
    pub(crate) struct Random(pub(crate) u64);

    impl Random {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len() as u64) as usize]
        }

        pub(crate) fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }
}
