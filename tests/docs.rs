//! The repository's Markdown stands alone: every relative link in every Markdown file
//! resolves to a file of the repository and, with a `#anchor`, to a heading of that file
//! (GitHub's slug rule); and docs/timeline-json.md's example has the fields the renderer
//! writes. External links (`https:`, `mailto:`, any scheme) are not fetched.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every `.md` file below `root`, skipping build output (`target`) and hidden folders.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    folders.push(path);
                }
            } else if name.ends_with(".md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The lines of a Markdown text that are not inside fenced code blocks, with their numbers
/// (from 1) and inline code spans blanked out.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut fence: Option<String> = None;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed.chars().take_while(|&character| character == '`' || character == '~').collect();
        if marker.len() >= 3 && marker.chars().all(|character| character == marker.chars().next().unwrap()) {
            match &fence {
                None => fence = Some(marker),
                Some(open) if marker.starts_with(open.as_str()) && trimmed.trim_end() == marker => fence = None,
                Some(_) => {}
            }
            continue;
        }
        if fence.is_none() {
            lines.push((index + 1, without_code_spans(line)));
        }
    }
    lines
}

/// `line` with each code span (`` `…` ``, any run of backticks) replaced by spaces.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..open]);
        let run = rest[open..].chars().take_while(|&character| character == '`').count();
        let after = &rest[open + run..];
        let closing = "`".repeat(run);
        match after.find(&closing) {
            Some(close) => {
                out.push_str(&" ".repeat(run * 2 + close));
                rest = &after[close + run..];
            }
            None => {
                out.push_str(&rest[open..open + run]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The link targets of a Markdown text: inline links and images (`[text](target "title")`)
/// and reference definitions (`[label]: target`), with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    for (line_no, line) in prose_lines(text) {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some((_, target)) = trimmed.split_once("]: ")
        {
            links.push((line_no, target.split_whitespace().next().unwrap_or_default().to_owned()));
            continue;
        }
        let mut rest = line.as_str();
        while let Some(open) = rest.find("](") {
            let after = &rest[open + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            links.push((line_no, target.trim_start_matches('<').trim_end_matches('>').to_owned()));
            rest = &after[end..];
        }
    }
    links
}

/// GitHub's anchor of a heading: lowercase; letters, digits, `-` and `_` kept, spaces become
/// `-`, everything else dropped. Markup is read as rendered: `code` and [link](x) keep
/// their text, `*` goes.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // A link's text stays, its target goes.
    while let Some(open) = rest.find("](") {
        text.push_str(&rest[..open]);
        rest = rest[open..].find(')').map_or("", |close| &rest[open + close + 1..]);
    }
    text.push_str(rest);
    text.to_lowercase()
        .chars()
        .filter(|&character| character.is_alphanumeric() || matches!(character, '-' | '_' | ' '))
        .map(|character| if character == ' ' { '-' } else { character })
        .collect()
}

/// The anchors a Markdown file offers: its headings' slugs (a repeated one gets `-1`, `-2`,
/// …, as on GitHub) and explicit `<a id="…">` / `<a name="…">`.
fn anchors(text: &str) -> HashSet<String> {
    let mut anchors = HashSet::new();
    let mut fence = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        let hashes = trimmed.chars().take_while(|&character| character == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let heading = trimmed[hashes..].trim().trim_end_matches('#').trim();
            let base = slug(heading);
            let mut anchor = base.clone();
            let mut suffix = 0;
            while anchors.contains(&anchor) {
                suffix += 1;
                anchor = format!("{base}-{suffix}");
            }
            anchors.insert(anchor);
        }
        for attribute in ["id=\"", "name=\""] {
            for (start, _) in line.match_indices(&format!("<a {attribute}")) {
                let value = &line[start + 3 + attribute.len()..];
                if let Some(end) = value.find('"') {
                    anchors.insert(value[..end].to_owned());
                }
            }
        }
    }
    anchors
}

