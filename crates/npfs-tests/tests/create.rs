//! CreateNamedPipe argument rules, instance matching, GetNamedPipeInfo,
//! GetNamedPipeHandleState and SetNamedPipeHandleState (conformance §1, §3
//! test_CreateNamedPipe, test_CreateNamedPipe_instances_must_match, test_GetNamedPipeInfo,
//! test_NamedPipeHandleState; §4 test_create_invalid, test_filepipeinfo, test_pipe_local_info;
//! §6; api.md §2.1, §2.9–§2.11).
mod common;
use common::*;

fn raw(open: u32, pipe: u32, max: u32, out: u32, inb: u32, timeout: u32) -> ServerOptions {
    ServerOptions::from_raw(open, pipe, max, out, inb, timeout)
}

fn create_err(o: ServerOptions, tag: &str) -> Option<Win32Error> {
    o.create(&pipe_name(tag)).err()
}

// conformance §3 test_CreateNamedPipe: `CreateNamedPipeA(PIPE_TYPE_BYTE | PIPE_READMODE_MESSAGE)
// -> INVALID_HANDLE_VALUE, ERROR_INVALID_PARAMETER (87)`.
#[test]
fn byte_type_with_message_read_mode_invalid_parameter() {
    let o = raw(
        PIPE_ACCESS_DUPLEX,
        PIPE_TYPE_BYTE | PIPE_READMODE_MESSAGE,
        1,
        1024,
        1024,
        0,
    );
    assert_eq!(
        create_err(o, "bytemsg"),
        Some(Win32Error::INVALID_PARAMETER)
    );
}

// api.md §2.1 errors: `ERROR_INVALID_PARAMETER | nMaxInstances = 0` (conformance §6).
#[test]
fn max_instances_zero_invalid_parameter() {
    let o = raw(PIPE_ACCESS_DUPLEX, 0, 0, 1024, 1024, 0);
    assert_eq!(create_err(o, "max0"), Some(Win32Error::INVALID_PARAMETER));
}

// api.md §2.1 errors: `ERROR_INVALID_PARAMETER | nMaxInstances > 255` (conformance §6).
#[test]
fn max_instances_over_255_invalid_parameter() {
    for max in [256, 1000, 0xFFFF_FFFF] {
        let o = raw(PIPE_ACCESS_DUPLEX, 0, max, 1024, 1024, 0);
        assert_eq!(
            create_err(o, "max256"),
            Some(Win32Error::INVALID_PARAMETER),
            "max {max}"
        );
    }
}

// api.md §2.1 errors: `ERROR_INVALID_PARAMETER | No access direction given` (NPFS: share access
// 0; conformance §4 test_create_invalid "ShareAccess = 0 -> STATUS_INVALID_PARAMETER").
#[test]
fn no_access_direction_invalid_parameter() {
    let o = raw(0, 0, 1, 1024, 1024, 0);
    assert_eq!(create_err(o, "nodir"), Some(Win32Error::INVALID_PARAMETER));
    let o = raw(FILE_FLAG_OVERLAPPED, 0, 1, 1024, 1024, 0);
    assert_eq!(create_err(o, "nodir2"), Some(Win32Error::INVALID_PARAMETER));
}

// api.md §2.1 open mode: "Any bit outside the documented flags makes the call fail."
#[test]
fn undocumented_open_mode_bits_invalid_parameter() {
    for bit in [0x4, 0x10, 0x100, 0x1000, 0x0020_0000, 0x2000_0000] {
        let o = raw(PIPE_ACCESS_DUPLEX | bit, 0, 1, 1024, 1024, 0);
        assert_eq!(
            create_err(o, "badopen"),
            Some(Win32Error::INVALID_PARAMETER),
            "open mode bit {bit:#x}"
        );
    }
}

// api.md §2.1 pipe mode: one type, read, wait and remote mode — other bits are invalid.
#[test]
fn undocumented_pipe_mode_bits_invalid_parameter() {
    for bit in [0x10, 0x20, 0x100, 0x8000_0000] {
        let o = raw(PIPE_ACCESS_DUPLEX, bit, 1, 1024, 1024, 0);
        assert_eq!(
            create_err(o, "badpipe"),
            Some(Win32Error::INVALID_PARAMETER),
            "pipe mode bit {bit:#x}"
        );
    }
}

