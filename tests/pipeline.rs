//! Pipeline cases as data: each folder of `tests/fixtures/pipeline/` holds exported inputs,
//! optional `draft` flags in `.args` (one `--flag=value` a line) and the expected outputs
//! `expected.json` / `expected.md` (`UPDATE_EXPECT=1` rewrites them for review). Targeted
//! assertions on the same cases say what each one is about.

mod support;

use std::path::{Path, PathBuf};

use postmortemd::draft::{DraftOptions, draft};
use postmortemd::normalize::time::{parse_window, parse_zone};
use postmortemd::timeline::render::{Format, render};
use postmortemd::timeline::{CoverageStatus, Flag, Kind, Timeline};
use support::at;

/// The case's folder, relative to the package root (cargo's working directory for tests):
/// rows that name an input by its path (a skipped file) then read the same on every machine.
fn case_folder(case: &str) -> PathBuf {
    Path::new("tests/fixtures/pipeline").join(case)
}

/// The case's draft options, from its `.args`.
fn options(case: &str) -> DraftOptions {
    let folder = case_folder(case);
    let mut options = DraftOptions { paths: vec![folder.clone()], ..DraftOptions::default() };
    let args = std::fs::read_to_string(folder.join(".args")).unwrap_or_default();
    for line in args.lines().filter(|line| !line.trim().is_empty()) {
        let (flag, value) = line.split_once('=').unwrap_or((line, ""));
        match flag {
            "--window" => options.window = Some(parse_window(value).expect("window")),
            "--title" => options.title = Some(value.to_owned()),
            "--zone" => match value.rsplit_once('=') {
                Some((pattern, zone)) => options.zones.push((pattern.to_owned(), parse_zone(zone).expect("zone"))),
                None => options.zone = parse_zone(value).expect("zone"),
            },
            other => panic!("{case}/.args: unknown flag {other}"),
        }
    }
    options
}

/// Drafts the case and diffs both renderings against the expected files.
#[track_caller]
fn run(case: &str) -> Timeline {
    let timeline = draft(&options(case)).unwrap_or_else(|error| panic!("{case}: {error}"));
    let folder = case_folder(case);
    for (format, file) in [(Format::Json, "expected.json"), (Format::Markdown, "expected.md")] {
        let rendered = render(&timeline, format);
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(folder.join(file), &rendered).unwrap();
        }
        let expected = std::fs::read_to_string(folder.join(file)).unwrap_or_default();
        assert!(rendered == expected, "{case}/{file} differs (UPDATE_EXPECT=1 rewrites it):\n{rendered}");
    }
    timeline
}

#[test]
fn prefixed_logs_on_two_nodes_show_their_offset_through_request_ids() {
    let timeline = run("prefixed-two-nodes");
    // One `kubectl logs --prefix` file holds both streams; pods.json names their nodes.
    assert_eq!(timeline.clock_skew.len(), 1, "{:#?}", timeline.clock_skew);
    let skew = &timeline.clock_skew[0];
    assert_eq!(skew.subject, "node node-b");
    assert!((skew.offset_seconds - 30.0).abs() < 0.5 && skew.flagged, "{skew:#?}");
    let first = timeline.entries.iter().find(|entry| entry.event.starts_with("First error: smtp send failed")).unwrap();
    assert_eq!(first.source, "logs mail/worker-7d8e9-fghij/worker");
    assert!(first.flags.contains(&Flag::ClockSkew));
    let true_start = at("2025-03-04T14:31:07Z");
    let moved = first.time.duration_since(true_start).as_secs_f64();
    assert!((0.0..2.0).contains(&moved), "corrected to {}: {first:#?}", first.time);
    assert!(timeline.gaps.is_empty(), "{:#?}", timeline.gaps);
}

