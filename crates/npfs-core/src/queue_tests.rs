//! Unit tests of the data queue: the facts of spec/conformance.md test_blocking_rw and
//! spec/api.md §4, one by one, plus a property test against a reference model.

use super::*;
use proptest::prelude::*;

struct Pipe {
    h: Box<SharedQueue>,
    ring: Vec<u8>,
    quota: u32,
    msg: bool,
    next: u64,
}

impl Pipe {
    fn new(quota: u32, msg: bool) -> Self {
        Self::with_ring(quota, msg, 1 << 16)
    }
    fn with_ring(quota: u32, msg: bool, ring: usize) -> Self {
        Pipe {
            h: Box::default(),
            ring: vec![0; ring],
            quota,
            msg,
            next: 1,
        }
    }
    fn q(&mut self) -> Queue<'_> {
        Queue::new(&self.h, &mut self.ring, self.quota, self.msg)
    }
    fn op(&mut self) -> OpId {
        self.next += 1;
        OpId {
            pid: 100,
            seq: self.next,
        }
    }
    fn write(&mut self, data: &[u8]) -> (OpId, WriteProgress) {
        let op = self.op();
        let r = self.q().write_start(op, data, WriteKind::Normal).unwrap();
        (op, r)
    }
    fn write_kind(&mut self, data: &[u8], kind: WriteKind) -> WriteProgress {
        let op = self.op();
        self.q().write_start(op, data, kind).unwrap()
    }
    fn start_read(&mut self, size: usize, msg_mode: bool) -> OpId {
        let op = self.op();
        self.q().read_start(op, size, msg_mode, false).unwrap();
        op
    }
    fn poll_read(&mut self, op: OpId, buf: &mut [u8]) -> Result<ReadProgress, Win32Error> {
        self.q().read_poll(op, buf)
    }
    /// A read that must complete at once.
    fn read_now(&mut self, size: usize, msg_mode: bool) -> (Vec<u8>, bool) {
        let op = self.start_read(size, msg_mode);
        let mut buf = vec![0; size];
        match self.poll_read(op, &mut buf).unwrap() {
            ReadProgress::Done(d) => {
                buf.truncate(d.len);
                (buf, d.more_data)
            }
            ReadProgress::Pending => panic!("read of {size} pending"),
        }
    }
    fn poll_write(&mut self, op: OpId, data: &[u8]) -> WriteProgress {
        self.q().write_poll(op, data).unwrap()
    }
    fn peek(&mut self, size: usize) -> (Vec<u8>, PeekInfo) {
        let mut buf = vec![0; size];
        let p = self.q().peek(&mut buf);
        buf.truncate(p.read);
        (buf, p)
    }
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

