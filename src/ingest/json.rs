//! A JSON walker that knows where it is: every accessor names the JSON path
//! (`alerts[0].startsAt`) and what was expected there when the value is not what a parser
//! needs. Parsers read a [`serde_json::Value`] through [`Node`] rather than deriving
//! `Deserialize`, so that a user sees which field of a webhook or file is wrong, unknown
//! fields are ignored for free, and `null` is handled field by field.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::{ParseError, Result};
use crate::record::Instant;

/// Parses a whole document. Syntax errors name the line and column.
pub(crate) fn parse_document(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(syntax_error)
}

/// A serde_json syntax or EOF error as a [`ParseError`] whose path is the position.
pub(crate) fn syntax_error(error: serde_json::Error) -> ParseError {
    // serde_json's Display appends " at line L column C"; the position goes into `path`
    // instead so that the message reads like every other ParseError.
    let text = error.to_string();
    let reason = match text.rfind(" at line ") {
        Some(position) => &text[..position],
        None => text.as_str(),
    };
    let what = if error.is_eof() {
        "expected more JSON (the document is truncated)".to_string()
    } else {
        format!("expected valid JSON ({reason})")
    };
    ParseError::new(format!("line {} column {}", error.line(), error.column()), what)
}

/// Where a [`Node`] sits in the document. Built lazily: the text is only formatted when an
/// error is reported, so walking 100k samples allocates no path strings.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    /// Several keys at once (`spec.template.spec`), so that a chain needs no temporaries.
    Keys(&'p Path<'p>, &'p [&'p str]),
    Index(&'p Path<'p>, usize),
}

/// Writes `.key` (or `["odd key"]`), without the dot at the top level.
fn write_key(formatter: &mut fmt::Formatter<'_>, at_top: bool, key: &str) -> fmt::Result {
    let plain = !key.is_empty() && key.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    match (at_top, plain) {
        (true, true) => formatter.write_str(key),
        (false, true) => write!(formatter, ".{key}"),
        (_, false) => write!(formatter, "[{key:?}]"),
    }
}

impl Path<'_> {
    fn is_root(&self) -> bool {
        matches!(self, Path::Root)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => formatter.write_str("top level"),
            Path::Key(parent, key) => {
                if !parent.is_root() {
                    write!(formatter, "{parent}")?;
                }
                write_key(formatter, parent.is_root(), key)
            }
            Path::Keys(parent, keys) => {
                if !parent.is_root() {
                    write!(formatter, "{parent}")?;
                }
                for (index, key) in keys.iter().enumerate() {
                    write_key(formatter, index == 0 && parent.is_root(), key)?;
                }
                Ok(())
            }
            Path::Index(Path::Root, index) => write!(formatter, "[{index}]"),
            Path::Index(parent, index) => write!(formatter, "{parent}[{index}]"),
        }
    }
}

/// A value (or the absence of one) at a known path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node<'v, 'p> {
    value: Option<&'v Value>,
    path: Path<'p>,
}

/// A short description of what was found, for error messages.
fn found(value: Option<&Value>) -> String {
    match value {
        None => "nothing (the field is missing)".to_string(),
        Some(Value::Null) => "null".to_string(),
        Some(Value::Bool(flag)) => format!("{flag}"),
        Some(Value::Number(number)) => format!("the number {number}"),
        Some(Value::String(text)) => {
            // Quote a bounded prefix: the message may go back to a webhook sender.
            let mut shown: String = text.chars().take(60).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            format!("{shown:?}")
        }
        Some(Value::Array(_)) => "an array".to_string(),
        Some(Value::Object(_)) => "an object".to_string(),
    }
}

impl<'v> Node<'v, 'static> {
    pub(crate) fn root(value: &'v Value) -> Self {
        Node { value: Some(value), path: Path::Root }
    }
}