/// `%20` and the like in a link's path.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes.get(index + 1..index + 3).and_then(|hex| std::str::from_utf8(hex).ok());
        match (bytes[index], hex.and_then(|hex| u8::from_str_radix(hex, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `link` resolved against the file that holds it, within `root`; `None` when it leaves it.
fn resolve(root: &Path, file: &Path, link: &str) -> Option<PathBuf> {
    let start = if link.starts_with('/') { root.to_path_buf() } else { file.parent()?.to_path_buf() };
    let mut path = start;
    for component in Path::new(link.trim_start_matches('/')).components() {
        match component {
            Component::ParentDir => {
                path.pop();
            }
            Component::Normal(part) => path.push(part),
            _ => {}
        }
    }
    path.starts_with(root).then_some(path)
}

/// Every relative link of the Markdown files below `root` that does not resolve, as
/// `FILE:LINE: TARGET: why`.
fn broken_links(root: &Path) -> Vec<String> {
    let mut broken = Vec::new();
    for file in markdown_files(root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        for (line_no, target) in links(&text) {
            let has_scheme = target.split_once(':').is_some_and(|(scheme, _)| {
                !scheme.is_empty()
                    && scheme.chars().all(|character| character.is_ascii_alphanumeric() || "+.-".contains(character))
            });
            if target.is_empty() || has_scheme {
                continue;
            }
            let (path_part, anchor) = match target.split_once('#') {
                Some((path_part, anchor)) => (path_part, Some(anchor)),
                None => (target.as_str(), None),
            };
            let target_file = if path_part.is_empty() {
                file.clone()
            } else {
                match resolve(root, &file, &percent_decoded(path_part)) {
                    Some(path) if path.exists() => path,
                    Some(_) => {
                        broken.push(format!("{shown}:{line_no}: {target}: no such file"));
                        continue;
                    }
                    None => {
                        broken.push(format!("{shown}:{line_no}: {target}: outside the repository"));
                        continue;
                    }
                }
            };
            let Some(anchor) = anchor else { continue };
            let is_markdown = target_file.extension().is_some_and(|extension| extension == "md");
            if is_markdown && !anchors(&std::fs::read_to_string(&target_file).unwrap()).contains(anchor) {
                broken.push(format!("{shown}:{line_no}: {target}: no heading with that anchor"));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_markdown_resolves() {
    let broken = broken_links(Path::new(ROOT));
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[track_caller]
fn check_slug(heading: &str, expected: &str) {
    assert_eq!(slug(heading), expected, "{heading:?}");
}

#[test]
fn anchors_follow_githubs_slug_rule() {
    check_slug("Label → target rules", "label--target-rules");
    check_slug("3. What the RBAC grants and why", "3-what-the-rbac-grants-and-why");
    check_slug("`max_alerts` and truncated alerts", "max_alerts-and-truncated-alerts");
    check_slug("`[server]`", "server");
    check_slug("`[[kubernetes.targets]]`", "kubernetestargets");
    check_slug("Order and the row limit", "order-and-the-row-limit");
    check_slug("See [the docs](docs/x.md) now", "see-the-docs-now");
    let repeated = anchors("# Notes\n## Notes\n```\n# not a heading\n```\n<a id=\"custom\"></a>\n");
    let mut repeated: Vec<String> = repeated.into_iter().collect();
    repeated.sort();
    assert_eq!(repeated, ["custom", "notes", "notes-1"]);
}

#[test]
fn a_broken_link_or_anchor_is_reported() {
    let root = std::env::temp_dir().join(format!("postmortemd-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/guide.md"), "# Guide\n\n## Step one\n").unwrap();
    std::fs::write(
        root.join("README.md"),
        "# Readme\n\
         [fine](docs/guide.md#step-one) [also fine](#readme) [web](https://example.com/x.md)\n\
         [missing file](docs/nope.md) [missing anchor](docs/guide.md#step-two)\n\
         `[in code](docs/nope.md)`\n\
         ```\n[in a block](docs/nope.md)\n```\n\
         [outside](../elsewhere.md)\n\
         [ref]: docs/guide.md#step-three\n",
    )
    .unwrap();
    let broken = broken_links(&root);
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(
        broken,
        [
            "README.md:3: docs/nope.md: no such file",
            "README.md:3: docs/guide.md#step-two: no heading with that anchor",
            "README.md:8: ../elsewhere.md: outside the repository",
            "README.md:9: docs/guide.md#step-three: no heading with that anchor",
        ]
    );
}

/// The keys of every object in `value`, by JSON path with array indices dropped
/// (`entries.recorded_time`), so an example and a real output compare by shape.
fn key_paths(value: &serde_json::Value, path: &str, paths: &mut HashSet<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields {
                let field_path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                key_paths(field, &field_path, paths);
                paths.insert(field_path);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| key_paths(item, path, paths)),
        _ => {}
    }
}

#[test]
fn the_timeline_json_page_shows_the_fields_the_renderer_writes() {
    let page = std::fs::read_to_string(Path::new(ROOT).join("docs/timeline-json.md")).unwrap();
    let example = page.split("```json\n").nth(1).and_then(|rest| rest.split("\n```").next()).unwrap();
    let example: serde_json::Value = serde_json::from_str(example).expect("the example is JSON");
    let real = std::fs::read_to_string(Path::new(ROOT).join("examples/checkout-outage/expected.json")).unwrap();
    let real: serde_json::Value = serde_json::from_str(&real).unwrap();
    let (mut shown, mut written) = (HashSet::new(), HashSet::new());
    key_paths(&example, "", &mut shown);
    key_paths(&real, "", &mut written);
    assert_eq!(shown, written, "docs/timeline-json.md's example and examples/checkout-outage/expected.json");
    for field in &written {
        let name = field.rsplit('.').next().unwrap();
        assert!(page.contains(&format!("| `{name}` |")), "docs/timeline-json.md has no row for {field}");
    }
    let values = |name: &str| -> HashSet<String> {
        real["entries"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|entry| match &entry[name] {
                serde_json::Value::Array(items) => items.iter().filter_map(|item| item.as_str()).collect::<Vec<_>>(),
                other => other.as_str().into_iter().collect(),
            })
            .map(str::to_owned)
            .collect()
    };
    for value in values("kind").into_iter().chain(values("flags")) {
        assert!(page.contains(&format!("| `{value}` |")), "docs/timeline-json.md does not describe {value:?}");
    }
}
