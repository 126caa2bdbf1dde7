//! Data transfer: byte and message types × read modes, zero-length messages, PeekNamedPipe,
//! quotas and blocking writes, FlushFileBuffers, PIPE_NOWAIT, TransactNamedPipe,
//! CallNamedPipe, WaitNamedPipe, anonymous pipes and process ids (conformance §1, §3
//! test_CreateNamedPipe, test_ReadFile, test_blocking_rw, test_TransactNamedPipe,
//! test_wait_pipe, test_nowait, test_CreatePipe, test_namedpipe_process_id; §5; api.md §2.5–
//! §2.8, §2.12, §2.14–§2.18, §4).
mod common;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const OBUF: &[u8] = b"Bit Bucket\0"; // 11 bytes, as in Wine's test
const OBUF2: &[u8] = b"More bits\0"; // 10 bytes

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A connected pair whose server is shared (Arc) so threads can use it.
fn arc_pair(o: &ServerOptions, tag: &str) -> (Arc<PipeServer>, Arc<PipeClient>) {
    let (s, c, _) = pair_with(o, tag);
    (Arc::new(s), Arc::new(c))
}

// conformance §3 test_CreateNamedPipe: `Write 11 bytes server->client, ReadFile(32) returns 11;
// same client->server (10 bytes)`.
#[test]
fn write_read_both_directions() {
    for message in [false, true] {
        let (s, c, _) = pair_with(&opts(message, message, 1, 1024, 1024), "rw");
        assert_eq!(s.write(OBUF), Ok(11));
        assert_eq!(read_n(&c, 32), (OBUF.to_vec(), ro(11, false)));
        assert_eq!(c.write(OBUF2), Ok(10));
        assert_eq!(read_n(&s, 32), (OBUF2.to_vec(), ro(10, false)));
    }
}

// conformance §3 test_CreateNamedPipe: `PeekNamedPipe(h, NULL,0, NULL,&avail,&left) after one
// write of N: avail=N; left=0 in byte mode, left=N in message mode`.
#[test]
fn peek_without_buffer_after_one_write() {
    let (s, c) = byte_pair("peek0b");
    s.write(OBUF).unwrap();
    assert_eq!(peek_n(&c, 0).1, pk(0, 11, 0));
    let (s, c) = msg_pair("peek0m");
    s.write(OBUF).unwrap();
    assert_eq!(peek_n(&c, 0).1, pk(0, 11, 11));
}

// conformance §3 test_CreateNamedPipe: `PeekNamedPipe(buf,4) with 10 bytes queued: read=4,
// avail=10; left = (DWORD)-4 in byte mode (i.e. 0 - bytesRead wraps), left = 10-4=6 in message
// mode`.
#[test]
fn peek_partial_left_wraps_on_byte_pipe() {
    let (s, c) = byte_pair("peek4b");
    c.write(OBUF2).unwrap();
    let (d, p) = peek_n(&s, 4);
    assert_eq!(d, &OBUF2[..4]);
    assert_eq!(p, pk(4, 10, 0u32.wrapping_sub(4)));
    let (s, c) = msg_pair("peek4m");
    c.write(OBUF2).unwrap();
    assert_eq!(peek_n(&s, 4).1, pk(4, 10, 6));
}

// api.md §2.8: "Copies data without removing it" — peeking twice gives the same, then the read
// gets it all.
#[test]
fn peek_does_not_consume() {
    let (s, c) = byte_pair("peeknc");
    s.write(b"abc").unwrap();
    assert_eq!(peek_n(&c, 8).0, b"abc");
    assert_eq!(peek_n(&c, 8).0, b"abc");
    assert_eq!(read_n(&c, 8).0, b"abc");
    assert_eq!(peek_n(&c, 8).1, pk(0, 0, 0));
}

// conformance §3 test_CreateNamedPipe: `Client-side (client handle is in byte read mode ...)
// ReadFile(4) of a 10-byte message -> TRUE, 4 bytes; next ReadFile returns remaining 6`.
#[test]
fn byte_mode_client_reads_message_in_pieces_without_more_data() {
    let (s, c) = msg_pair("bytepieces");
    s.write(OBUF2).unwrap();
    assert_eq!(read_n(&c, 4), (OBUF2[..4].to_vec(), ro(4, false)));
    assert_eq!(read_n(&c, 32), (OBUF2[4..].to_vec(), ro(6, false)));
}

// conformance §3 test_CreateNamedPipe: `Server-side in message mode: ReadFile(4) of 11-byte
// message -> FALSE, ERROR_MORE_DATA (234), readden=4; next ReadFile(28) -> TRUE, 7`.
#[test]
fn message_mode_partial_read_more_data() {
    let (s, c) = msg_pair("moredata");
    c.write(OBUF).unwrap();
    assert_eq!(read_n(&s, 4), (OBUF[..4].to_vec(), ro(4, true)));
    assert_eq!(read_n(&s, 28), (OBUF[4..].to_vec(), ro(7, false)));
}

// conformance §3 test_CreateNamedPipe: `In byte mode same ReadFile(4) -> TRUE, 4`.
#[test]
fn byte_pipe_partial_read_no_more_data() {
    let (s, c) = byte_pair("bytepartial");
    c.write(OBUF).unwrap();
    assert_eq!(read_n(&s, 4).1, ro(4, false));
    assert_eq!(read_n(&s, 28).1, ro(7, false));
}

// conformance §3 test_CreateNamedPipe: `Three-part read in message mode: ReadFile(4) ->
// ERROR_MORE_DATA/4, ReadFile(4) -> ERROR_MORE_DATA/4, ReadFile(rest) -> TRUE, 2`.
#[test]
fn three_part_message_read() {
    let (s, c) = msg_pair("threepart");
    c.write(OBUF2).unwrap();
    assert_eq!(read_n(&s, 4).1, ro(4, true));
    assert_eq!(read_n(&s, 4).1, ro(4, true));
    assert_eq!(read_n(&s, 32), (OBUF2[8..].to_vec(), ro(2, false)));
}

// conformance §3 test_ReadFile: `Server MESSAGE|READMODE_MESSAGE ...; client writes 512 bytes.
// Synchronous ReadFile(server, 1 byte) -> FALSE, ERROR_MORE_DATA (234), *lpNumberOfBytesRead =
// 1`.
#[test]
fn one_byte_read_of_512_byte_message() {
    let (s, c) = msg_pair("read1");
    c.write(&pattern(512)).unwrap();
    assert_eq!(read_n(&s, 1), (vec![0], ro(1, true)));
    assert_eq!(read_n(&s, 1024).1, ro(511, false));
}

// conformance §3 test_CreateNamedPipe: `Two writes (11 then 10 bytes) server->client: Peek(4) ->
// read 4, avail=21, left=-4 (byte) / 11-4=7 (msg). Peek(32) -> byte: read 21, left=(DWORD)-21;
// msg: read 11 (only first message), left=0.`
#[test]
fn peek_two_writes() {
    let (s, c) = byte_pair("peek2b");
    s.write(OBUF).unwrap();
    s.write(OBUF2).unwrap();
    assert_eq!(peek_n(&c, 4).1, pk(4, 21, 0u32.wrapping_sub(4)));
    let (d, p) = peek_n(&c, 32);
    assert_eq!(p, pk(21, 21, 0u32.wrapping_sub(21)));
    assert_eq!(d, [OBUF, OBUF2].concat());
    let (s, c) = msg_pair("peek2m");
    s.write(OBUF).unwrap();
    s.write(OBUF2).unwrap();
    assert_eq!(peek_n(&c, 4).1, pk(4, 21, 7));
    let (d, p) = peek_n(&c, 32);
    assert_eq!(p, pk(11, 21, 0));
    assert_eq!(d, OBUF);
}

// conformance §3 test_CreateNamedPipe: `Client ReadFile(32) (client in byte read mode) -> 21
// bytes (both messages concatenated) even on a message-type pipe`.
#[test]
fn byte_mode_reader_gets_two_messages_at_once() {
    let (s, c) = msg_pair("twomsgs");
    s.write(OBUF).unwrap();
    s.write(OBUF2).unwrap();
    assert_eq!(read_n(&c, 32), ([OBUF, OBUF2].concat(), ro(21, false)));
}

