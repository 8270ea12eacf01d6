//! Responders add to the draft (issue 16, point 4), against the real binary over loopback
//! with read and write tokens: who may write, what each route refuses and why, and what
//! each input does to the incident and its timeline (JSON and Markdown), the evidence
//! bundle and its draft.

mod support;

use reqwest::StatusCode;
use support::daemon::{Served, draft_json, unpack_evidence};

const READ: &str = "reader-token";
const WRITE: &str = "writer-token";

/// An Alertmanager notification of one alert of group `group`, firing since `starts_at`,
/// resolved at `ends_at` when given.
fn notification(group: &str, fingerprint: &str, starts_at: &str, ends_at: Option<&str>) -> serde_json::Value {
    let status = if ends_at.is_some() { "resolved" } else { "firing" };
    serde_json::json!({
        "version": "4", "receiver": "postmortemd", "status": status, "groupKey": group,
        "truncatedAlerts": 0, "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": group, "severity": "warning"},
        "commonAnnotations": {"summary": "API 5xx ratio above 5%"}, "externalURL": "http://am:9093",
        "alerts": [{
            "status": status, "labels": {"alertname": group, "severity": "warning"},
            "annotations": {"summary": "API 5xx ratio above 5%"}, "startsAt": starts_at,
            "endsAt": ends_at.unwrap_or("0001-01-01T00:00:00Z"), "fingerprint": fingerprint
        }]
    })
}

struct Client {
    daemon: Served,
    http: reqwest::Client,
}

