//! Linux: the pidfd watched by tokio's own I/O driver (`AsyncFd`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use ::tokio::runtime::{Handle, RuntimeFlavor};

use crate::reactor::Reactor;
use crate::state::{spurious_delay, ChildState, LentPidFd, Reaped};
use crate::Exit;

/// Whether a tokio runtime is current here (`None`: none is), and if so whether its I/O
/// driver is turned while the caller waits (see `driven`). A task id, or the waker of a
/// current-thread runtime's `block_on`, answers both without looking the runtime up.
pub(super) fn runtime_here(waker: &Waker) -> Option<bool> {
    if known_driven(waker) {
        return Some(true);
    }
    Handle::try_current().ok().map(|h| driven(&h, waker))
}

/// A tokio task is being polled, or a current-thread runtime's `block_on` body: either way
/// a scheduler turns the driver when this poll returns `Pending`.
fn known_driven(waker: &Waker) -> bool {
    ::tokio::task::try_id().is_some() || block_on_waker::is(waker)
}

/// Whether the current runtime's I/O driver is turned while the caller waits, polled with
/// `waker`.
///
/// A multi-thread runtime's workers always drive its I/O, and so does a current-thread
/// runtime while its `block_on` or one of its tasks runs on this thread. A current-thread
/// runtime may also be merely entered (`rt.enter()`) with the wait polled by another executor,
/// and then nothing drives tokio's driver: the caller's fallback watches too.
pub(super) fn driven(handle: &Handle, waker: &Waker) -> bool {
    if handle.runtime_flavor() != RuntimeFlavor::CurrentThread || known_driven(waker) {
        return true;
    }
    let scheduler = in_scheduler();
    if scheduler {
        block_on_waker::learn();
    }
    scheduler
}

/// Whether this thread runs a tokio scheduler now (a current-thread runtime's `block_on`, or
/// a task), which then turns the I/O driver when this poll returns `Pending`.
///
/// tokio has no public way to ask, and `try_id()` is `None` in a `block_on` body, where
/// `#[tokio::main(flavor = "current_thread")]` and `#[tokio::test]` await. So this asks
/// `yield_now`: with a scheduler on the thread, tokio defers the waker until after the driver
/// was polled; without one it must wake it at once (tokio 1.x, `runtime::context::defer`), or
/// `yield_now` would hang under other executors. A wrong `false` costs a second watch, never
/// a hang. The probe costs the scheduler one non-blocking turn of its driver. Not told apart:
/// a second runtime entered inside a current-thread runtime's `block_on` (its driver is
/// trusted, as tokio's own `AsyncFd` would be).
pub(super) fn in_scheduler() -> bool {
    use std::cell::Cell;
    use std::future::Future;
    use std::sync::OnceLock;
    use std::task::Wake;

    thread_local!(static WOKEN: Cell<bool> = const { Cell::new(false) });
    struct Probe;
    impl Wake for Probe {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            WOKEN.with(|w| w.set(true));
        }
    }
    static WAKER: OnceLock<Waker> = OnceLock::new();
    let waker = WAKER.get_or_init(|| Waker::from(Arc::new(Probe)));
    WOKEN.with(|w| w.set(false));
    let yielded = std::pin::pin!(::tokio::task::yield_now());
    let pending = yielded.poll(&mut Context::from_waker(waker)).is_pending();
    pending && !WOKEN.with(Cell::get)
}

/// The child's pidfd in tokio's driver, and the delay before it is watched again after a
/// readiness that was not an exit.
pub(super) struct Watch {
    source: AsyncFd<LentPidFd>,
    retry: Option<Pin<Box<dyn Future<Output = io::Result<()>> + Send + Sync>>>,
}

impl Watch {
    /// `None`: tokio cannot watch this child here (already reaped, another backend, a
    /// runtime without I/O).
    pub(super) fn new(state: &Arc<ChildState>) -> Option<Watch> {
        let fd = state.lend_pidfd()?;
        // `with_interest` is deprecated in favour of the `unsafe` `register_with_interest`
        // (tokio#8587: the fd must stay open while registered), which this crate cannot call;
        // a `LentPidFd` keeps its descriptor open until it is dropped, and the `AsyncFd`
        // deregisters it before dropping it, which is that promise kept. It panics in a
        // runtime without I/O.
        #[allow(deprecated)]
        let source = super::quietly(|| AsyncFd::with_interest(fd, Interest::READABLE))?.ok()?;
        Some(Watch {
            source,
            retry: None,
        })
    }

