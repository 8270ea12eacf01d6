//! The shutdown signal: SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C). What to
//! do on it (stop accepting, let jobs checkpoint within the grace) belongs to `serve`.

use std::io;

/// Resolves on the first SIGTERM or SIGINT after the call.
///
/// If the handlers cannot be installed (no signal support), the error is logged and the
/// future never resolves: the process then stops the default way, at once.
pub async fn signal() {
    match Listener::install() {
        Ok(listener) => listener.recv().await,
        Err(error) => {
            tracing::error!(%error, "Cannot listen for SIGTERM and SIGINT; shutdown will not be graceful.");
            std::future::pending::<()>().await
        }
    }
}

/// Handlers installed when it is made, so a signal sent right after is not missed.
/// NB: split from [`signal`] so that the test can send SIGTERM to its own process only
/// once the handler is in place (before that, SIGTERM would kill the test binary).
struct Listener {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Listener {
    /// Must run inside a tokio runtime.
    fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Listener { terminate: signal(SignalKind::terminate())?, interrupt: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        {
            Ok(Listener {})
        }
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => tracing::info!(signal = "SIGTERM", "Shutting down."),
            _ = self.interrupt.recv() => tracing::info!(signal = "SIGINT", "Shutting down."),
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::error!(%error, "Cannot listen for Ctrl-C; shutdown will not be graceful.");
                std::future::pending::<()>().await
            }
            tracing::info!(signal = "ctrl-c", "Shutting down.");
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Send `name` to this very process (no `libc`: unsafe code is forbidden here).
    fn send_to_self(name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(std::process::id().to_string())
            .status()
            .expect("runs kill");
        assert!(status.success(), "kill -{name} failed");
    }

    #[track_caller]
    fn check(name: &str) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let listener = Listener::install().expect("handlers install");
            let waiting = listener.recv();
            tokio::pin!(waiting);
            let early = tokio::time::timeout(Duration::from_millis(50), &mut waiting).await;
            assert!(early.is_err(), "resolved before any {name}");
            send_to_self(name);
            let resolved = tokio::time::timeout(Duration::from_secs(10), waiting).await;
            assert!(resolved.is_ok(), "{name} did not resolve the shutdown signal");
        });
    }

    /// Both signals in one test: the handlers are process-wide, so two tests running in
    /// parallel could each see the other's signal.
    #[test]
    fn sigterm_and_sigint_each_resolve_the_signal() {
        for name in ["TERM", "INT"] {
            check(name);
        }
    }
}
