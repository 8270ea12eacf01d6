//! The evidence bundle: an incident's stored webhooks and collected evidence as files in
//! exactly the shapes `postmortemd draft` reads. The daemon drafts its timeline from a
//! [`Bundle`] through [`crate::artifacts::Artifacts`], and `GET …/evidence.tar.gz` writes the
//! same files, so a draft of the unpacked bundle is the daemon's timeline.
//!
//! Files: `alertmanager/webhook-N.json` (each notification as received),
//! `pagerduty/events.json` (the v3 webhooks, an array), `pagerduty/log-entries.json` (REST
//! log entries reconciliation stored, a `log_entries` list), `incident-logs.txt`
//! (`kubectl logs --prefix --timestamps` form), `pods.json`, `events.json`,
//! `replicasets.json` (Kubernetes `List`s; the last holds the Deployments and other workloads, their ControllerRevisions and HorizontalPodAutoscalers beside the ReplicaSets), `nodes.json` (the target pods' Nodes), `prometheus/*.json` with `prometheus/queries.json`
//! (and `prometheus/rules.json`, `prometheus/targets.json`: what Prometheus said of the
//! alerts' rules and the scrape targets, read by content like the rest), and `gaps.json`
//! (what collection could not see, and the collectors not configured), and
//! `responders.json` (what responders added over the write API: notes, corrections, manual
//! resolutions, merges; `ingest::responders` defines it).
//! Storing passes and webhooks belongs to the store; this module only shapes files.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::artifacts::Artifacts;
use crate::ingest;
use crate::record::NotConfiguredRecord;
use crate::store::{StoredEvidence, StoredWebhook, decompress};

/// The one log file of a bundle.
pub const LOGS_FILE: &str = "incident-logs.txt";

/// What responders added, in a bundle.
pub const RESPONDERS_FILE: &str = "responders.json";

/// Fetches one stored gzip log chunk by its id (the daemon's asks the store).
pub type FetchChunk = Box<dyn Fn(i64) -> io::Result<Vec<u8>> + Send + Sync>;

/// An incident's evidence as files: small ones whole, the logs as gzip chunks fetched and
/// read in turn, so at most one chunk is in memory however many were collected.
pub struct Bundle {
    files: BTreeMap<String, Vec<u8>>,
    /// When the bundle was made: every file's modification time (in the tar too), so no
    /// evidence in it is later and year-less times take no later year.
    written_at: Option<crate::record::Instant>,
    /// `(chunk id, uncompressed length)`, in file order.
    log_chunks: Vec<(i64, u64)>,
    fetch_chunk: FetchChunk,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Bundle")
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("log_chunks", &self.log_chunks)
            .finish_non_exhaustive()
    }
}

/// Which List file an object kind goes to.
fn list_file(kind: &str) -> &'static str {
    match kind {
        "Pod" => "pods.json",
        "Event" | "events.k8s.io/Event" => "events.json",
        "Node" => "nodes.json",
        // Deployments, StatefulSets, DaemonSets, Jobs, ControllerRevisions, HorizontalPodAutoscalers.
        _ => "replicasets.json",
    }
}

