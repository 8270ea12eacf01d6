//! The Prometheus collector against a real Prometheus (Debian's `prometheus`, started here
//! on a free loopback port) whose history for a past window was backfilled with
//! `promtool tsdb create-blocks-from openmetrics`: planted series come back through the
//! `draft` readers, a long window is split and merged without lost or repeated points, the
//! node ahead by 90 s is found, and a bad query or a stopped Prometheus is a gap. A second
//! Prometheus loads a rule file with `for:` and scrapes a target nobody listens on: the pass
//! keeps the alert's rule and the target's error, finds a node's exporter by
//! `node_uname_info`, and the draft shows when the condition began and why the series stopped.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::SignedDuration;
use postmortemd::collect::prometheus::PrometheusCollector;
use postmortemd::collect::{Pass, Scope};
use postmortemd::config::{PrometheusQuery, PrometheusSettings};
use postmortemd::draft::{DraftOptions, draft};
use postmortemd::ingest::prometheus::parse_query_range;
use postmortemd::record::{AlertRecord, AlertStatus};
use support::at;
use support::services::{eventually, free_port, scratch_folder, start_prometheus, start_prometheus_with};

/// The backfilled history: 09:00–12:00 on 2025-02-09, a sample every 15 s.
const START: &str = "2025-02-09T09:00:00Z";
const END: &str = "2025-02-09T12:00:00Z";
const SCRAPE_SECS: i64 = 15;
/// `queue_depth` steps from 5 to 50 here.
const STEP_CHANGE: &str = "2025-02-09T10:30:00Z";
/// `worker_up` has no samples in [HOLE_START, HOLE_END).
const HOLE_START: &str = "2025-02-09T10:00:00Z";
const HOLE_END: &str = "2025-02-09T10:10:00Z";

/// One planted series: its labels and its value at a Unix second (`None`: no sample).
type Planted<'a> = (&'a str, &'a dyn Fn(i64) -> Option<f64>);

/// A configured query: name, `match` labels, PromQL.
type Rule<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

fn seconds(text: &str) -> i64 {
    at(text).as_second()
}

