//! Many children, and whichever exits first: Plan 9's `wait()`, WASIX's `proc_join(None)`,
//! Inferno's `Wait->monitor` channel.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use slab::Slab;

use crate::reactor::Reactor;
use crate::state::ExitQueue;
use crate::{Child, Exit};

mod watch;

use watch::SetWatch;

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
    members: Slab<Member>,
    queue: Arc<ExitQueue>,
    watch: SetWatch,
    /// The waiter's registration with the queue, for a set without a poller.
    wait_id: u64,
    /// Watches the backstop's poller while no reactor thread exists (see `Reactor::help`).
    helper: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Members inserted so far, to order those that share a pid.
    inserted: u64,
}

struct Member {
    /// Dropped before the child: the set's watch of its descriptor ends first.
    watched: bool,
    /// When it was inserted, counting from the set's creation: slab keys are reused.
    order: u64,
    child: Child,
}

impl ChildSet {
    /// An empty set.
    pub fn new() -> ChildSet {
        let watch = SetWatch::new();
        let queue = Arc::new(ExitQueue::new(watch.notifier()));
        ChildSet {
            members: Slab::new(),
            queue,
            watch,
            wait_id: 0,
            helper: None,
            inserted: 0,
        }
    }

    /// Adds `child` and returns its pid. A child that has already exited is reported by the
    /// next call to [`next()`](ChildSet::next) or [`try_next()`](ChildSet::try_next).
    pub fn insert(&mut self, child: Child) -> u32 {
        let pid = child.id();
        let entry = self.members.vacant_entry();
        let key = entry.key();
        child.state.join_set(&self.queue, key);
        // A member the set cannot watch itself (no pidfd, or no poller: EMFILE) is left to
        // the backstop, which pushes its exit to the queue.
        let watched = self.watch.add(&child.state, key);
        if !watched {
            let _ = child.reactor.adopt(&child.state);
        }
        self.inserted += 1;
        let order = self.inserted;
        entry.insert(Member {
            watched,
            order,
            child,
        });
        pid
    }

    /// The member with this pid, to signal it or `shutdown` it (Unix); its exit
    /// is still reported by the set.
    ///
    /// A member that has been reaped but not yet reported keeps its pid here, and the kernel
    /// may give that pid to a member inserted since: the pid then names the member that holds
    /// it now, the one not yet reaped (at most one can be). Only when every member with this
    /// pid has been reaped is one of them returned, the last inserted.
    pub fn get_mut(&mut self, pid: u32) -> Option<&mut Child> {
        let key = self.find(pid)?;
        Some(&mut self.members[key].child)
    }

    /// Takes the member with this pid out of the set; its exit will not be reported here.
    /// The member is chosen as by [`get_mut`](ChildSet::get_mut).
    pub fn remove(&mut self, pid: u32) -> Option<Child> {
        let key = self.find(pid)?;
        let member = self.members.remove(key);
        if member.watched {
            self.watch.remove(key);
        }
        member.child.state.leave_set();
        Some(member.child)
    }

    /// The key of the member `pid` names: the one not yet reaped, else the last inserted.
    /// A member's pid is the kernel's to reuse once it is reaped, so the set may hold it
    /// twice (issue 14 item 9).
    fn find(&self, pid: u32) -> Option<usize> {
        self.members
            .iter()
            .filter(|(_, m)| m.child.id() == pid)
            .max_by_key(|(_, m)| (!m.child.state.is_done(), m.order))
            .map(|(key, _)| key)
    }

    /// How many members have not been reported yet.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether every member has been reported.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The exit of a member that has exited, if any, without blocking. `None` also for an
    /// empty set: check [`is_empty()`](ChildSet::is_empty).
    ///
    /// # Errors
    /// A member's status was lost to another reaper (see [`Child::status`]).
    pub fn try_next(&mut self) -> Option<io::Result<(u32, Exit)>> {
        if let Some(item) = self.take_ready() {
            return Some(item);
        }
        if self.reap_ready(Some(std::time::Duration::ZERO)).is_err() {
            self.give_up_watch();
        }
        self.help_backstop_now();
        self.take_ready()
    }

