//! `npfs-bench`: the npfs benchmark suite (see the library's documentation).
//!
//! Run as `npfs-bench npfsd ARGS` (what the library starts when it finds no `npfsd`
//! executable, this binary having registered itself), or under the name `npfsd`, this binary
//! *is* the broker.

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let rest: Vec<std::ffi::OsString> = args.collect();
    if std::path::Path::new(&argv0).file_name() == Some(std::ffi::OsStr::new("npfsd")) {
        std::process::exit(npfs_bench::run_builtin_broker(rest));
    }
    if rest
        .first()
        .is_some_and(|a| a == npfs::broker::BUILTIN_BROKER_SUBCOMMAND)
    {
        std::process::exit(npfs_bench::run_builtin_broker(rest[1..].to_vec()));
    }
    if let Ok(me) = std::env::current_exe() {
        npfs::broker::set_fallback_broker(npfs::broker::BrokerProgram::npfs_command(me));
    }
    let rest = rest
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(npfs_bench::run_from_args(rest));
}
