//! `postmortemd actions`: a post-mortem's action items as tracker input: one `gh issue
//! create` line per item, or JSON, or CSV. The items are read by the lint's reader
//! ([`lint::action_rows`]), so what the lint judges is what is exported.

use std::fmt::Write;

use serde::Serialize;

use super::lint::{self, ActionRow};

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionFormat {
    Gh,
    Json,
    Csv,
}

impl std::str::FromStr for ActionFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "gh" => Ok(ActionFormat::Gh),
            "json" => Ok(ActionFormat::Json),
            "csv" => Ok(ActionFormat::Csv),
            other => Err(format!("unknown format {other:?}: expected gh, json or csv")),
        }
    }
}

/// One action item, as exported: empty strings where the document leaves a cell unset.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionItem {
    pub id: String,
    pub title: String,
    pub owner: String,
    pub deadline: String,
    pub priority: String,
    pub line: usize,
}

/// The post-mortem's id: its `ID:` field, else `fallback` (the file's name).
pub fn post_mortem_id(text: &str, fallback: &str) -> String {
    text.lines()
        .find_map(|line| {
            let plain = line.trim().trim_start_matches(['-', '*', ' ']).replace(['*', '_'], "");
            let (key, value) = plain.split_once(':')?;
            (key.trim().eq_ignore_ascii_case("id") && !value.trim().is_empty()).then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| fallback.to_owned())
}

/// The document's action items; an item without an id is numbered `AI-NNN` by its place.
pub fn items(text: &str) -> Vec<ActionItem> {
    lint::action_rows(text)
        .into_iter()
        .enumerate()
        .map(|(index, row)| {
            let ActionRow { line, id, action, owner, deadline, priority } = row;
            let clean = |value: Option<String>| {
                value.map(|value| plain(&value)).filter(|value| !is_unset(value)).unwrap_or_default()
            };
            ActionItem {
                id: id.map(|id| plain(&id)).unwrap_or_else(|| format!("AI-{:03}", index + 1)),
                title: plain(&action),
                owner: clean(owner),
                deadline: clean(deadline),
                priority: clean(priority),
                line,
            }
        })
        .collect()
}

/// Markdown's escapes and links taken off: `\[x\]` → `[x]`, `[row 3](#row-3)` → `row 3`.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\\' => {
                if let Some(next) = characters.next() {
                    out.push(next);
                }
            }
            '[' => {
                let mut label = String::new();
                for inner in characters.by_ref() {
                    if inner == ']' {
                        break;
                    }
                    label.push(inner);
                }
                if characters.peek() == Some(&'(') {
                    for inner in characters.by_ref() {
                        if inner == ')' {
                            break;
                        }
                    }
                    out.push_str(&label);
                } else {
                    let _ = write!(out, "[{label}]");
                }
            }
            other => out.push(other),
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").trim().to_owned()
}

fn is_unset(value: &str) -> bool {
    value.contains("TODO(") || matches!(value.trim().to_lowercase().as_str(), "" | "-" | "?" | "tbd" | "n/a" | "none")
}

/// A word safe as one shell argument: single-quoted, a `'` written as `'\''`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The items in `format`; `id` names the post-mortem (`PM-…`).
pub fn render(id: &str, items: &[ActionItem], format: ActionFormat) -> String {
    let mut out = String::new();
    match format {
        ActionFormat::Gh => {
            for item in items {
                let owner = if item.owner.is_empty() { "unassigned" } else { &item.owner };
                let deadline = if item.deadline.is_empty() { "none" } else { &item.deadline };
                let mut body = format!("From post-mortem {id}; Owner {owner}; Deadline {deadline}");
                if !item.priority.is_empty() {
                    let _ = write!(body, "; Priority {}", item.priority);
                }
                let _ = write!(
                    out,
                    "gh issue create --title {} --body {} --label post-mortem",
                    shell_quote(&format!("{}: {}", item.id, item.title)),
                    shell_quote(&body)
                );
                if let Some(login) = assignee(&item.owner) {
                    let _ = write!(out, " --assignee {}", shell_quote(login));
                }
                out.push('\n');
            }
        }
        ActionFormat::Json => {
            #[derive(Serialize)]
            struct Export<'a> {
                post_mortem: &'a str,
                actions: &'a [ActionItem],
            }
            out = crate::timeline::render::json::to_json(&Export { post_mortem: id, actions: items });
        }
        ActionFormat::Csv => {
            out.push_str("post_mortem,id,title,owner,deadline,priority\n");
            for item in items {
                let fields = [id, &item.id, &item.title, &item.owner, &item.deadline, &item.priority];
                let cells: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
                let _ = writeln!(out, "{}", cells.join(","));
            }
        }
    }
    out
}

/// A GitHub login from an owner cell: `@bob` or a single word; a team or a full name is
/// left in the body only.
fn assignee(owner: &str) -> Option<&str> {
    let owner = owner.trim();
    let login = owner.strip_prefix('@').unwrap_or(owner);
    let valid = !login.is_empty()
        && login.chars().all(|character| character.is_ascii_alphanumeric() || character == '-')
        && !login.starts_with('-');
    valid.then_some(login)
}

/// RFC 4180: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_cannot_break_out() {
        assert_eq!(shell_quote("it's $(rm -rf /)"), "'it'\\''s $(rm -rf /)'");
    }

    #[test]
    fn logins_and_csv_fields() {
        assert_eq!(assignee("@bob"), Some("bob"));
        assert_eq!(assignee("Shop SRE"), None);
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(plain("Keep \\[x\\] ([row 3](#row-3))"), "Keep [x] (row 3)");
    }
}