impl Bundle {
    /// The bundle of an incident's webhooks (in arrival order) and stored evidence, whose
    /// log chunks `fetch_chunk` reads one at a time when `incident-logs.txt` is read.
    /// A body that no longer decompresses is left out with a warning, not fatal.
    /// `not_configured` names the collectors the daemon runs without (kept in `gaps.json`).
    pub fn assemble(
        webhooks: &[StoredWebhook],
        evidence: StoredEvidence,
        not_configured: &[NotConfiguredRecord],
        fetch_chunk: FetchChunk,
    ) -> Bundle {
        let mut files = BTreeMap::new();
        let mut pages: Vec<&[u8]> = Vec::new();
        let mut log_entries: Vec<&[u8]> = Vec::new();
        for webhook in webhooks {
            match webhook.source.as_str() {
                "alertmanager" => {
                    files.insert(format!("alertmanager/webhook-{:06}.json", webhook.id), webhook.body.clone());
                }
                // A REST log entry reconciliation stored (`{"log_entry": …}`) is read as one;
                // the draft deduplicates it against a webhook event of the same transition.
                "pagerduty" if webhook.body.starts_with(b"{\"log_entry\"") => log_entries.push(&webhook.body),
                // Pings and other non-incident events belong to no incident, so none is here.
                "pagerduty" => pages.push(&webhook.body),
                _ => {}
            }
        }
        if !pages.is_empty() {
            let mut array = b"[\n".to_vec();
            for (index, page) in pages.iter().enumerate() {
                if index > 0 {
                    array.extend_from_slice(b",\n");
                }
                array.extend_from_slice(page.trim_ascii());
            }
            array.extend_from_slice(b"\n]\n");
            files.insert("pagerduty/events.json".to_owned(), array);
        }
        if !log_entries.is_empty() {
            // Each body is `{"log_entry": {…}}`: the entries themselves make the list.
            let entries: Vec<serde_json::Value> = log_entries
                .iter()
                .filter_map(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
                .filter_map(|mut body| body.get_mut("log_entry").map(serde_json::Value::take))
                .collect();
            let list = serde_json::json!({ "log_entries": entries });
            files.insert("pagerduty/log-entries.json".to_owned(), serde_json::to_vec_pretty(&list).unwrap_or_default());
        }
        let mut lists: BTreeMap<&'static str, Vec<serde_json::Value>> = BTreeMap::new();
        for (kind, body) in &evidence.objects {
            match decompress(body).map(|json| serde_json::from_slice::<serde_json::Value>(&json)) {
                Ok(Ok(object)) => lists.entry(list_file(kind)).or_default().push(object),
                _ => tracing::warn!(kind, "Stored Kubernetes object no longer reads; left out of the bundle."),
            }
        }
        for (name, items) in lists {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items});
            files.insert(name.to_owned(), serde_json::to_vec_pretty(&list).unwrap_or_default());
        }
        for (name, body) in &evidence.files {
            match decompress(body) {
                Ok(bytes) => {
                    files.insert(name.clone(), bytes);
                }
                Err(error) => tracing::warn!(%error, name, "Stored evidence file no longer reads; left out."),
            }
        }
        if !evidence.gaps.is_empty() || !not_configured.is_empty() {
            files.insert("gaps.json".to_owned(), ingest::gaps::to_json(&evidence.gaps, not_configured));
        }
        Bundle { files, written_at: None, log_chunks: evidence.logs, fetch_chunk }
    }

    /// The bundle with what responders added (`responders.json`; none: no file).
    pub fn with_responders(mut self, inputs: &[crate::record::ResponderRecord]) -> Self {
        if !inputs.is_empty() {
            self.files.insert(RESPONDERS_FILE.to_owned(), ingest::responders::to_json(inputs));
        }
        self
    }

    /// The bundle, made at `at` (the daemon's "now"): its files' modification time.
    pub fn written_at(mut self, at: crate::record::Instant) -> Self {
        self.written_at = Some(at);
        self
    }

    /// The length of `incident-logs.txt`, known from the stored chunks without reading them.
    fn logs_len(&self) -> u64 {
        self.log_chunks.iter().map(|(_, n_bytes)| n_bytes).sum()
    }

    /// Writes the bundle as a gzip'd tar of plain files under `prefix/`.
    pub fn write_tar_gz(&self, prefix: &str, out: impl Write) -> io::Result<()> {
        let mut archive = tar::Builder::new(GzEncoder::new(out, Compression::default()));
        for name in self.names()? {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_mtime(self.written_at.map_or(0, |at| at.as_second().max(0) as u64));
            if name == Path::new(LOGS_FILE) {
                // Streamed: the header's size is the stored lengths' sum, so the logs are
                // never whole in memory; a chunk that reads otherwise fails the archive.
                let size = self.logs_len();
                header.set_size(size);
                header.set_cksum();
                let mut logs = self.open(&name)?;
                let exact = Exact { inner: (&mut logs).take(size), remaining: size };
                archive.append_data(&mut header, Path::new(prefix).join(&name), exact)?;
                if logs.read(&mut [0; 1])? > 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "stored log chunks are longer than recorded",
                    ));
                }
                continue;
            }
            let mut bytes = Vec::new();
            self.open(&name)?.read_to_end(&mut bytes)?;
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            archive.append_data(&mut header, Path::new(prefix).join(&name), bytes.as_slice())?;
        }
        archive.into_inner()?.finish()?;
        Ok(())
    }
}

