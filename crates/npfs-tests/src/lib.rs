//! Conformance tests of the npfs blocking API (see `tests/`), checked against the Windows
//! behaviour recorded in `spec/conformance.md` and `spec/api.md`.
//!
//! The library itself is empty; the `npfs-test-child` binary is the child process that the
//! cross-process tests start.
