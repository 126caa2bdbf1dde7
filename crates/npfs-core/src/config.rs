//! CreateNamedPipe's arguments decoded into typed values, with Windows' error codes
//! (spec/api.md §2.1), and the other per-handle settings (SetNamedPipeHandleState, client
//! access checks).
//!
//! Everything here is a pure function of its arguments. Rules that need the namespace
//! (direction must match the existing pipe, `FILE_FLAG_FIRST_PIPE_INSTANCE` on an existing
//! name, the instance limit) belong to the namespace, not to this module.

use crate::consts::*;
use crate::error::Win32Error;

/// Every `dwOpenMode` bit CreateNamedPipe accepts: the `PIPE_ACCESS_*` direction bits,
/// `FILE_FLAG_FIRST_PIPE_INSTANCE`, `FILE_FLAG_WRITE_THROUGH`, `FILE_FLAG_OVERLAPPED`,
/// `WRITE_DAC`, `WRITE_OWNER` and `ACCESS_SYSTEM_SECURITY`. Any other bit is
/// `ERROR_INVALID_PARAMETER`.
pub const VALID_OPEN_MODE_BITS: u32 = PIPE_ACCESS_DUPLEX
    | FILE_FLAG_FIRST_PIPE_INSTANCE
    | FILE_FLAG_WRITE_THROUGH
    | FILE_FLAG_OVERLAPPED
    | WRITE_DAC
    | WRITE_OWNER
    | ACCESS_SYSTEM_SECURITY;

/// The `dwOpenMode` bits of CreateNamedPipe that are access rights added to the server
/// handle: `WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY`.
///
/// `WRITE_OWNER` has the value of `FILE_FLAG_FIRST_PIPE_INSTANCE` (0x00080000, spec/api.md
/// §8.8), so that bit is both a flag and an access right.
pub const OPEN_MODE_ACCESS_BITS: u32 = WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY;

/// Every `dwPipeMode` bit CreateNamedPipe accepts: `PIPE_TYPE_MESSAGE`,
/// `PIPE_READMODE_MESSAGE`, `PIPE_NOWAIT` and `PIPE_REJECT_REMOTE_CLIENTS` (0xF). Any other
/// bit is `ERROR_INVALID_PARAMETER`.
pub const VALID_PIPE_MODE_BITS: u32 =
    PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_NOWAIT | PIPE_REJECT_REMOTE_CLIENTS;

/// Every `*lpMode` bit SetNamedPipeHandleState accepts: `PIPE_READMODE_MESSAGE | PIPE_NOWAIT`.
pub const VALID_HANDLE_MODE_BITS: u32 = PIPE_READMODE_MESSAGE | PIPE_NOWAIT;

/// The time-out CreateNamedPipe stores when `nDefaultTimeOut` is 0: 50 milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 50;

/// `FILE_EXECUTE` (0x20).
const FILE_EXECUTE: u32 = 0x20;
/// `STANDARD_RIGHTS_REQUIRED` (DELETE | READ_CONTROL | WRITE_DAC | WRITE_OWNER).
const STANDARD_RIGHTS_REQUIRED: u32 = 0x000F_0000;
/// `FILE_GENERIC_EXECUTE`.
const FILE_GENERIC_EXECUTE: u32 = READ_CONTROL | FILE_EXECUTE | FILE_READ_ATTRIBUTES | SYNCHRONIZE;
/// `FILE_ALL_ACCESS` (0x1F01FF).
const FILE_ALL_ACCESS: u32 = STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FF;

/// Direction of a pipe (`PIPE_ACCESS_*`), fixed by its first instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `PIPE_ACCESS_INBOUND`: client → server.
    Inbound,
    /// `PIPE_ACCESS_OUTBOUND`: server → client.
    Outbound,
    /// `PIPE_ACCESS_DUPLEX`: both ways.
    Duplex,
}

impl Direction {
    /// The direction in CreateNamedPipe's `dwOpenMode` bits 0..1 (`PIPE_ACCESS_INBOUND`,
    /// `PIPE_ACCESS_OUTBOUND`, `PIPE_ACCESS_DUPLEX`); `None` when neither bit is set. All other
    /// bits are ignored.
    pub fn from_open_mode(open_mode: u32) -> Option<Self> {
        match open_mode & PIPE_ACCESS_DUPLEX {
            PIPE_ACCESS_INBOUND => Some(Direction::Inbound),
            PIPE_ACCESS_OUTBOUND => Some(Direction::Outbound),
            PIPE_ACCESS_DUPLEX => Some(Direction::Duplex),
            _ => None,
        }
    }

    /// The `PIPE_ACCESS_*` value of this direction, as CreateNamedPipe's `dwOpenMode` takes it.
    pub fn as_open_mode(self) -> u32 {
        match self {
            Direction::Inbound => PIPE_ACCESS_INBOUND,
            Direction::Outbound => PIPE_ACCESS_OUTBOUND,
            Direction::Duplex => PIPE_ACCESS_DUPLEX,
        }
    }

    /// The NT `NamedPipeConfiguration` of this direction, as FilePipeLocalInformation reports
    /// it: `FILE_PIPE_INBOUND` (0), `FILE_PIPE_OUTBOUND` (1) or `FILE_PIPE_FULL_DUPLEX` (2).
    pub fn as_pipe_configuration(self) -> u32 {
        match self {
            Direction::Inbound => 0,
            Direction::Outbound => 1,
            Direction::Duplex => 2,
        }
    }

    /// Whether the server end reads (`PIPE_ACCESS_INBOUND` or `PIPE_ACCESS_DUPLEX`).
    pub fn server_reads(self) -> bool {
        matches!(self, Direction::Inbound | Direction::Duplex)
    }

    /// Whether the server end writes (`PIPE_ACCESS_OUTBOUND` or `PIPE_ACCESS_DUPLEX`).
    pub fn server_writes(self) -> bool {
        matches!(self, Direction::Outbound | Direction::Duplex)
    }

    /// Whether the client end reads (`PIPE_ACCESS_OUTBOUND` or `PIPE_ACCESS_DUPLEX`): the
    /// client may open with `GENERIC_READ` / `FILE_READ_DATA`.
    pub fn client_reads(self) -> bool {
        self.server_writes()
    }

