//! HTML pieces every page shares, readable without JavaScript, flags and gaps shown plainly:
//! the one stylesheet and the Content-Security-Policy that admits it, the escaping of
//! evidence, and the tables of [`rows`](super::rows) laid out as HTML. `render` is the
//! timeline's tables as a page; the incident page (`page::render`) adds its header and charts.

use std::fmt::Write;

use super::rows::{self, Cell, Event, Table};
use crate::timeline::Timeline;

/// The look of every HTML page postmortemd writes (the incident page, the post-mortem, the
/// daemon's index), the one inline `<style>` they carry: [`policy_for`] allows it by its hash. Laid out for a 1400 px window: tables fixed to its width, long text
/// wrapped anywhere, charts scaled to it.
pub const STYLE: &str = "\
*{box-sizing:border-box}\
body{font:14px/1.45 system-ui,sans-serif;color:#1d2430;background:#fff;margin:0 auto;padding:1rem 1.5rem 3rem;max-width:1400px}\
h1{font-size:1.6rem;margin:.4rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #e3e6ea;padding-bottom:.2rem}\
a{color:#1a5fb4}table{border-collapse:collapse;width:100%;table-layout:fixed}\
td,th{border-bottom:1px solid #e3e6ea;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}\
th{background:#f4f6f8;font-weight:600}tr.gap-row{background:#fff4e0}tr.human-row td:first-child{box-shadow:inset 3px 0 #6a4fb3}tr:target{background:#fff7b3}\
td.n{color:#6b7480;text-align:right}td.t{white-space:nowrap;font-variant-numeric:tabular-nums}\
table.timeline col.n{width:3.2rem}table.timeline col.t{width:9.5rem}table.timeline col.s{width:16rem}table.timeline col.a{width:10rem}\
.flag{background:#fde2e1;color:#8a1c17;border-radius:3px;padding:0 .3rem;margin-left:.3rem;font-size:.85em}\
code{font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere}small{color:#6b7480}mark{background:#fe8}\
.facts{display:flex;flex-wrap:wrap;gap:.3rem 1.6rem;margin:.3rem 0 .6rem}.facts b{color:#6b7480;font-weight:600;margin-right:.3rem}\
.status{border-radius:3px;padding:0 .4rem;font-weight:600}.status.open{background:#fde2e1;color:#a51d2d}.status.resolved{background:#dff3e4;color:#26734d}\
nav.links a{margin-right:1rem}.moments{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:.2rem 1rem;padding:0;list-style:none}\
.moments li{overflow-wrap:anywhere}.unknown{color:#6b7480}\
svg{display:block;max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#3d4550}\
svg .lane-name{font-size:12px;fill:#1d2430}svg .axis{stroke:#c9ced4}svg .tick{stroke:#eceff2}\
svg .gap{fill:#f5a623;fill-opacity:.28}svg .missing{fill:#f5a623;fill-opacity:.22}svg .band{fill:#2e9d5b;fill-opacity:.14}\
svg .onset{stroke:#c01c28;stroke-width:1.5;stroke-dasharray:4 3}svg .marker{stroke-width:1}\
svg .marker.corrected{stroke-width:2}svg .moved{stroke:#8a929b;stroke-dasharray:2 2}\
svg a:hover .marker{stroke:#000}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1rem}\
figure.query-chart{margin:0;border:1px solid #e3e6ea;border-radius:4px;padding:.5rem}\
figcaption{font-weight:600;overflow-wrap:anywhere}figcaption code{font-weight:400;color:#6b7480;display:block}\
.legend{list-style:none;padding:0;margin:.3rem 0 0;display:flex;flex-wrap:wrap;gap:.1rem 1rem;font-size:.85em}\
.legend li{display:flex;align-items:center;gap:.3rem;overflow-wrap:anywhere}.legend svg{width:10px;height:10px}\
.key{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;font-size:.85em;margin:.3rem 0}.key span{display:flex;align-items:center;gap:.3rem}.key svg{width:10px;height:10px}\
table.incidents{table-layout:auto}td.title{min-width:16rem}td.open{color:#a51d2d;font-weight:600}td.resolved{color:#26734d}.more{color:#6b7480;font-size:.85em}svg.spark{display:block}nav.pages{margin-top:1rem}";

