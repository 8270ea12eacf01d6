//! The timeline as JSON (docs/timeline-json.md), pretty-printed with a final newline.

use crate::timeline::Timeline;

pub fn render(timeline: &Timeline) -> String {
    // Serializing plain data with string keys cannot fail.
    let mut text = serde_json::to_string_pretty(timeline).unwrap_or_default();
    text.push('\n');
    text
}
