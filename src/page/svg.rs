//! The incident page's inline SVG charts: the window as lanes (one per source, a marker per
//! timeline row linking to its table row, data gaps shaded) and a small chart per Prometheus
//! query (its series, their baseline band, the onset, breaks where samples are missing).
//! Stable classes for readers and tests: `marker` (with `data-row`), `gap`, `query-chart`,
//! `band`, `onset`, `missing`. No style attributes (the page's policy admits only its one
//! stylesheet): colours are presentation attributes.

use std::fmt::Write;

use crate::record::Instant;
use crate::timeline::gaps::SERIES_HOLE_STEPS;
use crate::timeline::render::html::{escape, row_anchor};
use crate::timeline::{Entry, Fact, Gap, Kind, QuerySeries, Timeline, Window, human_value};

/// The lane chart's drawing width, where its plot starts and ends, and a lane's height.
const WIDTH: f64 = 1340.0;
const PLOT_LEFT: f64 = 270.0;
const PLOT_RIGHT: f64 = 1325.0;
const LANE: f64 = 24.0;
const TOP: f64 = 6.0;

/// Colours of the lanes' markers, by kind.
fn colour(kind: Kind) -> &'static str {
    match kind {
        Kind::Alert => "#c01c28",
        Kind::Page => "#813d9c",
        Kind::Deploy => "#1a5fb4",
        Kind::K8sEvent => "#3584e4",
        Kind::Log => "#b5835a",
        Kind::Metric => "#26a269",
        Kind::Gap => "#e66100",
        Kind::Skew | Kind::Note => "#77767b",
    }
}

/// The lane of a row: alerts, pages, changes and Kubernetes, then each metric query and log
/// stream by its source (a gap row joins its gap's lane), what responders added, notes last.
fn lane_of(timeline: &Timeline, entry: &Entry) -> (u8, String) {
    match entry.kind {
        Kind::Alert => (0, "alerts".to_owned()),
        Kind::Page => (1, "pages".to_owned()),
        Kind::Deploy | Kind::K8sEvent => (2, "changes / Kubernetes".to_owned()),
        Kind::Metric => (3, entry.source.clone()),
        Kind::Gap => match timeline.gaps.iter().find(|gap| gap.source == entry.source) {
            Some(gap) => gap_lane(timeline, gap),
            None => (4, entry.source.clone()),
        },
        Kind::Log => (4, entry.source.clone()),
        Kind::Note if entry.human => (5, "responders".to_owned()),
        Kind::Skew | Kind::Note => (6, "notes".to_owned()),
    }
}

/// The lane of a data gap: its query's when it is a series' hole, else its source's.
fn gap_lane(timeline: &Timeline, gap: &Gap) -> (u8, String) {
    match query_of(timeline, gap) {
        Some(query) => (3, query.source.clone()),
        None => (4, gap.source.clone()),
    }
}

/// The query a data gap is a hole of, if any.
fn query_of<'a>(timeline: &'a Timeline, gap: &Gap) -> Option<&'a QuerySeries> {
    let wanted = gap.query.as_deref()?;
    timeline.series.iter().find(|query| query.query == wanted)
}

/// Where an instant falls on a plot from `left` to `right` over the window, clamped to it.
fn x_of(window: &Window, instant: Instant, left: f64, right: f64) -> f64 {
    let span = window.duration().as_secs_f64().max(1e-3);
    let at = instant.duration_since(window.start).as_secs_f64() / span;
    left + at.clamp(0.0, 1.0) * (right - left)
}

/// Tick marks for a window drawn `width` wide: a round step (1 s … 1 d) leaving room for a
/// label every 90 px, each tick with its label (`10:05`, `10:05:30` for sub-minute steps,
/// the month and day where the day changes).
pub fn ticks(window: &Window, width: f64) -> Vec<(Instant, String)> {
    const STEPS: &[i64] = &[
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
    ];
    let span = window.duration().as_secs_f64().max(1.0);
    let most = (width / 90.0).max(2.0);
    let step = STEPS.iter().copied().find(|step| span / *step as f64 <= most).unwrap_or(604_800);
    let start = window.start.as_second();
    let first = start.div_euclid(step) * step + if start.rem_euclid(step) == 0 { 0 } else { step };
    let mut ticks = Vec::new();
    let mut previous_day = window.start.strftime("%F").to_string();
    let mut second = first;
    while second <= window.end.as_second() {
        let Ok(instant) = Instant::from_second(second) else { break };
        let day = instant.strftime("%F").to_string();
        let label = if day != previous_day {
            instant.strftime("%m-%d %H:%M").to_string()
        } else if step < 60 {
            instant.strftime("%H:%M:%S").to_string()
        } else {
            instant.strftime("%H:%M").to_string()
        };
        previous_day = day;
        ticks.push((instant, label));
        second += step;
    }
    ticks
}

