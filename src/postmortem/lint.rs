//! `postmortemd lint`: checks a written post-mortem against the practice. The Markdown is
//! read loosely ([`Document::parse`]: headings, tables, lists, `Key: value` fields, fenced
//! code left out), so a document from another template (Google SRE's, PagerDuty's) is judged
//! too: sections are found by the words of their headings, columns by the words of their
//! headers.
//!
//! The rules are one table, [`RULES`]; the words they look for are per language in
//! [`LANGUAGES`], English first: another language is one more entry, and every rule reads the
//! words of all of them.

use jiff::civil::{Date, DateTime, Time};
use serde::Serialize;

use super::PLACEHOLDER;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One rule: its id (what findings name), how bad a finding is, what it checks.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub checks: &'static str,
}

/// Every rule, in the order findings of one line are listed. docs/postmortem.md lists them
/// (a test holds the two together).
pub const RULES: &[Rule] = &[
    Rule {
        id: "timeline-missing",
        severity: Severity::Error,
        checks: "a Timeline section with timed entries (table rows or list items that start with a time)",
    },
    Rule {
        id: "timeline-order",
        severity: Severity::Error,
        checks: "the timeline's entries are in chronological order",
    },
    Rule {
        id: "timeline-utc",
        severity: Severity::Error,
        checks: "the timeline says its times are UTC (in its heading, header or first line, or on each time), and no time carries another zone",
    },
    Rule {
        id: "timeline-complete",
        severity: Severity::Warning,
        checks: "the timeline shows the detection (an alert, a page) and the end (resolved, recovered, mitigated)",
    },
    Rule {
        id: "factors-count",
        severity: Severity::Error,
        checks: "at least two contributing factors (struck-through items do not count): an incident has more than one cause",
    },
    Rule { id: "actions-missing", severity: Severity::Error, checks: "an Action items section with at least one item" },
    Rule { id: "action-owner", severity: Severity::Error, checks: "every action item has an owner" },
    Rule {
        id: "action-deadline",
        severity: Severity::Error,
        checks: "every action item has a deadline that is a date (2025-03-01, 1 Mar 2025, Mar 1, 2025)",
    },
    Rule {
        id: "action-priority",
        severity: Severity::Error,
        checks: "every action item has a priority (P0–P4, critical, high, medium, low)",
    },
    Rule {
        id: "action-vague",
        severity: Severity::Warning,
        checks: "action items say a concrete change, not \"improve monitoring\", \"investigate\" or \"be more careful\"",
    },
    Rule {
        id: "blame",
        severity: Severity::Error,
        checks: "no blaming language: a person as the cause, \"human error\", \"should have\", \"X caused the problem\"; each finding gives a blameless rewrite hint",
    },
    Rule {
        id: "report-date",
        severity: Severity::Error,
        checks: "the report is dated within 48 h of the incident's end (a warning when the report date or the end cannot be read)",
    },
    Rule { id: "review-date", severity: Severity::Error, checks: "a follow-up review date is set" },
    Rule { id: "placeholder", severity: Severity::Warning, checks: "no TODO(…) placeholder of the draft is left" },
];

fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|rule| rule.id == id).expect("every rule id used is in RULES")
}

/// A blaming phrase and how to say it without blame.
#[derive(Clone, Copy, Debug)]
pub struct Blame {
    pub phrase: &'static str,
    pub hint: &'static str,
}

/// The words the rules look for in one language.
#[derive(Clone, Copy, Debug)]
pub struct Language {
    pub code: &'static str,
    /// Heading words of each section.
    pub timeline_headings: &'static [&'static str],
    pub factor_headings: &'static [&'static str],
    pub action_headings: &'static [&'static str],
    /// Field names (before `:`) of the report date, the review date, the incident's date and
    /// its duration, and of an explicit end.
    pub report_date_fields: &'static [&'static str],
    pub review_fields: &'static [&'static str],
    pub date_fields: &'static [&'static str],
    pub duration_fields: &'static [&'static str],
    pub end_fields: &'static [&'static str],
    /// Column header words of action tables.
    pub action_columns: &'static [&'static str],
    pub owner_columns: &'static [&'static str],
    pub deadline_columns: &'static [&'static str],
    pub priority_columns: &'static [&'static str],
    pub time_columns: &'static [&'static str],
    pub priorities: &'static [&'static str],
    /// Values that say "nobody yet".
    pub unset: &'static [&'static str],
    pub vague: &'static [&'static str],
    pub blame: &'static [Blame],
    /// People as subjects, and what a subject does when a sentence makes them the cause.
    pub people: &'static [&'static str],
    pub blaming_verbs: &'static [&'static str],
    /// Outcomes in "… caused the outage".
    pub outcomes: &'static [&'static str],
    pub caused: &'static [&'static str],
    pub person_hint: &'static str,
    pub caused_hint: &'static str,
    pub detection_words: &'static [&'static str],
    pub end_words: &'static [&'static str],
    pub months: &'static [&'static str],
}

