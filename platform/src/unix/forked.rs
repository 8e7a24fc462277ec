//! Telling a `fork()`ed copy of the process from the original at the cost of an atomic load,
//! rather than a `getpid(2)` per wait.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTERED: AtomicBool = AtomicBool::new(false);
static REGISTER: Once = Once::new();

/// Runs in the child of every `fork()` made through the C library, before `fork` returns
/// there: only an atomic add, which is async-signal-safe as such a handler must be in a
/// multithreaded program (pthread_atfork(3)).
extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Who this process is, as far as forks go: equal values mean "not forked in between".
///
/// A counter bumped by a `pthread_atfork` child handler, registered by the first call, paired
/// with the process id if the handler could not be registered (`ENOMEM`). A raw `fork`
/// system call that bypasses the C library is seen through the pid only in that case.
pub fn fork_identity() -> (u64, u32) {
    REGISTER.call_once(|| {
        // SAFETY: `in_child` is an `extern "C" fn()` that lives for the whole program and
        // only does an atomic add; no prepare or parent handler is given.
        let ret = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
        REGISTERED.store(ret == 0, Ordering::Release);
    });
    let pid = match REGISTERED.load(Ordering::Acquire) {
        true => 0,
        false => std::process::id(),
    };
    (GENERATION.load(Ordering::Relaxed), pid)
}
