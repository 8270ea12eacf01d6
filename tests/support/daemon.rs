//! The real `postmortemd serve` binary on a free loopback port over a SQLite file in a
//! scratch folder, for tests where the process matters (its memory, its file descriptors,
//! its open-file limit, what it prints).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::services::{eventually, free_port, scratch_folder};

/// A running daemon; killed and its folder removed when dropped.
pub struct Served {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub port: u16,
    pub folder: PathBuf,
}

impl Served {
    /// Starts the daemon with `env` (`POSTMORTEMD_…` pairs) and, when `open_files` is set,
    /// under that open-file limit (soft and hard, by the shell's `ulimit -n`), and waits
    /// until `/readyz` answers 200.
    pub async fn start(name: &str, env: &[(&str, &str)], open_files: Option<u64>) -> Served {
        Served::start_configured(name, None, None, env, open_files).await
    }

    /// [`Served::start`] with `config` as its settings file (`--config`), for what the
    /// environment cannot say (arrays of tables such as `[[prometheus.queries]]`).
    pub async fn start_with_config(name: &str, config: &str, env: &[(&str, &str)]) -> Served {
        Served::start_configured(name, Some(config), None, env, None).await
    }

    /// [`Served::start_with_config`] on the store at `store` (a URL) instead of a new SQLite
    /// file in its folder.
    pub async fn start_configured_on(name: &str, store: &str, config: &str) -> Served {
        Served::start_configured(name, Some(config), Some(store), &[], None).await
    }

    async fn start_configured(
        name: &str,
        config: Option<&str>,
        store: Option<&str>,
        env: &[(&str, &str)],
        open_files: Option<u64>,
    ) -> Served {
        let folder = scratch_folder(name);
        let port = free_port();
        let binary = env!("CARGO_BIN_EXE_postmortemd");
        let mut command = match open_files {
            Some(limit) => {
                let mut shell = Command::new("sh");
                shell.arg("-c").arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\"")).arg(binary);
                shell
            }
            None => Command::new(binary),
        };
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--store")
            .arg(store.map_or_else(|| format!("sqlite://{}/postmortemd.db", folder.display()), str::to_owned))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(folder.join("daemon.log")).unwrap()));
        if let Some(config) = config {
            std::fs::write(folder.join("postmortemd.toml"), config).unwrap();
            command.arg("--config").arg(folder.join("postmortemd.toml"));
        }
        let child = command.spawn().expect("postmortemd serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        eventually("the daemon to be ready", async || {
            let response = client.get(format!("{base}/readyz")).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        Served { child, base, port, folder }
    }

    /// The daemon's resident memory (`VmRSS` of `/proc/PID/status`), in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("the daemon runs");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }

    /// How many file descriptors the daemon holds open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).expect("the daemon runs").count()
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.folder.join("daemon.log")).unwrap_or_default()
    }
}

/// Unpacks an incident's `evidence.tar.gz` into `folder` and returns its bundle folder
/// (`incident-ID/`).
pub fn unpack_evidence(archive: &[u8], folder: &std::path::Path, incident_id: i64) -> PathBuf {
    std::fs::create_dir_all(folder).unwrap();
    std::fs::write(folder.join("evidence.tar.gz"), archive).unwrap();
    let untar =
        std::process::Command::new("tar").arg("-xzf").arg("evidence.tar.gz").current_dir(folder).status().unwrap();
    assert!(untar.success());
    folder.join(format!("incident-{incident_id}"))
}

/// What the real `postmortemd draft --format json` drafts of a folder.
pub fn draft_json(folder: &std::path::Path) -> serde_json::Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_postmortemd"))
        .args(["draft", "--format", "json"])
        .arg(folder)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}
