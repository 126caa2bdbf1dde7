//! `npfs man`: the man page, generated from the clap definitions (the same as `--help` and
//! the completions). `crates/npfs-cli/npfs.1` is this output, checked by a test.

use std::io::Write;

use clap::CommandFactory;

use crate::exit;

/// Escape text for roff.
fn roff(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    s.lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The whole page, npfs(1): clap_mangen's title, name, synopsis, description and options
/// for `npfs`, a list of the subcommands, then a section per subcommand with its usage,
/// description, options and examples, and the exit statuses. No other page is referred to.
pub fn render() -> Vec<u8> {
    let cmd = crate::Cli::command();
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut out).expect("write to a Vec");
    man.render_name_section(&mut out).expect("write to a Vec");
    man.render_synopsis_section(&mut out)
        .expect("write to a Vec");
    man.render_description_section(&mut out)
        .expect("write to a Vec");
    man.render_options_section(&mut out)
        .expect("write to a Vec");
    let mut cmd = cmd;
    cmd.build();
    // This one page documents every subcommand (clap_mangen's own section would point to
    // npfs-list(1) and the like, which do not exist).
    let _ = writeln!(out, ".SH SUBCOMMANDS");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            ".TP\n\\fBnpfs {}\\fR\n{} (see NPFS {} below)",
            roff(sub.get_name()),
            roff(about.trim_end_matches('.')),
            sub.get_name().to_uppercase()
        );
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let _ = writeln!(out, ".SH \"NPFS {}\"", sub.get_name().to_uppercase());
        let mut sub = sub.clone();
        let usage = sub.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ");
        let _ = writeln!(out, ".B {}", roff(usage));
        let about = sub
            .get_long_about()
            .or(sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let _ = writeln!(out, ".PP\n{}", roff(&about));
        for arg in sub.get_arguments() {
            if arg.is_hide_set() || arg.get_id() == "help" {
                continue;
            }
            let mut head = Vec::new();
            if let Some(s) = arg.get_short() {
                head.push(format!("\\fB\\-{s}\\fR"));
            }
            if let Some(l) = arg.get_long() {
                head.push(format!("\\fB\\-\\-{}\\fR", roff(l)));
            }
            let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
            let value = arg
                .get_value_names()
                .map(|v| {
                    v.iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
            let head = if head.is_empty() {
                format!("\\fI{}\\fR", roff(&value))
            } else if takes_value {
                format!("{} \\fI{}\\fR", head.join(", "), roff(&value))
            } else {
                head.join(", ")
            };
            let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() {
                help.push_str(&format!(" [default: {}]", defaults.join(", ")));
            }
            let _ = writeln!(out, ".TP\n{head}\n{}", roff(&help));
        }
        if let Some(after) = sub.get_after_help() {
            // Examples (indented lines) as they are; prose paragraphs filled.
            for block in after.to_string().split("\n\n") {
                if block.lines().skip(1).any(|l| l.starts_with("  ")) {
                    let _ = writeln!(out, ".PP\n.nf\n{}\n.fi", roff(block));
                } else {
                    let _ = writeln!(out, ".PP\n{}", roff(block));
                }
            }
        }
    }
    let _ = writeln!(out, ".SH \"EXIT STATUS\"\n.nf\n{}\n.fi", roff(exit::TABLE));
    man.render_version_section(&mut out)
        .expect("write to a Vec");
    out
}

/// Print the page; returns the exit status (0 also when stdout is closed early).
pub fn print() -> i32 {
    crate::out::print(render())
}
