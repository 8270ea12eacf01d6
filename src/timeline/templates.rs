//! Drain-style log template mining, per stream, and the `LineId,EventTemplate` CSV of the
//! `templates` command.
//!
//! A [`Miner`] groups log messages into templates (`Receiving block <*> src: <*>`) online,
//! one message at a time, in bounded memory. Reading files, stripping transport prefixes
//! and deciding which templates become timeline rows are left to the callers.
//!
//! The algorithm is Drain (He et al., ICWS 2017) with generic preprocessing:
//! 1. Structured lines are rewritten so the event text leads: a JSON object or a logfmt
//!    line with a `msg`/`message`/`event` field becomes `<message words> key=value …`,
//!    because the message, not the field layout, tells events apart.
//! 2. The line is split on whitespace and variable
//!    shapes are masked token by token: anything with a digit (numbers, hex, ids, IPs,
//!    ports, versions, durations, sizes, timestamps), paths, URLs, Windows paths, very long
//!    tokens, and month/weekday names next to a number (dates), dotted names (FQDNs, classes,
//!    files) and e-mail addresses; a quoted word, `host:port` and an IPv6 address are one
//!    variable each. `key=value` keeps its key.
//! 3. Messages are bucketed by token count and their first two tokens (the fixed-depth
//!    parse tree), then joined to the most similar template of the bucket when at least
//!    [`SIMILARITY_THRESHOLD`] of the positions agree; positions that disagree become `<*>`.
//!    A line no template of its length takes may join one that differs only by an optional
//!    trailing part (variables, or one bracketed group).
//!
//! One configuration for every log: nothing here knows a particular system.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;

/// The placeholder for a variable part of a message.
pub const WILDCARD: &str = "<*>";

/// How many templates one miner keeps before it groups every new shape into one catch-all.
pub const DEFAULT_MAX_TEMPLATES: usize = 5_000;

/// The share of a message's token positions that must agree with a template to join it.
/// Lower merges distinct events whose messages differ in one word; higher splits events whose
/// variables are words (user names, states). 0.7 is where the Loghub evaluation plateaus.
pub const SIMILARITY_THRESHOLD: f64 = 0.7;

/// How many tokens an optional trailing part may have.
const MAX_OPTIONAL_TOKENS: usize = 3;

/// How many leading tokens (beyond the token count) pick a message's bucket.
const PREFIX_TOKENS: usize = 2;

/// Tokens past this many are folded into one trailing wildcard, so a pathological line
/// cannot make a template (and the miner) arbitrarily large.
const MAX_TOKENS: usize = 100;

/// A token longer than this after masking is a payload (base64, a serialized blob), not
/// template text.
const MAX_TOKEN_BYTES: usize = 100;

/// Field names that hold the event text of a structured (JSON or logfmt) line, after the
/// common logging libraries (zap, logrus, slog, pino, bunyan: `msg`; ECS, log4j JSON:
/// `message`; structlog: `event`).
const MESSAGE_KEYS: [&str; 3] = ["msg", "message", "event"];

/// Groups log messages into templates.
#[derive(Debug)]
pub struct Miner {
    max_templates: usize,
    /// Templates by id; the catch-all, once needed, is one of them.
    templates: Vec<Template>,
    /// Token count and leading tokens (hashed) → ids of the templates in that bucket.
    buckets: HashMap<u64, Vec<u32>, BuildHasherDefault<PassThrough>>,
    /// The id of the catch-all template once the cap was reached.
    overflow: Option<usize>,
    // Per-line scratch, reused so that adding a line does not allocate.
    rewritten: String,
    fields: String,
    masked: String,
    spans: Vec<(u32, u32)>,
    words: Vec<(u32, u32)>,
}

#[derive(Debug)]
struct Template {
    tokens: Vec<Box<str>>,
    text: String,
    /// Where an optional trailing part starts, once lines with and without it joined the
    /// template (see `Miner::join_by_optional_tail`): the text shows one `<*>` from there.
    optional_tail: Option<usize>,
}

impl Template {
    /// The text: the tokens, the optional trailing part (whichever the template's own
    /// tokens hold of it) as one `<*>`.
    fn refresh_text(&mut self) {
        self.text = match self.optional_tail {
            Some(from) => {
                let mut text = self.tokens[..from.min(self.tokens.len())].join(" ");
                text.push(' ');
                text.push_str(WILDCARD);
                text
            }
            None => self.tokens.join(" "),
        };
    }

    /// Turns every token where the line (`masked`, split at `spans`) disagrees into `<*>`;
    /// whether any changed.
    fn mask_differing(&mut self, masked: &str, spans: &[(u32, u32)]) -> bool {
        let mut changed = false;
        for (token, &(start, end)) in self.tokens.iter_mut().zip(spans) {
            if &**token != WILDCARD && **token != masked[start as usize..end as usize] {
                *token = WILDCARD.into();
                changed = true;
            }
        }
        changed
    }
}

