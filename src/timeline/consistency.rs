//! Consistency of the draft: rows the evidence contradicts are flagged `inconsistent`, with
//! what contradicts them in their text, so a reader checks them before trusting them. Some
//! contradictions are found where rows are made (an alert resolved before it fired, a page
//! acknowledged before it was triggered: `extract`, which knows which rows belong
//! together); those of the finished timeline are found here: a row inside a data gap of its
//! own source, a row after the evidence was written.

use jiff::SignedDuration;

use crate::record::Instant;
use crate::timeline::{Entry, Flag, Kind, Timeline};

/// How far a row may lie past the time its evidence was written before it contradicts it:
/// file times are kept to the second on some file systems.
const WRITTEN_SLACK: SignedDuration = SignedDuration::from_secs(2);

/// Flags the rows of a finished timeline that the evidence contradicts.
pub fn check(timeline: &mut Timeline, written_by: Option<Instant>) {
    let gaps = timeline.gaps.clone();
    for entry in timeline.entries.iter_mut().filter(|entry| !matches!(entry.kind, Kind::Gap | Kind::Note)) {
        if let Some(gap) =
            gaps.iter().find(|gap| gap.source == entry.source && gap.start < entry.time && entry.time < gap.end)
        {
            contradict(entry, &format!("inside a data gap of its own source, {}–{}", clock(gap.start), clock(gap.end)));
        }
        if let Some(written) = written_by.filter(|written| entry.time > *written + WRITTEN_SLACK) {
            contradict(
                entry,
                &format!("after the evidence was written at {}: its source's clock or year is off", written),
            );
        }
    }
}

/// Flags a row `inconsistent` and says why after its text.
pub fn contradict(entry: &mut Entry, why: &str) {
    entry.flag(Flag::Inconsistent);
    entry.event.push_str(&format!(" (contradicted: {why})"));
}

fn clock(instant: Instant) -> String {
    instant.strftime("%H:%M:%S").to_string()
}