// conformance.md test_blocking_rw, with buf_size = 5000 (server → client quota).
fn blocking_rw(msg_type: bool, msg_read: bool) {
    let mut p = Pipe::new(5000, msg_type);
    // "Pending overlapped read (1000) + flush on empty pipe returns immediately; Peek -> 0/0/0."
    let r1000 = p.start_read(1000, msg_read);
    assert!(p.q().is_drained());
    assert_eq!(
        p.peek(12000).1,
        PeekInfo {
            read: 0,
            avail: 0,
            message_len: 0
        }
    );
    // "Sync write of 4000 completes immediately; the pending 1000-byte read completes with
    // 1000 (ERROR_MORE_DATA in message read mode)."
    let w4000 = pattern(4000, 1);
    assert_eq!(p.write(&w4000).1, WriteProgress::Done(4000));
    let mut buf = vec![0; 1000];
    let d = p.poll_read(r1000, &mut buf).unwrap();
    assert_eq!(
        d,
        ReadProgress::Done(ReadDone {
            len: 1000,
            more_data: msg_type && msg_read
        })
    );
    assert_eq!(buf, w4000[..1000]);
    // "Peek -> read 3000, avail 3000, msglen 3000 (msg) / 0 (byte)."
    let (data, info) = p.peek(12000);
    assert_eq!(
        info,
        PeekInfo {
            read: 3000,
            avail: 3000,
            message_len: if msg_type { 3000 } else { 0 }
        }
    );
    assert_eq!(data, w4000[1000..]);
    // "A write of buf_size (5000) when 3000 are queued goes PENDING; its data is visible."
    let w5000 = pattern(5000, 2);
    let (op5000, r) = p.write(&w5000);
    assert_eq!(r, WriteProgress::Pending);
    let (_, info) = p.peek(12000);
    assert_eq!(info.avail, 8000);
    assert_eq!(info.read, if msg_type { 3000 } else { 8000 });
    // "A further 1-byte write also pends; flush blocks; peek avail 8001."
    let (op1, r) = p.write(b"x");
    assert_eq!(r, WriteProgress::Pending);
    assert!(!p.q().is_drained());
    assert_eq!(p.peek(12000).1.avail, 8001);
    // "A zero-length write completes immediately even while others are pending; no avail change."
    assert_eq!(p.write(b"").1, WriteProgress::Done(0));
    assert_eq!(p.peek(12000).1.avail, 8001);
    // "Reading 3000 completes the first pending write but not the 1-byte write."
    let (d, more) = p.read_now(3000, msg_read);
    assert_eq!((d.len(), more), (3000, false));
    assert_eq!(p.poll_write(op5000, &w5000), WriteProgress::Done(5000));
    assert_eq!(p.poll_write(op1, b"x"), WriteProgress::Pending);
    // "Peek: avail 5001, read 5001 (byte) / 5000 (msg), msglen 5000."
    let (_, info) = p.peek(12000);
    assert_eq!(info.avail, 5001);
    assert_eq!(info.read, if msg_type { 5000 } else { 5001 });
    assert_eq!(info.message_len, if msg_type { 5000 } else { 0 });
    // "Reading 1 more byte completes the 1-byte write. Peek avail 5000; msg: read 4999, msglen 4999."
    let (d, more) = p.read_now(1, msg_read);
    assert_eq!(d, w5000[..1]);
    assert_eq!(more, msg_type && msg_read);
    assert_eq!(p.poll_write(op1, b"x"), WriteProgress::Done(1));
    let (_, info) = p.peek(12000);
    assert_eq!(info.avail, 5000);
    if msg_type {
        assert_eq!((info.read, info.message_len), (4999, 4999));
    }
    // "Reading buf_size returns 5000 (byte read) or 4999 (message read)."
    let (d, more) = p.read_now(5000, msg_read);
    assert!(!more);
    if msg_type && msg_read {
        assert_eq!(d, w5000[1..]);
        // "then the 1-byte message (peek 1/1/1), read 1000 -> 1."
        assert_eq!(
            p.peek(12000).1,
            PeekInfo {
                read: 1,
                avail: 1,
                message_len: 1
            }
        );
        assert_eq!(p.read_now(1000, msg_read).0, b"x");
    } else {
        assert_eq!(d.len(), 5000);
    }
    if msg_type {
        // "The queued empty message is then returned by a read as 0 bytes, TRUE, even for a
        // byte-read-mode reader. Peek then 0/0/0. Flush then completes."
        assert!(!p.q().is_drained());
        assert_eq!(p.read_now(1000, msg_read), (vec![], false));
    }
    assert_eq!(p.peek(12000).1, PeekInfo::default());
    assert!(p.q().is_drained());

    // "Empty pipe: async read(0) and read(1000) both pend. A 1-byte write completes the
    // 0-length read first with 0 bytes (message read mode: ERROR_MORE_DATA) and the 1000-byte
    // read with 1. Pending reads are satisfied in FIFO order."
    let r0 = p.start_read(0, msg_read);
    let r1000 = p.start_read(1000, msg_read);
    assert_eq!(p.poll_read(r0, &mut []).unwrap(), ReadProgress::Pending);
    p.write(b"y");
    assert_eq!(
        p.poll_read(r0, &mut []).unwrap(),
        ReadProgress::Done(ReadDone {
            len: 0,
            more_data: msg_type && msg_read
        })
    );
    let mut buf = vec![0; 1000];
    assert_eq!(
        p.poll_read(r1000, &mut buf).unwrap(),
        ReadProgress::Done(ReadDone {
            len: 1,
            more_data: false
        })
    );

    // "A single write larger than quota (7000) pends; all 7000 visible in Peek. Reading 1999
    // leaves 5001 queued: write still pending. Reading 1 more completes it with 7000."
    let w7000 = pattern(7000, 3);
    let (op7000, r) = p.write(&w7000);
    assert_eq!(r, WriteProgress::Pending);
    let (_, info) = p.peek(12000);
    assert_eq!((info.read, info.avail), (7000, 7000));
    assert_eq!(info.message_len, if msg_type { 7000 } else { 0 });
    p.read_now(1999, msg_read);
    assert_eq!(p.poll_write(op7000, &w7000), WriteProgress::Pending);
    p.read_now(1, msg_read);
    assert_eq!(p.poll_write(op7000, &w7000), WriteProgress::Done(7000));
    let (d, _) = p.read_now(5001, msg_read);
    assert_eq!(d, w7000[2000..]);

    // "Zero-length write: Peek shows 0/0/0; in msg mode a read(1) returns 0 bytes TRUE."
    assert_eq!(p.write(b"").1, WriteProgress::Done(0));
    assert_eq!(p.peek(12000).1, PeekInfo::default());
    if msg_type {
        assert_eq!(p.read_now(1, msg_read), (vec![], false));
    }
    assert!(p.q().is_drained());

    // "With pending read(0) and read(1): a 0-length write completes the 0-length read in
    // message mode; in byte mode it wakes nothing; read(1) stays pending; a 1-byte write
    // completes read(1) with 1."
    let r0 = p.start_read(0, msg_read);
    let r1 = p.start_read(1, msg_read);
    p.write(b"");
    let got0 = p.poll_read(r0, &mut []).unwrap();
    if msg_type {
        assert_eq!(
            got0,
            ReadProgress::Done(ReadDone {
                len: 0,
                more_data: false
            })
        );
    } else {
        assert_eq!(got0, ReadProgress::Pending);
    }
    let mut one = [0u8; 1];
    assert_eq!(p.poll_read(r1, &mut one).unwrap(), ReadProgress::Pending);
    p.write(b"z");
    if !msg_type {
        // The 0-length read is first in line: it takes 0 bytes of the new data.
        assert_eq!(
            p.poll_read(r0, &mut []).unwrap(),
            ReadProgress::Done(ReadDone {
                len: 0,
                more_data: false
            })
        );
    }
    assert_eq!(
        p.poll_read(r1, &mut one).unwrap(),
        ReadProgress::Done(ReadDone {
            len: 1,
            more_data: false
        })
    );
    assert_eq!(&one, b"z");

    // "Write 20 then 15: Peek msg: read 20, avail 35, msglen 20; byte: read 35. Read(10) -> 10
    // (msg read: ERROR_MORE_DATA). Peek msg: 10/25/10; byte 25/25. Read(10) -> 10 TRUE; Peek
    // 15/15(/15); Read 15."
    p.write(&pattern(20, 4));
    p.write(&pattern(15, 5));
    let (_, info) = p.peek(12000);
    assert_eq!(info.avail, 35);
    assert_eq!(
        (info.read, info.message_len),
        if msg_type { (20, 20) } else { (35, 0) }
    );
    assert_eq!(p.read_now(10, msg_read).1, msg_type && msg_read);
    let (_, info) = p.peek(12000);
    assert_eq!(info.avail, 25);
    assert_eq!(
        (info.read, info.message_len),
        if msg_type { (10, 10) } else { (25, 0) }
    );
    assert_eq!(
        p.read_now(10, msg_read),
        (pattern(20, 4)[10..].to_vec(), false)
    );
    let (_, info) = p.peek(12000);
    assert_eq!((info.read, info.avail), (15, 15));
    assert_eq!(p.read_now(15, msg_read), (pattern(15, 5), false));

    // "Two pending read(1); cancel the second; the first stays pending; a 1-byte write
    // completes the first with 1." "Cancel the same read again -> ERROR_NOT_FOUND."
    let ra = p.start_read(1, msg_read);
    let rb = p.start_read(1, msg_read);
    assert!(p.q().read_cancel(rb));
    assert!(!p.q().read_cancel(rb));
    p.write(b"q");
    assert_eq!(
        p.poll_read(ra, &mut one).unwrap(),
        ReadProgress::Done(ReadDone {
            len: 1,
            more_data: false
        })
    );

    // "Two pending writes (7000, 1); cancel the first; its data disappears (Peek 1/1/1);
    // reader gets 1 byte; second write completes with 1."
    let (wa, r) = p.write(&w7000);
    assert_eq!(r, WriteProgress::Pending);
    let (wb, _) = p.write(b"k");
    assert!(p.q().write_cancel(wa));
    let (_, info) = p.peek(12000);
    assert_eq!((info.read, info.avail), (1, 1));
    assert_eq!(p.read_now(1000, msg_read).0, b"k");
    assert_eq!(p.poll_write(wb, b"k"), WriteProgress::Done(1));

    // "Same, after 10 bytes of the 7000 write were read: cancelling discards the unread
    // remainder (Peek 1/1/1)."
    let (wa, _) = p.write(&w7000);
    let (wb, _) = p.write(b"m");
    assert_eq!(p.read_now(10, msg_read).0, w7000[..10]);
    assert!(p.q().write_cancel(wa));
    let (data, info) = p.peek(12000);
    assert_eq!((info.read, info.avail, data), (1, 1, b"m".to_vec()));
    assert_eq!(p.read_now(1000, msg_read).0, b"m");
    assert_eq!(p.poll_write(wb, b"m"), WriteProgress::Done(1));

    // "Pending 7000 write + flush; cancelling the write empties the queue; flush completes."
    let (wa, _) = p.write(&w7000);
    assert!(!p.q().is_drained());
    assert!(p.q().write_cancel(wa));
    assert!(p.q().is_drained());
}