pub const ENGLISH: Language = Language {
    code: "en",
    timeline_headings: &["timeline"],
    factor_headings: &["contributing factor", "root cause", "causes", "factors", "trigger"],
    action_headings: &["action item", "actions", "follow-up", "follow up", "remediation"],
    report_date_fields: &["report date", "written", "date written", "published", "last updated", "report written"],
    review_fields: &[
        "reviewed",
        "review date",
        "follow-up review",
        "review",
        "postmortem review",
        "post-mortem review",
    ],
    date_fields: &["date", "incident date"],
    duration_fields: &["duration"],
    end_fields: &["end", "ended", "incident end", "resolved"],
    action_columns: &["action", "item", "title", "description", "task", "what"],
    owner_columns: &["owner", "assignee", "who", "responsible"],
    deadline_columns: &["deadline", "due", "when", "by", "date"],
    priority_columns: &["priority", "prio", "severity"],
    time_columns: &["time", "when", "utc"],
    priorities: &["p0", "p1", "p2", "p3", "p4", "critical", "high", "medium", "low"],
    unset: &["", "-", "–", "?", "tbd", "tba", "n/a", "none", "unassigned", "nobody"],
    vague: &[
        "improve",
        "investigate",
        "look into",
        "better",
        "more careful",
        "be careful",
        "more testing",
        "monitor more",
        "ensure",
        "review the",
        "think about",
        "consider",
        "as needed",
        "fix the issue",
        "fix it",
        "enhance",
    ],
    blame: &[
        Blame {
            phrase: "human error",
            hint: "name the condition that made the step easy to take and its effect large: \"the deploy tool accepted a config without validation\"",
        },
        Blame {
            phrase: "should have",
            hint: "say what the system allowed and what would make the right step the easy one: \"the runbook did not cover …\"",
        },
        Blame {
            phrase: "should've",
            hint: "say what the system allowed and what would make the right step the easy one",
        },
        Blame {
            phrase: "shouldn't have",
            hint: "say what the system allowed and what would make the right step the easy one",
        },
        Blame {
            phrase: "careless",
            hint: "describe the conditions (time pressure, missing checks) rather than a person's care",
        },
        Blame {
            phrase: "negligen",
            hint: "describe the conditions (time pressure, missing checks) rather than a person's care",
        },
        Blame { phrase: "fault of", hint: "name the systems and conditions involved, not whose fault it was" },
        Blame { phrase: "'s fault", hint: "name the systems and conditions involved, not whose fault it was" },
        Blame { phrase: "to blame", hint: "name the systems and conditions involved, not who is to blame" },
        Blame { phrase: "blamed", hint: "name the systems and conditions involved, not who is to blame" },
        Blame { phrase: "incompeten", hint: "describe what the person knew and what the system showed them" },
        Blame { phrase: "sloppy", hint: "describe the conditions and missing safeguards instead" },
    ],
    people: &[
        "he",
        "she",
        "engineer",
        "operator",
        "developer",
        "admin",
        "administrator",
        "on-call",
        "oncall",
        "someone",
        "somebody",
        "intern",
        "sre",
        "dev",
        "employee",
        "responder",
    ],
    blaming_verbs: &[
        "forgot",
        "neglected",
        "failed to",
        "broke",
        "ignored",
        "missed",
        "messed up",
        "screwed up",
        "didn't",
        "did not",
        "caused",
        "mistakenly",
        "accidentally",
        "carelessly",
        "botched",
    ],
    outcomes: &["problem", "outage", "incident", "issue", "failure", "downtime", "errors"],
    caused: &["caused", "was responsible for", "is responsible for"],
    person_hint: "make a system or condition the subject: \"the deploy pipeline applied the change without a canary\", not who did it",
    caused_hint: "say what the evidence shows preceded what, and keep the other factors: \"the rollout preceded the first errors by 73 s\"",
    detection_words: &["alert", "page", "paged", "fired", "triggered", "detect", "notified", "reported"],
    end_words: &[
        "resolved",
        "recovered",
        "mitigated",
        "restored",
        "back to baseline",
        "rolled back",
        "rollback",
        "closed",
        "ended",
    ],
    months: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};

/// Every language the rules read, English first.
pub const LANGUAGES: &[Language] = &[ENGLISH];

fn any_language<'a>(words: impl Fn(&Language) -> &'static [&'static str]) -> impl Iterator<Item = &'a str> {
    LANGUAGES.iter().flat_map(move |language| words(language).iter().copied())
}

/// One finding of the lint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub line: usize,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    fn new(line: usize, id: &str, message: impl Into<String>) -> Self {
        let rule = rule(id);
        Finding { line, rule: rule.id, severity: rule.severity, message: message.into() }
    }

    fn warning(line: usize, id: &str, message: impl Into<String>) -> Self {
        Finding { severity: Severity::Warning, ..Finding::new(line, id, message) }
    }
}

/// What a line of the document is.
#[derive(Clone, Debug, PartialEq)]
enum Item {
    Heading {
        level: usize,
        text: String,
    },
    /// A table row that is not a header or rule; `header` is its table's.
    Row {
        cells: Vec<String>,
        header: Vec<String>,
    },
    Bullet(String),
    Text(String),
}

#[derive(Clone, Debug)]
struct Line {
    number: usize,
    item: Item,
    /// The headings above it, outermost first (lowercase).
    sections: Vec<String>,
}

/// A post-mortem read loosely.
struct Document {
    lines: Vec<Line>,
}

fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut escaped = false;
    for character in inner.chars() {
        match character {
            '\\' if !escaped => {
                escaped = true;
                cell.push(character);
                continue;
            }
            '|' if !escaped => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            other => cell.push(other),
        }
        escaped = false;
    }
    cells.push(cell.trim().to_owned());
    cells
}

fn is_rule_row(cells: &[String]) -> bool {
    cells.iter().all(|cell| !cell.is_empty() && cell.chars().all(|character| matches!(character, '-' | ':' | ' ')))
}

