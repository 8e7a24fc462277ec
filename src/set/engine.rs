//! The set itself, for any child type that holds a [`Child`] of this crate: the crate's own
//! (`crate::ChildSet`) and `childfd::tokio::Child` (`childfd::tokio::ChildSet`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use slab::Slab;

use crate::reactor::Reactor;
use crate::state::ExitQueue;
use crate::{Child, Exit};

use super::watch::SetWatch;

/// What a set holds: a [`Child`] of this crate, or a child type around one.
pub(crate) trait AsChild {
    fn child(&self) -> &Child;
    fn child_mut(&mut self) -> &mut Child;
}

impl AsChild for Child {
    fn child(&self) -> &Child {
        self
    }

    fn child_mut(&mut self) -> &mut Child {
        self
    }
}

/// An exit as a set reports it.
pub(crate) type Item = io::Result<(u32, Exit)>;

pub(crate) struct Set<C> {
    members: Slab<Member<C>>,
    queue: Arc<ExitQueue>,
    watch: SetWatch,
    /// The waiter's registration with the queue, for a set without a poller.
    wait_id: u64,
    /// Watches the backstop's poller while no reactor thread exists (see `Reactor::help`).
    helper: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Members inserted so far, to order those that share a pid.
    inserted: u64,
    /// Members the backstop watches (not `watched` here).
    unwatched: usize,
}

struct Member<C> {
    /// Dropped before the child: the set's watch of its descriptor ends first.
    watched: bool,
    /// When it was inserted, counting from the set's creation: slab keys are reused.
    order: u64,
    child: C,
}

impl<C: AsChild> Set<C> {
    pub(crate) fn new() -> Set<C> {
        let watch = SetWatch::new();
        let queue = Arc::new(ExitQueue::new(watch.notifier()));
        Set {
            members: Slab::new(),
            queue,
            watch,
            wait_id: 0,
            helper: None,
            inserted: 0,
            unwatched: 0,
        }
    }

    pub(crate) fn insert(&mut self, member: C) -> u32 {
        let child = member.child();
        let pid = child.id();
        let entry = self.members.vacant_entry();
        let key = entry.key();
        child.state.join_set(&self.queue, key);
        // A member the set cannot watch itself (no pidfd, or no poller: EMFILE) is left to
        // the backstop, which pushes its exit to the queue.
        let watched = self.watch.add(&child.state, key);
        if !watched {
            let _ = child.reactor.adopt(&child.state);
            self.unwatched += 1;
        }
        self.inserted += 1;
        let order = self.inserted;
        entry.insert(Member {
            watched,
            order,
            child: member,
        });
        pid
    }

    pub(crate) fn get_mut(&mut self, pid: u32) -> Option<&mut C> {
        let key = self.find(pid)?;
        Some(&mut self.members[key].child)
    }

    pub(crate) fn remove(&mut self, pid: u32) -> Option<C> {
        let key = self.find(pid)?;
        let member = self.remove_key(key);
        member.child.child().state.leave_set();
        Some(member.child)
    }

    fn remove_key(&mut self, key: usize) -> Member<C> {
        let member = self.members.remove(key);
        if member.watched {
            self.watch.remove(key);
        } else {
            self.unwatched -= 1;
        }
        member
    }

