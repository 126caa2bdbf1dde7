//! The operations-by-state table (api.md §3.3, conformance §3 test_DisconnectNamedPipe, §4 pipe
//! state matrix test_pipe_state / test_pipe_with_data_state): ReadFile, WriteFile,
//! PeekNamedPipe, TransactNamedPipe, FlushFileBuffers, ConnectNamedPipe and
//! DisconnectNamedPipe in DISCONNECTED, LISTENING, CONNECTED and CLOSING, from both ends.
mod common;
use common::*;

/// A message pipe (server in message read mode) in LISTENING state.
fn listening(tag: &str) -> PipeServer {
    msg_server(&pipe_name(tag))
}

/// A connected message pipe with `data` queued in each direction.
fn connected_with(tag: &str, data: &[u8]) -> (PipeServer, PipeClient) {
    let (s, c) = msg_pair(tag);
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    if !data.is_empty() {
        s.write(data).unwrap();
        c.write(data).unwrap();
        eventually(LIMIT, "data queued", || {
            s.available() == data.len() as u64 && c.available() == data.len() as u64
        });
    }
    (s, c)
}

/// DISCONNECTED: the server after DisconnectNamedPipe, and its detached client; 10 bytes were
/// queued each way before.
fn disconnected(tag: &str) -> (PipeServer, PipeClient) {
    let (s, c) = connected_with(tag, b"0123456789");
    s.disconnect().unwrap();
    (s, c)
}

/// CLOSING server: the client closed after writing `data` (and with `data` unread from the
/// server).
fn closing_server(tag: &str, data: &[u8]) -> PipeServer {
    let (s, c) = connected_with(tag, data);
    drop(c);
    eventually(LIMIT, "server CLOSING", || s.state() == PipeState::Closing);
    s
}

/// CLOSING client: the server closed after writing `data`.
fn closing_client(tag: &str, data: &[u8]) -> PipeClient {
    let (s, c) = connected_with(tag, data);
    drop(s);
    eventually(LIMIT, "client CLOSING", || c.state() == PipeState::Closing);
    c
}

fn rd(h: &PipeHandle) -> Result<ReadOutcome, Win32Error> {
    h.read(&mut [0u8; 32])
}

fn pk32(h: &PipeHandle) -> Result<PeekOutcome, Win32Error> {
    h.peek(&mut [0u8; 32])
}

fn tr(h: &PipeHandle) -> Result<ReadOutcome, Win32Error> {
    h.transact(b"t", &mut [0u8; 32])
}

// ---- ReadFile ----

