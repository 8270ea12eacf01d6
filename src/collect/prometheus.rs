//! The live Prometheus collector: for one incident pass, the range queries worth keeping
//! (each alert's own expression, the configured queries whose `match` fits an alert, and
//! the node clock series of the target pods' nodes), asked over the pass's span and kept as
//! `prometheus/<name>.json` bodies in Prometheus's own `query_range` shape, with
//! `prometheus/queries.json` naming the PromQL of each, so `postmortemd draft` reads them
//! back through [`crate::ingest::prometheus`].
//!
//! A pass never fails: an unreachable Prometheus, a rejected query or a body that is not
//! Prometheus JSON become [`GapRecord`]s over the part of the span they cover. Scheduling
//! passes and storing what they bring belong to the daemon.
//!
//! NB: range queries go through `reqwest` rather than `prometheus-http-query`, which drops
//! `warnings`/`infos`, fails on histogram-only series and re-parses answers into its own
//! types; the bundle must hold the answers as Prometheus wrote them. What Prometheus says
//! about itself (rules, targets, series) is asked through the crate, in [`meta`].

pub mod meta;

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::SignedDuration;
use serde_json::{Map, Value};
use tracing::{debug, info, instrument, warn};

use crate::collect::{EvidenceFile, Pass, Scope};
use crate::config::{PrometheusQuery, PrometheusSettings};
use crate::record::{AlertRecord, GapRecord, GapSource, Instant};

/// The largest answer kept for one range; a bigger one is a gap rather than a memory spike
/// (11,000 points of a few hundred series is well under it).
pub const MAX_BODY_BYTES: usize = 256 << 20;

/// Prometheus answers `bad_data` when `(end - start) / step` (integer division) exceeds this.
pub const MAX_POINTS: i64 = 11_000;

/// The node clock queries, by file name, before node filtering. NB: the bundle keeps only
/// their PromQL, so `ingest::prometheus::series_kind` recognises them by these metric names
/// when they are read back (a test below holds the two together).
const NODE_CLOCK_QUERIES: [(&str, &str); 3] = [
    ("node-clock-offset", "node_time_seconds"),
    ("node-timex-offset", "node_timex_offset_seconds"),
    ("node-timex-sync-status", "node_timex_sync_status"),
];

/// Why the collector could not be built, or why one request failed (the latter become gaps).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("prometheus.url is empty: Prometheus collection is off")]
    NoUrl,
    #[error("prometheus.url {url:?} is not an http(s) URL")]
    BadUrl { url: String },
    #[error("cannot build the HTTP client for prometheus at {url}")]
    Client {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("prometheus at {url} unreachable: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("prometheus at {url} did not answer {query} within {timeout:#}")]
    Timeout { url: String, query: String, timeout: SignedDuration },
    #[error("prometheus rejected {query}: {error_type}: {error}")]
    Rejected { query: String, status: u16, error_type: String, error: String },
    #[error(
        "prometheus at {url} answered {query} with more than {limit} bytes; ask for fewer series or a coarser step"
    )]
    TooLarge { url: String, query: String, limit: usize },
    #[error("prometheus at {url} answered {query} with {status} and a body that is not Prometheus JSON: {excerpt:?}")]
    NotPrometheusJson { url: String, query: String, status: u16, excerpt: String },
    #[error(
        "prometheus at {url} answered {endpoint} with what the client could not read ({cause}); is it a Prometheus 2.x or 3.x API?"
    )]
    Api { url: String, endpoint: &'static str, cause: String, status: Option<u16> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NoUrl => "no_url",
            Error::BadUrl { .. } => "bad_url",
            Error::Client { .. } => "client",
            Error::Unreachable { .. } => "unreachable",
            Error::Timeout { .. } => "timeout",
            Error::Rejected { .. } => "rejected",
            Error::TooLarge { .. } => "too_large",
            Error::NotPrometheusJson { .. } => "not_prometheus_json",
            Error::Api { .. } => "api",
        }
    }

    /// Whether trying again may help: the network, an overloaded or restarting server.
    fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::Timeout { .. } => true,
            Error::Rejected { status, .. } | Error::NotPrometheusJson { status, .. } => {
                *status == 429 || *status >= 500
            }
            Error::Api { status, .. } => status.is_some_and(|status| status == 429 || status >= 500),
            Error::NoUrl | Error::BadUrl { .. } | Error::Client { .. } | Error::TooLarge { .. } => false,
        }
    }
}

/// How transient failures are tried again: `tries` in all, sleeping `first_backoff`,
/// doubling, each sleep jittered to 50–100 %, never more than `max_sleep` in total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub tries: u32,
    pub first_backoff: Duration,
    pub max_sleep: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { tries: 3, first_backoff: Duration::from_millis(500), max_sleep: Duration::from_secs(10) }
    }
}

/// One range query to run: its file name (without `.json`), a name for people, the PromQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedQuery {
    pub file_stem: String,
    pub title: String,
    pub promql: String,
    /// A configured query's `name` (rows and gaps are named after it).
    pub name: Option<String>,
}

/// A part of the span asked in one request: Unix milliseconds, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Clone, Debug)]
pub struct PrometheusCollector {
    client: reqwest::Client,
    url: String,
    step: SignedDuration,
    timeout: SignedDuration,
    query_budget: Duration,
    node_clock: bool,
    alert_expressions: bool,
    queries: Vec<PrometheusQuery>,
    retry: RetryPolicy,
    max_body_bytes: usize,
}

