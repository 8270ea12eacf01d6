//! Secrets in evidence: one function, [`Redactor::bytes`] (and its `&str` form
//! [`Redactor::text`]), replaces each secret of a log line or event message by
//! `[REDACTED:<rule>]`, keeping the key so the line still reads
//! (`password=[REDACTED:password]`), and counts the redactions per rule.
//!
//! The collectors call it before a pass's chunks and objects leave them (so the store never
//! holds a secret); `draft` (log digests, event messages), `inspect-times` and `templates`
//! call it where lines are read, so a file exported by hand is redacted before it is shown.
//! Text already redacted is left as it is and its markers are counted, so a draft of a
//! daemon's bundle counts what the daemon redacted.
//!
//! Built-in rules are grammar, not regular expressions: one Aho-Corasick pass over the line
//! finds the places a secret can start (`password`, `token`, `Bearer`, `AKIA`, `eyJ`, …),
//! and each is checked by hand; a line with none of them is returned as it was, without
//! allocating. `[[redact]]` rules of the settings are regular expressions, run after the
//! built-in ones, only when configured.
//!
//! A private key spans lines: [`StreamState`] carries, per stream, that a
//! `-----BEGIN … PRIVATE KEY-----` was seen without its `END`, and the key's lines
//! (base64, or `Proc-Type:`-style headers) are redacted whole until the `END` line; any
//! other line ends the block, so a lone `BEGIN` cannot hide the rest of a log.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};

use crate::record::Record;

/// Redactions per rule name.
pub type Counts = BTreeMap<String, u64>;

/// What every redaction starts with.
pub const MARKER: &str = "[REDACTED:";

/// Longest run of lines read as one private key's body.
const MAX_KEY_LINES: u32 = 200;

/// A `[[redact]]` pattern that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("redact rule {name:?}: not a regular expression")]
pub struct Error {
    pub name: String,
    #[source]
    pub source: regex::Error,
}

/// What a stream carries from one line to the next: inside a private key, how many lines.
#[derive(Clone, Debug, Default)]
pub struct StreamState {
    key_lines: u32,
}

/// The built-in rules and the `[[redact]]` rules of the settings.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    custom: Vec<(String, regex::bytes::Regex)>,
}

/// Where a built-in rule may start (ASCII, any case); each is checked by [`Redactor::bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// A key whose name says its value is secret (`db_password`, `X-Auth-Token`, `AccountKey`).
    Key,
    Bearer,
    AwsKeyId,
    GcpKey,
    PrivateKey,
    Jwt,
    /// `scheme://user:password@host`.
    UrlPassword,
    /// `[REDACTED:…]`, already redacted.
    Marker,
}

const TRIGGERS: &[(&str, Trigger)] = &[
    ("pass", Trigger::Key),
    ("secret", Trigger::Key),
    ("token", Trigger::Key),
    ("key", Trigger::Key),
    ("authorization", Trigger::Key),
    ("bearer", Trigger::Bearer),
    ("akia", Trigger::AwsKeyId),
    ("asia", Trigger::AwsKeyId),
    ("agpa", Trigger::AwsKeyId),
    ("aida", Trigger::AwsKeyId),
    ("aroa", Trigger::AwsKeyId),
    ("anpa", Trigger::AwsKeyId),
    ("anva", Trigger::AwsKeyId),
    ("aipa", Trigger::AwsKeyId),
    ("aiza", Trigger::GcpKey),
    ("-----begin ", Trigger::PrivateKey),
    ("eyj", Trigger::Jwt),
    ("://", Trigger::UrlPassword),
    ("[redacted:", Trigger::Marker),
];

static FINDER: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(TRIGGERS.iter().map(|(needle, _)| needle))
        .expect("fixed needles build")
});

/// Key names (lower-case, letters and digits only) by how they end, and their rule; the
/// first that fits wins.
const KEY_RULES: &[(&str, &str)] = &[
    ("secretaccesskey", "aws_secret_access_key"),
    ("password", "password"),
    ("passwd", "password"),
    ("passphrase", "password"),
    ("privatekey", "private_key"),
    ("secretkey", "secret"),
    ("secret", "secret"),
    ("token", "token"),
    ("apikey", "api_key"),
    ("accesskey", "api_key"),
    ("accountkey", "api_key"),
    ("authorization", "authorization"),
];

static BUILTIN: LazyLock<Redactor> = LazyLock::new(Redactor::default);