impl Document {
    fn parse(text: &str) -> Document {
        let mut lines = Vec::new();
        let mut headings: Vec<(usize, String)> = Vec::new();
        let mut fenced = false;
        let mut seen_heading = false;
        let mut header: Option<Vec<String>> = None;
        let raw: Vec<&str> = text.lines().collect();
        for (index, line) in raw.iter().enumerate() {
            let number = index + 1;
            let trimmed = line.trim();
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                fenced = !fenced;
                continue;
            }
            if fenced {
                continue;
            }
            if !trimmed.starts_with('|') {
                header = None;
            }
            let sections = headings.iter().map(|(_, text)| text.to_lowercase()).collect();
            let item = if let Some(rest) = trimmed.strip_prefix('#') {
                let level = 1 + rest.chars().take_while(|character| *character == '#').count();
                let text = rest.trim_start_matches('#').trim().to_owned();
                // The document's title is not a section: its words name the incident.
                if level == 1 && !seen_heading {
                    seen_heading = true;
                    lines.push(Line { number, item: Item::Text(text), sections });
                    continue;
                }
                seen_heading = true;
                headings.retain(|(outer, _)| *outer < level);
                headings.push((level, text.clone()));
                let sections = headings[..headings.len() - 1].iter().map(|(_, text)| text.to_lowercase()).collect();
                lines.push(Line { number, item: Item::Heading { level, text }, sections });
                continue;
            } else if let Some(underline) = raw.get(index + 1).map(|next| next.trim())
                && !trimmed.is_empty()
                && !underline.is_empty()
                && (underline.chars().all(|character| character == '=')
                    || (underline.chars().all(|character| character == '-')
                        && underline.len() >= 3
                        && !trimmed.starts_with('|')
                        && !trimmed.starts_with('-')))
            {
                let level = if underline.starts_with('=') { 1 } else { 2 };
                headings.retain(|(outer, _)| *outer < level);
                headings.push((level, trimmed.to_owned()));
                lines.push(Line { number, item: Item::Heading { level, text: trimmed.to_owned() }, sections });
                continue;
            } else if trimmed.starts_with('|') {
                let cells = split_row(trimmed);
                match &header {
                    None => {
                        header = Some(cells);
                        continue;
                    }
                    Some(_) if is_rule_row(&cells) => continue,
                    Some(header) => Item::Row { cells, header: header.clone() },
                }
            } else if let Some(rest) = list_item(trimmed) {
                Item::Bullet(rest.to_owned())
            } else if trimmed.is_empty() || trimmed.chars().all(|character| matches!(character, '=' | '-')) {
                continue;
            } else {
                Item::Text(trimmed.to_owned())
            };
            lines.push(Line { number, item, sections });
        }
        Document { lines }
    }

    fn in_section<'a>(&'a self, words: &'a [&'a str]) -> impl Iterator<Item = &'a Line> + 'a {
        self.lines.iter().filter(move |line| line.sections.iter().any(|section| matches_any(section, words)))
    }

    /// The first `Key: value` field named by one of `names`: `- **Key:** value`, `Key: value`,
    /// or a two-column table row `| Key | value |`.
    fn field(&self, names: &[&str]) -> Option<(usize, String)> {
        self.lines.iter().find_map(|line| {
            let (key, value) = match &line.item {
                Item::Bullet(text) | Item::Text(text) => {
                    let plain = text.replace(['*', '_'], "");
                    let (key, value) = plain.split_once(':')?;
                    (key.trim().to_lowercase(), value.trim().to_owned())
                }
                Item::Row { cells, .. } if cells.len() == 2 => {
                    (cells[0].replace(['*', '_', ':'], "").trim().to_lowercase(), cells[1].trim().to_owned())
                }
                _ => return None,
            };
            names.iter().any(|name| key == *name).then_some((line.number, value))
        })
    }
}

fn list_item(line: &str) -> Option<&str> {
    let rest =
        line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")).or_else(|| line.strip_prefix("+ ")).or_else(
            || {
                let digits = line.chars().take_while(char::is_ascii_digit).count();
                (digits > 0 && digits < 4)
                    .then(|| line[digits..].strip_prefix(". ").or_else(|| line[digits..].strip_prefix(") ")))?
            },
        )?;
    Some(rest.trim_start_matches("[ ] ").trim_start_matches("[x] ").trim_start_matches("[X] ").trim())
}

fn matches_any(text: &str, words: &[&str]) -> bool {
    let lower = text.to_lowercase();
    words.iter().any(|word| lower.contains(word))
}

fn is_struck(text: &str) -> bool {
    let trimmed = text.trim();
    trimmed.starts_with("~~") && trimmed.ends_with("~~")
}

fn is_placeholder(text: &str) -> bool {
    text.contains(&format!("{PLACEHOLDER}("))
}

fn is_unset(value: &str) -> bool {
    let plain = value.replace(['*', '_', '`'], "");
    let plain = plain.trim().to_lowercase();
    is_placeholder(value) || any_language(|language| language.unset).any(|unset| plain == unset)
}

/// A date anywhere in `text`: `2025-02-09`, `9 Feb 2025`, `Feb 9, 2025`, `February 9 2025`.
pub fn find_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    for start in 0..bytes.len() {
        if start + 10 <= bytes.len()
            && (start == 0 || !bytes[start - 1].is_ascii_digit())
            && let Ok(date) = text[start..start + 10].parse::<Date>()
        {
            return Some(date);
        }
    }
    let words: Vec<String> = text
        .split(|character: char| character.is_whitespace() || character == ',')
        .filter(|word| !word.is_empty())
        .map(|word| word.trim_matches(|character: char| !character.is_alphanumeric()).to_lowercase())
        .collect();
    let month = |word: &str| {
        any_language(|language| language.months)
            .position(|month| word.len() >= 3 && month.starts_with(&word[..3]) && word.starts_with(month))
            .map(|index| (index % 12) as i8 + 1)
    };
    for index in 0..words.len().saturating_sub(2) {
        let number = |word: &str| word.parse::<i16>().ok();
        let (day, month, year) = if let (Some(day), Some(month)) = (number(&words[index]), month(&words[index + 1])) {
            (day, month, number(&words[index + 2]))
        } else if let (Some(month), Some(day)) = (month(&words[index]), number(&words[index + 1])) {
            (day, month, number(&words[index + 2]))
        } else {
            continue;
        };
        if let Some(year) = year.filter(|year| *year >= 1970)
            && let Ok(date) = Date::new(year, month, i8::try_from(day).ok()?)
        {
            return Some(date);
        }
    }
    None
}