impl<'v, 'p> Node<'v, 'p> {
    pub(crate) fn value(&self) -> Option<&'v Value> {
        self.value
    }

    /// An error at this node: `expected …, found …`.
    pub(crate) fn error(&self, expected: &str) -> ParseError {
        ParseError::new(self.path, format!("expected {expected}, found {}", found(self.value)))
    }

    /// An error at this node with a message of the caller's own.
    pub(crate) fn error_with(&self, message: impl fmt::Display) -> ParseError {
        ParseError::new(self.path, message)
    }

    /// Missing or `null`.
    pub(crate) fn is_absent(&self) -> bool {
        matches!(self.value, None | Some(Value::Null))
    }

    /// The member `key` (absent when this is not an object or has no such member).
    pub(crate) fn get<'s>(&'s self, key: &'s str) -> Node<'v, 's> {
        Node { value: self.value.and_then(|value| value.get(key)), path: Path::Key(&self.path, key) }
    }

    /// The member at `keys`, one after the other: `node.at(&["spec", "nodeName"])`.
    pub(crate) fn at<'s>(&'s self, keys: &'s [&'s str]) -> Node<'v, 's> {
        let mut value = self.value;
        for key in keys {
            value = value.and_then(|inner| inner.get(*key));
        }
        Node { value, path: Path::Keys(&self.path, keys) }
    }

    /// The object's members; `expected` describes the object for the error.
    pub(crate) fn object(&self, expected: &str) -> Result<&'v Map<String, Value>> {
        match self.value {
            Some(Value::Object(map)) => Ok(map),
            _ => Err(self.error(expected)),
        }
    }

    /// The array's items; `expected` describes the array for the error.
    pub(crate) fn array(&self, expected: &str) -> Result<&'v [Value]> {
        match self.value {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(self.error(expected)),
        }
    }

    /// The array's items, or none when missing or `null`.
    pub(crate) fn array_or_empty(&self, expected: &str) -> Result<&'v [Value]> {
        if self.is_absent() {
            return Ok(&[]);
        }
        self.array(expected)
    }

    /// The item at `index` of an array this node was read from.
    pub(crate) fn item<'s>(&'s self, items: &'v [Value], index: usize) -> Node<'v, 's> {
        Node { value: items.get(index), path: Path::Index(&self.path, index) }
    }

    pub(crate) fn str(&self) -> Result<&'v str> {
        match self.value {
            Some(Value::String(text)) => Ok(text),
            _ => Err(self.error("a string")),
        }
    }

    /// A string, or `None` when missing or `null`.
    pub(crate) fn opt_str(&self) -> Result<Option<&'v str>> {
        if self.is_absent() {
            return Ok(None);
        }
        self.str().map(Some)
    }

    /// A non-empty string, or `None` when missing, `null` or `""`.
    pub(crate) fn non_empty_str(&self) -> Result<Option<&'v str>> {
        Ok(self.opt_str()?.filter(|text| !text.is_empty()))
    }

    /// A string, or `""` when missing or `null`.
    pub(crate) fn str_or_empty(&self) -> Result<&'v str> {
        Ok(self.opt_str()?.unwrap_or(""))
    }

    pub(crate) fn time(&self) -> Result<Instant> {
        self.opt_time()?.ok_or_else(|| self.error("an RFC 3339 time"))
    }

    /// An RFC 3339 time, or `None` when missing or `null`.
    pub(crate) fn opt_time(&self) -> Result<Option<Instant>> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => parse_time(text).map(Some).ok_or_else(|| self.error("an RFC 3339 time")),
            Some(_) => Err(self.error("an RFC 3339 time")),
        }
    }

    /// A non-negative integer, or `None` when missing or `null`.
    pub(crate) fn opt_u64(&self) -> Result<Option<u64>> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => {
                // An integral float (`3.0`) is an integer to JSON Schema, so it is one here.
                number
                    .as_u64()
                    .or_else(|| {
                        let integral =
                            |value: &f64| value.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(value);
                        number.as_f64().filter(integral).map(|value| value as u64)
                    })
                    .map(Some)
                    .ok_or_else(|| self.error("a non-negative integer"))
            }
            Some(_) => Err(self.error("a non-negative integer")),
        }
    }

    /// A 64-bit integer (an integral float too, as for [`Self::opt_u64`]), or `None` when
    /// missing or `null`.
    pub(crate) fn opt_i64(&self) -> Result<Option<i64>> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .or_else(|| {
                    let integral = |value: &f64| {
                        value.fract() == 0.0
                            && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(value)
                    };
                    number.as_f64().filter(integral).map(|value| value as i64)
                })
                .map(Some)
                .ok_or_else(|| self.error("a 64-bit integer")),
            Some(_) => Err(self.error("a 64-bit integer")),
        }
    }

    /// A 32-bit integer, or `None` when missing or `null`.
    pub(crate) fn opt_i32(&self) -> Result<Option<i32>> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .and_then(|wide| i32::try_from(wide).ok())
                .map(Some)
                .ok_or_else(|| self.error("a 32-bit integer")),
            Some(_) => Err(self.error("a 32-bit integer")),
        }
    }

    /// An object of string values (labels, annotations); missing or `null` is empty.
    pub(crate) fn string_map(&self) -> Result<BTreeMap<String, String>> {
        if self.is_absent() {
            return Ok(BTreeMap::new());
        }
        let map = self.object("an object of strings")?;
        let mut strings = BTreeMap::new();
        for (key, value) in map {
            let text = match value {
                Value::String(text) => text.clone(),
                _ => {
                    return Err(self.get(key).error("a string"));
                }
            };
            strings.insert(key.clone(), text);
        }
        Ok(strings)
    }
}

