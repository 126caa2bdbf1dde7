//! `cargo bench -p npfs-bench`: the benchmark suite (`--quick` unless arguments follow
//! `--`, e.g. `cargo bench -p npfs-bench -- --placements cross`). Under `cargo test
//! --benches` (no `--bench` flag) it does the seconds-long smoke run instead.

fn main() {
    // The suite may start this very executable as its broker.
    if let Some(code) = npfs_bench::run_builtin_broker_if_asked() {
        std::process::exit(code);
    }
    npfs_bench::register_builtin_broker();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benching = args.iter().any(|a| a == "--bench");
    let mut args: Vec<String> = args.into_iter().filter(|a| a != "--bench").collect();
    // The suite re-executes any executable not named npfs-bench as `EXE bench __child ...`
    // (the form the `npfs` command understands).
    if args.first().map(String::as_str) == Some("bench") {
        args.remove(0);
    }
    let is_child = args.first().map(String::as_str) == Some(npfs_bench::child::CHILD_SUBCOMMAND);
    if !is_child && args.is_empty() {
        args = if benching {
            vec!["--quick".into()]
        } else {
            vec!["--smoke".into(), "--no-wine".into()]
        };
    }
    std::process::exit(npfs_bench::run_from_args(args));
}
