//! The `npfsd` binary: see the `npfsd` library.

use clap::Parser;

fn main() {
    let args = npfsd::cli::Args::parse();
    std::process::exit(npfsd::startup::main(args));
}
