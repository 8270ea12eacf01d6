//! Files exported by hand: which kind of artifact a file is (by its content, the name only
//! breaking ties), which files a folder holds, and the records of every non-log artifact
//! through the `ingest` parsers. Log files are only recognised here; `artifacts::logs`
//! streams them.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::artifacts::logs::split_prefix;
use crate::ingest::{self, ParseError};
use crate::normalize::time::{Finder, kubelet_time};
use crate::record::{NoteRecord, Record};

/// How many leading bytes [`detect`] wants to see; more is fine, less may not decide.
pub const HEAD_BYTES: usize = 16 * 1024;

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArtifactKind {
    /// `kubectl logs --timestamps` (with or without `--prefix`).
    KubectlLogs,
    /// Any other text log, JSON lines included.
    PlainLog,
    /// A Prometheus `query_range` response (or `promtool query range -o json`).
    PromQueryRange,
    /// One Alertmanager webhook notification body.
    AlertmanagerWebhook,
    /// Alertmanager API v2 alerts (`amtool alert query -o json`).
    AlertmanagerAlerts,
    /// PagerDuty REST `log_entries`.
    PagerDutyLogEntries,
    /// PagerDuty v3 webhook events (one, an array or NDJSON).
    PagerDutyEvents,
    K8sEvents,
    ReplicaSets,
    Deployments,
    Pods,
    /// `queries.json`: file name → the PromQL that produced it.
    Queries,
    /// `gaps.json`: gaps the daemon's collectors reported (in its evidence bundle).
    Gaps,
    /// Prometheus `/api/v1/rules`: alerting rules with their `for:`.
    PromRules,
    /// Prometheus `/api/v1/targets`: scrape targets with their health and last error.
    PromTargets,
    /// `responders.json`: what responders added over the write API (in the evidence bundle).
    Responders,
}

impl ArtifactKind {
    pub const ALL: [ArtifactKind; 16] = [
        ArtifactKind::KubectlLogs,
        ArtifactKind::PlainLog,
        ArtifactKind::PromQueryRange,
        ArtifactKind::AlertmanagerWebhook,
        ArtifactKind::AlertmanagerAlerts,
        ArtifactKind::PagerDutyLogEntries,
        ArtifactKind::PagerDutyEvents,
        ArtifactKind::K8sEvents,
        ArtifactKind::ReplicaSets,
        ArtifactKind::Deployments,
        ArtifactKind::Pods,
        ArtifactKind::Queries,
        ArtifactKind::Gaps,
        ArtifactKind::PromRules,
        ArtifactKind::PromTargets,
        ArtifactKind::Responders,
    ];

    /// The name a user gives `--kind`.
    pub fn name(self) -> &'static str {
        match self {
            ArtifactKind::KubectlLogs => "kubectl-logs",
            ArtifactKind::PlainLog => "plain-log",
            ArtifactKind::PromQueryRange => "prom-query-range",
            ArtifactKind::AlertmanagerWebhook => "alertmanager-webhook",
            ArtifactKind::AlertmanagerAlerts => "alertmanager-alerts",
            ArtifactKind::PagerDutyLogEntries => "pagerduty-log-entries",
            ArtifactKind::PagerDutyEvents => "pagerduty-events",
            ArtifactKind::K8sEvents => "k8s-events",
            ArtifactKind::ReplicaSets => "replicasets",
            ArtifactKind::Deployments => "deployments",
            ArtifactKind::Pods => "pods",
            ArtifactKind::Queries => "queries",
            ArtifactKind::Gaps => "gaps",
            ArtifactKind::PromRules => "prom-rules",
            ArtifactKind::PromTargets => "prom-targets",
            ArtifactKind::Responders => "responders",
        }
    }

    /// Whether the file is a Kubernetes list, read by one pass whatever kinds it holds.
    pub fn is_kubernetes_list(self) -> bool {
        matches!(
            self,
            ArtifactKind::K8sEvents | ArtifactKind::ReplicaSets | ArtifactKind::Deployments | ArtifactKind::Pods
        )
    }

    /// Whether the file is a log, read line by line rather than by [`read_artifact`].
    pub fn is_log(self) -> bool {
        matches!(self, ArtifactKind::KubectlLogs | ArtifactKind::PlainLog)
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A `--kind` that names no [`ArtifactKind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown artifact kind {given:?} (expected one of {})", known_names())]
pub struct UnknownKindName {
    pub given: String,
}

fn known_names() -> String {
    ArtifactKind::ALL.map(ArtifactKind::name).join(", ")
}

impl FromStr for ArtifactKind {
    type Err = UnknownKindName;

    /// Case and `_`/`-` are forgiven: `K8S_EVENTS` is `k8s-events`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
        ArtifactKind::ALL
            .into_iter()
            .find(|kind| kind.name() == wanted)
            .ok_or_else(|| UnknownKindName { given: text.to_string() })
    }
}

/// A file that could not be read as the artifact it was taken for.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    // NB: the ParseError is part of the message and deliberately not a `#[source]`: the
    // message must read `alerts.json: alerts[0].startsAt: …` on its own, and a source would
    // repeat it in every `{:#}` chain.
    #[error("{}: {error}", file.display())]
    Parse { file: PathBuf, error: ParseError },
    #[error(
        "{}: unknown kind of file (expected kubectl logs, a plain log, Prometheus query_range JSON, Alertmanager or PagerDuty JSON, or kubectl get -o json output); name it with --kind",
        file.display()
    )]
    UnknownKind { file: PathBuf },
    #[error(
        "{}: text whose lines carry no times (prose, notes or a manifest?), not a log; name it with --kind plain-log to read it as one",
        file.display()
    )]
    NoTimes { file: PathBuf },
    #[error("{}: {kind} is a log, read line by line by the log reader", file.display())]
    IsLog { file: PathBuf, kind: ArtifactKind },
    #[error("{}: a failed export, no data: {message}", file.display())]
    FailedExport { file: PathBuf, message: String },
    #[error("{}: cannot read", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl FileError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            FileError::Parse { file, .. }
            | FileError::UnknownKind { file }
            | FileError::NoTimes { file }
            | FileError::IsLog { file, .. }
            | FileError::FailedExport { file, .. }
            | FileError::Io { file, .. } => file,
        }
    }

    /// A fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            FileError::Parse { .. } => "parse",
            FileError::UnknownKind { .. } => "unknown_kind",
            FileError::NoTimes { .. } => "no_times",
            FileError::IsLog { .. } => "is_log",
            FileError::FailedExport { .. } => "failed_export",
            FileError::Io { .. } => "io",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Detection

