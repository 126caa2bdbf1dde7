//! Two pipe(2)s, one per direction, with the default 64 KiB pipe buffer.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::pipe::{pipe_with, PipeFlags};

use super::{inherited_fd, read_exact_fd, write_all_fd, Endpoint, Prepared};
use crate::child::ChildArgs;

struct Pipes {
    rx: OwnedFd,
    tx: OwnedFd,
}

impl Endpoint for Pipes {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all_fd(&self.tx, buf)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<()> {
        read_exact_fd(&self.rx, buf)
    }
}

pub(super) fn prepare() -> io::Result<Prepared> {
    // down: parent → child; up: child → parent.
    let (down_r, down_w) = pipe_with(PipeFlags::CLOEXEC)?;
    let (up_r, up_w) = pipe_with(PipeFlags::CLOEXEC)?;
    Ok(Prepared {
        child_args: vec![
            "--rfd".into(),
            down_r.as_raw_fd().to_string(),
            "--wfd".into(),
            up_w.as_raw_fd().to_string(),
        ],
        inherit: vec![down_r, up_w],
        endpoint: Box::new(Pipes {
            rx: up_r,
            tx: down_w,
        }),
    })
}

pub(super) fn open(args: &ChildArgs) -> io::Result<Box<dyn Endpoint>> {
    Ok(Box::new(Pipes {
        rx: inherited_fd(args.num("rfd")?)?,
        tx: inherited_fd(args.num("wfd")?)?,
    }))
}