impl Redactor {
    /// The built-in rules only (offline drafts, which have no settings).
    pub fn builtin() -> &'static Redactor {
        &BUILTIN
    }

    /// The built-in rules and `rules` as (name, pattern), in order.
    pub fn new<'a>(rules: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Error> {
        let custom = rules
            .into_iter()
            .map(|(name, pattern)| {
                regex::bytes::Regex::new(pattern)
                    .map(|regex| (name.to_owned(), regex))
                    .map_err(|source| Error { name: name.to_owned(), source })
            })
            .collect::<Result<_, _>>()?;
        Ok(Redactor { custom })
    }

    /// [`Self::bytes`] for text: the line, or the line with its secrets replaced.
    pub fn text<'a>(&self, state: &mut StreamState, text: &'a str, counts: &mut Counts) -> Cow<'a, str> {
        match self.bytes(state, text.as_bytes(), counts) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(bytes) => Cow::Owned(
                String::from_utf8(bytes).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()),
            ),
        }
    }

    /// One line (without its line end; for a `kubectl logs --timestamps` line, the text after
    /// the kubelet time): each secret replaced by `[REDACTED:<rule>]`, each counted in `counts`.
    /// `state` is the stream's, carried from its previous line.
    pub fn bytes<'a>(&self, state: &mut StreamState, line: &'a [u8], counts: &mut Counts) -> Cow<'a, [u8]> {
        let mut edit = Edit { line, out: Vec::new(), copied: 0, changed: false };
        let mut at = 0;
        if state.key_lines > 0 {
            if let Some(end) = private_key_end(line, 0) {
                edit.replace(0, end, "private_key");
                state.key_lines = 0;
                at = end;
            } else if state.key_lines < MAX_KEY_LINES && is_key_body(line) {
                state.key_lines += 1;
                if !line.is_empty() {
                    edit.replace(0, line.len(), "private_key");
                }
                return self.custom(edit.finish(), counts);
            } else {
                state.key_lines = 0;
            }
        }
        while at < line.len() {
            let Some(found) = FINDER.find(Input::new(line).span(at..line.len())) else { break };
            let (start, end) = (found.start(), found.end());
            let mut next = end;
            // The secret's span and rule, if this place holds one.
            let secret = match TRIGGERS[found.pattern().as_usize()].1 {
                Trigger::Key => {
                    let (key_end, value) = key_value(line, start, end);
                    next = key_end;
                    value
                }
                Trigger::Bearer => bearer_token(line, start, end).map(|(from, to)| (from, to, "bearer")),
                Trigger::AwsKeyId => aws_key_id(line, start).map(|to| (start, to, "aws_access_key_id")),
                Trigger::GcpKey => gcp_key(line, start).map(|to| (start, to, "gcp_api_key")),
                Trigger::PrivateKey => private_key_begin(line, start).map(|header_end| {
                    let block_end = private_key_end(line, header_end);
                    if block_end.is_none() {
                        state.key_lines = 1;
                    }
                    (start, block_end.unwrap_or(line.len()), "private_key")
                }),
                Trigger::Jwt => jwt(line, start).map(|to| (start, to, "jwt")),
                Trigger::UrlPassword => url_password(line, end).map(|(from, to)| (from, to, "password")),
                Trigger::Marker => {
                    if let Some((name, marker_end)) = marker(line, start) {
                        *counts.entry(String::from_utf8_lossy(name).into_owned()).or_default() += 1;
                        next = marker_end;
                    }
                    None
                }
            };
            if let Some((secret_start, secret_end, rule)) = secret {
                edit.count(secret_start, secret_end, rule, counts);
                next = secret_end;
            }
            at = next.max(end);
        }
        self.custom(edit.finish(), counts)
    }

    /// A JSON document (a Kubernetes object) redacted in place: every string as [`Self::text`]
    /// redacts a line, and what only the structure tells: a string under a key whose name
    /// says it is secret (`"password": "…"`), the `value` of a `{"name": …, "value": …}`
    /// pair whose name does (a container's `env`, a probe's `httpHeaders`), and the same
    /// inside a string that holds a JSON document itself
    /// (`kubectl.kubernetes.io/last-applied-configuration`). Returns whether it changed.
    pub fn json(&self, value: &mut serde_json::Value, counts: &mut Counts) -> bool {
        use serde_json::Value;
        match value {
            Value::String(text) => self.json_string(text, counts),
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| self.json(item, counts) | changed),
            Value::Object(fields) => {
                let named = fields.get("name").and_then(Value::as_str).and_then(|name| key_rule(name.as_bytes()));
                let mut changed = false;
                for (key, field) in fields.iter_mut() {
                    let rule = key_rule(key.as_bytes()).or(named.filter(|_| key == "value"));
                    match (rule, field) {
                        (Some(rule), Value::String(text)) if !text.is_empty() && !text.starts_with(MARKER) => {
                            *text = format!("{MARKER}{rule}]");
                            *counts.entry(rule.to_owned()).or_default() += 1;
                            changed = true;
                        }
                        (_, field) => changed |= self.json(field, counts),
                    }
                }
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// A JSON text (a webhook's body) redacted. A text the rules find no secret in is kept
    /// byte for byte (and borrowed: one scan). One with a secret is parsed and redacted
    /// string by string ([`Self::json`]) and written anew, so its structure is kept: a
    /// replacement in the text itself could run past a string's end (a quote opened in one
    /// value and closed in another) and drop fields while still reading as JSON. A text that
    /// is not JSON is redacted as a line.
    pub fn json_text<'a>(&self, text: &'a [u8], counts: &mut Counts) -> Cow<'a, [u8]> {
        let mut found = Counts::new();
        let redacted = self.bytes(&mut StreamState::default(), text, &mut found);
        if matches!(redacted, Cow::Borrowed(_)) {
            merge(counts, found);
            return redacted;
        }
        match serde_json::from_slice::<serde_json::Value>(text) {
            Ok(mut document) => {
                self.json(&mut document, counts);
                Cow::Owned(document.to_string().into_bytes())
            }
            Err(_) => {
                merge(counts, found);
                redacted
            }
        }
    }

    /// A string of a JSON document: a document itself when it reads as one, else a line.
    fn json_string(&self, text: &mut String, counts: &mut Counts) -> bool {
        if text.trim_start().starts_with(['{', '['])
            && let Ok(mut inner) = serde_json::from_str::<serde_json::Value>(text)
        {
            let changed = self.json(&mut inner, counts);
            if changed {
                *text = inner.to_string();
            }
            return changed;
        }
        match self.text(&mut StreamState::default(), text, counts) {
            Cow::Owned(redacted) => {
                *text = redacted;
                true
            }
            Cow::Borrowed(_) => false,
        }
    }

    /// The `[[redact]]` rules over what the built-in ones left.
    fn custom<'a>(&self, mut line: Cow<'a, [u8]>, counts: &mut Counts) -> Cow<'a, [u8]> {
        for (name, regex) in &self.custom {
            if !regex.is_match(&line) {
                continue;
            }
            let mut out = Vec::with_capacity(line.len());
            let mut copied = 0;
            for captures in regex.captures_iter(&line) {
                let Some(secret) = captures.get(1).or_else(|| captures.get(0)) else { continue };
                if secret.is_empty() || secret.start() < copied {
                    continue;
                }
                out.extend_from_slice(&line[copied..secret.start()]);
                push_marker(&mut out, name);
                copied = secret.end();
                *counts.entry(name.clone()).or_default() += 1;
            }
            out.extend_from_slice(&line[copied..]);
            line = Cow::Owned(out);
        }
        line
    }
}