impl Default for Miner {
    fn default() -> Self {
        Miner::with_max_templates(DEFAULT_MAX_TEMPLATES)
    }
}

impl Miner {
    pub fn new() -> Self {
        Miner::default()
    }

    /// A miner that keeps at most `max_templates` templates (at least one); later new shapes
    /// share one catch-all template, `<*>`, whose id counts toward the cap.
    pub fn with_max_templates(max_templates: usize) -> Self {
        Miner {
            max_templates: max_templates.max(1),
            templates: Vec::new(),
            buckets: HashMap::default(),
            overflow: None,
            rewritten: String::new(),
            fields: String::new(),
            masked: String::new(),
            spans: Vec::new(),
            words: Vec::new(),
        }
    }

    /// Adds one message and returns the id of its template. Ids are dense (0, 1, …) and
    /// stable; the template text of an id may generalize as more messages arrive.
    pub fn add(&mut self, content: &str) -> usize {
        self.tokenize(content);
        let key = self.bucket_key();
        let n_tokens = self.spans.len();
        let mut best: Option<(u32, usize, usize)> = None;
        if let Some(bucket) = self.buckets.get(&key) {
            for &id in bucket {
                let template = &self.templates[id as usize];
                if template.tokens.len() != n_tokens {
                    // A hash collision between buckets: a different shape altogether.
                    continue;
                }
                let (n_similar, n_wildcards) = similarity(&template.tokens, &self.masked, &self.spans);
                let better = match best {
                    None => true,
                    Some((_, best_similar, best_wildcards)) => {
                        n_similar > best_similar || (n_similar == best_similar && n_wildcards > best_wildcards)
                    }
                };
                if better {
                    best = Some((id, n_similar, n_wildcards));
                    if n_similar == n_tokens {
                        break;
                    }
                }
            }
        }
        if let Some((id, n_similar, _)) = best
            && n_similar as f64 >= SIMILARITY_THRESHOLD * n_tokens as f64
        {
            self.generalize(id as usize);
            return id as usize;
        }
        if let Some(id) = self.join_by_optional_tail() {
            return id;
        }
        // One slot of the cap stays free for the catch-all.
        let n_regular = self.templates.len() - usize::from(self.overflow.is_some());
        if n_regular + 1 >= self.max_templates {
            return self.overflow_id();
        }
        let tokens: Vec<Box<str>> =
            self.spans.iter().map(|&(start, end)| Box::from(&self.masked[start as usize..end as usize])).collect();
        let text = tokens.join(" ");
        let id = self.templates.len();
        self.templates.push(Template { tokens, text, optional_tail: None });
        self.buckets.entry(key).or_default().push(id as u32);
        id
    }

    /// The current template text of `id`, variables as `<*>`.
    ///
    /// # Panics
    /// When `id` was not returned by [`Miner::add`] of this miner.
    pub fn template(&self, id: usize) -> &str {
        &self.templates[id].text
    }

    /// How many ids exist (templates, including the catch-all once used).
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Turns every position where the current line disagrees with template `id` into `<*>`.
    fn generalize(&mut self, id: usize) {
        let template = &mut self.templates[id];
        if template.mask_differing(&self.masked, &self.spans) {
            template.refresh_text();
        }
    }

    fn overflow_id(&mut self) -> usize {
        *self.overflow.get_or_insert_with(|| {
            self.templates.push(Template {
                tokens: vec![WILDCARD.into()],
                text: WILDCARD.to_owned(),
                optional_tail: None,
            });
            self.templates.len() - 1
        })
    }

    /// Joins the line to a template it matches but for an optional trailing part: a
    /// template up to [`MAX_OPTIONAL_TOKENS`] tokens shorter (the line has the part) or
    /// longer (the template has it), with the same leading tokens, agreeing on the shared
    /// positions as [`Miner::add`] requires, the part itself only variables, `key=value`
    /// fields or bracketed words (`took 12ms (retry 2)`, `closed [preauth]`, `done user=x`).
    /// The template's text then ends in `<*>` where the part goes. Only tried for a line no
    /// template of its own length takes, so it costs nothing on the common path.
    fn join_by_optional_tail(&mut self) -> Option<usize> {
        let n_tokens = self.spans.len();
        let mut best: Option<(u32, usize, usize)> = None;
        for n_other in n_tokens.saturating_sub(MAX_OPTIONAL_TOKENS)..=n_tokens + MAX_OPTIONAL_TOKENS {
            let n_shared = n_other.min(n_tokens);
            if n_other == n_tokens || n_shared < 2 {
                continue;
            }
            // The part is the line's when it is the longer one.
            if n_tokens > n_other {
                let tail: Vec<&str> = self.spans[n_other..].iter().map(|&span| self.token(span)).collect();
                if !is_optional_tail(&tail) {
                    continue;
                }
            }
            let Some(bucket) = self.buckets.get(&self.bucket_key_for(n_other)) else { continue };
            for &id in bucket {
                let template = &self.templates[id as usize];
                if template.tokens.len() != n_other {
                    continue;
                }
                // The part is the template's when it is the longer one.
                let tail: Vec<&str> = template.tokens[n_shared..].iter().map(|token| &**token).collect();
                if n_other > n_tokens && !is_optional_tail(&tail) {
                    continue;
                }
                let (n_similar, _) = similarity(&template.tokens[..n_shared], &self.masked, &self.spans[..n_shared]);
                if (n_similar as f64) >= SIMILARITY_THRESHOLD * n_shared as f64
                    && best.is_none_or(|(_, best_similar, _)| n_similar > best_similar)
                {
                    best = Some((id, n_similar, n_shared));
                }
            }
        }
        let (id, _, n_shared) = best?;
        let template = &mut self.templates[id as usize];
        let changed = template.mask_differing(&self.masked, &self.spans[..n_shared]);
        let from = template.optional_tail.map_or(n_shared, |from| from.min(n_shared));
        if changed || template.optional_tail != Some(from) {
            template.optional_tail = Some(from);
            template.refresh_text();
        }
        Some(id as usize)
    }

