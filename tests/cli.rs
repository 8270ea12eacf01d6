//! The command line as a user runs it: the binary, its exit codes and its outputs.

use std::process::Command;

fn postmortemd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postmortemd")).args(args).env("RUST_BACKTRACE", "0").output().expect("runs")
}

#[test]
fn draft_writes_the_chosen_format_to_a_file() {
    let output_path = std::env::temp_dir().join(format!("postmortemd-cli-{}.html", std::process::id()));
    let output =
        postmortemd(&["draft", "examples/checkout-outage", "--format", "html", "-o", output_path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let html = std::fs::read_to_string(&output_path).unwrap();
    std::fs::remove_file(&output_path).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("HighErrorRate firing"), "{html}");
    assert!(html.contains("<span class=\"flag\">clock_skew</span>"));
}

#[test]
fn a_bad_input_fails_with_a_message_naming_it() {
    let folder = std::env::temp_dir().join(format!("postmortemd-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("range.json"),
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}"#,
    )
    .unwrap();
    let strict = postmortemd(&["draft", "--strict", folder.to_str().unwrap()]);
    let lenient = postmortemd(&["draft", folder.to_str().unwrap()]);
    std::fs::remove_dir_all(&folder).unwrap();
    assert_eq!(strict.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(stderr.contains("range.json: data.result[0].values[0][1]: expected a number as a string"), "{stderr}");
    // Without --strict the file is skipped; with nothing else to read, that is said.
    assert_eq!(lenient.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&lenient.stderr);
    assert!(stderr.contains("no recognised input in "), "{stderr}");
    assert!(stderr.contains("range.json: data.result[0].values[0][1]: expected a number as a string"), "{stderr}");
}

/// Real exports (the shipped example's) beside a stray image, notes, a manifest and a
/// README: the strays are skipped and named in note rows, the rest drafts as it does alone.
#[test]
fn a_folder_with_stray_files_drafts_the_rest_and_names_them() {
    let folder = std::env::temp_dir().join(format!("postmortemd-cli-mixed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    for entry in std::fs::read_dir("examples/checkout-outage").unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, folder.join(path.file_name().unwrap())).unwrap();
    }
    let strays: [(&str, &[u8]); 4] = [
        ("architecture.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0"),
        ("notes.txt", b"Checkout outage, 9 Feb\n\nWho was on call: Dana.\nWhat we saw: 5xx on checkout.\nFollow-ups:\n- alert on reservations\n"),
        ("deployment.yaml", b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: checkout-api\nspec:\n  replicas: 2\n"),
        ("unknown.json", b"{\"dashboard\": {\"panels\": []}, \"version\": 3}"),
    ];
    for (name, bytes) in strays {
        std::fs::write(folder.join(name), bytes).unwrap();
    }
    let lenient = postmortemd(&["draft", folder.to_str().unwrap()]);
    let strict = postmortemd(&["draft", "--strict", folder.to_str().unwrap()]);
    for (name, _) in strays {
        std::fs::remove_file(folder.join(name)).unwrap();
    }
    let alone = postmortemd(&["draft", folder.to_str().unwrap()]);
    std::fs::remove_dir_all(&folder).unwrap();

    assert!(lenient.status.success(), "{}", String::from_utf8_lossy(&lenient.stderr));
    let draft = String::from_utf8_lossy(&lenient.stdout);
    for (name, _) in strays {
        let note = draft.lines().find(|line| line.contains(&format!("Skipped {}", folder.join(name).display())));
        assert!(note.is_some_and(|note| note.contains("| input |")), "{name} is not named:\n{draft}");
    }
    assert!(draft.contains("carry no times"), "{draft}");
    assert!(!draft.contains("README"), "{draft}");
    // The coverage table names each, with what it seemed to be.
    assert!(draft.contains("| architecture.png | unrecognised | skipped | nothing |"), "{draft}");
    assert!(draft.contains("| notes.txt | text without times | skipped | nothing |"), "{draft}");
    // Every row of the draft without the strays is still there (the heading counts the notes).
    let rows = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| !line.contains("| input |") && !line.starts_with("Window:"))
            .filter(|line| !strays.iter().any(|(name, _)| line.starts_with(&format!("| {name} |"))))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(rows(&draft), rows(&String::from_utf8_lossy(&alone.stdout)));

    assert_eq!(strict.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(stderr.contains("4 input file(s) could not be read"), "{stderr}");
    assert!(stderr.contains("architecture.png: unknown kind of file"), "{stderr}");
}

#[test]
fn serve_stops_on_a_kubeconfig_it_was_given_and_cannot_read() {
    let folder = std::env::temp_dir().join(format!("postmortemd-cli-kubeconfig-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let missing = folder.join("no-such-kubeconfig");
    let config = folder.join("postmortemd.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[store]\nurl = \"sqlite://{}/p.db\"\n[kubernetes]\nkubeconfig = \"{}\"\n",
            folder.display(),
            missing.display()
        ),
    )
    .unwrap();
    let output = postmortemd(&["serve", "--config", config.to_str().unwrap()]);
    std::fs::remove_dir_all(&folder).unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("kubernetes.kubeconfig"), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
}

#[test]
fn prose_alone_is_no_recognised_input() {
    let output = postmortemd(&["draft", "examples/checkout-outage/README.md"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no recognised input in examples/checkout-outage/README.md"), "{stderr}");
    assert!(stderr.contains("carry no times"), "{stderr}");
    assert!(!stderr.contains("invalid window"), "{stderr}");
}

#[test]
fn inspect_times_says_what_it_read_on_each_line() {
    let path = std::env::temp_dir().join(format!("postmortemd-cli-times-{}.log", std::process::id()));
    std::fs::write(&path, "Feb  9 19:05:23 host app: started\nno time here\n{\"ts\":1739095523.5,\"msg\":\"x\"}\n")
        .unwrap();
    let args = ["inspect-times", "--zone", "+09:00", "--window", "2025-02-09T00:00:00Z/2025-02-10T00:00:00Z"];
    let tsv = postmortemd(&[&args[..], &["--format", "tsv", path.to_str().unwrap()]].concat());
    let text = postmortemd(&[&args[..], &[path.to_str().unwrap()]].concat());
    std::fs::remove_file(&path).unwrap();
    assert!(tsv.status.success() && text.status.success());
    // TSV: the rows only, as the evaluation scripts read them.
    let stdout = String::from_utf8_lossy(&tsv.stdout);
    let lines: Vec<Vec<&str>> = stdout.lines().map(|line| line.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!((lines[0][0], lines[0][1], lines[0][2]), ("1", "2025-02-09T10:05:23.000Z", "syslog"), "{stdout}");
    assert_eq!((lines[0][3], lines[0][4]), ("assumed_zone", "window"), "{stdout}");
    assert_eq!((lines[1][1], lines[1][7]), ("", "no date or clock"), "{stdout}");
    assert_eq!(lines[2][1], "2025-02-09T10:05:23.500Z", "{stdout}");
    // Text: the same rows between a header and a summary.
    let stdout = String::from_utf8_lossy(&text.stdout);
    let (comments, rows): (Vec<&str>, Vec<&str>) = stdout.lines().partition(|line| line.starts_with('#'));
    assert_eq!(rows, String::from_utf8_lossy(&tsv.stdout).lines().collect::<Vec<_>>(), "{stdout}");
    assert!(comments[0].contains("inspect-times"), "{stdout}");
    assert!(comments.iter().any(|line| line.contains("+09:00")), "{stdout}");
    assert!(comments.last().unwrap().contains("assumed_zone 1, assumed_year 0, zone_mismatch 0"), "{stdout}");
}

#[test]
fn a_draft_without_any_year_says_which_it_assumed() {
    let folder = std::env::temp_dir().join(format!("postmortemd-cli-year-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let log = folder.join("syslog.log");
    let lines: String = (0..40).map(|second| format!("Mar  5 14:22:{second:02} node-1 app[1]: tick\n")).collect();
    std::fs::write(&log, format!("{lines}Mar  5 14:23:00 node-1 app[1]: error: disk full\n")).unwrap();
    let year = {
        let modified = std::fs::metadata(&log).unwrap().modified().unwrap();
        jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::try_from(modified).unwrap()).year()
    };
    let output = postmortemd(&["draft", "--format", "json", folder.to_str().unwrap()]);
    std::fs::remove_dir_all(&folder).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let timeline: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = timeline["entries"].as_array().unwrap();
    let note = entries.iter().find(|entry| entry["source"] == "times").expect("a note on the year");
    let text = note["event"].as_str().unwrap();
    assert!(text.contains(&format!("read as {year}")) && text.contains("modification year"), "{text}");
    let logs: Vec<_> = entries.iter().filter(|entry| entry["kind"] == "log").collect();
    assert!(!logs.is_empty(), "{timeline}");
    for entry in logs {
        assert!(entry["flags"].as_array().unwrap().contains(&"assumed_year".into()), "{entry}");
        assert!(entry["time"].as_str().unwrap().starts_with(&format!("{year}-03-05")), "{entry}");
    }
}

#[test]
fn templates_prints_one_csv_row_per_line() {
    let path = std::env::temp_dir().join(format!("postmortemd-cli-templates-{}.log", std::process::id()));
    std::fs::write(&path, "took 41 ms\ntook 7 ms\nuser \"x\", logged in\n").unwrap();
    let output = postmortemd(&["templates", path.to_str().unwrap()]);
    let raw = postmortemd(&["templates", "--input", "raw", path.to_str().unwrap()]);
    let unknown = postmortemd(&["templates", "--input", "content", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(raw.stdout, output.stdout, "lines without prefixes, times or fields mine the same");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows[0], "LineId,EventTemplate");
    assert_eq!(rows[1], "1,took <*> ms");
    assert_eq!(rows[2], "2,took <*> ms");
    assert_eq!(rows[3], r#"3,"user ""x"", logged in""#);
}

#[test]
fn a_year_less_log_takes_its_year_from_a_dated_one_beside_it() {
    let folder = std::env::temp_dir().join(format!("postmortemd-cli-evidence-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let dated: String = (0..40).map(|second| format!("2023-03-05 14:22:{second:02},000 INFO app: tick\n")).collect();
    std::fs::write(folder.join("app.log"), dated).unwrap();
    let year_less: String = (0..40).map(|second| format!("Mar  5 14:22:{second:02} node-1 app[1]: tick\n")).collect();
    std::fs::write(folder.join("syslog.log"), format!("{year_less}Mar  5 14:23:00 node-1 app[1]: error: disk full\n"))
        .unwrap();
    let output = postmortemd(&["draft", "--format", "json", folder.to_str().unwrap()]);
    std::fs::remove_dir_all(&folder).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let timeline: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = timeline["entries"].as_array().unwrap();
    assert!(entries.iter().all(|entry| entry["source"] != "times"), "{timeline}");
    let syslog: Vec<_> = entries.iter().filter(|entry| entry["source"].as_str().unwrap().contains("syslog")).collect();
    assert!(!syslog.is_empty(), "{timeline}");
    for entry in syslog {
        assert!(!entry["flags"].as_array().unwrap().contains(&"assumed_year".into()), "{entry}");
        assert!(entry["time"].as_str().unwrap().starts_with("2023-03-05"), "{entry}");
    }
}