    /// Waits for readiness of the pidfd, then reaps. `Ready(None)`: the driver failed (the
    /// runtime is shutting down).
    pub(super) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        state: &ChildState,
        reactor: &Reactor,
    ) -> Poll<Option<io::Result<Exit>>> {
        loop {
            if self.retry.is_some() && ready!(self.poll_retry(cx)).is_err() {
                return Poll::Ready(None);
            }
            let Ok(guard) = ready!(self.source.poll_read_ready(cx)) else {
                return Poll::Ready(None);
            };
            match reactor.reap_now(state) {
                Reaped::Now(_, Some(exit)) => return Poll::Ready(Some(Ok(exit))),
                Reaped::Now(_, None) | Reaped::Before => return Poll::Ready(state.exit()),
                Reaped::Running(n) => {
                    // tokio is edge-triggered and a pidfd stays readable: the readiness is
                    // kept (not cleared) and the reap retried after a growing delay, for a
                    // zombie a tracer holds.
                    drop(guard);
                    self.spurious(n);
                }
            }
        }
    }

    #[cold]
    fn spurious(&mut self, n: u32) {
        let delay = spurious_delay(n);
        if !delay.is_zero() {
            self.retry = Some(Box::pin(crate::aio::sleep(delay)));
        }
    }

    #[cold]
    fn poll_retry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(retry) = &mut self.retry else {
            return Poll::Ready(Ok(()));
        };
        let done = ready!(retry.as_mut().poll(cx));
        self.retry = None;
        Poll::Ready(done)
    }
}

/// Telling the waker of a current-thread runtime's `block_on` from any other, so that a wait
/// in a `block_on` body (`#[tokio::main(flavor = "current_thread")]`, `#[tokio::test]`) does
/// not pay for `in_scheduler`'s extra turn of the driver (about 1 µs of a 50 µs
/// spawn-and-wait, issue 13).
///
/// tokio polls a `block_on` body with a waker of one vtable, its scheduler handle's (tokio 1.x,
/// `runtime::scheduler::current_thread`, `Handle::waker_ref`); no other future is polled with
/// it. It is learnt once, by running an empty future in a `block_on` of a runtime of our own,
/// on a short-lived thread: a thread where no runtime is entered is the only place tokio lets
/// a `block_on` start, and this is the one thread `childfd::tokio` ever starts, once, and only
/// in a program that was found awaiting in a `block_on`. A vtable that cannot be learnt, or
/// that differs (another copy of tokio's code, a waker wrapped by a combinator) only means the
/// probe runs: never a wrong "driven".
///
/// `Waker::vtable` needs Rust 1.83; before, the probe always runs.
mod block_on_waker {
    #[cfg(childfd_waker_getters)]
    use std::sync::OnceLock;
    use std::task::Waker;

    /// The address of the vtable, or `None` when it could not be learnt.
    #[cfg(childfd_waker_getters)]
    static VTABLE: OnceLock<Option<usize>> = OnceLock::new();

    // Built only by Rust 1.83 or later (build.rs).
    #[cfg(childfd_waker_getters)]
    #[allow(clippy::incompatible_msrv)]
    fn address(waker: &Waker) -> usize {
        let vtable: *const std::task::RawWakerVTable = waker.vtable();
        vtable as usize
    }

    pub(super) fn is(waker: &Waker) -> bool {
        #[cfg(childfd_waker_getters)]
        if let Some(Some(vtable)) = VTABLE.get() {
            return address(waker) == *vtable;
        }
        let _ = waker;
        false
    }

    pub(super) fn learn() {
        #[cfg(childfd_waker_getters)]
        VTABLE.get_or_init(|| {
            let learn = || {
                let rt = ::tokio::runtime::Builder::new_current_thread()
                    .build()
                    .ok()?;
                let poll =
                    |cx: &mut std::task::Context<'_>| std::task::Poll::Ready(address(cx.waker()));
                Some(rt.block_on(std::future::poll_fn(poll)))
            };
            let thread = std::thread::Builder::new()
                .name("childfd-learn".into())
                .stack_size(64 << 10)
                .spawn(learn);
            thread.ok()?.join().ok()?
        });
    }
}