impl Client {
    async fn start(name: &str, write_tokens: bool) -> Client {
        let mut env = vec![("POSTMORTEMD_API__BEARER_TOKENS", READ)];
        if write_tokens {
            env.push(("POSTMORTEMD_API__WRITE_TOKENS", WRITE));
        }
        Client { daemon: Served::start(name, &env, None).await, http: reqwest::Client::new() }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, String) {
        let mut request =
            self.http.request(method, format!("{}{path}", self.daemon.base)).header("content-type", "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn write(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> (StatusCode, String) {
        self.send(method, path, Some(WRITE), Some(body)).await
    }

    async fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.send(reqwest::Method::GET, path, Some(READ), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Stores a notification; returns its incident.
    async fn alert(&self, body: serde_json::Value) -> i64 {
        let (status, answer) = self.send(reqwest::Method::POST, "/webhooks/alertmanager", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        serde_json::from_str::<serde_json::Value>(&answer).unwrap()["incident"].as_i64().unwrap()
    }
}

use reqwest::Method;

#[tokio::test]
async fn writes_need_a_write_token_and_are_off_without_one() {
    let off = Client::start("responders-off", false).await;
    let id = off.alert(notification("G", "f1", "2025-02-09T10:06:15Z", None)).await;
    let note = serde_json::json!({"author": "Alice", "text": "rolling back"});
    let (status, body) =
        off.send(Method::POST, &format!("/api/v1/incidents/{id}/notes"), Some(READ), Some(note.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("api.write_tokens"), "{body}");
    // A method no route takes is 405, writes off or not.
    for (method, path) in
        [(Method::PUT, format!("/api/v1/incidents/{id}/notes")), (Method::DELETE, format!("/api/v1/incidents/{id}"))]
    {
        let (status, body) = off.send(method.clone(), &path, Some(READ), None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {body}");
    }
    drop(off);

    let client = Client::start("responders-auth", true).await;
    let id = client.alert(notification("G", "f1", "2025-02-09T10:06:15Z", None)).await;
    let path = format!("/api/v1/incidents/{id}/notes");
    let (status, body) = client.send(Method::POST, &path, None, Some(note.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = client.send(Method::POST, &path, Some("nonsense"), Some(note.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = client.send(Method::POST, &path, Some(READ), Some(note.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a read token may not write");
    assert!(body.contains("may read, not write"), "{body}");
    let (status, body) = client.send(Method::PATCH, &format!("/api/v1/incidents/{id}"), Some(READ), Some(note)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A write token reads too; a read token still reads.
    let (status, _) = client.send(Method::GET, "/api/v1/incidents", Some(WRITE), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = client.send(Method::GET, "/api/v1/incidents", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn each_route_refuses_a_bad_body_saying_what_is_wrong() {
    let client = Client::start("responders-validation", true).await;
    let id = client.alert(notification("G", "f1", "2025-02-09T10:06:15Z", None)).await;
    let notes = format!("/api/v1/incidents/{id}/notes");
    let cases: Vec<(Method, String, serde_json::Value, StatusCode, &str)> = vec![
        (
            Method::POST,
            notes.clone(),
            serde_json::json!({"text": "x"}),
            StatusCode::BAD_REQUEST,
            "author: expected a name",
        ),
        (
            Method::POST,
            notes.clone(),
            serde_json::json!({"author": "", "text": "x"}),
            StatusCode::BAD_REQUEST,
            "author: expected a non-empty string",
        ),
        (
            Method::POST,
            notes.clone(),
            serde_json::json!({"author": "A"}),
            StatusCode::BAD_REQUEST,
            "text: expected the note's text",
        ),
        (
            Method::POST,
            notes.clone(),
            serde_json::json!({"author": "A", "text": "x", "at": "yesterday"}),
            StatusCode::BAD_REQUEST,
            "at: expected an RFC 3339 time, found \\\"yesterday\\\"",
        ),
        (
            Method::POST,
            notes.clone(),
            serde_json::json!({"author": "A", "text": "x".repeat(16 * 1024 + 1)}),
            StatusCode::BAD_REQUEST,
            "text: expected at most 16384 characters",
        ),
        (
            Method::POST,
            notes.clone(),
            serde_json::json!({"author": "A", "text": "x", "mood": "calm"}),
            StatusCode::BAD_REQUEST,
            "mood: unknown field",
        ),
        (
            Method::POST,
            "/api/v1/incidents/999/notes".to_owned(),
            serde_json::json!({"author": "A", "text": "x"}),
            StatusCode::NOT_FOUND,
            "no incident 999",
        ),
        (
            Method::PATCH,
            format!("/api/v1/incidents/{id}"),
            serde_json::json!({"author": "A"}),
            StatusCode::BAD_REQUEST,
            "title: expected a title or a severity",
        ),
        (
            Method::PATCH,
            format!("/api/v1/incidents/{id}"),
            serde_json::json!({"author": "A", "title": "  "}),
            StatusCode::BAD_REQUEST,
            "title: expected a non-empty string",
        ),
        (
            Method::POST,
            format!("/api/v1/incidents/{id}/resolve"),
            serde_json::json!({"author": "A", "at": 5}),
            StatusCode::BAD_REQUEST,
            "at: expected an RFC 3339 time",
        ),
        (
            Method::POST,
            format!("/api/v1/incidents/{id}/resolve"),
            serde_json::json!({"at": "2025-02-09T10:30:00Z"}),
            StatusCode::BAD_REQUEST,
            "author: expected a name",
        ),
        (
            Method::POST,
            format!("/api/v1/incidents/{id}/merge"),
            serde_json::json!({"author": "A"}),
            StatusCode::BAD_REQUEST,
            "from: expected an incident id",
        ),
        (
            Method::POST,
            format!("/api/v1/incidents/{id}/merge"),
            serde_json::json!({"author": "A", "from": id}),
            StatusCode::CONFLICT,
            "cannot be merged into itself",
        ),
        (
            Method::POST,
            format!("/api/v1/incidents/{id}/merge"),
            serde_json::json!({"author": "A", "from": 999}),
            StatusCode::CONFLICT,
            "from: no incident 999",
        ),
    ];
    for (method, path, body, expected, message) in cases {
        let (status, answer) = client.write(method.clone(), &path, body.clone()).await;
        assert_eq!(status, expected, "{method} {path} {body}: {answer}");
        assert!(answer.contains(message), "{method} {path} {body}: {answer} lacks {message}");
    }
    let (status, answer) = client.send(Method::POST, &notes, Some(WRITE), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // Nothing refused was stored: the timeline has no responder row.
    let timeline = client.json(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert!(timeline["entries"].as_array().unwrap().iter().all(|row| row["source"] != "responder"), "{timeline:#}");
}

#[tokio::test]
async fn a_note_and_a_correction_show_in_the_timeline_and_the_incident() {
    let client = Client::start("responders-note", true).await;
    let id = client.alert(notification("G", "f1", "2025-02-09T10:06:15Z", None)).await;
    // Read once, so a cached timeline must be rebuilt for the note to show.
    let before = client.json(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(before["title"], "G: API 5xx ratio above 5%");
    let note = serde_json::json!({"author": "Alice Example", "text": "Errors began right after the rollout", "at": "2025-02-09T10:18:00Z"});
    let (status, answer) = client.write(Method::POST, &format!("/api/v1/incidents/{id}/notes"), note).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!((answer["kind"].as_str(), answer["at"].as_str()), (Some("note"), Some("2025-02-09T10:18:00Z")));

    let timeline = client.json(&format!("/api/v1/incidents/{id}/timeline")).await;
    let rows = timeline["entries"].as_array().unwrap();
    let row = rows.iter().find(|row| row["source"] == "responder").unwrap_or_else(|| panic!("{timeline:#}"));
    assert_eq!(row["time"], "2025-02-09T10:18:00.000Z");
    assert_eq!(row["event"], "Note: Errors began right after the rollout");
    assert_eq!((row["actor"].as_str(), row["human"].as_bool()), (Some("Alice Example"), Some(true)));
    assert!(rows.iter().filter(|row| row["source"] != "responder").all(|row| row.get("human").is_none()));
    let (_, markdown) =
        client.send(Method::GET, &format!("/api/v1/incidents/{id}/timeline?format=md"), Some(READ), None).await;
    assert!(
        markdown.contains(" 10:18:00 | Note: Errors began right after the rollout | responder | Alice Example |"),
        "{markdown}"
    );

    let correction = serde_json::json!({"author": "Bob", "title": "Checkout down", "severity": "info"});
    let (status, answer) = client.write(Method::PATCH, &format!("/api/v1/incidents/{id}"), correction).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let incident = client.json(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!((incident["title"].as_str(), incident["severity"].as_str()), (Some("Checkout down"), Some("info")));
    let listed = client.json("/api/v1/incidents").await;
    assert_eq!(listed["incidents"][0]["title"], "Checkout down");
    // A later notification of a higher severity (warning) than the corrected one does not
    // undo the correction.
    client.alert(notification("G", "f2", "2025-02-09T10:07:00Z", None)).await;
    let incident = client.json(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!((incident["title"].as_str(), incident["severity"].as_str()), (Some("Checkout down"), Some("info")));
    let timeline = client.json(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(timeline["title"], "Checkout down");
    let rows = timeline["entries"].as_array().unwrap();
    assert!(
        rows.iter().any(|row| row["source"] == "responder"
            && row["event"] == "Title corrected to \"Checkout down\"; severity corrected to info"
            && row["actor"] == "Bob"),
        "{timeline:#}"
    );
}

#[tokio::test]
async fn a_manual_resolve_is_an_event_at_its_time_and_a_later_firing_reopens() {
    let client = Client::start("responders-resolve", true).await;
    let id = client.alert(notification("G", "f1", "2025-02-09T10:06:15Z", None)).await;
    let resolve =
        serde_json::json!({"author": "Alice", "at": "2025-02-09T10:40:00Z", "note": "error rate back to baseline"});
    let (status, answer) = client.write(Method::POST, &format!("/api/v1/incidents/{id}/resolve"), resolve).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let incident = client.json(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(
        (incident["status"].as_str(), incident["resolved_at"].as_str()),
        (Some("resolved"), Some("2025-02-09T10:40:00Z"))
    );
    let timeline = client.json(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert!(
        timeline["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["event"] == "Resolved by hand: error rate back to baseline"
                && row["time"] == "2025-02-09T10:40:00.000Z"
                && row["human"] == true),
        "{timeline:#}"
    );
    // Without a page or an alert resolution, the post-mortem's resolved moment is it.
    let postmortem = client.json(&format!("/api/v1/incidents/{id}/postmortem")).await;
    let resolved =
        postmortem["moments"].as_array().unwrap().iter().find(|moment| moment["kind"] == "resolved").unwrap();
    assert_eq!(
        (resolved["time"].as_str(), resolved["evidence"].as_str()),
        (Some("2025-02-09T10:40:00.000Z"), Some("Resolved by hand: error rate back to baseline")),
        "{postmortem:#}"
    );
    // A firing older than the resolution arriving late changes nothing ...
    client.alert(notification("G", "f0", "2025-02-09T10:20:00Z", None)).await;
    assert_eq!(client.json(&format!("/api/v1/incidents/{id}")).await["status"], "resolved");
    // ... one after it reopens the incident, as for any resolution.
    let reopened = client.alert(notification("G", "f2", "2025-02-09T10:50:00Z", None)).await;
    assert_eq!(reopened, id, "within the quiet period: the same incident");
    let incident = client.json(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!((incident["status"].as_str(), incident["resolved_at"].as_str()), (Some("open"), None));
}

#[tokio::test]
async fn a_merge_reads_both_incidents_as_one_and_refuses_a_cycle() {
    let client = Client::start("responders-merge", true).await;
    let first = client.alert(notification("G", "f1", "2025-02-09T10:06:15Z", None)).await;
    let second = client.alert(notification("H", "f2", "2025-02-09T10:08:00Z", None)).await;
    assert_ne!(first, second);
    let note = serde_json::json!({"author": "Bob", "text": "seen from H's side", "at": "2025-02-09T10:09:00Z"});
    let (status, _) = client.write(Method::POST, &format!("/api/v1/incidents/{second}/notes"), note).await;
    assert_eq!(status, StatusCode::CREATED);
    // Read first's timeline once: the merge must rebuild it.
    client.json(&format!("/api/v1/incidents/{first}/timeline")).await;
    let merge = serde_json::json!({"author": "Alice", "from": second});
    let (status, answer) = client.write(Method::POST, &format!("/api/v1/incidents/{first}/merge"), merge).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    let listed = client.json("/api/v1/incidents").await;
    let listed = listed["incidents"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "the merged incident is hidden: {listed:#?}");
    assert_eq!((listed[0]["id"].as_i64(), listed[0]["counts"]["webhooks"].as_i64()), (Some(first), Some(2)));
    let incident = client.json(&format!("/api/v1/incidents/{first}")).await;
    assert_eq!(incident["merged_from"], serde_json::json!([second]));
    let timeline = client.json(&format!("/api/v1/incidents/{first}/timeline")).await;
    let events: Vec<&str> =
        timeline["entries"].as_array().unwrap().iter().filter_map(|row| row["event"].as_str()).collect();
    assert!(events.iter().any(|event| event.starts_with("G firing")), "{events:#?}");
    assert!(events.iter().any(|event| event.starts_with("H firing")), "{events:#?}");
    assert!(events.contains(&"Note: seen from H's side"), "{events:#?}");
    assert!(events.contains(&format!("Incident {second} merged into this one").as_str()), "{events:#?}");

    // The merged incident points to the one it was merged into.
    let merged = client.json(&format!("/api/v1/incidents/{second}")).await;
    assert_eq!(merged["merged_into"], first);
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = no_redirects
        .get(format!("{}/api/v1/incidents/{second}/timeline?format=md", client.daemon.base))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(response.headers()["location"], format!("/api/v1/incidents/{first}/timeline?format=md").as_str());

    // Into itself, back (a cycle), twice, or into the merged one: 409 with a message.
    for (into, from, message) in [
        (first, first, "cannot be merged into itself"),
        (second, first, "was merged into incident"),
        (first, second, "is already merged into incident"),
    ] {
        let merge = serde_json::json!({"author": "Alice", "from": from});
        let (status, answer) = client.write(Method::POST, &format!("/api/v1/incidents/{into}/merge"), merge).await;
        assert_eq!(status, StatusCode::CONFLICT, "{into} ← {from}: {answer}");
        assert!(answer.contains(message), "{answer}");
    }
    // Writes to the merged incident are refused, naming where they go.
    let note = serde_json::json!({"author": "Bob", "text": "late"});
    let (status, answer) = client.write(Method::POST, &format!("/api/v1/incidents/{second}/notes"), note).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(answer.contains(&format!("/api/v1/incidents/{first}")), "{answer}");
}

#[tokio::test]
async fn the_bundle_carries_responders_inputs_and_drafts_back_to_the_same_timeline() {
    let client = Client::start("responders-bundle", true).await;
    let id = client.alert(notification("G", "f1", "2025-02-09T10:06:15Z", None)).await;
    for (path, method, body) in [
        (
            "/notes",
            Method::POST,
            serde_json::json!({"author": "Alice", "text": "rolling back", "at": "2025-02-09T10:18:00Z"}),
        ),
        ("", Method::PATCH, serde_json::json!({"author": "Bob", "title": "Checkout down"})),
        ("/resolve", Method::POST, serde_json::json!({"author": "Alice", "at": "2025-02-09T10:40:00Z"})),
    ] {
        let (status, answer) = client.write(method, &format!("/api/v1/incidents/{id}{path}"), body).await;
        assert!(status.is_success(), "{path}: {answer}");
    }
    let served = client.json(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(served["title"], "Checkout down");
    assert_eq!(
        served["entries"].as_array().unwrap().iter().filter(|row| row["human"] == true).count(),
        3,
        "{served:#}"
    );

    let archive = client
        .http
        .get(format!("{}/api/v1/incidents/{id}/evidence.tar.gz", client.daemon.base))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let bundle = unpack_evidence(&archive, &client.daemon.folder.join("unpacked"), id);
    let responders = std::fs::read_to_string(bundle.join("responders.json")).unwrap();
    assert!(
        responders.contains("\"kind\": \"postmortemd.responders\"") && responders.contains("rolling back"),
        "{responders}"
    );
    assert_eq!(draft_json(&bundle), served);
}