/// The window as lanes, one per source, a marker per timeline row (`class="marker"`,
/// `data-row` its number, a link to the table row, its time, text and for a corrected row
/// its recorded time on hover), each data gap shaded in its source's lane (`class="gap"`),
/// a UTC time axis below.
pub fn lanes(timeline: &Timeline) -> String {
    let window = &timeline.window;
    let lane_of = |entry: &Entry| lane_of(timeline, entry);
    let mut lanes: Vec<(u8, String)> = timeline.entries.iter().map(lane_of).collect();
    lanes.extend(timeline.gaps.iter().map(|gap| gap_lane(timeline, gap)));
    lanes.sort();
    lanes.dedup();
    let lane_index = |key: &(u8, String)| lanes.iter().position(|lane| lane == key).unwrap_or(0);
    let n_lanes = lanes.len().max(1);
    let plot_bottom = TOP + LANE * n_lanes as f64;
    let height = plot_bottom + 22.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"lanes\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" role=\"img\" \
aria-label=\"{} rows in {} lanes, {} data gaps\">",
        timeline.entries.len(),
        lanes.len(),
        timeline.gaps.len()
    );
    for (index, (_, name)) in lanes.iter().enumerate() {
        let y = TOP + LANE * index as f64;
        if index % 2 == 0 {
            let _ = write!(out, "<rect x=\"0\" y=\"{y}\" width=\"{WIDTH}\" height=\"{LANE}\" fill=\"#f6f7f9\"/>");
        }
        let shown: String = name.chars().take(38).collect();
        let ellipsis = if shown.len() < name.len() { "…" } else { "" };
        let _ = writeln!(
            out,
            "<text class=\"lane-name\" x=\"6\" y=\"{:.1}\">{}{ellipsis}<title>{}</title></text>",
            y + LANE * 0.65,
            escape(&shown),
            escape(name)
        );
    }
    for (instant, label) in ticks(window, PLOT_RIGHT - PLOT_LEFT) {
        let x = x_of(window, instant, PLOT_LEFT, PLOT_RIGHT);
        let _ = writeln!(
            out,
            "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{plot_bottom}\"/>\
<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            plot_bottom + 15.0,
            escape(&label)
        );
    }
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{PLOT_LEFT}\" y1=\"{plot_bottom}\" x2=\"{PLOT_RIGHT}\" y2=\"{plot_bottom}\"/>\
<text x=\"6\" y=\"{:.1}\">UTC, {}</text>",
        plot_bottom + 15.0,
        window.start.strftime("%F")
    );
    for gap in &timeline.gaps {
        let y = TOP + LANE * lane_index(&gap_lane(timeline, gap)) as f64;
        let (from, to) = (x_of(window, gap.start, PLOT_LEFT, PLOT_RIGHT), x_of(window, gap.end, PLOT_LEFT, PLOT_RIGHT));
        let _ = writeln!(
            out,
            "<rect class=\"gap\" x=\"{from:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>Data gap in {}: {} – {} UTC: {}</title></rect>",
            y + 2.0,
            (to - from).max(2.0),
            LANE - 4.0,
            escape(&gap.source),
            gap.start.strftime("%H:%M:%S"),
            gap.end.strftime("%H:%M:%S"),
            escape(&gap.reason)
        );
    }
    for (index, entry) in timeline.entries.iter().enumerate() {
        let y = TOP + LANE * lane_index(&lane_of(entry)) as f64 + LANE / 2.0;
        let x = x_of(window, entry.time, PLOT_LEFT, PLOT_RIGHT);
        let fill = colour(entry.kind);
        let mut hover = format!("#{} {} UTC: {}", index + 1, entry.time.strftime("%H:%M:%S%.3f"), entry.event);
        let (corrected, fill, stroke) = match entry.recorded_time {
            Some(recorded) => {
                let _ =
                    write!(hover, " (recorded {} by its source's clock; corrected)", recorded.strftime("%H:%M:%S%.3f"));
                let from = x_of(window, recorded, PLOT_LEFT, PLOT_RIGHT);
                let _ =
                    write!(out, "<line class=\"moved\" x1=\"{from:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\"/>");
                (" corrected", "#fff", fill)
            }
            None => ("", fill, "#fff"),
        };
        let _ = writeln!(
            out,
            "<a href=\"#{anchor}\"><circle class=\"marker{corrected}\" data-row=\"{row}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" \
fill=\"{fill}\" stroke=\"{stroke}\"><title>{}</title></circle></a>",
            escape(&hover),
            anchor = row_anchor(index),
            row = index + 1,
        );
    }
    out.push_str("</svg>\n<div class=\"key\">");
    for (kind, name) in [
        (Kind::Alert, "alert"),
        (Kind::Page, "page"),
        (Kind::Deploy, "change"),
        (Kind::K8sEvent, "Kubernetes"),
        (Kind::Metric, "metric"),
        (Kind::Log, "log"),
        (Kind::Gap, "gap row"),
        (Kind::Note, "note"),
    ] {
        let _ = write!(
            out,
            "<span><svg viewBox=\"0 0 10 10\"><circle cx=\"5\" cy=\"5\" r=\"5\" fill=\"{}\"/></svg>{name}</span>",
            colour(kind)
        );
    }
    out.push_str(
        "<span><svg viewBox=\"0 0 10 10\"><circle cx=\"5\" cy=\"5\" r=\"4\" fill=\"#fff\" stroke=\"#555\" stroke-width=\"2\"/></svg>time corrected for clock skew</span>\
<span><svg viewBox=\"0 0 10 10\"><rect width=\"10\" height=\"10\" fill=\"#f5a623\" fill-opacity=\".4\"/></svg>data gap</span></div>\n",
    );
    out
}

