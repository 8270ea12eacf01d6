//! Issue 14: secrets in evidence are redacted before they are stored or shown. Real-looking
//! secrets are planted in every log format the finder reads (JSON lines, logfmt, klog, syslog,
//! plain, kubectl-prefixed), in Kubernetes event messages, in a Pod's spec (env values,
//! arguments, a probe's headers, its last applied configuration) and in an alert's
//! annotations (the daemon's webhook); none may come back in a draft
//! (JSON, Markdown, HTML), `templates` or `inspect-times`, nor, through the daemon (the
//! collector against the fake API server, the jobs, the store), in the SQLite file, the
//! timelines or `evidence.tar.gz`; the coverage counts what was redacted, per rule.

#[path = "kube_fake/mod.rs"]
mod kube_fake;
mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kube_fake::*;
use postmortemd::api::{AppState, router};
use postmortemd::collect::kubernetes::KubeCollector;
use postmortemd::config::{RedactRule, Settings};
use postmortemd::draft::{DraftOptions, draft};
use postmortemd::normalize::redact::Redactor;
use postmortemd::store::Store;
use postmortemd::timeline::render::{Format, render};
use support::at;
use support::services::scratch_folder;
use tower::ServiceExt;

const JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaGVja291dCIsImV4cCI6MTczOTA5NTEyM30.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi0xMjM0NTY";

/// Every planted secret, each distinct, so a leak names itself.
const SECRETS: &[&str] = &[
    "hunter2-json-Pw",
    "logfmt-S3cret-77",
    "klogTok3n-9911",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sysl0g-Api-Key-55",
    "Zm9vOmJhci1wbGFpbi1iYXNpYw==",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7planted",
    "AIzaSyD-planted-0123456789abcdefghijklm",
    "plainDbPassw0rd",
    "prefixedBearer-0xDEADBEEF",
    "eventToken-424242",
    "cookie-abc123XYZ",
    "podEnvPassw0rd-31",
    "probeHeaderTok-32",
    "appliedEnvKey-33",
    "argSecret-34",
    "alertAnnotationPw-35",
    "exportedAlertTok-36",
];

/// The files of an incident exported by hand, each format with its secrets.
fn write_inputs(folder: &std::path::Path) {
    let files: &[(&str, String)] = &[
        (
            "api.jsonl",
            format!(
                "{{\"ts\":\"2025-02-09T10:05:00Z\",\"level\":\"info\",\"msg\":\"login\",\"password\":\"{}\"}}\n\
                 {{\"ts\":\"2025-02-09T10:05:01Z\",\"level\":\"error\",\"msg\":\"upstream call\",\"headers\":{{\"Authorization\":\"Bearer {JWT}\"}}}}\n\
                 {{\"ts\":\"2025-02-09T10:05:02Z\",\"level\":\"info\",\"msg\":\"{{\\\"aws_secret_access_key\\\":\\\"{}\\\"}}\"}}\n",
                SECRETS[0], SECRETS[4]
            ),
        ),
        (
            "worker.logfmt",
            format!(
                "time=2025-02-09T10:06:00Z level=info msg=\"config loaded\" client_secret={} user=bob\n\
                 time=2025-02-09T10:06:01Z level=warn msg=\"retrying\" aws_key_id={} attempt=2\n",
                SECRETS[1], SECRETS[3]
            ),
        ),
        (
            "controller.klog",
            format!(
                "I0209 10:07:00.123456       1 client.go:42] refreshing token: {} ok\n\
                 E0209 10:07:01.000001       1 client.go:99] request failed: X-Auth-Token={}\n",
                SECRETS[2], SECRETS[2]
            ),
        ),
        (
            "host.syslog",
            format!(
                "Feb  9 10:08:00 node-1 billing[311]: charging with api_key={} for order 7\n\
                 Feb  9 10:08:01 node-1 proxy[12]: GET /export Authorization: Basic {}\n\
                 Feb  9 10:08:02 node-1 maps[77]: geocoding with key {}\n",
                SECRETS[5], SECRETS[6], SECRETS[8]
            ),
        ),
        (
            "app.log",
            format!(
                "2025-02-09 10:09:00,001 INFO connecting to postgres://app:{}@db:5432/shop\n\
                 2025-02-09 10:09:01,002 WARN loaded key\n\
                 -----BEGIN RSA PRIVATE KEY-----\n\
                 {}\n\
                 -----END RSA PRIVATE KEY-----\n\
                 2025-02-09 10:09:02,003 INFO session=cookie-abc123XYZ set\n",
                SECRETS[9], SECRETS[7]
            ),
        ),
        (
            "api-1_app.log",
            format!(
                "[pod/api-1/app] 2025-02-09T10:10:00.000000000Z calling billing with Authorization: Bearer {}\n\
                 [pod/api-1/app] 2025-02-09T10:10:01.000000000Z db password: {}\n",
                SECRETS[10], SECRETS[9]
            ),
        ),
    ];
    for (name, text) in files {
        std::fs::write(folder.join(name), text).unwrap();
    }
    let event = core_event("shop", "api-1.failed")
        .involved("Pod", "api-1")
        .reason("Failed")
        .warning()
        .message(&format!("Error: probe failed: GET /healthz?token={} returned 401", SECRETS[11]))
        .seen(at("2025-02-09T10:11:00Z"), at("2025-02-09T10:11:00Z"), 1)
        .build();
    let list = serde_json::json!({"kind": "List", "apiVersion": "v1", "items": [event]});
    std::fs::write(folder.join("events.json"), list.to_string()).unwrap();
}

