//! The incident page: one server-rendered HTML document with no script and nothing loaded
//! from anywhere (its one stylesheet is inline, admitted by the Content-Security-Policy's
//! hash; its charts are inline SVG). A header (status, severity, window, impact, the
//! post-mortem's key moments and response times, links to the other views when the daemon
//! serves it), a lane chart of the window ([`svg::lanes`]), a chart per Prometheus query
//! ([`svg::query_chart`]), then the timeline's tables as `timeline::render::html` lays them
//! out. The daemon serves it (`GET /api/v1/incidents/{id}/timeline` as HTML) and
//! `postmortemd draft --format html` writes it as one file.
//!
//! It reads a built `Timeline` and the `PostMortem` drafted from it, nothing else: key
//! moments and response times are the post-mortem's, never computed here again. Every piece
//! of evidence goes through `html::escape` (SVG text, titles and attributes included).

pub mod svg;

use std::fmt::Write;

use crate::postmortem::{self, MomentKind, PostMortem, duration_text};
use crate::timeline::Timeline;
use crate::timeline::render::{self, Format, html, rows};

/// What only the daemon knows of an incident: its status and where its other views are.
/// An offline page has none of it and links nothing.
#[derive(Clone, Debug, Default)]
pub struct Served {
    /// `open` or `resolved`, as the store has it.
    pub status: Option<String>,
    /// The incident's id: its Markdown, JSON, post-mortem and evidence bundle are linked.
    pub incident: Option<i64>,
}

/// The timeline in `format`: the incident page for HTML, else as `timeline::render` writes it.
pub fn render(timeline: &Timeline, format: Format, served: &Served) -> String {
    match format {
        Format::Html => page(timeline, &postmortem::draft(timeline), served),
        other => render::render(timeline, other),
    }
}

/// The incident page of `timeline`, whose post-mortem is `post_mortem`.
pub fn page(timeline: &Timeline, post_mortem: &PostMortem, served: &Served) -> String {
    let mut out = html::head(&timeline.title);
    write_header(&mut out, timeline, post_mortem, served);
    out.push_str("<h2>The window</h2>\n");
    out.push_str(&svg::lanes(timeline));
    if !timeline.series.is_empty() {
        out.push_str("<h2>Metrics</h2>\n<div class=\"charts\">\n");
        for query in &timeline.series {
            out.push_str(&svg::query_chart(timeline, query));
        }
        out.push_str("</div>\n");
    }
    let [entries, skew, gaps, coverage] = rows::tables(timeline);
    let _ = writeln!(out, "<h2>{}</h2>", html::escape(entries.heading));
    html::write_timeline_table(&mut out, timeline, &entries);
    for table in [skew, gaps, coverage] {
        html::write_table(&mut out, &table);
    }
    out.push_str("</body></html>\n");
    out
}