#[test]
fn blocking_rw_byte_pipe() {
    blocking_rw(false, false);
}

#[test]
fn blocking_rw_message_pipe_byte_read() {
    blocking_rw(true, false);
}

#[test]
fn blocking_rw_message_pipe_message_read() {
    blocking_rw(true, true);
}

// conformance.md test_CreateNamedPipe: partial message reads, remainder kept for any reader.
#[test]
fn partial_message_reads_and_peek_left() {
    let mut p = Pipe::new(4096, true);
    p.write(b"Bit Bucket\0");
    // Peek(4) with 11 queued: read 4, avail 11, message length 11 (left = 7).
    let (d, info) = p.peek(4);
    assert_eq!(
        (d.as_slice(), info.avail, info.message_len),
        (&b"Bit "[..], 11, 11)
    );
    assert_eq!(p.read_now(4, true), (b"Bit ".to_vec(), true));
    assert_eq!(p.read_now(4, true), (b"Buck".to_vec(), true));
    assert_eq!(p.read_now(28, true), (b"et\0".to_vec(), false));
    // Two writes (11, 10): byte read gets both (21), message read only the first.
    p.write(b"Bit Bucket\0");
    p.write(b"More bits\0");
    assert_eq!(
        p.peek(32).1,
        PeekInfo {
            read: 11,
            avail: 21,
            message_len: 11
        }
    );
    assert_eq!(p.read_now(32, false).0.len(), 21);
    p.write(b"Bit Bucket\0");
    p.write(b"More bits\0");
    assert_eq!(p.read_now(32, true).0.len(), 11);
    assert_eq!(p.read_now(32, true).0.len(), 10);
}

