//! Windows named pipes on Linux, with Windows' behaviour.
#![warn(missing_docs)]

pub mod broker;
