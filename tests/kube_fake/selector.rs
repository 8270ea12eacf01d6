//! Label and field selectors, as the apiserver parses and applies them.
//!
//! Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; a comma outside
//! parentheses is AND. `!=` and `notin` also match objects without the key, as upstream does.
//! Field selectors: `path=v`, `path==v`, `path!=v` on the fields each resource supports; any other
//! field is a 400 `field label not supported`, like the real API.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// Splits on commas that are not inside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.chars().all(|character| character.is_ascii_alphanumeric() || "-_./".contains(character))
        && key.starts_with(|character: char| character.is_ascii_alphanumeric())
}

fn valid_value(value: &str) -> bool {
    value.chars().all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character))
}

fn parse_set(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    let values: Vec<String> = inner.split(',').map(|value| value.trim().to_owned()).collect();
    values.iter().all(|value| valid_value(value)).then_some(values)
}

impl LabelSelector {
    /// Parses a `labelSelector` query value; the error is the message of the 400 the apiserver answers.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(LabelSelector { requirements });
        }
        for term in split_terms(text) {
            let term = term.trim();
            let invalid = || {
                format!(
                    "unable to parse requirement: found '{term}', expected: key, !key, key=value, key!=value, key in (values) or key notin (values)"
                )
            };
            let requirement = if let Some(key) = term.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_owned())
            } else if let Some((key, value)) = term.split_once("!=") {
                Requirement::NotEquals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = term.split_once("==") {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = term.split_once('=') {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, set)) = term.split_once(" notin ") {
                Requirement::NotIn(key.trim().to_owned(), parse_set(set).ok_or_else(invalid)?)
            } else if let Some((key, set)) = term.split_once(" in ") {
                Requirement::In(key.trim().to_owned(), parse_set(set).ok_or_else(invalid)?)
            } else {
                Requirement::Exists(term.to_owned())
            };
            let (key, values): (&str, Vec<&str>) = match &requirement {
                Requirement::Equals(key, value) | Requirement::NotEquals(key, value) => (key, vec![value.as_str()]),
                Requirement::In(key, values) | Requirement::NotIn(key, values) => {
                    (key, values.iter().map(String::as_str).collect())
                }
                Requirement::Exists(key) | Requirement::NotExists(key) => (key, Vec::new()),
            };
            if !valid_key(key) || !values.iter().all(|value| valid_value(value)) {
                return Err(invalid());
            }
            requirements.push(requirement);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|requirement| match requirement {
            Requirement::Equals(key, value) => labels.get(key) == Some(value),
            Requirement::NotEquals(key, value) => labels.get(key) != Some(value),
            Requirement::In(key, values) => labels.get(key).is_some_and(|label| values.contains(label)),
            Requirement::NotIn(key, values) => labels.get(key).is_none_or(|label| !values.contains(label)),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::NotExists(key) => !labels.contains_key(key),
        })
    }

    pub fn matches_object(&self, object: &Value) -> bool {
        let labels = object["metadata"]["labels"]
            .as_object()
            .map(|labels| {
                labels.iter().map(|(key, value)| (key.clone(), value.as_str().unwrap_or("").to_owned())).collect()
            })
            .unwrap_or_default();
        self.matches(&labels)
    }
}

/// A parsed `fieldSelector`: (JSON pointer into the object, wanted value, equal or not).
#[derive(Clone, Debug, Default)]
pub struct FieldSelector {
    terms: Vec<(String, String, bool)>,
}

