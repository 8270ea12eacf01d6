//! Tracing setup and the one `Metrics` struct: every metric the daemon exposes is declared
//! here, labels from fixed sets only (no incident ids, pod names or queries), rendered in
//! the Prometheus text format 0.0.4 by hand (a handful of counters needs no crate).

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

/// Logs to stderr, filtered by `POSTMORTEMD_LOG` (else `RUST_LOG`, else `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = std::env::var("POSTMORTEMD_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

const SOURCES: [&str; 2] = ["alertmanager", "pagerduty"];
const OUTCOMES: [&str; 5] = ["stored", "duplicate", "rejected", "unauthorized", "unavailable"];
const BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// A cumulative histogram of seconds.
#[derive(Debug, Default)]
struct Histogram {
    inner: Mutex<(Vec<u64>, f64, u64)>,
}

impl Histogram {
    fn observe(&self, seconds: f64) {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if inner.0.is_empty() {
            inner.0 = vec![0; BUCKETS.len()];
        }
        for (bucket, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                inner.0[bucket] += 1;
            }
        }
        inner.1 += seconds;
        inner.2 += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, bound) in BUCKETS.iter().enumerate() {
            let count = inner.0.get(bucket).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}", inner.2, inner.1, inner.2);
    }
}

/// The daemon's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    webhooks: [[AtomicU64; OUTCOMES.len()]; SOURCES.len()],
    signature_failures: AtomicU64,
    timeline_build: Histogram,
    store_commit: Histogram,
}

impl Metrics {
    /// A webhook was answered: `source` alertmanager|pagerduty, `outcome` one of stored,
    /// duplicate, rejected, unauthorized, unavailable.
    pub fn webhook_received(&self, source: &'static str, outcome: &'static str) {
        let source = SOURCES.iter().position(|known| *known == source);
        let outcome = OUTCOMES.iter().position(|known| *known == outcome);
        if let (Some(source), Some(outcome)) = (source, outcome) {
            self.webhooks[source][outcome].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn signature_failure(&self) {
        self.signature_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn timeline_built(&self, seconds: f64) {
        self.timeline_build.observe(seconds);
    }

    pub fn store_commit(&self, seconds: f64) {
        self.store_commit.observe(seconds);
    }

    /// The exposition; `incidents_open` is read from the store at scrape time.
    pub fn render(&self, incidents_open: i64) -> String {
        let mut out = String::new();
        out.push_str("# HELP postmortemd_webhooks_received_total Webhooks answered, by source and outcome.\n");
        out.push_str("# TYPE postmortemd_webhooks_received_total counter\n");
        for (source_index, source) in SOURCES.iter().enumerate() {
            for (outcome_index, outcome) in OUTCOMES.iter().enumerate() {
                let count = self.webhooks[source_index][outcome_index].load(Ordering::Relaxed);
                let _ = writeln!(out, "postmortemd_webhooks_received_total{{source=\"{source}\",outcome=\"{outcome}\"}} {count}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP postmortemd_webhook_signature_failures_total PagerDuty webhooks whose signature matched no secret.\n\
             # TYPE postmortemd_webhook_signature_failures_total counter\n\
             postmortemd_webhook_signature_failures_total {}",
            self.signature_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP postmortemd_incidents_open Incidents not resolved.\n# TYPE postmortemd_incidents_open gauge\n\
             postmortemd_incidents_open {incidents_open}"
        );
        self.timeline_build.render(&mut out, "postmortemd_timeline_build_seconds", "Time to draw an incident's timeline.");
        self.store_commit.render(&mut out, "postmortemd_store_commit_seconds", "Time to store a webhook durably.");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_counts_by_fixed_labels() {
        let metrics = Metrics::default();
        metrics.webhook_received("alertmanager", "stored");
        metrics.webhook_received("alertmanager", "stored");
        metrics.webhook_received("pagerduty", "unauthorized");
        metrics.webhook_received("pagerduty", "not-an-outcome");
        metrics.signature_failure();
        metrics.store_commit(0.003);
        let text = metrics.render(2);
        for line in [
            r#"postmortemd_webhooks_received_total{source="alertmanager",outcome="stored"} 2"#,
            r#"postmortemd_webhooks_received_total{source="pagerduty",outcome="unauthorized"} 1"#,
            "postmortemd_webhook_signature_failures_total 1",
            "postmortemd_incidents_open 2",
            r#"postmortemd_store_commit_seconds_bucket{le="0.001"} 0"#,
            r#"postmortemd_store_commit_seconds_bucket{le="0.005"} 1"#,
            r#"postmortemd_store_commit_seconds_bucket{le="+Inf"} 1"#,
            "postmortemd_store_commit_seconds_count 1",
            "postmortemd_timeline_build_seconds_count 0",
        ] {
            assert!(text.lines().any(|candidate| candidate == line), "{line} missing in\n{text}");
        }
        assert!(text.lines().filter(|line| !line.starts_with('#')).all(|line| line.split(' ').count() == 2), "{text}");
    }
}
