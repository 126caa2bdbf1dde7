//! The operation engine: ReadFile, WriteFile, FlushFileBuffers and TransactNamedPipe as
//! operations that complete once, as NT I/O requests do.
//!
//! Each operation is a small state machine whose `step` runs under the connection lock and
//! either completes or says what it waits for ([`WaitOn`]: a direction's change counter as it
//! was seen under the lock). How to wait is the caller's business — that is the only thing
//! that differs between the blocking API ([`block`]: adaptive spin, then a futex), the tokio API
//! (a waker and the connection's doorbell) and, later, overlapped I/O. `cancel` is
//! CancelIoEx: a pending write's unread bytes leave the pipe; a waiting read consumes nothing.

use std::time::Instant;

use npfs_core::queue::{
    ring_read, OpId, ReadClaim, ReadDone, ReadProgress, WriteKind, WriteProgress,
};
use npfs_core::Win32Error;

use crate::conn::{Conn, LinkState, WaitOn};

/// Take the connection lock, or end the operation: a connection whose lock cannot be had in
/// time is broken (`Conn::lock`).
macro_rules! locked {
    ($conn:expr) => {
        match $conn.lock() {
            Ok(g) => g,
            Err(e) => return Step::Done(Err(e)),
        }
    };
}

/// Copies at least this large run outside the connection lock.
const UNLOCKED_COPY: usize = 16 * 1024;

/// One step of an operation.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// The operation completed.
    Done(Result<T, Win32Error>),
    /// Not yet: try again after this changes.
    Wait(WaitOn),
}

/// Run an operation to completion on this thread (the blocking API). `deadline`, when given,
/// cancels the operation when it passes (`ERROR_OPERATION_ABORTED` unless it completed).
pub(crate) fn block<T>(
    conn: &Conn,
    deadline: Option<Instant>,
    mut step: impl FnMut() -> Step<T>,
    mut cancel: impl FnMut() -> bool,
) -> Result<T, Win32Error> {
    loop {
        match step() {
            Step::Done(r) => return r,
            Step::Wait(on) => {
                if !conn.wait_blocking(on, deadline) && cancel() {
                    return Err(Win32Error::OPERATION_ABORTED);
                }
            }
        }
    }
}

/// A completed read as the caller may see it: never longer than its buffer, whatever the
/// shared memory said.
fn clamp_read(d: ReadDone, buf_len: usize) -> ReadDone {
    ReadDone {
        len: d.len.min(buf_len),
        more_data: d.more_data,
    }
}

/// ReadFile.
#[derive(Debug)]
pub(crate) struct ReadOp {
    op: OpId,
    started: bool,
    message_mode: bool,
    nowait: bool,
}

impl ReadOp {
    /// A read in the given read mode; `nowait` is PIPE_NOWAIT (`ERROR_NO_DATA` when empty).
    pub(crate) fn new(message_mode: bool, nowait: bool) -> ReadOp {
        ReadOp {
            op: Conn::new_op(),
            started: false,
            message_mode,
            nowait,
        }
    }

    /// Whether the read is in the queue (registered, or handed data).
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn is_started(&self) -> bool {
        self.started
    }

    /// Start or continue the read into `buf` (the same buffer every time).
    pub(crate) fn step(&mut self, conn: &Conn, buf: &mut [u8]) -> Step<ReadDone> {
        let dir = conn.in_dir();
        let mut g = locked!(conn);
        let state = conn.state_of(&g);
        if !self.started {
            if state == LinkState::Disconnected {
                return Step::Done(Err(Win32Error::PIPE_NOT_CONNECTED));
            }
            conn.reap_dead(&mut g, dir);
            let closing = state == LinkState::Closing;
            let mut q = g.queue(dir);
            if closing && q.is_drained() {
                return Step::Done(Err(Win32Error::BROKEN_PIPE));
            }
            if let Err(e) = q.read_start(
                self.op,
                buf.len(),
                self.message_mode,
                self.nowait || closing,
            ) {
                let e = if closing && e == Win32Error::NO_DATA {
                    Win32Error::BROKEN_PIPE
                } else {
                    e
                };
                return Step::Done(Err(e));
            }
            self.started = true;
        }
        // Copy what the queue assigned to this read; large copies run outside the lock, so
        // that the writer can fill the ring meanwhile (the two copies of a transfer overlap).
        loop {
            let claim = g.queue(dir).read_claim(self.op, buf.len());
            match claim {
                Err(e) => return Step::Done(Err(e)),
                Ok(ReadClaim::Ready(ReadProgress::Done(d))) => {
                    conn.mark_read();
                    return Step::Done(Ok(clamp_read(d, buf.len())));
                }
                Ok(ReadClaim::Ready(ReadProgress::Pending)) => break,
                Ok(ReadClaim::Copy { pos, buf_off, len }) => {
                    let Some(dst) = buf.get_mut(buf_off..buf_off.saturating_add(len)) else {
                        return Step::Done(Err(Win32Error::BROKEN_PIPE));
                    };
                    if len >= UNLOCKED_COPY {
                        drop(g);
                        ring_read(&conn.ring(dir), pos, dst);
                        g = locked!(conn);
                    } else {
                        ring_read(&conn.ring(dir), pos, dst);
                    }
                    let copied = g.queue(dir).read_copied(self.op, len, buf.len());
                    match copied {
                        Err(e) => return Step::Done(Err(e)),
                        Ok(ReadProgress::Done(d)) => {
                            conn.mark_read();
                            return Step::Done(Ok(clamp_read(d, buf.len())));
                        }
                        Ok(ReadProgress::Pending) => {}
                    }
                }
            }
        }
        match conn.state_of(&g) {
            LinkState::Disconnected => {
                g.queue(dir).read_cancel(self.op);
                Step::Done(Err(Win32Error::PIPE_NOT_CONNECTED))
            }
            LinkState::Closing if g.queue(dir).read_cancel(self.op) => {
                Step::Done(Err(Win32Error::BROKEN_PIPE))
            }
            _ => Step::Wait(g.wait_on(dir)),
        }
    }