#[test]
fn plain_logs_in_a_configured_zone_and_syslog_without_a_year() {
    let timeline = run("plain-local-time");
    // billing.log writes Berlin wall time (UTC+1) without a zone: read as such and flagged.
    let first = timeline.entries.iter().find(|entry| entry.event.starts_with("First error")).unwrap();
    assert_eq!(first.source, "logs billing.log");
    assert!(first.flags.contains(&Flag::AssumedZone), "{first:#?}");
    let after = first.time.duration_since(at("2025-03-04T14:20:00Z")).as_secs_f64();
    assert!((0.0..30.0).contains(&after), "{first:#?}");
    // The year-less syslog file takes the window's year; its planted silence is the only gap,
    // and Python tracebacks (lines without a time) do not break the billing stream's rhythm.
    assert_eq!(timeline.gaps.len(), 1, "{:#?}", timeline.gaps);
    let gap = &timeline.gaps[0];
    assert_eq!(gap.source, "logs db-syslog.log");
    assert!(gap.start >= at("2025-03-04T14:09:00Z") && gap.start <= at("2025-03-04T14:10:00Z"), "{gap:#?}");
    assert!(gap.end >= at("2025-03-04T14:22:00Z") && gap.end <= at("2025-03-04T14:23:00Z"), "{gap:#?}");
    assert!(timeline.entries.iter().all(|entry| entry.kind != Kind::Log || !entry.event.contains("Traceback")));
}

