//! What Prometheus knows about itself, asked once per pass through `prometheus-http-query`
//! (the raw `query_range` bodies stay with the parent module): the alerting rule of each
//! alert of the scope (`/api/v1/rules`: its expression, `for:` and labels), the scrape
//! targets of the scope (`/api/v1/targets`: health and last error, the reason of a metric
//! gap), and which node-exporter `instance` each scope node is (`/api/v1/series` of
//! `node_uname_info`, whose `nodename` is the node's hostname).
//!
//! Rules and targets are kept as `prometheus/rules.json` and `prometheus/targets.json` in
//! Prometheus's own answer shape, trimmed to the scope and to the fields a draft reads, so
//! `ingest::prometheus::{parse_rules, parse_targets}` read them, and a `curl` of either
//! endpoint, alike. A failed request is a gap, never a failed pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use prometheus_http_query::response::{ActiveTarget, AlertingRule, RuleGroup};
use prometheus_http_query::{RuleKind, Selector, TargetState};
use serde_json::{Value, json};
use tracing::warn;

use super::{Error, PrometheusCollector, Result, alert_expression, regex_escape, root_cause};
use crate::collect::{EvidenceFile, Scope};
use crate::record::{AlertRecord, GapRecord, GapSource};

/// The bundle file of the scope's alerting rules.
pub const RULES_FILE: &str = "prometheus/rules.json";
/// The bundle file of the scope's scrape targets.
pub const TARGETS_FILE: &str = "prometheus/targets.json";

/// What a pass learnt of Prometheus itself.
#[derive(Debug, Default)]
pub struct Metadata {
    pub files: Vec<EvidenceFile>,
    pub gaps: Vec<GapRecord>,
    /// Scope node → the `instance` values of its node exporter (empty: not found).
    pub node_instances: BTreeMap<String, Vec<String>>,
    /// Set once Prometheus could not be reached: the rest of the pass need not ask.
    pub unreachable: Option<String>,
}

impl PrometheusCollector {
    /// Rules, targets and node instances of `scope`; each failure is a gap over the span.
    pub(super) async fn metadata(&self, scope: &Scope) -> Metadata {
        let mut metadata = Metadata::default();
        // NB: the crate takes our client as it is, so its requests keep our timeouts and user agent.
        let api = match prometheus_http_query::Client::from(self.client.clone(), &self.url) {
            Ok(api) => api,
            Err(error) => {
                metadata.gaps.push(gap(scope, "prometheus", format!("{error}: {}", self.url)));
                return metadata;
            }
        };
        // The instances serve only the node clock queries: not asked when those are off.
        if self.node_clock && !scope.nodes.is_empty() {
            match self.retrying(|| self.node_instances(&api, scope)).await {
                Ok(instances) => metadata.node_instances = instances,
                Err(error) => self.failed(&mut metadata, scope, "prometheus series", error),
            }
        }
        if !scope.alerts.is_empty() && metadata.unreachable.is_none() {
            let mut names: Vec<&str> = scope.alerts.iter().map(|alert| alert.name.as_str()).collect();
            names.sort();
            names.dedup();
            let request = || api.rules().kind(RuleKind::Alerting).names(names.iter()).get();
            match self
                .retrying(|| async { request().await.map_err(|error| self.api_error("/api/v1/rules", error)) })
                .await
            {
                Ok(groups) => {
                    if let Some(file) = rules_file(&groups, &scope.alerts) {
                        metadata.files.push(file);
                    }
                }
                Err(error) => self.failed(&mut metadata, scope, "prometheus rules", error),
            }
        }
        if (!scope.alerts.is_empty() || !scope.nodes.is_empty()) && metadata.unreachable.is_none() {
            let request = || api.targets(Some(TargetState::Active));
            match self
                .retrying(|| async { request().await.map_err(|error| self.api_error("/api/v1/targets", error)) })
                .await
            {
                Ok(targets) => {
                    let scoped = TargetScope::new(scope, &metadata.node_instances);
                    if let Some(file) = targets_file(targets.active(), &scoped) {
                        metadata.files.push(file);
                    }
                }
                Err(error) => self.failed(&mut metadata, scope, "prometheus targets", error),
            }
        }
        metadata
    }