/// A time read at the start of a text: its date (or month and day), its time, the rest.
type Leading<'a> = (Option<Date>, Option<(i8, i8)>, Time, &'a str);

/// A timeline entry's time, at the start of `text`: `[YYYY-MM-DD[ T]|MM-DD ]HH:MM[:SS]`,
/// with what follows it (for its zone).
fn leading_time(text: &str) -> Option<Leading<'_>> {
    let text = text.trim().trim_start_matches(['*', '_', '`']);
    let (date, month_day, rest) = if let Some(date) = text.get(..10).and_then(|head| head.parse::<Date>().ok()) {
        (Some(date), None, text[10..].trim_start_matches(['T', ' ', ',']))
    } else if text.len() > 6 && text.as_bytes()[2] == b'-' && text.as_bytes()[5] == b' ' {
        let month = text[..2].parse::<i8>().ok();
        let day = text[3..5].parse::<i8>().ok();
        match (month, day) {
            (Some(month), Some(day)) => (None, Some((month, day)), &text[6..]),
            _ => (None, None, text),
        }
    } else {
        (None, None, text)
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if !(1..=2).contains(&digits) || rest.as_bytes().get(digits) != Some(&b':') {
        return date.map(|date| (Some(date), None, Time::midnight(), rest));
    }
    let hour: i8 = rest[..digits].parse().ok()?;
    let minute: i8 = rest.get(digits + 1..digits + 3)?.parse().ok()?;
    let mut end = digits + 3;
    let mut second: i8 = 0;
    if rest.as_bytes().get(end) == Some(&b':')
        && let Some(value) = rest.get(end + 1..end + 3).and_then(|value| value.parse().ok())
    {
        second = value;
        end += 3;
        while rest.as_bytes().get(end).is_some_and(|byte| *byte == b'.' || byte.is_ascii_digit()) {
            end += 1;
        }
    }
    let time = Time::new(hour, minute, second, 0).ok()?;
    Some((date, month_day, time, &rest[end..]))
}

/// What zone follows a time: `Some(true)` UTC, `Some(false)` another, `None` none said.
fn zone_after(rest: &str) -> Option<bool> {
    let rest = rest.trim_start();
    let word: String = rest
        .chars()
        .take_while(|character| !character.is_whitespace() && *character != '|' && *character != ')')
        .collect();
    let upper = word.trim_end_matches([',', '.', ':', ';']).to_uppercase();
    match upper.as_str() {
        "UTC" | "Z" | "GMT" | "+00:00" | "+0000" => Some(true),
        _ if rest.starts_with('Z') => Some(true),
        _ if (upper.starts_with('+') || upper.starts_with('-'))
            && upper.len() >= 3
            && upper[1..3].chars().all(|character| character.is_ascii_digit()) =>
        {
            Some(false)
        }
        "PST" | "PDT" | "EST" | "EDT" | "CET" | "CEST" | "IST" | "JST" | "BST" | "CST" | "CDT" | "MST" | "MDT"
        | "AEST" | "KST" => Some(false),
        _ => None,
    }
}

/// The findings of a written post-mortem, by line.
pub fn lint(text: &str) -> Vec<Finding> {
    let document = Document::parse(text);
    let mut findings = Vec::new();
    let last_entry = check_timeline(&document, &mut findings);
    check_factors(&document, &mut findings);
    check_actions(&document, &mut findings);
    check_blame(&document, &mut findings);
    check_dates(&document, last_entry, &mut findings);
    for line in &document.lines {
        let text = match &line.item {
            Item::Heading { text, .. } | Item::Bullet(text) | Item::Text(text) => text.clone(),
            Item::Row { cells, .. } => cells.join(" | "),
        };
        if is_placeholder(&text) {
            findings.push(Finding::new(
                line.number,
                "placeholder",
                "a placeholder of the draft is left: write it or remove it",
            ));
        }
    }
    findings.sort_by_key(|finding| (finding.line, RULES.iter().position(|rule| rule.id == finding.rule)));
    findings.dedup();
    findings
}

/// Whether any finding is an error: `lint` exits 1 then.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|finding| finding.severity == Severity::Error)
}

