//! The shipped install holds together: each overlay, rendered by the real `kubectl kustomize`,
//! carries a settings file the real binary loads, and the Deployment mounts what those settings
//! name (the settings file, the secret files, the store's folder on the PVC), serves its probes
//! on the port the settings listen on, and runs locked down. The image's two builds
//! (deploy/image/build.sh and the Dockerfile) configure it alike and as the Deployment expects,
//! and deploy/image/rootfs.sh's root filesystem runs the binary as the image's user.
//! RBAC is tests/rbac.rs's.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PersistentVolumeClaim, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use support::rbac::{documents, object, render};

const OVERLAYS: &[&str] = &["namespaced", "cluster", "ha"];

/// What the ha overlay's Secret `postmortemd-store` holds in these tests.
const STAND_IN_DATABASE: &str = "postgres://postmortemd@db.example:5432/postmortemd?sslmode=verify-full";

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
        // Variables the Deployment takes from a Secret (the ha overlay's store URL): stand-ins.
        let deployment: Deployment = get(&documents, "Deployment", "postmortemd");
        for variable in container(&pod_spec(&deployment)).env.unwrap_or_default() {
            if variable.value_from.and_then(|from| from.secret_key_ref).is_some() {
                command.env(&variable.name, STAND_IN_DATABASE);
            }
        }
        for (variable, contents) in secrets {
            let path = folder.join(format!("{overlay}-{variable}"));
            std::fs::write(&path, contents).unwrap();
            command.env(variable, &path);
        }
        let output = command.output().expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{overlay}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("[server]\nlisten = \"0.0.0.0:8080\"\n"), "{overlay}: {stdout}");
        let store = if *overlay == "ha" { STAND_IN_DATABASE } else { "sqlite:///var/lib/postmortemd/postmortemd.db" };
        assert!(stdout.contains(&format!("url = \"{store}\"\n")), "{overlay}: {stdout}");
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

        let account: ServiceAccount = get(&documents, "ServiceAccount", "postmortemd");
        assert_eq!(spec.service_account_name, account.metadata.name, "{overlay}");

        if *overlay == "ha" {
            several_replicas_share_the_database(&documents, &deployment);
            continue;
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
    }
}

/// The ha overlay: the store URL from the Secret `postmortemd-store`, no volume claimed, three
/// replicas updated one new pod at a time, spread across nodes, and a budget that keeps two up.
fn several_replicas_share_the_database(documents: &[serde_json::Value], deployment: &Deployment) {
    let spec = pod_spec(deployment);
    let container = container(&spec);
    let store = container
        .env
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|variable| variable.name == "POSTMORTEMD_STORE__URL")
        .and_then(|variable| variable.value_from.clone()?.secret_key_ref)
        .expect("the store URL comes from a Secret");
    assert_eq!((store.name.as_str(), store.key.as_str()), ("postmortemd-store", "url"));
    assert!(
        !documents.iter().any(|document| document["kind"] == "PersistentVolumeClaim"),
        "no volume: the store is the database"
    );
    let volumes = spec.volumes.clone().unwrap_or_default();
    assert!(volumes.iter().all(|volume| volume.persistent_volume_claim.is_none()), "{volumes:?}");
    for mount in container.volume_mounts.unwrap_or_default() {
        assert!(volumes.iter().any(|volume| volume.name == mount.name), "{} is mounted but not a volume", mount.name);
    }

    let deployment_spec = deployment.spec.clone();
    assert_eq!(deployment_spec.replicas, Some(3));
    let strategy = deployment_spec.strategy.unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.expect("rollingUpdate");
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)), "a new replica is ready before an old one stops");

    let pod_labels = deployment_spec.template.metadata.unwrap().labels.unwrap();
    let selects_the_pods = |selector: &LabelSelector| {
        let labels = selector.match_labels.clone().unwrap_or_default();
        !labels.is_empty() && labels.iter().all(|(key, value)| pod_labels.get(key) == Some(value))
    };
    let spread = spec.topology_spread_constraints.clone().unwrap_or_default();
    let by_node = spread
        .iter()
        .find(|constraint| constraint.topology_key == "kubernetes.io/hostname")
        .expect("spread across nodes");
    assert_eq!((by_node.max_skew, by_node.when_unsatisfiable.as_str()), (1, "DoNotSchedule"));
    assert!(selects_the_pods(by_node.label_selector.as_ref().unwrap()));

    let budget: PodDisruptionBudget = get(documents, "PodDisruptionBudget", "postmortemd");
    let budget = budget.spec.unwrap();
    assert!(selects_the_pods(budget.selector.as_ref().unwrap()));
    assert_eq!((budget.max_unavailable, budget.min_available), (Some(IntOrString::Int(1)), None));
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

