//! One direction of one pipe instance, exactly as NPFS models it (spec/api.md §4).
//!
//! The queue lives in memory shared by every process that holds either end of a connection,
//! so its state is a fixed layout of 64-bit atomic words ([`SharedQueue`]) plus a byte ring.
//! Every operation runs with the connection lock held and takes a [`Queue`] view. Nothing in
//! the header is trusted: a hostile peer can write any word at any moment, lock or no lock.
//! So the view never holds a reference to a plain value in shared memory: it copies the
//! positions in when it is made and stores the changed ones back when it is dropped, and it
//! reads and writes entries and read records as whole copies ([`SharedQueue`]'s words,
//! atomically one by one). Every index is reduced modulo its capacity, every length is
//! clamped, and every loop is bounded by a capacity, never by a shared value — garbage gives
//! garbage data or [`Win32Error::BROKEN_PIPE`], never a panic or a hang.
//!
//! The model, in NPFS terms:
//! - A write appends one *entry* (one message on a message-type pipe). Its bytes are visible
//!   at once; the write *completes* when the unread bytes up to its end fit the reader's quota
//!   (or at once if it is empty or unbuffered, as TransactNamedPipe's write is).
//! - A read registers a *read record*. Records are served in FIFO order: [`Queue::pump`]
//!   assigns queued bytes to the oldest waiting record (one message at most in message read
//!   mode, with "more data" when the buffer is smaller). Assignment is logical consumption:
//!   quota is released at once; the reader copies its bytes out of the ring afterwards.
//! - Writers copy into the ring as space allows; a write larger than the free ring keeps
//!   copying as readers free space (see docs/DEVIATIONS.md for what that means above 2 MiB).

use crate::error::Win32Error;

/// Capacity of the entry ring of one direction: unread writes (messages) it can hold.
pub const MAX_ENTRIES: usize = 256;
/// Capacity of the read-record ring of one direction: reads that can wait at once.
pub const MAX_READS: usize = 64;

/// Entry flag: the write that made this entry has not completed yet.
const E_PENDING: u32 = 1;
/// Entry flag: a zero-length message that a read has taken.
const E_TAKEN_EMPTY: u32 = 2;
/// Entry flag: the pending write failed because the reading end closed.
const E_FAILED_BROKEN: u32 = 4;
/// Entry flag: the pending write failed because the server disconnected.
const E_FAILED_DISCONNECTED: u32 = 8;
/// Entry flag: TransactNamedPipe's write, which never waits for quota.
const E_UNBUFFERED: u32 = 16;
/// Entry flag: the slot is free (its writer acknowledged or it was removed).
const E_DEAD: u32 = 32;

/// Read record state: waiting for data.
const R_WAITING: u32 = 1;
/// Read record state: bytes assigned, being copied out.
const R_ASSIGNED: u32 = 2;
/// Read record state: failed; `error` holds the Win32 code.
const R_FAILED: u32 = 3;
/// Read record state: the slot is free.
const R_FREE: u32 = 0;

/// Read record flag: message read mode.
const RF_MESSAGE: u32 = 1;
/// Read record flag: the assignment ended inside a message (ERROR_MORE_DATA).
const RF_MORE: u32 = 2;

/// One write (message) in the queue.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// Stream position of the entry's first byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Operation id of the write that made it (unique per process).
    pub op: u64,
    /// Process id of the writer.
    pub pid: u32,
    /// `E_*` flags.
    pub flags: u32,
}

/// One read waiting for, or copying out, data.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadRecord {
    /// Operation id of the read (unique per process).
    pub op: u64,
    /// Size of the reader's buffer.
    pub size: u64,
    /// Stream position of the first assigned byte.
    pub start: u64,
    /// Bytes assigned (or the Win32 code when failed).
    pub len: u64,
    /// Bytes already copied to the reader.
    pub copied: u64,
    /// Process id of the reader.
    pub pid: u32,
    /// `R_*` state.
    pub state: u32,
    /// `RF_*` flags.
    pub flags: u32,
    /// Win32 code of a failed read.
    pub error: u32,
}

/// The positions of one direction (the scalar part of its shared state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Positions {
    /// Stream position after the last byte written (logically, including unfilled bytes).
    pub end: u64,
    /// Stream position up to which bytes are physically in the ring.
    pub filled: u64,
    /// Stream position up to which bytes are assigned to reads (logically read).
    pub assigned: u64,
    /// Stream position up to which ring space is released (copied out by readers).
    pub freed: u64,
    /// Entry ring: index of the oldest entry (monotonic; slot = index % MAX_ENTRIES).
    pub e_head: u64,
    /// Entry ring: index after the newest entry.
    pub e_tail: u64,
    /// Read ring: index of the oldest record.
    pub r_head: u64,
    /// Read ring: index after the newest record.
    pub r_tail: u64,
}

/// Words of [`Positions`].
const POS_WORDS: usize = 8;

impl Positions {
    /// The positions in their shared-memory order.
    fn to_words(self) -> [u64; POS_WORDS] {
        [
            self.end,
            self.filled,
            self.assigned,
            self.freed,
            self.e_head,
            self.e_tail,
            self.r_head,
            self.r_tail,
        ]
    }

    /// The positions from words in their shared-memory order.
    fn from_words(w: [u64; POS_WORDS]) -> Positions {
        let [end, filled, assigned, freed, e_head, e_tail, r_head, r_tail] = w;
        Positions {
            end,
            filled,
            assigned,
            freed,
            e_head,
            e_tail,
            r_head,
            r_tail,
        }
    }
}
/// Words of one [`Entry`].
const ENTRY_WORDS: usize = 4;
/// Words of one [`ReadRecord`].
const READ_WORDS: usize = 7;
/// Words of a [`SharedQueue`].
pub const QUEUE_WORDS: usize = POS_WORDS + MAX_ENTRIES * ENTRY_WORDS + MAX_READS * READ_WORDS;