/// Recognises a file's kind from its first bytes (`head`, ideally [`HEAD_BYTES`] of them),
/// using the file name only where the content cannot decide (an empty JSON array).
/// `None`: binary, or JSON of no shape postmortemd reads.
pub fn detect(path: &Path, head: &[u8]) -> Option<ArtifactKind> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|byte| !byte.is_ascii_whitespace());
    let Some(start) = start else {
        // An empty log is common (a container that wrote nothing): nothing to read either way.
        return Some(ArtifactKind::PlainLog);
    };
    // A bracket may also open a log line (`[pod/…]`, `[INFO]`): only what scans as JSON is JSON.
    if matches!(head[start], b'{' | b'[')
        && let Some(shape) = Shape::scan(&head[start..])
    {
        return classify_json(&shape, path);
    }
    detect_log(&head[start..])
}

fn detect_log(text: &[u8]) -> Option<ArtifactKind> {
    if !looks_like_text(text) {
        return None;
    }
    let first_line = text.split(|byte| *byte == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(first_line);
    let line = line.trim_end_matches('\r');
    let after_prefix = match split_prefix(line) {
        Some((prefix, rest)) if prefix.is_pod() => rest,
        _ => line,
    };
    // The kubelet's exact form, with text after it: an application's own leading time
    // (three or six digits) does not make a log kubectl's.
    let kubelet = kubelet_time(after_prefix.as_bytes());
    if kubelet.is_some_and(|time| time.exact && time.text_start.is_some()) {
        return Some(ArtifactKind::KubectlLogs);
    }
    Some(ArtifactKind::PlainLog)
}

/// What a failed export holds instead of data, when that is all a file holds: an error
/// body in JSON (a Kubernetes `Status` of `Failure`, a Prometheus `"status": "error"`, an
/// API's `{"error": {"message": …}}`), or a few lines of text that are a tool's error
/// message (`Error from server (Forbidden): …`, `error: …`, `Unable to connect to the
/// server`, `curl: (7) …`) or `kubectl get`'s "No resources found". The message, trimmed,
/// names the failure in the coverage table rather than "no lines in the window".
pub fn failed_export(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head));
    let text = text.trim();
    if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let field =
            |path: &[&str]| path.iter().try_fold(&value, |node, key| node.get(key)).and_then(serde_json::Value::as_str);
        if field(&["kind"]) == Some("Status") && field(&["status"]) == Some("Failure") {
            return Some(format!("Kubernetes Status Failure: {}", field(&["message"]).unwrap_or("(no message)")));
        }
        if field(&["status"]) == Some("error") && value.get("data").is_none() {
            let kind = field(&["errorType"]).unwrap_or("error");
            return Some(format!("Prometheus {kind}: {}", field(&["error"]).unwrap_or("(no message)")));
        }
        return field(&["error", "message"]).map(|message| format!("error: {message}"));
    }
    const ERROR_STARTS: [&str; 7] = [
        "Error from server",
        "error: ",
        "Error: ",
        "Unable to connect to the server",
        "The connection to the server",
        "curl: (",
        "No resources found",
    ];
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    // kubectl's own klog lines (`E1202 10:00:00.1 1 memcache.go:265] couldn't get …`) come
    // before its message when the server cannot be reached.
    let message = lines.iter().find(|line| ERROR_STARTS.iter().any(|start| line.starts_with(start)))?;
    let klog_only_before = lines
        .iter()
        .take_while(|line| *line != message)
        .all(|line| line.contains("memcache.go") || line.contains("couldn't get current server API group list"));
    (lines.len() <= 6 && klog_only_before).then(|| (*message).to_owned())
}

/// How many leading lines [`carries_times`] looks at.
const TIMED_PROBE_LINES: usize = 64;

/// Whether a text's first lines carry times, as a log's do: at least three of the first
/// [`TIMED_PROBE_LINES`] non-blank lines (every one of a shorter text) and a tenth of them.
/// A README, notes or a YAML manifest mention a date now and then, a log dates its lines;
/// a stack trace or a multi-line message between timed lines still leaves a tenth.
/// An empty text is a log that wrote nothing.
pub fn carries_times(head: &[u8], finder: &mut Finder) -> bool {
    let mut lines: Vec<&[u8]> = head.split(|byte| *byte == b'\n').collect();
    if lines.len() > 1 && head.len() >= HEAD_BYTES {
        // The head may end in the middle of a line.
        lines.pop();
    }
    let lines: Vec<String> = lines
        .into_iter()
        .filter(|line| !line.trim_ascii().is_empty())
        .take(TIMED_PROBE_LINES)
        .map(|line| String::from_utf8_lossy(line).trim_end_matches('\r').to_owned())
        .collect();
    let n_timed = lines
        .iter()
        .filter(|line| {
            // Read as the draft reads a line: kubectl's prefix and the kubelet time first.
            let line = crate::artifacts::logs::parse_line(line);
            line.transport.is_some() || finder.find(line.text).is_some()
        })
        .count();
    n_timed >= lines.len().min(3) && n_timed * 10 >= lines.len()
}

/// No NUL bytes and few control characters: a text log rather than a binary or archive.
fn looks_like_text(bytes: &[u8]) -> bool {
    let mut n_control = 0usize;
    for byte in bytes {
        match byte {
            0 => return false,
            b'\t' | b'\n' | b'\r' | 0x1b | 0x0c => {}
            byte if *byte < 0x20 || *byte == 0x7f => n_control += 1,
            _ => {}
        }
    }
    n_control * 100 <= bytes.len()
}

const LOG_KEYS: [&str; 5] = ["level", "msg", "message", "severity", "log"];

fn classify_json(shape: &Shape, path: &Path) -> Option<ArtifactKind> {
    match shape.get(&[]) {
        Some(Token::Object(keys)) => classify_object(shape, keys, path),
        Some(Token::Array) => classify_array(shape, path),
        _ => None,
    }
}