// --- the image -----------------------------------------------------------------------------
// Two builds make it: deploy/image/build.sh (buildah, run by hand) and the Dockerfile (users'
// builders). Both put deploy/image/rootfs.sh's root filesystem under the same configuration,
// which the Deployment relies on.

fn repository_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("{}: {error}", full.display()))
}

/// Logical lines of a shell script or Dockerfile: comments dropped, `\` continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines().filter(|line| !line.trim_start().starts_with('#')) {
        match line.trim_end().strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                let joined = std::mem::take(&mut current);
                if !joined.trim().is_empty() {
                    lines.push(joined.trim().to_owned());
                }
            }
        }
    }
    lines
}

/// Shell words: whitespace separates, '…' and "…" quote (no escapes, no expansion).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for character in line.chars() {
        match (quote, character) {
            (Some(open), _) if character == open => quote = None,
            (Some(_), _) => word.get_or_insert_with(String::new).push(character),
            (None, '\'' | '"') => {
                quote = Some(character);
                word.get_or_insert_with(String::new);
            }
            (None, _) if character.is_whitespace() => words.extend(word.take()),
            (None, _) => word.get_or_insert_with(String::new).push(character),
        }
    }
    assert!(quote.is_none(), "unclosed quote in {line}");
    words.extend(word);
    words
}

/// The runtime configuration of an image build.
#[derive(Debug, PartialEq)]
struct ImageConfig {
    user: String,
    working_dir: String,
    port: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    labels: Vec<String>,
}

fn json_array(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not a JSON array of strings: {text}: {error}"))
}

/// A Dockerfile instruction: its keyword and the rest of the line.
type Instruction = (String, String);

/// A stage of the Dockerfile: the FROM line's words and the other instructions.
struct Stage {
    from: Vec<String>,
    instructions: Vec<Instruction>,
}

fn dockerfile_stages() -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical_lines(&repository_file("Dockerfile")) {
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        if keyword == "FROM" {
            stages.push(Stage { from: words(rest), instructions: Vec::new() });
        } else {
            let stage = stages.last_mut().expect("an instruction before the first FROM");
            stage.instructions.push((keyword.to_owned(), rest.trim().to_owned()));
        }
    }
    stages
}

fn dockerfile_config(instructions: &[Instruction]) -> ImageConfig {
    let one = |keyword: &str| {
        let found: Vec<&String> =
            instructions.iter().filter(|(found, _)| found == keyword).map(|(_, rest)| rest).collect();
        assert_eq!(found.len(), 1, "one {keyword} in the final stage: {found:?}");
        found[0].clone()
    };
    let labels = instructions
        .iter()
        .filter(|(keyword, _)| keyword == "LABEL")
        .flat_map(|(_, rest)| words(rest))
        .map(|pair| pair.split_once('=').expect("LABEL key=value").0.to_owned())
        .collect();
    ImageConfig {
        user: one("USER"),
        working_dir: one("WORKDIR"),
        port: one("EXPOSE"),
        entrypoint: json_array(&one("ENTRYPOINT")),
        cmd: json_array(&one("CMD")),
        labels,
    }
}

