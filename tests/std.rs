//! The behaviours checked by std's own process tests (`library/std/src/process/tests.rs`) and
//! by async-process's `tests/std.rs`, through this crate's async API, against real processes:
//! exit codes, signals, kill, waiting, stdin and pipes. Environment, working directory and the
//! Unix extensions are in tests/std_env.rs.
#![cfg(unix)]

mod common;
mod stdlike;

use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use childfd::{Command, Output, Stdio};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use stdlike::*;

#[test]
fn exit_codes_and_spawn_failure() {
    let status = run(Command::new("true").spawn().unwrap().status()).unwrap();
    assert_eq!((status.success(), status.code()), (true, Some(0)));
    assert_eq!(run(Command::new("false").status()).unwrap().code(), Some(1));
    let missing = "if-this-is-a-binary-then-the-world-has-ended";
    let path = common::searchable_path();
    let err = Command::new(missing)
        .env("PATH", &path)
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = run(Command::new(missing).env("PATH", &path).status()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = run(Command::new("/no-binary-by-this-name").output()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    for n in [0, 1, 2, 3, 42, 100, 126, 127, 128, 200, 254, 255] {
        let script = format!("exit {n}");
        let status = run(sh(&script).status()).unwrap();
        assert_eq!(status.code(), Some(n), "{script}");
        assert_eq!((status.success(), status.signal()), (n == 0, None));
        assert_eq!(run(sh(&script).spawn().unwrap().status()).unwrap(), status);
        assert_eq!(output_of(&mut sh(&script)).status, status);
    }
}

#[test]
fn death_by_signal_is_reported() {
    // Signal numbers POSIX fixes on every Unix.
    let signals = [("HUP", 1), ("INT", 2), ("KILL", 9), ("TERM", 15)];
    for (name, number) in signals {
        let status = run(sh(&format!("kill -s {name} $$; exit 3")).status()).unwrap();
        assert_eq!(status.signal(), Some(number), "SIG{name}: {status:?}");
        assert_eq!((status.code(), status.success()), (None, false));
        assert!(!status.core_dumped());
    }
}

#[test]
fn kill() {
    // std's signal_reported_right: the child would wait for input forever.
    let mut child = spawn_piped(&mut sh("read a"), &[0]);
    child.kill().unwrap();
    let status = run(child.status()).unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    // Once reaped, killing again does nothing and the status stays.
    child.kill().unwrap();
    assert_eq!(run(child.status()).unwrap(), status);

    // Killing a child that exited by itself, reaped or not, is Ok and changes nothing.
    let mut child = sh("exit 3").spawn().unwrap();
    assert_eq!(code(&mut child), Some(3));
    child.kill().unwrap();
    assert_eq!(code(&mut child), Some(3));
    // This one has exited (its stdout closes at its exit) but may not be reaped yet.
    let mut child = spawn_piped(&mut sh("exit 4"), &[1]);
    assert_eq!(read_stdout(&mut child), "");
    child.kill().unwrap();
    assert_eq!(code(&mut child), Some(4));
}

#[test]
fn try_status_before_and_after_exit() {
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    assert_eq!(child.try_status().unwrap(), None);
    // try_status leaves stdin open, so cat keeps running.
    write_stdin(&mut child, b"ping");
    assert!(child.stdin.is_some());
    assert_eq!(child.try_status().unwrap(), None);
    drop(child.stdin.take());
    assert_eq!(read_stdout(&mut child), "ping");
    let status = run(async {
        loop {
            if let Some(status) = child.try_status().unwrap() {
                break status;
            }
            async_io::Timer::after(Duration::from_millis(2)).await;
        }
    });
    assert!(status.success());
    assert_eq!(child.try_status().unwrap(), Some(status));
    assert_eq!(run(child.status()).unwrap(), status);
}

#[test]
fn status_is_repeatable_cancel_safe_and_static() {
    let mut child = Command::new("false").spawn().unwrap();
    assert_eq!((code(&mut child), code(&mut child)), (Some(1), Some(1)));

    let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    // A status future dropped before the exit loses nothing.
    assert!(run(future::poll_once(child.status())).is_none());
    let pending = child.status();
    child.kill().unwrap();
    drop(child); // the future does not borrow the child
    assert_eq!(run(pending).unwrap().signal(), Some(9));
}

#[test]
fn stdin_is_written_and_closed() {
    // std's stdin_works.
    let mut child = spawn_piped(&mut sh("read line; echo $$ $line"), &[0, 1]);
    write_stdin(&mut child, b"foobar");
    drop(child.stdin.take());
    let id = child.id(); // the pid, as the shell sees it
    assert_eq!(read_stdout(&mut child), format!("{id} foobar\n"));
    assert_eq!(code(&mut child), Some(0));
    // cat exits only once its stdin is closed: status() and output() close it.
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    write_stdin(&mut child, b"hello");
    let status = child.status();
    assert!(child.stdin.is_none());
    assert!(run(status).unwrap().success());
    assert_eq!(read_stdout(&mut child), "hello");
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    write_stdin(&mut child, b"world");
    check(&run(child.output()).unwrap(), 0, "world", "");
}

#[test]
fn pipe_through_cat_both_ways_at_once() {
    let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut child = spawn_piped(&mut Command::new("cat"), &[0, 1]);
    let mut stdin = child.stdin.take().unwrap();
    let write = async move {
        stdin.write_all(&data).await?;
        stdin.flush().await.map(|()| data)
    };
    let mut echoed = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    let (written, read) = run(future::zip(write, stdout.read_to_end(&mut echoed)));
    assert_eq!(read.unwrap(), echoed.len());
    assert!(echoed == written.unwrap(), "cat echoed other bytes");
    assert_eq!(code(&mut child), Some(0));
}

#[test]
fn large_output_on_both_pipes_does_not_deadlock() {
    const BIG: usize = 4 << 20;
    let check = |out: Output, script: &str| {
        assert!(out.status.success(), "{script}: {:?}", out.status);
        assert_eq!((out.stdout.len(), out.stderr.len()), (BIG, BIG), "{script}");
        assert!(out.stdout.chunks(4).all(|c| c == b"out\n"), "{script}");
        assert!(out.stderr.chunks(4).all(|c| c == b"err\n"), "{script}");
    };
    let out = format!("yes out | head -c {BIG}");
    let err = format!("yes err | head -c {BIG} >&2");
    // Each order blocks a parent that reads one pipe to the end before the other; the last
    // script writes both at once.
    for (a, sep, b) in [(&err, ";", &out), (&out, ";", &err), (&out, "&", &err)] {
        let script = format!("{a} {sep} {b}; wait");
        check(output_of(&mut sh(&script)), &script);
        let child = spawn_piped(&mut sh(&script), &[1, 2]);
        check(run(child.output()).unwrap(), &script);
    }
}

#[test]
fn output_collects_what_was_asked() {
    let out = output_of(&mut sh("echo foo; echo bar >&2; exit 3"));
    check(&out, 3, "foo\n", "bar\n");
    // std's test_process_output_error.
    let out = output_of(Command::new("mkdir").arg("./"));
    assert!(out.status.code().is_some_and(|c| c != 0));
    assert!(out.stdout.is_empty() && !out.stderr.is_empty());
    // A stream configured on the command wins over output()'s default.
    let mut cmd = sh("echo foo; echo bar >&2");
    check(&output_of(cmd.stdout(Stdio::null())), 0, "", "bar\n");
    // Child::output collects only the piped streams, and a command spawns again alike.
    cmd.stderr(Stdio::null());
    for _ in 0..2 {
        let out = run(spawn_piped(&mut cmd, &[1]).output()).unwrap();
        check(&out, 0, "foo\n", "");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn default_stdin_is_null_for_output_and_inherited_for_spawn() {
    let mut readlink = Command::new("readlink");
    readlink.arg("/proc/self/fd/0");
    assert_eq!(stdout_of(&mut readlink), "/dev/null\n");
    if let Ok(ours) = std::fs::read_link("/proc/self/fd/0") {
        let theirs = read_stdout(&mut spawn_piped(&mut readlink, &[1]));
        assert_eq!(theirs.trim_end(), ours.to_str().unwrap());
    }
}
