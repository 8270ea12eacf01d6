//! `postmortemd config` as a user runs it: the effective settings on stdout with secrets
//! masked, and exit code 2 with the bad key named on stderr.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The binary with only these environment variables, so the caller's `POSTMORTEMD_*` cannot leak in.
fn postmortemd_config(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_postmortemd"))
        .arg("config")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("runs")
}

fn write_file(name: &str, contents: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("postmortemd-config-cli-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[track_caller]
fn check_invalid(name: &str, toml: &str, env: &[(&str, &str)], expected_stderr: &str) {
    let path = write_file(name, toml);
    let output = postmortemd_config(&["--config", path.to_str().unwrap()], env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
    assert_eq!(stderr, expected_stderr, "{name}");
    assert!(output.stdout.is_empty(), "{name}: nothing on stdout");
}

/// A file name, its contents, the environment, and the expected stderr.
type InvalidRow<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn invalid_settings_exit_2_naming_the_key() {
    let rows: &[InvalidRow] = &[
        (
            "duration.toml",
            "[window]\nlead_in = \"20 parsecs\"\n",
            &[],
            "postmortemd: window.lead_in: \"20 parsecs\" is not a duration like 20m\n",
        ),
        (
            "typo.toml",
            "[server]\nlisten = \"127.0.0.1:1\"\nmax_body = 5\n",
            &[],
            "postmortemd: server.max_body: unknown key (expected one of: listen, max_body_bytes, shutdown_grace, \
             max_connections, max_requests_in_flight, header_timeout, body_timeout, max_body_bytes_in_flight)\n",
        ),
        (
            "env.toml",
            "",
            &[("POSTMORTEMD_SERVER__LISTEN", "everywhere")],
            "postmortemd: server.listen: \"everywhere\" is not an address like 127.0.0.1:8080\n",
        ),
    ];
    for (name, toml, env, expected) in rows {
        check_invalid(name, toml, env, expected);
    }
}

#[test]
fn secrets_from_env_and_files_print_masked() {
    let tokens = write_file("tokens", "reader-token-1\nreader-token-2\n");
    let toml = format!("[api]\nbearer_tokens_file = \"{}\"\n", tokens.display());
    let path = write_file("secrets.toml", &toml);
    let output = postmortemd_config(
        &["--config", path.to_str().unwrap()],
        &[("POSTMORTEMD_WEBHOOKS__ALERTMANAGER__BEARER_TOKEN", "am-token"), ("POSTMORTEMD_LOG", "debug")],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("[webhooks.alertmanager]\nbearer_token = \"***\"\n"), "{stdout}");
    assert!(stdout.contains("[api]\nbearer_tokens = [\"***\", \"***\"]\n"), "{stdout}");
    for secret in ["am-token", "reader-token"] {
        assert!(!stdout.contains(secret), "{secret} shows in {stdout}");
    }
}

#[test]
fn without_a_file_it_prints_the_defaults() {
    let output = postmortemd_config(&[], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("[server]\nlisten = \"127.0.0.1:8080\"\nmax_body_bytes = \"4MiB\"\n"), "{stdout}");
    assert!(stdout.contains("[window]\nlead_in = \"20m\"\ntail = \"10m\"\nquiet_period = \"30m\"\n"), "{stdout}");
}