/// The Content-Security-Policy of a page whose one inline `<style>` holds `style`, as far as a
/// `<meta>` tag can state it: nothing loads (no script, font, frame or connection; images only
/// as `data:`), the stylesheet applies by its SHA-256 hash, forms post only back here. The
/// daemon sends it as a header with `frame-ancestors 'none'` added (`api::pages`, which a
/// `<meta>` cannot state: browsers report it as an error there).
pub fn policy_for(style: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()));
    format!("default-src 'none'; style-src 'sha256-{hash}'; img-src data:; form-action 'self'; base-uri 'none'")
}

/// [`policy_for`] the pages' [`STYLE`], which every page repeats in a `<meta>` tag, so an
/// offline file opened in a browser is held to it too.
pub fn meta_policy() -> &'static str {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| policy_for(STYLE));
    &POLICY
}

/// The start of a page titled `title` (escaped here): doctype, charset, viewport, the
/// policy and [`STYLE`], up to the opened `<body>`.
pub fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n<title>{}</title>\n<style>{STYLE}</style></head><body>\n",
        meta_policy(),
        escape(title)
    )
}

/// The timeline's tables as a page of their own: the title, the window and every table of
/// [`rows::tables`] (the incident page, `page::render`, adds the header and the charts).
pub fn render(timeline: &Timeline) -> String {
    let mut out = head(&timeline.title);
    let _ = write!(
        out,
        "<h1>{title}</h1>\n<p>Window: {start} – {end} (UTC)</p>\n",
        title = escape(&timeline.title),
        start = timeline.window.start,
        end = timeline.window.end,
    );
    let [entries, skew, gaps, coverage] = rows::tables(timeline);
    let _ = writeln!(out, "<h2>{}</h2>", escape(entries.heading));
    write_timeline_table(&mut out, timeline, &entries);
    for table in [skew, gaps, coverage] {
        write_table(&mut out, &table);
    }
    out.push_str("</body></html>\n");
    out
}

/// The anchor of a timeline row (0-based index): `row-N`, N counted from 1 as shown.
pub fn row_anchor(row: usize) -> String {
    format!("row-{}", row + 1)
}

/// The timeline table (the first of [`rows::tables`]), each row numbered and anchored
/// ([`row_anchor`]) for links from charts and moments; times as the clock reads them
/// (`14:03:07`, the date before the first row and where it changes), RFC 3339 on hover.
pub fn write_timeline_table(out: &mut String, timeline: &Timeline, table: &Table) {
    out.push_str("<table class=\"timeline\"><colgroup><col class=\"n\"><col class=\"t\"><col><col class=\"s\"><col class=\"a\"></colgroup>\n<tr><th>#</th>");
    for column in table.columns {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr>\n");
    let mut day = String::new();
    for (index, (row, entry)) in table.rows.iter().zip(&timeline.entries).enumerate() {
        let class = match (row.gap, row.human) {
            (true, _) => " class=\"gap-row\"",
            (false, true) => " class=\"human-row\"",
            (false, false) => "",
        };
        let _ = write!(out, "<tr id=\"{}\"{class}><td class=\"n\">{}</td>", row_anchor(index), index + 1);
        for value in &row.cells {
            match value {
                Cell::Time(time) => {
                    let this_day = entry.time.strftime("%F").to_string();
                    let date = if this_day == day { String::new() } else { format!("<small>{this_day}</small><br>") };
                    day = this_day;
                    let _ = write!(
                        out,
                        "<td class=\"t\" title=\"{}\">{date}{}</td>",
                        escape(&time.timestamp),
                        entry.time.strftime("%H:%M:%S")
                    );
                }
                other => {
                    out.push_str("<td>");
                    write_cell(out, other);
                    out.push_str("</td>");
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// A table under its heading; an empty one says so ([`Table::when_empty`]) or shows its
/// header only.
pub fn write_table(out: &mut String, table: &Table) {
    let _ = writeln!(out, "<h2>{}</h2>", escape(table.heading));
    if let (true, Some(empty)) = (table.rows.is_empty(), table.when_empty) {
        let _ = writeln!(out, "<p>{}</p>", escape(empty));
        return;
    }
    out.push_str("<table><tr>");
    for column in table.columns {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr>\n");
    for row in &table.rows {
        out.push_str(if row.gap { "<tr class=\"gap-row\">" } else { "<tr>" });
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
        Cell::Time(time) => {
            let _ = write!(out, "<span title=\"{}\">{}</span>", escape(&time.timestamp), escape(&time.clock));
        }
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
        let _ = write!(
            out,
            " <small title=\"{}\">recorded {}</small>",
            escape(&recorded.timestamp),
            escape(&recorded.clock)
        );
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
