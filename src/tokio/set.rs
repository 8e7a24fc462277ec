//! [`crate::ChildSet`] for this module's [`Child`], its poller watched by tokio's I/O driver.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::set::{AsChild, Item, Set};
use crate::Exit;

use super::Child;

/// A set of [`Child`]ren that yields each one's exit as it happens, whichever comes first:
/// [`crate::ChildSet`] for tokio programs.
///
/// On Linux (the `pidfd` backend) the set keeps its members' pidfds in an epoll of its own,
/// and [`next()`](ChildSet::next) registers that one descriptor in the current runtime's I/O
/// driver (`AsyncFd`): the kernel wakes the runtime's own thread, whether the set holds one
/// child or thousands, with no task per child. Where tokio cannot watch it (outside a
/// runtime, in a runtime built without `enable_io`, once the runtime is shutting down) it
/// goes through the crate's reactor instead, as [`Child::wait`] does; on a current-thread
/// runtime only entered (`rt.enter()`) and polled by another executor, through both. Members of other backends (the
/// helper-thread fallback, FreeBSD, macOS) are watched by the crate's backstop reactor,
/// which tells the set of each exit.
///
/// A member is reaped when the set is polled, and its exit reported exactly once, by
/// `next`, `try_next` or `next_blocking`, which then drop it. Its pipes stay with it
/// meanwhile, reachable through [`get_mut`](ChildSet::get_mut) and given back by
/// [`remove`](ChildSet::remove); unlike [`Child::wait`], inserting does not close stdin.
/// Take the pipes you read before inserting (or through `get_mut`): a child blocked writing
/// to a full pipe nobody reads never exits. Dropping the set drops its members: each is
/// reaped in the background, after `SIGKILL` if it was spawned with
/// [`kill_on_drop`](super::Command::kill_on_drop).
///
/// A `ChildSet` is also a [`Stream`](futures_core::Stream) of the same items as
/// [`next()`](ChildSet::next) (`tokio_stream::StreamExt` works on it).
///
/// # Examples
/// ```
/// # #[cfg(target_os = "linux")]
/// # tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(async {
/// use childfd::tokio::{ChildSet, Command};
///
/// let mut set = ChildSet::new();
/// for secs in ["0.2", "0.1", "0"] {
///     set.insert(Command::new("sleep").arg(secs).spawn()?);
/// }
/// let mut order = Vec::new();
/// while let Some(exit) = set.next().await {
///     let (pid, exit) = exit?;
///     assert!(exit.status().success());
///     order.push(pid);
/// }
/// assert_eq!(order.len(), 3);
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct ChildSet {
    set: Set<Child>,
    /// How tokio watches the set's poller during the current wait.
    #[cfg(target_os = "linux")]
    tokio: linux::Tokio,
}

impl AsChild for Child {
    fn child(&self) -> &crate::Child {
        self.inner()
    }

    fn child_mut(&mut self) -> &mut crate::Child {
        self.inner_mut()
    }
}

impl ChildSet {
    /// An empty set.
    pub fn new() -> ChildSet {
        ChildSet {
            set: Set::new(),
            #[cfg(target_os = "linux")]
            tokio: linux::Tokio::Untried,
        }
    }

    /// Adds `child`, with its pipes, and returns its pid. A child that has already exited
    /// (even one already waited for) is reported by the next call to
    /// [`next()`](ChildSet::next) or [`try_next()`](ChildSet::try_next).
    pub fn insert(&mut self, child: Child) -> u32 {
        self.set.insert(child)
    }

    /// The member with this pid, to signal it, kill it or take its pipes; its exit is still
    /// reported by the set. A pid held by two members (one reaped but not yet reported, the
    /// kernel having given its pid to one inserted since) is resolved as by
    /// [`crate::ChildSet::get_mut`].
    pub fn get_mut(&mut self, pid: u32) -> Option<&mut Child> {
        self.set.get_mut(pid)
    }

    /// Takes the member with this pid out of the set, with its pipes; its exit will not be
    /// reported here (wait for it with [`Child::wait`]). The member is chosen as by
    /// [`get_mut`](ChildSet::get_mut).
    pub fn remove(&mut self, pid: u32) -> Option<Child> {
        self.set.remove(pid)
    }

    /// How many members have not been reported yet.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether every member has been reported.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The exit of a member that has exited, if any, without waiting. `None` also for an
    /// empty set: check [`is_empty()`](ChildSet::is_empty).
    ///
    /// # Errors
    /// A member's status was lost to another reaper (see [`Child::wait`]).
    pub fn try_next(&mut self) -> Option<io::Result<(u32, Exit)>> {
        self.set.try_next()
    }