    fn token(&self, (start, end): (u32, u32)) -> &str {
        &self.masked[start as usize..end as usize]
    }

    fn bucket_key(&self) -> u64 {
        self.bucket_key_for(self.spans.len())
    }

    /// The bucket of templates of `n_tokens` tokens that the line's leading tokens would pick.
    fn bucket_key_for(&self, n_tokens: usize) -> u64 {
        let mut hasher = Fnv::default();
        hasher.write_usize(n_tokens);
        // The leading run of variables and level words is a header (`2025-… INFO`), the
        // same for every event: the words after it pick the bucket.
        let is_header = |&&(start, end): &&(u32, u32)| {
            let token = &self.masked[start as usize..end as usize];
            token == WILDCARD || is_level_word(token)
        };
        for &(start, end) in self.spans.iter().skip_while(is_header).take(PREFIX_TOKENS) {
            hasher.write(&self.masked.as_bytes()[start as usize..end as usize]);
            hasher.write_u8(0xff);
        }
        hasher.finish()
    }

    /// Fills `masked` and `spans` with the masked tokens of `content`.
    fn tokenize(&mut self, content: &str) {
        let text = if rewrite_structured(content, &mut self.rewritten, &mut self.fields) {
            self.rewritten.as_str()
        } else {
            content
        };
        split_words(text, &mut self.words);
        self.masked.clear();
        self.spans.clear();
        let word = |(start, end): (u32, u32)| &text[start as usize..end as usize];
        for (index, &span) in self.words.iter().enumerate() {
            let start = self.masked.len() as u32;
            if index + 1 == MAX_TOKENS && self.words.len() > MAX_TOKENS {
                self.masked.push_str(WILDCARD);
                self.spans.push((start, self.masked.len() as u32));
                break;
            }
            let token = word(span);
            // A month or weekday name is a date when a number or another one is next to it.
            let is_date_part = |neighbour: &str| has_digit(neighbour.as_bytes()) || is_date_word(neighbour);
            let is_date = is_date_word(token)
                && ((index > 0 && is_date_part(word(self.words[index - 1])))
                    || self.words.get(index + 1).is_some_and(|&next| is_date_part(word(next))));
            if is_date {
                let (core_start, core_end) = strip_brackets(token.as_bytes());
                self.masked.push_str(&token[..core_start]);
                self.masked.push_str(WILDCARD);
                self.masked.push_str(&token[core_end..]);
            } else {
                mask_token(token, &mut self.masked);
                if self.masked.len() - start as usize > MAX_TOKEN_BYTES {
                    self.masked.truncate(start as usize);
                    self.masked.push_str(WILDCARD);
                }
            }
            self.spans.push((start, self.masked.len() as u32));
        }
    }
}

/// Counts the positions where `template` agrees with the line (a wildcard agrees with a
/// masked variable, not with a word) and the template's wildcards (Drain's tie-break: of
/// equally similar templates the more general one wins).
fn similarity(template: &[Box<str>], masked: &str, spans: &[(u32, u32)]) -> (usize, usize) {
    let mut n_similar = 0;
    let mut n_wildcards = 0;
    for (token, &(start, end)) in template.iter().zip(spans) {
        n_wildcards += usize::from(&**token == WILDCARD);
        n_similar += usize::from(**token == masked[start as usize..end as usize]);
    }
    (n_similar, n_wildcards)
}

/// Whether masked tokens may make up an optional trailing part: variables only, or one
/// bracketed group (`[preauth]`, `(2 retries)`, `(tls)`).
///
/// NB: not `key=value` fields: a field present on some lines (`… rhost=<*> user=<*>`)
/// tells events apart as often as not (Loghub's OpenSSH labels them as two).
fn is_optional_tail(tail: &[&str]) -> bool {
    let variables = tail.iter().all(|token| token.contains(WILDCARD) && !token.contains('='));
    let bracketed = tail.first().is_some_and(|first| first.starts_with(['[', '(', '{', '<']))
        && tail.last().is_some_and(|last| last.trim_end_matches([',', '.', ';', ':']).ends_with([']', ')', '}', '>']));
    !tail.is_empty() && (variables || bracketed)
}