fn build_script_config(script: &str) -> ImageConfig {
    let configs: Vec<Vec<String>> = logical_lines(script)
        .iter()
        .filter(|line| line.starts_with("buildah config "))
        .map(|line| words(line))
        .collect();
    assert_eq!(configs.len(), 1, "one `buildah config` in build.sh");
    let flags: Vec<(String, String)> = configs[0][2..]
        .chunks(2)
        .filter(|pair| pair.len() == 2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect();
    let one = |flag: &str| {
        let found: Vec<&String> = flags.iter().filter(|(found, _)| found == flag).map(|(_, value)| value).collect();
        assert_eq!(found.len(), 1, "one {flag} in build.sh's buildah config: {found:?}");
        found[0].clone()
    };
    let labels = flags
        .iter()
        .filter(|(flag, _)| flag == "--label")
        .map(|(_, pair)| pair.split_once('=').expect("--label key=value").0.to_owned())
        .collect();
    ImageConfig {
        user: one("--user"),
        working_dir: one("--workingdir"),
        // buildah names the protocol that EXPOSE implies.
        port: one("--port").trim_end_matches("/tcp").to_owned(),
        entrypoint: json_array(&one("--entrypoint")),
        cmd: json_array(&one("--cmd")),
        labels,
    }
}

/// Whether .dockerignore lets `path` into the build context: the last pattern that matches the
/// path or a folder above it decides (`!` lets in). Only `*` and literal paths are understood.
fn docker_context_holds(dockerignore: &str, path: &str) -> bool {
    let mut held = true;
    for line in dockerignore.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let (lets_in, pattern) = match line.strip_prefix('!') {
            Some(pattern) => (true, pattern),
            None => (false, line),
        };
        let pattern = pattern.trim_end_matches('/');
        assert!(pattern == "*" || !pattern.contains(['*', '?', '[']), "this check knows no pattern like {line}");
        if pattern == "*" || Path::new(path).starts_with(pattern) {
            held = lets_in;
        }
    }
    held
}

#[test]
fn both_image_builds_agree_with_each_other_and_the_deployment() {
    let stages = dockerfile_stages();
    let (build_from, build_stage) = (&stages[0].from, &stages[0].instructions);
    let (final_from, final_stage) = (&stages.last().unwrap().from, &stages.last().unwrap().instructions);
    assert_eq!(build_from[1..], ["AS", "build"], "the first stage is named build: {build_from:?}");
    assert_eq!(final_from, &["scratch"], "the image is built from scratch, as build.sh builds it");
    let copies: Vec<&String> =
        final_stage.iter().filter(|(keyword, _)| keyword == "COPY").map(|(_, rest)| rest).collect();
    assert_eq!(copies, ["--from=build /rootfs /"], "the final stage holds rootfs.sh's output and nothing else");
    assert!(
        build_stage.iter().any(|(keyword, rest)| keyword == "RUN" && rest.contains("deploy/image/rootfs.sh /rootfs ")),
        "the build stage assembles /rootfs with deploy/image/rootfs.sh"
    );
    // What the build stage copies from the context must be in the context.
    let dockerignore = repository_file(".dockerignore");
    for (_, rest) in build_stage.iter().filter(|(keyword, _)| keyword == "COPY") {
        let sources = words(rest);
        for source in &sources[..sources.len() - 1] {
            assert!(
                docker_context_holds(&dockerignore, source),
                ".dockerignore leaves out {source}, which the Dockerfile copies"
            );
        }
    }

    let script = repository_file("deploy/image/build.sh");
    assert!(
        logical_lines(&script).iter().any(|line| line.starts_with("deploy/image/rootfs.sh ")),
        "build.sh assembles its root filesystem with deploy/image/rootfs.sh"
    );
    let docker = dockerfile_config(final_stage);
    let buildah = build_script_config(&script);
    assert_eq!(docker, buildah, "the Dockerfile's final stage and build.sh configure the image alike");

    // The configuration is what the Deployment relies on.
    let (uid, gid) = docker.user.split_once(':').expect("USER uid:gid");
    let (uid, gid): (i64, i64) = (uid.parse().expect("a numeric uid"), gid.parse().expect("a numeric gid"));
    assert_ne!(uid, 0);
    let rootfs = repository_file("deploy/image/rootfs.sh");
    assert!(rootfs.lines().any(|line| line == format!("nonroot={uid}")), "rootfs.sh's nonroot user is uid {uid}");
    let port: i32 = docker.port.parse().expect("EXPOSE a port number");
    let option = |name: &str| {
        let at = docker.cmd.iter().position(|word| word == name).unwrap_or_else(|| panic!("CMD has {name}"));
        docker.cmd[at + 1].clone()
    };
    assert_eq!(option("--listen").rsplit_once(':').unwrap().1, port.to_string(), "CMD listens on the exposed port");
    let database = option("--store").strip_prefix("sqlite://").expect("CMD's store is SQLite").to_owned();
    assert!(Path::new(&database).starts_with(&docker.working_dir), "CMD's store {database} is in the data folder");
    for overlay in OVERLAYS {
        let deployment: Deployment = get(&manifests(overlay), "Deployment", "postmortemd");
        let spec = pod_spec(&deployment);
        let security = spec.security_context.clone().expect("a pod securityContext");
        assert_eq!((security.run_as_user, security.run_as_group, security.fs_group), (Some(uid), Some(gid), Some(gid)));
        let container = container(&spec);
        assert_eq!(container.command, None, "{overlay}: the image's ENTRYPOINT runs");
        assert_eq!(container.args.as_deref().unwrap_or_default()[0], docker.cmd[0], "{overlay}: the same subcommand");
        let http = container
            .ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|port| port.name.as_deref() == Some("http"))
            .cloned();
        assert_eq!(http.map(|http| http.container_port), Some(port), "{overlay}");
        // The SQLite file sits in the image's working folder, on the volume; ha keeps no file.
        if *overlay != "ha" {
            let (name, mount_path) = mount_holding(&container, &database).expect("the data folder is mounted");
            assert_eq!((name.as_str(), mount_path.as_str()), ("data", docker.working_dir.as_str()), "{overlay}");
        }
    }
}

