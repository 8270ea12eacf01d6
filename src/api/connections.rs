//! The daemon's accept loop: hyper's HTTP/1 connections with axum's router as the service,
//! bounded in number and in time, so slow or stalled clients cannot hold the port.
//! What a request may hold once it is in (body bytes, a slot) is `limits.rs`'s.
//!
//! - Every connection has a [`Phase`]: `Idle` (reading a request's headers, or between
//!   requests), `Receiving` (its request's body is awaited: `limits::receive_body` says so)
//!   or `Working` (the request is being answered, from the handler's call until the
//!   response's body is written).
//! - hyper closes a connection whose headers do not arrive within `server.header_timeout`
//!   (an idle keep-alive included: the timer starts when it goes idle).
//! - At most `server.max_connections` are open, lowered at start below the open-file limit
//!   ([`connection_cap`]). At the cap a new connection evicts the oldest `Idle` one, else the
//!   oldest `Receiving` one; a `Working` one is never evicted. With none to evict, the loop
//!   stops accepting (the kernel's backlog holds new connections) until one closes or becomes
//!   evictable: under normal load requests wait rather than fail.
//!
//! Why eviction rather than a plain cap: a cap alone lets a few hundred clients that trickle
//! header bytes or stall a body hold every slot until their timeouts, and `/healthz` or a
//! webhook waits behind them. Evicting the oldest connection that is not being worked on
//! costs a well-behaved client at most a retry of a request it had not finished sending (the
//! senders retry connection errors), and keeps the port answering whatever the slow ones do.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::telemetry::Metrics;

/// Most bytes hyper buffers per connection (a request's headers must fit): small, since
/// every open connection may hold this much.
const MAX_BUFFER_BYTES: usize = 64 << 10;

/// What a connection is doing, in eviction order (the lowest goes first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Phase {
    /// Reading a request's headers, or idle between requests.
    Idle = 0,
    /// Waiting for its request's body (or for the budget to hold it).
    Receiving = 1,
    /// Its request is being answered: never evicted.
    Working = 2,
}

/// One open connection as the accept loop sees it.
#[derive(Debug)]
struct Slot {
    id: u64,
    phase: AtomicU8,
    /// When it entered its phase, in milliseconds since the registry started.
    since_ms: AtomicU64,
    evict: Notify,
    registry: Arc<Registry>,
}

/// The handle a request carries (a request extension) to say what its connection is doing;
/// requests served without a connection (`router(..).oneshot`) carry none.
#[derive(Clone, Debug)]
pub struct Tracker(Arc<Slot>);

impl Tracker {
    /// The request's body is awaited: its connection may be evicted (after idle ones).
    pub fn receiving(&self) {
        self.0.enter(Phase::Receiving);
    }

    /// The request is being answered: its connection is not evicted.
    pub fn working(&self) {
        self.0.enter(Phase::Working);
    }
}

impl Slot {
    fn enter(&self, phase: Phase) {
        self.since_ms.store(self.registry.now_ms(), Ordering::Relaxed);
        self.phase.store(phase as u8, Ordering::Relaxed);
        if phase != Phase::Working {
            self.registry.changed.notify_waiters();
        }
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Idle,
            1 => Phase::Receiving,
            _ => Phase::Working,
        }
    }
}

/// The open connections.
#[derive(Debug)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    /// A connection closed or became evictable.
    changed: Notify,
    started: std::time::Instant,
    next_id: AtomicU64,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    fn insert(self: &Arc<Self>) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            phase: AtomicU8::new(Phase::Idle as u8),
            since_ms: AtomicU64::new(self.now_ms()),
            evict: Notify::new(),
            registry: self.clone(),
        });
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(slot.id, slot.clone());
        slot
    }

    /// Forgets a connection; `true` when it was still open (not evicted meanwhile).
    fn remove(&self, id: u64) -> bool {
        let removed = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id).is_some();
        self.changed.notify_waiters();
        removed
    }

    /// Takes out the connection to evict: the oldest `Idle`, else the oldest `Receiving`.
    fn evict_one(&self) -> Option<Arc<Slot>> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let victim = open
            .values()
            .filter(|slot| slot.phase() != Phase::Working)
            .min_by_key(|slot| (slot.phase(), slot.since_ms.load(Ordering::Relaxed), slot.id))?
            .clone();
        open.remove(&victim.id);
        Some(victim)
    }
}

/// How the server bounds its connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// File descriptors left for everything but client connections: the store's files and
/// connections, the collectors' clients, stdio, the listener and a connection being evicted.
fn reserved_fds(soft_limit: u64) -> u64 {
    (soft_limit / 4).min(256)
}

/// The connection cap for `requested`: first the soft open-file limit is raised to the hard
/// one (as Go's runtime does; a safe call through rustix), then the cap is kept below it with
/// [`reserved_fds`] to spare. Returns the cap and the soft limit it was held under.
pub fn connection_cap(requested: usize) -> (usize, Option<u64>) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(maximum), maximum: Some(maximum) });
    }
    let soft = getrlimit(Resource::Nofile).current;
    (cap_below(requested, soft), soft)
}