impl PrometheusCollector {
    pub fn new(settings: &PrometheusSettings) -> Result<Self> {
        let url = settings.url.trim().trim_end_matches('/').to_owned();
        if url.is_empty() {
            return Err(Error::NoUrl);
        }
        if reqwest::Url::parse(&url).map_or(true, |parsed| !matches!(parsed.scheme(), "http" | "https")) {
            return Err(Error::BadUrl { url });
        }
        // The request timeout leaves Prometheus a moment beyond its own query timeout, so
        // that its `timeout` error (with its text) arrives rather than ours.
        let request_timeout = settings.timeout.unsigned_abs() + Duration::from_secs(2);
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(Duration::from_secs(5).min(request_timeout))
            .user_agent(concat!("postmortemd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Client { url: url.clone(), source })?;
        Ok(PrometheusCollector {
            client,
            url,
            step: settings.step,
            timeout: settings.timeout,
            query_budget: settings.query_budget.unsigned_abs(),
            node_clock: settings.node_clock,
            alert_expressions: settings.alert_expressions,
            queries: settings.queries.clone(),
            retry: RetryPolicy::default(),
            max_body_bytes: MAX_BODY_BYTES,
        })
    }

    /// The same collector with another retry policy (tests use a short one).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same collector with another cap on one answer's size (default [`MAX_BODY_BYTES`]).
    pub fn with_max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// The queries a pass over `scope` runs, in a stable order with unique file stems.
    pub fn plan(&self, scope: &Scope) -> (Vec<PlannedQuery>, Vec<String>) {
        let nodes: &[String] = if self.node_clock { &scope.nodes } else { &[] };
        plan_queries(&scope.alerts, self.alert_expressions, &self.queries, nodes)
    }

    /// One collection pass: every planned query over `[scope.start, scope.end]`. Never fails;
    /// what could not be had is a gap.
    #[instrument(skip_all, fields(incident = scope.incident_id, source = "prometheus"))]
    pub async fn pass(&self, scope: &Scope) -> Pass {
        let mut pass = Pass::default();
        let (planned, problems) = self.plan(scope);
        for problem in problems {
            warn!(problem, "Configured Prometheus query not run.");
            pass.gaps.push(GapRecord {
                source: GapSource::Other("prometheus".to_owned()),
                start: scope.start,
                end: scope.end,
                reason: problem,
                node: None,
            });
        }
        let metadata = self.metadata(scope).await;
        pass.files.extend(metadata.files);
        pass.gaps.extend(metadata.gaps);
        // Node clocks by the exporter instances Prometheus names for the nodes, where it does.
        let planned: Vec<PlannedQuery> = planned
            .into_iter()
            .map(|query| match node_clock_metric(&query.file_stem) {
                Some(metric) => PlannedQuery {
                    promql: node_clock_query_mapped(metric, &scope.nodes, &metadata.node_instances),
                    ..query
                },
                None => query,
            })
            .collect();
        let step_ms = self.step.as_millis().max(1) as i64;
        let ranges = split_ranges(scope.start.as_millisecond(), scope.end.as_millisecond(), step_ms);
        let mut names = BTreeMap::new();
        // Once Prometheus is unreachable (after retries), the rest is not asked: each
        // remaining range is the same gap at once, so a dead server cannot stall the pass.
        let mut unreachable: Option<String> = metadata.unreachable;
        for query in &planned {
            let mut bodies = Vec::with_capacity(ranges.len());
            let started = tokio::time::Instant::now();
            for (range_idx, range) in ranges.iter().enumerate() {
                if started.elapsed() >= self.query_budget {
                    // The rest of the span is one gap: the budget is the query's, not each range's.
                    let last = ranges.last().unwrap_or(range);
                    pass.gaps.push(GapRecord {
                        source: query_gap_source(query),
                        start: instant(range.start_ms).unwrap_or(scope.start),
                        end: instant(last.end_ms).unwrap_or(scope.end),
                        reason: format!(
                            "prometheus.query_budget ({:#}) spent after {range_idx} of {} ranges: the rest of the span was not asked",
                            SignedDuration::try_from(self.query_budget).unwrap_or_default(),
                            ranges.len()
                        ),
                        node: None,
                    });
                    break;
                }
                let result = match &unreachable {
                    Some(reason) => Err(reason.clone()),
                    None => self.query_range(query, *range).await.map_err(|error| {
                        warn!(%error, kind = error.kind(), query = query.promql, "Range query failed; reported as a gap.");
                        if matches!(error, Error::Unreachable { .. }) {
                            unreachable = Some(error.to_string());
                        }
                        error.to_string()
                    }),
                };
                match result {
                    Ok(body) => bodies.push(body),
                    Err(reason) => pass.gaps.push(GapRecord {
                        source: query_gap_source(query),
                        start: instant(range.start_ms).unwrap_or(scope.start),
                        end: instant(range.end_ms).unwrap_or(scope.end),
                        reason,
                        node: None,
                    }),
                }
            }
            let Some(bytes) = merge_bodies(bodies) else { continue };
            let file = format!("{}.json", query.file_stem);
            let entry = match &query.name {
                Some(name) => serde_json::json!({"query": query.promql, "name": name}),
                None => Value::String(query.promql.clone()),
            };
            names.insert(file.clone(), entry);
            pass.files.push(EvidenceFile { name: format!("prometheus/{file}"), bytes });
        }
        if !names.is_empty() {
            let queries = Value::Object(names.into_iter().collect::<Map<_, _>>());
            let mut bytes = serde_json::to_vec_pretty(&queries).unwrap_or_default();
            bytes.push(b'\n');
            pass.files.push(EvidenceFile { name: "prometheus/queries.json".to_owned(), bytes });
        }
        info!(
            n_queries = planned.len(),
            n_ranges = ranges.len(),
            n_files = pass.files.len(),
            n_gaps = pass.gaps.len(),
            "Prometheus pass done."
        );
        pass
    }

    /// One range, with transient failures tried again within the retry policy.
    async fn query_range(&self, query: &PlannedQuery, range: Range) -> Result<Vec<u8>> {
        self.retrying(|| self.query_range_once(query, range)).await
    }

    /// `request` until it succeeds, fails for good, or the retry policy is spent.
    async fn retrying<T, F, Fut>(&self, mut request: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut slept = Duration::ZERO;
        let mut backoff = self.retry.first_backoff;
        let mut try_idx = 1;
        loop {
            let error = match request().await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            let sleep = super::jittered(backoff, 0.5..1.0);
            if !error.is_transient() || try_idx >= self.retry.tries || slept + sleep > self.retry.max_sleep {
                return Err(error);
            }
            debug!(%error, try_idx, sleep_ms = sleep.as_millis() as u64, "Prometheus request failed; trying again.");
            tokio::time::sleep(sleep).await;
            slept += sleep;
            backoff *= 2;
            try_idx += 1;
        }
    }

    async fn query_range_once(&self, query: &PlannedQuery, range: Range) -> Result<Vec<u8>> {
        let form = [
            ("query", query.promql.clone()),
            ("start", seconds_text(range.start_ms)),
            ("end", seconds_text(range.end_ms)),
            ("step", seconds_text(self.step.as_millis() as i64)),
            ("timeout", format!("{}ms", self.timeout.as_millis())),
        ];
        let response = self
            .client
            .post(format!("{}/api/v1/query_range", self.url))
            .form(&form)
            .send()
            .await
            .map_err(|error| self.transport_error(query, &error))?;
        let status = response.status().as_u16();
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| self.transport_error(query, &error))? {
            if bytes.len() + chunk.len() > self.max_body_bytes {
                return Err(Error::TooLarge {
                    url: self.url.clone(),
                    query: query.title.clone(),
                    limit: self.max_body_bytes,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        check_answer(&self.url, &query.title, status, bytes)
    }

    fn transport_error(&self, query: &PlannedQuery, error: &reqwest::Error) -> Error {
        if error.is_timeout() {
            return Error::Timeout { url: self.url.clone(), query: query.title.clone(), timeout: self.timeout };
        }
        Error::Unreachable { url: self.url.clone(), cause: root_cause(error) }
    }
}

/// How the daemon's jobs run it (after the Kubernetes collector, whose pods name the nodes).
impl crate::collect::Collector for PrometheusCollector {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn pass<'a>(
        &'a self,
        scope: &'a Scope,
        _cursors: &'a BTreeMap<String, crate::collect::LogCursor>,
        _on_chunk: crate::collect::ChunkSink<'a>,
    ) -> crate::collect::PassFuture<'a> {
        Box::pin(PrometheusCollector::pass(self, scope))
    }
}

/// A body is kept when Prometheus said `success`; its JSON error is its own words.
fn check_answer(url: &str, title: &str, status: u16, bytes: Vec<u8>) -> Result<Vec<u8>> {
    let not_json = || Error::NotPrometheusJson {
        url: url.to_owned(),
        query: title.to_owned(),
        status,
        excerpt: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).trim().to_owned(),
    };
    let Ok(Value::Object(document)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(not_json());
    };
    match document.get("status").and_then(Value::as_str) {
        Some("success") if (200..300).contains(&status) => Ok(bytes),
        Some("error") => Err(Error::Rejected {
            query: title.to_owned(),
            status,
            error_type: document.get("errorType").and_then(Value::as_str).unwrap_or("").to_owned(),
            error: document.get("error").and_then(Value::as_str).unwrap_or("").to_owned(),
        }),
        _ => Err(not_json()),
    }
}

/// The innermost cause of a transport error, said plainly: `connection refused`.
fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    let mut io_kind = None;
    while let Some(next) = source.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        source = next;
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset".to_owned(),
        Some(std::io::ErrorKind::ConnectionAborted) => "connection aborted".to_owned(),
        Some(std::io::ErrorKind::TimedOut) => "timed out".to_owned(),
        _ => source.to_string(),
    }
}

