//! The access a handle holds, and what each operation needs of it (spec/api.md §2.4 "Desired
//! access", "Rights needed per API"; conformance §3 test_CreateNamedPipe for the masks, §4
//! test_create_invalid and test_filepipeinfo for "the access check comes first"). The C side
//! (tests/c/conformance/access.c) checks the cases Wine agrees with; this file adds the
//! documented ones Wine does not check: SetNamedPipeHandleState on a client without
//! `FILE_WRITE_ATTRIBUTES`, and FlushFileBuffers without write access.
mod common;
use std::time::Duration;

use common::*;

const DENIED: Result<(), Win32Error> = Err(Win32Error::ACCESS_DENIED);

fn server(access_in: bool, access_out: bool, message: bool, tag: &str) -> (PipeServer, String) {
    let name = pipe_name(tag);
    let mut o = opts(message, message, 1, 4096, 4096);
    o.access_inbound(access_in).access_outbound(access_out);
    (o.create(&name).unwrap(), name)
}

fn unit<T>(r: Result<T, Win32Error>) -> Result<(), Win32Error> {
    r.map(|_| ())
}

// conformance §3 test_CreateNamedPipe: the masks CreateNamedPipe gives by direction, and a
// client opened with access 0 holding SYNCHRONIZE | FILE_READ_ATTRIBUTES.
#[test]
fn granted_access_masks() {
    let (inbound, _) = server(true, false, false, "acc-mask-in");
    assert_eq!(
        inbound.granted_access(),
        SYNCHRONIZE | READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_READ_EA | FILE_READ_DATA
    );
    let (outbound, _) = server(false, true, false, "acc-mask-out");
    assert_eq!(
        outbound.granted_access(),
        SYNCHRONIZE
            | READ_CONTROL
            | FILE_WRITE_ATTRIBUTES
            | FILE_WRITE_EA
            | FILE_APPEND_DATA
            | FILE_WRITE_DATA
    );
    let (_duplex, name) = server(true, true, false, "acc-mask-0");
    let c = PipeClient::open(&name, 0).unwrap();
    assert_eq!(c.granted_access(), SYNCHRONIZE | FILE_READ_ATTRIBUTES);
}

// An outbound server writes and sets its state; it may not read, peek, transact or ask about
// the pipe (GetNamedPipeInfo needs FILE_READ_ATTRIBUTES, which FILE_GENERIC_WRITE lacks).
#[test]
fn outbound_server_rights() {
    let (s, name) = server(false, true, true, "acc-out");
    let c = PipeClient::open(&name, GENERIC_READ).unwrap();
    settle(&s);
    let mut buf = [0u8; 8];
    assert_eq!(unit(s.read(&mut buf)), DENIED);
    assert_eq!(
        unit(s.read_timeout(&mut buf, Duration::from_secs(5))),
        DENIED
    );
    assert_eq!(unit(s.peek(&mut buf)), DENIED);
    assert_eq!(unit(s.transact(b"x", &mut buf)), DENIED);
    assert_eq!(unit(s.info()), DENIED);
    assert_eq!(unit(s.handle_mode()), DENIED);
    assert_eq!(unit(s.current_instances()), DENIED);
    assert_eq!(s.set_handle_mode(PIPE_READMODE_BYTE), Ok(()));
    assert_eq!(s.write(b"y"), Ok(1));
    assert_eq!(read_n(&c, 8).0, b"y");
}

// An inbound server reads and asks; it may not write, flush or set its state — the access
// check comes before the mode check (test_filepipeinfo: "access check comes first").
#[test]
fn inbound_server_rights() {
    let (s, name) = server(true, false, false, "acc-in");
    let c = PipeClient::open(&name, GENERIC_WRITE).unwrap();
    settle(&s);
    assert_eq!(unit(s.write(b"x")), DENIED);
    assert_eq!(unit(s.write_timeout(b"x", Duration::from_secs(5))), DENIED);
    assert_eq!(s.flush(), DENIED);
    assert_eq!(s.set_handle_mode(PIPE_NOWAIT), DENIED);
    assert_eq!(s.set_handle_mode(PIPE_READMODE_MESSAGE), DENIED);
    assert_eq!(s.info().map(|i| i.flags), Ok(PIPE_SERVER_END));
    assert_eq!(s.handle_mode(), Ok(0));
    assert_eq!(c.write(b"z"), Ok(1));
    assert_eq!(read_n(&s, 8).0, b"z");
}

// A read-only client: no WriteFile, TransactNamedPipe or FlushFileBuffers (which needs
// GENERIC_WRITE: api.md §2.18), and no SetNamedPipeHandleState without FILE_WRITE_ATTRIBUTES
// (api.md §2.11: "GENERIC_READ | FILE_WRITE_ATTRIBUTES on read-only pipes"; Wine lets it
// through). With FILE_WRITE_ATTRIBUTES it may set message read mode.
#[test]
fn read_only_client_rights() {
    let (s, name) = server(false, true, true, "acc-ro");
    let c = PipeClient::open(&name, GENERIC_READ).unwrap();
    settle(&s);
    let mut buf = [0u8; 8];
    assert_eq!(unit(c.write(b"x")), DENIED);
    assert_eq!(unit(c.transact(b"x", &mut buf)), DENIED);
    assert_eq!(c.flush(), DENIED);
    assert_eq!(c.set_handle_mode(PIPE_READMODE_MESSAGE), DENIED);
    assert_eq!(
        c.info().map(|i| i.flags),
        Ok(PIPE_CLIENT_END | PIPE_TYPE_MESSAGE)
    );
    assert_eq!(c.handle_mode(), Ok(0));
    let (_s2, name2) = server(false, true, true, "acc-ro-attr");
    let c = PipeClient::open(&name2, GENERIC_READ | FILE_WRITE_ATTRIBUTES).unwrap();
    assert_eq!(c.set_handle_mode(PIPE_READMODE_MESSAGE), Ok(()));
    assert_eq!(c.handle_mode(), Ok(PIPE_READMODE_MESSAGE));
}

