//! `gaps.json` → [`GapRecord`]s: the gaps the daemon's collectors reported (a 403, a pod
//! deleted before its logs were read, a cap), as its evidence bundle carries them, so a
//! draft of the bundle shows the same gaps. This module also writes that file: its one
//! shape is defined here.
//!
//! ```json
//! {"kind": "postmortemd.gaps", "gaps": [{"source": "logs shop/api-1/app",
//!   "start": "2025-02-09T10:00:00Z", "end": "2025-02-09T10:20:00Z", "reason": "…", "node": null}]}
//! ```

use super::Result;
use super::json::{Node, parse_document};
use crate::record::{GapRecord, GapSource};

/// The `kind` that marks the file.
pub const KIND: &str = "postmortemd.gaps";

/// Reads a `gaps.json`.
pub fn parse_gaps(bytes: &[u8]) -> Result<Vec<GapRecord>> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
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

/// Writes `gaps` in the shape [`parse_gaps`] reads, one gap per line.
pub fn to_json(gaps: &[GapRecord]) -> Vec<u8> {
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
    format!("{{\"kind\": \"{KIND}\", \"gaps\": [\n{}\n]}}\n", lines.join(",\n")).into_bytes()
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
        assert_eq!(parse_gaps(&to_json(&gaps)).unwrap(), gaps);
        assert_eq!(parse_gaps(&to_json(&[])).unwrap(), vec![]);
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
