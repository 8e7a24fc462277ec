//! The procdesc backend against real children. FreeBSD only: compiled, linted and linked
//! elsewhere, run by ci/freebsd.sh on a FreeBSD machine.

use std::io;
use std::os::unix::process::ExitStatusExt;

use futures_lite::future::block_on;
use rustix::process::{Pid, WaitOptions};

use crate::unix::CommandExt;
use crate::Command;

/// These tests are about this backend: under `CHILDFD_BACKEND=thread` they say so and pass.
fn procdesc() -> bool {
    let backend = crate::backend().expect("a backend");
    if backend.name() != "procdesc" {
        eprintln!("skipped: the backend is {backend}");
        return false;
    }
    true
}

fn pid_of(child: &crate::Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap()
}

#[test]
fn exit_codes_come_with_resource_usage() {
    if !procdesc() {
        return;
    }
    let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    let exit = block_on(child.exited()).unwrap();
    assert_eq!(exit.status().code(), Some(3));
    assert!(exit.usage_known(), "wait4 reports rusage");
}

#[test]
fn many_children_share_one_queue() {
    if !procdesc() {
        return;
    }
    let mut children: Vec<_> = (0..64)
        .map(|i| {
            let script = format!("exit {}", i % 7);
            Command::new("sh").args(["-c", &script]).spawn().unwrap()
        })
        .collect();
    for (i, child) in children.iter_mut().enumerate() {
        let code = block_on(child.status()).unwrap().code();
        assert_eq!(code, Some(i32::try_from(i % 7).unwrap()));
    }
}

#[test]
fn kill_is_reported_and_harmless_after_the_reap() {
    if !procdesc() {
        return;
    }
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    child.kill().unwrap();
    assert_eq!(block_on(child.status()).unwrap().signal(), Some(9));
    // pdkill now answers ESRCH: nothing can be hit, and that is not an error.
    child.kill().unwrap();
}

#[test]
fn a_group_signal_reaches_the_group() {
    if !procdesc() {
        return;
    }
    let mut child = Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    child.signal_group(15).unwrap();
    assert_eq!(block_on(child.status()).unwrap().signal(), Some(15));
}

#[test]
fn exec_failures_are_errors_and_leave_no_child() {
    if !procdesc() {
        return;
    }
    let e = Command::new("/nonexistent/program").spawn().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let e = Command::new("true")
        .current_dir("/nonexistent")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

#[test]
fn a_stolen_status_is_read_back_from_the_descriptor() {
    if !procdesc() {
        return;
    }
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.2; exit 5"])
        .process_group(0)
        .spawn()
        .unwrap();
    // A foreign waitpid(-pgid): FreeBSD keeps procdesc children only from wait(-1). It races
    // the reactor's own reap; either outcome must give the right status.
    let stolen = rustix::process::waitpgid(pid_of(&child), WaitOptions::empty());
    let exit = block_on(child.exited()).unwrap();
    assert_eq!(exit.status().code(), Some(5));
    match stolen {
        Ok(Some(_)) => assert!(!exit.usage_known(), "the thief took the rusage"),
        _ => eprintln!("the reactor reaped first: the recovery path was not taken"),
    }
}

#[test]
fn an_unwatched_child_is_handed_to_init() {
    if !procdesc() {
        return;
    }
    let child = Command::new("sleep")
        .arg("1")
        .reap_on_drop(false)
        .spawn()
        .unwrap();
    let pid = pid_of(&child);
    drop(child);
    // The descriptor is closed: PD_DAEMON kept the child alive, now init's to reap, so it
    // can never become our zombie (and is no longer ours to wait for).
    assert!(
        rustix::process::test_kill_process(pid).is_ok(),
        "still alive"
    );
    let not_ours = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG).unwrap_err();
    assert_eq!(not_ours, rustix::io::Errno::CHILD);
}

#[test]
fn commands_only_std_can_spawn_are_watched_too() {
    if !procdesc() {
        return;
    }
    let mut child = Command::from(std::process::Command::new("true"))
        .spawn()
        .unwrap();
    assert!(block_on(child.status()).unwrap().success());
}
