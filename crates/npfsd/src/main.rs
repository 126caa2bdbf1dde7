//! The `npfsd` binary: see the `npfsd` library.

use clap::Parser;

fn main() {
    let cli = npfsd::cli::Cli::parse();
    std::process::exit(npfsd::startup::main_with(cli.args, cli.shared));
}