// api.md §2.1 open mode: FILE_FLAG_WRITE_THROUGH, FILE_FLAG_OVERLAPPED, WRITE_DAC, WRITE_OWNER,
// ACCESS_SYSTEM_SECURITY are documented flags and accepted.
#[test]
fn documented_open_mode_flags_accepted() {
    for bit in [
        FILE_FLAG_WRITE_THROUGH,
        FILE_FLAG_OVERLAPPED,
        WRITE_DAC,
        WRITE_OWNER,
        ACCESS_SYSTEM_SECURITY,
    ] {
        let o = raw(PIPE_ACCESS_DUPLEX | bit, 0, 1, 1024, 1024, 0);
        assert!(o.create(&pipe_name("okopen")).is_ok(), "bit {bit:#x}");
    }
}

// api.md §2.1 pipe mode: every documented combination of type, read, wait and remote modes.
#[test]
fn documented_pipe_modes_accepted() {
    for mode in [
        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
        PIPE_TYPE_BYTE | PIPE_NOWAIT,
        PIPE_TYPE_MESSAGE,
        PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
        PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_NOWAIT,
        PIPE_REJECT_REMOTE_CLIENTS,
        PIPE_TYPE_MESSAGE | PIPE_REJECT_REMOTE_CLIENTS,
    ] {
        let o = raw(PIPE_ACCESS_DUPLEX, mode, 1, 1024, 1024, 0);
        assert!(o.create(&pipe_name("okmode")).is_ok(), "mode {mode:#x}");
    }
}

// api.md §2.1 / conformance §1: "nMaxInstances >= 255 to unlimited"; GetNamedPipeInfo reports
// 255, and more than 255 instances can be created.
#[test]
fn max_instances_255_is_unlimited() {
    let name = pipe_name("unlimited");
    let o = raw(PIPE_ACCESS_DUPLEX, 0, PIPE_UNLIMITED_INSTANCES, 16, 16, 0);
    let mut all = Vec::new();
    for i in 0..260 {
        let s = o
            .create(&name)
            .unwrap_or_else(|e| panic!("instance {i}: {e:?}"));
        all.push(s);
    }
    assert_eq!(all[0].info().unwrap().max_instances, 255);
    assert_eq!(all[0].current_instances(), Ok(255), "capped at 255 [K32]");
}

// conformance §3 test_CreateNamedPipe_instances_must_match: `Two CreateNamedPipe with identical
// params, nMaxInstances=2 -> both succeed`.
#[test]
fn two_identical_instances_with_max_two() {
    let name = pipe_name("two");
    let o = raw(PIPE_ACCESS_DUPLEX, 0, 2, 1024, 1024, 0);
    let a = o.create(&name).unwrap();
    let b = o.create(&name).unwrap();
    assert_eq!(a.current_instances(), Ok(2));
    assert_eq!(b.current_instances(), Ok(2));
    // and a third is over the limit (api.md §2.1: ERROR_PIPE_BUSY).
    assert_eq!(o.create(&name).err(), Some(Win32Error::PIPE_BUSY));
}

// conformance §3 test_CreateNamedPipe_instances_must_match: `nMaxInstances=1, second
// CreateNamedPipe with same name -> ERROR_PIPE_BUSY (231)`.
#[test]
fn second_instance_over_max_one_pipe_busy() {
    let name = pipe_name("max1");
    let o = raw(PIPE_ACCESS_DUPLEX, 0, 1, 1024, 1024, 0);
    let _a = o.create(&name).unwrap();
    assert_eq!(o.create(&name).err(), Some(Win32Error::PIPE_BUSY));
}

// conformance §3 test_CreateNamedPipe_instances_must_match: `First DUPLEX (max 2), second
// PIPE_ACCESS_INBOUND -> ERROR_ACCESS_DENIED (5) (open mode/direction must match)`.
#[test]
fn direction_mismatch_access_denied() {
    let name = pipe_name("dir");
    let _a = raw(PIPE_ACCESS_DUPLEX, 0, 2, 1024, 1024, 0)
        .create(&name)
        .unwrap();
    for dir in [PIPE_ACCESS_INBOUND, PIPE_ACCESS_OUTBOUND] {
        assert_eq!(
            raw(dir, 0, 2, 1024, 1024, 0).create(&name).err(),
            Some(Win32Error::ACCESS_DENIED),
            "direction {dir}"
        );
    }
}

