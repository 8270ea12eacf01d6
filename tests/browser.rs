//! The pages in a real browser: the real daemon (`postmortemd serve`) replays the planted
//! checkout outage (the fake cluster, a real Prometheus backfilled with promtool, Alertmanager
//! and PagerDuty webhooks), and Debian's Chromium, headless, driven by chromedriver over its
//! W3C WebDriver HTTP API on loopback, loads the incident page, the index and the post-mortem.
//! Checked in the DOM: a marker per timeline row (linking to its table row), a shaded element
//! per data gap, a chart per query, no horizontal scrolling at 1400 px; from the browser's
//! logs: no console error (a Content-Security-Policy violation is one) and no request to
//! anything but the daemon. `UPDATE_SCREENSHOT=1` writes docs/images/incident-page.png from
//! this run.
//!
//! Needs `apt-get install chromium chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver):
//! without them the test fails and says so.

#[path = "kube_fake/mod.rs"]
mod kube_fake;
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jiff::Timestamp;
use kube_fake::FakeKube;
use kube_fake::checkout::{cluster, history, t};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::daemon::Served;
use support::services::{eventually, free_port, scratch_folder, start_prometheus};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The window the pages must fit without scrolling sideways.
const WIDTH: u64 = 1400;

/// Fails, saying what to install, without Debian's Chromium and its driver.
fn require_chromium() {
    for binary in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(binary).exists(),
            "{binary} missing: apt-get install -y chromium chromium-driver (the browser test drives Debian's Chromium)"
        );
    }
}

/// chromedriver on a loopback port, and one browser session of it; both ended when dropped.
struct Browser {
    driver: Child,
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile, the browser and
    /// performance logs on, at `WIDTH` × `height`.
    async fn start(profile: &Path, height: u64) -> Browser {
        require_chromium();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        eventually("chromedriver to be ready", async || {
            let status: Value = client.get(format!("{base}/status")).send().await.ok()?.json().await.ok()?;
            status["value"]["ready"].as_bool()?.then_some(())
        })
        .await;
        std::fs::create_dir_all(profile).unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={WIDTH},{height}"),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
        }}});
        let answer: Value =
            client.post(format!("{base}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let id = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}"));
        let browser =
            Browser { driver, client, session: format!("{base}/session/{id}"), profile: profile.to_path_buf() };
        browser.command("window/rect", json!({"width": WIDTH, "height": height})).await;
        // What the browser did on its own before the test asked anything (its start page).
        browser.log("performance").await;
        browser.log("browser").await;
        browser
    }

    /// `POST /session/ID/PATH` with `body`; the answer's `value`.
    async fn command(&self, path: &str, body: Value) -> Value {
        let answer: Value = self
            .client
            .post(format!("{}/{path}", self.session))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(answer["value"]["error"].is_null(), "{path}: {answer}");
        answer["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.command("url", json!({"url": url})).await;
    }

    /// The element `css` selects (it must exist), as WebDriver names it.
    async fn element(&self, css: &str) -> String {
        let found = self.command("element", json!({"using": "css selector", "value": css})).await;
        found
            .as_object()
            .and_then(|found| found.values().next())
            .and_then(Value::as_str)
            .expect("an element")
            .to_owned()
    }

    /// Types `text` into the element `css` selects.
    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.command(&format!("element/{element}/value"), json!({"text": text})).await;
    }

    /// Clicks the element `css` selects.
    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.command(&format!("element/{element}/click"), json!({})).await;
    }

    /// The browser's cookies, as WebDriver describes them.
    async fn cookies(&self) -> Vec<Value> {
        let answer: Value =
            self.client.get(format!("{}/cookie", self.session)).send().await.unwrap().json().await.unwrap();
        answer["value"].as_array().cloned().unwrap_or_default()
    }

    /// The value of `script` (a function body) run in the page.
    async fn eval(&self, script: &str) -> Value {
        self.command("execute/sync", json!({"script": script, "args": []})).await
    }

    /// The entries of a log (`browser`, `performance`) since it was last read.
    async fn log(&self, kind: &str) -> Vec<Value> {
        self.command("se/log", json!({"type": kind})).await.as_array().cloned().unwrap_or_default()
    }

    /// The viewport as a PNG.
    async fn screenshot(&self) -> Vec<u8> {
        let answer: Value =
            self.client.get(format!("{}/screenshot", self.session)).send().await.unwrap().json().await.unwrap();
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(answer["value"].as_str().expect("a base64 PNG"))
            .expect("base64")
    }
}

