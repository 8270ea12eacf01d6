//! Builders shared by the integration tests.
#![allow(dead_code)]

pub mod rbac;

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use postmortemd::normalize::time::TimeContext;
use postmortemd::record::{
    AlertRecord, AlertStatus, ContainerRecord, PodRecord, Record, SeriesRecord, Source, SourceKind, Stream, Termination,
};
use postmortemd::timeline::digest::DEFAULT_REQUEST_ID_FIELDS;
use postmortemd::timeline::{DigestConfig, LogDigest, Window};

pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|error| panic!("{text}: {error}"))
}

pub fn plus_secs(instant: Timestamp, seconds: f64) -> Timestamp {
    instant.checked_add(SignedDuration::from_secs_f64(seconds)).unwrap()
}

/// 09:40–10:50 with the baseline ending at 10:01:15 (a first signal at 10:06:15).
pub fn window() -> Window {
    Window {
        start: at("2025-02-09T09:46:15Z"),
        end: at("2025-02-09T10:45:00Z"),
        baseline_end: at("2025-02-09T10:01:15Z"),
    }
}

/// The stream of `namespace/pod/container`.
pub fn container(namespace: &str, pod: &str, container: &str) -> Stream {
    Stream::container(Some(namespace), pod, container)
}

pub fn digest(stream: Stream, node: Option<&str>, window: Window) -> LogDigest {
    LogDigest::new(
        Source { kind: SourceKind::Logs, stream, node: node.map(str::to_owned) },
        DigestConfig {
            window,
            time_context: TimeContext { window: Some((window.start, window.end)), ..TimeContext::default() },
            offset_hint_nanos: 0,
            request_id_fields: DEFAULT_REQUEST_ID_FIELDS.iter().map(|field| (*field).to_owned()).collect(),
        },
    )
}

/// A deterministic stream of pseudo-random numbers in [0, 1).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed)
    }

    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (mixed ^ (mixed >> 31)) as f64 / u64::MAX as f64
    }
}

pub fn series(query: &str, labels: &[(&str, &str)], samples: Vec<(Timestamp, f64)>) -> Record {
    Record::Series(SeriesRecord {
        query: query.to_owned(),
        name: None,
        // Decided from the query, as ingest does when it reads the series.
        kind: postmortemd::ingest::prometheus::series_kind(query),
        labels: labels.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect(),
        samples,
    })
}

/// Samples every `step` seconds over the window, valued by `value(time)`, skipping `None`.
pub fn sampled(window: Window, step: f64, mut value: impl FnMut(Timestamp) -> Option<f64>) -> Vec<(Timestamp, f64)> {
    let mut samples = Vec::new();
    let mut time = window.start;
    while time <= window.end {
        if let Some(value) = value(time) {
            samples.push((time, value));
        }
        time = plus_secs(time, step);
    }
    samples
}

pub fn pod(
    namespace: &str,
    name: &str,
    node: &str,
    container: &str,
    termination: Option<(&str, i32, Timestamp)>,
) -> Record {
    Record::Pod(PodRecord {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        created_at: Some(at("2025-02-08T00:00:00Z")),
        node: Some(node.to_owned()),
        containers: vec![ContainerRecord {
            name: container.to_owned(),
            restart_count: u64::from(termination.is_some()),
            started_at: None,
            last_termination: termination.map(|(reason, exit_code, finished)| Termination {
                started_at: None,
                finished_at: Some(finished),
                reason: Some(reason.to_owned()),
                exit_code: Some(exit_code),
            }),
        }],
    })
}

pub fn alert(name: &str, starts_at: Timestamp, ends_at: Option<Timestamp>) -> Record {
    let labels: BTreeMap<String, String> = [("alertname".to_owned(), name.to_owned())].into();
    Record::Alert(AlertRecord {
        name: name.to_owned(),
        status: if ends_at.is_some() { AlertStatus::Resolved } else { AlertStatus::Firing },
        labels,
        annotations: [("summary".to_owned(), "API 5xx ratio above 5%".to_owned())].into(),
        starts_at,
        ends_at,
        fingerprint: Some(format!("fingerprint-of-{name}")),
        generator_url: None,
    })
}

pub mod daemon;
pub mod pagerduty_rest;
pub mod postgres;
pub mod services;
