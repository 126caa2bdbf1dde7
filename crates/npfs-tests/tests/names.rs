//! Pipe names (conformance §3 test_CreateNamedPipe, test_overlapped; §4 test_pipe_names,
//! test_empty_name; api.md §2.1, §2.4, §2.5): the `\\.\pipe\` prefix, case-insensitivity, and
//! names that are opaque strings after the prefix.
mod common;
use common::*;

/// Create `full` (byte, 1 instance) and check a client can open it by `open_as`.
fn create_and_open(full: &str, open_as: &str) {
    let s = byte_server(full);
    let c = PipeClient::open_duplex(open_as).unwrap_or_else(|e| panic!("open {open_as:?}: {e:?}"));
    settle(&s);
    c.write(b"x").unwrap();
    assert_eq!(read_n(&s, 8).0, b"x");
}

/// A unique base under which each test builds its special names.
fn base(tag: &str) -> String {
    pipe_name(tag)
}

// conformance §3 test_CreateNamedPipe: `PIPENAME = "\\.\PiPe\tests_pipe.c" (mixed-case "PiPe"
// prefix accepted)`.
#[test]
fn prefix_mixed_case_pipe_component_accepted() {
    let b = base("prefix");
    let tail = b.strip_prefix(r"\\.\pipe\").unwrap();
    let mixed = format!(r"\\.\PiPe\{tail}");
    create_and_open(&mixed, &b);
}

// api.md §2.1: "Names are case-insensitive" — the `pipe` component in upper case too.
#[test]
fn prefix_upper_case_pipe_component_accepted() {
    let b = base("prefixup");
    let tail = b.strip_prefix(r"\\.\pipe\").unwrap();
    let upper = format!(r"\\.\PIPE\{tail}");
    create_and_open(&b, &upper);
}

// api.md §2.1 / §2.5: "Names are case-insensitive" (NPFS upper-cases them).
#[test]
fn names_are_case_insensitive() {
    let b = format!("{}MiXeDcAsE", base("case"));
    create_and_open(&b, &b.to_lowercase());
    let b2 = format!("{}lower", base("case2"));
    create_and_open(&b2, &b2.to_uppercase());
}

// api.md §2.1: case-insensitive names denote the same pipe: a second instance created under
// another case is another instance of the same pipe (ERROR_ALREADY_EXISTS).
#[test]
fn second_instance_with_other_case_is_same_pipe() {
    let b = format!("{}Inst", base("caseinst"));
    let s1 = opts(false, false, 2, 1024, 1024).create(&b).unwrap();
    assert!(!s1.already_existed());
    let s2 = opts(false, false, 2, 1024, 1024)
        .create(&b.to_uppercase())
        .unwrap();
    assert!(s2.already_existed());
    // Max 2 instances of the one pipe: a third under yet another case is refused.
    assert_eq!(
        opts(false, false, 2, 1024, 1024)
            .create(&b.to_lowercase())
            .err(),
        Some(Win32Error::PIPE_BUSY)
    );
}

// api.md §2.1: names are case-insensitive, beyond ASCII too (NPFS upper-cases Unicode).
#[test]
fn non_ascii_names_case_insensitive() {
    let b = format!("{}é-ü-ä", base("uni"));
    let upper = format!("{}É-Ü-Ä", b.strip_suffix("é-ü-ä").unwrap());
    create_and_open(&b, &upper);
}

// conformance §3 test_CreateNamedPipe: `"\\.\pipe\a<>*?|\"/b" can be created and opened`.
#[test]
fn characters_illegal_in_file_names_allowed() {
    let b = format!("{}a<>*?|\"/b", base("wild"));
    create_and_open(&b, &b);
}

// conformance §3 test_overlapped: `server "\\.\pipe\my pipe" — spaces allowed in names`.
#[test]
fn spaces_allowed() {
    let b = format!("{}my pipe", base("space"));
    create_and_open(&b, &b);
    let lead = format!("{}\\ lead and trail ", base("space2"));
    create_and_open(&lead, &lead);
}

// api.md §2.1: spaces are part of the name: a trailing space makes another pipe.
#[test]
fn trailing_space_is_significant() {
    let b = format!("{}sp", base("spsig"));
    let _s = byte_server(&format!("{b} "));
    assert_eq!(
        PipeClient::open_duplex(&b).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
}

// conformance §4 test_empty_name [todo_wine]: `"test3\pipe" ... CreateFileA("\\.\pipe\test3\pipe")
// then opens it (backslash allowed inside pipe names)`.
#[test]
fn backslash_inside_name() {
    let b = format!("{}test3\\pipe", base("bs"));
    create_and_open(&b, &b);
}

// conformance §4 test_pipe_names: `"wine/test" -> success; "wine\test" does not open it ('/' not a
// separator)`.
#[test]
fn slash_is_not_a_separator() {
    let b = base("slash");
    let _s = byte_server(&format!("{b}wine/test"));
    create_and_open(&format!("{b}wine/test2"), &format!("{b}wine/test2"));
    assert_eq!(
        PipeClient::open_duplex(&format!("{b}wine\\test")).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
}

// conformance §4 test_pipe_names: `"\Device\NamedPipe\wine-test\" -> success; opening
// "...\wine-test" (no trailing backslash) -> STATUS_OBJECT_NAME_NOT_FOUND`.
#[test]
fn trailing_backslash_is_significant() {
    let b = base("trail");
    let _s = byte_server(&format!("{b}wine-test\\"));
    let c = PipeClient::open_duplex(&format!("{b}wine-test\\"));
    assert!(c.is_ok(), "{:?}", c.err());
    drop(c);
    assert_eq!(
        PipeClient::open_duplex(&format!("{b}wine-test")).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
}

// conformance §4 test_pipe_names: `"wine:test" -> success`.
#[test]
fn colon_allowed() {
    let b = format!("{}wine:test", base("colon"));
    create_and_open(&b, &b);
}

// conformance §4 test_pipe_names: `"wine\.\test" -> success; "wine\test" -> NOT_FOUND (no "."
// collapsing)`.
#[test]
fn dot_component_not_collapsed() {
    let b = base("dot");
    let full = format!("{b}wine\\.\\test");
    let _s = byte_server(&full);
    assert!(PipeClient::open_duplex(&full).is_ok());
    assert_eq!(
        PipeClient::open_duplex(&format!("{b}wine\\test")).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
}

// conformance §4 test_pipe_names: `"wine\..\test" -> success; "\test" -> NOT_FOUND (no ".."
// collapsing)`.
#[test]
fn dotdot_component_not_collapsed() {
    let b = base("dotdot");
    let full = format!("{b}wine\\..\\test");
    let _s = byte_server(&full);
    assert!(PipeClient::open_duplex(&full).is_ok());
    assert_eq!(
        PipeClient::open_duplex(&format!("{b}test")).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
}

// conformance §4 test_pipe_names: `"..\wine-test" -> success`.
#[test]
fn leading_dotdot_allowed() {
    let n = pipe_name("lead").replace(r"\\.\pipe\", r"\\.\pipe\..\");
    create_and_open(&n, &n);
}

// conformance §4 test_pipe_names: `Name of all ASCII punctuation
// "!\"#$%&'()*+,-./:;<=>?@[\]^_`{|}~" -> success`.
#[test]
fn all_ascii_punctuation() {
    let b = format!("{}!\"#$%&'()*+,-./:;<=>?@[\\]^_`{{|}}~", base("punct"));
    create_and_open(&b, &b);
}

// conformance §4 test_pipe_names: `"\Device\NamedPipe\\" (pipe named "\") -> success`.
#[test]
fn pipe_named_backslash() {
    create_and_open(r"\\.\pipe\\", r"\\.\pipe\\");
}

// api.md §2.1: "The whole string is at most 256 characters."
#[test]
fn name_of_256_characters_accepted() {
    let b = base("len");
    let n = format!("{b}{}", "x".repeat(256 - b.chars().count()));
    assert_eq!(n.chars().count(), 256);
    create_and_open(&n, &n);
}

// api.md §2.1: "The whole string is at most 256 characters" — longer: ERROR_INVALID_NAME.
#[test]
fn name_over_256_characters_invalid_for_create() {
    let b = base("long");
    let n = format!("{b}{}", "x".repeat(257 - b.chars().count()));
    assert_eq!(n.chars().count(), 257);
    assert_eq!(
        ServerOptions::new().create(&n).err(),
        Some(Win32Error::INVALID_NAME)
    );
    let n = format!("{b}{}", "x".repeat(400));
    assert_eq!(
        ServerOptions::new().create(&n).err(),
        Some(Win32Error::INVALID_NAME)
    );
}

// api.md §2.4: "ERROR_INVALID_NAME | Malformed name" — a too-long name given to CreateFile.
#[test]
fn name_over_256_characters_invalid_for_open() {
    let b = base("longopen");
    let n = format!("{b}{}", "x".repeat(300));
    assert_eq!(
        PipeClient::open_duplex(&n).err(),
        Some(Win32Error::INVALID_NAME)
    );
}

// api.md §2.1: 256 characters, not bytes: multi-byte characters count once.
#[test]
fn length_limit_counts_characters() {
    let b = base("mb");
    let n = format!("{b}{}", "é".repeat(256 - b.chars().count()));
    create_and_open(&n, &n);
}

// conformance §3 test_CreateNamedPipe: `CreateNamedPipeA("not a named pipe", ...) ->
// INVALID_HANDLE_VALUE, ERROR_INVALID_NAME (123)`.
#[test]
fn not_a_named_pipe_invalid_name() {
    init();
    assert_eq!(
        ServerOptions::new().create("not a named pipe").err(),
        Some(Win32Error::INVALID_NAME)
    );
}

// api.md §2.1: "Must be `\\.\pipe\<name>`" — other prefixes are ERROR_INVALID_NAME.
#[test]
fn other_prefixes_invalid_name() {
    init();
    for n in [
        r"\\.\mailslot\x",
        r"\\.\pipes\x",
        r"C:\pipe\x",
        r"\pipe\x",
        r"\\.\pipe\",
        "",
    ] {
        assert_eq!(
            ServerOptions::new().create(n).err(),
            Some(Win32Error::INVALID_NAME),
            "{n:?}"
        );
    }
}

// conformance §4 test_pipe_names: `"\Device\NamedPipe\" -> STATUS_OBJECT_NAME_INVALID` (a name
// with nothing after the prefix), for CreateFile as well.
#[test]
fn empty_pipe_name_invalid_for_open() {
    init();
    assert_eq!(
        PipeClient::open_duplex(r"\\.\pipe\").err(),
        Some(Win32Error::INVALID_NAME)
    );
    assert_eq!(
        PipeClient::open_duplex("not a named pipe").err(),
        Some(Win32Error::INVALID_NAME)
    );
}

// api.md §2.1: "A server can only create local pipes." (remote name -> ERROR_INVALID_NAME)
#[test]
fn create_remote_name_invalid() {
    init();
    assert_eq!(
        ServerOptions::new().create(r"\\someserver\pipe\x").err(),
        Some(Win32Error::INVALID_NAME)
    );
}

// api.md §2.1: "On Windows 10 1709, UWP apps must use `\\.\pipe\LOCAL\`" — the LOCAL\ prefix
// works like any name, case-insensitively.
#[test]
fn local_prefix_works() {
    let tail = pipe_name("local").replace(r"\\.\pipe\", "");
    let n = format!(r"\\.\pipe\LOCAL\{tail}");
    create_and_open(&n, &format!(r"\\.\pipe\local\{tail}"));
}

// api.md §2.1 / name rules: `LOCAL\` is part of the name, not stripped: the pipe is not found
// without it.
#[test]
fn local_prefix_is_part_of_the_name() {
    let full = pipe_name("local2");
    let tail = full.replace(r"\\.\pipe\", "");
    let _s = byte_server(&format!(r"\\.\pipe\LOCAL\{tail}"));
    assert_eq!(
        PipeClient::open_duplex(&full).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
}

// conformance §3 test_CreateNamedPipe: `CreateFileA(nonexistent pipe, OPEN_EXISTING) ->
// ERROR_FILE_NOT_FOUND (2)`.
#[test]
fn open_nonexistent_file_not_found() {
    let n = pipe_name("nonexist");
    assert_eq!(
        PipeClient::open_duplex(&n).err(),
        Some(Win32Error::FILE_NOT_FOUND)
    );
}

// api.md §2.5: "Name matching is case-insensitive" for WaitNamedPipe.
#[test]
fn wait_named_pipe_name_case_insensitive() {
    let n = format!("{}WaitCase", pipe_name("waitcase"));
    let _s = byte_server(&n);
    assert_eq!(wait_named_pipe(&n.to_uppercase(), 1000), Ok(()));
    assert_eq!(wait_named_pipe(&n.to_lowercase(), 1000), Ok(()));
}

// api.md §2.6: CallNamedPipe takes the same names (case-insensitive, special characters).
#[test]
fn call_named_pipe_with_special_name() {
    let n = format!("{}Call <>|?*", pipe_name("callname"));
    let s = std::sync::Arc::new(msg_server(&n));
    let s2 = s.clone();
    let srv = bg(move || {
        let _ = s2.connect();
        let (m, _) = read_n(&s2, 64);
        s2.write(&m).unwrap();
        m
    });
    let mut reply = [0u8; 16];
    let upper = n.to_uppercase();
    let r = with_timeout(LIMIT, move || {
        let r = call_named_pipe(&upper, b"ping", &mut reply, 1000).unwrap();
        (r, reply)
    });
    assert_eq!(r.0, ro(4, false));
    assert_eq!(&r.1[..4], b"ping");
    assert_eq!(srv.join("server"), b"ping");
}