/// Adds `more` to `counts`.
fn merge(counts: &mut Counts, more: Counts) {
    for (rule, n) in more {
        *counts.entry(rule).or_default() += n;
    }
}

/// The free text a draft shows of `records` (Kubernetes events' messages, alerts'
/// annotations, pages' text and incident titles) redacted by the built-in rules (offline
/// drafts; what the daemon took in was redacted then, and its markers count); what was
/// redacted, per rule.
pub fn record_texts(records: &mut [Record]) -> Counts {
    let mut counts = Counts::new();
    let mut redact = |text: &mut String| {
        if let Cow::Owned(redacted) = Redactor::builtin().text(&mut StreamState::default(), text, &mut counts) {
            *text = redacted;
        }
    };
    for record in records {
        match record {
            Record::K8sEvent(event) => redact(&mut event.message),
            Record::Alert(alert) => alert.annotations.values_mut().for_each(&mut redact),
            Record::Page(page) => {
                redact(&mut page.text);
                page.incident_title.iter_mut().for_each(&mut redact);
            }
            _ => {}
        }
    }
    counts
}

/// The output of one line, copied lazily: nothing is allocated until a secret is found.
struct Edit<'a> {
    line: &'a [u8],
    out: Vec<u8>,
    copied: usize,
    changed: bool,
}

impl<'a> Edit<'a> {
    fn replace(&mut self, start: usize, end: usize, rule: &str) {
        if !self.changed {
            self.out.reserve(self.line.len() + 32);
            self.changed = true;
        }
        self.out.extend_from_slice(&self.line[self.copied..start]);
        push_marker(&mut self.out, rule);
        self.copied = end;
    }

    fn count(&mut self, start: usize, end: usize, rule: &str, counts: &mut Counts) {
        self.replace(start, end, rule);
        *counts.entry(rule.to_owned()).or_default() += 1;
    }

    fn finish(mut self) -> Cow<'a, [u8]> {
        if !self.changed {
            return Cow::Borrowed(self.line);
        }
        self.out.extend_from_slice(&self.line[self.copied..]);
        Cow::Owned(self.out)
    }
}

fn push_marker(out: &mut Vec<u8>, rule: &str) {
    out.extend_from_slice(MARKER.as_bytes());
    out.extend_from_slice(rule.as_bytes());
    out.push(b']');
}

fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.')
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-')
}

/// The key around a trigger word and, when its name says the value is secret and a value
/// follows (`=`/`:`, quoted or bare), the value's span and rule. Returns where the key ends.
fn key_value(line: &[u8], start: usize, end: usize) -> (usize, Option<(usize, usize, &'static str)>) {
    let mut key_start = start;
    while key_start > 0 && is_key_byte(line[key_start - 1]) {
        key_start -= 1;
    }
    let mut key_end = end;
    while key_end < line.len() && is_key_byte(line[key_end]) {
        key_end += 1;
    }
    let Some(rule) = key_rule(&line[key_start..key_end]) else { return (key_end, None) };
    let value = value_after(line, key_end, rule == "authorization").map(|(from, to)| (from, to, rule));
    (key_end, value)
}

/// The rule of a key name by how it ends, ignoring case and `_`, `-`, `.`.
fn key_rule(key: &[u8]) -> Option<&'static str> {
    let mut normalized = [0u8; 64];
    let mut n = 0;
    // The last 64 letters and digits are enough to see how it ends.
    for &byte in key.iter().rev().filter(|byte| byte.is_ascii_alphanumeric()).take(normalized.len()) {
        normalized[n] = byte.to_ascii_lowercase();
        n += 1;
    }
    let normalized = &mut normalized[..n];
    normalized.reverse();
    KEY_RULES.iter().find(|(suffix, _)| normalized.ends_with(suffix.as_bytes())).map(|(_, rule)| *rule)
}

fn skip_blanks(line: &[u8], mut at: usize) -> usize {
    while at < line.len() && matches!(line[at], b' ' | b'\t') {
        at += 1;
    }
    at
}

/// The value after a key: a closing quote of the key (`"`, `'` or JSON-escaped `\"`), `=` or
/// `:`, then a quoted value (up to its closing quote) or a bare one (up to a blank or
/// `,;&"'<>(){}[]`). An `Authorization` value keeps its scheme (`Basic …`) and leaves
/// `Bearer` to its own rule. `None` when there is no value, or it is redacted already.
fn value_after(line: &[u8], key_end: usize, authorization: bool) -> Option<(usize, usize)> {
    let mut at = key_end;
    let escaped = line[at..].starts_with(b"\\\"");
    if escaped {
        at += 2;
    } else if matches!(line.get(at), Some(b'"' | b'\'')) {
        at += 1;
    }
    at = skip_blanks(line, at);
    let separator = *line.get(at).filter(|byte| matches!(byte, b'=' | b':'))?;
    let after = skip_blanks(line, at + 1);
    // `key= next=1` is an empty value in logfmt; `key: value` and `key = "value"` are not.
    if separator == b'=' && after > at + 1 && !matches!(line.get(after), Some(b'"' | b'\'')) {
        return None;
    }
    at = after;
    let (mut start, end) = if line[at..].starts_with(b"\\\"") {
        let start = at + 2;
        let end = memchr::memmem::find(&line[start..], b"\\\"").map_or(line.len(), |offset| start + offset);
        (start, end)
    } else if let Some(&quote @ (b'"' | b'\'')) = line.get(at) {
        let start = at + 1;
        let mut end = start;
        while end < line.len() && line[end] != quote {
            end += if line[end] == b'\\' { 2 } else { 1 };
        }
        (start, end.min(line.len()))
    } else {
        let end = line[at..]
            .iter()
            .position(|byte| {
                byte.is_ascii_whitespace()
                    || matches!(
                        byte,
                        b',' | b';' | b'&' | b'"' | b'\'' | b'<' | b'>' | b'(' | b')' | b'{' | b'}' | b'[' | b']'
                    )
            })
            .map_or(line.len(), |offset| at + offset);
        if authorization {
            // `Authorization: Basic dXNlcjpwYXNz`: the scheme stays, the credentials go.
            let after_scheme = skip_blanks(line, end);
            if after_scheme > end && after_scheme < line.len() && is_scheme(&line[at..end]) {
                if line[at..end].eq_ignore_ascii_case(b"bearer") {
                    return None;
                }
                let credentials_end = line[after_scheme..]
                    .iter()
                    .position(|byte| byte.is_ascii_whitespace() || matches!(byte, b',' | b';' | b'"' | b'\''))
                    .map_or(line.len(), |offset| after_scheme + offset);
                return Some((after_scheme, credentials_end)).filter(|(start, end)| end > start);
            }
        }
        (at, end)
    };
    let value = &line[start..end];
    if authorization && value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    if authorization {
        // A quoted `"Basic dXNlcjpwYXNz"` keeps its scheme too.
        if let Some(space) = value.iter().position(|byte| *byte == b' ')
            && is_scheme(&value[..space])
        {
            start += space + 1;
        }
    }
    let value = &line[start..end];
    let placeholder = value.is_empty()
        || value.starts_with(MARKER.as_bytes())
        || value.iter().all(|byte| *byte == b'*')
        || [&b"null"[..], b"true", b"false"].contains(&value);
    (!placeholder).then_some((start, end))
}

