//! The backstop: one poller for the children nobody is waiting for.
//!
//! A child whose descriptor a waiter can watch itself (a pidfd) is not put here at spawn: the
//! task or thread that awaits it watches it (see `wait`). The reactor takes a child in
//! ("adopts" it) when nobody else will notice its exit: its `Child` was dropped, a waiter could
//! not watch it itself, or its backend can only be watched from here (a helper thread's
//! socket, FreeBSD's shared kqueue, macOS's `EVFILT_PROC`, a Windows handle), in which case it
//! is adopted at spawn.
//!
//! Readiness of a descriptor is only a hint: the reactor then asks for a non-blocking reap
//! through the child's lock, as every reaper does (see `state`). A readiness that is not an
//! exit (a traced child whose zombie its tracer holds stays readable) re-arms the one-shot
//! registration after a growing delay, so that it cannot spin. A reaped child leaves the
//! poller, and its descriptor is closed, at once: a reaped pidfd stays readable forever
//! (pidfd_poll in fs/pidfs.c).
//!
//! A backend whose children cannot each be in the poller (FreeBSD's process descriptors) keeps
//! them in one source of its own, registered under `backend::SHARED_KEY`; readiness of that key
//! makes the backend name the children to try, each then handled as above (see `backend`).
//!
//! Locks are always taken in the order child (`ChildState::slot`) → `Reactor::children`, and
//! none is held while a waker runs except `Reactor::events`.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use polling::{Events, Poller};
use slab::Slab;

use crate::backend::{self, Backend, BackendInfo, Pipes};
use crate::spec::{Defaults, Spec};
use crate::state::{spurious_delay, until_retry, ChildState, Reaped};
use crate::sync::lock;

mod thread;

pub(crate) use thread::Drivers;

/// Everything the process knows about the children nobody else watches.
#[derive(Debug)]
pub(crate) struct Reactor {
    pub(crate) poller: Poller,
    backend: &'static dyn Backend,
    /// The backend is the pidfd one: spawned through without the vtable (`backend::spawn`).
    pidfd: bool,
    pub(crate) info: BackendInfo,
    /// The process that created the reactor (`platform::unix::fork_identity`). A `fork()`ed
    /// copy inherits this memory but neither the reactor's thread nor async-io's, and shares
    /// the poller with its parent.
    #[cfg(unix)]
    made_in: (u64, u32),
    /// Adopted children not yet reaped, keyed by their poller key.
    children: Mutex<Slab<Arc<ChildState>>>,
    /// Adopted children to watch again, and when (after spurious readiness).
    retry: Mutex<Vec<(Instant, Arc<ChildState>)>>,
    /// Dropped children whose adoption failed (`ENOMEM`, no thread): retried by later calls.
    orphans: Mutex<Vec<Arc<ChildState>>>,
    /// Whether `orphans` may hold any: read on every spawn without taking its lock.
    orphaned: AtomicBool,
    /// Held by whoever is polling; the thread and `driver()` futures take turns.
    events: Mutex<Events>,
    pub(crate) drivers: Drivers,
    #[cfg(unix)]
    source: OnceLock<async_io::Async<&'static Poller>>,
}

static REACTOR: OnceLock<Reactor> = OnceLock::new();

impl Reactor {
    /// The reactor, created on first use.
    ///
    /// # Errors
    /// Creating the poller failed (`EMFILE`, `ENOMEM`); nothing is cached, the next call retries.
    #[inline]
    pub(crate) fn get() -> io::Result<&'static Reactor> {
        if let Some(r) = REACTOR.get() {
            return Ok(r);
        }
        let (backend, info) = backend::select()?;
        let reactor = Reactor::new(backend, info)?;
        Ok(REACTOR.get_or_init(|| reactor))
    }

    pub(crate) fn new(backend: &'static dyn Backend, info: BackendInfo) -> io::Result<Reactor> {
        Ok(Reactor {
            poller: Poller::new()?,
            backend,
            pidfd: info.name() == "pidfd",
            info,
            #[cfg(unix)]
            made_in: platform::unix::fork_identity(),
            children: Mutex::new(Slab::new()),
            retry: Mutex::default(),
            orphans: Mutex::default(),
            orphaned: AtomicBool::new(false),
            events: Mutex::new(Events::new()),
            drivers: Drivers::new(),
            #[cfg(unix)]
            source: OnceLock::new(),
        })
    }

    /// `Unsupported` in a process `fork()`ed (without `exec`) from the one that first used the
    /// crate: the reactor's and async-io's threads did not survive the fork, and their pollers
    /// are shared with the parent, so a wait there could hang.
    #[inline]
    pub(crate) fn check_not_forked(&self) -> io::Result<()> {
        #[cfg(unix)]
        if platform::unix::fork_identity() != self.made_in {
            return Err(forked());
        }
        Ok(())
    }
}

