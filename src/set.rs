//! Many children, and whichever exits first: Plan 9's `wait()`, WASIX's `proc_join(None)`,
//! Inferno's `Wait->monitor` channel.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::{Child, Exit};

mod engine;
mod watch;

pub(crate) use engine::Set;
// For `childfd::tokio::ChildSet`.
#[cfg(all(unix, feature = "tokio"))]
pub(crate) use engine::{AsChild, Item};

/// A set of children that yields each one's exit as it happens, whichever comes first.
///
/// On Linux (the `pidfd` backend) the set watches its members' pidfds in a poller of its own,
/// and whoever polls the set is the thread the kernel wakes: under async-io (smol,
/// async-std, `async_io::block_on`), [`next()`](ChildSet::next) waits in async-io's reactor
/// on that one poller; [`next_blocking()`](ChildSet::next_blocking) waits in `epoll_wait` on
/// the calling thread. A set of a thousand children then costs what one poll over a thousand
/// descriptors costs: no task, thread or scan per member. Members of other backends are
/// watched by the backstop reactor, which tells the set of each exit.
///
/// Like a [`Child`], a set reaps its members when it is polled: an exited member stays a
/// zombie until the next call to `next`, `try_next` or `next_blocking`, and its
/// [`Exit::wall_time`] then includes the wait. Every exit is reported exactly once. Dropping
/// the set drops its members: each is reaped in the background, or killed first if it was
/// spawned with [`kill_on_drop`](crate::Command::kill_on_drop).
///
/// A `ChildSet` is also a [`Stream`](futures_core::Stream) of the same items as
/// [`next()`](ChildSet::next).
///
/// # Examples
/// ```
/// # #[cfg(target_os = "linux")]
/// # futures_lite::future::block_on(async {
/// use childfd::{ChildSet, Command};
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
}

impl ChildSet {
    /// An empty set.
    pub fn new() -> ChildSet {
        ChildSet { set: Set::new() }
    }

    /// Adds `child` and returns its pid. A child that has already exited is reported by the
    /// next call to [`next()`](ChildSet::next) or [`try_next()`](ChildSet::try_next).
    pub fn insert(&mut self, child: Child) -> u32 {
        self.set.insert(child)
    }

    /// The member with this pid, to signal it or `shutdown` it (Unix); its exit
    /// is still reported by the set.
    ///
    /// A member that has been reaped but not yet reported keeps its pid here, and the kernel
    /// may give that pid to a member inserted since: the pid then names the member that holds
    /// it now, the one not yet reaped (at most one can be). Only when every member with this
    /// pid has been reaped is one of them returned, the last inserted.
    pub fn get_mut(&mut self, pid: u32) -> Option<&mut Child> {
        self.set.get_mut(pid)
    }

    /// Takes the member with this pid out of the set; its exit will not be reported here.
    /// The member is chosen as by [`get_mut`](ChildSet::get_mut).
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

    /// The exit of a member that has exited, if any, without blocking. `None` also for an
    /// empty set: check [`is_empty()`](ChildSet::is_empty).
    ///
    /// # Errors
    /// A member's status was lost to another reaper (see [`Child::status`]).
    pub fn try_next(&mut self) -> Option<io::Result<(u32, Exit)>> {
        self.set.try_next()
    }

    /// Waits for the next member to exit and returns its pid and [`Exit`]; `None` once every
    /// member has been reported. Cancel-safe: an exit is only taken from the set when returned.
    ///
    /// # Errors
    /// A member's status was lost to another reaper (see [`Child::status`]).
    // An async `next`, as `StreamExt::next` and Plan 9's `wait`: not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> impl Future<Output = Option<io::Result<(u32, Exit)>>> + '_ {
        futures_lite::future::poll_fn(move |cx| self.set.poll_next_exit(cx))
    }

    /// [`next()`](ChildSet::next) for blocking code: the calling thread waits in the set's
    /// poller itself.
    ///
    /// # Errors
    /// As [`next()`](ChildSet::next).
    pub fn next_blocking(&mut self) -> Option<io::Result<(u32, Exit)>> {
        self.set.next_blocking()
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
        self.get_mut().set.poll_next_exit(cx)
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
