//! Prometheus `query_range` (and instant `query`) responses → [`SeriesRecord`]s, with the
//! response's `warnings` and `infos` kept for the user. Also reads `promtool query range
//! -o json` output, which is the bare `result` array.
//!
//! Native histogram samples (`histograms`) are not read: a series with only those is left
//! out rather than shown as a series with no data.
//!
//! Also what Prometheus says about itself: its alerting rules (`/api/v1/rules` →
//! [`RuleRecord`]s, by [`parse_rules`]) and its scrape targets (`/api/v1/targets` →
//! [`TargetRecord`]s, by [`parse_targets`]), as the collector keeps them in
//! `prometheus/rules.json` and `prometheus/targets.json` or as `curl` saves them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::json::{Node, parse_document};
use super::{ParseError, Result};
use crate::record::{Instant, RuleRecord, SeriesKind, SeriesRecord, TargetHealth, TargetRecord};

/// A parsed range-query response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryRange {
    pub series: Vec<SeriesRecord>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// Parses a `query_range` response body; `query` names the PromQL that produced it.
///
/// An error response (`"status": "error"`) is a [`ParseError`] quoting Prometheus's
/// `errorType` and `error`.
pub fn parse_query_range(bytes: &[u8], query: &str) -> Result<QueryRange> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    let kind = series_kind(query);
    if let Value::Array(items) = &document {
        let series = read_matrix(root, items, query, kind)?;
        return Ok(QueryRange { series, ..QueryRange::default() });
    }
    if !in_envelope(&root)? {
        return Err(root.get("status").error(r#""success" or "error""#));
    }
    let warnings = strings(root.get("warnings"))?;
    let infos = strings(root.get("infos"))?;
    let data = root.get("data");
    data.object("an object with resultType and result")?;
    let result_type = data.get("resultType");
    let result = data.get("result");
    let series = match result_type.str() {
        Ok("matrix") => read_matrix(result, result.array("an array of series")?, query, kind)?,
        Ok("vector") => {
            let items = result.array("an array of samples")?;
            let mut series = Vec::with_capacity(items.len());
            for index in 0..items.len() {
                let item = result.item(items, index);
                item.object("a sample object with metric and value")?;
                let value = item.get("value");
                if value.is_absent() && !item.get("histogram").is_absent() {
                    continue;
                }
                series.push(SeriesRecord {
                    query: query.to_string(),
                    name: None,
                    kind,
                    labels: item.get("metric").string_map()?,
                    samples: vec![read_sample(value)?],
                });
            }
            series
        }
        Ok("scalar") => vec![SeriesRecord {
            query: query.to_string(),
            name: None,
            kind,
            labels: BTreeMap::new(),
            samples: vec![read_sample(result)?],
        }],
        _ => {
            return Err(result_type.error(r#""matrix", "vector" or "scalar""#));
        }
    };
    Ok(QueryRange { series, warnings, infos })
}

/// Whether a Prometheus API answer holds its content under `data` (a successful answer)
/// or is that content bare (saved without its envelope); an error answer quotes Prometheus.
fn in_envelope(root: &Node<'_, '_>) -> Result<bool> {
    root.object("a Prometheus API response object")?;
    let status = root.get("status");
    match status.str() {
        Ok("success") => Ok(true),
        Ok("error") => {
            let error_type = root.get("errorType").str_or_empty()?;
            let error = root.get("error").str_or_empty()?;
            Err(ParseError::new("status", format!("Prometheus answered with an error: {error_type}: {error}")))
        }
        _ if status.is_absent() => Ok(false),
        _ => Err(status.error(r#""success" or "error""#)),
    }
}

/// Reads a `/api/v1/rules` answer: its alerting rules, group by group (recording rules
/// have no `for:` and name no alert, so they are left out).
pub fn parse_rules(bytes: &[u8]) -> Result<Vec<RuleRecord>> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    let data = if in_envelope(&root)? { root.get("data") } else { root };
    let groups = data.get("groups");
    let group_items = groups.array("an array of rule groups")?;
    let mut rules = Vec::new();
    for group_index in 0..group_items.len() {
        let group = groups.item(group_items, group_index);
        let group_name = group.get("name").str_or_empty()?;
        let file = group.get("file").str_or_empty()?;
        let rule_list = group.get("rules");
        let rule_items = rule_list.array_or_empty("an array of rules")?;
        for rule_index in 0..rule_items.len() {
            let rule = rule_list.item(rule_items, rule_index);
            if rule.get("type").str()? != "alerting" {
                continue;
            }
            let duration = rule.get("duration");
            let seconds = match duration.value() {
                None | Some(Value::Null) => 0.0,
                Some(Value::Number(number)) => number.as_f64().unwrap_or(f64::NAN),
                Some(_) => f64::NAN,
            };
            let duration = jiff::SignedDuration::try_from_secs_f64(seconds)
                .ok()
                .filter(|duration| !duration.is_negative())
                .ok_or_else(|| duration.error("the `for:` duration in seconds"))?;
            rules.push(RuleRecord {
                name: rule.get("name").str()?.to_owned(),
                query: rule.get("query").str()?.to_owned(),
                duration,
                labels: rule.get("labels").string_map()?,
                annotations: rule.get("annotations").string_map()?,
                group: group_name.to_owned(),
                file: file.to_owned(),
            });
        }
    }
    Ok(rules)
}

/// Reads a `/api/v1/targets` answer: its active targets (dropped ones are never scraped).
pub fn parse_targets(bytes: &[u8]) -> Result<Vec<TargetRecord>> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    let data = if in_envelope(&root)? { root.get("data") } else { root };
    let active = data.get("activeTargets");
    let items = active.array("an array of active targets")?;
    let mut targets = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        let target = active.item(items, index);
        let health = target.get("health");
        let health = match health.str()? {
            "up" => TargetHealth::Up,
            "down" => TargetHealth::Down,
            "unknown" => TargetHealth::Unknown,
            _ => return Err(health.error(r#""up", "down" or "unknown""#)),
        };
        // Go's zero time stands for "never scraped".
        let last_scrape = target.get("lastScrape").opt_time()?.filter(|time| time.as_second() > 0);
        targets.push(TargetRecord {
            labels: target.get("labels").string_map()?,
            scrape_pool: target.get("scrapePool").str_or_empty()?.to_owned(),
            scrape_url: target.get("scrapeUrl").str_or_empty()?.to_owned(),
            health,
            last_error: target.get("lastError").str_or_empty()?.to_owned(),
            last_scrape,
        });
    }
    Ok(targets)
}

/// An optional array of strings (`warnings`, `infos`).
fn strings(node: Node<'_, '_>) -> Result<Vec<String>> {
    let items = node.array_or_empty("an array of strings")?;
    let mut texts = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        texts.push(node.item(items, index).str()?.to_string());
    }
    Ok(texts)
}

/// What the series of `query` measure, from its PromQL: the node clock queries the
/// Prometheus collector asks (and their hand-written equivalents) are clock evidence, any
/// other query an incident metric. The one place PromQL text decides a series' kind: the
/// bundle keeps only the query text, so it is read here, once, as the series enters.
pub fn series_kind(query: &str) -> SeriesKind {
    let compact: String = query.chars().filter(|character| !character.is_whitespace()).collect();
    if compact.contains("node_time_seconds") && compact.contains("timestamp(") {
        SeriesKind::NodeClockOffset
    } else if compact.starts_with("node_time_seconds") {
        SeriesKind::NodeClockRaw
    } else if compact.contains("node_timex_offset_seconds") {
        SeriesKind::NodeTimexOffset
    } else if compact.contains("node_timex_sync_status") {
        SeriesKind::NodeTimexSync
    } else {
        SeriesKind::Plain
    }
}

fn read_matrix(result: Node<'_, '_>, items: &[Value], query: &str, kind: SeriesKind) -> Result<Vec<SeriesRecord>> {
    let mut series = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        let item = result.item(items, index);
        item.object("a series object with metric and values")?;
        let values = item.get("values");
        if values.is_absent() && !item.get("histograms").is_absent() {
            continue;
        }
        let points = values.array("an array of [time, \"value\"] samples")?;
        let mut samples = Vec::with_capacity(points.len());
        for point_index in 0..points.len() {
            samples.push(read_sample(values.item(points, point_index))?);
        }
        // Prometheus sends samples in order; a hand-edited file may not.
        if !samples.is_sorted_by_key(|(time, _)| *time) {
            samples.sort_by_key(|(time, _)| *time);
        }
        series.push(SeriesRecord {
            query: query.to_string(),
            name: None,
            kind,
            labels: item.get("metric").string_map()?,
            samples,
        });
    }
    Ok(series)
}

/// One `[<unix seconds>, "<value>"]` pair.
fn read_sample(node: Node<'_, '_>) -> Result<(Instant, f64)> {
    let pair = node.array(r#"a [time, "value"] pair"#)?;
    if pair.len() != 2 {
        return Err(node.error_with(format!(r#"expected a [time, "value"] pair, found {} elements"#, pair.len())));
    }
    let time_node = node.item(pair, 0);
    let time = match time_node.value() {
        Some(Value::Number(number)) => number.as_f64().and_then(seconds_to_instant),
        _ => None,
    }
    .ok_or_else(|| time_node.error("a Unix time in seconds"))?;
    let value_node = node.item(pair, 1);
    let value = value_node.str().ok().and_then(parse_value).ok_or_else(|| value_node.error("a number as a string"))?;
    Ok((time, value))
}

/// Seconds with up to three decimals → an Instant exact to the millisecond.
///
/// NB: `1739095523.123` is not exact as an f64, but it lies within 3e-7 s of the intended
/// millisecond, so rounding `seconds × 1000` recovers it exactly (Prometheus times are whole
/// milliseconds), where scaling the fraction to nanoseconds would keep the float's error.
fn seconds_to_instant(seconds: f64) -> Option<Instant> {
    let milliseconds = (seconds * 1000.0).round();
    // Bounds are checked before the cast: `as` would saturate silently.
    if !milliseconds.is_finite() || milliseconds.abs() > 9.0e15 {
        return None;
    }
    Instant::from_millisecond(milliseconds as i64).ok()
}

/// Prometheus's value strings: Go float formatting plus `NaN`, `+Inf`, `-Inf`.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        // Rust's parser would also take "infinity" and "nan" in any case; Prometheus never
        // writes those, so they are refused like any other non-number.
        _ if text.bytes().any(|byte| byte.is_ascii_alphabetic() && byte != b'e' && byte != b'E') => None,
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_kind(query: &str, expected: SeriesKind) {
        assert_eq!(series_kind(query), expected, "{query}");
    }

    #[test]
    fn node_clock_queries_are_clock_series() {
        check_kind("node_time_seconds - timestamp(node_time_seconds)", SeriesKind::NodeClockOffset);
        check_kind(
            "node_time_seconds{instance=\"n:9100\"} - timestamp (node_time_seconds)",
            SeriesKind::NodeClockOffset,
        );
        check_kind("node_time_seconds", SeriesKind::NodeClockRaw);
        check_kind(" node_time_seconds{node=\"n\"}", SeriesKind::NodeClockRaw);
        check_kind("node_timex_offset_seconds", SeriesKind::NodeTimexOffset);
        check_kind("max by (node) (node_timex_sync_status)", SeriesKind::NodeTimexSync);
        check_kind("sum(rate(http_requests_total[5m]))", SeriesKind::Plain);
        check_kind("time() - node_boot_time_seconds", SeriesKind::Plain);
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    #[track_caller]
    fn check_samples(values: &str, expected: &[(&str, f64)]) {
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"pod":"a"}},"values":{values}}}]}}}}"#
        );
        let parsed = parse_query_range(body.as_bytes(), "up").unwrap();
        let samples = &parsed.series[0].samples;
        assert_eq!(samples.len(), expected.len(), "{values}");
        for ((time, value), (expected_time, expected_value)) in samples.iter().zip(expected) {
            assert_eq!(time.to_string(), *expected_time, "{values}");
            // NaN != NaN: compare bit patterns' meaning instead.
            assert!(
                value == expected_value || (value.is_nan() && expected_value.is_nan()),
                "{values}: {value} != {expected_value}"
            );
        }
    }

    #[test]
    fn sample_times_are_exact_milliseconds_and_values_keep_specials() {
        let rows: &[(&str, &[(&str, f64)])] = &[
            (r#"[[1739095523.123,"1"]]"#, &[("2025-02-09T10:05:23.123Z", 1.0)]),
            (
                r#"[[1739095523,"0.5"],[1739095538,"NaN"],[1739095553,"+Inf"],[1739095568,"-Inf"]]"#,
                &[
                    ("2025-02-09T10:05:23Z", 0.5),
                    ("2025-02-09T10:05:38Z", f64::NAN),
                    ("2025-02-09T10:05:53Z", f64::INFINITY),
                    ("2025-02-09T10:06:08Z", f64::NEG_INFINITY),
                ],
            ),
            (
                r#"[[1739095523.999,"1e+06"],[1739095523.001,"-2.5e-3"]]"#,
                &[("2025-02-09T10:05:23.001Z", -0.0025), ("2025-02-09T10:05:23.999Z", 1.0e6)],
            ),
            (r#"[]"#, &[]),
        ];
        for (values, expected) in rows {
            check_samples(values, expected);
        }
    }

    #[test]
    fn every_millisecond_of_a_second_is_exact() {
        for millisecond in 0..1000 {
            let text = format!("1739095523.{millisecond:03}");
            let seconds: f64 = text.parse().unwrap();
            let instant = seconds_to_instant(seconds).unwrap();
            assert_eq!(instant.as_millisecond(), 1_739_095_523_000 + millisecond, "{text}");
            assert_eq!(instant.subsec_nanosecond(), millisecond as i32 * 1_000_000);
        }
    }

    #[test]
    fn responses_keep_labels_warnings_and_infos() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"http_requests_total","code":"500","pod":"api-1"},"values":[[1739095523,"3"]]},
            {"metric":{"pod":"h"},"histograms":[[1739095523,{"count":"1","sum":"2","buckets":[]}]]}]},
            "warnings":["PromQL warning: encountered a mix of histograms and floats"],"infos":["PromQL info: metric might not be a counter"]}"#;
        let parsed = parse_query_range(body.as_bytes(), "rate(http_requests_total[5m])").unwrap();
        assert_eq!(parsed.series.len(), 1);
        assert_eq!(
            parsed.series[0].labels,
            labels(&[("__name__", "http_requests_total"), ("code", "500"), ("pod", "api-1")])
        );
        assert_eq!(parsed.series[0].query, "rate(http_requests_total[5m])");
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.infos.len(), 1);
    }

    #[test]
    fn vectors_scalars_and_promtool_arrays_are_accepted() {
        let rows = [
            (
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1739095523.5,"2"]}]}}"#,
                (1, "2025-02-09T10:05:23.5Z", 2.0),
            ),
            (
                r#"{"status":"success","data":{"resultType":"scalar","result":[1739095523,"7"]}}"#,
                (1, "2025-02-09T10:05:23Z", 7.0),
            ),
            (
                r#"[{"metric":{"pod":"a"},"values":[[1739095523,"4"]]},{"metric":{},"values":[]}]"#,
                (2, "2025-02-09T10:05:23Z", 4.0),
            ),
        ];
        for (body, (n_series, time, value)) in rows {
            let parsed = parse_query_range(body.as_bytes(), "q").unwrap();
            assert_eq!(parsed.series.len(), n_series, "{body}");
            assert_eq!(parsed.series[0].samples[0].0.to_string(), time, "{body}");
            assert_eq!(parsed.series[0].samples[0].1, value, "{body}");
        }
    }

    #[test]
    fn errors_name_the_sample_or_quote_prometheus() {
        let matrix = |values: &str| {
            format!(
                r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[[1,"1"]]}},{{"metric":{{}},"values":{values}}}]}}}}"#
            )
        };
        let rows = [
            (
                r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}"#.to_string(),
                "status: Prometheus answered with an error: bad_data: exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ),
            (
                matrix(r#"[[1,"1"],[2,3]]"#),
                "data.result[1].values[1][1]: expected a number as a string, found the number 3",
            ),
            (
                matrix(r#"[[1,"1"],[2,"fast"]]"#),
                r#"data.result[1].values[1][1]: expected a number as a string, found "fast""#,
            ),
            (
                matrix(r#"[[1,"1"],["2","1"]]"#),
                r#"data.result[1].values[1][0]: expected a Unix time in seconds, found "2""#,
            ),
            (
                matrix(r#"[[1e300,"1"]]"#),
                "data.result[1].values[0][0]: expected a Unix time in seconds, found the number 1e+300",
            ),
            (
                matrix(r#"[[1]]"#),
                r#"data.result[1].values[0]: expected a [time, "value"] pair, found 1 elements"#,
            ),
            (
                matrix(r#"null"#),
                r#"data.result[1].values: expected an array of [time, "value"] samples, found null"#,
            ),
            (
                r#"{"status":"success","data":{"resultType":"streams","result":[]}}"#.to_string(),
                r#"data.resultType: expected "matrix", "vector" or "scalar", found "streams""#,
            ),
            (
                r#"{"status":"ok"}"#.to_string(),
                r#"status: expected "success" or "error", found "ok""#,
            ),
            (
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1739095523,"1"#.to_string(),
                "line 1 column 97: expected more JSON (the document is truncated)",
            ),
        ];
        for (body, expected) in rows {
            let error = parse_query_range(body.as_bytes(), "q").unwrap_err();
            assert_eq!(error.to_string(), expected, "{body}");
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ingest").join(name))
            .unwrap()
    }

    #[test]
    fn rules_keep_alerting_rules_with_their_for() {
        let rules = parse_rules(&fixture("prometheus-rules.json")).unwrap();
        assert_eq!(
            rules,
            [RuleRecord {
                name: "HighErrorRate".to_owned(),
                query: r#"sum by (pod) (rate(http_requests_total{code=~"5.."}[5m])) > 0.05"#.to_owned(),
                duration: jiff::SignedDuration::from_mins(5),
                labels: labels(&[("severity", "critical")]),
                annotations: labels(&[("summary", "API 5xx ratio above 5%")]),
                group: "shop".to_owned(),
                file: "/etc/prometheus/rules/shop.yml".to_owned(),
            }],
            "the recording rule is left out"
        );
        // The bare `data` object, and a rule without `for:`.
        let bare = r#"{"groups":[{"name":"g","file":"f","rules":[{"type":"alerting","name":"Up","query":"up == 0","duration":0.5}]}]}"#;
        let rules = parse_rules(bare.as_bytes()).unwrap();
        assert_eq!(rules[0].duration, jiff::SignedDuration::from_millis(500));
        assert!(rules[0].labels.is_empty());
    }

    #[test]
    fn targets_keep_health_and_last_error() {
        let targets = parse_targets(&fixture("prometheus-targets.json")).unwrap();
        let got: Vec<(&str, TargetHealth, &str, Option<String>)> = targets
            .iter()
            .map(|target| {
                (
                    target.labels["instance"].as_str(),
                    target.health,
                    target.last_error.as_str(),
                    target.last_scrape.map(|time| time.to_string()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "10.0.1.2:9100",
                    TargetHealth::Down,
                    r#"Get "http://10.0.1.2:9100/metrics": dial tcp 10.0.1.2:9100: connect: connection refused"#,
                    Some("2025-02-09T10:40:35.213476618Z".to_owned())
                ),
                ("10.0.1.3:9100", TargetHealth::Up, "", Some("2025-02-09T10:40:36Z".to_owned())),
            ]
        );
        assert!(targets[0].is_failing() && !targets[1].is_failing());
        assert_eq!(targets[0].scrape_url, "http://10.0.1.2:9100/metrics");
        // Never scraped yet: Go's zero time is no time.
        let fresh = r#"{"status":"success","data":{"activeTargets":[{"labels":{},"health":"unknown","lastError":"","lastScrape":"0001-01-01T00:00:00Z"}]}}"#;
        let targets = parse_targets(fresh.as_bytes()).unwrap();
        assert_eq!((targets[0].health, targets[0].last_scrape), (TargetHealth::Unknown, None));
    }

    /// A parser reduced to how many records it read.
    type Count = fn(&[u8]) -> Result<usize>;

    #[test]
    fn rule_and_target_errors_name_the_field_or_quote_prometheus() {
        let rows: &[(&str, Count, &str)] = &[
            (
                r#"{"status":"error","errorType":"unavailable","error":"rule manager not ready"}"#,
                |bytes| parse_rules(bytes).map(|rules| rules.len()),
                "status: Prometheus answered with an error: unavailable: rule manager not ready",
            ),
            (
                r#"{"status":"success","data":{"groups":[{"rules":[{"type":"alerting","name":"A","query":"up","duration":"5m"}]}]}}"#,
                |bytes| parse_rules(bytes).map(|rules| rules.len()),
                r#"data.groups[0].rules[0].duration: expected the `for:` duration in seconds, found "5m""#,
            ),
            (
                r#"{"status":"success","data":{"groups":{}}}"#,
                |bytes| parse_rules(bytes).map(|rules| rules.len()),
                "data.groups: expected an array of rule groups, found an object",
            ),
            (
                r#"{"status":"success","data":{"activeTargets":[{"labels":{},"health":"sick"}]}}"#,
                |bytes| parse_targets(bytes).map(|targets| targets.len()),
                r#"data.activeTargets[0].health: expected "up", "down" or "unknown", found "sick""#,
            ),
            (
                r#"{"status":"success","data":{"activeTargets":[{"labels":{"instance":1},"health":"up"}]}}"#,
                |bytes| parse_targets(bytes).map(|targets| targets.len()),
                "data.activeTargets[0].labels.instance: expected a string, found the number 1",
            ),
        ];
        for (body, parse, expected) in rows {
            let error = parse(body.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), *expected, "{body}");
        }
    }
}
