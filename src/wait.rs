//! Waiting for one child: the thread the kernel wakes is the one that waits.
//!
//! | waiter | watches | woken by |
//! |---|---|---|
//! | a task under async-io (smol, async-std, `async_io::block_on`) | the pidfd as an async-io source | the kernel, on the thread that runs async-io's reactor: the waiting one when it is in `block_on` |
//! | a task on an executor without a reactor (`futures_lite::future::block_on`, `futures::executor`) or on tokio | the same source | async-io's own thread, which then wakes the task: one hop |
//! | blocking code (`wait_blocking`) | `poll(2)` on the pidfd | the kernel, on the calling thread |
//! | a second waiter in the same async-io reactor, and other backends | the backstop reactor | its thread (or a `driver()`), then the waiter's waker: one hop |
//!
//! Readiness is only a hint: the waiter then reaps with a non-blocking `waitid` under the
//! child's lock (see `state`), so it never races another reaper. A readiness that is not an
//! exit (a traced child's zombie held by its tracer) is retried after a growing delay, never
//! in a loop. Dropping a wait at any point loses nothing: the exit is published, under the
//! lock, by whoever reaps, and a watch only ever borrows the descriptor (an `Arc`), so its
//! deregistration always precedes the close.

use std::io;
use std::sync::Arc;

use crate::reactor::Reactor;
use crate::state::ChildState;
#[cfg(target_os = "linux")]
use crate::state::{spurious_delay, Reaped};
use crate::Exit;

/// Someone who will wait for a child, from the call that made the future (`status()`) to the
/// future's end (done or cancelled). While one exists, a dropped `Child` is not handed to the
/// backstop: the waiter watches it, or hands it over itself if it stops with the child
/// unreaped. That spares a second watch, and its wake-up, for the status future that outlives
/// its `Child` (`let s = child.status(); drop(child); s.await`, common in async-process code).
#[derive(Debug)]
pub(crate) struct Waiter {
    state: Arc<ChildState>,
    reactor: &'static Reactor,
    counted: bool,
}

impl Waiter {
    pub(crate) fn new(state: &Arc<ChildState>, reactor: &'static Reactor) -> Waiter {
        Waiter {
            state: state.clone(),
            reactor,
            counted: state.start_wait(),
        }
    }

    /// Waits until the child has been reaped, and returns its exit. Cancel-safe.
    pub(crate) async fn exited(&self) -> io::Result<Exit> {
        exited_inner(&self.state, self.reactor).await
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.counted && self.state.end_wait() {
            self.reactor.adopt_dropped(&self.state);
        }
    }
}

/// Waits until the child has been reaped, and returns its exit. Cancel-safe. (`Child`'s own
/// waits make their `Waiter` eagerly; this is for the Unix-only jobs and the tokio paths.)
#[cfg(any(unix, feature = "tokio"))]
pub(crate) async fn exited(state: &Arc<ChildState>, reactor: &'static Reactor) -> io::Result<Exit> {
    Waiter::new(state, reactor).exited().await
}

async fn exited_inner(state: &Arc<ChildState>, reactor: &'static Reactor) -> io::Result<Exit> {
    if let Some(exit) = state.exit() {
        return exit;
    }
    reactor.check_not_forked()?;
    #[cfg(target_os = "linux")]
    if let Some(fd) = state.pidfd() {
        // EEXIST means another waiter of this child has it in the same async-io reactor
        // (epoll takes a descriptor once); that and any other refusal leave the child to the
        // backstop.
        if let Ok(source) = crate::aio::guarded(|| async_io::Async::new_nonblocking(fd)) {
            if let Some(exit) = watch(state, reactor, source).await {
                return exit;
            }
        }
    }
    through_backstop(state, reactor).await
}

/// Waits on the child's own descriptor in async-io's reactor. `None`: the watch failed, and
/// the backstop must take over.
#[cfg(target_os = "linux")]
async fn watch(
    state: &ChildState,
    reactor: &Reactor,
    source: async_io::Async<Arc<platform::linux::PidFd>>,
) -> Option<io::Result<Exit>> {
    loop {
        let readable = async { source.readable().await.is_ok() };
        // A `Child` dropped with `reap_on_drop(false)` publishes its release while the child
        // runs, and the pidfd stays quiet until the exit: listen for that too. Only then,
        // since listening costs an allocation (the waker list).
        let ready = if state.releasable.load(std::sync::atomic::Ordering::Relaxed) {
            futures_lite::future::or(readable, async {
                state.until_done().await;
                true
            })
            .await
        } else {
            readable.await
        };
        if !ready {
            return None;
        }
        match reactor.reap_now(state) {
            Reaped::Running(n) => {
                let delay = spurious_delay(n);
                if !delay.is_zero() {
                    async_io::Timer::after(delay).await;
                }
            }
            Reaped::Now(_, Some(exit)) => {
                drop(source);
                return Some(Ok(exit));
            }
            Reaped::Now(_, None) | Reaped::Before => {
                drop(source);
                return state.exit();
            }
        }
    }
}

/// Hands the child to the backstop reactor and listens for the exit it publishes.
async fn through_backstop(state: &Arc<ChildState>, reactor: &'static Reactor) -> io::Result<Exit> {
    reactor.adopt(state)?;
    loop {
        if let Some(exit) = state.exit() {
            return exit;
        }
        if reactor.drivers.thread_started() {
            state.until_done().await;
        } else {
            // Until the thread exists, the waiter also watches the backstop's poller itself:
            // a `driver()` that is alive but no longer polled then delays nobody.
            futures_lite::future::or(state.until_done(), reactor.help()).await;
        }
    }
}

/// Parks the calling thread until the child has been reaped.
pub(crate) fn blocking(state: &Arc<ChildState>, reactor: &'static Reactor) -> io::Result<Exit> {
    loop {
        if let Some(exit) = state.exit() {
            return exit;
        }
        reactor.check_not_forked()?;
        #[cfg(target_os = "linux")]
        if let Some(fd) = state.pidfd() {
            use std::os::unix::io::AsFd;
            platform::unix::wait_readable(fd.as_fd(), None)?;
            drop(fd);
            if let Reaped::Running(n) = reactor.reap_now(state) {
                std::thread::sleep(spurious_delay(n));
            }
            continue;
        }
        reactor.adopt(state)?;
        // No executor polls a `driver()` while this thread is blocked: the thread must.
        reactor.drivers.start_thread(reactor)?;
        state.block_until_done();
    }
}
