//! In `driver()` mode, a wait that runs while no descriptor is free must not wedge the waits
//! that come after it (it used to: the driver's watch of the poller needed a `dup`, whose
//! `EMFILE` was remembered for good, and every later `status()` hung). Its own binary: the
//! driver and RLIMIT_NOFILE are process-wide.
#![cfg(target_os = "linux")]

mod common;

use std::fs::File;
use std::time::Duration;

use childfd::{driver, Command};
use common::{block_on, children, eventually};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

#[test]
fn waits_at_the_fd_limit_do_not_wedge_later_waits() {
    let ex = std::sync::Arc::new(smol::Executor::new());
    ex.spawn(driver()).detach();
    let runner = {
        let ex = ex.clone();
        std::thread::spawn(move || {
            block_on(ex.run(async_io::Timer::after(Duration::from_secs(50))))
        })
    };

    // Children spawned while descriptors are free: one awaited, one dropped (the backstop's).
    let mut awaited = Command::new("sleep").arg("0.3").spawn().unwrap();
    let dropped = Command::new("sleep").arg("0.3").spawn().unwrap();
    let dropped_pid = dropped.id();
    drop(dropped);

    // Then every descriptor is taken.
    let original = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(256),
            maximum: original.maximum,
        },
    )
    .unwrap();
    let mut hog = Vec::new();
    while let Ok(f) = File::open("/dev/null") {
        hog.push(f);
    }
    let full = Command::new("true").spawn().unwrap_err();
    assert_eq!(full.raw_os_error(), Some(24), "{full:?}");
    let status = block_on(awaited.status()).unwrap();
    assert!(status.success(), "the wait at the limit saw the exit");

    drop(hog);
    setrlimit(Resource::Nofile, original).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || !children()
            .iter()
            .any(|(p, _)| *p == dropped_pid)),
        "the dropped child was never reaped"
    );
    // Later waits, of both kinds, work.
    for code in 0..5 {
        let status = block_on(
            Command::new("sh")
                .arg("-c")
                .arg(format!("exit {code}"))
                .status(),
        );
        assert_eq!(status.unwrap().code(), Some(code));
        let late = Command::new("sleep").arg("0.05").spawn().unwrap();
        let pid = late.id();
        drop(late);
        assert!(eventually(Duration::from_secs(10), || !children()
            .iter()
            .any(|(p, _)| *p == pid)));
    }
    drop(runner);
}