/// RFC 3339, every valid form of it: years 0000–9999, any number of fraction digits (cut
/// to nanoseconds), `T`/`t`, `Z`/`z`, `-00:00`, a leap second (read as :59); times past
/// the last instant jiff holds (9999-12-30T22:00Z) are that instant. Alertmanager drops a
/// notification answered 4xx, so a valid time must never be one.
///
/// NB: jiff is asked first and also accepts a space for `T` and RFC 9557 zone annotations;
/// both are harmless and some exporters write the former.
pub(crate) fn parse_time(text: &str) -> Option<Instant> {
    text.parse::<Instant>().ok().or_else(|| parse_rfc3339(text.as_bytes()))
}

/// RFC 3339's grammar (`date-time`, section 5.6) read by hand, for what jiff refuses.
fn parse_rfc3339(text: &[u8]) -> Option<Instant> {
    fn digits(text: &[u8], range: std::ops::Range<usize>) -> Option<i32> {
        let part = text.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |value, digit| value * 10 + i32::from(digit - b'0')))
    }
    let expect = |index: usize, allowed: &[u8]| text.get(index).is_some_and(|byte| allowed.contains(byte));
    if !(expect(4, b"-") && expect(7, b"-") && expect(10, b"Tt ") && expect(13, b":") && expect(16, b":")) {
        return None;
    }
    let (year, month, day) = (digits(text, 0..4)?, digits(text, 5..7)?, digits(text, 8..10)?);
    let (hour, minute, second) = (digits(text, 11..13)?, digits(text, 14..16)?, digits(text, 17..19)?);
    let mut position = 19;
    let mut nanos = 0;
    if expect(position, b".") {
        let n_digits = text[position + 1..].iter().take_while(|byte| byte.is_ascii_digit()).count();
        if n_digits == 0 {
            return None;
        }
        let kept = n_digits.min(9);
        nanos = digits(text, position + 1..position + 1 + kept)? * 10_i32.pow(9 - kept as u32);
        position += 1 + n_digits;
    }
    let offset_seconds = match &text[position..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) =
                (digits(text, position + 1..position + 3)?, digits(text, position + 4..position + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    // A leap second is the second before it: jiff has none, and neither does UTC arithmetic.
    let second = if second == 60 { 59 } else { second };
    let narrow = |value: i32| i8::try_from(value).ok();
    let datetime = jiff::civil::DateTime::new(
        i16::try_from(year).ok()?,
        narrow(month)?,
        narrow(day)?,
        narrow(hour)?,
        narrow(minute)?,
        narrow(second)?,
        nanos,
    )
    .ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).ok()?;
    // Only the last hours of year 9999 lie beyond jiff's range (its first instant is in year -9999).
    Some(offset.to_timestamp(datetime).unwrap_or(Instant::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_path(json: &str, keys: &[&str], expected: &str) {
        let value: Value = serde_json::from_str(json).unwrap();
        let root = Node::root(&value);
        let error = match keys {
            [] => root.str().unwrap_err(),
            [first] => root.get(first).str().unwrap_err(),
            [first, second] => root.get(first).get(second).str().unwrap_err(),
            _ => unreachable!("tests use at most two keys"),
        };
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn paths_name_the_field_and_what_was_found() {
        let rows: &[(&str, &[&str], &str)] = &[
            ("1", &[], "top level: expected a string, found the number 1"),
            (r#"{"a": {"b": 2}}"#, &["a", "b"], "a.b: expected a string, found the number 2"),
            (
                r#"{"labels": {"app.kubernetes.io/name": 3}}"#,
                &["labels", "app.kubernetes.io/name"],
                r#"labels["app.kubernetes.io/name"]: expected a string, found the number 3"#,
            ),
            (r#"{}"#, &["x"], "x: expected a string, found nothing (the field is missing)"),
            (r#"{"x": null}"#, &["x"], "x: expected a string, found null"),
        ];
        for (json, keys, expected) in rows {
            check_path(json, keys, expected);
        }
    }

    #[track_caller]
    fn check_time(text: &str, expected: Option<&str>) {
        let parsed = parse_time(text).map(|instant| instant.to_string());
        assert_eq!(parsed.as_deref(), expected, "{text}");
    }

    #[test]
    fn times_are_rfc3339_with_any_fraction_and_offset() {
        let rows = [
            ("2025-02-09T10:05:23Z", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09T10:05:23.1Z", Some("2025-02-09T10:05:23.1Z")),
            ("2025-02-09T10:05:23.123456789Z", Some("2025-02-09T10:05:23.123456789Z")),
            ("2025-02-09T11:05:23+01:00", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09T05:05:23.5-05:00", Some("2025-02-09T10:05:23.5Z")),
            ("0001-01-01T00:00:00Z", Some("0001-01-01T00:00:00Z")),
            // Issue 13: every valid RFC 3339 time, however rare.
            ("0000-01-01T00:00:00Z", Some("0000-01-01T00:00:00Z")),
            ("9999-12-31T23:59:59Z", Some("9999-12-30T22:00:00.999999999Z")),
            ("9999-12-30T23:59:59.5+02:00", Some("9999-12-30T21:59:59.5Z")),
            ("2025-02-09T10:05:23.123456789012Z", Some("2025-02-09T10:05:23.123456789Z")),
            ("2025-02-09T10:05:23.000000000000000000001Z", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09t10:05:23z", Some("2025-02-09T10:05:23Z")),
            ("2025-02-09T10:05:23-00:00", Some("2025-02-09T10:05:23Z")),
            ("2016-12-31T23:59:60Z", Some("2016-12-31T23:59:59Z")),
            ("2025-02-09T10:05:23.Z", None),
            ("2025-02-30T10:05:23Z", None),
            ("2025-02-09T24:00:00Z", None),
            ("+2025-02-09T10:05:23Z", None),
            ("2025-02-09T10:05:23", None),
            ("2025-02-09", None),
            ("yesterday", None),
            ("", None),
        ];
        for (text, expected) in rows {
            check_time(text, expected);
        }
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let rows = [
            ("{\"a\": ", "line 1 column 6: expected more JSON (the document is truncated)"),
            ("{\"a\" 1}", "line 1 column 6: expected valid JSON (expected `:`)"),
            ("", "line 1 column 0: expected more JSON (the document is truncated)"),
        ];
        for (json, expected) in rows {
            let error = parse_document(json.as_bytes()).unwrap_err();
            assert_eq!(error.to_string(), expected, "{json:?}");
        }
    }
}