/// The shared state of one direction, as it lies in shared memory: [`Positions`], then the
/// entry ring, then the read-record ring, each value a run of 64-bit words that any process
/// may change at any time (hence atomics, and copies in and out). All-zero is a valid empty
/// queue.
#[repr(C)]
pub struct SharedQueue {
    words: [std::sync::atomic::AtomicU64; QUEUE_WORDS],
}

impl Default for SharedQueue {
    fn default() -> Self {
        SharedQueue {
            words: std::array::from_fn(|_| std::sync::atomic::AtomicU64::new(0)),
        }
    }
}

impl std::fmt::Debug for SharedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedQueue")
            .field("positions", &self.positions())
            .finish_non_exhaustive()
    }
}

impl SharedQueue {
    fn load(&self, w: usize) -> u64 {
        self.words[w].load(std::sync::atomic::Ordering::Relaxed)
    }

    fn store(&self, w: usize, v: u64) {
        self.words[w].store(v, std::sync::atomic::Ordering::Relaxed);
    }

    /// A copy of the positions.
    pub fn positions(&self) -> Positions {
        Positions::from_words(std::array::from_fn(|w| self.load(w)))
    }

    /// Store the positions that differ from `before`.
    pub fn set_positions(&self, p: &Positions, before: &Positions) {
        let (new, old) = (p.to_words(), before.to_words());
        for (w, (n, o)) in new.iter().zip(old.iter()).enumerate() {
            if n != o {
                self.store(w, *n);
            }
        }
    }

    fn entry_base(slot: usize) -> usize {
        POS_WORDS + (slot % MAX_ENTRIES) * ENTRY_WORDS
    }

    fn read_base(slot: usize) -> usize {
        POS_WORDS + MAX_ENTRIES * ENTRY_WORDS + (slot % MAX_READS) * READ_WORDS
    }

    /// A copy of entry slot `slot` (reduced modulo [`MAX_ENTRIES`]).
    pub fn entry(&self, slot: usize) -> Entry {
        let b = Self::entry_base(slot);
        let last = self.load(b + 3);
        Entry {
            start: self.load(b),
            len: self.load(b + 1),
            op: self.load(b + 2),
            pid: last as u32,
            flags: (last >> 32) as u32,
        }
    }

    /// Store entry slot `slot`.
    pub fn set_entry(&self, slot: usize, e: &Entry) {
        let b = Self::entry_base(slot);
        self.store(b, e.start);
        self.store(b + 1, e.len);
        self.store(b + 2, e.op);
        self.store(b + 3, u64::from(e.pid) | u64::from(e.flags) << 32);
    }

    /// A copy of read-record slot `slot` (reduced modulo [`MAX_READS`]).
    pub fn read_record(&self, slot: usize) -> ReadRecord {
        let b = Self::read_base(slot);
        let w5 = self.load(b + 5);
        let w6 = self.load(b + 6);
        ReadRecord {
            op: self.load(b),
            size: self.load(b + 1),
            start: self.load(b + 2),
            len: self.load(b + 3),
            copied: self.load(b + 4),
            pid: w5 as u32,
            state: (w5 >> 32) as u32,
            flags: w6 as u32,
            error: (w6 >> 32) as u32,
        }
    }

    /// Store read-record slot `slot`.
    pub fn set_read_record(&self, slot: usize, r: &ReadRecord) {
        let b = Self::read_base(slot);
        self.store(b, r.op);
        self.store(b + 1, r.size);
        self.store(b + 2, r.start);
        self.store(b + 3, r.len);
        self.store(b + 4, r.copied);
        self.store(b + 5, u64::from(r.pid) | u64::from(r.state) << 32);
        self.store(b + 6, u64::from(r.flags) | u64::from(r.error) << 32);
    }

    /// Set every word to `v` (tests: what a hostile peer may do).
    pub fn fill_words(&self, v: u64) {
        for w in 0..QUEUE_WORDS {
            self.store(w, v);
        }
    }

    /// Set word `w` (reduced modulo [`QUEUE_WORDS`]) to `v` (tests and fuzzing: what a
    /// hostile peer may do between any two operations).
    pub fn poke(&self, w: usize, v: u64) {
        self.store(w % QUEUE_WORDS, v);
    }
}

/// A copy of one entry or read record being changed; stored back when dropped.
struct SlotMut<'q, T: Copy> {
    shared: &'q SharedQueue,
    slot: usize,
    val: T,
    store: fn(&SharedQueue, usize, &T),
}

impl<T: Copy> std::ops::Deref for SlotMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.val
    }
}

impl<T: Copy> std::ops::DerefMut for SlotMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.val
    }
}

impl<T: Copy> Drop for SlotMut<'_, T> {
    fn drop(&mut self) {
        (self.store)(self.shared, self.slot, &self.val);
    }
}

/// Identifies one operation: the process that started it and a per-process counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpId {
    /// Process id.
    pub pid: u32,
    /// Unique within the process, never 0.
    pub seq: u64,
}

/// How a write treats the quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// WriteFile on a `PIPE_WAIT` handle: completes when the unread bytes up to its end fit.
    Normal,
    /// WriteFile on a `PIPE_NOWAIT` handle: never pends (spec/api.md §4.4).
    NoWait,
    /// TransactNamedPipe's write: never waits for quota.
    Unbuffered,
}

