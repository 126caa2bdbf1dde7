//! One SMB connection, session and IPC$ tree per opened remote pipe, with the `smb` crate
//! (vendored with npfs's patches: vendor/PATCHES.md).

use std::time::Duration;

use npfs_core::Win32Error;

use super::creds::Credentials;
use super::status;

/// How long connecting and logging on may take (pipe READs themselves wait without limit).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times a logon is tried when a response fails signature verification.
const LOGON_TRIES: u32 = 3;

/// The user of a session without credentials.
const GUEST: &str = "guest";

/// An open pipe on an SMB server.
pub(crate) struct RemoteFile {
    client: smb::Client,
    pipe: smb::Pipe,
}

/// The NTSTATUS in an SMB error, if the server sent one.
fn status_of(e: &smb::Error) -> Option<u32> {
    match e {
        smb::Error::ReceivedErrorMessage(s, _) | smb::Error::UnexpectedMessageStatus(s) => Some(*s),
        _ => None,
    }
}

/// An error while connecting and logging on: no answer is `ERROR_BAD_NETPATH`.
fn connect_error(host: &str, e: &smb::Error) -> Win32Error {
    let w = match status_of(e) {
        Some(s) => status::to_win32(s),
        None => Win32Error::BAD_NETPATH,
    };
    tracing::debug!("SMB logon to {host}: {e} ({w:?})");
    w
}

/// An error of an operation on the open pipe: a lost connection is `ERROR_NETNAME_DELETED`.
/// Samba reports the server end's close as STATUS_PIPE_DISCONNECTED; npfs gives it as
/// `ERROR_BROKEN_PIPE`, what a local client sees when the server closes (Samba cannot tell a
/// close from a DisconnectNamedPipe).
fn io_error(e: &smb::Error) -> Win32Error {
    let w = match status_of(e) {
        Some(status::PIPE_DISCONNECTED) => Win32Error::BROKEN_PIPE,
        Some(s) => status::to_win32(s),
        None => Win32Error::NETNAME_DELETED,
    };
    tracing::debug!("SMB pipe I/O: {e} ({w:?})");
    w
}

impl RemoteFile {
    /// Connect to `host`, log on with `creds`, open `name` on IPC$.
    pub(crate) fn open(host: &str, name: &str, creds: &Credentials) -> Result<Self, Win32Error> {
        let mut config = smb::ClientConfig::default();
        config.connection.port = Some(creds.port);
        config.connection.timeout = Some(CONNECT_TIMEOUT);
        // No user: the NTLM layer (sspi 0.21) cannot make a null session, so npfs logs on as
        // `guest` with no password, which servers mapping unknown users to guest accept (a
        // guest session cannot sign: allowed then). docs/DEVIATIONS.md, "Remote pipes".
        config.connection.allow_unsigned_guest_access = creds.user.is_none();
        let logon = match creds.user {
            Some(_) => creds.logon_name(),
            None => GUEST.to_owned(),
        };
        // The logon is tried up to LOGON_TRIES times when the crate fails to verify a
        // response's signature: under CPU load smb 0.12.1 sometimes does, on a fresh
        // connection (cause not found; docs/DEVIATIONS.md). Nothing is open yet, so a new
        // connection is harmless.
        let mut tries = 0;
        let client = loop {
            tries += 1;
            let client = smb::Client::new(config.clone());
            match client.ipc_connect(host, &logon, creds.password.clone()) {
                Ok(()) => break client,
                Err(e) if tries < LOGON_TRIES && matches!(e, smb::Error::TranformFailed(_)) => {
                    tracing::debug!("SMB logon to {host}: {e}; trying again");
                    let _ = client.close();
                }
                Err(e) => {
                    let _ = client.close();
                    return Err(connect_error(host, &e));
                }
            }
        };
        let pipe = match client.open_pipe(host, name) {
            Ok(p) => p,
            Err(e) => {
                let w = match status_of(&e) {
                    // The socket exists but nobody accepts, or the server accepted and closed
                    // (all instances busy): ERROR_PIPE_BUSY, so that WaitNamedPipe retries.
                    Some(status::CONNECTION_REFUSED | status::CONNECTION_DISCONNECTED) => {
                        Win32Error::PIPE_BUSY
                    }
                    Some(s) => status::to_win32(s),
                    None => Win32Error::NETNAME_DELETED,
                };
                tracing::debug!("SMB open of {name} on {host}: {e} ({w:?})");
                let _ = client.close();
                return Err(w);
            }
        };
        Ok(RemoteFile { client, pipe })
    }

    /// SMB2 READ: the data and whether the server said the message goes on.
    pub(crate) fn read(&self, len: u32) -> Result<(Vec<u8>, bool), Win32Error> {
        self.pipe.read_raw(len).map_err(|e| io_error(&e))
    }

    /// SMB2 WRITE: the count written.
    pub(crate) fn write(&self, data: &[u8]) -> Result<u32, Win32Error> {
        self.pipe.write_raw(data).map_err(|e| io_error(&e))
    }

    /// FSCTL_PIPE_TRANSCEIVE: the reply (at most `max_out` bytes) and whether it was cut.
    pub(crate) fn transceive(
        &self,
        request: &[u8],
        max_out: u32,
    ) -> Result<(Vec<u8>, bool), Win32Error> {
        self.pipe
            .transceive_raw(request.to_vec(), max_out)
            .map_err(|e| io_error(&e))
    }
}

impl RemoteFile {
    /// CLOSE the pipe and log off now, though a READ of it may still be in flight on another
    /// thread (that READ then fails): what closing the last handle does.
    pub(crate) fn shutdown(&self) {
        let _ = self.pipe.close();
        let _ = self.client.close();
    }
}

impl Drop for RemoteFile {
    /// CLOSE the pipe (the server's side sees its client go), then log off.
    fn drop(&mut self) {
        let _ = self.pipe.close();
        let _ = self.client.close();
    }
}
