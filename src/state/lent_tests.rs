//! A pidfd lent by number (`LentPidFd`, tokio's watch) stays open past the reap, and past an
//! abort, until the lender is dropped: the number a registration holds is never closed, and
//! so never reused, under it.

use std::os::unix::io::{AsRawFd, RawFd};

use crate::Command;

/// Whether `fd` is a pidfd now (its fdinfo has a `Pid:` line, Linux 5.3).
fn is_pidfd(fd: RawFd) -> bool {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .is_ok_and(|info| info.lines().any(|l| l.starts_with("Pid:")))
}

fn pidfd_backend() -> bool {
    let name = crate::backend().unwrap().name();
    if name != "pidfd" {
        eprintln!("SKIP: the {name} backend lends no pidfd");
    }
    name == "pidfd"
}

#[test]
fn a_lent_pidfd_outlives_the_reap_until_it_is_dropped() {
    if !pidfd_backend() {
        return;
    }
    let mut child = Command::new("true").spawn().unwrap();
    let state = child.state.clone();
    let lent = state.lend_pidfd().expect("a child of the pidfd backend");
    let fd = lent.as_raw_fd();
    assert!(is_pidfd(fd));
    assert!(child.wait_blocking().unwrap().status().success());
    {
        let slot = state.slot();
        assert!(slot.process.is_none(), "reaped");
        assert!(slot.retired.is_some(), "kept for the lender");
    }
    assert!(is_pidfd(fd), "closed under its lender");
    drop(lent);
    let slot = state.slot();
    assert_eq!(slot.lent, 0);
    assert!(slot.retired.is_none(), "closed with the last lender");
}

#[test]
fn an_abort_keeps_a_lent_pidfd_open_and_reaps() {
    if !pidfd_backend() {
        return;
    }
    let child = Command::new("sleep").arg("10").spawn().unwrap();
    let (state, pid) = (child.state.clone(), child.id());
    let lent = state.lend_pidfd().expect("a child of the pidfd backend");
    assert!(state.slot().abort());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "killed and reaped"
    );
    assert!(is_pidfd(lent.as_raw_fd()), "closed under its lender");
    assert!(state.slot().retired.is_some());
    drop(lent);
    assert!(state.slot().retired.is_none());
    drop(child);
}