fn classify_object(shape: &Shape, keys: &[String], path: &Path) -> Option<ArtifactKind> {
    let has = |key: &str| keys.iter().any(|known| known == key);
    if is_pagerduty_event(shape, &[]) {
        return Some(ArtifactKind::PagerDutyEvents);
    }
    if shape.n_values > 1 {
        // JSON lines that are not PagerDuty events are somebody's log.
        return Some(ArtifactKind::PlainLog);
    }
    if has("alerts")
        && (["version", "groupKey", "receiver", "groupLabels", "commonLabels"].iter().any(|key| has(key))
            || shape.string(&["alerts", "0", "status"]).is_some())
    {
        return Some(ArtifactKind::AlertmanagerWebhook);
    }
    if has("log_entries") || has("log_entry") {
        return Some(ArtifactKind::PagerDutyLogEntries);
    }
    let status = shape.string(&["status"]);
    // Prometheus's other answers share the envelope: what `data` holds tells them apart.
    if shape.get(&["data", "groups"]).is_some() || (status.is_none() && has("groups") && keys.len() == 1) {
        return Some(ArtifactKind::PromRules);
    }
    if ["activeTargets", "droppedTargets"].iter().any(|key| shape.get(&["data", key]).is_some() || has(key)) {
        return Some(ArtifactKind::PromTargets);
    }
    // `jq -S` sorts `result` before `resultType` and `status` last: a long response shows
    // only `data.result` in its head.
    if shape.string(&["data", "resultType"]).is_some()
        || shape.get(&["data", "result", "0", "metric"]).is_some()
        || (status == Some("error") && has("errorType"))
        || (status == Some("success") && has("data"))
    {
        return Some(ArtifactKind::PromQueryRange);
    }
    if let Some(kind) = shape.string(&["kind"]) {
        if kind == ingest::gaps::KIND {
            return Some(ArtifactKind::Gaps);
        }
        if kind == ingest::responders::KIND {
            return Some(ArtifactKind::Responders);
        }
        if kind == "List" {
            return Some(classify_list_items(shape, path));
        }
        return kube_kind(kind);
    }
    if has("items") && (has("metadata") || has("apiVersion")) {
        return Some(classify_list_items(shape, path));
    }
    // `queries.json`: file name → PromQL, or → `{"query": PromQL, "name": NAME}`.
    let all_strings = keys.iter().all(|key| {
        matches!(shape.get(&[key.as_str()]), Some(Token::Str(_)))
            || matches!(shape.get(&[key.as_str(), "query"]), Some(Token::Str(_)))
    });
    let log_like = LOG_KEYS.iter().any(|key| has(key));
    if log_like {
        return Some(ArtifactKind::PlainLog);
    }
    if all_strings && !keys.is_empty() {
        return Some(ArtifactKind::Queries);
    }
    if keys.is_empty() && file_name(path) == "queries.json" {
        return Some(ArtifactKind::Queries);
    }
    None
}

fn kube_kind(kind: &str) -> Option<ArtifactKind> {
    use ingest::kubernetes::ObjectKind;
    match ObjectKind::from_kind_name(kind)? {
        ObjectKind::Event => Some(ArtifactKind::K8sEvents),
        ObjectKind::ReplicaSet => Some(ArtifactKind::ReplicaSets),
        ObjectKind::Deployment => Some(ArtifactKind::Deployments),
        ObjectKind::Pod => Some(ArtifactKind::Pods),
        // Every kube kind reads every kind of object; these only name what the user is told.
        ObjectKind::StatefulSet
        | ObjectKind::DaemonSet
        | ObjectKind::ControllerRevision
        | ObjectKind::HorizontalPodAutoscaler => Some(ArtifactKind::ReplicaSets),
        ObjectKind::Node => Some(ArtifactKind::Pods),
    }
}

/// A `List` names no kind of its own (and kubectl prints `kind` after `items`): the first
/// item decides, then its fields, then the file name. Every kube kind reads every kind of
/// item, so the choice only matters for what the user is told.
fn classify_list_items(shape: &Shape, path: &Path) -> ArtifactKind {
    if let Some(kind) = shape.string(&["items", "0", "kind"]).and_then(kube_kind) {
        return kind;
    }
    let item_has = |keys: &[&str]| {
        let mut full = vec!["items", "0"];
        full.extend_from_slice(keys);
        shape.get(&full).is_some()
    };
    if item_has(&["involvedObject"]) || item_has(&["regarding"]) || item_has(&["reason"]) {
        return ArtifactKind::K8sEvents;
    }
    if item_has(&["spec", "containers"]) || item_has(&["spec", "nodeName"]) {
        return ArtifactKind::Pods;
    }
    if item_has(&["spec", "strategy"]) {
        return ArtifactKind::Deployments;
    }
    if item_has(&["spec", "template"]) {
        return ArtifactKind::ReplicaSets;
    }
    let name = file_name(path).to_ascii_lowercase();
    if name.contains("pod") {
        ArtifactKind::Pods
    } else if name.contains("replicaset") || name.contains("rs.") {
        ArtifactKind::ReplicaSets
    } else if name.contains("deploy") {
        ArtifactKind::Deployments
    } else {
        ArtifactKind::K8sEvents
    }
}

fn classify_array(shape: &Shape, path: &Path) -> Option<ArtifactKind> {
    let Some(Token::Object(keys)) = shape.get(&["0"]) else {
        if shape.get(&["0"]).is_none() && shape.complete {
            return Some(empty_array_kind(path));
        }
        return None;
    };
    let has = |key: &str| keys.iter().any(|known| known == key);
    if is_pagerduty_event(shape, &["0"]) {
        return Some(ArtifactKind::PagerDutyEvents);
    }
    if has("metric") && (has("values") || has("value") || has("histograms")) {
        return Some(ArtifactKind::PromQueryRange);
    }
    if (has("startsAt") || has("endsAt"))
        && ["fingerprint", "receivers", "labels", "annotations", "updatedAt"].iter().any(|key| has(key))
    {
        return Some(ArtifactKind::AlertmanagerAlerts);
    }
    let entry_type = shape.string(&["0", "type"]).unwrap_or("");
    if entry_type.contains("_log_entry") {
        return Some(ArtifactKind::PagerDutyLogEntries);
    }
    None
}

