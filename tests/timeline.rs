//! The pure middle in process: digests and records in, rows, skews and gaps out.

mod support;

use jiff::Timestamp;
use postmortemd::record::Record;
use postmortemd::timeline::{self, Evidence, Flag, Kind, Options, Timeline};
use support::*;

/// Two checkout pods on two nodes behind one frontend on node-1, ~4 requests/s from 09:40
/// to 10:50 (true time), errors from 10:05:23 to 10:31:50, node-2's clock `skew` seconds
/// ahead, the node-2 pod silent from 10:15:30 to 10:22:25.
fn two_node_digests(skew: f64, window: timeline::Window) -> Vec<timeline::LogDigest> {
    let mut frontend = digest(container("shop", "frontend", "nginx"), Some("node-1"), window);
    let mut first = digest(container("shop", "checkout-x2kqp", "app"), Some("node-1"), window);
    let mut second = digest(container("shop", "checkout-q4hjn", "app"), Some("node-2"), window);
    let mut noise = Noise::new(7);
    let mut time = at("2025-02-09T09:40:00Z");
    let (errors_from, errors_to) = (at("2025-02-09T10:05:23.4Z"), at("2025-02-09T10:31:50Z"));
    let (down_from, down_to) = (at("2025-02-09T10:15:30Z"), at("2025-02-09T10:22:25Z"));
    let mut request = 0u64;
    while time < at("2025-02-09T10:50:00Z") {
        time = plus_secs(time, -0.25 * (1.0 - noise.next()).ln());
        request += 1;
        let id = format!("{:016x}", request.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let failing = time >= errors_from && time < errors_to && noise.next() < 0.4;
        let on_second = request.is_multiple_of(2) && !(time >= down_from && time < down_to);
        let handled = plus_secs(time, 0.004 + 0.003 * noise.next());
        let (pod, clock) = if on_second { (&mut second, plus_secs(handled, skew)) } else { (&mut first, handled) };
        let line = if failing {
            format!(
                r#"{{"level":"error","msg":"inventory reservation failed: upstream returned 503","request_id":"{id}"}}"#
            )
        } else {
            format!(r#"{{"level":"info","msg":"order placed","request_id":"{id}","duration_ms":{}}}"#, request % 90)
        };
        pod.push(Some(clock), &line);
        let status = if failing { 500 } else { 200 };
        frontend.push(
            Some(plus_secs(handled, 0.01)),
            &format!(r#"10.0.3.17 - - [09/Feb/2025:10:05:23 +0000] "POST /api/checkout HTTP/1.1" {status} 93 "-" "curl/8" request_id={id}"#),
        );
    }
    vec![frontend, first, second]
}

fn build(
    records: Vec<postmortemd::record::Record>,
    digests: Vec<timeline::LogDigest>,
    window: timeline::Window,
) -> Timeline {
    timeline::build(
        Evidence { title: "test".to_owned(), window, records, digests, coverage: Vec::new(), written_by: None },
        &Options::default(),
    )
}

#[track_caller]
fn row<'a>(timeline: &'a Timeline, kind: Kind, source: &str, event_prefix: &str) -> &'a timeline::Entry {
    timeline
        .entries
        .iter()
        .find(|entry| entry.kind == kind && entry.source == source && entry.event.starts_with(event_prefix))
        .unwrap_or_else(|| panic!("no {kind:?} row from {source} starting {event_prefix:?} in {:#?}", timeline.entries))
}

#[track_caller]
fn assert_near(actual: Timestamp, expected: &str, tolerance_seconds: f64) {
    let difference = actual.duration_since(at(expected)).as_secs_f64().abs();
    assert!(difference <= tolerance_seconds, "{actual} is {difference}s from {expected}");
}

/// The row was moved back by `offset` seconds onto the errors' true start (the first error
/// that pod handled comes within seconds of the first error overall).
#[track_caller]
fn assert_corrected_by(entry: &timeline::Entry, offset: f64, tolerance: f64) {
    let recorded = entry.recorded_time.expect("recorded time kept");
    let moved = recorded.duration_since(entry.time).as_secs_f64();
    assert!((moved - offset).abs() <= tolerance, "moved by {moved}s, not {offset}s: {entry:?}");
    assert!(entry.time >= at("2025-02-09T10:05:23.4Z") && entry.time < at("2025-02-09T10:05:40Z"), "{entry:?}");
}

#[test]
fn new_error_templates_are_rows_at_their_first_line() {
    let window = window();
    let timeline = build(Vec::new(), two_node_digests(0.0, window), window);
    let first_error =
        row(&timeline, Kind::Log, "logs shop/checkout-x2kqp/app", "First error: inventory reservation failed");
    assert_near(first_error.time, "2025-02-09T10:05:23.4Z", 1.0);
    assert!(first_error.count > 100, "{first_error:?}");
    assert!(first_error.example.as_deref().unwrap_or("").contains("upstream returned 503"));
    let last_error =
        row(&timeline, Kind::Log, "logs shop/checkout-x2kqp/app", "Last error: inventory reservation failed");
    assert_near(last_error.time, "2025-02-09T10:31:50Z", 5.0);
    let first_5xx = row(&timeline, Kind::Log, "logs shop/frontend/nginx", "First 5xx response");
    assert_near(first_5xx.time, "2025-02-09T10:05:23.4Z", 1.0);
    // Steady info lines are not rows; neither is anything before the errors.
    assert!(timeline.entries.iter().all(|entry| !entry.event.contains("order placed")), "{:#?}", timeline.entries);
}

#[test]
fn request_ids_across_nodes_establish_and_correct_an_offset() {
    let window = window();
    let timeline = build(Vec::new(), two_node_digests(90.0, window), window);
    let skew = timeline
        .clock_skew
        .iter()
        .find(|skew| skew.subject == "node node-2")
        .unwrap_or_else(|| panic!("no skew for node-2: {:#?}", timeline.clock_skew));
    assert!((skew.offset_seconds - 90.0).abs() < 1.0, "{skew:?}");
    assert!(skew.flagged && skew.evidence.contains("request ids"), "{skew:?}");
    assert!(timeline.clock_skew.iter().filter(|skew| skew.flagged).count() == 1, "{:#?}", timeline.clock_skew);
    let corrected = row(&timeline, Kind::Log, "logs shop/checkout-q4hjn/app", "First error");
    assert!(corrected.flags.contains(&Flag::ClockSkew), "{corrected:?}");
    assert_corrected_by(corrected, 90.0, 1.0);
    // Rows of the other node are untouched.
    let untouched = row(&timeline, Kind::Log, "logs shop/checkout-x2kqp/app", "First error");
    assert!(untouched.flags.is_empty() && untouched.recorded_time.is_none(), "{untouched:?}");
}

#[test]
fn ids_that_are_not_requests_give_no_flagged_skew() {
    // Two kubelets log the same pod UIDs whenever they sync, at times of their own: shared
    // bare ids, but no request seen at one moment on both nodes.
    let window = window();
    let mut first = digest(container("kube-system", "agent-a", "agent"), Some("node-1"), window);
    let mut second = digest(container("kube-system", "agent-b", "agent"), Some("node-2"), window);
    let mut noise = Noise::new(13);
    let uids: Vec<String> = (0..40u64)
        .map(|n| {
            let hex = format!("{:032x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15) as u128 * 0x1_0000_0001);
            format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
        })
        .collect();
    for (index, uid) in uids.iter().enumerate() {
        for stream in [&mut first, &mut second] {
            let offset = 60.0 * 55.0 * noise.next();
            let time = plus_secs(window.start, offset + index as f64);
            stream.push(Some(time), &format!("I0209 syncing pod volumes uid {uid}"));
        }
    }
    let timeline = build(Vec::new(), vec![first, second], window);
    assert!(timeline.clock_skew.iter().all(|skew| !skew.flagged), "{:#?}", timeline.clock_skew);
    assert!(timeline.entries.iter().all(|entry| !entry.flags.contains(&Flag::ClockSkew)), "{:#?}", timeline.entries);
}

#[test]
fn node_clock_series_outrank_request_ids() {
    let window = window();
    let records = vec![
        series(
            "node_time_seconds - timestamp(node_time_seconds)",
            &[("instance", "node-1")],
            sampled(window, 15.0, |_| Some(0.002)),
        ),
        series(
            "node_time_seconds - timestamp(node_time_seconds)",
            &[("instance", "node-2")],
            sampled(window, 15.0, |_| Some(89.5)),
        ),
    ];
    let timeline = build(records, two_node_digests(90.0, window), window);
    let node_2: Vec<_> = timeline.clock_skew.iter().filter(|skew| skew.subject == "node node-2").collect();
    assert!(node_2[0].evidence.starts_with("node_time_seconds") && node_2[0].flagged, "{node_2:?}");
    let corrected = row(&timeline, Kind::Log, "logs shop/checkout-q4hjn/app", "First error");
    assert_corrected_by(corrected, 89.5, 0.001);
    let node_1 = timeline.clock_skew.iter().find(|skew| skew.subject == "node node-1").expect("node-1 reported");
    assert!(!node_1.flagged, "small offsets are reported, not flagged: {node_1:?}");
}

#[test]
fn a_restart_silence_is_a_gap_with_its_reason_and_quiet_streams_are_not() {
    let window = window();
    let records =
        vec![pod("shop", "checkout-q4hjn", "node-2", "app", Some(("OOMKilled", 137, at("2025-02-09T10:15:30Z"))))];
    let timeline = build(records, two_node_digests(0.0, window), window);
    assert_eq!(timeline.gaps.len(), 1, "{:#?}", timeline.gaps);
    let gap = &timeline.gaps[0];
    assert_eq!(gap.source, "logs shop/checkout-q4hjn/app");
    assert_near(gap.start, "2025-02-09T10:15:30Z", 10.0);
    assert_near(gap.end, "2025-02-09T10:22:25Z", 10.0);
    assert!(gap.reason.contains("OOMKilled"), "{gap:?}");
    row(&timeline, Kind::Gap, "logs shop/checkout-q4hjn/app", "Data gap");
}

#[test]
fn a_stream_logging_every_five_minutes_has_no_gaps() {
    let window = window();
    let mut cron = digest(container("ops", "cron", "job"), None, window);
    let mut time = at("2025-02-09T09:40:00Z");
    while time < at("2025-02-09T10:50:00Z") {
        cron.push(Some(time), "backup finished");
        time = plus_secs(time, 300.0);
    }
    let timeline = build(Vec::new(), vec![cron], window);
    assert!(timeline.gaps.is_empty(), "{:#?}", timeline.gaps);
}

#[test]
fn series_holes_of_more_than_two_steps_are_gaps() {
    let window = window();
    let hole = (at("2025-02-09T10:24:00Z"), at("2025-02-09T10:27:00Z"));
    let short_hole = (at("2025-02-09T10:35:00Z"), at("2025-02-09T10:35:20Z"));
    let samples = sampled(window, 15.0, |time| {
        let missing = (time > hole.0 && time < hole.1) || (time > short_hole.0 && time < short_hole.1);
        (!missing).then_some(0.12)
    });
    let timeline = build(vec![series("p99", &[], samples)], Vec::new(), window);
    assert_eq!(timeline.gaps.len(), 1, "{:#?}", timeline.gaps);
    assert_near(timeline.gaps[0].start, "2025-02-09T10:24:00Z", 15.0);
    assert_near(timeline.gaps[0].end, "2025-02-09T10:27:00Z", 15.0);
}

#[test]
fn metric_departures_and_returns_are_phrased_with_values() {
    let window = window();
    let mut noise = Noise::new(3);
    let samples = sampled(window, 15.0, |time| {
        let incident = time >= at("2025-02-09T10:06:00Z") && time < at("2025-02-09T10:32:30Z");
        Some(if incident { 1.6 + 0.1 * noise.next() } else { 0.01 + 0.02 * noise.next() })
    });
    let timeline = build(vec![series("errors", &[("pod", "x2kqp")], samples)], Vec::new(), window);
    let rose = row(&timeline, Kind::Metric, "prometheus: errors", r#"{pod="x2kqp"} rose to 1.6"#);
    assert_near(rose.time, "2025-02-09T10:06:00Z", 0.5);
    let back = row(&timeline, Kind::Metric, "prometheus: errors", r#"{pod="x2kqp"} back to baseline"#);
    assert_near(back.time, "2025-02-09T10:32:30Z", 15.5);
}

#[test]
fn series_of_one_query_that_move_together_are_one_row_and_one_that_moves_alone_keeps_its_own() {
    let window = window();
    let mut noise = Noise::new(5);
    let errors = |from: &str, to: &str, noise: &mut Noise| {
        let (from, to) = (at(from), at(to));
        sampled(window, 15.0, |time| {
            Some(if time >= from && time < to { 1.6 + 0.1 * noise.next() } else { 0.01 + 0.02 * noise.next() })
        })
    };
    let records = vec![
        series(
            "5xx",
            &[("pod", "a"), ("namespace", "shop")],
            errors("2025-02-09T10:06:00Z", "2025-02-09T10:32:30Z", &mut noise),
        ),
        series(
            "5xx",
            &[("pod", "b"), ("namespace", "shop")],
            errors("2025-02-09T10:06:15Z", "2025-02-09T10:32:30Z", &mut noise),
        ),
        series(
            "5xx",
            &[("pod", "c"), ("namespace", "shop")],
            errors("2025-02-09T10:20:00Z", "2025-02-09T10:25:00Z", &mut noise),
        ),
        series(
            "5xx",
            &[("pod", "d"), ("namespace", "shop")],
            errors("2025-02-09T11:00:00Z", "2025-02-09T11:00:00Z", &mut noise),
        ),
    ];
    let timeline = build(records, Vec::new(), window);
    let metric: Vec<&str> =
        timeline.entries.iter().filter(|entry| entry.kind == Kind::Metric).map(|entry| entry.event.as_str()).collect();
    let together = row(&timeline, Kind::Metric, "prometheus: 5xx", "rose on 2 of 4 pods: ");
    assert_near(together.time, "2025-02-09T10:06:00Z", 0.5);
    assert!(
        together.event.contains(r#"{pod="a"} to 1.6"#) && together.event.contains(r#"{pod="b"} to 1.6"#),
        "{metric:#?}"
    );
    assert!(!together.event.contains("namespace"), "a label every series shares tells nothing: {metric:#?}");
    let alone = row(&timeline, Kind::Metric, "prometheus: 5xx", r#"{pod="c"} rose to 1.6"#);
    assert_near(alone.time, "2025-02-09T10:20:00Z", 0.5);
    row(&timeline, Kind::Metric, "prometheus: 5xx", r#"{pod="c"} back to baseline"#);
    row(&timeline, Kind::Metric, "prometheus: 5xx", "back to baseline on 2 of 4 pods: ");
    assert_eq!(metric.len(), 4, "{metric:#?}");
}

#[test]
fn a_step_of_a_series_that_began_during_the_incident_is_a_change() {
    let window = window();
    // `up` of a target that was not scraped before 10:10, down until 10:20, then up.
    let samples = sampled(window, 15.0, |time| {
        (time >= at("2025-02-09T10:10:00Z")).then(|| if time < at("2025-02-09T10:20:00Z") { 0.0 } else { 1.0 })
    });
    let timeline = build(vec![series("up{job=\"api\"}", &[], samples)], Vec::new(), window);
    let rose = row(&timeline, Kind::Metric, "prometheus: up{job=\"api\"}", "Value rose to 1");
    assert_near(rose.time, "2025-02-09T10:20:00Z", 0.5);
}

#[test]
fn alerts_are_rows_once_however_often_they_were_exported() {
    let window = window();
    let (starts, ends) = (at("2025-02-09T10:06:15Z"), at("2025-02-09T10:35:00Z"));
    let records = vec![
        alert("HighErrorRate", starts, None),
        alert("HighErrorRate", starts, Some(ends)),
        alert("HighErrorRate", starts, None),
    ];
    let timeline = build(records, Vec::new(), window);
    let alerts: Vec<_> = timeline.entries.iter().filter(|entry| entry.kind == Kind::Alert).collect();
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!((alerts[0].time, alerts[0].event.as_str()), (starts, "HighErrorRate firing: API 5xx ratio above 5%"));
    assert_eq!((alerts[1].time, alerts[1].event.as_str()), (ends, "HighErrorRate resolved"));
}

#[test]
fn alerts_of_one_name_say_which_pod_and_link_their_expression() {
    let window = window();
    let starts = at("2025-02-09T10:16:45Z");
    let crash_looping = |pod: &str, url: &str| {
        let Record::Alert(mut alert) = alert("KubePodCrashLooping", starts, None) else { unreachable!() };
        alert.labels.insert("namespace".to_owned(), "shop".to_owned());
        alert.labels.insert("pod".to_owned(), pod.to_owned());
        alert.fingerprint = Some(format!("fp-{pod}"));
        alert.generator_url = Some(url.to_owned());
        Record::Alert(alert)
    };
    let records = vec![
        crash_looping("api-1", "http://prometheus:9090/graph?g0.expr=up"),
        crash_looping("api-2", "javascript:alert(1)"),
        alert("HighErrorRate", starts, None),
    ];
    let timeline = build(records, Vec::new(), window);
    let events: Vec<(&str, Option<&str>)> = timeline
        .entries
        .iter()
        .filter(|entry| entry.kind == Kind::Alert)
        .map(|entry| (entry.event.as_str(), entry.url.as_deref()))
        .collect();
    assert!(
        events.contains(&(
            "KubePodCrashLooping firing {pod=\"api-1\"}: API 5xx ratio above 5%",
            Some("http://prometheus:9090/graph?g0.expr=up")
        )),
        "{events:#?}"
    );
    // Only http(s) links are passed on; `namespace` is shared, so it tells nothing.
    assert!(
        events.contains(&("KubePodCrashLooping firing {pod=\"api-2\"}: API 5xx ratio above 5%", None)),
        "{events:#?}"
    );
    // A lone alert of its name needs no labels.
    assert!(events.contains(&("HighErrorRate firing: API 5xx ratio above 5%", None)), "{events:#?}");
    let html = postmortemd::timeline::render::render(&timeline, postmortemd::timeline::render::Format::Html);
    assert!(html.contains("<a href=\"http://prometheus:9090/graph?g0.expr=up\" rel=\"noreferrer\">"), "{html}");
    assert!(!html.contains("href=\"javascript"), "{html}");
}

#[test]
fn rows_beyond_the_limit_are_cut_with_a_note() {
    let window = window();
    let records = (0..30)
        .map(|minute| alert(&format!("A{minute}"), plus_secs(window.baseline_end, f64::from(minute) * 60.0), None))
        .collect();
    let options = Options { max_entries: 10, ..Options::default() };
    let timeline = timeline::build(
        Evidence {
            title: "t".to_owned(),
            window,
            records,
            digests: Vec::new(),
            coverage: Vec::new(),
            written_by: None,
        },
        &options,
    );
    assert_eq!(timeline.entries.len(), 10);
    let note = timeline.entries.iter().find(|entry| entry.kind == Kind::Note).expect("a note says what was cut");
    assert!(note.event.starts_with("21 more rows left out"), "{note:?}");
    assert!(timeline.entries.windows(2).all(|pair| pair[0].time <= pair[1].time));
}

#[test]
fn without_correction_rows_keep_their_recorded_time_but_stay_flagged() {
    let window = window();
    let options = Options { skew_correction: false, ..Options::default() };
    let evidence = Evidence {
        title: "t".to_owned(),
        window,
        records: Vec::new(),
        digests: two_node_digests(90.0, window),
        coverage: Vec::new(),
        written_by: None,
    };
    let timeline = timeline::build(evidence, &options);
    let skewed = row(&timeline, Kind::Log, "logs shop/checkout-q4hjn/app", "First error");
    assert!(skewed.flags.contains(&Flag::ClockSkew), "{skewed:?}");
    assert_eq!(skewed.recorded_time, None, "{skewed:?}");
    assert!(skewed.time >= at("2025-02-09T10:06:53.4Z"), "recorded time kept: {skewed:?}");
}

#[test]
fn absurd_times_do_not_break_the_draft() {
    // Found by fuzzing: epoch values and kubelet times centuries away once overflowed.
    let window = window();
    let mut stream = digest(postmortemd::record::Stream::File("odd".to_owned()), Some("node-1"), window);
    stream.push(Some(at("0001-01-01T00:00:00Z")), "level=error msg=\"from the year one\"");
    stream.push(None, "ts=10260142806 level=error msg=\"year 2295\"");
    stream.push(Some(at("9999-12-30T00:00:00Z")), "level=error msg=\"from the far future\"");
    stream.push(Some(at("2025-02-09T10:10:00Z")), "level=error msg=\"in the window\"");
    let timeline = build(Vec::new(), vec![stream], window);
    assert!(timeline.entries.iter().any(|entry| entry.event.contains("in the window")), "{:#?}", timeline.entries);
    assert!(timeline.entries.iter().all(|entry| window.contains(entry.time) || entry.kind == Kind::Gap));
}

#[test]
fn ntp_offsets_are_the_evidence_when_no_clock_series_was_exported() {
    let window = window();
    let records = vec![
        series("node_timex_offset_seconds", &[("instance", "node-9:9100")], sampled(window, 15.0, |_| Some(4.5))),
        series("node_timex_sync_status", &[("instance", "node-9:9100")], sampled(window, 15.0, |_| Some(0.0))),
    ];
    let timeline = build(records, Vec::new(), window);
    assert_eq!(timeline.clock_skew.len(), 1, "{:#?}", timeline.clock_skew);
    let skew = &timeline.clock_skew[0];
    assert_eq!(skew.subject, "node node-9");
    assert_eq!(skew.evidence, "node_timex_offset_seconds; NTP not synchronised (node_timex_sync_status 0)");
    assert!(skew.flagged && (skew.offset_seconds - 4.5).abs() < 1e-9, "{skew:#?}");
}

/// Gaps a collector reports are taken as they are: clipped to the window, one per source
/// and reason however often they are reported, and shown as a flagged row.
#[test]
fn reported_gaps_are_clipped_and_merged() {
    use postmortemd::record::{GapRecord, GapSource, Record};
    let window = timeline::Window {
        start: at("2025-02-09T10:00:00Z"),
        end: at("2025-02-09T11:00:00Z"),
        baseline_end: at("2025-02-09T10:15:00Z"),
    };
    let gap = |start: &str, end: &str, reason: &str| {
        Record::Gap(GapRecord {
            source: GapSource::Logs(container("shop", "api-1", "app")),
            start: at(start),
            end: at(end),
            reason: reason.to_owned(),
            node: None,
        })
    };
    let forbidden = "the service account may not get pods/log in namespace shop (403)";
    let records = vec![
        gap("2025-02-09T09:40:00Z", "2025-02-09T10:10:00Z", forbidden),
        gap("2025-02-09T10:30:00Z", "2025-02-09T11:30:00Z", forbidden),
        gap("2025-02-09T10:20:00Z", "2025-02-09T10:25:00Z", "pod shop/api-1 was deleted before its logs were read"),
    ];
    let timeline = build(records, Vec::new(), window);
    let gaps: Vec<_> = timeline.gaps.iter().map(|gap| (gap.start, gap.end, gap.reason.as_str())).collect();
    assert_eq!(
        gaps,
        vec![
            (at("2025-02-09T10:00:00Z"), at("2025-02-09T11:00:00Z"), forbidden),
            (
                at("2025-02-09T10:20:00Z"),
                at("2025-02-09T10:25:00Z"),
                "pod shop/api-1 was deleted before its logs were read"
            ),
        ]
    );
    let row = row(&timeline, Kind::Gap, "logs shop/api-1/app", "Data gap: the service account");
    assert_eq!(row.time, at("2025-02-09T10:00:00Z"));
    assert!(row.flags.contains(&Flag::Gap));
}

/// What Prometheus warned about its answers is shown once, at the window's start.
#[test]
fn source_warnings_are_notes_shown_once() {
    use postmortemd::artifacts::files::{ArtifactKind, Queries, read_artifact};
    let window = timeline::Window {
        start: at("2025-02-09T10:00:00Z"),
        end: at("2025-02-09T11:00:00Z"),
        baseline_end: at("2025-02-09T10:15:00Z"),
    };
    let body = br#"{"status":"success","warnings":["PromQL warning: encountered a mix of histograms and floats"],
        "infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"queue_depth\""],
        "data":{"resultType":"matrix","result":[]}}"#;
    let path = std::path::Path::new("prometheus/queue.json");
    let mut records = read_artifact(path, ArtifactKind::PromQueryRange, body, &Queries::default()).unwrap();
    records.extend(read_artifact(path, ArtifactKind::PromQueryRange, body, &Queries::default()).unwrap());
    let timeline = build(records, Vec::new(), window);
    let notes: Vec<(&str, &str)> = timeline
        .entries
        .iter()
        .filter(|entry| entry.kind == Kind::Note)
        .map(|entry| (entry.source.as_str(), entry.event.as_str()))
        .collect();
    assert_eq!(
        notes,
        vec![
            (
                "prometheus: queue",
                "Prometheus: PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"queue_depth\""
            ),
            ("prometheus: queue", "Prometheus: PromQL warning: encountered a mix of histograms and floats"),
        ]
    );
    assert!(timeline.entries.iter().filter(|entry| entry.kind == Kind::Note).all(|entry| entry.time == window.start));
}

/// Rows the evidence contradicts are flagged `inconsistent` and say what contradicts them.
#[test]
fn contradicted_rows_are_flagged_with_what_contradicts_them() {
    use postmortemd::record::{GapRecord, GapSource, K8sEventRecord, PageAction, PageRecord};
    let window = window();
    let page = |time: &str, action: PageAction| {
        Record::Page(PageRecord {
            time: at(time),
            action,
            actor: None,
            text: String::new(),
            incident_id: Some("Q1".to_owned()),
            incident_title: Some("checkout down".to_owned()),
            incident_key: None,
        })
    };
    let mut records = vec![
        // Resolved before it fired: a sender's clock or a hand-edited export.
        alert("DiskFull", at("2025-02-09T10:20:00Z"), Some(at("2025-02-09T10:10:00Z"))),
        alert("HighErrorRate", at("2025-02-09T10:06:15Z"), Some(at("2025-02-09T10:35:00Z"))),
        page("2025-02-09T10:12:00Z", PageAction::Acknowledged),
        page("2025-02-09T10:14:00Z", PageAction::Triggered),
        page("2025-02-09T10:30:00Z", PageAction::Resolved),
    ];
    // A collector said events could not be listed for a while, yet an event of then is there.
    records.push(Record::Gap(GapRecord {
        source: GapSource::Other("kubernetes events".to_owned()),
        start: at("2025-02-09T10:00:00Z"),
        end: at("2025-02-09T10:10:00Z"),
        reason: "the service account may not list events in namespace shop (403)".to_owned(),
        node: None,
    }));
    records.push(Record::K8sEvent(K8sEventRecord {
        time: at("2025-02-09T10:05:00Z"),
        first_time: Some(at("2025-02-09T10:05:00Z")),
        event_type: "Warning".to_owned(),
        reason: "BackOff".to_owned(),
        message: "Back-off restarting failed container".to_owned(),
        namespace: "shop".to_owned(),
        object: "Pod/checkout-x2kqp".to_owned(),
        count: 1,
        reporter: Some("kubelet".to_owned()),
        host: None,
    }));
    let digests = Vec::new();
    // Every file was written at 10:32: rows after it contradict their evidence.
    let evidence = Evidence {
        title: "t".to_owned(),
        window,
        records,
        digests,
        coverage: Vec::new(),
        written_by: Some(at("2025-02-09T10:32:00Z")),
    };
    let timeline = timeline::build(evidence, &Options::default());
    let inconsistent: Vec<&str> = timeline
        .entries
        .iter()
        .filter(|entry| entry.flags.contains(&Flag::Inconsistent))
        .map(|entry| entry.event.as_str())
        .collect();
    let expect = |prefix: &str, why: &str| {
        assert!(
            inconsistent.iter().any(|event| event.starts_with(prefix) && event.contains(why)),
            "no inconsistent row {prefix}… ({why}) in {inconsistent:#?}"
        );
    };
    expect("DiskFull resolved", "resolved before it fired at 10:20:00");
    expect("Page acknowledged", "before its page was triggered at 10:14:00");
    expect("BackOff Pod/checkout-x2kqp", "inside a data gap of its own source, 10:00:00–10:10:00");
    expect("HighErrorRate resolved", "after the evidence was written at 2025-02-09T10:32:00Z");
    // What agrees with the evidence is not flagged.
    for consistent in ["HighErrorRate firing", "Page triggered", "Page resolved", "DiskFull firing"] {
        let row = timeline.entries.iter().find(|entry| entry.event.starts_with(consistent)).expect(consistent);
        assert!(!row.flags.contains(&Flag::Inconsistent), "{row:#?}");
    }
}
