//! `postmortemd draft`: the offline front door. Expands the given paths, recognises each
//! file by its content, parses the small artifacts into records, sizes the window, streams
//! every log file through digests (in parallel, one file per worker) and hands everything
//! to [`timeline::build`]. The daemon's evidence bundle is read the same way.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::SignedDuration;
use jiff::tz::TimeZone;

use crate::artifacts::files::{self, ArtifactKind, FileError, Queries};
use crate::artifacts::logs::{StreamPrefix, read_lines, span_of};
use crate::artifacts::{Artifacts, Files};
use crate::incident::{self, WindowRules};
use crate::ingest::kubernetes::{Placement, pod_placements};
use crate::normalize::time::{Finder, TimeContext};
use crate::record::{Instant, K8sEventRecord, NoteRecord, PodRecord, Record, Source, SourceKind, Stream};
use crate::timeline::digest::DEFAULT_REQUEST_ID_FIELDS;
use crate::timeline::skew::node_clock_offsets;
use crate::timeline::{self, Coverage, CoverageStatus, DigestConfig, Evidence, LogDigest, Timeline, Window};

/// How much of each end of a log file is read to size the window.
const SPAN_PROBE_BYTES: u64 = 64 * 1024;

impl DraftOptions {
    /// The kind `--kind` gives a file, if any.
    pub fn kind_of(&self, path: &Path) -> Option<ArtifactKind> {
        let file_name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
        self.kinds
            .iter()
            .find(|(pattern, _)| pattern.as_deref().is_none_or(|pattern| file_name.contains(pattern)))
            .map(|(_, kind)| *kind)
    }

    /// The zone of zone-less times in a file (or one stream of it).
    pub fn zone_of(&self, file_name: &str, stream_name: &str) -> TimeZone {
        self.zones
            .iter()
            .find(|(pattern, _)| file_name.contains(pattern.as_str()) || stream_name.contains(pattern.as_str()))
            .map_or_else(|| self.zone.clone(), |(_, zone)| zone.clone())
    }
}

/// What `draft` was asked to do.
#[derive(Clone, Debug)]
pub struct DraftOptions {
    pub paths: Vec<PathBuf>,
    /// Kinds given rather than recognised: `(None, kind)` for every file, `(Some(pattern),
    /// kind)` for the files whose name contains the pattern (the first that matches wins).
    pub kinds: Vec<(Option<String>, ArtifactKind)>,
    pub window: Option<(Instant, Instant)>,
    pub title: Option<String>,
    pub lead_in: SignedDuration,
    pub tail: SignedDuration,
    /// Zone of zone-less times, for every source not named in `zones`.
    pub zone: TimeZone,
    /// Zones of particular sources: the first whose pattern the file or stream name contains.
    pub zones: Vec<(String, TimeZone)>,
    pub request_id_fields: Vec<String>,
    /// Fail on a file that cannot be read or is not recognised, rather than skip and name it.
    pub strict: bool,
    pub timeline: timeline::Options,
}