/// The timeline's checks; returns its last dated entry (for the 48 h rule).
fn check_timeline(document: &Document, findings: &mut Vec<Finding>) -> Option<DateTime> {
    let headings = any_language(|language| language.timeline_headings).collect::<Vec<_>>();
    let heading = document
        .lines
        .iter()
        .find(|line| matches!(&line.item, Item::Heading { text, .. } if matches_any(text, &headings)));
    let Some(heading) = heading else {
        findings.push(Finding::new(1, "timeline-missing", "no Timeline section: add one, its times in UTC"));
        return None;
    };
    let Item::Heading { text: heading_text, .. } = &heading.item else { return None };
    let lines: Vec<&Line> = document.in_section(&headings).collect();
    let mut utc_said = heading_text.contains("UTC");
    let mut entries = Vec::new();
    let mut current_date: Option<Date> = None;
    let mut year_hint: Option<i16> = document
        .field(&any_language(|language| language.date_fields).collect::<Vec<_>>())
        .and_then(|(_, value)| find_date(&value))
        .map(|date| date.year());
    for line in &lines {
        let cell = match &line.item {
            Item::Row { cells, header } => {
                if header.iter().any(|column| column.contains("UTC")) {
                    utc_said = true;
                }
                let time_columns: Vec<&str> = any_language(|language| language.time_columns).collect();
                let column = header.iter().position(|column| matches_any(column, &time_columns)).unwrap_or(0);
                let column = if cells.get(column).is_some_and(|cell| leading_time(&strip_anchor(cell)).is_some()) {
                    column
                } else {
                    cells.iter().position(|cell| leading_time(&strip_anchor(cell)).is_some()).unwrap_or(column)
                };
                let mut text = strip_anchor(cells.get(column).map(String::as_str).unwrap_or(""));
                if let Some(next) = cells
                    .get(column + 1)
                    .filter(|_| leading_time(&text).is_some_and(|(_, _, _, rest)| rest.trim().is_empty()))
                {
                    text.push(' ');
                    text.push_str(next);
                }
                text
            }
            Item::Bullet(text) => text.clone(),
            Item::Text(text) => {
                if text.contains("UTC") && entries.is_empty() {
                    utc_said = true;
                }
                if let Some(date) = find_date(text) {
                    current_date = Some(date);
                    year_hint = Some(date.year());
                }
                continue;
            }
            Item::Heading { text, .. } => {
                if text.contains("UTC") {
                    utc_said = true;
                }
                if let Some(date) = find_date(text) {
                    current_date = Some(date);
                }
                continue;
            }
        };
        let Some((date, month_day, time, rest)) = leading_time(&cell) else { continue };
        let date = date.or_else(|| {
            month_day.and_then(|(month, day)| {
                Date::new(year_hint.or(current_date.map(|date| date.year()))?, month, day).ok()
            })
        });
        if let Some(date) = date {
            current_date = Some(date);
        }
        entries.push((line.number, current_date, time, zone_after(rest), cell.clone()));
    }
    if entries.is_empty() {
        findings.push(Finding::new(
            heading.number,
            "timeline-missing",
            "the Timeline has no timed entries: start each row or item with its time (HH:MM UTC)",
        ));
        return None;
    }
    let all_zoned = entries.iter().all(|(_, _, _, zone, _)| *zone == Some(true));
    for (number, _, _, zone, _) in &entries {
        if *zone == Some(false) {
            findings.push(Finding::new(*number, "timeline-utc", "a time in another zone: write every time in UTC"));
        }
    }
    if !utc_said && !all_zoned {
        findings.push(Finding::new(heading.number, "timeline-utc", "the timeline does not say its times are UTC: write them in UTC and say so in the heading (\"Timeline (all times UTC)\")"));
    }
    let mut previous: Option<(Option<Date>, Time)> = None;
    for (number, date, time, _, _) in &entries {
        if let Some((previous_date, previous_time)) = previous {
            let earlier = match (previous_date, date) {
                (Some(before), Some(now)) => {
                    DateTime::from_parts(*now, *time) < DateTime::from_parts(before, previous_time)
                }
                _ => *time < previous_time,
            };
            if earlier {
                findings.push(Finding::new(*number, "timeline-order", format!("this entry ({time}) is earlier than the one before it ({previous_time}): order the timeline by time, and give dates when it crosses midnight")));
            }
        }
        previous = Some((*date, *time));
    }
    let texts: Vec<&String> = entries.iter().map(|(_, _, _, _, text)| text).collect();
    let whole: Vec<String> = lines
        .iter()
        .map(|line| match &line.item {
            Item::Row { cells, .. } => cells.join(" "),
            Item::Bullet(text) | Item::Text(text) => text.clone(),
            Item::Heading { text, .. } => text.clone(),
        })
        .collect();
    let has = |words: Vec<&str>| whole.iter().chain(texts.iter().copied()).any(|text| matches_any(text, &words));
    if !has(any_language(|language| language.detection_words).collect()) {
        findings.push(Finding::new(
            heading.number,
            "timeline-complete",
            "the timeline does not show how the incident was detected (an alert, a page, a report)",
        ));
    }
    if !has(any_language(|language| language.end_words).collect()) {
        findings.push(Finding::new(
            heading.number,
            "timeline-complete",
            "the timeline does not show how the incident ended (mitigated, recovered, resolved)",
        ));
    }
    entries.iter().filter_map(|(_, date, time, _, _)| Some(DateTime::from_parts((*date)?, *time))).max()
}

/// A cell without the row anchor the drafted report puts before its number.
fn strip_anchor(cell: &str) -> String {
    match cell.find("</a>") {
        Some(end) if cell.starts_with("<a ") => cell[end + 4..].to_owned(),
        _ => cell.to_owned(),
    }
}

fn check_factors(document: &Document, findings: &mut Vec<Finding>) {
    let headings: Vec<&str> = any_language(|language| language.factor_headings).collect();
    let heading = document
        .lines
        .iter()
        .find(|line| matches!(&line.item, Item::Heading { text, .. } if matches_any(text, &headings)));
    let mut count = 0;
    for line in document.in_section(&headings) {
        match &line.item {
            Item::Bullet(text) if !is_struck(text) && !is_placeholder(text) => count += 1,
            Item::Row { cells, .. } if !cells.iter().all(|cell| is_struck(cell) || cell.is_empty()) => count += 1,
            _ => {}
        }
    }
    // Prose (a Google SRE style "Root Causes" paragraph) counts as one factor: items count
    // one each, so listing them is how to show more than one.
    if count < 2
        && let Some(heading) = heading
    {
        let prose =
            document.in_section(&headings).any(|line| matches!(&line.item, Item::Text(text) if !is_placeholder(text)));
        count = count.max(usize::from(prose));
        if count < 2 {
            findings.push(Finding::new(heading.number, "factors-count", format!("{count} contributing factor(s): list at least two, one per item; an incident has more than one cause")));
        }
        return;
    }
    if heading.is_none() {
        findings.push(Finding::new(
            1,
            "factors-count",
            "no Contributing factors section: list at least two factors, one per item",
        ));
    }
}

