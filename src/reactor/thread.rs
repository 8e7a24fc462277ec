//! Who polls the backstop: `driver()` futures on the caller's executors (through `help`, which
//! waiters run too while no thread exists), or else one thread.
//!
//! The thread, named `childfd-reactor`, starts when the reactor first adopts a child while no
//! `driver()` future exists, or when the last driver is dropped while children remain, and
//! then stays (async-process does the same with its "async-process" thread). Once it runs it
//! does all the work, and drivers have nothing left to do: a driver whose executor stopped
//! polling it can then delay no exit. A program that awaits every child it spawns (on Linux
//! with pidfds) never starts it.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

#[cfg(unix)]
use polling::Poller;

use super::Reactor;
use crate::sync::lock;

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
        let drivers_poll = cfg!(unix) && self.count() > 0;
        if drivers_poll || self.thread_started() {
            return Ok(());
        }
        self.start_thread(reactor)
    }

    /// Starts the thread unless it runs already: for waiters that cannot count on a driver
    /// being polled (blocking code, a poller an executor cannot watch).
    pub(crate) fn start_thread(&self, reactor: &'static Reactor) -> io::Result<()> {
        let _guard = lock(&self.start_lock);
        if self.thread_started() {
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

    pub(crate) fn leave(&self, reactor: &'static Reactor) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 && reactor.has_children() {
            // Nothing can report this error; the next spawn or drop retries and reports it.
            let _ = self.ensure_driven(reactor);
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub(crate) fn thread_started(&self) -> bool {
        self.thread_started.load(Ordering::Acquire)
    }
}

fn run_thread(reactor: &'static Reactor) {
    loop {
        // Wakers run inside `poll_once` and cannot unwind out of it (`state::notify_guarded`);
        // this catches what else might, so that exits are still noticed afterwards.
        let polled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.poll_once(None)));
        if !matches!(polled, Ok(Ok(()))) {
            // epoll_wait only fails for reasons that persist (EBADF, EFAULT, EINVAL); do not
            // spin on them.
            thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Reactor {
    /// Polls the reactor whenever its poller is ready, until the reactor thread exists; what
    /// `driver()` runs, and what waiters run meanwhile.
    pub(crate) async fn help(&'static self) {
        #[cfg(unix)]
        if let Some(source) = self.poller_source() {
            while !self.drivers.thread_started() {
                // Errors are those of epoll_wait: persistent, and the thread would hit them too.
                let _ = self.try_poll_now();
                let readable = async { source.readable().await.is_ok() };
                let ok = match self.next_retry() {
                    Some(at) => {
                        futures_lite::future::or(readable, async {
                            async_io::Timer::at(at).await;
                            true
                        })
                        .await
                    }
                    None => readable.await,
                };
                if !ok {
                    break;
                }
            }
            if self.drivers.thread_started() {
                return;
            }
        }
        // The poller cannot be watched from this executor: the thread does the work.
        let _ = self.drivers.start_thread(self);
        futures_lite::future::pending().await
    }

    /// The poller's own descriptor as an async-io source: an epoll (or kqueue) fd is readable
    /// while it has events to deliver. A failure is not cached (the next helper retries);
    /// meanwhile the thread does the work.
    #[cfg(unix)]
    fn poller_source(&'static self) -> Option<&'static async_io::Async<&'static Poller>> {
        if let Some(source) = self.source.get() {
            return Some(source);
        }
        // Registered by reference: no descriptor is duplicated, so a full fd table (EMFILE)
        // cannot stop a driver. A kqueue refuses O_NONBLOCK (FreeBSD's kqueue_ioctl answers
        // ENOTTY to FIONBIO), and only readiness is awaited, never a read, so the mode does
        // not matter: `new_nonblocking` leaves it alone.
        let source = crate::aio::guarded(|| async_io::Async::new_nonblocking(&self.poller)).ok()?;
        let _ = self.source.set(source);
        self.source.get()
    }
}