    /// Whether the client end writes (`PIPE_ACCESS_INBOUND` or `PIPE_ACCESS_DUPLEX`): the
    /// client may open with `GENERIC_WRITE` / `FILE_WRITE_DATA`.
    pub fn client_writes(self) -> bool {
        self.server_reads()
    }
}

/// Pipe type (`PIPE_TYPE_*`), fixed by the first instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipeType {
    /// `PIPE_TYPE_BYTE`: a byte stream; zero-length writes are dropped.
    Byte,
    /// `PIPE_TYPE_MESSAGE`: each write is one message.
    Message,
}

impl PipeType {
    /// The `PIPE_TYPE_*` bit of this type, as CreateNamedPipe's `dwPipeMode` and
    /// GetNamedPipeInfo's `*lpFlags` carry it (`PIPE_TYPE_BYTE` 0, `PIPE_TYPE_MESSAGE` 4).
    pub fn as_pipe_mode(self) -> u32 {
        match self {
            PipeType::Byte => PIPE_TYPE_BYTE,
            PipeType::Message => PIPE_TYPE_MESSAGE,
        }
    }
}

/// Read mode of one end (`PIPE_READMODE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadMode {
    /// `PIPE_READMODE_BYTE`: reads cross message boundaries.
    Byte,
    /// `PIPE_READMODE_MESSAGE`: a read returns at most one message.
    Message,
}

impl ReadMode {
    /// The `PIPE_READMODE_*` bit of this mode, as GetNamedPipeHandleState's `*lpState` and
    /// SetNamedPipeHandleState's `*lpMode` carry it (`PIPE_READMODE_BYTE` 0,
    /// `PIPE_READMODE_MESSAGE` 2).
    pub fn as_pipe_mode(self) -> u32 {
        match self {
            ReadMode::Byte => PIPE_READMODE_BYTE,
            ReadMode::Message => PIPE_READMODE_MESSAGE,
        }
    }
}

/// Attributes of a pipe, fixed by the instance that created the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PipeAttributes {
    /// Direction (`PIPE_ACCESS_*`).
    pub direction: Direction,
    /// Type (`PIPE_TYPE_*`).
    pub pipe_type: PipeType,
    /// nMaxInstances, 1..=255; 255 is `PIPE_UNLIMITED_INSTANCES`.
    pub max_instances: u32,
    /// nOutBufferSize: quota of the server → client queue, as given.
    pub out_quota: u32,
    /// nInBufferSize: quota of the client → server queue, as given.
    pub in_quota: u32,
    /// nDefaultTimeOut in milliseconds, with 0 already replaced by 50.
    pub default_timeout_ms: u32,
}

impl PipeAttributes {
    /// Whether the pipe has no instance limit (nMaxInstances was `PIPE_UNLIMITED_INSTANCES`,
    /// 255; GetNamedPipeInfo then reports 255).
    pub fn is_unlimited(&self) -> bool {
        self.max_instances >= PIPE_UNLIMITED_INSTANCES
    }
}

/// Options of one CreateNamedPipe call that belong to the instance, not the pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceOptions {
    /// `FILE_FLAG_FIRST_PIPE_INSTANCE`.
    pub first_instance: bool,
    /// `FILE_FLAG_WRITE_THROUGH`.
    pub write_through: bool,
    /// `FILE_FLAG_OVERLAPPED`.
    pub overlapped: bool,
    /// Read mode of the server end (`PIPE_READMODE_*`).
    pub read_mode: ReadMode,
    /// `PIPE_NOWAIT` on the server end.
    pub nowait: bool,
    /// `PIPE_REJECT_REMOTE_CLIENTS`.
    pub reject_remote: bool,
    /// The access bits `WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY` that were asked for.
    pub extra_access: u32,
}

/// A decoded, valid CreateNamedPipe call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CreateParams {
    /// The pipe's attributes (effective only if this call creates the pipe).
    pub attrs: PipeAttributes,
    /// This instance's options.
    pub options: InstanceOptions,
}

/// CreateNamedPipe's `nDefaultTimeOut` as stored: 0 means 50 ms ([`DEFAULT_TIMEOUT_MS`]),
/// any other value is kept (in milliseconds).
pub fn default_timeout_ms(raw: u32) -> u32 {
    if raw == 0 {
        DEFAULT_TIMEOUT_MS
    } else {
        raw
    }
}

/// Decode and validate CreateNamedPipe's `dwOpenMode`, `dwPipeMode`, `nMaxInstances`,
/// `nOutBufferSize`, `nInBufferSize` and `nDefaultTimeOut`.
///
/// Every failure is `ERROR_INVALID_PARAMETER`:
/// - `dwOpenMode` without a `PIPE_ACCESS_*` direction, or with a bit outside
///   [`VALID_OPEN_MODE_BITS`];
/// - `dwPipeMode` with a bit outside [`VALID_PIPE_MODE_BITS`], or `PIPE_TYPE_BYTE` with
///   `PIPE_READMODE_MESSAGE`;
/// - `nMaxInstances` 0 or above `PIPE_UNLIMITED_INSTANCES` (255).
///
/// Bit 0x00080000 is both `FILE_FLAG_FIRST_PIPE_INSTANCE` and `WRITE_OWNER` (spec/api.md
/// §8.8): it sets [`InstanceOptions::first_instance`] *and* is kept in
/// [`InstanceOptions::extra_access`], as kernel32 passes `WRITE_OWNER` through as an access
/// right.
///
/// Buffer sizes are stored as given (0 and 0xF000 stay as they are); a time-out of 0 becomes
/// 50 ms.
pub fn parse_create(
    open_mode: u32,
    pipe_mode: u32,
    max_instances: u32,
    out_buffer_size: u32,
    in_buffer_size: u32,
    default_timeout_ms: u32,
) -> Result<CreateParams, Win32Error> {
    let invalid = Err(Win32Error::INVALID_PARAMETER);
    if open_mode & !VALID_OPEN_MODE_BITS != 0 {
        return invalid;
    }
    let Some(direction) = Direction::from_open_mode(open_mode) else {
        return invalid;
    };
    if pipe_mode & !VALID_PIPE_MODE_BITS != 0 {
        return invalid;
    }
    let pipe_type = if pipe_mode & PIPE_TYPE_MESSAGE != 0 {
        PipeType::Message
    } else {
        PipeType::Byte
    };
    let read_mode = if pipe_mode & PIPE_READMODE_MESSAGE != 0 {
        ReadMode::Message
    } else {
        ReadMode::Byte
    };
    if pipe_type == PipeType::Byte && read_mode == ReadMode::Message {
        return invalid;
    }
    if max_instances == 0 || max_instances > PIPE_UNLIMITED_INSTANCES {
        return invalid;
    }
    Ok(CreateParams {
        attrs: PipeAttributes {
            direction,
            pipe_type,
            max_instances,
            out_quota: out_buffer_size,
            in_quota: in_buffer_size,
            default_timeout_ms: self::default_timeout_ms(default_timeout_ms),
        },
        options: InstanceOptions {
            first_instance: open_mode & FILE_FLAG_FIRST_PIPE_INSTANCE != 0,
            write_through: open_mode & FILE_FLAG_WRITE_THROUGH != 0,
            overlapped: open_mode & FILE_FLAG_OVERLAPPED != 0,
            read_mode,
            nowait: pipe_mode & PIPE_NOWAIT != 0,
            reject_remote: pipe_mode & PIPE_REJECT_REMOTE_CLIENTS != 0,
            extra_access: open_mode & OPEN_MODE_ACCESS_BITS,
        },
    })
}