// A write-only client: no ReadFile or PeekNamedPipe; it may ask about the pipe (CreateFile
// adds FILE_READ_ATTRIBUTES) and set its state (FILE_GENERIC_WRITE has FILE_WRITE_ATTRIBUTES).
#[test]
fn write_only_client_rights() {
    let (s, name) = server(true, false, false, "acc-wo");
    let c = PipeClient::open(&name, GENERIC_WRITE).unwrap();
    settle(&s);
    let mut buf = [0u8; 8];
    assert_eq!(unit(c.read(&mut buf)), DENIED);
    assert_eq!(unit(c.peek(&mut buf)), DENIED);
    assert_eq!(c.info().map(|i| i.flags), Ok(PIPE_CLIENT_END));
    assert_eq!(c.set_handle_mode(PIPE_NOWAIT), Ok(()));
    assert_eq!(c.handle_mode(), Ok(PIPE_NOWAIT));
}

// Access 0: only questions about the pipe.
#[test]
fn access_zero_client_rights() {
    let (s, name) = server(true, true, false, "acc-zero");
    let c = PipeClient::open(&name, 0).unwrap();
    settle(&s);
    let mut buf = [0u8; 8];
    assert_eq!(unit(c.read(&mut buf)), DENIED);
    assert_eq!(unit(c.write(b"x")), DENIED);
    assert_eq!(c.set_handle_mode(0), DENIED);
    assert!(c.info().is_ok());
}

// The I/O manager checks access before the pipe's state: a write-only client whose server
// disconnected gets ERROR_ACCESS_DENIED from ReadFile, not ERROR_PIPE_NOT_CONNECTED; an
// unknown mode bit is kernelbase's ERROR_INVALID_PARAMETER before any of that.
#[test]
fn access_checked_before_state() {
    let (s, name) = server(true, false, false, "acc-first");
    let c = PipeClient::open(&name, GENERIC_WRITE).unwrap();
    settle(&s);
    s.disconnect().unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(unit(c.read(&mut buf)), DENIED);
    assert_eq!(unit(c.write(b"x")), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(s.set_handle_mode(0x80), Err(Win32Error::INVALID_PARAMETER));
}

// CreateFile asks for FILE_READ_ATTRIBUTES as kernelbase does: under a DACL that grants
// everyone GENERIC_WRITE only (which lacks it), a write-only open is refused, and one that
// grants FILE_READ_ATTRIBUTES too lets it through. (No ACE for SYSTEM or Administrators: root
// gets what Everyone gets.)
#[test]
fn create_file_needs_read_attributes_in_the_dacl() {
    let name = pipe_name("acc-dacl");
    let mut o = opts(false, false, 1, 4096, 4096);
    o.sddl("D:P(A;;GW;;;WD)");
    let _s = o.create(&name).unwrap();
    assert_eq!(
        PipeClient::open(&name, GENERIC_WRITE).err(),
        Some(Win32Error::ACCESS_DENIED)
    );
    let name2 = pipe_name("acc-dacl-ra");
    let mut o = opts(false, false, 1, 4096, 4096);
    o.sddl("D:P(A;;GWFR;;;WD)");
    let _s2 = o.create(&name2).unwrap();
    assert!(PipeClient::open(&name2, GENERIC_WRITE).is_ok());
}

// CreatePipe: the read end holds FILE_WRITE_ATTRIBUTES besides FILE_GENERIC_READ, the write
// end FILE_GENERIC_WRITE with FILE_READ_ATTRIBUTES (conformance §3 test_CreatePipe, the exact
// masks), so the read end may set its state; neither end may move data the wrong way.
#[test]
fn create_pipe_ends_rights() {
    let (r, w) = npfs::create_pipe(0).unwrap();
    assert_eq!(
        r.granted_access(),
        SYNCHRONIZE
            | READ_CONTROL
            | FILE_WRITE_ATTRIBUTES
            | FILE_READ_ATTRIBUTES
            | FILE_READ_EA
            | FILE_READ_DATA
    );
    assert_eq!(
        w.granted_access(),
        SYNCHRONIZE
            | READ_CONTROL
            | FILE_WRITE_ATTRIBUTES
            | FILE_READ_ATTRIBUTES
            | FILE_WRITE_EA
            | FILE_APPEND_DATA
            | FILE_WRITE_DATA
    );
    assert_eq!(r.set_handle_mode(PIPE_NOWAIT), Ok(()));
    assert_eq!(unit(r.write(b"x")), DENIED);
    let mut buf = [0u8; 4];
    assert_eq!(unit(w.read(&mut buf)), DENIED);
    assert_eq!(w.write(b"ok"), Ok(2));
    assert_eq!(read_n(&r, 4).0, b"ok");
}