/// `requested`, or less to stay [`reserved_fds`] below `soft_limit` (at least 1).
fn cap_below(requested: usize, soft_limit: Option<u64>) -> usize {
    match soft_limit {
        None => requested,
        Some(soft) => {
            let room = usize::try_from(soft.saturating_sub(reserved_fds(soft))).unwrap_or(usize::MAX);
            requested.min(room).max(1)
        }
    }
}

/// Accepts on `listener` and serves `router` until `shutdown` turns true, then lets open
/// connections finish their request (each closes after it) and returns once all closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let registry = Arc::new(Registry {
        open: Mutex::new(HashMap::new()),
        changed: Notify::new(),
        started: std::time::Instant::now(),
        next_id: AtomicU64::new(0),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(MAX_BUFFER_BYTES);
    let builder = Arc::new(builder);
    let last_accept_warning = std::sync::atomic::AtomicI64::new(i64::MIN);
    'accept: loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of file descriptors or a connection reset before it was taken:
                    // the next accept may work; a pause keeps the loop from spinning.
                    if crate::api::webhooks::once_a_minute(&last_accept_warning) {
                        tracing::warn!(%error, "Accepting a connection failed; retrying.");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => break 'accept,
        };
        // Room for it: evict the oldest connection not being worked on, else wait.
        loop {
            let changed = registry.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if registry.len() < limits.max_connections {
                break;
            }
            if let Some(victim) = registry.evict_one() {
                tracing::debug!(connection = victim.id, phase = ?victim.phase(), "Connection evicted for a new one.");
                metrics.connection_evicted();
                victim.evict.notify_one();
                break;
            }
            tokio::select! {
                () = &mut changed => {}
                () = stopped(&mut shutdown) => break 'accept,
            }
        }
        let slot = registry.insert();
        metrics.connection_opened();
        let (router, builder, metrics, shutdown) = (router.clone(), builder.clone(), metrics.clone(), shutdown.clone());
        tokio::spawn(async move {
            serve_connection(stream, slot.clone(), router, &builder, shutdown).await;
            slot.registry.remove(slot.id);
            metrics.connection_closed();
        });
    }
    // Drain: every connection finishes its request and closes (hyper's graceful shutdown).
    loop {
        let changed = registry.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if registry.len() == 0 {
            return;
        }
        changed.await;
    }
}

/// One connection until it closes, is evicted, or (after shutdown) finishes its request.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    slot: Arc<Slot>,
    router: Router,
    builder: &hyper::server::conn::http1::Builder,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let tracker = Tracker(slot.clone());
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        tracker.working();
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(tracker.clone());
        let router = router.clone();
        let idle = IdleWhenDropped(tracker.clone());
        async move {
            let Ok(response) = router.oneshot(request).await;
            // The connection stays `Working` until hyper has written the body and drops it.
            Ok::<_, Infallible>(response.map(move |body| {
                body.map_frame(move |frame| {
                    let _written_by = &idle;
                    frame
                })
            }))
        }
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "Connection ended with an error.");
                }
                return;
            }
            () = slot.evict.notified() => return,
            () = stopped(&mut shutdown), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Resolves once the shutdown flag is true (the borrow of the flag is not kept: a future
/// holding it would not be `Send`).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

/// Puts its connection back to `Idle` when dropped (with the response's body, once written,
/// or with the request when it was dropped unanswered).
struct IdleWhenDropped(Tracker);

impl Drop for IdleWhenDropped {
    fn drop(&mut self) {
        self.0.0.enter(Phase::Idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_open_file_limit() {
        let rows: &[(usize, Option<u64>, usize)] = &[
            (1024, None, 1024),
            (1024, Some(1_048_576), 1024),
            (1024, Some(1024), 768),
            (1024, Some(256), 192),
            (100, Some(256), 100),
            (1024, Some(2), 2),
            (1024, Some(0), 1),
        ];
        for (requested, soft, expected) in rows {
            assert_eq!(cap_below(*requested, *soft), *expected, "{requested} under {soft:?}");
        }
    }

    fn registry() -> Arc<Registry> {
        Arc::new(Registry {
            open: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            started: std::time::Instant::now(),
            next_id: AtomicU64::new(0),
        })
    }

    #[test]
    fn eviction_takes_the_oldest_idle_then_the_oldest_receiving_never_a_working_one() {
        let registry = registry();
        let slots: Vec<Arc<Slot>> = (0..4).map(|_| registry.insert()).collect();
        let set = |slot: &Slot, phase: Phase, since_ms: u64| {
            slot.phase.store(phase as u8, Ordering::Relaxed);
            slot.since_ms.store(since_ms, Ordering::Relaxed);
        };
        set(&slots[0], Phase::Working, 0);
        set(&slots[1], Phase::Receiving, 1);
        set(&slots[2], Phase::Idle, 5);
        set(&slots[3], Phase::Idle, 3);
        let order: Vec<u64> = std::iter::from_fn(|| registry.evict_one()).map(|slot| slot.id).collect();
        assert_eq!(order, [3, 2, 1]);
        assert_eq!(registry.len(), 1, "the working connection stays");
    }
}