/// Map the generic rights of an access mask to file rights with the file-object generic
/// mapping (`GENERIC_READ` → `FILE_GENERIC_READ`, `GENERIC_WRITE` → `FILE_GENERIC_WRITE`,
/// `GENERIC_EXECUTE` → `FILE_GENERIC_EXECUTE`, `GENERIC_ALL` → `FILE_ALL_ACCESS`); other bits
/// are kept (spec/api.md §6.2).
pub fn map_generic_access(access: u32) -> u32 {
    let mut mapped = access & !(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
    if access & GENERIC_READ != 0 {
        mapped |= FILE_GENERIC_READ;
    }
    if access & GENERIC_WRITE != 0 {
        mapped |= FILE_GENERIC_WRITE;
    }
    if access & GENERIC_EXECUTE != 0 {
        mapped |= FILE_GENERIC_EXECUTE;
    }
    if access & GENERIC_ALL != 0 {
        mapped |= FILE_ALL_ACCESS;
    }
    mapped
}

/// Check a client's CreateFile `dwDesiredAccess` against the pipe's direction
/// (`ERROR_ACCESS_DENIED` when it asks to read an inbound pipe or write an outbound one).
///
/// Generic rights are mapped first ([`map_generic_access`]) and the
/// `FILE_CREATE_PIPE_INSTANCE` / `FILE_APPEND_DATA` bit is ignored, as NPFS strips it for
/// clients. Then `FILE_READ_DATA` on a `PIPE_ACCESS_INBOUND` pipe or `FILE_WRITE_DATA` on a
/// `PIPE_ACCESS_OUTBOUND` pipe is `ERROR_ACCESS_DENIED`. Access 0 and attribute rights
/// (`FILE_READ_ATTRIBUTES`, `FILE_WRITE_ATTRIBUTES`) fit every direction. The pipe's DACL is
/// not checked here.
pub fn check_client_access(direction: Direction, desired_access: u32) -> Result<(), Win32Error> {
    let wanted = map_generic_access(desired_access) & !FILE_CREATE_PIPE_INSTANCE;
    let reads = wanted & FILE_READ_DATA != 0;
    let writes = wanted & FILE_WRITE_DATA != 0;
    if (reads && !direction.client_reads()) || (writes && !direction.client_writes()) {
        return Err(Win32Error::ACCESS_DENIED);
    }
    Ok(())
}

/// The access a client handle opened by CreateFile with `dwDesiredAccess` holds (what
/// FileAccessInformation reports), assuming the DACL allows it.
///
/// CreateFile always adds `SYNCHRONIZE | FILE_READ_ATTRIBUTES`, so access 0 gives exactly
/// those two rights (conformance.md test_CreateNamedPipe). Generic rights are mapped
/// ([`map_generic_access`]). NPFS leaves the `FILE_CREATE_PIPE_INSTANCE` / `FILE_APPEND_DATA`
/// bit out of the access it *checks* for a client, but the handle holds it when asked for:
/// CreatePipe's write end, opened with `GENERIC_WRITE`, reports `FILE_APPEND_DATA`
/// (conformance.md test_CreatePipe).
pub fn client_granted_access(desired: u32) -> u32 {
    map_generic_access(desired) | SYNCHRONIZE | FILE_READ_ATTRIBUTES
}

/// The access a server handle returned by CreateNamedPipe holds, as Windows reports it
/// (spec/api.md §6.2, conformance.md test_CreateNamedPipe): `FILE_GENERIC_READ` for
/// `PIPE_ACCESS_INBOUND`, `FILE_GENERIC_WRITE` for `PIPE_ACCESS_OUTBOUND`, both for
/// `PIPE_ACCESS_DUPLEX`, plus the `extra_access` bits (`WRITE_DAC`, `WRITE_OWNER`,
/// `ACCESS_SYSTEM_SECURITY`, see [`InstanceOptions::extra_access`]).
pub fn server_granted_access(direction: Direction, extra_access: u32) -> u32 {
    let base = match direction {
        Direction::Inbound => FILE_GENERIC_READ,
        Direction::Outbound => FILE_GENERIC_WRITE,
        Direction::Duplex => FILE_GENERIC_READ | FILE_GENERIC_WRITE,
    };
    base | extra_access
}

/// What an operation needs of the access a handle holds. The I/O manager checks it before
/// the pipe sees the request, so a handle without the right gets `ERROR_ACCESS_DENIED` in
/// every pipe state (spec/api.md, "Rights needed per API").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessNeed {
    /// ReadFile, ReadFileEx, PeekNamedPipe: `FILE_READ_DATA`.
    Read,
    /// WriteFile, WriteFileEx, FlushFileBuffers: `FILE_WRITE_DATA` or `FILE_APPEND_DATA`.
    Write,
    /// TransactNamedPipe: both.
    ReadWrite,
    /// GetNamedPipeInfo, GetNamedPipeHandleState: `FILE_READ_ATTRIBUTES`.
    QueryState,
    /// SetNamedPipeHandleState: `FILE_WRITE_ATTRIBUTES`.
    SetState,
}

