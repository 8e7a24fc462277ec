//! Reapers that race: the awaiting task, a second waiter, the backstop reactor, `try_status`
//! and a blocking wait, on one child. Exactly one reaps, every one sees the same exit, and
//! nothing is left behind. Its own binary: it counts process-wide resources.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use childfd::{Child, Command};
use common::{block_on, children, eventually, open_fds};

const ROUNDS: i32 = 200;

fn exiting(code: i32) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("exit {code}"))
        .spawn()
        .unwrap()
}

fn settled(fds: usize) {
    assert!(
        eventually(Duration::from_secs(20), || children().is_empty()),
        "children left: {:?}",
        children()
    );
    assert!(
        eventually(Duration::from_secs(5), || open_fds() <= fds),
        "descriptors: {fds} before, {} after: {:?}",
        open_fds(),
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .map(|e| std::fs::read_link(e.path()).unwrap_or_default())
            .collect::<Vec<_>>()
    );
}

/// The tests count process-wide resources: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Warms up async-io and the backstop, so that their descriptors are in the baseline.
fn baseline() -> usize {
    block_on(Command::new("true").status()).unwrap();
    drop(Command::new("true").spawn().unwrap());
    assert!(eventually(Duration::from_secs(5), || children().is_empty()));
    // tokio's I/O driver keeps a process-wide socket pair for its signal handling.
    drop(tokio_runtime());
    open_fds()
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
}

/// Runs `round` for exit codes 0 to 6 in turn, alone, then checks that nothing is left.
fn rounds(round: impl Fn(i32)) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fds = baseline();
    for n in 0..ROUNDS {
        round(n % 7);
    }
    settled(fds);
}

#[test]
fn every_reaper_gets_the_same_exit() {
    rounds(|code| {
        // The `Child` dropped while its status future waits: the future and the backstop race.
        let mut child = exiting(code);
        let status = child.status();
        drop(child);
        assert_eq!(block_on(status).unwrap().code(), Some(code));

        // Two futures of one child in one reactor (the second is refused there: EEXIST).
        let mut child = exiting(code);
        let (a, b) = (child.status(), child.status());
        let (a, b) = block_on(futures_lite::future::zip(a, b));
        assert_eq!(
            (a.unwrap().code(), b.unwrap().code()),
            (Some(code), Some(code))
        );

        // A tokio runtime and async-io on two threads.
        let mut child = exiting(code);
        let on_tokio = child.status();
        let tokio = std::thread::spawn(move || tokio_runtime().block_on(on_tokio));
        let here = block_on(child.status()).unwrap();
        assert_eq!(here.code(), Some(code));
        assert_eq!(tokio.join().unwrap().unwrap().code(), Some(code));

        // `try_status` spinning on another thread against a waiting future.
        let mut child = exiting(code);
        let waiting = child.status();
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut seen = None;
                while !stop.load(Ordering::SeqCst) && seen.is_none() {
                    seen = child.try_status().unwrap();
                }
                (child, seen)
            })
        };
        assert_eq!(block_on(waiting).unwrap().code(), Some(code));
        stop.store(true, Ordering::SeqCst);
        let (mut child, seen) = spinner.join().unwrap();
        if let Some(seen) = seen {
            assert_eq!(seen.code(), Some(code));
        }
        assert_eq!(child.try_status().unwrap().unwrap().code(), Some(code));

        // A blocking wait against an async waiter on another thread.
        let mut child = exiting(code);
        let waiting = child.status();
        let other = std::thread::spawn(move || block_on(waiting));
        assert_eq!(child.wait_blocking().unwrap().status().code(), Some(code));
        assert_eq!(other.join().unwrap().unwrap().code(), Some(code));

        // A bounded wait that expires, then a wait, then a drop.
        let mut child = Command::new("sleep").arg("0.02").spawn().unwrap();
        let early = block_on(child.status_timeout(Duration::from_micros(100))).unwrap();
        assert!(early.is_none() || early.unwrap().success());
        assert!(block_on(child.status()).unwrap().success());
        drop(child);
    });
}

#[test]
fn cancelled_waits_lose_no_exit() {
    rounds(|code| {
        let mut child = exiting(code);
        // Polled once (watching), then dropped at once, before or after the exit.
        {
            let status = child.status();
            let _ = block_on(futures_lite::future::poll_once(status));
        }
        if code % 2 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(block_on(child.status()).unwrap().code(), Some(code));

        // A status future that outlives its `Child`, cancelled (polled once or never): the
        // backstop then reaps the child (`rounds` checks that none is left).
        let mut child = Command::new("sleep").arg("0.01").spawn().unwrap();
        let status = child.status();
        drop(child);
        if code % 2 == 0 {
            let _ = block_on(futures_lite::future::poll_once(status));
        } else {
            drop(status);
        }
    });
}
