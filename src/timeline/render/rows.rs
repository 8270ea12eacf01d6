//! The one row model of a timeline's tables (the timeline itself, clock skew, data gaps):
//! their columns and rows, each cell already formatted as text, built once from the
//! [`Timeline`]. Markdown and HTML only escape and lay these cells out, so a column or row
//! added here shows in both. Prose around the tables (title, window line) stays with each
//! renderer.

use crate::record::Instant;
use crate::timeline::{CoverageStatus, Flag, Kind, Millis, Timeline, Window, human_offset, human_value};

/// One table: a heading, its columns, its rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub heading: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Row>,
    /// What to say instead of a table without rows; `None`: the empty table is shown.
    pub when_empty: Option<&'static str>,
}

/// One row: a cell per column.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub cells: Vec<Cell>,
    /// A row about missing data (a gap), which a renderer may set apart.
    pub gap: bool,
    /// A row a responder added (`Entry::human`), not evidence a system recorded.
    pub human: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Time(TimeText),
    Event(Event),
}

/// A time written two ways; a renderer shows the one its layout has room for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeText {
    /// The time of day (`10:05:23`), with the month and day when the window spans days.
    pub clock: String,
    /// RFC 3339 UTC: rows to the millisecond, gap bounds as recorded.
    pub timestamp: String,
}

/// A timeline row's event: its text and what a reader must know about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub text: String,
    /// How many occurrences the row stands for.
    pub count: u64,
    pub flags: Vec<Flag>,
    /// The source's own time, when a clock correction moved the row.
    pub recorded: Option<TimeText>,
    /// One line the row stands for.
    pub example: Option<String>,
    /// Where the row's evidence can be seen (`http(s)` only).
    pub url: Option<String>,
}

impl Event {
    /// ` (×N)` after the text when the row stands for several and its text does not say so
    /// already (`… (×12 until 10:30:40)`).
    pub fn count_suffix(&self) -> Option<String> {
        (self.count > 1 && !self.text.contains('×')).then(|| format!(" (×{})", self.count))
    }
}

/// Whether the window starts and ends on one UTC day: clock times then leave out the date.
pub fn same_day(window: &Window) -> bool {
    window.start.strftime("%F").to_string() == window.end.strftime("%F").to_string()
}

/// An instant as a time of day, with the month and day when the window spans days, and
/// with its whole date when it lies on a day outside the window's (a coverage span).
pub fn clock(window: &Window, instant: Instant) -> String {
    let day = |instant: Instant| instant.strftime("%F").to_string();
    let within = day(window.start) <= day(instant) && day(instant) <= day(window.end);
    if !within {
        instant.strftime("%F %H:%M:%S").to_string()
    } else if same_day(window) {
        instant.strftime("%H:%M:%S").to_string()
    } else {
        instant.strftime("%m-%d %H:%M:%S").to_string()
    }
}

/// Text as a reader may see it: C0 and C1 controls, DEL and the bidi controls stripped, so
/// evidence cannot move a terminal's cursor, hide text or reorder what is shown (Trojan
/// Source); tabs and line breaks become spaces so words stay apart. Markdown and HTML pass
/// every piece of text through this before escaping it; JSON keeps the text (serde escapes
/// controls, and a reader of JSON sees the bytes as sent).
pub fn printable(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => shown.push(' '),
            _ if is_hidden(character) => {}
            other => shown.push(other),
        }
    }
    shown
}

