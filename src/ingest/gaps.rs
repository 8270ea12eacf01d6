//! `gaps.json` → [`GapRecord`]s: the gaps the daemon's collectors reported (a 403, a pod
//! deleted before its logs were read, a cap), as its evidence bundle carries them, so a
//! draft of the bundle shows the same gaps. This module also writes that file: its one
//! shape is defined here.
//!
//! ```json
//! {"kind": "postmortemd.gaps", "gaps": [{"source": "logs shop/api-1/app",
//!   "start": "2025-02-09T10:00:00Z", "end": "2025-02-09T10:20:00Z", "reason": "…", "node": null}],
//!  "not_configured": [{"source": "prometheus", "hint": "set prometheus.url"}]}
//! ```
//!
//! `not_configured` (optional) names the collectors the daemon ran without: nothing of
//! their kind was looked at, which the coverage table says.

use super::Result;
use super::json::{Node, parse_document};
use crate::record::{GapRecord, GapSource, NotConfiguredRecord, Record};

/// The `kind` that marks the file.
pub const KIND: &str = "postmortemd.gaps";

/// Reads a `gaps.json`: its gaps, then its collectors not configured.
pub fn parse_records(bytes: &[u8]) -> Result<Vec<Record>> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    let mut records: Vec<Record> = read_gaps(&root)?.into_iter().map(Record::Gap).collect();
    let missing = root.get("not_configured");
    let items = missing.array_or_empty("an array of collectors")?;
    for index in 0..items.len() {
        let item = missing.item(items, index);
        records.push(Record::NotConfigured(NotConfiguredRecord {
            source: item.get("source").str()?.to_owned(),
            hint: item.get("hint").str()?.to_owned(),
        }));
    }
    Ok(records)
}

/// Reads the gaps of a `gaps.json`.
pub fn parse_gaps(bytes: &[u8]) -> Result<Vec<GapRecord>> {
    read_gaps(&Node::root(&parse_document(bytes)?))
}

fn read_gaps(root: &Node<'_, '_>) -> Result<Vec<GapRecord>> {
    let kind = root.get("kind").str()?;
    if kind != KIND {
        return Err(root.get("kind").error(&format!("{KIND:?}")));
    }
    let gaps = root.get("gaps");
    let items = gaps.array("an array of gaps")?;
    let mut records = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        let gap = gaps.item(items, index);
        records.push(GapRecord {
            // The file stores the source as rows show it; a log stream's is read back here, once.
            source: GapSource::parse(gap.get("source").str()?),
            start: gap.get("start").time()?,
            end: gap.get("end").time()?,
            reason: gap.get("reason").str()?.to_owned(),
            node: gap.get("node").opt_str()?.map(str::to_owned),
        });
    }
    Ok(records)
}

/// Writes `gaps` and the collectors not configured in the shape [`parse_records`] reads,
/// one per line.
pub fn to_json(gaps: &[GapRecord], not_configured: &[NotConfiguredRecord]) -> Vec<u8> {
    let lines: Vec<String> = gaps
        .iter()
        .map(|gap| {
            serde_json::json!({
                "source": gap.source.to_string(),
                "start": gap.start.to_string(),
                "end": gap.end.to_string(),
                "reason": gap.reason,
                "node": gap.node,
            })
            .to_string()
        })
        .collect();
    let missing: Vec<String> = not_configured
        .iter()
        .map(|missing| serde_json::json!({"source": missing.source, "hint": missing.hint}).to_string())
        .collect();
    let mut text = format!("{{\"kind\": \"{KIND}\", \"gaps\": [\n{}\n]", lines.join(",\n"));
    if !missing.is_empty() {
        text.push_str(&format!(",\n\"not_configured\": [\n{}\n]", missing.join(",\n")));
    }
    text.push_str("}\n");
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Stream;

    #[test]
    fn gaps_round_trip() {
        let gaps = vec![
            GapRecord {
                source: GapSource::Logs(Stream::container(Some("shop"), "api-1", "app")),
                start: "2025-02-09T10:00:00.5Z".parse().unwrap(),
                end: "2025-02-09T10:20:00Z".parse().unwrap(),
                reason: "the service account may not get pods/log in namespace shop (403)".to_owned(),
                node: Some("node-2".to_owned()),
            },
            GapRecord {
                source: GapSource::Other("prometheus: up".to_owned()),
                start: "2025-02-09T10:05:00Z".parse().unwrap(),
                end: "2025-02-09T10:06:00Z".parse().unwrap(),
                reason: "prometheus at http://p:9090 unreachable: \"connection refused\"".to_owned(),
                node: None,
            },
        ];
        assert_eq!(parse_gaps(&to_json(&gaps, &[])).unwrap(), gaps);
        assert_eq!(parse_gaps(&to_json(&[], &[])).unwrap(), vec![]);
        let missing = NotConfiguredRecord { source: "prometheus".to_owned(), hint: "set prometheus.url".to_owned() };
        let records = parse_records(&to_json(&gaps[..1], std::slice::from_ref(&missing))).unwrap();
        assert_eq!(records, vec![Record::Gap(gaps[0].clone()), Record::NotConfigured(missing)]);
    }

    #[test]
    fn bad_gaps_name_the_field() {
        for (input, expected) in [
            (r#"{"kind":"other","gaps":[]}"#, "kind: expected \"postmortemd.gaps\""),
            (r#"{"kind":"postmortemd.gaps"}"#, "gaps: expected an array of gaps"),
            (
                r#"{"kind":"postmortemd.gaps","gaps":[{"source":"x","start":"soon","end":"2025-02-09T10:00:00Z","reason":"r"}]}"#,
                "gaps[0].start: expected an RFC 3339 time",
            ),
        ] {
            let error = parse_gaps(input.as_bytes()).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{input}: {error}");
        }
    }
}
