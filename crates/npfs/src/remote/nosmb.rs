//! Built without the `smb` feature: remote pipes cannot be opened (`ERROR_NOT_SUPPORTED`).

use npfs_core::Win32Error;

use super::creds::Credentials;

/// Never exists without the `smb` feature.
pub(crate) enum RemoteFile {}

impl RemoteFile {
    pub(crate) fn open(_: &str, _: &str, _: &Credentials) -> Result<Self, Win32Error> {
        Err(Win32Error::NOT_SUPPORTED)
    }
    pub(crate) fn read(&self, _: u32) -> Result<(Vec<u8>, bool), Win32Error> {
        match *self {}
    }
    pub(crate) fn write(&self, _: &[u8]) -> Result<u32, Win32Error> {
        match *self {}
    }
    pub(crate) fn transceive(&self, _: &[u8], _: u32) -> Result<(Vec<u8>, bool), Win32Error> {
        match *self {}
    }
    pub(crate) fn shutdown(&self) {
        match *self {}
    }
}