/// One action item as read: where, and its cells by meaning.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ActionRow {
    pub line: usize,
    pub id: Option<String>,
    pub action: String,
    pub owner: Option<String>,
    pub deadline: Option<String>,
    pub priority: Option<String>,
}

fn column(header: &[String], words: &[&str], taken: &[usize]) -> Option<usize> {
    // Exact header words first, then headers containing one.
    let lower: Vec<String> = header.iter().map(|column| column.replace(['*', '_'], "").trim().to_lowercase()).collect();
    for word in words {
        if let Some(index) =
            lower.iter().enumerate().position(|(index, column)| column == word && !taken.contains(&index))
        {
            return Some(index);
        }
    }
    for word in words {
        if let Some(index) =
            lower.iter().enumerate().position(|(index, column)| column.contains(word) && !taken.contains(&index))
        {
            return Some(index);
        }
    }
    None
}

/// Inline `key: value` in a list item: `owner: @bob`, `due 2025-03-01`, `(P2)`.
fn inline_value(text: &str, keys: &[&str]) -> Option<String> {
    let lower = text.to_lowercase();
    for key in keys {
        for separator in [":", " =", "="] {
            let pattern = format!("{key}{separator}");
            if let Some(at) = lower.find(&pattern) {
                let rest = &text[at + pattern.len()..];
                let value: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|character| !matches!(character, ',' | ';' | ')' | '|'))
                    .collect();
                return Some(value.trim().to_owned());
            }
        }
    }
    None
}

/// The action items of a post-mortem: rows of tables and items of lists in its action section.
pub fn action_rows(text: &str) -> Vec<ActionRow> {
    rows_of(&Document::parse(text))
}

fn rows_of(document: &Document) -> Vec<ActionRow> {
    let headings: Vec<&str> = any_language(|language| language.action_headings).collect();
    let mut rows = Vec::new();
    for line in document.in_section(&headings) {
        match &line.item {
            Item::Row { cells, header } => {
                let mut taken = Vec::new();
                let mut pick = |words: Vec<&str>| {
                    let found = column(header, &words, &taken);
                    if let Some(index) = found {
                        taken.push(index);
                    }
                    found
                };
                let id = pick(vec!["id", "#"]);
                let owner = pick(any_language(|language| language.owner_columns).collect());
                let priority = pick(any_language(|language| language.priority_columns).collect());
                let deadline = pick(any_language(|language| language.deadline_columns).collect());
                let action = pick(any_language(|language| language.action_columns).collect())
                    .or_else(|| (0..cells.len()).find(|index| !taken.contains(index)));
                let get =
                    |index: Option<usize>| index.and_then(|index| cells.get(index)).map(|cell| cell.trim().to_owned());
                if cells.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                rows.push(ActionRow {
                    line: line.number,
                    id: get(id).filter(|id| !id.is_empty()),
                    action: get(action).unwrap_or_default(),
                    owner: get(owner),
                    deadline: get(deadline),
                    priority: get(priority),
                });
            }
            Item::Bullet(text) if !is_struck(text) => {
                let owner = inline_value(text, &["owner", "assignee", "assigned to"]).or_else(|| {
                    text.split_whitespace().find(|word| word.starts_with('@') && word.len() > 1).map(|word| {
                        word.trim_matches(|character: char| {
                            !character.is_alphanumeric() && character != '@' && character != '-'
                        })
                        .to_owned()
                    })
                });
                let deadline = inline_value(text, &["deadline", "due", "by"]);
                let priorities: Vec<&str> = any_language(|language| language.priorities).collect();
                let priority = inline_value(text, &["priority", "prio"]).or_else(|| {
                    text.split(|character: char| !character.is_alphanumeric())
                        .find(|word| {
                            word.len() == 2
                                && word.starts_with(['P', 'p'])
                                && priorities.contains(&word.to_lowercase().as_str())
                        })
                        .map(str::to_owned)
                });
                let action = text.split(['(', '—', ';']).next().unwrap_or(text).trim().to_owned();
                rows.push(ActionRow { line: line.number, id: None, action, owner, deadline, priority });
            }
            _ => {}
        }
    }
    rows
}

