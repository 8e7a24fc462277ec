//! Sets `childfd_std_pipe` when the compiler's std has `std::io::PipeReader`/`PipeWriter`
//! (Rust 1.87), which `Stdio` converts from. The MSRV is 1.74, so they cannot be named
//! unconditionally; likewise `childfd_waker_getters` for `Waker::vtable` (Rust 1.83). Asking
//! the compiler its version keeps the dependency tree empty.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()));
    // Unknown version: leave the conversions out rather than fail the build.
    if minor.is_some_and(|minor| minor >= 87) {
        println!("cargo:rustc-cfg=childfd_std_pipe");
    }
    // `Waker::vtable` (Rust 1.83): `childfd::tokio` tells tokio's `block_on` waker by it.
    if minor.is_some_and(|minor| minor >= 83) {
        println!("cargo:rustc-cfg=childfd_waker_getters");
    }
}
