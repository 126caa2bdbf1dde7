//! Pipe names: `\\.\pipe\NAME`, `\\server\pipe\NAME`, `\\.\pipe\LOCAL\NAME`; parsed, validated
//! and folded for case-insensitive comparison.
//!
//! The rules (spec/api.md §2.1, §2.4, §2.5; conformance.md `test_pipe_names`,
//! `test_CreateNamedPipe`):
//!
//! - A name is `\\HOST\pipe\NAME`. `HOST` `.` is this machine; any other host is a remote
//!   machine. The verbatim prefix `\\?\pipe\NAME` also names a local pipe (it is the same NT
//!   path, `\??\pipe\NAME`).
//! - The `pipe` component is matched case-insensitively (`\\.\PiPe\x` works).
//! - `NAME` is opaque: it may hold any character but NUL, including `\`, `/`, `:`, `.`, `..`,
//!   `<>*?|"`, spaces and all ASCII punctuation. Nothing is collapsed or translated:
//!   `wine/test`, `wine\test`, `wine\.\test`, `wine-test\` and `wine-test` are five different
//!   pipes. `NAME` must not be empty.
//! - The whole string is at most [`MAX_NAME_CHARS`] (256) characters.
//! - Names compare case-insensitively: NPFS upper-cases them ([`PipeName::key`]).
//!
//! Every violation is `ERROR_INVALID_NAME`, except a NULL name given to CreateNamedPipe, which
//! is `ERROR_PATH_NOT_FOUND`.

use std::fmt;

use crate::error::Win32Error;

/// The longest pipe name, in characters, that CreateNamedPipe, CreateFile, WaitNamedPipe and
/// CallNamedPipe accept, counting the whole string (`\\.\pipe\` included).
///
/// Characters are Unicode scalar values (`char`s), not bytes.
pub const MAX_NAME_CHARS: usize = 256;

/// The prefix that, per the CreateNamedPipe documentation, UWP apps must put in front of their
/// pipe names since Windows 10 1709 (`\\.\pipe\LOCAL\NAME`), compared case-insensitively.
pub const LOCAL_PREFIX: &str = "LOCAL\\";

/// Which machine a name points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Server {
    /// `\\.\pipe\...`: this machine.
    Local,
    /// `\\HOST\pipe\...`: another machine (served through SMB, not by npfs itself).
    Remote(String),
}

/// A parsed pipe name.
///
/// `\\.\pipe\LOCAL\NAME` is an ordinary name whose [`name`](PipeName::name) starts with
/// `LOCAL\`: on Windows it lives in the same namespace as every other pipe (the
/// CreateNamedPipe page only says that UWP apps must use that prefix). See
/// [`PipeName::is_local_prefixed`].
///
/// The derived `PartialEq`/`Hash` compare the name as given (case-sensitively); compare
/// [`PipeName::key`] to decide whether two names denote the same pipe.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipeName {
    /// The machine part.
    pub server: Server,
    /// Everything after `pipe\`, as given (any character, backslashes included).
    pub name: String,
}

impl PipeName {
    /// Parse a name as CreateFile, WaitNamedPipe and CallNamedPipe accept it.
    ///
    /// Accepts `\\.\pipe\NAME` and `\\?\pipe\NAME` ([`Server::Local`]) and `\\HOST\pipe\NAME`
    /// ([`Server::Remote`]); `pipe` in any case. `NAME` is kept exactly as given. Anything
    /// else, an empty `NAME`, an embedded NUL or more than [`MAX_NAME_CHARS`] characters is
    /// `ERROR_INVALID_NAME`.
    pub fn parse(full: &str) -> Result<PipeName, Win32Error> {
        let invalid = Err(Win32Error::INVALID_NAME);
        if full.contains('\0') || full.chars().count() > MAX_NAME_CHARS {
            return invalid;
        }
        let Some(rest) = full.strip_prefix("\\\\") else {
            return invalid;
        };
        let Some((host, rest)) = rest.split_once('\\') else {
            return invalid;
        };
        let Some((component, name)) = rest.split_once('\\') else {
            return invalid;
        };
        if host.is_empty() || !component.eq_ignore_ascii_case("pipe") || name.is_empty() {
            return invalid;
        }
        let server = match host {
            "." | "?" => Server::Local,
            other => Server::Remote(other.to_owned()),
        };
        Ok(PipeName {
            server,
            name: name.to_owned(),
        })
    }