    /// `node_uname_info{nodename=~"…"}` over the span: each scope node's exporter instances.
    async fn node_instances(
        &self,
        api: &prometheus_http_query::Client,
        scope: &Scope,
    ) -> Result<BTreeMap<String, Vec<String>>> {
        let mut nodes: Vec<&String> = scope.nodes.iter().collect();
        nodes.sort();
        nodes.dedup();
        let alternatives = nodes.iter().map(|node| regex_escape(node)).collect::<Vec<_>>().join("|");
        let selector = Selector::new().metric("node_uname_info").regex_eq("nodename", &alternatives);
        let series = api
            .series([selector])
            .map_err(|error| self.api_error("/api/v1/series", error))?
            .start(scope.start.as_second())
            .end(scope.end.as_second().max(scope.start.as_second()))
            .get()
            .await
            .map_err(|error| self.api_error("/api/v1/series", error))?;
        Ok(instances_by_node(&series, &scope.nodes))
    }

    /// A failed metadata request as a gap (and, when unreachable, the pass told so).
    fn failed(&self, metadata: &mut Metadata, scope: &Scope, source: &str, error: Error) {
        warn!(%error, kind = error.kind(), source, "Prometheus metadata request failed; reported as a gap.");
        if matches!(error, Error::Unreachable { .. }) {
            metadata.unreachable = Some(error.to_string());
        }
        metadata.gaps.push(gap(scope, source, error.to_string()));
    }

    /// The crate's error in the collector's terms: unreachable, timed out, rejected in
    /// Prometheus's words, or an answer the client could not read.
    fn api_error(&self, endpoint: &'static str, error: prometheus_http_query::Error) -> Error {
        use prometheus_http_query::error::PrometheusErrorType;
        match error {
            prometheus_http_query::Error::Prometheus(error) => {
                // The crate keeps no HTTP status; Prometheus's error type implies it.
                let status = match error.error_type() {
                    PrometheusErrorType::Timeout | PrometheusErrorType::Unavailable => 503,
                    PrometheusErrorType::Internal => 500,
                    PrometheusErrorType::NotFound => 404,
                    _ => 400,
                };
                Error::Rejected {
                    query: endpoint.to_owned(),
                    status,
                    error_type: error.error_type().to_string(),
                    error: error.message().to_owned(),
                }
            }
            prometheus_http_query::Error::Client(client) => match client.inner() {
                Some(inner) if inner.is_timeout() => {
                    Error::Timeout { url: self.url.clone(), query: endpoint.to_owned(), timeout: self.timeout }
                }
                Some(inner) if inner.is_connect() => {
                    Error::Unreachable { url: self.url.clone(), cause: root_cause(inner) }
                }
                Some(inner) => Error::Api {
                    url: self.url.clone(),
                    endpoint,
                    cause: format!("{client}: {}", root_cause(inner)),
                    status: inner.status().map(|status| status.as_u16()),
                },
                None => Error::Api { url: self.url.clone(), endpoint, cause: client.to_string(), status: None },
            },
            other => Error::Api { url: self.url.clone(), endpoint, cause: other.to_string(), status: None },
        }
    }
}

fn gap(scope: &Scope, source: &str, reason: String) -> GapRecord {
    GapRecord { source: GapSource::Other(source.to_owned()), start: scope.start, end: scope.end, reason, node: None }
}

/// Each node's exporter `instance` values from `node_uname_info` series (`nodename` → `instance`).
pub fn instances_by_node(series: &[HashMap<String, String>], nodes: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut instances: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for labels in series {
        let (Some(nodename), Some(instance)) = (labels.get("nodename"), labels.get("instance")) else { continue };
        if !nodes.contains(nodename) {
            continue;
        }
        let known = instances.entry(nodename.clone()).or_default();
        if !known.contains(instance) {
            known.push(instance.clone());
            known.sort();
        }
    }
    instances
}

/// The alerting rules an alert may have fired from: its name, labels the rule sets carried
/// by the alert; several such, the one whose expression is the alert's `g0.expr`.
pub fn rules_for_alert<'a>(rules: &[&'a AlertingRule], alert: &AlertRecord) -> Vec<&'a AlertingRule> {
    let fitting: Vec<&AlertingRule> = rules
        .iter()
        .copied()
        .filter(|rule| {
            rule.name() == alert.name
                && rule
                    .labels()
                    .iter()
                    .all(|(label, value)| value.contains("{{") || alert.labels.get(label) == Some(value))
        })
        .collect();
    if fitting.len() <= 1 {
        return fitting;
    }
    let expression = alert.generator_url.as_deref().and_then(alert_expression);
    let same_expression: Vec<&AlertingRule> = fitting
        .iter()
        .copied()
        .filter(|rule| expression.as_deref().is_some_and(|expression| rule.query().trim() == expression))
        .collect();
    if same_expression.is_empty() { fitting } else { same_expression }
}

