//! The timeline as the Markdown a post-mortem starts from: title, window, then the tables of
//! [`rows`](super::rows) (the `| Time | Event | Source | Actor |` table with flags on the
//! row, clock skew, data gaps), escaped and laid out as Markdown tables.

use std::fmt::Write;

use super::rows::{self, Cell, Event, Table};
use crate::timeline::{Flag, Timeline};

pub fn render(timeline: &Timeline) -> String {
    let window = &timeline.window;
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", cell(&timeline.title));
    let _ = writeln!(
        out,
        "Window: {} – {} UTC ({} rows, {} clock findings, {} gaps)\n",
        window.start.strftime("%F %H:%M:%S"),
        if rows::same_day(window) {
            rows::clock(window, window.end)
        } else {
            window.end.strftime("%F %H:%M:%S").to_string()
        },
        timeline.entries.len(),
        timeline.clock_skew.len(),
        timeline.gaps.len(),
    );
    for (index, table) in rows::tables(timeline).iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        write_table(&mut out, table);
    }
    out
}

fn write_table(out: &mut String, table: &Table) {
    let _ = write!(out, "## {}\n\n", table.heading);
    if let (true, Some(text)) = (table.rows.is_empty(), table.when_empty) {
        let _ = writeln!(out, "{text}");
        return;
    }
    let header: Vec<String> = table.columns.iter().map(|column| format!(" {column} ")).collect();
    let rule: Vec<String> = header.iter().map(|column| "-".repeat(column.chars().count())).collect();
    let _ = writeln!(out, "|{}|\n|{}|", header.join("|"), rule.join("|"));
    for row in &table.rows {
        let cells: Vec<String> = row.cells.iter().map(|value| format!(" {} ", cell_text(value))).collect();
        let _ = writeln!(out, "|{}|", cells.join("|"));
    }
}

/// A cell of [`rows`](super::rows) as Markdown table text (the post-mortem's timeline lays
/// out the same cells).
pub fn cell_text(value: &Cell) -> String {
    match value {
        Cell::Text(text) => cell(text),
        Cell::Time(time) => time.clock.clone(),
        Cell::Event(event) => event_text(event),
    }
}

/// The event with its count (unless the text gives one) and its flags; a clock-corrected
/// row says its recorded time.
fn event_text(event: &Event) -> String {
    let mut text = cell(&event.text);
    text.push_str(&event.count_suffix().unwrap_or_default());
    for flag in &event.flags {
        match (flag, &event.recorded) {
            (Flag::ClockSkew, Some(recorded)) => {
                let _ = write!(text, " ⚠ clock_skew (recorded {})", recorded.clock);
            }
            (Flag::ClockSkew, None) => text.push_str(" ⚠ clock_skew (not corrected)"),
            (other, _) => {
                let _ = write!(text, " ⚠ {}", other.name());
            }
        }
    }
    text
}

/// Text safe inside a table cell and in the title: [`rows::printable`], then every character
/// that could open HTML, an entity, a link, a code span or a new cell neutralised, so no tag,
/// link or autolink can form from evidence. `<`, `>` and `&` become entities (which every
/// Markdown renderer reads as text, unlike `\<`); `[`, `]`, backticks, `|` and `\` are
/// backslash-escaped.
pub fn cell(text: &str) -> String {
    let text = rows::printable(text);
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '\\' | '|' | '[' | ']' | '`' => {
                escaped.push('\\');
                escaped.push(character);
            }
            other => escaped.push(other),
        }
    }
    escaped
}