/// Splits `text` at ASCII whitespace into `words` (byte ranges).
///
/// NB: a double-quoted value with spaces is deliberately not kept as one token: masked as
/// a whole it hides the words that tell events apart (`"GET /a HTTP/1.1"` vs `"POST …"`).
fn split_words(text: &str, words: &mut Vec<(u32, u32)>) {
    words.clear();
    let base = text.as_ptr() as usize;
    words.extend(text.split_ascii_whitespace().map(|word| {
        let start = (word.as_ptr() as usize - base) as u32;
        (start, start + word.len() as u32)
    }));
}

/// Rewrites a JSON object line or a logfmt line that has a message field into `out` as
/// `<message> key=value …` and says whether it did. Other lines are left alone.
fn rewrite_structured(content: &str, out: &mut String, fields: &mut String) -> bool {
    let trimmed = content.trim();
    if trimmed.len() >= 2 && trimmed.starts_with('{') && trimmed.ends_with('}') {
        return rewrite_json(trimmed, out, fields);
    }
    rewrite_logfmt(trimmed, out)
}

/// `{"level":"info","msg":"request done","status":200}` →
/// `request done level=info status=200`. Nested values stay whole (masked as usual).
fn rewrite_json(object: &str, out: &mut String, fields: &mut String) -> bool {
    out.clear();
    fields.clear();
    let bytes = object.as_bytes();
    let mut found_message = false;
    let mut index = 1;
    loop {
        index = skip_space(bytes, index);
        if index >= bytes.len() - 1 {
            break;
        }
        let Some((key, after_key)) = json_string(object, index) else {
            return false;
        };
        index = skip_space(bytes, after_key);
        if bytes.get(index) != Some(&b':') {
            return false;
        }
        index = skip_space(bytes, index + 1);
        let value_start = index;
        let (value, after_value) = match json_string(object, index) {
            Some((text, end)) => (text, end),
            None => {
                let end = json_value_end(bytes, index);
                (&object[value_start..end], end)
            }
        };
        index = skip_space(bytes, after_value);
        if !found_message && MESSAGE_KEYS.contains(&key) && bytes[value_start] == b'"' {
            found_message = true;
            out.push_str(value);
        } else {
            fields.push(' ');
            fields.push_str(key);
            fields.push('=');
            fields.push_str(value);
        }
        match bytes.get(index) {
            Some(b',') => index += 1,
            _ => break,
        }
    }
    out.push_str(fields);
    true
}

/// The content of the JSON string starting at `start` (escapes left as written) and the
/// index after its closing quote.
fn json_string(text: &str, start: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let mut index = start + 1;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return Some((&text[start + 1..index], index + 1)),
            _ => index += 1,
        }
    }
    None
}

/// The end of a non-string JSON value: the `,` or closing brace at its own nesting level.
fn json_value_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut index = start;
    while index < bytes.len() {
        let byte = bytes[index];
        if in_string {
            match byte {
                b'\\' => index += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return index,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => return index,
                _ => {}
            }
        }
        index += 1;
    }
    bytes.len()
}

fn skip_space(bytes: &[u8], mut index: usize) -> usize {
    while index < bytes.len() && bytes[index].is_ascii_whitespace() {
        index += 1;
    }
    index
}

/// `time=… level=info msg="request done" status=200` → `request done time=… level=info
/// status=200`, when a message key is present.
fn rewrite_logfmt(line: &str, out: &mut String) -> bool {
    let bytes = line.as_bytes();
    let Some(message_start) = memchr::memchr_iter(b'=', bytes).find_map(|equals| {
        let key_start = bytes[..equals].iter().rposition(|&byte| byte == b' ').map_or(0, |space| space + 1);
        MESSAGE_KEYS.contains(&&line[key_start..equals]).then_some(key_start)
    }) else {
        return false;
    };
    let value_start = line[message_start..].find('=').map_or(line.len(), |at| message_start + at + 1);
    let (message, value_end) = if line[value_start..].starts_with('"') {
        match line[value_start + 1..].find('"') {
            Some(close) => (&line[value_start + 1..value_start + 1 + close], value_start + close + 2),
            None => (&line[value_start..], line.len()),
        }
    } else {
        let end = line[value_start..].find(' ').map_or(line.len(), |at| value_start + at);
        (&line[value_start..end], end)
    };
    out.clear();
    out.push_str(message);
    out.push(' ');
    out.push_str(&line[..message_start]);
    out.push(' ');
    out.push_str(&line[value_end..]);
    true
}