/// `[]` holds nothing of any kind; the name says what the user exported.
fn empty_array_kind(path: &Path) -> ArtifactKind {
    let name = file_name(path).to_ascii_lowercase();
    if name.contains("log_entr") || name.contains("log-entr") {
        ArtifactKind::PagerDutyLogEntries
    } else if name.contains("pagerduty") || name.contains("page") || name.contains("incident") {
        ArtifactKind::PagerDutyEvents
    } else if name.contains("alert") {
        ArtifactKind::AlertmanagerAlerts
    } else if name.contains("prom") || name.contains("query") || name.contains("range") {
        ArtifactKind::PromQueryRange
    } else {
        ArtifactKind::AlertmanagerAlerts
    }
}

/// A v3 event at `prefix`, wrapped in `{"event": …}` or bare: it names its `event_type`
/// and `resource_type`, which app logs with an `event` field do not.
fn is_pagerduty_event(shape: &Shape, prefix: &[&str]) -> bool {
    let at = |keys: &[&str]| {
        let mut full = prefix.to_vec();
        full.extend_from_slice(keys);
        shape.string(&full).is_some()
    };
    (at(&["event", "event_type"]) && at(&["event", "resource_type"])) || (at(&["event_type"]) && at(&["resource_type"]))
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|name| name.to_str()).unwrap_or("")
}

// ---------------------------------------------------------------------------------------
// A JSON prefix scanner: what the first KiB of a (probably truncated) document show.

/// What was seen at a path.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// The keys seen so far, in order.
    Object(Vec<String>),
    Array,
    Str(String),
    Other,
}

/// The shallow structure of a JSON document's head: the first item of every array and
/// the members of every object down to [`Shape::MAX_DEPTH`], keyed by path (`"0"` for the
/// first item).
#[derive(Debug, Default)]
struct Shape {
    nodes: BTreeMap<Vec<String>, Token>,
    /// Top-level values begun (more than one: JSON lines).
    n_values: usize,
    /// The first value ended within the head.
    complete: bool,
}

/// Why the scanner stopped early.
enum Stop {
    /// The head ended: what was seen so far stands.
    End,
    /// Not JSON.
    Invalid,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    position: usize,
    path: Vec<String>,
    shape: Shape,
}

impl Shape {
    const MAX_DEPTH: usize = 6;
    /// Deeper nesting than any artifact has: treated as not JSON rather than recursed into.
    const MAX_NESTING: usize = 128;
    /// Strings longer than this are kept cut: only short values (kinds, versions) matter.
    const MAX_STRING: usize = 256;
    /// JSON lines beyond these are not looked at.
    const MAX_VALUES: usize = 4;

    /// `None` when the head is not JSON (beyond being cut short).
    fn scan(bytes: &[u8]) -> Option<Shape> {
        let mut scanner = Scanner { bytes, position: 0, path: Vec::new(), shape: Shape::default() };
        loop {
            scanner.skip_whitespace();
            if scanner.position >= bytes.len() || scanner.shape.n_values >= Self::MAX_VALUES {
                break;
            }
            scanner.shape.n_values += 1;
            let record = scanner.shape.n_values == 1;
            match scanner.value(record, 0) {
                Ok(()) => {
                    if scanner.shape.n_values == 1 {
                        scanner.shape.complete = true;
                    }
                }
                Err(Stop::End) => break,
                Err(Stop::Invalid) => {
                    // A later JSON line may be cut or broken; the first one decides.
                    if scanner.shape.n_values == 1 {
                        return None;
                    }
                    break;
                }
            }
        }
        if scanner.shape.n_values == 0 {
            return None;
        }
        Some(scanner.shape)
    }

    fn get(&self, keys: &[&str]) -> Option<&Token> {
        let path: Vec<String> = keys.iter().map(|key| key.to_string()).collect();
        self.nodes.get(&path)
    }

    fn string(&self, keys: &[&str]) -> Option<&str> {
        match self.get(keys)? {
            Token::Str(text) => Some(text),
            _ => None,
        }
    }
}

