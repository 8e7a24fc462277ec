//! Many children, and whichever exits first: Plan 9's `wait()`, WASIX's `proc_join(None)`,
//! Inferno's `Wait->monitor` channel.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use event_listener::{Event, EventListener};
use slab::Slab;

use crate::reactor::{lock, Reactor};
use crate::{Child, Exit};

/// The keys of members that have exited, in the order the reactor reaped them.
#[derive(Debug, Default)]
pub(crate) struct SetQueue {
    ready: Mutex<VecDeque<usize>>,
    event: Event,
}

impl SetQueue {
    pub(crate) fn push(&self, key: usize) {
        lock(&self.ready).push_back(key);
        self.event.notify(1);
    }

    fn pop(&self) -> Option<usize> {
        lock(&self.ready).pop_front()
    }
}

/// A set of children that yields each one's exit as it happens, whichever comes first.
///
/// The reactor pushes an exited member onto the set's queue when it reaps it, so a set of
/// thousands costs nothing per member beyond the child itself: no task, no thread, no scan of
/// the members on each exit. Every exit is reported exactly once. Dropping the set drops its
/// members: each is reaped in the background, or killed first if it was spawned with
/// [`kill_on_drop`](crate::Command::kill_on_drop).
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
    members: Slab<Child>,
    queue: Arc<SetQueue>,
    listener: Option<EventListener>,
    /// Watches the poller while no reactor thread exists (see [`Reactor::help`]).
    helper: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl ChildSet {
    /// An empty set.
    pub fn new() -> ChildSet {
        ChildSet {
            members: Slab::new(),
            queue: Arc::default(),
            listener: None,
            helper: None,
        }
    }

    /// Adds `child` and returns its pid. A child that has already exited is reported by the
    /// next call to [`next()`](ChildSet::next) or [`try_next()`](ChildSet::try_next).
    pub fn insert(&mut self, child: Child) -> u32 {
        let pid = child.id();
        let entry = self.members.vacant_entry();
        child.state.join_set(&self.queue, entry.key());
        entry.insert(child);
        pid
    }

    /// The member with this pid, to signal it or `shutdown` it (Unix); its exit
    /// is still reported by the set.
    pub fn get_mut(&mut self, pid: u32) -> Option<&mut Child> {
        self.members
            .iter_mut()
            .map(|(_, c)| c)
            .find(|c| c.id() == pid)
    }

    /// Takes the member with this pid out of the set; its exit will not be reported here.
    pub fn remove(&mut self, pid: u32) -> Option<Child> {
        let key = self
            .members
            .iter()
            .find(|(_, c)| c.id() == pid)
            .map(|(k, _)| k)?;
        let child = self.members.remove(key);
        child.state.leave_set();
        Some(child)
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
        // Driven from executors only: a driver may not be polled right now.
        if let Ok(reactor) = Reactor::get() {
            if !reactor.drivers.thread_started() {
                let _ = reactor.try_poll_now();
            }
        }
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

    /// [`next()`](ChildSet::next) for blocking code.
    ///
    /// # Errors
    /// As [`next()`](ChildSet::next).
    pub fn next_blocking(&mut self) -> Option<io::Result<(u32, Exit)>> {
        futures_lite::future::block_on(self.next())
    }

    fn take_ready(&mut self) -> Option<io::Result<(u32, Exit)>> {
        while let Some(key) = self.queue.pop() {
            let Some(child) = self.members.get_mut(key) else {
                continue;
            };
            let pid = child.id();
            let exit = match child.try_exited() {
                // The key of a removed member, reused by a newer one: its own exit will queue
                // the key again.
                Ok(None) => continue,
                Ok(Some(exit)) => Ok((pid, exit)),
                // Name the member whose status was lost: it leaves the set with this error.
                Err(e) => Err(io::Error::new(e.kind(), format!("child {pid}: {e}"))),
            };
            self.members.remove(key);
            return Some(exit);
        }
        None
    }

    fn poll_next_exit(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<(u32, Exit)>>> {
        loop {
            if let Some(item) = self.take_ready() {
                self.listener = None;
                return Poll::Ready(Some(item));
            }
            if self.members.is_empty() {
                self.listener = None;
                return Poll::Ready(None);
            }
            match &mut self.listener {
                None => self.listener = Some(self.queue.event.listen()),
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return self.help_drive(cx);
                    }
                    self.listener = None;
                }
            }
        }
    }

    /// While no reactor thread exists, the waiter watches the poller too (see `driver()`).
    fn help_drive(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<(u32, Exit)>>> {
        if let Ok(reactor) = Reactor::get() {
            if !reactor.drivers.thread_started() {
                let _ = reactor.try_poll_now();
                if let Some(item) = self.take_ready() {
                    self.listener = None;
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