/// The gap source of a query: `prometheus: <name or PromQL>`.
fn query_gap_source(query: &PlannedQuery) -> GapSource {
    GapSource::Other(format!("prometheus: {}", query.name.as_deref().unwrap_or(&query.promql)))
}

fn instant(millisecond: i64) -> Option<Instant> {
    Instant::from_millisecond(millisecond).ok()
}

/// Unix milliseconds as Prometheus reads seconds: `1739095523.123`.
fn seconds_text(milliseconds: i64) -> String {
    let sign = if milliseconds < 0 { "-" } else { "" };
    let absolute = milliseconds.unsigned_abs();
    format!("{sign}{}.{:03}", absolute / 1000, absolute % 1000)
}

/// Points Prometheus counts for a range: `(end - start) / step`, integer division.
pub fn resolution(range: Range, step_ms: i64) -> i64 {
    (range.end_ms - range.start_ms) / step_ms.max(1)
}

/// `[start, end]` as consecutive ranges of at most [`MAX_POINTS`] by Prometheus's count,
/// on one grid of `start + k × step`: each range starts one step after the last one ended,
/// so no point is asked twice and none is skipped. An empty span asks nothing.
pub fn split_ranges(start_ms: i64, end_ms: i64, step_ms: i64) -> Vec<Range> {
    let step_ms = step_ms.max(1);
    let mut ranges = Vec::new();
    if end_ms < start_ms {
        return ranges;
    }
    let max_span = MAX_POINTS.saturating_mul(step_ms);
    let mut range_start = start_ms;
    loop {
        // The rest in one request when Prometheus would take it, else a full range.
        let range_end = if (end_ms - range_start) / step_ms <= MAX_POINTS { end_ms } else { range_start + max_span };
        ranges.push(Range { start_ms: range_start, end_ms: range_end });
        let next = range_end.saturating_add(step_ms);
        if range_end >= end_ms || next > end_ms {
            return ranges;
        }
        range_start = next;
    }
}

/// The answers of one query's ranges as one `query_range` body. One answer is kept byte for
/// byte; several are merged: series matched by label set (first-seen order), samples and
/// histograms concatenated in time order without repeating a time, warnings and infos
/// unioned. `None` when there is no answer.
pub fn merge_bodies(bodies: Vec<Vec<u8>>) -> Option<Vec<u8>> {
    if bodies.len() <= 1 {
        return bodies.into_iter().next();
    }
    let mut order: Vec<String> = Vec::new();
    let mut series: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut warnings: Vec<Value> = Vec::new();
    let mut infos: Vec<Value> = Vec::new();
    let mut result_type = Value::String("matrix".to_owned());
    for body in bodies {
        let Ok(Value::Object(mut document)) = serde_json::from_slice::<Value>(&body) else { continue };
        for (key, union) in [("warnings", &mut warnings), ("infos", &mut infos)] {
            if let Some(Value::Array(texts)) = document.remove(key) {
                for text in texts {
                    if !union.contains(&text) {
                        union.push(text);
                    }
                }
            }
        }
        let Some(Value::Object(mut data)) = document.remove("data") else { continue };
        if let Some(kind) = data.remove("resultType") {
            result_type = kind;
        }
        let Some(Value::Array(items)) = data.remove("result") else { continue };
        for item in items {
            let Value::Object(item) = item else { continue };
            let key = item.get("metric").map(Value::to_string).unwrap_or_default();
            match series.get_mut(&key) {
                None => {
                    order.push(key.clone());
                    series.insert(key, item);
                }
                Some(merged) => {
                    for samples_key in ["values", "histograms"] {
                        append_samples(merged, samples_key, item.get(samples_key));
                    }
                }
            }
        }
    }
    let result: Vec<Value> = order.iter().filter_map(|key| series.remove(key)).map(Value::Object).collect();
    let mut document = Map::new();
    document.insert("status".to_owned(), Value::String("success".to_owned()));
    let mut data = Map::new();
    data.insert("resultType".to_owned(), result_type);
    data.insert("result".to_owned(), Value::Array(result));
    document.insert("data".to_owned(), Value::Object(data));
    if !warnings.is_empty() {
        document.insert("warnings".to_owned(), Value::Array(warnings));
    }
    if !infos.is_empty() {
        document.insert("infos".to_owned(), Value::Array(infos));
    }
    serde_json::to_vec(&Value::Object(document)).ok()
}

