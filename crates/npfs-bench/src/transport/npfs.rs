//! npfs through its blocking API: the parent is the server (CreateNamedPipe, then
//! ConnectNamedPipe once the child has opened), the child is the client (CreateFile).
//! Both directions get a 1 MiB quota (`nInBufferSize`/`nOutBufferSize`), half of each
//! direction's shared-memory ring.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use npfs::consts::{PIPE_READMODE_MESSAGE, PIPE_WAIT};
use npfs::{PipeClient, PipeHandle, PipeServer, ServerOptions, Win32Error};

use super::{Endpoint, Prepared};
use crate::child::ChildArgs;

/// The quota of each direction.
pub const NPFS_BUFFER: u32 = 1 << 20;

/// A fresh pipe name for this process.
pub fn unique_name(what: &str) -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    format!(
        r"\\.\pipe\npfs-bench-{what}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A Win32 error as an `io::Error` that names the operation.
pub fn w32(op: &'static str) -> impl Fn(Win32Error) -> io::Error {
    move |e| io::Error::other(format!("{op}: {e:?}"))
}

enum End {
    Server(PipeServer),
    Client(PipeClient),
}

struct Npfs {
    end: End,
    message: bool,
}

impl Npfs {
    fn handle(&self) -> &PipeHandle {
        match &self.end {
            End::Server(s) => s,
            End::Client(c) => c,
        }
    }
}

impl Endpoint for Npfs {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        let n = self.handle().write(buf).map_err(w32("WriteFile"))?;
        if n != buf.len() {
            return Err(io::Error::other("short WriteFile"));
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let h = self.handle();
        if self.message {
            let r = h.read(buf).map_err(w32("ReadFile"))?;
            if r.len != buf.len() || r.more_data {
                return Err(io::Error::other("message of the wrong length"));
            }
            return Ok(());
        }
        let mut got = 0;
        while got < buf.len() {
            let r = h.read(&mut buf[got..]).map_err(w32("ReadFile"))?;
            if r.len == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            got += r.len;
        }
        Ok(())
    }

    fn peer_ready(&mut self) -> io::Result<()> {
        if let End::Server(s) = &self.end {
            match s.connect() {
                Ok(()) | Err(Win32Error::PIPE_CONNECTED) => {}
                Err(e) => return Err(w32("ConnectNamedPipe")(e)),
            }
        }
        Ok(())
    }
}

/// Server options of the measured pipes.
pub fn server_options(message: bool) -> ServerOptions {
    let mut o = ServerOptions::new();
    o.message_type(message)
        .message_read_mode(message)
        .in_buffer_size(NPFS_BUFFER)
        .out_buffer_size(NPFS_BUFFER);
    o
}

pub(super) fn prepare(message: bool) -> io::Result<Prepared> {
    let name = unique_name("data");
    let server = server_options(message)
        .create(&name)
        .map_err(w32("CreateNamedPipe"))?;
    Ok(Prepared {
        child_args: vec!["--name".into(), name],
        inherit: Vec::new(),
        endpoint: Box::new(Npfs {
            end: End::Server(server),
            message,
        }),
    })
}

pub(super) fn open(message: bool, args: &ChildArgs) -> io::Result<Box<dyn Endpoint>> {
    let client = PipeClient::open_duplex(args.get("name")?).map_err(w32("CreateFile"))?;
    if message {
        client
            .set_handle_mode(PIPE_READMODE_MESSAGE | PIPE_WAIT)
            .map_err(w32("SetNamedPipeHandleState"))?;
    }
    Ok(Box::new(Npfs {
        end: End::Client(client),
        message,
    }))
}