// conformance §4 pipe state matrix: `NtReadFile: DISCONNECTED -> STATUS_PIPE_DISCONNECTED (both
// ends)`; test_DisconnectNamedPipe: `ReadFile(server) -> 233`.
#[test]
fn read_disconnected_server_pipe_not_connected() {
    let (s, _c) = disconnected("rdds");
    assert_eq!(rd(&s), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §3 test_DisconnectNamedPipe: `ReadFile(client) with bytes that were waiting -> 233`.
#[test]
fn read_detached_client_pipe_not_connected() {
    let (_s, c) = disconnected("rddc");
    assert_eq!(rd(&c), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §3 test_DisconnectNamedPipe: `ReadFile on a listening server -> FALSE,
// ERROR_PIPE_LISTENING (536)`.
#[test]
fn read_listening_pipe_listening() {
    let s = listening("rdl");
    assert_eq!(rd(&s), Err(Win32Error::PIPE_LISTENING));
}

// api.md §3.3: "ReadFile | CONNECTED | Data, or wait, or ERROR_NO_DATA (NOWAIT)".
#[test]
fn read_connected_returns_data() {
    let (s, c) = connected_with("rdc", b"abc");
    assert_eq!(rd(&s), Ok(ro(3, false)));
    assert_eq!(rd(&c), Ok(ro(3, false)));
    s.set_handle_mode(PIPE_NOWAIT).unwrap();
    assert_eq!(rd(&s), Err(Win32Error::NO_DATA));
}

// api.md §3.3: "ReadFile | CLOSING | Data left, then ERROR_BROKEN_PIPE" (server end).
#[test]
fn read_closing_server_data_then_broken_pipe() {
    let s = closing_server("rdcs", b"left");
    assert_eq!(read_n(&s, 32).0, b"left");
    assert_eq!(rd(&s), Err(Win32Error::BROKEN_PIPE));
    assert_eq!(rd(&s), Err(Win32Error::BROKEN_PIPE), "stays broken");
}

// api.md §3.3: "ReadFile | CLOSING | Data left, then ERROR_BROKEN_PIPE" (client end; conformance
// §4: "data still peekable after peer closed").
#[test]
fn read_closing_client_data_then_broken_pipe() {
    let c = closing_client("rdcc", b"left");
    assert_eq!(read_n(&c, 32).0, b"left");
    assert_eq!(rd(&c), Err(Win32Error::BROKEN_PIPE));
}

// conformance §4 pipe state matrix: `NtReadFile ... CLOSING (empty) -> STATUS_PIPE_BROKEN`, also in
// nowait mode.
#[test]
fn read_closing_empty_broken_pipe() {
    let s = closing_server("rdce", b"");
    assert_eq!(rd(&s), Err(Win32Error::BROKEN_PIPE));
    s.set_handle_mode(PIPE_NOWAIT).unwrap();
    assert_eq!(rd(&s), Err(Win32Error::BROKEN_PIPE));
    let c = closing_client("rdcec", b"");
    assert_eq!(rd(&c), Err(Win32Error::BROKEN_PIPE));
}

// api.md §3.2: message boundaries survive the close: in message read mode the data left after
// the writer closed is still read message by message, with ERROR_MORE_DATA.
#[test]
fn read_closing_keeps_message_boundaries() {
    let (s, c) = connected_with("rdcm", b"");
    c.write(b"first").unwrap();
    c.write(b"second").unwrap();
    drop(c);
    assert_eq!(read_n(&s, 3), (b"fir".to_vec(), ro(3, true)));
    assert_eq!(read_n(&s, 32), (b"st".to_vec(), ro(2, false)));
    assert_eq!(read_n(&s, 32), (b"second".to_vec(), ro(6, false)));
    assert_eq!(rd(&s), Err(Win32Error::BROKEN_PIPE));
}

// ---- WriteFile ----

// conformance §3 test_DisconnectNamedPipe: `WriteFile(server) -> 233` after disconnect.
#[test]
fn write_disconnected_server_pipe_not_connected() {
    let (s, _c) = disconnected("wrds");
    assert_eq!(s.write(b"x"), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §3 test_DisconnectNamedPipe: `After disconnect: WriteFile(client) ->
// ERROR_PIPE_NOT_CONNECTED (233)`.
#[test]
fn write_detached_client_pipe_not_connected() {
    let (_s, c) = disconnected("wrdc");
    assert_eq!(c.write(b"x"), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §3 test_DisconnectNamedPipe: `WriteFile on a listening (not yet connected) server ->
// FALSE, ERROR_PIPE_LISTENING (536)`.
#[test]
fn write_listening_pipe_listening() {
    let s = listening("wrl");
    assert_eq!(s.write(b"x"), Err(Win32Error::PIPE_LISTENING));
    assert_eq!(s.write(b""), Err(Win32Error::PIPE_LISTENING));
}

// conformance §1: "writes return STATUS_PIPE_CLOSING (ERROR_NO_DATA)" once the peer closed (server
// end).
#[test]
fn write_closing_server_no_data() {
    let s = closing_server("wrcs", b"");
    assert_eq!(s.write(b"x"), Err(Win32Error::NO_DATA));
}

// conformance §1: "writes return ... ERROR_NO_DATA" once the peer closed (client end; api.md
// §2.16: "For named pipes Windows gives ERROR_NO_DATA").
#[test]
fn write_closing_client_no_data() {
    let c = closing_client("wrcc", b"");
    assert_eq!(c.write(b"x"), Err(Win32Error::NO_DATA));
}

// conformance §4 pipe state matrix: `NtWriteFile(1): ... CONNECTED -> SUCCESS`.
#[test]
fn write_connected_ok() {
    let (s, c) = connected_with("wrc", b"");
    assert_eq!(s.write(b"x"), Ok(1));
    assert_eq!(c.write(b"y"), Ok(1));
}

// ---- PeekNamedPipe ----

// conformance §3 test_DisconnectNamedPipe: `PeekNamedPipe(disconnected server) -> FALSE,
// ERROR_BAD_PIPE (230)`.
#[test]
fn peek_disconnected_server_bad_pipe() {
    let (s, _c) = disconnected("pkds");
    assert_eq!(pk32(&s), Err(Win32Error::BAD_PIPE));
}

// conformance §3 test_DisconnectNamedPipe: `PeekNamedPipe(disconnected client) -> FALSE,
// ERROR_PIPE_NOT_CONNECTED (233)`.
#[test]
fn peek_detached_client_pipe_not_connected() {
    let (_s, c) = disconnected("pkdc");
    assert_eq!(pk32(&c), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §3 test_CreateNamedPipe: `PeekNamedPipe on a listening (never-connected) server ->
// FALSE, ERROR_BAD_PIPE (230)`.
#[test]
fn peek_listening_bad_pipe() {
    let s = listening("pkl");
    assert_eq!(pk32(&s), Err(Win32Error::BAD_PIPE));
}

// conformance §4 pipe state matrix: `CONNECTED -> STATUS_SUCCESS`.
#[test]
fn peek_connected_ok() {
    let (s, c) = connected_with("pkc", b"");
    assert_eq!(pk32(&s), Ok(pk(0, 0, 0)));
    assert_eq!(pk32(&c), Ok(pk(0, 0, 0)));
}

// conformance §4 pipe state matrix: `CONNECTED and CLOSING -> STATUS_BUFFER_OVERFLOW with
// NamedPipeState = state (data still peekable after peer closed)`.
#[test]
fn peek_closing_with_data_ok() {
    let s = closing_server("pkcs", b"0123456789");
    assert_eq!(pk32(&s), Ok(pk(10, 10, 0)));
    let c = closing_client("pkcc", b"0123456789");
    assert_eq!(pk32(&c), Ok(pk(10, 10, 0)));
}

// api.md §2.8 errors: `CLOSING with an empty queue | ERROR_BROKEN_PIPE` (conformance §4: CLOSING
// -> STATUS_PIPE_BROKEN).
#[test]
fn peek_closing_empty_broken_pipe() {
    let s = closing_server("pkce", b"");
    assert_eq!(pk32(&s), Err(Win32Error::BROKEN_PIPE));
    let c = closing_client("pkcec", b"");
    assert_eq!(pk32(&c), Err(Win32Error::BROKEN_PIPE));
}

// conformance §3 serverThreadMain4: "After the client closes its end: PeekNamedPipe(server)
// eventually fails" — once the remaining data has been read.
#[test]
fn peek_fails_after_data_read_on_closing() {
    let s = closing_server("pkcr", b"abc");
    assert!(pk32(&s).is_ok());
    read_n(&s, 8);
    assert_eq!(pk32(&s), Err(Win32Error::BROKEN_PIPE));
}

// ---- TransactNamedPipe ----

// conformance §4 pipe state matrix: `FSCTL_PIPE_TRANSCEIVE ...: DISCONNECTED server ->
// INVALID_PIPE_STATE` (ERROR_BAD_PIPE).
#[test]
fn transact_disconnected_server_bad_pipe() {
    let (s, _c) = disconnected("trds");
    assert_eq!(tr(&s), Err(Win32Error::BAD_PIPE));
}

// conformance §4 pipe state matrix: `FSCTL_PIPE_TRANSCEIVE ...: DISCONNECTED ... client ->
// PIPE_DISCONNECTED` (ERROR_PIPE_NOT_CONNECTED; api.md §3.3 last row).
#[test]
fn transact_detached_client_pipe_not_connected() {
    let (_s, c) = disconnected("trdc");
    assert_eq!(tr(&c), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §4 pipe state matrix: `LISTENING -> INVALID_PIPE_STATE` (ERROR_BAD_PIPE).
#[test]
fn transact_listening_bad_pipe() {
    let s = listening("trl");
    assert_eq!(tr(&s), Err(Win32Error::BAD_PIPE));
}

// conformance §4 pipe state matrix: `CLOSING -> INVALID_PIPE_STATE` (ERROR_BAD_PIPE), both ends.
#[test]
fn transact_closing_bad_pipe() {
    let s = closing_server("trcs", b"");
    assert_eq!(tr(&s), Err(Win32Error::BAD_PIPE));
    let c = closing_client("trcc", b"");
    assert_eq!(tr(&c), Err(Win32Error::BAD_PIPE));
}

// ---- FlushFileBuffers ----

// conformance §4 pipe state matrix: `NtFlushBuffersFile: client in DISCONNECTED ->
// STATUS_PIPE_DISCONNECTED`.
#[test]
fn flush_detached_client_pipe_not_connected() {
    let (_s, c) = disconnected("flds");
    assert_eq!(c.flush(), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §4 pipe state matrix: `every other end/state (incl. listening server, disconnected
// server, closing) -> STATUS_SUCCESS` — disconnected server.
#[test]
fn flush_disconnected_server_ok() {
    let (s, _c) = disconnected("flds2");
    assert_eq!(with_timeout(LIMIT, move || s.flush()), Ok(()));
}

// conformance §4 pipe state matrix: flush on a listening server -> STATUS_SUCCESS.
#[test]
fn flush_listening_ok() {
    let s = listening("fll");
    assert_eq!(with_timeout(LIMIT, move || s.flush()), Ok(()));
}

// conformance §4 pipe state matrix: flush in CLOSING -> STATUS_SUCCESS (server end, nothing
// unread); conformance §3 serverThreadMain4: "FlushFileBuffers on such a broken server pipe ->
// TRUE".
#[test]
fn flush_closing_server_ok() {
    let s = closing_server("flcs", b"");
    assert_eq!(with_timeout(LIMIT, move || s.flush()), Ok(()));
}

// api.md §3.3: "A flush started now [in CLOSING] finds its outgoing queue emptied and succeeds
// [NPFS]" — even with data the closed peer never read.
#[test]
fn flush_closing_with_unread_outgoing_data_ok() {
    let (s, c) = connected_with("flcu", b"");
    s.write(b"never read").unwrap();
    drop(c);
    eventually(LIMIT, "CLOSING", || s.state() == PipeState::Closing);
    assert_eq!(with_timeout(LIMIT, move || s.flush()), Ok(()));
}

// conformance §4 pipe state matrix: flush in CLOSING -> STATUS_SUCCESS (client end).
#[test]
fn flush_closing_client_ok() {
    let c = closing_client("flcc", b"");
    assert_eq!(with_timeout(LIMIT, move || c.flush()), Ok(()));
}

// ---- ConnectNamedPipe / DisconnectNamedPipe ----

// api.md §3.3: "ConnectNamedPipe | DISCONNECTED | → LISTENING".
#[test]
fn connect_disconnected_goes_listening() {
    let (s, _c) = disconnected("cnd");
    s.set_handle_mode(PIPE_NOWAIT).unwrap();
    assert_eq!(s.connect(), Err(Win32Error::PIPE_LISTENING));
    assert_eq!(s.state(), PipeState::Listening);
}

// api.md §3.3: "ConnectNamedPipe | CONNECTED | ERROR_PIPE_CONNECTED" (with data queued, too).
#[test]
fn connect_connected_pipe_connected() {
    let (s, _c) = connected_with("cnc", b"data");
    assert_eq!(s.connect(), Err(Win32Error::PIPE_CONNECTED));
    assert_eq!(s.available(), 4, "the connection is untouched");
}

// api.md §3.3: "ConnectNamedPipe | CLOSING | ERROR_NO_DATA" — with data still queued too.
#[test]
fn connect_closing_with_data_no_data() {
    let s = closing_server("cncl", b"data");
    assert_eq!(s.connect(), Err(Win32Error::NO_DATA));
    assert_eq!(read_n(&s, 8).0, b"data");
}

// api.md §3.3: "DisconnectNamedPipe | LISTENING, CONNECTED, CLOSING | OK; DISCONNECTED |
// ERROR_PIPE_NOT_CONNECTED".
#[test]
fn disconnect_in_every_state() {
    let s = listening("dsl");
    assert_eq!(s.disconnect(), Ok(()));
    let (s, _c) = connected_with("dsc", b"x");
    assert_eq!(s.disconnect(), Ok(()));
    let s = closing_server("dscl", b"x");
    assert_eq!(s.disconnect(), Ok(()));
    let (s, _c) = disconnected("dsd");
    assert_eq!(s.disconnect(), Err(Win32Error::PIPE_NOT_CONNECTED));
}

// conformance §3 test_DisconnectNamedPipe: `Client writes 11 bytes; DisconnectNamedPipe(server)
// with unread data -> TRUE (data discarded)`; §4 test_pipe_with_data_state: "ReadDataAvailable
// ... == 0 in DISCONNECTED and LISTENING (disconnect discards data)".
#[test]
fn disconnect_discards_data_both_ways() {
    let name = pipe_name("dsdiscard");
    let s = msg_server(&name);
    let c = client(&name);
    settle(&s);
    c.write(b"Bit Bucket\0").unwrap();
    s.write(b"to client").unwrap();
    eventually(LIMIT, "queued", || s.available() == 11);
    assert_eq!(s.disconnect(), Ok(()));
    assert_eq!(s.available(), 0);
    assert_eq!(c.available(), 0);
    // A new client of the same instance sees none of it.
    s.set_handle_mode(PIPE_NOWAIT | PIPE_READMODE_MESSAGE)
        .unwrap();
    assert_eq!(s.connect(), Err(Win32Error::PIPE_LISTENING));
    assert_eq!(s.available(), 0);
    let c2 = client(&name);
    settle(&s);
    assert_eq!(pk32(&s), Ok(pk(0, 0, 0)));
    assert_eq!(pk32(&c2), Ok(pk(0, 0, 0)));
    assert_eq!(rd(&s), Err(Win32Error::NO_DATA));
}

// api.md §2.3: "The client handle stays open but is detached" — it stays detached after the
// server reconnects with another client.
#[test]
fn detached_client_stays_detached_after_reconnect() {
    let name = pipe_name("dsstay");
    let s = msg_server(&name);
    let old = client(&name);
    settle(&s);
    s.disconnect().unwrap();
    s.set_handle_mode(PIPE_NOWAIT | PIPE_READMODE_MESSAGE)
        .unwrap();
    assert_eq!(s.connect(), Err(Win32Error::PIPE_LISTENING));
    let _new = client(&name);
    settle(&s);
    assert_eq!(old.write(b"x"), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(rd(&old), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(pk32(&old), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(old.state(), PipeState::Disconnected);
}

// api.md §3.2: "Close of either end | CONNECTED | CLOSING. ... Its incoming queue is emptied:
// unread data from the peer is dropped" — the closer's unread data does not linger: the
// server's write quota is free again (flush returns at once).
#[test]
fn close_drops_closers_unread_incoming_data() {
    let (s, c) = connected_with("closedrop", b"");
    s.write(b"unread by client").unwrap();
    drop(c);
    eventually(LIMIT, "CLOSING", || s.state() == PipeState::Closing);
    assert_eq!(with_timeout(LIMIT, move || s.flush()), Ok(()));
}

// conformance §4 test_pipe_with_data_state: "FilePipeLocalInformation: client DISCONNECTED ->
// STATUS_PIPE_DISCONNECTED; else success with NamedPipeState = state; ReadDataAvailable != 0 in
// CONNECTED and CLOSING".
#[test]
fn info_and_available_by_state() {
    let (s, c) = connected_with("infost", b"0123456789");
    assert!(s.info().is_ok() && c.info().is_ok());
    assert_eq!((s.available(), c.available()), (10, 10));
    let cs = closing_server("infost2", b"0123456789");
    assert!(cs.info().is_ok());
    assert_eq!(cs.available(), 10);
    let cc = closing_client("infost3", b"0123456789");
    assert!(cc.info().is_ok());
    assert_eq!(cc.available(), 10);
    let (ds, dc) = disconnected("infost4");
    assert!(ds.info().is_ok());
    assert_eq!(ds.available(), 0);
    assert_eq!(dc.info(), Err(Win32Error::PIPE_NOT_CONNECTED));
    let l = listening("infost5");
    assert!(l.info().is_ok());
    assert_eq!(l.available(), 0);
}

// conformance §4 test_pipe_local_info / FilePipeInformation: "client DISCONNECTED ->
// STATUS_PIPE_DISCONNECTED; else success" — a client whose server closed (CLOSING) still
// answers GetNamedPipeHandleState and GetNamedPipeInfo.
#[test]
fn closing_client_still_reports_its_state() {
    let (s, c) = msg_pair("closing-state");
    c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    drop(s);
    eventually(
        std::time::Duration::from_secs(10),
        "the client sees the server gone",
        || c.state() == PipeState::Closing,
    );
    assert_eq!(c.handle_mode(), Ok(PIPE_READMODE_MESSAGE));
    assert_eq!(
        c.info().map(|i| i.flags),
        Ok(PIPE_CLIENT_END | PIPE_TYPE_MESSAGE)
    );
}
