//! Who polls the reactor: a `driver()` future on the caller's executor, or else one thread.
//!
//! The thread, named `childfd-reactor`, starts when the first child is spawned while no
//! `driver()` future is running, and then stays (async-process does the same with its
//! "async-process" thread). While a driver runs, the thread stands aside: the driver moves it
//! out of `Poller::wait` with `notify()`, and it parks until the last driver is dropped.
//! A driver dropped while children remain starts the thread if it was never started, so a
//! child is never left without someone to notice its exit.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

use event_listener::{Event, Listener};

use crate::reactor::{lock, Reactor};

/// The bookkeeping of who drives the reactor.
#[derive(Debug)]
pub(crate) struct Drivers {
    /// Running `driver()` futures.
    count: AtomicUsize,
    /// Notified when `count` drops to zero.
    released: Event,
    thread_started: AtomicBool,
    start_lock: Mutex<()>,
}

/// The reactor thread only reaps and wakes; the wakers it calls are executors' queue pushes.
const THREAD_STACK: usize = 128 * 1024;

impl Drivers {
    pub(crate) fn new() -> Drivers {
        Drivers {
            count: AtomicUsize::new(0),
            released: Event::new(),
            thread_started: AtomicBool::new(false),
            start_lock: Mutex::new(()),
        }
    }

    /// Makes sure someone polls the reactor: a running `driver()`, or the thread.
    ///
    /// # Errors
    /// The thread could not be spawned (`EAGAIN`, `ENOMEM`).
    pub(crate) fn ensure_driven(&self, reactor: &'static Reactor) -> io::Result<()> {
        if self.count.load(Ordering::SeqCst) > 0 || self.thread_started.load(Ordering::Acquire) {
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

    pub(crate) fn enter(&self, reactor: &Reactor) {
        self.count.fetch_add(1, Ordering::SeqCst);
        // Moves the thread, if it is in `wait`, out of the way; sticky if it is not.
        let _ = reactor.poller.notify();
    }

    fn leave(&self, reactor: &'static Reactor) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.released.notify(usize::MAX);
            if reactor.has_children() {
                // Nothing can report this error; the next spawn retries and reports it.
                let _ = self.ensure_driven(reactor);
            }
        }
    }

    /// Parks the calling thread while any driver runs.
    fn wait_released(&self) {
        while self.count.load(Ordering::SeqCst) > 0 {
            let listener = self.released.listen();
            if self.count.load(Ordering::SeqCst) == 0 {
                break;
            }
            listener.wait();
        }
    }
}

fn run_thread(reactor: &'static Reactor) {
    loop {
        reactor.drivers.wait_released();
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
/// counts on that future being polled: children spawned meanwhile start no thread, and a
/// `childfd-reactor` thread that already runs stands aside. When the last driver is dropped
/// while children remain, the thread takes over. The future never completes: spawn it as a
/// background task, as with `async-process`.
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
        reactor.drivers.enter(reactor);
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
    #[cfg(unix)]
    if let Ok(reactor) = Reactor::get() {
        if let Ok(source) = poller_source(reactor) {
            loop {
                // Errors are those of epoll_wait: persistent, and the thread would hit them too.
                let _ = reactor.poll_once(Some(std::time::Duration::ZERO));
                if source.readable().await.is_err() {
                    break;
                }
            }
        }
    }
    // The poller cannot be watched from here: let the thread do the work.
    drop(guard);
    futures_lite::future::pending().await
}
/// The poller's own descriptor as an async-io source: an epoll (or kqueue) fd is readable
/// while it has events to deliver.
#[cfg(unix)]
fn poller_source(reactor: &Reactor) -> io::Result<async_io::Async<std::os::unix::io::OwnedFd>> {
    use std::os::unix::io::AsFd;
    async_io::Async::new(reactor.poller.as_fd().try_clone_to_owned()?)
}

struct CallOnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for CallOnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
