//! `npfsd`, the npfs broker: it owns the named-pipe namespace of one user — or, with
//! `--system`, of the whole machine — (the role of Windows' NPFS driver), pairs clients with
//! server instances and enforces each pipe's security descriptor against the peers' kernel
//! credentials (see `docs/SECURITY.md`).
//!
//! Data never flows through the broker. When a client opens a pipe, the broker creates the
//! connection's resources — a Unix socketpair (liveness only) and a sealed memfd (the shared
//! data segment, which the broker never maps) — and hands one socket end plus the memfd to
//! each side with `SCM_RIGHTS` ([`resources`], [`fdpass`]). Every namespace decision is
//! made by [`npfs_core::namespace::Namespace`]; this crate is the thin runtime around it:
//!
//! - [`cli`]: command-line options;
//! - [`startup`]: runtime directory, single-instance lock, socket, daemonizing, logging;
//! - [`activation`]: the listening socket passed by systemd (`LISTEN_FDS`);
//! - [`server`]: the accept loop, connection caps, the waiter timer and idle exit;
//! - [`conn`]: one client connection (requests, instance control channels, security);
//! - [`frames`]: reading request frames (whole frames only, within a deadline);
//! - [`creds`]: peers' credentials from the kernel, and user and group names;
//! - [`samba`]: remote clients through Samba's smbd (`--samba-np-dir`);
//! - [`state`]: the shared state (namespace, instance channels, waiters, counters).

#![warn(missing_docs)]

pub mod activation;
pub mod cli;
pub mod conn;
pub mod creds;
pub mod fdpass;
pub mod frames;
pub mod resources;
pub mod samba;
pub mod server;
pub mod startup;
pub mod state;