impl Artifacts for Bundle {
    fn names(&self) -> io::Result<Vec<PathBuf>> {
        let mut names: Vec<PathBuf> = self.files.keys().map(PathBuf::from).collect();
        if !self.log_chunks.is_empty() {
            names.push(PathBuf::from(LOGS_FILE));
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, name: &Path) -> io::Result<Box<dyn Read + Send + '_>> {
        if name == Path::new(LOGS_FILE) && !self.log_chunks.is_empty() {
            return Ok(Box::new(Chunks { rest: &self.log_chunks, fetch_chunk: &self.fetch_chunk, current: None }));
        }
        let name = name.to_string_lossy();
        match self.files.get(name.as_ref()) {
            Some(bytes) => Ok(Box::new(bytes.as_slice())),
            None => Err(io::Error::new(io::ErrorKind::NotFound, format!("{name} is not in the bundle"))),
        }
    }

    fn modified(&self, _name: &Path) -> Option<crate::record::Instant> {
        self.written_at
    }
}

/// Gzip chunks fetched and read one after another as one stream, one chunk in memory at a time.
struct Chunks<'a> {
    rest: &'a [(i64, u64)],
    fetch_chunk: &'a FetchChunk,
    current: Option<MultiGzDecoder<io::Cursor<Vec<u8>>>>,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(current) = &mut self.current {
                let read = current.read(buffer)?;
                if read > 0 || buffer.is_empty() {
                    return Ok(read);
                }
            }
            let Some(((chunk_id, _), rest)) = self.rest.split_first() else {
                return Ok(0);
            };
            self.rest = rest;
            // The finished chunk goes before the next one is fetched.
            self.current = None;
            self.current = Some(MultiGzDecoder::new(io::Cursor::new((self.fetch_chunk)(*chunk_id)?)));
        }
    }
}

/// A reader that must yield exactly `remaining` more bytes (a tar entry's announced size).
struct Exact<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        if read == 0 && self.remaining > 0 && !buffer.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stored log chunks are shorter than recorded"));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::compress;

    /// A bundle of log chunks kept in a map, `recorded` the lengths the store would hold.
    fn bundle(chunks: &[&str], recorded: &[u64]) -> Bundle {
        let bodies: BTreeMap<i64, Vec<u8>> =
            chunks.iter().enumerate().map(|(index, lines)| (index as i64 * 7, compress(lines.as_bytes()))).collect();
        let evidence = StoredEvidence {
            logs: (0..chunks.len()).map(|index| (index as i64 * 7, recorded[index])).collect(),
            ..StoredEvidence::default()
        };
        let fetch_chunk: FetchChunk = Box::new(move |chunk_id| {
            bodies.get(&chunk_id).cloned().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such chunk"))
        });
        Bundle::assemble(&[], evidence, &[], fetch_chunk)
    }

    fn tar_entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut archive = tar::Archive::new(MultiGzDecoder::new(archive));
        let mut entries = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            entries.push((entry.path().unwrap().display().to_string(), bytes));
        }
        entries
    }

    #[test]
    fn the_logs_file_reads_every_fetched_chunk_in_order_and_streams_into_the_tar() {
        let chunks = ["[pod/a/app] one\n", "[pod/a/app] two\n[pod/a/app] three\n", "[pod/b/app] four\n"];
        let bundle = bundle(&chunks, &chunks.map(|lines| lines.len() as u64));
        let mut logs = String::new();
        bundle.open(Path::new(LOGS_FILE)).unwrap().read_to_string(&mut logs).unwrap();
        assert_eq!(logs, chunks.concat());
        let mut archive = Vec::new();
        bundle.write_tar_gz("incident-1", &mut archive).unwrap();
        assert_eq!(tar_entries(&archive), [("incident-1/incident-logs.txt".to_owned(), chunks.concat().into_bytes())]);
    }

    #[test]
    fn a_chunk_that_reads_otherwise_than_recorded_fails_the_tar() {
        let chunks = ["[pod/a/app] one\n", "[pod/a/app] two\n"];
        for recorded in [[16, 15], [16, 17]] {
            let error = bundle(&chunks, &recorded).write_tar_gz("incident-1", io::sink()).unwrap_err();
            assert!(matches!(error.kind(), io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof), "{error}");
        }
    }
}
