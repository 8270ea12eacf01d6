//! Clock skew: estimates, per subject (a node, else a container), of its clock against the
//! reference clock (Prometheus's scrape clock when present), strongest evidence first:
//! node-exporter clock series, request ids shared across nodes, and transport-vs-embedded
//! timestamps of one line (where a constant whole number of quarter hours is a zone error,
//! not a clock error).

use std::collections::{BTreeMap, HashMap};

use crate::record::{Record, SeriesKind, SeriesRecord, SourceKind, Stream};
use crate::timeline::digest::LogDigest;
use crate::timeline::{Options, Skew, Window};

/// Below this many shared request ids a pair of subjects says nothing.
const MIN_SHARED_IDS: usize = 20;

/// Evidence names, strongest first; the first flagged one of a subject corrects its rows.
pub const EVIDENCE_NODE_TIME: &str = "node_time_seconds - timestamp(node_time_seconds)";
pub const EVIDENCE_TIMEX: &str = "node_timex_offset_seconds";

/// Every skew the evidence allows, strongest first within a subject, subjects in name order.
pub fn estimate(records: &[Record], digests: &[LogDigest], window: &Window, options: &Options) -> Vec<Skew> {
    let node_names = known_nodes(records, digests);
    let mut skews: Vec<Skew> =
        node_clocks(records, &node_names, window, options).into_iter().map(|(_, skew)| skew).collect();
    // Node clock series anchor request-id offsets: every skew so far is one.
    let anchored: BTreeMap<String, f64> =
        skews.iter().map(|skew| (skew.subject.clone(), skew.offset_seconds)).collect();
    skews.extend(request_id_skews(digests, &anchored, options));
    skews.extend(digests.iter().filter_map(|digest| dual_timestamp_skew(digest, options)));
    skews.extend(alert_skews(records, window, options));
    skews.sort_by(|left, right| left.subject.cmp(&right.subject));
    skews
}

/// The offsets node-exporter clock series establish, by node name: what `draft` hands the
/// digests before reading logs.
pub fn node_clock_offsets(records: &[Record], window: &Window, options: &Options) -> BTreeMap<String, f64> {
    let node_names = known_nodes(records, &[]);
    node_clocks(records, &node_names, window, options)
        .into_iter()
        .filter(|(_, skew)| skew.flagged)
        .map(|(node, skew)| (node, skew.offset_seconds))
        .collect()
}

/// The subject of a stream for skew: its node, else the stream itself.
pub fn subject_of(stream: &Stream, node: Option<&str>) -> String {
    match node {
        Some(node) => node_subject(node),
        None => stream_subject(stream),
    }
}

/// `node node-2`: the subject of every source on a node.
pub fn node_subject(node: &str) -> String {
    format!("node {node}")
}

/// `container shop/payments-…/app`: the subject of a stream whose node is unknown.
pub fn stream_subject(stream: &Stream) -> String {
    format!("container {stream}")
}

fn known_nodes(records: &[Record], digests: &[LogDigest]) -> Vec<String> {
    let mut nodes: Vec<String> = records
        .iter()
        .filter_map(|record| match record {
            Record::Pod(pod) => pod.node.clone(),
            _ => None,
        })
        .chain(digests.iter().filter_map(|digest| digest.source.node.clone()))
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

/// The node a node-exporter series speaks of: its `node`/`nodename`/`kubernetes_node`
/// label, else `instance` without its port (kube-prometheus sets it to the node name).
pub fn series_node(series: &SeriesRecord, node_names: &[String]) -> Option<String> {
    for key in ["node", "nodename", "kubernetes_node", "kubernetes_io_hostname", "hostname"] {
        if let Some(value) = series.labels.get(key) {
            return Some(value.clone());
        }
    }
    let instance = series.labels.get("instance")?;
    let host = match instance.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|character| character.is_ascii_digit()) => host,
        _ => instance.as_str(),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // An IP instance of a node we know by name stays unresolved rather than guessed.
    Some(node_names.iter().find(|name| name.as_str() == host).cloned().unwrap_or_else(|| host.to_owned()))
}

