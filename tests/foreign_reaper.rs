//! Another part of the program reaps our child first (`waitpid`): the status is recovered
//! through the pidfd on Linux 6.15+, or reported as lost with a clear error before that.
//! Its own binary: it reaps a child behind the crate's back.
#![cfg(target_os = "linux")]

mod common;

use childfd::Command;
use common::block_on;
use rustix::process::{waitpid, Pid, WaitOptions};

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

#[test]
fn a_status_stolen_by_waitpid_is_recovered_or_clearly_lost() {
    // A driver that is never polled: until something awaits the child, nothing in the crate
    // reaps it, so the foreign waitpid below is sure to win.
    let idle_driver = childfd::driver();
    let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    let (_, stolen) = waitpid(Some(pid), WaitOptions::empty()).unwrap().unwrap();
    assert_eq!(
        stolen.exit_status(),
        Some(7),
        "the foreign reaper got the status"
    );

    let result = block_on(child.exited());
    let recoverable = kernel_at_least(6, 15) && childfd::backend().unwrap().name() == "pidfd";
    if recoverable {
        let exit = result.expect("Linux 6.15+ keeps the status for the pidfd");
        assert_eq!(exit.status().code(), Some(7));
        assert!(!exit.usage_known(), "rusage went to the foreign reaper");
        assert_eq!(exit.user_time(), std::time::Duration::ZERO);
    } else {
        println!(
            "no recovery here (kernel before 6.15, or backend {}): checking the error",
            childfd::backend().unwrap()
        );
        let err = result.unwrap_err();
        assert!(err.to_string().contains("reaped by someone else"), "{err}");
    }
    // Every later call gives the same answer, and kill still signals nobody.
    assert_eq!(block_on(child.status()).is_ok(), recoverable);
    child.kill().unwrap();
    drop(idle_driver);
}