/// `rules.json`: the groups holding a rule of the scope's alerts, with those rules only,
/// in the `/api/v1/rules` shape; `None` when no alert's rule was found.
pub fn rules_file(groups: &[RuleGroup], alerts: &[AlertRecord]) -> Option<EvidenceFile> {
    let mut kept_groups = Vec::new();
    for group in groups {
        let rules: Vec<&AlertingRule> = group.rules().iter().filter_map(|rule| rule.as_alerting()).collect();
        let mut kept: Vec<&AlertingRule> = Vec::new();
        for alert in alerts {
            for rule in rules_for_alert(&rules, alert) {
                if !kept.iter().any(|known| std::ptr::eq(*known, rule)) {
                    kept.push(rule);
                }
            }
        }
        if kept.is_empty() {
            continue;
        }
        let kept: Vec<Value> = kept
            .into_iter()
            .map(|rule| {
                json!({
                    "type": "alerting",
                    "name": rule.name(),
                    "query": rule.query(),
                    "duration": rule.duration(),
                    "keepFiringFor": rule.keep_firing_for(),
                    "labels": sorted(rule.labels()),
                    "annotations": sorted(rule.annotations()),
                    "health": rule.health().to_string(),
                })
            })
            .collect();
        kept_groups.push(json!({
            "name": group.name(),
            "file": group.file(),
            "interval": group.interval(),
            "rules": kept,
        }));
    }
    if kept_groups.is_empty() {
        return None;
    }
    Some(answer_file(RULES_FILE, json!({"groups": kept_groups})))
}

/// Which targets a pass keeps: those of the alerts' `instance`, `pod` or (alone) `job`, and
/// the node exporters of the scope's nodes.
pub struct TargetScope {
    instances: BTreeSet<String>,
    pods: BTreeSet<(Option<String>, String)>,
    jobs: BTreeSet<String>,
    nodes: BTreeSet<String>,
}

impl TargetScope {
    pub fn new(scope: &Scope, node_instances: &BTreeMap<String, Vec<String>>) -> Self {
        let mut target_scope = TargetScope {
            instances: node_instances.values().flatten().cloned().collect(),
            pods: BTreeSet::new(),
            jobs: BTreeSet::new(),
            nodes: scope.nodes.iter().cloned().collect(),
        };
        for alert in &scope.alerts {
            let label = |name: &str| alert.labels.get(name).cloned();
            if let Some(instance) = label("instance") {
                target_scope.instances.insert(instance);
            }
            if let Some(pod) = label("pod") {
                target_scope.pods.insert((label("namespace"), pod));
            }
            // A job alone (no instance, no pod) is the alert's only lead to its targets.
            if let (Some(job), None, None) = (label("job"), label("instance"), label("pod")) {
                target_scope.jobs.insert(job);
            }
        }
        target_scope
    }

    /// Whether a target with `labels` is the scope's.
    pub fn contains(&self, labels: &HashMap<String, String>) -> bool {
        let label = |name: &str| labels.get(name);
        if label("instance")
            .is_some_and(|instance| self.instances.contains(instance) || self.nodes.contains(instance_host(instance)))
        {
            return true;
        }
        if let Some(pod) = label("pod")
            && self.pods.iter().any(|(namespace, name)| {
                name == pod && namespace.as_ref().is_none_or(|namespace| label("namespace") == Some(namespace))
            })
        {
            return true;
        }
        if label("job").is_some_and(|job| self.jobs.contains(job)) {
            return true;
        }
        ["node", "nodename", "kubernetes_node"]
            .iter()
            .any(|key| label(key).is_some_and(|node| self.nodes.contains(node)))
    }
}