/// OpenMetrics text of the planted history, one family after another, samples in time order.
fn history() -> String {
    let times: Vec<i64> = (seconds(START)..=seconds(END)).step_by(SCRAPE_SECS as usize).collect();
    let mut text = String::new();
    let mut family = |name: &str, kind: &str, series: &[Planted]| {
        let _ = writeln!(text, "# TYPE {name} {kind}");
        for (labels, value) in series {
            let sample_name = if kind == "counter" { format!("{name}_total") } else { name.to_owned() };
            for time in &times {
                if let Some(value) = value(*time) {
                    let _ = writeln!(text, "{sample_name}{{{labels}}} {value} {time}");
                }
            }
        }
    };
    let start = seconds(START);
    let (step_change, hole_start, hole_end) = (seconds(STEP_CHANGE), seconds(HOLE_START), seconds(HOLE_END));
    family(
        "http_requests",
        "counter",
        &[(r#"pod="api-1",code="200""#, &|time| Some(((time - start) / SCRAPE_SECS * 10) as f64))],
    );
    family("queue_depth", "gauge", &[(r#"pod="api-1""#, &|time| Some(if time < step_change { 5.0 } else { 50.0 }))]);
    family("worker_up", "gauge", &[(r#"pod="api-2""#, &|time| (time < hole_start || time >= hole_end).then_some(1.0))]);
    family(
        "node_time_seconds",
        "gauge",
        &[
            (r#"instance="node-1:9100",job="node-exporter""#, &|time| Some(time as f64 + 0.004)),
            (r#"instance="node-2:9100",job="node-exporter""#, &|time| Some(time as f64 + 90.0)),
            (r#"instance="node-3:9100",job="node-exporter""#, &|time| Some(time as f64 - 30.0)),
        ],
    );
    family(
        "node_timex_offset_seconds",
        "gauge",
        &[
            (r#"instance="node-1:9100",job="node-exporter""#, &|_| Some(0.001)),
            (r#"instance="node-2:9100",job="node-exporter""#, &|_| Some(0.0005)),
            (r#"instance="node-3:9100",job="node-exporter""#, &|_| Some(0.0)),
        ],
    );
    family(
        "node_timex_sync_status",
        "gauge",
        &[
            (r#"instance="node-1:9100",job="node-exporter""#, &|_| Some(1.0)),
            (r#"instance="node-2:9100",job="node-exporter""#, &|_| Some(0.0)),
            (r#"instance="node-3:9100",job="node-exporter""#, &|_| Some(1.0)),
        ],
    );
    text.push_str("# EOF\n");
    text
}

fn settings(url: &str, step: &str, queries: &[Rule]) -> PrometheusSettings {
    PrometheusSettings {
        url: url.to_owned(),
        step: step.parse().unwrap(),
        timeout: SignedDuration::from_secs(30),
        query_budget: SignedDuration::from_mins(2),
        node_clock: true,
        alert_expressions: true,
        queries: queries
            .iter()
            .map(|(name, matchers, query)| PrometheusQuery {
                name: (*name).to_owned(),
                matchers: matchers.iter().map(|(label, value)| ((*label).to_owned(), (*value).to_owned())).collect(),
                query: (*query).to_owned(),
            })
            .collect(),
    }
}

/// `expression` as a `generatorURL` writes it (`g0.expr`, form-encoded).
fn generator_url(expression: &str) -> String {
    let encoded: String = expression
        .bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (byte as char).to_string(),
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("http://prometheus:9090/graph?g0.expr={encoded}&g0.tab=1")
}

fn alert() -> AlertRecord {
    let expression = "rate(http_requests_total{pod=\"api-1\"}[5m]) > 0.5";
    AlertRecord {
        name: "HighErrorRate".to_owned(),
        status: AlertStatus::Firing,
        labels: [("alertname", "HighErrorRate"), ("pod", "api-1"), ("namespace", "shop")]
            .into_iter()
            .map(|(label, value)| (label.to_owned(), value.to_owned()))
            .collect(),
        annotations: BTreeMap::new(),
        starts_at: at("2025-02-09T10:35:00Z"),
        ends_at: None,
        fingerprint: None,
        generator_url: Some(generator_url(expression)),
    }
}

fn scope(nodes: &[&str]) -> Scope {
    Scope {
        incident_id: 1,
        alerts: vec![alert()],
        pagerduty_services: Vec::new(),
        start: at(START),
        end: at(END),
        nodes: nodes.iter().map(|node| (*node).to_owned()).collect(),
    }
}

fn file<'a>(pass: &'a Pass, name: &str) -> &'a [u8] {
    let names: Vec<&str> = pass.files.iter().map(|file| file.name.as_str()).collect();
    &pass.files.iter().find(|file| file.name == name).unwrap_or_else(|| panic!("{name} not in {names:?}")).bytes
}

/// `(seconds, value)` of every sample of the one series of `bytes`.
fn samples(bytes: &[u8]) -> Vec<(f64, f64)> {
    let parsed = parse_query_range(bytes, "q").unwrap();
    assert_eq!(parsed.series.len(), 1, "{:?}", parsed.series);
    parsed.series[0].samples.iter().map(|(time, value)| (time.as_millisecond() as f64 / 1000.0, *value)).collect()
}

#[tokio::test]
async fn the_collector_reads_a_real_prometheus_and_reports_what_it_cannot() {
    let folder = scratch_folder("collect-prometheus");
    let (mut prometheus, url) = start_prometheus(&folder, &history()).await;

    // A pass as the daemon runs it: the alert's expression, matched and templated queries,
    // the node clocks of the target pods' nodes.
    let collector = PrometheusCollector::new(&settings(
        &url,
        "15s",
        &[
            ("queue depth", &[("alertname", "HighErrorRate")], r#"queue_depth{pod="{{pod}}"}"#),
            ("requests", &[], "sum by (pod) (rate(http_requests_total[5m]))"),
            ("worker up", &[], "worker_up"),
            ("not this incident", &[("alertname", "DiskFull")], "up"),
        ],
    ))
    .unwrap();
    let pass = collector.pass(&scope(&["node-2", "node-1"])).await;
    assert!(pass.gaps.is_empty(), "{:?}", pass.gaps);
    let names: Vec<&str> = pass.files.iter().map(|file| file.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prometheus/alert-higherrorrate.json",
            "prometheus/queue-depth.json",
            "prometheus/requests.json",
            "prometheus/worker-up.json",
            "prometheus/node-clock-offset.json",
            "prometheus/node-timex-offset.json",
            "prometheus/node-timex-sync-status.json",
            "prometheus/queries.json",
        ]
    );
    let queries: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(file(&pass, "prometheus/queries.json")).unwrap();
    assert_eq!(queries["alert-higherrorrate.json"], r#"rate(http_requests_total{pod="api-1"}[5m]) > 0.5"#);
    // A configured query carries its name, which its rows and gaps are named after.
    assert_eq!(
        queries["queue-depth.json"],
        serde_json::json!({"query": r#"queue_depth{pod="api-1"}"#, "name": "queue depth"})
    );
    assert_eq!(queries.len(), 7);

    // The planted step change, every 15 s over the whole window.
    let queue = samples(file(&pass, "prometheus/queue-depth.json"));
    assert_eq!(queue.len(), 721);
    let step_change = seconds(STEP_CHANGE) as f64;
    for (time, value) in &queue {
        assert_eq!(*value, if *time < step_change { 5.0 } else { 50.0 }, "at {time}");
    }
    // The counter's rate: 10 per 15 s, once its 5 min range holds a full history.
    let rate = samples(file(&pass, "prometheus/requests.json"));
    let full = rate.iter().filter(|(time, _)| *time >= (seconds(START) + 300) as f64);
    assert!(full.clone().all(|(_, value)| (value - 10.0 / 15.0).abs() < 1e-9), "{rate:?}");
    assert_eq!(full.count(), 701);
    // The planted hole: no points once the last sample is older than the 5 min lookback.
    let worker = samples(file(&pass, "prometheus/worker-up.json"));
    let in_hole = |time: f64| time >= (seconds(HOLE_START) + 300) as f64 && time < seconds(HOLE_END) as f64;
    assert!(worker.iter().all(|(time, _)| !in_hole(*time)), "points inside the hole");
    assert_eq!(worker.len(), 721 - 20, "the 20 points of 10:05–10:09:45 are missing");
    // Node clocks: only the scope's nodes.
    let clock = parse_query_range(file(&pass, "prometheus/node-clock-offset.json"), "q").unwrap();
    let mut instances: Vec<&str> = clock.series.iter().map(|series| series.labels["instance"].as_str()).collect();
    instances.sort();
    assert_eq!(instances, ["node-1:9100", "node-2:9100"]);

    // The files as `draft` reads them: the +90 s node, the hole as a gap.
    let evidence = folder.join("evidence");
    for file in &pass.files {
        let path = evidence.join(&file.name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.bytes).unwrap();
    }
    let timeline = draft(&DraftOptions {
        paths: vec![evidence.clone()],
        window: Some((at(START), at(END))),
        title: Some("backfilled".to_owned()),
        ..DraftOptions::default()
    })
    .unwrap();
    let skews: Vec<(&str, f64, bool)> =
        timeline.clock_skew.iter().map(|skew| (skew.subject.as_str(), skew.offset_seconds, skew.flagged)).collect();
    assert!(skews.contains(&("node node-2", 90.0, true)), "{skews:?}");
    assert!(skews.iter().all(|(subject, _, flagged)| *subject == "node node-2" || !flagged), "{skews:?}");
    let hole = timeline.gaps.iter().find(|gap| gap.source.contains("worker up")).expect("the hole is a gap");
    assert!(
        hole.start >= at(HOLE_START) && hole.end <= at(HOLE_END).checked_add(SignedDuration::from_secs(15)).unwrap(),
        "{hole:?}"
    );

    // A long window at a tiny step: more than 11,000 points, so split, then merged whole.
    let fine = PrometheusCollector::new(&PrometheusSettings {
        node_clock: false,
        ..settings(&url, "500ms", &[("queue", &[], "queue_depth")])
    })
    .unwrap();
    let mut no_alerts = scope(&[]);
    no_alerts.alerts.clear();
    let pass = fine.pass(&no_alerts).await;
    assert!(pass.gaps.is_empty(), "{:?}", pass.gaps);
    let points = samples(file(&pass, "prometheus/queue.json"));
    let expected_points = (seconds(END) - seconds(START)) * 2 + 1;
    assert!(expected_points > 11_001, "the window must need splitting");
    assert_eq!(points.len() as i64, expected_points, "no point lost or repeated");
    for (index, (time, value)) in points.iter().enumerate() {
        assert_eq!(*time, seconds(START) as f64 + index as f64 * 0.5);
        assert_eq!(*value, if *time < step_change { 5.0 } else { 50.0 }, "at {time}");
    }

    // A query Prometheus rejects: a gap in its words; the other query still comes.
    let broken = PrometheusCollector::new(&settings(
        &url,
        "15s",
        &[("broken", &[], "sum(rate(http_requests_total[5m])"), ("queue", &[], "queue_depth")],
    ))
    .unwrap();
    let pass = broken.pass(&no_alerts).await;
    assert_eq!(pass.gaps.len(), 1, "{:?}", pass.gaps);
    let gap = &pass.gaps[0];
    assert!(gap.reason.starts_with("prometheus rejected broken: bad_data: "), "{}", gap.reason);
    assert!(gap.reason.contains("parse error"), "{}", gap.reason);
    assert_eq!((gap.source.to_string().as_str(), gap.start, gap.end), ("prometheus: broken", at(START), at(END)));
    assert!(pass.files.iter().any(|file| file.name == "prometheus/queue.json"));

    // Prometheus stopped: an "unreachable" gap over the window for each query, and the pass
    // returns (the default retries for the first query, the rest not asked again).
    prometheus.kill().await.unwrap();
    let stopped = PrometheusCollector::new(&settings(
        &url,
        "15s",
        &[("queue", &[], "queue_depth"), ("workers", &[], "worker_up")],
    ))
    .unwrap();
    let pass = stopped.pass(&no_alerts).await;
    assert!(pass.files.is_empty(), "{:?}", pass.files);
    let sources: Vec<String> = pass.gaps.iter().map(|gap| gap.source.to_string()).collect();
    let gaps: Vec<(&str, &str)> =
        pass.gaps.iter().zip(&sources).map(|(gap, source)| (source.as_str(), gap.reason.as_str())).collect();
    let reason = format!("prometheus at {url} unreachable: connection refused");
    assert_eq!(gaps, [("prometheus: queue", reason.as_str()), ("prometheus: workers", reason.as_str())]);
    assert!(pass.gaps.iter().all(|gap| (gap.start, gap.end) == (at(START), at(END))), "{:?}", pass.gaps);
    let _ = std::fs::remove_dir_all(&folder);
}

/// The rule file of the second Prometheus: the alert's rule (`for: 5m`), a rule of the same
/// name whose labels the alert does not carry, and an unrelated one.
const RULES: &str = r#"groups:
- name: shop
  rules:
  - alert: HighErrorRate
    expr: rate(flaky_requests_total[5m]) > 0.5
    for: 5m
    labels:
      severity: critical
    annotations:
      summary: flaky answers errors
  - alert: HighErrorRate
    expr: rate(flaky_requests_total[5m]) > 0.1
    for: 30m
    labels:
      severity: warning
- name: other
  rules:
  - alert: DiskFull
    expr: disk_used_ratio > 0.9
    for: 10m
"#;

#[tokio::test]
async fn rules_targets_and_exporter_instances_come_from_prometheus_itself() {
    let folder = scratch_folder("collect-prometheus-self");
    // A target nobody listens on: its scrapes are refused, so Prometheus marks it down.
    let dead_port = free_port();
    let instance = format!("127.0.0.1:{dead_port}");
    let times: Vec<i64> = (seconds(START)..=seconds(END)).step_by(SCRAPE_SECS as usize).collect();
    let stops = seconds("2025-02-09T11:00:00Z");
    let mut history = String::new();
    let _ = writeln!(history, "# TYPE flaky_requests counter");
    for time in times.iter().filter(|time| **time < stops) {
        let _ = writeln!(
            history,
            r#"flaky_requests_total{{instance="{instance}",job="flaky"}} {} {time}"#,
            time - times[0]
        );
    }
    // node-2's exporter is known by its address only; node_uname_info names its node.
    let _ = writeln!(history, "# TYPE node_uname_info gauge");
    for time in &times {
        let _ = writeln!(
            history,
            r#"node_uname_info{{instance="10.0.0.2:9100",job="node-exporter",nodename="node-2"}} 1 {time}"#
        );
    }
    let _ = writeln!(history, "# TYPE node_time_seconds gauge");
    for time in &times {
        let _ = writeln!(
            history,
            r#"node_time_seconds{{instance="10.0.0.2:9100",job="node-exporter"}} {} {time}"#,
            time + 90
        );
    }
    history.push_str("# EOF\n");
    std::fs::write(folder.join("rules.yml"), RULES).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n\
         scrape_configs:\n- job_name: flaky\n  static_configs:\n  - targets: ['{instance}']\n"
    );
    let (_prometheus, url) = start_prometheus_with(&folder, &history, &config).await;
    let client = reqwest::Client::new();
    eventually("the dead target to be down", async || {
        let answer: serde_json::Value =
            client.get(format!("{url}/api/v1/targets")).send().await.ok()?.json().await.ok()?;
        (answer["data"]["activeTargets"][0]["health"] == "down").then_some(())
    })
    .await;

    let expression = "rate(flaky_requests_total[5m]) > 0.5";
    let mut fired = alert();
    fired.labels =
        [("alertname", "HighErrorRate"), ("severity", "critical"), ("instance", instance.as_str()), ("job", "flaky")]
            .into_iter()
            .map(|(label, value)| (label.to_owned(), value.to_owned()))
            .collect();
    fired.generator_url = Some(generator_url(expression));
    let mut scope = scope(&["node-2"]);
    scope.alerts = vec![fired.clone()];
    let collector = PrometheusCollector::new(&PrometheusSettings {
        queries: vec![PrometheusQuery {
            name: "flaky".to_owned(),
            matchers: BTreeMap::new(),
            query: "rate(flaky_requests_total[5m])".to_owned(),
        }],
        ..settings(&url, "15s", &[])
    })
    .unwrap();
    let pass = collector.pass(&scope).await;
    assert!(pass.gaps.is_empty(), "{:?}", pass.gaps);

    // The alert's rule, with its `for:`; not the warning rule nor the other group.
    let rules = postmortemd::ingest::prometheus::parse_rules(file(&pass, "prometheus/rules.json")).unwrap();
    let got: Vec<(&str, &str, i64, &str)> = rules
        .iter()
        .map(|rule| {
            (rule.group.as_str(), rule.query.as_str(), rule.duration.as_secs(), rule.labels["severity"].as_str())
        })
        .collect();
    assert_eq!(got, [("shop", expression, 300, "critical")]);
    assert!(rules[0].file.ends_with("rules.yml"), "{}", rules[0].file);

    // The alert's target, down, in Prometheus's words.
    let targets = postmortemd::ingest::prometheus::parse_targets(file(&pass, "prometheus/targets.json")).unwrap();
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0].labels["instance"], instance);
    assert_eq!(targets[0].health, postmortemd::record::TargetHealth::Down);
    assert!(targets[0].last_error.ends_with("connect: connection refused"), "{}", targets[0].last_error);
    assert!(targets[0].last_scrape.is_some());

    // node-2's clock by the instance Prometheus named for it.
    let queries: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(file(&pass, "prometheus/queries.json")).unwrap();
    let clock_query = queries["node-clock-offset.json"].as_str().unwrap();
    assert!(
        clock_query.starts_with(r#"label_replace(node_time_seconds{instance=~"(10\\.0\\.0\\.2:9100)"}"#),
        "{clock_query}"
    );

    // Drafted as the daemon drafts its bundle: the files and the alert's notification.
    let evidence = folder.join("evidence");
    for file in &pass.files {
        let path = evidence.join(&file.name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &file.bytes).unwrap();
    }
    let webhook = serde_json::json!({
        "version": "4", "status": "firing", "receiver": "postmortemd", "groupKey": "{}:{}",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
        "alerts": [{"status": "firing", "labels": fired.labels, "annotations": {}, "startsAt": "2025-02-09T10:35:00Z",
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": fired.generator_url, "fingerprint": "0123456789abcdef"}],
    });
    std::fs::create_dir_all(evidence.join("alertmanager")).unwrap();
    std::fs::write(evidence.join("alertmanager/webhook-000001.json"), webhook.to_string()).unwrap();
    let timeline = draft(&DraftOptions {
        paths: vec![evidence.clone()],
        window: Some((at(START), at(END))),
        ..DraftOptions::default()
    })
    .unwrap();
    let onset: Vec<(String, &str)> = timeline
        .entries
        .iter()
        .filter(|entry| entry.source == "prometheus rules")
        .map(|entry| (entry.time.to_string(), entry.event.as_str()))
        .collect();
    assert_eq!(
        onset,
        [(
            "2025-02-09T10:30:00Z".to_owned(),
            "HighErrorRate condition true (rule `for: 5m` before it fired at 10:35:00): rate(flaky_requests_total[5m]) > 0.5"
        )]
    );
    assert!(
        timeline.entries.iter().any(|entry| entry.source == "alertmanager" && entry.time == at("2025-02-09T10:35:00Z")),
        "the firing row stays"
    );
    let stopped: Vec<&postmortemd::timeline::Gap> =
        timeline.gaps.iter().filter(|gap| gap.source.starts_with("prometheus: flaky")).collect();
    assert_eq!(stopped.len(), 1, "{:?}", timeline.gaps);
    let because = format!("target down: connection refused (job flaky, instance {instance}, at its last scrape ");
    assert!(stopped[0].reason.contains(&because), "{}", stopped[0].reason);
    // The rate holds its last value for the 5 min lookback, then nothing until the window end.
    assert!(
        stopped[0].start >= at("2025-02-09T11:00:00Z") && stopped[0].start <= at("2025-02-09T11:05:00Z"),
        "{:?}",
        stopped[0]
    );
    assert_eq!(stopped[0].end, at(END));
    let skews: Vec<(&str, f64, bool)> =
        timeline.clock_skew.iter().map(|skew| (skew.subject.as_str(), skew.offset_seconds, skew.flagged)).collect();
    assert!(skews.contains(&("node node-2", 90.0, true)), "{skews:?}");

    // Without the rule file in the evidence, no onset row: it comes from the rule, not a guess.
    std::fs::remove_file(evidence.join("prometheus/rules.json")).unwrap();
    let timeline =
        draft(&DraftOptions { paths: vec![evidence], window: Some((at(START), at(END))), ..DraftOptions::default() })
            .unwrap();
    assert!(timeline.entries.iter().all(|entry| entry.source != "prometheus rules"));
    let _ = std::fs::remove_dir_all(&folder);
}

/// Issue 14: an alert's `generatorURL` is the sender's choice, so with
/// `prometheus.alert_expressions = false` its expression never reaches Prometheus, while the
/// configured queries still do. Prometheus's own query log says what it ran.
#[tokio::test]
async fn alert_expressions_off_runs_no_expression_of_the_sender() {
    let folder = scratch_folder("collect-prometheus-expressions");
    let query_log = folder.join("queries.log");
    let config = format!("global:\n  scrape_interval: 15s\n  query_log_file: {}\n", query_log.display());
    let (mut prometheus, url) = start_prometheus_with(&folder, &history(), &config).await;
    let expression = "max(queue_depth) - 17";
    let mut alert = alert();
    alert.generator_url = Some(generator_url(expression));
    let scope = Scope { alerts: vec![alert], nodes: Vec::new(), ..scope(&[]) };
    let ran = |needle: &str| {
        let log = std::fs::read_to_string(&query_log).unwrap_or_default();
        log.lines().any(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .is_ok_and(|entry| entry["params"]["query"].as_str() == Some(needle))
        })
    };

    let mut off = settings(&url, "15s", &[("configured", &[], "min(worker_up)")]);
    off.alert_expressions = false;
    let pass = PrometheusCollector::new(&off).unwrap().pass(&scope).await;
    assert!(pass.gaps.is_empty(), "{:?}", pass.gaps);
    eventually("the configured query in the query log", async || ran("min(worker_up)").then_some(())).await;
    assert!(!ran(expression), "the alert's expression reached Prometheus");
    assert!(pass.files.iter().all(|file| !file.name.starts_with("prometheus/alert-")));

    // The same alert with the default: its expression runs (so the log would show it).
    let on = settings(&url, "15s", &[]);
    PrometheusCollector::new(&on).unwrap().pass(&scope).await;
    eventually("the alert's expression in the query log", async || ran(expression).then_some(())).await;
    prometheus.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&folder);
}