fn check_actions(document: &Document, findings: &mut Vec<Finding>) {
    let headings: Vec<&str> = any_language(|language| language.action_headings).collect();
    let heading = document
        .lines
        .iter()
        .find(|line| matches!(&line.item, Item::Heading { text, .. } if matches_any(text, &headings)));
    let rows = rows_of(document);
    let Some(heading) = heading else {
        findings.push(Finding::new(
            1,
            "actions-missing",
            "no Action items section: list each action with an owner, a deadline and a priority",
        ));
        return;
    };
    if rows.is_empty() {
        findings.push(Finding::new(
            heading.number,
            "actions-missing",
            "no action items: list each with an owner, a deadline and a priority",
        ));
    }
    let priorities: Vec<&str> = any_language(|language| language.priorities).collect();
    let vague: Vec<&str> = any_language(|language| language.vague).collect();
    for row in &rows {
        let name = row.id.clone().unwrap_or_else(|| "the action item".to_owned());
        if row.owner.as_deref().is_none_or(is_unset) {
            findings.push(Finding::new(
                row.line,
                "action-owner",
                format!("{name} has no owner: name one person or team"),
            ));
        }
        match row.deadline.as_deref() {
            Some(deadline) if is_unset(deadline) => {
                findings.push(Finding::new(row.line, "action-deadline", format!("{name} has no deadline: give a date")))
            }
            None => {
                findings.push(Finding::new(row.line, "action-deadline", format!("{name} has no deadline: give a date")))
            }
            Some(deadline) if find_date(deadline).is_none() => findings.push(Finding::new(
                row.line,
                "action-deadline",
                format!("{name}'s deadline {:?} is not a date: give one (YYYY-MM-DD)", deadline.trim()),
            )),
            _ => {}
        }
        let priority_ok = row.priority.as_deref().is_some_and(|priority| {
            let lower = priority.to_lowercase();
            priorities
                .iter()
                .any(|known| lower.split(|character: char| !character.is_alphanumeric()).any(|word| word == *known))
        });
        if !priority_ok {
            findings.push(Finding::new(
                row.line,
                "action-priority",
                format!("{name} has no priority: give one (P0–P4 or critical/high/medium/low)"),
            ));
        }
        let lower = row.action.to_lowercase();
        if let Some(word) = vague.iter().find(|word| contains_word(&lower, word)) {
            findings.push(Finding::new(
                row.line,
                "action-vague",
                format!("{name} is vague ({word:?}): say the concrete change and how to know it is done"),
            ));
        }
    }
}

/// Whether `word` starts a word of `lower`, inflections included (`improve` finds
/// `improved`, `improving`); a phrase (`fix it`) must end where a word ends.
fn contains_word(lower: &str, word: &str) -> bool {
    lower.match_indices(word).any(|(start, _)| {
        let end = start + word.len();
        let before = lower[..start].chars().next_back().is_none_or(|character| !character.is_alphanumeric());
        let after = lower[end..].chars().next().is_none_or(|character| !character.is_alphanumeric());
        before && (after || !word.contains(' '))
    })
}

/// Text a person wrote, without what it quotes: code spans and quoted evidence are not the
/// authors' words.
fn own_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for character in text.chars() {
        match (quote, character) {
            (None, '`') => quote = Some('`'),
            (None, '"') => quote = Some('"'),
            (None, '“') => quote = Some('”'),
            (Some(close), found) if close == found => quote = None,
            (Some(_), _) => {}
            (None, other) => out.push(other),
        }
    }
    out
}

fn check_blame(document: &Document, findings: &mut Vec<Finding>) {
    let people: Vec<&str> = any_language(|language| language.people).collect();
    let verbs: Vec<&str> = any_language(|language| language.blaming_verbs).collect();
    let outcomes: Vec<&str> = any_language(|language| language.outcomes).collect();
    let caused: Vec<&str> = any_language(|language| language.caused).collect();
    for line in &document.lines {
        let text = match &line.item {
            Item::Heading { text, .. } | Item::Bullet(text) | Item::Text(text) => text.clone(),
            Item::Row { cells, .. } => cells.join(" | "),
        };
        let own = own_words(&text);
        let lower = own.to_lowercase();
        let mut found = false;
        for language in LANGUAGES {
            for blame in language.blame {
                if !found && lower.contains(blame.phrase) {
                    findings.push(Finding::new(
                        line.number,
                        "blame",
                        format!("blaming language {:?}: {}", blame.phrase, blame.hint),
                    ));
                    found = true;
                }
            }
        }
        if found {
            continue;
        }
        // "X caused the outage": a single cause, named as a culprit.
        let words: Vec<&str> = lower
            .split(|character: char| !(character.is_alphanumeric() || character == '-' || character == '\''))
            .filter(|word| !word.is_empty())
            .collect();
        let joined = format!(" {} ", words.join(" "));
        for cause in &caused {
            for outcome in &outcomes {
                for article in ["the ", "this ", "our ", "an ", "a ", ""] {
                    if !found && joined.contains(&format!(" {cause} {article}{outcome} ")) {
                        findings.push(Finding::new(
                            line.number,
                            "blame",
                            format!(
                                "{:?} names one culprit: {}",
                                format!("{cause} {article}{outcome}").trim(),
                                ENGLISH.caused_hint
                            ),
                        ));
                        found = true;
                    }
                }
            }
        }
        if found {
            continue;
        }
        // A person as the subject of a blaming verb: "the engineer forgot to …", "Bob broke …".
        let original: Vec<&str> = own
            .split(|character: char| !(character.is_alphanumeric() || character == '-' || character == '\''))
            .filter(|word| !word.is_empty())
            .collect();
        for (index, word) in words.iter().enumerate() {
            let is_person = people.contains(word)
                || (original.get(index).is_some_and(|original| is_name(original))
                    && words.get(index + 1).is_some_and(|next| {
                        [
                            "forgot",
                            "neglected",
                            "broke",
                            "ignored",
                            "botched",
                            "mistakenly",
                            "carelessly",
                            "accidentally",
                        ]
                        .contains(next)
                    }));
            if !is_person {
                continue;
            }
            // The verb within the next three words, unless the person is acted upon ("the
            // engineer was paged").
            let next = &words[index + 1..words.len().min(index + 4)];
            if next.first().is_some_and(|word| matches!(*word, "was" | "were" | "is" | "got")) {
                continue;
            }
            let after = format!(" {} ", next.join(" "));
            if let Some(verb) = verbs.iter().find(|verb| after.contains(&format!(" {verb} "))) {
                findings.push(Finding::new(
                    line.number,
                    "blame",
                    format!("a person as the cause ({:?}): {}", format!("{word} {verb}"), ENGLISH.person_hint),
                ));
                break;
            }
        }
    }
}

