//! The spawn engine: every way exec can fail, PATH search, credentials, groups and sessions,
//! pre-exec hooks, stdio from files and descriptors, the child's signal state, and many
//! threads spawning at once.
#![cfg(target_os = "linux")]

mod common;

use std::io::{ErrorKind, Read, Seek};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use childfd::unix::{CommandExt, PreExec};
use childfd::{Command, Stdio};
use common::{block_on, children, eventually};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("childfd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_file(path: &std::path::Path, body: &str, mode: u32) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = block_on(cmd.output()).unwrap();
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn spawn_err(cmd: &mut Command) -> std::io::Error {
    cmd.spawn().map(|c| panic!("spawned {c:?}")).unwrap_err()
}

#[test]
fn every_kind_of_exec_failure_is_reported_and_reaped() {
    let dir = temp_dir("exec");
    let garbage = dir.join("garbage");
    write_file(&garbage, "\x7fELF not really", 0o755);
    let cases: Vec<(Command, Option<ErrorKind>, Option<i32>)> = vec![
        (
            Command::new(dir.join("missing")),
            Some(ErrorKind::NotFound),
            Some(2),
        ),
        (
            {
                let mut c = Command::new("childfd-missing-in-path");
                c.env("PATH", common::searchable_path());
                c
            },
            Some(ErrorKind::NotFound),
            Some(2),
        ),
        (
            Command::new(&dir),
            Some(ErrorKind::PermissionDenied),
            Some(13),
        ),
        (Command::new(&garbage), None, Some(8)), // ENOEXEC: no shebang, not ELF
        (
            {
                let mut c = Command::new("true");
                c.arg("x".repeat(200 * 1024)); // over MAX_ARG_STRLEN (128 KiB)
                c
            },
            None,
            Some(7), // E2BIG
        ),
        (
            {
                let mut c = Command::new("true");
                c.current_dir(garbage.join("sub")); // ENOTDIR
                c
            },
            Some(ErrorKind::NotADirectory),
            Some(20),
        ),
    ];
    for (mut cmd, kind, errno) in cases {
        let e = spawn_err(&mut cmd);
        if let Some(kind) = kind {
            assert_eq!(e.kind(), kind, "{cmd:?}: {e}");
        }
        assert_eq!(e.raw_os_error(), errno, "{cmd:?}: {e}");
    }
    let e = spawn_err(Command::new("true").process_group(0).setsid(true));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // Each failed child was reaped before its error was returned.
    assert!(
        eventually(Duration::from_secs(5), || children().is_empty()),
        "{:?}",
        children()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn path_search_follows_the_childs_path_and_skips_what_cannot_run() {
    let dir = temp_dir("path");
    let (first, second) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    write_file(
        &first.join("childfd-probe"),
        "#!/bin/sh\necho first\n",
        0o644,
    ); // not executable
    write_file(
        &second.join("childfd-probe"),
        "#!/bin/sh\necho second\n",
        0o755,
    );
    let path = format!("{}:{}:/usr/bin:/bin", first.display(), second.display());
    let out = stdout_of(Command::new("childfd-probe").env("PATH", &path));
    assert_eq!(out, "second\n");
    // Only a non-executable match: EACCES, as execvp reports it.
    let only_first = format!("{}", first.display());
    let e = spawn_err(Command::new("childfd-probe").env("PATH", only_first));
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn credentials_change_in_the_child_only() {
    if !rustix::process::geteuid().is_root() {
        common::skip(format_args!("changing credentials needs root"));
        return;
    }
    let out = stdout_of(
        Command::new("sh")
            .args(["-c", "id -u; id -g; id -G"])
            .uid(65534)
            .gid(65533)
            .groups(&[65533, 65532]),
    );
    assert_eq!(out, "65534\n65533\n65533 65532\n");
    // Ids above 65,535: 32-bit x86 and Arm have 16-bit-id calls under the plain names.
    let out = stdout_of(
        Command::new("sh")
            .args(["-c", "id -u; id -g"])
            .uid(100_000)
            .gid(100_001),
    );
    assert_eq!(out, "100000\n100001\n");
    // Without explicit groups, dropping root also drops its supplementary groups.
    let out = stdout_of(Command::new("id").arg("-G").uid(65534).gid(65534));
    assert_eq!(out, "65534\n");
    assert!(
        rustix::process::getuid().is_root(),
        "the parent's credentials are untouched"
    );
}

/// Field `n` (1-based, after the command name) of /proc/<pid>/stat.
fn stat_field(pid: u32, n: usize) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    rest.split_whitespace().nth(n - 1).unwrap().parse().unwrap()
}

#[test]
fn process_groups_and_sessions() {
    let mut leader = Command::new("sleep")
        .arg("10")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = leader.id();
    assert_eq!(stat_field(pid, 3), i64::from(pid), "pgrp");
    let mut joiner = Command::new("sleep")
        .arg("10")
        .process_group(pid as i32)
        .spawn()
        .unwrap();
    assert_eq!(
        stat_field(joiner.id(), 3),
        i64::from(pid),
        "joined the leader's group"
    );
    let mut session = Command::new("sleep")
        .arg("10")
        .setsid(true)
        .spawn()
        .unwrap();
    assert_eq!(
        stat_field(session.id(), 4),
        i64::from(session.id()),
        "session id"
    );
    for child in [&mut leader, &mut joiner, &mut session] {
        child.kill().unwrap();
        block_on(child.status()).unwrap();
    }
}

#[test]
fn pre_exec_hooks_run_in_the_child_in_order() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask"]);
    // SAFETY: umask is a plain system call; no allocation, no lock.
    cmd.pre_exec(unsafe {
        PreExec::new(|| {
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
            Ok(())
        })
    });
    // SAFETY: as above.
    cmd.pre_exec(unsafe {
        PreExec::new(|| {
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
            Ok(())
        })
    });
    assert_eq!(stdout_of(&mut cmd), "0077\n");
    let before = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    rustix::process::umask(before);
    assert_ne!(
        before.as_raw_mode(),
        0o077,
        "the parent's umask is untouched"
    );

    let mut failing = Command::new("true");
    // SAFETY: returns at once, allocates nothing.
    failing.pre_exec(unsafe { PreExec::new(|| Err(std::io::Error::from_raw_os_error(13))) });
    assert_eq!(spawn_err(&mut failing).kind(), ErrorKind::PermissionDenied);
}

#[test]
fn stdio_from_files_descriptors_and_std() {
    let mut file = tempfile();
    let status = block_on(
        Command::new("sh")
            .args(["-c", "echo to-file"])
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .status(),
    )
    .unwrap();
    assert!(status.success());
    let mut text = String::new();
    file.rewind().unwrap();
    file.read_to_string(&mut text).unwrap();
    assert_eq!(text, "to-file\n");

    // A std::process::Stdio is opaque: that command goes the std route, and still works.
    let out = block_on(
        Command::new("sh")
            .args(["-c", "echo via-std"])
            .stdout(std::process::Stdio::piped())
            .output(),
    )
    .unwrap();
    assert_eq!(out.stdout, b"via-std\n");

    // stdin from a descriptor.
    let mut input = tempfile();
    std::io::Write::write_all(&mut input, b"from-fd\n").unwrap();
    input.rewind().unwrap();
    let fd: std::os::unix::io::OwnedFd = input.into();
    assert_eq!(
        stdout_of(Command::new("cat").stdin(Stdio::from(fd))),
        "from-fd\n"
    );
}

fn tempfile() -> std::fs::File {
    let path = std::env::temp_dir().join(format!(
        "childfd-tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

/// A signal mask line of /proc/<pid>/status, as a bit set.
fn sig_mask(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(name)).unwrap();
    u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
}

#[test]
fn the_child_starts_with_default_signal_state() {
    let mut child = Command::new("sleep").arg("10").spawn().unwrap();
    let pid = child.id();
    // Rust ignores SIGPIPE in the parent; the child gets it back, as with std.
    assert_eq!(
        sig_mask(pid, "SigIgn:") & (1 << (13 - 1)),
        0,
        "SIGPIPE still ignored"
    );
    assert_eq!(
        sig_mask(pid, "SigBlk:"),
        0,
        "signals left blocked in the child"
    );
    // glibc in the new program installs its internal handlers (signals 32 and 33) itself.
    let standard = (1u64 << 31) - 1;
    assert_eq!(
        sig_mask(pid, "SigCgt:") & standard,
        0,
        "a handler survived into the child"
    );
    child.signal(15).unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&block_on(child.status()).unwrap()),
        Some(15)
    );
}

#[test]
fn ten_thousand_children_from_eight_threads() {
    let failures: usize = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                s.spawn(move || {
                    let mut wrong = 0;
                    block_on(async {
                        for i in 0..1250 {
                            // A few in flight per thread, awaited in order.
                            let code = (t * 1250 + i) % 4;
                            let mut c = Command::new("sh")
                                .args(["-c", &format!("exit {code}")])
                                .spawn()
                                .unwrap();
                            if c.status().await.unwrap().code() != Some(code) {
                                wrong += 1;
                            }
                        }
                    });
                    wrong
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    assert_eq!(failures, 0);
    assert!(eventually(Duration::from_secs(10), || children().is_empty()));
}
