//! [`LogDigest`]: everything the timeline needs from one log stream, accumulated line by
//! line so that no line is ever held. Per line it finds the time (kubelet prefix, else the
//! embedded one, else the previous line's), mines the template, keeps per-template counts
//! (baseline, incident, per bucket) and the first example, the stream's rhythm (for gaps),
//! transport-vs-embedded offsets (for zone and clock errors) and a consistent sample of
//! request ids (for skew across nodes).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use memchr::memmem;

use crate::normalize::bytes::string_end;
use crate::normalize::redact::{Counts, Redactor, StreamState};
use crate::normalize::time::{Finder, Found, TimeContext};
use crate::record::{Instant, Source, nanos};
use crate::timeline::Window;
use crate::timeline::templates::Miner;

/// The request/trace id fields looked for by default.
pub const DEFAULT_REQUEST_ID_FIELDS: &[&str] = &["request_id", "req_id", "trace_id", "traceId", "x-request-id"];

/// How many distinct request ids a stream keeps (a bottom-k sample by hash, so every stream
/// keeps the same ids).
const REQUEST_ID_SAMPLE: usize = 16_384;
/// How many transport-vs-embedded offsets a stream keeps (evenly thinned beyond).
const DUAL_SAMPLE: usize = 8_192;
/// The longest example line kept, in bytes.
const EXAMPLE_BYTES: usize = 400;
/// How many message shapes a stream remembers; beyond, new shapes go to the miner each time.
const MAX_SHAPES: usize = 65_536;
/// Template ids from here on are access-log templates of the digest, not the miner's.
pub const LITERAL_BASE: usize = 1 << 30;
/// How many distinct (method, path) templates a stream keeps; the rest share one.
const MAX_LITERALS: usize = 2_000;
/// Sub-buckets of the incident part of the window, for burst detection.
const TARGET_BUCKETS: i64 = 120;

/// How a digest reads its stream.
#[derive(Clone, Debug)]
pub struct DigestConfig {
    pub window: Window,
    pub time_context: TimeContext,
    /// The stream's node clock minus the reference clock, when already known (node-exporter
    /// clocks); used to decide what lies in the baseline.
    pub offset_hint_nanos: i64,
    pub request_id_fields: Vec<String>,
}

/// How bad a template's lines are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warn,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warning",
            Severity::Error => "error",
        }
    }
}

/// The counts of one (template, HTTP status class) in one stream.
#[derive(Clone, Debug)]
pub struct TemplateStats {
    pub template: usize,
    /// 1–5 for an HTTP status class seen on the line, 0 without one.
    pub status_class: u8,
    pub severity: Severity,
    /// Lines before the window start (evidence the template is old).
    pub n_before_window: u64,
    /// Lines in `[window.start, baseline_end)`.
    pub n_baseline: u64,
    /// Lines in `[baseline_end, window.end]`.
    pub n_incident: u64,
    /// Recorded times (stream clock, nanoseconds) of the first and last incident line.
    pub first_incident_nanos: i64,
    pub last_incident_nanos: i64,
    pub example: Option<String>,
    /// Lines per bucket of the incident part.
    pub buckets: Vec<u32>,
}

/// Transport-minus-embedded offsets of one stream.
#[derive(Clone, Debug, Default)]
pub struct DualOffsets {
    pub count: u64,
    /// Of those, lines whose embedded time had no zone.
    pub assumed_zone: u64,
    /// Embedded minus transport, nanoseconds, evenly thinned.
    pub samples: Vec<i64>,
    stride: u64,
}

impl DualOffsets {
    fn push(&mut self, offset_nanos: i64, assumed_zone: bool) {
        self.count += 1;
        self.assumed_zone += u64::from(assumed_zone);
        if self.stride == 0 {
            self.stride = 1;
        }
        if !self.count.is_multiple_of(self.stride) {
            return;
        }
        self.samples.push(offset_nanos);
        if self.samples.len() >= DUAL_SAMPLE {
            let mut keep = 0;
            self.samples.retain(|_| {
                keep += 1;
                keep % 2 == 0
            });
            self.stride *= 2;
        }
    }
}

/// A bottom-k sample of request ids by hash, with the first time each was seen.
#[derive(Clone, Debug, Default)]
pub struct RequestIds {
    pub first_seen: HashMap<u64, i64, IdHash>,
    threshold: u64,
}

impl RequestIds {
    fn offer(&mut self, id: &[u8], nanos: i64) {
        if self.threshold == 0 {
            self.threshold = u64::MAX;
        }
        let hash = hash_bytes(id);
        if hash > self.threshold {
            return;
        }
        self.first_seen.entry(hash).and_modify(|seen| *seen = (*seen).min(nanos)).or_insert(nanos);
        if self.first_seen.len() > 2 * REQUEST_ID_SAMPLE {
            let mut hashes: Vec<u64> = self.first_seen.keys().copied().collect();
            hashes.sort_unstable();
            self.threshold = hashes[REQUEST_ID_SAMPLE - 1];
            let threshold = self.threshold;
            self.first_seen.retain(|hash, _| *hash <= threshold);
        }
    }
}

/// Keys of [`RequestIds`] are already hashes: pass them through.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHash;

