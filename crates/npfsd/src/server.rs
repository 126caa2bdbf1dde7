//! The broker's event loop: accept connections (with caps), run the waiter timer, exit when
//! idle or on SIGTERM/SIGINT.

use std::time::{Duration, Instant};

use tokio::net::UnixListener;
use tracing::{debug, info, warn};

use crate::state::{Policy, Shared};

/// Run the broker on `listener` until it has been idle for `idle_exit` or a termination
/// signal arrives, with the default policy.
pub async fn run(listener: UnixListener, idle_exit: Duration) {
    run_with(listener, idle_exit, Policy::default()).await;
}

/// [`run`] with a security policy (`idle_exit` of `Duration::MAX`: never exit when idle).
pub async fn run_with(listener: UnixListener, idle_exit: Duration, policy: Policy) {
    let shared = Shared::with_policy(policy);
    tokio::spawn(timer(shared.clone()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let check = (idle_exit / 4).clamp(Duration::from_millis(5), Duration::from_millis(500));
    let mut ticker = tokio::time::interval(check);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut idle_since: Option<Instant> = None;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => accept(stream, &shared),
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = ticker.tick() => {
                if shared.lock().is_idle() {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= idle_exit {
                        info!("idle for {idle_exit:?}, exiting");
                        return;
                    }
                } else {
                    idle_since = None;
                }
            }
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {
                info!("SIGTERM, exiting");
                return;
            }
            _ = tokio::signal::ctrl_c() => {
                info!("SIGINT, exiting");
                return;
            }
        }
    }
}

/// Admit one connection: identify the peer by SO_PEERCRED and SO_PEERGROUPS (never by
/// anything it sends), apply the caps, spawn its task.
fn accept(stream: tokio::net::UnixStream, shared: &Shared) {
    let caller = match crate::creds::peer_caller(&stream, &shared.policy.admin_gids) {
        Ok(c) => c,
        Err(e) => {
            debug!("peer credentials: {e}");
            return;
        }
    };
    let peer = caller.identity;
    if !shared.lock().admit(peer.uid) {
        warn!(
            pid = peer.pid,
            uid = peer.uid,
            "connection cap reached, refusing"
        );
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        crate::conn::serve(stream, shared.clone(), caller).await;
        shared.lock().release(peer.uid);
    });
}

/// Time out waiters at their deadlines.
async fn timer(shared: Shared) {
    loop {
        let next = {
            let mut b = shared.lock();
            let now = b.now_ms();
            b.ns.expire(now);
            b.dispatch_waits();
            b.ns.next_deadline().map(|d| b.instant_of(d))
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = shared.timer.notified() => {}
                }
            }
            None => shared.timer.notified().await,
        }
    }
}
