//! The security model of pipes (the security issue): SIDs, ACEs, ACLs and descriptors,
//! SDDL, tokens built from Unix credentials, and the access check — all pure, so the broker
//! enforces with it and tests run it exhaustively.

mod access;
mod binary;
mod descriptor;
mod info;
mod sddl;
mod sid;

pub use access::{access_check, Token};
pub use binary::*;
pub use descriptor::*;
pub use info::*;
pub use sddl::{NameResolver, NoNames, MAX_SDDL_LEN};
pub use sid::{well_known, Sid, MAX_SUB_AUTHORITIES};

#[cfg(test)]
mod tests;
