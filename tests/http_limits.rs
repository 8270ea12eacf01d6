//! The HTTP surface under slow, stalled and unauthenticated clients (issue 13, points 1 and
//! 2), against the real binary over loopback: hundreds of connections that trickle headers,
//! idle or stall a body, beyond the connection cap and under a low open-file limit, do not
//! keep `/healthz` or a webhook waiting; stalled uploads cannot grow the daemon's memory
//! past the body budget; a 401 is answered from the headers, before any of the body.
//! In process (`router(..).oneshot`): a request that cannot get budget waits for it up to
//! `server.body_timeout`, then gets 503 with `Retry-After`.

mod support;

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use postmortemd::api::{AppState, router};
use postmortemd::config::{Secret, Settings};
use postmortemd::store::Store;
use support::daemon::Served;
use support::services::{eventually, scratch_folder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

const TOKEN: &str = "t0ken";

fn notification(name: &str) -> String {
    serde_json::json!({
        "version": "4", "receiver": "postmortemd", "status": "firing", "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {"alertname": name}, "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": [{"status": "firing", "labels": {"alertname": name}, "annotations": {},
            "startsAt": "2025-02-09T10:06:15Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "0123456789abcdef"}]
    })
    .to_string()
}

/// The value of the sample `series` (name and labels exactly as exposed) in `/metrics`.
async fn metric(client: &reqwest::Client, base: &str, series: &str) -> f64 {
    let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from\n{text}"))
}

/// `/healthz` and a webhook bearing the token, each on a new connection (no pool): both
/// must answer 200; returns how long each took, for the report.
async fn probe_and_webhook(daemon: &Served, name: &str) -> (Duration, Duration) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(30)).build().unwrap();
    let started = Instant::now();
    let health = client.get(format!("{}/healthz", daemon.base)).send().await.expect("/healthz answers");
    let health_took = started.elapsed();
    assert_eq!(health.status(), StatusCode::OK);
    let started = Instant::now();
    let webhook = client
        .post(format!("{}/webhooks/alertmanager", daemon.base))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(notification(name))
        .send()
        .await
        .expect("the webhook is answered");
    let webhook_took = started.elapsed();
    let status = webhook.status();
    assert_eq!(status, StatusCode::OK, "{}", webhook.text().await.unwrap_or_default());
    (health_took, webhook_took)
}