// conformance §1: "a different sharing (direction) ... -> STATUS_ACCESS_DENIED" — also checked
// before the instance limit? No: the limit is checked first (instances >= max -> PIPE_BUSY),
// so here with room left an inbound-then-outbound mismatch is ACCESS_DENIED.
#[test]
fn inbound_then_outbound_access_denied() {
    let name = pipe_name("dir2");
    let _a = raw(PIPE_ACCESS_INBOUND, 0, 3, 1024, 1024, 0)
        .create(&name)
        .unwrap();
    assert_eq!(
        raw(PIPE_ACCESS_OUTBOUND, 0, 3, 1024, 1024, 0)
            .create(&name)
            .err(),
        Some(Win32Error::ACCESS_DENIED)
    );
    assert!(raw(PIPE_ACCESS_INBOUND, 0, 3, 1024, 1024, 0)
        .create(&name)
        .is_ok());
}

// conformance §3 test_CreateNamedPipe_instances_must_match: `First: BYTE, max 4, 1024/1024,
// default wait; second: PIPE_TYPE_MESSAGE, max 3, out 102, in 24, wait 1234 -> SUCCEEDS (...
// instance limit of the first instance governs)`.
#[test]
fn later_instances_may_differ_in_type_max_buffers_timeout() {
    let name = pipe_name("differ");
    let a = raw(PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 1024, 1024, 0)
        .create(&name)
        .unwrap();
    let b = raw(PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 3, 102, 24, 1234)
        .create(&name)
        .unwrap();
    assert!(b.already_existed());
    // The first instance's attributes win (conformance §1).
    let want = PipeInfo {
        flags: PIPE_SERVER_END,
        out_buffer_size: 1024,
        in_buffer_size: 1024,
        max_instances: 4,
    };
    assert_eq!(a.info(), Ok(want));
    assert_eq!(b.info(), Ok(want));
    // The limit of the first (4) governs, not the later 3.
    let c = raw(PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 3, 102, 24, 1234)
        .create(&name)
        .unwrap();
    let d = raw(PIPE_ACCESS_DUPLEX, 0, 1, 1, 1, 0)
        .create(&name)
        .unwrap();
    assert_eq!(
        raw(PIPE_ACCESS_DUPLEX, 0, 4, 1024, 1024, 0)
            .create(&name)
            .err(),
        Some(Win32Error::PIPE_BUSY)
    );
    drop((c, d));
}

// conformance §1: "Pipe type ... of later instances are NOT compared (the first instance's
// values win)" — a message-type request for a byte pipe gives a byte instance, whose data is a
// byte stream.
#[test]
fn later_instance_takes_first_instance_type() {
    let name = pipe_name("firstwins");
    let _a = raw(PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 2, 1024, 1024, 0)
        .create(&name)
        .unwrap();
    let b = raw(PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 2, 1024, 1024, 0)
        .create(&name)
        .unwrap();
    // The client goes to instance a (FIFO); open a second client for b.
    let _c1 = client(&name);
    let c2 = client(&name);
    settle(&b);
    c2.write(b"ab").unwrap();
    c2.write(b"cd").unwrap();
    // A message pipe would still deliver two messages; a byte pipe joins them.
    eventually(LIMIT, "4 bytes queued", || b.available() == 4);
    assert_eq!(read_n(&b, 16).0, b"abcd");
    assert_eq!(
        c2.set_handle_mode(PIPE_READMODE_MESSAGE),
        Err(Win32Error::INVALID_PARAMETER)
    );
}

// api.md §2.1 errors: `ERROR_ACCESS_DENIED | FILE_FLAG_FIRST_PIPE_INSTANCE and the pipe already
// exists` (conformance §6).
#[test]
fn first_pipe_instance_on_existing_access_denied() {
    let name = pipe_name("first");
    let _a = raw(PIPE_ACCESS_DUPLEX, 0, 5, 1024, 1024, 0)
        .create(&name)
        .unwrap();
    assert_eq!(
        raw(
            PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
            0,
            5,
            1024,
            1024,
            0
        )
        .create(&name)
        .err(),
        Some(Win32Error::ACCESS_DENIED)
    );
}

