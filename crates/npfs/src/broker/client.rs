//! [`BrokerConn`]: client operations.

use npfs_core::name::PipeName;
use npfs_core::namespace::PipeDetail;
use npfs_proto::broker::{Reply, Request};

use super::socket::FrameSocket;
use super::{
    autostart, fds_from, protocol_error, BrokerConfig, BrokerError, ConnFds, ConnInfo, PipeSummary,
    WaitTimeout,
};

/// One connection to the broker for client operations, auto-starting the broker.
///
/// Requests are answered in order, one at a time. Holding the connection keeps the broker
/// from exiting when idle: drop it when done.
#[derive(Debug)]
pub struct BrokerConn {
    cfg: BrokerConfig,
    sock: FrameSocket,
}

impl BrokerConn {
    /// Connect to the broker of [`BrokerConfig::from_env`]; if none answers, start one and
    /// retry with backoff for up to about 5 s.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Io`] when no broker can be reached or started.
    pub fn connect() -> Result<BrokerConn, BrokerError> {
        BrokerConn::connect_with(&BrokerConfig::from_env()?)
    }

    /// [`BrokerConn::connect`] with an explicit configuration.
    ///
    /// # Errors
    ///
    /// As [`BrokerConn::connect`].
    pub fn connect_with(cfg: &BrokerConfig) -> Result<BrokerConn, BrokerError> {
        let stream = autostart::connect(cfg)?;
        Ok(BrokerConn {
            cfg: cfg.clone(),
            sock: FrameSocket::new(stream),
        })
    }

    /// CreateFile on a pipe name: connect to the instance that has been listening longest.
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND` (no such pipe), `ERROR_PIPE_BUSY` (no instance listening),
    /// `ERROR_ACCESS_DENIED` (the access does not fit the pipe's direction).
    pub fn open(
        &mut self,
        name: &PipeName,
        desired_access: u32,
    ) -> Result<(ConnFds, ConnInfo), BrokerError> {
        let req = Request::Open {
            name: name.full(),
            desired_access,
        };
        let (reply, fds) = self.call(&req)?;
        match reply {
            Reply::Opened {
                conn_id,
                instance_id,
                attrs,
                server_pid,
                client_pid,
                epoch: _,
            } => Ok((
                fds_from(fds)?,
                ConnInfo {
                    conn_id,
                    attrs,
                    server_pid,
                    client_pid,
                    instance_id,
                },
            )),
            other => Err(unexpected(other)),
        }
    }

    /// WaitNamedPipe: returns when an instance of the pipe listens.
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND` at once when the pipe does not exist, `ERROR_SEM_TIMEOUT` when
    /// the time-out passes.
    pub fn wait(&mut self, name: &PipeName, timeout: WaitTimeout) -> Result<(), BrokerError> {
        let req = Request::Wait {
            name: name.full(),
            timeout,
        };
        match self.call(&req)?.0 {
            Reply::WaitDone => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Number of instances of the pipe (GetNamedPipeHandleState's `lpCurInstances`); 0 when
    /// the pipe does not exist (any more), as a client whose server closed sees it.
    ///
    /// # Errors
    ///
    /// `ERROR_BAD_NETPATH` for a remote name; [`BrokerError::Io`] only otherwise.
    pub fn instance_count(&mut self, name: &PipeName) -> Result<u32, BrokerError> {
        let req = Request::InstanceCount { name: name.full() };
        match self.call(&req)?.0 {
            Reply::Count(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    /// Every pipe of the broker, sorted by name.
    ///
    /// # Errors
    ///
    /// [`BrokerError::Io`] only.
    pub fn list(&mut self) -> Result<Vec<PipeSummary>, BrokerError> {
        let mut out = Vec::new();
        let (mut reply, _) = self.call(&Request::List)?;
        loop {
            match reply {
                Reply::PipeList { more, pipes } => {
                    out.extend(pipes);
                    if !more {
                        return Ok(out);
                    }
                }
                other => return Err(unexpected(other)),
            }
            reply = self.recv()?.0;
        }
    }

    /// The details of one pipe: its summary, whether it rejects remote clients, and the
    /// state, server and client of each instance (`npfs info`).
    ///
    /// # Errors
    ///
    /// `ERROR_FILE_NOT_FOUND` when the pipe does not exist, `ERROR_INVALID_NAME` /
    /// `ERROR_BAD_NETPATH` for a name the broker cannot serve; [`BrokerError::Io`] otherwise.
    pub fn describe(&mut self, name: &PipeName) -> Result<PipeDetail, BrokerError> {
        let mut all = self.describe_request(Some(name.full()))?;
        match (all.pop(), all.is_empty()) {
            (Some(d), true) => Ok(d),
            _ => Err(BrokerError::Io(protocol_error(
                "describe: not exactly one pipe",
            ))),
        }
    }

    /// [`BrokerConn::describe`] for every pipe of the broker, sorted by name (`npfs list`).
    ///
    /// # Errors
    ///
    /// [`BrokerError::Io`] only.
    pub fn describe_all(&mut self) -> Result<Vec<PipeDetail>, BrokerError> {
        self.describe_request(None)
    }

    fn describe_request(&mut self, name: Option<String>) -> Result<Vec<PipeDetail>, BrokerError> {
        let mut out = Vec::new();
        let (mut reply, _) = self.call(&Request::Describe { name })?;
        loop {
            match reply {
                Reply::PipeDetails { more, pipes } => {
                    out.extend(pipes);
                    if !more {
                        return Ok(out);
                    }
                }
                other => return Err(unexpected(other)),
            }
            reply = self.recv()?.0;
        }
    }

    /// Send one request and read its reply; an error reply becomes
    /// [`BrokerError::Win32`]. If the broker went away (idle exit, crash) before answering,
    /// reconnect — starting a new broker — and try again, a few times.
    fn call(&mut self, req: &Request) -> Result<(Reply, Vec<std::os::fd::OwnedFd>), BrokerError> {
        let mut attempt = 0;
        let (reply, fds) = loop {
            match self.sock.send(req).and_then(|()| self.recv_io()) {
                Ok(r) => break r,
                Err(e) if is_gone(&e) && attempt < RETRIES => {
                    attempt += 1;
                    self.sock = FrameSocket::new(autostart::connect(&self.cfg)?);
                }
                Err(e) => return Err(e.into()),
            }
        };
        match reply {
            Reply::Error(e) => Err(e.into()),
            r => Ok((r, fds)),
        }
    }

    fn recv_io(&mut self) -> std::io::Result<(Reply, Vec<std::os::fd::OwnedFd>)> {
        self.sock
            .recv(None)?
            .ok_or_else(|| protocol_error("no reply"))
    }

    fn recv(&mut self) -> Result<(Reply, Vec<std::os::fd::OwnedFd>), BrokerError> {
        Ok(self.recv_io()?)
    }
}

/// How many times a request is sent again to a new broker when the old one vanished.
pub(crate) const RETRIES: u32 = 3;

/// The broker connection ended (as opposed to a protocol error).
pub(crate) fn is_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::UnexpectedEof | K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted
    )
}

pub(crate) fn unexpected(reply: Reply) -> BrokerError {
    BrokerError::Io(protocol_error(&format!("unexpected reply {reply:?}")))
}
