//! The shipped install holds together: each overlay, rendered by the real `kubectl kustomize`,
//! carries a settings file the real binary loads, and the Deployment mounts what those settings
//! name (the settings file, the secret files, the store's folder on the PVC), serves its probes
//! on the port the settings listen on, and runs locked down. RBAC is tests/rbac.rs's.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PersistentVolumeClaim, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use support::rbac::{documents, object, render};

const OVERLAYS: &[&str] = &["namespaced", "cluster"];

fn manifests(overlay: &str) -> Vec<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/kustomize/overlays").join(overlay);
    render(&path).and_then(|rendered| documents(&rendered)).unwrap_or_else(|error| panic!("{overlay}: {error:#}"))
}

fn get<T: serde::de::DeserializeOwned>(documents: &[serde_json::Value], kind: &str, name: &str) -> T {
    object(documents, kind, name).unwrap_or_else(|error| panic!("{error:#}"))
}

/// The settings file of the ConfigMap: (key, TOML).
fn settings_file(config_map: &ConfigMap) -> (String, String) {
    let data = config_map.data.clone().unwrap_or_default();
    assert_eq!(data.len(), 1, "one settings file: {:?}", data.keys());
    data.into_iter().next().unwrap()
}

/// `key = "value"` of a TOML line, for the few plain string keys these tests read.
fn toml_strings(toml: &str) -> Vec<(String, String)> {
    toml.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once(" = \""))
        .map(|(key, rest)| (key.trim().to_owned(), rest.trim_end().trim_end_matches('"').to_owned()))
        .collect()
}

fn toml_string(toml: &str, key: &str) -> String {
    toml_strings(toml).into_iter().find(|(found, _)| found == key).unwrap_or_else(|| panic!("no {key} in\n{toml}")).1
}

fn pod_spec(deployment: &Deployment) -> PodSpec {
    deployment.spec.template.spec.clone().expect("a pod template")
}

fn container(spec: &PodSpec) -> Container {
    assert_eq!(spec.containers.len(), 1);
    spec.containers[0].clone()
}

/// The volume mounted at a path that holds `path` (the longest such mount): its name and mount path.
fn mount_holding(container: &Container, path: &str) -> Option<(String, String)> {
    container
        .volume_mounts
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|mount| Path::new(path).starts_with(&mount.mount_path))
        .max_by_key(|mount| mount.mount_path.len())
        .map(|mount| (mount.name.clone(), mount.mount_path.clone()))
}

#[test]
fn the_shipped_settings_load_in_the_real_binary() {
    let folder = std::env::temp_dir().join(format!("postmortemd-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    for overlay in OVERLAYS {
        let documents = manifests(overlay);
        let (_, toml) = settings_file(&get(&documents, "ConfigMap", "postmortemd-config"));
        let settings_path = folder.join(format!("{overlay}.toml"));
        std::fs::write(&settings_path, &toml).unwrap();
        // The secret files live in the pod; stand-ins here, named by the environment, which
        // outranks the file.
        let secrets = [
            ("POSTMORTEMD_WEBHOOKS__ALERTMANAGER__BEARER_TOKEN_FILE", "am-token\n"),
            ("POSTMORTEMD_WEBHOOKS__PAGERDUTY__SIGNING_SECRETS_FILE", "old-secret\nnew-secret\n"),
            ("POSTMORTEMD_API__BEARER_TOKENS_FILE", "reader\n"),
        ];
        let mut command = Command::new(env!("CARGO_BIN_EXE_postmortemd"));
        command.arg("config").arg("--config").arg(&settings_path).env_clear();
        for (variable, contents) in secrets {
            let path = folder.join(format!("{overlay}-{variable}"));
            std::fs::write(&path, contents).unwrap();
            command.env(variable, &path);
        }
        let output = command.output().expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{overlay}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("[server]\nlisten = \"0.0.0.0:8080\"\n"), "{overlay}: {stdout}");
        assert!(stdout.contains("url = \"sqlite:///var/lib/postmortemd/postmortemd.db\"\n"), "{overlay}: {stdout}");
        assert!(stdout.contains("bearer_token = \"***\"\n"), "{overlay}: {stdout}");
        assert!(stdout.contains("signing_secrets = [\"***\", \"***\"]\n"), "{overlay}: {stdout}");
        assert!(stdout.contains("bearer_tokens = [\"***\"]\n"), "{overlay}: {stdout}");
    }
    std::fs::remove_dir_all(&folder).ok();
}