impl Scanner<'_> {
    fn skip_whitespace(&mut self) {
        while let Some(byte) = self.bytes.get(self.position) {
            if !byte.is_ascii_whitespace() {
                break;
            }
            self.position += 1;
        }
    }

    fn peek(&self) -> Result<u8, Stop> {
        self.bytes.get(self.position).copied().ok_or(Stop::End)
    }

    fn expect(&mut self, wanted: u8) -> Result<(), Stop> {
        self.skip_whitespace();
        if self.peek()? != wanted {
            return Err(Stop::Invalid);
        }
        self.position += 1;
        Ok(())
    }

    fn record(&mut self, record: bool, token: Token) {
        if record && self.path.len() <= Shape::MAX_DEPTH {
            self.shape.nodes.insert(self.path.clone(), token);
        }
    }

    fn value(&mut self, record: bool, nesting: usize) -> Result<(), Stop> {
        if nesting > Shape::MAX_NESTING {
            return Err(Stop::Invalid);
        }
        self.skip_whitespace();
        match self.peek()? {
            b'{' => {
                self.position += 1;
                self.record(record, Token::Object(Vec::new()));
                self.skip_whitespace();
                if self.peek()? == b'}' {
                    self.position += 1;
                    return Ok(());
                }
                loop {
                    self.skip_whitespace();
                    let key = self.string()?;
                    if record
                        && self.path.len() <= Shape::MAX_DEPTH
                        && let Some(Token::Object(keys)) = self.shape.nodes.get_mut(&self.path)
                    {
                        keys.push(key.clone());
                    }
                    self.expect(b':')?;
                    self.path.push(key);
                    let outcome = self.value(record, nesting + 1);
                    self.path.pop();
                    outcome?;
                    self.skip_whitespace();
                    match self.peek()? {
                        b',' => self.position += 1,
                        b'}' => {
                            self.position += 1;
                            return Ok(());
                        }
                        _ => return Err(Stop::Invalid),
                    }
                }
            }
            b'[' => {
                self.position += 1;
                self.record(record, Token::Array);
                self.skip_whitespace();
                if self.peek()? == b']' {
                    self.position += 1;
                    return Ok(());
                }
                let mut index = 0usize;
                loop {
                    // Only the first item is recorded: it shows the array's shape.
                    self.path.push(index.to_string());
                    let outcome = self.value(record && index == 0, nesting + 1);
                    self.path.pop();
                    outcome?;
                    index += 1;
                    self.skip_whitespace();
                    match self.peek()? {
                        b',' => self.position += 1,
                        b']' => {
                            self.position += 1;
                            return Ok(());
                        }
                        _ => return Err(Stop::Invalid),
                    }
                }
            }
            b'"' => {
                let text = self.string()?;
                self.record(record, Token::Str(text));
                Ok(())
            }
            b't' => self.literal(b"true", record),
            b'f' => self.literal(b"false", record),
            b'n' => self.literal(b"null", record),
            b'-' | b'0'..=b'9' => {
                let start = self.position;
                while let Some(byte) = self.bytes.get(self.position) {
                    if !matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                        break;
                    }
                    self.position += 1;
                }
                if self.position == self.bytes.len() {
                    return Err(Stop::End);
                }
                if self.position == start {
                    return Err(Stop::Invalid);
                }
                self.record(record, Token::Other);
                Ok(())
            }
            _ => Err(Stop::Invalid),
        }
    }

    fn literal(&mut self, word: &[u8], record: bool) -> Result<(), Stop> {
        let rest = &self.bytes[self.position..];
        if rest.len() < word.len() {
            return if word.starts_with(rest) { Err(Stop::End) } else { Err(Stop::Invalid) };
        }
        if &rest[..word.len()] != word {
            return Err(Stop::Invalid);
        }
        self.position += word.len();
        self.record(record, Token::Other);
        Ok(())
    }

    /// A string at the position (which must be `"`), decoded; long ones are cut.
    fn string(&mut self) -> Result<String, Stop> {
        if self.peek()? != b'"' {
            return Err(Stop::Invalid);
        }
        self.position += 1;
        let mut text = Vec::new();
        loop {
            let byte = self.peek()?;
            self.position += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escaped = self.peek()?;
                    self.position += 1;
                    let decoded = match escaped {
                        b'"' | b'\\' | b'/' => escaped,
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'b' | b'f' => b' ',
                        b'u' => {
                            let digits = self.bytes.get(self.position..self.position + 4).ok_or(Stop::End)?;
                            if !digits.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Stop::Invalid);
                            }
                            self.position += 4;
                            // Only ASCII escapes matter for recognising shapes (`\u003e`).
                            let code = digits
                                .iter()
                                .fold(0u32, |code, digit| code * 16 + (*digit as char).to_digit(16).unwrap_or(0));
                            u8::try_from(code).ok().filter(u8::is_ascii).unwrap_or(b'?')
                        }
                        _ => return Err(Stop::Invalid),
                    };
                    if text.len() < Shape::MAX_STRING {
                        text.push(decoded);
                    }
                }
                0..=0x1f => return Err(Stop::Invalid),
                _ => {
                    if text.len() < Shape::MAX_STRING {
                        text.push(byte);
                    }
                }
            }
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}

// ---------------------------------------------------------------------------------------
// Folders, queries.json and reading

