//! async-io sources, without async-io's panics.
//!
//! The first source starts async-io's reactor, and with it its `async-io` thread and its
//! epoll descriptor, both behind an `expect`: at the process limit (`RLIMIT_NPROC`) or the fd
//! limit, the first pipe or the first wait would panic (issue 14, item 8). Until async-io is
//! known to run, a thread of our own is started first, so that the limit comes back as its
//! `EAGAIN`; a panic that still happens (the limit reached in between, or `EMFILE`) is caught.
//! async-io keeps its reactor in a `OnceLock`, which stays empty after a panicking
//! initialiser, so the next call tries again.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

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
