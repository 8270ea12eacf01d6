//! The shipped install's RBAC, judged the way the API server's RBAC authorizer judges it:
//! [`bound_rules`] renders an overlay with `kubectl kustomize`, parses the manifests into
//! k8s-openapi types and collects the rules bound to the ServiceAccount; [`allows`] says whether
//! one API request would be authorized; [`unneeded`] lists what the rules grant that no request
//! used. Recording the collector's requests is the fake API server's job, not this module's.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail, ensure};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject};
use serde::de::DeserializeOwned;

/// (group, resource) of everything the collector reads in a namespace (issues 4 and 10): pod
/// logs, events of both groups, rollouts and the workloads and services whose selectors name
/// the target pods, and the changes of each target namespace (workloads, revisions, autoscalers).
pub const COLLECTOR_READS: &[(&str, &str)] = &[
    ("", "pods"),
    // A log is only ever `get`.
    ("", "pods/log"),
    ("", "events"),
    ("", "services"),
    ("events.k8s.io", "events"),
    ("apps", "replicasets"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "controllerrevisions"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("batch", "jobs"),
];

/// (group, resource) the collector reads outside namespaces: the nodes of the target pods,
/// by name (`get`), which only a ClusterRole grants (the `cluster` overlay).
pub const CLUSTER_READS: &[(&str, &str)] = &[("", "nodes")];

/// Verbs that change something; the collector must never be granted one.
pub const WRITE_VERBS: &[&str] =
    &["create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate", "approve", "sign"];

/// One request to the Kubernetes API, as the RBAC authorizer sees it: `list pods` in a
/// namespace is `{verb: "list", group: "", resource: "pods", namespace: Some(ns)}`; a list
/// across every namespace has no namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiRequest {
    pub verb: String,
    /// The API group: `""` for core/v1, `apps`, `batch`, `events.k8s.io`.
    pub group: String,
    pub resource: String,
    /// `log` for `pods/log`.
    pub subresource: Option<String>,
    pub namespace: Option<String>,
}

impl ApiRequest {
    /// `ApiRequest::new("get", "", "pods/log", Some("shop"))`.
    pub fn new(verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> Self {
        let (resource, subresource) = match resource.split_once('/') {
            Some((resource, subresource)) => (resource, Some(subresource.to_owned())),
            None => (resource, None),
        };
        ApiRequest {
            verb: verb.to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            subresource,
            namespace: namespace.map(str::to_owned),
        }
    }

    /// `pods` or `pods/log`: how RBAC rules name the resource.
    fn combined_resource(&self) -> String {
        match &self.subresource {
            Some(subresource) => format!("{}/{subresource}", self.resource),
            None => self.resource.clone(),
        }
    }
}

/// Where a bound rule applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A Role, or a ClusterRole bound by a RoleBinding: that namespace only.
    Namespace(String),
    /// A ClusterRole bound by a ClusterRoleBinding: every namespace and cluster-wide requests.
    Cluster,
}

/// A rule granted to the ServiceAccount, with the binding that gives it its scope.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub scope: Scope,
    pub rule: PolicyRule,
    /// `RoleBinding shop/postmortemd → Role postmortemd`, for messages.
    pub via: String,
}

/// Renders `overlay` with `kubectl kustomize` and returns the rules bound to its one
/// ServiceAccount.
pub fn bound_rules(overlay: &Path) -> anyhow::Result<Vec<Grant>> {
    rules_of(&render(overlay)?).with_context(|| format!("the manifests of {}", overlay.display()))
}

/// The manifests of `overlay`, as `kubectl kustomize` renders them (multi-document YAML).
pub fn render(overlay: &Path) -> anyhow::Result<String> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(overlay)
        .output()
        .context("cannot run kubectl (it renders the overlays)")?;
    ensure!(
        output.status.success(),
        "kubectl kustomize {} failed: {}",
        overlay.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).context("kubectl kustomize printed invalid UTF-8")
}

/// Each document of a multi-document YAML stream, as JSON (kind dispatch comes next).
pub fn documents(manifests: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    serde_saphyr::from_multiple(manifests).context("not YAML")
}

/// The one object of `kind` named `name`, as its k8s-openapi type.
pub fn object<T: DeserializeOwned>(documents: &[serde_json::Value], kind: &str, name: &str) -> anyhow::Result<T> {
    let mut found = documents.iter().filter(|document| {
        document.get("kind").and_then(serde_json::Value::as_str) == Some(kind)
            && document.pointer("/metadata/name").and_then(serde_json::Value::as_str) == Some(name)
    });
    let document = found.next().with_context(|| format!("no {kind} {name}"))?;
    ensure!(found.next().is_none(), "more than one {kind} {name}");
    typed(document.clone())
}

