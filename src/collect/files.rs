//! File kind detection (by content) and dispatch to the `ingest` parsers.
//! NB: interim version; the full detection lands with the ingest parsers.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::record::Record;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    KubectlLogs,
    PlainLog,
    PromQueryRange,
    AlertmanagerWebhook,
    AlertmanagerAlerts,
    PagerDutyLogEntries,
    PagerDutyEvents,
    K8sEvents,
    ReplicaSets,
    Deployments,
    Pods,
    Queries,
}

impl std::str::FromStr for ArtifactKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "kubectl-logs" => Ok(ArtifactKind::KubectlLogs),
            "log" => Ok(ArtifactKind::PlainLog),
            other => Err(format!("unknown kind {other:?}")),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Queries(BTreeMap<String, String>);

impl Queries {
    pub fn parse(bytes: &[u8]) -> Result<Queries, String> {
        serde_json::from_slice(bytes).map(Queries).map_err(|error| error.to_string())
    }
    pub fn extend(&mut self, other: Queries) {
        self.0.extend(other.0);
    }
}

pub fn detect(_path: &Path, head: &[u8]) -> Option<ArtifactKind> {
    let text = String::from_utf8_lossy(head);
    let first = text.lines().find(|line| !line.trim().is_empty())?;
    if first.trim_start().starts_with(['{', '[']) {
        return None;
    }
    let parsed = crate::collect::logs::parse_line(first);
    Some(if parsed.transport.is_some() { ArtifactKind::KubectlLogs } else { ArtifactKind::PlainLog })
}

pub fn expand(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> =
                std::fs::read_dir(path)?.map(|entry| entry.map(|entry| entry.path())).collect::<io::Result<_>>()?;
            entries.sort();
            out.extend(expand(&entries)?);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

pub fn read_artifact(
    path: &Path,
    _kind: ArtifactKind,
    _bytes: &[u8],
    _queries: &Queries,
) -> Result<Vec<Record>, String> {
    Err(format!("{}: not supported yet", path.display()))
}
