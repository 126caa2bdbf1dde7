//! CreateNamedPipe's arguments decoded into typed values, with Windows' error codes
//! (spec/api.md §2.1), and the other per-handle settings (SetNamedPipeHandleState, client
//! access checks).

use crate::consts::*;
use crate::error::Win32Error;

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

/// Pipe type (`PIPE_TYPE_*`), fixed by the first instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipeType {
    /// `PIPE_TYPE_BYTE`: a byte stream; zero-length writes are dropped.
    Byte,
    /// `PIPE_TYPE_MESSAGE`: each write is one message.
    Message,
}

/// Read mode of one end (`PIPE_READMODE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadMode {
    /// `PIPE_READMODE_BYTE`: reads cross message boundaries.
    Byte,
    /// `PIPE_READMODE_MESSAGE`: a read returns at most one message.
    Message,
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

/// Decode and validate CreateNamedPipe's `dwOpenMode`, `dwPipeMode`, `nMaxInstances`,
/// `nOutBufferSize`, `nInBufferSize` and `nDefaultTimeOut`.
pub fn parse_create(
    open_mode: u32,
    pipe_mode: u32,
    max_instances: u32,
    out_buffer_size: u32,
    in_buffer_size: u32,
    default_timeout_ms: u32,
) -> Result<CreateParams, Win32Error> {
    let _ = (open_mode, pipe_mode, max_instances, out_buffer_size, in_buffer_size);
    let _ = default_timeout_ms;
    unimplemented!("helper A")
}

/// Check a client's CreateFile `dwDesiredAccess` against the pipe's direction
/// (`ERROR_ACCESS_DENIED` when it asks to read an inbound pipe or write an outbound one).
pub fn check_client_access(direction: Direction, desired_access: u32) -> Result<(), Win32Error> {
    let _ = (direction, desired_access);
    unimplemented!("helper A")
}

/// Decode SetNamedPipeHandleState's `*lpMode` for a pipe of type `pipe_type`.
pub fn parse_handle_mode(mode: u32, pipe_type: PipeType) -> Result<(ReadMode, bool), Win32Error> {
    let _ = (mode, pipe_type, PIPE_NOWAIT);
    unimplemented!("helper A")
}
