//! `npfs-bench`: the npfs benchmark suite (see the library's documentation).
//!
//! Run as `npfs-bench npfsd ARGS` (what the library starts when it finds no `npfsd`
//! executable, this binary having registered itself), or under the name `npfsd`, this binary
//! *is* the broker.

fn main() {
    if let Some(code) = npfs_bench::run_builtin_broker_if_asked() {
        std::process::exit(code);
    }
    npfs_bench::register_builtin_broker();
    std::process::exit(npfs_bench::run_from_args(
        std::env::args().skip(1).collect(),
    ));
}
