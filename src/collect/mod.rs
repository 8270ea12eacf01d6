//! Live collection: passes over the cluster (`kubernetes`) and Prometheus (`prometheus`)
//! while an incident's evidence still exists. Every collector yields the shapes `draft`
//! reads, so the evidence bundle a daemon serves drafts offline to the same timeline.
//!
//! This module owns the contract every collector meets ([`Collector`], [`ChunkSink`],
//! [`PassFuture`]) and the nouns a pass takes and returns ([`Scope`], [`Pass`],
//! [`LogCursor`]); scheduling passes (`jobs`) and storing what they bring (`store`) are
//! the daemon's. Offline files are `artifacts`'.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::record::{AlertRecord, GapRecord, Instant};

pub mod kubernetes;
pub mod prometheus;

/// `base` scaled by a random factor in `low..high` (e.g. `0.5..1.5`), so that retries of
/// many requests do not fall in step: the one jitter of every retry loop (collectors and
/// reconciliation), from the standard library's per-process random hasher keys.
pub fn jittered(base: std::time::Duration, spread: std::ops::Range<f64>) -> std::time::Duration {
    use std::hash::BuildHasher;
    let random = std::hash::RandomState::new().hash_one(std::time::SystemTime::now());
    base.mul_f64(spread.start + (random % 1_000) as f64 / 1_000.0 * (spread.end - spread.start))
}

/// A future a collector returns.
pub type PassFuture<'a> = Pin<Box<dyn Future<Output = Pass> + Send + 'a>>;

/// Where a collector hands log chunks as soon as it has read them (so a pass never holds
/// every container's lines at once); chunks may also come back in [`Pass::logs`].
pub type ChunkSink<'a> = &'a mut (dyn FnMut(LogChunk) + Send);

/// A source a pass collects from. A pass never fails: what it could not see is a gap.
pub trait Collector: Send + Sync {
    /// `kubernetes`, `prometheus`: for logs and metric labels.
    fn name(&self) -> &'static str;
    fn pass<'a>(
        &'a self,
        scope: &'a Scope,
        cursors: &'a BTreeMap<String, LogCursor>,
        on_chunk: ChunkSink<'a>,
    ) -> PassFuture<'a>;
}

/// What a live pass is about: the incident's signals and the span to collect.
#[derive(Clone, Debug)]
pub struct Scope {
    pub incident_id: i64,
    /// The incident's alerts, newest state of each (labels, annotations, `generatorURL`).
    pub alerts: Vec<AlertRecord>,
    /// PagerDuty service names of the incident's pages (for page-only incidents).
    pub pagerduty_services: Vec<String>,
    /// First signal minus the lead-in.
    pub start: Instant,
    /// Now while the incident is open; resolution plus the tail for the final pass.
    pub end: Instant,
    /// Nodes of the target pods, once a Kubernetes pass has found them (node clock series).
    pub nodes: Vec<String>,
}

/// What one live collection pass brought back.
#[derive(Debug, Default)]
pub struct Pass {
    /// New log lines, per container, in `kubectl logs --prefix --timestamps` form.
    pub logs: Vec<LogChunk>,
    /// Kubernetes objects as the API returned them; the store keeps the newest of each uid,
    /// so an object deleted mid-incident keeps what was seen of it.
    pub objects: Vec<KubeObject>,
    /// Whole files, replaced on each pass: `prometheus/<name>.json` (query_range bodies as
    /// Prometheus answered them), `queries.json` (file name → PromQL), and `rules.json` /
    /// `targets.json` (the scope's alerting rules and scrape targets).
    pub files: Vec<EvidenceFile>,
    /// What could not be collected, with a reason a person can act on.
    pub gaps: Vec<GapRecord>,
    /// Where each container's log resumes on the next pass, keyed by [`LogChunk::key`].
    pub cursors: BTreeMap<String, LogCursor>,
}

/// New lines of one container's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogChunk {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// Whole lines, each `[pod/POD/CONTAINER] <kubelet RFC 3339 time> <text>\n`, in time order;
    /// a previous (terminated) instance's lines come before the running one's.
    pub lines: Vec<u8>,
}

impl LogChunk {
    /// `namespace/pod/container`: the stream's key for cursors and storage.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.pod, self.container)
    }

    /// The kubelet time of the chunk's first line, if it reads as one.
    pub fn first_time(&self) -> Option<Instant> {
        let line = self.lines.split(|byte| *byte == b'\n').next()?;
        let line = std::str::from_utf8(line).ok()?;
        let (_, rest) = line.split_once("] ")?;
        crate::ingest::json::parse_time(rest.split(' ').next()?)
    }

    /// The stream the chunk is of, as rows and gaps name it.
    pub fn stream(&self) -> crate::record::Stream {
        crate::record::Stream::container(Some(&self.namespace), &self.pod, &self.container)
    }
}

/// Where a container's log resumes. The API's `sinceTime` has whole seconds, so the next
/// pass asks from `last_nanos` floored to the second and skips what it already took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCursor {
    /// Kubelet time of the last line taken, nanoseconds since the epoch.
    pub last_nanos: i64,
    /// How many lines stamped exactly `last_nanos` were taken.
    pub at_last: u32,
    /// The container's restart count when last read: a higher one means the instance read
    /// so far has terminated, and its rest is read with `previous=true` first.
    pub restart_count: u32,
    /// Log bytes taken from this container so far, against `max_bytes_per_container`.
    #[serde(default)]
    pub bytes: u64,
}

/// One Kubernetes object as JSON, as the API returned it.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeObject {
    /// `Pod`, `Event` (core/v1), `events.k8s.io/Event`, `ReplicaSet`, `Deployment`, `StatefulSet`, …
    pub kind: String,
    pub uid: String,
    pub json: serde_json::Value,
}

/// A file of the evidence bundle, stored whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceFile {
    /// Path inside the bundle: `prometheus/5xx-by-pod.json`, `queries.json`.
    pub name: String,
    pub bytes: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_its_spread_and_varies() {
        let base = std::time::Duration::from_millis(1000);
        let waits: Vec<std::time::Duration> = (0..200).map(|_| jittered(base, 0.5..1.5)).collect();
        assert!(waits.iter().all(|wait| (500..1500).contains(&wait.as_millis())), "{waits:?}");
        assert!(waits.iter().any(|wait| *wait != waits[0]), "retries would fall in step");
        assert!((0..50).map(|_| jittered(base, 0.5..1.0)).all(|wait| (500..1000).contains(&wait.as_millis())));
    }
}
