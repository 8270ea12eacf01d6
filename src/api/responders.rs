//! Writing: what responders add to an incident's draft, behind the write tokens
//! (`api.write_tokens`): `POST …/{id}/notes`, `PATCH …/{id}` (a corrected title or severity),
//! `POST …/{id}/resolve` (a manual resolve at its own time) and `POST …/{id}/merge`.
//! Each body is read by the `ingest::json` reader (so a 400 names the field and what was
//! expected, times by `ingest::json::parse_time`), stored in one transaction and answered
//! after its commit; the incident's cached timeline is forgotten.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::AppState;
use crate::api::error::{ApiError, Result};
use crate::ingest::ParseError;
use crate::ingest::json::{Node, parse_document};
use crate::record::{Instant, ResponderInput, ResponderRecord};
use crate::store::Refusal;

/// The longest author name, in characters (as the OpenAPI document's `maxLength` counts).
pub const MAX_AUTHOR_CHARS: usize = 256;
/// The longest note (or a resolve's note), in characters.
pub const MAX_TEXT_CHARS: usize = 16 * 1024;
/// The longest corrected title, in characters.
pub const MAX_TITLE_CHARS: usize = 1024;
/// The longest corrected severity, in characters.
pub const MAX_SEVERITY_CHARS: usize = 64;

/// The write routes, by what their body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Note,
    Correction,
    Resolve,
    Merge,
}

impl Route {
    /// The fields its body may have.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Route::Note => &["at", "author", "text"],
            Route::Correction => &["author", "title", "severity"],
            Route::Resolve => &["at", "author", "note"],
            Route::Merge => &["author", "from"],
        }
    }
}

/// A request body read as the input of `route`, sent at `now`; the error says what is wrong.
fn parse(route: Route, body: &[u8], now: Instant) -> std::result::Result<ResponderRecord, ParseError> {
    let document = parse_document(body)?;
    let root = Node::root(&document);
    let object = root.object("a JSON object")?;
    if let Some(unknown) = object.keys().find(|key| !route.fields().contains(&key.as_str())) {
        return Err(ParseError::new(unknown, format!("unknown field; expected one of {}", route.fields().join(", "))));
    }
    let author = bounded(&root, "author", MAX_AUTHOR_CHARS)?.ok_or_else(|| root.get("author").error("a name"))?;
    let at = root.get("at").opt_time()?.unwrap_or(now);
    let input = match route {
        Route::Note => ResponderInput::Note {
            text: bounded(&root, "text", MAX_TEXT_CHARS)?.ok_or_else(|| root.get("text").error("the note's text"))?,
        },
        Route::Correction => {
            let title = bounded(&root, "title", MAX_TITLE_CHARS)?;
            let severity = bounded(&root, "severity", MAX_SEVERITY_CHARS)?;
            if title.is_none() && severity.is_none() {
                return Err(ParseError::new("title", "expected a title or a severity to correct, found neither"));
            }
            ResponderInput::Correction { title, severity }
        }
        Route::Resolve => ResponderInput::Resolve { note: bounded(&root, "note", MAX_TEXT_CHARS)? },
        Route::Merge => {
            let from = root.get("from");
            ResponderInput::Merge { from: from.opt_i64().ok().flatten().ok_or_else(|| from.error("an incident id"))? }
        }
    };
    Ok(ResponderRecord { at, author, input })
}

/// A string field: absent or `null` is `None`; blank or longer than `max` characters is an error.
fn bounded(root: &Node<'_, '_>, field: &str, max: usize) -> std::result::Result<Option<String>, ParseError> {
    let node = root.get(field);
    let Some(text) = node.opt_str()? else { return Ok(None) };
    if text.trim().is_empty() {
        return Err(node.error("a non-empty string"));
    }
    let length = text.chars().count();
    if length > max {
        return Err(node.error_with(format!("expected at most {max} characters, found {length}")));
    }
    Ok(Some(text.to_owned()))
}

/// The input with the secrets the built-in redaction rules know replaced
/// (`[REDACTED:<rule>]`), as in collected evidence: a pasted token is not stored or shown.
fn redacted(mut input: ResponderRecord) -> ResponderRecord {
    let redact = |text: &mut String| {
        let mut counts = crate::normalize::redact::Counts::new();
        let mut state = crate::normalize::redact::StreamState::default();
        let clean = crate::normalize::redact::Redactor::builtin().text(&mut state, text, &mut counts).into_owned();
        *text = clean;
    };
    match &mut input.input {
        ResponderInput::Note { text } | ResponderInput::Resolve { note: Some(text) } => redact(text),
        ResponderInput::Correction { title, .. } => title.iter_mut().for_each(redact),
        ResponderInput::Resolve { note: None } | ResponderInput::Merge { .. } => {}
    }
    redact(&mut input.author);
    input
}

/// Parses, stores and answers one input of `route` to incident `id`.
async fn store(state: &AppState, id: i64, route: Route, body: &[u8], created: StatusCode) -> Result<Response> {
    let now = Instant::now();
    let input = redacted(parse(route, body, now).map_err(|error| ApiError::bad_request(error.to_string()))?);
    let stored =
        state.store.add_responder_input(id, &input, now).await.map_err(|error| ApiError::unavailable(&error))?;
    let input_id = stored.map_err(|refusal| match refusal {
        Refusal::NoIncident(id) => ApiError::not_found(format!("no incident {id}")),
        Refusal::Merged { id, into } => ApiError::new(
            StatusCode::CONFLICT,
            format!("incident {id} was merged into incident {into}: add to /api/v1/incidents/{into}"),
        ),
        Refusal::Conflict(why) => ApiError::new(StatusCode::CONFLICT, why),
    })?;
    state.invalidate(Some(id));
    tracing::info!(incident = id, input = input_id, kind = input.input.kind(), "Responder input stored.");
    let answer = serde_json::json!({
        "incident": id,
        "input": input_id,
        "kind": input.input.kind(),
        "at": input.at.to_string(),
        "links": { "incident": format!("/api/v1/incidents/{id}"), "timeline": format!("/api/v1/incidents/{id}/timeline") },
    });
    Ok((created, Json(answer)).into_response())
}