#[track_caller]
fn assert_no_secret(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    for secret in SECRETS.iter().filter(|secret| !secret.starts_with("cookie")) {
        assert!(!text.contains(secret), "{what} holds {secret}:\n{text}");
    }
    assert!(!text.contains(JWT), "{what} holds the JWT");
}

/// The redactions of the coverage, summed over its rows.
fn redacted(timeline: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    for row in timeline["coverage"].as_array().unwrap() {
        for (rule, count) in row["redacted"].as_object().unwrap() {
            *sums.entry(rule.clone()).or_default() += count.as_u64().unwrap();
        }
    }
    sums
}

/// The offline draft of the files in `folder`, over the incident's half hour.
fn draft_of(folder: &std::path::Path) -> postmortemd::timeline::Timeline {
    draft(&DraftOptions {
        paths: vec![folder.to_owned()],
        window: Some((at("2025-02-09T10:00:00Z"), at("2025-02-09T10:30:00Z"))),
        ..DraftOptions::default()
    })
    .unwrap()
}

#[test]
fn secrets_in_every_log_format_never_reach_a_draft() {
    let folder = scratch_folder("redaction-offline");
    write_inputs(&folder);
    let timeline = draft_of(&folder);
    for format in [Format::Json, Format::Markdown, Format::Html] {
        assert_no_secret(&format!("{format:?}"), render(&timeline, format).as_bytes());
    }
    // The incident page `draft --format html` writes (its charts and header too).
    let served = postmortemd::page::Served::default();
    assert_no_secret("the page", postmortemd::page::render(&timeline, Format::Html, &served).as_bytes());
    let json: serde_json::Value = serde_json::from_str(&render(&timeline, Format::Json)).unwrap();
    let expected: BTreeMap<String, u64> = [
        ("api_key", 1),
        ("authorization", 1),
        ("aws_access_key_id", 1),
        ("aws_secret_access_key", 1),
        ("bearer", 2),
        ("gcp_api_key", 1),
        ("password", 3),
        ("private_key", 1),
        ("secret", 1),
        ("token", 3),
    ]
    .into_iter()
    .map(|(rule, count)| (rule.to_owned(), count))
    .collect();
    assert_eq!(redacted(&json), expected, "every format's secrets, each counted once, per rule");
    let markdown = render(&timeline, Format::Markdown);
    assert!(markdown.contains("| Redacted |"), "{markdown}");

    // `templates` and `inspect-times` read lines as the draft does.
    for name in ["api.jsonl", "worker.logfmt", "controller.klog", "host.syslog", "app.log", "api-1_app.log"] {
        let bytes = std::fs::read(folder.join(name)).unwrap();
        for input in
            [postmortemd::artifacts::logs::TemplateInput::Message, postmortemd::artifacts::logs::TemplateInput::Raw]
        {
            let mut csv = Vec::new();
            postmortemd::artifacts::logs::write_templates([&bytes[..]], input, &mut csv).unwrap();
            assert_no_secret(&format!("templates {input:?} of {name}"), &csv);
        }
        let mut finder = postmortemd::normalize::time::Finder::new(Default::default());
        let mut report = Vec::new();
        postmortemd::artifacts::inspect::inspect_times(
            &bytes,
            &mut finder,
            postmortemd::artifacts::inspect::ReportFormat::Text,
            &mut report,
        )
        .unwrap();
        assert_no_secret(&format!("inspect-times of {name}"), &report);
    }
    let _ = std::fs::remove_dir_all(&folder);
}

