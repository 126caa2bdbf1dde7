//! The stream halves of a handle: `AsyncRead`/`try_read` as *try* reads, and
//! `AsyncWrite`/`try_write` with backpressure. Both are cancel-safe: nothing they start is
//! left waiting in the queue between polls, and data the queue handed over is kept here.

use std::sync::Arc;

use npfs_core::Win32Error;

use crate::conn::WaitOn;
use crate::engine::{ReadOp, Step, WriteOp};
use crate::pipe::Link;

use super::driver::Waiter;

/// Outcome of one non-blocking attempt.
pub(crate) enum Try {
    /// Bytes moved (read into the buffer, or written).
    Done(usize),
    /// End of stream (the writer closed and everything was read).
    Eof,
    /// Nothing possible now: wait for this to change.
    Block(WaitOn),
}

/// The reading half.
#[derive(Default)]
pub(crate) struct ReadSide {
    /// A try read that was handed data not yet in the ring: finished into a staging buffer.
    pending: Option<(Arc<Link>, ReadOp, Vec<u8>)>,
    /// Bytes read but not yet given to the caller.
    carry: Vec<u8>,
    carry_pos: usize,
    /// The waiter of `poll_read`.
    pub(crate) waiter: Waiter,
}

impl ReadSide {
    fn take_carry(&mut self, buf: &mut [u8]) -> usize {
        let left = &self.carry[self.carry_pos..];
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        self.carry_pos += n;
        if self.carry_pos == self.carry.len() {
            self.carry.clear();
            self.carry_pos = 0;
        }
        n
    }

    /// Drop what belongs to another connection (the server reconnected).
    pub(crate) fn forget(&mut self) {
        if let Some((link, mut op, _)) = self.pending.take() {
            op.cancel(&link.conn);
        }
        self.carry.clear();
        self.carry_pos = 0;
        self.waiter.reset();
    }

    /// One non-blocking read into `buf` (non-empty): a ReadFile in nowait mode, which takes
    /// data only when no waiting read is ahead of it, and registers nothing that could wait.
    pub(crate) fn try_read(
        &mut self,
        link: &Arc<Link>,
        message_mode: bool,
        buf: &mut [u8],
    ) -> Result<Try, Win32Error> {
        if buf.is_empty() {
            return Ok(Try::Done(0));
        }
        if self.carry_pos < self.carry.len() {
            return Ok(Try::Done(self.take_carry(buf)));
        }
        if let Some((l, op, staging)) = &mut self.pending {
            if !Arc::ptr_eq(l, link) {
                self.forget();
            } else {
                match op.step(&l.conn, staging) {
                    Step::Wait(on) => return Ok(Try::Block(on)),
                    Step::Done(r) => {
                        let (_, _, mut staging) = self.pending.take().expect("pending");
                        match r {
                            Ok(d) => {
                                staging.truncate(d.len);
                                self.carry = staging;
                                self.carry_pos = 0;
                                return Ok(Try::Done(self.take_carry(buf)));
                            }
                            Err(e) => return map_read_err(e, WaitOn { dir: 0, seq: 0 }),
                        }
                    }
                }
            }
        }
        let conn = &link.conn;
        let on = conn.wait_on_now(conn.in_dir());
        let mut op = ReadOp::new(message_mode, true);
        match op.try_step(conn, buf) {
            Step::Done(Ok(d)) => Ok(Try::Done(d.len)),
            // Lost a race for the data: `on` is stale by now, so the wait returns at once and
            // the next attempt looks again without touching the queue.
            Step::Done(Err(e)) => map_read_err(e, on),
            Step::Wait(on) if !op.is_started() => Ok(Try::Block(on)),
            Step::Wait(on) => {
                // Data was assigned to this read but is not all in the ring yet: it is ours,
                // so finish it into a buffer of our own (holding what was already copied).
                self.pending = Some((link.clone(), op, buf.to_vec()));
                Ok(Try::Block(on))
            }
        }
    }
}

fn map_read_err(e: Win32Error, on: WaitOn) -> Result<Try, Win32Error> {
    if e == Win32Error::NO_DATA {
        Ok(Try::Block(on))
    } else if e == Win32Error::BROKEN_PIPE {
        Ok(Try::Eof)
    } else {
        Err(e)
    }
}

impl Drop for ReadSide {
    fn drop(&mut self) {
        if let Some((link, mut op, _)) = self.pending.take() {
            op.cancel(&link.conn);
        }
    }
}

/// The writing half.
#[derive(Default)]
pub(crate) struct WriteSide {
    /// A write reported written whose completion (quota) is still to come; its bytes are in
    /// the pipe. The next write, flush or shutdown waits for it.
    inflight: Option<(Arc<Link>, WriteOp, Vec<u8>)>,
    /// The waiter of `poll_write`/`poll_flush`.
    pub(crate) waiter: Waiter,
}

impl WriteSide {
    /// Drop what belongs to another connection.
    pub(crate) fn forget(&mut self) {
        if let Some((link, mut op, _)) = self.inflight.take() {
            op.cancel(&link.conn);
        }
        self.waiter.reset();
    }

    /// Complete the write in flight, if any: `Done(0)` when there is none left.
    pub(crate) fn finish(&mut self, link: &Arc<Link>) -> Result<Try, Win32Error> {
        if let Some((l, op, data)) = &mut self.inflight {
            if !Arc::ptr_eq(l, link) {
                self.forget();
                return Ok(Try::Done(0));
            }
            match op.step(&l.conn, data) {
                Step::Wait(on) => return Ok(Try::Block(on)),
                Step::Done(r) => {
                    self.inflight = None;
                    r?;
                }
            }
        }
        Ok(Try::Done(0))
    }

    /// One write without waiting: what fits the reader's quota now (a message whole or not
    /// at all; a byte write may be partial), else `Block` while unread data is there. A
    /// message bigger than the whole quota goes in when the pipe is empty and is reported
    /// written; its completion is awaited by the next write or flush.
    pub(crate) fn try_write(&mut self, link: &Arc<Link>, data: &[u8]) -> Result<Try, Win32Error> {
        if let Try::Block(on) = self.finish(link)? {
            return Ok(Try::Block(on));
        }
        let conn = &link.conn;
        let on = conn.wait_on_now(conn.out_dir());
        let mut op = WriteOp::new(true);
        match op.step(conn, data) {
            Step::Done(Ok(n)) if n > 0 || data.is_empty() => return Ok(Try::Done(n)),
            Step::Done(Ok(_)) => {}
            Step::Done(Err(e)) => return Err(e),
            Step::Wait(on) if !op.started() => return Ok(Try::Block(on)),
            Step::Wait(_) => {
                // It all fitted the quota, but the ring is full: the rest follows as it drains.
                self.inflight = Some((link.clone(), op, data.to_vec()));
                return Ok(Try::Done(data.len()));
            }
        }
        if conn.out_available() > 0 {
            return Ok(Try::Block(on));
        }
        let mut op = WriteOp::new(false);
        match op.step(conn, data) {
            Step::Done(r) => r.map(Try::Done),
            Step::Wait(on) if !op.started() => Ok(Try::Block(on)),
            Step::Wait(_) => {
                self.inflight = Some((link.clone(), op, data.to_vec()));
                Ok(Try::Done(data.len()))
            }
        }
    }
}

impl Drop for WriteSide {
    fn drop(&mut self) {
        if let Some((link, mut op, _)) = self.inflight.take() {
            op.cancel(&link.conn);
        }
    }
}