/// An `instance` without its port: `node-1:9100` → `node-1`, `[::1]:9100` → `::1`.
fn instance_host(instance: &str) -> &str {
    let host = match instance.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.chars().all(|character| character.is_ascii_digit()) => host,
        _ => instance,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// `targets.json`: the scope's active targets in the `/api/v1/targets` shape, with the
/// fields a draft reads; `None` when none is the scope's.
pub fn targets_file(targets: &[ActiveTarget], scope: &TargetScope) -> Option<EvidenceFile> {
    let kept: Vec<Value> = targets
        .iter()
        .filter(|target| scope.contains(target.labels()))
        .map(|target| {
            // Go's zero time (never scraped) falls outside jiff's range and stays as Go wrote it.
            let last_scrape = jiff::Timestamp::from_nanosecond(target.last_scrape().unix_timestamp_nanos())
                .map_or_else(|_| "0001-01-01T00:00:00Z".to_owned(), |time| time.to_string());
            json!({
                "labels": sorted(target.labels()),
                "scrapePool": target.scrape_pool(),
                "scrapeUrl": target.scrape_url().as_str(),
                "lastError": target.last_error(),
                "lastScrape": last_scrape,
                "health": target.health().to_string(),
            })
        })
        .collect();
    if kept.is_empty() {
        return None;
    }
    Some(answer_file(TARGETS_FILE, json!({"activeTargets": kept})))
}

/// A map with its keys in order, so files are the same from pass to pass.
fn sorted(map: &HashMap<String, String>) -> BTreeMap<&str, &str> {
    map.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect()
}

/// `data` in Prometheus's success envelope, as a file.
fn answer_file(name: &str, data: Value) -> EvidenceFile {
    let mut bytes = serde_json::to_vec_pretty(&json!({"status": "success", "data": data})).unwrap_or_default();
    bytes.push(b'\n');
    EvidenceFile { name: name.to_owned(), bytes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AlertStatus;

    fn alert(labels: &[(&str, &str)], expression: Option<&str>) -> AlertRecord {
        AlertRecord {
            name: "HighErrorRate".to_owned(),
            status: AlertStatus::Firing,
            labels: labels.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
            annotations: BTreeMap::new(),
            starts_at: "2025-02-09T10:06:15Z".parse().unwrap(),
            ends_at: None,
            fingerprint: None,
            generator_url: expression.map(|expression| {
                format!("http://p/graph?g0.expr={}&g0.tab=1", expression.replace(' ', "+").replace('>', "%3E"))
            }),
        }
    }

    /// Rule groups as Prometheus 2.42 answers them (the crate's own types, read from JSON).
    fn groups() -> Vec<RuleGroup> {
        let rule = |name: &str, query: &str, duration: u32, labels: &str| {
            format!(
                r#"{{"state":"inactive","name":"{name}","query":"{query}","duration":{duration},"keepFiringFor":0,"labels":{labels},"annotations":{{"summary":"s"}},"alerts":[],"health":"ok","evaluationTime":0.001,"lastEvaluation":"2025-02-09T10:40:31Z","type":"alerting"}}"#
            )
        };
        let recording = r#"{"name":"job:x:rate5m","query":"rate(x[5m])","health":"ok","evaluationTime":0.001,"lastEvaluation":"2025-02-09T10:40:31Z","type":"recording"}"#;
        let shop = [
            rule("HighErrorRate", "errors > 0.05", 300, r#"{"severity":"critical"}"#),
            rule("HighErrorRate", "errors > 0.01", 900, r#"{"severity":"warning"}"#),
            rule("HighErrorRate", "other_errors > 0.05", 60, r#"{"severity":"critical"}"#),
            rule("DiskFull", "disk > 0.9", 600, "{}"),
            recording.to_owned(),
        ];
        let body = format!(
            r#"[{{"name":"shop","file":"shop.yml","rules":[{}],"interval":15,"limit":0,"evaluationTime":0.001,"lastEvaluation":"2025-02-09T10:40:31Z"}},
                {{"name":"other","file":"other.yml","rules":[{}],"interval":30,"limit":0,"evaluationTime":0.001,"lastEvaluation":"2025-02-09T10:40:31Z"}}]"#,
            shop.join(","),
            rule("Unrelated", "up == 0", 0, "{}")
        );
        serde_json::from_str(&body).unwrap()
    }

    #[test]
    fn an_alert_finds_its_rule_by_name_labels_then_expression() {
        let groups = groups();
        let rules: Vec<&AlertingRule> = groups[0].rules().iter().filter_map(|rule| rule.as_alerting()).collect();
        let queries = |alert: &AlertRecord| -> Vec<&str> {
            rules_for_alert(&rules, alert).iter().map(|rule| rule.query()).collect()
        };
        let critical = [("alertname", "HighErrorRate"), ("severity", "critical")];
        assert_eq!(queries(&alert(&critical, Some("errors > 0.05"))), ["errors > 0.05"]);
        assert_eq!(queries(&alert(&critical, Some("other_errors > 0.05"))), ["other_errors > 0.05"]);
        // Without the expression both critical rules may be it; the warning one may not.
        assert_eq!(queries(&alert(&critical, None)), ["errors > 0.05", "other_errors > 0.05"]);
        assert_eq!(
            queries(&alert(&[("severity", "warning")], Some("errors > 0.05"))),
            ["errors > 0.01"],
            "labels decide before the expression"
        );
        assert!(queries(&alert(&[("severity", "info")], None)).is_empty());

        // The file keeps the groups and rules of the scope's alerts only, in Prometheus's shape.
        let file = rules_file(&groups, &[alert(&critical, Some("errors > 0.05"))]).unwrap();
        assert_eq!(file.name, RULES_FILE);
        let read = crate::ingest::prometheus::parse_rules(&file.bytes).unwrap();
        let got: Vec<(&str, &str, i64, &str)> = read
            .iter()
            .map(|rule| {
                (rule.group.as_str(), rule.query.as_str(), rule.duration.as_secs(), rule.labels["severity"].as_str())
            })
            .collect();
        assert_eq!(got, [("shop", "errors > 0.05", 300, "critical")]);
        assert_eq!(read[0].file, "shop.yml");
        assert_eq!(read[0].annotations["summary"], "s");
        assert!(rules_file(&groups, &[alert(&[("severity", "info")], None)]).is_none());
    }

    fn scope(alerts: Vec<AlertRecord>, nodes: &[&str]) -> Scope {
        Scope {
            incident_id: 1,
            alerts,
            pagerduty_services: Vec::new(),
            start: "2025-02-09T10:00:00Z".parse().unwrap(),
            end: "2025-02-09T11:00:00Z".parse().unwrap(),
            nodes: nodes.iter().map(|node| node.to_string()).collect(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    #[test]
    fn targets_of_the_scope_are_its_alerts_and_its_nodes_exporters() {
        let series = [
            labels(&[("__name__", "node_uname_info"), ("instance", "10.0.1.2:9100"), ("nodename", "node-2")]),
            labels(&[("__name__", "node_uname_info"), ("instance", "10.0.1.2:9101"), ("nodename", "node-2")]),
            labels(&[("__name__", "node_uname_info"), ("instance", "10.0.1.9:9100"), ("nodename", "elsewhere")]),
            labels(&[("__name__", "node_uname_info"), ("instance", "10.0.1.3:9100")]),
        ];
        let nodes = ["node-1".to_owned(), "node-2".to_owned()];
        let instances = instances_by_node(&series, &nodes);
        assert_eq!(
            instances,
            [("node-2".to_owned(), vec!["10.0.1.2:9100".to_owned(), "10.0.1.2:9101".to_owned()])].into_iter().collect()
        );
        let alerts = vec![
            alert(&[("instance", "db:9187"), ("job", "postgres")], None),
            alert(&[("namespace", "shop"), ("pod", "api-1")], None),
            alert(&[("job", "batch")], None),
        ];
        let target_scope = TargetScope::new(&scope(alerts, &["node-1", "node-2"]), &instances);
        let rows: &[(&[(&str, &str)], bool)] = &[
            (&[("instance", "db:9187"), ("job", "postgres")], true),
            (&[("instance", "db-2:9187"), ("job", "postgres")], false),
            (&[("instance", "10.0.2.7:8080"), ("namespace", "shop"), ("pod", "api-1")], true),
            (&[("instance", "10.0.2.8:8080"), ("namespace", "admin"), ("pod", "api-1")], false),
            (&[("instance", "10.0.3.1:9000"), ("job", "batch")], true),
            (&[("instance", "10.0.1.2:9101"), ("job", "node-exporter")], true),
            (&[("instance", "node-1:9100"), ("job", "node-exporter")], true),
            (&[("instance", "10.0.1.5:9100"), ("node", "node-1")], true),
            (&[("instance", "10.0.1.9:9100"), ("job", "node-exporter")], false),
        ];
        for (target_labels, expected) in rows {
            assert_eq!(target_scope.contains(&labels(target_labels)), *expected, "{target_labels:?}");
        }
        assert_eq!(instance_host("[::1]:9100"), "::1");
        assert_eq!(instance_host("node-1"), "node-1");
    }
}