#[test]
fn the_root_filesystem_runs_the_binary_as_nonroot() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let whoami = Command::new("id").arg("-u").output().expect("id runs");
    assert_eq!(
        String::from_utf8_lossy(&whoami.stdout).trim(),
        "0",
        "rootfs.sh sets owners and chroot needs root: run as root (CI does)"
    );
    let docker = dockerfile_config(&dockerfile_stages().last().unwrap().instructions);
    let (uid, gid) = docker.user.split_once(':').unwrap();
    let (uid, gid): (u32, u32) = (uid.parse().unwrap(), gid.parse().unwrap());

    let folder = support::services::scratch_folder("rootfs");
    let rootfs = folder.join("rootfs");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/image/rootfs.sh");
    let assemble =
        || Command::new(&script).arg(&rootfs).arg(env!("CARGO_BIN_EXE_postmortemd")).output().expect("rootfs.sh runs");
    let output = assemble();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    // The binary starts on the libraries and loader the root filesystem holds, as the image's user.
    let run = Command::new("/usr/sbin/chroot")
        .arg(format!("--userspec={uid}:{gid}"))
        .arg(&rootfs)
        .args(&docker.entrypoint)
        .arg("--version")
        .env_clear()
        .output()
        .expect("chroot runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(String::from_utf8_lossy(&run.stdout), format!("postmortemd {}\n", env!("CARGO_PKG_VERSION")));

    let data = std::fs::metadata(rootfs.join(docker.working_dir.trim_start_matches('/'))).expect("the data folder");
    assert_eq!((data.uid(), data.gid(), data.permissions().mode() & 0o7777), (uid, gid, 0o750));
    let tmp = std::fs::metadata(rootfs.join("tmp")).expect("/tmp");
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.lines().any(|line| line.starts_with(&format!("nonroot:x:{uid}:{gid}:"))), "{passwd}");
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap();
    assert!(group.lines().any(|line| line == format!("nonroot:x:{gid}:")), "{group}");
    // rustls-native-certs reads the system store from here.
    let certificates = "etc/ssl/certs/ca-certificates.crt";
    assert_eq!(
        std::fs::read(rootfs.join(certificates)).unwrap(),
        std::fs::read(Path::new("/").join(certificates)).unwrap()
    );

    // A second run into the same folder would mix old files in: refused.
    let again = assemble();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    std::fs::remove_dir_all(&folder).ok();
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