/// The rules bound to the one ServiceAccount of a multi-document YAML stream.
pub fn rules_of(manifests: &str) -> anyhow::Result<Vec<Grant>> {
    let documents = documents(manifests)?;
    let mut accounts = Vec::new();
    let mut roles = Vec::new();
    let mut cluster_roles = Vec::new();
    let mut role_bindings = Vec::new();
    let mut cluster_role_bindings = Vec::new();
    for document in documents {
        match document.get("kind").and_then(serde_json::Value::as_str) {
            Some("ServiceAccount") => accounts.push(typed::<ServiceAccount>(document)?),
            Some("Role") => roles.push(typed::<Role>(document)?),
            Some("ClusterRole") => cluster_roles.push(typed::<ClusterRole>(document)?),
            Some("RoleBinding") => role_bindings.push(typed::<RoleBinding>(document)?),
            Some("ClusterRoleBinding") => cluster_role_bindings.push(typed::<ClusterRoleBinding>(document)?),
            _ => {}
        }
    }
    let [account] = accounts.as_slice() else {
        bail!("expected one ServiceAccount, found {}", accounts.len());
    };
    let account_name = account.metadata.name.clone().context("the ServiceAccount has no name")?;
    let account_namespace = account.metadata.namespace.clone().context("the ServiceAccount has no namespace")?;
    let is_account = |subject: &Subject, binding_namespace: Option<&str>| {
        subject.kind == "ServiceAccount"
            && subject.name == account_name
            // A RoleBinding's ServiceAccount subject without a namespace means the binding's.
            && subject.namespace.as_deref().or(binding_namespace) == Some(account_namespace.as_str())
    };

    let cluster_role_rules = |name: &str, via: &str| -> anyhow::Result<Vec<PolicyRule>> {
        let role = cluster_roles
            .iter()
            .find(|role| role.metadata.name.as_deref() == Some(name))
            .with_context(|| format!("{via}: the manifests define no ClusterRole {name}"))?;
        // The controller fills an aggregated role's rules from other roles: not judged here.
        ensure!(role.aggregation_rule.is_none(), "{via}: ClusterRole {name} aggregates other roles");
        Ok(role.rules.clone().unwrap_or_default())
    };

    let mut grants = Vec::new();
    for binding in &role_bindings {
        let namespace = binding.metadata.namespace.clone().context("a RoleBinding has no namespace")?;
        let binding_name = binding.metadata.name.clone().unwrap_or_default();
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        if !subjects.iter().any(|subject| is_account(subject, Some(&namespace))) {
            continue;
        }
        let role_name = &binding.role_ref.name;
        let via = format!("RoleBinding {namespace}/{binding_name} → {} {role_name}", binding.role_ref.kind);
        let rules = match binding.role_ref.kind.as_str() {
            "Role" => roles
                .iter()
                .find(|role| {
                    role.metadata.name.as_deref() == Some(role_name.as_str())
                        && role.metadata.namespace.as_deref() == Some(namespace.as_str())
                })
                .with_context(|| format!("{via}: the manifests define no Role {namespace}/{role_name}"))?
                .rules
                .clone()
                .unwrap_or_default(),
            "ClusterRole" => cluster_role_rules(role_name, &via)?,
            other => bail!("{via}: unknown roleRef kind {other}"),
        };
        grants.extend(rules.into_iter().map(|rule| Grant {
            scope: Scope::Namespace(namespace.clone()),
            rule,
            via: via.clone(),
        }));
    }
    for binding in &cluster_role_bindings {
        let subjects = binding.subjects.as_deref().unwrap_or_default();
        if !subjects.iter().any(|subject| is_account(subject, None)) {
            continue;
        }
        let role_name = &binding.role_ref.name;
        let via =
            format!("ClusterRoleBinding {} → ClusterRole {role_name}", binding.metadata.name.as_deref().unwrap_or(""));
        ensure!(binding.role_ref.kind == "ClusterRole", "{via}: a ClusterRoleBinding must name a ClusterRole");
        grants.extend(cluster_role_rules(role_name, &via)?.into_iter().map(|rule| Grant {
            scope: Scope::Cluster,
            rule,
            via: via.clone(),
        }));
    }
    Ok(grants)
}