/// Whether a handle holding `granted` may do what `need` names.
pub fn access_allows(granted: u32, need: AccessNeed) -> bool {
    let reads = granted & FILE_READ_DATA != 0;
    let writes = granted & (FILE_WRITE_DATA | FILE_APPEND_DATA) != 0;
    match need {
        AccessNeed::Read => reads,
        AccessNeed::Write => writes,
        AccessNeed::ReadWrite => reads && writes,
        AccessNeed::QueryState => granted & FILE_READ_ATTRIBUTES != 0,
        AccessNeed::SetState => granted & FILE_WRITE_ATTRIBUTES != 0,
    }
}

/// Decode SetNamedPipeHandleState's `*lpMode` for a pipe of type `pipe_type`.
///
/// Returns the read mode (`PIPE_READMODE_BYTE` or `PIPE_READMODE_MESSAGE`) and whether
/// `PIPE_NOWAIT` is set. A bit outside [`VALID_HANDLE_MODE_BITS`], or
/// `PIPE_READMODE_MESSAGE` on a `PIPE_TYPE_BYTE` pipe, is `ERROR_INVALID_PARAMETER`.
pub fn parse_handle_mode(mode: u32, pipe_type: PipeType) -> Result<(ReadMode, bool), Win32Error> {
    if mode & !VALID_HANDLE_MODE_BITS != 0 {
        return Err(Win32Error::INVALID_PARAMETER);
    }
    let read_mode = if mode & PIPE_READMODE_MESSAGE != 0 {
        ReadMode::Message
    } else {
        ReadMode::Byte
    };
    if read_mode == ReadMode::Message && pipe_type == PipeType::Byte {
        return Err(Win32Error::INVALID_PARAMETER);
    }
    Ok((read_mode, mode & PIPE_NOWAIT != 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const INVALID: Result<CreateParams, Win32Error> = Err(Win32Error::INVALID_PARAMETER);

    /// A valid call with only the given open and pipe modes changed.
    fn create(open_mode: u32, pipe_mode: u32) -> Result<CreateParams, Win32Error> {
        parse_create(open_mode, pipe_mode, 1, 1024, 1024, 0)
    }

    /// The five optional open-mode flags, every subset of which is valid.
    const OPEN_FLAGS: [u32; 5] = [
        FILE_FLAG_FIRST_PIPE_INSTANCE,
        FILE_FLAG_WRITE_THROUGH,
        FILE_FLAG_OVERLAPPED,
        WRITE_DAC,
        ACCESS_SYSTEM_SECURITY,
    ];

    fn subset(flags: &[u32], bits: u32) -> u32 {
        flags
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .fold(0, |acc, (_, f)| acc | f)
    }

    // api.md §1: the numeric values of the masks.
    #[test]
    fn mask_values() {
        assert_eq!(VALID_OPEN_MODE_BITS, 0xC10C_0003);
        assert_eq!(OPEN_MODE_ACCESS_BITS, 0x010C_0000);
        assert_eq!(VALID_PIPE_MODE_BITS, 0xF);
        assert_eq!(VALID_HANDLE_MODE_BITS, 0x3);
        assert_eq!(FILE_FLAG_FIRST_PIPE_INSTANCE, WRITE_OWNER);
        assert_eq!(FILE_GENERIC_EXECUTE, 0x1200A0);
        assert_eq!(FILE_ALL_ACCESS, 0x1F01FF);
    }

    // api.md §2.1 Open mode: exactly one access direction is required; NPFS: share access 0
    // -> ERROR_INVALID_PARAMETER (conformance test_create_invalid: ShareAccess 0 invalid).
    #[test]
    fn direction_required() {
        let cases = [
            (0, None),
            (PIPE_ACCESS_INBOUND, Some(Direction::Inbound)),
            (PIPE_ACCESS_OUTBOUND, Some(Direction::Outbound)),
            (PIPE_ACCESS_DUPLEX, Some(Direction::Duplex)),
            (FILE_FLAG_OVERLAPPED, None),
            (
                FILE_FLAG_OVERLAPPED | PIPE_ACCESS_INBOUND,
                Some(Direction::Inbound),
            ),
            (WRITE_DAC | FILE_FLAG_WRITE_THROUGH, None),
        ];
        for (open_mode, want) in cases {
            let got = create(open_mode, 0).map(|p| p.attrs.direction);
            match want {
                Some(d) => assert_eq!(got, Ok(d), "{open_mode:#x}"),
                None => assert_eq!(got, Err(Win32Error::INVALID_PARAMETER), "{open_mode:#x}"),
            }
            assert_eq!(Direction::from_open_mode(open_mode), want, "{open_mode:#x}");
        }
    }

    // api.md §2.1 Open mode: any bit outside the documented flags makes the call fail.
    #[test]
    fn open_mode_unknown_bits_rejected() {
        for bit in 0..32 {
            let flag = 1u32 << bit;
            let got = create(PIPE_ACCESS_DUPLEX | flag, 0);
            if VALID_OPEN_MODE_BITS & flag != 0 {
                assert!(got.is_ok(), "bit {bit} is documented");
            } else {
                assert_eq!(got, INVALID, "bit {bit} is not documented");
            }
        }
    }

    // api.md §2.1 Open mode: every combination of the documented flags is accepted, and each
    // one is decoded; WRITE_DAC/WRITE_OWNER/ACCESS_SYSTEM_SECURITY go to extra_access.
    #[test]
    fn open_mode_all_flag_combinations() {
        for direction in [
            PIPE_ACCESS_INBOUND,
            PIPE_ACCESS_OUTBOUND,
            PIPE_ACCESS_DUPLEX,
        ] {
            for bits in 0..(1 << OPEN_FLAGS.len()) {
                let flags = subset(&OPEN_FLAGS, bits);
                let p = create(direction | flags, 0).unwrap();
                let o = p.options;
                assert_eq!(p.attrs.direction.as_open_mode(), direction);
                assert_eq!(o.first_instance, flags & FILE_FLAG_FIRST_PIPE_INSTANCE != 0);
                assert_eq!(o.write_through, flags & FILE_FLAG_WRITE_THROUGH != 0);
                assert_eq!(o.overlapped, flags & FILE_FLAG_OVERLAPPED != 0);
                assert_eq!(o.extra_access, flags & OPEN_MODE_ACCESS_BITS);
            }
        }
    }

    // api.md §8.8: FILE_FLAG_FIRST_PIPE_INSTANCE == WRITE_OWNER; the bit is both the flag and
    // an access right (kernel32 passes WRITE_OWNER through).
    #[test]
    fn first_instance_write_owner_collision() {
        let p = create(PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE, 0).unwrap();
        assert!(p.options.first_instance);
        assert_eq!(p.options.extra_access, WRITE_OWNER);
        let q = create(PIPE_ACCESS_DUPLEX | WRITE_OWNER, 0).unwrap();
        assert_eq!(p, q);
        let r = create(PIPE_ACCESS_INBOUND | WRITE_DAC | ACCESS_SYSTEM_SECURITY, 0).unwrap();
        assert!(!r.options.first_instance);
        assert_eq!(r.options.extra_access, WRITE_DAC | ACCESS_SYSTEM_SECURITY);
    }

    // api.md §2.1 Pipe mode: type, read mode, wait mode and remote mode are decoded; every
    // value of the four bits is valid except PIPE_TYPE_BYTE | PIPE_READMODE_MESSAGE
    // (conformance test_CreateNamedPipe: -> ERROR_INVALID_PARAMETER).
    #[test]
    fn pipe_mode_all_values() {
        for pipe_mode in 0..16u32 {
            let got = create(PIPE_ACCESS_DUPLEX, pipe_mode);
            let message_type = pipe_mode & PIPE_TYPE_MESSAGE != 0;
            let message_read = pipe_mode & PIPE_READMODE_MESSAGE != 0;
            if !message_type && message_read {
                assert_eq!(got, INVALID, "{pipe_mode:#x}");
                continue;
            }
            let p = got.unwrap();
            let want_type = if message_type {
                PipeType::Message
            } else {
                PipeType::Byte
            };
            let want_read = if message_read {
                ReadMode::Message
            } else {
                ReadMode::Byte
            };
            assert_eq!(p.attrs.pipe_type, want_type, "{pipe_mode:#x}");
            assert_eq!(p.options.read_mode, want_read, "{pipe_mode:#x}");
            assert_eq!(p.options.nowait, pipe_mode & PIPE_NOWAIT != 0);
            assert_eq!(
                p.options.reject_remote,
                pipe_mode & PIPE_REJECT_REMOTE_CLIENTS != 0
            );
            assert_eq!(
                p.attrs.pipe_type.as_pipe_mode() | p.options.read_mode.as_pipe_mode(),
                pipe_mode & (PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE)
            );
        }
    }

    // api.md §2.1 Pipe mode: named combinations the Wine tests and MS samples use.
    #[test]
    fn pipe_mode_named_cases() {
        let cases = [
            (PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, true),
            (PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT, true),
            (PIPE_TYPE_MESSAGE | PIPE_READMODE_BYTE, true),
            (PIPE_TYPE_MESSAGE | PIPE_NOWAIT, true),
            (
                PIPE_TYPE_BYTE | PIPE_NOWAIT | PIPE_REJECT_REMOTE_CLIENTS,
                true,
            ),
            (PIPE_TYPE_BYTE | PIPE_ACCEPT_REMOTE_CLIENTS, true),
            (PIPE_TYPE_BYTE | PIPE_READMODE_MESSAGE, false),
            (PIPE_READMODE_MESSAGE | PIPE_NOWAIT, false),
        ];
        for (pipe_mode, ok) in cases {
            assert_eq!(
                create(PIPE_ACCESS_DUPLEX, pipe_mode).is_ok(),
                ok,
                "{pipe_mode:#x}"
            );
        }
    }

    // api.md §2.1: dwPipeMode bits outside 0xF are invalid.
    #[test]
    fn pipe_mode_unknown_bits_rejected() {
        for bit in 4..32 {
            let mode = PIPE_TYPE_MESSAGE | (1u32 << bit);
            assert_eq!(create(PIPE_ACCESS_DUPLEX, mode), INVALID, "bit {bit}");
        }
    }

    // api.md §2.1 nMaxInstances: 1..=255 valid, 255 = PIPE_UNLIMITED_INSTANCES stored as 255;
    // 0 [K32] and > 255 [DOC] -> ERROR_INVALID_PARAMETER.
    #[test]
    fn max_instances_range() {
        let cases = [
            (0u32, None),
            (1, Some(false)),
            (2, Some(false)),
            (254, Some(false)),
            (255, Some(true)),
            (256, None),
            (1000, None),
            (u32::MAX, None),
        ];
        for (max, want) in cases {
            let got = parse_create(PIPE_ACCESS_DUPLEX, 0, max, 0, 0, 0);
            match want {
                None => assert_eq!(got, INVALID, "{max}"),
                Some(unlimited) => {
                    let attrs = got.unwrap().attrs;
                    assert_eq!(attrs.max_instances, max);
                    assert_eq!(attrs.is_unlimited(), unlimited, "{max}");
                }
            }
        }
        assert_eq!(
            parse_create(PIPE_ACCESS_DUPLEX, 0, PIPE_UNLIMITED_INSTANCES, 0, 0, 0)
                .unwrap()
                .attrs
                .max_instances,
            255
        );
    }

    // api.md §2.1 Buffer sizes; conformance test_GetNamedPipeInfo: reported as given (0 stays
    // 0, 0xF000 stays 0xF000); out = server->client quota, in = client->server quota.
    #[test]
    fn buffer_sizes_as_given() {
        let cases = [
            (0u32, 0u32),
            (0xF000, 0xF000),
            (1024, 1024),
            (5000, 6000),
            (102, 24),
            (1, u32::MAX),
        ];
        for (out, inb) in cases {
            let attrs = parse_create(PIPE_ACCESS_DUPLEX, 0, 1, out, inb, 0)
                .unwrap()
                .attrs;
            assert_eq!((attrs.out_quota, attrs.in_quota), (out, inb));
        }
    }

    // api.md §2.1 nDefaultTimeOut: 0 means 50 ms; other values are kept.
    #[test]
    fn default_timeout() {
        let cases = [
            (0u32, 50u32),
            (1, 1),
            (50, 50),
            (1234, 1234),
            (100_000, 100_000),
            (u32::MAX, u32::MAX),
        ];
        for (raw, want) in cases {
            assert_eq!(default_timeout_ms(raw), want, "{raw}");
            let attrs = parse_create(PIPE_ACCESS_DUPLEX, 0, 1, 0, 0, raw)
                .unwrap()
                .attrs;
            assert_eq!(attrs.default_timeout_ms, want, "{raw}");
        }
    }

    // conformance test_CreateNamedPipe_instances_must_match: both parameter sets used there
    // decode (matching happens in the namespace).
    #[test]
    fn instances_must_match_parameters() {
        let first = parse_create(PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE, 4, 1024, 1024, 0).unwrap();
        let second = parse_create(PIPE_ACCESS_DUPLEX, PIPE_TYPE_MESSAGE, 3, 102, 24, 1234).unwrap();
        assert_eq!(first.attrs.pipe_type, PipeType::Byte);
        assert_eq!(second.attrs.pipe_type, PipeType::Message);
        assert_eq!(second.attrs.max_instances, 3);
        assert_eq!((second.attrs.out_quota, second.attrs.in_quota), (102, 24));
        assert_eq!(second.attrs.default_timeout_ms, 1234);
        assert_eq!(first.attrs.default_timeout_ms, 50);
    }

    // Direction helpers: which end reads and writes (api.md §1 Open mode).
    #[test]
    fn direction_helpers() {
        // (direction, open mode, NT configuration, server reads, server writes)
        let cases = [
            (Direction::Inbound, PIPE_ACCESS_INBOUND, 0, true, false),
            (Direction::Outbound, PIPE_ACCESS_OUTBOUND, 1, false, true),
            (Direction::Duplex, PIPE_ACCESS_DUPLEX, 2, true, true),
        ];
        for (d, open, config, sr, sw) in cases {
            assert_eq!(d.as_open_mode(), open);
            assert_eq!(Direction::from_open_mode(open), Some(d));
            assert_eq!(d.as_pipe_configuration(), config);
            assert_eq!(d.server_reads(), sr, "{d:?}");
            assert_eq!(d.server_writes(), sw, "{d:?}");
            assert_eq!(d.client_reads(), sw, "{d:?}");
            assert_eq!(d.client_writes(), sr, "{d:?}");
        }
    }

    // api.md §6.2 generic mapping for file objects.
    #[test]
    fn generic_mapping() {
        let cases = [
            (0u32, 0u32),
            (GENERIC_READ, FILE_GENERIC_READ),
            (GENERIC_WRITE, FILE_GENERIC_WRITE),
            (
                GENERIC_READ | GENERIC_WRITE,
                FILE_GENERIC_READ | FILE_GENERIC_WRITE,
            ),
            (GENERIC_EXECUTE, FILE_GENERIC_EXECUTE),
            (GENERIC_ALL, FILE_ALL_ACCESS),
            (
                GENERIC_READ | FILE_WRITE_ATTRIBUTES,
                FILE_GENERIC_READ | FILE_WRITE_ATTRIBUTES,
            ),
            (FILE_READ_DATA, FILE_READ_DATA),
            (SYNCHRONIZE, SYNCHRONIZE),
        ];
        for (access, want) in cases {
            assert_eq!(map_generic_access(access), want, "{access:#x}");
        }
        assert_eq!(FILE_GENERIC_READ, 0x120089);
        assert_eq!(FILE_GENERIC_WRITE, 0x120116);
        assert_eq!(
            map_generic_access(GENERIC_ALL) & (FILE_GENERIC_READ | FILE_GENERIC_WRITE),
            FILE_GENERIC_READ | FILE_GENERIC_WRITE
        );
    }

    // api.md §2.4 Desired access / §6.2; NPFS NpCreateClientEnd: FILE_READ_DATA on an inbound
    // pipe or FILE_WRITE_DATA on an outbound pipe -> ERROR_ACCESS_DENIED; the
    // FILE_CREATE_PIPE_INSTANCE bit is ignored; access 0 and attribute rights always fit
    // (conformance test_create: client access succeeds iff read needs outbound/duplex and
    // write needs inbound/duplex; access 0 always succeeds).
    #[test]
    fn client_access_matrix() {
        use Direction::*;
        let denied = Err(Win32Error::ACCESS_DENIED);
        let cases: [(u32, [Result<(), Win32Error>; 3]); 16] = [
            // [Inbound, Outbound, Duplex]
            (0, [Ok(()), Ok(()), Ok(())]),
            (GENERIC_READ, [denied, Ok(()), Ok(())]),
            (GENERIC_WRITE, [Ok(()), denied, Ok(())]),
            (GENERIC_READ | GENERIC_WRITE, [denied, denied, Ok(())]),
            (GENERIC_ALL, [denied, denied, Ok(())]),
            (GENERIC_EXECUTE, [Ok(()), Ok(()), Ok(())]),
            (FILE_READ_DATA, [denied, Ok(()), Ok(())]),
            (FILE_WRITE_DATA, [Ok(()), denied, Ok(())]),
            (FILE_CREATE_PIPE_INSTANCE, [Ok(()), Ok(()), Ok(())]),
            (FILE_APPEND_DATA | FILE_READ_DATA, [denied, Ok(()), Ok(())]),
            (FILE_READ_ATTRIBUTES, [Ok(()), Ok(()), Ok(())]),
            (FILE_WRITE_ATTRIBUTES, [Ok(()), Ok(()), Ok(())]),
            // api.md §2.4: outbound = read plus FILE_WRITE_ATTRIBUTES for SetNamedPipeHandleState.
            (
                GENERIC_READ | FILE_WRITE_ATTRIBUTES,
                [denied, Ok(()), Ok(())],
            ),
            // api.md §2.4: inbound = write plus FILE_READ_ATTRIBUTES for GetNamedPipeInfo.
            (
                GENERIC_WRITE | FILE_READ_ATTRIBUTES,
                [Ok(()), denied, Ok(())],
            ),
            (SYNCHRONIZE | READ_CONTROL, [Ok(()), Ok(()), Ok(())]),
            (FILE_READ_EA | FILE_WRITE_EA, [Ok(()), Ok(()), Ok(())]),
        ];
        for (access, wants) in cases {
            for (direction, want) in [Inbound, Outbound, Duplex].into_iter().zip(wants) {
                assert_eq!(
                    check_client_access(direction, access),
                    want,
                    "{access:#x} on {direction:?}"
                );
            }
        }
    }

    // conformance test_CreateNamedPipe: a client CreateFile with access 0 holds
    // SYNCHRONIZE|FILE_READ_ATTRIBUTES; generic rights are mapped; NPFS grants clients
    // desired & ~FILE_CREATE_PIPE_INSTANCE.
    #[test]
    fn client_granted_access_values() {
        let base = SYNCHRONIZE | FILE_READ_ATTRIBUTES;
        let cases = [
            (0u32, base),
            (GENERIC_READ, FILE_GENERIC_READ),
            (GENERIC_WRITE, FILE_GENERIC_WRITE | base),
            (
                GENERIC_READ | GENERIC_WRITE,
                FILE_GENERIC_READ | FILE_GENERIC_WRITE,
            ),
            (
                GENERIC_READ | FILE_WRITE_ATTRIBUTES,
                FILE_GENERIC_READ | FILE_WRITE_ATTRIBUTES,
            ),
            (FILE_CREATE_PIPE_INSTANCE, base | FILE_APPEND_DATA),
            (FILE_WRITE_DATA, base | FILE_WRITE_DATA),
            (SYNCHRONIZE, base),
        ];
        for (desired, want) in cases {
            assert_eq!(client_granted_access(desired), want, "{desired:#x}");
        }
        assert_eq!(client_granted_access(0), 0x0010_0080);
    }

    // api.md §6.2 / conformance test_CreateNamedPipe: the server handle's access masks
    // observed on Windows, plus WRITE_DAC/WRITE_OWNER/ACCESS_SYSTEM_SECURITY when asked for.
    #[test]
    fn server_granted_access_values() {
        let duplex = SYNCHRONIZE
            | READ_CONTROL
            | FILE_WRITE_ATTRIBUTES
            | FILE_READ_ATTRIBUTES
            | FILE_WRITE_EA
            | FILE_READ_EA
            | FILE_APPEND_DATA
            | FILE_WRITE_DATA
            | FILE_READ_DATA;
        let inbound =
            SYNCHRONIZE | READ_CONTROL | FILE_READ_ATTRIBUTES | FILE_READ_EA | FILE_READ_DATA;
        let outbound = SYNCHRONIZE
            | READ_CONTROL
            | FILE_WRITE_ATTRIBUTES
            | FILE_WRITE_EA
            | FILE_APPEND_DATA
            | FILE_WRITE_DATA;
        let cases = [
            (Direction::Duplex, 0, duplex),
            (Direction::Inbound, 0, inbound),
            (Direction::Outbound, 0, outbound),
            (Direction::Duplex, WRITE_DAC, duplex | WRITE_DAC),
            (
                Direction::Inbound,
                WRITE_OWNER | ACCESS_SYSTEM_SECURITY,
                inbound | WRITE_OWNER | ACCESS_SYSTEM_SECURITY,
            ),
        ];
        for (direction, extra, want) in cases {
            assert_eq!(
                server_granted_access(direction, extra),
                want,
                "{direction:?}"
            );
        }
        assert_eq!(duplex, 0x0012_019F);
        // The extra access decoded by parse_create goes straight in.
        let p = create(
            PIPE_ACCESS_OUTBOUND | FILE_FLAG_FIRST_PIPE_INSTANCE | WRITE_DAC,
            0,
        )
        .unwrap();
        assert_eq!(
            server_granted_access(p.attrs.direction, p.options.extra_access),
            outbound | WRITE_OWNER | WRITE_DAC
        );
    }

    // api.md §2.11 lpMode; conformance test_NamedPipeHandleState / test_CreateNamedPipe /
    // test_filepipeinfo: READMODE_MESSAGE on a byte pipe -> ERROR_INVALID_PARAMETER (either
    // end); on a message pipe both read modes are fine; PIPE_NOWAIT is accepted on both types;
    // only PIPE_READMODE_MESSAGE | PIPE_NOWAIT bits are accepted.
    #[test]
    fn handle_mode_table() {
        let invalid = Err(Win32Error::INVALID_PARAMETER);
        let cases = [
            (
                PIPE_READMODE_BYTE | PIPE_WAIT,
                PipeType::Byte,
                Ok((ReadMode::Byte, false)),
            ),
            (
                PIPE_READMODE_BYTE | PIPE_NOWAIT,
                PipeType::Byte,
                Ok((ReadMode::Byte, true)),
            ),
            (PIPE_READMODE_MESSAGE, PipeType::Byte, invalid),
            (PIPE_READMODE_MESSAGE | PIPE_NOWAIT, PipeType::Byte, invalid),
            (
                PIPE_READMODE_BYTE,
                PipeType::Message,
                Ok((ReadMode::Byte, false)),
            ),
            (PIPE_NOWAIT, PipeType::Message, Ok((ReadMode::Byte, true))),
            (
                PIPE_READMODE_MESSAGE,
                PipeType::Message,
                Ok((ReadMode::Message, false)),
            ),
            (
                PIPE_READMODE_MESSAGE | PIPE_NOWAIT,
                PipeType::Message,
                Ok((ReadMode::Message, true)),
            ),
            // Bits outside READMODE_MESSAGE | NOWAIT, PIPE_TYPE_MESSAGE included.
            (PIPE_TYPE_MESSAGE, PipeType::Message, invalid),
            (PIPE_REJECT_REMOTE_CLIENTS, PipeType::Message, invalid),
            (0x10, PipeType::Byte, invalid),
            (u32::MAX, PipeType::Message, invalid),
        ];
        for (mode, pipe_type, want) in cases {
            assert_eq!(
                parse_handle_mode(mode, pipe_type),
                want,
                "{mode:#x} {pipe_type:?}"
            );
        }
        for bit in 2..32 {
            for pipe_type in [PipeType::Byte, PipeType::Message] {
                assert_eq!(parse_handle_mode(1 << bit, pipe_type), invalid, "bit {bit}");
            }
        }
    }

    /// Open modes: often a valid combination, sometimes anything.
    fn open_mode_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![
            (0u32..4, 0u32..32).prop_map(|(d, bits)| d | subset(&OPEN_FLAGS, bits)),
            (0u32..4, 0u32..32, 0u32..32)
                .prop_map(|(d, bits, extra)| d | subset(&OPEN_FLAGS, bits) | (1 << extra)),
            any::<u32>(),
        ]
    }

    /// Pipe modes: often in 0..16, sometimes anything.
    fn pipe_mode_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![
            0u32..16,
            (0u32..16, 0u32..32).prop_map(|(m, b)| m | (1 << b)),
            any::<u32>()
        ]
    }

    /// Instance counts around the limits, sometimes anything.
    fn max_strategy() -> impl Strategy<Value = u32> {
        prop_oneof![0u32..300, any::<u32>()]
    }

    proptest! {
        /// parse_create never panics and accepts exactly the documented masks and ranges;
        /// what it accepts it decodes faithfully.
        #[test]
        fn parse_create_exact(
            open in open_mode_strategy(),
            pipe in pipe_mode_strategy(),
            max in max_strategy(),
            out in any::<u32>(),
            inb in any::<u32>(),
            timeout in prop_oneof![Just(0u32), any::<u32>()],
        ) {
            let got = parse_create(open, pipe, max, out, inb, timeout);
            let valid = open & !VALID_OPEN_MODE_BITS == 0
                && open & PIPE_ACCESS_DUPLEX != 0
                && pipe & !VALID_PIPE_MODE_BITS == 0
                && !(pipe & PIPE_TYPE_MESSAGE == 0 && pipe & PIPE_READMODE_MESSAGE != 0)
                && (1..=255).contains(&max);
            match got {
                Err(e) => {
                    prop_assert!(!valid);
                    prop_assert_eq!(e, Win32Error::INVALID_PARAMETER);
                }
                Ok(p) => {
                    prop_assert!(valid);
                    prop_assert_eq!(p.attrs.direction.as_open_mode(), open & PIPE_ACCESS_DUPLEX);
                    prop_assert_eq!(
                        p.attrs.pipe_type.as_pipe_mode() | p.options.read_mode.as_pipe_mode(),
                        pipe & (PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE)
                    );
                    prop_assert_eq!(p.attrs.max_instances, max);
                    prop_assert_eq!(p.attrs.out_quota, out);
                    prop_assert_eq!(p.attrs.in_quota, inb);
                    prop_assert_eq!(
                        p.attrs.default_timeout_ms,
                        if timeout == 0 { 50 } else { timeout }
                    );
                    prop_assert_eq!(p.options.first_instance, open & FILE_FLAG_FIRST_PIPE_INSTANCE != 0);
                    prop_assert_eq!(p.options.write_through, open & FILE_FLAG_WRITE_THROUGH != 0);
                    prop_assert_eq!(p.options.overlapped, open & FILE_FLAG_OVERLAPPED != 0);
                    prop_assert_eq!(p.options.nowait, pipe & PIPE_NOWAIT != 0);
                    prop_assert_eq!(p.options.reject_remote, pipe & PIPE_REJECT_REMOTE_CLIENTS != 0);
                    prop_assert_eq!(p.options.extra_access, open & OPEN_MODE_ACCESS_BITS);
                }
            }
        }

        /// check_client_access depends only on the data rights the mapped mask asks for, and
        /// a duplex pipe accepts every mask.
        #[test]
        fn client_access_consistent(access in any::<u32>()) {
            prop_assert_eq!(check_client_access(Direction::Duplex, access), Ok(()));
            let mapped = map_generic_access(access);
            let reads = mapped & FILE_READ_DATA != 0;
            let writes = mapped & FILE_WRITE_DATA != 0;
            prop_assert_eq!(check_client_access(Direction::Inbound, access).is_ok(), !reads);
            prop_assert_eq!(check_client_access(Direction::Outbound, access).is_ok(), !writes);
            let granted = client_granted_access(access);
            prop_assert_eq!(granted & FILE_CREATE_PIPE_INSTANCE, mapped & FILE_CREATE_PIPE_INSTANCE);
            prop_assert_eq!(granted & (SYNCHRONIZE | FILE_READ_ATTRIBUTES), SYNCHRONIZE | FILE_READ_ATTRIBUTES);
        }

        /// parse_handle_mode never panics and accepts exactly the documented bits.
        #[test]
        fn handle_mode_exact(mode in prop_oneof![0u32..8, any::<u32>()], message in any::<bool>()) {
            let pipe_type = if message { PipeType::Message } else { PipeType::Byte };
            let valid = mode & !VALID_HANDLE_MODE_BITS == 0
                && (message || mode & PIPE_READMODE_MESSAGE == 0);
            prop_assert_eq!(parse_handle_mode(mode, pipe_type).is_ok(), valid);
        }
    }

    // spec/api.md "Rights needed per API", with the masks CreateNamedPipe and CreateFile give
    // (conformance §3 test_CreateNamedPipe): an inbound server may read and query but not write
    // or set the handle state; an outbound one the reverse of reading; a client opened with
    // access 0 may only query.
    #[test]
    fn access_needed_per_operation() {
        use AccessNeed::*;
        let inbound = server_granted_access(Direction::Inbound, 0);
        let outbound = server_granted_access(Direction::Outbound, 0);
        let duplex = server_granted_access(Direction::Duplex, 0);
        for (mask, allowed) in [
            (inbound, [true, false, false, true, false]),
            (outbound, [false, true, false, false, true]),
            (duplex, [true, true, true, true, true]),
            (client_granted_access(0), [false, false, false, true, false]),
            (
                client_granted_access(GENERIC_READ),
                [true, false, false, true, false],
            ),
            (
                client_granted_access(GENERIC_READ | FILE_WRITE_ATTRIBUTES),
                [true, false, false, true, true],
            ),
            (
                client_granted_access(GENERIC_WRITE),
                [false, true, false, true, true],
            ),
        ] {
            for (need, want) in [Read, Write, ReadWrite, QueryState, SetState]
                .into_iter()
                .zip(allowed)
            {
                assert_eq!(access_allows(mask, need), want, "{mask:#x} {need:?}");
            }
        }
    }
}