impl BuildHasher for IdHash {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(bytes);
    }
    fn write_u64(&mut self, value: u64) {
        // Small keys (template ids) need their bits spread for the table's control bytes.
        self.0 = value.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A hash of a message's shape: runs of letters and digits that contain a digit (numbers,
/// ids, addresses: what the miner masks) count as one marker, whitespace runs as one space,
/// everything else as itself. Messages of one shape are one template, so the miner, the
/// expensive step, sees each shape once.
pub fn shape_hash(content: &str) -> u64 {
    const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes = content.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |word: u64| hash = (hash ^ word).wrapping_mul(MULTIPLIER).rotate_left(29);
    let mut index = 0;
    while index < bytes.len() {
        match CLASS[usize::from(bytes[index])] {
            ALNUM => {
                let start = index;
                let mut has_digit = false;
                while index < bytes.len() && CLASS[usize::from(bytes[index])] == ALNUM {
                    has_digit |= bytes[index].is_ascii_digit();
                    index += 1;
                }
                if has_digit {
                    mix(1);
                } else {
                    // Letters eight at a time, the run's length keeping `ab|c` from `a|bc`.
                    for chunk in bytes[start..index].chunks(8) {
                        let mut word = [0u8; 8];
                        word[..chunk.len()].copy_from_slice(chunk);
                        mix(u64::from_le_bytes(word));
                    }
                    mix(((index - start) as u64) << 8 | 2);
                }
            }
            SPACE => {
                while index < bytes.len() && CLASS[usize::from(bytes[index])] == SPACE {
                    index += 1;
                }
                mix(3);
            }
            _ => {
                mix(u64::from(bytes[index]) << 8 | 4);
                index += 1;
            }
        }
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

const OTHER: u8 = 0;
const ALNUM: u8 = 1;
const SPACE: u8 = 2;

/// The byte classes of [`shape_hash`].
static CLASS: [u8; 256] = {
    let mut class = [OTHER; 256];
    let mut byte = 0;
    while byte < 256 {
        let value = byte as u8;
        if value.is_ascii_alphanumeric() {
            class[byte] = ALNUM;
        } else if value.is_ascii_whitespace() {
            class[byte] = SPACE;
        }
        byte += 1;
    }
    class
};

/// FNV-1a followed by a final mix: stable across runs and platforms.
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

/// Log-scale histogram of the spacing between consecutive lines (4 buckets per octave of
/// milliseconds).
#[derive(Clone, Debug)]
pub struct Rhythm {
    pub histogram: [u64; 160],
    pub n_deltas: u64,
}

impl Default for Rhythm {
    fn default() -> Self {
        Rhythm { histogram: [0; 160], n_deltas: 0 }
    }
}

impl Rhythm {
    fn push(&mut self, delta_nanos: i64) {
        let millis = (delta_nanos.max(0) / 1_000_000) as f64;
        let bucket = ((millis + 1.0).log2() * 4.0) as usize;
        self.histogram[bucket.min(159)] += 1;
        self.n_deltas += 1;
    }

    /// The spacing (nanoseconds) below which `quantile` of the spacings lie.
    pub fn quantile_nanos(&self, quantile: f64) -> Option<i64> {
        if self.n_deltas == 0 {
            return None;
        }
        let wanted = (quantile * self.n_deltas as f64).ceil() as u64;
        let mut seen = 0;
        for (bucket, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= wanted.max(1) {
                let upper_millis = 2f64.powf((bucket + 1) as f64 / 4.0) - 1.0;
                return Some((upper_millis * 1e6) as i64);
            }
        }
        None
    }
}

/// Everything kept of one log stream.
#[derive(Debug)]
pub struct LogDigest {
    pub source: Source,
    pub config: DigestConfig,
    finder: Finder,
    pub miner: Miner,
    /// Access-log templates (method and path), ids from [`LITERAL_BASE`].
    literals: Vec<String>,
    literal_ids: HashMap<u64, u32, IdHash>,
    scratch: String,
    /// Shape hash of a message → its template (see [`shape_hash`]).
    shapes: HashMap<u64, u32, IdHash>,
    /// Stats index by template id, for lines without an HTTP status.
    plain_keys: Vec<u32>,
    status_keys: HashMap<u64, u32, IdHash>,
    pub stats: Vec<TemplateStats>,
    /// Whether a line of the stream had a level (see [`layout_severity`]).
    has_levels: bool,
    pub n_lines: u64,
    pub n_without_time: u64,
    /// Lines after the window's end (not digested beyond their time).
    pub n_after_window: u64,
    pub n_assumed_zone: u64,
    /// Lines whose year-less time took a year no evidence gave (see `normalize::time::YearSource`).
    pub n_assumed_year: u64,
    /// Recorded times (stream clock) of the first and last timed line.
    pub first_nanos: Option<i64>,
    pub last_nanos: Option<i64>,
    pub rhythm: Rhythm,
    /// Silences of more than the gap floor that touch the window, recorded clock.
    pub silences: Vec<(i64, i64)>,
    pub dual: DualOffsets,
    pub request_ids: RequestIds,
    /// Secrets redacted from the stream's lines, per rule (`normalize::redact`).
    pub redactions: Counts,
    redact_state: StreamState,
    id_finders: Vec<memmem::Finder<'static>>,
    window_nanos: (i64, i64, i64),
    bucket_nanos: i64,
    floor_nanos: i64,
}

impl LogDigest {
    pub fn new(source: Source, config: DigestConfig) -> Self {
        let window = config.window;
        let window_nanos = (nanos(window.start), nanos(window.baseline_end), nanos(window.end));
        let incident_nanos = (window_nanos.2 - window_nanos.1).max(1);
        let bucket_nanos = (incident_nanos / TARGET_BUCKETS).clamp(10_000_000_000, 300_000_000_000);
        let id_finders =
            config.request_id_fields.iter().map(|field| memmem::Finder::new(field.as_bytes()).into_owned()).collect();
        LogDigest {
            source,
            finder: Finder::new(config.time_context.clone()),
            config,
            miner: Miner::new(),
            shapes: HashMap::default(),
            literals: Vec::new(),
            literal_ids: HashMap::default(),
            scratch: String::new(),
            plain_keys: Vec::new(),
            status_keys: HashMap::default(),
            stats: Vec::new(),
            has_levels: false,
            n_lines: 0,
            n_without_time: 0,
            n_after_window: 0,
            n_assumed_zone: 0,
            n_assumed_year: 0,
            first_nanos: None,
            last_nanos: None,
            rhythm: Rhythm::default(),
            silences: Vec::new(),
            dual: DualOffsets::default(),
            request_ids: RequestIds::default(),
            redactions: Counts::new(),
            redact_state: StreamState::default(),
            id_finders,
            window_nanos,
            bucket_nanos,
            floor_nanos: 60_000_000_000,
        }
    }

    /// The incident part's bucket width, nanoseconds.
    pub fn bucket_nanos(&self) -> i64 {
        self.bucket_nanos
    }

    /// Reads one line: `transport` is the kubelet time when the line had one, `text` the
    /// rest of the line. Its secrets are redacted first (the built-in rules; a daemon's
    /// bundle was redacted when collected, and its markers are counted), so no template,
    /// example or request id holds one.
    pub fn push(&mut self, transport: Option<Instant>, text: &str) {
        let redacted = Redactor::builtin().text(&mut self.redact_state, text, &mut self.redactions);
        self.read_line(transport, &redacted);
    }

    fn read_line(&mut self, transport: Option<Instant>, text: &str) {
        self.n_lines += 1;
        let structured = Structured::read(text);
        // Lines with a kubelet time are searched for their own time only on a sample (the
        // dual-timestamp evidence); lines without one always are.
        let search = transport.is_none() || self.n_lines <= 2_000 || self.n_lines.is_multiple_of(16);
        let found = if search { self.finder.find(text) } else { None };
        let transport_nanos = transport.map(nanos);
        if let (Some(transport_nanos), Some(found)) = (transport_nanos, &found) {
            self.dual.push(nanos(found.instant) - transport_nanos, found.assumed_zone);
        }
        let continuation = transport.is_none()
            && found.is_none()
            && (text.starts_with([' ', '\t']) || text.is_empty() || self.last_nanos.is_some());
        let recorded = match (transport_nanos, &found) {
            (Some(transport_nanos), _) => transport_nanos,
            (None, Some(found)) => {
                // An ambiguous abbreviation (`IST`, `CST`) was read by a rule: its zone is assumed too.
                if found.assumed_zone || found.ambiguous_zone {
                    self.n_assumed_zone += 1;
                }
                if found.assumed_year() {
                    self.n_assumed_year += 1;
                }
                nanos(found.instant)
            }
            (None, None) => match self.last_nanos {
                Some(last) => last,
                None => {
                    self.n_without_time += 1;
                    return;
                }
            },
        };
        self.track_rhythm(recorded);
        if continuation {
            return;
        }
        let (start, baseline_end, end) = self.window_nanos;
        let reference = recorded - self.config.offset_hint_nanos;
        if reference > end {
            self.n_after_window += 1;
            return;
        }
        let content = message(text, &structured, found.as_ref().filter(|_| transport.is_none()));
        let access = if structured.message.is_none() { AccessLine::read(text) } else { None };
        let (template, status_class) = match access {
            Some(access) => (self.literal_template(&access), access.status_class),
            None => (self.template_of(content), structured.status_class.unwrap_or(0)),
        };
        let header_start = found.as_ref().filter(|found| found.span.start <= 2).map_or(0, |found| found.span.end);
        let key = self.key(template, status_class, &structured, (text, header_start), content);
        let n_buckets = ((end - baseline_end) / self.bucket_nanos + 1) as usize;
        let stats = &mut self.stats[key];
        if reference < start {
            stats.n_before_window += 1;
        } else if reference < baseline_end {
            stats.n_baseline += 1;
        } else {
            if stats.n_incident == 0 {
                stats.first_incident_nanos = recorded;
                stats.example = Some(truncate(text, EXAMPLE_BYTES).to_owned());
                stats.buckets = vec![0; n_buckets];
            }
            stats.n_incident += 1;
            stats.last_incident_nanos = recorded;
            let bucket = ((reference - baseline_end) / self.bucket_nanos) as usize;
            if let Some(count) = stats.buckets.get_mut(bucket) {
                *count += 1;
            }
        }
        if reference >= start {
            self.offer_request_ids(text, recorded);
        }
    }

    fn track_rhythm(&mut self, recorded: i64) {
        if let Some(last) = self.last_nanos {
            let delta = recorded - last;
            self.rhythm.push(delta);
            let (start, _, end) = self.window_nanos;
            let shifted = (last - self.config.offset_hint_nanos, recorded - self.config.offset_hint_nanos);
            if delta > self.floor_nanos && shifted.1 > start && shifted.0 < end {
                self.silences.push((last, recorded));
            }
        }
        if self.first_nanos.is_none() {
            self.first_nanos = Some(recorded);
        }
        // Lines out of order (a stream merged from several) do not move time backwards.
        self.last_nanos = Some(self.last_nanos.map_or(recorded, |last| last.max(recorded)));
    }

    /// The template of a message: from the shape cache when a message of the same shape was
    /// mined before, else from the miner (which then learns it).
    fn template_of(&mut self, content: &str) -> usize {
        let shape = shape_hash(content);
        if let Some(template) = self.shapes.get(&shape) {
            return *template as usize;
        }
        let template = self.miner.add(content);
        if self.shapes.len() < MAX_SHAPES {
            self.shapes.insert(shape, template as u32);
        }
        template
    }

    /// The template of an access log line: its method and path, ids in the path masked.
    /// Paths are what an engineer reads in such a row, so they are kept, not mined.
    fn literal_template(&mut self, access: &AccessLine<'_>) -> usize {
        self.scratch.clear();
        self.scratch.push_str(access.method);
        self.scratch.push(' ');
        normalize_path(access.path, &mut self.scratch);
        let hash = shape_hash(&self.scratch) ^ 0x5bd1_e995;
        if let Some(id) = self.literal_ids.get(&hash) {
            return *id as usize;
        }
        if self.literals.len() >= MAX_LITERALS {
            return LITERAL_BASE + MAX_LITERALS;
        }
        self.literals.push(self.scratch.clone());
        let id = LITERAL_BASE + self.literals.len() - 1;
        self.literal_ids.insert(hash, id as u32);
        id
    }

    /// The text of a template id, mined or literal.
    pub fn template_text(&self, template: usize) -> &str {
        if template >= LITERAL_BASE {
            return self.literals.get(template - LITERAL_BASE).map_or("<*>", String::as_str);
        }
        self.miner.template(template)
    }

    fn key(
        &mut self,
        template: usize,
        status_class: u8,
        structured: &Structured,
        line: (&str, usize),
        content: &str,
    ) -> usize {
        let existing = if status_class == 0 && template < LITERAL_BASE {
            self.plain_keys.get(template).copied().filter(|&key| key != u32::MAX)
        } else {
            self.status_keys.get(&status_key(template, status_class)).copied()
        };
        if let Some(key) = existing {
            return key as usize;
        }
        // The layout's level when the line has one; a stream that writes levels says so on
        // its lines, so a line of it without one is not an error; a stream without levels
        // is judged by its messages.
        let (text, header_start) = line;
        let level = structured.severity.or_else(|| layout_severity(text, header_start));
        self.has_levels |= level.is_some();
        let severity = level.unwrap_or_else(|| match self.has_levels {
            true => Severity::Info,
            false => message_severity(content),
        });
        let severity = severity.max(match status_class {
            5 => Severity::Error,
            _ => Severity::Info,
        });
        let key = self.stats.len() as u32;
        self.stats.push(TemplateStats {
            template,
            status_class,
            severity,
            n_before_window: 0,
            n_baseline: 0,
            n_incident: 0,
            first_incident_nanos: 0,
            last_incident_nanos: 0,
            example: None,
            buckets: Vec::new(),
        });
        if status_class == 0 && template < LITERAL_BASE {
            if self.plain_keys.len() <= template {
                self.plain_keys.resize(template + 1, u32::MAX);
            }
            self.plain_keys[template] = key;
        } else {
            self.status_keys.insert(status_key(template, status_class), key);
        }
        key as usize
    }

    fn offer_request_ids(&mut self, text: &str, recorded: i64) {
        let bytes = text.as_bytes();
        for finder in &self.id_finders {
            let Some(position) = finder.find(bytes) else {
                continue;
            };
            let mut index = position + finder.needle().len();
            // `request_id=…`, `"request_id":"…"`, `x-request-id: …`
            while index < bytes.len() && matches!(bytes[index], b'"' | b'\'' | b':' | b'=' | b' ') {
                index += 1;
            }
            let value_start = index;
            while index < bytes.len()
                && (bytes[index].is_ascii_alphanumeric() || matches!(bytes[index], b'-' | b'_' | b'.'))
            {
                index += 1;
            }
            if index - value_start >= 6 {
                self.request_ids.offer(&bytes[value_start..index], recorded);
                return;
            }
        }
        // No named field: an id written as a bare token (nginx's `$request_id` at the end of
        // an access line, a UUID, a W3C `traceparent`).
        if let Some(id) = bare_id(bytes) {
            self.request_ids.offer(id, recorded);
        }
    }
}

/// The first token of `bytes` that can only be a request or trace id: a UUID
/// (`8-4-4-4-12` hex digits), 16 to 32 hex digits holding both a digit and a letter (a
/// number or a word is not an id), or the trace id of a W3C `traceparent`
/// (`00-<32 hex>-<16 hex>-<2 hex>`). Tokens are bounded by anything but letters, digits,
/// `-` and `_`, so a hex run inside a longer word (a 64-digit image digest, a path) is not one.
pub fn bare_id(bytes: &[u8]) -> Option<&[u8]> {
    let mut index = 0;
    while index < bytes.len() {
        if !bytes[index].is_ascii_alphanumeric() {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && (bytes[index].is_ascii_alphanumeric() || matches!(bytes[index], b'-' | b'_')) {
            index += 1;
        }
        let token = &bytes[start..index];
        if let Some(id) = id_of_token(token) {
            return Some(id);
        }
    }
    None
}

fn id_of_token(token: &[u8]) -> Option<&[u8]> {
    // NB: on every line without a named id: most tokens are ruled out by their length alone
    // (16-32 hex digits, a 36-byte UUID, a 55-byte traceparent), before anything is split.
    if !matches!(token.len(), 16..=32 | 36 | 55) {
        return None;
    }
    let is_hex_run = |part: &[u8]| part.iter().all(u8::is_ascii_hexdigit);
    let mut parts = [&token[..0]; 5];
    let mut n_parts = 0;
    for part in token.split(|byte| *byte == b'-') {
        if n_parts == parts.len() {
            return None;
        }
        parts[n_parts] = part;
        n_parts += 1;
    }
    let parts = &parts[..n_parts];
    match parts {
        [a, b, c, d, e]
            if [a.len(), b.len(), c.len(), d.len(), e.len()] == [8, 4, 4, 4, 12]
                && parts.iter().all(|part| is_hex_run(part)) =>
        {
            Some(token)
        }
        [version, trace, parent, flags]
            if version.len() == 2
                && trace.len() == 32
                && parent.len() == 16
                && flags.len() == 2
                && parts.iter().all(|part| is_hex_run(part)) =>
        {
            Some(trace)
        }
        [one]
            if (16..=32).contains(&one.len())
                && is_hex_run(one)
                && one.iter().any(u8::is_ascii_digit)
                && one.iter().any(u8::is_ascii_alphabetic) =>
        {
            Some(one)
        }
        _ => None,
    }
}

/// The part of a line the miner sees, the same for every line of a stream: the message of
/// a structured line; the text after a leading timestamp when the line's time is its own
/// (`own_time`: found in the text, no kubelet time before it); else the whole text (its
/// timestamp, if any, is masked like any number).
fn message<'a>(text: &'a str, structured: &Structured<'a>, own_time: Option<&Found>) -> &'a str {
    match (structured.message, own_time) {
        (Some(message), _) => message,
        (None, Some(found)) if found.span.start <= 2 => {
            text[found.span.end..].trim_start_matches([']', ')', ',', '|', ' ', '\t'])
        }
        (None, _) => text,
    }
}

/// Reads lines as [`LogDigest::push`] does and hands out the message its miner sees, for
/// the `templates` command: one implementation of what a line's message is.
#[derive(Debug)]
pub struct MessageReader {
    finder: Finder,
}

impl MessageReader {
    pub fn new(time_context: TimeContext) -> Self {
        MessageReader { finder: Finder::new(time_context) }
    }

    /// The message of a line whose kubelet time, if any, was `transport` and whose text
    /// (after kubectl's prefixes) is `text`.
    pub fn message<'a>(&mut self, transport: Option<Instant>, text: &'a str) -> &'a str {
        let structured = Structured::read(text);
        if structured.message.is_some() {
            return message(text, &structured, None);
        }
        let found = if transport.is_none() { self.finder.find(text) } else { None };
        message(text, &structured, found.as_ref())
    }
}

fn status_key(template: usize, status_class: u8) -> u64 {
    (template as u64) << 8 | u64::from(status_class)
}

/// What a JSON or logfmt line says of itself.
#[derive(Debug, Default)]
struct Structured<'a> {
    message: Option<&'a str>,
    severity: Option<Severity>,
    status_class: Option<u8>,
}

impl<'a> Structured<'a> {
    fn read(text: &'a str) -> Self {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            Structured::read_json(trimmed)
        } else if trimmed.starts_with("level=") || trimmed.starts_with("ts=") || trimmed.starts_with("time=") {
            Structured {
                message: logfmt_value(trimmed, "msg="),
                severity: logfmt_value(trimmed, "level=").and_then(level_severity),
                status_class: logfmt_value(trimmed, "status=").and_then(status_class_of),
            }
        } else {
            Structured::default()
        }
    }

    /// One pass over the top-level members of a JSON object line.
    fn read_json(line: &'a str) -> Self {
        let mut structured = Structured::default();
        let bytes = line.as_bytes();
        let mut index = 1;
        loop {
            while index < bytes.len() && matches!(bytes[index], b' ' | b'\t' | b',') {
                index += 1;
            }
            if index >= bytes.len() || bytes[index] != b'"' {
                return structured;
            }
            let Some(key_end) = string_end(bytes, index + 1) else { return structured };
            let key = &line[index + 1..key_end];
            index = key_end + 1;
            while index < bytes.len() && matches!(bytes[index], b' ' | b'\t' | b':') {
                index += 1;
            }
            let value_start = index;
            let value = if bytes.get(index) == Some(&b'"') {
                let Some(value_end) = string_end(bytes, index + 1) else { return structured };
                index = value_end + 1;
                &line[value_start + 1..value_end]
            } else {
                let Some(value_end) = value_end(bytes, index) else { return structured };
                index = value_end;
                line[value_start..value_end].trim()
            };
            match key {
                "msg" | "message" | "log" | "event" if structured.message.is_none() => structured.message = Some(value),
                "level" | "severity" | "lvl" | "levelname" | "log.level" if structured.severity.is_none() => {
                    structured.severity = level_severity(value);
                }
                "status" | "status_code" | "statusCode" | "code" if structured.status_class.is_none() => {
                    structured.status_class = status_class_of(value);
                }
                _ => {}
            }
        }
    }
}