/// The field labels a resource accepts and where each lives in the object (as served by that group).
fn field_pointer(group: &str, resource: &str, label: &str) -> Option<&'static str> {
    let common = match label {
        "metadata.name" => Some("/metadata/name"),
        "metadata.namespace" => Some("/metadata/namespace"),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match (group, resource) {
        ("", "pods") => match label {
            "spec.nodeName" => Some("/spec/nodeName"),
            "spec.restartPolicy" => Some("/spec/restartPolicy"),
            "spec.schedulerName" => Some("/spec/schedulerName"),
            "spec.serviceAccountName" => Some("/spec/serviceAccountName"),
            "status.phase" => Some("/status/phase"),
            "status.podIP" => Some("/status/podIP"),
            "status.nominatedNodeName" => Some("/status/nominatedNodeName"),
            _ => None,
        },
        ("", "events") => match label {
            "involvedObject.kind" => Some("/involvedObject/kind"),
            "involvedObject.namespace" => Some("/involvedObject/namespace"),
            "involvedObject.name" => Some("/involvedObject/name"),
            "involvedObject.uid" => Some("/involvedObject/uid"),
            "involvedObject.apiVersion" => Some("/involvedObject/apiVersion"),
            "involvedObject.resourceVersion" => Some("/involvedObject/resourceVersion"),
            "involvedObject.fieldPath" => Some("/involvedObject/fieldPath"),
            "reason" => Some("/reason"),
            "reportingComponent" => Some("/reportingComponent"),
            "source" => Some("/source/component"),
            "type" => Some("/type"),
            _ => None,
        },
        ("events.k8s.io", "events") => match label {
            "regarding.kind" => Some("/regarding/kind"),
            "regarding.namespace" => Some("/regarding/namespace"),
            "regarding.name" => Some("/regarding/name"),
            "regarding.uid" => Some("/regarding/uid"),
            "regarding.apiVersion" => Some("/regarding/apiVersion"),
            "regarding.resourceVersion" => Some("/regarding/resourceVersion"),
            "regarding.fieldPath" => Some("/regarding/fieldPath"),
            "reason" => Some("/reason"),
            "reportingController" => Some("/reportingController"),
            "source" => Some("/deprecatedSource/component"),
            "type" => Some("/type"),
            _ => None,
        },
        ("apps", "replicasets") => match label {
            "status.replicas" => Some("/status/replicas"),
            _ => None,
        },
        ("", "nodes") => match label {
            "spec.unschedulable" => Some("/spec/unschedulable"),
            _ => None,
        },
        ("batch", "jobs") => match label {
            "status.successful" => Some("/status/succeeded"),
            _ => None,
        },
        _ => None,
    }
}

impl FieldSelector {
    pub fn parse(group: &str, resource: &str, text: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        if text.trim().is_empty() {
            return Ok(FieldSelector { terms });
        }
        for term in text.split(',') {
            let (label, value, equal) = if let Some((label, value)) = term.split_once("!=") {
                (label, value, false)
            } else if let Some((label, value)) = term.split_once("==") {
                (label, value, true)
            } else if let Some((label, value)) = term.split_once('=') {
                (label, value, true)
            } else {
                return Err(format!("invalid selector: '{text}'; can't understand '{term}'"));
            };
            let pointer = field_pointer(group, resource, label.trim())
                .ok_or_else(|| format!("field label not supported: {}", label.trim()))?;
            terms.push((pointer.to_owned(), value.trim().to_owned(), equal));
        }
        Ok(FieldSelector { terms })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(pointer, wanted, equal)| {
            let actual = match object.pointer(pointer) {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Number(number)) => number.to_string(),
                Some(Value::Bool(flag)) => flag.to_string(),
                // An unset boolean field is its zero value.
                None if pointer.as_str() == "/spec/unschedulable" => "false".to_owned(),
                _ => String::new(),
            };
            (actual == *wanted) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(selector: &str, labels: &[(&str, &str)], expected: bool) {
        let labels = labels.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
        let parsed = LabelSelector::parse(selector).unwrap_or_else(|error| panic!("{selector}: {error}"));
        assert_eq!(parsed.matches(&labels), expected, "{selector} against {labels:?}");
    }

    #[test]
    fn label_selectors_match_like_the_apiserver() {
        check("app=api", &[("app", "api")], true);
        check("app==api", &[("app", "web")], false);
        check("app!=api", &[], true);
        check("app!=api", &[("app", "api")], false);
        check("tier in (web, api)", &[("tier", "api")], true);
        check("tier in (web,api)", &[], false);
        check("tier notin (web,api)", &[], true);
        check("tier notin (web,api)", &[("tier", "web")], false);
        check("app", &[("app", "")], true);
        check("!app", &[("app", "x")], false);
        check("app=api,tier in (a,b),!canary", &[("app", "api"), ("tier", "b")], true);
        check("app=api,tier in (a,b),!canary", &[("app", "api"), ("tier", "b"), ("canary", "1")], false);
        check("", &[], true);
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a b=c").is_err());
    }
}
