//! The pipe's security descriptor seen through both ends (conformance §3 test_security_info):
//! one descriptor for the whole pipe, readable through the client, still readable after the
//! server closed, and refused to a client the server disconnected.
mod common;
use npfs::security::NoNames;
use npfs::SecurityDescriptor;

use common::*;

const GROUP: u32 = 0x2; // GROUP_SECURITY_INFORMATION

fn group_of(h: &PipeHandle) -> Result<String, Win32Error> {
    h.security(GROUP).map(|sd| sd.to_sddl())
}

fn group(sddl: &str) -> SecurityDescriptor {
    SecurityDescriptor::from_sddl(sddl, &NoNames).unwrap()
}

// "NtSetSecurityObject(server, GROUP = World) -> success; both server and client report group
// World"; "A new server instance created afterwards ... has the same (World) group"; "After
// closing the server, the client still reads the SD".
#[test]
fn one_descriptor_seen_through_both_ends() {
    let name = pipe_name("sd-ends");
    let mut o = opts(false, false, 10, 4096, 4096);
    o.write_owner(true);
    let s = o.create(&name).unwrap();
    let c = PipeClient::open_duplex(&name).unwrap();
    settle(&s);
    assert_eq!(s.set_security(GROUP, &group("G:WD")), Ok(()));
    assert_eq!(group_of(&s).as_deref(), Ok("G:WD"));
    assert_eq!(group_of(&c).as_deref(), Ok("G:WD"));
    let s2 = opts(false, false, 10, 4096, 4096).create(&name).unwrap();
    assert_eq!(group_of(&s2).as_deref(), Ok("G:WD"));
    // Local (S-1-2-0), set through the first server: every end sees it.
    assert_eq!(s.set_security(GROUP, &group("G:S-1-2-0")), Ok(()));
    for h in [&*s, &*c, &*s2] {
        assert_eq!(group_of(h).as_deref(), Ok("G:S-1-2-0"));
    }
    drop(s);
    assert_eq!(group_of(&c).as_deref(), Ok("G:S-1-2-0"));
    // "A new client on server2 sees Local".
    let c2 = PipeClient::open_duplex(&name).unwrap();
    assert_eq!(group_of(&c2).as_deref(), Ok("G:S-1-2-0"));
    drop(s2);
    // With the last instance the pipe's name and descriptor are gone (docs/DEVIATIONS.md).
    assert_eq!(group_of(&c), Err(Win32Error::FILE_NOT_FOUND));
}

// "after DisconnectNamedPipe(server2) the server can still query its SD but the disconnected
// client: NtQuerySecurityObject -> STATUS_PIPE_DISCONNECTED, NtSetSecurityObject ->
// STATUS_PIPE_DISCONNECTED".
#[test]
fn disconnected_client_cannot_query_or_set() {
    let name = pipe_name("sd-disc");
    let mut o = opts(false, false, 1, 4096, 4096);
    o.write_owner(true);
    let s = o.create(&name).unwrap();
    let c = PipeClient::open_duplex(&name).unwrap();
    settle(&s);
    s.disconnect().unwrap();
    assert!(group_of(&s).is_ok());
    assert_eq!(group_of(&c), Err(Win32Error::PIPE_NOT_CONNECTED));
    assert_eq!(
        c.set_security(GROUP, &group("G:WD")),
        Err(Win32Error::PIPE_NOT_CONNECTED)
    );
}