    /// Waits for the next member to exit and returns its pid and [`Exit`]; `None` once every
    /// member has been reported. Cancel-safe: an exit is only taken from the set when returned.
    ///
    /// # Errors
    /// A member's status was lost to another reaper (see [`Child::status`]).
    // An async `next`, as `StreamExt::next` and Plan 9's `wait`: not `Iterator::next`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> impl Future<Output = Option<io::Result<(u32, Exit)>>> + '_ {
        futures_lite::future::poll_fn(move |cx| self.poll_next_exit(cx))
    }

    /// [`next()`](ChildSet::next) for blocking code: the calling thread waits in the set's
    /// poller itself.
    ///
    /// # Errors
    /// As [`next()`](ChildSet::next).
    pub fn next_blocking(&mut self) -> Option<io::Result<(u32, Exit)>> {
        loop {
            if let Some(item) = self.take_ready() {
                return Some(item);
            }
            if self.members.is_empty() {
                return None;
            }
            if self.watch.is_active() {
                if self.members.iter().any(|(_, m)| !m.watched) {
                    // Some members are the backstop's, which must then be polled meanwhile.
                    if let Err(e) = start_backstop_thread() {
                        return Some(Err(e));
                    }
                }
                if self.reap_ready(None).is_err() {
                    self.give_up_watch();
                }
                continue;
            }
            // Only the backstop watches the members.
            if let Err(e) = start_backstop_thread() {
                return Some(Err(e));
            }
            let queue = &self.queue;
            queue.waiters.block_until(|| !queue.is_empty());
        }
    }

    /// Reaps the members the set's poller says may have exited, waiting at most `timeout`.
    ///
    /// # Errors
    /// What `epoll_wait` reports: the set then leaves its members to the backstop.
    fn reap_ready(&mut self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        let members = &self.members;
        self.watch.poll(timeout, |key| {
            let child = &members.get(key)?.child;
            Some((child.reactor, child.state.clone()))
        })
    }

    /// The set's poller cannot be watched from this executor (async-io refused it): its
    /// members go to the backstop, which pushes their exits to the queue.
    fn give_up_watch(&mut self) {
        self.watch = SetWatch::inactive();
        for (_, member) in self.members.iter_mut() {
            if std::mem::take(&mut member.watched) {
                let _ = member.child.reactor.adopt(&member.child.state);
            }
        }
    }

    /// In `driver()` mode the backstop may not be polled right now: poll it once.
    fn help_backstop_now(&self) {
        if let Ok(reactor) = Reactor::get() {
            if !reactor.drivers.thread_started() {
                let _ = reactor.try_poll_now();
            }
        }
    }

    fn take_ready(&mut self) -> Option<io::Result<(u32, Exit)>> {
        while let Some(key) = self.queue.pop() {
            let Some(member) = self.members.get_mut(key) else {
                continue;
            };
            let child = &mut member.child;
            let pid = child.id();
            let exit = match child.try_exited() {
                // The key of a removed member, reused by a newer one: its own exit will queue
                // the key again.
                Ok(None) => continue,
                Ok(Some(exit)) => Ok((pid, exit)),
                // Name the member whose status was lost: it leaves the set with this error.
                Err(e) => Err(io::Error::new(e.kind(), format!("child {pid}: {e}"))),
            };
            if self.members.remove(key).watched {
                self.watch.remove(key);
            }
            return Some(exit);
        }
        None
    }

    fn poll_next_exit(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<(u32, Exit)>>> {
        loop {
            if let Some(item) = self.take_ready() {
                return Poll::Ready(Some(item));
            }
            if self.members.is_empty() {
                return Poll::Ready(None);
            }
            if self.watch.is_active() {
                // Every exit wakes the set's poller: its members' pidfds are in it, and the
                // backstop's pushes to the queue notify it. Readiness first, then the reap.
                match self.watch.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        if self.reap_ready(Some(std::time::Duration::ZERO)).is_err() {
                            self.give_up_watch();
                        }
                        continue;
                    }
                    Poll::Ready(Err(_)) => {
                        self.give_up_watch();
                        continue;
                    }
                    Poll::Pending => return self.help_drive(cx),
                }
            }
            // The members are only watched by the backstop: listen to the queue it feeds.
            self.queue.waiters.register(&mut self.wait_id, cx.waker());
            if self.queue.is_empty() {
                return self.help_drive(cx);
            }
        }
    }

    /// While no reactor thread exists, the waiter watches the backstop's poller too (see
    /// `driver()`).
    fn help_drive(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<(u32, Exit)>>> {
        if let Ok(reactor) = Reactor::get() {
            if !reactor.drivers.thread_started() {
                let _ = reactor.try_poll_now();
                if let Some(item) = self.take_ready() {
                    return Poll::Ready(Some(item));
                }
                let helper = self.helper.get_or_insert_with(|| Box::pin(reactor.help()));
                if helper.as_mut().poll(cx).is_ready() {
                    // The thread started meanwhile: it does the work from now on.
                    self.helper = None;
                }
            }
        }
        Poll::Pending
    }
}

/// For a blocking wait on members the backstop watches: its thread must run, since no
/// executor polls a `driver()` while the caller is blocked.
fn start_backstop_thread() -> io::Result<()> {
    let reactor = Reactor::get()?;
    reactor.drivers.start_thread(reactor)
}

impl Default for ChildSet {
    fn default() -> ChildSet {
        ChildSet::new()
    }
}

impl Drop for ChildSet {
    fn drop(&mut self) {
        self.queue.waiters.unregister(self.wait_id);
    }
}

impl futures_core::Stream for ChildSet {
    type Item = io::Result<(u32, Exit)>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_exit(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.members.len()))
    }
}

impl fmt::Debug for ChildSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSet")
            .field("members", &self.members.len())
            .finish()
    }
}