/// The end of a non-string JSON value (number, literal, object, array) starting at `start`.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut index = start;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => index = string_end(bytes, index + 1)?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(index),
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return Some(index),
            _ => {}
        }
        index += 1;
    }
    Some(bytes.len())
}

fn logfmt_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let position = line.match_indices(key).find(|(index, _)| *index == 0 || line.as_bytes()[index - 1] == b' ')?.0;
    let rest = &line[position + key.len()..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"').unwrap_or(quoted.len());
        Some(&quoted[..end])
    } else {
        Some(&rest[..rest.find(' ').unwrap_or(rest.len())])
    }
}

fn status_class_of(text: &str) -> Option<u8> {
    let digits = text.as_bytes().get(..3)?;
    if digits.iter().all(u8::is_ascii_digit) && (b'1'..=b'5').contains(&digits[0]) {
        let following = text.as_bytes().get(3);
        if following.is_none_or(|byte| !byte.is_ascii_digit()) {
            return Some(digits[0] - b'0');
        }
    }
    None
}

/// The request and status of an access log line (`… "GET /x?y=1 HTTP/1.1" 503 …`: nginx,
/// Apache, Envoy and most ingress controllers write it so).
#[derive(Debug, PartialEq)]
struct AccessLine<'a> {
    method: &'a str,
    path: &'a str,
    status_class: u8,
}

