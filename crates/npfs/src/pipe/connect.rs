//! ConnectNamedPipe and DisconnectNamedPipe: the server's side of a connection, from the instance's
//! control channel.

use super::*;

impl PipeServer {
    /// ConnectNamedPipe: wait for a client. `Ok(())` when one connected after the call began;
    /// `Err(ERROR_PIPE_CONNECTED)` when one was already there (the connection is good);
    /// `ERROR_NO_DATA` when the client already left; `ERROR_PIPE_LISTENING` in nowait mode.
    #[doc(alias = "ConnectNamedPipe")]
    pub fn connect(&self) -> Result<()> {
        self.connect_timeout(None)
    }

    /// ConnectNamedPipe with a limit: `ERROR_SEM_TIMEOUT` when no client came in time (the
    /// instance keeps listening).
    #[doc(alias = "ConnectNamedPipe")]
    pub fn connect_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        use rustix::event::{poll, PollFd, PollFlags};
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        self.connect_start()?;
        loop {
            // Look under the lock, then wait without it: woken by the channel (a pushed
            // connection, or the broker's hang-up), by another thread changing the link
            // (the instance's eventfd), or by the deadline — never by a tick.
            let (channel, wake) = {
                let mut s = lock(self.side());
                match s.link {
                    ServerLink::Listening => {}
                    ServerLink::Connected(_) => return Ok(()),
                    ServerLink::Disconnected => return Err(Win32Error::PIPE_NOT_CONNECTED),
                }
                if poll_channel(&mut s, Some(Duration::ZERO))? {
                    return Ok(());
                }
                let dup = |fd: std::os::fd::BorrowedFd<'_>| {
                    fd.try_clone_to_owned()
                        .map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)
                };
                // The channel is duplicated: it is replaced when the instance registers
                // with a new broker; the eventfd never is.
                (dup(s.channel.as_fd())?, s.wake.clone())
            };
            let left = match deadline {
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return Err(Win32Error::SEM_TIMEOUT);
                    }
                    Some(d - now)
                }
                None => None,
            };
            let ts = left.map(|l| rustix::event::Timespec {
                tv_sec: l.as_secs().min(i64::MAX as u64) as i64,
                tv_nsec: l.subsec_nanos().into(),
            });
            let mut fds = [
                PollFd::new(&channel, PollFlags::IN),
                PollFd::new(&*wake, PollFlags::IN),
            ];
            match poll(&mut fds, ts.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return Err(Win32Error::NO_SYSTEM_RESOURCES),
            }
            if fds[1].revents().contains(PollFlags::IN) {
                let mut b = [0u8; 8];
                let _ = rustix::io::read(&*wake, &mut b);
            }
        }
    }

    /// The part of ConnectNamedPipe that never waits: `Err(ERROR_PIPE_CONNECTED)` (and the
    /// other outcomes of a connection already there), a disconnected instance listening
    /// again, `ERROR_PIPE_LISTENING` in nowait mode. `Ok` means: now wait for a client.
    pub(crate) fn connect_start(&self) -> Result<()> {
        {
            let mut s = lock(self.side());
            poll_channel(&mut s, Some(Duration::ZERO))?;
            match &s.link {
                ServerLink::Connected(l) => {
                    // A client whose process ended without closing shows only as the socket's
                    // hang-up, which the watcher thread may not have acted on yet: look now.
                    if l.conn.state() == LinkState::Connected
                        && l.conn.sock().is_some_and(crate::sys::socket_hung_up)
                    {
                        l.conn.peer_gone();
                    }
                    return Err(match l.conn.state() {
                        LinkState::Connected => Win32Error::PIPE_CONNECTED,
                        LinkState::Closing => Win32Error::NO_DATA,
                        LinkState::Disconnected => Win32Error::PIPE_NOT_CONNECTED,
                    });
                }
                ServerLink::Disconnected => {
                    s.epoch = s.channel.listen().map_err(broker_err)?;
                    s.link = ServerLink::Listening;
                }
                ServerLink::Listening => {}
            }
            if self.modes().nowait {
                return Err(Win32Error::PIPE_LISTENING);
            }
        }
        Ok(())
    }

    /// One non-blocking look for a client (after [`PipeServer::connect_start`]): `Ok(true)`
    /// when connected, `Ok(false)` while listening, `ERROR_PIPE_NOT_CONNECTED` when
    /// disconnected meanwhile.
    pub(crate) fn connect_check(&self) -> Result<bool> {
        let mut s = lock(self.side());
        match s.link {
            ServerLink::Listening => poll_channel(&mut s, Some(Duration::ZERO)),
            ServerLink::Connected(_) => Ok(true),
            ServerLink::Disconnected => Err(Win32Error::PIPE_NOT_CONNECTED),
        }
    }

    /// The instance's control socket, duplicated (readable: a pushed connection; HUP: the
    /// broker is gone), with the id of the registration it belongs to (it changes when the
    /// instance registers again with a new broker).
    pub(crate) fn channel_fd(&self) -> Result<(u64, std::os::fd::OwnedFd)> {
        let s = lock(self.side());
        let fd = s
            .channel
            .as_fd()
            .try_clone_to_owned()
            .map_err(|_| Win32Error::NO_SYSTEM_RESOURCES)?;
        Ok((s.channel.instance_id(), fd))
    }

    /// The instance's eventfd that wakes a waiting ConnectNamedPipe (written by whoever
    /// changes the link, and by a cancel).
    pub(crate) fn wake_fd(&self) -> Arc<std::os::fd::OwnedFd> {
        lock(self.side()).wake.clone()
    }

    /// Whether the instance is listening (no client yet).
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn is_listening(&self) -> bool {
        let s = lock(self.side());
        matches!(s.link, ServerLink::Listening)
    }

    /// DisconnectNamedPipe: end the connection (or stop listening). Unread data in both
    /// directions is discarded and the client's handle is detached.
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> Result<()> {
        let mut s = lock(self.side());
        poll_channel(&mut s, Some(Duration::ZERO))?;
        match std::mem::replace(&mut s.link, ServerLink::Disconnected) {
            ServerLink::Disconnected => Err(Win32Error::PIPE_NOT_CONNECTED),
            old => {
                s.wake_waiters();
                if let ServerLink::Connected(l) = old {
                    l.conn.disconnect();
                }
                let epoch = s.epoch;
                s.disconnected_epoch = Some(epoch);
                s.channel.disconnect(epoch).map_err(broker_err)?;
                // A client may have been paired just before the broker saw the disconnect.
                poll_channel_stale(&mut s)?;
                Ok(())
            }
        }
    }
}

