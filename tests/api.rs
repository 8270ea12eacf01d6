//! The daemon's handlers in process (`router(state).oneshot(request)`) over a real SQLite
//! file: webhooks are stored once and answered only then, bad input is a 4xx that says
//! what is wrong and stores nothing, and incidents and timelines read back.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use postmortemd::api::{AppState, router};
use postmortemd::config::{Secret, Settings};
use postmortemd::record::NotConfiguredRecord;
use postmortemd::store::Store;
use tower::ServiceExt;

struct Daemon {
    state: AppState,
    _folder: TempFolder,
}

/// A folder removed when dropped.
struct TempFolder(std::path::PathBuf);

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn daemon(configure: impl FnOnce(&mut Settings)) -> Daemon {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let folder = std::env::temp_dir().join(format!(
        "postmortemd-api-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}/postmortemd.db", folder.display());
    configure(&mut settings);
    let store = Store::open(&settings.store.url).await.expect("store opens");
    Daemon { state: AppState::new(settings, store), _folder: TempFolder(folder) }
}

impl Daemon {
    async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let (status, _, body) = self.exchange(request).await;
        (status, body)
    }

    /// The status, headers and body of the answer to `request`.
    async fn exchange(&self, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
    }

    async fn get(&self, uri: &str) -> (StatusCode, String) {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    async fn post(&self, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> (StatusCode, String) {
        let mut request = Request::post(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    /// One page of `GET /api/v1/incidents{query}`: its incidents (a JSON array) and its
    /// `next_cursor`, after checking the answer is a 200 of that shape.
    async fn list(&self, query: &str) -> (serde_json::Value, Option<String>) {
        let (status, body) = self.get(&format!("/api/v1/incidents{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(page["incidents"].is_array(), "{page}");
        let next = match &page["next_cursor"] {
            serde_json::Value::Null => None,
            serde_json::Value::String(cursor) => Some(cursor.clone()),
            other => panic!("next_cursor: {other}"),
        };
        (page["incidents"].clone(), next)
    }

    async fn webhook_count(&self) -> i64 {
        self.state.store.count_webhooks().await.unwrap()
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

fn firing(group_key: &str, starts_at: &str) -> String {
    serde_json::json!({
        "version": "4", "receiver": "postmortemd", "status": "firing", "groupKey": group_key,
        "truncatedAlerts": 0, "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "severity": "critical", "namespace": "shop"},
        "commonAnnotations": {"summary": "API 5xx ratio above 5%"}, "externalURL": "http://am:9093",
        "notification_reason": "new",
        "alerts": [{
            "status": "firing", "labels": {"alertname": "HighErrorRate", "severity": "critical", "namespace": "shop"},
            "annotations": {"summary": "API 5xx ratio above 5%"}, "startsAt": starts_at,
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom:9090/graph?g0.expr=up\u{0026}g0.tab=1",
            "fingerprint": "a1b2c3d4e5f60718"
        }]
    })
    .to_string()
}

fn resolved(group_key: &str, starts_at: &str, ends_at: &str) -> String {
    firing(group_key, starts_at)
        .replace(r#""status":"firing""#, r#""status":"resolved""#)
        .replace("0001-01-01T00:00:00Z", ends_at)
}

#[tokio::test]
async fn an_alertmanager_group_becomes_an_incident_with_its_timeline() {
    let daemon = daemon(|_| {}).await;
    let body = firing(r#"{}:{alertname="HighErrorRate"}"#, "2025-02-09T10:06:15.347Z");
    let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains(r#""status":"stored""#), "{answer}");
    // Alertmanager re-sends the same snapshot every group_interval: stored once.
    let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body).await;
    assert_eq!((status, answer.contains(r#""status":"duplicate""#)), (StatusCode::OK, true), "{answer}");
    let resolved_body =
        resolved(r#"{}:{alertname="HighErrorRate"}"#, "2025-02-09T10:06:15.347Z", "2025-02-09T10:35:00Z");
    assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], resolved_body).await.0, StatusCode::OK);
    assert_eq!(daemon.webhook_count().await, 2);

    let (list, next) = daemon.list("").await;
    assert_eq!((list.as_array().map(Vec::len), next), (Some(1), None), "{list}");
    assert_eq!(list[0]["status"], "resolved");
    assert_eq!(list[0]["title"], "HighErrorRate: API 5xx ratio above 5%");
    let id = list[0]["id"].as_i64().unwrap();

    let (status, json) = daemon.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let timeline: serde_json::Value = serde_json::from_str(&json).unwrap();
    let events: Vec<(&str, &str)> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["time"].as_str().unwrap(), entry["event"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        vec![
            ("2025-02-09T10:06:15.347Z", "HighErrorRate firing (critical): API 5xx ratio above 5%"),
            ("2025-02-09T10:35:00.000Z", "HighErrorRate resolved"),
        ]
    );
    let (status, markdown) = daemon.get(&format!("/api/v1/incidents/{id}/timeline?format=md")).await;
    assert!(status == StatusCode::OK && markdown.contains("| 10:06:15 | HighErrorRate firing"), "{markdown}");
    let (status, page) = daemon.get("/").await;
    assert!(
        status == StatusCode::OK && page.contains(&format!("/api/v1/incidents/{id}/timeline?format=html")),
        "{page}"
    );
    assert_eq!(daemon.get("/api/v1/incidents/999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(daemon.get(&format!("/api/v1/incidents/{id}/timeline?format=pdf")).await.0, StatusCode::BAD_REQUEST);
    // What was looked at: the stored notifications, each a file of the bundle.
    let coverage = timeline["coverage"].as_array().unwrap();
    assert_eq!(coverage.len(), 2, "{coverage:#?}");
    assert!(
        coverage.iter().all(|row| row["kind"] == "alertmanager-webhook" && row["status"] == "read"),
        "{coverage:#?}"
    );
}

#[tokio::test]
async fn a_daemon_without_collectors_says_so_in_every_timeline() {
    let daemon = daemon(|_| {}).await;
    let not_configured =
        |source: &str, hint: &str| NotConfiguredRecord { source: source.to_owned(), hint: hint.to_owned() };
    let state = daemon.state.clone().not_collecting(vec![
        not_configured("kubernetes", "set kubernetes.kubeconfig, or run in a cluster with a service account"),
        not_configured("prometheus", "set prometheus.url"),
    ]);
    let daemon = Daemon { state, _folder: daemon._folder };
    let body = firing(r#"{}:{alertname="HighErrorRate"}"#, "2025-02-09T10:06:15.347Z");
    assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], body).await.0, StatusCode::OK);
    let id = daemon.list("").await.0[0]["id"].as_i64().unwrap();
    let (status, json) = daemon.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let timeline: serde_json::Value = serde_json::from_str(&json).unwrap();
    let collectors: Vec<(&str, &str, &str)> = timeline["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["kind"] == "collector")
        .map(|row| {
            (row["source"].as_str().unwrap(), row["status"].as_str().unwrap(), row["left_out"][0].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        collectors,
        vec![
            (
                "kubernetes",
                "not_configured",
                "not configured: set kubernetes.kubeconfig, or run in a cluster with a service account"
            ),
            ("prometheus", "not_configured", "not configured: set prometheus.url"),
        ]
    );
    let (_, markdown) = daemon.get(&format!("/api/v1/incidents/{id}/timeline?format=md")).await;
    assert!(
        markdown.contains(
            "| prometheus | collector | not configured | nothing | - | - | - | not configured: set prometheus.url |"
        ),
        "{markdown}"
    );
}

/// Headers, body, the status it must get, a text its answer must contain.
type BadCase = (Vec<(&'static str, &'static str)>, Vec<u8>, StatusCode, &'static str);

#[tokio::test]
async fn bad_webhooks_are_4xx_that_say_what_is_wrong_and_store_nothing() {
    let daemon = daemon(|settings| settings.server.max_body_bytes = 64 * 1024).await;
    let good = firing("{}:{}", "2025-02-09T10:06:15Z");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = format!(r#"{{"version":"4","alerts":[{}]}}"#, vec!["{}"; 40_000].join(","));
    let cases: Vec<BadCase> = vec![
        (vec![JSON], good.as_bytes()[..good.len() / 2].to_vec(), StatusCode::BAD_REQUEST, "truncated"),
        (
            vec![JSON],
            good.replace(r#""version":"4""#, r#""version":"3""#).into_bytes(),
            StatusCode::BAD_REQUEST,
            "version",
        ),
        (
            vec![JSON],
            good.replace("2025-02-09T10:06:15Z", "yesterday").into_bytes(),
            StatusCode::BAD_REQUEST,
            "alerts[0].startsAt",
        ),
        (
            vec![JSON],
            good.replace(r#""truncatedAlerts":0"#, r#""truncatedAlerts":"many""#).into_bytes(),
            StatusCode::BAD_REQUEST,
            "truncatedAlerts",
        ),
        (vec![JSON], deep.into_bytes(), StatusCode::BAD_REQUEST, ""),
        (vec![JSON], huge.into_bytes(), StatusCode::PAYLOAD_TOO_LARGE, ""),
        (vec![JSON], b"\xff\xfe\x00 not utf-8".to_vec(), StatusCode::BAD_REQUEST, ""),
        (
            vec![("content-type", "text/plain")],
            good.clone().into_bytes(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type",
        ),
        (vec![JSON], Vec::new(), StatusCode::BAD_REQUEST, "empty body"),
    ];
    for (headers, body, expected_status, expected_text) in cases {
        let (status, answer) = daemon.post("/webhooks/alertmanager", &headers, body).await;
        assert_eq!(status, expected_status, "{answer}");
        assert!(answer.contains(expected_text), "{expected_status}: {answer}");
    }
    assert_eq!(daemon.webhook_count().await, 0);
}

#[tokio::test]
async fn webhook_authentication() {
    let daemon = daemon(|settings| {
        settings.webhooks.alertmanager_bearer_token = Some(Secret::new("t0ken"));
        settings.webhooks.pagerduty_signing_secrets = vec![Secret::new("old"), Secret::new("new")];
    })
    .await;
    let body = firing("{}:{}", "2025-02-09T10:06:15Z");
    assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], body.clone()).await.0, StatusCode::UNAUTHORIZED);
    let wrong = [JSON, ("authorization", "Bearer nope")];
    assert_eq!(daemon.post("/webhooks/alertmanager", &wrong, body.clone()).await.0, StatusCode::UNAUTHORIZED);
    let right = [JSON, ("authorization", "Bearer t0ken")];
    assert_eq!(daemon.post("/webhooks/alertmanager", &right, body).await.0, StatusCode::OK);

    let event = r#"{"event":{"id":"01ABC","event_type":"incident.acknowledged","resource_type":"incident","occurred_at":"2025-02-09T10:12:00.000Z","agent":{"type":"user_reference","summary":"Alice Example"},"client":null,"data":{"id":"PINC1","type":"incident","title":"HighErrorRate","incident_key":"x"}}}"#;
    let sign = |secret: &str, body: &str| {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let cases = [
        (None, event.to_owned(), StatusCode::UNAUTHORIZED),
        (Some(sign("wrong", event)), event.to_owned(), StatusCode::UNAUTHORIZED),
        (Some(sign("new", event)), event.replace("Alice", "Mallory"), StatusCode::UNAUTHORIZED),
        (Some(format!("{},{}", sign("gone", event), sign("old", event))), event.to_owned(), StatusCode::OK),
        (Some(sign("new", event)), event.to_owned(), StatusCode::OK),
    ];
    for (signature, body, expected) in cases {
        let mut headers = vec![JSON, ("x-webhook-id", "wh-1")];
        if let Some(signature) = signature.as_deref() {
            headers.push(("x-pagerduty-signature", signature));
        }
        let (status, answer) = daemon.post("/webhooks/pagerduty", &headers, body).await;
        assert_eq!(status, expected, "{answer}");
    }
    // The retried delivery (same X-Webhook-Id) was stored once: one Alertmanager, one PagerDuty.
    assert_eq!(daemon.webhook_count().await, 2);
}

#[tokio::test]
async fn pagerduty_events_become_rows_with_their_actor_and_pings_are_not_shown() {
    let daemon = daemon(|_| {}).await;
    let event = |id: &str, event_type: &str, at: &str, data: serde_json::Value| {
        serde_json::json!({"event": {"id": id, "event_type": event_type, "resource_type": "incident", "occurred_at": at,
            "agent": {"type": "user_reference", "summary": "Alice Example"}, "client": null, "data": data}})
        .to_string()
    };
    let incident = serde_json::json!({"id": "PINC1", "type": "incident", "title": "Checkout down", "incident_key": "k-1",
        "status": "triggered", "html_url": "https://example.pagerduty.com/incidents/PINC1"});
    let note = serde_json::json!({"id": "PNOTE", "type": "incident_note", "content": "rolling back inventory",
        "incident": {"id": "PINC1", "type": "incident_reference"}});
    let bodies = [
        event("e1", "incident.triggered", "2025-02-09T10:06:50.000Z", incident.clone()),
        event("e2", "incident.acknowledged", "2025-02-09T10:12:00.000Z", incident.clone()),
        event("e3", "incident.annotated", "2025-02-09T10:18:00.000Z", note),
        event("e4", "incident.resolved", "2025-02-09T10:36:00.000Z", incident),
        serde_json::json!({"event": {"id": "p1", "event_type": "pagey.ping", "resource_type": "pagey",
            "occurred_at": "2025-02-09T10:00:00.000Z", "agent": null, "client": null, "data": {"message": "Hello"}}})
        .to_string(),
    ];
    for body in bodies {
        let (status, answer) = daemon.post("/webhooks/pagerduty", &[JSON], body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let list = daemon.list("").await.0;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["status"], "resolved");
    let id = list[0]["id"].as_i64().unwrap();
    let (_, markdown) = daemon.get(&format!("/api/v1/incidents/{id}/timeline?format=md")).await;
    for row in ["| 10:12:00 |", "Alice Example", "Note: rolling back inventory", "| 10:36:00 |"] {
        assert!(markdown.contains(row), "{row} missing in\n{markdown}");
    }
    assert!(!markdown.contains("Hello"), "{markdown}");
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let daemon = daemon(|_| {}).await;
    assert_eq!(daemon.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(daemon.get("/readyz").await.0, StatusCode::OK);
    daemon.post("/webhooks/alertmanager", &[JSON], firing("{}:{}", "2025-02-09T10:06:15Z")).await;
    daemon.post("/webhooks/alertmanager", &[JSON], "{").await;
    let (status, metrics) = daemon.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains(r#"postmortemd_webhooks_received_total{source="alertmanager",outcome="stored"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"postmortemd_webhooks_received_total{source="alertmanager",outcome="rejected"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("postmortemd_incidents_open 1"), "{metrics}");
}

#[tokio::test]
async fn an_incidents_post_mortem_is_drafted_from_its_timeline() {
    let daemon = daemon(|_| {}).await;
    let group = r#"{}:{alertname="HighErrorRate"}"#;
    assert_eq!(
        daemon.post("/webhooks/alertmanager", &[JSON], firing(group, "2025-02-09T10:06:15Z")).await.0,
        StatusCode::OK
    );
    let resolved_body = resolved(group, "2025-02-09T10:06:15Z", "2025-02-09T10:35:00Z");
    assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], resolved_body).await.0, StatusCode::OK);
    let list = daemon.list("").await.0;
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["links"]["postmortem"], format!("/api/v1/incidents/{id}/postmortem"));

    let (status, markdown) = daemon.get(&format!("/api/v1/incidents/{id}/postmortem?format=md")).await;
    assert_eq!(status, StatusCode::OK, "{markdown}");
    assert!(markdown.starts_with("# Post-Mortem: HighErrorRate: API 5xx ratio above 5% (2025-02-09)"), "{markdown}");
    assert!(markdown.contains("| Detected | 10:06:15 | [row 1](#row-1): HighErrorRate firing"), "{markdown}");
    // Only an alert: the impact start and the page are unknown, never guessed.
    assert!(markdown.contains("| Impact start | unknown |"), "{markdown}");
    assert!(markdown.contains("| Resolved | 10:35:00 |"), "{markdown}");

    let request = Request::get(format!("/api/v1/incidents/{id}/postmortem"))
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap();
    let (status, html) = daemon.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.starts_with("<!doctype html>"), "{html}");
    let (status, json) = daemon.get(&format!("/api/v1/incidents/{id}/postmortem")).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["moments"][1]["kind"], "detected");
    // The same timeline the timeline route serves.
    let (_, timeline) = daemon.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(json["timeline"], serde_json::from_str::<serde_json::Value>(&timeline).unwrap());

    let (status, error) = daemon.get(&format!("/api/v1/incidents/{id}/postmortem?format=pdf")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.contains(r#""error":"format: unknown format \"pdf\""#), "{error}");
    let (status, error) = daemon.get("/api/v1/incidents/999/postmortem").await;
    assert_eq!((status, error.as_str()), (StatusCode::NOT_FOUND, r#"{"error":"no incident 999"}"#));
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_as_it_answers() {
    let daemon = daemon(|_| {}).await;
    daemon.post("/webhooks/alertmanager", &[JSON], firing("{}:{}", "2025-02-09T10:06:15Z")).await;
    let (status, document) = daemon.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let document: serde_json::Value = serde_json::from_str(&document).expect("the document is JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let routes = [
        ("post", "/webhooks/alertmanager"),
        ("post", "/webhooks/pagerduty"),
        ("get", "/api/v1/incidents"),
        ("get", "/api/v1/incidents/{id}"),
        ("get", "/api/v1/incidents/{id}/timeline"),
        ("get", "/api/v1/incidents/{id}/postmortem"),
        ("get", "/api/v1/incidents/{id}/evidence.tar.gz"),
        ("patch", "/api/v1/incidents/{id}"),
        ("post", "/api/v1/incidents/{id}/notes"),
        ("post", "/api/v1/incidents/{id}/resolve"),
        ("post", "/api/v1/incidents/{id}/merge"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("post", "/signin"),
        ("post", "/signout"),
    ];
    let documented: usize = paths.values().map(|path| path.as_object().map_or(0, |methods| methods.len())).sum();
    assert_eq!(documented, routes.len(), "every route documented, nothing documented that is not routed");
    for (method, path) in routes {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        // Each route answers with a status its operation documents.
        let uri = path.replace("{id}", "1");
        let request = match method {
            "post" => Request::post(&uri).header("content-type", "application/json").body(Body::from("{}")).unwrap(),
            "patch" => Request::patch(&uri).header("content-type", "application/json").body(Body::from("{}")).unwrap(),
            _ => Request::get(&uri).body(Body::empty()).unwrap(),
        };
        let (status, body) = daemon.send(request).await;
        assert!(
            operation["responses"].get(status.as_str()).is_some(),
            "{method} {path} answered {status}, which its operation does not document: {body}"
        );
    }
}

fn with_alert_times(body: &str, starts_at: &str) -> String {
    body.replace("2025-02-09T10:06:15Z", starts_at)
}

#[tokio::test]
async fn a_group_that_fires_again_after_a_quiet_period_is_a_new_incident() {
    let daemon = daemon(|_| {}).await;
    let group = r#"{}:{alertname="HighErrorRate"}"#;
    let base = firing(group, "2025-02-09T10:06:15Z");
    let steps = [
        with_alert_times(&base, "2025-02-09T10:00:00Z"),
        resolved(group, "2025-02-09T10:00:00Z", "2025-02-09T10:10:00Z"),
        // Fires again 10 minutes after resolving: the same episode (quiet period 30 min).
        with_alert_times(&base, "2025-02-09T10:20:00Z"),
        resolved(group, "2025-02-09T10:20:00Z", "2025-02-09T10:25:00Z"),
        // An hour later: a new incident.
        with_alert_times(&base, "2025-02-09T11:30:00Z"),
    ];
    for body in steps {
        assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], body).await.0, StatusCode::OK);
    }
    let list = daemon.list("").await.0;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:#?}");
    // Newest first: the new episode is open, the first one resolved with its four webhooks.
    assert_eq!((list[0]["status"].as_str(), list[0]["counts"]["webhooks"].as_i64()), (Some("open"), Some(1)));
    assert_eq!((list[1]["status"].as_str(), list[1]["counts"]["webhooks"].as_i64()), (Some("resolved"), Some(4)));
    assert_eq!(daemon.list("?status=open").await.0.as_array().map(Vec::len), Some(1));
    assert_eq!(daemon.get("/api/v1/incidents?status=sideways").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_page_from_alertmanagers_pagerduty_integration_joins_the_alert_incident() {
    use sha2::Digest;
    let daemon = daemon(|_| {}).await;
    let group = r#"{}/{severity="critical"}:{alertname="HighErrorRate"}"#;
    let mut body = firing(group, "2025-02-09T10:06:15Z");
    body = body.replace(r#""truncatedAlerts":0"#, r#""truncatedAlerts":3"#);
    assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], body).await.0, StatusCode::OK);
    // Alertmanager's PagerDuty integration sends sha256(groupKey) as the dedup_key, which
    // PagerDuty shows as the incident's incident_key.
    let incident_key = hex::encode(sha2::Sha256::digest(group.as_bytes()));
    let page =
        serde_json::json!({"event": {"id": "e1", "event_type": "incident.acknowledged", "resource_type": "incident",
        "occurred_at": "2025-02-09T10:12:00.000Z", "agent": {"type": "user_reference", "summary": "Alice Example"},
        "client": null, "data": {"id": "PINC9", "type": "incident", "title": "[FIRING:1] HighErrorRate",
        "incident_key": incident_key}}})
        .to_string();
    assert_eq!(daemon.post("/webhooks/pagerduty", &[JSON], page).await.0, StatusCode::OK);
    let list = daemon.list("").await.0;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["sources"], serde_json::json!(["alertmanager", "pagerduty"]));
    let id = list[0]["id"].as_i64().unwrap();
    let (_, markdown) = daemon.get(&format!("/api/v1/incidents/{id}/timeline?format=md")).await;
    assert!(markdown.contains("Alice Example") && markdown.contains("HighErrorRate firing"), "{markdown}");
    // max_alerts dropped three alerts from the notification: a gap says so.
    assert!(markdown.contains("3 alerts not delivered by Alertmanager"), "{markdown}");
}

#[tokio::test]
async fn the_read_api_takes_its_own_bearer_tokens() {
    let daemon = daemon(|settings| settings.api.bearer_tokens = vec![Secret::new("reader")]).await;
    // Webhooks are not behind the read API's tokens.
    assert_eq!(
        daemon.post("/webhooks/alertmanager", &[JSON], firing("{}:{}", "2025-02-09T10:06:15Z")).await.0,
        StatusCode::OK
    );
    assert_eq!(daemon.get("/api/v1/incidents").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(daemon.get("/").await.0, StatusCode::UNAUTHORIZED);
    let request =
        Request::get("/api/v1/incidents").header("authorization", "Bearer reader").body(Body::empty()).unwrap();
    assert_eq!(daemon.send(request).await.0, StatusCode::OK);
    assert_eq!(daemon.get("/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_browser_signs_in_once_and_api_clients_keep_json_errors() {
    let daemon = daemon(|settings| settings.api.bearer_tokens = vec![Secret::new("old"), Secret::new("reader")]).await;
    let page_request = |uri: &str, cookie: Option<&str>| {
        let mut request = Request::get(uri).header("accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.body(Body::empty()).unwrap()
    };
    let timeline = "/api/v1/incidents/1/timeline?format=html";

    // A browser gets the form, for what it came for; an API client gets JSON.
    let (status, headers, body) = daemon.exchange(page_request(timeline, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"), "{headers:?}");
    assert!(body.contains("<form method=\"post\" action=\"/signin\">"), "{body}");
    assert!(body.contains(&format!("name=\"next\" value=\"{}\"", timeline.replace('&', "&amp;"))), "{body}");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'") && !policy.contains("unsafe"), "{policy}");
    let (status, headers, body) = daemon.exchange(Request::get("/api/v1/incidents").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/json", "{body}");
    assert!(body.contains("bearer token"), "{body}");

    // A wrong token: the form again, saying so; no cookie.
    let sign_in = |token: &str, next: &str, https: bool| {
        let mut request = Request::post("/signin").header("content-type", "application/x-www-form-urlencoded");
        if https {
            request = request.header("x-forwarded-proto", "https");
        }
        let form = format!("token={token}&next={}", next.replace('%', "%25").replace('&', "%26").replace('?', "%3F"));
        request.body(Body::from(form)).unwrap()
    };
    let (status, headers, body) = daemon.exchange(sign_in("wrong", timeline, false)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get("set-cookie").is_none());
    assert!(body.contains("not one of this daemon's API tokens"), "{body}");

    // The right one: a session cookie, HttpOnly and SameSite=Strict, and back to the page.
    let (status, headers, _) = daemon.exchange(sign_in("reader", timeline, false)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], timeline);
    let set_cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["postmortemd_session=", "; Path=/", "; Max-Age=43200", "; HttpOnly", "; SameSite=Strict"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure") && !set_cookie.contains("reader"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    assert_eq!(daemon.exchange(page_request("/", Some(&cookie))).await.0, StatusCode::OK);
    let (status, _, body) = daemon.exchange(page_request("/api/v1/incidents", Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A forged cookie is no session.
    let forged = format!("{}0", &cookie[..cookie.len() - 1]);
    assert_eq!(daemon.exchange(page_request("/", Some(&forged))).await.0, StatusCode::UNAUTHORIZED);

    // Behind a TLS-terminating proxy the cookie is Secure; a next elsewhere goes home instead.
    let (_, headers, _) = daemon.exchange(sign_in("reader", "//evil.example/", true)).await;
    assert_eq!(headers["location"], "/");
    assert!(headers["set-cookie"].to_str().unwrap().ends_with("; Secure"), "{headers:?}");
    // Signing out clears it.
    let (status, headers, _) = daemon.exchange(Request::post("/signout").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["set-cookie"].to_str().unwrap().contains("postmortemd_session=; Path=/; Max-Age=0"), "{headers:?}");
}

/// A v3 incident event of PagerDuty incident `incident_id` on `service`, with an optional incident_key.
fn page(event_id: &str, incident_id: &str, service: &str, at: &str, incident_key: Option<&str>) -> String {
    let mut data = serde_json::json!({"id": incident_id, "type": "incident", "title": "Checkout is slow",
        "status": "triggered", "service": {"id": "PSVC42", "type": "service_reference", "summary": service}});
    if let Some(key) = incident_key {
        data["incident_key"] = serde_json::Value::from(key);
    }
    serde_json::json!({"event": {"id": event_id, "event_type": "incident.triggered", "resource_type": "incident",
        "occurred_at": at, "agent": {"type": "user_reference", "summary": "Bob Example"}, "client": null, "data": data}})
    .to_string()
}

/// An Alertmanager notification of `group` with these common labels, firing from `starts_at`.
fn firing_with_labels(group: &str, starts_at: &str, labels: serde_json::Value) -> String {
    let mut body: serde_json::Value = serde_json::from_str(&firing(group, starts_at)).unwrap();
    body["commonLabels"] = labels.clone();
    body["alerts"][0]["labels"] = labels;
    body.to_string()
}

/// The incidents the API lists, newest first: (id, title, sources).
async fn incidents(daemon: &Daemon) -> Vec<(i64, String, serde_json::Value)> {
    daemon
        .list("")
        .await
        .0
        .as_array()
        .unwrap()
        .iter()
        .map(|incident| {
            (
                incident["id"].as_i64().unwrap(),
                incident["title"].as_str().unwrap().to_owned(),
                incident["sources"].clone(),
            )
        })
        .collect()
}

/// The incident a webhook was stored in, from the webhook's answer.
async fn post_incident(daemon: &Daemon, uri: &str, body: String) -> i64 {
    let (status, answer) = daemon.post(uri, &[JSON], body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    answer["incident"].as_i64().unwrap_or_else(|| panic!("no incident in {answer}"))
}

fn with_checkout_link(settings: &mut Settings) {
    let labels = [("namespace", "shop"), ("service", "checkout")];
    settings.webhooks.pagerduty_links = vec![postmortemd::config::PagerDutyLink {
        service: "Checkout API".to_owned(),
        labels: labels.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
    }];
}

#[tokio::test]
async fn a_page_of_a_linked_service_joins_the_alert_incident_it_overlaps() {
    let daemon = daemon(with_checkout_link).await;
    let labels = serde_json::json!({"alertname": "CheckoutLatency", "namespace": "shop", "service": "checkout",
        "severity": "critical"});
    let alert = post_incident(
        &daemon,
        "/webhooks/alertmanager",
        firing_with_labels(r#"{}:{alertname="CheckoutLatency"}"#, "2025-02-09T10:00:00Z", labels),
    )
    .await;
    // A page that came another way (its own incident_key, which links nothing) at 10:05.
    let linked = page("p1", "PABC", "Checkout API", "2025-02-09T10:05:00.000Z", Some("grafana-7f3a"));
    assert_eq!(post_incident(&daemon, "/webhooks/pagerduty", linked).await, alert);
    // Its later events follow the PagerDuty incident, even without a service.
    let note =
        serde_json::json!({"event": {"id": "p2", "event_type": "incident.annotated", "resource_type": "incident",
        "occurred_at": "2025-02-09T10:09:00.000Z", "agent": {"type": "user_reference", "summary": "Bob Example"},
        "client": null, "data": {"id": "PNOTE", "type": "incident_note", "content": "failing over",
        "incident": {"id": "PABC", "type": "incident_reference"}}}})
        .to_string();
    assert_eq!(post_incident(&daemon, "/webhooks/pagerduty", note).await, alert);
    let listed = incidents(&daemon).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].2, serde_json::json!(["alertmanager", "pagerduty"]));
    let (_, markdown) = daemon.get(&format!("/api/v1/incidents/{alert}/timeline?format=md")).await;
    assert!(markdown.contains("Bob Example") && markdown.contains("failing over"), "{markdown}");
}

#[tokio::test]
async fn a_page_links_by_rule_only_to_matching_labels_overlapping_times_and_its_own_service() {
    let daemon = daemon(|settings| {
        with_checkout_link(settings);
        settings.webhooks.pagerduty_links[0].service = "PSVC42".to_owned();
        settings.webhooks.pagerduty_link_within = jiff::SignedDuration::from_mins(15);
    })
    .await;
    let group = r#"{}:{alertname="CheckoutLatency"}"#;
    let labels = serde_json::json!({"alertname": "CheckoutLatency", "namespace": "shop", "service": "checkout"});
    let alert = post_incident(
        &daemon,
        "/webhooks/alertmanager",
        firing_with_labels(group, "2025-02-09T10:00:00Z", labels.clone()),
    )
    .await;
    let mut resolved_body: serde_json::Value =
        serde_json::from_str(&resolved(group, "2025-02-09T10:00:00Z", "2025-02-09T10:30:00Z")).unwrap();
    resolved_body["commonLabels"] = labels;
    assert_eq!(post_incident(&daemon, "/webhooks/alertmanager", resolved_body.to_string()).await, alert);
    // Another group, firing at the same time, whose labels differ (namespace "billing").
    let other = post_incident(
        &daemon,
        "/webhooks/alertmanager",
        firing_with_labels(
            r#"{}:{alertname="BillingLatency"}"#,
            "2025-02-09T10:01:00Z",
            serde_json::json!({"alertname": "BillingLatency", "namespace": "billing", "service": "checkout"}),
        ),
    )
    .await;
    assert_ne!(other, alert);

    // Resolved at 10:30, link_within 15m: a page at 10:50 is out of time and so is one
    // before 09:45: each opens its own.
    let late = page("q2", "PIN2", "Renamed service", "2025-02-09T10:50:00.000Z", None);
    let late_incident = post_incident(&daemon, "/webhooks/pagerduty", late).await;
    let early = page("q3", "PIN3", "Renamed service", "2025-02-09T09:40:00.000Z", None);
    let early_incident = post_incident(&daemon, "/webhooks/pagerduty", early).await;
    // A page of a service no rule names never links by rule.
    let unruled =
        serde_json::from_str::<serde_json::Value>(&page("q4", "PIN4", "Search", "2025-02-09T10:05:00.000Z", None))
            .map(|mut value| {
                value["event"]["data"]["service"]["id"] = serde_json::Value::from("PSEARCH");
                value.to_string()
            })
            .unwrap();
    let unruled_incident = post_incident(&daemon, "/webhooks/pagerduty", unruled).await;
    let opened = [late_incident, early_incident, unruled_incident];
    for incident in opened {
        assert!(![alert, other].contains(&incident), "{incident} joined an alert incident");
    }
    // A page at 10:40 joins it (its service matched by id; the triggered page reopens it).
    let within = page("q1", "PIN1", "Renamed service", "2025-02-09T10:40:00.000Z", None);
    assert_eq!(post_incident(&daemon, "/webhooks/pagerduty", within).await, alert);
    assert_eq!(incidents(&daemon).await.len(), 5);
}

#[tokio::test]
async fn a_page_links_by_rule_to_no_incident_when_the_labels_differ() {
    let daemon = daemon(with_checkout_link).await;
    let alert = post_incident(
        &daemon,
        "/webhooks/alertmanager",
        firing_with_labels(
            r#"{}:{alertname="CheckoutLatency"}"#,
            "2025-02-09T10:00:00Z",
            // namespace matches, service is missing: not every label of the rule.
            serde_json::json!({"alertname": "CheckoutLatency", "namespace": "shop"}),
        ),
    )
    .await;
    let incident = post_incident(
        &daemon,
        "/webhooks/pagerduty",
        page("r1", "PR1", "Checkout API", "2025-02-09T10:05:00.000Z", None),
    )
    .await;
    assert_ne!(incident, alert);
    let listed = incidents(&daemon).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].1, "Checkout is slow");
}

#[tokio::test]
async fn an_incident_key_wins_over_a_fallback_rule() {
    use sha2::Digest;
    let daemon = daemon(with_checkout_link).await;
    let labels = serde_json::json!({"alertname": "CheckoutLatency", "namespace": "shop", "service": "checkout"});
    let matching = post_incident(
        &daemon,
        "/webhooks/alertmanager",
        firing_with_labels("{}:{a=\"1\"}", "2025-02-09T10:00:00Z", labels),
    )
    .await;
    let keyed_group = r#"{}:{alertname="DiskFull"}"#;
    let keyed = post_incident(
        &daemon,
        "/webhooks/alertmanager",
        firing_with_labels(keyed_group, "2025-02-09T09:00:00Z", serde_json::json!({"alertname": "DiskFull"})),
    )
    .await;
    // The newer, rule-matching incident does not take the page whose incident_key names the other group.
    let incident_key = hex::encode(sha2::Sha256::digest(keyed_group.as_bytes()));
    let body = page("s1", "PS1", "Checkout API", "2025-02-09T10:05:00.000Z", Some(&incident_key));
    assert_eq!(post_incident(&daemon, "/webhooks/pagerduty", body).await, keyed);
    assert_ne!(keyed, matching);
}

#[tokio::test]
async fn an_alertmanager_notification_takes_over_the_incident_its_page_opened_first() {
    use sha2::Digest;
    let daemon = daemon(|_| {}).await;
    let group = r#"{}/{severity="critical"}:{alertname="HighErrorRate"}"#;
    let incident_key = hex::encode(sha2::Sha256::digest(group.as_bytes()));
    // The page of Alertmanager's PagerDuty integration arrives first: an incident of its own.
    let first = page("t1", "PT1", "Checkout API", "2025-02-09T10:06:20.000Z", Some(&incident_key));
    let opened = post_incident(&daemon, "/webhooks/pagerduty", first).await;
    assert_eq!(incidents(&daemon).await[0].1, "Checkout is slow");
    // Then the notification of the same group: it takes that incident over.
    let notified = post_incident(&daemon, "/webhooks/alertmanager", firing(group, "2025-02-09T10:06:15Z")).await;
    assert_eq!(notified, opened);
    let (_, one) = daemon.get(&format!("/api/v1/incidents/{opened}")).await;
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["title"], "HighErrorRate: API 5xx ratio above 5%", "{one}");
    assert_eq!(one["severity"], "critical", "{one}");
    assert_eq!(one["sources"], serde_json::json!(["alertmanager", "pagerduty"]), "{one}");
    // Later events of both sides stay there: the page's acknowledgement, the group's resolution.
    let acknowledged = page("t2", "PT1", "Checkout API", "2025-02-09T10:12:00.000Z", Some(&incident_key))
        .replace("incident.triggered", "incident.acknowledged");
    assert_eq!(post_incident(&daemon, "/webhooks/pagerduty", acknowledged).await, opened);
    let resolution = resolved(group, "2025-02-09T10:06:15Z", "2025-02-09T10:35:00Z");
    assert_eq!(post_incident(&daemon, "/webhooks/alertmanager", resolution).await, opened);
    assert_eq!(incidents(&daemon).await.len(), 1);
}

#[tokio::test]
async fn a_page_after_its_notification_joins_it_and_an_old_page_only_incident_is_not_taken_over() {
    use sha2::Digest;
    let daemon = daemon(|_| {}).await;
    let group = r#"{}:{alertname="QueueBacklog"}"#;
    let incident_key = hex::encode(sha2::Sha256::digest(group.as_bytes()));
    // The usual order: the notification, then its page.
    let notified = post_incident(&daemon, "/webhooks/alertmanager", firing(group, "2025-02-09T10:00:00Z")).await;
    let paged = page("u1", "PU1", "Queue", "2025-02-09T10:00:05.000Z", Some(&incident_key));
    assert_eq!(post_incident(&daemon, "/webhooks/pagerduty", paged).await, notified);

    // Another group: a page-only incident from last week, resolved; then the group fires now.
    let old_group = r#"{}:{alertname="CertExpiry"}"#;
    let old_key = hex::encode(sha2::Sha256::digest(old_group.as_bytes()));
    let old_page = page("u2", "PU2", "Edge", "2025-02-02T10:00:00.000Z", Some(&old_key));
    let old = post_incident(&daemon, "/webhooks/pagerduty", old_page).await;
    let old_resolved = page("u3", "PU2", "Edge", "2025-02-02T10:30:00.000Z", Some(&old_key))
        .replace("incident.triggered", "incident.resolved");
    assert_eq!(post_incident(&daemon, "/webhooks/pagerduty", old_resolved).await, old);
    let episode = post_incident(&daemon, "/webhooks/alertmanager", firing(old_group, "2025-02-09T11:00:00Z")).await;
    assert_ne!(episode, old, "a new episode must not take over an old resolved page-only incident");
    let (_, old_one) = daemon.get(&format!("/api/v1/incidents/{old}")).await;
    let old_one: serde_json::Value = serde_json::from_str(&old_one).unwrap();
    assert_eq!((old_one["status"].as_str(), old_one["title"].as_str()), (Some("resolved"), Some("Checkout is slow")));
    assert_eq!(incidents(&daemon).await.len(), 3);
}

/// Evidence a collection pass stored joins the timeline, and the evidence bundle drafts
/// offline (the real `postmortemd draft` on the unpacked archive, unpacked by the real
/// `tar`) to exactly the timeline the daemon serves.
#[tokio::test]
async fn the_evidence_bundle_drafts_offline_to_the_served_timeline() {
    use postmortemd::collect::{EvidenceFile, KubeObject, LogChunk, LogCursor, Pass};
    use postmortemd::record::{GapRecord, GapSource, Stream};
    use postmortemd::store::NextRun;

    let daemon = daemon(|_| {}).await;
    let group = r#"{}:{alertname="HighErrorRate"}"#;
    daemon.post("/webhooks/alertmanager", &[JSON], firing(group, "2025-02-09T10:06:15.347Z")).await;
    let resolved_body = resolved(group, "2025-02-09T10:06:15.347Z", "2025-02-09T10:35:00Z");
    assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], resolved_body).await.0, StatusCode::OK);
    let store = &daemon.state.store;
    let now = jiff::Timestamp::now();
    store.ensure_jobs(now, jiff::Timestamp::UNIX_EPOCH).await.unwrap();
    let job = store.claim_job(now, now + jiff::SignedDuration::from_mins(5)).await.unwrap().expect("a due job");

    // One container logging every 2 s, failing from 10:05:40 to 10:30.
    let mut lines = Vec::new();
    let mut time: jiff::Timestamp = "2025-02-09T09:50:00Z".parse().unwrap();
    while time < "2025-02-09T10:45:00Z".parse().unwrap() {
        let failing = time >= "2025-02-09T10:05:40Z".parse().unwrap() && time < "2025-02-09T10:30:00Z".parse().unwrap();
        let text =
            if failing { "ERROR payment upstream timed out after 3000 ms" } else { "INFO order placed in 12 ms" };
        lines.extend_from_slice(
            format!("[pod/api-1/app] {} {text}\n", time.strftime("%Y-%m-%dT%H:%M:%S.%9fZ")).as_bytes(),
        );
        time += jiff::SignedDuration::from_secs(2);
    }
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "api-1", "namespace": "shop", "uid": "u-1", "creationTimestamp": "2025-02-01T00:00:00Z"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app"}]},
        "status": {"containerStatuses": [{"name": "app", "restartCount": 0, "state": {"running": {"startedAt": "2025-02-01T00:00:10Z"}}}]}});
    // Rolled out at 10:02 (revision 2 of Deployment shop/api).
    let replicaset = serde_json::json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "api-6f7c9d8b4", "namespace": "shop", "uid": "u-2", "creationTimestamp": "2025-02-09T10:02:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "uid": "u-3", "controller": true}]},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example/api:2.0.0"}]}}}});
    let range = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","pod":"api-1"},"values":[[1739095200,"1"],[1739095500,"1"],[1739095800,"1"]]}]}}"#;
    let pass = Pass {
        logs: vec![LogChunk { namespace: "shop".into(), pod: "api-1".into(), container: "app".into(), lines }],
        objects: vec![
            KubeObject { kind: "Pod".into(), uid: "u-1".into(), json: pod },
            KubeObject { kind: "ReplicaSet".into(), uid: "u-2".into(), json: replicaset },
        ],
        files: vec![
            EvidenceFile { name: "prometheus/up.json".into(), bytes: range.as_bytes().to_vec() },
            EvidenceFile { name: "prometheus/queries.json".into(), bytes: br#"{"up.json": "up"}"#.to_vec() },
        ],
        gaps: vec![GapRecord {
            source: GapSource::Logs(Stream::container(Some("shop"), "api-2", "app")),
            start: "2025-02-09T09:46:00Z".parse().unwrap(),
            end: "2025-02-09T10:45:00Z".parse().unwrap(),
            reason: "the service account may not get pods/log in namespace shop (403)".into(),
            node: None,
        }],
        cursors: [("shop/api-1/app".to_owned(), LogCursor::default())].into(),
    };
    store
        .store_pass(job.incident_id, job.token, &postmortemd::jobs::stored_pass(pass), now, NextRun::Finished)
        .await
        .unwrap();

    let (_, incident) = daemon.get(&format!("/api/v1/incidents/{}", job.incident_id)).await;
    let incident: serde_json::Value = serde_json::from_str(&incident).unwrap();
    assert_eq!(incident["collection"]["passes"], 1, "{incident}");
    assert_eq!(incident["collection"]["gaps"], 1, "{incident}");
    let stored_at = jiff::Timestamp::from_millisecond(now.as_millisecond()).unwrap().to_string();
    assert_eq!(incident["collection"]["finished_at"].as_str(), Some(stored_at.as_str()), "{incident}");
    assert!(incident["collection"]["next_run_at"].is_null(), "{incident}");
    let (status, served) = daemon.get(&format!("/api/v1/incidents/{}/timeline?format=json", job.incident_id)).await;
    assert_eq!(status, StatusCode::OK, "{served}");
    let served: serde_json::Value = serde_json::from_str(&served).unwrap();
    let events: Vec<&str> =
        served["entries"].as_array().unwrap().iter().filter_map(|entry| entry["event"].as_str()).collect();
    assert!(events.iter().any(|event| event.contains("payment upstream timed out")), "{events:#?}");
    assert!(events.iter().any(|event| event.starts_with("Rollout of shop/api to revision 2")), "{events:#?}");
    assert!(
        events.iter().any(|event| event.starts_with("Data gap: the service account may not get pods/log")),
        "{events:#?}"
    );

    let request =
        Request::get(format!("/api/v1/incidents/{}/evidence.tar.gz", job.incident_id)).body(Body::empty()).unwrap();
    let response = router(daemon.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    let archive = response.into_body().collect().await.unwrap().to_bytes();
    let bundle = support::daemon::unpack_evidence(&archive, &daemon._folder.0.join("unpacked"), job.incident_id);
    let mut names: Vec<String> =
        walk(&bundle).iter().map(|path| path.strip_prefix(&bundle).unwrap().display().to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "alertmanager/webhook-000001.json",
            "alertmanager/webhook-000002.json",
            "gaps.json",
            "incident-logs.txt",
            "pods.json",
            "prometheus/queries.json",
            "prometheus/up.json",
            "replicasets.json"
        ]
    );
    assert_eq!(support::daemon::draft_json(&bundle), served);
}

fn walk(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[tokio::test]
async fn a_late_older_event_never_reopens_a_resolved_incident() {
    let daemon = daemon(|_| {}).await;
    // Alertmanager: resolved, then the older firing (a retry) arrives.
    let group = r#"{}:{alertname="HighErrorRate"}"#;
    let ended = resolved(group, "2025-02-09T10:00:00Z", "2025-02-09T10:30:00Z");
    let alert_incident = post_incident(&daemon, "/webhooks/alertmanager", ended).await;
    let late = post_incident(&daemon, "/webhooks/alertmanager", firing(group, "2025-02-09T10:00:00Z")).await;
    assert_eq!(late, alert_incident);
    // PagerDuty: resolved 11:00, then acknowledged 10:10, then triggered 10:00.
    let event = |id: &str, kind: &str, at: &str| {
        page(id, "PDLATE", "Checkout", at, None).replace("incident.triggered", &format!("incident.{kind}"))
    };
    let page_incident =
        post_incident(&daemon, "/webhooks/pagerduty", event("e3", "resolved", "2025-02-09T11:00:00.000Z")).await;
    post_incident(&daemon, "/webhooks/pagerduty", event("e2", "acknowledged", "2025-02-09T10:10:00.000Z")).await;
    post_incident(&daemon, "/webhooks/pagerduty", event("e1", "triggered", "2025-02-09T10:00:00.000Z")).await;
    for (id, resolved_at) in [(alert_incident, "2025-02-09T10:30:00Z"), (page_incident, "2025-02-09T11:00:00Z")] {
        let (status, incident) = daemon.get(&format!("/api/v1/incidents/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{incident}");
        let incident: serde_json::Value = serde_json::from_str(&incident).unwrap();
        assert_eq!(
            (incident["status"].as_str(), incident["resolved_at"].as_str()),
            (Some("resolved"), Some(resolved_at)),
            "{incident:#}"
        );
    }
}

/// A JSON answer's body, read.
#[track_caller]
fn json_of(answer: &str) -> serde_json::Value {
    serde_json::from_str(answer).unwrap_or_else(|error| panic!("not JSON ({error}): {answer}"))
}

/// An Alertmanager notification with `edit` applied to it.
fn notification(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut body = json_of(&firing(r#"{}:{alertname="Edge"}"#, "2025-02-09T10:06:15Z"));
    edit(&mut body);
    body.to_string()
}

#[tokio::test]
async fn edge_numbers_and_times_saturate_or_are_read_never_wrap() {
    let daemon = daemon(|_| {}).await;
    // Issue 13: 2^63 was stored as 0.
    let body = notification(|body| body["truncatedAlerts"] = serde_json::json!(9_223_372_036_854_775_808_u64));
    let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = json_of(&answer)["incident"].as_i64().unwrap();
    let incident = json_of(&daemon.get(&format!("/api/v1/incidents/{id}")).await.1);
    assert_eq!(incident["counts"]["truncated_alerts"], i64::MAX, "{incident}");
    // Beyond u64: a 400 that names the field, never a wrapped count.
    let body = notification(|body| body["truncatedAlerts"] = serde_json::json!(1e20));
    let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(json_of(&answer)["error"].as_str().unwrap().starts_with("truncatedAlerts:"), "{answer}");
    // An integral float is an integer (JSON Schema says so; schemathesis sent 305920.0).
    let body = notification(|body| {
        body["groupKey"] = serde_json::json!("{}:{float=\"yes\"}");
        body["truncatedAlerts"] = serde_json::json!(3.0);
    });
    let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = json_of(&answer)["incident"].as_i64().unwrap();
    let incident = json_of(&daemon.get(&format!("/api/v1/incidents/{id}")).await.1);
    assert_eq!(incident["counts"]["truncated_alerts"], 3, "{incident}");
    // Valid RFC 3339 times Alertmanager would otherwise drop.
    for starts_at in [
        "9999-12-31T23:59:59Z",
        "2025-02-09T10:06:15.123456789012Z",
        "2025-02-09t10:06:15z",
        "2025-02-09T10:06:15-00:00",
    ] {
        let body = notification(|body| {
            body["groupKey"] = serde_json::json!(format!("{{}}:{{at=\"{starts_at}\"}}"));
            body["alerts"][0]["startsAt"] = serde_json::json!(starts_at);
        });
        let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body).await;
        assert_eq!(status, StatusCode::OK, "{starts_at}: {answer}");
    }
}

#[tokio::test]
async fn a_database_file_deleted_or_replaced_under_the_daemon_is_not_ready_and_takes_no_webhook() {
    for what in ["deleted", "replaced"] {
        let daemon = daemon(|_| {}).await;
        let group = r#"{}:{alertname="HighErrorRate"}"#;
        let body = |starts_at: &str| firing(group, starts_at);
        assert_eq!(
            daemon.post("/webhooks/alertmanager", &[JSON], body("2025-02-09T10:00:00Z")).await.0,
            StatusCode::OK
        );
        let file = daemon._folder.0.join("postmortemd.db");
        std::fs::remove_file(&file).unwrap();
        if what == "replaced" {
            std::fs::write(&file, b"").unwrap();
        }
        let (status, reason) = daemon.get("/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{reason}");
        assert!(reason.contains(&format!("{} was {what}", file.display())), "{reason}");
        // Never acknowledged into an unlinked file: 503, which the sender retries.
        let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body("2025-02-09T10:05:00Z")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    }
}

#[tokio::test]
async fn a_window_never_ends_before_it_starts() {
    let daemon = daemon(|_| {}).await;
    let group = r#"{}:{alertname="Backwards"}"#;
    let body = resolved(group, "2025-02-09T10:30:00Z", "2025-02-09T08:00:00Z");
    let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = json_of(&answer)["incident"].as_i64().unwrap();
    let incident = json_of(&daemon.get(&format!("/api/v1/incidents/{id}")).await.1);
    let window = &incident["window"];
    let (start, end) = (window["start"].as_str().unwrap(), window["end"].as_str().expect("resolved: an end"));
    let (start, end): (jiff::Timestamp, jiff::Timestamp) = (start.parse().unwrap(), end.parse().unwrap());
    assert!(start <= end, "{incident}");
    let (status, timeline) = daemon.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(status, StatusCode::OK, "{timeline}");
    let timeline = json_of(&timeline);
    let (start, end) = (&timeline["window"]["start"], &timeline["window"]["end"]);
    let (start, end): (jiff::Timestamp, jiff::Timestamp) =
        (start.as_str().unwrap().parse().unwrap(), end.as_str().unwrap().parse().unwrap());
    assert!(start <= end, "{}", timeline["window"]);
}

#[tokio::test]
async fn an_empty_notification_opens_nothing_and_a_missing_group_key_is_named() {
    let daemon = daemon(|_| {}).await;
    let (status, answer) = daemon
        .post("/webhooks/alertmanager", &[JSON], notification(|body| body["alerts"] = serde_json::json!([])))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer = json_of(&answer);
    assert_eq!((&answer["status"], &answer["incident"]), (&serde_json::json!("ignored"), &serde_json::Value::Null));
    assert!(answer["reason"].as_str().unwrap().contains("no alerts"), "{answer}");
    assert_eq!(incidents(&daemon).await.len(), 0);
    for edit in [
        |body: &mut serde_json::Value| drop(body.as_object_mut().unwrap().remove("groupKey")),
        |body: &mut serde_json::Value| body["groupKey"] = serde_json::Value::Null,
    ] {
        let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], notification(edit)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(json_of(&answer)["error"].as_str().unwrap().starts_with("groupKey: expected a string"), "{answer}");
    }
    assert_eq!(daemon.webhook_count().await, 0);
}

#[tokio::test]
async fn the_auth_scheme_is_case_insensitive() {
    let daemon = daemon(|settings| {
        settings.webhooks.alertmanager_bearer_token = Some(Secret::new("t0ken"));
        settings.api.bearer_tokens = vec![Secret::new("r3ad")];
    })
    .await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let authorization = format!("{scheme} t0ken");
        let headers = [JSON, ("authorization", authorization.as_str())];
        let body = firing(&format!("{{}}:{{scheme=\"{scheme}\"}}"), "2025-02-09T10:06:15Z");
        let (status, answer) = daemon.post("/webhooks/alertmanager", &headers, body).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {answer}");
        let request = Request::get("/api/v1/incidents").header("authorization", format!("{scheme} r3ad"));
        let (status, answer) = daemon.send(request.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {answer}");
    }
}

#[tokio::test]
async fn a_signed_pagerduty_event_replayed_under_another_webhook_id_is_a_duplicate() {
    let daemon = daemon(|settings| settings.webhooks.pagerduty_signing_secrets = vec![Secret::new("s3cret")]).await;
    let event = page("01SIGNED", "PINC9", "checkout", "2025-02-09T10:12:00.000Z", None);
    let signature = {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(event.as_bytes());
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let deliveries: [&[(&str, &str)]; 3] = [&[("x-webhook-id", "wh-1")], &[("x-webhook-id", "wh-replayed")], &[]];
    for (index, extra) in deliveries.into_iter().enumerate() {
        let mut headers = vec![JSON, ("x-pagerduty-signature", signature.as_str())];
        headers.extend_from_slice(extra);
        let (status, answer) = daemon.post("/webhooks/pagerduty", &headers, event.clone()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let expected = if index == 0 { "stored" } else { "duplicate" };
        assert_eq!(json_of(&answer)["status"], expected, "{extra:?}: {answer}");
    }
    assert_eq!(daemon.webhook_count().await, 1);
}

#[tokio::test]
async fn every_error_body_is_json_naming_what_is_wrong() {
    let daemon = daemon(|settings| settings.server.max_body_bytes = 1024).await;
    daemon.post("/webhooks/alertmanager", &[JSON], firing("{}:{}", "2025-02-09T10:06:15Z")).await;
    let big = "x".repeat(4096);
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (Request::get("/api/v1/incidents/abc").body(Body::empty()).unwrap(), StatusCode::BAD_REQUEST, "abc"),
        (
            Request::get("/api/v1/incidents/99999999999999999999/timeline").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
            "99999999999999999999",
        ),
        (
            Request::get("/api/v1/incidents/x/evidence.tar.gz").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
            "x",
        ),
        (
            Request::get("/api/v1/incidents?status=open&status=resolved").body(Body::empty()).unwrap(),
            StatusCode::BAD_REQUEST,
            "status",
        ),
        (
            Request::post("/webhooks/alertmanager")
                .header("content-type", "application/json")
                .body(Body::from(big))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
        ),
        (Request::get("/nowhere").body(Body::empty()).unwrap(), StatusCode::NOT_FOUND, "not found"),
        (Request::delete("/api/v1/incidents").body(Body::empty()).unwrap(), StatusCode::METHOD_NOT_ALLOWED, "method"),
        (Request::get("/api/v1/incidents/424242").body(Body::empty()).unwrap(), StatusCode::NOT_FOUND, "424242"),
    ];
    for (request, expected_status, expected_text) in cases {
        let uri = request.uri().clone();
        let response = router(daemon.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers().get("content-type").map(|value| value.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let answer = String::from_utf8_lossy(&body);
        assert_eq!(status, expected_status, "{uri}: {answer}");
        assert_eq!(content_type.as_deref(), Some("application/json"), "{uri}: {answer}");
        let error = json_of(&answer)["error"].as_str().map(str::to_owned);
        assert!(error.as_deref().is_some_and(|error| error.contains(expected_text)), "{uri}: {answer}");
    }
}

/// Readers asking at once for a timeline that is not built yet share one build (issue 14).
#[tokio::test]
async fn concurrent_readers_share_one_timeline_build() {
    let daemon = daemon(|_| {}).await;
    let body = firing(r#"{}:{alertname="HighErrorRate"}"#, "2025-02-09T10:06:15.347Z");
    let (_, answer) = daemon.post("/webhooks/alertmanager", &[JSON], body).await;
    let id = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["incident"].as_i64().unwrap();
    let builds = |metrics: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("postmortemd_timeline_build_seconds_count "))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or_else(|| panic!("no build count in {metrics}"))
    };
    let before = builds(&daemon.get("/metrics").await.1);
    let uri = format!("/api/v1/incidents/{id}/timeline?format=json");
    let answers = futures::future::join_all((0..4).map(|_| daemon.get(&uri))).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK), "{answers:?}");
    assert!(answers.windows(2).all(|pair| pair[0].1 == pair[1].1), "every reader gets the same timeline");
    assert_eq!(builds(&daemon.get("/metrics").await.1) - before, 1, "four readers, one build");
}

/// A build nobody waits for any more stops at its next log chunk; one a reader still waits
/// for finishes, once, though the reader who started it left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeline_build_stops_when_every_reader_left_and_not_before() {
    use postmortemd::collect::{LogChunk, LogCursor, Pass};
    use postmortemd::store::NextRun;

    let daemon = daemon(|_| {}).await;
    let group = r#"{}:{alertname="HighErrorRate"}"#;
    daemon.post("/webhooks/alertmanager", &[JSON], firing(group, "2025-02-09T10:06:15.347Z")).await;
    let resolved_body = resolved(group, "2025-02-09T10:06:15.347Z", "2025-02-09T10:35:00Z");
    assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], resolved_body).await.0, StatusCode::OK);
    let store = daemon.state.store.clone();
    let now = jiff::Timestamp::now();
    store.ensure_jobs(now, jiff::Timestamp::UNIX_EPOCH).await.unwrap();
    let job = store.claim_job(now, now + jiff::SignedDuration::from_mins(5)).await.unwrap().expect("a due job");
    // 800 chunks of about 40 KB: a build that takes a while to read.
    let start: jiff::Timestamp = "2025-02-09T09:50:00Z".parse().unwrap();
    let logs = (0..800)
        .map(|chunk_idx| {
            let mut lines = String::new();
            for line_idx in 0..600 {
                let time = start + jiff::SignedDuration::from_millis((chunk_idx * 600 + line_idx) * 5);
                lines.push_str(&format!(
                    "[pod/api-1/app] {} INFO order {line_idx} placed in {} ms\n",
                    time.strftime("%Y-%m-%dT%H:%M:%S.%9fZ"),
                    line_idx % 97
                ));
            }
            LogChunk {
                namespace: "shop".into(),
                pod: "api-1".into(),
                container: "app".into(),
                lines: lines.into_bytes(),
            }
        })
        .collect();
    let pass = Pass { logs, cursors: [("shop/api-1/app".to_owned(), LogCursor::default())].into(), ..Pass::default() };
    store
        .store_pass(job.incident_id, job.token, &postmortemd::jobs::stored_pass(pass), now, NextRun::Finished)
        .await
        .unwrap();
    let counter = |metrics: &str, name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    let daemon = std::sync::Arc::new(daemon);
    let counts = async || {
        let metrics = daemon.get("/metrics").await.1;
        (
            counter(&metrics, "postmortemd_timeline_build_seconds_count"),
            counter(&metrics, "postmortemd_timeline_builds_cancelled_total"),
        )
    };
    let uri = format!("/api/v1/incidents/{}/timeline?format=json", job.incident_id);
    let reader = |daemon: &std::sync::Arc<Daemon>| {
        let (daemon, uri) = (daemon.clone(), uri.clone());
        tokio::spawn(async move { daemon.get(&uri).await })
    };

    // The only reader leaves mid-build: the build stops, nothing is cached.
    let leaving = reader(&daemon);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!leaving.is_finished(), "the build was too quick to leave in the middle of");
    leaving.abort();
    let mut waited = 0;
    while counts().await != (0, 1) {
        assert!(waited < 200, "the abandoned build did not stop: {:?}", counts().await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }

    // The reader who started it leaves, another still waits: the build finishes, once.
    let leaving = reader(&daemon);
    let staying = reader(&daemon);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    leaving.abort();
    let (status, body) = staying.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(counts().await, (1, 1), "one finished build, the earlier one stopped");
    let timeline: serde_json::Value = serde_json::from_str(&body).unwrap();
    let logs = timeline["coverage"].as_array().unwrap().iter().find(|row| row["source"] == "logs api-1/app");
    assert!(logs.is_some(), "{}", timeline["coverage"]);
    assert_eq!(logs.unwrap()["read"]["lines"], 480_000, "the logs were read whole: {}", timeline["coverage"]);
}

/// Issue 13, point 3: every 401 is counted by route and the check that failed, and
/// `/readyz` (still 200) says how many a webhook route refused, when and why the last one,
/// and what PagerDuty does about it.
#[tokio::test]
async fn refused_requests_are_counted_by_route_and_check_and_readyz_says_what_pagerduty_does() {
    let daemon = daemon(|settings| {
        settings.webhooks.alertmanager_bearer_token = Some(Secret::new("t0ken"));
        settings.webhooks.pagerduty_signing_secrets = vec![Secret::new("s3cret")];
        settings.api.bearer_tokens = vec![Secret::new("reader")];
    })
    .await;
    let (_, ready) = daemon.get("/readyz").await;
    assert_eq!(ready, "ready\n", "nothing refused yet, nothing to say");
    let notification = firing("{}:{}", "2025-02-09T10:06:15Z");
    daemon.post("/webhooks/alertmanager", &[JSON], notification.clone()).await;
    daemon.post("/webhooks/alertmanager", &[JSON, ("authorization", "Basic dXNlcg==")], notification).await;
    let event = r#"{"event":{"id":"e1","event_type":"incident.triggered","resource_type":"incident","occurred_at":"2025-02-09T10:06:50.000Z","agent":null,"client":null,"data":{"id":"P1","type":"incident","title":"x"}}}"#;
    for signature in [None, None, Some("v1=00ff")] {
        let mut headers = vec![JSON];
        headers.extend(signature.map(|signature| ("x-pagerduty-signature", signature)));
        let (status, _) = daemon.post("/webhooks/pagerduty", &headers, event).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(daemon.get("/api/v1/incidents").await.0, StatusCode::UNAUTHORIZED);

    let (_, metrics) = daemon.get("/metrics").await;
    let rows = [
        ("/webhooks/alertmanager", "no_authorization", 1),
        ("/webhooks/alertmanager", "not_bearer", 1),
        ("/webhooks/alertmanager", "wrong_token", 0),
        ("/webhooks/pagerduty", "no_signature", 2),
        ("/webhooks/pagerduty", "wrong_signature", 1),
        ("/api/v1", "no_authorization", 1),
    ];
    for (route, reason, count) in rows {
        let line = format!("postmortemd_http_unauthorized_total{{route=\"{route}\",reason=\"{reason}\"}} {count}\n");
        assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
    }
    let (status, ready) = daemon.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "refused senders never make the daemon not ready");
    let pagerduty = ready.lines().find(|line| line.contains("/webhooks/pagerduty")).expect(&ready);
    for part in [
        "3 requests refused with 401 since start, 3 in a row",
        "no v1= signature matches a configured signing secret",
        "disables the subscription for 24 h after three drops in a row",
    ] {
        assert!(pagerduty.contains(part), "{part} missing from {pagerduty}");
    }
    assert!(ready.contains("/webhooks/alertmanager: 2 requests refused with 401"), "{ready}");

    // A delivery that passes ends the run: the total stays, "in a row" starts again.
    let signature = {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(event.as_bytes());
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let (status, _) = daemon.post("/webhooks/pagerduty", &[JSON, ("x-pagerduty-signature", &signature)], event).await;
    assert_eq!(status, StatusCode::OK);
    let (_, ready) = daemon.get("/readyz").await;
    assert!(ready.contains("/webhooks/pagerduty: 3 requests refused with 401 since start, 0 in a row"), "{ready}");
}

/// Opens an incident per (group, start): one firing notification each.
async fn open_incidents(daemon: &Daemon, incidents: impl IntoIterator<Item = (String, String)>) {
    for (group, starts_at) in incidents {
        let (status, answer) = daemon.post("/webhooks/alertmanager", &[JSON], firing(&group, &starts_at)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

/// 120 incidents, three opened at each of 40 minutes (ties are broken by id), named `G<n>`.
fn hundred_and_twenty() -> impl Iterator<Item = (String, String)> {
    (0..120).map(|n| (format!("G{n}"), format!("2025-02-09T10:{:02}:00Z", n / 3)))
}

/// An incident's place in the list's order: (opened_at, id).
fn order_key(incident: &serde_json::Value) -> (String, i64) {
    (incident["opened_at"].as_str().unwrap().to_owned(), incident["id"].as_i64().unwrap())
}

#[tokio::test]
async fn the_incident_list_pages_by_cursor_while_new_incidents_arrive() {
    let daemon = daemon(|_| {}).await;
    open_incidents(&daemon, hundred_and_twenty()).await;
    let (first, mut cursor) = daemon.list("").await;
    assert_eq!(first.as_array().unwrap().len(), 50, "50 a page unless ?limit= says otherwise");
    let mut seen: Vec<serde_json::Value> = first.as_array().unwrap().clone();
    let mut sizes = vec![50];
    let mut arrivals = 0;
    while let Some(after) = cursor {
        // New incidents (newer than any listed) arrive between pages: no listed row moves.
        open_incidents(&daemon, (0..3).map(|n| (format!("New{arrivals}-{n}"), "2025-02-09T12:00:00Z".to_owned())))
            .await;
        arrivals += 1;
        let (page, next) = daemon.list(&format!("?limit=50&cursor={after}")).await;
        sizes.push(page.as_array().unwrap().len());
        seen.extend(page.as_array().unwrap().iter().cloned());
        cursor = next;
    }
    assert_eq!(sizes, [50, 50, 20]);
    let keys: Vec<(String, i64)> = seen.iter().map(order_key).collect();
    assert!(keys.windows(2).all(|pair| pair[0] > pair[1]), "newest first, each once: {keys:?}");
    let mut titles: Vec<String> = seen.iter().map(|incident| incident["title"].as_str().unwrap().to_owned()).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 1, "every one of these incidents has the same title");
    let ids: std::collections::BTreeSet<i64> = seen.iter().map(|incident| incident["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (1..=120).collect(), "the 120 first incidents, none twice, none missing");
    // The newcomers head a fresh first page.
    let (fresh, _) = daemon.list("?limit=6").await;
    assert!(fresh.as_array().unwrap().iter().all(|incident| incident["opened_at"] == "2025-02-09T12:00:00Z"));
}

#[tokio::test]
async fn the_list_filters_keep_working_across_pages() {
    let daemon = daemon(|_| {}).await;
    // `since` is about the last signal, a notification's arrival included: the 60 that
    // arrive after `between` are the ones listed since then.
    open_incidents(&daemon, hundred_and_twenty().take(60)).await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let between = jiff::Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    open_incidents(&daemon, hundred_and_twenty().skip(60)).await;
    let (page, next) = daemon.list(&format!("?since={between}&limit=25")).await;
    let (second, next) = daemon.list(&format!("?since={between}&limit=25&cursor={}", next.unwrap())).await;
    let (third, end) = daemon.list(&format!("?since={between}&limit=25&cursor={}", next.unwrap())).await;
    let since: Vec<i64> = [page, second, third]
        .iter()
        .flat_map(|page| page.as_array().unwrap().iter().map(|incident| incident["id"].as_i64().unwrap()))
        .collect();
    assert_eq!(end, None);
    assert_eq!(since, (61..=120).rev().collect::<Vec<_>>(), "the 60 last, newest first, each once");
    // Every fourth incident resolves.
    for n in (0..120).step_by(4) {
        let start = format!("2025-02-09T10:{:02}:00Z", n / 3);
        let body = resolved(&format!("G{n}"), &start, "2025-02-09T11:30:00Z");
        assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], body).await.0, StatusCode::OK);
    }
    for (status, expected) in [("resolved", 30), ("open", 90)] {
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(cursor) => format!("?status={status}&limit=7&cursor={cursor}"),
                None => format!("?status={status}&limit=7"),
            };
            let (page, next) = daemon.list(&query).await;
            listed.extend(page.as_array().unwrap().iter().cloned());
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(listed.len(), expected, "{status}");
        assert!(listed.iter().all(|incident| incident["status"] == status), "{status}");
        let keys: Vec<(String, i64)> = listed.iter().map(order_key).collect();
        assert!(keys.windows(2).all(|pair| pair[0] > pair[1]), "{status}: {keys:?}");
    }
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_a_400_that_names_it() {
    let daemon = daemon(|_| {}).await;
    open_incidents(&daemon, hundred_and_twenty().take(3)).await;
    for (query, named) in [
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=zzz", "cursor"),
        ("?cursor=1.2.3", "cursor"),
        ("?cursor=.5", "cursor"),
        ("?cursor=FFFFFFFFFFFFFFFFF.1", "cursor"),
    ] {
        for path in ["/api/v1/incidents", "/"] {
            let (status, body) = daemon.get(&format!("{path}{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}{query}: {body}");
            let error: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{query}: {body}"));
            assert!(error["error"].as_str().unwrap().starts_with(&format!("{named}:")), "{query}: {body}");
        }
    }
    // The bounds themselves are fine.
    assert_eq!(daemon.list("?limit=1").await.0.as_array().unwrap().len(), 1);
    assert_eq!(daemon.list("?limit=500").await, daemon.list("").await);
}

/// The rows of the HTML index's table (its header left out).
fn index_rows(page: &str) -> Vec<&str> {
    page.split("<tr>").skip(2).collect()
}

/// The index page's "next" link, unescaped, if it has one.
fn next_link(page: &str) -> Option<String> {
    let (_, rest) = page.split_once("<a rel=\"next\" href=\"")?;
    Some(rest.split_once('"')?.0.replace("&amp;", "&"))
}

#[tokio::test]
async fn the_html_index_pages_with_a_next_link_and_a_sparkline_per_incident() {
    let daemon = daemon(|_| {}).await;
    open_incidents(&daemon, hundred_and_twenty()).await;
    // G119, the newest, gets a second and a third webhook: its sparkline counts three.
    for ends_at in ["2025-02-09T10:50:00Z", "2025-02-09T10:55:00Z"] {
        let body = resolved("G119", "2025-02-09T10:39:00Z", ends_at);
        assert_eq!(daemon.post("/webhooks/alertmanager", &[JSON], body).await.0, StatusCode::OK);
    }
    let mut sizes = Vec::new();
    let mut uri = Some("/".to_owned());
    while let Some(here) = uri {
        let (status, page) = daemon.get(&here).await;
        assert_eq!(status, StatusCode::OK, "{here}: {page}");
        let rows = index_rows(&page);
        assert!(rows.iter().all(|row| row.matches("<svg").count() == 1), "one sparkline a row: {page}");
        assert_eq!(page.matches("<svg").count(), rows.len());
        sizes.push(rows.len());
        if sizes.len() == 1 {
            assert!(rows[0].contains("aria-label=\"3 webhooks\""), "{}", rows[0]);
            let id = rows[0].split("/api/v1/incidents/").nth(1).and_then(|rest| rest.split('/').next()).unwrap();
            assert!(
                rows[0].contains(&format!("href=\"/api/v1/incidents/{id}/postmortem?format=html\">post-mortem</a>")),
                "each row links its post-mortem: {}",
                rows[0]
            );
            assert!(rows[0].contains(">resolved<") && rows[0].contains(">16m<"), "10:39 → 10:55: {}", rows[0]);
            assert!(rows[1].contains("aria-label=\"1 webhooks\"") && rows[1].contains("open for "), "{}", rows[1]);
        }
        uri = next_link(&page);
    }
    assert_eq!(sizes, [50, 50, 20]);
    // Filters ride along the next link.
    let (_, page) = daemon.get("/?status=open&limit=10").await;
    let next = next_link(&page).unwrap();
    assert!(next.starts_with("/?status=open&limit=10&cursor="), "{next}");
    assert!(index_rows(&page).iter().all(|row| row.contains(">open<")));
}

/// Two replicas (two `AppState`s, two stores) on one PostgreSQL database: a webhook one took
/// the other sees at once (a duplicate there, its timeline rebuilt though it had cached it),
/// and a replica whose database is gone says it is not ready.
#[tokio::test]
async fn replicas_on_one_postgres_database_serve_each_others_webhooks_and_say_when_it_is_gone() {
    let database = support::postgres::fresh_database().await;
    let a = daemon(|settings| settings.store.url = database.url.clone()).await;
    let b = daemon(|settings| settings.store.url = database.url.clone()).await;
    let group = r#"{}:{alertname="HighErrorRate"}"#;
    let body = firing(group, "2025-02-09T10:06:15.347Z");
    let (status, answer) = a.post("/webhooks/alertmanager", &[JSON], body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = b.post("/webhooks/alertmanager", &[JSON], body).await;
    assert_eq!((status, answer.contains(r#""status":"duplicate""#)), (StatusCode::OK, true), "{answer}");
    let (list, _) = b.list("").await;
    let id = list[0]["id"].as_i64().unwrap();
    let timeline = format!("/api/v1/incidents/{id}/timeline?format=markdown");
    let (status, before) = b.get(&timeline).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert!(!before.contains("HighErrorRate resolved"), "{before}");
    // A takes the resolution: B's cached timeline is not served again.
    let resolved_body = resolved(group, "2025-02-09T10:06:15.347Z", "2025-02-09T10:35:00Z");
    assert_eq!(a.post("/webhooks/alertmanager", &[JSON], resolved_body).await.0, StatusCode::OK);
    let (_, after) = b.get(&timeline).await;
    assert!(after.contains("HighErrorRate resolved"), "{after}");
    assert_eq!(b.get("/readyz").await.0, StatusCode::OK);
    database.drop_now().await;
    let (status, ready) = b.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert!(ready.contains("store not ready"), "{ready}");
}