/// Outcome of starting or polling a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteProgress {
    /// The write completed; this many bytes were written.
    Done(usize),
    /// The write is queued and pending.
    Pending,
}

/// A completed read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadDone {
    /// Bytes copied into the caller's buffer.
    pub len: usize,
    /// The message continues (ERROR_MORE_DATA).
    pub more_data: bool,
}

/// Outcome of polling a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadProgress {
    /// The read completed.
    Done(ReadDone),
    /// Still waiting (for data, or for the writer to copy assigned bytes).
    Pending,
}

/// What a reader may do next (see [`Queue::read_claim`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadClaim {
    /// Copy `len` bytes at stream position `pos` into the buffer at `buf_off`, then call
    /// [`Queue::read_copied`].
    Copy {
        /// Stream position of the first byte.
        pos: u64,
        /// Where they go in the reader's buffer.
        buf_off: usize,
        /// How many.
        len: usize,
    },
    /// Nothing to copy: the read completed, or it is still waiting.
    Ready(ReadProgress),
}

/// What PeekNamedPipe reports for this queue (spec/api.md §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PeekInfo {
    /// Bytes copied into the buffer.
    pub read: usize,
    /// ReadDataAvailable: every unread byte.
    pub avail: u64,
    /// MessageLength: unread remainder of the first message (0 on byte pipes).
    pub message_len: u64,
}

/// The byte ring a queue's data lives in. Offsets are already reduced modulo [`Ring::len`]
/// and ranges never wrap; the queue does the arithmetic.
pub trait Ring {
    /// Capacity in bytes.
    fn len(&self) -> usize;
    /// Whether the ring has no capacity at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copy `dst.len()` bytes from offset `off`.
    fn read_at(&self, off: usize, dst: &mut [u8]);
    /// Copy `src` to offset `off`.
    fn write_at(&mut self, off: usize, src: &[u8]);
    /// Whether this process may write the ring (an end that only reads a direction maps
    /// its ring read-only: it then never moves bytes in it, e.g. when reaping).
    fn writable(&self) -> bool {
        true
    }
}

impl Ring for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read_at(&self, off: usize, dst: &mut [u8]) {
        dst.copy_from_slice(&self[off..off + dst.len()]);
    }
    fn write_at(&mut self, off: usize, src: &[u8]) {
        self[off..off + src.len()].copy_from_slice(src);
    }
}

/// Copy `dst.len()` bytes at stream position `pos` out of `ring`, wrapping around its end.
pub fn ring_read<R: Ring + ?Sized>(ring: &R, pos: u64, dst: &mut [u8]) {
    let cap = ring.len();
    if cap == 0 {
        return;
    }
    let mut done = 0;
    while done < dst.len() {
        let off = ((pos + done as u64) % cap as u64) as usize;
        let n = (dst.len() - done).min(cap - off);
        ring.read_at(off, &mut dst[done..done + n]);
        done += n;
    }
}

/// A view of one direction's queue, valid while the connection lock is held. It works on a
/// copy of the positions, taken when it is made and stored back (the changed words only)
/// when it is dropped.
pub struct Queue<'a, R: Ring + ?Sized = [u8]> {
    shared: &'a SharedQueue,
    h: Positions,
    loaded: Positions,
    ring: &'a mut R,
    quota: u64,
    message_type: bool,
}

impl<R: Ring + ?Sized> Drop for Queue<'_, R> {
    fn drop(&mut self) {
        self.shared.set_positions(&self.h, &self.loaded);
    }
}

impl<'a, R: Ring + ?Sized> Queue<'a, R> {
    /// A view over `shared` and its data `ring`. `quota` is the reader's buffer size
    /// (nInBufferSize or nOutBufferSize); `message_type` is `PIPE_TYPE_MESSAGE`.
    pub fn new(shared: &'a SharedQueue, ring: &'a mut R, quota: u32, message_type: bool) -> Self {
        let h = shared.positions();
        Queue {
            shared,
            h,
            loaded: h,
            ring,
            quota: u64::from(quota),
            message_type,
        }
    }

    // ----- indices and sanity -------------------------------------------------------------

    fn entry_count(&self) -> u64 {
        self.h
            .e_tail
            .wrapping_sub(self.h.e_head)
            .min(MAX_ENTRIES as u64)
    }

    fn read_count(&self) -> u64 {
        self.h
            .r_tail
            .wrapping_sub(self.h.r_head)
            .min(MAX_READS as u64)
    }

    /// Entry `i`, as a copy; one whose position cannot be right (a peer wrote garbage) reads
    /// as a dead entry, so no caller ever computes with it.
    fn entry(&self, i: u64) -> Entry {
        let mut e = self.shared.entry((i % MAX_ENTRIES as u64) as usize);
        if e.start > self.h.end || e.len > self.h.end - e.start {
            e.flags |= E_DEAD;
            e.start = self.h.end;
            e.len = 0;
        }
        e
    }