/// The series' colours, in turn.
const PALETTE: &[&str] = &["#1a5fb4", "#c64600", "#26a269", "#813d9c", "#a51d2d", "#986a44", "#0e7c86", "#5e5c64"];
/// A query chart's drawing size and plot margins.
const CHART_WIDTH: f64 = 440.0;
const CHART_HEIGHT: f64 = 150.0;
const CHART_LEFT: f64 = 58.0;
const CHART_RIGHT: f64 = 432.0;
const CHART_TOP: f64 = 8.0;
const CHART_BOTTOM: f64 = 128.0;
/// How many series a chart draws and its legend names; the rest are counted.
const MAX_SERIES: usize = 8;

/// One query's chart (`class="query-chart"`): each series a line broken where samples are
/// missing (a sample not finite, or a hole as `timeline::gaps` finds one), its
/// baseline band (`class="band"`, the detector's median ± threshold), data gaps of the query
/// shaded (`class="missing"`), and the onset (`class="onset"`, the query's first departure
/// row, linked).
pub fn query_chart(timeline: &Timeline, query: &QuerySeries) -> String {
    let window = &timeline.window;
    let drawn = &query.series[..query.series.len().min(MAX_SERIES)];
    let finite = drawn.iter().flat_map(|one| one.samples.iter().map(|(_, value)| *value)).filter(|v| v.is_finite());
    let bands = drawn
        .iter()
        .filter_map(|one| one.band)
        .flat_map(|band| [band.center - band.threshold, band.center + band.threshold]);
    let (mut low, mut high) = finite
        .chain(bands)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| (low.min(value), high.max(value)));
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    if high - low < 1e-12 {
        (low, high) = (low - 1.0, high + 1.0);
    }
    let pad = (high - low) * 0.06;
    // Values that are never negative keep zero as their floor.
    let (low, high) = (if low >= 0.0 { (low - pad).max(0.0) } else { low - pad }, high + pad);
    let y_of = |value: f64| CHART_BOTTOM - (value - low) / (high - low) * (CHART_BOTTOM - CHART_TOP);
    let mut out = String::new();
    let name = query.source.strip_prefix("prometheus: ").unwrap_or(&query.source);
    let _ = write!(out, "<figure class=\"query-chart\"><figcaption>{}", escape(name));
    if name != query.query {
        let _ = write!(out, "<code>{}</code>", escape(&query.query));
    }
    let _ = write!(
        out,
        "</figcaption>\n<svg viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" role=\"img\" \
aria-label=\"{} series\">",
        query.series.len()
    );
    for (index, one) in drawn.iter().enumerate() {
        if let Some(band) = one.band {
            let (top, bottom) = (y_of(band.center + band.threshold), y_of(band.center - band.threshold));
            let _ = write!(
                out,
                "<rect class=\"band\" x=\"{CHART_LEFT}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} baseline {} ± {}</title></rect>",
                CHART_RIGHT - CHART_LEFT,
                (bottom - top).max(1.0),
                PALETTE[index % PALETTE.len()],
                escape(&one.name),
                human_value(band.center),
                human_value(band.threshold),
            );
        }
    }
    for gap in timeline.gaps.iter().filter(|gap| gap.query.as_deref() == Some(query.query.as_str())) {
        let (from, to) =
            (x_of(window, gap.start, CHART_LEFT, CHART_RIGHT), x_of(window, gap.end, CHART_LEFT, CHART_RIGHT));
        let _ = write!(
            out,
            "<rect class=\"missing\" x=\"{from:.1}\" y=\"{CHART_TOP}\" width=\"{:.1}\" height=\"{:.1}\"><title>No samples {} – {} UTC: {}</title></rect>",
            (to - from).max(2.0),
            CHART_BOTTOM - CHART_TOP,
            gap.start.strftime("%H:%M:%S"),
            gap.end.strftime("%H:%M:%S"),
            escape(&gap.reason)
        );
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{CHART_LEFT}\" y1=\"{CHART_BOTTOM}\" x2=\"{CHART_RIGHT}\" y2=\"{CHART_BOTTOM}\"/>\
<line class=\"axis\" x1=\"{CHART_LEFT}\" y1=\"{CHART_TOP}\" x2=\"{CHART_LEFT}\" y2=\"{CHART_BOTTOM}\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
        CHART_LEFT - 4.0,
        CHART_TOP + 8.0,
        human_value(high),
        CHART_LEFT - 4.0,
        CHART_BOTTOM,
        human_value(low),
    );
    for (instant, label) in ticks(window, (CHART_RIGHT - CHART_LEFT) * 0.8) {
        let x = x_of(window, instant, CHART_LEFT, CHART_RIGHT);
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{CHART_BOTTOM}\" x2=\"{x:.1}\" y2=\"{:.1}\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            CHART_BOTTOM + 4.0,
            CHART_BOTTOM + 16.0,
            escape(&label)
        );
    }
    for (index, one) in drawn.iter().enumerate() {
        for line in segments(&one.samples) {
            let drawn: Vec<(f64, f64)> =
                line.iter().map(|(time, value)| (x_of(window, *time, CHART_LEFT, CHART_RIGHT), y_of(*value))).collect();
            let points: Vec<String> = per_pixel(&drawn).iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            if let [(x, y)] = drawn.as_slice() {
                let _ = write!(
                    out,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"1.5\" fill=\"{}\"/>",
                    PALETTE[index % PALETTE.len()]
                );
            } else {
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"><title>{}</title></polyline>",
                    PALETTE[index % PALETTE.len()],
                    points.join(" "),
                    escape(&one.name)
                );
            }
        }
    }
    let onset =
        timeline.entries.iter().enumerate().find(
            |(_, entry)| matches!(&entry.fact, Some(Fact::MetricAway { query: away, .. }) if *away == query.query),
        );
    if let Some((row, entry)) = onset {
        let x = x_of(window, entry.time, CHART_LEFT, CHART_RIGHT);
        let _ = write!(
            out,
            "<a href=\"#{}\"><line class=\"onset\" x1=\"{x:.1}\" y1=\"{CHART_TOP}\" x2=\"{x:.1}\" y2=\"{CHART_BOTTOM}\"><title>Onset {} UTC (row {}): {}</title></line></a>",
            row_anchor(row),
            entry.time.strftime("%H:%M:%S"),
            row + 1,
            escape(&entry.event)
        );
    }
    out.push_str("</svg>\n");
    if query.series.len() > 1 {
        out.push_str("<ul class=\"legend\">");
        for (index, one) in drawn.iter().enumerate() {
            let _ = write!(
                out,
                "<li><svg viewBox=\"0 0 10 10\"><rect width=\"10\" height=\"10\" fill=\"{}\"/></svg>{}</li>",
                PALETTE[index % PALETTE.len()],
                escape(&one.name)
            );
        }
        if query.series.len() > drawn.len() {
            let _ = write!(out, "<li>and {} more series, not drawn</li>", query.series.len() - drawn.len());
        }
        out.push_str("</ul>");
    }
    out.push_str("</figure>\n");
    out
}

