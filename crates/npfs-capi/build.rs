//! Gives `libnpfs.so` its SONAME, `libnpfs.so.<major>`, as a C library's users and packagers
//! expect (`make install` installs `libnpfs.so.<version>` with the `libnpfs.so.<major>` and
//! `libnpfs.so` links).

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnpfs.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