/// An Alertmanager notification exported by hand: its annotations are shown (the summary in
/// the row), so their secrets go before the draft shows them, and its row counts them.
#[test]
fn secrets_in_an_exported_notification_never_reach_a_draft() {
    let folder = scratch_folder("redaction-notification");
    let notification = serde_json::json!({
        "version": "4", "receiver": "ops", "status": "firing", "groupKey": "{}:{alertname=\"ProbeFailing\"}",
        "truncatedAlerts": 0, "groupLabels": {"alertname": "ProbeFailing"},
        "commonLabels": {"alertname": "ProbeFailing"}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "alerts": [{"status": "firing", "labels": {"alertname": "ProbeFailing", "severity": "critical"},
                    "annotations": {"summary": format!("probe GET /status?token={} returns 500", SECRETS[18])},
                    "startsAt": "2025-02-09T10:05:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "", "fingerprint": "00aa00aa00aa00aa"}],
    });
    std::fs::write(folder.join("notification.json"), notification.to_string()).unwrap();
    let timeline = draft_of(&folder);
    for format in [Format::Json, Format::Markdown, Format::Html] {
        let rendered = render(&timeline, format);
        assert!(rendered.contains("returns 500"), "the alert's summary is shown:\n{rendered}");
        assert_no_secret(&format!("{format:?}"), rendered.as_bytes());
    }
    let json: serde_json::Value = serde_json::from_str(&render(&timeline, Format::Json)).unwrap();
    assert_eq!(redacted(&json), BTreeMap::from([("token".to_owned(), 1)]));
    let _ = std::fs::remove_dir_all(&folder);
}

/// Every byte the SQLite file holds, table by table, gzip bodies decompressed as
/// `store::decompress` does, plus the raw file and its WAL.
async fn stored_bytes(folder: &std::path::Path) -> Vec<u8> {
    let database = folder.join("postmortemd.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.display())).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&pool).await.unwrap();
    let mut all = Vec::new();
    for table in tables {
        // The names come from sqlite_master, not from input.
        let sql = sqlx::AssertSqlSafe(format!("SELECT * FROM \"{table}\""));
        let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
        for row in rows {
            use sqlx::Row;
            for column in 0..row.len() {
                let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(column) else { continue };
                if bytes.starts_with(&[0x1f, 0x8b]) {
                    all.extend(postmortemd::store::decompress(&bytes).unwrap());
                } else {
                    all.extend(bytes);
                }
                all.push(b'\n');
            }
        }
    }
    pool.close().await;
    for file in ["postmortemd.db", "postmortemd.db-wal"] {
        all.extend(std::fs::read(folder.join(file)).unwrap_or_default());
    }
    all
}

#[tokio::test]
async fn the_daemon_stores_and_serves_no_secret() {
    let folder = scratch_folder("redaction-daemon");
    let mut cluster = Cluster::new();
    // A Pod as `kubectl apply` leaves it, with secrets written into its spec.
    let applied = serde_json::json!({"spec": {"containers": [{"name": "app",
        "env": [{"name": "STRIPE_API_KEY", "value": SECRETS[15]}]}]}});
    let mut api = pod("shop", "api-1")
        .labels(&[("app", "api")])
        .annotation("kubectl.kubernetes.io/last-applied-configuration", &applied.to_string())
        .container(container("app").running(at("2025-02-09T09:00:00Z")))
        .build();
    let app = &mut api["spec"]["containers"][0];
    app["env"] =
        serde_json::json!([{"name": "DB_PASSWORD", "value": SECRETS[13]}, {"name": "LOG_LEVEL", "value": "info"}]);
    app["args"] = serde_json::json!([format!("--client-secret={}", SECRETS[16])]);
    app["livenessProbe"] = serde_json::json!({"httpGet": {"path": "/healthz", "port": 8080,
        "httpHeaders": [{"name": "X-Auth-Token", "value": SECRETS[14]}]}});
    cluster.add(api);
    let lines = [
        format!("{{\"level\":\"error\",\"msg\":\"login\",\"password\":\"{}\"}}", SECRETS[0]),
        format!("level=info msg=config client_secret={} session=cookie-abc123XYZ", SECRETS[1]),
        format!("I0209 10:07:00.123456 1 client.go:42] sending Authorization: Bearer {JWT}"),
        format!("calling with key {} and id {}", SECRETS[8], SECRETS[3]),
        "-----BEGIN PRIVATE KEY-----".to_owned(),
        SECRETS[7].to_owned(),
        "-----END PRIVATE KEY-----".to_owned(),
    ];
    let logged: Vec<LogLine> = lines
        .iter()
        .enumerate()
        .map(|(index, text)| LogLine::new(at(&format!("2025-02-09T10:1{index}:00Z")), text.as_bytes().to_vec()))
        .collect();
    cluster.log("shop", "api-1", "app", logged);
    cluster.add(
        core_event("shop", "api-1.failed")
            .involved("Pod", "api-1")
            .reason("Unhealthy")
            .warning()
            .message(&format!("Liveness probe failed: GET /healthz?access_token={}", SECRETS[11]))
            .seen(at("2025-02-09T10:15:00Z"), at("2025-02-09T10:15:00Z"), 1)
            .build(),
    );
    let fake = FakeKube::start(cluster).await;

    let mut settings = Settings::default();
    settings.store.url = format!("sqlite://{}/postmortemd.db", folder.display());
    settings.kubernetes.kubeconfig = Some(fake.kubeconfig(&folder));
    settings.kubernetes.namespaces = vec!["shop".to_owned()];
    settings.redact =
        vec![RedactRule { name: "session cookie".to_owned(), pattern: "session=([A-Za-z0-9-]+)".to_owned() }];
    let redactor =
        Redactor::new(settings.redact.iter().map(|rule| (rule.name.as_str(), rule.pattern.as_str()))).unwrap();
    let collector = KubeCollector::new(&settings.kubernetes).await.unwrap().with_redactor(Arc::new(redactor));
    let store = Store::open(&settings.store.url).await.unwrap();
    let state = AppState::new(settings, store);

    let webhook = serde_json::json!({
        "version": "4", "receiver": "postmortemd", "status": "firing", "groupKey": "{}:{alertname=\"ApiDown\"}",
        "truncatedAlerts": 0, "groupLabels": {"alertname": "ApiDown"}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": [{"status": "firing", "labels": {"alertname": "ApiDown", "namespace": "shop", "pod": "api-1"},
                    "annotations": {"summary": "API down",
                                    "description": format!("health check: dial postgres://api:{}@db:5432 refused", SECRETS[17])},
                    "startsAt": "2025-02-09T10:20:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "", "fingerprint": "0123456789abcdef"}],
    });
    let send = |request: Request<Body>| {
        let state = state.clone();
        async move {
            let response = router(state).oneshot(request).await.unwrap();
            let status = response.status();
            (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
        }
    };
    let (status, _) = send(
        Request::post("/webhooks/alertmanager")
            .header("content-type", "application/json")
            .body(Body::from(webhook.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let passes = state.jobs(vec![Arc::new(collector)]).run_due(at("2025-02-09T10:25:00Z")).await.unwrap();
    assert_eq!(passes, 1);

    let stored = stored_bytes(&folder).await;
    assert!(String::from_utf8_lossy(&stored).contains("[REDACTED:password]"), "the pass was stored");
    assert!(String::from_utf8_lossy(&stored).contains("LOG_LEVEL"), "the Pod was stored");
    assert_no_secret("the store", &stored);
    assert!(!String::from_utf8_lossy(&stored).contains("cookie-abc123XYZ"), "the [[redact]] rule applies");

    let mut timeline_json = serde_json::Value::Null;
    for format in ["json", "md", "html"] {
        let (status, body) =
            send(Request::get(format!("/api/v1/incidents/1/timeline?format={format}")).body(Body::empty()).unwrap())
                .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_no_secret(&format!("the timeline as {format}"), &body);
        assert!(String::from_utf8_lossy(&body).contains("API down"), "the alert still reads");
        if format == "json" {
            timeline_json = serde_json::from_slice(&body).unwrap();
        }
    }
    let counted = redacted(&timeline_json);
    let webhook_row = timeline_json["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["kind"] == "alertmanager-webhook")
        .expect("a row for the stored notification");
    assert_eq!(webhook_row["redacted"]["password"], 1, "what intake redacted is counted: {webhook_row}");
    for rule in
        ["password", "secret", "session cookie", "bearer", "gcp_api_key", "aws_access_key_id", "private_key", "token"]
    {
        assert!(counted.get(rule).is_some_and(|count| *count >= 1), "{rule} counted: {counted:?}");
    }
    let (status, archive) =
        send(Request::get("/api/v1/incidents/1/evidence.tar.gz").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let mut unpacked = Vec::new();
    flate2::read::MultiGzDecoder::new(&archive[..]).read_to_end(&mut unpacked).unwrap();
    assert!(String::from_utf8_lossy(&unpacked).contains("[REDACTED:"), "the archive holds the redacted lines");
    assert!(String::from_utf8_lossy(&unpacked).contains("LOG_LEVEL"), "the archive holds the Pod");
    assert_no_secret("evidence.tar.gz", &unpacked);
    let _ = std::fs::remove_dir_all(&folder);
}