/// Appends `token` to `out` with its variable parts replaced by the wildcard. A URL or a
/// path (with its query string) is one variable; otherwise the token is cut at separators (`,;|:=`) and each
/// piece is judged on its own, so `index:3` keeps `index:` and `(uid=0)` keeps `(uid=)`.
fn mask_token(token: &str, out: &mut String) {
    let bytes = token.as_bytes();
    let (start, end) = strip_brackets(bytes);
    let whole_token_variable = |out: &mut String| {
        out.push_str(&token[..start]);
        out.push_str(WILDCARD);
        out.push_str(&token[end..]);
    };
    if (end > start + 1 && bytes[start] == b'/') || is_whole_variable(bytes, start, end) {
        return whole_token_variable(out);
    }
    let token_start = out.len();
    let mut piece_start = 0;
    let mut piece_has_digit = false;
    // One pass over the bytes, by a class table: this runs for every byte of every line.
    for index in 0..=bytes.len() {
        let class = bytes.get(index).map_or(SEPARATOR, |&byte| BYTE_CLASS[byte as usize]);
        if class == 0 {
            continue;
        }
        if class == DIGIT {
            piece_has_digit = true;
            continue;
        }
        if class == BACKSLASH || (index < bytes.len() && bytes[index + 1..].starts_with(b"//")) {
            // A Windows path or a URL (`scheme://`).
            out.truncate(token_start);
            return whole_token_variable(out);
        }
        let piece = &bytes[piece_start..index];
        let (start, end) = strip_brackets(piece);
        out.push_str(&token[piece_start..piece_start + start]);
        let core = &piece[start..end];
        // NB: a dotted name in square brackets is a logger or component (`[billing.worker]`),
        // the same on every line of an event and what a reader looks for in a row.
        let logger = start > 0 && piece[start - 1] == b'[';
        if piece_has_digit || (core.len() > 1 && core[0] == b'/') || (is_dotted(core) && !logger) || is_email(core) {
            // A list or compound of variables (`10.0.0.1,10.0.0.2`, `host:8080`) is one
            // variable whatever its length.
            let joined =
                start == 0 && out.len() > token_start + WILDCARD.len() && out[..out.len() - 1].ends_with(WILDCARD);
            if joined {
                out.pop();
            } else {
                out.push_str(WILDCARD);
            }
        } else {
            out.push_str(&token[piece_start + start..piece_start + end]);
        }
        // The closing brackets and the separator, if any, stay.
        out.push_str(&token[piece_start + end..index]);
        if let Some(&separator) = bytes.get(index) {
            out.push(char::from(separator));
        }
        piece_start = index + 1;
        piece_has_digit = false;
    }
}

/// Whether the token (its core `bytes[start..end]`, brackets and quotes stripped) is one
/// variable by its shape as a whole: a quoted word (`"orders"`, `'x'`), `host:port` (a
/// host name and a port of two to five digits: `redis:6379`, `db.example.com:5432`), or an
/// IPv6 address (hex digits and two or more colons).
fn is_whole_variable(bytes: &[u8], start: usize, end: usize) -> bool {
    if end <= start {
        return false;
    }
    let core = &bytes[start..end];
    let quote = start.checked_sub(1).map(|before| bytes[before]);
    if matches!(quote, Some(b'"' | b'\'')) && bytes.get(end) == quote.as_ref() {
        return true;
    }
    if let Some(colon) = memchr::memchr(b':', core) {
        let (host, port) = (&core[..colon], &core[colon + 1..]);
        if (2..=5).contains(&port.len())
            && port.iter().all(u8::is_ascii_digit)
            && host.first().is_some_and(u8::is_ascii_alphanumeric)
            && host.iter().all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
        {
            return true;
        }
        let n_colons = core.iter().filter(|&&byte| byte == b':').count();
        if n_colons >= 2 && core.iter().all(|&byte| byte.is_ascii_hexdigit() || matches!(byte, b':' | b'.')) {
            return true;
        }
    }
    false
}

/// A dotted name: a host name or FQDN (`db.example.com`), a package or class
/// (`com.example.Foo`), a file name (`app.conf`): letters, digits, `_`, `-` and `$` in two
/// or more parts joined by single dots, starting with a letter.
fn is_dotted(core: &[u8]) -> bool {
    core.len() >= 3
        && core[0].is_ascii_alphabetic()
        && core.last().is_some_and(|&byte| byte != b'.')
        && memchr::memchr(b'.', core).is_some()
        && !core.windows(2).any(|pair| pair == b"..")
        && core.iter().all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'$' | b'.'))
}

/// An e-mail address: `local@domain.tld`.
fn is_email(core: &[u8]) -> bool {
    match memchr::memchr(b'@', core) {
        Some(at) => at > 0 && is_dotted(&core[at + 1..]),
        None => false,
    }
}

const DIGIT: u8 = 1;
const SEPARATOR: u8 = 2;
const BACKSLASH: u8 = 3;

