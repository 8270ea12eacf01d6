//! The timeline as one server-rendered HTML page, readable without JavaScript, flags and
//! gaps shown plainly: the tables of [`rows`](super::rows), escaped and laid out as HTML.

use std::fmt::Write;

use super::rows::{self, Cell, Event, Table};
use crate::timeline::Timeline;

pub fn render(timeline: &Timeline) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2rem}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}}\
tr.gap{{background:#fff4e0}}.flag{{background:#fdd;border-radius:3px;padding:0 .3rem;margin-left:.3rem}}\
code{{font-size:.85em}}</style></head><body>\n<h1>{title}</h1>\n<p>Window: {start} – {end} (UTC)</p>\n",
        title = escape(&timeline.title),
        start = timeline.window.start,
        end = timeline.window.end,
    );
    for table in &rows::tables(timeline) {
        write_table(&mut out, table);
    }
    out.push_str("</body></html>\n");
    out
}

/// Every table is shown, an empty one with its header only.
fn write_table(out: &mut String, table: &Table) {
    let _ = write!(out, "<h2>{}</h2>\n<table><tr>", escape(table.heading));
    for column in table.columns {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr>\n");
    for row in &table.rows {
        out.push_str(if row.gap { "<tr class=\"gap\">" } else { "<tr>" });
        for value in &row.cells {
            out.push_str("<td>");
            write_cell(out, value);
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// A cell of [`rows`](super::rows) as HTML content (the post-mortem's timeline lays out the
/// same cells).
pub fn write_cell(out: &mut String, value: &Cell) {
    match value {
        Cell::Text(text) => out.push_str(&escape(text)),
        Cell::Time(time) => out.push_str(&escape(&time.timestamp)),
        Cell::Event(event) => write_event(out, event),
    }
}

/// The event (a link to its evidence when it has one) with its count, a badge per flag, the recorded time of a corrected row and
/// the example line.
fn write_event(out: &mut String, event: &Event) {
    match &event.url {
        Some(url) => {
            let _ = write!(out, "<a href=\"{}\" rel=\"noreferrer\">{}</a>", escape(url), escape(&event.text));
        }
        None => out.push_str(&escape(&event.text)),
    }
    out.push_str(&event.count_suffix().unwrap_or_default());
    for flag in &event.flags {
        let _ = write!(out, "<span class=\"flag\">{}</span>", flag.name());
    }
    if let Some(recorded) = &event.recorded {
        let _ = write!(out, " <small>recorded {}</small>", escape(&recorded.timestamp));
    }
    if let Some(example) = &event.example {
        let _ = write!(out, "<br><code>{}</code>", escape(example));
    }
}

/// Text safe in HTML content and attributes: [`rows::printable`], then escaped.
pub fn escape(text: &str) -> String {
    let text = rows::printable(text);
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}
