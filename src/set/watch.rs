//! A set's own poller of its members' pidfds, so that whoever polls the set is woken by the
//! kernel directly: async-io's reactor watches the poller's descriptor for `next()`, and
//! `next_blocking()` waits in it.
//!
//! The poller is created with the first member that has a pidfd (an epoll, an eventfd and a
//! timerfd: polling's), never for a set whose backend has none. Exits the backstop reaps
//! reach the set through its queue, whose push notifies this poller, so one wait covers both.

use std::io;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use polling::{Events, Poller};

use crate::reactor::Reactor;
use crate::state::{spurious_delay, until_retry, ChildState, Reaped};

#[cfg(target_os = "linux")]
type Watch = platform::Registration<Arc<platform::linux::PidFd>, Arc<Poller>>;
#[cfg(not(target_os = "linux"))]
type Watch = std::convert::Infallible;

#[derive(Default)]
pub(super) struct SetWatch {
    /// Shared with the queue's notifier, which may run on any reaper's thread.
    poller: Arc<OnceLock<Arc<Poller>>>,
    /// The poller as an async-io source, for `next()`.
    #[cfg(unix)]
    source: Option<async_io::Async<Arc<Poller>>>,
    events: Option<Events>,
    /// Indexed by member key.
    watches: Vec<Option<Watch>>,
    /// Members to watch again, and when (after readiness that was not an exit).
    retry: Vec<(Instant, usize)>,
    timer: Option<async_io::Timer>,
    /// Given up (see [`inactive`](SetWatch::inactive)): no member is watched here again, so
    /// no poller is made that the queue's notifier, made for the first one, would not wake.
    given_up: bool,
}

impl SetWatch {
    pub(super) fn new() -> SetWatch {
        SetWatch::default()
    }

    /// A watch that never watches: every member is left to the backstop.
    pub(super) fn inactive() -> SetWatch {
        SetWatch {
            given_up: true,
            ..SetWatch::default()
        }
    }

    /// What the set's queue calls when the backstop pushes an exit: wakes the poller's waiter.
    pub(super) fn notifier(&self) -> Box<dyn Fn() + Send + Sync> {
        let poller = self.poller.clone();
        Box::new(move || {
            if let Some(poller) = poller.get() {
                let _ = poller.notify();
            }
        })
    }

    /// Whether the set's poller exists, so that every member's exit wakes it.
    pub(super) fn is_active(&self) -> bool {
        self.poller.get().is_some()
    }

    /// Watches the member `key` if it has a pidfd. `false`: the backstop must.
    pub(super) fn add(&mut self, state: &ChildState, key: usize) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(fd) = state.pidfd().filter(|_| !self.given_up) {
            let Some(poller) = self.poller() else {
                return false;
            };
            let Ok(watch) = platform::Registration::new(poller, fd, key) else {
                return false;
            };
            if self.watches.len() <= key {
                self.watches.resize_with(key + 1, || None);
            }
            self.watches[key] = Some(watch);
            return true;
        }
        let _ = (state, key, self.given_up);
        false
    }

    #[cfg(target_os = "linux")]
    fn poller(&mut self) -> Option<Arc<Poller>> {
        if let Some(poller) = self.poller.get() {
            return Some(poller.clone());
        }
        // EMFILE and the like: the members go to the backstop instead.
        let poller = Arc::new(Poller::new().ok()?);
        let _ = self.poller.set(poller);
        self.poller.get().cloned()
    }

    pub(super) fn remove(&mut self, key: usize) {
        if let Some(slot) = self.watches.get_mut(key) {
            *slot = None;
        }
        self.retry.retain(|(_, k)| *k != key);
    }

    /// The poller, once it exists.
    #[cfg(all(target_os = "linux", feature = "tokio"))]
    pub(super) fn poller_if_active(&self) -> Option<Arc<Poller>> {
        self.poller.get().cloned()
    }

    /// Whether a member is due to be watched again (after readiness that was not an exit);
    /// otherwise `cx` is woken when one is. An error: async-io's reactor, whose timer this is,
    /// could not be started.
    pub(super) fn poll_retry(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let Some(at) = self.next_retry() else {
            return Ok(false);
        };
        crate::aio::start()?;
        let timer = self.timer.get_or_insert_with(|| async_io::Timer::at(at));
        timer.set_at(at);
        Ok(std::future::Future::poll(std::pin::Pin::new(timer), cx).is_ready())
    }

    /// Ready when the poller may have events (or a member is due to be watched again).
    pub(super) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(poller) = self.poller.get().cloned() else {
            return Poll::Pending;
        };
        if self.poll_retry(cx)? {
            return Poll::Ready(Ok(()));
        }
        #[cfg(unix)]
        {
            if self.source.is_none() {
                self.source = Some(crate::aio::guarded(|| {
                    async_io::Async::new_nonblocking(poller)
                })?);
            }
            match self.source.as_ref().map(|s| s.poll_readable(cx)) {
                Some(Poll::Ready(result)) => Poll::Ready(result),
                _ => Poll::Pending,
            }
        }
        // Never active there: only Linux members have a descriptor to put in the poller.
        #[cfg(not(unix))]
        {
            let _ = poller;
            Poll::Pending
        }
    }

    /// Waits at most `timeout` for members' readiness and reaps them, through `member`, which
    /// names the child of a key. `Ok(true)`: fewer events than `Events` holds were returned,
    /// so the poller had no more.
    pub(super) fn poll(
        &mut self,
        timeout: Option<Duration>,
        member: impl Fn(usize) -> Option<(&'static Reactor, Arc<ChildState>)>,
    ) -> io::Result<bool> {
        let Some(poller) = self.poller.get().cloned() else {
            return Ok(true);
        };
        self.rearm_due();
        let timeout = until_retry(timeout, self.next_retry());
        let mut events = self.events.take().unwrap_or_default();
        events.clear();
        let waited = poller.wait(&mut events, timeout);
        let emptied = events.len() < events.capacity().get();
        for key in events.iter().map(|ev| ev.key) {
            let Some((reactor, state)) = member(key) else {
                continue;
            };
            if let Reaped::Running(n) = reactor.reap_now(&state) {
                let delay = spurious_delay(n);
                if delay.is_zero() {
                    self.rearm(key);
                } else {
                    self.retry.push((Instant::now() + delay, key));
                }
            }
        }
        events.clear();
        self.events = Some(events);
        self.rearm_due();
        waited.map(|_| emptied)
    }

    fn next_retry(&self) -> Option<Instant> {
        self.retry.iter().map(|(at, _)| *at).min()
    }

    fn rearm_due(&mut self) {
        if self.retry.is_empty() {
            return;
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retry)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.retry = later;
        for (_, key) in due {
            self.rearm(key);
        }
    }

    fn rearm(&self, key: usize) {
        #[cfg(target_os = "linux")]
        if let Some(Some(watch)) = self.watches.get(key) {
            // epoll_ctl(MOD) only fails for want of memory (ENOMEM), after which nothing here
            // would be reliable anyway; the member is then found by `try_next` or a `status()`.
            let _ = watch.rearm(key);
        }
        let _ = key;
    }
}
