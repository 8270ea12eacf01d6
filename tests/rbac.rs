//! The RBAC of every shipped overlay (`deploy/kustomize/overlays/*`), rendered by the real
//! `kubectl kustomize` and judged by `support::rbac`: the collector's reads are allowed where
//! the overlay promises them, nothing that writes is, no rule is a wildcard, and a rule no
//! request needs is found. The drift test against the requests the fake API server records
//! uses the same functions.

mod support;

use std::path::PathBuf;

use support::rbac::{ApiRequest, Grant, WRITE_VERBS, allows, bound_rules, rules_of, unneeded, wildcards};

/// Every shipped overlay.
const OVERLAYS: [&str; 3] = ["namespaced", "cluster", "ha"];

/// The namespace every overlay installs into.
const HOME: &str = "postmortemd";

fn overlay(name: &str) -> Vec<Grant> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/kustomize/overlays").join(name);
    bound_rules(&path).unwrap_or_else(|error| panic!("{name}: {error:#}"))
}

use support::rbac::COLLECTOR_READS as READ;

/// get and list of every resource the collector reads, in `namespace`; logs are only read
/// (`GET …/pods/NAME/log` is the verb get on pods/log).
fn collector_requests(namespace: Option<&str>) -> Vec<ApiRequest> {
    READ.iter()
        .flat_map(|(group, resource)| {
            let verbs: &[&str] = match *resource {
                "pods" | "replicasets" | "deployments" | "statefulsets" | "daemonsets" => &["get", "list"],
                "events" | "controllerrevisions" | "horizontalpodautoscalers" => &["list"],
                _ => &["get"],
            };
            verbs.iter().map(|verb| ApiRequest::new(verb, group, resource, namespace))
        })
        .collect()
}

/// What the collector reads outside namespaces: a target pod's node, by name.
fn cluster_requests() -> Vec<ApiRequest> {
    support::rbac::CLUSTER_READS.iter().map(|(group, resource)| ApiRequest::new("get", group, resource, None)).collect()
}

#[track_caller]
fn check_allowed(rules: &[Grant], request: &ApiRequest, expected: bool) {
    assert_eq!(allows(rules, request), expected, "{request:?}");
}

#[test]
fn namespaced_overlays_read_their_own_namespace_only() {
    // ha is the namespaced install with several replicas: the same grants.
    for name in ["namespaced", "ha"] {
        namespaced_reads(&overlay(name));
    }
}

fn namespaced_reads(rules: &[Grant]) {
    for request in collector_requests(Some(HOME)) {
        check_allowed(rules, &request, true);
    }
    for request in collector_requests(Some("shop")) {
        check_allowed(rules, &request, false);
    }
    // A list across every namespace needs a ClusterRole, and so do Nodes: no node evidence.
    for request in collector_requests(None).into_iter().chain(cluster_requests()) {
        check_allowed(rules, &request, false);
    }
}

#[test]
fn cluster_overlay_reads_every_namespace() {
    let rules = overlay("cluster");
    for namespace in [Some(HOME), Some("shop"), Some("kube-system"), None] {
        for request in collector_requests(namespace) {
            check_allowed(&rules, &request, true);
        }
    }
    for request in cluster_requests() {
        check_allowed(&rules, &request, true);
    }
}

#[test]
fn nothing_that_writes_and_nothing_else_is_granted() {
    for name in OVERLAYS {
        let rules = overlay(name);
        for namespace in [Some(HOME), Some("shop"), None] {
            for (group, resource) in READ {
                for verb in WRITE_VERBS.iter().chain(&["watch"]) {
                    check_allowed(&rules, &ApiRequest::new(verb, group, resource, namespace), false);
                }
            }
            // Secrets above all: the collector never needs them.
            for (group, resource) in [
                ("", "secrets"),
                ("", "configmaps"),
                ("", "pods/exec"),
                ("", "pods/attach"),
                ("", "pods/portforward"),
                ("", "pods/ephemeralcontainers"),
                ("", "serviceaccounts/token"),
                ("", "nodes/proxy"),
                ("apps", "deployments/scale"),
                ("rbac.authorization.k8s.io", "roles"),
            ] {
                for verb in ["get", "list", "watch", "create"] {
                    check_allowed(&rules, &ApiRequest::new(verb, group, resource, namespace), false);
                }
            }
        }
        // A node is read by name, never listed or written; the cluster overlay alone may read one.
        for verb in WRITE_VERBS.iter().chain(&["list", "watch"]) {
            check_allowed(&rules, &ApiRequest::new(verb, "", "nodes", None), false);
        }
        check_allowed(&rules, &ApiRequest::new("get", "", "nodes", None), name == "cluster");
        // Logs are read, never listed; the same resource name in another group is another resource.
        check_allowed(&rules, &ApiRequest::new("list", "", "pods/log", Some(HOME)), false);
        check_allowed(&rules, &ApiRequest::new("list", "apps", "pods", Some(HOME)), false);
        check_allowed(&rules, &ApiRequest::new("list", "extensions", "deployments", Some(HOME)), false);
    }
}

