//! The timeline as the Markdown a post-mortem starts from: title, window, the
//! `| Time | Event | Source | Actor |` table with flags on the row, then clock skew and
//! data gaps.

use std::fmt::Write;

use crate::record::Instant;
use crate::timeline::{Flag, Timeline, human_offset, human_value};

pub fn render(timeline: &Timeline) -> String {
    let window = &timeline.window;
    let same_day = window.start.strftime("%F").to_string() == window.end.strftime("%F").to_string();
    let time = |instant: Instant| -> String {
        if same_day { instant.strftime("%H:%M:%S").to_string() } else { instant.strftime("%m-%d %H:%M:%S").to_string() }
    };
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", cell(&timeline.title));
    let _ = writeln!(
        out,
        "Window: {} – {} UTC ({} rows, {} clock findings, {} gaps)\n",
        window.start.strftime("%F %H:%M:%S"),
        if same_day { time(window.end) } else { window.end.strftime("%F %H:%M:%S").to_string() },
        timeline.entries.len(),
        timeline.clock_skew.len(),
        timeline.gaps.len(),
    );
    out.push_str(
        "## Timeline (all times UTC)\n\n| Time | Event | Source | Actor |\n|------|-------|--------|-------|\n",
    );
    for entry in &timeline.entries {
        let mut event = cell(&entry.event);
        if entry.count > 1 && !event.contains('×') {
            let _ = write!(event, " (×{})", entry.count);
        }
        for flag in &entry.flags {
            match flag {
                Flag::ClockSkew => match entry.recorded_time {
                    Some(recorded) => {
                        let _ = write!(event, " ⚠ clock_skew (recorded {})", time(recorded));
                    }
                    None => event.push_str(" ⚠ clock_skew (not corrected)"),
                },
                other => {
                    let _ = write!(event, " ⚠ {}", other.name());
                }
            }
        }
        let actor = entry.actor.as_deref().map_or("-".to_owned(), cell);
        let _ = writeln!(out, "| {} | {} | {} | {} |", time(entry.time), event, cell(&entry.source), actor);
    }
    out.push_str("\n## Clock skew\n\n");
    if timeline.clock_skew.is_empty() {
        out.push_str("No clock evidence in the inputs.\n");
    } else {
        out.push_str("| Subject | Offset | Spread | Evidence | Samples | Flagged |\n|---------|--------|--------|----------|---------|---------|\n");
        for skew in &timeline.clock_skew {
            let _ = writeln!(
                out,
                "| {} | {} | ±{}s | {} | {} | {} |",
                cell(&skew.subject),
                human_offset(skew.offset_seconds),
                human_value(skew.spread_seconds),
                cell(&skew.evidence),
                skew.samples,
                if skew.flagged { "yes" } else { "no" },
            );
        }
    }
    out.push_str("\n## Data gaps\n\n");
    if timeline.gaps.is_empty() {
        out.push_str("No gaps found.\n");
    } else {
        out.push_str("| Source | From | To | Reason |\n|--------|------|----|--------|\n");
        for gap in &timeline.gaps {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&gap.source),
                time(gap.start),
                time(gap.end),
                cell(&gap.reason)
            );
        }
    }
    out
}

/// Text safe inside a table cell: pipes escaped, line breaks folded.
pub fn cell(text: &str) -> String {
    text.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ")
}
