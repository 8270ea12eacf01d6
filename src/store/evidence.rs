//! The types of collection jobs and their evidence, as every backend stores them: one job
//! per incident, claimed with a lease so a crashed daemon's job is picked up again, and the
//! evidence its passes brought back (gzip bodies). Log chunks are stored one at a time as a
//! pass reads them, tagged with the pass's number; the pass's last transaction stores the
//! job's new cursors and counts the pass, and only then do readers see its chunks. So a crash
//! never leaves lines visible without the cursor that skips them next time, and the pass's
//! retry deletes the chunks it left first.

use super::IncidentStatus;
use crate::record::{GapRecord, Instant};

/// A collection job a daemon has claimed, with what it needs to scope the pass.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedJob {
    pub incident_id: i64,
    /// The lease's fencing token: bumped by every claim, so the writes of a pass whose lease
    /// another daemon claimed since (the first one stalled or was presumed dead) are refused.
    pub token: i64,
    pub passes: i64,
    /// Where the collectors resume: their own JSON, opaque to the store (`{}` at first).
    pub cursors: String,
    pub status: IncidentStatus,
    pub opened_at: Instant,
    pub resolved_at: Option<Instant>,
}

/// What a pass brought back, compressed, ready to store.
#[derive(Debug, Default)]
pub struct StoredPass {
    /// `(stream key, uncompressed length, gzip body)`.
    pub logs: Vec<(String, u64, Vec<u8>)>,
    /// `(kind, uid, gzip JSON)`.
    pub objects: Vec<(String, String, Vec<u8>)>,
    /// `(bundle path, gzip body)`.
    pub files: Vec<(String, Vec<u8>)>,
    pub gaps: Vec<GapRecord>,
    /// The collectors' resume state after this pass, JSON (see [`ClaimedJob::cursors`]).
    pub cursors: String,
    /// Snapshots this pass replaced whole: `(file folder, gap source prefix)`, e.g.
    /// `("prometheus/", "prometheus:")`. Earlier files under the folder and gaps of those
    /// sources go first: each pass queries the whole window again.
    pub replaces: Vec<(String, String)>,
}

/// An incident's evidence as stored (bodies still compressed; log chunks only by id, to be
/// fetched one at a time with [`Store::log_chunk`]).
#[derive(Debug, Default)]
pub struct StoredEvidence {
    /// `(chunk id, uncompressed length)` of the log chunks of stored passes, by stream then
    /// in the order they were collected.
    pub logs: Vec<(i64, u64)>,
    /// `(kind, gzip JSON)`, by kind then uid.
    pub objects: Vec<(String, Vec<u8>)>,
    /// `(bundle path, gzip body)`, by path.
    pub files: Vec<(String, Vec<u8>)>,
    pub gaps: Vec<GapRecord>,
}

/// Where an incident's collection stands (`GET /api/v1/incidents/{id}`).
#[derive(Clone, Debug, PartialEq)]
pub struct Collection {
    pub passes: i64,
    pub last_run_at: Option<Instant>,
    pub next_run_at: Instant,
    /// Set once the final pass (after resolution plus the tail) is stored.
    pub finished_at: Option<Instant>,
    /// Gaps the collectors reported so far.
    pub n_gaps: i64,
}

/// When a job runs next, or that it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextRun {
    At(Instant),
    Finished,
}