impl<'a> AccessLine<'a> {
    fn read(text: &'a str) -> Option<Self> {
        static HTTP: std::sync::LazyLock<memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memmem::Finder::new(b" HTTP/"));
        let position = HTTP.find(text.as_bytes())?;
        let open = text[..position].rfind('"')?;
        let (method, path) = text[open + 1..position].split_once(' ')?;
        if method.is_empty() || !method.bytes().all(|byte| byte.is_ascii_uppercase()) {
            return None;
        }
        let rest = &text[position..];
        let close = rest.find("\" ")?;
        let status_class = status_class_of(&rest[close + 2..])?;
        Some(AccessLine { method, path: path.trim(), status_class })
    }
}

/// A request path as a template: no query string, segments holding digits as `<*>`.
fn normalize_path(path: &str, out: &mut String) {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    for (index, segment) in path.split('/').enumerate().take(8) {
        if index > 0 {
            out.push('/');
        }
        if segment.bytes().any(|byte| byte.is_ascii_digit()) || segment.len() > 40 {
            out.push_str("<*>");
        } else {
            out.push_str(segment);
        }
    }
}

/// The severity a level field's value names (`"error"`, `WARN`, `E`, pino's and bunyan's
/// numbers: 40 warn, 50 error, 60 fatal); a value of no known level is info.
fn level_severity(level: &str) -> Option<Severity> {
    let level = level.trim();
    if let Ok(number) = level.parse::<u32>() {
        return Some(match number {
            40..=49 => Severity::Warn,
            50.. => Severity::Error,
            _ => Severity::Info,
        });
    }
    Some(level_word(level.as_bytes()).unwrap_or(Severity::Info))
}