// Byte pipes: Peek reports message length 0 and copies across writes.
#[test]
fn byte_pipe_peek_crosses_writes() {
    let mut p = Pipe::new(4096, false);
    p.write(b"Bit Bucket\0");
    p.write(b"More bits\0");
    let (d, info) = p.peek(4);
    assert_eq!((d.len(), info.avail, info.message_len), (4, 21, 0));
    let (d, info) = p.peek(32);
    assert_eq!((d.len(), info.avail), (21, 21));
    // Zero-length writes on byte pipes are dropped.
    assert_eq!(p.write(b"").1, WriteProgress::Done(0));
    assert_eq!(p.peek(32).1.avail, 21);
}

// api.md §4.4: PIPE_NOWAIT writes with a 512-byte quota on a byte pipe.
#[test]
fn nowait_byte_pipe_table() {
    // No reader pending, 513-byte write -> 0 written.
    let mut p = Pipe::new(512, false);
    assert_eq!(
        p.write_kind(&[1; 513], WriteKind::NoWait),
        WriteProgress::Done(0)
    );
    assert_eq!(p.peek(1000).1.avail, 0);
    // 32768-byte read pending, 513-byte write -> 513 written.
    let mut p = Pipe::new(512, false);
    let r = p.start_read(32768, false);
    assert_eq!(
        p.write_kind(&[1; 513], WriteKind::NoWait),
        WriteProgress::Done(513)
    );
    let mut buf = vec![0; 32768];
    assert_eq!(
        p.poll_read(r, &mut buf).unwrap(),
        ReadProgress::Done(ReadDone {
            len: 513,
            more_data: false
        })
    );
    // 1-byte read pending, 513-byte write -> 513 written (1 + 512).
    let mut p = Pipe::new(512, false);
    p.start_read(1, false);
    assert_eq!(
        p.write_kind(&[1; 513], WriteKind::NoWait),
        WriteProgress::Done(513)
    );
    assert_eq!(p.peek(1000).1.avail, 512);
    // 1-byte read pending, 514-byte write -> 1 written.
    let mut p = Pipe::new(512, false);
    let r = p.start_read(1, false);
    assert_eq!(
        p.write_kind(&[1; 514], WriteKind::NoWait),
        WriteProgress::Done(1)
    );
    assert_eq!(p.peek(1000).1.avail, 0);
    assert!(matches!(
        p.poll_read(r, &mut [0]).unwrap(),
        ReadProgress::Done(_)
    ));
    // Exact 512-byte write into an empty queue -> 512 written.
    let mut p = Pipe::new(512, false);
    assert_eq!(
        p.write_kind(&[1; 512], WriteKind::NoWait),
        WriteProgress::Done(512)
    );
}