#[test]
fn the_deployment_mounts_what_the_settings_name() {
    for overlay in OVERLAYS {
        let documents = manifests(overlay);
        let config_map: ConfigMap = get(&documents, "ConfigMap", "postmortemd-config");
        let (settings_key, toml) = settings_file(&config_map);
        let deployment: Deployment = get(&documents, "Deployment", "postmortemd");
        let spec = pod_spec(&deployment);
        let container = container(&spec);
        let volumes = spec.volumes.clone().unwrap_or_default();
        let volume = |name: &str| volumes.iter().find(|volume| volume.name == name).expect("a mounted volume").clone();

        // serve --config names the ConfigMap's file.
        let args = container.args.clone().unwrap_or_default();
        assert_eq!(args[..2], ["serve", "--config"], "{overlay}: {args:?}");
        let settings_path = &args[2];
        let (name, mount_path) = mount_holding(&container, settings_path).expect("the settings file is mounted");
        assert_eq!(Path::new(settings_path), Path::new(&mount_path).join(&settings_key), "{overlay}");
        assert_eq!(volume(&name).config_map.map(|source| source.name), Some("postmortemd-config".to_owned()));

        // Every *_file secret is in the mounted Secret.
        let secret_files: Vec<(String, String)> =
            toml_strings(&toml).into_iter().filter(|(key, _)| key.ends_with("_file")).collect();
        assert_eq!(secret_files.len(), 3, "{overlay}: {secret_files:?}");
        for (key, path) in secret_files {
            let (name, _) = mount_holding(&container, &path).unwrap_or_else(|| panic!("{key}: {path} is not mounted"));
            let secret = volume(&name).secret.unwrap_or_else(|| panic!("{key}: {path} is not in a Secret"));
            assert_eq!(secret.secret_name.as_deref(), Some("postmortemd-secrets"), "{key}");
        }

        // The store is on the PVC; the other writable path is the emptyDir for SQLite's temporary files.
        let store = toml_string(&toml, "url");
        let database = store.strip_prefix("sqlite://").expect("a SQLite store");
        let (name, _) = mount_holding(&container, database).expect("the store's folder is mounted");
        let claim = volume(&name).persistent_volume_claim.expect("the store is on a PVC").claim_name;
        let _: PersistentVolumeClaim = get(&documents, "PersistentVolumeClaim", &claim);
        let sqlite_tmp = container
            .env
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|variable| variable.name == "SQLITE_TMPDIR")
            .and_then(|variable| variable.value.clone())
            .expect("SQLITE_TMPDIR");
        let (name, _) = mount_holding(&container, &sqlite_tmp).expect("SQLite's temporary folder is mounted");
        assert!(volume(&name).empty_dir.is_some(), "{overlay}");

        // One replica owns the ReadWriteOnce volume; an update stops it before starting the next.
        let deployment_spec = deployment.spec.clone();
        assert_eq!(deployment_spec.replicas, Some(1));
        assert_eq!(deployment_spec.strategy.and_then(|strategy| strategy.type_).as_deref(), Some("Recreate"));

        let account: ServiceAccount = get(&documents, "ServiceAccount", "postmortemd");
        assert_eq!(spec.service_account_name, account.metadata.name, "{overlay}");
    }
}

#[test]
fn probes_and_service_reach_the_listening_port() {
    for overlay in OVERLAYS {
        let documents = manifests(overlay);
        let (_, toml) = settings_file(&get(&documents, "ConfigMap", "postmortemd-config"));
        let listen_port: i32 = toml_string(&toml, "listen").rsplit_once(':').unwrap().1.parse().unwrap();
        let deployment: Deployment = get(&documents, "Deployment", "postmortemd");
        let spec = pod_spec(&deployment);
        let container = container(&spec);
        let ports = container.ports.clone().unwrap_or_default();
        let http = ports.iter().find(|port| port.name.as_deref() == Some("http")).expect("a port named http");
        assert_eq!(http.container_port, listen_port, "{overlay}");

        for (probe, path) in [(&container.liveness_probe, "/healthz"), (&container.readiness_probe, "/readyz")] {
            let get = probe.clone().and_then(|probe| probe.http_get).expect("an HTTP probe");
            assert_eq!(get.path.as_deref(), Some(path), "{overlay}");
            assert_eq!(get.port, IntOrString::String("http".to_owned()), "{overlay}");
        }

        let pod_labels = deployment.spec.template.metadata.clone().unwrap().labels.unwrap();
        let service: Service = get(&documents, "Service", "postmortemd");
        let service_spec = service.spec.unwrap();
        for (key, value) in service_spec.selector.unwrap() {
            assert_eq!(pod_labels.get(&key), Some(&value), "{overlay}: the Service selects the pod by {key}");
        }
        let service_port = &service_spec.ports.unwrap()[0];
        assert_eq!((service_port.name.as_deref(), service_port.port), (Some("http"), 8080), "{overlay}");
        assert_eq!(service_port.target_port, Some(IntOrString::String("http".to_owned())));

        let policy: NetworkPolicy = get(&documents, "NetworkPolicy", "postmortemd");
        let policy_spec = policy.spec.unwrap();
        for (key, value) in policy_spec.pod_selector.unwrap().match_labels.unwrap() {
            assert_eq!(pod_labels.get(&key), Some(&value), "{overlay}: the NetworkPolicy selects the pod by {key}");
        }
        for rule in policy_spec.ingress.unwrap() {
            let ports = rule.ports.unwrap();
            assert!(
                ports.iter().all(|port| port.port == Some(IntOrString::String("http".to_owned()))),
                "{overlay}: ingress only to the http port"
            );
        }
    }
}

