//! The post-mortem as Markdown, HTML or JSON. The document is laid out once, as blocks of
//! spans ([`blocks`]); Markdown and HTML only escape and lay them out, with the timeline's own
//! escaping (`markdown::cell`, `html::escape`, both through `rows::printable`) and its row
//! model for the timeline table. JSON is the [`PostMortem`] with the timeline's JSON inside.

use std::fmt::Write;

use serde::Serialize;

use super::{FactorGroup, MomentKind, PLACEHOLDER, PostMortem, duration_text, span_text};
use crate::timeline::render::rows;
use crate::timeline::render::{Format, html, json, markdown};
use crate::timeline::{Timeline, human_value};

/// The post-mortem of `timeline` in `format`.
pub fn render(timeline: &Timeline, post_mortem: &PostMortem, format: Format) -> String {
    match format {
        Format::Markdown => to_markdown(&blocks(timeline, post_mortem), timeline),
        Format::Html => to_html(&blocks(timeline, post_mortem), timeline, post_mortem),
        Format::Json => {
            #[derive(Serialize)]
            struct Document<'a> {
                version: u32,
                #[serde(flatten)]
                post_mortem: &'a PostMortem,
                timeline: &'a Timeline,
            }
            json::to_json(&Document { version: 1, post_mortem, timeline })
        }
    }
}