fn typed<T: DeserializeOwned>(document: serde_json::Value) -> anyhow::Result<T> {
    let kind = document.get("kind").and_then(serde_json::Value::as_str).unwrap_or("?").to_owned();
    let name = document.pointer("/metadata/name").and_then(serde_json::Value::as_str).unwrap_or("?").to_owned();
    serde_json::from_value(document).with_context(|| format!("{kind} {name} is not a valid {kind}"))
}

/// Whether the rules authorize `request` (Kubernetes' RBAC rule matching: `*` matches any
/// verb, group or resource; `pods` does not cover `pods/log`; `*/log` and `pods/*` do; a rule
/// limited to resourceNames never covers a request that names no object).
pub fn allows(rules: &[Grant], request: &ApiRequest) -> bool {
    rules.iter().any(|grant| grant_allows(grant, request))
}

fn grant_allows(grant: &Grant, request: &ApiRequest) -> bool {
    let in_scope = match (&grant.scope, &request.namespace) {
        (Scope::Cluster, _) => true,
        (Scope::Namespace(namespace), Some(requested)) => namespace == requested,
        // A request across every namespace needs a ClusterRoleBinding.
        (Scope::Namespace(_), None) => false,
    };
    in_scope && rule_allows(&grant.rule, request)
}

fn rule_allows(rule: &PolicyRule, request: &ApiRequest) -> bool {
    let verb_matches = rule.verbs.iter().any(|verb| verb == "*" || *verb == request.verb);
    let group_matches =
        rule.api_groups.as_deref().unwrap_or_default().iter().any(|group| group == "*" || *group == request.group);
    let combined = request.combined_resource();
    let resource_matches = rule.resources.as_deref().unwrap_or_default().iter().any(|resource| {
        resource == "*"
            || *resource == combined
            || request.subresource.as_ref().is_some_and(|subresource| {
                resource.strip_prefix("*/") == Some(subresource.as_str())
                    || resource.strip_suffix("/*") == Some(request.resource.as_str())
            })
    });
    let names_unrestricted = rule.resource_names.as_deref().unwrap_or_default().is_empty();
    verb_matches && group_matches && resource_matches && names_unrestricted
}

/// Every `verb resource` the rules grant that no request in `requests` used, like
/// `list deployments.apps` or `get pods/log` (kubectl's `auth can-i` spelling), sorted.
pub fn unneeded(rules: &[Grant], requests: &[ApiRequest]) -> Vec<String> {
    let mut unused = BTreeSet::new();
    for grant in rules {
        let groups = grant.rule.api_groups.as_deref().unwrap_or_default();
        let resources = grant.rule.resources.as_deref().unwrap_or_default();
        for group in groups {
            for resource in resources {
                for verb in &grant.rule.verbs {
                    let used = requests.iter().any(|request| {
                        let single = Grant {
                            scope: grant.scope.clone(),
                            rule: PolicyRule {
                                api_groups: Some(vec![group.clone()]),
                                resources: Some(vec![resource.clone()]),
                                verbs: vec![verb.clone()],
                                ..grant.rule.clone()
                            },
                            via: String::new(),
                        };
                        grant_allows(&single, request)
                    });
                    if !used {
                        unused.insert(permission(verb, group, resource));
                    }
                }
            }
        }
    }
    unused.into_iter().collect()
}

fn permission(verb: &str, group: &str, resource: &str) -> String {
    match resource.split_once('/') {
        Some((resource, subresource)) if !group.is_empty() => format!("{verb} {resource}.{group}/{subresource}"),
        _ if group.is_empty() => format!("{verb} {resource}"),
        _ => format!("{verb} {resource}.{group}"),
    }
}

/// What in the rules is a wildcard (`*` verb, group or resource, or a `*/sub`, `res/*`
/// resource): each one found, named with its binding. The shipped rules must have none.
pub fn wildcards(rules: &[Grant]) -> Vec<String> {
    let mut found = Vec::new();
    for grant in rules {
        let fields = [
            ("verbs", grant.rule.verbs.as_slice()),
            ("apiGroups", grant.rule.api_groups.as_deref().unwrap_or_default()),
            ("resources", grant.rule.resources.as_deref().unwrap_or_default()),
            ("nonResourceURLs", grant.rule.non_resource_urls.as_deref().unwrap_or_default()),
        ];
        for (field, values) in fields {
            for value in values.iter().filter(|value| value.contains('*')) {
                found.push(format!("{}: {field} {value:?}", grant.via));
            }
        }
    }
    found
}