    /// The key of the member `pid` names: the one not yet reaped, else the last inserted.
    /// A member's pid is the kernel's to reuse once it is reaped, so the set may hold it
    /// twice (issue 14 item 9).
    fn find(&self, pid: u32) -> Option<usize> {
        self.members
            .iter()
            .filter(|(_, m)| m.child.child().id() == pid)
            .max_by_key(|(_, m)| (!m.child.child().state.is_done(), m.order))
            .map(|(key, _)| key)
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub(crate) fn try_next(&mut self) -> Option<Item> {
        if let Some(item) = self.take_ready() {
            return Some(item);
        }
        if self.reap_ready(Some(std::time::Duration::ZERO)).is_err() {
            self.give_up_watch();
        }
        self.help_backstop_now();
        self.take_ready()
    }

    pub(crate) fn next_blocking(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.take_ready() {
                return Some(item);
            }
            if self.members.is_empty() {
                return None;
            }
            if self.watch.is_active() {
                if self.unwatched > 0 {
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
    /// `Ok(true)`: the poller had no more events than were taken (for edge-triggered
    /// watchers of its descriptor, which may then forget its readiness).
    ///
    /// # Errors
    /// What `epoll_wait` reports: the caller then leaves the members to the backstop
    /// (`give_up_watch`).
    pub(crate) fn reap_ready(&mut self, timeout: Option<std::time::Duration>) -> io::Result<bool> {
        let members = &self.members;
        self.watch.poll(timeout, |key| {
            let child = members.get(key)?.child.child();
            Some((child.reactor, child.state.clone()))
        })
    }

    /// The set's poller cannot be watched from this executor (async-io refused it): its
    /// members go to the backstop, which pushes their exits to the queue.
    pub(crate) fn give_up_watch(&mut self) {
        self.watch = SetWatch::inactive();
        self.unwatched = self.members.len();
        for (_, member) in self.members.iter_mut() {
            if std::mem::take(&mut member.watched) {
                let child = member.child.child();
                let _ = child.reactor.adopt(&child.state);
            }
        }
    }

    /// The set's own poller, whose descriptor is readable when a member may have exited; `None`
    /// while the backstop alone watches the members (then its queue's waiters are woken).
    #[cfg(all(target_os = "linux", feature = "tokio"))]
    pub(crate) fn poller(&self) -> Option<Arc<polling::Poller>> {
        self.watch.poller_if_active()
    }

    /// Ready when a member is due to be watched again (after readiness that was not an exit):
    /// then `reap_ready` re-arms it.
    #[cfg(all(target_os = "linux", feature = "tokio"))]
    pub(crate) fn poll_retry(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        self.watch.poll_retry(cx)
    }

    /// In `driver()` mode the backstop may not be polled right now: poll it once.
    fn help_backstop_now(&self) {
        if let Ok(reactor) = Reactor::get() {
            if !reactor.drivers.thread_started() {
                let _ = reactor.try_poll_now();
            }
        }
    }

    /// The next exit already reaped, taken from the set.
    pub(crate) fn take_ready(&mut self) -> Option<Item> {
        while let Some(key) = self.queue.pop() {
            let Some(member) = self.members.get_mut(key) else {
                continue;
            };
            let child = member.child.child_mut();
            let pid = child.id();
            let exit = match child.try_exited() {
                // The key of a removed member, reused by a newer one: its own exit will queue
                // the key again.
                Ok(None) => continue,
                Ok(Some(exit)) => Ok((pid, exit)),
                // Name the member whose status was lost: it leaves the set with this error.
                Err(e) => Err(io::Error::new(e.kind(), format!("child {pid}: {e}"))),
            };
            self.remove_key(key);
            return Some(exit);
        }
        None
    }

    /// `next()` through async-io: its reactor watches the set's poller.
    pub(crate) fn poll_next_exit(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
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

    /// `help_drive` where the backstop watches some members: a set whose members are all in
    /// its own poller does not need the backstop to be driven.
    #[cfg(all(target_os = "linux", feature = "tokio"))]
    pub(crate) fn help_drive_if_needed(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        if self.unwatched == 0 {
            return Poll::Pending;
        }
        self.help_drive(cx)
    }

    /// While no reactor thread exists, the waiter watches the backstop's poller too (see
    /// `driver()`). Always `Pending`, unless that poll reaped a member.
    fn help_drive(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
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

impl<C> Drop for Set<C> {
    fn drop(&mut self) {
        self.queue.waiters.unregister(self.wait_id);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::Set;
    use crate::{Child, Command};

    /// A set that gave up its own watch (an `epoll_wait` error, or async-io refusing its
    /// poller) leaves later members to the backstop too: a second poller would be one the
    /// queue's notifier does not wake, and the backstop's exits would reach nobody.
    #[test]
    fn a_set_that_gave_up_its_watch_never_makes_another_poller() {
        let mut set: Set<Child> = Set::new();
        let first = Command::new("true").spawn().unwrap();
        set.insert(first);
        assert!(set.watch.is_active() || crate::backend().unwrap().name() != "pidfd");
        set.give_up_watch();
        let second = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let pid = set.insert(second);
        assert!(!set.watch.is_active(), "a new poller was made");
        let mut codes = Vec::new();
        while let Some(item) = set.next_blocking() {
            let (member, exit) = item.unwrap();
            codes.push((member == pid, exit.status().code()));
        }
        codes.sort();
        assert_eq!(codes, [(false, Some(0)), (true, Some(3))]);
    }
}
