//! WaitNamedPipe and CallNamedPipe.

use super::*;

/// WaitNamedPipe: wait until an instance of the pipe is listening. `timeout_ms` is
/// `NMPWAIT_USE_DEFAULT_WAIT` (0), `NMPWAIT_WAIT_FOREVER` or milliseconds. Errors:
/// `ERROR_FILE_NOT_FOUND` at once when no such pipe exists, `ERROR_SEM_TIMEOUT`.
#[doc(alias = "WaitNamedPipe")]
#[doc(alias = "WaitNamedPipeA")]
#[doc(alias = "WaitNamedPipeW")]
pub fn wait_named_pipe(name: &str, timeout_ms: u32) -> Result<()> {
    let name = PipeName::parse(name).map_err(|_| Win32Error::BAD_PATHNAME)?;
    if let npfs_core::name::Server::Remote(host) = &name.server {
        return crate::remote::wait(host, &name.name, timeout_ms); // a retry: see crate::remote
    }
    let timeout = match timeout_ms {
        NMPWAIT_USE_DEFAULT_WAIT => broker::WaitTimeout::Default,
        NMPWAIT_WAIT_FOREVER => broker::WaitTimeout::Forever,
        ms => broker::WaitTimeout::Millis(ms),
    };
    let mut b = BrokerConn::connect().map_err(broker_err)?;
    b.wait(&name, timeout).map_err(broker_err)
}

/// CallNamedPipe: open a message pipe (waiting once if busy), send `request`, read one reply
/// into `reply`, close. `more_data` in the outcome means the reply was cut short (the rest is
/// lost with the handle, as on Windows).
#[doc(alias = "CallNamedPipe")]
#[doc(alias = "CallNamedPipeA")]
#[doc(alias = "CallNamedPipeW")]
pub fn call_named_pipe(
    name: &str,
    request: &[u8],
    reply: &mut [u8],
    timeout_ms: u32,
) -> Result<ReadOutcome> {
    let client = match PipeClient::open_duplex(name) {
        Ok(c) => c,
        Err(e) if e == Win32Error::PIPE_BUSY && timeout_ms != NMPWAIT_NOWAIT => {
            wait_named_pipe(name, timeout_ms)?;
            PipeClient::open_duplex(name)?
        }
        Err(e) => return Err(e),
    };
    client.set_handle_mode(PIPE_READMODE_MESSAGE)?;
    client.transact(request, reply)
}