/// What `mask_token` must notice about a byte: digits, piece separators (`,;|:=`) and `\`.
const BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut digit = b'0';
    while digit <= b'9' {
        table[digit as usize] = DIGIT;
        digit += 1;
    }
    table[b',' as usize] = SEPARATOR;
    table[b';' as usize] = SEPARATOR;
    table[b'|' as usize] = SEPARATOR;
    table[b':' as usize] = SEPARATOR;
    table[b'=' as usize] = SEPARATOR;
    table[b'\\' as usize] = BACKSLASH;
    table
};

/// The range of `piece` without the brackets, quotes and trailing dots around it.
fn strip_brackets(piece: &[u8]) -> (usize, usize) {
    let mut start = 0;
    let mut end = piece.len();
    while start < end && matches!(piece[start], b'(' | b'[' | b'{' | b'<' | b'"' | b'\'') {
        start += 1;
    }
    while end > start && matches!(piece[end - 1], b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b'.') {
        end -= 1;
    }
    (start, end)
}

fn has_digit(token: &[u8]) -> bool {
    token.iter().any(u8::is_ascii_digit)
}

/// English month and weekday names, abbreviated or not: next to a number they are part of
/// a date (`Sun Jul 10 03:55:15 2005`).
fn is_date_word(token: &str) -> bool {
    const PREFIXES: [[u8; 3]; 19] = [
        *b"jan", *b"feb", *b"mar", *b"apr", *b"may", *b"jun", *b"jul", *b"aug", *b"sep", *b"oct", *b"nov", *b"dec",
        *b"mon", *b"tue", *b"wed", *b"thu", *b"fri", *b"sat", *b"sun",
    ];
    let bytes = token.as_bytes();
    // Cheap rejections first: this runs for every token of every line.
    if !(3..=12).contains(&bytes.len()) {
        return false;
    }
    let start = usize::from(!bytes[0].is_ascii_alphabetic());
    let Some(prefix) = bytes.get(start..start + 3) else {
        return false;
    };
    if !PREFIXES.contains(&[prefix[0] | 0x20, prefix[1] | 0x20, prefix[2] | 0x20]) {
        return false;
    }
    let n_letters = bytes[start..].iter().take_while(|byte| byte.is_ascii_alphabetic()).count();
    (3..=9).contains(&n_letters) && bytes[start + n_letters..].iter().all(|byte| !byte.is_ascii_alphanumeric())
}

/// A severity as loggers print it (`INFO`, `[warn]`, `E`-less: whole words only).
fn is_level_word(token: &str) -> bool {
    const LEVELS: [&str; 14] = [
        "trace", "debug", "info", "notice", "warn", "warning", "error", "err", "fatal", "critical", "crit", "panic",
        "alert", "emerg",
    ];
    let core = token.trim_matches(|c: char| !c.is_ascii_alphabetic());
    core.len() <= 8 && LEVELS.iter().any(|level| core.eq_ignore_ascii_case(level))
}

/// FNV-1a: bucket keys are a few short byte strings, hashed once per line.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The bucket map's keys are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Writes `LineId,EventTemplate` CSV (the Loghub convention): a header, then one row per
/// mined line, LineId 1-based, each line's template (`ids[n]`, from `miner`) as it stands
/// now, after the last line (templates generalize).
pub fn write_csv(miner: &Miner, ids: &[u32], mut writer: impl Write) -> std::io::Result<()> {
    writeln!(writer, "LineId,EventTemplate")?;
    for (index, &id) in ids.iter().enumerate() {
        write!(writer, "{},", index + 1)?;
        write_csv_field(miner.template(id as usize), &mut writer)?;
        writeln!(writer)?;
    }
    writer.flush()
}