impl Default for DraftOptions {
    fn default() -> Self {
        DraftOptions {
            paths: Vec::new(),
            kinds: Vec::new(),
            window: None,
            title: None,
            lead_in: SignedDuration::from_mins(20),
            tail: SignedDuration::from_mins(10),
            zone: TimeZone::UTC,
            zones: Vec::new(),
            request_id_fields: DEFAULT_REQUEST_ID_FIELDS.iter().map(|field| (*field).to_owned()).collect(),
            strict: false,
            timeline: timeline::Options::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no input files: give files or folders of exported artifacts")]
    NoInput,
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Every file that could not be read, one message per line.
    #[error("{} input file(s) could not be read:\n{}", .0.len(), .0.join("\n"))]
    Inputs(Vec<String>),
    /// Nothing given was recognised: every file skipped, each with its reason.
    #[error("no recognised input in {within}{}", recognised_reasons(skipped))]
    NoRecognisedInput { within: String, skipped: Vec<String> },
    #[error("invalid window: {0}")]
    Window(#[from] incident::WindowError),
}

fn recognised_reasons(skipped: &[String]) -> String {
    if skipped.is_empty() {
        // `Files` leaves hidden files, Markdown and `expected.*` out of folders.
        return ": no files to read (Markdown, hidden and expected.* files in folders are not read)".to_owned();
    }
    format!(":\n{}", skipped.join("\n"))
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A file and what it holds.
struct Input {
    path: PathBuf,
    kind: ArtifactKind,
}

/// Draws the timeline of the given files.
pub fn draft(options: &DraftOptions) -> Result<Timeline> {
    draft_artifacts(&Files(&options.paths), options)
}

/// Draws the timeline of `artifacts` (`options.paths` is not read).
///
/// A file that cannot be read, or is not recognised as an artifact, is skipped and named,
/// with its reason, in a note row, and the rest is drafted; with `options.strict` it is an
/// error instead. Only when nothing at all was recognised is the draft an error.
pub fn draft_artifacts(artifacts: &dyn Artifacts, options: &DraftOptions) -> Result<Timeline> {
    let first_path = || options.paths.first().cloned().unwrap_or_default();
    let paths = artifacts.names().map_err(|source| Error::Read { path: first_path(), source })?;
    if paths.is_empty() && options.paths.is_empty() {
        return Err(Error::NoInput);
    }
    let mut inputs = Vec::new();
    let mut skipped = Vec::new();
    // Only whether a line carries a time matters here, not which year it takes.
    let mut finder = Finder::new(TimeContext { zone: options.zone.clone(), ..TimeContext::default() });
    for path in paths {
        let head = match read_head(artifacts, &path) {
            Ok(head) => head,
            Err(source) => {
                skipped.push(FileError::Io { file: path, source });
                continue;
            }
        };
        let kind = match options.kind_of(&path) {
            Some(kind) => kind,
            None => match files::detect(&path, &head) {
                Some(ArtifactKind::PlainLog) if !files::carries_times(&head, &mut finder) => {
                    skipped.push(unread(&head, FileError::NoTimes { file: path }));
                    continue;
                }
                Some(kind) => kind,
                None => {
                    skipped.push(unread(&head, FileError::UnknownKind { file: path }));
                    continue;
                }
            },
        };
        inputs.push(Input { path, kind });
    }
    let queries = load_queries(artifacts, &mut inputs, &mut skipped);
    let mut records = Vec::new();
    let mut coverage = Vec::new();
    let mut read_inputs = Vec::with_capacity(inputs.len());
    for input in inputs {
        if input.kind.is_log() || input.kind == ArtifactKind::Queries {
            read_inputs.push(input);
            continue;
        }
        let bytes = match read_all(artifacts, &input.path) {
            Ok(bytes) => bytes,
            Err(source) => {
                skipped.push(FileError::Io { file: input.path, source });
                continue;
            }
        };
        match files::read_artifact(&input.path, input.kind, &bytes, &queries) {
            Ok(mut read) => {
                // Secrets in event messages, alert annotations and pages go before anything
                // is shown.
                let redacted = crate::normalize::redact::record_texts(&mut read);
                let name = input_name(options, &input.path);
                // One Kubernetes List may hold any kinds: its rows say which by their units.
                let kind = if input.kind.is_kubernetes_list() { "kubernetes-list" } else { input.kind.name() };
                // postmortemd's own gaps.json is shown by what it holds (each reported gap on its
                // source's row, each collector not configured), not as a file.
                if input.kind != ArtifactKind::Gaps {
                    coverage.push(
                        Coverage::of_records(name.clone(), kind, &read).with_redactions(redacted).from_input(name),
                    );
                }
                records.extend(read);
                read_inputs.push(input);
            }
            Err(error) => skipped.push(unread(&bytes, error)),
        }
    }
    strict_check(options, &skipped)?;
    if read_inputs.is_empty() {
        return Err(Error::NoRecognisedInput {
            within: within(options),
            skipped: skipped.iter().map(reason).collect(),
        });
    }
    let logs: Vec<&Input> = read_inputs.iter().filter(|input| input.kind.is_log()).collect();
    let (window, assumed_year) = window(artifacts, options, &records, &logs)?;
    if let Some(assumed) = &assumed_year {
        records.push(Record::Note(NoteRecord { source: "times".to_owned(), text: assumed.note() }));
    }
    let title = options.title.clone().unwrap_or_else(|| incident::title(&records, &window));
    let pods: Vec<&PodRecord> = records.iter().filter_map(Record::as_pod).collect();
    let offsets = node_clock_offsets(&records, &window, &options.timeline);
    let events: Vec<&K8sEventRecord> = records.iter().filter_map(Record::as_k8s_event).collect();
    let placements = pod_placements(&events);
    let context = StreamContext {
        options,
        window,
        window_year_assumed: assumed_year.is_some(),
        pods: &pods,
        placements: &placements,
        offsets: &offsets,
    };
    let digests = digest_logs(artifacts, &logs, &context, &mut skipped, &mut coverage)?;
    strict_check(options, &skipped)?;
    records.extend(skipped.iter().map(|error| {
        Record::Note(NoteRecord { source: SKIPPED_SOURCE.to_owned(), text: format!("Skipped {}", reason(error)) })
    }));
    coverage.extend(skipped.iter().map(|error| skipped_coverage(options, error)));
    // No evidence was written after its file (a bundle's files: when the daemon made it).
    let written_by = crate::artifacts::newest_modified(artifacts, read_inputs.iter().map(|input| input.path.as_path()));
    Ok(timeline::build(Evidence { title, window, records, digests, coverage, written_by }, &options.timeline))
}

/// How the coverage table names an input: its path within the folder it was found in, else
/// its file name (a bundle's names are already relative).
fn input_name(options: &DraftOptions, path: &Path) -> String {
    let within = options.paths.iter().filter(|given| given.is_dir()).find_map(|folder| path.strip_prefix(folder).ok());
    match within {
        Some(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
        _ if options.paths.is_empty() => path.display().to_string(),
        _ => path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned()),
    }
}

/// The coverage row of a file that was not read: what it seemed to be, and why.
fn skipped_coverage(options: &DraftOptions, error: &FileError) -> Coverage {
    let name = input_name(options, error.file());
    let (kind, status) = match error {
        FileError::FailedExport { .. } => ("failed export", CoverageStatus::Failed),
        FileError::UnknownKind { .. } => ("unrecognised", CoverageStatus::Skipped),
        FileError::NoTimes { .. } => ("text without times", CoverageStatus::Skipped),
        FileError::Parse { .. } => ("unparsable", CoverageStatus::Skipped),
        FileError::IsLog { .. } | FileError::Io { .. } => ("unreadable", CoverageStatus::Skipped),
    };
    let text = reason(error);
    let prefix = format!("{}: ", error.file().display());
    let why = text.strip_prefix(&prefix).unwrap_or(&text).to_owned();
    Coverage::skipped(name.clone(), kind, status, why).from_input(name)
}

/// Why a file is not read: a failed export when that is all the whole file holds (its own
/// error message says more than "unknown kind" or "no times"), else `otherwise`. Only files
/// that would be skipped are looked at, so a valid input is never parsed for this.
fn unread(bytes: &[u8], otherwise: FileError) -> FileError {
    let whole_and_small = bytes.len() < files::HEAD_BYTES;
    match whole_and_small.then(|| files::failed_export(bytes)).flatten() {
        Some(message) => FileError::FailedExport { file: otherwise.file().to_path_buf(), message },
        None => otherwise,
    }
}

/// The source of the note rows that name skipped files.
pub const SKIPPED_SOURCE: &str = "input";

/// What was given, for an error about all of it.
fn within(options: &DraftOptions) -> String {
    if options.paths.is_empty() {
        return "the evidence".to_owned();
    }
    options.paths.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// A skipped file's error with its causes, on one line.
/// With `--strict`, every file skipped so far is an error, each named with its reason.
fn strict_check(options: &DraftOptions, skipped: &[FileError]) -> Result<()> {
    if options.strict && !skipped.is_empty() {
        return Err(Error::Inputs(skipped.iter().map(reason).collect()));
    }
    Ok(())
}

fn reason(error: &FileError) -> String {
    crate::telemetry::error_chain(error)
}

fn read_head(artifacts: &dyn Artifacts, path: &Path) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(files::HEAD_BYTES);
    artifacts.open(path)?.take(files::HEAD_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

fn read_all(artifacts: &dyn Artifacts, path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    artifacts.open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads every `queries.json`; one that cannot be read is skipped (and taken out of `inputs`).
fn load_queries(artifacts: &dyn Artifacts, inputs: &mut Vec<Input>, skipped: &mut Vec<FileError>) -> Queries {
    let mut queries = Queries::default();
    inputs.retain(|input| {
        if input.kind != ArtifactKind::Queries {
            return true;
        }
        let added = read_all(artifacts, &input.path)
            .map_err(|source| FileError::Io { file: input.path.clone(), source })
            .and_then(|bytes| queries.add(&input.path, &bytes));
        match added {
            Ok(()) => true,
            Err(error) => {
                skipped.push(error);
                false
            }
        }
    });
    queries
}

/// A year the draft had to assume: year-less log times with no window, alert, event or
/// dated log line to take a year from.
struct AssumedYear {
    year: i32,
    /// The year is the log files' modification year (else 1970).
    from_files: bool,
}

impl AssumedYear {
    fn note(&self) -> String {
        let why = if self.from_files {
            "the log files' modification year, or the year before for dates after their modification"
        } else {
            "no file time either, so the Unix epoch's year"
        };
        format!(
            "Year-less log times were read as {}: no window, alert, event or dated log line gave a year ({why}); \
             their rows are flagged assumed_year. Give --window to set it.",
            self.year
        )
    }
}

/// `--window`, else the signals with lead-in and tail, else the span of the data; and the
/// year the window had to assume, if it rests only on year-less times without evidence.
fn window(
    artifacts: &dyn Artifacts,
    options: &DraftOptions,
    records: &[Record],
    logs: &[&Input],
) -> Result<(Window, Option<AssumedYear>)> {
    let rules = WindowRules { lead_in: options.lead_in, tail: options.tail };
    // The data's span matters only without a window or a resolution: skip reading logs else.
    let needs_data = options.window.is_none() && incident::resolution(records).is_none();
    let (data_span, assumed_year) =
        if needs_data { data_span(artifacts, records, logs, options) } else { (None, None) };
    let window = incident::window(records, &rules, options.window, data_span)?;
    // Signals of their own put the window where they are, whatever the logs assumed.
    let signals = records.iter().any(|record| matches!(record, Record::Alert(_) | Record::Page(_)));
    Ok((window, assumed_year.filter(|_| options.window.is_none() && !signals)))
}

/// The span of every dated input: records, then logs whose times carry their year, then
/// year-less logs, which take their year from what came before (see
/// [`TimeContext::evidence`]).
fn data_span(
    artifacts: &dyn Artifacts,
    records: &[Record],
    logs: &[&Input],
    options: &DraftOptions,
) -> (Option<(Instant, Instant)>, Option<AssumedYear>) {
    let mut span: Option<(Instant, Instant)> = None;
    let include = |span: &mut Option<(Instant, Instant)>, time: Instant| {
        *span = Some(span.map_or((time, time), |(first, last)| (first.min(time), last.max(time))));
    };
    for record in records {
        match record {
            Record::Series(series) => series.samples.iter().for_each(|(time, _)| include(&mut span, *time)),
            // Events from their first time to their last; routine ones (a pod scheduled hours
            // before) say nothing about when the incident was.
            Record::K8sEvent(event) if event.is_notable() => {
                event.first_time.into_iter().chain([event.time]).for_each(|time| include(&mut span, time));
            }
            Record::Alert(alert) => include(&mut span, alert.starts_at),
            Record::Page(page) => include(&mut span, page.time),
            _ => {}
        }
    }
    let fallback_until = crate::artifacts::newest_modified(artifacts, logs.iter().map(|input| input.path.as_path()));
    let context = TimeContext { zone: options.zone.clone(), fallback_until, ..TimeContext::default() };
    let mut year_less = Vec::new();
    for input in logs {
        let mut finder = Finder::new(context.clone());
        let mut saw_year_less = false;
        let read = log_span(artifacts, &input.path, |text| {
            let found = finder.find(text)?;
            saw_year_less |= found.year.is_some();
            found.year.is_none().then_some(found.instant)
        });
        if let Ok(Some((first, last))) = read {
            include(&mut span, first);
            include(&mut span, last);
        }
        if saw_year_less {
            year_less.push(input);
        }
    }
    let mut assumed: Option<i32> = None;
    let context = TimeContext { evidence: span, ..context };
    for input in year_less {
        let mut finder = Finder::new(context.clone());
        let read = log_span(artifacts, &input.path, |text| {
            let found = finder.find(text)?;
            if found.assumed_year() {
                assumed = Some(i32::from(options.zone.to_datetime(found.instant).year()));
            }
            Some(found.instant)
        });
        if let Ok(Some((first, last))) = read {
            include(&mut span, first);
            include(&mut span, last);
        }
    }
    let assumed_year = assumed.map(|year| AssumedYear { year, from_files: fallback_until.is_some() });
    (span, assumed_year)
}

fn log_span(
    artifacts: &dyn Artifacts,
    path: &Path,
    embedded: impl FnMut(&str) -> Option<Instant>,
) -> io::Result<Option<(Instant, Instant)>> {
    let mut head = Vec::new();
    artifacts.open(path)?.take(SPAN_PROBE_BYTES).read_to_end(&mut head)?;
    let tail = artifacts.tail(path, SPAN_PROBE_BYTES)?;
    let (head, tail) = (String::from_utf8_lossy(&head), String::from_utf8_lossy(&tail));
    Ok(span_of(&head, &tail, embedded))
}

/// What every stream of a draft shares.
struct StreamContext<'a> {
    options: &'a DraftOptions,
    window: Window,
    /// The window's year was assumed (see [`AssumedYear`]).
    window_year_assumed: bool,
    pods: &'a [&'a PodRecord],
    /// Pods' namespaces and nodes from events, for pods no pod list names.
    placements: &'a std::collections::BTreeMap<String, Placement>,
    /// Node clock offsets (seconds) known before reading logs.
    offsets: &'a std::collections::BTreeMap<String, f64>,
}

impl StreamContext<'_> {
    /// A digest for a stream named by kubectl's prefix (`pod/NAME/CONTAINER`) or, without
    /// one, by its file.
    fn digest(&self, prefix: Option<StreamPrefix<'_>>, path: &Path) -> LogDigest {
        let file_name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let (stream, pod) = match prefix.filter(StreamPrefix::is_pod) {
            Some(prefix) => {
                let pod = self.pods.iter().find(|pod| pod.name == prefix.pod);
                let placed = self.placements.get(prefix.pod).map(|placement| placement.namespace.as_str());
                let namespace = pod.map(|pod| pod.namespace.as_str()).or(placed);
                (Stream::container(namespace, prefix.pod, prefix.container), pod)
            }
            None => {
                // A file named after its pod (`kubectl logs POD -c C > POD_C.log`) is that
                // container's stream; any other file is named after itself.
                let pod = self
                    .pods
                    .iter()
                    .filter(|pod| file_name.contains(pod.name.as_str()))
                    .max_by_key(|pod| pod.name.len());
                let container = pod.and_then(|pod| {
                    let rest = file_name.replacen(pod.name.as_str(), "", 1);
                    let named = pod.containers.iter().filter(|container| rest.contains(container.name.as_str()));
                    named.max_by_key(|container| container.name.len()).or(match pod.containers.as_slice() {
                        [only] => Some(only),
                        _ => None,
                    })
                });
                match (pod, container) {
                    (Some(pod), Some(container)) => {
                        (Stream::container(Some(&pod.namespace), &pod.name, &container.name), Some(pod))
                    }
                    _ => (Stream::File(file_name.clone()), pod),
                }
            }
        };
        // Without a pod list, events say where a pod ran: the stream's pod by its prefix, else
        // the pod its file is named after.
        let placed = || match &stream {
            Stream::Container(name) => self.placements.get(name.pod.as_str()),
            Stream::File(_) => self
                .placements
                .iter()
                .filter(|(pod, _)| file_name.contains(pod.as_str()))
                .max_by_key(|(pod, _)| pod.len())
                .map(|(_, placement)| placement),
        };
        let node = pod.and_then(|pod| pod.node.clone()).or_else(|| placed().map(|placement| placement.node.clone()));
        let source = Source { kind: SourceKind::Logs, stream, node };
        let offset_hint_seconds = source.node.as_ref().and_then(|node| self.offsets.get(node)).copied().unwrap_or(0.0);
        let config = DigestConfig {
            window: self.window,
            time_context: TimeContext {
                zone: self.options.zone_of(&file_name, &source.to_string()),
                window: Some((self.window.start, self.window.end)),
                window_year_assumed: self.window_year_assumed,
                ..TimeContext::default()
            },
            // A node clock off by more than a fortnight is a broken metric, not a clock.
            offset_hint_nanos: (offset_hint_seconds.clamp(-1.2e6, 1.2e6) * 1e9) as i64,
            request_id_fields: self.options.request_id_fields.clone(),
        };
        LogDigest::new(source, config)
    }
}

/// Streams every log file through digests, files in parallel; digests come back in file
/// order, then stream order within a file.
/// A log that cannot be read through is skipped (its streams dropped), or with `strict` an
/// error.
fn digest_logs(
    artifacts: &dyn Artifacts,
    logs: &[&Input],
    context: &StreamContext<'_>,
    skipped: &mut Vec<FileError>,
    coverage: &mut Vec<Coverage>,
) -> Result<Vec<LogDigest>> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from).min(logs.len()).max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, io::Result<Vec<LogDigest>>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = logs.get(index) else { break };
                    let digests =
                        artifacts.open(&input.path).and_then(|reader| digest_file(reader, &input.path, context));
                    results.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((index, digests));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    results.sort_by_key(|(index, _)| *index);
    let mut digests = Vec::new();
    for (index, result) in results {
        match result {
            Ok(read) => {
                let input = logs[index];
                let name = input_name(context.options, &input.path);
                if read.is_empty() {
                    let mut empty = Coverage::of_records(name.clone(), input.kind.name(), &[]).from_input(name.clone());
                    empty.read.insert("lines", 0);
                    coverage.push(empty);
                }
                coverage.extend(
                    read.iter().map(|digest| Coverage::of_digest(digest, input.kind.name()).from_input(name.clone())),
                );
                digests.extend(read);
            }
            Err(source) => skipped.push(FileError::Io { file: logs[index].path.clone(), source }),
        }
    }
    Ok(digests)
}

fn digest_file(reader: impl Read, path: &Path, context: &StreamContext<'_>) -> io::Result<Vec<LogDigest>> {
    let mut digests: Vec<LogDigest> = Vec::new();
    // By (resource, pod, container); consecutive lines of one stream skip the lookup.
    let mut by_prefix: HashMap<[String; 3], usize> = HashMap::new();
    let mut unprefixed: Option<usize> = None;
    let mut last: Option<([String; 3], usize)> = None;
    read_lines(reader, |line| {
        let index = match line.stream {
            Some(prefix) => match &last {
                Some(([resource, pod, container], index))
                    if (resource.as_str(), pod.as_str(), container.as_str())
                        == (prefix.resource, prefix.pod, prefix.container) =>
                {
                    *index
                }
                _ => {
                    let key = [prefix.resource, prefix.pod, prefix.container].map(str::to_owned);
                    let index = *by_prefix.entry(key.clone()).or_insert_with(|| {
                        digests.push(context.digest(Some(prefix), path));
                        digests.len() - 1
                    });
                    last = Some((key, index));
                    index
                }
            },
            None => *unprefixed.get_or_insert_with(|| {
                digests.push(context.digest(None, path));
                digests.len() - 1
            }),
        };
        digests[index].push(line.transport, line.text);
    })?;
    // By the name rows show, as people read the streams of a file (a stable sort).
    digests.sort_by_cached_key(|digest| digest.source.to_string());
    Ok(digests)
}