impl Drop for Browser {
    /// Ends the session, so chromedriver closes its Chromium (also when a check failed:
    /// a plain blocking `DELETE`, as `Drop` cannot wait on the runtime), then chromedriver.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let rest = self.session.strip_prefix("http://").unwrap_or(&self.session);
        let (address, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
            let request =
                format!("DELETE {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            // Its answer comes once the browser is gone; the headers are enough.
            let mut answer = Vec::new();
            let mut chunk = [0u8; 1024];
            if stream.write_all(request.as_bytes()).is_ok() {
                while !answer.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(&chunk[..n]),
                    }
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What a loaded page tells about itself: its counts and widths, as the DOM has them.
const SURVEY: &str = "
    const rows = [...document.querySelectorAll('svg.lanes .marker')];
    return {
        markers: rows.length,
        linked: rows.filter(m => document.getElementById('row-' + m.dataset.row)
            && m.closest('a') && m.closest('a').getAttribute('href') === '#row-' + m.dataset.row).length,
        corrected: [...document.querySelectorAll('svg.lanes .marker.corrected title')]
            .filter(t => t.textContent.includes('recorded')).length,
        rows: document.querySelectorAll('table.timeline tr[id^=row-]').length,
        gaps: document.querySelectorAll('.gap').length,
        charts: document.querySelectorAll('.query-chart').length,
        charts_with_lines: [...document.querySelectorAll('.query-chart')].filter(c => c.querySelector('polyline')).length,
        bands: document.querySelectorAll('.query-chart .band').length,
        lines_where_missing: [...document.querySelectorAll('.query-chart')].filter(c => c.querySelector('.missing'))
            .map(c => c.querySelectorAll('polyline').length),
        onsets: document.querySelectorAll('.query-chart .onset').length,
        scroll_width: document.documentElement.scrollWidth,
        client_width: document.documentElement.clientWidth,
        scripts: document.scripts.length,
        title: document.title,
    };";

/// Every URL the browser asked for since the performance log was last read.
async fn requested_urls(browser: &Browser) -> Vec<String> {
    browser
        .log("performance")
        .await
        .iter()
        .filter_map(|entry| serde_json::from_str::<Value>(entry["message"].as_str()?).ok())
        .filter(|message| message["message"]["method"] == "Network.requestWillBeSent")
        .filter_map(|message| message["message"]["params"]["request"]["url"].as_str().map(str::to_owned))
        .collect()
}

/// Loads `url` and checks what every page must hold to: nothing asked but what starts with
/// `allowed` (the daemon; an offline file itself), no console error, nothing wider than the
/// window, no script; returns its survey.
async fn load(browser: &Browser, url: &str, allowed: &str) -> Value {
    browser.open(url).await;
    let survey = browser.eval(SURVEY).await;
    let urls = requested_urls(browser).await;
    assert!(urls.iter().any(|requested| requested == url), "{url} not among the requests: {urls:#?}");
    for requested in &urls {
        assert!(requested.starts_with(allowed), "{url} made the browser ask {requested}");
    }
    let errors: Vec<Value> =
        browser.log("browser").await.into_iter().filter(|entry| entry["level"] == "SEVERE").collect();
    assert!(errors.is_empty(), "{url}: console errors {errors:#?}");
    let (scroll, client) = (survey["scroll_width"].as_u64().unwrap(), survey["client_width"].as_u64().unwrap());
    assert!(scroll <= WIDTH && scroll <= client, "{url} scrolls sideways: {survey}");
    assert_eq!(survey["scripts"], 0, "{url}");
    survey
}

/// Every HTML answer carries a strict policy (no script, no framing) and `nosniff`.
async fn check_headers(client: &reqwest::Client, url: &str) {
    let response = client.get(url).header("accept", "text/html").send().await.unwrap();
    assert!(response.status().is_success(), "{url}: {}", response.status());
    let header = |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    assert_eq!(header("content-type").as_deref(), Some("text/html; charset=utf-8"), "{url}");
    let policy = header("content-security-policy").unwrap_or_else(|| panic!("{url}: no Content-Security-Policy"));
    assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"), "{url}: {policy}");
    assert!(!policy.contains("unsafe") && !policy.contains("script-src"), "{url}: {policy}");
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{url}");
    assert!(policy.ends_with("frame-ancestors 'none'"), "{url}: {policy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_in_chromium() {
    require_chromium();
    let started = std::time::Instant::now();
    let folder = scratch_folder("browser");
    let fake = FakeKube::start(cluster(t("50:00"))).await;
    let (_prometheus, prometheus_url) = start_prometheus(&folder, &history()).await;
    let config = format!(
        "[collect]\nmax_window = \"720h\"\n\n[kubernetes]\nkubeconfig = \"{}\"\nnamespaces = [\"shop\"]\nrecollect_every = \"1s\"\n\n\
[prometheus]\nurl = \"{prometheus_url}\"\ntimeout = \"5s\"\n\n[[prometheus.queries]]\nname = \"error ratio\"\n\
query = 'checkout_error_ratio{{namespace=\"{{{{namespace}}}}\"}}'\n\n[[prometheus.queries]]\nname = \"queue depth\"\n\
query = 'checkout_queue_depth{{namespace=\"{{{{namespace}}}}\"}}'\n",
        fake.kubeconfig(&folder).display()
    );
    let daemon = Served::start_with_config("browser-daemon", &config, &[]).await;
    let base = daemon.base.clone();
    let client = reqwest::Client::new();

    // The alert fires at 10:05 and pages; the page is acknowledged at 10:09:30; the alert
    // resolves at 10:35 and the page at 10:36.
    let alert = |status: &str, ends_at: &str| {
        json!({"version": "4", "groupKey": "{}:{alertname=\"CheckoutErrors\"}", "status": status, "receiver": "postmortemd",
            "groupLabels": {"alertname": "CheckoutErrors"}, "commonLabels": {"alertname": "CheckoutErrors"},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0,
            "alerts": [{"status": status, "fingerprint": "c0ffee0000000001",
                "labels": {"alertname": "CheckoutErrors", "severity": "critical", "namespace": "shop", "deployment": "checkout"},
                "annotations": {"summary": "checkout 5xx ratio above 5%"},
                "startsAt": t("05:00").to_string(), "endsAt": ends_at,
                "generatorURL": "http://prometheus:9090/graph?g0.expr=checkout_error_ratio+%3E+0.05&g0.tab=1"}]})
    };
    let post = async |path: &str, body: Value| {
        let answer = client.post(format!("{base}{path}")).json(&body).send().await.unwrap();
        assert!(answer.status().is_success(), "{path}: {:?}", answer.text().await);
    };
    post("/webhooks/alertmanager", alert("firing", "0001-01-01T00:00:00Z")).await;
    let incident_key = hex::encode(Sha256::digest(br#"{}:{alertname="CheckoutErrors"}"#));
    let page = |id: &str, kind: &str, at: Timestamp, agent: Value| {
        json!({"event": {"id": id, "event_type": kind, "resource_type": "incident", "occurred_at": at.to_string(),
            "agent": agent, "client": null,
            "data": {"id": "Q0CHECKOUT", "type": "incident", "title": "CheckoutErrors", "incident_key": incident_key,
                "service": {"id": "PSVC", "type": "service_reference", "summary": "Checkout API"}}}})
    };
    let service = json!({"type": "service_reference", "summary": "Alertmanager"});
    let user = json!({"type": "user_reference", "summary": "Alice Example"});
    post("/webhooks/pagerduty", page("01PAGE", "incident.triggered", t("06:00"), service)).await;
    post("/webhooks/pagerduty", page("02ACK", "incident.acknowledged", t("09:30"), user.clone())).await;
    let id = eventually("the incident and its first pass", async || {
        let id = support::services::all_incidents(&client, &base).await?.first()?["id"].as_i64()?;
        let incident: Value =
            client.get(format!("{base}/api/v1/incidents/{id}")).send().await.ok()?.json().await.ok()?;
        (incident["collection"]["passes"].as_i64()? >= 1).then_some(id)
    })
    .await;
    post("/webhooks/alertmanager", alert("resolved", &t("35:00").to_string())).await;
    post("/webhooks/pagerduty", page("03RESOLVE", "incident.resolved", t("36:00"), user)).await;
    let incident_url = format!("{base}/api/v1/incidents/{id}");
    eventually("the final pass after resolution", async || {
        let incident: Value = client.get(&incident_url).send().await.ok()?.json().await.ok()?;
        (incident["status"] == "resolved" && incident["collection"]["finished_at"].is_string()).then_some(())
    })
    .await;
    let timeline: Value =
        client.get(format!("{incident_url}/timeline?format=json")).send().await.unwrap().json().await.unwrap();
    let entries = timeline["entries"].as_array().unwrap();
    let n_gaps = timeline["gaps"].as_array().unwrap().len();
    let n_corrected = entries.iter().filter(|entry| entry["recorded_time"].is_string()).count();
    // The planted evidence reaches the page: a corrected row (node-2 runs 90 s ahead), the
    // queue depth's hole and the pod's restart.
    assert!(n_corrected > 0 && n_gaps >= 2, "{timeline:#}");

    let page_url = format!("{incident_url}/timeline?format=html");
    for url in [page_url.clone(), format!("{base}/"), format!("{incident_url}/postmortem?format=html")] {
        check_headers(&client, &url).await;
    }

    let browser = Browser::start(&folder.join("chromium"), 1500).await;
    let daemon_only = format!("{base}/");
    let survey = load(&browser, &page_url, &daemon_only).await;
    assert_eq!(survey["markers"], entries.len(), "a marker per row: {survey}");
    assert_eq!(survey["linked"], entries.len(), "each marker links to its row: {survey}");
    assert_eq!(survey["rows"], entries.len(), "{survey}");
    assert_eq!(survey["corrected"], n_corrected, "corrected markers show their recorded time: {survey}");
    assert_eq!(survey["gaps"], n_gaps, "a shaded element per gap: {survey}");
    // The alert's own expression (a filter: samples only where it holds) and the two
    // configured queries; the node clocks are evidence of skew, not charts. The error ratio
    // departs from its band at 10:03:30: its onset is marked.
    assert_eq!(survey["charts"], 3, "a chart per query: {survey}");
    assert_eq!(survey["charts_with_lines"], 3, "{survey}");
    assert!(survey["bands"].as_u64().unwrap() >= 2, "{survey}");
    assert_eq!(survey["onsets"], 1, "{survey}");
    // The queue depth's hole is shaded and breaks its line in two.
    assert_eq!(survey["lines_where_missing"], json!([2]), "{survey}");
    if std::env::var_os("UPDATE_SCREENSHOT").is_some_and(|value| value == "1") {
        let png = browser.screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images/incident-page.png");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, png).unwrap();
    }

    let index = load(&browser, &format!("{base}/"), &daemon_only).await;
    assert_eq!(index["title"], "postmortemd", "{index}");
    let report = load(&browser, &format!("{incident_url}/postmortem?format=html"), &daemon_only).await;
    assert_eq!(report["rows"], entries.len(), "the post-mortem's timeline: {report}");

    // Offline, `draft --format html` and `report --format html` write the pages as single
    // files: opened from disk they ask for nothing but themselves.
    let offline = |command: &str, format: &str, file: &str| {
        let path = folder.join(file);
        let status = Command::new(env!("CARGO_BIN_EXE_postmortemd"))
            .args([command, "examples/checkout-outage", "--format", format, "-o"])
            .arg(&path)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "{command} --format {format}");
        path
    };
    let drafted: Value =
        serde_json::from_str(&std::fs::read_to_string(offline("draft", "json", "example.json")).unwrap()).unwrap();
    let n_rows = drafted["entries"].as_array().unwrap().len();
    let file_url = format!("file://{}", offline("draft", "html", "example.html").display());
    let survey = load(&browser, &file_url, &file_url).await;
    assert_eq!(survey["markers"], n_rows, "{survey}");
    assert_eq!(survey["linked"], n_rows, "{survey}");
    assert_eq!(survey["gaps"], drafted["gaps"].as_array().unwrap().len(), "{survey}");
    // Latency p99 and 5xx by pod; the node clock series are not charted.
    assert_eq!(survey["charts"], 2, "{survey}");
    let file_url = format!("file://{}", offline("report", "html", "report.html").display());
    let report = load(&browser, &file_url, &file_url).await;
    assert_eq!(report["rows"], n_rows, "{report}");
    drop(browser);
    let _ = std::fs::remove_dir_all(&folder);
    eprintln!("browser test took {:?}", started.elapsed());
}

/// With API tokens set, a browser is offered the sign-in form instead of a JSON 401; the
/// token typed into it once becomes an HttpOnly, SameSite=Strict cookie, and the browser lands
/// on the page it asked for, where a responder's note (added over the write API) is a row of
/// its own, marked as human input, with a marker in the responders' lane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_and_a_responders_note_in_chromium() {
    require_chromium();
    let folder = scratch_folder("browser-signin");
    let config = "[api]\nbearer_tokens = [\"reader-token\"]\nwrite_tokens = [\"writer-token\"]\n";
    let daemon = Served::start_with_config("browser-signin-daemon", config, &[]).await;
    let base = daemon.base.clone();
    let client = reqwest::Client::new();
    let firing = json!({"version": "4", "groupKey": "{}:{alertname=\"CheckoutErrors\"}", "status": "firing",
        "receiver": "postmortemd", "groupLabels": {"alertname": "CheckoutErrors"},
        "commonLabels": {"alertname": "CheckoutErrors"}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "truncatedAlerts": 0, "alerts": [{"status": "firing", "fingerprint": "c0ffee0000000002",
            "labels": {"alertname": "CheckoutErrors", "severity": "critical"}, "annotations": {"summary": "checkout 5xx"},
            "startsAt": "2026-11-29T10:05:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}]});
    let answer = client.post(format!("{base}/webhooks/alertmanager")).json(&firing).send().await.unwrap();
    assert!(answer.status().is_success());
    let list: Value = client
        .get(format!("{base}/api/v1/incidents"))
        .bearer_auth("reader-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["incidents"][0]["id"].as_i64().expect("the incident");
    let note =
        json!({"at": "2026-11-29T10:12:00Z", "author": "Alice Example", "text": "Rolled back checkout to 1.41.3"});
    let answer = client
        .post(format!("{base}/api/v1/incidents/{id}/notes"))
        .bearer_auth("writer-token")
        .json(&note)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{:?}", answer.text().await);

    let browser = Browser::start(&folder.join("chromium"), 1000).await;
    let page_url = format!("{base}/api/v1/incidents/{id}/timeline?format=html");
    browser.open(&page_url).await;
    let form = browser
        .eval(
            "return {form: document.querySelectorAll('form[action=\"/signin\"] input[type=password]').length, \
               next: document.querySelector('input[name=next]').value, scripts: document.scripts.length};",
        )
        .await;
    assert_eq!(form["form"], 1, "the sign-in form: {form}");
    assert_eq!(form["next"], format!("/api/v1/incidents/{id}/timeline?format=html"), "{form}");
    assert_eq!(form["scripts"], 0);
    // A wrong token: the form again, saying so.
    browser.type_into("#token", "not-a-token").await;
    browser.click("button[type=submit]").await;
    let refused = browser.eval("return document.querySelectorAll('.refused').length;").await;
    assert_eq!(refused, 1, "the form says the token was refused");
    assert!(browser.cookies().await.is_empty());
    browser.type_into("#token", "reader-token").await;
    browser.click("button[type=submit]").await;

    let landed = browser.eval("return location.href;").await;
    assert_eq!(landed, page_url.as_str(), "back on the page it asked for");
    let cookies = browser.cookies().await;
    assert_eq!(cookies.len(), 1, "{cookies:#?}");
    assert_eq!(cookies[0]["name"], "postmortemd_session");
    assert_eq!(cookies[0]["httpOnly"], true, "{cookies:#?}");
    assert_eq!(cookies[0]["sameSite"], "Strict", "{cookies:#?}");
    assert!(!cookies[0]["value"].as_str().unwrap().contains("reader-token"));
    // The page reads it as a responder's row with its own marker; the cookie is not readable by
    // the page (HttpOnly), and nothing but the daemon was asked or complained of.
    let survey = browser
        .eval(
            "const rows = [...document.querySelectorAll('table.timeline tr.human-row')]; \
               return {human_rows: rows.map(r => r.textContent), cookie: document.cookie, \
               lanes: [...document.querySelectorAll('svg.lanes text')].map(t => t.textContent)};",
        )
        .await;
    let human_rows = survey["human_rows"].as_array().unwrap();
    assert_eq!(human_rows.len(), 1, "{survey}");
    let row = human_rows[0].as_str().unwrap();
    assert!(row.contains("Rolled back checkout to 1.41.3") && row.contains("Alice Example"), "{row}");
    assert_eq!(survey["cookie"], "", "{survey}");
    assert!(
        survey["lanes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|lane| lane.as_str().is_some_and(|lane| lane.contains("responders"))),
        "{survey}"
    );
    let daemon_only = format!("{base}/");
    let urls = requested_urls(&browser).await;
    assert!(urls.iter().all(|url| url.starts_with(&daemon_only)), "{urls:#?}");
    let errors: Vec<Value> =
        browser.log("browser").await.into_iter().filter(|entry| entry["level"] == "SEVERE").collect();
    // The sign-in form was answered 401 and the wrong token again: Chromium logs each failed
    // load as a network error; nothing else may appear.
    assert!(
        errors.iter().all(|entry| entry["message"].as_str().is_some_and(|message| message.contains("401"))),
        "{errors:#?}"
    );
    // The index opens with the same cookie.
    let index = load(&browser, &format!("{base}/"), &daemon_only).await;
    assert_eq!(index["title"], "postmortemd", "{index}");
    drop(browser);
    let _ = std::fs::remove_dir_all(&folder);
}