// conformance.md §5.1: message pipe, 1-byte read pending, 514 bytes into 512 -> 0 written and
// the read stays pending.
#[test]
fn nowait_message_pipe_writes_nothing_when_it_does_not_fit() {
    let mut p = Pipe::new(512, true);
    let r = p.start_read(1, false);
    assert_eq!(
        p.write_kind(&[1; 514], WriteKind::NoWait),
        WriteProgress::Done(0)
    );
    assert_eq!(p.poll_read(r, &mut [0]).unwrap(), ReadProgress::Pending);
    assert_eq!(
        p.write_kind(&[1; 100], WriteKind::NoWait),
        WriteProgress::Done(100)
    );
}

// api.md §4.4: PIPE_NOWAIT read on an empty pipe -> ERROR_NO_DATA; with data it completes.
#[test]
fn nowait_read() {
    let mut p = Pipe::new(512, false);
    let op = p.op();
    assert_eq!(
        p.q().read_start(op, 10, false, true),
        Err(Win32Error::NO_DATA)
    );
    p.write(b"abc");
    let op = p.op();
    p.q().read_start(op, 10, false, true).unwrap();
    let mut buf = [0; 10];
    assert_eq!(
        p.poll_read(op, &mut buf).unwrap(),
        ReadProgress::Done(ReadDone {
            len: 3,
            more_data: false
        })
    );
}

// api.md §4.1: quota 0 — every non-empty write stalls until a reader takes the data.
#[test]
fn quota_zero_stalls_every_write() {
    let mut p = Pipe::new(0, false);
    let (w, r) = p.write(b"abc");
    assert_eq!(r, WriteProgress::Pending);
    assert_eq!(p.read_now(3, false).0, b"abc");
    assert_eq!(p.poll_write(w, b"abc"), WriteProgress::Done(3));
    // A write with a pending read big enough completes at once.
    let r = p.start_read(10, false);
    assert_eq!(p.write(b"abc").1, WriteProgress::Done(3));
    assert!(matches!(
        p.poll_read(r, &mut [0; 10]).unwrap(),
        ReadProgress::Done(_)
    ));
}

// TransactNamedPipe's write never waits for quota.
#[test]
fn unbuffered_write_never_pends() {
    let mut p = Pipe::new(10, true);
    assert_eq!(
        p.write_kind(&[7; 100], WriteKind::Unbuffered),
        WriteProgress::Done(100)
    );
    assert_eq!(p.read_now(100, true).0, vec![7; 100]);
}

// DisconnectNamedPipe discards data, fails pending writes and reads with 233.
#[test]
fn disconnect_fails_pending_and_discards() {
    let mut p = Pipe::new(10, false);
    let (w, _) = p.write(&[1; 100]);
    p.q().disconnect();
    assert_eq!(
        p.q().write_poll(w, &[1; 100]),
        Err(Win32Error::PIPE_NOT_CONNECTED)
    );
    assert_eq!(p.peek(100).1, PeekInfo::default());
    let r = p.start_read(5, false);
    p.q().disconnect();
    assert_eq!(
        p.poll_read(r, &mut [0; 5]),
        Err(Win32Error::PIPE_NOT_CONNECTED)
    );
}