/// `POST /api/v1/incidents/{id}/notes`: a note, a row of the timeline at its time.
pub async fn note(State(state): State<AppState>, Path(id): Path<i64>, body: Bytes) -> Result<Response> {
    store(&state, id, Route::Note, &body, StatusCode::CREATED).await
}

/// `PATCH /api/v1/incidents/{id}`: a corrected title and/or severity.
pub async fn correct(State(state): State<AppState>, Path(id): Path<i64>, body: Bytes) -> Result<Response> {
    store(&state, id, Route::Correction, &body, StatusCode::OK).await
}

/// `POST /api/v1/incidents/{id}/resolve`: resolved by hand at its own time.
pub async fn resolve(State(state): State<AppState>, Path(id): Path<i64>, body: Bytes) -> Result<Response> {
    store(&state, id, Route::Resolve, &body, StatusCode::CREATED).await
}

/// `POST /api/v1/incidents/{id}/merge`: another incident merged into this one.
pub async fn merge(State(state): State<AppState>, Path(id): Path<i64>, body: Bytes) -> Result<Response> {
    let response = store(&state, id, Route::Merge, &body, StatusCode::CREATED).await?;
    // The merged incident's timeline now points here: forget every cached one.
    state.invalidate_all();
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(route: Route, body: &str, expected: std::result::Result<ResponderInput, &str>) {
        let now: Instant = "2025-02-09T11:00:00Z".parse().unwrap();
        let parsed = parse(route, body.as_bytes(), now);
        match expected {
            Ok(input) => assert_eq!(parsed.map(|record| record.input), Ok(input), "{body}"),
            Err(message) => assert_eq!(parsed.map_err(|error| error.to_string()), Err(message.to_owned()), "{body}"),
        }
    }

    #[test]
    fn bodies_are_read_or_refused_with_what_is_wrong() {
        let note = |text: &str| Ok(ResponderInput::Note { text: text.to_owned() });
        check(Route::Note, r#"{"author": "Alice", "text": "rolling back"}"#, note("rolling back"));
        check(Route::Note, r#"{"author": "Alice", "text": "x", "at": null}"#, note("x"));
        check(Route::Note, r#"{"text": "x"}"#, Err("author: expected a name, found nothing (the field is missing)"));
        check(Route::Note, r#"{"author": " ", "text": "x"}"#, Err(r#"author: expected a non-empty string, found " ""#));
        check(Route::Note, r#"{"author": "A", "text": 3}"#, Err("text: expected a string, found the number 3"));
        check(
            Route::Note,
            r#"{"author": "A", "text": "x", "at": "noon"}"#,
            Err(r#"at: expected an RFC 3339 time, found "noon""#),
        );
        check(
            Route::Note,
            r#"{"author": "A", "text": "x", "mood": 1}"#,
            Err("mood: unknown field; expected one of at, author, text"),
        );
        check(Route::Note, "[]", Err("top level: expected a JSON object, found an array"));
        let long = format!(r#"{{"author": "A", "text": "{}"}}"#, "x".repeat(MAX_TEXT_CHARS + 1));
        check(Route::Note, &long, Err("text: expected at most 16384 characters, found 16385"));
        check(
            Route::Correction,
            r#"{"author": "A", "severity": "critical"}"#,
            Ok(ResponderInput::Correction { title: None, severity: Some("critical".to_owned()) }),
        );
        check(
            Route::Correction,
            r#"{"author": "A"}"#,
            Err("title: expected a title or a severity to correct, found neither"),
        );
        check(Route::Resolve, r#"{"author": "A"}"#, Ok(ResponderInput::Resolve { note: None }));
        check(Route::Merge, r#"{"author": "A", "from": 7}"#, Ok(ResponderInput::Merge { from: 7 }));
        // An integral float is an integer to JSON Schema, so it is one here.
        check(Route::Merge, r#"{"author": "A", "from": 7.0}"#, Ok(ResponderInput::Merge { from: 7 }));
        check(
            Route::Merge,
            r#"{"author": "A", "from": 7.5}"#,
            Err("from: expected an incident id, found the number 7.5"),
        );
        check(Route::Merge, r#"{"author": "A", "from": "7"}"#, Err(r#"from: expected an incident id, found "7""#));
    }

    #[test]
    fn a_secret_in_a_note_is_redacted_before_it_is_stored() {
        let now: Instant = "2025-02-09T11:00:00Z".parse().unwrap();
        let body = br#"{"author": "A", "text": "logged in with password=hunter2 to check"}"#;
        let input = redacted(parse(Route::Note, body, now).unwrap());
        assert_eq!(
            input.input,
            ResponderInput::Note { text: "logged in with password=[REDACTED:password] to check".to_owned() }
        );
    }

    #[test]
    fn a_time_is_its_own_or_when_it_was_sent() {
        let now: Instant = "2025-02-09T11:00:00Z".parse().unwrap();
        let body = br#"{"author": "A", "text": "x", "at": "2025-02-09T12:18:00+02:00"}"#;
        assert_eq!(parse(Route::Note, body, now).unwrap().at, "2025-02-09T10:18:00Z".parse::<Instant>().unwrap());
        assert_eq!(parse(Route::Note, br#"{"author": "A", "text": "x"}"#, now).unwrap().at, now);
    }
}