/// Title, status, severity, window, impact, links; the key moments and response times.
fn write_header(out: &mut String, timeline: &Timeline, post_mortem: &PostMortem, served: &Served) {
    let title = if timeline.title.is_empty() { "(untitled incident)" } else { &timeline.title };
    let _ = writeln!(out, "<header>\n<h1>{}</h1>\n<div class=\"facts\">", html::escape(title));
    let status = match (&served.status, post_mortem.moment(MomentKind::Resolved).time) {
        (Some(status), _) => status.clone(),
        (None, Some(_)) => "resolved".to_owned(),
        (None, None) => "not resolved in the window".to_owned(),
    };
    let class = match status.as_str() {
        "open" => "open",
        "resolved" => "resolved",
        _ => "other",
    };
    let _ = write!(out, "<span><b>Status</b><span class=\"status {class}\">{}</span></span>", html::escape(&status));
    let severity = post_mortem.severity.as_deref().unwrap_or("not stated by the evidence");
    let _ = write!(out, "<span><b>Severity</b>{}</span>", html::escape(severity));
    let window = &timeline.window;
    let _ = write!(
        out,
        "<span><b>Window</b>{} – {} UTC ({})</span>",
        window.start.strftime("%F %H:%M:%S"),
        if rows::same_day(window) { window.end.strftime("%H:%M:%S") } else { window.end.strftime("%F %H:%M:%S") },
        duration_text(window.duration().as_secs()),
    );
    match post_mortem.impact_span() {
        Some((start, end)) => {
            let _ = write!(out, "<span><b>Impact</b>{}</span>", html::escape(&postmortem::span_text(start, end)));
        }
        None => out.push_str("<span><b>Impact</b><span class=\"unknown\">start or recovery unknown</span></span>"),
    }
    out.push_str("</div>\n<div class=\"facts\">");
    for interval in &post_mortem.response_times {
        let value = match interval.seconds {
            Some(seconds) => duration_text(seconds),
            None => "unknown".to_owned(),
        };
        let _ = write!(out, "<span><b>{}</b>{value}</span>", html::escape(interval.name));
    }
    out.push_str("</div>\n");
    if let Some(id) = served.incident {
        let base = format!("/api/v1/incidents/{id}");
        let _ = writeln!(
            out,
            "<nav class=\"links\"><a href=\"{base}/timeline?format=md\">Markdown</a><a href=\"{base}/timeline?format=json\">JSON</a>\
<a href=\"{base}/postmortem?format=html\">Post-mortem</a><a href=\"{base}/evidence.tar.gz\">evidence.tar.gz</a><a href=\"/\">All incidents</a></nav>"
        );
    }
    out.push_str("<ul class=\"moments\">");
    for moment in &post_mortem.moments {
        match (moment.time, moment.row) {
            (Some(time), Some(row)) => {
                let _ = write!(
                    out,
                    "<li><b>{}</b> <a href=\"#{}\" title=\"{}\">{}</a></li>",
                    html::escape(moment.kind.name()),
                    html::row_anchor(row),
                    html::escape(&moment.evidence),
                    time.strftime("%H:%M:%S"),
                );
            }
            _ => {
                let _ = write!(
                    out,
                    "<li><b>{}</b> <span class=\"unknown\" title=\"{}\">unknown</span></li>",
                    html::escape(moment.kind.name()),
                    html::escape(&moment.evidence),
                );
            }
        }
    }
    out.push_str("</ul>\n</header>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::render::rows::tests::{check_html_is_inert, hostile_timeline, timeline};

    #[test]
    fn hostile_evidence_renders_inert_on_the_page() {
        for seed in 0..500 {
            let timeline = hostile_timeline(seed);
            let served = Served { status: Some(timeline.entries[0].event.clone()), incident: Some(7) };
            check_html_is_inert(&page(&timeline, &postmortem::draft(&timeline), &served), seed);
            check_html_is_inert(&page(&timeline, &postmortem::draft(&timeline), &Served::default()), seed);
        }
    }

    #[test]
    fn a_marker_per_row_a_shade_per_gap_a_chart_per_query() {
        let timeline = hostile_timeline(1);
        let html = page(&timeline, &postmortem::draft(&timeline), &Served::default());
        assert_eq!(html.matches("class=\"marker").count(), timeline.entries.len(), "{html}");
        for row in 1..=timeline.entries.len() {
            assert!(html.contains(&format!("data-row=\"{row}\"")) && html.contains(&format!("id=\"row-{row}\"")));
        }
        assert_eq!(html.matches("class=\"gap\"").count(), timeline.gaps.len(), "{html}");
        assert_eq!(html.matches("class=\"query-chart\"").count(), timeline.series.len(), "{html}");
        assert_eq!(html.matches("class=\"band\"").count(), 1, "{html}");
        assert_eq!(html.matches("class=\"onset\"").count(), 1, "{html}");
        // The corrected row shows where its source's clock put it.
        assert!(html.contains("(recorded 10:06:30.250 by its source&#39;s clock; corrected)"), "{html}");
        // A break at the NaN: two lines for each of the two series.
        assert_eq!(html.matches("<polyline").count(), 4, "{html}");
        // Offline, nothing is linked that the file does not hold.
        assert!(!html.contains("href=\"/"), "{html}");
        assert!(html.contains(html::meta_policy()), "{html}");
    }

    #[test]
    fn the_daemon_page_links_its_other_views_and_says_its_status() {
        let timeline = timeline();
        let served = Served { status: Some("open".to_owned()), incident: Some(42) };
        let html = page(&timeline, &postmortem::draft(&timeline), &served);
        for link in [
            "/api/v1/incidents/42/timeline?format=md",
            "/api/v1/incidents/42/timeline?format=json",
            "/api/v1/incidents/42/postmortem?format=html",
            "/api/v1/incidents/42/evidence.tar.gz",
        ] {
            assert!(html.contains(&format!("href=\"{link}\"")), "{link}");
        }
        assert!(html.contains("<span class=\"status open\">open</span>"), "{html}");
        assert!(html.contains("<b>Time to detect</b>"), "{html}");
    }
}
