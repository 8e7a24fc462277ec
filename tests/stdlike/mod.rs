//! Helpers shared by tests/std.rs and tests/std_env.rs: std's process tests, through this
//! crate's async API.
#![allow(dead_code)] // Each test binary uses a different part.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use childfd::{Child, Command, Output, Stdio};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt, FutureExt};

/// Runs `f`; a child or pipe that never finishes fails the test instead of hanging it.
pub(crate) fn run<T>(f: impl Future<Output = T>) -> T {
    future::block_on(f.or(async {
        async_io::Timer::after(Duration::from_secs(60)).await;
        panic!("timed out after 60 s");
    }))
}

pub(crate) fn sh(script: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script);
    cmd
}

pub(crate) fn output_of(cmd: &mut Command) -> Output {
    run(cmd.output()).unwrap()
}

/// Checks an exit code and what was collected of stdout and stderr.
pub(crate) fn check(out: &Output, code: i32, stdout: &str, stderr: &str) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let got = (out.status.code(), text(&out.stdout), text(&out.stderr));
    assert_eq!(got, (Some(code), stdout.into(), stderr.into()));
}

/// The stdout of a command that must succeed.
pub(crate) fn stdout_of(cmd: &mut Command) -> String {
    let out = output_of(cmd);
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Spawns `cmd` with the standard descriptors listed in `fds` (0, 1, 2) piped.
pub(crate) fn spawn_piped(cmd: &mut Command, fds: &[u8]) -> Child {
    for fd in fds {
        match fd {
            0 => cmd.stdin(Stdio::piped()),
            1 => cmd.stdout(Stdio::piped()),
            _ => cmd.stderr(Stdio::piped()),
        };
    }
    cmd.spawn().unwrap()
}

pub(crate) fn write_stdin(child: &mut Child, data: &[u8]) {
    run(child.stdin.as_mut().unwrap().write_all(data)).unwrap();
}

/// Takes the child's stdout and reads it to the end.
pub(crate) fn read_stdout(child: &mut Child) -> String {
    let mut out = String::new();
    run(child.stdout.take().unwrap().read_to_string(&mut out)).unwrap();
    out
}

pub(crate) fn code(child: &mut Child) -> Option<i32> {
    run(child.status()).unwrap().code()
}

/// The environment `env -0` sees when run by a command set up by `configure`.
pub(crate) fn env_of(configure: impl FnOnce(&mut Command)) -> HashMap<OsString, OsString> {
    let mut cmd = Command::new("env");
    configure(cmd.arg("-0"));
    let out = output_of(&mut cmd);
    assert!(out.status.success());
    let vars = out.stdout.split(|&b| b == 0).filter(|v| !v.is_empty());
    let os = |b: &[u8]| OsStr::from_bytes(b).to_owned();
    let var = |v: &[u8]| {
        let (k, v) = v.split_at(v.iter().position(|&b| b == b'=').unwrap());
        (os(k), os(&v[1..]))
    };
    vars.map(var).collect()
}

pub(crate) fn os(s: &str) -> OsString {
    s.into()
}
