//! The alerting rules shipped for the daemon itself (issue 13, point 3): the plain rules file
//! passes the real `promtool check rules`; the opt-in PrometheusRule holds the same groups and
//! renders with `kubectl kustomize` on top of an overlay, while no overlay has it by itself;
//! every metric a rule names is one the real daemon exports on `/metrics`.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::daemon::Served;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const RULES: &str = "deploy/prometheus/postmortemd.rules.yml";
const COMPONENT: &str = "deploy/kustomize/components/alerting-rules";
const OVERLAYS: [&str; 3] = ["namespaced", "cluster", "ha"];

fn yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every rule of the plain file.
fn rules() -> Vec<serde_json::Value> {
    let groups = yaml(&repository().join(RULES))["groups"].as_array().cloned().expect("groups");
    groups.iter().flat_map(|group| group["rules"].as_array().cloned().expect("rules")).collect()
}

#[test]
fn promtool_accepts_the_rules_file() {
    let output = Command::new("promtool")
        .args(["check", "rules"])
        .arg(repository().join(RULES))
        .output()
        .expect("promtool runs (apt-get install prometheus; .ci/run does)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_prometheus_rule_holds_the_same_groups_and_is_opt_in() {
    let plain = yaml(&repository().join(RULES));
    let resource = yaml(&repository().join(COMPONENT).join("prometheusrule.yaml"));
    assert_eq!(resource["kind"], "PrometheusRule");
    assert_eq!(resource["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(resource["spec"]["groups"], plain["groups"], "the PrometheusRule and the rules file differ");

    // No overlay has it by itself (the CRD may not exist) ...
    for overlay in OVERLAYS {
        let manifests = support::rbac::render(&repository().join("deploy/kustomize/overlays").join(overlay)).unwrap();
        assert!(!manifests.contains("kind: PrometheusRule"), "{overlay} ships the PrometheusRule by default");
    }
    // ... and an overlay that adds the component renders it, in the overlay's namespace.
    let folder = support::services::scratch_folder("alert-rules-overlay");
    let up = "../".repeat(folder.components().count() - 1);
    let from_root =
        |path: &str| format!("{up}{}", repository().join(path).display().to_string().trim_start_matches('/'));
    std::fs::write(
        folder.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: monitoring-test\n\
             resources:\n  - {}\ncomponents:\n  - {}\n",
            from_root("deploy/kustomize/overlays/namespaced"),
            from_root(COMPONENT)
        ),
    )
    .unwrap();
    let documents = support::rbac::documents(&support::rbac::render(&folder).unwrap()).unwrap();
    let rendered = documents.iter().find(|document| document["kind"] == "PrometheusRule").expect("a PrometheusRule");
    assert_eq!(rendered["metadata"]["namespace"], "monitoring-test");
    assert_eq!(rendered["spec"]["groups"], plain["groups"]);
    let _ = std::fs::remove_dir_all(&folder);
}

/// The `postmortemd_…` names in a PromQL expression.
fn metric_names(expression: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expression;
    while let Some(start) = rest.find("postmortemd_") {
        let name: String = rest[start..]
            .chars()
            .take_while(|character| character.is_ascii_alphanumeric() || *character == '_')
            .collect();
        rest = &rest[start + name.len()..];
        names.insert(name);
    }
    names
}

#[tokio::test]
async fn every_metric_the_rules_use_is_exported_by_the_daemon() {
    let daemon = Served::start("alert-rules-metrics", &[], None).await;
    let exposition = reqwest::get(format!("{}/metrics", daemon.base)).await.unwrap().text().await.unwrap();
    let exported: BTreeSet<&str> = exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    let rules = rules();
    assert!(rules.len() >= 4, "{rules:?}");
    let mut covered = BTreeSet::new();
    for rule in &rules {
        let expression = rule["expr"].as_str().expect("expr");
        let names = metric_names(expression);
        assert!(!names.is_empty(), "{} uses no metric of the daemon: {expression}", rule["alert"]);
        for name in names {
            assert!(exported.contains(name.as_str()), "{} uses {name}, which /metrics does not export", rule["alert"]);
            covered.insert(name);
        }
    }
    // What the issue asks the rules to watch: signature/auth failures, the store, collection
    // gaps, intake errors.
    for name in [
        "postmortemd_http_unauthorized_total",
        "postmortemd_store_ready",
        "postmortemd_collect_gaps_total",
        "postmortemd_webhooks_received_total",
    ] {
        assert!(covered.contains(name), "no rule watches {name}");
    }
}

#[test]
fn metric_names_are_read_from_expressions() {
    assert_eq!(
        metric_names("sum(increase(postmortemd_a_total{x=\"y\"}[5m])) / postmortemd_c == 0"),
        ["postmortemd_a_total", "postmortemd_c"].into_iter().map(str::to_owned).collect()
    );
}