// conformance §3 test_CreateNamedPipe: `Reverse (client->server) two writes, server in message
// readmode: ReadFile(32) returns only first message (11 bytes); byte mode returns 21`.
#[test]
fn message_mode_reader_gets_one_message() {
    let (s, c) = msg_pair("onemsg");
    c.write(OBUF).unwrap();
    c.write(OBUF2).unwrap();
    assert_eq!(read_n(&s, 32), (OBUF.to_vec(), ro(11, false)));
    assert_eq!(read_n(&s, 32), (OBUF2.to_vec(), ro(10, false)));
    let (s, c) = byte_pair("onemsgb");
    c.write(OBUF).unwrap();
    c.write(OBUF2).unwrap();
    eventually(LIMIT, "21 queued", || s.available() == 21);
    assert_eq!(read_n(&s, 32).1, ro(21, false));
}

// conformance §3 test_CreateNamedPipe: `After client switched to message readmode: two server
// writes (11,10): Peek(32) -> read 11, avail 21, left 0; ReadFile(32) -> 11 (one message).
// Client ReadFile(4) of 10-byte message in message readmode -> FALSE, ERROR_MORE_DATA, 4; rest
// read -> 6.`
#[test]
fn client_in_message_read_mode() {
    let (s, c) = msg_pair("climsg");
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    s.write(OBUF).unwrap();
    s.write(OBUF2).unwrap();
    assert_eq!(peek_n(&c, 32).1, pk(11, 21, 0));
    assert_eq!(read_n(&c, 32), (OBUF.to_vec(), ro(11, false)));
    assert_eq!(read_n(&c, 4), (OBUF2[..4].to_vec(), ro(4, true)));
    assert_eq!(read_n(&c, 32), (OBUF2[4..].to_vec(), ro(6, false)));
}

// conformance §1: "Peek on a message-type pipe reports MessageLength = unread remainder of the
// head message and copies at most that much, regardless of the reader's read mode".
#[test]
fn peek_after_partial_message_read() {
    let (s, c) = msg_pair("peekrem");
    c.write(&pattern(20)).unwrap();
    c.write(&pattern(15)).unwrap();
    assert_eq!(peek_n(&s, 100).1, pk(20, 35, 0));
    assert_eq!(read_n(&s, 10).1, ro(10, true));
    assert_eq!(peek_n(&s, 100).1, pk(10, 25, 0));
    assert_eq!(peek_n(&s, 4).1, pk(4, 25, 6));
    assert_eq!(read_n(&s, 10).1, ro(10, false));
    assert_eq!(peek_n(&s, 100).1, pk(15, 15, 0));
    assert_eq!(read_n(&s, 15).1, ro(15, false));
}

// conformance §3 test_CreateNamedPipe: `Partial message remainder stays in the pipe (not
// thread-local): ReadFile(4) in thread A -> ERROR_MORE_DATA; ReadFile(4) in thread B ->
// ERROR_MORE_DATA, 4; ReadFile(32) in thread B -> TRUE, 11-8=3`.
#[test]
fn partial_message_remainder_read_by_another_thread() {
    let (s, c) = arc_pair(&opts(true, true, 1, 1024, 1024), "otherthread");
    c.write(OBUF).unwrap();
    let s1 = s.clone();
    let a = with_timeout(LIMIT, move || read_n(&s1, 4));
    assert_eq!(a, (OBUF[..4].to_vec(), ro(4, true)));
    let s2 = s.clone();
    let b = with_timeout(LIMIT, move || (read_n(&s2, 4), read_n(&s2, 32)));
    assert_eq!(b.0, (OBUF[4..8].to_vec(), ro(4, true)));
    assert_eq!(b.1, (OBUF[8..].to_vec(), ro(3, false)));
    // Same in the server -> client direction.
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    s.write(OBUF2).unwrap();
    let c1 = c.clone();
    assert_eq!(with_timeout(LIMIT, move || read_n(&c1, 4)).1, ro(4, true));
    let c2 = c.clone();
    assert_eq!(
        with_timeout(LIMIT, move || read_n(&c2, 32)),
        (OBUF2[4..].to_vec(), ro(6, false))
    );
}

// conformance §1: "a message-type pipe queues [zero-length writes] as empty messages";
// test_blocking_rw: "Zero-length write: Peek shows 0/0/0 ...; in msg mode a read(1) returns 0
// bytes TRUE (consumes it)".
#[test]
fn zero_length_message_queued_and_read_as_zero_bytes() {
    let (s, c) = msg_pair("zeromsg");
    assert_eq!(c.write(b""), Ok(0));
    assert_eq!(peek_n(&s, 16).1, pk(0, 0, 0));
    assert_eq!(read_n(&s, 1), (vec![], ro(0, false)));
    c.write(b"after").unwrap();
    assert_eq!(read_n(&s, 16).0, b"after");
}

// conformance §3 test_blocking_rw: "In message-type pipes the queued empty (0-length) message is
// then returned by a read as 0 bytes, TRUE — even for a byte-read-mode reader."
#[test]
fn zero_length_message_read_by_byte_mode_reader() {
    let (s, c) = msg_pair("zerobyteread");
    s.write(b"").unwrap();
    s.write(b"x").unwrap();
    assert_eq!(read_n(&c, 16), (vec![], ro(0, false)));
    assert_eq!(read_n(&c, 16), (b"x".to_vec(), ro(1, false)));
}

// conformance §1: "A byte-type pipe drops zero-length writes (immediate success, nothing
// queued)".
#[test]
fn zero_length_write_dropped_on_byte_pipe() {
    let (s, c) = byte_pair("zerobyte");
    assert_eq!(c.write(b""), Ok(0));
    assert_eq!(peek_n(&s, 16).1, pk(0, 0, 0));
    s.set_handle_mode(PIPE_NOWAIT).unwrap();
    assert_eq!(s.read(&mut [0u8; 16]), Err(Win32Error::NO_DATA));
    s.set_handle_mode(0).unwrap();
    c.write(b"a").unwrap();
    assert_eq!(read_n(&s, 16), (b"a".to_vec(), ro(1, false)));
}

// api.md §4.2: "After the writer closes: 1. The zero-length message is read first, as TRUE with 0
// bytes. 2. The next read gives ERROR_BROKEN_PIPE."
#[test]
fn zero_length_message_then_broken_pipe() {
    let (s, c) = msg_pair("zeroclose");
    c.write(b"").unwrap();
    drop(c);
    assert_eq!(read_n(&s, 16), (vec![], ro(0, false)));
    assert_eq!(s.read(&mut [0u8; 16]), Err(Win32Error::BROKEN_PIPE));
}

// conformance §3 test_blocking_rw: "A zero-length write completes immediately (never blocks) even
// while other writes are pending; does not change avail."
#[test]
fn zero_length_write_never_blocks() {
    let (s, c) = arc_pair(&opts(true, true, 1, 100, 100), "zeronb");
    let c2 = c.clone();
    let big = bg(move || c2.write(&pattern(150)));
    big.assert_pending("150-byte write into a 100-byte quota");
    let c3 = c.clone();
    assert_eq!(with_timeout(LIMIT, move || c3.write(b"")), Ok(0));
    assert_eq!(s.available(), 150);
    assert_eq!(read_n(&s, 200).1, ro(150, false));
    assert_eq!(big.join("big write"), Ok(150));
    assert_eq!(read_n(&s, 10), (vec![], ro(0, false)));
}

// conformance §1: "the write request completes only when the total unread bytes up to and
// including that message are <= the reader's quota"; test_blocking_rw: "A write of buf_size
// (5000) when 3000 are queued goes PENDING ... Its data is nevertheless visible".
#[test]
fn write_pends_until_unread_data_fits_quota() {
    let (s, c) = arc_pair(&opts(false, false, 1, 5000, 6000), "quota");
    assert_eq!(
        with_timeout(LIMIT, {
            let s = s.clone();
            move || s.write(&pattern(3000))
        }),
        Ok(3000),
        "3000 fit in 5000: completes at once"
    );
    let s2 = s.clone();
    let w = bg(move || s2.write(&pattern(5000)));
    w.assert_pending("3000 + 5000 > 5000");
    // Data of the pending write is visible to the reader.
    assert_eq!(peek_n(&c, 10000).1, pk(8000, 8000, 0u32.wrapping_sub(8000)));
    // Reading 3000 leaves 5000 unread, which fits: the write completes.
    assert_eq!(read_n(&c, 3000).1, ro(3000, false));
    assert_eq!(w.join("write"), Ok(5000));
    assert_eq!(read_n(&c, 6000).1, ro(5000, false));
}

