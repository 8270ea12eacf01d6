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

// --- several replicas on one PostgreSQL --------------------------------------------------

/// A Prometheus that answers every query, after `delay`, with nothing: collection passes are
/// in flight long enough for a replica to die in the middle of one.
async fn slow_prometheus(delay: Duration) -> u16 {
    use axum::extract::OriginalUri;
    let answer = move |uri: OriginalUri| async move {
        tokio::time::sleep(delay).await;
        let data = match uri.path() {
            "/api/v1/rules" => serde_json::json!({"groups": []}),
            "/api/v1/targets" => serde_json::json!({"activeTargets": [], "droppedTargets": []}),
            _ => serde_json::json!({"resultType": "matrix", "result": []}),
        };
        axum::Json(serde_json::json!({"status": "success", "data": data}))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(answer);
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Notification `index` of a group episode that fired and resolved in the last half hour (so
/// its incident gets a collection job, whose one final pass is due at once).
fn resolved_body(index: usize, started: jiff::Timestamp) -> String {
    let mut body: serde_json::Value = serde_json::from_str(&body(index)).unwrap();
    body["status"] = "resolved".into();
    body["alerts"][0]["status"] = "resolved".into();
    body["alerts"][0]["startsAt"] = started.to_string().into();
    body["alerts"][0]["endsAt"] = (started + jiff::SignedDuration::from_mins(5)).to_string().into();
    body.to_string()
}

/// Three replicas on one PostgreSQL database take the same notifications (each sent to two of
/// them at once, as an Alertmanager pair sends every notification), and one replica is
/// SIGKILLed under that load: every acknowledged notification is stored exactly once, each
/// group episode is one incident, and the two survivors finish every collection job — the
/// killed replica's leased ones once their lease lapses — with exactly one pass each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_three_replicas_killed_under_load_loses_nothing_and_the_others_finish_its_jobs() {
    const EPISODES: usize = 400;
    let database = support::postgres::fresh_database().await;
    let folder = std::env::temp_dir().join(format!("postmortemd-replicas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let prometheus = slow_prometheus(Duration::from_millis(150)).await;
    let config = folder.join("postmortemd.toml");
    std::fs::write(
        &config,
        format!(
            "[collect]\nlease = \"3s\"\n[prometheus]\nurl = \"http://127.0.0.1:{prometheus}\"\nnode_clock = false\n\
             [[prometheus.queries]]\nname = \"up\"\nquery = 'up'\n"
        ),
    )
    .unwrap();
    let start_replica = |port: u16| {
        Command::new(env!("CARGO_BIN_EXE_postmortemd"))
            .args(["serve", "--config", config.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
            .args(["--store", &database.url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postmortemd serve starts")
    };
    let ports: Vec<u16> =
        (0..3).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).collect();
    let bases: Vec<String> = ports.iter().map(|port| format!("http://127.0.0.1:{port}")).collect();
    // All three start together on the empty database: its migrations run once, under a lock.
    let mut replicas: Vec<Child> = ports.iter().map(|port| start_replica(*port)).collect();
    let client = reqwest::Client::new();
    for base in &bases {
        wait_ready(&client, base).await;
    }

    let started = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(30);
    let victim_pid = replicas[0].id();
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for connection in 0..CONNECTIONS {
        let (next, acked, killed, bases) = (next.clone(), acked.clone(), killed.clone(), bases.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= EPISODES {
                    return;
                }
                // Two replicas at once, the pair chosen by the connection.
                let (first, second) = (connection % 3, (connection + 1) % 3);
                let send = |base: &str| {
                    client
                        .post(format!("{base}/webhooks/alertmanager"))
                        .header("content-type", "application/json")
                        .body(resolved_body(index, started))
                        .send()
                };
                let (a, b) = tokio::join!(send(&bases[first]), send(&bases[second]));
                let ok = |sent: &reqwest::Result<reqwest::Response>| matches!(sent, Ok(response) if response.status().is_success());
                if ok(&a) || ok(&b) {
                    let count = {
                        let mut acked = acked.lock().unwrap();
                        acked.insert(index);
                        acked.len()
                    };
                    if count >= EPISODES / 4 && !killed.swap(true, Ordering::SeqCst) {
                        // SIGKILL: no drain, no lease given back.
                        let _ = Command::new("kill").args(["-KILL", &victim_pid.to_string()]).status();
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let _ = replicas[0].wait();
    assert!(killed.load(Ordering::SeqCst), "the replica was killed under load");
    let acked = Arc::try_unwrap(acked).unwrap().into_inner().unwrap();
    let survivor = &bases[1];

    // Every acknowledged notification is stored, each episode once.
    let stored = incidents(&client, survivor).await;
    let titles: BTreeSet<String> =
        stored.iter().map(|incident| incident["title"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(titles.len(), stored.len(), "an episode became two incidents");
    for index in &acked {
        assert!(titles.contains(&format!("Crash{index}")), "acknowledged notification {index} was lost");
    }
    assert!(stored.iter().all(|incident| incident["counts"]["webhooks"] == 1), "a notification stored twice");
    // The senders try again (what was not acknowledged, and some that were), at the
    // survivors: each is taken once.
    for index in 0..EPISODES {
        let response = client
            .post(format!("{}/webhooks/alertmanager", bases[1 + index % 2]))
            .header("content-type", "application/json")
            .body(resolved_body(index, started))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let stored = incidents(&client, survivor).await;
    assert_eq!(stored.len(), EPISODES);
    assert!(stored.iter().all(|incident| incident["counts"]["webhooks"] == 1));

    // The survivors finish every job, the dead replica's too once its lease (3 s) lapsed, and
    // no pass is stored twice.
    let ids: Vec<i64> = stored.iter().map(|incident| incident["id"].as_i64().unwrap()).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut unfinished = ids.clone();
    while !unfinished.is_empty() {
        assert!(std::time::Instant::now() < deadline, "{} jobs never finished: {unfinished:?}", unfinished.len());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut still = Vec::new();
        for id in unfinished {
            let incident: serde_json::Value =
                client.get(format!("{survivor}/api/v1/incidents/{id}")).send().await.unwrap().json().await.unwrap();
            if incident["collection"]["finished_at"].is_string() {
                assert_eq!(incident["collection"]["passes"], 1, "a pass stored twice: {incident}");
            } else {
                still.push(id);
            }
        }
        unfinished = still;
    }

    for replica in &mut replicas[1..] {
        let _ = replica.kill();
        let _ = replica.wait();
    }
    let _ = std::fs::remove_dir_all(&folder);
}