/// How many bytes of a line's head the level grammar reads (after ANSI codes are removed).
const LEVEL_HEAD_BYTES: usize = 200;
/// How many header words (pieces holding two letters: host, program, logger, thread, month
/// names) the level may follow before the message is taken to have begun.
const LEVEL_HEADER_WORDS: usize = 5;

/// The severity a line's layout gives it, if its layout has a level: where loggers put it,
/// not a word anywhere in the message.
///
/// `from` is where the header starts (after a leading time the digest already read, else
/// 0). Recognised, on the line with ANSI colour codes removed:
/// - a syslog priority `<3>` opening the line (severity = priority mod 8), a klog header
///   `E0102 ` opening it;
/// - within the header, before its [`LEVEL_HEADER_WORDS`]th word: a `level=`/`lvl=`/
///   `severity=` field; an upper-case level word, bare, bracketed or before `:`
///   (`ERROR`, `[WARN ]`, `ERROR:`, `WARNING:root:`), or after a dot (`app.ERROR:`,
///   Monolog's `<channel>.<LEVEL>`); a level word of any case in brackets (`[error]`); a
///   level letter of logcat and glog (`E`, `W`); as the header's first word, a level word
///   of any case before a colon (`error: …`).
///
/// The first one found decides, so an `INFO` line whose message mentions `Error` is info.
pub fn layout_severity(text: &str, from: usize) -> Option<Severity> {
    let mut buffer = [0u8; LEVEL_HEAD_BYTES];
    let line = strip_ansi(text.as_bytes(), &mut buffer);
    if let Some(severity) = line_start_severity(line) {
        return Some(severity);
    }
    // `from` counts bytes of `text`; ANSI codes are rare enough before a time to ignore.
    let header = line.get(from.min(line.len())..).unwrap_or_default();
    let mut n_words = 0;
    let mut index = 0;
    while index < header.len() && n_words < LEVEL_HEADER_WORDS {
        let opened = index > 0 && matches!(header[index - 1], b'[' | b'<' | b'(');
        let start = index;
        while index < header.len() && !is_level_delimiter(header[index]) {
            index += 1;
        }
        let closed = header.get(index).is_some_and(|byte| matches!(byte, b']' | b'>' | b')'));
        let piece = &header[start..index];
        index += 1;
        if piece.is_empty() {
            continue;
        }
        if let Some(severity) = piece_severity(piece, opened && closed, n_words == 0) {
            return Some(severity);
        }
        if piece.iter().filter(|byte| byte.is_ascii_alphabetic()).count() >= 2 {
            n_words += 1;
        }
    }
    None
}

