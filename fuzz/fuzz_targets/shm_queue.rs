//! The shared-memory queue driven from arbitrary states: the input sets words of the shared
//! queue (as a hostile peer may, at any moment) between operations of an honest end (write,
//! read start/poll/claim/copy, peek, cancel, reap, close, disconnect). Nothing may panic or
//! loop without end, and what is handed to the caller stays inside its buffers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npfs_core::queue::{OpId, Queue, ReadClaim, ReadProgress, SharedQueue, WriteKind};

fuzz_target!(|data: &[u8]| {
    let shared = SharedQueue::default();
    let mut ring = vec![0u8; 256];
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let (Some(quota), Some(flags)) = (next(), next()) else {
        return;
    };
    let message = flags & 1 != 0;
    let mut seq = 1u64;
    let mut ops: Vec<OpId> = Vec::new();
    let mut buf = vec![0u8; 64];
    while let Some(op) = next() {
        let mut q = Queue::new(&shared, &mut ring[..], u32::from(quota), message);
        match op % 12 {
            // The peer writes a word: index, then eight bytes of value.
            0 => {
                let w = usize::from(next().unwrap_or(0)) | usize::from(next().unwrap_or(0)) << 8;
                let mut v = [0u8; 8];
                for b in v.iter_mut() {
                    *b = next().unwrap_or(0);
                }
                drop(q);
                shared.poke(w, u64::from_le_bytes(v));
            }
            1 | 2 => {
                let len = usize::from(next().unwrap_or(0) % 80);
                seq += 1;
                let id = OpId { pid: 1, seq };
                let payload = vec![0x5a; len];
                let kind = if op % 12 == 1 {
                    WriteKind::Normal
                } else {
                    WriteKind::NoWait
                };
                let _ = q.write_start(id, &payload, kind);
                ops.push(id);
            }
            3 => {
                seq += 1;
                let id = OpId { pid: 1, seq };
                let size = usize::from(next().unwrap_or(0) % 64);
                let _ = q.read_start(id, size, message, false);
                ops.push(id);
            }
            4 => {
                if let Some(&id) = ops.last() {
                    if let Ok(ReadProgress::Done(d)) = q.read_poll(id, &mut buf) {
                        assert!(d.len <= buf.len());
                    }
                }
            }
            5 => {
                if let Some(&id) = ops.first() {
                    if let Ok(ReadClaim::Copy { buf_off, len, .. }) = q.read_claim(id, buf.len())
                    {
                        // What the engine checks before copying; the claim may be garbage.
                        let _ = buf.get(buf_off..buf_off.saturating_add(len));
                        let _ = q.read_copied(id, len, buf.len());
                    }
                }
            }
            6 => {
                let mut peek = [0u8; 32];
                let info = q.peek(&mut peek);
                assert!(info.read <= peek.len());
            }
            7 => {
                if let Some(id) = ops.pop() {
                    let _ = q.read_cancel(id);
                    let _ = q.write_cancel(id);
                }
            }
            8 => q.reap(&mut |pid| pid % 2 == 0),
            9 => q.writer_closed(),
            10 => q.reader_closed(),
            _ => {
                let _ = q.is_drained();
                let _ = q.avail();
                if flags & 2 != 0 {
                    q.disconnect();
                }
            }
        }
    }
});
