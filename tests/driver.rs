//! `driver()` polls the backstop reactor from the caller's executor, so no reactor thread is
//! started; when the last driver goes away, the thread takes over. Its own binary: threads are global.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use childfd::{driver, Command};
use common::{block_on, thread_names};

fn reactor_threads() -> usize {
    thread_names()
        .iter()
        .filter(|n| *n == "childfd-reactor")
        .count()
}

#[test]
fn driver_replaces_the_thread_and_hands_over_when_dropped() {
    let ex = smol::LocalExecutor::new();
    let task = ex.spawn(driver());
    let statuses = block_on(ex.run(async {
        let mut all = Vec::new();
        for code in 0..20 {
            let status = Command::new("sh")
                .arg("-c")
                .arg(format!("exit {code}"))
                .status();
            all.push(status.await.unwrap().code());
        }
        all
    }));
    assert_eq!(statuses, (0..20).map(Some).collect::<Vec<_>>());
    assert_eq!(
        reactor_threads(),
        0,
        "a driver was running: no thread needed"
    );

    // An awaited child needs neither: its waiter watches it.
    let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
    drop(task);
    drop(ex);
    let status = block_on(child.status()).unwrap();
    assert!(status.success());
    if childfd::backend().unwrap().name() == "pidfd" {
        assert_eq!(reactor_threads(), 0, "the waiter watched its child");
    }

    // A child dropped while running, with no driver left, is still reaped: the thread takes
    // over.
    let child = Command::new("sleep").arg("0.2").spawn().unwrap();
    let pid = child.id();
    drop(child);
    assert!(
        common::eventually(Duration::from_secs(5), || !common::children()
            .iter()
            .any(|(p, _)| *p == pid)),
        "the dropped child was reaped"
    );
    assert_eq!(reactor_threads(), 1, "the thread took over");

    // With the thread running, a new driver takes over again and the thread stands aside.
    let ex = smol::LocalExecutor::new();
    ex.spawn(driver()).detach();
    let status = block_on(ex.run(async {
        async_io::Timer::after(Duration::from_millis(10)).await;
        Command::new("true").status().await
    }));
    assert!(status.unwrap().success());
}