    /// A *try* read (the async stream API): a nowait ReadFile that, when it would find
    /// nothing for itself (the pipe empty, or waiting reads ahead of it), leaves the queue
    /// untouched and says what to wait for instead of failing with `ERROR_NO_DATA`.
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn try_step(&mut self, conn: &Conn, buf: &mut [u8]) -> Step<ReadDone> {
        if !self.started {
            let dir = conn.in_dir();
            let mut g = locked!(conn);
            if conn.state_of(&g) == LinkState::Connected {
                conn.reap_dead(&mut g, dir);
                let nothing_for_us = {
                    let mut q = g.queue(dir);
                    q.has_waiting_reads() || q.is_drained()
                };
                if nothing_for_us {
                    return Step::Wait(g.wait_on(dir));
                }
            }
        }
        self.step(conn, buf)
    }

    /// CancelIoEx: true if the read was still waiting (it consumed nothing).
    pub(crate) fn cancel(&mut self, conn: &Conn) -> bool {
        if !self.started {
            return false;
        }
        let Ok(mut g) = conn.lock() else { return false };
        let dir = conn.in_dir();
        let out = g.queue(dir).read_cancel(self.op);
        out
    }
}

/// WriteFile (and the write half of TransactNamedPipe).
#[derive(Debug)]
pub(crate) struct WriteOp {
    op: OpId,
    started: bool,
    kind: WriteKind,
    /// Bytes of the caller's buffer that the queue took.
    len: usize,
}

impl WriteOp {
    /// A write; `nowait` is PIPE_NOWAIT.
    pub(crate) fn new(nowait: bool) -> WriteOp {
        let kind = if nowait {
            WriteKind::NoWait
        } else {
            WriteKind::Normal
        };
        WriteOp {
            op: Conn::new_op(),
            started: false,
            kind,
            len: 0,
        }
    }

    fn unbuffered() -> WriteOp {
        WriteOp {
            op: Conn::new_op(),
            started: false,
            kind: WriteKind::Unbuffered,
            len: 0,
        }
    }

    /// Start or continue the write of `data` (the same bytes every time).
    pub(crate) fn step(&mut self, conn: &Conn, data: &[u8]) -> Step<usize> {
        let dir = conn.out_dir();
        let mut g = locked!(conn);
        if !self.started {
            match conn.state_of(&g) {
                LinkState::Disconnected => return Step::Done(Err(Win32Error::PIPE_NOT_CONNECTED)),
                LinkState::Closing => return Step::Done(Err(Win32Error::NO_DATA)),
                LinkState::Connected => {}
            }
            let started = g.queue(dir).write_start(self.op, data, self.kind);
            match started {
                // Never more than the caller gave, whatever the shared memory says.
                Ok(WriteProgress::Done(n)) => return Step::Done(Ok(n.min(data.len()))),
                Ok(WriteProgress::Pending) => {
                    self.started = true;
                    self.len = data.len();
                }
                // Too many unread messages for the queue's table (docs/DEVIATIONS.md): a
                // PIPE_NOWAIT write never waits, it reports nothing written, as when its
                // bytes do not fit the quota; a blocking write waits for the reader.
                Err(e) if e == Win32Error::NOT_ENOUGH_MEMORY => {
                    if matches!(self.kind, WriteKind::NoWait) {
                        return Step::Done(Ok(0));
                    }
                    return Step::Wait(g.wait_on(dir));
                }
                Err(e) => return Step::Done(Err(e)),
            }
        }
        let taken = &data[..self.len.min(data.len())];
        let polled = g.queue(dir).write_poll(self.op, taken);
        match polled {
            Err(e) => return Step::Done(Err(e)),
            // Never more than the queue took, whatever the shared memory says.
            Ok(WriteProgress::Done(n)) => return Step::Done(Ok(n.min(taken.len()))),
            Ok(WriteProgress::Pending) => {}
        }
        match conn.state_of(&g) {
            LinkState::Disconnected => {
                g.queue(dir).write_cancel(self.op);
                Step::Done(Err(Win32Error::PIPE_NOT_CONNECTED))
            }
            LinkState::Closing => {
                g.queue(dir).write_cancel(self.op);
                Step::Done(Err(Win32Error::BROKEN_PIPE))
            }
            LinkState::Connected => Step::Wait(g.wait_on(dir)),
        }
    }

