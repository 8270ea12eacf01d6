//! `responders.json` → [`ResponderRecord`]s: what responders added to an incident over the
//! write API (notes, corrections, manual resolutions, merges), as its evidence bundle
//! carries them, so a draft of the bundle shows the same rows. This module also writes that
//! file: its one shape is defined here.
//!
//! ```json
//! {"kind": "postmortemd.responders", "inputs": [
//!   {"kind": "note", "at": "2025-02-09T10:18:00Z", "author": "Alice", "text": "rolling back"},
//!   {"kind": "correction", "at": "…", "author": "Alice", "title": "Checkout down", "severity": null},
//!   {"kind": "resolve", "at": "…", "author": "Bob", "note": null},
//!   {"kind": "merge", "at": "…", "author": "Bob", "from": 12}]}
//! ```

use super::Result;
use super::json::{Node, parse_document};
use crate::record::{Record, ResponderInput, ResponderRecord};

/// The `kind` that marks the file.
pub const KIND: &str = "postmortemd.responders";

/// Reads a `responders.json`.
pub fn parse_records(bytes: &[u8]) -> Result<Vec<Record>> {
    let document = parse_document(bytes)?;
    let root = Node::root(&document);
    let kind = root.get("kind").str()?;
    if kind != KIND {
        return Err(root.get("kind").error(&format!("{KIND:?}")));
    }
    let inputs = root.get("inputs");
    let items = inputs.array("an array of responder inputs")?;
    let mut records = Vec::with_capacity(items.len());
    for index in 0..items.len() {
        let item = inputs.item(items, index);
        let input = match item.get("kind").str()? {
            "note" => ResponderInput::Note { text: item.get("text").str()?.to_owned() },
            "correction" => {
                ResponderInput::Correction { title: owned(item.get("title"))?, severity: owned(item.get("severity"))? }
            }
            "resolve" => ResponderInput::Resolve { note: owned(item.get("note"))? },
            "merge" => {
                let from = item.get("from");
                ResponderInput::Merge {
                    from: from.opt_i64().ok().flatten().ok_or_else(|| from.error("an incident id"))?,
                }
            }
            _ => return Err(item.get("kind").error("note, correction, resolve or merge")),
        };
        records.push(Record::Responder(ResponderRecord {
            at: item.get("at").time()?,
            author: item.get("author").str()?.to_owned(),
            input,
        }));
    }
    Ok(records)
}

/// An optional string, owned.
fn owned(node: Node<'_, '_>) -> Result<Option<String>> {
    node.opt_str().map(|text| text.map(str::to_owned))
}

/// Writes `inputs` in the shape [`parse_records`] reads, one per line.
pub fn to_json(inputs: &[ResponderRecord]) -> Vec<u8> {
    let lines: Vec<String> = inputs
        .iter()
        .map(|input| {
            let mut line = serde_json::json!({
                "kind": input.input.kind(),
                "at": input.at.to_string(),
                "author": input.author,
            });
            match &input.input {
                ResponderInput::Note { text } => line["text"] = text.as_str().into(),
                ResponderInput::Correction { title, severity } => {
                    line["title"] = title.clone().into();
                    line["severity"] = severity.clone().into();
                }
                ResponderInput::Resolve { note } => line["note"] = note.clone().into(),
                ResponderInput::Merge { from } => line["from"] = (*from).into(),
            }
            line.to_string()
        })
        .collect();
    format!("{{\"kind\": \"{KIND}\", \"inputs\": [\n{}\n]}}\n", lines.join(",\n")).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_round_trip() {
        let at = |text: &str| text.parse().unwrap();
        let inputs = vec![
            ResponderRecord {
                at: at("2025-02-09T10:18:00.25Z"),
                author: "Alice Example".to_owned(),
                input: ResponderInput::Note { text: "rolling back \"inventory\"\nnow".to_owned() },
            },
            ResponderRecord {
                at: at("2025-02-09T10:20:00Z"),
                author: "Alice Example".to_owned(),
                input: ResponderInput::Correction { title: Some("Checkout down".to_owned()), severity: None },
            },
            ResponderRecord {
                at: at("2025-02-09T10:40:00Z"),
                author: "Bob".to_owned(),
                input: ResponderInput::Resolve { note: Some("error rate back to baseline".to_owned()) },
            },
            ResponderRecord {
                at: at("2025-02-09T10:41:00Z"),
                author: "Bob".to_owned(),
                input: ResponderInput::Merge { from: 12 },
            },
        ];
        let records = parse_records(&to_json(&inputs)).unwrap();
        assert_eq!(records, inputs.into_iter().map(Record::Responder).collect::<Vec<_>>());
        assert_eq!(parse_records(&to_json(&[])).unwrap(), vec![]);
    }

    #[test]
    fn a_wrong_file_says_where() {
        let error = |json: &str| parse_records(json.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            error(r#"{"kind": "postmortemd.gaps", "inputs": []}"#),
            r#"kind: expected "postmortemd.responders", found "postmortemd.gaps""#
        );
        let bad_time = r#"{"kind": "postmortemd.responders", "inputs": [{"kind": "note", "at": "noon", "author": "a", "text": "t"}]}"#;
        assert!(error(bad_time).starts_with("inputs[0].at: expected an RFC 3339 time"), "{}", error(bad_time));
        let bad_kind = r#"{"kind": "postmortemd.responders", "inputs": [{"kind": "poem", "at": "2025-02-09T10:00:00Z", "author": "a"}]}"#;
        assert!(
            error(bad_kind).starts_with("inputs[0].kind: expected note, correction, resolve or merge"),
            "{}",
            error(bad_kind)
        );
    }
}
