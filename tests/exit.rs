//! `Child::exited()`: status, CPU time, peak memory and wall time of real children.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use childfd::Command;
use common::block_on;

fn exited(script: &str) -> childfd::Exit {
    block_on(
        Command::new("sh")
            .args(["-c", script])
            .spawn()
            .unwrap()
            .exited(),
    )
    .unwrap()
}

#[test]
fn cpu_time_is_reported() {
    let exit = exited("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done");
    assert!(exit.status().success());
    assert!(exit.usage_known());
    assert!(exit.user_time() > Duration::ZERO, "{exit:?}");
    assert!(
        exit.user_time() + exit.system_time() <= exit.wall_time(),
        "{exit:?}"
    );
}

#[test]
fn peak_memory_is_reported_in_bytes() {
    // dd allocates and fills one 64 MiB block: the child's peak RSS is above that.
    let exit = exited("exec dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null");
    assert!(exit.status().success());
    assert!(exit.max_rss() >= 64 << 20, "max_rss {}", exit.max_rss());
    assert!(exit.max_rss() < 1 << 30, "max_rss {}", exit.max_rss());
}

#[test]
fn wall_time_covers_the_child_life() {
    let exit = exited("sleep 0.2");
    assert!(exit.wall_time() >= Duration::from_millis(200), "{exit:?}");
}

#[test]
fn shell_codes_match_what_sh_reports() {
    assert_eq!(exited("exit 0").shell_code(), 0);
    assert_eq!(exited("exit 42").shell_code(), 42);
    assert_eq!(exited("kill -KILL $$").shell_code(), 137);
    assert_eq!(exited("kill -TERM $$").shell_code(), 143);
    let e = exited("kill -TERM $$");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&e.status()),
        Some(15)
    );
}

#[test]
fn pid_and_status_agree_with_the_child() {
    let mut child = Command::new("sh").args(["-c", "exit 9"]).spawn().unwrap();
    let pid = child.id();
    let exit = block_on(child.exited()).unwrap();
    assert_eq!(exit.pid(), pid);
    assert_eq!(exit.status().code(), Some(9));
    assert_eq!(
        block_on(child.status()).unwrap(),
        exit.status(),
        "same answer every time"
    );
    assert_eq!(child.try_exited().unwrap(), Some(exit));
}
