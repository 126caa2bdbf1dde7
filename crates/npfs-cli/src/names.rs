//! Pipe names on the command line: `NAME` or the full `\\.\pipe\NAME`.

use npfs_core::name::PipeName;

/// The full local name (`\\.\pipe\NAME`) of a command-line pipe argument: a name starting
/// with `\\` is taken as it is, anything else is put under `\\.\pipe\`.
///
/// # Errors
///
/// The message of `ERROR_INVALID_NAME` (clap prints it and exits with status 2) for a
/// malformed or remote name.
pub fn parse_pipe_name(arg: &str) -> Result<String, String> {
    let full = if arg.starts_with(r"\\") {
        arg.to_owned()
    } else {
        format!(r"\\.\pipe\{arg}")
    };
    match PipeName::parse(&full) {
        Ok(n) if n.is_local() => Ok(n.full()),
        Ok(_) => Err(format!(
            "{}: {full} is a remote pipe name; npfs serves local pipes only (\\\\.\\pipe\\NAME)",
            npfs::Win32Error::INVALID_NAME.label()
        )),
        Err(e) => Err(format!(
            "{}: {full} is not a valid pipe name (expected NAME or \\\\.\\pipe\\NAME)",
            e.label()
        )),
    }
}

/// clap parser for the pipe a client command opens (call, connect, wait): as
/// [`parse_pipe_name`], and a remote `\\HOST\pipe\NAME` too (reached over SMB).
pub fn parse_client_pipe_name(arg: &str) -> Result<String, String> {
    match PipeName::parse(arg) {
        Ok(n) if arg.starts_with(r"\\") && !n.is_local() => Ok(n.full()),
        _ => parse_pipe_name(arg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_full_names() {
        assert_eq!(parse_pipe_name("x").unwrap(), r"\\.\pipe\x");
        assert_eq!(parse_pipe_name(r"\\.\pipe\x\y").unwrap(), r"\\.\pipe\x\y");
        assert!(parse_pipe_name(r"\\.\pipe\")
            .unwrap_err()
            .starts_with("ERROR_INVALID_NAME (123)"));
        assert!(parse_pipe_name(r"\\.\notapipe\x").is_err());
        assert!(parse_pipe_name(r"\\server\pipe\x").is_err());
        assert!(parse_pipe_name("").is_err());
        assert_eq!(
            parse_client_pipe_name(r"\\10.0.0.1\pipe\x").unwrap(),
            r"\\10.0.0.1\pipe\x"
        );
        assert_eq!(parse_client_pipe_name("x").unwrap(), r"\\.\pipe\x");
    }
}
