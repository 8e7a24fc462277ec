//! async-io sources and timers, without async-io's panics.
//!
//! The first source (or the first poll of a timer) starts async-io's reactor, and with it its `async-io` thread and its
//! epoll descriptor, both behind an `expect`: at the process limit (`RLIMIT_NPROC`) or the fd
//! limit, the first pipe or the first wait would panic (issue 14, item 8). Until async-io is
//! known to run, a thread of our own is started first, so that the limit comes back as its
//! `EAGAIN`; a panic that still happens (the limit reached in between, or `EMFILE`) is caught.
//! async-io keeps its reactor in a `OnceLock`, which stays empty after a panicking
//! initialiser, so the next call tries again. Timers go through [`sleep`] and [`timeout_at`],
//! which start the reactor that way first: with the helper-thread backend, a bounded wait's
//! timer can be the crate's first use of async-io.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::FutureExt;

static STARTED: AtomicBool = AtomicBool::new(false);

/// Runs `make`, which creates an async-io source, turning a failure to start async-io's
/// reactor into an error.
pub(crate) fn guarded<T>(make: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    if STARTED.load(Ordering::Acquire) {
        return make();
    }
    let probe = std::thread::Builder::new()
        .name("childfd-probe".into())
        .spawn(|| {})?;
    let _ = probe.join();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(make)) {
        Ok(made) => {
            if made.is_ok() {
                STARTED.store(true, Ordering::Release);
            }
            made
        }
        Err(_) => Err(io::Error::other(
            "childfd: async-io could not start its reactor (its thread or its epoll \
             descriptor: a process or fd limit); see the panic message",
        )),
    }
}

/// Starts async-io's reactor, as [`guarded`] does for a source. A `Timer` starts it at its
/// first poll, behind the same `expect`s: every timer of the crate is made after this.
pub(crate) fn start() -> io::Result<()> {
    if STARTED.load(Ordering::Acquire) {
        return Ok(());
    }
    guarded(|| {
        // Polling a pending timer inserts it in the reactor, which creates the reactor.
        let mut timer = Timer::after(Duration::from_secs(3600));
        let _ = futures_lite::future::block_on(futures_lite::future::poll_once(&mut timer));
        Ok(())
    })
}

/// async-io's `Timer::after`, its reactor started by [`start`].
pub(crate) async fn sleep(delay: Duration) -> io::Result<()> {
    start()?;
    Timer::after(delay).await;
    Ok(())
}

/// `Some(output)` if `fut` completes before `deadline`; `None` for the deadline means never
/// (a limit past what `Instant` can represent, such as `Duration::MAX`).
///
/// # Errors
/// async-io's reactor could not be started for the timer (see [`start`]).
pub(crate) async fn timeout_at<T>(
    deadline: Option<Instant>,
    fut: impl Future<Output = T>,
) -> io::Result<Option<T>> {
    let Some(deadline) = deadline else {
        return Ok(Some(fut.await));
    };
    start()?;
    let finished = async { Some(fut.await) }
        .or(async {
            Timer::at(deadline).await;
            None
        })
        .await;
    Ok(finished)
}