fn is_level_delimiter(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'[' | b']' | b'<' | b'>' | b'(' | b')' | b'|' | b'{' | b'}' | b'"')
}

/// A syslog priority (`<11>`) or a klog header (`E0209 `) opening the line.
fn line_start_severity(line: &[u8]) -> Option<Severity> {
    if let [b'<', rest @ ..] = line {
        let n_digits = rest.iter().take(4).take_while(|byte| byte.is_ascii_digit()).count();
        if (1..=3).contains(&n_digits) && rest.get(n_digits) == Some(&b'>') {
            let priority: u32 = std::str::from_utf8(&rest[..n_digits]).ok()?.parse().ok()?;
            return Some(match priority % 8 {
                0..=3 => Severity::Error,
                4 => Severity::Warn,
                _ => Severity::Info,
            });
        }
    }
    if let [level @ (b'I' | b'W' | b'E' | b'F'), digits @ ..] = line
        && digits.len() > 4
        && digits[..4].iter().all(u8::is_ascii_digit)
        && digits[4] == b' '
    {
        return Some(match level {
            b'W' => Severity::Warn,
            b'I' => Severity::Info,
            _ => Severity::Error,
        });
    }
    None
}

/// The severity one header piece states, if any (see [`layout_severity`]).
fn piece_severity(piece: &[u8], bracketed: bool, first_word: bool) -> Option<Severity> {
    if let Some(equals) = memchr::memchr(b'=', piece) {
        let key = &piece[..equals];
        if [&b"level"[..], b"lvl", b"severity", b"loglevel"].iter().any(|name| key.eq_ignore_ascii_case(name)) {
            let value = std::str::from_utf8(&piece[equals + 1..]).ok()?;
            return level_severity(value.trim_matches(|c: char| c == '"' || c == '\'' || c == ','));
        }
        return None;
    }
    // `ERROR:`, `WARNING:root:msg`: the level is before the first colon.
    let (core, colon) = match memchr::memchr(b':', piece) {
        Some(at) => (&piece[..at], true),
        None => (piece.strip_suffix(b",").unwrap_or(piece), false),
    };
    // `app.ERROR`: a channel before the level.
    let word = core.rsplit(|byte| *byte == b'.').next().unwrap_or(core);
    let severity = level_word(word)?;
    let upper = word.iter().all(u8::is_ascii_uppercase);
    let accepted = if word.len() == 1 {
        // A level letter (`E`, `W`) stands alone in the header, as logcat and glog write it.
        core.len() == 1 && !colon
    } else {
        upper || bracketed || (colon && first_word && core.len() == word.len())
    };
    accepted.then_some(severity)
}

/// A level word or letter of any case: what it means.
fn level_word(word: &[u8]) -> Option<Severity> {
    let mut lower = [0u8; 9];
    if word.is_empty() || word.len() > lower.len() || !word.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    lower[..word.len()].copy_from_slice(word);
    lower.make_ascii_lowercase();
    Some(match &lower[..word.len()] {
        b"error" | b"err" | b"fatal" | b"critical" | b"crit" | b"panic" | b"alert" | b"emerg" | b"emergency"
        | b"severe" | b"e" | b"f" => Severity::Error,
        b"warn" | b"warning" | b"w" => Severity::Warn,
        b"info" | b"notice" | b"log" | b"debug" | b"trace" | b"verbose" | b"fine" | b"finer" | b"finest"
        | b"config" | b"i" | b"d" | b"v" => Severity::Info,
        _ => return None,
    })
}

/// The first bytes of `line` (at most the buffer's length) without ANSI escape sequences
/// (`ESC [ … letter`), as coloured console loggers write levels.
fn strip_ansi<'a>(line: &'a [u8], buffer: &'a mut [u8; LEVEL_HEAD_BYTES]) -> &'a [u8] {
    let head = &line[..line.len().min(LEVEL_HEAD_BYTES)];
    if memchr::memchr(0x1b, head).is_none() {
        return head;
    }
    let mut length = 0;
    let mut index = 0;
    while index < line.len() && length < buffer.len() {
        if line[index] == 0x1b && line.get(index + 1) == Some(&b'[') {
            index += 2;
            while index < line.len() && !line[index].is_ascii_alphabetic() {
                index += 1;
            }
            index += 1;
            continue;
        }
        buffer[length] = line[index];
        length += 1;
        index += 1;
    }
    &buffer[..length]
}

/// The severity of a message whose stream has no levels: by its words (`failed`,
/// `IOException`, `timed out`: see [`has_error_word`]).
fn message_severity(message: &str) -> Severity {
    if has_error_word(message) { Severity::Error } else { Severity::Info }
}

/// An error word anywhere in the line: `failed`, `IOException`, `timeout`, `refused`, …
/// Whole words only, so `Errorless` and `terror` do not count.
pub fn has_error_word(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "error",
        "errors",
        "errored",
        "fatal",
        "panic",
        "panicked",
        "timeout",
        "timeouts",
        "refused",
        "denied",
        "unavailable",
        "unreachable",
        "crash",
        "crashed",
        "crashloopbackoff",
        "oomkilled",
        "abort",
        "aborted",
    ];
    let lower = truncate(text, 600).to_ascii_lowercase();
    lower.contains("timed out")
        || lower.contains("out of memory")
        || lower
            .split(|character: char| !character.is_ascii_alphanumeric())
            .any(|word| WORDS.contains(&word) || word.starts_with("fail") || word.ends_with("exception"))
}

