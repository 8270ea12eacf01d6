//! Byte scanning that more than one per-line parser needs (the timestamp finder's JSON time
//! fields, the digest's JSON message and level): hand-written and allocation-free, because
//! it runs on every line. What a scanned span means is left to the caller.

/// The index of the quote closing a JSON string whose content starts at `start` (just after
/// the opening quote): the first `"` not escaped by a `\`. `None` when the string does not
/// end in `bytes` (a cut line), so callers stop reading rather than guess.
pub fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    // Keys and short values are the common case: look at a few bytes before memchr.
    let mut position = start;
    let short_end = bytes.len().min(start + 16);
    while position < short_end {
        match bytes[position] {
            b'"' => return Some(position),
            b'\\' => position += 2,
            _ => position += 1,
        }
    }
    loop {
        let found = position + memchr::memchr2(b'"', b'\\', bytes.get(position..)?)?;
        if bytes[found] == b'"' {
            return Some(found);
        }
        position = found + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, start: usize, expected: Option<usize>) {
        assert_eq!(string_end(text.as_bytes(), start), expected, "{text:?} from {start}");
    }

    #[test]
    fn finds_the_closing_quote() {
        check(r#""msg":1"#, 1, Some(4));
        check(r#""""#, 1, Some(1));
        check(r#""a\"b" x"#, 1, Some(5));
        check(r#""a\\" x"#, 1, Some(4));
        check(r#""a long value well beyond sixteen bytes \" still inside" x"#, 1, Some(55));
        check(r#""cut at \"#, 1, None);
        check(r#""cut"#, 1, None);
        check(r#""ends in an escape sixteen bytes later\"#, 1, None);
        check("", 0, None);
    }
}
