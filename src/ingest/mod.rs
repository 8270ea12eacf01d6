//! Artifact bytes → records, pure: Alertmanager webhook payloads and API v2 alerts,
//! PagerDuty v3 webhooks and REST log entries, `kubectl get … -o json` lists and Prometheus
//! query_range responses. The daemon's webhooks and `draft`'s files use the same parsers.

use std::fmt;

/// What is wrong with an artifact, and where: `alerts[0].startsAt: not RFC 3339`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {expected}")]
pub struct ParseError {
    /// JSON path (`alerts[0].startsAt`) or `line N`.
    pub path: String,
    /// What was expected there, or what is wrong.
    pub expected: String,
}

impl ParseError {
    pub fn new(path: impl fmt::Display, expected: impl fmt::Display) -> Self {
        ParseError { path: path.to_string(), expected: expected.to_string() }
    }
}

pub type Result<T, E = ParseError> = std::result::Result<T, E>;

pub mod alertmanager;
pub mod gaps;
pub(crate) mod json;
pub mod kubernetes;
pub mod pagerduty;
pub mod prometheus;
pub mod responders;