#[test]
fn the_pod_runs_locked_down() {
    for overlay in OVERLAYS {
        let documents = manifests(overlay);
        let deployment: Deployment = get(&documents, "Deployment", "postmortemd");
        let spec = pod_spec(&deployment);
        let pod_security = spec.security_context.clone().expect("a pod securityContext");
        assert_eq!(pod_security.run_as_non_root, Some(true), "{overlay}");
        assert!(pod_security.run_as_user.is_some_and(|uid| uid > 0), "{overlay}");
        assert!(pod_security.fs_group.is_some(), "{overlay}: the data volume is writable by the pod's group");
        let container = container(&spec);
        let security = container.security_context.clone().expect("a container securityContext");
        assert_eq!(security.allow_privilege_escalation, Some(false), "{overlay}");
        assert_eq!(security.read_only_root_filesystem, Some(true), "{overlay}");
        assert_eq!(security.privileged, None, "{overlay}");
        assert_eq!(security.capabilities.and_then(|capabilities| capabilities.drop), Some(vec!["ALL".to_owned()]));
        assert_eq!(
            security.seccomp_profile.or(pod_security.seccomp_profile).map(|profile| profile.type_).as_deref(),
            Some("RuntimeDefault")
        );
        let resources = container.resources.clone().expect("resources");
        for (what, quantities) in [("requests", resources.requests), ("limits", resources.limits)] {
            let quantities = quantities.unwrap_or_else(|| panic!("{overlay}: no {what}"));
            assert!(quantities.contains_key("cpu") && quantities.contains_key("memory"), "{overlay}: {what}");
        }
        assert_ne!(spec.host_network, Some(true));
    }
}

/// Issue 14: each overlay sets `kubernetes.namespaces` by the Deployment's environment, which
/// the real binary reads: the namespaced install its own namespace (the downward API's
/// `metadata.namespace`, resolved here as the kubelet would), the cluster install `*`.
#[test]
fn each_overlay_says_where_collection_may_read() {
    const VARIABLE: &str = "POSTMORTEMD_KUBERNETES__NAMESPACES";
    let folder = std::env::temp_dir().join(format!("postmortemd-deploy-namespaces-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    for (overlay, expected) in [("namespaced", "[\"postmortemd\"]"), ("cluster", "[\"*\"]")] {
        let documents = manifests(overlay);
        let (_, toml) = settings_file(&get(&documents, "ConfigMap", "postmortemd-config"));
        let deployment: Deployment = get(&documents, "Deployment", "postmortemd");
        let variables = container(&pod_spec(&deployment)).env.unwrap_or_default();
        let variable = variables.iter().find(|variable| variable.name == VARIABLE).expect(VARIABLE);
        let value = match (&variable.value, &variable.value_from) {
            (Some(value), None) => value.clone(),
            (None, Some(from)) => {
                let field = from.field_ref.as_ref().expect("a field of the pod").field_path.clone();
                assert_eq!(field, "metadata.namespace", "{overlay}");
                deployment.metadata.namespace.clone().expect("the overlay sets the namespace")
            }
            other => panic!("{overlay}: {VARIABLE} is {other:?}"),
        };
        let settings_path = folder.join(format!("{overlay}.toml"));
        std::fs::write(&settings_path, &toml).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_postmortemd"))
            .arg("config")
            .arg("--config")
            .arg(&settings_path)
            .env_clear()
            .env(VARIABLE, &value)
            // The secret files are the pod's; empty stand-ins here.
            .env("POSTMORTEMD_WEBHOOKS__ALERTMANAGER__BEARER_TOKEN_FILE", "")
            .env("POSTMORTEMD_WEBHOOKS__PAGERDUTY__SIGNING_SECRETS_FILE", "")
            .env("POSTMORTEMD_API__BEARER_TOKENS_FILE", "")
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{overlay}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains(&format!("\nnamespaces = {expected}\n")), "{overlay}: {stdout}");
    }
    std::fs::remove_dir_all(&folder).ok();
}
