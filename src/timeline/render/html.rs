//! The timeline as one server-rendered HTML page, readable without JavaScript, flags and
//! gaps shown plainly.

use std::fmt::Write;

use crate::timeline::{Kind, Millis, Timeline, human_offset};

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
    out.push_str(
        "<h2>Timeline (all times UTC)</h2>\n<table><tr><th>Time</th><th>Event</th><th>Source</th><th>Actor</th></tr>\n",
    );
    for entry in &timeline.entries {
        let class = if entry.kind == Kind::Gap { " class=\"gap\"" } else { "" };
        let _ = write!(out, "<tr{class}><td>{}</td><td>{}", Millis(entry.time), escape(&entry.event));
        if entry.count > 1 {
            let _ = write!(out, " (×{})", entry.count);
        }
        for flag in &entry.flags {
            let _ = write!(out, "<span class=\"flag\">{}</span>", flag.name());
        }
        if let Some(recorded) = entry.recorded_time {
            let _ = write!(out, " <small>recorded {}</small>", Millis(recorded));
        }
        if let Some(example) = &entry.example {
            let _ = write!(out, "<br><code>{}</code>", escape(example));
        }
        let _ = writeln!(
            out,
            "</td><td>{}</td><td>{}</td></tr>",
            escape(&entry.source),
            escape(entry.actor.as_deref().unwrap_or("-"))
        );
    }
    out.push_str("</table>\n<h2>Clock skew</h2>\n<table><tr><th>Subject</th><th>Offset</th><th>Evidence</th><th>Samples</th><th>Flagged</th></tr>\n");
    for skew in &timeline.clock_skew {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&skew.subject),
            human_offset(skew.offset_seconds),
            escape(&skew.evidence),
            skew.samples,
            if skew.flagged { "yes" } else { "no" }
        );
    }
    out.push_str(
        "</table>\n<h2>Data gaps</h2>\n<table><tr><th>Source</th><th>From</th><th>To</th><th>Reason</th></tr>\n",
    );
    for gap in &timeline.gaps {
        let _ = writeln!(
            out,
            "<tr class=\"gap\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&gap.source),
            gap.start,
            gap.end,
            escape(&gap.reason)
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

/// Text safe in HTML content and attributes.
pub fn escape(text: &str) -> String {
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