/// 300 connections, a third of each kind: trickling header bytes, idle keep-alives after
/// one request, bodies stalled after a few bytes, against a daemon whose open-file limit
/// (192) allows 144 connections and whose timeouts (10 min) cannot be what frees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_stalled_clients_beyond_the_cap_do_not_keep_healthz_or_a_webhook_waiting() {
    let daemon = Served::start(
        "http-slow-clients",
        &[
            ("POSTMORTEMD_SERVER__HEADER_TIMEOUT", "10m"),
            ("POSTMORTEMD_SERVER__BODY_TIMEOUT", "10m"),
            ("POSTMORTEMD_WEBHOOKS__ALERTMANAGER__BEARER_TOKEN", TOKEN),
        ],
        Some(192),
    )
    .await;
    assert!(daemon.log().contains("server.max_connections lowered"), "{}", daemon.log());
    let address = format!("127.0.0.1:{}", daemon.port);
    let mut trickling = Vec::new();
    let mut held = Vec::new();
    for index in 0..300 {
        let mut stream = TcpStream::connect(&address).await.expect("the kernel takes the connection");
        match index % 3 {
            0 => {
                stream.write_all(b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: slow\r\nX-Slow: ").await.unwrap();
                trickling.push(stream);
            }
            1 => {
                stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: idle\r\n\r\n").await.unwrap();
                let mut answer = [0; 512];
                let _ = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut answer)).await;
                held.push(stream);
            }
            _ => {
                stream
                    .write_all(
                        b"POST /webhooks/pagerduty HTTP/1.1\r\nHost: stalled\r\nContent-Type: application/json\r\n\
                          Content-Length: 100000\r\n\r\n{\"event\":",
                    )
                    .await
                    .unwrap();
                held.push(stream);
            }
        }
    }
    // The trickling ones go on sending a byte at a time (those evicted fail, which is fine).
    let trickler = tokio::spawn(async move {
        loop {
            for stream in &mut trickling {
                let _ = stream.write_all(b"a").await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let (health_took, webhook_took) = probe_and_webhook(&daemon, "AmidSlowClients").await;
    println!("with 300 slow clients against a cap of 144: /healthz {health_took:?}, webhook {webhook_took:?}");
    let client = reqwest::Client::new();
    assert!(metric(&client, &daemon.base, "postmortemd_http_connections_evicted_total").await > 0.0);
    assert!(metric(&client, &daemon.base, "postmortemd_http_connections_open").await <= 144.0);
    assert!(daemon.open_fds() < 192, "{} open", daemon.open_fds());
    assert!(!daemon.log().contains("Accepting a connection failed"), "{}", daemon.log());
    trickler.abort();
    drop(held);
}

/// 300 uploads to the PagerDuty route, each declaring 1 MiB and stalling after 1,000,000
/// bytes, against a 8 MiB body budget: the daemon holds at most the budget (and a small
/// buffer per connection), not 300 MB; a webhook bearing its token still gets in, and a
/// wrong token is answered 401 without the body being sent at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_uploads_cannot_grow_memory_and_a_401_reads_no_body() {
    const UPLOADS: usize = 300;
    const SENT: usize = 1_000_000;
    let daemon = Served::start(
        "http-stalled-uploads",
        &[
            ("POSTMORTEMD_SERVER__HEADER_TIMEOUT", "10m"),
            ("POSTMORTEMD_SERVER__BODY_TIMEOUT", "10m"),
            ("POSTMORTEMD_SERVER__MAX_BODY_BYTES_IN_FLIGHT", "8MiB"),
            ("POSTMORTEMD_WEBHOOKS__ALERTMANAGER__BEARER_TOKEN", TOKEN),
            ("POSTMORTEMD_WEBHOOKS__PAGERDUTY__SIGNING_SECRETS", "s3cret"),
        ],
        None,
    )
    .await;
    let rss_before = daemon.rss_bytes();
    let address = format!("127.0.0.1:{}", daemon.port);
    let mut uploads = tokio::task::JoinSet::new();
    for _ in 0..UPLOADS {
        let address = address.clone();
        uploads.spawn(async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            let head = format!(
                "POST /webhooks/pagerduty HTTP/1.1\r\nHost: stalled\r\nContent-Type: application/json\r\n\
                 X-PagerDuty-Signature: v1=00\r\nContent-Length: {}\r\n\r\n",
                1 << 20
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            let _ = stream.write_all(&vec![b' '; SENT]).await;
            // Stalled: the last 48,576 bytes never come.
            std::future::pending::<()>().await;
        });
    }
    let client = reqwest::Client::new();
    // Every upload's headers are in: it holds budget or waits for it (the budget's 8 MiB,
    // half of it for unauthenticated bodies, takes 4 of them).
    eventually("every upload to hold or wait for the body budget", async || {
        let waiting = metric(&client, &daemon.base, "postmortemd_http_requests_waiting{for=\"body_budget\"}").await;
        (waiting >= (UPLOADS - 4) as f64).then_some(())
    })
    .await;
    let (health_took, webhook_took) = probe_and_webhook(&daemon, "AmidStalledUploads").await;
    let grown = daemon.rss_bytes().saturating_sub(rss_before);
    println!(
        "with {UPLOADS} stalled uploads of 1 MB: RSS grew {} MiB; /healthz {health_took:?}, webhook {webhook_took:?}",
        grown >> 20
    );
    // Before the budget, each upload's megabyte was read into memory: 300 MB and more.
    let bound = (8 << 20) + UPLOADS as u64 * (64 << 10) + (48 << 20);
    assert!(grown < bound, "RSS grew {grown} bytes with {UPLOADS} stalled uploads, more than {bound}");

    // Auth first: a wrong token is refused from the headers, the declared megabyte unsent.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\
              Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut answer))
        .await
        .expect("a 401 comes without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    uploads.abort_all();
}

/// The daemon in process over a scratch SQLite file, with `configure`d settings.
async fn in_process(name: &str, configure: impl FnOnce(&mut Settings)) -> AppState {
    let folder = scratch_folder(name);
    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}/postmortemd.db", folder.display());
    configure(&mut settings);
    let store = Store::open(&settings.store.url).await.expect("store opens");
    AppState::new(settings, store)
}

fn post(uri: &str, headers: &[(&str, &str)], body: Body) -> Request<Body> {
    let mut request = Request::post(uri).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body).unwrap()
}

#[tokio::test]
async fn a_request_that_cannot_get_body_budget_waits_then_gets_503_with_retry_after() {
    let state = in_process("http-budget", |settings| {
        settings.server.max_body_bytes_in_flight = 64 << 10;
        settings.server.body_timeout = jiff::SignedDuration::from_millis(300);
        settings.webhooks.alertmanager_bearer_token = Some(Secret::new(TOKEN));
    })
    .await;
    // Uploads that stalled hold the whole unauthenticated share.
    let held = state.limits.reserve(32 << 10, false).await;
    assert_eq!(state.limits.free_body_bytes(false), 0);
    // A second unauthenticated body finds the share taken: 503, Retry-After, JSON.
    let response = router(state.clone())
        .oneshot(post("/webhooks/pagerduty", &[("content-length", "2")], Body::from("{}")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(error["error"].as_str().unwrap().contains("max_body_bytes_in_flight"), "{error}");
    // A sender that proved itself in its headers draws from the rest of the budget.
    let authorization = format!("Bearer {TOKEN}");
    let response = router(state.clone())
        .oneshot(post(
            "/webhooks/alertmanager",
            &[("authorization", &authorization)],
            Body::from(notification("Authenticated")),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(held);
    // An upload that stalls gives up at the body timeout: 503 too (senders retry it).
    let (_sender, stalled) = http_body_util::channel::Channel::<Bytes, std::convert::Infallible>::new(1);
    let response = router(state.clone())
        .oneshot(post("/webhooks/pagerduty", &[("content-length", "100")], Body::new(stalled)))
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("server.body_timeout"));
    let text = state.metrics.render(0);
    assert!(text.contains("postmortemd_http_requests_shed_total{reason=\"body_budget\"} 1\n"), "{text}");
    assert!(text.contains("postmortemd_http_requests_shed_total{reason=\"body_timeout\"} 1\n"), "{text}");
}