/// Writes `field` as one CSV field (RFC 4180): quoted when it holds a comma, a quote or a
/// line break, inner quotes doubled.
fn write_csv_field(field: &str, writer: &mut impl Write) -> std::io::Result<()> {
    if field.contains([',', '"', '\n', '\r']) {
        write!(writer, "\"{}\"", field.replace('"', "\"\""))
    } else {
        writer.write_all(field.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mines `lines` in order and asserts each line's final template.
    #[track_caller]
    fn check(lines: &[&str], expected: &[&str]) {
        let mut miner = Miner::new();
        let ids: Vec<usize> = lines.iter().map(|line| miner.add(line)).collect();
        let templates: Vec<&str> = ids.iter().map(|&id| miner.template(id)).collect();
        assert_eq!(templates, expected, "lines {lines:?}");
    }

    #[test]
    fn same_event_groups_and_different_events_stay_apart() {
        let rows: &[(&[&str], &[&str])] = &[
            (
                &["login accepted for alice from web", "login accepted for bob from web"],
                &["login accepted for <*> from web", "login accepted for <*> from web"],
            ),
            (
                // NB: the first two words pick the bucket (Drain's parse tree), so a
                // variable word there splits an event.
                &["user alice logged in from web", "user bob logged in from web"],
                &["user alice logged in from web", "user bob logged in from web"],
            ),
            (&["cache warmed in 12ms", "cache warmed in 3s"], &["cache warmed in <*>", "cache warmed in <*>"]),
            (
                // One word of three differs: below the similarity threshold.
                &["worker pool started", "worker pool stopped"],
                &["worker pool started", "worker pool stopped"],
            ),
            (
                &["listening on port 8080", "shutting down on signal 15"],
                &["listening on port <*>", "shutting down on signal <*>"],
            ),
            (
                // Same words, different token count: different events.
                &["job done", "job done twice"],
                &["job done", "job done twice"],
            ),
            (
                // A header of timestamp and level does not pull two events together.
                &[
                    "2025-02-09T10:05:23Z INFO cache miss for key k-1",
                    "2025-02-09T10:05:24Z INFO order created for key k-2",
                    "2025-02-09T10:05:25Z INFO cache miss for key k-3",
                ],
                &[
                    "<*> INFO cache miss for key <*>",
                    "<*> INFO order created for key <*>",
                    "<*> INFO cache miss for key <*>",
                ],
            ),
        ];
        for (lines, expected) in rows {
            check(lines, expected);
        }
    }

    #[test]
    fn variable_shapes_are_masked() {
        let rows: &[(&str, &str)] = &[
            ("took 12ms", "took <*>"),
            ("peer 10.0.3.17:443 closed", "peer <*> closed"),
            ("peers 10.0.0.1,10.0.0.2 joined", "peers <*> joined"),
            ("id 550e8400-e29b-41d4-a716-446655440000", "id <*>"),
            ("at 0x7fed806eb5d", "at <*>"),
            ("open /var/lib/data failed", "open <*> failed"),
            ("GET /api/users?active=true ok", "GET <*> ok"),
            ("fetch https://example.com/a ok", "fetch <*> ok"),
            ("load C:\\Windows\\x.dll", "load <*>"),
            ("session (uid=0) opened", "session (uid=<*>) opened"),
            ("retry index:3 of [5]", "retry index:<*> of [<*>]"),
            ("status=ok code=500", "status=ok code=<*>"),
            ("size 1.5GiB", "size <*>"),
            ("at Sun Jul 10 03:55:15 2005 done", "at <*> <*> <*> <*> <*> done"),
            ("may the force", "may the force"),
            ("ERROR [billing.worker] export to db.example.com failed", "ERROR [billing.worker] export to <*> failed"),
            ("[Mon Dec 05 2005] [error] bad", "[<*> <*> <*> <*>] [error] bad"),
        ];
        for &(line, expected) in rows {
            check(&[line], &[expected]);
        }
    }

    /// Mines `lines` (each `(group, line)`) in order and asserts that lines of one group
    /// share a template and lines of different groups do not.
    #[track_caller]
    fn check_groups(lines: &[(u8, &str)]) {
        let mut miner = Miner::new();
        let ids: Vec<usize> = lines.iter().map(|(_, line)| miner.add(line)).collect();
        for (left, &(left_group, left_line)) in lines.iter().enumerate() {
            for (right, &(right_group, right_line)) in lines.iter().enumerate().skip(left + 1) {
                assert_eq!(
                    ids[left] == ids[right],
                    left_group == right_group,
                    "{left_line:?} ({}) vs {right_line:?} ({})",
                    miner.template(ids[left]),
                    miner.template(ids[right]),
                );
            }
        }
    }

    /// Lines of systems outside the Loghub ten, as they write them: hosts, `host:port`,
    /// dotted names, quoted names and optional trailing parts vary within one event.
    #[test]
    fn variables_are_recognised_by_shape_in_other_systems() {
        let systems: &[&[(u8, &str)]] = &[
            // PostgreSQL.
            &[
                (1, r#"relation "orders" does not exist"#),
                (1, r#"relation "order_items" does not exist"#),
                (2, r#"column "id" does not exist"#),
                (3, "connection received: host=10.0.3.7 port=51234"),
                (3, "connection received: host=db-client.shop.svc.cluster.local port=40112"),
                (4, "could not receive data from client: Connection reset by peer"),
            ],
            // nginx error log.
            &[
                (
                    1,
                    "upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.3.17, server: shop.example.com",
                ),
                (
                    1,
                    "upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.4.2, server: api.example.org",
                ),
                (2, "no live upstreams while connecting to upstream, client: 10.0.3.17, server: shop.example.com"),
            ],
            // Kafka, Redis, etcd, Elasticsearch: hosts and host:port.
            &[
                (1, "Connecting to MASTER redis-master.prod.svc:6379"),
                (1, "Connecting to MASTER 10.0.0.5:6379"),
                (2, "MASTER <-> REPLICA sync started"),
                (3, "dial redis:6379"),
                (3, "dial memcached:11211"),
                (4, "Connected to db.example.com"),
                (4, "Connected to cache.internal.example.org"),
                (5, "Disconnected from db.example.com"),
                (6, "peer fe80::1ff:fe23:4567:890a joined"),
                (6, "peer 2001:db8::1 joined"),
            ],
            // Dotted identifiers (Java classes, Kubernetes controllers) and e-mail addresses.
            &[
                (1, "Loaded com.example.orders.OrderPlaced"),
                (1, "Loaded org.acme.Cart"),
                (2, "mailed alice@example.com"),
                (2, "mailed bob@corp.example.org"),
                (3, "Caches are synced for deployment"),
                (3, "Caches are synced for replicaset"),
            ],
            // Optional trailing parts (Envoy, OpenSSH-style `[preauth]`, a bracketed note).
            &[
                (1, "Accepted connection from 10.0.0.1:5000"),
                (1, "Accepted connection from 10.0.0.2:5001 (tls)"),
                (2, "Connection closed by 10.0.0.9 port 22"),
                (2, "Connection closed by 10.0.0.9 port 22 [preauth]"),
                (3, "worker pool started"),
                (4, "worker pool started twice"),
                (5, "cache warmed in 12ms"),
                (5, "cache warmed in 3.5s (2 retries)"),
                (6, "cache warmed in 3.5s after 2 retries"),
            ],
        ];
        for lines in systems {
            check_groups(lines);
        }
    }

    #[test]
    fn an_optional_trailing_part_stays_one_wildcard_however_the_template_grows() {
        // A later line that generalizes the template keeps the tail's `<*>`.
        check(
            &["cache warmed in 12ms", "cache warmed in 3.5s (2 retries)", "cache warmed at 15ms"],
            &["cache warmed <*> <*> <*>", "cache warmed <*> <*> <*>", "cache warmed <*> <*> <*>"],
        );
        // The longer line came first: the line without the part is not shown with it.
        check(
            &["closed connection from 10.0.0.1 port 22 [preauth]", "closed connection from 10.0.0.2 port 22"],
            &["closed connection from <*> port <*> <*>", "closed connection from <*> port <*> <*>"],
        );
    }

    #[test]
    fn structured_lines_lead_with_their_message() {
        let rows: &[(&[&str], &[&str])] = &[
            (
                &[
                    r#"{"ts":"2025-02-09T10:05:23Z","level":"info","msg":"request done","status":200}"#,
                    r#"{"ts":"2025-02-09T10:05:24Z","level":"info","msg":"cache miss","status":200}"#,
                ],
                &["request done ts=<*> level=info status=<*>", "cache miss ts=<*> level=info status=<*>"],
            ),
            (
                &[
                    r#"time=2025-02-09T10:05:23Z level=warn msg="retry upstream" attempt=2"#,
                    r#"time=2025-02-09T10:05:25Z level=warn msg="retry upstream" attempt=3"#,
                ],
                &["retry upstream time=<*> level=warn attempt=<*>", "retry upstream time=<*> level=warn attempt=<*>"],
            ),
            (
                // Not structured after all: left as written.
                &[r#"{"unterminated": "#, "message"],
                &[r#"{"unterminated":"#, "message"],
            ),
        ];
        for (lines, expected) in rows {
            check(lines, expected);
        }
    }

    #[test]
    fn cap_groups_new_shapes_into_one_catch_all() {
        let mut miner = Miner::with_max_templates(3);
        let first = miner.add("alpha beta gamma");
        let second = miner.add("delta epsilon");
        let overflow = miner.add("zeta eta theta iota");
        assert_eq!((first, second, overflow), (0, 1, 2));
        assert_eq!(miner.add("kappa"), overflow);
        assert_eq!(miner.add("alpha beta gamma"), first, "known shapes still match");
        assert_eq!(miner.template(overflow), WILDCARD);
        assert_eq!(miner.len(), 3);
    }

    #[test]
    fn long_lines_stay_bounded() {
        let line = format!("start {}", "word ".repeat(1_000));
        let payload = format!("blob {}", "a".repeat(10_000));
        let mut miner = Miner::new();
        let id = miner.add(&line);
        assert_eq!(miner.template(id).split(' ').count(), MAX_TOKENS);
        assert!(miner.template(id).ends_with(WILDCARD));
        let id = miner.add(&payload);
        assert_eq!(miner.template(id), "blob <*>");
    }

    #[test]
    fn csv_has_one_quoted_row_per_line() {
        let mut miner = Miner::new();
        let ids: Vec<u32> =
            ["alpha 1", "beta, gamma \"x\"", "alpha 2"].iter().map(|line| miner.add(line) as u32).collect();
        let mut output = Vec::new();
        write_csv(&miner, &ids, &mut output).unwrap();
        assert_eq!(
            String::from_utf8(output).unwrap(),
            "LineId,EventTemplate\n1,alpha <*>\n2,\"beta, gamma \"\"<*>\"\"\"\n3,alpha <*>\n"
        );
        let mut output = Vec::new();
        write_csv(&Miner::new(), &[], &mut output).unwrap();
        assert_eq!(output, b"LineId,EventTemplate\n");
    }
}
