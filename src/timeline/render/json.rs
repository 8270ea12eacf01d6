//! The timeline as JSON (docs/timeline-json.md), pretty-printed with a final newline.
//! Text is kept as given: controls and bidi controls come as `\uXXXX` escapes, never raw.

use std::fmt::Write;

use super::rows::is_hidden;
use crate::timeline::Timeline;

pub fn render(timeline: &Timeline) -> String {
    to_json(timeline)
}

/// Any document as this module writes the timeline (the post-mortem's JSON too): pretty,
/// hidden characters escaped, a final newline.
pub fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serializing plain data with string keys cannot fail.
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    // serde_json escapes C0 only; DEL, C1 and the bidi controls would pass raw. Outside
    // strings JSON holds none of them, so escaping each where it stands keeps the document
    // valid and the text the same once read.
    let mut escaped = String::with_capacity(text.len() + 1);
    for character in text.chars() {
        if character != '\n' && is_hidden(character) {
            let _ = write!(escaped, "\\u{:04x}", u32::from(character));
        } else {
            escaped.push(character);
        }
    }
    escaped.push('\n');
    escaped
}