    /// Parse a name for CreateNamedPipe: local names only. `None` (a NULL name) is
    /// `ERROR_PATH_NOT_FOUND`.
    ///
    /// A remote name (`\\HOST\pipe\NAME`) or a malformed one is `ERROR_INVALID_NAME`: a server
    /// can only create pipes on its own machine.
    pub fn parse_for_create(full: Option<&str>) -> Result<PipeName, Win32Error> {
        let full = full.ok_or(Win32Error::PATH_NOT_FOUND)?;
        let parsed = PipeName::parse(full)?;
        match parsed.server {
            Server::Local => Ok(parsed),
            Server::Remote(_) => Err(Win32Error::INVALID_NAME),
        }
    }

    /// Build the local name `\\.\pipe\NAME` from `NAME` alone, with the checks of
    /// [`PipeName::parse`] (non-empty, no NUL, at most [`MAX_NAME_CHARS`] in all).
    pub fn local(name: &str) -> Result<PipeName, Win32Error> {
        PipeName::parse(&format!("\\\\.\\pipe\\{name}"))
    }

    /// The key under which the namespace stores the pipe: the name folded for
    /// case-insensitive comparison.
    ///
    /// NPFS compares names after `RtlUpcaseUnicodeString`, which maps each UTF-16 unit to
    /// one upper-case unit. The key is therefore `NAME` (the server part is not included)
    /// with every character in the Basic Multilingual Plane replaced by its Unicode
    /// upper case when that upper case is a single BMP character; other characters stay as
    /// they are. Unlike `str::to_uppercase`, this never expands a character (`ß` stays `ß`
    /// and does not become `SS`), so two names Windows keeps apart never share a key.
    pub fn key(&self) -> String {
        self.name.chars().map(fold_char).collect()
    }

    /// The canonical full name, `\\.\pipe\NAME` for local pipes.
    ///
    /// Remote pipes give `\\HOST\pipe\NAME`. `NAME` is as originally given; `pipe` is always
    /// spelled in lower case.
    pub fn full(&self) -> String {
        match &self.server {
            Server::Local => format!("\\\\.\\pipe\\{}", self.name),
            Server::Remote(host) => format!("\\\\{host}\\pipe\\{}", self.name),
        }
    }

    /// Whether the name is on this machine (`\\.\pipe\...`), the only kind CreateNamedPipe
    /// accepts.
    pub fn is_local(&self) -> bool {
        self.server == Server::Local
    }

    /// Whether `NAME` starts with `LOCAL\` (in any case), the prefix UWP apps must use
    /// (CreateNamedPipe, Windows 10 1709 and later).
    ///
    /// This is informational only: such a name is an ordinary pipe name in the one and only
    /// pipe namespace.
    pub fn is_local_prefixed(&self) -> bool {
        let mut chars = self.name.chars().map(fold_char);
        LOCAL_PREFIX.chars().all(|p| chars.next() == Some(p))
    }
}

impl fmt::Display for PipeName {
    /// Formats as [`PipeName::full`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full())
    }
}

