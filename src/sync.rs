//! The two synchronisation tools every layer uses: a lock that shrugs off poisoning, and a
//! list of waiters woken so that no waker can hurt the one who wakes.
//!
//! An `event_listener::Event` calls wakers while its list is mid-update, so a waker that panics
//! there (a buggy executor's) leaves the list corrupt and every later `listen` panics too. Here
//! the wakers are taken out of the list first, and each is called on its own, its panic caught:
//! the others are still woken, and the list stays whole.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// Mutexes here guard plain data that every path leaves consistent, so a panic elsewhere
/// (a waker) must not turn into a second panic in a reaper.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
pub(crate) struct Waiters {
    list: Mutex<Vec<(u64, Waker)>>,
}

/// Ids of registrations, unique in the process: a waiter's id can never name another's.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Waiters {
    /// Wakes everyone registered; they must register again to be woken again.
    pub(crate) fn wake_all(&self) {
        let woken = {
            let mut list = lock(&self.list);
            if list.is_empty() {
                // The common reap: the waiter reaped its child itself (issue 13).
                return;
            }
            std::mem::take(&mut *list)
        };
        for (_, waker) in woken {
            let _ = catch_unwind(AssertUnwindSafe(|| waker.wake()));
        }
    }

    /// Registers (or refreshes) the waker of registration `id`.
    pub(crate) fn register(&self, id: &mut u64, waker: &Waker) {
        let mut list = lock(&self.list);
        if *id != 0 {
            if let Some((_, w)) = list.iter_mut().find(|(i, _)| i == id) {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                return;
            }
        }
        *id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        list.push((*id, waker.clone()));
    }

    pub(crate) fn unregister(&self, id: u64) {
        if id != 0 {
            lock(&self.list).retain(|(i, _)| *i != id);
        }
    }

    /// Resolves once `done()` holds, checked after each registration so that a wake between
    /// the check and the registration is never lost.
    pub(crate) fn until<'a>(
        &'a self,
        done: impl Fn() -> bool + Unpin + 'a,
    ) -> Until<'a, impl Fn() -> bool + Unpin + 'a> {
        Until {
            waiters: self,
            done,
            id: 0,
        }
    }

    /// Parks the calling thread until `done()` holds.
    pub(crate) fn block_until(&self, done: impl Fn() -> bool) {
        let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
        let mut id = 0;
        while !done() {
            self.register(&mut id, &waker);
            if done() {
                break;
            }
            std::thread::park();
        }
        self.unregister(id);
    }
}

/// See [`Waiters::until`].
#[derive(Debug)]
pub(crate) struct Until<'a, F> {
    waiters: &'a Waiters,
    done: F,
    id: u64,
}

impl<F: Fn() -> bool + Unpin> Future for Until<'_, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if (this.done)() {
            return Poll::Ready(());
        }
        this.waiters.register(&mut this.id, cx.waker());
        if (this.done)() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<F> Drop for Until<'_, F> {
    fn drop(&mut self) {
        self.waiters.unregister(self.id);
    }
}

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}