// Issue 13 f: a message write larger than the quota completes when the reader's taking part
// of it makes the rest fit — that moment, not when the writer next looks — so a
// DisconnectNamedPipe (or the reader's close) right after that read leaves it successful.
#[test]
fn write_completed_by_a_partial_read_survives_disconnect_and_close() {
    for close in [false, true] {
        let mut p = Pipe::new(512, true);
        let data = pattern(601, 3);
        let (w, r) = p.write(&data);
        assert_eq!(
            r,
            WriteProgress::Pending,
            "601 bytes into a 512-byte quota pend"
        );
        let (got, more) = p.read_now(512, true);
        assert_eq!((got.len(), more), (512, true));
        if close {
            p.q().reader_closed();
        } else {
            p.q().disconnect();
        }
        assert_eq!(
            p.q().write_poll(w, &data),
            Ok(WriteProgress::Done(601)),
            "after the reader took 512 bytes the write had completed (close: {close})"
        );
    }
    // The control: a write whose rest still does not fit fails as before.
    let mut p = Pipe::new(512, true);
    let data = pattern(1100, 4);
    let (w, _) = p.write(&data);
    let _ = p.read_now(512, true);
    p.q().disconnect();
    assert_eq!(
        p.q().write_poll(w, &data),
        Err(Win32Error::PIPE_NOT_CONNECTED)
    );
}

// Reader closed: pending writes fail with ERROR_BROKEN_PIPE.
#[test]
fn reader_closed_breaks_pending_writes() {
    let mut p = Pipe::new(10, false);
    let (w, _) = p.write(&[1; 100]);
    p.q().reader_closed();
    assert_eq!(p.q().write_poll(w, &[1; 100]), Err(Win32Error::BROKEN_PIPE));
}

// Writer closed: remaining data is read first, then ERROR_BROKEN_PIPE.
#[test]
fn writer_closed_data_then_broken() {
    let mut p = Pipe::new(100, true);
    p.write(b"abc");
    p.write(b"");
    p.q().writer_closed();
    assert_eq!(p.read_now(10, true).0, b"abc");
    // The zero-length message is read first as TRUE with 0 bytes.
    assert_eq!(p.read_now(10, true), (vec![], false));
    let r = p.start_read(10, true);
    p.q().writer_closed();
    assert_eq!(p.poll_read(r, &mut [0; 10]), Err(Win32Error::BROKEN_PIPE));
}

// A write whose process died: its unread data vanishes (test_overlapped_transport).
#[test]
fn reap_dead_writer() {
    let mut p = Pipe::new(5000, true);
    let op = OpId { pid: 777, seq: 1 };
    p.q()
        .write_start(op, &[5; 10000], WriteKind::Normal)
        .unwrap();
    assert_eq!(p.read_now(10, true), (vec![5; 10], true));
    p.q().reap(&mut |pid| pid != 777);
    assert_eq!(p.peek(100).1, PeekInfo::default());
    let r = p.start_read(10, true);
    assert_eq!(p.poll_read(r, &mut [0; 10]).unwrap(), ReadProgress::Pending);
    assert_eq!(p.q().foreign_pids(100), Vec::<u32>::new());
}

// A write larger than the ring streams through it.
#[test]
fn write_larger_than_ring_streams() {
    let mut p = Pipe::with_ring(1 << 20, false, 64);
    let data = pattern(1000, 9);
    let (w, r) = p.write(&data);
    assert_eq!(r, WriteProgress::Pending);
    let mut got = Vec::new();
    while got.len() < data.len() {
        let (d, _) = p.read_now(50, false);
        got.extend(d);
        let _ = p.poll_write(w, &data);
    }
    assert_eq!(got, data);
    assert_eq!(p.poll_write(w, &data), WriteProgress::Done(1000));
}

// A message larger than the ring, read by one big message-mode read, arrives whole.
#[test]
fn message_larger_than_ring_streams_into_one_read() {
    let mut p = Pipe::with_ring(1 << 20, true, 64);
    let data = pattern(1000, 3);
    let r = p.start_read(2000, true);
    let (w, _) = p.write(&data);
    let mut buf = vec![0; 2000];
    loop {
        match p.poll_read(r, &mut buf).unwrap() {
            ReadProgress::Done(d) => {
                assert_eq!((d.len, d.more_data), (1000, false));
                break;
            }
            ReadProgress::Pending => {
                let _ = p.poll_write(w, &data);
            }
        }
    }
    assert_eq!(&buf[..1000], &data[..]);
}

