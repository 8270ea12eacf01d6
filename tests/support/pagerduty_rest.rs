//! A PagerDuty REST API (v2) test server on loopback, following PagerDuty's API reference:
//! `GET /incidents` (`since`, `until` on `created_at`, `service_ids[]`, `team_ids[]`,
//! `statuses[]`, `time_zone`) and `GET /incidents/{id}/log_entries` (`since`, `until`,
//! `is_overview`, `include[]=incidents`), both classic-paginated (`offset`, `limit` — capped by
//! the server, which says the `limit` it used — `more`, and `total` only when `total=true`,
//! else `null`); `Authorization: Token token=…` checked (401 with PagerDuty's error body
//! `{"error": {"message": …, "code": …}}` otherwise); `Accept:
//! application/vnd.pagerduty+json;version=2`; a 429 with `Retry-After` injected on request.
//! It records every request (path and decoded query pairs) for tests to check.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

/// One recorded request: its path and query pairs, decoded, in order.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub status: u16,
}

impl Request {
    pub fn values(&self, key: &str) -> Vec<&str> {
        self.query.iter().filter(|(name, _)| name == key).map(|(_, value)| value.as_str()).collect()
    }
}

#[derive(Default)]
struct Account {
    token: String,
    /// Full incident objects.
    incidents: Vec<Value>,
    /// Log entries, each with its incident's id under `incident.id`.
    log_entries: Vec<Value>,
    /// The most items a page holds (PagerDuty's is 100).
    max_limit: usize,
    /// Answer request number N (1-based, counted over all requests) with 429.
    rate_limit_at: Vec<usize>,
    requests: Vec<Request>,
}

/// The running server; cheap to clone.
#[derive(Clone)]
pub struct PagerDutyRest {
    pub url: String,
    account: Arc<Mutex<Account>>,
}

impl PagerDutyRest {
    /// Starts the server accepting `token`, paging at most `max_limit` items.
    pub async fn start(token: &str, max_limit: usize) -> PagerDutyRest {
        let account = Arc::new(Mutex::new(Account { token: token.to_owned(), max_limit, ..Account::default() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = Router::new().fallback(serve).with_state(account.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        PagerDutyRest { url, account }
    }

    /// An incident of `service` (and `team`), created at `created_at`.
    pub fn add_incident(&self, id: &str, service: &str, team: &str, created_at: &str, incident_key: &str) {
        let incident = json!({
            "id": id, "type": "incident", "summary": format!("[#1] Checkout down ({id})"),
            "self": format!("https://api.pagerduty.com/incidents/{id}"),
            "html_url": format!("https://example.pagerduty.com/incidents/{id}"),
            "incident_number": 1, "title": format!("Checkout down ({id})"), "created_at": created_at,
            "status": "triggered", "incident_key": incident_key, "urgency": "high",
            "service": {"id": service, "type": "service_reference", "summary": "Checkout API"},
            "teams": [{"id": team, "type": "team_reference", "summary": "Shop"}],
        });
        self.account.lock().unwrap().incidents.push(incident);
    }

    /// A log entry of incident `incident` (`type` like `acknowledge_log_entry`).
    pub fn add_log_entry(&self, id: &str, incident: &str, entry_type: &str, created_at: &str, agent: &str) {
        let entry = json!({
            "id": id, "type": entry_type, "summary": format!("{entry_type} by {agent}"),
            "self": format!("https://api.pagerduty.com/log_entries/{id}"),
            "created_at": created_at,
            "agent": {"id": "PUSER1", "type": "user_reference", "summary": agent},
            "channel": {"type": "web_ui"},
            "incident": {"id": incident, "type": "incident_reference"},
        });
        self.account.lock().unwrap().log_entries.push(entry);
    }

    /// Answers request number `n` (1-based, from the server's start) with 429 `Retry-After: 1`.
    pub fn rate_limit_request(&self, n: usize) {
        self.account.lock().unwrap().rate_limit_at.push(n);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.account.lock().unwrap().requests.clone()
    }
}

/// `application/x-www-form-urlencoded` pairs, percent-decoded (`+` is a space).
fn decode_query(query: &str) -> Vec<(String, String)> {
    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'+' => out.push(b' '),
                b'%' if index + 2 < bytes.len() && u8::from_str_radix(&text[index + 1..index + 3], 16).is_ok() => {
                    out.push(u8::from_str_radix(&text[index + 1..index + 3], 16).unwrap());
                    index += 2;
                }
                byte => out.push(byte),
            }
            index += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn error(status: StatusCode, message: &str, code: i64, errors: &[&str]) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "code": code, "errors": errors}}))).into_response()
}

