//! Merging: applies established clock offsets to rows and gaps (keeping the source's own
//! time), marks zone errors, adds a row per gap, orders everything deterministically and
//! cuts to the row limit, saying what was cut.

use std::collections::BTreeMap;

use jiff::SignedDuration;

use crate::record::Stream;
use crate::timeline::extract::WEIGHT_GAP;
use crate::timeline::skew::{node_subject, stream_subject};
use crate::timeline::{Entry, Flag, Gap, Kind, Options, Skew, Timeline, Window};

/// Rows, skews and gaps in; the ordered, corrected, cut timeline out.
pub fn merge(
    title: String,
    window: Window,
    mut entries: Vec<Entry>,
    skews: Vec<Skew>,
    mut gaps: Vec<Gap>,
    options: &Options,
) -> Timeline {
    // The correcting offset of a subject is its strongest flagged clock (not zone) evidence:
    // skews arrive strongest first within a subject.
    let mut corrections: BTreeMap<&str, f64> = BTreeMap::new();
    for skew in skews.iter().filter(|skew| skew.flagged && !skew.zone_error) {
        corrections.entry(skew.subject.as_str()).or_insert(skew.offset_seconds);
    }
    let zone_errors: Vec<&str> =
        skews.iter().filter(|skew| skew.zone_error).map(|skew| skew.subject.as_str()).collect();
    // A row's node speaks for its clock; a stream without a known node speaks for itself.
    let correction_of = |stream: Option<&Stream>, node: Option<&str>| -> Option<f64> {
        node.and_then(|node| corrections.get(node_subject(node).as_str()))
            .or_else(|| stream.and_then(|stream| corrections.get(stream_subject(stream).as_str())))
            .copied()
    };
    for entry in &mut entries {
        if let Some(offset) = correction_of(entry.stream.as_ref(), entry.node.as_deref()) {
            entry.flag(Flag::ClockSkew);
            if options.skew_correction {
                entry.recorded_time = Some(entry.time);
                entry.time = shift(entry.time, offset);
            }
        }
        if entry.kind == Kind::Log
            && let Some(stream) = &entry.stream
            && zone_errors.contains(&stream_subject(stream).as_str())
        {
            entry.flag(Flag::ZoneMismatch);
        }
    }
    for gap in &mut gaps {
        if let Some(offset) =
            correction_of(gap.stream.as_ref(), gap.node.as_deref()).filter(|_| options.skew_correction)
        {
            gap.start = shift(gap.start, offset);
            gap.end = shift(gap.end, offset);
        }
        let mut entry =
            Entry::new(gap.start.max(window.start), Kind::Gap, format!("Data gap: {}", gap.reason), gap.source.clone());
        entry.flag(Flag::Gap);
        entry.weight = WEIGHT_GAP;
        entries.push(entry);
    }
    entries.retain(|entry| window.contains(entry.time) || entry.kind == Kind::Gap || entry.human);
    cut(&mut entries, options.max_entries, &window);
    entries.sort_by(order);
    Timeline { version: 1, title, window, entries, clock_skew: skews, gaps, coverage: Vec::new(), series: Vec::new() }
}

/// Subtracts an offset (subject minus reference) from a subject's time.
fn shift(time: jiff::Timestamp, offset_seconds: f64) -> jiff::Timestamp {
    time.checked_sub(SignedDuration::from_secs_f64(offset_seconds)).unwrap_or(time)
}

/// Chronological; equal instants by kind, source, then text.
fn order(left: &Entry, right: &Entry) -> std::cmp::Ordering {
    left.time
        .cmp(&right.time)
        .then(left.kind.cmp(&right.kind))
        .then_with(|| left.source.cmp(&right.source))
        .then_with(|| left.event.cmp(&right.event))
}

/// Keeps the `max_entries` rows that matter most and puts a note in place of the rest.
fn cut(entries: &mut Vec<Entry>, max_entries: usize, window: &Window) {
    if entries.len() <= max_entries {
        return;
    }
    let keep = max_entries.saturating_sub(1);
    entries.sort_by(|left, right| {
        right.weight.cmp(&left.weight).then(right.count.cmp(&left.count)).then_with(|| order(left, right))
    });
    let cut_entries = entries.split_off(keep);
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in &cut_entries {
        *by_kind.entry(entry.kind.name()).or_default() += 1;
    }
    let detail: Vec<String> = by_kind.iter().map(|(kind, count)| format!("{count} {kind}")).collect();
    let mut note = Entry::new(
        window.start,
        Kind::Note,
        format!(
            "{} more rows left out to keep {max_entries} ({}); raise --max-entries to see them",
            cut_entries.len(),
            detail.join(", ")
        ),
        "postmortemd",
    );
    note.count = cut_entries.len() as u64;
    note.flag(Flag::Truncated);
    entries.push(note);
}