// Garbage in the shared header never panics.
#[test]
fn hostile_header_never_panics() {
    let mut p = Pipe::with_ring(100, true, 128);
    let pos = Positions {
        end: u64::MAX - 3,
        filled: 7,
        assigned: u64::MAX,
        e_tail: 12345,
        r_tail: u64::MAX,
        ..Default::default()
    };
    p.h.set_positions(&pos, &Positions::default());
    p.h.set_entry(
        3,
        &Entry {
            start: u64::MAX,
            len: u64::MAX,
            op: 1,
            pid: 1,
            flags: u32::MAX,
        },
    );
    p.h.set_read_record(
        0,
        &ReadRecord {
            state: R_ASSIGNED,
            len: u64::MAX,
            start: u64::MAX - 1,
            ..Default::default()
        },
    );
    let _ = p.peek(50);
    let _ = p.write(b"hello");
    let op = p.start_read(10, true);
    let _ = p.poll_read(op, &mut [0; 10]);
    p.q().reap(&mut |_| false);
    p.q().disconnect();
    let _ = p.q().is_drained();
}

/// Operations for the model test.
#[derive(Clone, Debug)]
enum Op {
    Write(Vec<u8>),
    Read(usize, bool),
    Peek(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Write),
        (0usize..400, any::<bool>()).prop_map(|(n, m)| Op::Read(n, m)),
        (0usize..400).prop_map(Op::Peek),
    ]
}