/// An HTTP authentication scheme that credentials follow (`Bearer` has its own rule).
fn is_scheme(word: &[u8]) -> bool {
    const SCHEMES: &[&str] = &[
        "basic",
        "bearer",
        "digest",
        "negotiate",
        "ntlm",
        "hoba",
        "mutual",
        "token",
        "dpop",
        "gnap",
        "vapid",
        "concealed",
        "privatetoken",
        "scram-sha-1",
        "scram-sha-256",
        "aws4-hmac-sha256",
        "sso-key",
        "apikey",
    ];
    SCHEMES.iter().any(|scheme| word.eq_ignore_ascii_case(scheme.as_bytes()))
}

/// `Bearer <token>`: a token of at least 8 of `A-Za-z0-9-._~+/=` that looks made, not
/// written (a digit, both cases, or punctuation), so "bearer of bad news" stays.
fn bearer_token(line: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    if start > 0 && line[start - 1].is_ascii_alphanumeric() {
        return None;
    }
    let token_start = skip_blanks(line, end);
    if token_start == end {
        return None;
    }
    let token_end = line[token_start..]
        .iter()
        .position(|byte| {
            !(byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'='))
        })
        .map_or(line.len(), |offset| token_start + offset);
    let token = &line[token_start..token_end];
    let made = token.iter().any(u8::is_ascii_digit)
        || (token.iter().any(u8::is_ascii_uppercase) && token.iter().any(u8::is_ascii_lowercase))
        || token.iter().any(|byte| !byte.is_ascii_alphanumeric());
    (token.len() >= 8 && made && !token.starts_with(MARKER.as_bytes())).then_some((token_start, token_end))
}

/// An AWS access key id: `AKIA`/`ASIA`/… and 16 of `A-Z0-9`, a word of its own.
fn aws_key_id(line: &[u8], start: usize) -> Option<usize> {
    const PREFIXES: &[&[u8]] = &[b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"ANPA", b"ANVA", b"AIPA"];
    let end = start + 20;
    let id = line.get(start..end)?;
    let bounded = (start == 0 || !line[start - 1].is_ascii_alphanumeric())
        && line.get(end).is_none_or(|byte| !byte.is_ascii_alphanumeric());
    let shaped =
        PREFIXES.contains(&&id[..4]) && id[4..].iter().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit());
    (bounded && shaped).then_some(end)
}

/// A Google API key: `AIza` and 35 of `A-Za-z0-9_-`.
fn gcp_key(line: &[u8], start: usize) -> Option<usize> {
    let end = start + 39;
    let key = line.get(start..end)?;
    let bounded =
        (start == 0 || !is_base64url(line[start - 1])) && line.get(end).is_none_or(|byte| !is_base64url(*byte));
    (bounded && key.starts_with(b"AIza") && key[4..].iter().all(|byte| is_base64url(*byte))).then_some(end)
}

/// `-----BEGIN … PRIVATE KEY-----` at `start`: where the header ends.
fn private_key_begin(line: &[u8], start: usize) -> Option<usize> {
    let rest = line.get(start..)?;
    if !rest.starts_with(b"-----BEGIN ") {
        return None;
    }
    let close = memchr::memmem::find(&rest[11..rest.len().min(11 + 64)], b"-----")? + 11;
    rest[..close].ends_with(b"PRIVATE KEY").then_some(start + close + 5)
}

/// Where `-----END … PRIVATE KEY-----` ends, searching from `from`.
fn private_key_end(line: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(offset) = memchr::memmem::find(&line[at..], b"-----END ") {
        let header = at + offset + 9;
        let close =
            memchr::memmem::find(&line[header..line.len().min(header + 64)], b"-----").map(|close| header + close);
        match close {
            Some(close) if line[..close].ends_with(b"PRIVATE KEY") => return Some(close + 5),
            _ => at = header,
        }
    }
    None
}

/// A line of a PEM body: base64, a `Name: value` header, or blank.
fn is_key_body(line: &[u8]) -> bool {
    let trimmed = line.trim_ascii();
    let base64 = trimmed.iter().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'='));
    let header = trimmed.iter().position(|byte| *byte == b':').is_some_and(|colon| {
        colon > 0 && trimmed[..colon].iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
    });
    base64 || header
}