/// The files to read: files as given, folders replaced by their files (sorted, recursing),
/// leaving out hidden files, `expected.*` (a fixture's expected output) and Markdown notes
/// (`README.md` beside an export).
pub fn expand(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = fs::metadata(path).map_err(|error| with_path(path, error))?;
        if metadata.is_dir() {
            expand_folder(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn expand_folder(folder: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(folder).map_err(|error| with_path(folder, error))? {
        let entry = entry.map_err(|error| with_path(folder, error))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with("expected.") || name.ends_with(".md") {
            continue;
        }
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        // Symlinked folders are not followed, so a link cycle cannot recurse forever.
        let link_metadata = fs::symlink_metadata(&path).map_err(|error| with_path(&path, error))?;
        if link_metadata.is_dir() {
            expand_folder(&path, files)?;
        } else if link_metadata.is_file() || fs::metadata(&path).is_ok_and(|metadata| metadata.is_file()) {
            files.push(path);
        }
    }
    Ok(())
}

fn with_path(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// Which PromQL produced each range-query file, from `queries.json` files in the files'
/// folders: file name → PromQL, or → `{"query": PromQL, "name": NAME}` for a named query.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Queries {
    /// `(PromQL, name)`, keyed by the file's path as its folder's `queries.json` names it.
    by_file: BTreeMap<PathBuf, (String, Option<String>)>,
}

impl Queries {
    /// Adds the entries of one `queries.json` (at `path`, holding `bytes`).
    pub fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<(), FileError> {
        let folder = path.parent().unwrap_or(Path::new(""));
        let parsed: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| FileError::Parse {
            file: path.to_path_buf(),
            error: ParseError::new("top level", format!("expected an object of file name → PromQL ({error})")),
        })?;
        let Some(map) = parsed.as_object() else {
            return Err(FileError::Parse {
                file: path.to_path_buf(),
                error: ParseError::new("top level", "expected an object of file name → PromQL"),
            });
        };
        for (file, entry) in map {
            let named = |key: &str| entry.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
            let (query, name) = match entry.as_str() {
                Some(query) => (query.to_owned(), None),
                None => match named("query") {
                    Some(query) => (query, named("name").filter(|name| !name.trim().is_empty())),
                    None => {
                        return Err(FileError::Parse {
                            file: path.to_path_buf(),
                            error: ParseError::new(
                                format!("[{file:?}]"),
                                "expected PromQL as a string, or an object with \"query\" (and \"name\")",
                            ),
                        });
                    }
                },
            };
            self.by_file.insert(folder.join(file), (query, name));
        }
        Ok(())
    }

    /// Loads the `queries.json` of every folder that holds one of `files`.
    pub fn load_beside(files: &[PathBuf]) -> Result<Queries, FileError> {
        let mut queries = Queries::default();
        let mut folders: Vec<&Path> = files.iter().map(|file| file.parent().unwrap_or(Path::new(""))).collect();
        folders.sort();
        folders.dedup();
        for folder in folders {
            let path = folder.join("queries.json");
            match fs::read(&path) {
                Ok(bytes) => queries.add(&path, &bytes)?,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(FileError::Io { file: path, source }),
            }
        }
        Ok(queries)
    }

    /// The PromQL of a range-query file and its name, if any: its entry by file name, else
    /// by stem, else the stem itself (`error-ratio.json` → `error-ratio`) without a name.
    pub fn query_for(&self, file: &Path) -> (String, Option<String>) {
        let folder = file.parent().unwrap_or(Path::new(""));
        let stem = file.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(name) = file.file_name()
            && let Some(entry) = self.by_file.get(&folder.join(name))
        {
            return entry.clone();
        }
        if let Some(entry) = self.by_file.get(&folder.join(&stem)) {
            return entry.clone();
        }
        (stem, None)
    }
}

/// The records of a non-log artifact. Logs and unknown files are errors naming the file,
/// never silently skipped; `queries.json` holds no records.
pub fn read_artifact(
    path: &Path,
    kind: ArtifactKind,
    bytes: &[u8],
    queries: &Queries,
) -> Result<Vec<Record>, FileError> {
    let parse_error = |error: ParseError| FileError::Parse { file: path.to_path_buf(), error };
    let records = match kind {
        ArtifactKind::KubectlLogs | ArtifactKind::PlainLog => {
            return Err(FileError::IsLog { file: path.to_path_buf(), kind });
        }
        ArtifactKind::Queries => Vec::new(),
        ArtifactKind::AlertmanagerWebhook => {
            ingest::alertmanager::parse_webhook(bytes).map_err(parse_error)?.into_records()
        }
        ArtifactKind::AlertmanagerAlerts => {
            ingest::alertmanager::parse_api_alerts(bytes).map_err(parse_error)?.into_iter().map(Record::Alert).collect()
        }
        ArtifactKind::PagerDutyLogEntries => {
            ingest::pagerduty::parse_log_entries(bytes).map_err(parse_error)?.into_iter().map(Record::Page).collect()
        }
        ArtifactKind::PagerDutyEvents => {
            ingest::pagerduty::parse_events(bytes).map_err(parse_error)?.into_iter().map(Record::Page).collect()
        }
        ArtifactKind::K8sEvents | ArtifactKind::ReplicaSets | ArtifactKind::Deployments | ArtifactKind::Pods => {
            // One pass over the document reads every kind it holds: `kubectl get
            // events,pods -o json` is one List.
            let objects = ingest::kubernetes::parse_objects(bytes).map_err(parse_error)?;
            let mut records = Vec::new();
            records.extend(objects.events.into_iter().map(Record::K8sEvent));
            records.extend(objects.rollouts.into_iter().map(Record::Rollout));
            records.extend(objects.deployments.into_iter().map(Record::Deployment));
            records.extend(objects.pods.into_iter().map(Record::Pod));
            records.extend(objects.workloads.into_iter().map(Record::Workload));
            records.extend(objects.revisions.into_iter().map(Record::Revision));
            records.extend(objects.autoscalers.into_iter().map(Record::Autoscaler));
            records.extend(objects.node_conditions.into_iter().map(Record::NodeCondition));
            records
        }
        ArtifactKind::Gaps => ingest::gaps::parse_records(bytes).map_err(parse_error)?,
        ArtifactKind::Responders => ingest::responders::parse_records(bytes).map_err(parse_error)?,
        ArtifactKind::PromRules => {
            ingest::prometheus::parse_rules(bytes).map_err(parse_error)?.into_iter().map(Record::Rule).collect()
        }
        ArtifactKind::PromTargets => {
            ingest::prometheus::parse_targets(bytes).map_err(parse_error)?.into_iter().map(Record::Target).collect()
        }
        ArtifactKind::PromQueryRange => {
            let (query, name) = queries.query_for(path);
            let mut answer = ingest::prometheus::parse_query_range(bytes, &query).map_err(parse_error)?;
            for series in &mut answer.series {
                series.name = name.clone();
            }
            let source = format!("prometheus: {}", name.as_deref().unwrap_or(&query));
            let notes = answer
                .warnings
                .iter()
                .map(|text| ("warning", text))
                .chain(answer.infos.iter().map(|text| ("info", text)));
            let notes: Vec<Record> = notes
                .map(|(kind, text)| {
                    // Prometheus 3 says "PromQL warning: …" itself; older ones do not.
                    let text = if text.starts_with("PromQL") {
                        format!("Prometheus: {text}")
                    } else {
                        format!("Prometheus {kind}: {text}")
                    };
                    Record::Note(NoteRecord { source: source.clone(), text })
                })
                .collect();
            answer.series.into_iter().map(Record::Series).chain(notes).collect()
        }
    };
    Ok(records)
}

/// Detects `path`'s kind from `bytes` (the whole file) and reads it; the error of an
/// unrecognised file names it.
pub fn detect_and_read(path: &Path, bytes: &[u8], queries: &Queries) -> Result<(ArtifactKind, Vec<Record>), FileError> {
    let head = &bytes[..bytes.len().min(HEAD_BYTES)];
    let kind = detect(path, head).ok_or_else(|| FileError::UnknownKind { file: path.to_path_buf() })?;
    if kind.is_log() {
        return Ok((kind, Vec::new()));
    }
    Ok((kind, read_artifact(path, kind, bytes, queries)?))
}

#[cfg(test)]
mod tests {
    #[track_caller]
    fn check_failed(text: &str, expected: Option<&str>) {
        assert_eq!(super::failed_export(text.as_bytes()).as_deref(), expected, "{text}");
    }

    #[test]
    fn failed_exports_are_named_by_their_message() {
        check_failed(
            "Error from server (Forbidden): events is forbidden: User \"dev\" cannot list resource \"events\" in API group \"\" in the namespace \"shop\"\n",
            Some(
                "Error from server (Forbidden): events is forbidden: User \"dev\" cannot list resource \"events\" in API group \"\" in the namespace \"shop\"",
            ),
        );
        check_failed(
            "E1202 10:00:00.123456   4242 memcache.go:265] couldn't get current server API group list: Get \"https://10.0.0.1:6443/api\": dial tcp 10.0.0.1:6443: connect: connection refused\nThe connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?\n",
            Some("The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?"),
        );
        check_failed("No resources found in shop namespace.\n", Some("No resources found in shop namespace."));
        check_failed(
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"api-1\" not found","reason":"NotFound","code":404}"#,
            Some("Kubernetes Status Failure: pods \"api-1\" not found"),
        );
        check_failed(
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:6: parse error"}"#,
            Some("Prometheus bad_data: invalid parameter \"query\": 1:6: parse error"),
        );
        check_failed(
            r#"{"error":{"message":"Invalid Input Provided","code":2001}}"#,
            Some("error: Invalid Input Provided"),
        );
        // Data, and logs that mention errors, are not failures.
        check_failed(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#, None);
        check_failed("2025-02-09T10:00:00Z error: connection refused\n", None);
        check_failed("", None);
        let long = "Error: boom\n".to_owned() + &"at frame\n".repeat(10);
        check_failed(&long, None);
    }

    use super::*;

    fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ingest").join(name);
        let bytes = fs::read(&path).unwrap();
        (path, bytes)
    }

    #[track_caller]
    fn check_detect(name: &str, head: &[u8], expected: Option<ArtifactKind>) {
        assert_eq!(detect(Path::new(name), head), expected, "{name}: {}", String::from_utf8_lossy(head));
    }

    #[test]
    fn fixtures_are_recognised_by_content_whole_and_cut() {
        use ArtifactKind::*;
        let rows = [
            ("alertmanager-webhook.json", AlertmanagerWebhook),
            ("alertmanager-alerts.json", AlertmanagerAlerts),
            ("pagerduty-event.json", PagerDutyEvents),
            ("pagerduty-events.ndjson", PagerDutyEvents),
            ("pagerduty-log-entries.json", PagerDutyLogEntries),
            ("k8s-events.json", K8sEvents),
            ("replicasets.json", ReplicaSets),
            ("deployments.json", Deployments),
            ("pods.json", Pods),
            ("error-ratio.json", PromQueryRange),
            ("queries.json", Queries),
            ("gaps.json", Gaps),
            ("prometheus-rules.json", PromRules),
            ("prometheus-targets.json", PromTargets),
            ("api-nginx.log", KubectlLogs),
            ("prefixed.log", KubectlLogs),
            ("app.jsonl", PlainLog),
            ("syslog.log", PlainLog),
        ];
        for (name, expected) in rows {
            let (_, bytes) = fixture(name);
            // The name must not matter: every fixture is detected under a neutral one.
            check_detect("artifact", &bytes, Some(expected));
            // A head cut in the middle of the first value still decides (queries.json is
            // one short object and is only ever read whole).
            if expected != Queries {
                check_detect("artifact", &bytes[..bytes.len().min(200)], Some(expected));
            }
        }
    }

    #[test]
    fn shapes_are_checked_strictly() {
        use ArtifactKind::*;
        let rows: &[(&str, &str, Option<ArtifactKind>)] = &[
            // JSON-lines app logs are logs, even with an `event` or `type` field.
            (
                "x",
                "{\"level\":\"info\",\"event\":\"login\"}\n{\"level\":\"info\",\"event\":\"logout\"}\n",
                Some(PlainLog),
            ),
            ("x", "{\"msg\":\"started\",\"ts\":1}\n", Some(PlainLog)),
            ("x", "{\"ts\":1,\"lvl\":\"i\"}\n{\"ts\":2,\"lvl\":\"i\"}\n", Some(PlainLog)),
            ("x", "{\"a\": 1}", None),
            ("x", "42", Some(PlainLog)),
            ("x", "[1, 2]", None),
            ("x", "{\"error-ratio.json\": \"rate(x[5m])\"}", Some(Queries)),
            ("queries.json", "{}", Some(Queries)),
            ("q", r#"{"a.json": {"query": "up", "name": "targets up"}, "b.json": "sum(up)"}"#, Some(Queries)),
            ("alerts.json", "[]", Some(AlertmanagerAlerts)),
            ("pagerduty.json", " []\n", Some(PagerDutyEvents)),
            ("x", "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[", Some(Pods)),
            ("x", "{\"kind\":\"EventList\",\"apiVersion\":\"events.k8s.io/v1\"", Some(K8sEvents)),
            ("x", "{\"kind\":\"ConfigMap\"}", None),
            ("pods.json", "{\"apiVersion\":\"v1\",\"items\":[],\"kind\":\"List\",\"metadata\":{}}", Some(Pods)),
            (
                "x",
                "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out\"}",
                Some(PromQueryRange),
            ),
            ("x", "[{\"metric\":{},\"values\":[[1,\"1\"]]}]", Some(PromQueryRange)),
            ("x", "{\"data\":{\"result\":[{\"metric\":{},\"values\":[[1,", Some(PromQueryRange)),
            (
                "x",
                "[{\"id\":\"R1\",\"type\":\"trigger_log_entry\",\"created_at\":\"2025-02-09T10:00:00Z\"}]",
                Some(PagerDutyLogEntries),
            ),
            ("x", "{\"event_type\":\"incident.triggered\",\"resource_type\":\"incident\"}", Some(PagerDutyEvents)),
            // Logs: the kubelet prefix needs nine fraction digits.
            ("x", "2025-02-09T10:05:23.104311230+01:00 GET /\n", Some(KubectlLogs)),
            ("x", "2025-02-09T10:05:23.104Z INFO started\n", Some(PlainLog)),
            ("x", "[pod/a/b] 2025-02-09T10:05:23.104311230Z x\n", Some(KubectlLogs)),
            ("x", "[INFO] 2025-02-09 started\n", Some(PlainLog)),
            ("x", "\n\n   \n2025-02-09T10:05:23.000000000Z first line after blanks\n", Some(KubectlLogs)),
            ("x", "", Some(PlainLog)),
            ("x", "\u{1f}\u{8b}\u{8}\0\0\0\0\0", None),
        ];
        for (name, head, expected) in rows {
            check_detect(name, head.as_bytes(), *expected);
        }
    }

    #[track_caller]
    fn check_timed(text: &str, expected: bool) {
        let mut finder = Finder::new(crate::normalize::time::TimeContext::default());
        assert_eq!(carries_times(text.as_bytes(), &mut finder), expected, "{text}");
    }

    #[test]
    fn text_is_a_log_only_when_its_lines_carry_times() {
        let rows: &[(&str, bool)] = &[
            ("", true),
            ("2025-02-09T10:05:23Z started\n", true),
            ("2025-02-09 10:05:23,123 INFO a\n2025-02-09 10:05:24,001 INFO b\n2025-02-09 10:05:25,002 WARN c\n", true),
            // A stack trace between timed lines.
            (
                "2025-02-09 10:05:23 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\n\
                 2025-02-09 10:05:24 INFO again\n2025-02-09 10:05:25 INFO and again\n",
                true,
            ),
            ("[pod/api-1/app] 2025-02-09T10:05:23.123456789Z hello\n", true),
            ("# Checkout outage\n\nOn 2025-02-09 the checkout failed.\nSee the dashboards.\n", false),
            ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n", false),
            ("just one line of prose\n", false),
        ];
        for &(text, expected) in rows {
            check_timed(text, expected);
        }
    }

    #[test]
    fn kinds_have_names_both_ways() {
        for kind in ArtifactKind::ALL {
            assert_eq!(kind.name().parse::<ArtifactKind>(), Ok(kind));
        }
        assert_eq!("K8S_EVENTS".parse::<ArtifactKind>(), Ok(ArtifactKind::K8sEvents));
        let error = "logs".parse::<ArtifactKind>().unwrap_err();
        assert!(
            error.to_string().starts_with(r#"unknown artifact kind "logs" (expected one of kubectl-logs, plain-log, "#),
            "{error}"
        );
    }

    #[test]
    fn read_artifact_gives_records_or_names_the_file() {
        let (path, bytes) = fixture("error-ratio.json");
        let (_, query_bytes) = fixture("queries.json");
        let mut queries = Queries::default();
        queries.add(&path.with_file_name("queries.json"), &query_bytes).unwrap();
        let records = read_artifact(&path, ArtifactKind::PromQueryRange, &bytes, &queries).unwrap();
        let Record::Series(series) = &records[0] else {
            panic!("expected a series, got {records:?}");
        };
        assert!(series.query.starts_with("sum by (pod)"), "{}", series.query);
        // Without queries.json the file stem names the series.
        let records = read_artifact(&path, ArtifactKind::PromQueryRange, &bytes, &Queries::default()).unwrap();
        let Record::Series(series) = &records[0] else {
            panic!("expected a series, got {records:?}");
        };
        assert_eq!(series.query, "error-ratio");

        let counts = [
            ("alertmanager-webhook.json", 1),
            ("alertmanager-alerts.json", 1),
            ("pagerduty-event.json", 1),
            ("pagerduty-events.ndjson", 2),
            ("pagerduty-log-entries.json", 3),
            ("k8s-events.json", 1),
            ("replicasets.json", 1),
            // A Deployment is read twice: who changed its template, and the workload (made when, by whom).
            ("deployments.json", 2),
            ("pods.json", 1),
            ("prometheus-rules.json", 1),
            ("prometheus-targets.json", 2),
        ];
        for (name, expected) in counts {
            let (path, bytes) = fixture(name);
            let (kind, records) = detect_and_read(&path, &bytes, &Queries::default()).unwrap();
            assert_eq!(records.len(), expected, "{name} as {kind}");
        }

        let rows = [
            (
                ArtifactKind::AlertmanagerWebhook,
                r#"{"version":"4","status":"firing","alerts":[{"status":"firing","startsAt":"soon"}]}"#,
                r#"alerts.json: alerts[0].startsAt: expected an RFC 3339 time, found "soon""#,
            ),
            (ArtifactKind::PlainLog, "hello\n", "alerts.json: plain-log is a log, read line by line by the log reader"),
        ];
        for (kind, body, expected) in rows {
            let error =
                read_artifact(Path::new("alerts.json"), kind, body.as_bytes(), &Queries::default()).unwrap_err();
            assert_eq!(error.to_string(), expected);
        }
        let error = detect_and_read(Path::new("odd.json"), b"{\"a\":1}", &Queries::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "odd.json: unknown kind of file (expected kubectl logs, a plain log, Prometheus query_range JSON, \
             Alertmanager or PagerDuty JSON, or kubectl get -o json output); name it with --kind"
        );
        assert_eq!(error.kind(), "unknown_kind");
    }

    #[test]
    fn queries_errors_name_the_entry() {
        let mut queries = Queries::default();
        let error = queries.add(Path::new("q/queries.json"), br#"{"a.json": 3}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"q/queries.json: ["a.json"]: expected PromQL as a string, or an object with "query" (and "name")"#
        );
        queries
            .add(
                Path::new("q/queries.json"),
                br#"{"a.json": "up", "b": "sum(up)", "d.json": {"query": "sum(rate(x[5m]))", "name": "5xx by pod"}}"#,
            )
            .unwrap();
        let rows = [
            ("q/a.json", "up", None),
            ("q/b.json", "sum(up)", None),
            ("q/c.json", "c", None),
            ("a.json", "a", None),
            ("q/d.json", "sum(rate(x[5m]))", Some("5xx by pod")),
        ];
        for (file, query, name) in rows {
            assert_eq!(queries.query_for(Path::new(file)), (query.to_owned(), name.map(str::to_owned)), "{file}");
        }
    }

    #[test]
    fn expand_walks_folders_sorted_without_hidden_or_expected_files() {
        let root = std::env::temp_dir().join(format!("postmortemd-expand-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for file in ["b.log", "a.json", ".hidden", "expected.md", "sub/c.json", ".git/x"] {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "x").unwrap();
        }
        let explicit = root.join(".hidden");
        let files = expand(&[root.clone(), explicit.clone()]).unwrap();
        let expected = vec![root.join("a.json"), root.join("b.log"), root.join("sub/c.json"), explicit];
        assert_eq!(files, expected);
        let missing = root.join("missing");
        let error = expand(std::slice::from_ref(&missing)).unwrap_err();
        assert!(error.to_string().starts_with(&missing.display().to_string()), "{error}");
        fs::remove_dir_all(&root).unwrap();
    }
}
