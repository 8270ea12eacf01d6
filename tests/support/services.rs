//! Helpers for tests that start real services (Prometheus, Alertmanager) on loopback.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// How long to wait for a condition (POSTMORTEMD_TEST_PATIENCE seconds, default 60).
pub fn patience() -> Duration {
    let seconds = std::env::var("POSTMORTEMD_TEST_PATIENCE").ok().and_then(|text| text.parse().ok()).unwrap_or(60);
    Duration::from_secs(seconds)
}

/// Polls `check` until it gives a value, failing the test after [`patience`].
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + patience();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every incident the daemon at `base` lists, newest first: `GET /api/v1/incidents` page
/// by page (500 a page), following `next_cursor` to its end. `None` when an answer is not
/// the list's shape (the daemon not up yet, an error).
pub async fn all_incidents(client: &reqwest::Client, base: &str) -> Option<Vec<serde_json::Value>> {
    let mut incidents = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/incidents?limit=500");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: serde_json::Value = client.get(&url).send().await.ok()?.json().await.ok()?;
        incidents.extend(page["incidents"].as_array()?.iter().cloned());
        match &page["next_cursor"] {
            serde_json::Value::String(next) => cursor = Some(next.clone()),
            serde_json::Value::Null => return Some(incidents),
            _ => return None,
        }
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh folder under the temp dir, named for the test and the process.
pub fn scratch_folder(name: &str) -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("postmortemd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// Backfills `openmetrics` (a past window) into `folder/data` with promtool and starts
/// Debian's Prometheus on it, keeping 100 years; returns the process and its URL once ready.
pub async fn start_prometheus(folder: &Path, openmetrics: &str) -> (tokio::process::Child, String) {
    start_prometheus_with(folder, openmetrics, "global:\n  scrape_interval: 15s\n").await
}

/// [`start_prometheus`] with `config` as its `prometheus.yml` (relative paths in it, such as
/// `rule_files`, are read from `folder`).
pub async fn start_prometheus_with(folder: &Path, openmetrics: &str, config: &str) -> (tokio::process::Child, String) {
    for binary in [PROMETHEUS, PROMTOOL] {
        assert!(Path::new(binary).exists(), "{binary} missing: apt-get install prometheus (.ci/run does)");
    }
    let data = folder.join("data");
    std::fs::write(folder.join("history.om"), openmetrics).unwrap();
    let backfill = tokio::process::Command::new(PROMTOOL)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(folder.join("history.om"))
        .arg(&data)
        .output()
        .await
        .expect("promtool runs");
    assert!(
        backfill.status.success(),
        "promtool failed: {}{}",
        String::from_utf8_lossy(&backfill.stdout),
        String::from_utf8_lossy(&backfill.stderr)
    );
    std::fs::write(folder.join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let child = tokio::process::Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", folder.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(folder.join("prometheus.log")).unwrap()))
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    (child, ready("prometheus", port).await)
}

/// Starts Debian's Alertmanager with one route (grouped by alertname, quick intervals)
/// whose webhook receiver is `webhook_url` (sending `token` as its bearer token, if any);
/// returns the process and its URL once ready.
pub async fn start_alertmanager(
    folder: &Path,
    webhook_url: &str,
    token: Option<&str>,
) -> (tokio::process::Child, String) {
    assert!(
        Path::new(ALERTMANAGER).exists(),
        "{ALERTMANAGER} missing: apt-get install prometheus-alertmanager (.ci/run does)"
    );
    let authorization = match token {
        Some(token) => {
            std::fs::write(folder.join("token"), token).unwrap();
            format!(
                "    http_config:\n      authorization:\n        credentials_file: {}\n",
                folder.join("token").display()
            )
        }
        None => String::new(),
    };
    std::fs::write(
        folder.join("alertmanager.yml"),
        format!(
            "route:\n  receiver: postmortemd\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n\
             receivers:\n- name: postmortemd\n  webhook_configs:\n  - url: {webhook_url}\n    send_resolved: true\n{authorization}"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = tokio::process::Command::new(ALERTMANAGER)
        .arg(format!("--config.file={}", folder.join("alertmanager.yml").display()))
        .arg(format!("--storage.path={}", folder.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(folder.join("alertmanager.log")).unwrap()))
        .kill_on_drop(true)
        .spawn()
        .expect("alertmanager starts");
    (child, ready("alertmanager", port).await)
}

/// The URL of a Prometheus-family server on `port` once its `/-/ready` answers 2xx.
async fn ready(what: &str, port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually(&format!("{what} to be ready"), async || {
        let response = client.get(format!("{url}/-/ready")).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await;
    url
}