async fn serve(
    State(account): State<Arc<Mutex<Account>>>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = decode_query(raw.as_deref().unwrap_or(""));
    let mut account = account.lock().unwrap();
    let number = account.requests.len() + 1;
    let response = answer(&account, number, uri.path(), &headers, &query);
    account.requests.push(Request { path: uri.path().to_owned(), query, status: response.status().as_u16() });
    response
}

fn answer(account: &Account, number: usize, path: &str, headers: &HeaderMap, query: &[(String, String)]) -> Response {
    let header_text = |name| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("");
    if header_text(header::AUTHORIZATION) != format!("Token token={}", account.token) {
        return error(StatusCode::UNAUTHORIZED, "Authentication failed", 2006, &[]);
    }
    if !header_text(header::ACCEPT).contains("application/vnd.pagerduty+json;version=2") {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid Input Provided",
            2001,
            &["Accept header must ask for version=2"],
        );
    }
    if account.rate_limit_at.contains(&number) {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Rate Limit Exceeded", 2020, &[]);
        response.headers_mut().insert(header::RETRY_AFTER, "1".parse().unwrap());
        return response;
    }
    let one = |key: &str| query.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str());
    let many = |key: &str| -> Vec<&str> {
        query.iter().filter(|(name, _)| name == key).map(|(_, value)| value.as_str()).collect()
    };
    let time = |key: &str| one(key).map(|text| text.parse::<Timestamp>());
    let (since, until) = match (time("since"), time("until")) {
        (Some(Err(_)), _) | (_, Some(Err(_))) => {
            return error(StatusCode::BAD_REQUEST, "Invalid Input Provided", 2001, &["since or until is not a date"]);
        }
        (since, until) => (since.and_then(Result::ok), until.and_then(Result::ok)),
    };
    let in_range = |item: &Value| {
        let created: Timestamp = item["created_at"].as_str().and_then(|text| text.parse().ok()).unwrap();
        since.is_none_or(|since| created >= since) && until.is_none_or(|until| created < until)
    };
    let (key, items): (&str, Vec<Value>) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["", "incidents"] => {
            let services = many("service_ids[]");
            let teams = many("team_ids[]");
            let statuses = many("statuses[]");
            let items = account
                .incidents
                .iter()
                .filter(|incident| in_range(incident))
                .filter(|incident| {
                    services.is_empty() || services.contains(&incident["service"]["id"].as_str().unwrap())
                })
                .filter(|incident| {
                    teams.is_empty()
                        || incident["teams"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|team| teams.contains(&team["id"].as_str().unwrap()))
                })
                .filter(|incident| statuses.is_empty() || statuses.contains(&incident["status"].as_str().unwrap()))
                .cloned()
                .collect();
            ("incidents", items)
        }
        ["", "incidents", id, "log_entries"] => {
            let Some(incident) = account.incidents.iter().find(|incident| incident["id"] == *id) else {
                return error(StatusCode::NOT_FOUND, "Not Found", 2100, &[]);
            };
            let include_incident = many("include[]").contains(&"incidents");
            let mut items: Vec<Value> = account
                .log_entries
                .iter()
                .filter(|entry| entry["incident"]["id"] == *id && in_range(entry))
                .cloned()
                .collect();
            // Newest first, as PagerDuty lists them.
            items.reverse();
            for entry in &mut items {
                entry["incident"] = if include_incident {
                    incident.clone()
                } else {
                    json!({"id": id, "type": "incident_reference", "summary": incident["summary"], "self": incident["self"]})
                };
            }
            ("log_entries", items)
        }
        _ => return error(StatusCode::NOT_FOUND, "Not Found", 2100, &[]),
    };
    let offset: usize = match one("offset").map(str::parse).transpose() {
        Ok(offset) => offset.unwrap_or(0),
        Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid Input Provided", 2001, &["offset is not a number"]),
    };
    let limit: usize = match one("limit").map(str::parse).transpose() {
        Ok(limit) => limit.unwrap_or(25).min(account.max_limit),
        Err(_) => return error(StatusCode::BAD_REQUEST, "Invalid Input Provided", 2001, &["limit is not a number"]),
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let body = json!({
        key: page,
        "offset": offset,
        "limit": limit,
        "more": offset + limit < total,
        "total": if one("total") == Some("true") { json!(total) } else { Value::Null },
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}