/// A piece of text in the document.
#[derive(Clone, Debug, PartialEq)]
pub enum Span {
    /// Text, escaped for the format (evidence may be in it).
    Text(String),
    /// Bold text of ours (field names).
    Strong(&'static str),
    /// A link to a timeline row (0-based index), shown as `row N`.
    Row(usize),
    /// What the authors must fill: `TODO(owner)`.
    Todo(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    Title(String),
    Heading(u8, &'static str),
    Paragraph(Vec<Span>),
    List(Vec<Vec<Span>>),
    Table {
        columns: &'static [&'static str],
        rows: Vec<Vec<Vec<Span>>>,
    },
    /// The draft's timeline table, each row numbered and anchored.
    Timeline,
}

fn text(value: impl Into<String>) -> Span {
    Span::Text(value.into())
}

/// Rows a statement rests on: ` (row 3, row 7)`.
fn with_rows(mut spans: Vec<Span>, row_indexes: &[usize]) -> Vec<Span> {
    if row_indexes.is_empty() {
        return spans;
    }
    spans.push(text(" ("));
    for (position, row) in row_indexes.iter().enumerate() {
        if position > 0 {
            spans.push(text(", "));
        }
        spans.push(Span::Row(*row));
    }
    spans.push(text(")"));
    spans
}

/// The document, in reading order.
pub fn blocks(timeline: &Timeline, post_mortem: &PostMortem) -> Vec<Block> {
    let mut blocks = Vec::new();
    let date = post_mortem.date.map(|date| date.strftime("%F").to_string()).unwrap_or_else(|| "unknown date".into());
    blocks.push(Block::Title(format!("Post-Mortem: {} ({date})", post_mortem.what)));
    let field = |name: &'static str, value: Vec<Span>| {
        let mut spans = vec![Span::Strong(name), text(" ")];
        spans.extend(value);
        spans
    };
    let duration = match post_mortem.impact_span() {
        Some((start, end)) => vec![text(span_text(start, end))],
        None => vec![text("unknown: the evidence does not show both the impact start and the recovery")],
    };
    blocks.push(Block::List(vec![
        field("ID:", vec![text(post_mortem.id.clone())]),
        field("Date:", vec![text(date.clone())]),
        field("Duration:", duration),
        field(
            "Severity:",
            vec![text(
                post_mortem
                    .severity
                    .clone()
                    .unwrap_or_else(|| "unknown: no alert severity label or PagerDuty priority".into()),
            )],
        ),
        field("Authors:", vec![Span::Todo("authors")]),
        field("Report date:", vec![Span::Todo("report date, YYYY-MM-DD, within 48 h of the incident's end")]),
        field("Reviewed:", vec![Span::Todo("follow-up review date, YYYY-MM-DD")]),
        field("Status:", vec![text("draft")]),
    ]));

    blocks.push(Block::Heading(2, "Key moments and response times (UTC)"));
    let mut moment_rows = Vec::new();
    for kind in MomentKind::ALL {
        let moment = post_mortem.moment(kind);
        let time = match moment.time {
            Some(time) => text(rows::clock(&timeline.window, time)),
            None => text("unknown"),
        };
        let evidence = match moment.row {
            Some(row) => vec![Span::Row(row), text(format!(": {}", moment.evidence))],
            None => vec![text(moment.evidence.clone())],
        };
        moment_rows.push(vec![vec![text(kind.name())], vec![time], evidence]);
    }
    for interval in &post_mortem.response_times {
        let value = interval.seconds.map_or_else(|| "unknown".to_owned(), duration_text);
        moment_rows.push(vec![
            vec![text(interval.name)],
            vec![text(value)],
            vec![text(format!("{} → {}", interval.from.name(), interval.to.name()))],
        ]);
    }
    blocks.push(Block::Table { columns: &["Moment", "Time", "Evidence"], rows: moment_rows });

    blocks.push(Block::Heading(2, "Summary"));
    blocks.push(Block::Paragraph(vec![Span::Todo(
        "rewrite this summary in your own words; it is drafted from the evidence",
    )]));
    blocks.push(Block::Paragraph(vec![text(post_mortem.summary.clone())]));

    blocks.push(Block::Heading(2, "Impact"));
    let impact = &post_mortem.impact;
    let mut items = Vec::new();
    for counted in &impact.log_errors {
        items.push(with_rows(
            vec![text(format!("{} {} in {} during the incident", counted.count, counted.what, counted.source))],
            &[counted.row],
        ));
    }
    for measured in &impact.metrics {
        items.push(with_rows(
            vec![text(format!("≈ {} events: {} ({})", human_value(measured.value), measured.query, measured.how))],
            &[measured.row],
        ));
    }
    for (name, values) in [("Services", &impact.services), ("Pods", &impact.pods), ("Namespaces", &impact.namespaces)] {
        if !values.is_empty() {
            items.push(vec![text(format!("{name} affected: {}", values.join(", ")))]);
        }
    }
    items.push(vec![text("Customers affected: "), Span::Todo("customers affected")]);
    items.push(vec![text("Revenue impact: "), Span::Todo("revenue impact")]);
    blocks.push(Block::List(items));

    blocks.push(Block::Heading(2, "Contributing factors"));
    blocks.push(Block::Paragraph(vec![text(
        "Candidates drawn from the evidence, not conclusions: keep, rewrite or strike each (~~like this~~), and add what the evidence cannot show.",
    )]));
    for group in [FactorGroup::Immediate, FactorGroup::Contributing, FactorGroup::Systemic] {
        blocks.push(Block::Heading(3, group.name()));
        let items: Vec<Vec<Span>> = post_mortem
            .factors
            .iter()
            .filter(|factor| factor.group == group)
            .map(|factor| with_rows(vec![text(factor.text.clone())], &factor.rows))
            .collect();
        if items.is_empty() {
            blocks.push(Block::Paragraph(vec![text("No candidate from the evidence.")]));
        } else {
            blocks.push(Block::List(items));
        }
    }

    blocks.push(Block::Heading(2, "Timeline (all times UTC)"));
    blocks.push(Block::Timeline);

    blocks.push(Block::Heading(2, "Action items"));
    let action_rows = post_mortem
        .actions
        .iter()
        .map(|item| {
            vec![
                vec![text(item.id.clone())],
                with_rows(vec![text(item.action.clone())], &item.rows),
                vec![Span::Todo("owner")],
                vec![Span::Todo("deadline")],
                vec![text(item.priority)],
            ]
        })
        .collect();
    blocks.push(Block::Table { columns: &["ID", "Action", "Owner", "Deadline", "Priority"], rows: action_rows });

    blocks.push(Block::Heading(2, "What went well"));
    if post_mortem.went_well.is_empty() {
        blocks.push(Block::Paragraph(vec![Span::Todo("what went well")]));
    } else {
        blocks.push(Block::List(post_mortem.went_well.iter().map(|line| vec![text(line.clone())]).collect()));
    }
    blocks.push(Block::Heading(2, "Lessons learned"));
    blocks.push(Block::Paragraph(vec![Span::Todo(
        "lessons learned: what went wrong, where the team got lucky, what the systems should do differently",
    )]));
    blocks
}

fn markdown_spans(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(value) => out.push_str(&markdown::cell(value)),
            Span::Strong(value) => {
                let _ = write!(out, "**{value}**");
            }
            Span::Row(row) => {
                let _ = write!(out, "[row {}](#{})", row + 1, html::row_anchor(*row));
            }
            Span::Todo(what) => {
                let _ = write!(out, "{PLACEHOLDER}({what})");
            }
        }
    }
    out
}

