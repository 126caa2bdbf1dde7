//! What a server learns about a remote client (one opened through the broker's SMB bridge).

use std::time::Duration;

use npfs_core::Win32Error;

use super::{lock, poll_channel, PipeServer, Result, ServerLink};

impl PipeServer {
    /// GetNamedPipeClientComputerName: the connected client's computer name when it is
    /// remote — through Samba, the SMB client's IP address (smbd does not pass the name) —
    /// or `None` for a local client (the C ABI then fails with `ERROR_PIPE_LOCAL`).
    ///
    /// # Errors
    ///
    /// `ERROR_PIPE_NOT_CONNECTED` without a connected client.
    #[doc(alias = "GetNamedPipeClientComputerName")]
    #[doc(alias = "GetNamedPipeClientComputerNameW")]
    pub fn client_computer_name(&self) -> Result<Option<String>> {
        let mut s = lock(self.side());
        let _ = poll_channel(&mut s, Some(Duration::ZERO));
        let ServerLink::Connected(_) = &s.link else {
            return Err(Win32Error::PIPE_NOT_CONNECTED);
        };
        let Some(c) = s.channel.client_credentials(s.conn_id) else {
            return Ok(None);
        };
        let name = &c.security.computer_name;
        Ok((c.security.remote && !name.is_empty()).then(|| name.clone()))
    }
}