#[cfg(unix)]
fn forked() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "childfd cannot spawn or wait in a process fork()ed from one that already used it: \
         the reactor and async-io's threads did not survive the fork",
    )
}

impl Reactor {
    /// Spawns a child. A child only the reactor can watch is adopted at once, unless it is to
    /// be released at its drop (`reap_on_drop(false)`): adopted, it would be reaped in the
    /// background as soon as it exits, and the program's own `waitpid` would find nothing; its
    /// first waiter adopts it instead. On error no child is left behind.
    pub(crate) fn spawn(
        &'static self,
        spec: &mut Spec,
        defaults: Defaults,
        reap_on_drop: bool,
    ) -> io::Result<(Arc<ChildState>, Pipes)> {
        self.check_not_forked()?;
        if self.drivers.count() > 0 || self.orphaned.load(Ordering::Acquire) {
            // Driven from executors, or adoption failed earlier: reap what dropped children
            // left, in case nothing is polling right now.
            self.adopt_orphans();
            let _ = self.try_poll_now();
        }
        let spawned = backend::spawn(self.backend, self.pidfd, spec, defaults)?;
        // Only a pidfd can be watched by its waiter; any other the backstop must adopt.
        #[cfg(target_os = "linux")]
        let direct = matches!(spawned.process, crate::backend::Held::PidFd(_));
        #[cfg(not(target_os = "linux"))]
        let direct = false;
        let state = ChildState::new(spawned.pid, spawned.at, spawned.process);
        state.releasable.store(!reap_on_drop, Ordering::Relaxed);
        if reap_on_drop && !direct {
            if let Err(e) = self.adopt(&state) {
                self.abort(&state);
                return Err(e);
            }
        }
        Ok((state, spawned.pipes))
    }

    /// Watches `state` from now on, until it is reaped, and makes sure someone polls.
    ///
    /// # Errors
    /// Registering the descriptor failed (`ENOMEM`, `ENOSPC`), or no thread could be
    /// started to poll (`EAGAIN`); the child is then left as it was.
    pub(crate) fn adopt(&'static self, state: &Arc<ChildState>) -> io::Result<()> {
        let mut guard = state.slot();
        let slot = &mut *guard;
        // The registration holds the pidfd, shared.
        #[cfg(target_os = "linux")]
        slot.share_pidfd();
        let Some(process) = slot.process.as_mut() else {
            return Ok(());
        };
        if slot.key.is_none() {
            let key = {
                let mut children = lock(&self.children);
                let entry = children.vacant_entry();
                let key = entry.key();
                entry.insert(state.clone());
                key
            };
            // Registered under the child's own lock, so the first readiness waits for it.
            if let Err(e) = process.register(&self.poller, key) {
                lock(&self.children).try_remove(key);
                return Err(e);
            }
            slot.key = Some(key);
        }
        drop(guard);
        self.drivers.ensure_driven(self)
    }

    /// Adopts a dropped child; if that fails, keeps it to retry rather than lose it.
    pub(crate) fn adopt_dropped(&'static self, state: &Arc<ChildState>) {
        if self.adopt(state).is_err() {
            lock(&self.orphans).push(state.clone());
            self.orphaned.store(true, Ordering::Release);
        }
    }

    fn adopt_orphans(&'static self) {
        let orphans = {
            let mut orphans = lock(&self.orphans);
            self.orphaned.store(false, Ordering::Release);
            std::mem::take(&mut *orphans)
        };
        for state in orphans {
            self.adopt_dropped(&state);
        }
    }

    /// Reaps `state` if it has exited, without blocking, for any reaper; frees its key here.
    #[inline]
    pub(crate) fn reap_now(&self, state: &ChildState) -> Reaped {
        let reaped = state.try_reap();
        if let Reaped::Now(Some(key), _) = reaped {
            lock(&self.children).try_remove(key);
        }
        reaped
    }

    /// Kills and reaps the child, blocking: for a spawn that cannot be completed, so that no
    /// child outlives its failed `spawn()`.
    pub(crate) fn abort(&self, state: &ChildState) {
        let mut slot = state.slot();
        if !slot.abort() {
            return;
        }
        let aborted = io::Error::other("childfd: the spawn failed, and the child was killed");
        if let Some(key) = state.publish(slot, Err(aborted)) {
            lock(&self.children).try_remove(key);
        }
    }

    /// Stops watching without reaping (`reap_on_drop(false)`): the child becomes the caller's
    /// to reap, as with `std`. Waiters still pending get an error rather than waiting forever.
    pub(crate) fn release(&self, state: &ChildState) {
        let slot = state.slot();
        if slot.process.is_none() {
            return;
        }
        let released = io::Error::other(
            "childfd: the Child was dropped with reap_on_drop(false), so its exit is left for \
             the program to collect",
        );
        if let Some(key) = state.publish(slot, Err(released)) {
            lock(&self.children).try_remove(key);
        }
    }

