//! The SDDL parser never panics, and whatever it accepts formats to a string that parses
//! back to the same descriptor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npfs_core::security::{NameResolver, SecurityDescriptor};

struct Names;
impl NameResolver for Names {
    fn user(&self, name: &str) -> Option<u32> {
        (name == "alice").then_some(1001)
    }
    fn group(&self, name: &str) -> Option<u32> {
        (name == "pipers").then_some(2000)
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sd) = SecurityDescriptor::from_sddl(s, &Names) {
        let out = sd.to_sddl();
        let again = SecurityDescriptor::from_sddl(&out, &Names)
            .unwrap_or_else(|e| panic!("{s:?} -> {out:?} does not parse: {e}"));
        assert_eq!(again, sd, "{s:?} -> {out:?}");
    }
});