/// A line's points, at most four per pixel column (its first, lowest, highest and last, in
/// drawing order): a long window of fine steps draws the same shape from far fewer points.
fn per_pixel(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut kept: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(4 * CHART_WIDTH as usize));
    for column in points.chunk_by(|left, right| left.0.floor() == right.0.floor()) {
        let (mut low, mut high) = (0, 0);
        for (index, point) in column.iter().enumerate() {
            // SVG's y grows downwards: the lowest value has the largest y.
            if point.1 > column[low].1 {
                low = index;
            }
            if point.1 < column[high].1 {
                high = index;
            }
        }
        let mut indexes = [0, low, high, column.len() - 1];
        indexes.sort_unstable();
        let mut previous = None;
        for index in indexes {
            if previous != Some(index) {
                kept.push(column[index]);
            }
            previous = Some(index);
        }
    }
    kept
}

/// A series cut where samples are missing: at a sample that is not finite, and where the
/// next sample comes more than [`SERIES_HOLE_STEPS`] of its steps (its median spacing) later.
fn segments(samples: &[(Instant, f64)]) -> Vec<Vec<(Instant, f64)>> {
    let mut spacings: Vec<i128> =
        samples.windows(2).map(|pair| pair[1].0.as_nanosecond() - pair[0].0.as_nanosecond()).collect();
    spacings.sort_unstable();
    let step = spacings.get(spacings.len() / 2).copied().unwrap_or(0);
    let mut lines: Vec<Vec<(Instant, f64)>> = Vec::new();
    let mut current: Vec<(Instant, f64)> = Vec::new();
    for &(time, value) in samples {
        let far = current.last().is_some_and(|(last, _)| {
            (time.as_nanosecond() - last.as_nanosecond()) as f64 > SERIES_HOLE_STEPS * step as f64
        });
        if (!value.is_finite() || far) && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if value.is_finite() {
            current.push((time, value));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Instant {
        text.parse().unwrap()
    }

    #[test]
    fn a_series_breaks_where_samples_are_missing() {
        let samples: Vec<(Instant, f64)> = [0, 15, 30, 45, 120, 135, 150]
            .iter()
            .map(|second| (at("2025-02-09T10:00:00Z") + jiff::SignedDuration::from_secs(*second), 1.0))
            .chain([(at("2025-02-09T10:02:45Z"), f64::NAN), (at("2025-02-09T10:03:00Z"), 2.0)])
            .collect();
        let lengths: Vec<usize> = segments(&samples).iter().map(Vec::len).collect();
        assert_eq!(lengths, [4, 3, 1]);
    }

    #[test]
    fn a_dense_line_keeps_each_columns_extremes() {
        let points: Vec<(f64, f64)> = (0..1000).map(|i| (100.0 + f64::from(i) / 100.0, f64::from(i % 7))).collect();
        let kept = per_pixel(&points);
        assert!(kept.len() <= 40, "{}", kept.len());
        for column in 100..110 {
            let ys: Vec<f64> = kept.iter().filter(|(x, _)| x.floor() == f64::from(column)).map(|(_, y)| *y).collect();
            assert!(ys.contains(&0.0) && ys.contains(&6.0), "{column}: {ys:?}");
        }
        // A sparse line keeps every point; a column's middle points go.
        let sparse = [(1.0, 5.0), (2.5, 1.0), (3.2, 4.0)];
        assert_eq!(per_pixel(&sparse), sparse);
        assert_eq!(per_pixel(&points[..3]), [points[0], points[2]]);
    }

    #[test]
    fn ticks_are_round_and_dated_where_the_day_changes() {
        let window = Window {
            start: at("2025-02-09T23:07:00Z"),
            end: at("2025-02-10T00:50:00Z"),
            baseline_end: at("2025-02-09T23:20:00Z"),
        };
        let labels: Vec<String> = ticks(&window, 700.0).into_iter().map(|(_, label)| label).collect();
        assert_eq!(labels, ["23:15", "23:30", "23:45", "02-10 00:00", "00:15", "00:30", "00:45"]);
    }
}