#[test]
fn shipped_rules_have_no_wildcards() {
    for name in OVERLAYS {
        let rules = overlay(name);
        assert!(!rules.is_empty(), "{name}: no rules bound to the ServiceAccount");
        assert_eq!(wildcards(&rules), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn shipped_rules_grant_nothing_the_collector_does_not_use() {
    let cases = [("namespaced", Some(HOME)), ("cluster", Some("shop")), ("cluster", None)];
    for (name, namespace) in cases {
        let mut requests = collector_requests(namespace);
        if name == "cluster" {
            requests.extend(cluster_requests());
        }
        assert_eq!(unneeded(&overlay(name), &requests), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn a_resource_no_request_reads_is_reported() {
    for name in OVERLAYS {
        let rules = overlay(name);
        let everything = || collector_requests(Some(HOME)).into_iter().chain(cluster_requests());
        let without_daemonsets: Vec<ApiRequest> =
            everything().filter(|request| request.resource != "daemonsets").collect();
        assert_eq!(unneeded(&rules, &without_daemonsets), ["get daemonsets.apps", "list daemonsets.apps"], "{name}");

        // Reading pods is not reading their logs.
        let without_logs: Vec<ApiRequest> = everything().filter(|request| request.subresource.is_none()).collect();
        assert_eq!(unneeded(&rules, &without_logs), ["get pods/log"], "{name}");

        // A cluster install that never reads a node grants `get nodes` for nothing.
        let without_nodes = collector_requests(Some(HOME));
        let expected: &[&str] = if name == "cluster" { &["get nodes"] } else { &[] };
        assert_eq!(unneeded(&rules, &without_nodes), expected, "{name}");

        // Requests the rules do not allow use nothing: a namespaced install is not used by
        // requests in another namespace.
        let elsewhere: Vec<ApiRequest> =
            collector_requests(Some("shop")).into_iter().chain(cluster_requests()).collect();
        // Every grant of a namespaced Role (namespaced, ha) goes unused there: one per (resource, verb).
        let expected = if name == "cluster" { 0 } else { collector_requests(Some(HOME)).len() };
        assert_eq!(unneeded(&rules, &elsewhere).len(), expected, "{name}");
    }
}

/// A hand-written Role bound to the ServiceAccount, to check the matching rules themselves.
fn hand_written(rules_yaml: &str) -> Vec<Grant> {
    let manifests = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: collector, namespace: ops}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: reader, namespace: ops}}\n\
         rules:\n{rules_yaml}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: reader, namespace: ops}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}\n\
         subjects: [{{kind: ServiceAccount, name: collector}}]\n"
    );
    rules_of(&manifests).unwrap_or_else(|error| panic!("{error:#}"))
}

#[test]
fn rule_matching_follows_kubernetes() {
    let in_ops = |verb: &str, group: &str, resource: &str| ApiRequest::new(verb, group, resource, Some("ops"));

    let pods = hand_written("- {apiGroups: [\"\"], resources: [pods], verbs: [get]}");
    check_allowed(&pods, &in_ops("get", "", "pods"), true);
    check_allowed(&pods, &in_ops("get", "", "pods/log"), false);
    check_allowed(&pods, &in_ops("list", "", "pods"), false);

    let any_log = hand_written("- {apiGroups: [\"\"], resources: [\"*/log\"], verbs: [get]}");
    check_allowed(&any_log, &in_ops("get", "", "pods/log"), true);
    check_allowed(&any_log, &in_ops("get", "", "pods"), false);

    let pod_subresources = hand_written("- {apiGroups: [\"\"], resources: [\"pods/*\"], verbs: [get]}");
    check_allowed(&pod_subresources, &in_ops("get", "", "pods/exec"), true);
    check_allowed(&pod_subresources, &in_ops("get", "", "pods"), false);

    let named = hand_written("- {apiGroups: [\"\"], resources: [pods], resourceNames: [one], verbs: [get, list]}");
    check_allowed(&named, &in_ops("list", "", "pods"), false);

    let everything = hand_written("- {apiGroups: [\"*\"], resources: [\"*\"], verbs: [\"*\"]}");
    check_allowed(&everything, &in_ops("delete", "apps", "deployments"), true);
    check_allowed(&everything, &in_ops("get", "", "secrets"), true);
    check_allowed(&everything, &ApiRequest::new("get", "", "secrets", Some("elsewhere")), false);
    assert_eq!(wildcards(&everything).len(), 3, "{:?}", wildcards(&everything));
    assert_eq!(wildcards(&any_log).len(), 1);
    assert_eq!(wildcards(&pods), Vec::<String>::new());
}

#[test]
fn bindings_are_followed_or_refused() {
    // A ClusterRole bound by a RoleBinding grants in that namespace only.
    let manifests = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: collector, namespace: ops}\n---\n\
        apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n\
        rules: [{apiGroups: [\"\"], resources: [pods], verbs: [list]}]\n---\n\
        apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: reader, namespace: shop}\n\
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\n\
        subjects: [{kind: ServiceAccount, name: collector, namespace: ops}]\n---\n\
        apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: someone-else, namespace: ops}\n\
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\n\
        subjects: [{kind: ServiceAccount, name: other, namespace: ops}]\n";
    let rules = rules_of(manifests).unwrap();
    check_allowed(&rules, &ApiRequest::new("list", "", "pods", Some("shop")), true);
    check_allowed(&rules, &ApiRequest::new("list", "", "pods", Some("ops")), false);
    check_allowed(&rules, &ApiRequest::new("list", "", "pods", None), false);

    // A binding to a role the manifests do not define cannot be judged.
    let dangling = manifests
        .replace("kind: ClusterRole\nmetadata: {name: reader}", "kind: ClusterRole\nmetadata: {name: unrelated}");
    let error = rules_of(&dangling).unwrap_err();
    assert!(format!("{error:#}").contains("the manifests define no ClusterRole reader"), "{error:#}");

    // Two ServiceAccounts: which one runs the collector is not known.
    let two =
        format!("{manifests}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: other, namespace: ops}}\n");
    let error = rules_of(&two).unwrap_err();
    assert!(format!("{error:#}").contains("expected one ServiceAccount, found 2"), "{error:#}");

    // A malformed role is an error, not a silently empty grant.
    let broken = manifests.replace("verbs: [list]", "verbs: list");
    assert!(rules_of(&broken).is_err());
}