proptest! {
    /// Against a reference model (a list of messages with a read offset), with a quota large
    /// enough that nothing pends: every read and peek returns what the model says.
    #[test]
    fn matches_reference_model(msg in any::<bool>(), ring in 64usize..4096, ops in proptest::collection::vec(op_strategy(), 0..80)) {
        let mut p = Pipe::with_ring(u32::MAX, msg, ring);
        let mut model: std::collections::VecDeque<Vec<u8>> = Default::default();
        let mut ring_used = 0usize;
        for op in ops {
            match op {
                Op::Write(d) => {
                    if d.len() + ring_used > ring { continue; }
                    let (_, r) = p.write(&d);
                    if msg || !d.is_empty() {
                        ring_used += d.len();
                        prop_assert_eq!(r, WriteProgress::Done(d.len()));
                        model.push_back(d);
                    }
                }
                Op::Read(n, message_mode) => {
                    if model.is_empty() { continue; }
                    let (got, more) = p.read_now(n, message_mode);
                    // Model.
                    let mut want = Vec::new();
                    let mut want_more = false;
                    if msg && (message_mode || model[0].is_empty()) {
                        let m = model.pop_front().unwrap();
                        let take = n.min(m.len());
                        want.extend_from_slice(&m[..take]);
                        if take < m.len() {
                            want_more = message_mode;
                            model.push_front(m[take..].to_vec());
                        }
                    } else {
                        while want.len() < n {
                            let Some(m) = model.pop_front() else { break };
                            if m.is_empty() { model.push_front(m); break; }
                            let take = (n - want.len()).min(m.len());
                            want.extend_from_slice(&m[..take]);
                            if take < m.len() { model.push_front(m[take..].to_vec()); }
                        }
                    }
                    ring_used -= got.len();
                    prop_assert_eq!(&got, &want);
                    prop_assert_eq!(more, want_more);
                }
                Op::Peek(n) => {
                    let (got, info) = p.peek(n);
                    let avail: usize = model.iter().map(|m| m.len()).sum();
                    prop_assert_eq!(info.avail, avail as u64);
                    let want: Vec<u8> = if msg {
                        model.front().map(|m| m[..n.min(m.len())].to_vec()).unwrap_or_default()
                    } else {
                        model.iter().flatten().take(n).copied().collect()
                    };
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}

// A read that a write already completed keeps its data through DisconnectNamedPipe.
#[test]
fn disconnect_keeps_data_already_given_to_a_waiting_read() {
    let mut p = Pipe::new(100, false);
    let r = p.start_read(16, false);
    p.write(&[7; 16]);
    p.q().disconnect();
    let mut buf = [0; 16];
    assert_eq!(
        p.poll_read(r, &mut buf).unwrap(),
        ReadProgress::Done(ReadDone {
            len: 16,
            more_data: false
        })
    );
    assert_eq!(buf, [7; 16]);
    assert_eq!(p.peek(100).1, PeekInfo::default());
}

// A write larger than the ring, pending when the server disconnects, fails with
// ERROR_PIPE_NOT_CONNECTED (not success) and leaves nothing readable.
#[test]
fn disconnect_fails_partly_copied_write() {
    let mut p = Pipe::with_ring(10, true, 64);
    let data = pattern(500, 1);
    let (w, r) = p.write(&data);
    assert_eq!(r, WriteProgress::Pending);
    p.q().disconnect();
    assert_eq!(
        p.q().write_poll(w, &data),
        Err(Win32Error::PIPE_NOT_CONNECTED)
    );
    assert_eq!(p.peek(100).1, PeekInfo::default());
    let r = p.start_read(10, true);
    assert_eq!(p.poll_read(r, &mut [0; 10]).unwrap(), ReadProgress::Pending);
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(start, len, op, pid, flags)| Entry {
            start,
            len,
            op,
            pid,
            flags,
        })
}

fn arb_record() -> impl Strategy<Value = ReadRecord> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        0u32..5,
        any::<u32>(),
    )
        .prop_map(
            |(op, size, start, len, copied, pid, state, flags)| ReadRecord {
                op,
                size,
                start,
                len,
                copied,
                pid,
                state,
                flags,
                error: 0,
            },
        )
}

proptest! {
    /// A header full of garbage (what a hostile peer can write into shared memory) never makes
    /// any operation panic, loop forever or index out of bounds.
    #[test]
    fn garbage_header_never_panics(
        pos in proptest::collection::vec(any::<u64>(), 8),
        small in proptest::collection::vec(0u64..5000, 8),
        use_small in any::<bool>(),
        entries in proptest::collection::vec(arb_entry(), 8),
        reads in proptest::collection::vec(arb_record(), 8),
        msg in any::<bool>(),
    ) {
        let mut p = Pipe::with_ring(300, msg, 256);
        let v = if use_small { &small } else { &pos };
        let pos = Positions {
            end: v[0],
            filled: v[1],
            assigned: v[2],
            freed: v[3],
            e_head: v[4],
            e_tail: v[5],
            r_head: v[6],
            r_tail: v[7],
        };
        p.h.set_positions(&pos, &Positions::default());
        for (k, e) in entries.into_iter().enumerate() {
            p.h.set_entry(k * 31 % MAX_ENTRIES, &e);
        }
        for (k, r) in reads.into_iter().enumerate() {
            p.h.set_read_record(k * 7 % MAX_READS, &r);
        }
        let _ = p.peek(64);
        let w = p.op();
        let _ = p.q().write_start(w, &[1u8; 40], WriteKind::Normal);
        let r = p.op();
        let _ = p.q().read_start(r, 50, msg, false);
        let _ = p.poll_read(r, &mut [0u8; 50]);
        let _ = p.q().write_poll(w, &[1u8; 40]);
        let _ = p.q().write_cancel(w);
        p.q().reap(&mut |pid| pid % 2 == 0);
        p.q().writer_closed();
        p.q().reader_closed();
        p.q().disconnect();
        let _ = p.q().is_drained();
    }
}

// The out-of-lock copy protocol gives the same bytes as read_poll, and frees ring space only
// once they are copied.
#[test]
fn claim_and_copy_outside_the_lock() {
    let mut p = Pipe::with_ring(1 << 20, true, 64);
    let data = pattern(200, 5);
    let r = p.start_read(300, true);
    let (w, _) = p.write(&data);
    let mut buf = vec![0u8; 300];
    loop {
        let claim = p.q().read_claim(r, buf.len()).unwrap();
        match claim {
            ReadClaim::Copy { pos, buf_off, len } => {
                // While claimed, a writer cannot reuse that space.
                let free_before = p.h.positions().freed;
                ring_read(&p.ring[..], pos, &mut buf[buf_off..buf_off + len]);
                assert_eq!(p.h.positions().freed, free_before);
                if let ReadProgress::Done(d) = p.q().read_copied(r, len, buf.len()).unwrap() {
                    assert_eq!((d.len, d.more_data), (200, false));
                    break;
                }
            }
            ReadClaim::Ready(ReadProgress::Pending) => {
                let _ = p.poll_write(w, &data);
            }
            ReadClaim::Ready(ReadProgress::Done(_)) => unreachable!("copy first"),
        }
    }
    assert_eq!(&buf[..200], &data[..]);
    assert_eq!(p.poll_write(w, &data), WriteProgress::Done(200));
}