    /// Waits for the next member to exit and returns its pid and [`Exit`] (see
    /// [`Exit::status`]); `None` once every member has been reported. Cancel-safe, as in a
    /// `tokio::select!` loop: an exit is only taken from the set when returned.
    ///
    /// # Errors
    /// A member's status was lost to another reaper (see [`Child::wait`]); that member leaves
    /// the set with the error.
    // An async `next`, as `StreamExt::next` and `JoinSet::join_next`: not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> impl Future<Output = Option<io::Result<(u32, Exit)>>> + '_ {
        Next(self)
    }

    /// [`next()`](ChildSet::next) for blocking code (e.g. in `spawn_blocking`): the calling
    /// thread waits in the set's poller itself.
    ///
    /// # Errors
    /// As [`next()`](ChildSet::next).
    pub fn next_blocking(&mut self) -> Option<io::Result<(u32, Exit)>> {
        self.set.next_blocking()
    }

    fn poll_next_exit(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        #[cfg(target_os = "linux")]
        {
            let poll = linux::poll_next_exit(&mut self.set, &mut self.tokio, cx);
            if poll.is_ready() {
                self.end_wait();
            }
            poll
        }
        #[cfg(not(target_os = "linux"))]
        self.set.poll_next_exit(cx)
    }

    /// The wait is over (an item returned, or its future dropped): the next one registers
    /// with the runtime it runs in, which may be another.
    fn end_wait(&mut self) {
        #[cfg(target_os = "linux")]
        {
            self.tokio = linux::Tokio::Untried;
        }
    }
}

/// The future of [`ChildSet::next`].
struct Next<'a>(&'a mut ChildSet);

impl Future for Next<'_> {
    type Output = Option<Item>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.0.poll_next_exit(cx)
    }
}

impl Drop for Next<'_> {
    fn drop(&mut self) {
        self.0.end_wait();
    }
}

impl Default for ChildSet {
    fn default() -> ChildSet {
        ChildSet::new()
    }
}

impl futures_core::Stream for ChildSet {
    type Item = io::Result<(u32, Exit)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_exit(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.set.len()))
    }
}

impl fmt::Debug for ChildSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSet")
            .field("members", &self.set.len())
            .finish()
    }
}

/// Linux: the set's poller (an epoll) is the one descriptor tokio's driver watches. Elsewhere
/// the set has no poller (only Linux members have a descriptor to put in one), so the
/// backstop's thread wakes it either way.
#[cfg(target_os = "linux")]
mod linux {
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use ::tokio::io::unix::AsyncFd;
    use ::tokio::io::Interest;
    use ::tokio::runtime::Handle;
    use polling::Poller;

    use super::{Child, Item, Set};

    pub(super) enum Tokio {
        /// Not tried yet for this wait.
        Untried,
        /// The set's poller in the current runtime's driver; `driven`: see `register`.
        Watch {
            fd: AsyncFd<Arc<Poller>>,
            driven: bool,
        },
        /// tokio cannot watch it during this wait: async-io's reactor does.
        Cannot,
    }

    impl Tokio {
        fn register(poller: Arc<Poller>, waker: &Waker) -> Tokio {
            let Ok(handle) = Handle::try_current() else {
                return Tokio::Cannot;
            };
            // `with_interest` is deprecated in favour of the `unsafe` `register_with_interest`
            // (tokio#8587: the fd must stay open while registered), which this crate cannot
            // call; the `AsyncFd` owns an `Arc` of the poller, so its epoll stays open until
            // the `AsyncFd` has deregistered it. It panics in a runtime without I/O.
            #[allow(deprecated)]
            let fd = super::super::quietly(|| AsyncFd::with_interest(poller, Interest::READABLE));
            let Some(Ok(fd)) = fd else {
                return Tokio::Cannot;
            };
            // As for a single child: a current-thread runtime polled outside its scheduler
            // (merely entered, the set awaited by another executor) may not be driven at all,
            // so async-io watches too.
            let driven = crate::tokio::linux::driven(&handle, waker);
            Tokio::Watch { fd, driven }
        }
    }

    /// `next()`: as `Set::poll_next_exit`, with tokio's driver telling of the poller's
    /// readiness instead of async-io's reactor, where it can.
    pub(super) fn poll_next_exit(
        set: &mut Set<Child>,
        tokio: &mut Tokio,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Item>> {
        loop {
            if let Some(item) = set.take_ready() {
                return Poll::Ready(Some(item));
            }
            if set.is_empty() {
                return Poll::Ready(None);
            }
            // No poller: the backstop alone watches the members and wakes the set's waiter.
            let Some(poller) = set.poller() else {
                break;
            };
            if let Tokio::Untried = tokio {
                *tokio = Tokio::register(poller, cx.waker());
            }
            let Tokio::Watch { fd, driven } = tokio else {
                break;
            };
            if set.poll_retry(cx)? {
                if set.reap_ready(Some(Duration::ZERO)).is_err() {
                    set.give_up_watch();
                }
                continue;
            }
            let driver_gone = match fd.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    // tokio is edge-triggered: its readiness is forgotten only once the
                    // poller has been emptied, or events left in it would never wake us.
                    match set.reap_ready(Some(Duration::ZERO)) {
                        Ok(true) => guard.clear_ready(),
                        Ok(false) => {}
                        Err(_) => set.give_up_watch(),
                    }
                    false
                }
                // The runtime is shutting down.
                Poll::Ready(Err(_)) => true,
                Poll::Pending if *driven => return set.help_drive_if_needed(cx),
                Poll::Pending => break,
            };
            if driver_gone {
                *tokio = Tokio::Cannot;
                break;
            }
        }
        set.poll_next_exit(cx)
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn send<T: Send>(_: &T) {}
    fn next(set: &mut ChildSet) {
        send(set);
        send(&set.next());
    }
    let _ = next;
}
