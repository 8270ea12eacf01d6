//! The post-mortem as a user gets it: `report` on the shipped example shows its planted
//! moments and durations, `lint` judges hand-written post-mortems of several templates and
//! passes the report once its placeholders are filled, `actions` exports the items, and a
//! report drafted from generated evidence never holds blaming language.

mod support;

use std::process::Command;

use postmortemd::draft::{self, DraftOptions};
use postmortemd::postmortem::{self, MomentKind, lint};
use postmortemd::record::{PageAction, PageRecord, Record};
use postmortemd::timeline::render::Format;
use postmortemd::timeline::{self, Evidence, Options};
use support::{Noise, alert, at, pod, sampled, series, window};

fn postmortemd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postmortemd")).args(args).env("RUST_BACKTRACE", "0").output().expect("runs")
}

fn scratch(name: &str) -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("postmortemd-pm-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

fn example_report(format: &str) -> String {
    let output = postmortemd(&["report", "examples/checkout-outage", "--format", format]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The row of the key-moments table named `name`: its time and evidence.
fn moment_row<'a>(report: &'a str, name: &str) -> (&'a str, &'a str) {
    let line = report
        .lines()
        .find(|line| line.starts_with(&format!("| {name} |")))
        .unwrap_or_else(|| panic!("no row {name:?} in\n{report}"));
    let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
    (cells[1], cells[2])
}

#[test]
fn the_example_report_shows_its_planted_moments_and_durations() {
    let report = example_report("md");
    assert!(report.starts_with("# Post-Mortem: HighErrorRate: API 5xx ratio above 5% (2025-02-09)\n"), "{report}");
    // The README's planted facts: first 5xx 10:05:23.4, alert 10:06:15.347, page 10:06:50,
    // acknowledged 10:12:00, rollback 10:30:05, back to baseline 10:32:30, page resolved 10:36:00.
    let expected = [
        ("Impact start", "10:05:23", "First 5xx response"),
        ("Detected", "10:06:15", "HighErrorRate firing"),
        ("Paged", "10:06:50", "Page triggered"),
        ("Acknowledged", "10:12:00", "Acknowledged by Alice Example"),
        ("Mitigated", "10:30:05", "Rollback of shop/inventory to revision 9"),
        ("Recovered", "10:32:30", "back to baseline"),
        ("Resolved", "10:36:00", "Resolved through the API"),
    ];
    for (name, time, evidence) in expected {
        let (shown, text) = moment_row(&report, name);
        assert_eq!(shown, time, "{name}");
        assert!(text.contains(evidence), "{name}: {text}");
        // Each moment links to its row of the timeline, and that row is there with its time.
        let anchor = text.split("(#").nth(1).and_then(|rest| rest.split(')').next()).expect("a link to a row");
        let row = report.lines().find(|line| line.contains(&format!("<a id=\"{anchor}\"></a>"))).expect("the row");
        assert!(row.contains(&format!("| {time} |")), "{name} links to {row}");
    }
    let durations = [
        ("Time to detect", "52s"),
        ("Time to acknowledge", "5min 10s"),
        ("Time to mitigate", "24min 42s"),
        ("Time to resolve", "30min 37s"),
    ];
    for (name, duration) in durations {
        assert_eq!(moment_row(&report, name).0, duration, "{name}");
    }
    assert!(report.contains("- **Duration:** 27min 7s (10:05 – 10:32 UTC)\n"), "{report}");
    assert!(report.contains("- **Severity:** critical (alert HighErrorRate); PagerDuty: priority P1\n"), "{report}");
    assert!(report.contains("- **Status:** draft\n"));
    // The rollout 73 s before the first 5xx is an immediate factor, with its image.
    let immediate = report.split("### Immediate").nth(1).unwrap().split("### Contributing").next().unwrap();
    assert!(immediate.contains("rollout of Deployment shop/inventory (registry.example.com/shop/inventory:2.4.0) at 10:04:10 came 1min 13s before the impact start"), "{immediate}");
    let contributing = report.split("### Contributing").nth(1).unwrap().split("### Systemic").next().unwrap();
    assert!(contributing.contains("OOMKilled"), "{contributing}");
    let systemic = report.split("### Systemic").nth(1).unwrap().split("## Timeline").next().unwrap();
    assert!(systemic.contains("The clock of node node-2 runs +90s off the reference"), "{systemic}");
    assert!(systemic.contains("from 10:24:00 to 10:27:00 (3min)"), "{systemic}");
    // Actions from the doubts: the node's clock with its offset, the lost logs of the restart.
    assert!(report.contains("Synchronise the clock of node node-2 with NTP and alert on its offset (measured +90s"));
    assert!(report.contains("Keep the logs of shop/checkout-api-7d9f8b6c5-q4hjn/app across restarts"));
    assert!(report.contains("| TODO(owner) | TODO(deadline) | P2 |"));
    // What went well is measured.
    assert!(report.contains("- The alert fired 52s after the first errors."), "{report}");
    assert!(report.contains("- Mitigation came 23min 15s after the page."), "{report}");
    // The draft's timeline table is there whole.
    let draft = postmortemd(&["draft", "examples/checkout-outage"]);
    let rows = String::from_utf8(draft.stdout).unwrap().lines().filter(|line| line.starts_with("| 10:")).count();
    assert_eq!(report.lines().filter(|line| line.starts_with("| <a id=\"row-")).count(), rows);
}

#[test]
fn the_example_report_as_json_and_html() {
    let json: serde_json::Value = serde_json::from_str(&example_report("json")).unwrap();
    let moments = json["moments"].as_array().unwrap();
    assert_eq!(moments.len(), 7);
    assert_eq!(moments[0]["kind"], "impact_start");
    assert_eq!(moments[4]["time"], "2025-02-09T10:30:05.000Z");
    let row = moments[4]["row"].as_u64().unwrap() as usize;
    assert!(json["timeline"]["entries"][row]["event"].as_str().unwrap().starts_with("Rollback of shop/inventory"));
    assert_eq!(json["response_times"][0]["seconds"], 52);
    let html = example_report("html");
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("<a href=\"#row-2\">row 2</a>") && html.contains("<tr id=\"row-2\">"), "{html}");
    assert!(html.contains("<mark>TODO(owner)</mark>"));
}

/// The example report with what the authors fill: owners, deadlines, authors, dates.
fn filled_example() -> String {
    example_report("md")
        .replace("TODO(owner)", "@sre-oncall")
        .replace("TODO(deadline)", "2025-03-01")
        .replace("TODO(authors)", "Shop SRE")
        .replace("TODO(report date, YYYY-MM-DD, within 48 h of the incident's end)", "2025-02-10")
        .replace("TODO(follow-up review date, YYYY-MM-DD)", "2025-02-14")
}

#[test]
fn lint_passes_the_example_report_once_its_placeholders_are_filled() {
    let folder = scratch("filled");
    let draft_path = folder.join("draft.md");
    let output = postmortemd(&["report", "examples/checkout-outage", "-o", draft_path.to_str().unwrap()]);
    assert!(output.status.success());
    // As drafted it fails: no owner, deadline or review date yet.
    let unfilled = postmortemd(&["lint", draft_path.to_str().unwrap()]);
    assert_eq!(unfilled.status.code(), Some(1));
    let text = String::from_utf8(unfilled.stdout).unwrap();
    let prefix = format!("{}:", draft_path.display());
    assert!(text.lines().all(|line| line.starts_with(&prefix)), "{text}");
    assert!(text.contains(": action-owner: AI-001 has no owner"), "{text}");
    assert!(text.contains(": review-date: "), "{text}");
    assert!(!text.contains(": blame: "), "{text}");

    let filled_path = folder.join("filled.md");
    std::fs::write(&filled_path, filled_example()).unwrap();
    let output = postmortemd(&["lint", "--format", "json", filled_path.to_str().unwrap()]);
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let errors: Vec<&serde_json::Value> =
        findings["findings"].as_array().unwrap().iter().filter(|finding| finding["severity"] == "error").collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(output.status.code(), Some(0));
    // What is left are the placeholders only authors can fill (summary, customers, lessons).
    for finding in findings["findings"].as_array().unwrap() {
        assert_eq!(finding["rule"], "placeholder", "{finding}");
    }
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn actions_export_the_items_as_gh_json_and_csv() {
    let folder = scratch("actions");
    let path = folder.join("post-mortem.md");
    std::fs::write(&path, filled_example()).unwrap();
    let gh = postmortemd(&["actions", path.to_str().unwrap(), "--format", "gh"]);
    assert!(gh.status.success());
    let gh = String::from_utf8(gh.stdout).unwrap();
    let first = gh.lines().next().unwrap();
    assert!(
        first.starts_with("gh issue create --title 'AI-001: Gate rollouts of Deployment shop/inventory"),
        "{first}"
    );
    assert!(
        first.contains(
            "--body 'From post-mortem PM-2025-02-09-higherrorrate; Owner @sre-oncall; Deadline 2025-03-01; Priority P1'"
        ),
        "{first}"
    );
    assert!(first.ends_with("--label post-mortem --assignee 'sre-oncall'"), "{first}");
    let n_items = gh.lines().count();
    assert!(n_items >= 5, "{gh}");

    let json = postmortemd(&["actions", path.to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["post_mortem"], "PM-2025-02-09-higherrorrate");
    assert_eq!(json["actions"].as_array().unwrap().len(), n_items);
    assert_eq!(json["actions"][1]["id"], "AI-002");
    assert_eq!(json["actions"][1]["priority"], "P2");
    // Markdown's escapes and row links are taken off the titles.
    assert!(!json["actions"].to_string().contains("](#row-"), "{json}");

    let csv = String::from_utf8(postmortemd(&["actions", path.to_str().unwrap(), "--format", "csv"]).stdout).unwrap();
    assert_eq!(csv.lines().next(), Some("post_mortem,id,title,owner,deadline,priority"));
    assert_eq!(csv.lines().count(), n_items + 1);
    assert!(csv.lines().nth(1).unwrap().ends_with(",'@sre-oncall,2025-03-01,P1"), "{csv}");

    let bad = postmortemd(&["actions", path.to_str().unwrap(), "--format", "xml"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected gh, json or csv"));
    std::fs::remove_dir_all(&folder).unwrap();
}

/// The rules a document's findings name, with their lines.
fn findings(text: &str) -> Vec<(usize, &'static str)> {
    lint::lint(text).iter().map(|finding| (finding.line, finding.rule)).collect()
}

/// Google SRE's template, written by hand: a list timeline under a dated line, root causes
/// as prose, an action table without deadlines or priorities, blame and vague actions.
const GOOGLE_SRE: &str = "\
# Shakespeare Sonnet++ Postmortem (incident #465)

Date: 2015-10-21

Authors: jennifer, martym, agoogler

Status: Complete, action items in progress

Summary: Shakespeare Search down for 66 minutes during period of very high interest.

## Root Causes

Cascading failure due to combination of exceptionally high load and a resource leak. Jennifer forgot to check the file descriptor limit.

## Action Items

| Action Item | Type | Owner | Bug |
|-------------|------|-------|-----|
| Update playbook with instructions for responding to cascading failure | mitigate | jennifer | n/a DONE |
| Improve monitoring | prevent | martym | n/a |
| Investigate the resource leak | prevent | | n/a |

## Lessons Learned

This was human error; the on-call should have drained traffic sooner.

## Timeline

2015-10-21 (all times UTC)

- 14:51 News reports that a new Shakespearean sonnet has been discovered
- 14:53 Traffic to Shakespeare search increases by 88x after post to /r/shakespeare
- 14:54 OUTAGE BEGINS — Search backends start melting down under load
- 14:52 Pager fires: ManyHttp500s
- 15:01 INCIDENT BEGINS Automated alerts for ManyHttp500s
- 16:00 OUTAGE MITIGATED, traffic drained
";

#[test]
fn lint_judges_a_google_sre_style_post_mortem() {
    let found = findings(GOOGLE_SRE);
    let line_of = |needle: &str| GOOGLE_SRE.lines().position(|line| line.contains(needle)).unwrap() + 1;
    assert!(found.contains(&(line_of("Jennifer forgot"), "blame")), "{found:?}");
    assert!(found.contains(&(line_of("human error"), "blame")), "{found:?}");
    assert!(found.contains(&(line_of("14:52 Pager"), "timeline-order")), "{found:?}");
    assert!(found.contains(&(line_of("Improve monitoring"), "action-vague")), "{found:?}");
    assert!(found.contains(&(line_of("Investigate the"), "action-vague")), "{found:?}");
    assert!(found.contains(&(line_of("Investigate the"), "action-owner")), "{found:?}");
    for needle in ["Update playbook", "Improve monitoring"] {
        assert!(found.contains(&(line_of(needle), "action-deadline")), "{needle}: {found:?}");
        assert!(found.contains(&(line_of(needle), "action-priority")), "{needle}: {found:?}");
    }
    assert!(!found.contains(&(line_of("Update playbook"), "action-owner")), "{found:?}");
    assert!(found.iter().any(|(_, rule)| *rule == "review-date"), "{found:?}");
    // The dated line says UTC: no zone finding; the root causes are one paragraph: one factor.
    assert!(!found.iter().any(|(_, rule)| *rule == "timeline-utc"), "{found:?}");
    assert!(found.contains(&(line_of("## Root Causes"), "factors-count")), "{found:?}");
    // The hint says how to write it without blame.
    let hint = lint::lint(GOOGLE_SRE).into_iter().find(|finding| finding.message.contains("human error")).unwrap();
    assert!(hint.message.contains("name the condition"), "{}", hint.message);
}

/// PagerDuty's template, written by hand: a timeline table in local time, factors as a list,
/// actions as a checklist with inline owners and dates, a late report.
const PAGERDUTY: &str = "\
# Checkout latency incident

**Date:** 2025-06-02
**Duration:** 45min (13:10 – 13:55 UTC)
**Report date:** 2025-06-09
**Reviewed:** 2025-06-12

## Summary

Checkout latency rose after a database failover.

## Contributing Factors

- The failover moved the primary to a node with a cold cache.
- ~~A deploy at 12:00~~
- The latency alert waited 10 minutes (`for: 10m`).

## Timeline

| Time | Event |
|------|-------|
| 13:10 PDT | Latency rises |
| 13:20 PDT | Alert fires and pages the on-call |
| 13:55 PDT | Cache warm; latency recovered |

## Action Items

- [ ] Warm the cache of a promoted replica before it takes traffic — owner: @dba, due: 2025-07-01, priority: P2
- [ ] Lower the latency alert's `for:` to 2m — owner: @sre, due: next sprint, P3
- [ ] Be more careful with failovers
";

#[test]
fn lint_judges_a_pagerduty_style_post_mortem() {
    let found = findings(PAGERDUTY);
    let line_of = |needle: &str| PAGERDUTY.lines().position(|line| line.contains(needle)).unwrap() + 1;
    assert!(found.contains(&(line_of("13:10 PDT"), "timeline-utc")), "{found:?}");
    assert!(found.contains(&(line_of("**Report date:**"), "report-date")), "{found:?}");
    assert!(found.contains(&(line_of("next sprint"), "action-deadline")), "{found:?}");
    assert!(found.contains(&(line_of("more careful"), "action-vague")), "{found:?}");
    assert!(found.contains(&(line_of("more careful"), "action-owner")), "{found:?}");
    assert!(found.contains(&(line_of("more careful"), "action-priority")), "{found:?}");
    let first = line_of("Warm the cache");
    assert!(!found.iter().any(|(line, _)| *line == first), "{found:?}");
    // Two factors stand (the struck one does not count), and nobody is blamed.
    assert!(!found.iter().any(|(_, rule)| matches!(*rule, "factors-count" | "blame" | "review-date")), "{found:?}");
}

#[test]
fn lint_exits_by_the_worst_finding_and_says_file_line_rule_message() {
    let folder = scratch("shapes");
    let good = folder.join("good.md");
    std::fs::write(
        &good,
        "# Post-mortem\n\n- Date: 2025-06-02\n- Duration: 20min (09:00 – 09:20 UTC)\n- Report date: 2025-06-03\n\
- Reviewed: 2025-06-05\n\n## Contributing factors\n\n- The rollout had no canary.\n- The alert's `for:` was 15m.\n\n\
## Timeline (UTC)\n\n- 09:00 Errors rise after the rollout\n- 09:05 Alert fires, page sent\n- 09:20 Rolled back; errors resolved\n\n\
## Action items\n\n| ID | Action | Owner | Deadline | Priority |\n|---|---|---|---|---|\n\
| AI-1 | Add a canary step to the rollout pipeline | @platform | 2025-07-01 | P2 |\n",
    )
    .unwrap();
    let output = postmortemd(&["lint", good.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));

    let blaming = folder.join("blaming.md");
    std::fs::write(&blaming, "# Post-mortem\n\nThe config push caused the outage.\n").unwrap();
    let output = postmortemd(&["lint", blaming.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains(&format!("{}:3: blame: ", blaming.display())), "{text}");
    assert!(text.contains(&format!("{}:1: timeline-missing: ", blaming.display())), "{text}");

    let missing = postmortemd(&["lint", folder.join("nothing.md").to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nothing.md"));
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn every_rule_is_in_the_docs_table() {
    let docs = std::fs::read_to_string("docs/postmortem.md").unwrap();
    for rule in lint::RULES {
        let row = format!("| `{}` | {} |", rule.id, rule.severity.name());
        assert!(docs.contains(&row), "docs/postmortem.md lacks {row}");
    }
}

const PEOPLE: &[&str] = &["Alice Example", "Bob", "Carol Jones", "kubectl-rollout", "Dan the SRE"];
const TEMPLATES: &[&str] = &[
    "upstream returned 503",
    "connection refused by payments",
    "retry budget exhausted",
    "deadline exceeded calling inventory",
    "user session expired",
];

/// Evidence of an incident with a random shape: a series that steps up (and maybe back),
/// alerts, pages with people as actors, a pod ended, noted by random people.
fn random_evidence(seed: u64) -> Evidence {
    let mut noise = Noise::new(seed);
    let window = window();
    let pick =
        |noise: &mut Noise, items: &[&'static str]| items[(noise.next() * items.len() as f64) as usize % items.len()];
    let onset = support::plus_secs(window.baseline_end, 60.0 + noise.next() * 600.0);
    let back = support::plus_secs(onset, 300.0 + noise.next() * 1200.0);
    let recovers = noise.next() < 0.7;
    let level = 0.5 + noise.next() * 5.0;
    let samples =
        sampled(window, 15.0, |time| Some(if time >= onset && (!recovers || time < back) { level } else { 0.02 }));
    let mut records =
        vec![series("sum(rate(http_requests_total{code=~\"5..\"}[1m]))", &[("service", "checkout")], samples)];
    let fired = support::plus_secs(onset, noise.next() * 900.0);
    let resolved = (noise.next() < 0.6).then(|| support::plus_secs(back, 60.0));
    records.push(alert(pick(&mut noise, &["HighErrorRate", "SLOBurn", "ManyHttp500s"]), fired, resolved));
    if noise.next() < 0.8 {
        let page = |time, action: PageAction, actor: &str, text: &str| {
            Record::Page(PageRecord {
                time,
                action,
                actor: Some(actor.to_owned()),
                text: text.to_owned(),
                incident_id: Some("P1".to_owned()),
                incident_title: Some("checkout errors".to_owned()),
                incident_key: None,
            })
        };
        let triggered = support::plus_secs(fired, 30.0);
        let person = pick(&mut noise, PEOPLE);
        records.push(page(triggered, PageAction::Triggered, "Alertmanager", "checkout errors"));
        records.push(page(
            support::plus_secs(triggered, noise.next() * 900.0),
            PageAction::Acknowledged,
            person,
            &format!("Acknowledged by {person}."),
        ));
        let note = format!("{} thinks it is {}", pick(&mut noise, PEOPLE), pick(&mut noise, TEMPLATES));
        records.push(page(support::plus_secs(triggered, 400.0), PageAction::Annotated, person, &note));
        if noise.next() < 0.7 {
            records.push(page(support::plus_secs(back, 120.0), PageAction::Resolved, person, "Resolved"));
        }
    }
    if noise.next() < 0.5 {
        let ended = support::plus_secs(onset, noise.next() * 600.0);
        records.push(pod("shop", "checkout-1", "node-1", "app", Some(("OOMKilled", 137, ended))));
    }
    Evidence {
        title: format!("{}: checkout errors", pick(&mut noise, &["HighErrorRate", "SLOBurn"])),
        window,
        records,
        digests: Vec::new(),
        coverage: Vec::new(),
        written_by: None,
    }
}

#[test]
fn a_drafted_report_never_holds_blaming_language() {
    for seed in 0..200 {
        let timeline = timeline::build(random_evidence(seed), &Options::default());
        let post_mortem = postmortem::draft(&timeline);
        let report = postmortem::render::render(&timeline, &post_mortem, Format::Markdown);
        let blame: Vec<lint::Finding> =
            lint::lint(&report).into_iter().filter(|finding| finding.rule == "blame").collect();
        assert!(blame.is_empty(), "seed {seed}: {blame:#?}\n{report}");
        // Moments are known or say why not; a known one links to a row at its time.
        for moment in &post_mortem.moments {
            match (moment.time, moment.row) {
                (Some(time), Some(row)) => assert_eq!(timeline.entries[row].time, time, "seed {seed}"),
                (None, None) => assert!(moment.evidence.starts_with("unknown: "), "seed {seed}"),
                other => panic!("seed {seed}: {:?} {other:?}", moment.kind),
            }
        }
        let start = post_mortem.moment(MomentKind::ImpactStart).time;
        assert!(start.is_some(), "seed {seed}: the series' step is an impact start\n{report}");
    }
}

#[test]
fn a_moment_the_evidence_cannot_show_is_unknown_not_guessed() {
    // An alert that never resolves, no page, no metric: only detection is known.
    let window = window();
    let evidence = Evidence {
        title: "HighErrorRate".to_owned(),
        window,
        records: vec![alert("HighErrorRate", at("2025-02-09T10:06:15Z"), None)],
        digests: Vec::new(),
        coverage: Vec::new(),
        written_by: None,
    };
    let timeline = timeline::build(evidence, &Options::default());
    let post_mortem = postmortem::draft(&timeline);
    let known: Vec<MomentKind> =
        post_mortem.moments.iter().filter(|moment| moment.time.is_some()).map(|moment| moment.kind).collect();
    assert_eq!(known, vec![MomentKind::Detected]);
    let report = postmortem::render::render(&timeline, &post_mortem, Format::Markdown);
    assert!(report.contains("| Paged | unknown | unknown: no page was triggered |"), "{report}");
    assert!(report.contains("| Time to detect | unknown |"), "{report}");
    assert!(report.contains("- **Duration:** unknown: "), "{report}");
}

#[test]
fn the_report_is_drawn_from_the_drafts_own_timeline() {
    let options = DraftOptions { paths: vec!["examples/checkout-outage".into()], ..DraftOptions::default() };
    let timeline = draft::draft(&options).unwrap();
    let post_mortem = postmortem::draft(&timeline);
    let json: serde_json::Value =
        serde_json::from_str(&postmortem::render::render(&timeline, &post_mortem, Format::Json)).unwrap();
    let own: serde_json::Value =
        serde_json::from_str(&postmortemd::timeline::render::render(&timeline, Format::Json)).unwrap();
    assert_eq!(json["timeline"], own);
}

/// Sections as top-level headings, a timeline crossing midnight with dates, numbered root
/// causes, an action table with other column names, fields at the end.
const TOP_LEVEL_SECTIONS: &str = "\
# Incident 42: payments down

# Summary
Payments failed for 20 minutes.

# Timeline
All times in UTC.
* 2025-05-01 23:50 deploy of payments v2
* 2025-05-01 23:55 alert PaymentsDown fired
* 2025-05-02 00:10 rolled back, recovered

# Root causes
1. The new version had a connection pool of 1.
2. The canary stage was skipped for hotfixes.

# Action items
| Task | Assignee | Due | Prio |
|---|---|---|---|
| Enforce the canary stage for hotfixes in the pipeline | payments-team | 2025-05-20 | high |

Report date: 2025-05-02
Post-mortem review: 2025-05-06
";

#[test]
fn lint_reads_top_level_sections_and_a_timeline_across_midnight() {
    assert_eq!(findings(TOP_LEVEL_SECTIONS), vec![]);
    // The end is read from the timeline's last dated entry: a week later is too late.
    let late = TOP_LEVEL_SECTIONS.replace("Report date: 2025-05-02", "Report date: 2025-05-09");
    let line = late.lines().position(|line| line.starts_with("Report date")).unwrap() + 1;
    assert_eq!(findings(&late), vec![(line, "report-date")]);
    // Without the dates, 00:10 after 23:55 reads as going back in time.
    let undated = TOP_LEVEL_SECTIONS.replace("2025-05-01 ", "").replace("2025-05-02 00:10", "00:10");
    let line = undated.lines().position(|line| line.contains("00:10")).unwrap() + 1;
    assert!(findings(&undated).contains(&(line, "timeline-order")), "{:?}", findings(&undated));
}

#[test]
fn evidence_cannot_open_tags_or_links_in_the_report() {
    let hostile = "<script>alert(1)</script> [x](javascript:alert(1)) `code`";
    let evidence = Evidence {
        title: hostile.to_owned(),
        window: window(),
        records: vec![alert(hostile, at("2025-02-09T10:06:15Z"), Some(at("2025-02-09T10:20:00Z")))],
        digests: Vec::new(),
        coverage: Vec::new(),
        written_by: None,
    };
    let timeline = timeline::build(evidence, &Options::default());
    let post_mortem = postmortem::draft(&timeline);
    let markdown = postmortem::render::render(&timeline, &post_mortem, Format::Markdown);
    assert!(!markdown.contains("<script") && !markdown.contains("[x](") && !markdown.contains(" `code`"), "{markdown}");
    assert!(markdown.contains("&lt;script&gt;") && markdown.contains("\\[x\\]"), "{markdown}");
    let html = postmortem::render::render(&timeline, &post_mortem, Format::Html);
    assert!(!html.contains("<script") && html.contains("&lt;script&gt;"), "{html}");
}