fn to_markdown(blocks: &[Block], timeline: &Timeline) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Title(title) => {
                let _ = writeln!(out, "# {}\n", markdown::cell(title));
            }
            Block::Heading(level, heading) => {
                let _ = writeln!(out, "{} {heading}\n", "#".repeat(usize::from(*level)));
            }
            Block::Paragraph(spans) => {
                let _ = writeln!(out, "{}\n", markdown_spans(spans));
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", markdown_spans(item));
                }
                out.push('\n');
            }
            Block::Table { columns, rows } => {
                let _ = writeln!(out, "| {} |", columns.join(" | "));
                let _ = writeln!(
                    out,
                    "|{}|",
                    columns.iter().map(|column| "-".repeat(column.len() + 2)).collect::<Vec<_>>().join("|")
                );
                for row in rows {
                    let cells: Vec<String> = row.iter().map(|spans| markdown_spans(spans)).collect();
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
                out.push('\n');
            }
            Block::Timeline => {
                let [table, ..] = rows::tables(timeline);
                let _ = writeln!(out, "| # | {} |", table.columns.join(" | "));
                let _ = writeln!(
                    out,
                    "|---|{}|",
                    table.columns.iter().map(|column| "-".repeat(column.len() + 2)).collect::<Vec<_>>().join("|")
                );
                for (index, row) in table.rows.iter().enumerate() {
                    let cells: Vec<String> = row.cells.iter().map(markdown::cell_text).collect();
                    let _ = writeln!(
                        out,
                        "| <a id=\"{}\"></a>{} | {} |",
                        html::row_anchor(index),
                        index + 1,
                        cells.join(" | ")
                    );
                }
                out.push('\n');
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn html_spans(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(value) => out.push_str(&html::escape(value)),
            Span::Strong(value) => {
                let _ = write!(out, "<strong>{}</strong>", html::escape(value));
            }
            Span::Row(row) => {
                let _ = write!(out, "<a href=\"#{}\">row {}</a>", html::row_anchor(*row), row + 1);
            }
            Span::Todo(what) => {
                let _ = write!(out, "<mark>{PLACEHOLDER}({})</mark>", html::escape(what));
            }
        }
    }
    out
}

fn to_html(blocks: &[Block], timeline: &Timeline, post_mortem: &PostMortem) -> String {
    let mut out = html::head(&format!("Post-Mortem: {}", post_mortem.what));
    for block in blocks {
        match block {
            Block::Title(title) => {
                let _ = writeln!(out, "<h1>{}</h1>", html::escape(title));
            }
            Block::Heading(level, heading) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", html::escape(heading));
            }
            Block::Paragraph(spans) => {
                let _ = writeln!(out, "<p>{}</p>", html_spans(spans));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(out, "<li>{}</li>", html_spans(item));
                }
                out.push_str("</ul>\n");
            }
            Block::Table { columns, rows } => {
                out.push_str("<table><tr>");
                for column in *columns {
                    let _ = write!(out, "<th>{}</th>", html::escape(column));
                }
                out.push_str("</tr>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for spans in row {
                        let _ = write!(out, "<td>{}</td>", html_spans(spans));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Timeline => {
                let [table, ..] = rows::tables(timeline);
                html::write_timeline_table(&mut out, timeline, &table);
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}
