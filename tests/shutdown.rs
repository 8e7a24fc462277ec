//! Whole-tree shutdown, bounded waits, and blocking waits.
#![cfg(target_os = "linux")]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use childfd::unix::CommandExt;
use childfd::{Command, Stdio};
use common::{block_on, children, eventually, first_line, group_members};

fn job(script: &str) -> childfd::Child {
    let child = Command::new("sh")
        .args(["-c", script])
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    assert!(
        eventually(Duration::from_secs(10), || group_members(pgid).len() >= 3),
        "{:?}",
        group_members(pgid)
    );
    child
}

#[test]
fn shutdown_ends_a_shell_and_its_children() {
    let mut child = job("sleep 100 & sleep 100 & wait");
    let pgid = child.id();
    let exit = block_on(child.shutdown(Duration::from_secs(5))).unwrap();
    assert_eq!(exit.status().signal(), Some(15), "SIGTERM was enough");
    assert!(
        eventually(Duration::from_secs(5), || group_members(pgid).is_empty()),
        "survivors: {:?}",
        group_members(pgid)
    );
}

#[test]
fn shutdown_kills_what_ignores_sigterm() {
    // The shell dies of SIGTERM; its background child ignores it and must get SIGKILL.
    let mut child = job("(trap '' TERM; sleep 100) & sleep 100 & wait");
    let pgid = child.id();
    let exit = block_on(child.shutdown(Duration::from_millis(300))).unwrap();
    assert_eq!(exit.status().signal(), Some(15));
    assert!(
        eventually(Duration::from_secs(5), || group_members(pgid).is_empty()),
        "survivors: {:?}",
        group_members(pgid)
    );

    // A leader that ignores SIGTERM itself is killed after the grace period.
    let mut stubborn = Command::new("sh")
        .args(["-c", "trap '' TERM; echo ready; sleep 100 & wait; wait"])
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(
        first_line(&mut stubborn),
        "ready\n",
        "sh has installed its trap"
    );
    let exit = block_on(stubborn.shutdown(Duration::from_millis(300))).unwrap();
    assert_eq!(exit.status().signal(), Some(9));
}

#[test]
fn shutdown_of_a_child_without_a_group_signals_only_the_child() {
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    let exit = block_on(child.shutdown(Duration::from_secs(5))).unwrap();
    assert_eq!(exit.status().signal(), Some(15));
    // The test process (same group) is alive to check this.
}

#[test]
fn timeouts_leave_the_child_usable_and_no_zombie() {
    let mut child = Command::new("sleep")
        .arg("100")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(
        block_on(child.status_timeout(Duration::from_millis(100))).unwrap(),
        None
    );
    assert!(block_on(child.exited_timeout(Duration::from_millis(50)))
        .unwrap()
        .is_none());
    assert!(block_on(child.output_timeout(Duration::from_millis(50)))
        .unwrap()
        .is_none());
    assert!(
        child.stdout.is_some(),
        "the pipe is given back after a timeout"
    );
    child.kill().unwrap();
    let out = block_on(child.output_timeout(Duration::from_secs(30)))
        .unwrap()
        .unwrap();
    assert_eq!(out.status.signal(), Some(9));
    let exit = block_on(child.exited_timeout(Duration::from_secs(30)))
        .unwrap()
        .unwrap();
    assert_eq!(exit.status().signal(), Some(9));
    assert!(
        eventually(Duration::from_secs(5), || children().is_empty()),
        "{:?}",
        children()
    );
}

#[test]
fn wait_blocking_from_a_plain_thread() {
    let mut child = Command::new("sh").args(["-c", "exit 6"]).spawn().unwrap();
    let exit = std::thread::spawn(move || child.wait_blocking())
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(exit.status().code(), Some(6));
}