// conformance §1: "Each end's buffer_size is its inbound quota: the server end uses the pipe's
// InboundQuota, the client end the OutboundQuota" — a 5500-byte client write fits the 6000
// inbound quota, the same server write does not fit the 5000 outbound quota.
#[test]
fn quota_is_per_direction() {
    let (s, c) = arc_pair(&opts(false, false, 1, 5000, 6000), "quotadir");
    let c2 = c.clone();
    assert_eq!(
        with_timeout(LIMIT, move || c2.write(&pattern(5500))),
        Ok(5500)
    );
    let s2 = s.clone();
    let w = bg(move || s2.write(&pattern(5500)));
    w.assert_pending("5500 > outbound 5000");
    assert_eq!(read_n(&c, 500).1, ro(500, false));
    assert_eq!(w.join("server write"), Ok(5500));
}

// conformance §3 test_blocking_rw: "A single write larger than quota (buf_size+2000 = 7000) pends
// ... Reading 1999 leaves 5001 queued: write still pending. Reading 1 more (5000 queued <=
// quota) completes the write with 7000 bytes."
#[test]
fn write_larger_than_quota_completes_when_remainder_fits() {
    for message in [false, true] {
        let (s, c) = arc_pair(&opts(message, message, 1, 5000, 6000), "bigwrite");
        if message {
            c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
        }
        let s2 = s.clone();
        let w = bg(move || s2.write(&pattern(7000)));
        w.assert_pending("7000 > 5000");
        let left = if message { 0 } else { 0u32.wrapping_sub(7000) };
        // msglen 7000 - 7000 copied = 0 on a message pipe; 0 - 7000 (wrapped) on a byte pipe.
        assert_eq!(peek_n(&c, 8000).1, pk(7000, 7000, left));
        // In message read mode a partial read of the message reports ERROR_MORE_DATA.
        assert_eq!(read_n(&c, 1999).1, ro(1999, message));
        w.assert_pending("5001 unread");
        assert_eq!(read_n(&c, 1).1, ro(1, message));
        assert_eq!(w.join("write"), Ok(7000));
        let (d, r) = read_n(&c, 5001);
        assert_eq!(r, ro(5000, false), "message {message}");
        assert_eq!(d, pattern(7000)[2000..]);
    }
}

// conformance §3 test_blocking_rw: "A further 1-byte write also pends ... Reading 3000 completes
// the first pending write but not the second 1-byte write (queued 5001 > 5000) ... Reading 1
// more byte completes the 1-byte write." (writes complete in queue order)
#[test]
fn stalled_writes_complete_in_order() {
    let (s, c) = arc_pair(&opts(true, false, 1, 5000, 6000), "order");
    s.write(&pattern(3000)).unwrap();
    let s2 = s.clone();
    let w1 = bg(move || s2.write(&pattern(5000)));
    w1.assert_pending("5000 write");
    let s3 = s.clone();
    let w2 = bg(move || s3.write(b"z"));
    w2.assert_pending("1-byte write");
    assert_eq!(c.available(), 8001);
    assert_eq!(read_n(&c, 3000).1.len, 3000);
    assert_eq!(w1.join("5000 write"), Ok(5000));
    w2.assert_pending("5001 unread > 5000");
    assert_eq!(read_n(&c, 1).1.len, 1);
    assert_eq!(w2.join("1-byte write"), Ok(1));
    // The 1-byte message is behind the 5000-byte one: not readable before it.
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    assert_eq!(read_n(&c, 10000).1, ro(4999, false));
    assert_eq!(read_n(&c, 10).0, b"z");
}

// api.md §4.1: "Quota 0. nIn/OutBufferSize = 0 is legal ... Every non-empty write then stalls
// until a reader takes the data."
#[test]
fn quota_zero_every_write_waits_for_reader() {
    let (s, c) = arc_pair(&opts(false, false, 1, 0, 0), "quota0");
    let s2 = s.clone();
    let w = bg(move || s2.write(b"hello"));
    w.assert_pending("write with quota 0");
    assert_eq!(c.available(), 5);
    assert_eq!(read_n(&c, 2).0, b"he");
    w.assert_pending("3 bytes still unread");
    assert_eq!(read_n(&c, 10).0, b"llo");
    assert_eq!(w.join("write"), Ok(5));
}

// api.md §4.1: "Quota 0" — a writer whose data is taken by a reader already waiting completes.
#[test]
fn quota_zero_write_into_pending_read() {
    let (s, c) = arc_pair(&opts(false, false, 1, 0, 0), "quota0r");
    let c2 = c.clone();
    let r = bg(move || read_n(&c2, 16));
    r.assert_pending("read on empty pipe");
    let s2 = s.clone();
    assert_eq!(with_timeout(LIMIT, move || s2.write(b"abc")), Ok(3));
    assert_eq!(r.join("read").0, b"abc");
}

// conformance §3 test_blocking_rw: "FlushFileBuffers blocks (thread not signaled after 50 ms)
// while the written data is unread"; §1 "Flush pends until the peer's incoming queue is empty."
#[test]
fn flush_waits_for_reader() {
    let (s, c) = arc_pair(&opts(false, false, 1, 1024, 1024), "flush");
    s.write(b"0123456789").unwrap();
    let s2 = s.clone();
    let f = bg(move || s2.flush());
    f.assert_pending("flush with unread data");
    assert_eq!(read_n(&c, 4).0, b"0123");
    f.assert_pending("flush with 6 unread bytes");
    assert_eq!(read_n(&c, 10).0, b"456789");
    assert_eq!(f.join("flush"), Ok(()));
}

// api.md §2.18: "[NPFS] applies it to either end" — the client's flush waits for the server.
#[test]
fn client_flush_waits_for_server() {
    let (s, c) = arc_pair(&opts(true, true, 1, 1024, 1024), "flushc");
    c.write(b"x").unwrap();
    let c2 = c.clone();
    let f = bg(move || c2.flush());
    f.assert_pending("client flush");
    assert_eq!(read_n(&s, 4).0, b"x");
    assert_eq!(f.join("client flush"), Ok(()));
}

// conformance §3 test_blocking_rw: "FlushFileBuffers(writer) on empty pipe returns immediately".
#[test]
fn flush_on_empty_pipe_returns_at_once() {
    let (s, c) = byte_pair("flushempty");
    assert_eq!(
        with_timeout(LIMIT, move || (s.flush(), c.flush())),
        (Ok(()), Ok(()))
    );
}

// api.md §2.18: "A pending flush ends when ... the peer closes: ERROR_BROKEN_PIPE [WINE]"
// (conformance §3 test_overlapped_transport).
#[test]
fn pending_flush_fails_broken_pipe_when_peer_closes() {
    let (s, c) = arc_pair(&opts(false, false, 1, 1024, 1024), "flushbroken");
    s.write(b"abc").unwrap();
    let s2 = s.clone();
    let f = bg(move || s2.flush());
    f.assert_pending("flush");
    drop(c);
    assert_eq!(f.join("flush"), Err(Win32Error::BROKEN_PIPE));
}

