//! Who polls the reactor: a `driver()` future on the caller's executor, or else one thread.
//!
//! The thread, named `childfd-reactor`, starts when a child is spawned while no `driver()`
//! future exists, or when the last driver is dropped while children remain, and then stays
//! (async-process does the same with its "async-process" thread). Once it runs it does all
//! the work, and drivers have nothing left to do: a driver whose executor stopped polling it
//! can then delay no exit.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use crate::reactor::{lock, Reactor};

/// The bookkeeping of who drives the reactor.
#[derive(Debug)]
pub(crate) struct Drivers {
    /// Live `driver()` futures.
    count: AtomicUsize,
    thread_started: AtomicBool,
    start_lock: Mutex<()>,
}

/// The reactor thread only reaps and wakes; the wakers it calls are executors' queue pushes.
const THREAD_STACK: usize = 128 * 1024;

impl Drivers {
    pub(crate) fn new() -> Drivers {
        Drivers {
            count: AtomicUsize::new(0),
            thread_started: AtomicBool::new(false),
            start_lock: Mutex::new(()),
        }
    }

    /// Makes sure someone polls the reactor: a running `driver()`, or the thread.
    ///
    /// # Errors
    /// The thread could not be spawned (`EAGAIN`, `ENOMEM`).
    pub(crate) fn ensure_driven(&self, reactor: &'static Reactor) -> io::Result<()> {
        // A driver can only poll where the poller has a descriptor an executor can watch
        // (Unix: see `Reactor::help`). An IOCP cannot be, so on Windows the thread drives.
        let drivers_poll = cfg!(unix) && self.count.load(Ordering::SeqCst) > 0;
        if drivers_poll || self.thread_started.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = lock(&self.start_lock);
        if self.thread_started.load(Ordering::Acquire) {
            return Ok(());
        }
        thread::Builder::new()
            .name("childfd-reactor".into())
            .stack_size(THREAD_STACK)
            .spawn(move || run_thread(reactor))?;
        self.thread_started.store(true, Ordering::Release);
        Ok(())
    }

    pub(crate) fn enter(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn leave(&self, reactor: &'static Reactor) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 && reactor.has_children() {
            // Nothing can report this error; the next spawn retries and reports it.
            let _ = self.ensure_driven(reactor);
        }
    }

    pub(crate) fn thread_started(&self) -> bool {
        self.thread_started.load(Ordering::Acquire)
    }
}

fn run_thread(reactor: &'static Reactor) {
    loop {
        if reactor.poll_once(None).is_err() {
            // epoll_wait only fails for reasons that persist (EBADF, EFAULT, EINVAL); do not
            // spin on them.
            thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// Drives the reactor from the caller's executor, so that no `childfd-reactor` thread is
/// needed.
///
/// From the moment `driver()` is called until the returned future is dropped, the reactor
/// counts on that future being polled: children spawned meanwhile start no thread. When the
/// last driver is dropped while children remain, the thread takes over; once the thread runs
/// (it was started before any driver existed, or all drivers were dropped once), drivers have
/// nothing to do. The future never completes: spawn it as a background task, as with
/// `async-process`. Keep it polled: an executor that is neither run nor dropped stalls the
/// exits its driver was counted on for.
///
/// # Platform-specific behavior
/// On Windows the reactor's IOCP cannot be watched from an executor, so the thread is always
/// started with the first child and `driver()` does nothing (it stays pending forever).
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")]
/// # futures_lite::future::block_on(async {
/// use childfd::{driver, Command};
///
/// let ex = smol::LocalExecutor::new();
/// ex.spawn(driver()).detach();
/// let status = ex.run(async { Command::new("true").status().await }).await?;
/// assert!(status.success());
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
// An explicit `Send + 'static` in the signature is part of the API (async-process has it too).
#[allow(clippy::manual_async_fn)]
pub fn driver() -> impl Future<Output = Infallible> + Send + 'static {
    // Counted now rather than at the first poll, so that a child spawned right after
    // `spawn(driver())` (before the executor ran the task) does not start the thread.
    let guard = Reactor::get().ok().map(|reactor| {
        reactor.drivers.enter();
        CallOnDrop(move || reactor.drivers.leave(reactor))
    });
    async move {
        match guard {
            Some(guard) => drive(guard).await,
            // Without a reactor no child can be spawned, so there is nothing to drive.
            None => futures_lite::future::pending().await,
        }
    }
}

async fn drive<F: FnMut() + Send>(guard: CallOnDrop<F>) -> Infallible {
    if let Ok(reactor) = Reactor::get() {
        // Returns once the thread runs, which then does all the work.
        reactor.help().await;
    }
    drop(guard);
    futures_lite::future::pending().await
}

struct CallOnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for CallOnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