#[test]
fn unreadable_and_unknown_files_are_errors_that_name_them() {
    let folder = std::env::temp_dir().join(format!("postmortemd-bad-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("alerts.json"),
        r#"{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{},"startsAt":"yesterday"}]"#,
    )
    .unwrap();
    std::fs::write(folder.join("mystery.json"), r#"{"hello": ["world"]}"#).unwrap();
    let options = DraftOptions { paths: vec![folder.clone()], ..DraftOptions::default() };
    let message = draft(&options).expect_err("bad inputs fail the draft").to_string();
    std::fs::remove_dir_all(&folder).unwrap();
    assert!(message.contains("alerts.json") && message.contains("mystery.json"), "{message}");
    assert!(message.lines().count() >= 3, "one line per file: {message}");
}

#[test]
fn a_rollout_and_its_rollback_known_only_from_events_are_rows() {
    // `kubectl get events -o json` alone: no ReplicaSets, no Deployments, no alerts.
    let timeline = run("events-only-rollout");
    let changes: Vec<(String, &str)> = timeline
        .entries
        .iter()
        .filter(|entry| entry.kind == Kind::Deploy)
        .map(|entry| (entry.time.to_string(), entry.event.as_str()))
        .collect();
    let expected = [
        ("2025-03-14T13:58:00Z", "Scaled shop/api: replica set api-7b9d6c5f4 to 6"),
        ("2025-03-14T14:10:02Z", "Rollout of shop/api to replica set api-5d8f7b6c9 (from api-7b9d6c5f4)"),
        (
            "2025-03-14T14:14:30Z",
            "SuccessfulRescale HorizontalPodAutoscaler/api: New size: 9; reason: cpu resource utilization (percentage of request) above target",
        ),
        ("2025-03-14T14:14:31Z", "Scaled shop/api: replica set api-5d8f7b6c9 from 6 to 9"),
        ("2025-03-14T14:21:07Z", "Rollback of shop/api to replica set api-7b9d6c5f4 (from api-5d8f7b6c9)"),
    ];
    let expected: Vec<(String, &str)> = expected.iter().map(|(time, event)| ((*time).to_owned(), *event)).collect();
    // The rolling update's intermediate steps (up to 4, down to 2, …) are the rollout's own.
    assert_eq!(changes, expected);
}

#[test]
fn bare_request_ids_and_scheduled_events_find_a_node_clock_without_a_pod_list() {
    // nginx logs its `$request_id` as the line's last token; the API writes the same id as a
    // bare token; no pods.json: only the scheduler's events say which pod ran on which node.
    let timeline = run("bare-ids-no-pods");
    assert_eq!(timeline.clock_skew.len(), 1, "{:#?}", timeline.clock_skew);
    let skew = &timeline.clock_skew[0];
    assert_eq!(skew.subject, "node node-2");
    assert!((skew.offset_seconds - 45.0).abs() < 0.1 && skew.flagged, "{skew:#?}");
    let api_error = timeline
        .entries
        .iter()
        .find(|entry| entry.source == "logs store/api-6d5f7c9b8-qw7zt/api" && entry.event.starts_with("First error"))
        .expect("the API's first error");
    assert!(api_error.flags.contains(&Flag::ClockSkew) && api_error.recorded_time.is_some(), "{api_error:#?}");
    // The node's kubelet stamped its event with the same clock: corrected too.
    let unhealthy =
        timeline.entries.iter().find(|entry| entry.event.starts_with("Unhealthy")).expect("the probe event");
    assert_eq!(unhealthy.recorded_time, Some(at("2025-05-20T08:06:05Z")), "{unhealthy:#?}");
    assert!(unhealthy.time < at("2025-05-20T08:05:21Z"), "{unhealthy:#?}");
    assert!(timeline.gaps.is_empty(), "{:#?}", timeline.gaps);
}

#[test]
fn changes_in_the_namespace_without_events_or_replicasets() {
    // `kubectl get deployments,statefulsets,controllerrevisions,hpa -n shop -o json` and
    // `kubectl get node node-2 -o json`, exported after the incident: no events, no logs.
    let timeline = run("namespace-changes");
    let changes: Vec<(String, &str, &str, Option<&str>)> = timeline
        .entries
        .iter()
        .filter(|entry| matches!(entry.kind, Kind::Deploy | Kind::K8sEvent))
        .map(|entry| (entry.time.to_string(), entry.source.as_str(), entry.event.as_str(), entry.actor.as_deref()))
        .collect();
    let expected = [
        (
            "2025-03-14T14:05:01Z",
            "kubernetes rollouts",
            "Rollout of StatefulSet shop/db to revision 2: postgres:16.2",
            Some("argocd-controller"),
        ),
        (
            "2025-03-14T14:12:00Z",
            "kubernetes workloads",
            "Deployment shop/checkout-fallback created: registry.example/checkout-fallback:0.9.0",
            Some("kubectl-create"),
        ),
        (
            "2025-03-14T14:14:30Z",
            "kubernetes autoscalers",
            "HorizontalPodAutoscaler shop/checkout rescaled Deployment/checkout (desired 9, current 6 replicas when read)",
            None,
        ),
        (
            "2025-03-14T14:15:40Z",
            "kubernetes nodes",
            "Node node-2 MemoryPressure (KubeletHasInsufficientMemory: kubelet has insufficient memory available)",
            None,
        ),
        (
            "2025-03-14T14:16:10Z",
            "kubernetes nodes",
            "Node node-2 NotReady (KubeletNotReady: PLEG is not healthy: pleg was last seen active 3m0.4s ago; threshold is 3m0s)",
            None,
        ),
        (
            "2025-03-14T14:20:00Z",
            "kubernetes rollouts",
            "Rollback of StatefulSet shop/db to revision 3 (a template first rolled out at 2025-01-20 08:00:00): \
             postgres:16.1 (was postgres:16.2)",
            Some("kubectl-rollout"),
        ),
    ];
    let expected: Vec<(String, &str, &str, Option<&str>)> =
        expected.iter().map(|(time, source, event, actor)| ((*time).to_owned(), *source, *event, *actor)).collect();
    // The Deployment made long ago and the node's old conditions are no rows.
    assert_eq!(changes, expected);
}

#[test]
fn quiet_streams_are_gaps_only_where_lines_were_expected() {
    // HighLatency on service="web" 09:20–09:50 (window 09:00–10:00); `kubectl logs --prefix
    // --timestamps` of web, db, a followed worker and cert-manager, all exported at 09:54.
    let timeline = run("quiet-late-streams");
    // One web pod falls silent ~6 min while its peer goes on: that, and only that, is a gap.
    let gaps: Vec<(&str, String, String)> = timeline
        .gaps
        .iter()
        .map(|gap| {
            (gap.source.as_str(), gap.start.strftime("%H:%M").to_string(), gap.end.strftime("%H:%M").to_string())
        })
        .collect();
    assert_eq!(gaps, [("logs shop/web-6d8f7b9c4-x7kqp/nginx", "09:31".to_owned(), "09:37".to_owned())]);
    assert!(timeline.gaps[0].reason.starts_with("no lines for 6m"), "{:#?}", timeline.gaps);
    // The note rows a source wrote, by their text.
    let note_of = |source: &str| -> Vec<&str> {
        let notes = timeline.entries.iter().filter(|entry| entry.kind == Kind::Note && entry.source == source);
        notes.map(|entry| entry.event.as_str()).collect()
    };
    let notes = &timeline.entries;
    // db-1 was created 15 minutes into the window (scaled up): its stream begins with its pod.
    let db1 = note_of("logs shop/db-1/postgres");
    assert_eq!(db1.len(), 1, "{notes:#?}");
    assert!(
        db1[0].starts_with("Log stream begins, 15m") && db1[0].ends_with("its pod was created at 09:15:00"),
        "{db1:?}"
    );
    // The worker was scaled to 0 mid-window: its stream ends with the Killing, no gap.
    let worker = note_of("logs shop/worker-5c8d7f9b6-tq4nz/worker");
    assert_eq!(worker.len(), 1, "{notes:#?}");
    assert!(worker[0].starts_with("Log stream ends") && worker[0].contains("Killing at 09:37:59"), "{worker:?}");
    // Every export ends at 09:54, six minutes before the window does: one note, no "stream ends" gap.
    let evidence = note_of("postmortemd");
    assert_eq!(evidence.len(), 1, "{notes:#?}");
    assert!(evidence[0].starts_with("Evidence ends at 09:54:0"), "{evidence:?}");
    // The idle cert-manager (five lines, the last at 09:28) is neither a gap nor a note.
    assert!(notes.iter().all(|entry| !entry.source.contains("cert-manager")), "{notes:#?}");
    // payments.log is kubectl's NotFound: a failed export in the coverage, not a silent stream.
    let payments = timeline.coverage.iter().find(|row| row.input.as_deref() == Some("payments.log")).unwrap();
    assert_eq!(payments.status, CoverageStatus::Failed, "{payments:#?}");
    assert!(payments.left_out.iter().any(|why| why.contains("Error from server (NotFound)")), "{payments:#?}");
    assert!(timeline.gaps.iter().all(|gap| !gap.source.contains("payments")), "{:#?}", timeline.gaps);
    assert!(timeline.entries.iter().all(|entry| !entry.event.contains("no lines in the window")));
    // Nothing here says any clock is off.
    assert!(timeline.clock_skew.iter().all(|skew| !skew.flagged), "{:#?}", timeline.clock_skew);
    assert!(timeline.entries.iter().all(|entry| !entry.flags.contains(&Flag::ClockSkew)));
}

#[test]
fn prometheus_steps_in_a_short_export_are_rows() {
    // Three query_range files and queries.json naming them, 14:00–14:30, nothing else: the
    // window is drawn from the data, and its baseline is its first quarter, not all of it.
    let timeline = run("prometheus-step");
    let metric = |source: &str| -> Vec<(String, &str)> {
        timeline
            .entries
            .iter()
            .filter(|entry| entry.kind == Kind::Metric && entry.source == source)
            .map(|entry| (entry.time.strftime("%H:%M:%S").to_string(), entry.event.as_str()))
            .collect()
    };
    // The scrape target comes back: `up` 0 → 1, under the query's name.
    let up = metric("prometheus: payments target up");
    assert_eq!(up.len(), 1, "{up:#?}");
    assert_eq!(up[0].0, "14:12:15");
    assert!(up[0].1.contains("rose to 1 (baseline 0"), "{up:#?}");
    // The deployment's available replicas drop to 0 and come back.
    let available = metric("prometheus: checkout replicas available");
    assert_eq!(available.len(), 2, "{available:#?}");
    assert_eq!(available[0].0, "14:16:00");
    assert!(available[0].1.contains("fell to 0 (baseline 3"), "{available:#?}");
    assert!(available[1].1.contains("back to baseline: 3"), "{available:#?}");
    // One pod of three dips alone: its own row, by the label that tells it apart.
    let requests = metric("prometheus: api requests by pod");
    assert!(!requests.is_empty(), "{requests:#?}");
    assert!(requests.iter().all(|(_, event)| event.starts_with(r#"{pod="api-7c6d8f9b5-zr2ls"}"#)), "{requests:#?}");
    assert!(requests[0].1.contains(" fell to "), "{requests:#?}");
    assert!(timeline.gaps.is_empty(), "{:#?}", timeline.gaps);
    assert!(timeline.entries.iter().all(|entry| entry.kind != Kind::Note), "{:#?}", timeline.entries);
}
