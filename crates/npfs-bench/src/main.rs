//! `npfs-bench`: the npfs benchmark suite (see the library's documentation).
//!
//! Started under the name `npfsd` (through the symbolic link the suite makes when no broker
//! executable was built), this binary *is* the broker.

fn main() {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    if std::path::Path::new(&argv0).file_name() == Some(std::ffi::OsStr::new("npfsd")) {
        std::process::exit(npfs_bench::run_builtin_broker());
    }
    std::process::exit(npfs_bench::run_from_args(args.collect()));
}
