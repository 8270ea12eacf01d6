//! Crash safety: 2,000 webhooks over 32 connections to the real binary, SIGKILL in the
//! middle, a restart on the same data directory: every acknowledged webhook is stored
//! exactly once, nothing was half-stored, and the re-sent rest is taken once.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod support;

use support::services::all_incidents;

const WEBHOOKS: usize = 2_000;
const CONNECTIONS: usize = 32;

fn start(port: u16, store: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_postmortemd"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--store", store])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("postmortemd serve starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the daemon did not become ready");
}

/// Webhook `index`: its own alert group, so each one is its own incident.
fn body(index: usize) -> String {
    serde_json::json!({
        "version": "4", "receiver": "postmortemd", "status": "firing", "groupKey": format!("{{}}:{{alertname=\"Crash{index}\"}}"),
        "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {"alertname": format!("Crash{index}")},
        "commonAnnotations": {}, "externalURL": "http://am:9093",
        "alerts": [{"status": "firing", "labels": {"alertname": format!("Crash{index}")}, "annotations": {},
            "startsAt": "2025-02-09T10:06:15Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
            "fingerprint": format!("{index:016x}")}]
    })
    .to_string()
}

/// Sends webhooks `0..WEBHOOKS` over `CONNECTIONS` tasks; returns those acknowledged (2xx).
/// `after_acks` is called once when `kill_after` webhooks were acknowledged.
async fn send_all(base: &str, kill_after: Option<(usize, Box<dyn FnOnce() + Send>)>) -> BTreeSet<usize> {
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let (threshold, killer) = match kill_after {
        Some((threshold, killer)) => (threshold, Some(killer)),
        None => (usize::MAX, None),
    };
    let killer = Arc::new(std::sync::Mutex::new(killer));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (next, acked, killer, base) = (next.clone(), acked.clone(), killer.clone(), base.to_owned());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= WEBHOOKS {
                    return;
                }
                let sent = client
                    .post(format!("{base}/webhooks/alertmanager"))
                    .header("content-type", "application/json")
                    .body(body(index))
                    .send()
                    .await;
                if matches!(&sent, Ok(response) if response.status().is_success()) {
                    let count = {
                        let mut acked = acked.lock().unwrap();
                        acked.insert(index);
                        acked.len()
                    };
                    if count >= threshold
                        && let Some(kill) = killer.lock().unwrap().take()
                    {
                        kill();
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    Arc::try_unwrap(acked).unwrap().into_inner().unwrap()
}

async fn incidents(client: &reqwest::Client, base: &str) -> Vec<serde_json::Value> {
    all_incidents(client, base).await.expect("the incident list answers, page after page")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_webhooks_survive_sigkill_exactly_once() {
    let folder = std::env::temp_dir().join(format!("postmortemd-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let store = format!("sqlite://{}/postmortemd.db", folder.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let daemon = Arc::new(std::sync::Mutex::new(start(port, &store)));
    wait_ready(&client, &base).await;
    let victim = daemon.clone();
    let kill: Box<dyn FnOnce() + Send> = Box::new(move || {
        // Child::kill is SIGKILL on Unix: no chance to flush or finish anything.
        let _ = victim.lock().unwrap().kill();
    });
    let acked = send_all(&base, Some((WEBHOOKS / 4, kill))).await;
    let _ = daemon.lock().unwrap().wait();
    assert!(acked.len() >= WEBHOOKS / 4 && acked.len() < WEBHOOKS, "killed mid-stream: {} acknowledged", acked.len());

    let mut daemon = start(port, &store);
    wait_ready(&client, &base).await;
    let stored = incidents(&client, &base).await;
    let titles: BTreeSet<String> =
        stored.iter().map(|incident| incident["title"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(titles.len(), stored.len(), "an incident stored twice");
    for index in &acked {
        assert!(titles.contains(&format!("Crash{index}")), "acknowledged webhook {index} was lost");
    }
    for incident in &stored {
        // Whole or nothing: every incident holds exactly its one webhook.
        assert_eq!(incident["counts"]["webhooks"], 1, "{incident}");
    }

    // Senders retry what was not acknowledged (and some that were): each is taken once.
    let resent = send_all(&base, None).await;
    assert_eq!(resent.len(), WEBHOOKS);
    let stored = incidents(&client, &base).await;
    assert_eq!(stored.len(), WEBHOOKS);
    assert!(stored.iter().all(|incident| incident["counts"]["webhooks"] == 1));

    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn a_second_daemon_on_the_same_file_refuses_to_start_and_names_the_holder() {
    let folder = std::env::temp_dir().join(format!("postmortemd-crash-second-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    let store = format!("sqlite://{}/postmortemd.db", folder.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut first = start(port, &store);
    let lock = folder.join("postmortemd.db.lock");
    for _ in 0..300 {
        if std::fs::read_to_string(&lock).is_ok_and(|pid| pid.trim() == first.id().to_string()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = Command::new(env!("CARGO_BIN_EXE_postmortemd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", &store])
        .output()
        .expect("postmortemd serve runs");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains(&lock.display().to_string()) && stderr.contains(&format!("pid {}", first.id())),
        "{stderr}"
    );
    // SIGKILL: the OS releases the lock with the process, so a restart takes the file.
    let _ = first.kill();
    let _ = first.wait();
    let mut restarted = start(port, &store);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(wait_ready(&reqwest::Client::new(), &format!("http://127.0.0.1:{port}")));
    let _ = restarted.kill();
    let _ = restarted.wait();
    let _ = std::fs::remove_dir_all(&folder);
}

/// A "Prometheus" that takes every connection and never answers: a pass asking it hangs.
async fn stalling_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_hanging_pass_within_the_grace_and_the_restart_runs_it_again() {
    let folder = std::env::temp_dir().join(format!("postmortemd-sigterm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let (prometheus_port, accepted) = stalling_server().await;
    let config = folder.join("postmortemd.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nshutdown_grace = \"2s\"\n[prometheus]\nurl = \"http://127.0.0.1:{prometheus_port}\"\n\
             timeout = \"2m\"\nnode_clock = false\n"
        ),
    )
    .unwrap();
    let store = format!("sqlite://{}/postmortemd.db", folder.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_postmortemd"))
            .args(["serve", "--config", config.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
            .args(["--store", &store])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postmortemd serve starts")
    };
    let client = reqwest::Client::new();
    let mut daemon = start();
    wait_ready(&client, &base).await;
    let response = client
        .post(format!("{base}/webhooks/alertmanager"))
        .header("content-type", "application/json")
        .body(body(7))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let waited = async |what: &str, check: &dyn Fn() -> bool| {
        for _ in 0..300 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what}");
    };
    waited("the pass never asked Prometheus", &|| accepted.load(Ordering::SeqCst) > 0).await;

    // The pass hangs on Prometheus (for up to 2 minutes a request); SIGTERM must not wait for it.
    let asked = std::time::Instant::now();
    let killed = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        assert!(asked.elapsed() < Duration::from_secs(8), "still running 8 s after SIGTERM (grace 2 s)");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");

    // The job was given back: a restart runs the pass at once, not after its 10-minute lease.
    let before = accepted.load(Ordering::SeqCst);
    let mut daemon = start();
    wait_ready(&client, &base).await;
    waited("the restart did not run the stopped pass again", &|| accepted.load(Ordering::SeqCst) > before).await;
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&folder);
}
