//! The evidence bundle: an incident's stored webhooks and collected evidence as files in
//! exactly the shapes `postmortemd draft` reads. The daemon drafts its timeline from a
//! [`Bundle`] through [`crate::draft::Artifacts`], and `GET …/evidence.tar.gz` writes the
//! same files, so a draft of the unpacked bundle is the daemon's timeline.
//!
//! Files: `alertmanager/webhook-N.json` (each notification as received),
//! `pagerduty/events.json` (the v3 webhooks, an array), `incident-logs.txt`
//! (`kubectl logs --prefix --timestamps` form), `pods.json`, `events.json`,
//! `workloads.json` (Kubernetes `List`s), `prometheus/*.json` with `prometheus/queries.json`,
//! and `gaps.json` (what collection could not see).
//! Storing passes and webhooks belongs to the store; this module only shapes files.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::collect::Pass;
use crate::draft::Artifacts;
use crate::ingest;
use crate::store::{StoredEvidence, StoredPass, StoredWebhook};

/// The one log file of a bundle.
pub const LOGS_FILE: &str = "incident-logs.txt";

/// An incident's evidence as files: small ones whole, the logs as gzip chunks read in turn.
#[derive(Debug, Default)]
pub struct Bundle {
    files: BTreeMap<String, Vec<u8>>,
    log_chunks: Vec<Vec<u8>>,
}

/// Gzip of `bytes` (fast level: evidence is written once per pass and read rarely).
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4 + 64), Compression::fast());
    // NB: writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn decompress(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

impl StoredPass {
    /// A pass compressed for the store.
    pub fn from_pass(pass: Pass) -> StoredPass {
        StoredPass {
            logs: pass
                .logs
                .iter()
                .filter(|chunk| !chunk.lines.is_empty())
                .map(|chunk| (chunk.key(), chunk.lines.len() as u64, compress(&chunk.lines)))
                .collect(),
            objects: pass
                .objects
                .iter()
                .map(|object| (object.kind.clone(), object.uid.clone(), compress(object.json.to_string().as_bytes())))
                .collect(),
            files: pass.files.iter().map(|file| (file.name.clone(), compress(&file.bytes))).collect(),
            gaps: pass.gaps,
            cursors: pass.cursors,
            replaces: Vec::new(),
        }
    }
}

/// Which List file an object kind goes to.
fn list_file(kind: &str) -> &'static str {
    match kind {
        "Pod" => "pods.json",
        "Event" | "events.k8s.io/Event" => "events.json",
        _ => "workloads.json",
    }
}

impl Bundle {
    /// The bundle of an incident's webhooks (in arrival order) and stored evidence.
    /// A body that no longer decompresses is left out with a warning, not fatal.
    pub fn assemble(webhooks: &[StoredWebhook], evidence: StoredEvidence) -> Bundle {
        let mut files = BTreeMap::new();
        let mut pages: Vec<&[u8]> = Vec::new();
        for webhook in webhooks {
            match webhook.source.as_str() {
                "alertmanager" => {
                    files.insert(format!("alertmanager/webhook-{:06}.json", webhook.id), webhook.body.clone());
                }
                // Pings and other non-incident events would only be skipped by the reader.
                "pagerduty" if matches!(ingest::pagerduty::parse_webhook_event(&webhook.body), Ok(Some(_))) => {
                    pages.push(&webhook.body)
                }
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
        if !evidence.gaps.is_empty() {
            files.insert("gaps.json".to_owned(), ingest::gaps::to_json(&evidence.gaps));
        }
        Bundle { files, log_chunks: evidence.logs }
    }

    /// Writes the bundle as a gzip'd tar of plain files under `prefix/`.
    pub fn write_tar_gz(&self, prefix: &str, out: impl Write) -> io::Result<()> {
        let mut archive = tar::Builder::new(GzEncoder::new(out, Compression::default()));
        for name in self.names()? {
            let mut bytes = Vec::new();
            self.open(&name)?.read_to_end(&mut bytes)?;
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
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
            return Ok(Box::new(Chunks { rest: &self.log_chunks, current: None }));
        }
        let name = name.to_string_lossy();
        match self.files.get(name.as_ref()) {
            Some(bytes) => Ok(Box::new(bytes.as_slice())),
            None => Err(io::Error::new(io::ErrorKind::NotFound, format!("{name} is not in the bundle"))),
        }
    }
}

/// Gzip chunks read one after another as one stream, one chunk decompressing at a time.
struct Chunks<'a> {
    rest: &'a [Vec<u8>],
    current: Option<MultiGzDecoder<&'a [u8]>>,
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
            let Some((next, rest)) = self.rest.split_first() else {
                return Ok(0);
            };
            self.rest = rest;
            self.current = Some(MultiGzDecoder::new(next.as_slice()));
        }
    }
}