/// Take in a connection the broker pushed, if any. Stale ones (from before a disconnect) are
/// disconnected at once, so their client sees `ERROR_PIPE_NOT_CONNECTED`.
pub(super) fn poll_channel(s: &mut ServerSide, timeout: Option<Duration>) -> Result<bool> {
    if !matches!(s.link, ServerLink::Listening) {
        return Ok(false);
    }
    loop {
        match s.channel.poll_event(timeout).map_err(broker_err)? {
            None => return Ok(false),
            Some(ChannelEvent::BrokerGone) => {
                reregister(s)?;
                if timeout == Some(Duration::ZERO) {
                    return Ok(false);
                }
            }
            Some(ChannelEvent::Connected { fds, info, epoch }) => {
                let stale = s.disconnected_epoch.is_some_and(|d| epoch <= d) || epoch != s.epoch;
                let link = match Link::new(fds, &info, End::Server, info.client_access) {
                    Ok(link) => Arc::new(link),
                    Err(e) if !stale => {
                        // The segment is refused (wrong size, seals or stamp: a hostile or
                        // broken peer got at it first). Drop that client, as one that came
                        // and went, and keep listening: the instance must not stay paired
                        // with a connection nobody can use.
                        tracing::warn!("npfs: refused a connection's segment: {e}");
                        let epoch = s.epoch;
                        s.disconnected_epoch = Some(epoch);
                        s.channel.disconnect(epoch).map_err(broker_err)?;
                        s.epoch = s.channel.listen().map_err(broker_err)?;
                        continue;
                    }
                    Err(_) => continue,
                };
                if stale {
                    link.conn.disconnect();
                    continue;
                }
                s.link = ServerLink::Connected(link);
                s.conn_id = info.conn_id;
                return Ok(true);
            }
        }
    }
}

/// Drain connections pushed for a cycle that is already over.
pub(super) fn poll_channel_stale(s: &mut ServerSide) -> Result<()> {
    while let Some(ev) = s
        .channel
        .poll_event(Some(Duration::ZERO))
        .map_err(broker_err)?
    {
        match ev {
            ChannelEvent::Connected { fds, info, .. } => {
                // A refused segment needs no disconnect: dropping it ends the connection.
                if let Ok(link) = Link::new(fds, &info, End::Server, info.client_access) {
                    link.conn.disconnect();
                }
            }
            ChannelEvent::BrokerGone => {
                reregister(s)?;
                break;
            }
        }
    }
    Ok(())
}
