//! Signals go through the descriptor: to the child, or to its whole process group.
#![cfg(target_os = "linux")]

mod common;

use std::io::ErrorKind;
use std::os::unix::process::{CommandExt as _, ExitStatusExt};
use std::time::Duration;

use childfd::Command;
use common::{block_on, eventually, first_line, group_members};

#[test]
fn signal_reaches_the_child() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    child.signal(15).unwrap();
    assert_eq!(block_on(child.status()).unwrap().signal(), Some(15));
    // Reaped: signalling again reaches nobody and is not an error.
    child.signal(15).unwrap();
    child.signal_group(15).unwrap();
}

#[test]
fn a_trapped_signal_is_delivered_not_forced() {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "trap 'exit 7' USR1; echo ready; while :; do sleep 0.01; done",
        ])
        .stdout(childfd::Stdio::piped())
        .spawn()
        .unwrap();
    // Until the trap is installed, USR1 would kill sh.
    assert_eq!(first_line(&mut child), "ready\n");
    child.signal(10).unwrap();
    assert_eq!(block_on(child.status()).unwrap().code(), Some(7));
}

#[test]
fn bad_signal_numbers_are_invalid_input() {
    let mut child = Command::new("sleep")
        .arg("30")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert_eq!(
        child.signal(1000).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        child.signal_group(-1).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    child.kill().unwrap();
}

#[test]
fn signal_group_ends_a_shell_and_its_children() {
    let mut std_cmd = std::process::Command::new("sh");
    std_cmd
        .args(["-c", "sleep 100 & sleep 100 & wait"])
        .process_group(0);
    let mut child = Command::from(std_cmd).spawn().unwrap();
    let pgid = child.id();
    assert!(
        eventually(Duration::from_secs(10), || group_members(pgid).len() == 3),
        "expected sh and two sleeps in group {pgid}: {:?}",
        group_members(pgid)
    );
    child.signal_group(9).unwrap();
    assert_eq!(block_on(child.status()).unwrap().signal(), Some(9));
    assert!(
        eventually(Duration::from_secs(10), || group_members(pgid).is_empty()),
        "survivors in group {pgid}: {:?}",
        group_members(pgid)
    );
}

#[test]
fn real_time_signals_are_sent_and_reserved_ones_refused() {
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    child.signal(min + 1).unwrap();
    assert_eq!(block_on(child.status()).unwrap().signal(), Some(min + 1));

    let mut leader = Command::new("sleep");
    childfd::unix::CommandExt::process_group(leader.arg("100"), 0);
    let mut leader = leader.spawn().unwrap();
    leader.signal_group(max).unwrap();
    assert_eq!(block_on(leader.status()).unwrap().signal(), Some(max));

    let mut child = Command::new("sleep")
        .arg("100")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Past SIGRTMAX, and (where the C library keeps some for itself, as glibc keeps 32 and
    // 33 for its threads) just below SIGRTMIN: EINVAL, as kill(2) answers out of range.
    let mut invalid = vec![max + 1];
    if min > 32 {
        invalid.push(min - 1);
    }
    for sig in invalid {
        for group in [false, true] {
            let e = match group {
                false => child.signal(sig).unwrap_err(),
                true => child.signal_group(sig).unwrap_err(),
            };
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{sig}: {e}");
        }
    }
    child.kill().unwrap();
    assert_eq!(block_on(child.status()).unwrap().signal(), Some(9));
}