fn truncate(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_bare_id(line: &str, expected: Option<&str>) {
        assert_eq!(
            bare_id(line.as_bytes()).map(|id| String::from_utf8_lossy(id).into_owned()).as_deref(),
            expected,
            "{line}"
        );
    }

    #[test]
    fn bare_request_and_trace_ids() {
        // nginx with `$request_id` last.
        check_bare_id(
            r#"10.0.3.17 - - [09/Feb/2025:10:05:23 +0000] "GET /api HTTP/1.1" 503 33 "-" "curl/8" 4f6c2a9e81d7b03c5e2f1a6d9b8c7e40"#,
            Some("4f6c2a9e81d7b03c5e2f1a6d9b8c7e40"),
        );
        check_bare_id(
            "handled 3b241101-e2bb-4255-8caf-4136c566a962 in 12ms",
            Some("3b241101-e2bb-4255-8caf-4136c566a962"),
        );
        check_bare_id(
            "traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 upstream ok",
            Some("0af7651916cd43dd8448eb211c80319c"),
        );
        // Numbers, words, short hashes and 64-digit digests are not ids.
        check_bare_id("took 1739095523123456 us", None);
        check_bare_id("pulled sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", None);
        check_bare_id("rolled to api-7d9f8b6c5 deadbeef", None);
        check_bare_id("facade cafe decade", None);
    }
    use crate::record::{SourceKind, Stream};

    #[track_caller]
    fn check_level(line: &str, expected: Option<Severity>) {
        assert_eq!(layout_severity(line, 0), expected, "{line:?}");
    }

    #[test]
    fn levels_come_from_where_the_layout_puts_them() {
        use Severity::{Error, Info, Warn};
        let rows: &[(&str, Option<Severity>)] = &[
            // Java/Python, Go, klog.
            ("2025-02-09 10:05:23,123 ERROR [main] c.e.Foo - boom", Some(Error)),
            ("2025-02-09 18:40:01,263 INFO  [http-nio-8080-exec-7] c.e.payments.Gateway - charge ok", Some(Info)),
            ("2025-02-09 10:05:23 INFO order placed, Error budget at 3%", Some(Info)),
            ("2025/02/09 10:05:23 WARN disk almost full", Some(Warn)),
            ("WARNING:root:low disk space", Some(Warn)),
            ("2025/02/09 10:05:23 error: dial tcp 10.0.0.7:5432: connect: connection refused", Some(Error)),
            ("E0209 10:05:23.123456       1 controller.go:12] sync failed", Some(Error)),
            ("W0209 10:05:23.123456       1 reflector.go:12] watch closed", Some(Warn)),
            ("I0209 10:05:23.123456       1 pod_workers.go:1] Error syncing pod, requeuing", Some(Info)),
            // PostgreSQL.
            (r#"2025-02-09 10:05:23.123 UTC [4711] ERROR:  relation "orders" does not exist"#, Some(Error)),
            (
                r#"2025-02-09 10:05:23.123 UTC [4711] FATAL:  password authentication failed for user "app""#,
                Some(Error),
            ),
            ("2025-02-09 10:05:23.123 UTC [4711] LOG:  checkpoint starting: time", Some(Info)),
            // Monolog's `<channel>.<LEVEL>`.
            (r#"[2025-02-09 10:05:23] app.ERROR: Uncaught exception {"exception":"x"} []"#, Some(Error)),
            (r#"[2025-02-09 10:05:23] request.INFO: Matched route "error_page" [] []"#, Some(Info)),
            // nginx error log, Apache, Envoy, Elasticsearch, Kafka.
            (
                "2025/02/09 10:05:23 [error] 31#31: *7 connect() failed (111: Connection refused) while connecting",
                Some(Error),
            ),
            ("2025/02/09 10:05:23 [notice] 1#1: signal process started", Some(Info)),
            ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6", Some(Error)),
            (
                "[2025-02-09 10:05:23.123][12][warning][upstream] [source/cm_impl.cc:1] cm init: all clusters",
                Some(Warn),
            ),
            (
                "[2025-02-09T10:05:23,123][WARN ][o.e.c.r.a.DiskThresholdMonitor] [node-1] high disk watermark",
                Some(Warn),
            ),
            ("[2025-02-09 10:05:23,123] ERROR [ReplicaFetcher replicaId=1] Error for partition t-0", Some(Error)),
            ("[2025-02-09 10:05:23,123] INFO [Log partition=t-0] Deleting segment, error count 0", Some(Info)),
            // logfmt fields, ANSI colours, syslog priorities, logcat letters.
            (r#"time="2025-02-09T10:05:23Z" level=error msg="pull failed""#, Some(Error)),
            (r#"2025-02-09T10:05:23Z level=info msg="retrying after error""#, Some(Info)),
            ("\x1b[31mERROR\x1b[0m 2025-02-09 10:05:23 payment declined", Some(Error)),
            ("2025-02-09 10:05:23 \x1b[1;32mINFO\x1b[0m retried the failed request", Some(Info)),
            ("<11>Feb  9 10:05:23 host app[12]: disk gone", Some(Error)),
            ("<12>Feb  9 10:05:23 host app[12]: disk filling", Some(Warn)),
            ("<30>Feb  9 10:05:23 host systemd[1]: Started Error Reporting", Some(Info)),
            ("03-17 16:13:38.811  1702  2395 E WindowManager: removeWindow failed", Some(Error)),
            ("03-17 16:13:38.811  1702  2395 D WindowManager: error flag cleared", Some(Info)),
            // No level: words in the message do not make one.
            ("2025-02-09 10:05:23 connection reset, Error: broken pipe", None),
            ("Feb  9 10:05:23 host sshd[12]: Failed password for root", None),
            ("2025-02-09 10:05:23 user=error logged in", None),
            ("java.io.IOException: broken pipe", None),
            ("Info: Errorless run of terrors", Some(Info)),
        ];
        for &(line, expected) in rows {
            check_level(line, expected);
        }
    }

    /// The severity the digest gives each line's template, lines of one stream in order.
    #[track_caller]
    fn check_stream(lines: &[&str], expected: &[Severity]) {
        let window = crate::timeline::Window {
            start: "2025-02-09T09:00:00Z".parse().unwrap(),
            baseline_end: "2025-02-09T10:00:00Z".parse().unwrap(),
            end: "2025-02-09T11:00:00Z".parse().unwrap(),
        };
        let config = DigestConfig {
            window,
            time_context: TimeContext { window: Some((window.start, window.end)), ..TimeContext::default() },
            offset_hint_nanos: 0,
            request_id_fields: Vec::new(),
        };
        let source = Source { kind: SourceKind::Logs, stream: Stream::File("x.log".to_owned()), node: None };
        let mut digest = LogDigest::new(source, config);
        let mut severities = Vec::new();
        for line in lines {
            // Every line here is a template of its own, so the last stats are its.
            digest.push(None, line);
            severities.push(digest.stats.last().map(|stats| stats.severity));
        }
        let expected: Vec<Option<Severity>> = expected.iter().copied().map(Some).collect();
        assert_eq!(severities, expected, "{lines:?}");
    }

    #[test]
    fn streams_without_levels_are_judged_by_their_messages() {
        use Severity::{Error, Info};
        check_stream(
            &[
                "2025-02-09 10:05:23 INFO started",
                "2025-02-09 10:05:24 INFO upstream connection refused, retrying",
                "2025-02-09 10:05:25 ERROR upstream gone",
            ],
            &[Info, Info, Error],
        );
        check_stream(
            &["2025-02-09 10:05:23 started worker 1", "2025-02-09 10:05:24 upstream connection refused"],
            &[Info, Error],
        );
    }

    #[track_caller]
    fn check_structured(line: &str, message: Option<&str>, severity: Option<Severity>, status: Option<u8>) {
        let structured = Structured::read(line);
        assert_eq!(
            (structured.message, structured.severity, structured.status_class),
            (message, severity, status),
            "{line}"
        );
    }

    #[test]
    fn structured_lines() {
        check_structured(
            r#"{"ts":"2025-02-09T10:05:23Z","level":"error","msg":"reservation failed: \"sku\" gone","status":503}"#,
            Some(r#"reservation failed: \"sku\" gone"#),
            Some(Severity::Error),
            Some(5),
        );
        check_structured(
            r#"{"time": 1739095523, "message": "ok", "severity": "INFO"}"#,
            Some("ok"),
            Some(Severity::Info),
            None,
        );
        check_structured(
            r#"level=warn ts=2025-02-09T10:05:23Z msg="slow query" status=200"#,
            Some("slow query"),
            Some(Severity::Warn),
            Some(2),
        );
        check_structured(
            r#"{"ts":1.5,"ctx":{"msg":"inner","a":[1,"]"]},"msg":"outer","level":"warn"}"#,
            Some("outer"),
            Some(Severity::Warn),
            None,
        );
        check_structured(
            r#"{"time":1739095523000,"level":50,"msg":"boom"}"#,
            Some("boom"),
            Some(Severity::Error),
            None,
        );
        check_structured(r#"{"msg":"truncated"#, None, None, None);
        check_structured("plain text line", None, None, None);
    }

    #[track_caller]
    fn check_access(line: &str, expected: Option<(&str, &str, u8)>) {
        let read = AccessLine::read(line).map(|access| {
            let mut path = String::new();
            normalize_path(access.path, &mut path);
            (access.method.to_owned(), path, access.status_class)
        });
        let expected = expected.map(|(method, path, class)| (method.to_owned(), path.to_owned(), class));
        assert_eq!(read, expected, "{line}");
    }

    #[test]
    fn access_log_lines() {
        check_access(
            r#"10.0.3.17 - - [09/Feb/2025:10:05:23 +0000] "POST /api/checkout HTTP/1.1" 500 93 "-" "curl/8""#,
            Some(("POST", "/api/checkout", 5)),
        );
        check_access(
            r#"10.0.3.17 - - [09/Feb/2025:10:05:23 +0000] "GET /orders/8812/items?page=2 HTTP/2.0" 204 0 "-" "-""#,
            Some(("GET", "/orders/<*>/items", 2)),
        );
        check_access(
            r#"[2025-02-09T10:05:23.000Z] "GET /healthz HTTP/1.1" 503 UH 0 0 0 - "-""#,
            Some(("GET", "/healthz", 5)),
        );
        check_access(r#"GET / HTTP/1.1 took 5003 ms"#, None);
        check_access(r#"said "hello HTTP/1.1" 200"#, None);
    }

    #[track_caller]
    fn check_shape(left: &str, right: &str, same: bool) {
        assert_eq!(shape_hash(left) == shape_hash(right), same, "{left:?} vs {right:?}");
    }

    #[test]
    fn shapes_ignore_what_the_miner_masks() {
        check_shape("took 41 ms for id=ab12cd", "took 7 ms for id=9f00ee", true);
        check_shape("from 10.0.3.17:5432  ok", "from 10.0.0.1:80 ok", true);
        check_shape("user alice logged in", "user bob logged in", false);
        check_shape("took 41 ms", "took 41 s", false);
        check_shape("GET /a/1", "GET /b/1", false);
    }

    #[test]
    fn rhythm_quantiles_bound_the_spacing() {
        let mut rhythm = Rhythm::default();
        for _ in 0..99 {
            rhythm.push(1_000_000_000);
        }
        rhythm.push(300_000_000_000);
        let p50 = rhythm.quantile_nanos(0.5).unwrap();
        assert!((1_000_000_000..1_300_000_000).contains(&p50), "{p50}");
        let max = rhythm.quantile_nanos(1.0).unwrap();
        assert!(max >= 300_000_000_000, "{max}");
    }

    #[test]
    fn request_id_sample_is_consistent_across_streams() {
        let mut first = RequestIds::default();
        let mut second = RequestIds::default();
        for id in 0..100_000u64 {
            first.offer(format!("req-{id:08}").as_bytes(), id as i64);
            if id % 2 == 0 {
                second.offer(format!("req-{id:08}").as_bytes(), id as i64 + 5);
            }
        }
        let shared = first.first_seen.keys().filter(|hash| second.first_seen.contains_key(hash)).count();
        assert!(shared > REQUEST_ID_SAMPLE / 4, "{shared} shared ids");
        assert!(first.first_seen.len() <= 2 * REQUEST_ID_SAMPLE);
    }
}
