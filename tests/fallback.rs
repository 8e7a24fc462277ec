//! With the pidfd system calls denied (seccomp, as old Docker profiles, gVisor or valgrind
//! do), the crate switches to the `thread` backend by itself, and every behaviour holds.
//! Each case re-executes this test binary with a filter installed, so the irreversible filter
//! and the process-wide backend choice stay out of the other tests.
#![cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "x86")))]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use childfd::{Command, Stdio};
use common::{block_on, children, eventually, thread_names};

const MODE: &str = "CHILDFD_TEST_SECCOMP";
const PIDFD_SEND_SIGNAL: u32 = 424;
const PIDFD_OPEN: u32 = 434;
const CLONE3: u32 = 435;
const PIDFD_GETFD: u32 = 438;
const ENOSYS: i32 = 38;
const EPERM: i32 = 1;

/// Runs `test` in a copy of this binary with the pidfd calls failing with `errno`.
fn run_filtered(test: &str, errno: i32) {
    rerun(test, MODE, &errno.to_string());
}

/// Runs `test` in a copy of this binary with `var=value` set, and checks that it ran and
/// passed (or said why it skipped).
fn rerun(test: &str, var: &str, value: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, value)
        .env_remove("CHILDFD_BACKEND")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if common::copy_skipped(&text) {
        return;
    }
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the filtered run did not run: {text}"
    );
}

#[test]
fn falls_back_to_threads_on_enosys() {
    run_filtered("filtered_child", ENOSYS);
}

#[test]
fn falls_back_to_threads_on_eperm() {
    run_filtered("filtered_child", EPERM);
}

/// The body of both cases; a no-op unless re-executed by them.
#[test]
fn filtered_child() {
    let Some(errno) = std::env::var(MODE).ok().and_then(|e| e.parse::<i32>().ok()) else {
        return;
    };
    // clone3 always gets ENOSYS: with EPERM, glibc would not fall back to clone.
    let rules = [
        (PIDFD_OPEN, errno),
        (PIDFD_SEND_SIGNAL, errno),
        (PIDFD_GETFD, errno),
        (CLONE3, ENOSYS),
    ];
    if let Err(e) = platform::testing::deny_syscalls(&rules) {
        common::skip(format_args!("cannot install a seccomp filter here: {e}"));
        return;
    }
    let backend = childfd::backend().unwrap();
    println!("backend under the filter: {backend}");
    assert_eq!(backend.name(), "thread");
    assert!(
        backend.reason().unwrap().starts_with("pidfd_open:"),
        "{backend}"
    );
    assert!(
        backend.to_string().starts_with("thread (pidfd_open: "),
        "{backend}"
    );

    block_on(async {
        // Status and exit information.
        let exit = Command::new("sh")
            .args(["-c", "exit 5"])
            .spawn()
            .unwrap()
            .exited()
            .await
            .unwrap();
        assert_eq!(exit.status().code(), Some(5));
        assert!(exit.usage_known() && exit.max_rss() > 0, "{exit:?}");
        // Output through pipes, both ways.
        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = cat.stdin.take().unwrap();
        futures_lite::AsyncWriteExt::write_all(&mut stdin, b"through threads\n")
            .await
            .unwrap();
        drop(stdin);
        assert_eq!(cat.output().await.unwrap().stdout, b"through threads\n");
        // Kill, signal, and kill after the reap.
        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        sleeper.kill().unwrap();
        assert_eq!(sleeper.status().await.unwrap().signal(), Some(9));
        sleeper.kill().unwrap();
        sleeper.signal(15).unwrap();
        let mut term = Command::new("sleep").arg("30").spawn().unwrap();
        term.signal(15).unwrap();
        assert_eq!(term.status().await.unwrap().signal(), Some(15));
        // Dropped children are reaped; kill_on_drop kills.
        drop(Command::new("true").spawn().unwrap());
        drop(
            Command::new("sleep")
                .arg("30")
                .kill_on_drop(true)
                .spawn()
                .unwrap(),
        );
        // Spawn failures are still reported and reaped.
        let e = Command::new("/nonexistent/x").spawn().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    });
    assert!(
        eventually(Duration::from_secs(10), || children().is_empty()),
        "{:?}",
        children()
    );
    let helpers = || {
        thread_names()
            .iter()
            .filter(|n| *n == "childfd-wait")
            .count()
    };
    assert!(
        eventually(Duration::from_secs(10), || helpers() == 0),
        "helper threads outlived their children"
    );
}

#[test]
fn a_refused_clone_pidfd_takes_the_std_route() {
    if std::env::var_os("CHILDFD_TEST_CLONE_PIDFD").is_some() {
        if let Err(e) = platform::testing::deny_clone_pidfd(EPERM) {
            common::skip(format_args!("cannot install a seccomp filter here: {e}"));
            return;
        }
        // pidfds themselves are allowed: the probe picks them; only their birth with the
        // child is refused, so each spawn goes through std, then pidfd_open.
        assert_eq!(childfd::backend().unwrap().name(), "pidfd");
        block_on(async {
            let out = Command::new("sh")
                .args(["-c", "echo via-std; exit 3"])
                .output()
                .await
                .unwrap();
            assert_eq!(
                (out.status.code(), out.stdout.as_slice()),
                (Some(3), &b"via-std\n"[..])
            );
            let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
            sleeper.kill().unwrap();
            assert_eq!(sleeper.exited().await.unwrap().status().signal(), Some(9));
        });
        return;
    }
    if std::env::var_os(MODE).is_some() {
        return;
    }
    rerun(
        "a_refused_clone_pidfd_takes_the_std_route",
        "CHILDFD_TEST_CLONE_PIDFD",
        "1",
    );
}