/// Upper-case one character the way `RtlUpcaseUnicodeChar` would: one BMP unit to one BMP
/// unit, or unchanged.
fn fold_char(c: char) -> char {
    if u32::from(c) > 0xFFFF {
        return c;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if u32::from(u) <= 0xFFFF => u,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL_PUNCT: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    fn local(name: &str) -> PipeName {
        PipeName {
            server: Server::Local,
            name: name.to_owned(),
        }
    }

    fn remote(host: &str, name: &str) -> PipeName {
        PipeName {
            server: Server::Remote(host.to_owned()),
            name: name.to_owned(),
        }
    }

    /// Names `parse` must accept, with the result it must give.
    #[test]
    fn parse_accepts() {
        let long_ok = format!("\\\\.\\pipe\\{}", "x".repeat(247));
        let long_ok_multibyte = format!("\\\\.\\pipe\\{}", "é".repeat(247));
        let all_punct = format!("\\\\.\\pipe\\{ALL_PUNCT}");
        let cases: Vec<(&str, PipeName, &str)> = vec![
            // Plain local name.
            (r"\\.\pipe\x", local("x"), "plain local name"),
            // conformance test_CreateNamedPipe: mixed-case "PiPe" prefix accepted.
            (
                r"\\.\PiPe\tests_pipe.c",
                local("tests_pipe.c"),
                "mixed-case pipe component",
            ),
            (r"\\.\PIPE\x", local("x"), "upper-case pipe component"),
            // Name keeps its case as given.
            (r"\\.\pipe\MiXeD", local("MiXeD"), "name case preserved"),
            // Verbatim prefix is the same NT path \??\pipe\x.
            (r"\\?\pipe\x", local("x"), "verbatim prefix is local"),
            // api.md §2.4: \\<server>\pipe\<name>.
            (r"\\server\pipe\x", remote("server", "x"), "remote host"),
            (
                r"\\localhost\pipe\x",
                remote("localhost", "x"),
                "only '.' is local, localhost is remote",
            ),
            (
                r"\\10.0.0.1\Pipe\a\b",
                remote("10.0.0.1", "a\\b"),
                "remote with backslash in name",
            ),
            // conformance test_CreateNamedPipe: "a<>*?|\"/b" can be created and opened.
            (r#"\\.\pipe\a<>*?|"/b"#, local(r#"a<>*?|"/b"#), "wildcards"),
            // conformance test_overlapped: "my pipe", spaces allowed.
            (r"\\.\pipe\my pipe", local("my pipe"), "space"),
            (r"\\.\pipe\ lead", local(" lead"), "leading space"),
            (r"\\.\pipe\trail ", local("trail "), "trailing space"),
            // conformance test_pipe_names.
            (
                r"\\.\pipe\wine/test",
                local("wine/test"),
                "slash not a separator",
            ),
            (
                r"\\.\pipe\wine\test",
                local("wine\\test"),
                "backslash in name",
            ),
            (r"\\.\pipe\wine:test", local("wine:test"), "colon"),
            (
                r"\\.\pipe\wine\.\test",
                local("wine\\.\\test"),
                "no . collapsing",
            ),
            (
                r"\\.\pipe\wine\..\test",
                local("wine\\..\\test"),
                "no .. collapsing",
            ),
            (
                r"\\.\pipe\..\wine-test",
                local("..\\wine-test"),
                "leading ..",
            ),
            (
                r"\\.\pipe\wine-test\",
                local("wine-test\\"),
                "trailing backslash",
            ),
            (r"\\.\pipe\\", local("\\"), "pipe named backslash"),
            (r"\\.\pipe\\\", local("\\\\"), "pipe named two backslashes"),
            (r"\\.\pipe\.", local("."), "pipe named ."),
            (r"\\.\pipe\..", local(".."), "pipe named .."),
            (r"\\.\pipe\/", local("/"), "pipe named /"),
            (
                all_punct.as_str(),
                local(ALL_PUNCT),
                "all ASCII punctuation",
            ),
            // conformance test_empty_name: "test3\pipe", backslash allowed inside names.
            (r"\\.\pipe\test3\pipe", local("test3\\pipe"), "test3\\pipe"),
            // api.md §2.1: \\.\pipe\LOCAL\ is an ordinary name.
            (r"\\.\pipe\LOCAL\x", local("LOCAL\\x"), "LOCAL prefix kept"),
            (r"\\.\pipe\ünïcödé ☃", local("ünïcödé ☃"), "unicode"),
            (
                "\\\\.\\pipe\\tab\there",
                local("tab\there"),
                "control char (not NUL)",
            ),
            // api.md §2.1: whole string at most 256 characters.
            (long_ok.as_str(), local(&"x".repeat(247)), "256 chars"),
            (
                long_ok_multibyte.as_str(),
                local(&"é".repeat(247)),
                "256 chars, 494 bytes of name",
            ),
        ];
        for (input, want, why) in cases {
            assert_eq!(PipeName::parse(input), Ok(want.clone()), "{why}: {input:?}");
            if want.is_local() {
                assert_eq!(
                    PipeName::parse_for_create(Some(input)),
                    Ok(want),
                    "create, {why}: {input:?}"
                );
            }
        }
    }

    /// Names `parse` must refuse with ERROR_INVALID_NAME.
    #[test]
    fn parse_rejects() {
        let too_long = format!("\\\\.\\pipe\\{}", "x".repeat(248));
        let too_long_multibyte = format!("\\\\.\\pipe\\{}", "é".repeat(248));
        let too_long_remote = format!("\\\\{}\\pipe\\x", "h".repeat(248));
        let cases: Vec<(&str, &str)> = vec![
            // conformance test_CreateNamedPipe: "not a named pipe" -> ERROR_INVALID_NAME.
            ("not a named pipe", "not a pipe path"),
            ("", "empty"),
            (r"\\.\notpipe\x", "wrong component"),
            (r"\\.\pipes\x", "component pipes"),
            (r"\\.\pip\x", "component pip"),
            (r"\\.\mailslot\x", "mailslot"),
            (r"\\.\C:\x", "drive"),
            // Empty NAME (conformance test_pipe_names: "\Device\NamedPipe\" is invalid).
            (r"\\.\pipe\", "empty name"),
            (r"\\.\pipe", "no name separator"),
            (r"\\.\", "no component"),
            (r"\\.", "host only"),
            (r"\\", "bare prefix"),
            (r"\\\pipe\x", "empty host"),
            (r"\.\pipe\x", "single leading backslash"),
            (r".\pipe\x", "relative"),
            (r"pipe\x", "relative pipe"),
            (r"\??\pipe\x", "NT path"),
            (r"\Device\NamedPipe\x", "NT device path"),
            // '/' is not a separator anywhere.
            (r"//./pipe/x", "forward slashes"),
            (r"\\./pipe/x", "forward slash after host"),
            (r"\\.\pipe/x", "forward slash after pipe"),
            // Embedded NUL.
            ("\\\\.\\pipe\\a\0b", "NUL in name"),
            ("\\\\.\\pipe\\\0", "name is NUL"),
            ("\0\\\\.\\pipe\\x", "leading NUL"),
            ("\\\\.\\pipe\\x\0", "trailing NUL"),
            // api.md §2.1: whole string at most 256 characters.
            (too_long.as_str(), "257 chars"),
            (too_long_multibyte.as_str(), "257 multibyte chars"),
            (too_long_remote.as_str(), "257 chars with remote host"),
        ];
        for (input, why) in cases {
            assert_eq!(
                PipeName::parse(input),
                Err(Win32Error::INVALID_NAME),
                "{why}: {input:?}"
            );
            assert_eq!(
                PipeName::parse_for_create(Some(input)),
                Err(Win32Error::INVALID_NAME),
                "create, {why}: {input:?}"
            );
        }
    }

    /// The 256-character limit counts the whole string, remote host included.
    #[test]
    fn length_limit_boundary() {
        for len in 1..=260usize {
            let full = format!("\\\\.\\pipe\\{}", "n".repeat(len));
            let total = full.chars().count();
            assert_eq!(total, len + 9);
            assert_eq!(
                PipeName::parse(&full).is_ok(),
                total <= MAX_NAME_CHARS,
                "{len}"
            );
        }
        let host = "h".repeat(240);
        let ok = format!("\\\\{host}\\pipe\\{}", "n".repeat(256 - 240 - 8));
        assert_eq!(ok.chars().count(), 256);
        assert!(PipeName::parse(&ok).is_ok());
        let bad = format!("{ok}n");
        assert_eq!(PipeName::parse(&bad), Err(Win32Error::INVALID_NAME));
    }

    /// conformance test_CreateNamedPipe: CreateNamedPipe(NULL) -> ERROR_PATH_NOT_FOUND;
    /// api.md §2.1: a server can only create local pipes.
    #[test]
    fn parse_for_create_rules() {
        let cases: Vec<(Option<&str>, Result<PipeName, Win32Error>)> = vec![
            (None, Err(Win32Error::PATH_NOT_FOUND)),
            (Some(r"\\.\pipe\x"), Ok(local("x"))),
            (Some(r"\\?\pipe\x"), Ok(local("x"))),
            (Some(r"\\.\PiPe\LOCAL\x"), Ok(local("LOCAL\\x"))),
            (Some(r"\\server\pipe\x"), Err(Win32Error::INVALID_NAME)),
            (Some(r"\\localhost\pipe\x"), Err(Win32Error::INVALID_NAME)),
            (Some("not a named pipe"), Err(Win32Error::INVALID_NAME)),
            (Some(""), Err(Win32Error::INVALID_NAME)),
            (Some(r"\\.\pipe\"), Err(Win32Error::INVALID_NAME)),
        ];
        for (input, want) in cases {
            assert_eq!(PipeName::parse_for_create(input), want, "{input:?}");
        }
    }

    /// Pairs of names that denote the same pipe (api.md §2.1: names are case-insensitive;
    /// §2.5: NPFS upper-cases them) and pairs that denote different pipes (conformance
    /// test_pipe_names).
    #[test]
    fn key_equality() {
        let same = [
            (r"\\.\pipe\x", r"\\.\PIPE\X"),
            (r"\\.\PiPe\Tests_Pipe.C", r"\\.\pipe\tests_pipe.c"),
            (r"\\.\pipe\LOCAL\Foo", r"\\.\pipe\local\foo"),
            (r"\\.\pipe\Ünïcödé", r"\\.\pipe\üNÏCÖDÉ"),
            (r"\\.\pipe\ΣΊΣΥΦΟΣ", r"\\.\pipe\σίσυφος"),
            (r"\\.\pipe\Мир", r"\\.\pipe\мИР"),
            // The server part is not part of the key.
            (r"\\server\pipe\x", r"\\.\pipe\X"),
            (r"\\?\pipe\x", r"\\.\pipe\x"),
            (r#"\\.\pipe\A<>*?|"/B"#, r#"\\.\pipe\a<>*?|"/b"#),
        ];
        for (a, b) in same {
            let (a, b) = (PipeName::parse(a).unwrap(), PipeName::parse(b).unwrap());
            assert_eq!(a.key(), b.key(), "{a} vs {b}");
        }
        let different = [
            // '/' is not a separator.
            (r"\\.\pipe\wine/test", r"\\.\pipe\wine\test"),
            // No "." collapsing.
            (r"\\.\pipe\wine\.\test", r"\\.\pipe\wine\test"),
            // No ".." collapsing.
            (r"\\.\pipe\wine\..\test", r"\\.\pipe\test"),
            (r"\\.\pipe\wine\..\test", r"\\.\pipe\\test"),
            (r"\\.\pipe\..\wine-test", r"\\.\pipe\wine-test"),
            // Trailing backslash is significant.
            (r"\\.\pipe\wine-test\", r"\\.\pipe\wine-test"),
            // Doubled backslash is significant.
            (r"\\.\pipe\a\\b", r"\\.\pipe\a\b"),
            // Spaces are significant.
            (r"\\.\pipe\my pipe", r"\\.\pipe\mypipe"),
            (r"\\.\pipe\x ", r"\\.\pipe\x"),
            // The LOCAL\ prefix is part of the name.
            (r"\\.\pipe\LOCAL\x", r"\\.\pipe\x"),
            // One UTF-16 unit upper-cases to one unit: ß is not SS.
            (r"\\.\pipe\ß", r"\\.\pipe\SS"),
            (r"\\.\pipe\ß", r"\\.\pipe\ss"),
        ];
        for (a, b) in different {
            let (a, b) = (PipeName::parse(a).unwrap(), PipeName::parse(b).unwrap());
            assert_ne!(a.key(), b.key(), "{a} vs {b}");
        }
    }

    /// The key is the upper-cased NAME and nothing else.
    #[test]
    fn key_values() {
        let cases = [
            (r"\\.\pipe\abc", "ABC"),
            (r"\\host\pipe\abc", "ABC"),
            (r"\\.\pipe\wine\..\Test", "WINE\\..\\TEST"),
            (r"\\.\pipe\ß", "ß"),
            (r"\\.\pipe\ǆ", "Ǆ"),
            (r"\\.\pipe\straße", "STRAßE"),
            // Outside the BMP NPFS does not upper-case (one UTF-16 unit at a time).
            ("\\\\.\\pipe\\\u{10428}", "\u{10428}"),
        ];
        for (input, want) in cases {
            assert_eq!(PipeName::parse(input).unwrap().key(), want, "{input:?}");
        }
    }

    /// full() is canonical: `\\.\pipe\NAME` or `\\HOST\pipe\NAME`, NAME as given.
    #[test]
    fn full_values() {
        let cases = [
            (r"\\.\pipe\x", r"\\.\pipe\x"),
            (r"\\.\PiPe\Tests_Pipe.c", r"\\.\pipe\Tests_Pipe.c"),
            (r"\\?\PIPE\x", r"\\.\pipe\x"),
            (r"\\Server\PIPE\A\b", r"\\Server\pipe\A\b"),
            (r"\\.\pipe\wine-test\", r"\\.\pipe\wine-test\"),
            (r"\\.\pipe\\", r"\\.\pipe\\"),
        ];
        for (input, want) in cases {
            let parsed = PipeName::parse(input).unwrap();
            assert_eq!(parsed.full(), want, "{input:?}");
            assert_eq!(parsed.to_string(), want, "Display, {input:?}");
        }
    }

    /// api.md §2.1: `\\.\pipe\LOCAL\` is an ordinary name, flagged by is_local_prefixed.
    #[test]
    fn local_prefix() {
        let cases = [
            (r"\\.\pipe\LOCAL\x", true),
            (r"\\.\pipe\local\x", true),
            (r"\\.\pipe\Local\x\y", true),
            (r"\\.\pipe\LOCAL\", true),
            (r"\\.\pipe\LOCAL", false),
            (r"\\.\pipe\LOCALx", false),
            (r"\\.\pipe\LOCAL/x", false),
            (r"\\.\pipe\x\LOCAL\y", false),
            (r"\\.\pipe\LOCA", false),
            (r"\\.\pipe\x", false),
            (r"\\server\pipe\LOCAL\x", true),
        ];
        for (input, want) in cases {
            let parsed = PipeName::parse(input).unwrap();
            assert_eq!(parsed.is_local_prefixed(), want, "{input:?}");
        }
    }

    /// PipeName::local builds `\\.\pipe\NAME` with parse's checks.
    #[test]
    fn local_constructor() {
        assert_eq!(PipeName::local("a\\b"), Ok(local("a\\b")));
        assert_eq!(PipeName::local(""), Err(Win32Error::INVALID_NAME));
        assert_eq!(PipeName::local("a\0"), Err(Win32Error::INVALID_NAME));
        assert!(PipeName::local(&"x".repeat(247)).is_ok());
        assert_eq!(
            PipeName::local(&"x".repeat(248)),
            Err(Win32Error::INVALID_NAME)
        );
    }

    /// A name made of characters that case-flip one to one (ASCII plus some Latin-1,
    /// Greek and Cyrillic letters, plus punctuation, space and backslash).
    fn name_strategy() -> impl Strategy<Value = String> {
        "[ -\\[\\]-~\\\\À-ÖØ-öø-ÿΑ-Ωα-ωА-яßǆ]{1,247}"
    }

    /// Flip the case of chosen characters where the flip keeps the upper case.
    fn flip_case(name: &str, mask: &[bool]) -> String {
        name.chars()
            .zip(mask.iter().cycle())
            .map(|(c, &flip)| {
                if !flip {
                    return c;
                }
                let lower: Vec<char> = c.to_lowercase().collect();
                let upper: Vec<char> = c.to_uppercase().collect();
                let target = if c.is_lowercase() { &upper } else { &lower };
                match target.as_slice() {
                    [t] if fold_char(*t) == fold_char(c) => *t,
                    _ => c,
                }
            })
            .collect()
    }

    proptest! {
        /// parse(full()) gives the name back, and full() of a local name is the input.
        #[test]
        fn roundtrip_local(name in name_strategy()) {
            let input = format!("\\\\.\\pipe\\{name}");
            let parsed = PipeName::parse(&input).unwrap();
            prop_assert_eq!(&parsed.name, &name);
            prop_assert_eq!(parsed.full(), input);
            prop_assert_eq!(PipeName::parse(&parsed.full()), Ok(parsed));
        }

        /// parse(full()) round-trips for remote names too.
        #[test]
        fn roundtrip_remote(host in "[A-Za-z0-9-]{1,15}", name in "[^\\x00]{1,200}") {
            let input = format!("\\\\{host}\\pipe\\{name}");
            let parsed = PipeName::parse(&input).unwrap();
            prop_assert_eq!(&parsed.server, &Server::Remote(host));
            prop_assert_eq!(PipeName::parse(&parsed.full()), Ok(parsed.clone()));
            prop_assert_eq!(parsed.full(), input);
        }

        /// Any string: parse never panics, and what it accepts round-trips and fits.
        #[test]
        fn parse_any(input in any::<String>()) {
            if let Ok(parsed) = PipeName::parse(&input) {
                prop_assert!(!parsed.name.is_empty());
                prop_assert!(parsed.full().chars().count() <= MAX_NAME_CHARS);
                prop_assert_eq!(PipeName::parse(&parsed.full()), Ok(parsed));
            }
        }

        /// The key ignores case: flipping the case of any letters keeps the key, and the
        /// key is itself a fixed point.
        #[test]
        fn key_case_insensitive(
            name in name_strategy(),
            mask in proptest::collection::vec(any::<bool>(), 1..16),
        ) {
            let a = PipeName::local(&name).unwrap();
            let b = PipeName::local(&flip_case(&name, &mask)).unwrap();
            prop_assert_eq!(a.key(), b.key());
            let upper = PipeName::local(&name.to_uppercase());
            let lower = PipeName::local(&name.to_lowercase());
            if let (Ok(u), Ok(l)) = (upper, lower) {
                // Only for names whose case mappings are one to one.
                if u.name.chars().count() == name.chars().count()
                    && l.name.chars().count() == name.chars().count()
                    && !name.contains('ß')
                {
                    prop_assert_eq!(u.key(), a.key());
                    prop_assert_eq!(l.key(), a.key());
                }
            }
            let k = PipeName::local(&a.key()).unwrap();
            prop_assert_eq!(k.key(), a.key());
        }
    }
}