/// A JWT at `start`: three base64url parts joined by `.`, the first decoding to a JSON
/// object with an `alg` (a JOSE header). Where it ends.
fn jwt(line: &[u8], start: usize) -> Option<usize> {
    if !line[start..].starts_with(b"eyJ") || (start > 0 && (is_base64url(line[start - 1]) || line[start - 1] == b'.')) {
        return None;
    }
    let part_end = |from: usize| from + line[from..].iter().take_while(|byte| is_base64url(**byte)).count();
    let header_end = part_end(start);
    if line.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload_end = part_end(header_end + 1);
    if payload_end < header_end + 3 || line.get(payload_end) != Some(&b'.') {
        return None;
    }
    let signature_end = part_end(payload_end + 1);
    let header = decode_base64url(&line[start..header_end.min(start + 2048)])?;
    let header = header.trim_ascii();
    let json = header.starts_with(b"{") && memchr::memmem::find(header, b"\"alg\"").is_some();
    json.then_some(signature_end)
}

fn decode_base64url(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut n_bits) = (0u32, 0u32);
    for &byte in text {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        n_bits += 6;
        if n_bits >= 8 {
            n_bits -= 8;
            out.push((bits >> n_bits) as u8);
        }
    }
    Some(out)
}

/// `scheme://user:password@host`: the password, after the `://` that ends at `from`.
fn url_password(line: &[u8], from: usize) -> Option<(usize, usize)> {
    let authority_end = line[from..]
        .iter()
        .position(|byte| byte.is_ascii_whitespace() || matches!(byte, b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>'))
        .map_or(line.len(), |offset| from + offset);
    let authority = &line[from..authority_end];
    let at = authority.iter().rposition(|byte| *byte == b'@')?;
    let colon = authority[..at].iter().position(|byte| *byte == b':')?;
    let (start, end) = (from + colon + 1, from + at);
    (end > start && !line[start..end].starts_with(MARKER.as_bytes())).then_some((start, end))
}

/// `[REDACTED:name]` at `start`: the name and where the marker ends.
fn marker(line: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let rest = line.get(start..)?;
    if !rest.starts_with(MARKER.as_bytes()) {
        return None;
    }
    let name_start = MARKER.len();
    let close = rest[name_start..rest.len().min(name_start + 100)].iter().position(|byte| *byte == b']')?;
    let name = &rest[name_start..name_start + close];
    (!name.is_empty()).then_some((name, start + name_start + close + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, expected: &str, rules: &[(&str, u64)]) {
        let mut counts = Counts::new();
        let redacted = Redactor::builtin().text(&mut StreamState::default(), line, &mut counts);
        assert_eq!(redacted, expected, "{line}");
        let expected_counts: Counts = rules.iter().map(|(rule, count)| ((*rule).to_owned(), *count)).collect();
        assert_eq!(counts, expected_counts, "{line}");
        // Redacting again changes nothing and counts the same.
        let mut again = Counts::new();
        assert_eq!(Redactor::builtin().text(&mut StreamState::default(), &redacted, &mut again), redacted.as_ref());
        assert_eq!(again, expected_counts, "markers are counted: {line}");
    }

    /// A line, what it becomes, and its redactions per rule.
    type Row<'a> = (&'a str, &'a str, &'a [(&'a str, u64)]);

    const JWT: &str =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    #[test]
    fn built_in_rules_keep_the_key_and_drop_the_secret() {
        let rows: &[Row] = &[
            ("nothing secret here: user=bob status=200", "nothing secret here: user=bob status=200", &[]),
            ("login password=hunter2 ok", "login password=[REDACTED:password] ok", &[("password", 1)]),
            ("db_passwd='hunter 2' x", "db_passwd='[REDACTED:password]' x", &[("password", 1)]),
            ("password: hunter2", "password: [REDACTED:password]", &[("password", 1)]),
            (
                r#"{"user":"bob","password":"hun\"ter2","n":1}"#,
                r#"{"user":"bob","password":"[REDACTED:password]","n":1}"#,
                &[("password", 1)],
            ),
            (
                r#"{"msg":"{\"password\":\"hunter2\"}"}"#,
                r#"{"msg":"{\"password\":\"[REDACTED:password]\"}"}"#,
                &[("password", 1)],
            ),
            ("?user=bob&client_secret=s3cr3t&x=1", "?user=bob&client_secret=[REDACTED:secret]&x=1", &[("secret", 1)]),
            ("X-Auth-Token: abc123", "X-Auth-Token: [REDACTED:token]", &[("token", 1)]),
            ("api_key=AbC123 apiKey: zz9", "api_key=[REDACTED:api_key] apiKey: [REDACTED:api_key]", &[("api_key", 2)]),
            ("Authorization: Bearer abcDEF123.xyz", "Authorization: Bearer [REDACTED:bearer]", &[("bearer", 1)]),
            (
                "authorization=Basic dXNlcjpwYXNz rest",
                "authorization=Basic [REDACTED:authorization] rest",
                &[("authorization", 1)],
            ),
            (
                r#""Authorization": "Basic dXNlcjpwYXNz""#,
                r#""Authorization": "Basic [REDACTED:authorization]""#,
                &[("authorization", 1)],
            ),
            ("the bearer of bad news", "the bearer of bad news", &[]),
            ("id AKIAIOSFODNN7EXAMPLE used", "id [REDACTED:aws_access_key_id] used", &[("aws_access_key_id", 1)]),
            (
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "AWS_SECRET_ACCESS_KEY=[REDACTED:aws_secret_access_key]",
                &[("aws_secret_access_key", 1)],
            ),
            ("key AIzaSyA-1234567890abcdefghijklmnopqrstu!", "key [REDACTED:gcp_api_key]!", &[("gcp_api_key", 1)]),
            (
                "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=q0w9e8==;EndpointSuffix=core",
                "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=[REDACTED:api_key];EndpointSuffix=core",
                &[("api_key", 1)],
            ),
            (&format!("jwt {JWT} end"), "jwt [REDACTED:jwt] end", &[("jwt", 1)]),
            ("not a jwt eyJub3Rqc29u.eyJhYmMi.xyz", "not a jwt eyJub3Rqc29u.eyJhYmMi.xyz", &[]),
            (
                "-----BEGIN RSA PRIVATE KEY-----\\nMIIEow\\n-----END RSA PRIVATE KEY-----\\n done",
                "[REDACTED:private_key]\\n done",
                &[("private_key", 1)],
            ),
            ("-----BEGIN CERTIFICATE----- MIIB", "-----BEGIN CERTIFICATE----- MIIB", &[]),
            (
                "dsn postgres://app:hunter2@db:5432/shop",
                "dsn postgres://app:[REDACTED:password]@db:5432/shop",
                &[("password", 1)],
            ),
            (
                "monkey=banana keys=3 token_count=5 max_tokens: 10",
                "monkey=banana keys=3 token_count=5 max_tokens: 10",
                &[],
            ),
            ("password= token=\"\" secret=*** pass=null", "password= token=\"\" secret=*** pass=null", &[]),
            ("already password=[REDACTED:password]", "already password=[REDACTED:password]", &[("password", 1)]),
        ];
        for (line, expected, rules) in rows {
            check(line, expected, rules);
        }
    }

    #[test]
    fn a_private_key_across_lines_is_redacted_to_its_end() {
        let lines = [
            "starting",
            "key -----BEGIN PRIVATE KEY-----",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
            "Proc-Type: 4,ENCRYPTED",
            "",
            "-----END PRIVATE KEY----- loaded",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
            "-----BEGIN EC PRIVATE KEY-----",
            "GET /health 200",
        ];
        let mut state = StreamState::default();
        let mut counts = Counts::new();
        let redacted: Vec<String> =
            lines.iter().map(|line| Redactor::builtin().text(&mut state, line, &mut counts).into_owned()).collect();
        assert_eq!(
            redacted,
            [
                "starting",
                "key [REDACTED:private_key]",
                "[REDACTED:private_key]",
                "[REDACTED:private_key]",
                "",
                "[REDACTED:private_key] loaded",
                // After the END, base64 is text again.
                "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
                "[REDACTED:private_key]",
                // A line no key holds ends a block that never ended.
                "GET /health 200",
            ]
        );
        assert_eq!(counts, Counts::from([("private_key".to_owned(), 2)]));
    }

    #[test]
    fn settings_rules_replace_their_group_or_match() {
        let redactor =
            Redactor::new([("session cookie", "session=([A-Za-z0-9]+)"), ("pin", r"\bpin \d{4}\b")]).unwrap();
        let mut counts = Counts::new();
        let line = "GET / session=abc123 pin 1234 password=x";
        let redacted = redactor.text(&mut StreamState::default(), line, &mut counts);
        assert_eq!(redacted, "GET / session=[REDACTED:session cookie] [REDACTED:pin] password=[REDACTED:password]");
        assert_eq!(counts.get("session cookie"), Some(&1));
        assert_eq!(counts.get("pin"), Some(&1));
        assert!(Redactor::new([("bad", "(")]).is_err());
    }

    /// A tiny deterministic generator (xorshift), as the renderers' hostile-text test uses.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[(self.next() % items.len() as u64) as usize]
        }

        fn word(&mut self, alphabet: &[u8], len: usize) -> String {
            (0..len).map(|_| *self.pick(alphabet) as char).collect()
        }
    }

    /// Text of log-like pieces that no rule's grammar makes a secret, however joined
    /// (trigger words among them: `monkey`, `tokens=3`, `eyJ`, `AKIA`, `://`, `-----`); `bearer`
    /// and `@` are left out, since `bearer 2025-…` and `://user:42@` are secrets' shapes.
    fn innocent(random: &mut Random) -> String {
        const PIECES: &[&str] = &[
            "get",
            "/api/v1/orders",
            "200",
            "level=info",
            "msg=\"cart loaded\"",
            "user=bob",
            "{\"n\":1,",
            "\"ok\":true}",
            "2025-02-09T10:05:23Z",
            "E0209",
            "main.go:42]",
            "<3>",
            "took=12ms",
            "host:port",
            "key=user:42",
            "monkey",
            "passage",
            "tokens=3",
            "of",
            "news",
            "secretary",
            "-----",
            "eyJ",
            "AKIA",
            "[pod/a/b]",
            "é",
            "日本",
            "\t",
            "=",
            ":",
            "\"",
            "'",
            "\\",
            "://",
            ",",
            ";",
        ];
        let n = 1 + random.next() % 12;
        (0..n).map(|_| *random.pick(PIECES)).collect::<Vec<_>>().join(if random.next().is_multiple_of(3) {
            ""
        } else {
            " "
        })
    }

    #[test]
    fn random_text_keeps_no_planted_secret_and_innocent_text_is_unchanged() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        for _ in 0..5_000 {
            let text = innocent(&mut random);
            let mut counts = Counts::new();
            let redacted = Redactor::builtin().text(&mut StreamState::default(), &text, &mut counts);
            assert_eq!(redacted, text.as_str(), "{text:?} holds no secret");
            assert!(counts.is_empty(), "{text:?}: {counts:?}");

            let len = 12 + (random.next() % 20) as usize;
            let secret = format!("Zq9{}", random.word(alphabet, len));
            let key = random.pick(&[
                "password",
                "db_password",
                "PASSWD",
                "client_secret",
                "auth-token",
                "api_key",
                "AccountKey",
            ]);
            let planted = match random.next() % 10 {
                0 => format!("{key}={secret}"),
                1 => format!("{key}: {secret}"),
                2 => format!("\"{key}\": \"{secret}\""),
                3 => format!("{key}=\"{secret}\""),
                4 => format!("Authorization: Bearer {secret}"),
                5 => format!("\\\"{key}\\\":\\\"{secret}\\\""),
                6 => format!("AKIA{}", random.word(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
                7 => format!("https://user:{secret}@example.com/x"),
                8 => format!("-----BEGIN PRIVATE KEY-----{secret}-----END PRIVATE KEY-----"),
                _ => format!("eyJhbGciOiJIUzI1NiJ9.{secret}.{secret}"),
            };
            let secret = if planted.starts_with("AKIA") { planted.clone() } else { secret };
            let before = innocent(&mut random);
            let after = innocent(&mut random);
            let line = format!("{before} {planted} {after}");
            let mut state = StreamState::default();
            let redacted = Redactor::builtin().text(&mut state, &line, &mut counts);
            assert!(!redacted.contains(&secret), "{line:?} → {redacted:?}");
        }
    }

    #[test]
    fn kubernetes_objects_lose_secrets_their_structure_names() {
        let applied = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "app",
            "env": [{"name": "DB_PASSWORD", "value": "applied-Pw-1"}, {"name": "LOG_LEVEL", "value": "debug"}]}]}}}});
        let mut pod = serde_json::json!({
            "kind": "Pod",
            "metadata": {"name": "api-1", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": applied.to_string(),
                "vault.hashicorp.com/agent-inject-secret-db": "[REDACTED:secret]",
            }},
            "spec": {"containers": [{
                "name": "app",
                "image": "ghcr.io/shop/key-service:1.4",
                "args": ["--listen=:8080", "--api-key=arg-Key-2"],
                "env": [
                    {"name": "DB_PASSWORD", "value": "env-Pw-3"},
                    {"name": "STRIPE_API_KEY", "value": "env-Key-4"},
                    {"name": "LOG_LEVEL", "value": "debug"},
                    {"name": "EMPTY_TOKEN", "value": ""},
                    {"name": "DB_PASSWORD_FILE", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "DATABASE_URL", "value": "postgres://shop:url-Pw-5@db:5432/shop"},
                ],
                "livenessProbe": {"httpGet": {"path": "/healthz", "httpHeaders": [
                    {"name": "Authorization", "value": "Basic aGVhZGVyLVB3LTY="},
                    {"name": "Accept", "value": "application/json"},
                ]}},
                "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets/tokens"}],
            }],
            "volumes": [{"name": "creds", "secret": {"secretName": "db-creds"}}],
            "automountServiceAccountToken": false},
        });
        let mut counts = Counts::new();
        assert!(Redactor::builtin().json(&mut pod, &mut counts));
        let text = pod.to_string();
        for secret in ["applied-Pw-1", "arg-Key-2", "env-Pw-3", "env-Key-4", "url-Pw-5", "aGVhZGVyLVB3LTY="] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        // What is not secret reads as it was.
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["image"], "ghcr.io/shop/key-service:1.4");
        assert_eq!(container["args"][0], "--listen=:8080");
        assert_eq!(container["env"][0]["value"], "[REDACTED:password]");
        assert_eq!(container["env"][1]["value"], "[REDACTED:api_key]");
        assert_eq!(container["env"][2]["value"], "debug");
        assert_eq!(container["env"][3]["value"], "");
        assert_eq!(container["env"][4]["valueFrom"]["secretKeyRef"]["key"], "password");
        assert_eq!(container["env"][5]["value"], "postgres://shop:[REDACTED:password]@db:5432/shop");
        assert_eq!(container["livenessProbe"]["httpGet"]["httpHeaders"][0]["value"], "[REDACTED:authorization]");
        assert_eq!(container["livenessProbe"]["httpGet"]["httpHeaders"][1]["value"], "application/json");
        assert_eq!(container["volumeMounts"][0]["name"], "token");
        assert_eq!(pod["spec"]["volumes"][0]["secret"]["secretName"], "db-creds");
        // The annotation is still the document it was, redacted inside.
        let annotations = &pod["metadata"]["annotations"];
        let applied: serde_json::Value =
            serde_json::from_str(annotations["kubectl.kubernetes.io/last-applied-configuration"].as_str().unwrap())
                .unwrap();
        let env = &applied["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], "[REDACTED:password]");
        assert_eq!(env[1]["value"], "debug");
        assert_eq!(annotations["vault.hashicorp.com/agent-inject-secret-db"], "[REDACTED:secret]");
        assert_eq!(
            counts,
            Counts::from([
                ("api_key".to_owned(), 2),
                ("authorization".to_owned(), 1),
                ("password".to_owned(), 3),
                ("secret".to_owned(), 1),
            ])
        );
        // Nothing secret: unchanged, and said so.
        let mut plain = serde_json::json!({"kind": "Event", "message": "Back-off restarting failed container",
            "involvedObject": {"kind": "Pod", "name": "api-1"}, "count": 3});
        let before = plain.clone();
        assert!(!Redactor::builtin().json(&mut plain, &mut Counts::new()));
        assert_eq!(plain, before);
    }

    #[test]
    fn a_json_text_is_redacted_in_place_and_stays_json() {
        let redactor = Redactor::builtin();
        let plain =
            br#"{"groupKey":"{}:{alertname=\"Down\"}","alerts":[{"annotations":{"summary":"monkey tokens=3"}}]}"#;
        let mut counts = Counts::new();
        assert!(matches!(redactor.json_text(plain, &mut counts), Cow::Borrowed(text) if text == plain));
        assert!(counts.is_empty());

        let body = br#"{"alerts":[{"annotations":{"summary":"DB down","description":"dial postgres://app:am-Pw-1@db:5432 failed","db_password":"am-Pw-2"}}]}"#;
        let redacted = redactor.json_text(body, &mut counts);
        let document: serde_json::Value = serde_json::from_slice(&redacted).unwrap();
        let annotations = &document["alerts"][0]["annotations"];
        assert_eq!(annotations["summary"], "DB down");
        assert_eq!(annotations["description"], "dial postgres://app:[REDACTED:password]@db:5432 failed");
        assert_eq!(annotations["db_password"], "[REDACTED:password]");
        assert_eq!(counts, Counts::from([("password".to_owned(), 2)]));

        // A key's block without its end would run to the end of the text: the document is
        // redacted string by string instead, and keeps its other fields.
        let body = br#"{"details":{"key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF"},"summary":"cert rotation failed"}"#;
        let mut counts = Counts::new();
        let redacted = redactor.json_text(body, &mut counts);
        let document: serde_json::Value = serde_json::from_slice(&redacted).unwrap();
        assert_eq!(document["summary"], "cert rotation failed");
        assert!(!String::from_utf8_lossy(&redacted).contains("MIIEvQIBADANBgkqhkiG9w0BAQEF"));
        assert_eq!(counts, Counts::from([("private_key".to_owned(), 1)]));

        // Not JSON (refused by the parser after): redacted as a line all the same.
        let redacted = redactor.json_text(b"password=not-json-Pw", &mut Counts::new());
        assert_eq!(&*redacted, b"password=[REDACTED:password]");
    }

    /// Random webhook-like bodies with secrets planted in their strings, quotes of every
    /// kind among them: the redacted text parses, has the same keys and array lengths
    /// everywhere (no field lost), and holds no planted secret.
    #[test]
    fn random_json_texts_keep_their_structure_and_lose_their_secrets() {
        use serde_json::{Value, json};
        fn shape(value: &Value) -> Value {
            match value {
                Value::String(_) => Value::Null,
                Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
                Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
                other => other.clone(),
            }
        }
        let mut random = Random(0x1234_5678_9abc_def1);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        for _ in 0..3_000 {
            let secret = format!("Zq9{}", random.word(alphabet, 14));
            let key = *random.pick(&["password", "db_password", "token", "client_secret", "api_key"]);
            let planted = match random.next() % 6 {
                0 => format!("{key}={secret}"),
                1 => format!("{key}='{secret}"),
                2 => format!("{key}=\"{secret}"),
                3 => format!("{key}: \"{secret}\" and more"),
                4 => format!("dial postgres://app:{secret}@db:5432"),
                _ => format!("Authorization: Bearer {secret}"),
            };
            let mut strings: Vec<String> = (0..4).map(|_| innocent(&mut random)).collect();
            strings.push(match random.next() % 3 {
                0 => "it's \"quoted\" here".to_owned(),
                1 => "a 'single' and \"double\"".to_owned(),
                _ => innocent(&mut random),
            });
            let slot = (random.next() % strings.len() as u64) as usize;
            strings[slot] = format!("{} {planted} {}", strings[slot], innocent(&mut random));
            let body = json!({
                "version": "4", "status": "firing", "groupKey": "{}:{alertname=\"Down\"}",
                "alerts": [{"labels": {"alertname": "Down", "instance": strings[0]},
                            "annotations": {"summary": strings[1], "description": strings[2]}},
                           {"annotations": {"runbook": strings[3], "note": strings[4]}}],
                "commonLabels": {"alertname": "Down"},
            });
            let text = body.to_string();
            let mut counts = Counts::new();
            let redacted = Redactor::builtin().json_text(text.as_bytes(), &mut counts);
            let parsed: Value = serde_json::from_slice(&redacted)
                .unwrap_or_else(|error| panic!("{text} → {}: {error}", String::from_utf8_lossy(&redacted)));
            assert_eq!(shape(&parsed), shape(&body), "{text} → {parsed}");
            assert!(!String::from_utf8_lossy(&redacted).contains(&secret), "{text} → {parsed}");
        }
    }

    /// Random documents: a secret planted at any depth, under a secret-named key, as an
    /// env-like pair, in a line or in a JSON document held in a string, never comes out; a
    /// document of innocent strings comes out unchanged.
    #[test]
    fn random_documents_keep_no_planted_secret_and_innocent_ones_are_unchanged() {
        use serde_json::{Value, json};
        let mut random = Random(0x2545_f491_4f6c_dd1d);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        const NAMES: &[&str] = &["metadata", "spec", "containers", "env", "labels", "items", "status", "data", "x"];
        fn innocent_document(random: &mut Random, depth: u32) -> Value {
            match random.next() % if depth == 0 { 3 } else { 6 } {
                0 => Value::String(innocent(random)),
                1 => json!(random.next() % 1000),
                2 => Value::Bool(random.next().is_multiple_of(2)),
                3 => Value::Array((0..random.next() % 4).map(|_| innocent_document(random, depth - 1)).collect()),
                _ => Value::Object(
                    (0..random.next() % 4)
                        .map(|_| (random.pick(NAMES).to_string(), innocent_document(random, depth - 1)))
                        .collect(),
                ),
            }
        }
        for _ in 0..2_000 {
            let mut document = innocent_document(&mut random, 4);
            let before = document.clone();
            assert!(!Redactor::builtin().json(&mut document, &mut Counts::new()), "{before}");
            assert_eq!(document, before);

            let secret = format!("Zq9{}", random.word(alphabet, 16));
            let key = *random.pick(&["password", "DB_PASSWORD", "clientSecret", "auth-token", "ApiKey"]);
            let mut planted = match random.next() % 4 {
                0 => json!({ key: secret }),
                1 => json!([{"name": key, "value": secret}]),
                2 => json!({"args": [format!("--{key}={secret}")]}),
                _ => json!({"annotation": json!({"env": [{"name": key, "value": secret}]}).to_string()}),
            };
            for _ in 0..random.next() % 4 {
                planted = match random.next() % 2 {
                    0 => json!({ *random.pick(NAMES): planted, "other": innocent_document(&mut random, 2) }),
                    _ => json!([innocent_document(&mut random, 2), planted]),
                };
            }
            let mut counts = Counts::new();
            assert!(Redactor::builtin().json(&mut planted, &mut counts));
            assert!(!planted.to_string().contains(&secret), "{planted}");
            assert!(!counts.is_empty());
        }
    }
}