    /// Reaps what readiness hints at without waiting, unless someone else (the thread, in
    /// `wait`) is polling already.
    pub(crate) fn try_poll_now(&self) -> io::Result<()> {
        match self.events.try_lock() {
            Ok(events) => self.poll_with(events, Some(Duration::ZERO)),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                self.poll_with(p.into_inner(), Some(Duration::ZERO))
            }
            Err(std::sync::TryLockError::WouldBlock) => Ok(()),
        }
    }

    /// Waits for readiness (at most `timeout`) and reaps what it hints at.
    pub(crate) fn poll_once(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.poll_with(lock(&self.events), timeout)
    }

    fn poll_with(
        &self,
        mut events: MutexGuard<'_, Events>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        events.clear();
        let timeout = until_retry(timeout, self.next_retry());
        let mut result = self.poller.wait(&mut events, timeout).map(drop);
        for ev in events.iter() {
            if ev.key == backend::SHARED_KEY {
                // One source for many children (see `backend`): the backend names them.
                let drained = self.backend.shared_ready(&mut |key| self.reap_key(key));
                result = result.and(drained);
            } else {
                self.reap_key(ev.key);
            }
        }
        events.clear();
        self.rearm_due();
        result
    }

    /// Reaps the child with poller key `key`, if it is still watched and has exited.
    fn reap_key(&self, key: usize) {
        let state = lock(&self.children).get(key).cloned();
        if let Some(state) = state {
            self.reap(&state);
        }
    }

    /// What the reactor does on readiness of `state`: reap it, or watch it again later.
    pub(crate) fn reap(&self, state: &Arc<ChildState>) {
        if let Reaped::Running(n) = self.reap_now(state) {
            let delay = spurious_delay(n);
            if delay.is_zero() {
                self.rearm(state);
            } else {
                lock(&self.retry).push((Instant::now() + delay, state.clone()));
            }
        }
    }

    /// Watches a child again after a readiness that was not its exit.
    fn rearm(&self, state: &ChildState) {
        let mut slot = state.slot();
        let Some(process) = slot.process.as_ref() else {
            return;
        };
        if let Err(e) = process.rearm() {
            // The exit could never be noticed: end the child rather than lose it.
            slot.abort();
            if let Some(key) = state.publish(slot, Err(e)) {
                lock(&self.children).try_remove(key);
            }
        }
    }

    fn next_retry(&self) -> Option<Instant> {
        lock(&self.retry).iter().map(|(at, _)| *at).min()
    }

    fn rearm_due(&self) {
        let now = Instant::now();
        let due: Vec<_> = {
            let mut retry = lock(&self.retry);
            if retry.is_empty() {
                return;
            }
            let (due, later) = std::mem::take(&mut *retry)
                .into_iter()
                .partition(|(at, _)| *at <= now);
            *retry = later;
            due
        };
        for (_, state) in due {
            self.rearm(&state);
        }
    }

    pub(crate) fn has_children(&self) -> bool {
        !lock(&self.children).is_empty() || !lock(&self.orphans).is_empty()
    }
}

/// Which mechanism this process uses to watch its children, chosen once by a probe (the first
/// call makes it) and overridable with the environment variable `CHILDFD_BACKEND=thread` (or
/// the platform's own: `pidfd` on Linux, `procdesc` on FreeBSD, `kqueue` on macOS, `handle` on
/// Windows).
///
/// | backend | where | how an exit is noticed |
/// |---|---|---|
/// | `pidfd` | Linux 5.4+, pidfd system calls allowed | the waiter watches the child's pidfd; the reactor's poller for children nobody awaits |
/// | `procdesc` | FreeBSD | the child's process descriptor in a private kqueue, in the reactor's poller |
/// | `kqueue` | macOS | `EVFILT_PROC` on the child's pid, in the reactor's poller |
/// | `thread` | any other Unix, or Linux when the probe fails | one helper thread and two descriptors per running child |
/// | `handle` | Windows | the process handle, waited for by the IOCP thread pool |
/// | `unsupported` | any other target | - |
///
/// # Errors
/// An invalid `CHILDFD_BACKEND`; a passing failure of the probe or of creating the reactor
/// (`EMFILE`), which is retried by the next call.
///
/// # Examples
/// ```
/// let backend = childfd::backend()?;
/// println!("children are watched by: {backend}");
/// # std::io::Result::Ok(())
/// ```
pub fn backend() -> io::Result<BackendInfo> {
    Ok(Reactor::get()?.info.clone())
}

#[cfg(all(test, unix))]
mod tests;