    /// Entry `i` as it is (unchecked), to change: stored back when the copy is dropped.
    fn entry_mut(&mut self, i: u64) -> SlotMut<'a, Entry> {
        let slot = (i % MAX_ENTRIES as u64) as usize;
        SlotMut {
            shared: self.shared,
            slot,
            val: self.shared.entry(slot),
            store: SharedQueue::set_entry,
        }
    }

    /// Read record `i`, as a copy; an assigned record whose figures cannot be right reads as
    /// free.
    fn rec(&self, i: u64) -> ReadRecord {
        let mut r = self.shared.read_record((i % MAX_READS as u64) as usize);
        let end = self.h.end;
        if r.state == R_ASSIGNED
            && (r.start > end || r.len > end - r.start || r.len > r.size || r.copied > r.len)
        {
            r.state = R_FREE;
        }
        r
    }

    /// Read record `i` as it is (unchecked), to change: stored back when the copy is dropped.
    fn rec_mut(&mut self, i: u64) -> SlotMut<'a, ReadRecord> {
        let slot = (i % MAX_READS as u64) as usize;
        SlotMut {
            shared: self.shared,
            slot,
            val: self.shared.read_record(slot),
            store: SharedQueue::set_read_record,
        }
    }

    fn entry_indices(&self) -> std::ops::Range<u64> {
        self.h.e_head..self.h.e_head.wrapping_add(self.entry_count())
    }

    fn read_indices(&self) -> std::ops::Range<u64> {
        self.h.r_head..self.h.r_head.wrapping_add(self.read_count())
    }

    fn ring_len(&self) -> u64 {
        self.ring.len() as u64
    }

    /// Bring a header a hostile peer may have scribbled on back to something consistent.
    fn sanitize(&mut self) {
        /// No honest stream gets anywhere near this many bytes.
        const LIMIT: u64 = 1 << 62;
        let h = &mut self.h;
        if h.end > LIMIT || h.filled > LIMIT || h.assigned > LIMIT || h.freed > LIMIT {
            *h = Positions::default();
        }
        if h.e_tail.wrapping_sub(h.e_head) > MAX_ENTRIES as u64 {
            h.e_tail = h.e_head;
        }
        if h.r_tail.wrapping_sub(h.r_head) > MAX_READS as u64 {
            h.r_tail = h.r_head;
        }
        if h.filled > h.end {
            h.filled = h.end;
        }
        if h.assigned > h.end {
            h.assigned = h.end;
        }
        if h.freed > h.assigned || h.freed > h.filled {
            h.freed = h.assigned.min(h.filled);
        }
        if h.filled.wrapping_sub(h.freed) > self.ring.len() as u64 {
            h.freed = h.filled.saturating_sub(self.ring.len() as u64);
        }
        // Entries and records are checked as they are read (`entry`, `rec`).
    }

    // ----- queries ------------------------------------------------------------------------

    /// ReadDataAvailable: unread bytes, across every message.
    pub fn avail(&self) -> u64 {
        self.h.end.saturating_sub(self.h.assigned)
    }

    /// True when nothing is left for the reader: no unread byte and no unread empty message.
    /// FlushFileBuffers on the writing end completes when this holds.
    pub fn is_drained(&mut self) -> bool {
        self.sanitize();
        self.avail() == 0 && self.first_unread_entry().is_none()
    }

    /// True when reads are waiting (TransactNamedPipe refuses to start then).
    pub fn has_waiting_reads(&self) -> bool {
        self.read_indices().any(|i| self.rec(i).state == R_WAITING)
    }

    /// The oldest entry with unread content (bytes, or an untaken empty message).
    fn first_unread_entry(&self) -> Option<u64> {
        self.entry_indices().find(|&i| {
            let e = self.entry(i);
            if e.flags & E_DEAD != 0 {
                return false;
            }
            if e.len == 0 {
                e.flags & E_TAKEN_EMPTY == 0
            } else {
                e.start.saturating_add(e.len) > self.h.assigned
            }
        })
    }

    /// PeekNamedPipe: copy unread data without consuming it. On a message-type pipe only the
    /// first message is copied, whatever the reader's read mode.
    pub fn peek(&mut self, buf: &mut [u8]) -> PeekInfo {
        self.sanitize();
        let avail = self.avail();
        let mut limit = avail;
        let mut message_len = 0;
        if self.message_type {
            if let Some(i) = self.first_unread_entry() {
                let e = self.entry(i);
                message_len = e
                    .start
                    .saturating_add(e.len)
                    .saturating_sub(self.h.assigned.max(e.start));
                limit = message_len;
            }
        }
        let physically = self.h.filled.saturating_sub(self.h.assigned);
        let n = (buf.len() as u64).min(limit).min(physically) as usize;
        let from = self.h.assigned;
        self.copy_out(from, &mut buf[..n]);
        PeekInfo {
            read: n,
            avail,
            message_len,
        }
    }

    // ----- ring copies --------------------------------------------------------------------

    fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        ring_read(&*self.ring, pos, dst);
    }

    fn copy_in(&mut self, pos: u64, src: &[u8]) {
        let cap = self.ring.len();
        if cap == 0 {
            return;
        }
        let mut done = 0;
        while done < src.len() {
            let off = ((pos + done as u64) % cap as u64) as usize;
            let n = (src.len() - done).min(cap - off);
            self.ring.write_at(off, &src[done..done + n]);
            done += n;
        }
    }

    /// Move `len` ring bytes from stream position `from` down to `to` (`to < from`).
    fn move_down(&mut self, to: u64, from: u64, len: u64) {
        let mut chunk = [0u8; 4096];
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(chunk.len() as u64) as usize;
            self.copy_out(from + done, &mut chunk[..n]);
            self.copy_in(to + done, &chunk[..n]);
            done += n as u64;
        }
    }

    // ----- writing ------------------------------------------------------------------------

    /// Free bytes of ring.
    fn ring_free(&self) -> u64 {
        self.ring_len()
            .saturating_sub(self.h.filled.saturating_sub(self.h.freed))
    }

    /// Bytes of `e` already in the ring.
    fn entry_copied(&self, e: &Entry) -> u64 {
        self.h.filled.saturating_sub(e.start).min(e.len)
    }

    /// Copy as much of the copy-head entry as the ring allows, if `op` owns it.
    fn fill(&mut self, op: OpId, data: &[u8]) {
        // The copy head is the oldest entry not wholly in the ring; entries are in stream
        // order, so search back from the newest (usually the one just appended).
        let mut head = None;
        for i in self.entry_indices().rev() {
            let e = self.entry(i);
            if e.flags & E_DEAD != 0 {
                continue;
            }
            if e.start.saturating_add(e.len) > self.h.filled {
                head = Some(i);
            } else {
                break;
            }
        }
        let Some(i) = head else {
            return;
        };
        let e = self.entry(i);
        if e.op != op.seq || e.pid != op.pid || e.start > self.h.filled {
            return;
        }
        let done = self.entry_copied(&e);
        let want = (e.len - done)
            .min(self.ring_free())
            .min((data.len() as u64).saturating_sub(done));
        if want == 0 {
            return;
        }
        let from = done as usize;
        let pos = self.h.filled;
        self.copy_in(pos, &data[from..from + want as usize]);
        self.h.filled += want;
    }

    /// Bytes that waiting reads would take right now if `len` more bytes arrived (for
    /// PIPE_NOWAIT's byte-pipe rule).
    fn waiting_read_capacity(&self) -> u64 {
        self.read_indices()
            .map(|i| self.rec(i))
            .filter(|r| r.state == R_WAITING)
            .map(|r| r.size)
            .fold(0u64, u64::saturating_add)
    }

    /// Start a write of `data`. Zero-length writes on a byte pipe do nothing; on a message
    /// pipe they queue an empty message. Errors: `ERROR_NOT_ENOUGH_MEMORY` when the entry ring
    /// is full (the caller waits and retries).
    pub fn write_start(
        &mut self,
        op: OpId,
        data: &[u8],
        kind: WriteKind,
    ) -> Result<WriteProgress, Win32Error> {
        self.sanitize();
        let len = data.len() as u64;
        if len == 0 && !self.message_type {
            return Ok(WriteProgress::Done(0));
        }
        if self.entry_count() >= MAX_ENTRIES as u64 {
            self.collect();
            if self.entry_count() >= MAX_ENTRIES as u64 {
                return Err(Win32Error::NOT_ENOUGH_MEMORY);
            }
        }
        let mut take = len;
        if kind == WriteKind::NoWait && len > 0 {
            // Waiting reads take their share first; the rest is buffered only if all of it
            // fits the free quota. A message is never split: nothing is written then.
            let to_reads = len.min(self.waiting_read_capacity());
            let rest = len - to_reads;
            if rest > 0 && self.avail().saturating_add(rest) > self.quota {
                take = if self.message_type { 0 } else { to_reads };
            }
            if take == 0 {
                return Ok(WriteProgress::Done(0));
            }
        }
        let start = self.h.end;
        let idx = self.h.e_tail;
        *self.entry_mut(idx) = Entry {
            start,
            len: take,
            op: op.seq,
            pid: op.pid,
            flags: E_PENDING
                | if kind == WriteKind::Unbuffered {
                    E_UNBUFFERED
                } else {
                    0
                },
        };
        self.h.e_tail = idx.wrapping_add(1);
        self.h.end = start + take;
        self.fill(op, &data[..take as usize]);
        self.pump();
        match self.write_poll(op, &data[..take as usize])? {
            WriteProgress::Done(n) => Ok(WriteProgress::Done(n)),
            WriteProgress::Pending if kind == WriteKind::NoWait => {
                // Everything fitted, but the ring had no room: wait for room, not quota.
                Ok(WriteProgress::Pending)
            }
            p => Ok(p),
        }
    }

    fn find_entry(&self, op: OpId) -> Option<u64> {
        // A writer's entry is usually among the newest.
        self.entry_indices().rev().find(|&i| {
            let e = self.entry(i);
            e.op == op.seq && e.pid == op.pid && e.flags & E_DEAD == 0
        })
    }

    /// Continue a pending write: copy more of `data` if the ring has room, and report
    /// completion once the unread bytes up to its end fit the quota.
    pub fn write_poll(&mut self, op: OpId, data: &[u8]) -> Result<WriteProgress, Win32Error> {
        self.sanitize();
        self.fill(op, data);
        self.pump();
        let Some(i) = self.find_entry(op) else {
            // Removed by a hostile peer or by collection after completion: report done.
            return Ok(WriteProgress::Done(data.len()));
        };
        let e = self.entry(i);
        if e.flags & E_FAILED_BROKEN != 0 {
            self.entry_mut(i).flags |= E_DEAD;
            self.collect();
            return Err(Win32Error::BROKEN_PIPE);
        }
        if e.flags & E_FAILED_DISCONNECTED != 0 {
            self.entry_mut(i).flags |= E_DEAD;
            self.collect();
            return Err(Win32Error::PIPE_NOT_CONNECTED);
        }
        if self.write_fits(&e) {
            self.entry_mut(i).flags &= !E_PENDING;
            self.collect();
            Ok(WriteProgress::Done(e.len as usize))
        } else {
            Ok(WriteProgress::Pending)
        }
    }

    /// Whether the write of entry `e` is complete: all its bytes are in the pipe and what of
    /// it is unread fits the reader's quota (or it never waits for quota).
    fn write_fits(&self, e: &Entry) -> bool {
        let end = e.start.saturating_add(e.len);
        let fully_copied = self.h.filled >= end;
        let fits = e.len == 0
            || e.flags & E_UNBUFFERED != 0
            || end.saturating_sub(self.h.assigned) <= self.quota;
        fully_copied && fits
    }

    /// Cancel a pending write (CancelIoEx): its unread bytes leave the pipe; bytes already
    /// read stay read. Returns false if the write is not pending any more.
    pub fn write_cancel(&mut self, op: OpId) -> bool {
        self.sanitize();
        let Some(i) = self.find_entry(op) else {
            return false;
        };
        let e = self.entry(i);
        if e.flags & E_PENDING == 0 {
            return false;
        }
        self.remove_unread(i);
        self.entry_mut(i).flags |= E_DEAD;
        self.collect();
        true
    }

    /// Remove the unread remainder of entry `i` from the stream.
    fn remove_unread(&mut self, i: u64) {
        let e = self.entry(i);
        let end = e.start.saturating_add(e.len);
        if self.h.assigned > self.h.filled && e.start < self.h.assigned && end > self.h.filled {
            // Reads were promised bytes of this entry that never reached the ring: clip them.
            let filled = self.h.filled;
            for r in self.read_indices() {
                let mut rec = self.rec_mut(r);
                if rec.state == R_ASSIGNED && rec.start.saturating_add(rec.len) > filled {
                    rec.len = filled.saturating_sub(rec.start);
                    rec.flags &= !RF_MORE;
                }
            }
            self.h.assigned = filled;
        }
        let unread_from = self.h.assigned.max(e.start).min(end);
        let removed = end - unread_from;
        if removed == 0 {
            if e.len == 0 {
                self.entry_mut(i).flags |= E_TAKEN_EMPTY;
            }
            return;
        }
        let copied_end = e.start.saturating_add(self.entry_copied(&e));
        if copied_end >= end {
            // Fully in the ring: move the bytes of later entries down over the gap.
            let later = self.h.filled.saturating_sub(end).min(self.ring_len());
            self.move_down(unread_from, end, later);
            self.h.filled -= removed;
        } else {
            // Partly in the ring: nothing later has been copied yet.
            self.h.filled = self.h.filled.min(unread_from).max(self.h.freed);
        }
        self.h.end -= removed;
        let mut e = self.entry_mut(i);
        e.len = e.len.saturating_sub(removed);
        drop(e);
        for j in self.entry_indices() {
            if j.wrapping_sub(self.h.e_head) > i.wrapping_sub(self.h.e_head) {
                let mut ej = self.entry_mut(j);
                ej.start = ej.start.saturating_sub(removed);
            }
        }
    }

    // ----- reading ------------------------------------------------------------------------

    /// Start a read of up to `size` bytes. The read is served in FIFO order with other
    /// waiting reads. Errors: `ERROR_NO_DATA` when `nowait` and nothing can be assigned
    /// at once; `ERROR_NOT_ENOUGH_MEMORY` when too many reads wait.
    pub fn read_start(
        &mut self,
        op: OpId,
        size: usize,
        message_mode: bool,
        nowait: bool,
    ) -> Result<(), Win32Error> {
        self.sanitize();
        if self.read_count() >= MAX_READS as u64 {
            self.collect();
            if self.read_count() >= MAX_READS as u64 {
                return Err(Win32Error::NOT_ENOUGH_MEMORY);
            }
        }
        let idx = self.h.r_tail;
        *self.rec_mut(idx) = ReadRecord {
            op: op.seq,
            size: size as u64,
            start: 0,
            len: 0,
            copied: 0,
            pid: op.pid,
            state: R_WAITING,
            flags: if message_mode && self.message_type {
                RF_MESSAGE
            } else {
                0
            },
            error: 0,
        };
        self.h.r_tail = idx.wrapping_add(1);
        self.pump();
        if nowait && self.rec(idx).state == R_WAITING {
            self.rec_mut(idx).state = R_FREE;
            self.collect();
            return Err(Win32Error::NO_DATA);
        }
        Ok(())
    }

    fn find_read(&self, op: OpId) -> Option<u64> {
        self.read_indices().find(|&i| {
            let r = self.rec(i);
            r.op == op.seq && r.pid == op.pid && r.state != R_FREE
        })
    }

    /// Continue a read: copy assigned bytes that are in the ring into `buf` (the same buffer
    /// every time), and report completion once all assigned bytes are copied.
    pub fn read_poll(&mut self, op: OpId, buf: &mut [u8]) -> Result<ReadProgress, Win32Error> {
        self.sanitize();
        self.pump();
        let Some(i) = self.find_read(op) else {
            return Err(Win32Error::OPERATION_ABORTED);
        };
        let r = self.rec(i);
        match r.state {
            R_FAILED => {
                self.rec_mut(i).state = R_FREE;
                self.collect();
                Err(Win32Error(r.error))
            }
            R_ASSIGNED => {
                let len = r.len.min(buf.len() as u64);
                let upto = r.start.saturating_add(len).min(self.h.filled);
                let from = r.start.saturating_add(r.copied);
                if upto > from {
                    let n = (upto - from) as usize;
                    let off = r.copied as usize;
                    self.copy_out(from, &mut buf[off..off + n]);
                    self.rec_mut(i).copied += n as u64;
                }
                if self.rec(i).copied >= len {
                    self.rec_mut(i).state = R_FREE;
                    self.collect();
                    Ok(ReadProgress::Done(ReadDone {
                        len: len as usize,
                        more_data: r.flags & RF_MORE != 0,
                    }))
                } else {
                    self.collect();
                    Ok(ReadProgress::Pending)
                }
            }
            R_WAITING => Ok(ReadProgress::Pending),
            _ => Err(Win32Error::OPERATION_ABORTED),
        }
    }

    /// Like [`Queue::read_poll`], but instead of copying, say which assigned bytes are ready to
    /// be copied — so that a large copy can run outside the connection lock. The range stays
    /// untouched by everyone else until [`Queue::read_copied`] releases it: it is below
    /// `filled` and not yet freed. `buf_len` is the reader's buffer size.
    pub fn read_claim(&mut self, op: OpId, buf_len: usize) -> Result<ReadClaim, Win32Error> {
        self.sanitize();
        self.pump();
        let Some(i) = self.find_read(op) else {
            return Err(Win32Error::OPERATION_ABORTED);
        };
        let r = self.rec(i);
        match r.state {
            R_FAILED => {
                self.rec_mut(i).state = R_FREE;
                self.collect();
                Err(Win32Error(r.error))
            }
            R_ASSIGNED => {
                let len = r.len.min(buf_len as u64);
                let upto = r.start.saturating_add(len).min(self.h.filled);
                let from = r.start.saturating_add(r.copied);
                if upto > from {
                    Ok(ReadClaim::Copy {
                        pos: from,
                        buf_off: r.copied as usize,
                        len: (upto - from) as usize,
                    })
                } else if r.copied >= len {
                    self.rec_mut(i).state = R_FREE;
                    self.collect();
                    Ok(ReadClaim::Ready(ReadProgress::Done(ReadDone {
                        len: len as usize,
                        more_data: r.flags & RF_MORE != 0,
                    })))
                } else {
                    Ok(ReadClaim::Ready(ReadProgress::Pending))
                }
            }
            R_WAITING => Ok(ReadClaim::Ready(ReadProgress::Pending)),
            _ => Err(Win32Error::OPERATION_ABORTED),
        }
    }

    /// The reader copied `n` bytes of what [`Queue::read_claim`] offered: release their ring
    /// space, and complete the read once everything assigned to it is copied.
    pub fn read_copied(
        &mut self,
        op: OpId,
        n: usize,
        buf_len: usize,
    ) -> Result<ReadProgress, Win32Error> {
        self.sanitize();
        let Some(i) = self.find_read(op) else {
            return Err(Win32Error::OPERATION_ABORTED);
        };
        let r = self.rec(i);
        if r.state != R_ASSIGNED {
            return Err(Win32Error::OPERATION_ABORTED);
        }
        let len = r.len.min(buf_len as u64);
        let copied = r.copied.saturating_add(n as u64).min(len);
        self.rec_mut(i).copied = copied;
        if copied >= len {
            self.rec_mut(i).state = R_FREE;
            self.collect();
            Ok(ReadProgress::Done(ReadDone {
                len: len as usize,
                more_data: r.flags & RF_MORE != 0,
            }))
        } else {
            self.collect();
            Ok(ReadProgress::Pending)
        }
    }

    /// Cancel a waiting read (CancelIoEx): it consumes nothing. A read that already has data
    /// assigned cannot be cancelled (it completes instead); returns false then.
    pub fn read_cancel(&mut self, op: OpId) -> bool {
        self.sanitize();
        let Some(i) = self.find_read(op) else {
            return false;
        };
        match self.rec(i).state {
            R_WAITING | R_FAILED => {
                self.rec_mut(i).state = R_FREE;
                self.collect();
                true
            }
            _ => false,
        }
    }

    /// Assign queued data to waiting reads, oldest first, exactly as NPFS hands a write's
    /// bytes to pending reads.
    pub fn pump(&mut self) {
        // Each round turns one waiting record into an assigned one; a peer flipping records
        // back to waiting cannot keep this going past one round per slot.
        for _ in 0..=MAX_READS {
            let Some(ri) = self
                .read_indices()
                .find(|&i| self.rec(i).state == R_WAITING)
            else {
                return;
            };
            let Some(ei) = self.first_unread_entry() else {
                return;
            };
            let r = self.rec(ri);
            let e = self.entry(ei);
            let message_mode = r.flags & RF_MESSAGE != 0;
            let start = self.h.assigned.max(e.start);
            let (take, more) = if e.len == 0 {
                self.entry_mut(ei).flags |= E_TAKEN_EMPTY;
                (0, false)
            } else if message_mode {
                let left = e.start + e.len - start;
                let take = r.size.min(left);
                (take, take < left)
            } else {
                // Byte read mode: across entries, stopping before an empty message.
                let mut take = 0u64;
                let mut pos = start;
                for j in self.entry_indices() {
                    let ej = self.entry(j);
                    if ej.flags & E_DEAD != 0 {
                        continue;
                    }
                    if ej.len == 0 {
                        if ej.flags & E_TAKEN_EMPTY == 0 && ej.start >= pos && take > 0 {
                            break;
                        }
                        continue;
                    }
                    if ej.start.saturating_add(ej.len) <= pos {
                        continue;
                    }
                    let avail = ej.start + ej.len - pos.max(ej.start);
                    let t = avail.min(r.size - take);
                    take += t;
                    pos += t;
                    if take == r.size {
                        break;
                    }
                }
                (take, false)
            };
            self.h.assigned = start + take;
            let mut rec = self.rec_mut(ri);
            rec.start = start;
            rec.len = take;
            rec.copied = 0;
            rec.state = R_ASSIGNED;
            if more {
                rec.flags |= RF_MORE;
            }
        }
    }

    /// Pop finished entries and records from the heads of their rings, and release ring
    /// space that every assigned read has copied out.
    fn collect(&mut self) {
        while self.entry_count() > 0 {
            let e = self.entry(self.h.e_head);
            let consumed = if e.len == 0 {
                e.flags & E_TAKEN_EMPTY != 0
            } else {
                e.start.saturating_add(e.len) <= self.h.assigned
            };
            if e.flags & E_DEAD != 0 || (consumed && e.flags & E_PENDING == 0) {
                self.h.e_head = self.h.e_head.wrapping_add(1);
            } else {
                break;
            }
        }
        while self.read_count() > 0 && self.rec(self.h.r_head).state == R_FREE {
            self.h.r_head = self.h.r_head.wrapping_add(1);
        }
        let mut freed = self.h.assigned.min(self.h.filled);
        for i in self.read_indices() {
            let r = self.rec(i);
            if r.state == R_ASSIGNED {
                freed = freed.min(r.start.saturating_add(r.copied));
            }
        }
        if freed > self.h.freed {
            self.h.freed = freed;
        }
    }

    // ----- the ends go away ---------------------------------------------------------------

    /// DisconnectNamedPipe: every unread byte is discarded, pending writes fail with
    /// `ERROR_PIPE_NOT_CONNECTED`, waiting reads too.
    pub fn disconnect(&mut self) {
        self.fail_all(E_FAILED_DISCONNECTED, Win32Error::PIPE_NOT_CONNECTED);
    }

    /// The reading end closed: its unread data is dropped and pending writes fail with
    /// `ERROR_BROKEN_PIPE`.
    pub fn reader_closed(&mut self) {
        self.fail_all(E_FAILED_BROKEN, Win32Error::BROKEN_PIPE);
    }

    fn fail_all(&mut self, entry_flag: u32, read_err: Win32Error) {
        self.sanitize();
        for i in self.entry_indices() {
            let done = self.write_fits(&self.entry(i));
            let mut e = self.entry_mut(i);
            if e.flags & E_PENDING != 0 && e.flags & E_DEAD == 0 && !done {
                // The first failure is the one the writer learns about.
                if e.flags & (E_FAILED_BROKEN | E_FAILED_DISCONNECTED) == 0 {
                    e.flags |= entry_flag;
                }
            } else {
                // A pending write whose bytes were all in the pipe and whose rest fitted the
                // quota had completed already — at the moment the reader took its part —
                // even though its writer has not looked yet: it succeeds, whatever comes
                // after (its entry leaves; the writer, finding none, reports it done).
                e.flags |= E_DEAD;
            }
        }
        for i in self.read_indices() {
            let mut r = self.rec_mut(i);
            if r.state == R_WAITING {
                r.state = R_FAILED;
                r.error = read_err.0;
            }
        }
        // Data already handed to a read is the reader's (its read completed, as an IRP does
        // on Windows): keep it, clipped to what reached the ring. Every other byte goes.
        let filled = self.h.filled;
        for i in self.read_indices() {
            let mut r = self.rec_mut(i);
            if r.state == R_ASSIGNED && r.start.saturating_add(r.len) > filled {
                r.len = filled.saturating_sub(r.start);
                r.flags &= !RF_MORE;
            }
        }
        self.h.end = filled;
        self.h.assigned = filled;
        // Failed writes keep their slot (their writer must learn the error) but no data.
        for i in self.entry_indices() {
            let mut e = self.entry_mut(i);
            e.start = filled;
            e.len = 0;
            e.flags |= E_TAKEN_EMPTY;
        }
        self.collect();
    }

    /// The writing end closed with nothing more to come: waiting reads that find the queue
    /// empty fail with `ERROR_BROKEN_PIPE`; unread data stays readable first.
    pub fn writer_closed(&mut self) {
        self.sanitize();
        self.pump();
        if self.first_unread_entry().is_some() {
            return;
        }
        for i in self.read_indices() {
            let mut r = self.rec_mut(i);
            if r.state == R_WAITING {
                r.state = R_FAILED;
                r.error = Win32Error::BROKEN_PIPE.0;
            }
        }
    }

    /// Drop what processes that no longer exist left behind: their pending writes (unread
    /// data vanishes, as when Windows terminates a process) and their reads.
    pub fn reap(&mut self, alive: &mut dyn FnMut(u32) -> bool) {
        self.sanitize();
        let writable = self.ring.writable();
        for i in self.entry_indices() {
            let e = self.entry(i);
            // Removing a write moves the ring bytes after it down: an end that maps the ring
            // read-only removes only a write with nothing after it (the usual case: the dead
            // writer's was the newest) and leaves others to the writing end.
            let movable = writable || e.start.saturating_add(e.len) >= self.h.filled;
            if e.flags & E_PENDING != 0 && e.flags & E_DEAD == 0 && movable && !alive(e.pid) {
                self.remove_unread(i);
                self.entry_mut(i).flags |= E_DEAD;
            }
        }
        for i in self.read_indices() {
            let r = self.rec(i);
            if r.state != R_FREE && !alive(r.pid) {
                self.rec_mut(i).state = R_FREE;
            }
        }
        self.collect();
    }

    /// Whether a process other than `me` owns a pending write or read here (only then can
    /// [`Queue::reap`] find anything to do).
    pub fn has_foreign(&self, me: u32) -> bool {
        // Writes complete in stream order, so pending entries are the newest ones: look back
        // from the tail until an entry that is no longer pending.
        for i in self.entry_indices().rev() {
            let e = self.entry(i);
            if e.flags & E_DEAD != 0 {
                continue;
            }
            if e.flags & E_PENDING == 0 {
                break;
            }
            if e.pid != me {
                return true;
            }
        }
        self.read_indices().any(|i| {
            let r = self.rec(i);
            r.state != R_FREE && r.pid != me
        })
    }

    /// Process ids that own pending writes or reads (for [`Queue::reap`]'s liveness checks).
    pub fn foreign_pids(&self, me: u32) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .entry_indices()
            .map(|i| self.entry(i))
            .filter(|e| e.flags & E_PENDING != 0 && e.flags & E_DEAD == 0)
            .map(|e| e.pid)
            .chain(
                self.read_indices()
                    .map(|i| self.rec(i))
                    .filter(|r| r.state != R_FREE)
                    .map(|r| r.pid),
            )
            .filter(|&p| p != me)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