/// Appends `more`'s `[time, …]` samples to `merged[key]`, skipping times not after its last.
fn append_samples(merged: &mut Map<String, Value>, key: &str, more: Option<&Value>) {
    let Some(Value::Array(more)) = more else { return };
    let time = |sample: &Value| sample.get(0).and_then(Value::as_f64);
    let target = merged.entry(key.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(samples) = target else { return };
    let mut last = samples.last().and_then(time);
    for sample in more {
        let this = time(sample);
        if let (Some(last), Some(this)) = (last, this)
            && this <= last
        {
            continue;
        }
        last = this.or(last);
        samples.push(sample.clone());
    }
}

/// Every query a pass runs and the problems that kept a configured one from running; the
/// alerts' own expressions only with `alert_expressions` (`prometheus.alert_expressions`).
pub fn plan_queries(
    alerts: &[AlertRecord],
    alert_expressions: bool,
    rules: &[PrometheusQuery],
    nodes: &[String],
) -> (Vec<PlannedQuery>, Vec<String>) {
    let mut planned: Vec<(String, String, String, Option<String>)> = Vec::new();
    let mut problems = Vec::new();
    // Alert expressions, ordered by alert name then expression, so names hold across passes.
    let mut expressions: Vec<(&str, String)> = alerts
        .iter()
        .filter(|_| alert_expressions)
        .filter_map(|alert| Some((alert.name.as_str(), alert_expression(alert.generator_url.as_deref()?)?)))
        .collect();
    expressions.sort();
    expressions.dedup_by(|right, left| right.1 == left.1);
    for (alert_name, expression) in expressions {
        planned.push((
            format!("alert-{}", slug(alert_name)),
            format!("the expression of alert {alert_name}"),
            expression,
            None,
        ));
    }
    for rule in rules {
        let mut templated: Vec<String> = Vec::new();
        let applicable: Vec<&AlertRecord> = alerts.iter().filter(|alert| rule_matches(rule, alert)).collect();
        let empty = BTreeMap::new();
        let label_sets: Vec<&BTreeMap<String, String>> = if applicable.is_empty() && rule.matchers.is_empty() {
            vec![&empty]
        } else {
            applicable.iter().map(|alert| &alert.labels).collect()
        };
        let mut missing: Vec<String> = Vec::new();
        for labels in label_sets {
            match template(&rule.query, labels) {
                Ok(query) => templated.push(query),
                Err(TemplateError::MissingLabel { label }) => missing.push(label),
            }
        }
        if templated.is_empty() && !missing.is_empty() {
            missing.sort();
            missing.dedup();
            problems.push(format!(
                "query {:?} not run: no alert of the incident has the label {} it needs",
                rule.name,
                missing.join(", ")
            ));
        }
        templated.sort();
        templated.dedup();
        for query in templated {
            planned.push((slug(&rule.name), rule.name.clone(), query, Some(rule.name.clone())));
        }
    }
    if !nodes.is_empty() {
        for (stem, metric) in NODE_CLOCK_QUERIES {
            planned.push((
                stem.to_owned(),
                format!("{metric} of the target pods' nodes"),
                node_clock_query(metric, nodes),
                None,
            ));
        }
    }
    // The same PromQL asked twice (an alert's expression also configured) is asked once.
    let mut seen: Vec<&str> = Vec::new();
    let mut stems: Vec<String> = Vec::new();
    let mut queries = Vec::new();
    for (stem, title, promql, name) in &planned {
        if seen.contains(&promql.as_str()) {
            continue;
        }
        seen.push(promql);
        let mut unique = stem.clone();
        let mut suffix = 2;
        while stems.contains(&unique) {
            unique = format!("{stem}-{suffix}");
            suffix += 1;
        }
        stems.push(unique.clone());
        queries.push(PlannedQuery {
            file_stem: unique,
            title: title.clone(),
            promql: promql.clone(),
            name: name.clone(),
        });
    }
    (queries, problems)
}

/// The PromQL of an alert: `g0.expr` of its `generatorURL` (`/graph?g0.expr=…&g0.tab=1`),
/// form-decoded. `None` without one.
pub fn alert_expression(generator_url: &str) -> Option<String> {
    let (_, query) = generator_url.split_once('?')?;
    let query = query.split('#').next().unwrap_or(query);
    // NB: a dummy base gives the query string to the URL parser, which form-decodes it
    // (`+` is a space, `%2B` a plus) whatever the original host or path looked like.
    let parsed = reqwest::Url::parse(&format!("http://generator.invalid/?{query}")).ok()?;
    parsed
        .query_pairs()
        .find(|(key, _)| key == "g0.expr")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Whether every `match` label of `rule` equals the alert's.
pub fn rule_matches(rule: &PrometheusQuery, alert: &AlertRecord) -> bool {
    rule.matchers.iter().all(|(label, value)| alert.labels.get(label) == Some(value))
}

/// Why a configured query could not be filled in for an alert.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the alert has no label {label}")]
    MissingLabel { label: String },
}

/// `query` with each `{{label}}` (spaces inside the braces allowed) replaced by the label's
/// value, escaped for a PromQL double-quoted string; an error names a missing label.
pub fn template(query: &str, labels: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else { break };
        let label = rest[open + 2..open + 2 + close].trim();
        let value = labels.get(label).ok_or_else(|| TemplateError::MissingLabel { label: label.to_owned() })?;
        out.push_str(&rest[..open]);
        out.push_str(&promql_escape(value));
        rest = &rest[open + 2 + close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes `text` for the inside of a PromQL double-quoted string.
fn promql_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out
}

/// RE2 metacharacters escaped, so a node name matches only itself.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\.+*?()|[]{}^$".contains(character) {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

/// A node clock query limited to `nodes`, by `instance` (the node name, with or without a
/// port, as kube-prometheus relabels it) or else by a `node` label; the PromQL keeps the
/// shape [`crate::ingest::prometheus::series_kind`] recognises, and its series keep those labels.
pub fn node_clock_query(metric: &str, nodes: &[String]) -> String {
    let mut nodes: Vec<&String> = nodes.iter().collect();
    nodes.sort();
    nodes.dedup();
    let alternatives = nodes.iter().map(|node| regex_escape(node)).collect::<Vec<_>>().join("|");
    let by_instance = format!("{metric}{{instance=~\"{}\"}}", promql_escape(&format!("({alternatives})(:[0-9]+)?")));
    let by_node = format!("{metric}{{node=~\"{}\"}}", promql_escape(&format!("({alternatives})")));
    if metric == "node_time_seconds" {
        format!("({by_instance} - timestamp({by_instance})) or ({by_node} - timestamp({by_node}))")
    } else {
        format!("{by_instance} or {by_node}")
    }
}

/// The metric of a planned node clock query, by its file stem.
fn node_clock_metric(file_stem: &str) -> Option<&'static str> {
    NODE_CLOCK_QUERIES.iter().find(|(stem, _)| *stem == file_stem).map(|(_, metric)| *metric)
}

/// A node clock query for `nodes`: each node whose exporter `instance` Prometheus named
/// (`instances`, from `node_uname_info`) by exactly those instances, its series labelled
/// `node` with the node's name (`label_replace`) so skew knows whose clock it is; the rest
/// as [`node_clock_query`] guesses them. The PromQL keeps the shape
/// [`crate::ingest::prometheus::series_kind`] recognises.
pub fn node_clock_query_mapped(metric: &str, nodes: &[String], instances: &BTreeMap<String, Vec<String>>) -> String {
    let mut nodes: Vec<&String> = nodes.iter().collect();
    nodes.sort();
    nodes.dedup();
    let mut terms = Vec::new();
    let mut unmapped = Vec::new();
    for node in nodes {
        let Some(node_instances) = instances.get(node).filter(|node_instances| !node_instances.is_empty()) else {
            unmapped.push(node.clone());
            continue;
        };
        let alternatives = node_instances.iter().map(|instance| regex_escape(instance)).collect::<Vec<_>>().join("|");
        let selector = format!("{metric}{{instance=~\"{}\"}}", promql_escape(&format!("({alternatives})")));
        let value =
            if metric == "node_time_seconds" { format!("{selector} - timestamp({selector})") } else { selector };
        terms.push(format!("label_replace({value}, \"node\", \"{}\", \"\", \"\")", promql_escape(node)));
    }
    if !unmapped.is_empty() {
        let guessed = node_clock_query(metric, &unmapped);
        terms.push(if terms.is_empty() { guessed } else { format!("({guessed})") });
    }
    terms.join(" or ")
}

/// A file-name-safe form of `name`: lowercase letters, digits and single dashes.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            out.push(character.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() { "query".to_owned() } else { trimmed.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::prometheus::series_kind;
    use crate::record::{AlertStatus, SeriesKind};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    fn alert(name: &str, pairs: &[(&str, &str)], generator_url: Option<&str>) -> AlertRecord {
        let mut labels = labels(pairs);
        labels.insert("alertname".to_owned(), name.to_owned());
        AlertRecord {
            name: name.to_owned(),
            status: AlertStatus::Firing,
            labels,
            annotations: BTreeMap::new(),
            starts_at: "2025-02-09T10:06:15Z".parse().unwrap(),
            ends_at: None,
            fingerprint: None,
            generator_url: generator_url.map(str::to_owned),
        }
    }

    fn rule(name: &str, matchers: &[(&str, &str)], query: &str) -> PrometheusQuery {
        PrometheusQuery { name: name.to_owned(), matchers: labels(matchers), query: query.to_owned() }
    }

    #[track_caller]
    fn check_expression(url: &str, expected: Option<&str>) {
        assert_eq!(alert_expression(url).as_deref(), expected, "{url}");
    }

    #[test]
    fn the_alert_expression_is_g0_expr_form_decoded() {
        let rows = [
            (
                "http://prometheus:9090/graph?g0.expr=sum+by+%28pod%29+%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29+%3E+0.05&g0.tab=1",
                Some(r#"sum by (pod) (rate(http_requests_total{code=~"5.."}[5m])) > 0.05"#),
            ),
            // `%20` for spaces, `%2B` a literal plus, an `&` inside the expression encoded.
            ("http://p/graph?g0.expr=a%20%2B%20b%20and%20c&g0.tab=0", Some("a + b and c")),
            ("/graph?g0.tab=1&g0.expr=up%3D%3D0", Some("up==0")),
            // Several gN: the alert's own is g0.
            ("http://p/graph?g1.expr=down&g0.expr=up&g2.expr=x", Some("up")),
            ("http://p/graph?g0.expr=up#fragment", Some("up")),
            ("http://p/graph?g0.tab=1", None),
            ("http://p/graph?g0.expr=", None),
            ("http://p/graph", None),
            ("", None),
        ];
        for (url, expected) in rows {
            check_expression(url, expected);
        }
    }

    #[test]
    fn templates_take_alert_labels_escaped() {
        let alert_labels = labels(&[("namespace", "shop"), ("pod", "api-1"), ("odd", "a\"b\\c")]);
        let rows: &[(&str, Result<&str, &str>)] = &[
            (r#"up{namespace="{{namespace}}"}"#, Ok(r#"up{namespace="shop"}"#)),
            (r#"up{namespace="{{ namespace }}",pod="{{pod}}"}"#, Ok(r#"up{namespace="shop",pod="api-1"}"#)),
            (r#"up{x="{{odd}}"}"#, Ok(r#"up{x="a\"b\\c"}"#)),
            ("sum(up)", Ok("sum(up)")),
            ("up{{namespace}", Ok("up{{namespace}")),
            (r#"up{service="{{service}}"}"#, Err("service")),
        ];
        for (query, expected) in rows {
            let expected = expected.map(str::to_owned).map_err(str::to_owned);
            let got = template(query, &alert_labels).map_err(|TemplateError::MissingLabel { label }| label);
            assert_eq!(got, expected, "{query}");
        }
    }

    #[test]
    fn rules_match_when_every_label_is_equal() {
        let high = alert("HighErrorRate", &[("namespace", "shop"), ("severity", "critical")], None);
        let rows = [
            (rule("all", &[], "up"), true),
            (rule("name", &[("alertname", "HighErrorRate")], "up"), true),
            (rule("both", &[("alertname", "HighErrorRate"), ("severity", "critical")], "up"), true),
            (rule("other value", &[("severity", "warning")], "up"), false),
            (rule("absent label", &[("team", "payments")], "up"), false),
            (rule("one of two", &[("alertname", "HighErrorRate"), ("severity", "page")], "up"), false),
        ];
        for (rule, expected) in rows {
            assert_eq!(rule_matches(&rule, &high), expected, "{}", rule.name);
        }
    }

    #[test]
    fn plans_dedupe_and_name_queries_stably() {
        let url = |expr: &str| format!("http://p/graph?g0.expr={expr}&g0.tab=1");
        let alerts = vec![
            alert("Zeta", &[("namespace", "b")], Some(&url("z"))),
            alert("HighErrorRate", &[("namespace", "shop")], Some(&url("errors+%3E+0"))),
            alert("HighErrorRate", &[("namespace", "shop"), ("pod", "p2")], Some(&url("errors+%3E+0"))),
            alert("HighErrorRate", &[("namespace", "admin")], Some(&url("errors+%3E+1"))),
        ];
        let rules = vec![
            rule("5xx by pod", &[("alertname", "HighErrorRate")], r#"x{namespace="{{namespace}}"}"#),
            rule("Up!", &[], "up"),
            rule("needs service", &[], r#"y{service="{{service}}"}"#),
            rule("never", &[("alertname", "Other")], "never"),
            rule("same as alert", &[], "z"),
        ];
        let (planned, problems) = plan_queries(&alerts, true, &rules, &["node-2".to_owned(), "node-1".to_owned()]);
        let stems: Vec<(&str, &str)> =
            planned.iter().map(|query| (query.file_stem.as_str(), query.promql.as_str())).collect();
        assert_eq!(
            stems[..6],
            [
                ("alert-higherrorrate", "errors > 0"),
                ("alert-higherrorrate-2", "errors > 1"),
                ("alert-zeta", "z"),
                ("5xx-by-pod", r#"x{namespace="admin"}"#),
                ("5xx-by-pod-2", r#"x{namespace="shop"}"#),
                ("up", "up"),
            ]
        );
        let clock: Vec<&str> = planned[6..].iter().map(|query| query.file_stem.as_str()).collect();
        assert_eq!(clock, ["node-clock-offset", "node-timex-offset", "node-timex-sync-status"]);
        assert_eq!(
            problems,
            [r#"query "needs service" not run: no alert of the incident has the label service it needs"#]
        );
        // Alerts in another order plan the same names.
        let mut reversed = alerts.clone();
        reversed.reverse();
        assert_eq!(plan_queries(&reversed, true, &rules, &["node-1".to_owned(), "node-2".to_owned()]).0, planned);
        let (without_expressions, _) = plan_queries(&alerts, false, &rules, &[]);
        assert!(
            without_expressions.iter().all(|query| !query.file_stem.starts_with("alert-")),
            "alert_expressions = false runs no alert's expression: {without_expressions:?}"
        );
        assert!(!without_expressions.is_empty(), "the configured queries still run");
        // No nodes, no clock queries; no alerts, only unmatched rules without placeholders.
        let (planned, _) = plan_queries(&[], true, &rules, &[]);
        let stems: Vec<&str> = planned.iter().map(|query| query.file_stem.as_str()).collect();
        assert_eq!(stems, ["up", "same-as-alert"]);
    }

    #[test]
    fn node_clock_queries_filter_nodes_and_keep_the_shape_skew_reads() {
        let nodes = ["ip-10-0-1-2.ec2.internal".to_owned(), "node-1".to_owned()];
        let query = node_clock_query("node_time_seconds", &nodes);
        assert_eq!(
            query,
            r#"(node_time_seconds{instance=~"(ip-10-0-1-2\\.ec2\\.internal|node-1)(:[0-9]+)?"} - timestamp(node_time_seconds{instance=~"(ip-10-0-1-2\\.ec2\\.internal|node-1)(:[0-9]+)?"})) or (node_time_seconds{node=~"(ip-10-0-1-2\\.ec2\\.internal|node-1)"} - timestamp(node_time_seconds{node=~"(ip-10-0-1-2\\.ec2\\.internal|node-1)"}))"#
        );
        assert_eq!(series_kind(&query), SeriesKind::NodeClockOffset);
        for (metric, kind) in [
            ("node_timex_offset_seconds", SeriesKind::NodeTimexOffset),
            ("node_timex_sync_status", SeriesKind::NodeTimexSync),
        ] {
            let query = node_clock_query(metric, &nodes[1..]);
            assert_eq!(query, format!(r#"{metric}{{instance=~"(node-1)(:[0-9]+)?"}} or {metric}{{node=~"(node-1)"}}"#));
            assert_eq!(series_kind(&query), kind);
        }
        // Every node clock query a pass plans reads back as clock evidence.
        for (_, metric) in NODE_CLOCK_QUERIES {
            assert!(series_kind(&node_clock_query(metric, &nodes)).is_clock(), "{metric}");
        }
    }

    #[test]
    fn node_clocks_by_the_instances_prometheus_names_keep_the_node_and_the_shape() {
        let nodes = ["node-2".to_owned(), "node-1".to_owned()];
        let instances: BTreeMap<String, Vec<String>> =
            [("node-2".to_owned(), vec!["10.0.1.2:9100".to_owned()])].into_iter().collect();
        let query = node_clock_query_mapped("node_time_seconds", &nodes, &instances);
        assert_eq!(
            query,
            r#"label_replace(node_time_seconds{instance=~"(10\\.0\\.1\\.2:9100)"} - timestamp(node_time_seconds{instance=~"(10\\.0\\.1\\.2:9100)"}), "node", "node-2", "", "") or ((node_time_seconds{instance=~"(node-1)(:[0-9]+)?"} - timestamp(node_time_seconds{instance=~"(node-1)(:[0-9]+)?"})) or (node_time_seconds{node=~"(node-1)"} - timestamp(node_time_seconds{node=~"(node-1)"})))"#
        );
        assert_eq!(series_kind(&query), SeriesKind::NodeClockOffset);
        let query = node_clock_query_mapped("node_timex_sync_status", &nodes[..1], &instances);
        assert_eq!(
            query,
            r#"label_replace(node_timex_sync_status{instance=~"(10\\.0\\.1\\.2:9100)"}, "node", "node-2", "", "")"#
        );
        assert_eq!(series_kind(&query), SeriesKind::NodeTimexSync);
        // Nothing named: the guess by node name, as before.
        for (stem, metric) in NODE_CLOCK_QUERIES {
            assert_eq!(node_clock_query_mapped(metric, &nodes, &BTreeMap::new()), node_clock_query(metric, &nodes));
            assert_eq!(node_clock_metric(stem), Some(metric));
        }
        assert_eq!(node_clock_metric("queue"), None);
    }

    /// Start, end, and the expected (start, end) of each range, in milliseconds.
    type SplitRow<'a> = (i64, i64, &'a [(i64, i64)]);

    #[test]
    fn ranges_split_at_prometheus_own_count() {
        let step = 15_000;
        let rows: &[SplitRow] = &[
            // Exactly 11,000 steps: one request (Prometheus allows (end-start)/step == 11,000).
            (0, 11_000 * step, &[(0, 11_000 * step)]),
            // Integer division: 11,000 steps and a bit is still 11,000.
            (0, 11_000 * step + step - 1, &[(0, 11_000 * step + step - 1)]),
            // One more step: a second range from the next grid point.
            (0, 11_001 * step, &[(0, 11_000 * step), (11_001 * step, 11_001 * step)]),
            (
                1_000,
                1_000 + 25_000 * step,
                &[
                    (1_000, 1_000 + 11_000 * step),
                    (1_000 + 11_001 * step, 1_000 + 22_001 * step),
                    (1_000 + 22_002 * step, 1_000 + 25_000 * step),
                ],
            ),
            (5, 5, &[(5, 5)]),
            (10, 5, &[]),
        ];
        for (start, end, expected) in rows {
            let ranges = split_ranges(*start, *end, step);
            let got: Vec<(i64, i64)> = ranges.iter().map(|range| (range.start_ms, range.end_ms)).collect();
            assert_eq!(got, *expected, "{start}..{end}");
            for range in ranges {
                assert!(resolution(range, step) <= MAX_POINTS, "{range:?}");
                assert_eq!((range.start_ms - start) % step, 0, "{range:?} is on the grid");
            }
        }
        // Points asked: every grid point of the span, once.
        let (start, end, step) = (0, 30_000 * 1_000 + 500, 1_000);
        let mut points = Vec::new();
        for range in split_ranges(start, end, step) {
            points.extend((range.start_ms..=range.end_ms).step_by(step as usize));
        }
        let expected: Vec<i64> = (start..=end).step_by(step as usize).collect();
        assert_eq!(points, expected);
    }

    fn body(series: &[(&str, &[(i64, &str)])], warnings: &[&str]) -> Vec<u8> {
        let result: Vec<Value> = series
            .iter()
            .map(|(pod, values)| {
                serde_json::json!({"metric": {"pod": pod}, "values": values.iter().map(|(time, value)| serde_json::json!([time, value])).collect::<Vec<_>>()})
            })
            .collect();
        let mut document = serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": result}});
        if !warnings.is_empty() {
            document["warnings"] = serde_json::json!(warnings);
        }
        serde_json::to_vec(&document).unwrap()
    }

    #[test]
    fn split_answers_merge_into_one_body() {
        let first = body(&[("a", &[(1, "1"), (2, "2")]), ("b", &[(2, "5")])], &["w1"]);
        let second = body(&[("c", &[(3, "7")]), ("a", &[(2, "2"), (3, "3")])], &["w1", "w2"]);
        let third = body(&[("b", &[(4, "6")])], &[]);
        assert_eq!(merge_bodies(vec![first.clone()]), Some(first.clone()), "one answer is kept as it came");
        assert_eq!(merge_bodies(vec![]), None);
        let merged = merge_bodies(vec![first, second, third]).unwrap();
        let parsed = crate::ingest::prometheus::parse_query_range(&merged, "q").unwrap();
        let got: Vec<(String, Vec<(i64, f64)>)> = parsed
            .series
            .iter()
            .map(|series| {
                (
                    series.labels["pod"].clone(),
                    series.samples.iter().map(|(time, value)| (time.as_second(), *value)).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_owned(), vec![(1, 1.0), (2, 2.0), (3, 3.0)]),
                ("b".to_owned(), vec![(2, 5.0), (4, 6.0)]),
                ("c".to_owned(), vec![(3, 7.0)]),
            ]
        );
        assert_eq!(parsed.warnings, ["w1", "w2"]);
        assert!(parsed.infos.is_empty());
    }

    #[test]
    fn answers_are_checked_and_errors_said_plainly() {
        let url = "http://p:9090";
        let ok = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.to_vec();
        assert_eq!(check_answer(url, "up", 200, ok.clone()).unwrap(), ok);
        let rows: &[(u16, &str, &str, &str, bool)] = &[
            (
                400,
                r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected <EOF>"}"#,
                r#"prometheus rejected 5xx by pod: bad_data: invalid parameter "query": 1:5: parse error: unexpected <EOF>"#,
                "rejected",
                false,
            ),
            (
                503,
                r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#,
                "prometheus rejected 5xx by pod: timeout: query timed out in expression evaluation",
                "rejected",
                true,
            ),
            (
                502,
                "<html>Bad Gateway</html>",
                r#"prometheus at http://p:9090 answered 5xx by pod with 502 and a body that is not Prometheus JSON: "<html>Bad Gateway</html>""#,
                "not_prometheus_json",
                true,
            ),
            (
                429,
                "slow down",
                r#"prometheus at http://p:9090 answered 5xx by pod with 429 and a body that is not Prometheus JSON: "slow down""#,
                "not_prometheus_json",
                true,
            ),
            (
                200,
                r#"{"status":"ok"}"#,
                r#"prometheus at http://p:9090 answered 5xx by pod with 200 and a body that is not Prometheus JSON: "{\"status\":\"ok\"}""#,
                "not_prometheus_json",
                false,
            ),
        ];
        for (status, body, expected, kind, transient) in rows {
            let error = check_answer(url, "5xx by pod", *status, body.as_bytes().to_vec()).unwrap_err();
            assert_eq!(error.to_string(), *expected);
            assert_eq!((error.kind(), error.is_transient()), (*kind, *transient), "{expected}");
        }
    }

    #[test]
    fn slugs_and_seconds() {
        let rows = [("5xx by pod", "5xx-by-pod"), ("  Up!  ", "up"), ("é", "query"), ("a--b__c", "a-b-c")];
        for (name, expected) in rows {
            assert_eq!(slug(name), expected, "{name}");
        }
        assert_eq!(slug(&"x".repeat(100)).len(), 60);
        assert_eq!(seconds_text(1_739_095_523_123), "1739095523.123");
        assert_eq!(seconds_text(15_000), "15.000");
        assert_eq!(seconds_text(-1_500), "-1.500");
    }

    /// A loopback HTTP server answering each request with the next of `answers` (status,
    /// body), or never when `None`; it hands back each request's text.
    async fn scripted_server(
        answers: Vec<Option<(u16, &'static str)>>,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (requests, received) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut held = Vec::new();
            for answer in answers {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // Headers, then the body its Content-Length announces.
                while let Ok(read) = stream.read(&mut buffer).await {
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|line| {
                                line.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|n| n.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                    if read == 0 {
                        break;
                    }
                }
                let _ = requests.send(String::from_utf8_lossy(&request).to_string());
                match answer {
                    Some((status, body)) => {
                        let response = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(response.as_bytes()).await;
                    }
                    // Silent: keep the connection open and say nothing.
                    None => held.push(stream),
                }
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        (url, received)
    }

    fn scope(start: &str, end: &str) -> Scope {
        Scope {
            incident_id: 7,
            alerts: Vec::new(),
            pagerduty_services: Vec::new(),
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
            nodes: Vec::new(),
        }
    }

    fn collector(url: &str, timeout_secs: i64, tries: u32) -> PrometheusCollector {
        let settings = PrometheusSettings {
            url: url.to_owned(),
            timeout: SignedDuration::from_secs(timeout_secs),
            queries: vec![rule("queue", &[], "queue_depth")],
            ..PrometheusSettings::default()
        };
        PrometheusCollector::new(&settings).unwrap().with_retry(RetryPolicy {
            tries,
            first_backoff: Duration::from_millis(20),
            max_sleep: Duration::from_secs(1),
        })
    }

    const SUCCESS: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a"},"values":[[1739095500,"5"]]}]},"warnings":["w"]}"#;

    #[tokio::test]
    async fn a_busy_prometheus_is_asked_again_with_a_form_post() {
        let (url, mut requests) = scripted_server(vec![Some((503, "busy")), Some((200, SUCCESS))]).await;
        let pass = collector(&url, 30, 3).pass(&scope("2025-02-09T10:05:00Z", "2025-02-09T10:10:00Z")).await;
        assert!(pass.gaps.is_empty(), "{:?}", pass.gaps);
        assert_eq!(pass.files[0].name, "prometheus/queue.json");
        assert_eq!(pass.files[0].bytes, SUCCESS.as_bytes(), "the body as Prometheus wrote it, warnings included");
        // A configured query is written with its name, which rows and gaps are named after.
        assert_eq!(
            String::from_utf8_lossy(&pass.files[1].bytes),
            "{\n  \"queue.json\": {\n    \"name\": \"queue\",\n    \"query\": \"queue_depth\"\n  }\n}\n"
        );
        for _ in 0..2 {
            let request = requests.recv().await.unwrap();
            assert!(request.starts_with("POST /api/v1/query_range HTTP/1.1\r\n"), "{request}");
            assert!(
                request.to_ascii_lowercase().contains("content-type: application/x-www-form-urlencoded"),
                "{request}"
            );
            assert!(
                request
                    .ends_with("query=queue_depth&start=1739095500.000&end=1739095800.000&step=15.000&timeout=30000ms"),
                "{request}"
            );
        }
    }

    #[tokio::test]
    async fn a_silent_prometheus_is_a_timeout_gap_and_a_rejection_is_not_retried() {
        let (url, _requests) = scripted_server(vec![None]).await;
        let pass = collector(&url, 1, 1).pass(&scope("2025-02-09T10:05:00Z", "2025-02-09T10:10:00Z")).await;
        let reasons: Vec<&str> = pass.gaps.iter().map(|gap| gap.reason.as_str()).collect();
        assert_eq!(reasons, [format!("prometheus at {url} did not answer queue within 1s")]);
        assert!(pass.files.is_empty());

        let rejection = r#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#;
        let (url, mut requests) = scripted_server(vec![Some((422, rejection)), Some((200, SUCCESS))]).await;
        let pass = collector(&url, 30, 3).pass(&scope("2025-02-09T10:05:00Z", "2025-02-09T10:10:00Z")).await;
        let reasons: Vec<&str> = pass.gaps.iter().map(|gap| gap.reason.as_str()).collect();
        assert_eq!(reasons, ["prometheus rejected queue: execution: many-to-many matching not allowed"]);
        requests.recv().await.unwrap();
        assert!(requests.try_recv().is_err(), "a 422 is not asked again");

        let (url, _requests) = scripted_server(vec![Some((200, SUCCESS))]).await;
        let pass = collector(&url, 30, 3)
            .with_max_body_bytes(64)
            .pass(&scope("2025-02-09T10:05:00Z", "2025-02-09T10:10:00Z"))
            .await;
        let reasons: Vec<&str> = pass.gaps.iter().map(|gap| gap.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [format!(
                "prometheus at {url} answered queue with more than 64 bytes; ask for fewer series or a coarser step"
            )]
        );
    }

    #[tokio::test]
    async fn a_query_stops_at_its_budget_and_the_ranges_not_asked_are_one_gap() {
        // Five days at 15 s are three ranges; the first one alone spends the 1 s budget.
        let (url, _requests) = scripted_server(vec![None]).await;
        let mut settings = PrometheusSettings {
            url: url.clone(),
            timeout: SignedDuration::from_secs(1),
            queries: vec![rule("queue", &[], "queue_depth")],
            ..PrometheusSettings::default()
        };
        settings.query_budget = SignedDuration::from_secs(1);
        let collector = PrometheusCollector::new(&settings).unwrap().with_retry(RetryPolicy {
            tries: 1,
            first_backoff: Duration::from_millis(20),
            max_sleep: Duration::from_secs(1),
        });
        let scope = scope("2025-02-01T00:00:00Z", "2025-02-06T00:00:00Z");
        assert_eq!(split_ranges(scope.start.as_millisecond(), scope.end.as_millisecond(), 15_000).len(), 3);
        let pass = collector.pass(&scope).await;
        let gaps: Vec<(String, Instant, Instant, &str)> =
            pass.gaps.iter().map(|gap| (gap.source.to_string(), gap.start, gap.end, gap.reason.as_str())).collect();
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert_eq!(gaps[0].3, format!("prometheus at {url} did not answer queue within 1s"));
        assert_eq!(gaps[1].0, "prometheus: queue");
        assert_eq!(
            gaps[1].3,
            "prometheus.query_budget (1s) spent after 1 of 3 ranges: the rest of the span was not asked"
        );
        assert_eq!((gaps[0].1, gaps[1].2), (scope.start, scope.end), "the two gaps cover the span");
        assert!(gaps[1].1 > gaps[0].2, "{gaps:?}");
    }

    #[test]
    fn an_empty_or_odd_url_is_refused() {
        let mut settings = PrometheusSettings::default();
        assert_eq!(PrometheusCollector::new(&settings).err().map(|error| error.kind()), Some("no_url"));
        settings.url = "prometheus:9090".to_owned();
        assert_eq!(PrometheusCollector::new(&settings).err().map(|error| error.kind()), Some("bad_url"));
        settings.url = "http://prometheus:9090/".to_owned();
        assert!(PrometheusCollector::new(&settings).is_ok());
    }
}