/// A control character (C0, DEL, C1) or a bidi control (embeddings and overrides
/// U+202A–U+202E, isolates U+2066–U+2069, the marks U+200E, U+200F and U+061C).
pub(super) fn is_hidden(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// The timeline, clock skew, data gaps and coverage tables, in reading order.
pub fn tables(timeline: &Timeline) -> [Table; 4] {
    let window = &timeline.window;
    // Rows and corrected times read to the millisecond; gap bounds are shown as recorded.
    let row_time =
        |instant: Instant| TimeText { clock: clock(window, instant), timestamp: Millis(instant).to_string() };
    let bound = |instant: Instant| TimeText { clock: clock(window, instant), timestamp: instant.to_string() };
    let entries = timeline
        .entries
        .iter()
        .map(|entry| Row {
            cells: vec![
                Cell::Time(row_time(entry.time)),
                Cell::Event(Event {
                    text: entry.event.clone(),
                    count: entry.count,
                    flags: entry.flags.clone(),
                    recorded: entry.recorded_time.map(row_time),
                    example: entry.example.clone(),
                    url: entry.url.clone(),
                }),
                Cell::Text(entry.source.clone()),
                Cell::Text(entry.actor.clone().unwrap_or_else(|| "-".to_owned())),
            ],
            gap: entry.kind == Kind::Gap,
            human: entry.human,
        })
        .collect();
    let skews = timeline
        .clock_skew
        .iter()
        .map(|skew| Row {
            cells: vec![
                Cell::Text(skew.subject.clone()),
                Cell::Text(human_offset(skew.offset_seconds)),
                Cell::Text(format!("±{}s", human_value(skew.spread_seconds))),
                Cell::Text(skew.evidence.clone()),
                Cell::Text(skew.samples.to_string()),
                Cell::Text(if skew.flagged { "yes" } else { "no" }.to_owned()),
            ],
            gap: false,
            human: false,
        })
        .collect();
    let gaps = timeline
        .gaps
        .iter()
        .map(|gap| Row {
            cells: vec![
                Cell::Text(gap.source.clone()),
                Cell::Time(bound(gap.start)),
                Cell::Time(bound(gap.end)),
                Cell::Text(gap.reason.clone()),
            ],
            gap: true,
            human: false,
        })
        .collect();
    // A span of what was read, to the second: its first and last data, not an instant to act on.
    let optional_bound = |instant: Option<Instant>| match instant {
        Some(instant) => Cell::Time(TimeText {
            clock: clock(window, instant),
            timestamp: instant.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }),
        None => Cell::Text("-".to_owned()),
    };
    let coverage = timeline
        .coverage
        .iter()
        .map(|row| Row {
            cells: vec![
                Cell::Text(row.source.clone()),
                Cell::Text(match &row.input {
                    Some(input) if *input != row.source => format!("{} ({input})", row.kind),
                    _ => row.kind.clone(),
                }),
                Cell::Text(row.status.name().to_owned()),
                Cell::Text(read_text(&row.read)),
                Cell::Text(redacted_text(&row.redacted)),
                optional_bound(row.start),
                optional_bound(row.end),
                Cell::Text(if row.left_out.is_empty() { "-".to_owned() } else { row.left_out.join("; ") }),
            ],
            gap: !matches!(row.status, CoverageStatus::Read),
            human: false,
        })
        .collect();
    [
        Table {
            heading: "Timeline (all times UTC)",
            columns: &["Time", "Event", "Source", "Actor"],
            rows: entries,
            when_empty: None,
        },
        Table {
            heading: "Clock skew",
            columns: &["Subject", "Offset", "Spread", "Evidence", "Samples", "Flagged"],
            rows: skews,
            when_empty: Some("No clock evidence in the inputs."),
        },
        Table {
            heading: "Data gaps",
            columns: &["Source", "From", "To", "Reason"],
            rows: gaps,
            when_empty: Some("No gaps found in what was looked at."),
        },
        Table {
            heading: "What was looked at",
            columns: &["Source", "Kind", "Status", "Read", "Redacted", "From", "To", "Left out"],
            rows: coverage,
            when_empty: Some("Nothing was read."),
        },
    ]
}

/// Secrets redacted, per rule: `2 password, 1 jwt`, `-`.
fn redacted_text(redacted: &std::collections::BTreeMap<String, u64>) -> String {
    if redacted.is_empty() {
        return "-".to_owned();
    }
    redacted.iter().map(|(rule, count)| format!("{count} {rule}")).collect::<Vec<_>>().join(", ")
}

/// How much was read: `1200 lines`, `40 events, 3 pods`, `nothing`.
fn read_text(read: &std::collections::BTreeMap<&'static str, u64>) -> String {
    if read.is_empty() {
        return "nothing".to_owned();
    }
    let text = |unit: &str, count: u64| match (count, unit.strip_suffix('s')) {
        // `series` is its own singular.
        (1, Some(singular)) if unit != "series" => format!("1 {singular}"),
        _ => format!("{count} {unit}"),
    };
    read.iter().map(|(unit, count)| text(unit, *count)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::record::random::Random;
    use crate::timeline::render::{html, markdown};
    use crate::timeline::{Entry, Gap, Skew};

    fn at(text: &str) -> Instant {
        text.parse().expect("valid time")
    }

    /// A timeline with a corrected row, a gap row, skews and gaps, with text to escape.
    pub(crate) fn timeline() -> Timeline {
        let window = Window {
            start: at("2025-02-09T10:00:00Z"),
            end: at("2025-02-09T11:00:00Z"),
            baseline_end: at("2025-02-09T10:15:00Z"),
        };
        let mut corrected =
            Entry::new(at("2025-02-09T10:05:00Z"), Kind::Log, "First error: a | b <c>", "logs shop/api-1/app");
        corrected.flag(Flag::ClockSkew);
        corrected.recorded_time = Some(at("2025-02-09T10:06:30.250Z"));
        corrected.count = 3;
        corrected.example = Some("ERROR a | b <c>".to_owned());
        let mut gap_row =
            Entry::new(at("2025-02-09T10:20:00Z"), Kind::Gap, "Data gap: no lines for 5m", "logs shop/api-1/app");
        gap_row.flag(Flag::Gap);
        gap_row.actor = Some("kubelet".to_owned());
        let skew = |subject: &str, offset_seconds: f64, spread_seconds: f64, flagged: bool| Skew {
            subject: subject.to_owned(),
            offset_seconds,
            spread_seconds,
            evidence: "node_time_seconds - timestamp(node_time_seconds)".to_owned(),
            samples: 235,
            flagged,
            zone_error: false,
        };
        Timeline {
            version: 1,
            title: "HighErrorRate".to_owned(),
            window,
            entries: vec![corrected, gap_row],
            clock_skew: vec![skew("node node-2", 90.0, 0.003, true), skew("node node-1", 0.002, 0.0, false)],
            gaps: vec![Gap {
                source: "logs shop/api-1/app".to_owned(),
                start: at("2025-02-09T10:20:00Z"),
                end: at("2025-02-09T10:25:00.5Z"),
                reason: "no lines for 5m".to_owned(),
                node: None,
                stream: None,
                query: None,
            }],
            coverage: vec![crate::timeline::Coverage::skipped(
                "notes.txt",
                "text without times",
                CoverageStatus::Skipped,
                "text whose lines carry no times | not a log".to_owned(),
            )],
            series: Vec::new(),
        }
    }

    #[test]
    fn markdown_and_html_show_the_same_columns_and_rows() {
        let timeline = timeline();
        let (markdown, html) = (markdown::render(&timeline), html::render(&timeline));
        for table in tables(&timeline) {
            assert!(!table.rows.is_empty(), "{}: the test wants rows", table.heading);
            let header: Vec<String> = table.columns.iter().map(|column| format!(" {column} ")).collect();
            assert!(markdown.contains(&format!("|{}|\n", header.join("|"))), "{}:\n{markdown}", table.heading);
            let header: String = table.columns.iter().map(|column| format!("<th>{column}</th>")).collect();
            assert!(html.contains(&format!("{header}</tr>\n")), "{}:\n{html}", table.heading);
            for row in &table.rows {
                assert_eq!(row.cells.len(), table.columns.len(), "{}: {row:?}", table.heading);
                for cell in &row.cells {
                    let (in_markdown, in_html) = match cell {
                        Cell::Text(text) => (markdown::cell(text), html::escape(text)),
                        Cell::Time(time) => (time.clock.clone(), format!("title=\"{}\">", time.timestamp)),
                        Cell::Event(event) => (markdown::cell(&event.text), html::escape(&event.text)),
                    };
                    assert!(markdown.contains(&format!("| {in_markdown}")), "{in_markdown} in\n{markdown}");
                    let in_a_cell = match cell {
                        Cell::Time(_) => html.contains(&in_html),
                        _ => html.contains(&format!("<td>{in_html}")),
                    };
                    assert!(in_a_cell, "{in_html} in\n{html}");
                }
            }
            // One line or table row per model row, after the header.
            let n_markdown = markdown
                .split(&format!("## {}\n\n", table.heading))
                .nth(1)
                .map_or(0, |rest| rest.lines().take_while(|line| line.starts_with('|')).count());
            let n_html = html
                .split(&format!("<h2>{}</h2>", table.heading))
                .nth(1)
                .and_then(|rest| rest.split("</table>").next())
                .map_or(0, |rest| rest.matches("<tr").count());
            assert_eq!((n_markdown, n_html), (table.rows.len() + 2, table.rows.len() + 1), "{}", table.heading);
        }
        // The column HTML used to lack.
        assert!(html.contains("<td>node node-2</td><td>+90s</td><td>±0.003s</td>"), "{html}");
    }

    #[test]
    fn flags_and_recorded_times_reach_both() {
        let timeline = timeline();
        let (markdown, html) = (markdown::render(&timeline), html::render(&timeline));
        assert!(markdown.contains(" (×3) ⚠ clock_skew (recorded 10:06:30) |"), "{markdown}");
        assert!(
            html.contains(
                " (×3)<span class=\"flag\">clock_skew</span> <small title=\"2025-02-09T10:06:30.250Z\">recorded 10:06:30</small>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<tr id=\"row-2\" class=\"gap-row\"><td class=\"n\">2</td><td class=\"t\" title=\"2025-02-09T10:20:00.000Z\">10:20:00</td>"),
            "{html}"
        );
        assert!(html.contains("<td><span title=\"2025-02-09T10:25:00.5Z\">10:25:00</span></td>"), "{html}");
        assert!(markdown.contains("| logs shop/api-1/app | 10:20:00 | 10:25:00 | no lines for 5m |"), "{markdown}");
    }

    /// One to six hostile pieces in a row.
    pub(crate) fn hostile_text(random: &mut Random) -> String {
        let n_pieces = 1 + random.below(6);
        (0..n_pieces).map(|_| *random.pick(HOSTILE)).collect()
    }

    /// Pieces an attacker (or a careless log line) puts in evidence.
    const HOSTILE: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "![i](javascript:alert(1))",
        "<javascript:alert(1)>",
        "<a href=\"javascript:x\">",
        "<!-- c -->",
        "</td></tr>",
        "&lt;script&gt;",
        "&#60;b&#62;",
        "`",
        "``",
        "\\",
        "|",
        "[",
        "]",
        "(",
        ")",
        "<",
        ">",
        "&",
        "\"'",
        "\u{0}",
        "\u{7}",
        "\u{1b}[31m",
        "\u{1b}]8;;http://x\u{7}",
        "\u{7f}",
        "\u{85}",
        "\u{9b}2J",
        "\u{202e}",
        "\u{202a}",
        "\u{2066}",
        "\u{2069}",
        "\u{200e}",
        "\u{200f}",
        "\u{61c}",
        "\n",
        "\r\n",
        "\t",
        "\u{2028}",
        "plain words",
        "é",
        " ",
    ];

    /// Whether the character at `index` of `text` is escaped by an odd run of backslashes.
    fn escaped_at(text: &str, index: usize) -> bool {
        text[..index].bytes().rev().take_while(|byte| *byte == b'\\').count() % 2 == 1
    }

    #[track_caller]
    fn check_markdown_is_inert(markdown: &str, seed: u64) {
        assert!(!markdown.contains('<'), "seed {seed}: a tag can open in\n{markdown}");
        let n_lines = markdown::render(&timeline()).lines().count();
        assert_eq!(markdown.lines().count(), n_lines, "seed {seed}: a line break from evidence in\n{markdown}");
        for (index, character) in markdown.char_indices() {
            assert!(character == '\n' || !is_hidden(character), "seed {seed}: {character:?} in\n{markdown:?}");
            if matches!(character, '[' | ']' | '`') {
                assert!(escaped_at(markdown, index), "seed {seed}: active {character:?} at {index} in\n{markdown}");
            }
        }
        // Every row still has its columns: no cell was split or joined by evidence.
        let bars =
            |line: &str| line.char_indices().filter(|(index, bar)| *bar == '|' && !escaped_at(line, *index)).count();
        let mut n_header_bars = None;
        let mut previous = "";
        for line in markdown.lines() {
            if line.starts_with('|') {
                if !previous.starts_with('|') {
                    n_header_bars = Some(bars(line));
                }
                assert_eq!(Some(bars(line)), n_header_bars, "seed {seed}: {line}");
            }
            previous = line;
        }
    }

    /// Tags and attributes the HTML renderers write; anything else came from evidence.
    const OUR_TAGS: &[&str] = &[
        "!doctype",
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "p",
        "table",
        "tr",
        "th",
        "td",
        "span",
        "small",
        "br",
        "code",
        "colgroup",
        "col",
        "a",
        "header",
        "div",
        "b",
        "nav",
        "ul",
        "li",
        "svg",
        "rect",
        "text",
        "line",
        "circle",
        "polyline",
        "figure",
        "figcaption",
    ];
    const OUR_ATTRIBUTES: &[&str] = &[
        "html",
        "lang",
        "charset",
        "name",
        "content",
        "http-equiv",
        "class",
        "id",
        "title",
        "href",
        "rel",
        "viewbox",
        "width",
        "height",
        "role",
        "aria-label",
        "x",
        "y",
        "x1",
        "y1",
        "x2",
        "y2",
        "cx",
        "cy",
        "r",
        "fill",
        "fill-opacity",
        "stroke",
        "stroke-width",
        "points",
        "text-anchor",
        "data-row",
    ];

    /// No control or bidi character, no tag or attribute evidence opened, no attribute value
    /// it broke out of, no `javascript:` link.
    #[track_caller]
    pub(crate) fn check_html_is_inert(html: &str, seed: u64) {
        for (index, character) in html.char_indices() {
            assert!(character == '\n' || !is_hidden(character), "seed {seed}: {character:?} in\n{html:?}");
            if character != '<' {
                continue;
            }
            let rest = html[index + 1..].trim_start_matches('/');
            let name: String =
                rest.chars().take_while(|character| character.is_ascii_alphanumeric() || *character == '!').collect();
            assert!(OUR_TAGS.contains(&name.as_str()), "seed {seed}: <{name} from evidence in\n{html}");
            // The tag's attributes: `name` or `name="value"`, a value without `"`, `<` or `>`.
            let tag = &rest[name.len()..rest.find('>').expect("a closed tag")];
            let mut attributes = tag.trim_end_matches('/').trim();
            while !attributes.is_empty() {
                let key: String = attributes
                    .chars()
                    .take_while(|character| character.is_ascii_alphanumeric() || *character == '-')
                    .collect();
                assert!(
                    OUR_ATTRIBUTES.contains(&key.to_ascii_lowercase().as_str()),
                    "seed {seed}: attribute {key:?} in <{name}{tag}>"
                );
                attributes = &attributes[key.len()..];
                if let Some(value) = attributes.strip_prefix("=\"") {
                    let end = value.find('"').expect("a closed value");
                    assert!(!value[..end].contains('<'), "seed {seed}: <{name}{tag}>");
                    attributes = &value[end + 1..];
                }
                attributes = attributes.trim_start();
            }
        }
        assert!(!html.contains("javascript:\"") && !html.contains("=javascript:"), "seed {seed}: {html}");
        assert!(!html.contains("href=\"javascript"), "seed {seed}: {html}");
    }

    /// The test timeline with hostile text (seeded) wherever evidence reaches a page: title,
    /// rows, skew, gaps, coverage, a query's name, query and series names.
    pub(crate) fn hostile_timeline(seed: u64) -> Timeline {
        let mut random = Random(0x5afe_7e47 ^ seed);
        let mut timeline = timeline();
        timeline.title = hostile_text(&mut random);
        for entry in &mut timeline.entries {
            entry.event = hostile_text(&mut random);
            entry.source = hostile_text(&mut random);
            entry.actor = Some(hostile_text(&mut random));
            entry.example = Some(hostile_text(&mut random));
        }
        timeline.clock_skew[0].subject = hostile_text(&mut random);
        timeline.clock_skew[1].evidence = hostile_text(&mut random);
        timeline.gaps[0].reason = hostile_text(&mut random);
        timeline.gaps[0].source = hostile_text(&mut random);
        timeline.coverage[0].source = hostile_text(&mut random);
        timeline.coverage[0].left_out = vec![hostile_text(&mut random), hostile_text(&mut random)];
        let query = hostile_text(&mut random);
        timeline.gaps[0].query = Some(query.clone());
        timeline.entries[0].fact = Some(crate::timeline::Fact::MetricAway {
            query: query.clone(),
            rose: true,
            area: 1.0,
            increase: 1.0,
            series: Vec::new(),
        });
        let samples = |from: f64| {
            (0..40)
                .map(|index| {
                    let time = at("2025-02-09T10:00:00Z") + jiff::SignedDuration::from_secs(index * 90);
                    (time, if index == 20 { f64::NAN } else { from + index as f64 })
                })
                .collect()
        };
        timeline.series = vec![crate::timeline::QuerySeries {
            source: format!("prometheus: {}", hostile_text(&mut random)),
            query,
            series: vec![
                crate::timeline::SeriesSamples {
                    name: hostile_text(&mut random),
                    samples: samples(1.0),
                    band: Some(crate::timeline::Band { center: 2.0, threshold: 1.0 }),
                },
                crate::timeline::SeriesSamples { name: hostile_text(&mut random), samples: samples(5.0), band: None },
            ],
        }];
        timeline
    }

    #[test]
    fn hostile_evidence_renders_inert_in_markdown_and_html() {
        for seed in 0..2_000 {
            let timeline = hostile_timeline(seed);
            check_markdown_is_inert(&markdown::render(&timeline), seed);
            check_html_is_inert(&html::render(&timeline), seed);
            // JSON keeps the text as given, escaped by serde.
            let json = crate::timeline::render::json::render(&timeline);
            let read: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
            assert_eq!(read["title"], timeline.title.as_str(), "seed {seed}");
            assert!(!json.chars().any(|character| character != '\n' && is_hidden(character)), "seed {seed}: {json}");
        }
    }

    #[test]
    fn the_findings_of_issue_13_are_neutralised() {
        let rows: &[(&str, &str, &str)] = &[
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("<img onerror=x>", "&lt;img onerror=x&gt;", "&lt;img onerror=x&gt;"),
            ("[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))", "[x](javascript:alert(1))"),
            ("a\u{0}b\u{1b}[31mc", "ab\\[31mc", "ab[31mc"),
            ("evil\u{202e}txt.exe", "eviltxt.exe", "eviltxt.exe"),
            ("one\ntwo | three `x`", "one two \\| three \\`x\\`", "one two | three `x`"),
        ];
        for (text, in_markdown, in_html) in rows {
            assert_eq!(markdown::cell(text), *in_markdown, "{text:?}");
            assert_eq!(html::escape(text), *in_html, "{text:?}");
        }
    }
}
