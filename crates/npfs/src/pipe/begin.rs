//! The checks before every data operation, written once for the three front ends (the
//! blocking API, `npfs::tokio`, the C ABI's `IoOp`): the handle's access, a remote handle,
//! the state's error for a server end that is not connected, and TransactNamedPipe's pipe
//! type and read mode. The front ends differ only in how they wait.

use super::*;

/// The data operation a front end is about to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataCall {
    /// ReadFile (and the stream reads).
    Read,
    /// WriteFile (and the stream writes).
    Write,
    /// TransactNamedPipe.
    Transact,
    /// FlushFileBuffers.
    Flush,
}

/// Where an operation whose checks passed runs.
pub(crate) enum Target {
    /// On this connection.
    Link(Arc<Link>),
    /// On the SMB server of a remote handle.
    Remote,
    /// Nowhere: it succeeds at once (FlushFileBuffers with nothing to flush).
    Done,
}

impl PipeHandle {
    /// The checks of `call`, in Windows' order: the access the handle holds
    /// (`ERROR_ACCESS_DENIED`), a remote handle (its own rules), then the connection — a
    /// server end listening gives `ERROR_PIPE_LISTENING` to reads and writes, a disconnected
    /// one `ERROR_PIPE_NOT_CONNECTED`, both `ERROR_BAD_PIPE` to TransactNamedPipe and
    /// success to FlushFileBuffers — and last TransactNamedPipe's message pipe in message
    /// read mode (`ERROR_BAD_PIPE`).
    pub(crate) fn begin(&self, call: DataCall) -> Result<Target> {
        self.check_access(match call {
            DataCall::Read => AccessNeed::Read,
            DataCall::Write | DataCall::Flush => AccessNeed::Write,
            DataCall::Transact => AccessNeed::ReadWrite,
        })?;
        if self.remote().is_some() {
            // Remote writes are write-through: nothing to flush.
            return Ok(match call {
                DataCall::Flush => Target::Done,
                _ => Target::Remote,
            });
        }
        let (listening, disconnected) = match call {
            DataCall::Read | DataCall::Write => {
                (Win32Error::PIPE_LISTENING, Win32Error::PIPE_NOT_CONNECTED)
            }
            DataCall::Transact => (Win32Error::BAD_PIPE, Win32Error::BAD_PIPE),
            DataCall::Flush => (Win32Error::SUCCESS, Win32Error::SUCCESS),
        };
        let link = match self.link(listening, disconnected) {
            Ok(link) => link,
            Err(e) if e == Win32Error::SUCCESS => return Ok(Target::Done),
            Err(e) => return Err(e),
        };
        if call == DataCall::Transact
            && (self.inner.attrs.pipe_type != PipeType::Message
                || self.modes().read_mode != ReadMode::Message)
        {
            return Err(Win32Error::BAD_PIPE);
        }
        Ok(Target::Link(link))
    }

    /// [`PipeHandle::begin`] for an operation that only runs on a connection (the time-outs,
    /// which a remote handle cannot do: `ERROR_NOT_SUPPORTED`).
    pub(crate) fn begin_local(&self, call: DataCall) -> Result<Arc<Link>> {
        match self.begin(call)? {
            Target::Link(link) => Ok(link),
            Target::Remote | Target::Done => Err(Win32Error::NOT_SUPPORTED),
        }
    }
}