// api.md §2.1: FILE_FLAG_FIRST_PIPE_INSTANCE on a new name creates it.
#[test]
fn first_pipe_instance_on_new_name_succeeds() {
    let name = pipe_name("firstnew");
    let mut o = ServerOptions::new();
    o.first_pipe_instance(true);
    let s = o.create(&name).unwrap();
    assert!(!s.already_existed());
}

// conformance §1/§6: "sets last error to ERROR_ALREADY_EXISTS (183) when another instance already
// existed (ERROR_SUCCESS otherwise)".
#[test]
fn already_existed_only_for_later_instances() {
    let name = pipe_name("exists");
    let o = raw(PIPE_ACCESS_DUPLEX, 0, 3, 1024, 1024, 0);
    let a = o.create(&name).unwrap();
    let b = o.create(&name).unwrap();
    let c = o.create(&name).unwrap();
    assert!(!a.already_existed());
    assert!(b.already_existed());
    assert!(c.already_existed());
}

// conformance §1: "The pipe name is unlinked from the namespace when the last server instance is
// destroyed (so a new CreateNamedPipe after that starts a fresh pipe with new attributes)".
#[test]
fn name_disappears_with_last_instance() {
    let name = pipe_name("vanish");
    let o = raw(PIPE_ACCESS_DUPLEX, 0, 2, 1024, 1024, 0);
    let a = o.create(&name).unwrap();
    let b = o.create(&name).unwrap();
    drop(a);
    // One instance left: the name still exists.
    assert!(PipeClient::open_duplex(&name).is_ok());
    drop(b);
    assert_eq!(
        PipeClient::open_duplex(&name).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
    assert_eq!(wait_named_pipe(&name, 0), Err(Win32Error::FILE_NOT_FOUND));
    // Fresh pipe, new attributes: inbound, message type, max 1.
    let c = raw(PIPE_ACCESS_INBOUND, PIPE_TYPE_MESSAGE, 1, 10, 20, 0)
        .create(&name)
        .unwrap();
    assert!(!c.already_existed());
    assert_eq!(
        c.info(),
        Ok(PipeInfo {
            flags: PIPE_SERVER_END | PIPE_TYPE_MESSAGE,
            out_buffer_size: 10,
            in_buffer_size: 20,
            max_instances: 1
        })
    );
}

// conformance §4 test_pipe_local_info: "when the only server was closed (CurrentInstances==0,
// client CLOSING) the create SUCCEEDS — the new instance may even have different
// type/direction since the pipe name is effectively new".
#[test]
fn recreate_while_old_client_still_open() {
    let name = pipe_name("recreate");
    let s = raw(PIPE_ACCESS_OUTBOUND, PIPE_TYPE_MESSAGE, 1, 200, 100, 0)
        .create(&name)
        .unwrap();
    let c = PipeClient::open(&name, GENERIC_READ | FILE_WRITE_ATTRIBUTES).unwrap();
    settle(&s);
    // While the instance exists, another (different direction) is refused.
    assert_eq!(
        raw(PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE, 1, 1, 1, 0)
            .create(&name)
            .err(),
        Some(Win32Error::PIPE_BUSY)
    );
    drop(s);
    assert_eq!(c.state(), PipeState::Closing);
    let s2 = raw(PIPE_ACCESS_INBOUND, PIPE_TYPE_BYTE, 1, 1, 1, 0)
        .create(&name)
        .unwrap();
    assert!(!s2.already_existed());
    assert_eq!(s2.info().unwrap().flags, PIPE_SERVER_END);
    // The old client still sees its own pipe's attributes.
    assert_eq!(c.info().unwrap().flags, PIPE_CLIENT_END | PIPE_TYPE_MESSAGE);
}

// conformance §3 test_GetNamedPipeInfo: `BYTE|WAIT, max 1, 1024/1024 -> flags
// PIPE_SERVER_END|PIPE_TYPE_BYTE (=1), out 1024, in 1024, maxinst 1`.
#[test]
fn info_byte_pipe() {
    let s = raw(
        PIPE_ACCESS_DUPLEX,
        PIPE_TYPE_BYTE | PIPE_WAIT,
        1,
        1024,
        1024,
        0,
    )
    .create(&pipe_name("infobyte"))
    .unwrap();
    assert_eq!(
        s.info(),
        Ok(PipeInfo {
            flags: 1,
            out_buffer_size: 1024,
            in_buffer_size: 1024,
            max_instances: 1
        })
    );
}

// conformance §3 test_GetNamedPipeInfo: `MESSAGE|NOWAIT, max 3 -> flags
// PIPE_SERVER_END|PIPE_TYPE_MESSAGE (=5), 1024/1024, 3 (NOWAIT not reflected in flags)`.
#[test]
fn info_message_nowait_pipe() {
    let s = raw(
        PIPE_ACCESS_DUPLEX,
        PIPE_TYPE_MESSAGE | PIPE_NOWAIT,
        3,
        1024,
        1024,
        0,
    )
    .create(&pipe_name("infomsg"))
    .unwrap();
    assert_eq!(
        s.info(),
        Ok(PipeInfo {
            flags: 5,
            out_buffer_size: 1024,
            in_buffer_size: 1024,
            max_instances: 3
        })
    );
}

// conformance §3 test_GetNamedPipeInfo: `MESSAGE, buffers 0/0 -> reports 0/0`.
#[test]
fn info_zero_buffers() {
    let s = raw(PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 1, 0, 0, 0)
        .create(&pipe_name("info0"))
        .unwrap();
    let i = s.info().unwrap();
    assert_eq!((i.out_buffer_size, i.in_buffer_size), (0, 0));
}

// conformance §3 test_GetNamedPipeInfo: `MESSAGE, buffers 0xf000/0xf000 -> reports
// 0xf000/0xf000 (sizes reported exactly as requested; no rounding)`.
#[test]
fn info_f000_buffers_not_rounded() {
    let s = raw(PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 1, 0xf000, 0xf000, 0)
        .create(&pipe_name("infof000"))
        .unwrap();
    let i = s.info().unwrap();
    assert_eq!((i.out_buffer_size, i.in_buffer_size), (0xf000, 0xf000));
    let s = raw(PIPE_ACCESS_DUPLEX, 0, 1, 1001, 33, 0)
        .create(&pipe_name("infoodd"))
        .unwrap();
    let i = s.info().unwrap();
    assert_eq!((i.out_buffer_size, i.in_buffer_size), (1001, 33));
}

// api.md §2.9: "Buffer sizes: the instance's outbound and inbound quotas ... the same values
// whichever end asks"; client flags are PIPE_CLIENT_END (0) | type.
#[test]
fn info_from_client_end() {
    let name = pipe_name("infoclient");
    let s = raw(PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 7, 100, 200, 0)
        .create(&name)
        .unwrap();
    let c = client(&name);
    settle(&s);
    assert_eq!(
        c.info(),
        Ok(PipeInfo {
            flags: PIPE_CLIENT_END | PIPE_TYPE_MESSAGE,
            out_buffer_size: 100,
            in_buffer_size: 200,
            max_instances: 7
        })
    );
    let name = pipe_name("infoclient2");
    let _s = raw(PIPE_ACCESS_DUPLEX, 0, 1, 1, 2, 0)
        .create(&name)
        .unwrap();
    let c = client(&name);
    assert_eq!(c.info().unwrap().flags, PIPE_CLIENT_END);
}

// conformance §3 test_NamedPipeHandleState: `Byte server (max 1): ... state == 0
// (PIPE_WAIT|PIPE_READMODE_BYTE), instances == 1`.
#[test]
fn handle_state_byte_server_defaults() {
    let s = raw(PIPE_ACCESS_DUPLEX, 0, 1, 1024, 1024, 0)
        .create(&pipe_name("hsbyte"))
        .unwrap();
    assert_eq!(s.handle_mode(), Ok(0));
    assert_eq!(s.current_instances(), Ok(1));
}

// conformance §3 test_NamedPipeHandleState: `Message-type server (PIPE_TYPE_MESSAGE|PIPE_WAIT, no
// READMODE flag): state == 0 (read mode byte by default), instances 1`.
#[test]
fn handle_state_message_server_without_read_mode() {
    let s = raw(
        PIPE_ACCESS_DUPLEX,
        PIPE_TYPE_MESSAGE | PIPE_WAIT,
        1,
        1024,
        1024,
        0,
    )
    .create(&pipe_name("hsmsg"))
    .unwrap();
    assert_eq!(s.handle_mode(), Ok(0));
    assert_eq!(s.current_instances(), Ok(1));
}

// api.md §2.10: `lpState`: PIPE_NOWAIT (1) and/or PIPE_READMODE_MESSAGE (2) as created.
#[test]
fn handle_state_reflects_creation_modes() {
    let s = raw(
        PIPE_ACCESS_DUPLEX,
        PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_NOWAIT,
        1,
        1024,
        1024,
        0,
    )
    .create(&pipe_name("hsall"))
    .unwrap();
    assert_eq!(s.handle_mode(), Ok(PIPE_READMODE_MESSAGE | PIPE_NOWAIT));
}

// conformance §1: "Clients always start in byte read mode, blocking" (§4 test_filepipeinfo:
// "client always starts byte/blocking regardless of server's modes").
#[test]
fn client_starts_byte_blocking() {
    let name = pipe_name("hsclient");
    let s = raw(
        PIPE_ACCESS_DUPLEX,
        PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_NOWAIT,
        1,
        1024,
        1024,
        0,
    )
    .create(&name)
    .unwrap();
    let c = client(&name);
    assert_eq!(c.handle_mode(), Ok(0));
    assert_eq!(s.handle_mode(), Ok(PIPE_READMODE_MESSAGE | PIPE_NOWAIT));
}

// conformance §3 test_NamedPipeHandleState: `SetNamedPipeHandleState(byte server,
// PIPE_READMODE_MESSAGE) -> FALSE, ERROR_INVALID_PARAMETER (87)`.
#[test]
fn set_message_read_mode_on_byte_server_invalid() {
    let s = raw(PIPE_ACCESS_DUPLEX, 0, 1, 1024, 1024, 0)
        .create(&pipe_name("setbyte"))
        .unwrap();
    assert_eq!(
        s.set_handle_mode(PIPE_READMODE_MESSAGE),
        Err(Win32Error::INVALID_PARAMETER)
    );
    assert_eq!(s.handle_mode(), Ok(0), "mode unchanged after the failure");
}

// conformance §3 test_CreateNamedPipe: `SetNamedPipeHandleState(client, PIPE_READMODE_MESSAGE)
// fails on a PIPE_TYPE_BYTE pipe`; test_NamedPipeHandleState: `SetNamedPipeHandleState(client
// of byte pipe, PIPE_READMODE_BYTE) -> TRUE`.
#[test]
fn set_read_mode_on_byte_client() {
    let (_s, c) = byte_pair("setbytec");
    assert_eq!(
        c.set_handle_mode(PIPE_READMODE_MESSAGE),
        Err(Win32Error::INVALID_PARAMETER)
    );
    assert_eq!(c.set_handle_mode(PIPE_READMODE_BYTE), Ok(()));
    assert_eq!(c.handle_mode(), Ok(0));
}

// conformance §3 test_NamedPipeHandleState: `SetNamedPipeHandleState(server, READMODE_BYTE) ->
// TRUE` on a message server; `Client of message pipe: set READMODE_MESSAGE -> TRUE; set back to
// READMODE_BYTE -> TRUE`.
#[test]
fn set_read_mode_on_message_pipe_both_ends() {
    let (s, c) = msg_pair("setmsg");
    assert_eq!(s.set_handle_mode(PIPE_READMODE_BYTE), Ok(()));
    assert_eq!(s.handle_mode(), Ok(0));
    assert_eq!(s.set_handle_mode(PIPE_READMODE_MESSAGE), Ok(()));
    assert_eq!(s.handle_mode(), Ok(PIPE_READMODE_MESSAGE));
    assert_eq!(c.set_handle_mode(PIPE_READMODE_MESSAGE), Ok(()));
    assert_eq!(c.handle_mode(), Ok(PIPE_READMODE_MESSAGE));
    assert_eq!(c.set_handle_mode(PIPE_READMODE_BYTE), Ok(()));
    assert_eq!(c.handle_mode(), Ok(0));
}

// conformance §4 test_filepipeinfo: `ReadMode=0, CompletionMode=1 -> success (client now 0/1,
// server unchanged 0/1)` — modes are per end.
#[test]
fn set_nowait_is_per_end() {
    let (s, c) = msg_pair("setnowait");
    assert_eq!(
        c.set_handle_mode(PIPE_NOWAIT | PIPE_READMODE_MESSAGE),
        Ok(())
    );
    assert_eq!(c.handle_mode(), Ok(PIPE_NOWAIT | PIPE_READMODE_MESSAGE));
    assert_eq!(s.handle_mode(), Ok(PIPE_READMODE_MESSAGE));
    assert_eq!(c.set_handle_mode(PIPE_WAIT), Ok(()));
    assert_eq!(c.handle_mode(), Ok(0));
}

// conformance §1: "SetNamedPipeHandleState ... only PIPE_READMODE_MESSAGE and PIPE_NOWAIT bits
// accepted"; §4 test_filepipeinfo: "CompletionMode=2 or ReadMode=2 (out of 0..1) ->
// STATUS_INVALID_PARAMETER".
#[test]
fn set_handle_mode_bad_bits_invalid_parameter() {
    let (s, c) = msg_pair("setbad");
    for bad in [0x4, 0x8, 0x10, 0x100, 0x8000_0000] {
        assert_eq!(
            s.set_handle_mode(bad),
            Err(Win32Error::INVALID_PARAMETER),
            "server {bad:#x}"
        );
        assert_eq!(
            c.set_handle_mode(bad),
            Err(Win32Error::INVALID_PARAMETER),
            "client {bad:#x}"
        );
    }
    assert_eq!(s.handle_mode(), Ok(PIPE_READMODE_MESSAGE));
    assert_eq!(c.handle_mode(), Ok(0));
}

// conformance §4 test_pipe_local_info: "FilePipeInformation set {0,0}: ... STATUS_SUCCESS (works
// in LISTENING/CLOSING/DISCONNECTED server)".
#[test]
fn set_handle_mode_in_every_server_state() {
    let name = pipe_name("setstates");
    let s = msg_server(&name);
    assert_eq!(s.set_handle_mode(0), Ok(()), "listening");
    let c = client(&name);
    settle(&s);
    drop(c);
    assert_eq!(s.set_handle_mode(0), Ok(()), "closing");
    s.disconnect().unwrap();
    assert_eq!(s.set_handle_mode(0), Ok(()), "disconnected");
    assert_eq!(s.handle_mode(), Ok(0));
}

// conformance §4 test_pipe_local_info: "FilePipeInformation query/set: client DISCONNECTED ->
// STATUS_PIPE_DISCONNECTED"; GetNamedPipeInfo on a detached client -> ERROR_PIPE_NOT_CONNECTED
// (api.md §2.9).
#[test]
fn handle_state_on_detached_client_pipe_not_connected() {
    let (s, c) = msg_pair("detachedhs");
    s.disconnect().unwrap();
    assert_eq!(c.handle_mode(), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(c.set_handle_mode(0), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(c.info(), Err(Win32Error::PIPE_NOT_CONNECTED));
    // The server handle still answers.
    assert!(s.info().is_ok());
    assert_eq!(s.handle_mode(), Ok(PIPE_READMODE_MESSAGE));
}

// conformance §4 test_pipe_local_info: "CurrentInstances 1 (but 0 for a client in CLOSING, i.e.
// after the server handle was closed)".
#[test]
fn current_instances_zero_for_client_after_server_closed() {
    let (s, c) = byte_pair("curinst");
    assert_eq!(c.current_instances(), Ok(1));
    drop(s);
    assert_eq!(c.current_instances(), Ok(0));
}

// api.md §2.1 resulting handle: "A new instance starts in the LISTENING state."
#[test]
fn new_instance_is_listening() {
    let s = byte_server(&pipe_name("listening"));
    assert_eq!(s.state(), PipeState::Listening);
    assert_eq!(PipeState::Listening.as_nt(), 2);
}

// api.md §2.14 / conformance §1: anonymous pipes are named pipes with one instance, byte
// mode: CreatePipe's read end is a server end of a pipe that cannot get a second instance.
#[test]
fn anonymous_pipe_is_single_instance_byte_pipe() {
    init();
    let (r, w) = create_pipe(0).unwrap();
    assert_eq!(r.info().unwrap().max_instances, 1);
    assert_eq!(
        w.set_handle_mode(PIPE_READMODE_MESSAGE),
        Err(Win32Error::INVALID_PARAMETER)
    );
    assert_eq!(r.state(), PipeState::Connected);
    assert_eq!(w.state(), PipeState::Connected);
}