/// A capitalised word that reads as a name (`Bob`), not an acronym or a code identifier.
fn is_name(word: &str) -> bool {
    let mut characters = word.chars();
    characters.next().is_some_and(char::is_uppercase) && characters.all(char::is_lowercase) && word.len() > 1
}

fn check_dates(document: &Document, last_entry: Option<DateTime>, findings: &mut Vec<Finding>) {
    let field =
        |words: fn(&Language) -> &'static [&'static str]| document.field(&any_language(words).collect::<Vec<_>>());
    match field(|language| language.review_fields) {
        Some((_, value)) if find_date(&value).is_some() && !is_placeholder(&value) => {}
        Some((number, _)) => {
            findings.push(Finding::new(number, "review-date", "the follow-up review has no date: set one (YYYY-MM-DD)"))
        }
        None => findings.push(Finding::new(
            1,
            "review-date",
            "no follow-up review date: add a \"Reviewed:\" field with its date",
        )),
    }
    let end = incident_end(document, last_entry);
    match (field(|language| language.report_date_fields), end) {
        (Some((number, value)), Some(end)) => match find_date(&value) {
            Some(written) => {
                let limit = end.date().checked_add(jiff::Span::new().days(2)).unwrap_or(end.date());
                if written > limit {
                    findings.push(Finding::new(number, "report-date", format!("the report is dated {written}, more than 48 h after the incident's end ({}): write it within two days", end.strftime("%F %H:%M UTC"))));
                }
            }
            None => findings.push(Finding::warning(number, "report-date", "the report date is not a date (YYYY-MM-DD)")),
        },
        (None, _) => findings.push(Finding::warning(1, "report-date", "no report date: add a \"Report date:\" field, within 48 h of the incident's end")),
        (Some((number, _)), None) => findings.push(Finding::warning(number, "report-date", "the incident's end cannot be read (Date and Duration fields, or a dated timeline): the 48 h rule was not checked")),
    }
}

/// When the incident ended: an `End:` field, else the Date field and the Duration's end time
/// (`27min (10:05 – 10:32 UTC)`), else the timeline's last dated entry, else the Date's day.
fn incident_end(document: &Document, last_entry: Option<DateTime>) -> Option<DateTime> {
    let field =
        |words: fn(&Language) -> &'static [&'static str]| document.field(&any_language(words).collect::<Vec<_>>());
    if let Some((_, value)) = field(|language| language.end_fields)
        && let Some(date) = find_date(&value)
    {
        let time = value
            .split_whitespace()
            .find_map(|word| leading_time(word).map(|(_, _, time, _)| time))
            .unwrap_or(Time::midnight());
        return Some(DateTime::from_parts(date, time));
    }
    let date = field(|language| language.date_fields).and_then(|(_, value)| find_date(&value));
    if let (Some(date), Some((_, duration))) = (date, field(|language| language.duration_fields)) {
        // The last time in the Duration value, with its date when it gives one.
        let mut last = None;
        let mut current = date;
        for (index, _) in duration.char_indices() {
            if let Some((found_date, _, time, _)) = leading_time(&duration[index..])
                && (index == 0 || !duration.as_bytes()[index - 1].is_ascii_digit())
                && duration.as_bytes()[index..]
                    .get(1..3)
                    .is_some_and(|bytes| bytes.contains(&b':') || bytes[0].is_ascii_digit())
            {
                if let Some(found) = found_date {
                    current = found;
                }
                last = Some(DateTime::from_parts(current, time));
            }
        }
        if last.is_some() {
            return last;
        }
    }
    last_entry.or_else(|| date.map(|date| DateTime::from_parts(date, Time::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_date(text: &str, expected: Option<&str>) {
        assert_eq!(find_date(text).map(|date| date.to_string()), expected.map(str::to_owned), "{text:?}");
    }

    #[test]
    fn dates_in_the_forms_people_write() {
        check_date("2025-03-01", Some("2025-03-01"));
        check_date("due 1 Mar 2025", Some("2025-03-01"));
        check_date("March 1, 2025", Some("2025-03-01"));
        check_date("next week", None);
        check_date("TODO(deadline)", None);
    }

    #[track_caller]
    fn check_rules(text: &str, expected: &[&str]) {
        let rules: Vec<&str> = lint(text)
            .iter()
            .map(|finding| finding.rule)
            .filter(|rule| expected.contains(rule) || *rule == "blame")
            .collect();
        let mut wanted: Vec<&str> = expected.to_vec();
        wanted.sort();
        let mut found = rules.clone();
        found.sort();
        found.dedup();
        assert_eq!(found, wanted, "{text}");
    }

    #[test]
    fn blame_is_found_and_systems_as_subjects_are_not() {
        check_rules("The engineer forgot to drain the node.", &["blame"]);
        check_rules("This was human error.", &["blame"]);
        check_rules("We should have tested it.", &["blame"]);
        check_rules("The config push caused the outage.", &["blame"]);
        check_rules("Bob broke the deploy.", &["blame"]);
        check_rules("Acknowledged by Alice Example.", &[]);
        check_rules("The rollout preceded the first errors by 73 s.", &[]);
        check_rules("The log said \"should have been retried\".", &[]);
        check_rules("First error: connection failed to upstream", &[]);
        check_rules("The on-call was paged and acknowledged at 10:12.", &[]);
        check_rules("The operator forgot to renew the certificate.", &["blame"]);
    }

    #[test]
    fn every_rule_id_is_unique() {
        let mut ids: Vec<&str> = RULES.iter().map(|rule| rule.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
    }
}
