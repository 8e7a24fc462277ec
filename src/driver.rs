//! `driver()`: the backstop reactor polled from the caller's executor instead of a thread.

use std::convert::Infallible;
use std::future::Future;

use crate::reactor::Reactor;

/// Drives the backstop reactor from the caller's executor, so that no `childfd-reactor`
/// thread is needed.
///
/// An awaited child is watched by its waiter (on Linux, through its pidfd in the executor's
/// own reactor); the backstop reactor watches what nobody awaits: dropped children (reaped,
/// or killed first with `kill_on_drop`), and every child of a backend that can only be
/// watched from one place (see [`backend()`](crate::backend())). It is the job `async-process`
/// gives its `driver()`, and this one has the same meaning.
///
/// From the moment `driver()` is called until the returned future is dropped, the reactor
/// counts on that future being polled: children adopted meanwhile start no thread. When the
/// last driver is dropped while children remain, the thread takes over; once the thread runs
/// (it was started before any driver existed, or all drivers were dropped once), drivers have
/// nothing to do. The future never completes: spawn it as a background task, as with
/// `async-process`. Keep it polled: an executor that is neither run nor dropped stalls the
/// exits its driver was counted on for. Blocking waits
/// ([`Child::wait_blocking`](crate::Child::wait_blocking)) that need the backstop start the
/// thread rather than count on a driver.
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