    /// Whether the write got into the queue (its bytes are in the pipe, completion pending).
    #[allow(dead_code)] // used by the tokio module
    pub(crate) fn started(&self) -> bool {
        self.started
    }

    /// CancelIoEx: true if the write was pending; its unread bytes left the pipe.
    pub(crate) fn cancel(&mut self, conn: &Conn) -> bool {
        if !self.started {
            return false;
        }
        let Ok(mut g) = conn.lock() else { return false };
        let dir = conn.out_dir();
        let out = g.queue(dir).write_cancel(self.op);
        out
    }
}

/// FlushFileBuffers: completes when the other end has read everything written here.
#[derive(Debug, Default)]
pub(crate) struct FlushOp {
    waited: bool,
}

impl FlushOp {
    /// Check, or keep waiting.
    pub(crate) fn step(&mut self, conn: &Conn) -> Step<()> {
        let dir = conn.out_dir();
        let mut g = locked!(conn);
        match conn.state_of(&g) {
            LinkState::Disconnected => return Step::Done(Err(Win32Error::PIPE_NOT_CONNECTED)),
            // A flush started after the peer closed finds its queue emptied; one that was
            // already waiting fails, unless its data had all been read.
            LinkState::Closing => {
                return Step::Done(if !self.waited || conn.peer_gone_drained(&g) {
                    Ok(())
                } else {
                    Err(Win32Error::BROKEN_PIPE)
                })
            }
            LinkState::Connected => {}
        }
        if g.queue(dir).is_drained() {
            return Step::Done(Ok(()));
        }
        self.waited = true;
        Step::Wait(g.wait_on(dir))
    }
}

/// TransactNamedPipe: one message out, one message back. The caller checked the pipe type and
/// the handle's read mode.
#[derive(Debug)]
pub(crate) struct TransactOp {
    write: WriteOp,
    read: ReadOp,
    wrote: bool,
}

impl TransactOp {
    /// A transaction.
    pub(crate) fn new() -> TransactOp {
        TransactOp {
            write: WriteOp::unbuffered(),
            read: ReadOp::new(true, false),
            wrote: false,
        }
    }

    /// Start or continue.
    pub(crate) fn step(&mut self, conn: &Conn, request: &[u8], reply: &mut [u8]) -> Step<ReadDone> {
        if !self.write.started && !self.wrote {
            let mut g = locked!(conn);
            match conn.state_of(&g) {
                LinkState::Disconnected => return Step::Done(Err(Win32Error::PIPE_NOT_CONNECTED)),
                LinkState::Closing => return Step::Done(Err(Win32Error::BAD_PIPE)),
                LinkState::Connected => {}
            }
            let inn = conn.in_dir();
            let busy = {
                let mut q = g.queue(inn);
                q.avail() > 0 || q.has_waiting_reads() || !q.is_drained()
            };
            if busy {
                return Step::Done(Err(Win32Error::PIPE_BUSY));
            }
        }
        if !self.wrote {
            match self.write.step(conn, request) {
                Step::Done(Err(e)) => return Step::Done(Err(e)),
                Step::Done(Ok(_)) => self.wrote = true,
                // Only when the ring itself is full: the request follows as it drains.
                Step::Wait(on) => return Step::Wait(on),
            }
        }
        self.read.step(conn, reply)
    }

    /// CancelIoEx: the request already written stays; a waiting reply read is cancelled.
    pub(crate) fn cancel(&mut self, conn: &Conn) -> bool {
        if !self.wrote {
            return self.write.cancel(conn);
        }
        self.read.cancel(conn)
    }
}
