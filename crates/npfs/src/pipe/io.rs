//! ReadFile, WriteFile (and their time-outs), PeekNamedPipe, TransactNamedPipe, FlushFileBuffers;
//! `std::io::Read`/`Write` over them.

use super::*;

impl PipeHandle {
    /// ReadFile: read up to `buf.len()` bytes; in message read mode at most one message, with
    /// `more_data` when it did not fit (the rest stays for the next read, by any thread or
    /// process). Blocks while the pipe is empty unless the handle is in `PIPE_NOWAIT` mode
    /// (then `ERROR_NO_DATA`).
    #[doc(alias = "ReadFile")]
    pub fn read(&self, buf: &mut [u8]) -> Result<ReadOutcome> {
        let link = match self.begin(DataCall::Read)? {
            Target::Link(link) => link,
            _ => return self.remote_pipe()?.read(buf),
        };
        let m = self.modes();
        let conn = &link.conn;
        let mut op = ReadOp::new(m.read_mode == ReadMode::Message, m.nowait);
        let r = engine::block(conn, None, || op.step(conn, buf), || false)?;
        Ok(r.into())
    }

    /// WriteFile: write `data` (one message on a message pipe). Returns when the unread bytes
    /// up to its end fit the reader's quota. In `PIPE_NOWAIT` mode it never waits and returns
    /// what was written (spec/api.md §4.4).
    #[doc(alias = "WriteFile")]
    pub fn write(&self, data: &[u8]) -> Result<usize> {
        let link = match self.begin(DataCall::Write)? {
            Target::Link(link) => link,
            _ => return self.remote_pipe()?.write(data),
        };
        let conn = &link.conn;
        let mut op = WriteOp::new(self.modes().nowait);
        engine::block(conn, None, || op.step(conn, data), || false)
    }

    /// ReadFile with a limit: when `timeout` passes first, the read is cancelled (it consumed
    /// nothing) and fails with `ERROR_OPERATION_ABORTED`, as CancelIoEx would make it.
    pub fn read_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<ReadOutcome> {
        let link = self.begin_local(DataCall::Read)?;
        let m = self.modes();
        let conn = &link.conn;
        let mut op = ReadOp::new(m.read_mode == ReadMode::Message, m.nowait);
        let deadline = std::time::Instant::now() + timeout;
        let op = std::cell::RefCell::new(&mut op);
        let r = engine::block(
            conn,
            Some(deadline),
            || op.borrow_mut().step(conn, buf),
            || op.borrow_mut().cancel(conn),
        )?;
        Ok(r.into())
    }

    /// WriteFile with a limit: when `timeout` passes before the write completes, it is
    /// cancelled — its unread bytes leave the pipe — and fails with `ERROR_OPERATION_ABORTED`.
    pub fn write_timeout(&self, data: &[u8], timeout: Duration) -> Result<usize> {
        let link = match self.begin(DataCall::Write)? {
            Target::Link(link) => link,
            // An SMB2 WRITE to a pipe completes without waiting.
            _ => return self.remote_pipe()?.write(data),
        };
        let conn = &link.conn;
        let op = std::cell::RefCell::new(WriteOp::new(self.modes().nowait));
        let deadline = std::time::Instant::now() + timeout;
        engine::block(
            conn,
            Some(deadline),
            || op.borrow_mut().step(conn, data),
            || op.borrow_mut().cancel(conn),
        )
    }

    /// TransactNamedPipe with a limit on the wait for the reply (the request stays written,
    /// as when a pending transaction is cancelled on Windows).
    pub fn transact_timeout(
        &self,
        request: &[u8],
        reply: &mut [u8],
        timeout: Duration,
    ) -> Result<ReadOutcome> {
        let link = self.begin_local(DataCall::Transact)?;
        let conn = &link.conn;
        let op = std::cell::RefCell::new(TransactOp::new());
        let deadline = std::time::Instant::now() + timeout;
        let r = engine::block(
            conn,
            Some(deadline),
            || op.borrow_mut().step(conn, request, reply),
            || op.borrow_mut().cancel(conn),
        )?;
        Ok(r.into())
    }

    /// PeekNamedPipe: copy unread data without removing it; never waits.
    #[doc(alias = "PeekNamedPipe")]
    pub fn peek(&self, buf: &mut [u8]) -> Result<PeekOutcome> {
        self.check_access(AccessNeed::Read)?;
        let link = match &self.inner.kind {
            Kind::Client(l) => l.clone(),
            _ => self.link(Win32Error::BAD_PIPE, Win32Error::BAD_PIPE)?,
        };
        let p = link.conn.peek(buf)?;
        let read = p.info.read as u32;
        Ok(PeekOutcome {
            bytes_read: read,
            total_bytes_avail: p.info.avail.min(u64::from(u32::MAX)) as u32,
            bytes_left_this_message: (p.info.message_len as u32).wrapping_sub(read),
        })
    }

    /// TransactNamedPipe: write one message and read one reply. Needs a message pipe, this
    /// handle in message read mode and nothing unread (`ERROR_BAD_PIPE`, `ERROR_PIPE_BUSY`).
    #[doc(alias = "TransactNamedPipe")]
    pub fn transact(&self, request: &[u8], reply: &mut [u8]) -> Result<ReadOutcome> {
        let link = match self.begin(DataCall::Transact)? {
            Target::Link(link) => link,
            _ => return self.remote_pipe()?.transact(request, reply),
        };
        let conn = &link.conn;
        let mut op = TransactOp::new();
        let r = engine::block(conn, None, || op.step(conn, request, reply), || false)?;
        Ok(r.into())
    }

    /// FlushFileBuffers: wait until the other end has read everything written here.
    #[doc(alias = "FlushFileBuffers")]
    pub fn flush(&self) -> Result<()> {
        match self.begin(DataCall::Flush)? {
            Target::Link(l) => {
                let mut op = FlushOp::default();
                engine::block(&l.conn, None, || op.step(&l.conn), || false)
            }
            Target::Remote | Target::Done => Ok(()),
        }
    }
}

impl std::io::Read for &PipeHandle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match PipeHandle::read(self, buf) {
            Ok(o) => Ok(o.len),
            Err(e) if e == Win32Error::BROKEN_PIPE => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

impl std::io::Write for &PipeHandle {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(PipeHandle::write(self, buf)?)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(PipeHandle::flush(self)?)
    }
}

macro_rules! io_impls {
    ($t:ty) => {
        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &**self, buf)
            }
        }
        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &**self, buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                std::io::Write::flush(&mut &**self)
            }
        }
    };
}

io_impls!(PipeServer);

io_impls!(PipeClient);