/// Node clock skews with the node each is of, by node name.
fn node_clocks(records: &[Record], node_names: &[String], window: &Window, options: &Options) -> Vec<(String, Skew)> {
    let mut offsets: BTreeMap<String, (Vec<f64>, &'static str)> = BTreeMap::new();
    let mut timex: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut unsynced: BTreeMap<String, bool> = BTreeMap::new();
    for record in records {
        let Record::Series(series) = record else {
            continue;
        };
        if !series.kind.is_clock() {
            continue;
        }
        let Some(node) = series_node(series, node_names) else {
            continue;
        };
        let in_window = series
            .samples
            .iter()
            .filter(|(time, value)| window.contains(*time) && value.is_finite())
            .map(|(time, value)| (*time, *value));
        match series.kind {
            SeriesKind::Plain => {}
            SeriesKind::NodeClockOffset => offsets
                .entry(node)
                .or_insert((Vec::new(), EVIDENCE_NODE_TIME))
                .0
                .extend(in_window.map(|(_, value)| value)),
            SeriesKind::NodeClockRaw => offsets
                .entry(node)
                .or_insert((Vec::new(), EVIDENCE_NODE_TIME))
                .0
                .extend(in_window.map(|(time, value)| value - time.as_millisecond() as f64 / 1000.0)),
            SeriesKind::NodeTimexOffset => timex.entry(node).or_default().extend(in_window.map(|(_, value)| value)),
            SeriesKind::NodeTimexSync => {
                let any_unsynced = in_window.into_iter().any(|(_, value)| value == 0.0);
                *unsynced.entry(node).or_default() |= any_unsynced;
            }
        }
    }
    let mut skews = Vec::new();
    let ntp_note = |node: &str| -> String {
        let mut note = String::new();
        if let Some(values) = timex.get(node).filter(|values| !values.is_empty()) {
            note.push_str(&format!("; NTP offset {}", super::human_offset(median(values))));
        }
        if unsynced.get(node).copied().unwrap_or(false) {
            note.push_str("; NTP not synchronised (node_timex_sync_status 0)");
        }
        note
    };
    let node_skew = |node: &str, values: &[f64], evidence: String| {
        let offset = median(values);
        let skew = Skew {
            subject: node_subject(node),
            offset_seconds: round_millis(offset),
            spread_seconds: round_millis(mad(values, offset)),
            evidence,
            samples: values.len() as u64,
            flagged: offset.abs() >= options.skew_threshold_seconds,
            zone_error: false,
        };
        (node.to_owned(), skew)
    };
    for (node, (values, evidence)) in offsets.iter().filter(|(_, (values, _))| !values.is_empty()) {
        skews.push(node_skew(node, values, format!("{evidence}{}", ntp_note(node))));
    }
    // Without a clock series, NTP's own offset is the evidence (and its note says no more).
    for (node, values) in timex.iter().filter(|(node, values)| !offsets.contains_key(*node) && !values.is_empty()) {
        let unsynced = if unsynced.get(node).copied().unwrap_or(false) {
            "; NTP not synchronised (node_timex_sync_status 0)"
        } else {
            ""
        };
        skews.push(node_skew(node, values, format!("{EVIDENCE_TIMEX}{unsynced}")));
    }
    skews
}

/// Offsets between subjects that logged the same request ids, anchored to node clocks where
/// known, else to the subject most others agree with.
fn request_id_skews(digests: &[LogDigest], anchored: &BTreeMap<String, f64>, options: &Options) -> Vec<Skew> {
    // First sighting of each sampled id per subject.
    let mut subjects: BTreeMap<String, HashMap<u64, i64>> = BTreeMap::new();
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for digest in digests {
        if digest.source.kind != SourceKind::Logs || digest.request_ids.first_seen.is_empty() {
            continue;
        }
        let subject = subject_of(&digest.source.stream, digest.source.node.as_deref());
        *lines.entry(subject.clone()).or_default() += digest.n_lines;
        let seen = subjects.entry(subject).or_default();
        for (hash, nanos) in &digest.request_ids.first_seen {
            seen.entry(*hash).and_modify(|first| *first = (*first).min(*nanos)).or_insert(*nanos);
        }
    }
    let names: Vec<&String> = subjects.keys().collect();
    if names.len() < 2 {
        return Vec::new();
    }
    // Pairwise: clock(right) - clock(left), median over shared ids.
    let mut pairs: Vec<(usize, usize, f64, f64, usize)> = Vec::new();
    for left in 0..names.len() {
        for right in left + 1..names.len() {
            let (left_seen, right_seen) = (&subjects[names[left]], &subjects[names[right]]);
            let differences: Vec<f64> = left_seen
                .iter()
                .filter_map(|(hash, left_nanos)| Some((right_seen.get(hash)? - left_nanos) as f64 / 1e9))
                .collect();
            if differences.len() >= MIN_SHARED_IDS {
                let offset = median(&differences);
                pairs.push((left, right, offset, mad(&differences, offset), differences.len()));
            }
        }
    }
    // Relative offsets by walking the pairs from each component's root, most shared first.
    pairs.sort_by(|left, right| right.4.cmp(&left.4).then(left.0.cmp(&right.0)).then(left.1.cmp(&right.1)));
    let mut relative: Vec<Option<(f64, f64, usize, usize)>> = vec![None; names.len()];
    let mut components: Vec<Vec<usize>> = Vec::new();
    for root in 0..names.len() {
        if relative[root].is_some() || !pairs.iter().any(|pair| pair.0 == root || pair.1 == root) {
            continue;
        }
        relative[root] = Some((0.0, 0.0, 0, root));
        let mut members = vec![root];
        let mut grown = true;
        while grown {
            grown = false;
            for &(left, right, offset, spread, shared) in &pairs {
                match (relative[left], relative[right]) {
                    (Some((base, _, _, _)), None) => {
                        relative[right] = Some((base + offset, spread, shared, left));
                        members.push(right);
                        grown = true;
                    }
                    (None, Some((base, _, _, _))) => {
                        relative[left] = Some((base - offset, spread, shared, right));
                        members.push(left);
                        grown = true;
                    }
                    _ => {}
                }
            }
        }
        components.push(members);
    }
    let mut skews = Vec::new();
    for members in components {
        // Anchor: a subject with a node clock. Else a reference subject: with three or more,
        // the one in the middle (most agree with it); with two, the one with more lines.
        let anchor = members.iter().find_map(|&member| {
            let (relative_offset, ..) = relative[member]?;
            Some(anchored.get(names[member].as_str())? - relative_offset)
        });
        let reference = if anchor.is_some() {
            None
        } else if members.len() >= 3 {
            let mut by_offset = members.clone();
            by_offset.sort_by(|&left, &right| {
                let offset = |member: usize| relative[member].map_or(0.0, |value| value.0);
                offset(left).total_cmp(&offset(right)).then(left.cmp(&right))
            });
            Some(by_offset[(by_offset.len() - 1) / 2])
        } else {
            members.iter().copied().max_by_key(|&member| (lines[names[member]], usize::MAX - member))
        };
        let shift =
            anchor.unwrap_or_else(|| -reference.and_then(|member| relative[member]).map_or(0.0, |value| value.0));
        for &member in &members {
            let Some((relative_offset, spread, shared, via)) = relative[member] else { continue };
            if Some(member) == reference {
                continue;
            }
            // The root of the walk has no pair of its own: its first partner speaks for it.
            let (peer, shared, spread) = if via == member {
                let pair = pairs.iter().find(|pair| pair.0 == member || pair.1 == member);
                match pair {
                    Some(&(left, right, _, spread, shared)) => {
                        (if left == member { right } else { left }, shared, spread)
                    }
                    None => continue,
                }
            } else {
                (via, shared, spread)
            };
            let offset = relative_offset + shift;
            let mut evidence = format!("request ids shared with {}", names[peer]);
            if anchor.is_none() {
                evidence.push_str(&format!(
                    " (against {}: no node clock says which is right)",
                    names[reference.unwrap_or(peer)]
                ));
            }
            skews.push(Skew {
                subject: names[member].clone(),
                offset_seconds: round_millis(offset),
                spread_seconds: round_millis(spread),
                evidence,
                samples: shared as u64,
                flagged: offset.abs() >= options.skew_threshold_seconds && ids_agree(offset, spread),
                zone_error: false,
            });
        }
    }
    skews
}

/// Shared ids say a clock is off only when they agree on by how much: one request is logged
/// within milliseconds on both nodes. Ids that are not requests (an object's UID, a content
/// hash logged whenever it is seen) give offsets all over the place; they are reported, not
/// flagged.
fn ids_agree(offset_seconds: f64, spread_seconds: f64) -> bool {
    spread_seconds <= (offset_seconds.abs() * 0.25).max(1.0)
}

/// Transport (kubelet) against embedded times of one stream: a constant whole number of
/// quarter hours is a zone error; another constant offset is the application's own clock.
fn dual_timestamp_skew(digest: &LogDigest, options: &Options) -> Option<Skew> {
    let samples = &digest.dual.samples;
    if samples.len() < 10 {
        return None;
    }
    let seconds: Vec<f64> = samples.iter().map(|nanos| *nanos as f64 / 1e9).collect();
    let offset = median(&seconds);
    let spread = mad(&seconds, offset);
    if offset.abs() < options.skew_threshold_seconds || spread > 30.0 {
        // Buffering (small, positive, variable) or noise: not a clock statement.
        return None;
    }
    let quarter_hours = (offset / 900.0).round();
    let zone_error = quarter_hours != 0.0 && (offset - quarter_hours * 900.0).abs() <= 60.0;
    let subject = stream_subject(&digest.source.stream);
    let evidence = if zone_error {
        format!(
            "zone_mismatch: embedded times read {} from the kubelet's; the application writes local time {} {}",
            super::human_offset(quarter_hours * 900.0),
            zone_name(quarter_hours as i64 * 900),
            if digest.dual.assumed_zone * 2 > digest.dual.count { "without a zone" } else { "under a wrong zone" },
        )
    } else {
        "embedded times against the kubelet's (dual timestamps)".to_owned()
    };
    Some(Skew {
        subject,
        offset_seconds: round_millis(if zone_error { quarter_hours * 900.0 } else { offset }),
        spread_seconds: round_millis(spread),
        evidence,
        samples: digest.dual.count,
        flagged: true,
        zone_error,
    })
}

/// Signals against their own data: an alert cannot start before its expression's result
/// (the query of its `generatorURL`, exported beside it) first held. The alert's start
/// comes from the clock of the Prometheus that evaluated the rule; the data's times from the
/// one that answered the query.
fn alert_skews(records: &[Record], window: &Window, options: &Options) -> Vec<Skew> {
    // Each expression's first sample in the window and its step, once per series (not once
    // per alert: a long incident stores its group's alerts again with every notification).
    let mut first_samples: std::collections::HashMap<String, (jiff::Timestamp, f64)> = Default::default();
    for record in records {
        let Record::Series(series) = record else { continue };
        let Some((time, _)) = series.samples.iter().find(|(time, _)| *time >= window.start) else { continue };
        let spacings: Vec<f64> =
            series.samples.windows(2).map(|pair| pair[1].0.duration_since(pair[0].0).as_secs_f64()).collect();
        let step = if spacings.is_empty() { 60.0 } else { median(&spacings) };
        first_samples
            .entry(compact_query(&series.query))
            .and_modify(|first| {
                if *time < first.0 {
                    *first = (*time, step);
                }
            })
            .or_insert((*time, step));
    }
    let mut skews = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for record in records {
        let Record::Alert(alert) = record else { continue };
        if first_samples.is_empty() {
            break;
        }
        let Some(expression) = alert.generator_url.as_deref().and_then(generator_expression) else { continue };
        let first_true = first_samples.get(&compact_query(&expression)).copied();
        let Some((crossed, step)) = first_true else { continue };
        let offset = alert.starts_at.duration_since(crossed).as_secs_f64();
        // Evaluation happens on a grid and the data on another: two steps of slack.
        if offset >= -2.0 * step || !seen.insert((alert.name.clone(), alert.starts_at)) {
            continue;
        }
        skews.push(Skew {
            subject: format!("alert {} (rule evaluator clock)", alert.name),
            offset_seconds: round_millis(offset),
            spread_seconds: round_millis(step),
            evidence: format!("fires before its expression's data first held ({crossed})"),
            samples: 1,
            flagged: offset.abs() >= options.skew_threshold_seconds,
            zone_error: false,
        });
    }
    skews
}

/// The `g0.expr` of a Prometheus graph URL, decoded.
pub fn generator_expression(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let encoded = query.split('&').find_map(|pair| pair.strip_prefix("g0.expr="))?;
    Some(percent_decode(encoded))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = |byte: u8| (byte as char).to_digit(16);
                match (hex(bytes[index + 1]), hex(bytes[index + 2])) {
                    (Some(high), Some(low)) => {
                        decoded.push((high * 16 + low) as u8);
                        index += 2;
                    }
                    _ => decoded.push(b'%'),
                }
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn compact_query(query: &str) -> String {
    query.chars().filter(|character| !character.is_whitespace()).collect()
}

/// `+09:00`, `-05:30`.
pub fn zone_name(offset_seconds: i64) -> String {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let minutes = offset_seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|value| !value.is_nan()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[middle] } else { (sorted[middle - 1] + sorted[middle]) / 2.0 }
}

/// Median absolute deviation around `center`.
pub fn mad(values: &[f64], center: f64) -> f64 {
    let deviations: Vec<f64> = values.iter().map(|value| (value - center).abs()).collect();
    median(&deviations)
}

fn round_millis(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_zone(offset_seconds: i64, expected: &str) {
        assert_eq!(zone_name(offset_seconds), expected);
    }

    #[test]
    fn zone_names() {
        check_zone(32_400, "+09:00");
        check_zone(-19_800, "-05:30");
        check_zone(0, "+00:00");
        check_zone(20_700, "+05:45");
    }

    #[track_caller]
    fn check_expression(url: &str, expected: Option<&str>) {
        assert_eq!(generator_expression(url).as_deref(), expected, "{url}");
    }

    #[test]
    fn generator_expressions() {
        check_expression(
            "http://prometheus:9090/graph?g0.expr=sum%28rate%28x%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29+%3E+0.05&g0.tab=1",
            Some(r#"sum(rate(x{code=~"5.."}[5m])) > 0.05"#),
        );
        check_expression("http://prometheus:9090/graph?g0.tab=1", None);
        check_expression("http://prometheus:9090/graph?g0.expr=up%2", Some("up%2"));
        check_expression("http://p/graph?g0.expr=%é1", Some("%é1"));
        check_expression("not a url", None);
    }

    #[track_caller]
    fn check_median(values: &[f64], expected: f64) {
        assert_eq!(median(values), expected);
    }

    #[test]
    fn medians() {
        check_median(&[3.0, 1.0, 2.0], 2.0);
        check_median(&[4.0, 1.0, 2.0, 3.0], 2.5);
        check_median(&[90.0, 90.1, 89.9, 1000.0], 90.05);
    }
}
