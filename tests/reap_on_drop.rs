//! `reap_on_drop(false)` is "as with std": a dropped `Child` is left for the program to reap,
//! a wait pending at the drop ends with an error, and once the program has reaped it and its
//! pid is reused, no other child of the crate is touched (issue 14 item 3). Each test runs
//! under the default backend and again, re-executed, under `CHILDFD_BACKEND=thread`.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use childfd::Command;
use common::{block_on, children, eventually};
use rustix::process::{waitpid, Pid, WaitOptions};

/// Runs `test` here, then in a copy of this binary under the thread backend (unless this is
/// that copy, or the backend was forced from outside).
fn also_under_threads(test: &str) {
    if std::env::var_os("CHILDFD_BACKEND").is_some() {
        return;
    }
    let (passed, text) = common::rerun(test, "CHILDFD_BACKEND", "thread", None);
    assert!(passed, "under CHILDFD_BACKEND=thread: {text}");
}

/// The caller's own blocking `waitpid(pid)`: the exit code, or the error.
fn reap_myself(pid: u32) -> std::io::Result<Option<i32>> {
    let pid = Pid::from_raw(pid as i32).unwrap();
    let (_, status) = waitpid(Some(pid), WaitOptions::empty())?.unwrap();
    Ok(status.exit_status())
}

#[test]
fn the_program_reaps_a_released_child_itself() {
    println!("backend: {}", childfd::backend().unwrap());
    // Dropped while it runs.
    let child = Command::new("sh")
        .args(["-c", "sleep 0.2; exit 5"])
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let pid = child.id();
    drop(child);
    assert_eq!(reap_myself(pid).unwrap(), Some(5));
    // Exited (a zombie) before the drop: nothing reaped it in the background meanwhile.
    let child = Command::new("sh")
        .args(["-c", "exit 6"])
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(
        eventually(Duration::from_secs(10), || children().contains(&(pid, 'Z'))),
        "{:?}",
        children()
    );
    std::thread::sleep(Duration::from_millis(100));
    drop(child);
    assert_eq!(reap_myself(pid).unwrap(), Some(6));
    // Awaited for a while (a waiter watched it), then dropped while it runs.
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.3; exit 7"])
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(block_on(child.status_timeout(Duration::from_millis(50)))
        .unwrap()
        .is_none());
    if childfd::backend().unwrap().name() == "thread" {
        let helpers = common::thread_names();
        assert!(helpers.iter().any(|n| n == "childfd-wait"), "{helpers:?}");
    }
    drop(child);
    assert_eq!(reap_myself(pid).unwrap(), Some(7));
    // A helper thread that watched it (thread backend) does not outlive it.
    assert!(
        eventually(Duration::from_secs(10), || !common::thread_names()
            .iter()
            .any(|n| n == "childfd-wait")),
        "{:?}",
        common::thread_names()
    );
    also_under_threads("the_program_reaps_a_released_child_itself");
}

#[test]
fn a_wait_pending_at_the_drop_ends_with_an_error() {
    let mut child = Command::new("sleep")
        .arg("30")
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = child.status();
    let waiter = std::thread::spawn(move || block_on(status));
    std::thread::sleep(Duration::from_millis(100));
    drop(child);
    let e = waiter.join().unwrap().unwrap_err();
    assert!(e.to_string().contains("reap_on_drop(false)"), "{e}");
    // The child is untouched, still the program's.
    assert!(children().contains(&(pid, 'S')), "{:?}", children());
    rustix::process::kill_process(
        Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    assert_eq!(reap_myself(pid).unwrap(), None);
    also_under_threads("a_wait_pending_at_the_drop_ends_with_an_error");
}

#[test]
fn a_reused_pid_never_reaches_the_released_child_s_watch() {
    if !common::can_steer_pids() {
        return;
    }
    // Other processes on the machine may take the pid first: try a few times.
    for attempt in 1..=20 {
        let mut old = Command::new("sh")
            .args(["-c", "sleep 0.2; exit 3"])
            .reap_on_drop(false)
            .spawn()
            .unwrap();
        let pid = old.id();
        // A waiter watches it (a helper thread under the thread backend), then gives up.
        assert!(block_on(old.status_timeout(Duration::from_millis(20)))
            .unwrap()
            .is_none());
        drop(old);
        assert_eq!(reap_myself(pid).unwrap(), Some(3));
        common::next_pid_is(pid);
        let mut new = Command::new("sh")
            .args(["-c", "sleep 0.3; exit 9"])
            .spawn()
            .unwrap();
        if new.id() != pid {
            println!("attempt {attempt}: pid {pid} was taken by someone else");
            continue;
        }
        // Nothing left of the old child reaps the new one or loses its status.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(block_on(new.status()).unwrap().code(), Some(9));
        also_under_threads("a_reused_pid_never_reaches_the_released_child_s_watch");
        return;
    }
    panic!("could not make a new child reuse a pid in 20 attempts");
}