// api.md §2.18: "A pending flush ends when ... the server calls DisconnectNamedPipe:
// ERROR_PIPE_NOT_CONNECTED [WINE]" (the client's blocked flush).
#[test]
fn pending_flush_fails_not_connected_on_disconnect() {
    let (s, c) = arc_pair(&opts(false, false, 1, 1024, 1024), "flushdisc");
    c.write(b"abc").unwrap();
    let c2 = c.clone();
    let f = bg(move || c2.flush());
    f.assert_pending("client flush");
    s.disconnect().unwrap();
    assert_eq!(f.join("flush"), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §3 test_overlapped_transport: "Close client while server has a pending 7000-byte
// write: pending write fails ERROR_BROKEN_PIPE (109)".
#[test]
fn pending_write_fails_broken_pipe_when_peer_closes() {
    let (s, c) = arc_pair(&opts(false, false, 1, 5000, 6000), "wbroken");
    let s2 = s.clone();
    let w = bg(move || s2.write(&pattern(7000)));
    w.assert_pending("7000 write");
    drop(c);
    assert_eq!(w.join("write"), Err(Win32Error::BROKEN_PIPE));
}

// conformance §3 test_overlapped_transport: "Close server while client has pending write:
// client's write and flush fail ERROR_BROKEN_PIPE (109)" — and a client read waiting on an
// empty pipe fails the same way (api.md §3.2, the server end closing).
#[test]
fn client_pending_write_flush_read_fail_broken_pipe_when_server_closes() {
    let (s, c) = arc_pair(&opts(false, false, 1, 5000, 6000), "wbroken-srv");
    let c2 = c.clone();
    let w = bg(move || c2.write(&pattern(8000)));
    w.assert_pending("client 8000 write");
    let c3 = c.clone();
    let f = bg(move || c3.flush());
    f.assert_pending("client flush");
    drop(s);
    assert_eq!(w.join("write"), Err(Win32Error::BROKEN_PIPE));
    assert_eq!(f.join("flush"), Err(Win32Error::BROKEN_PIPE));

    let (s, c) = arc_pair(&opts(false, false, 1, 5000, 6000), "rbroken-srv");
    let c2 = c.clone();
    let r = bg(move || c2.read(&mut [0u8; 16]));
    r.assert_pending("client read");
    drop(s);
    assert_eq!(r.join("read"), Err(Win32Error::BROKEN_PIPE));
}

// conformance §3 test_overlapped_transport: "DisconnectNamedPipe(server) with pending writes in
// both directions: both writes fail ERROR_PIPE_NOT_CONNECTED (233)".
#[test]
fn pending_writes_fail_not_connected_on_disconnect() {
    let (s, c) = arc_pair(&opts(false, false, 1, 100, 100), "wdisc");
    let s2 = s.clone();
    let ws = bg(move || s2.write(&pattern(300)));
    let c2 = c.clone();
    let wc = bg(move || c2.write(&pattern(300)));
    ws.assert_pending("server write");
    wc.assert_pending("client write");
    s.disconnect().unwrap();
    assert_eq!(ws.join("server write"), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(wc.join("client write"), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// api.md §3.2: "DisconnectNamedPipe | CONNECTED | ... Pending reads and writes fail with
// ERROR_PIPE_NOT_CONNECTED".
#[test]
fn pending_read_fails_not_connected_on_disconnect() {
    let (s, c) = arc_pair(&opts(false, false, 1, 100, 100), "rdisc");
    let c2 = c.clone();
    let r = bg(move || c2.read(&mut [0u8; 8]));
    r.assert_pending("client read");
    s.disconnect().unwrap();
    assert_eq!(r.join("client read"), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §1: "Closing one end moves the peer to CLOSING: ... reads on an empty queue return
// STATUS_PIPE_BROKEN" — a read already pending when the peer closes fails ERROR_BROKEN_PIPE.
#[test]
fn pending_read_fails_broken_pipe_when_peer_closes() {
    let (s, c) = arc_pair(&opts(false, false, 1, 100, 100), "rbroken");
    let s2 = s.clone();
    let r = bg(move || s2.read(&mut [0u8; 8]));
    r.assert_pending("server read");
    drop(c);
    assert_eq!(r.join("server read"), Err(Win32Error::BROKEN_PIPE));
}

// conformance §3 read_pipe_test: "Pending NtReadFile(2 bytes) completes with only 1 byte when 1
// byte arrives ("partial read is good enough")".
#[test]
fn pending_read_completes_with_partial_data() {
    let (s, c) = arc_pair(&opts(false, false, 1, 1024, 1024), "partialread");
    let c2 = c.clone();
    let r = bg(move || read_n(&c2, 100));
    r.assert_pending("read");
    s.write(b"x").unwrap();
    assert_eq!(r.join("read"), (b"x".to_vec(), ro(1, false)));
}

// conformance §1: "Pending reads are satisfied in FIFO order."
#[test]
fn pending_reads_satisfied_in_fifo_order() {
    let (s, c) = arc_pair(&opts(true, false, 1, 1024, 1024), "fiforead");
    let c1 = c.clone();
    let first = bg(move || read_n(&c1, 10));
    first.assert_pending("first read");
    let c2 = c.clone();
    let second = bg(move || read_n(&c2, 10));
    second.assert_pending("second read");
    s.write(b"1").unwrap();
    assert_eq!(first.join("first read").0, b"1");
    second.assert_pending("second read after first write");
    s.write(b"2").unwrap();
    assert_eq!(second.join("second read").0, b"2");
}

// api.md §2.15 zero-size reads: "A read of size 0 on an empty pipe pends [WINE] ... A non-empty
// message gives 0 bytes and ERROR_MORE_DATA in message-read mode, or success in byte-read mode";
// the data stays.
#[test]
fn zero_size_read_pends_until_data() {
    let (s, c) = arc_pair(&opts(true, true, 1, 1024, 1024), "read0");
    let c2 = c.clone();
    let r = bg(move || c2.read(&mut []));
    r.assert_pending("0-byte read on empty pipe");
    s.write(b"y").unwrap();
    assert_eq!(r.join("0-byte read"), Ok(ro(0, false)));
    assert_eq!(c.available(), 1);
    // In message read mode the same read reports ERROR_MORE_DATA.
    let s2 = s.clone();
    let r = bg(move || s2.read(&mut []));
    r.assert_pending("server 0-byte read");
    c.write(b"zz").unwrap();
    assert_eq!(r.join("server 0-byte read"), Ok(ro(0, true)));
    assert_eq!(read_n(&s, 8).0, b"zz");
}

// conformance §3 test_blocking_rw: "With pending read(0) and read(1): a 0-length write completes
// the 0-length read (0 bytes) in message mode; in byte mode it wakes nothing".
#[test]
fn zero_length_write_wakes_zero_read_only_on_message_pipe() {
    let (s, c) = arc_pair(&opts(false, false, 1, 1024, 1024), "wake0b");
    let c2 = c.clone();
    let r = bg(move || c2.read(&mut []));
    r.assert_pending("0-byte read");
    s.write(b"").unwrap();
    r.assert_pending("0-byte read after empty write on byte pipe");
    s.write(b"x").unwrap();
    assert_eq!(r.join("0-byte read"), Ok(ro(0, false)));
    let (s, c) = arc_pair(&opts(true, true, 1, 1024, 1024), "wake0m");
    let c2 = c.clone();
    let r = bg(move || c2.read(&mut []));
    r.assert_pending("0-byte read");
    s.write(b"").unwrap();
    assert_eq!(r.join("0-byte read"), Ok(ro(0, false)));
    assert_eq!(c.available(), 0);
}

// conformance §1 PIPE_NOWAIT: "Read on an empty connected pipe returns STATUS_PIPE_EMPTY
// (ERROR_NO_DATA)"; api.md §2.15: "If data is there, it is returned at once."
#[test]
fn nowait_read() {
    let (s, c) = byte_pair("nowaitread");
    c.set_handle_mode(PIPE_NOWAIT).unwrap();
    assert_eq!(c.read(&mut [0u8; 8]), Err(Win32Error::NO_DATA));
    s.write(b"ab").unwrap();
    assert_eq!(read_n(&c, 8).0, b"ab");
    assert_eq!(c.read(&mut [0u8; 8]), Err(Win32Error::NO_DATA));
}

// api.md §4.4: "PeekNamedPipe is never affected by the wait mode" / nowait server created with
// PIPE_NOWAIT reads ERROR_NO_DATA.
#[test]
fn nowait_server_read_and_peek() {
    let mut o = opts(true, true, 1, 1024, 1024);
    o.nowait(true);
    let (s, c, _) = pair_with(&o, "nowaitsrv");
    assert_eq!(s.read(&mut [0u8; 8]), Err(Win32Error::NO_DATA));
    assert_eq!(peek_n(&s, 8).1, pk(0, 0, 0));
    c.write(b"m").unwrap();
    assert_eq!(read_n(&s, 8).0, b"m");
}

fn nowait_pair(message: bool, tag: &str) -> (Arc<PipeServer>, Arc<PipeClient>) {
    let mut o = opts(message, message, 1, 512, 512);
    o.nowait(true);
    arc_pair(&o, tag)
}

// api.md §4.4 byte-type table: "No reader pending, 513-byte write | 0 written".
#[test]
fn nowait_byte_write_over_quota_writes_nothing() {
    let (s, c) = nowait_pair(false, "nw513");
    assert_eq!(s.write(&pattern(513)), Ok(0));
    assert_eq!(c.available(), 0);
}

// api.md §4.4 byte-type table: "Exact 512-byte write into an empty queue | 512 written".
#[test]
fn nowait_byte_write_exact_quota() {
    let (s, c) = nowait_pair(false, "nw512");
    assert_eq!(s.write(&pattern(512)), Ok(512));
    assert_eq!(c.available(), 512);
    // Now full: one more byte does not fit.
    assert_eq!(s.write(b"x"), Ok(0));
    assert_eq!(c.available(), 512);
}

// Issue 13 g: a PIPE_NOWAIT write never blocks, whatever the number of unread messages. With
// more unread messages than the queue's table holds (npfs's limit, docs/DEVIATIONS.md) it
// reports 0 bytes written, as a write that does not fit the quota; the messages written
// before all arrive, in order.
#[test]
fn nowait_writes_never_block_on_unread_message_count() {
    let mut o = opts(true, true, 1, 65536, 65536);
    o.nowait(true);
    let (s, c) = arc_pair(&o, "nwmany");
    let writer = bg(move || {
        let mut written = Vec::new();
        for i in 0..400u32 {
            written.push(s.write(&i.to_le_bytes()).expect("nowait write"));
        }
        written
    });
    let written = writer.join("400 nowait writes return without a reader");
    let accepted = written.iter().take_while(|&&n| n == 4).count();
    assert!(accepted >= 256, "only {accepted} messages went in");
    assert!(
        written[accepted..].iter().all(|&n| n == 0),
        "a write after a refused one went in: {written:?}"
    );
    for i in 0..accepted as u32 {
        assert_eq!(read_n(&c, 4).0, i.to_le_bytes(), "message {i}");
    }
}

/// Start a blocking client read of `len` bytes and make sure it is pending.
fn pending_read(c: &Arc<PipeClient>, len: usize) -> Bg<(Vec<u8>, ReadOutcome)> {
    let c2 = c.clone();
    let r = bg(move || read_n(&c2, len));
    r.assert_pending("pending read");
    r
}

// api.md §4.4 byte-type table: "32768-byte read pending, 513-byte write | 513 written".
#[test]
fn nowait_byte_write_into_large_pending_read() {
    let (s, c) = nowait_pair(false, "nwbigread");
    let r = pending_read(&c, 32768);
    assert_eq!(s.write(&pattern(513)), Ok(513));
    assert_eq!(r.join("read").1.len, 513);
}

// api.md §4.4 byte-type table: "1-byte read pending, 513-byte write | 513 written (1 + 512)".
#[test]
fn nowait_byte_write_fills_pending_read_then_quota() {
    let (s, c) = nowait_pair(false, "nw1r513");
    let r = pending_read(&c, 1);
    assert_eq!(s.write(&pattern(513)), Ok(513));
    assert_eq!(r.join("read").0, vec![0]);
    assert_eq!(c.available(), 512);
}

// api.md §4.4 byte-type table: "1-byte read pending, 514-byte write | 1 written".
#[test]
fn nowait_byte_write_only_pending_read_part_when_rest_does_not_fit() {
    let (s, c) = nowait_pair(false, "nw1r514");
    let r = pending_read(&c, 1);
    assert_eq!(s.write(&pattern(514)), Ok(1));
    assert_eq!(r.join("read").0, vec![0]);
    assert_eq!(c.available(), 0);
}

// api.md §4.4: "Message type | TRUE, 0 bytes written, nothing queued".
#[test]
fn nowait_message_write_over_quota_writes_nothing() {
    let (s, c) = nowait_pair(true, "nwmsg");
    assert_eq!(s.write(&pattern(513)), Ok(0));
    assert_eq!(c.available(), 0);
    assert_eq!(s.write(&pattern(512)), Ok(512));
}

// conformance §5 item 1: "PIPE_NOWAIT on a MESSAGE-type pipe, 1-byte ... read pending on the
// client, server writes 514 bytes into a 512-byte quota: Windows returns TRUE with written = 0 and
// the read stays pending".
#[test]
fn nowait_message_write_does_not_feed_pending_read() {
    let (s, c) = nowait_pair(true, "nwmsgread");
    let r = pending_read(&c, 1);
    assert_eq!(s.write(&pattern(514)), Ok(0));
    r.assert_pending("1-byte read");
    s.write(b"k").unwrap();
    assert_eq!(r.join("read").0, b"k");
}

// conformance §3 test_TransactNamedPipe: `Byte-type pipe: TransactNamedPipe -> ERROR_BAD_PIPE
// (230)`.
#[test]
fn transact_on_byte_pipe_bad_pipe() {
    let (s, c) = byte_pair("trbyte");
    let mut reply = [0u8; 8];
    assert_eq!(c.transact(b"x", &mut reply), Err(Win32Error::BAD_PIPE));
    assert_eq!(s.transact(b"x", &mut reply), Err(Win32Error::BAD_PIPE));
    assert_eq!(s.available(), 0, "nothing was written");
}

// conformance §3 test_TransactNamedPipe: `Message-type pipe whose client is in byte READ mode: ->
// ERROR_BAD_PIPE (230) (transact requires the caller in message read mode)`.
#[test]
fn transact_in_byte_read_mode_bad_pipe() {
    let (s, c) = msg_pair("trbytemode");
    assert_eq!(c.transact(b"x", &mut [0u8; 8]), Err(Win32Error::BAD_PIPE));
    assert_eq!(s.available(), 0);
}

// conformance §1: TransactNamedPipe "requires ... an empty incoming queue (else STATUS_PIPE_BUSY
// -> ERROR_PIPE_BUSY)".
#[test]
fn transact_with_unread_data_pipe_busy() {
    let (s, c) = msg_pair("trbusy");
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    s.write(b"unread").unwrap();
    assert_eq!(c.transact(b"x", &mut [0u8; 8]), Err(Win32Error::PIPE_BUSY));
    assert_eq!(read_n(&c, 16).0, b"unread");
}

// api.md §2.7: "Writes one message and reads one message in a single operation. Servers may use
// it too."
#[test]
fn transact_round_trip_both_ends() {
    let (s, c) = arc_pair(&opts(true, true, 1, 5000, 6000), "trok");
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    let s2 = s.clone();
    let srv = bg(move || {
        let (m, _) = read_n(&s2, 64);
        s2.write(&[m.as_slice(), b"!"].concat()).unwrap();
    });
    let c2 = c.clone();
    let r = with_timeout(LIMIT, move || {
        let mut buf = [0u8; 64];
        let r = c2.transact(b"ping", &mut buf).unwrap();
        buf[..r.len].to_vec()
    });
    assert_eq!(r, b"ping!");
    srv.join("server");
    // Server side transaction.
    let c3 = c.clone();
    let cli = bg(move || {
        let (m, _) = read_n(&c3, 64);
        c3.write(&m).unwrap();
    });
    let s3 = s.clone();
    let r = with_timeout(LIMIT, move || {
        let mut buf = [0u8; 64];
        let r = s3.transact(b"pong", &mut buf).unwrap();
        (r, buf[..r.len].to_vec())
    });
    assert_eq!(r, (ro(4, false), b"pong".to_vec()));
    cli.join("client");
}

// api.md §2.7: "A reply larger than nOutBufferSize gives FALSE with ERROR_MORE_DATA. The rest can
// be read with ReadFile".
#[test]
fn transact_reply_larger_than_buffer_more_data() {
    let (s, c) = arc_pair(&opts(true, true, 1, 1024, 1024), "trmore");
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    let s2 = s.clone();
    let srv = bg(move || {
        read_n(&s2, 64);
        s2.write(b"0123456789").unwrap();
    });
    let c2 = c.clone();
    let (r, d) = with_timeout(LIMIT, move || {
        let mut buf = [0u8; 4];
        let r = c2.transact(b"q", &mut buf).unwrap();
        (r, buf)
    });
    assert_eq!(r, ro(4, true));
    assert_eq!(&d, b"0123");
    srv.join("server");
    assert_eq!(read_n(&c, 64), (b"456789".to_vec(), ro(6, false)));
}

// api.md §2.7: "A zero-length reply completes with 0 bytes."
#[test]
fn transact_zero_length_reply() {
    let (s, c) = arc_pair(&opts(true, true, 1, 1024, 1024), "trzero");
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    let s2 = s.clone();
    let srv = bg(move || {
        read_n(&s2, 64);
        s2.write(b"").unwrap();
    });
    let c2 = c.clone();
    let r = with_timeout(LIMIT, move || c2.transact(b"q", &mut [0u8; 8]));
    assert_eq!(r, Ok(ro(0, false)));
    srv.join("server");
}

// api.md §2.7: "If the peer already has a read pending, that read completes with the
// transaction's request message."
#[test]
fn transact_request_completes_peer_pending_read() {
    let (s, c) = arc_pair(&opts(true, true, 1, 1024, 1024), "trpending");
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    let s2 = s.clone();
    let r = bg(move || read_n(&s2, 64));
    r.assert_pending("server read");
    let c2 = c.clone();
    let t = bg(move || {
        let mut buf = [0u8; 16];
        let r = c2.transact(b"request", &mut buf).unwrap();
        buf[..r.len].to_vec()
    });
    assert_eq!(r.join("server read").0, b"request");
    t.assert_pending("transaction waits for the reply");
    s.write(b"reply").unwrap();
    assert_eq!(t.join("transaction"), b"reply");
}

// conformance §1: "the write part never blocks on quota, then a read is queued" — a request
// larger than the quota still reaches the peer.
#[test]
fn transact_write_never_blocks_on_quota() {
    let (s, c) = arc_pair(&opts(true, true, 1, 16, 16), "trquota");
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    let c2 = c.clone();
    let t = bg(move || {
        let mut buf = [0u8; 16];
        let r = c2.transact(&pattern(100), &mut buf).unwrap();
        buf[..r.len].to_vec()
    });
    eventually(LIMIT, "request queued", || s.available() == 100);
    assert_eq!(read_n(&s, 200).0, pattern(100));
    s.write(b"ok").unwrap();
    assert_eq!(t.join("transaction"), b"ok");
}

/// A message server answering one CallNamedPipe per connection, `n` times, in a thread.
fn call_server(name: &str, n: usize, reply: &'static [u8]) -> Bg<Vec<Vec<u8>>> {
    let s = msg_server(name);
    bg(move || {
        let mut got = Vec::new();
        for _ in 0..n {
            match s.connect() {
                Ok(()) => {}
                Err(e) => assert_eq!(e, Win32Error::PIPE_CONNECTED),
            }
            got.push(read_n(&s, 256).0);
            s.write(reply).unwrap();
            let _ = s.flush();
            s.disconnect().unwrap();
        }
        got
    })
}

// api.md §2.6: "Connects to a message-type pipe ... Sends one message and reads one reply.
// Closes the handle."
#[test]
fn call_named_pipe_round_trip() {
    let name = pipe_name("call");
    let srv = call_server(&name, 2, b"answer");
    for req in [&b"first"[..], b"second"] {
        let n = name.clone();
        let r = with_timeout(LIMIT, move || {
            let mut buf = [0u8; 32];
            let r = call_named_pipe(&n, req, &mut buf, NMPWAIT_WAIT_FOREVER).unwrap();
            (r, buf[..r.len].to_vec())
        });
        assert_eq!(r, (ro(6, false), b"answer".to_vec()));
    }
    assert_eq!(
        srv.join("server"),
        vec![b"first".to_vec(), b"second".to_vec()]
    );
}

// api.md §2.6: "A reply longer than nOutBufferSize gives FALSE with ERROR_MORE_DATA. The rest of
// the message is lost because the handle is closed."
#[test]
fn call_named_pipe_reply_cut_short() {
    let name = pipe_name("callshort");
    let srv = call_server(&name, 1, b"a long answer");
    let n = name.clone();
    let r = with_timeout(LIMIT, move || {
        let mut buf = [0u8; 4];
        let r = call_named_pipe(&n, b"q", &mut buf, 1000).unwrap();
        (r, buf)
    });
    assert_eq!(r, (ro(4, true), *b"a lo"));
    srv.join("server");
}

// api.md §2.6: "Connects to a message-type pipe, waiting if no instance is free" (CreateFile
// fails busy, WaitNamedPipe, CreateFile again).
#[test]
fn call_named_pipe_waits_for_busy_pipe() {
    let name = pipe_name("callbusy");
    let s = Arc::new(msg_server(&name));
    let holder = client(&name);
    settle(&s);
    let n = name.clone();
    let call = bg(move || {
        let mut buf = [0u8; 16];
        call_named_pipe(&n, b"waited", &mut buf, 5000).map(|r| buf[..r.len].to_vec())
    });
    call.assert_pending("call on a busy pipe");
    drop(holder);
    s.disconnect().unwrap();
    let s2 = s.clone();
    let srv = bg(move || {
        let _ = s2.connect();
        let (m, _) = read_n(&s2, 64);
        s2.write(&m).unwrap();
    });
    assert_eq!(call.join("call"), Ok(b"waited".to_vec()));
    srv.join("server");
}

// api.md §2.6 errors: ERROR_SEM_TIMEOUT when the pipe stays busy; `NMPWAIT_NOWAIT (1, do not
// wait)` gives ERROR_PIPE_BUSY.
#[test]
fn call_named_pipe_busy_timeouts() {
    let name = pipe_name("calltimeout");
    let s = msg_server(&name);
    let _holder = client(&name);
    settle(&s);
    let n = name.clone();
    assert_eq!(
        with_timeout(LIMIT, move || call_named_pipe(&n, b"x", &mut [0u8; 4], 100)),
        Err(Win32Error::SEM_TIMEOUT)
    );
    let n = name.clone();
    assert_eq!(
        with_timeout(LIMIT, move || call_named_pipe(
            &n,
            b"x",
            &mut [0u8; 4],
            NMPWAIT_NOWAIT
        )),
        Err(Win32Error::PIPE_BUSY)
    );
}

// api.md §2.6: "Fails on a byte-type pipe [DOC]" — ReactOS sequence step 3: "On a byte pipe this
// step fails with ERROR_INVALID_PARAMETER"; unknown name: ERROR_FILE_NOT_FOUND.
#[test]
fn call_named_pipe_errors() {
    let name = pipe_name("callbyte");
    let _s = byte_server(&name);
    assert_eq!(
        call_named_pipe(&name, b"x", &mut [0u8; 4], 100),
        Err(Win32Error::INVALID_PARAMETER)
    );
    assert_eq!(
        call_named_pipe(&pipe_name("callnone"), b"x", &mut [0u8; 4], 100),
        Err(Win32Error::FILE_NOT_FOUND)
    );
}

// conformance §3 test_CreateNamedPipe: `WaitNamedPipeA(nonexistent, 2000) -> FALSE,
// ERROR_FILE_NOT_FOUND (2)`; test_wait_pipe: `WaitNamedPipeA(nonexistent, 0) -> FALSE,
// ERROR_FILE_NOT_FOUND (2)` — at once.
#[test]
fn wait_nonexistent_file_not_found_at_once() {
    let name = pipe_name("waitnone");
    for t in [0, 1, 2000, NMPWAIT_WAIT_FOREVER] {
        let n = name.clone();
        let start = Instant::now();
        assert_eq!(
            with_timeout(LIMIT, move || wait_named_pipe(&n, t)),
            Err(Win32Error::FILE_NOT_FOUND),
            "timeout {t}"
        );
        assert!(start.elapsed() < Duration::from_millis(1000), "timeout {t}");
    }
}

// conformance §3 test_wait_pipe: `With a listening instance: WaitNamedPipeA(name, 1) -> TRUE
// immediately`; test_CreateNamedPipe: `WaitNamedPipeA(name, 2000) while a listening instance
// exists -> TRUE`.
#[test]
fn wait_with_listening_instance_succeeds() {
    let name = pipe_name("waitok");
    let _s = byte_server(&name);
    assert_eq!(wait_named_pipe(&name, 1), Ok(()));
    assert_eq!(wait_named_pipe(&name, 2000), Ok(()));
}

// api.md §2.5: "WaitNamedPipe does not reserve the instance" — after a successful wait the
// instance is still listening and any client can take it.
#[test]
fn wait_does_not_reserve_instance() {
    let name = pipe_name("waitnores");
    let s = byte_server(&name);
    assert_eq!(wait_named_pipe(&name, 100), Ok(()));
    assert_eq!(wait_named_pipe(&name, 100), Ok(()));
    assert_eq!(s.state(), PipeState::Listening);
    assert!(PipeClient::open_duplex(&name).is_ok());
}

// conformance §3 test_CreateNamedPipe: `Client CreateFile succeeds; afterwards
// WaitNamedPipeA(name,100) -> FALSE, ERROR_SEM_TIMEOUT (121) (no free instance)`.
#[test]
fn wait_all_busy_sem_timeout() {
    let name = pipe_name("waitbusy");
    let s = byte_server(&name);
    let _c = client(&name);
    settle(&s);
    let n = name.clone();
    let start = Instant::now();
    assert_eq!(
        with_timeout(LIMIT, move || wait_named_pipe(&n, 100)),
        Err(Win32Error::SEM_TIMEOUT)
    );
    assert!(start.elapsed() >= Duration::from_millis(90));
}

// conformance §3 test_wait_pipe: `A waiter blocked in WaitNamedPipeA(1000) is woken (returns TRUE
// within 100 ms) when a new server instance is created with CreateNamedPipe`.
#[test]
fn wait_woken_by_new_instance() {
    let name = pipe_name("waitnew");
    let o = opts(false, false, 2, 1024, 1024);
    let s = o.create(&name).unwrap();
    let _c = client(&name);
    settle(&s);
    let n = name.clone();
    let w = bg(move || wait_named_pipe(&n, 5000));
    w.assert_pending("wait with all instances busy");
    let start = Instant::now();
    let _s2 = o.create(&name).unwrap();
    assert_eq!(w.join("wait"), Ok(()));
    assert!(start.elapsed() < Duration::from_millis(1000));
}

// conformance §3 test_wait_pipe: `After DisconnectNamedPipe the instance is not waitable
// (WaitNamedPipe(1) -> ERROR_SEM_TIMEOUT); calling ... ConnectNamedPipe ... wakes the waiter`.
#[test]
fn wait_woken_by_connect_after_disconnect() {
    let name = pipe_name("waitrelisten");
    let s = Arc::new(byte_server(&name));
    let c = client(&name);
    settle(&s);
    drop(c);
    s.disconnect().unwrap();
    assert_eq!(wait_named_pipe(&name, 1), Err(Win32Error::SEM_TIMEOUT));
    let n = name.clone();
    let w = bg(move || wait_named_pipe(&n, 5000));
    w.assert_pending("wait on disconnected instance");
    let s2 = s.clone();
    let conn = bg(move || s2.connect());
    assert_eq!(w.join("wait"), Ok(()));
    let _c = client(&name);
    assert_eq!(conn.join("connect"), Ok(()));
}

// api.md §2.5: "NMPWAIT_USE_DEFAULT_WAIT (0) uses the server's nDefaultTimeOut".
#[test]
fn wait_default_uses_pipe_timeout() {
    let name = pipe_name("waitdefault");
    let s = ServerOptions::from_raw(PIPE_ACCESS_DUPLEX, 0, 1, 1024, 1024, 400)
        .create(&name)
        .unwrap();
    let _c = client(&name);
    settle(&s);
    let n = name.clone();
    let start = Instant::now();
    assert_eq!(
        with_timeout(LIMIT, move || wait_named_pipe(&n, NMPWAIT_USE_DEFAULT_WAIT)),
        Err(Win32Error::SEM_TIMEOUT)
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(380) && took < Duration::from_millis(3000),
        "took {took:?}"
    );
}

// api.md §2.1 nDefaultTimeOut: "0 means 50 ms" (conformance §6).
#[test]
fn wait_default_timeout_zero_means_50ms() {
    let name = pipe_name("wait50");
    let s = ServerOptions::from_raw(PIPE_ACCESS_DUPLEX, 0, 1, 1024, 1024, 0)
        .create(&name)
        .unwrap();
    let _c = client(&name);
    settle(&s);
    let n = name.clone();
    let start = Instant::now();
    assert_eq!(
        with_timeout(LIMIT, move || wait_named_pipe(&n, NMPWAIT_USE_DEFAULT_WAIT)),
        Err(Win32Error::SEM_TIMEOUT)
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(45) && took < Duration::from_millis(1000),
        "took {took:?}"
    );
}

// conformance §3 test_CreatePipe: `CreatePipe(size 0): GetNamedPipeInfo(read end) -> flags
// FILE_PIPE_SERVER_END(1), out 4096, in 4096, max instances 1; write end -> flags 0 (client
// end), 4096/4096/1`.
#[test]
fn anonymous_pipe_default_info() {
    init();
    let (r, w) = create_pipe(0).unwrap();
    assert_eq!(
        r.info(),
        Ok(PipeInfo {
            flags: PIPE_SERVER_END,
            out_buffer_size: 4096,
            in_buffer_size: 4096,
            max_instances: 1
        })
    );
    assert_eq!(
        w.info(),
        Ok(PipeInfo {
            flags: PIPE_CLIENT_END,
            out_buffer_size: 4096,
            in_buffer_size: 4096,
            max_instances: 1
        })
    );
}

// conformance §3 test_CreatePipe: `CreatePipe(size 1): GetNamedPipeInfo reports out=1, in=1 on
// both ends (requested size is reported as-is)`.
#[test]
fn anonymous_pipe_size_one() {
    init();
    let (r, w) = create_pipe(1).unwrap();
    for i in [r.info().unwrap(), w.info().unwrap()] {
        assert_eq!((i.out_buffer_size, i.in_buffer_size), (1, 1));
    }
}

// conformance §3 test_CreatePipe: `Data written before closing write end is still readable; the
// following ReadFile fails (broken pipe)`.
#[test]
fn anonymous_pipe_data_readable_after_writer_closed() {
    init();
    let (r, w) = create_pipe(0).unwrap();
    assert_eq!(w.write(b"abc"), Ok(3));
    drop(w);
    assert_eq!(read_n(&r, 16).0, b"abc");
    assert_eq!(r.read(&mut [0u8; 16]), Err(Win32Error::BROKEN_PIPE));
}

// conformance §3 test_CreatePipe: `CreatePipe(size 32768+24): single WriteFile of 32768 bytes
// completes synchronously (fits in quota), data intact after write end closed; then ReadFile
// fails`.
#[test]
fn anonymous_pipe_32k_write_completes_without_reader() {
    init();
    let (r, w) = create_pipe(32768 + 24).unwrap();
    let data = pattern(32768);
    let d2 = data.clone();
    let w = with_timeout(LIMIT, move || {
        assert_eq!(w.write(&d2), Ok(32768));
        w
    });
    drop(w);
    let mut got = Vec::new();
    while got.len() < 32768 {
        let (d, _) = read_n(&r, 65536);
        got.extend(d);
    }
    assert_eq!(got, data);
    assert_eq!(r.read(&mut [0u8; 16]), Err(Win32Error::BROKEN_PIPE));
}

// api.md §2.14: anonymous pipes are independent pipes; "The pipe lives until every handle to
// either end is closed" — data written on one arrives only at its own read end.
#[test]
fn anonymous_pipes_are_independent() {
    init();
    let (r1, w1) = create_pipe(0).unwrap();
    let (r2, w2) = create_pipe(0).unwrap();
    w1.write(b"one").unwrap();
    w2.write(b"two").unwrap();
    assert_eq!(read_n(&r2, 8).0, b"two");
    assert_eq!(read_n(&r1, 8).0, b"one");
    assert_ne!(r1.name().to_uppercase(), r2.name().to_uppercase());
}

// api.md §2.14: "WriteFile blocks until every byte is written. If the buffer is full it waits
// for reads."
#[test]
fn anonymous_pipe_write_blocks_when_full() {
    init();
    let (r, w) = create_pipe(16).unwrap();
    let w = Arc::new(w);
    let w2 = w.clone();
    let pending = bg(move || w2.write(&pattern(40)));
    pending.assert_pending("40 bytes into 16");
    assert_eq!(read_n(&r, 30).1.len, 30);
    assert_eq!(pending.join("write"), Ok(40));
}

// conformance §3 test_namedpipe_process_id: `GetNamedPipeClientProcessId(server) and (client) ->
// current pid; ... ServerProcessId(client) and (server) -> current pid`.
#[test]
fn process_ids_on_both_ends() {
    let (s, c) = byte_pair("pids");
    let me = std::process::id();
    assert_eq!(s.client_process_id(), Ok(me));
    assert_eq!(c.client_process_id(), Ok(me));
    assert_eq!(s.server_process_id(), Ok(me));
    assert_eq!(c.server_process_id(), Ok(me));
}

// conformance §3 test_namedpipe_process_id: `After client handle closed: ClientProcessId(server)
// and ServerProcessId(server) still return current pid`.
#[test]
fn process_ids_after_client_closed() {
    let (s, c) = byte_pair("pidsclosed");
    drop(c);
    let me = std::process::id();
    assert_eq!(s.client_process_id(), Ok(me));
    assert_eq!(s.server_process_id(), Ok(me));
}

// conformance §3 test_namedpipe_process_id / §5 item 4: `After DisconnectNamedPipe(server):
// ClientProcessId(server) -> FALSE, ERROR_NOT_FOUND (1168); ServerProcessId(server) -> TRUE,
// pid; ClientProcessId(client) and ServerProcessId(client) -> FALSE, ERROR_PIPE_NOT_CONNECTED
// (233)`.
#[test]
fn process_ids_after_disconnect() {
    let (s, c) = byte_pair("pidsdisc");
    s.disconnect().unwrap();
    let me = std::process::id();
    assert_eq!(s.client_process_id(), Err(Win32Error::NOT_FOUND));
    assert_eq!(s.server_process_id(), Ok(me));
    assert_eq!(c.client_process_id(), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(c.server_process_id(), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §3 test_namedpipe_process_id: `After server handle closed: ClientProcessId(client)
// and ServerProcessId(client) still succeed with current pid`.
#[test]
fn process_ids_after_server_closed() {
    let (s, c) = byte_pair("pidssrvclosed");
    drop(s);
    let me = std::process::id();
    assert_eq!(c.client_process_id(), Ok(me));
    assert_eq!(c.server_process_id(), Ok(me));
}

// conformance §3 test_namedpipe_session_id: "ids equal ProcessIdToSessionId(current)" on both
// ends; "after disconnect: ClientSessionId(server) -> ERROR_NOT_FOUND, ServerSessionId(server)
// ok, Client/ServerSessionId(client) -> ERROR_PIPE_NOT_CONNECTED".
#[test]
fn session_ids() {
    let (s, c) = byte_pair("sessions");
    let sid = s.client_session_id().unwrap();
    assert_eq!(s.server_session_id(), Ok(sid));
    assert_eq!(c.client_session_id(), Ok(sid));
    assert_eq!(c.server_session_id(), Ok(sid));
    s.disconnect().unwrap();
    assert_eq!(s.client_session_id(), Err(Win32Error::NOT_FOUND));
    assert_eq!(s.server_session_id(), Ok(sid));
    assert_eq!(c.client_session_id(), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(c.server_session_id(), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §1: "Flush (FlushFileBuffers) pends until the peer's incoming queue is empty" — it
// completes when the reader drains the queue, even if the reader closes right after reading
// (conformance §3 serverThreadMain1: FlushFileBuffers(server) -> TRUE).
#[test]
fn flush_succeeds_when_reader_drains_then_closes() {
    for _ in 0..30 {
        let (s, c) = arc_pair(&opts(false, false, 1, 1024, 1024), "flushdrain");
        s.write(b"data").unwrap();
        let s2 = s.clone();
        let f = bg(move || s2.flush());
        f.assert_pending_for(Duration::from_millis(20), "flush");
        assert_eq!(read_n(&c, 16).0, b"data");
        drop(c);
        assert_eq!(f.join("flush"), Ok(()));
    }
}

// api.md §2.19: "Cancelled operations complete with ERROR_OPERATION_ABORTED"; "a cancelled read
// consumes nothing" (issue 3 §1). Here through the blocking read's time limit, which cancels.
#[test]
fn read_timeout_cancels_and_consumes_nothing() {
    let (s, c) = byte_pair("rdtmo");
    let mut buf = [0u8; 8];
    let t = Instant::now();
    assert_eq!(
        s.read_timeout(&mut buf, Duration::from_millis(100)),
        Err(Win32Error::OPERATION_ABORTED)
    );
    assert!(t.elapsed() >= Duration::from_millis(100));
    c.write(b"abc").unwrap();
    assert_eq!(read_n(&s, 8), (b"abc".to_vec(), ro(3, false)));
}

// api.md §2.19 / conformance test_blocking_rw: "Cancelling a pending write removes its unread
// rest from the pipe" — through the blocking write's time limit.
#[test]
fn write_timeout_cancels_and_removes_unread_data() {
    let (s, c, _) = pair_with(&opts(false, false, 1, 100, 100), "wrtmo");
    assert_eq!(
        c.write_timeout(&[7u8; 300], Duration::from_millis(100)),
        Err(Win32Error::OPERATION_ABORTED)
    );
    assert_eq!(s.peek(&mut [0u8; 16]).unwrap(), pk(0, 0, 0));
    c.write(b"x").unwrap();
    assert_eq!(read_n(&s, 8), (b"x".to_vec(), ro(1, false)));
}

// conformance §3 test_blocking_rw: "Empty pipe: async read(len 0) and async read(1000) both
// pend. A 1-byte write completes the 0-length read first with 0 bytes (message read mode:
// ERROR_MORE_DATA, 0 bytes) and the 1000-byte read with 1."
#[test]
fn one_byte_write_completes_zero_read_then_big_read() {
    for message in [false, true] {
        let (s, c) = arc_pair(&opts(message, message, 1, 5000, 6000), "r0r1000");
        let s0 = s.clone();
        let zero = bg(move || s0.read(&mut []));
        zero.assert_pending("0-byte read");
        let s1 = s.clone();
        let big = bg(move || read_n(&s1, 1000));
        big.assert_pending("1000-byte read");
        c.write(b"x").unwrap();
        assert_eq!(zero.join("0-byte read"), Ok(ro(0, message)));
        assert_eq!(big.join("1000-byte read"), (b"x".to_vec(), ro(1, false)));
    }
}

// conformance §3 test_blocking_rw: "after 10 bytes of the 7000 write were read: cancelling
// discards the unread remainder of that write", and "Pending 7000 write + FlushFileBuffers
// thread blocked; cancelling the write empties the queue and the flush completes with success".
#[test]
fn cancelled_partly_read_write_leaves_the_pipe_and_releases_flush() {
    let (s, c) = arc_pair(&opts(false, false, 1, 5000, 6000), "cancel7000");
    let s1 = s.clone();
    let w = bg(move || s1.write_timeout(&pattern(7000), Duration::from_millis(600)));
    w.assert_pending("7000-byte write");
    let s2 = s.clone();
    let f = bg(move || s2.flush());
    f.assert_pending("flush behind the write");
    assert_eq!(read_n(&c, 10).0, pattern(7000)[..10].to_vec());
    // The time limit cancels the write (CancelIoEx): its unread 6990 bytes leave the pipe.
    assert_eq!(w.join("write"), Err(Win32Error::OPERATION_ABORTED));
    assert_eq!(c.peek(&mut [0u8; 16]).unwrap(), pk(0, 0, 0));
    assert_eq!(f.join("flush"), Ok(()));
    s.write(b"z").unwrap();
    assert_eq!(read_n(&c, 16).0, b"z");
}
