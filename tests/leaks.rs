//! 1,000 spawn/drop cycles leave no zombie, no descriptor and no thread behind, and never
//! touch SIGCHLD. One test in its own binary: it counts process-wide resources.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use childfd::{Command, Stdio};
use common::{block_on, children, eventually, open_fds, sigchld_touched, thread_names};

#[test]
fn spawn_drop_cycles_leave_nothing_behind() {
    assert!(!sigchld_touched(), "the test harness itself set SIGCHLD");
    // Warm up: async-io's thread (awaited children and pipes), the backstop reactor's thread
    // (a dropped child) and their descriptors exist from now on.
    block_on(Command::new("true").stdout(Stdio::piped()).output()).unwrap();
    drop(Command::new("true").spawn().unwrap());
    assert!(eventually(Duration::from_secs(5), || children().is_empty()));
    let fds = open_fds();
    let threads = thread_names();

    block_on(async {
        for i in 0..1000 {
            match i % 5 {
                // Dropped while running: reaped in the background.
                0 => drop(Command::new("true").spawn().unwrap()),
                // Awaited.
                1 => assert!(Command::new("true").status().await.unwrap().success()),
                // Killed on drop while blocked.
                2 => drop(
                    Command::new("sleep")
                        .arg("10")
                        .kill_on_drop(true)
                        .spawn()
                        .unwrap(),
                ),
                // Pipes in all three directions.
                3 => {
                    let out = Command::new("cat")
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                        .output()
                        .await
                        .unwrap();
                    assert!(out.status.success());
                }
                // A status future dropped before completion (cancelled).
                _ => {
                    let mut child = Command::new("sleep").arg("10").spawn().unwrap();
                    let pending = child.status();
                    drop(pending);
                    child.kill().unwrap();
                }
            }
        }
    });

    let gone = eventually(Duration::from_secs(30), || children().is_empty());
    assert!(gone, "children left behind: {:?}", children());
    let closed = eventually(Duration::from_secs(5), || open_fds() == fds);
    assert!(closed, "descriptors: {} before, {} after", fds, open_fds());
    assert_eq!(
        thread_names().len(),
        threads.len(),
        "threads: {:?} then {:?}",
        threads,
        thread_names()
    );
    let reactors = thread_names()
        .iter()
        .filter(|n| *n == "childfd-reactor")
        .count();
    assert_eq!(reactors, 1, "one reactor thread, not one per child");
    assert!(
        !sigchld_touched(),
        "SIGCHLD must keep its default disposition"
    );
}
