//! Killing a reaped child never signals the process that got its pid next.
//! Needs root (to steer pid allocation through /proc/sys/kernel/ns_last_pid); skips otherwise.
#![cfg(target_os = "linux")]

mod common;

use childfd::Command;
use common::block_on;

#[test]
fn kill_after_reap_spares_the_process_that_reused_the_pid() {
    if !common::can_steer_pids() {
        return;
    }
    // Other processes on the machine may take the pid first: try a few times.
    for attempt in 1..=20 {
        let mut old = Command::new("true").spawn().unwrap();
        assert!(block_on(old.status()).unwrap().success());
        common::next_pid_is(old.id());
        let mut new = Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        if new.id() != old.id() {
            println!(
                "attempt {attempt}: pid {} was taken by someone else",
                old.id()
            );
            continue;
        }
        // `old` names the same pid as `new`, but its descriptor was closed at the reap.
        old.kill().unwrap();
        drop(old);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            new.try_status().unwrap(),
            None,
            "the new process was signalled"
        );
        new.kill().unwrap();
        let status = block_on(new.status()).unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        return;
    }
    panic!("could not make a new child reuse a pid in 20 attempts");
}
