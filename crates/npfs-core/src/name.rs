//! Pipe names: `\\.\pipe\NAME`, `\\server\pipe\NAME`, `\\.\pipe\LOCAL\NAME`; parsed, validated
//! and folded for case-insensitive comparison.

use crate::error::Win32Error;

/// Which machine a name points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Server {
    /// `\\.\pipe\...`: this machine.
    Local,
    /// `\\HOST\pipe\...`: another machine (served through SMB, not by npfs itself).
    Remote(String),
}

/// A parsed pipe name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipeName {
    /// The machine part.
    pub server: Server,
    /// Everything after `pipe\`, as given (any character, backslashes included).
    pub name: String,
}

impl PipeName {
    /// Parse a name as CreateFile, WaitNamedPipe and CallNamedPipe accept it.
    pub fn parse(full: &str) -> Result<PipeName, Win32Error> {
        let _ = full;
        unimplemented!("helper A")
    }

    /// Parse a name for CreateNamedPipe: local names only. `None` (a NULL name) is
    /// `ERROR_PATH_NOT_FOUND`.
    pub fn parse_for_create(full: Option<&str>) -> Result<PipeName, Win32Error> {
        let _ = full;
        unimplemented!("helper A")
    }

    /// The key under which the namespace stores the pipe: the name folded for
    /// case-insensitive comparison.
    pub fn key(&self) -> String {
        unimplemented!("helper A")
    }

    /// The canonical full name, `\\.\pipe\NAME` for local pipes.
    pub fn full(&self) -> String {
        unimplemented!("helper A")
    }
}
