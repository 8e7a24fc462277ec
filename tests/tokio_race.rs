//! Many waits on each path of `childfd::tokio`: tokio's driver alone (in a task), tokio's
//! driver raced with the crate's reactor (a current-thread runtime's `block_on`), a wait
//! cancelled half way then resumed elsewhere. Each asserts the exact status; at the end no
//! child and no descriptor is left. Alone in its binary, so the descriptor count is its own.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use std::time::Duration;

use childfd::tokio::Command;
use tokio::runtime::Builder;

fn exit_code(code: i32) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("exit {code}"));
    cmd
}

#[test]
fn exact_statuses_and_nothing_left() {
    let ct = Builder::new_current_thread().enable_all().build().unwrap();
    let mt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Warm up whatever is created once (runtimes' descriptors, async-io, the backstop).
    ct.block_on(async { exit_code(0).status().await.unwrap() });
    mt.block_on(async { exit_code(0).status().await.unwrap() });
    let fds = common::open_fds();
    for i in 0..200 {
        let code = i % 7;
        // block_on of a current-thread runtime: both watchers.
        let status = ct.block_on(async { exit_code(code).status().await.unwrap() });
        assert_eq!(status.code(), Some(code));
        // In a task: tokio's driver only.
        let status = mt
            .block_on(async { tokio::spawn(async move { exit_code(code).status().await }).await })
            .unwrap()
            .unwrap();
        assert_eq!(status.code(), Some(code));
        // Cancelled while registered in one runtime, finished in the other.
        let mut child = Command::new("sh")
            .args(["-c", &format!("sleep 0.01; exit {code}")])
            .spawn()
            .unwrap();
        let early = mt.block_on(async {
            tokio::time::timeout(Duration::from_micros(100), child.wait()).await
        });
        let status = match early {
            Ok(status) => status.unwrap(),
            Err(_) => ct.block_on(child.wait()).unwrap(),
        };
        assert_eq!(status.code(), Some(code));
    }
    assert!(common::children().is_empty(), "{:?}", common::children());
    assert!(
        common::eventually(Duration::from_secs(5), || common::open_fds() <= fds),
        "{} descriptors, {fds} before",
        common::open_fds()
    );
}
