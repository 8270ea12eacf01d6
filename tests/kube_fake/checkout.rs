//! The planted checkout outage three days ago, shared by the tests that replay it against
//! the fake cluster and a real Prometheus (`tests/end_to_end.rs`, `tests/browser.rs`):
//! the cluster (a rollout, two pods logging errors, one OOMKilled, node-2's clock ahead) and
//! the Prometheus history (an error ratio, a queue depth with a hole, node clocks).

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};

use super::{Cluster, LogLine, container, deployment, pod, replicaset};

/// 10:00 UTC three days ago: old enough for promtool's backfill, inside Prometheus's retention.
pub fn day() -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now / 86_400 * 86_400 - 3 * 86_400 + 10 * 3600).unwrap()
}

/// `day()` + "HH:MM:SS" past 10:00 (e.g. `t("02:00")` is 10:02:00).
pub fn t(minutes_seconds: &str) -> Timestamp {
    let (minutes, seconds) = minutes_seconds.split_once(':').unwrap();
    let offset = minutes.parse::<i64>().unwrap() * 60 + seconds.parse::<i64>().unwrap();
    day() + SignedDuration::from_secs(offset)
}

pub const NODE2_AHEAD_SECS: i64 = 90;

/// The planted cluster: Deployment shop/checkout rolled out to revision 2 at 10:02 by
/// kubectl; two pods, one per node; errors from 10:03:10 to 10:29:50 in both; pod A's
/// container OOMKilled at 10:15:00 and back at 10:16:40, logging until `pod_a_until`;
/// node-2's clock 90 s ahead.
pub fn cluster(pod_a_until: Timestamp) -> Cluster {
    let mut cluster = Cluster::new();
    cluster.add(
        deployment("shop", "checkout")
            .created(t("-10000:00"))
            .selector(&[("app", "checkout")])
            .image("app", "registry.example/checkout:1.42.0")
            .replicas(2)
            .managed_by("kubectl-client-side-apply", "Update", t("02:00"))
            .build(),
    );
    cluster.add(
        replicaset("shop", "checkout-5b8d7c6f9")
            .created(t("-10000:00"))
            .owner_deployment("checkout")
            .selector(&[("app", "checkout"), ("pod-template-hash", "5b8d7c6f9")])
            .image("app", "registry.example/checkout:1.41.3")
            .revision(1)
            .replicas(0)
            .build(),
    );
    cluster.add(
        replicaset("shop", "checkout-6f7c9d8b4")
            .created(t("02:00"))
            .owner_deployment("checkout")
            .selector(&[("app", "checkout"), ("pod-template-hash", "6f7c9d8b4")])
            .image("app", "registry.example/checkout:1.42.0")
            .revision(2)
            .replicas(2)
            .build(),
    );
    for (name, node) in [("checkout-6f7c9d8b4-aaaaa", "node-1"), ("checkout-6f7c9d8b4-bbbbb", "node-2")] {
        let restarted = name.ends_with('a');
        let mut app = container("app").image("registry.example/checkout:1.42.0");
        app = if restarted {
            app.restarts(1).last_terminated(137, "OOMKilled", t("-20:00"), t("15:00")).running(t("16:40"))
        } else {
            app.running(t("-20:00"))
        };
        cluster.add(
            pod("shop", name)
                .labels(&[("app", "checkout"), ("pod-template-hash", "6f7c9d8b4")])
                .node(node)
                .created(t("-20:00"))
                .owner("ReplicaSet", "checkout-6f7c9d8b4")
                .container(app)
                .build(),
        );
        // One line every 2 s of true time, stamped by the node's clock.
        let ahead = if node == "node-2" { NODE2_AHEAD_SECS } else { 0 };
        let line = |time: Timestamp, index: u64| {
            let failing = time >= t("03:10") && time < t("29:50") && index.is_multiple_of(2);
            let text = if failing {
                format!("level=error msg=\"payment authorization failed: upstream returned 503\" order={index}")
            } else {
                format!("level=info msg=\"order placed\" order={index} duration_ms={}", index % 90)
            };
            LogLine::new(time + SignedDuration::from_secs(ahead), text)
        };
        let lines = |from: Timestamp, to: Timestamp| {
            let n = (to - from).as_secs() / 2;
            (0..n).map(move |index| (from + SignedDuration::from_secs(index * 2), index as u64))
        };
        if restarted {
            cluster.previous_log("shop", name, "app", lines(t("-20:00"), t("15:00")).map(|(time, i)| line(time, i)));
            cluster.log("shop", name, "app", lines(t("16:40"), pod_a_until).map(|(time, i)| line(time, i)));
        } else {
            cluster.log("shop", name, "app", lines(t("-20:00"), t("50:00")).map(|(time, i)| line(time, i)));
        }
    }
    cluster
}

/// The planted history, every 15 s from 09:30 to 11:00: the error ratio above 5 % from
/// 10:03:30 to 10:30, a queue depth series missing from 10:20 to 10:30, node clocks.
pub fn history() -> String {
    let mut text = String::new();
    let times: Vec<i64> = (t("-30:00").as_second()..=t("60:00").as_second()).step_by(15).collect();
    let _ = writeln!(text, "# TYPE checkout_error_ratio gauge");
    for time in &times {
        let bad = *time >= t("03:30").as_second() && *time < t("30:00").as_second();
        let _ = writeln!(text, "checkout_error_ratio{{namespace=\"shop\"}} {} {time}", if bad { 0.31 } else { 0.002 });
    }
    let _ = writeln!(text, "# TYPE checkout_queue_depth gauge");
    for time in times.iter().filter(|time| **time < t("20:00").as_second() || **time >= t("30:00").as_second()) {
        let _ = writeln!(text, "checkout_queue_depth{{namespace=\"shop\"}} 3 {time}");
    }
    let _ = writeln!(text, "# TYPE node_time_seconds gauge");
    for (node, ahead) in [("node-1", 0.002), ("node-2", NODE2_AHEAD_SECS as f64)] {
        for time in &times {
            let _ = writeln!(text, "node_time_seconds{{instance=\"{node}:9100\"}} {} {time}", *time as f64 + ahead);
        }
    }
    let _ = writeln!(text, "# TYPE node_timex_sync_status gauge");
    for node in ["node-1", "node-2"] {
        for time in &times {
            let _ = writeln!(text, "node_timex_sync_status{{instance=\"{node}:9100\"}} 1 {time}");
        }
    }
    text.push_str("# EOF\n");
    text
}
