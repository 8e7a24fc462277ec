//! The one reactor of the process: a poller holding every child's descriptor.
//!
//! Readiness of a descriptor is only a hint: the reactor then asks the backend for a
//! non-blocking reap. `None` (ptrace, sanitizers, a stale event for a reused key) re-arms the
//! one-shot registration and changes nothing else. A reaped child leaves the poller, and its
//! descriptor is closed, at once: a reaped pidfd stays readable forever (pidfd_poll in
//! fs/pidfs.c), so leaving it registered would spin.
//!
//! A backend whose children cannot each be in the poller (FreeBSD's process descriptors) keeps
//! them in one source of its own, registered under `backend::SHARED_KEY`; readiness of that key
//! makes the backend name the children to try, each then handled as above (see `backend`).
//!
//! Locks are always taken in the order `ChildState::process` → `Reactor::children`, and none
//! is held while user code (a waker) runs except `Reactor::events`.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Instant;

use event_listener::Event;
use polling::{Events, Poller};
use slab::Slab;

use crate::backend::{self, Backend, BackendInfo, Pipes, Process};
use crate::driver::Drivers;
use crate::set::SetQueue;
use crate::spec::{Defaults, Spec};
use crate::Exit;

/// Everything the process knows about its children.
#[derive(Debug)]
pub(crate) struct Reactor {
    pub(crate) poller: Poller,
    backend: &'static dyn Backend,
    pub(crate) info: BackendInfo,
    /// Children not yet reaped, keyed by their poller key.
    children: Mutex<Slab<Arc<ChildState>>>,
    /// Held by whoever is polling; the thread and `driver()` futures take turns.
    events: Mutex<Events>,
    pub(crate) drivers: Drivers,
    #[cfg(unix)]
    source: OnceLock<Option<async_io::Async<std::os::unix::io::OwnedFd>>>,
}

/// One child, shared by its `Child` handle, its status futures and the reactor.
#[derive(Debug)]
pub(crate) struct ChildState {
    pub(crate) pid: u32,
    key: usize,
    spawned: Instant,
    /// `None` once the child has been reaped (or abandoned): its descriptor is then closed.
    process: Mutex<Option<Box<dyn Process>>>,
    exit: OnceLock<Result<Exit, SavedError>>,
    exited: Event,
    /// The `ChildSet` told of the exit, and the child's key there. Locked around storing the
    /// exit, so that a set joined concurrently hears of it exactly once.
    set: Mutex<Option<(Weak<SetQueue>, usize)>>,
}

/// An `io::Error` kept to be handed out to every waiter.
#[derive(Debug)]
struct SavedError {
    kind: io::ErrorKind,
    raw: Option<i32>,
    message: String,
}

impl SavedError {
    fn new(e: &io::Error) -> SavedError {
        SavedError {
            kind: e.kind(),
            raw: e.raw_os_error(),
            message: e.to_string(),
        }
    }

    fn to_error(&self) -> io::Error {
        match self.raw {
            Some(raw) if self.message.ends_with(&format!("(os error {raw})")) => {
                io::Error::from_raw_os_error(raw)
            }
            _ => io::Error::new(self.kind, self.message.clone()),
        }
    }
}

/// Mutexes here guard plain data that every path leaves consistent, so a panic elsewhere
/// (a waker) must not turn into a second panic in the reactor.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

static REACTOR: OnceLock<Reactor> = OnceLock::new();

impl Reactor {
    /// The reactor, created on first use.
    ///
    /// # Errors
    /// Creating the poller failed (`EMFILE`, `ENOMEM`); nothing is cached, the next call retries.
    pub(crate) fn get() -> io::Result<&'static Reactor> {
        if let Some(r) = REACTOR.get() {
            return Ok(r);
        }
        let (backend, info) = backend::select()?;
        let reactor = Reactor::new(backend, info)?;
        Ok(REACTOR.get_or_init(|| reactor))
    }

    fn new(backend: &'static dyn Backend, info: BackendInfo) -> io::Result<Reactor> {
        Ok(Reactor {
            poller: Poller::new()?,
            backend,
            info,
            children: Mutex::new(Slab::new()),
            events: Mutex::new(Events::new()),
            drivers: Drivers::new(),
            #[cfg(unix)]
            source: OnceLock::new(),
        })
    }

    /// Spawns a child and starts watching it. On error no child is left behind.
    pub(crate) fn spawn(
        &'static self,
        spec: &mut Spec,
        defaults: Defaults,
    ) -> io::Result<(Arc<ChildState>, Pipes)> {
        // Fail before a child exists if nobody could ever notice its exit.
        self.drivers.ensure_driven(self)?;
        if !self.drivers.thread_started() {
            // Driven from executors: reap what dropped children left, in case no driver is
            // being polled right now.
            let _ = self.try_poll_now();
        }
        let spawned = self.backend.spawn(spec, defaults)?;
        let state = self.watch(spawned.pid, spawned.process, spawned.at)?;
        Ok((state, spawned.pipes))
    }

    /// Puts a freshly spawned child in the poller. On error it is killed and reaped.
    fn watch(
        &'static self,
        pid: u32,
        mut process: Box<dyn Process>,
        spawned: Instant,
    ) -> io::Result<Arc<ChildState>> {
        let state = {
            let mut children = lock(&self.children);
            let entry = children.vacant_entry();
            let state = Arc::new(ChildState {
                pid,
                key: entry.key(),
                spawned,
                process: Mutex::new(None),
                exit: OnceLock::new(),
                exited: Event::new(),
                set: Mutex::new(None),
            });
            entry.insert(state.clone());
            state
        };
        // Registered under the child's own lock, so the first readiness waits for it.
        let mut slot = lock(&state.process);
        let registered = process
            .register(&self.poller, state.key)
            // A driver may have left between the check in `spawn` and the insertion.
            .and_then(|()| self.drivers.ensure_driven(self));
        match registered {
            Ok(()) => {
                *slot = Some(process);
                drop(slot);
                Ok(state)
            }
            Err(e) => {
                drop(slot);
                lock(&self.children).try_remove(state.key);
                process.abort();
                Err(e)
            }
        }
    }

    /// Reaps what readiness hints at without waiting, unless someone else (the thread, in
    /// `wait`) is polling already.
    pub(crate) fn try_poll_now(&self) -> io::Result<()> {
        match self.events.try_lock() {
            Ok(events) => self.poll_with(events, Some(std::time::Duration::ZERO)),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                self.poll_with(p.into_inner(), Some(std::time::Duration::ZERO))
            }
            Err(std::sync::TryLockError::WouldBlock) => Ok(()),
        }
    }

    /// Waits for readiness (at most `timeout`) and reaps what it hints at.
    pub(crate) fn poll_once(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        self.poll_with(lock(&self.events), timeout)
    }

    fn poll_with(
        &self,
        mut events: MutexGuard<'_, Events>,
        timeout: Option<std::time::Duration>,
    ) -> io::Result<()> {
        events.clear();
        self.poller.wait(&mut events, timeout)?;
        let mut result = Ok(());
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
        result
    }

    /// Reaps the child with poller key `key`, if it is still watched and has exited.
    fn reap_key(&self, key: usize) {
        let state = lock(&self.children).get(key).cloned();
        if let Some(state) = state {
            self.reap(&state);
        }
    }

    /// Reaps `state` if it has exited; never blocks. Callable from any thread.
    pub(crate) fn reap(&self, state: &ChildState) {
        let mut slot = lock(&state.process);
        let Some(process) = slot.as_mut() else { return };
        let outcome = match process.try_reap() {
            Ok(None) => match process.rearm() {
                Ok(()) => return,
                // The exit could never be noticed: end the child rather than lose it.
                Err(e) => {
                    if let Some(p) = slot.take() {
                        p.abort();
                    }
                    Err(e)
                }
            },
            Ok(Some(info)) => Ok(Exit::new(info, state.spawned.elapsed())),
            Err(e) => Err(e),
        };
        // Deregisters and closes the descriptor before anyone can see the exit: a waiter that
        // returns finds no descriptor of its child still open.
        *slot = None;
        let set = {
            let set = lock(&state.set);
            let _ = state.exit.set(outcome.map_err(|e| SavedError::new(&e)));
            set.clone()
        };
        drop(slot);
        lock(&self.children).try_remove(state.key);
        state.exited.notify(usize::MAX);
        if let Some((queue, key)) = set.and_then(|(q, k)| Some((q.upgrade()?, k))) {
            queue.push(key);
        }
    }

    /// Kills the child unless it has already been reaped.
    pub(crate) fn kill(&self, state: &ChildState) -> io::Result<()> {
        match lock(&state.process).as_ref() {
            Some(p) => p.kill(),
            None => Ok(()),
        }
    }

    /// Signals the child (or its group) unless it has already been reaped. The child's lock
    /// is held meanwhile, so the reactor cannot reap it and free its pid under the signal.
    #[cfg(unix)]
    pub(crate) fn signal(&self, state: &ChildState, sig: i32, group: bool) -> io::Result<()> {
        match lock(&state.process).as_ref() {
            Some(p) => p.signal(sig, group),
            None => Ok(()),
        }
    }

    /// Whether the child leads its own process group; `false` once it has been reaped.
    #[cfg(unix)]
    pub(crate) fn leads_group(&self, state: &ChildState) -> io::Result<bool> {
        match lock(&state.process).as_ref() {
            Some(_) => platform::unix::leads_group(state.pid),
            None => Ok(false),
        }
    }

    /// Stops watching without reaping (`reap_on_drop(false)`): the child becomes the caller's
    /// to reap, as with `std`.
    pub(crate) fn forget(&self, state: &ChildState) {
        let process = lock(&state.process).take();
        if process.is_some() {
            lock(&self.children).try_remove(state.key);
            drop(process);
        }
    }

    /// Polls the reactor whenever its poller is ready, until the reactor thread exists; what
    /// `driver()` runs, and what waiters run meanwhile.
    pub(crate) async fn help(&'static self) {
        #[cfg(unix)]
        if let Some(source) = self.poller_source() {
            while !self.drivers.thread_started() {
                // Errors are those of epoll_wait: persistent, and the thread would hit them too.
                let _ = self.try_poll_now();
                if source.readable().await.is_err() {
                    break;
                }
            }
            if self.drivers.thread_started() {
                return;
            }
        }
        // The poller cannot be watched from an executor: only the thread can do the work.
        futures_lite::future::pending().await
    }

    /// The poller's own descriptor as an async-io source, shared by every helper: an epoll
    /// (or kqueue) fd is readable while it has events to deliver.
    #[cfg(unix)]
    fn poller_source(&self) -> Option<&async_io::Async<std::os::unix::io::OwnedFd>> {
        use std::os::unix::io::AsFd;
        self.source
            .get_or_init(|| {
                let fd = self.poller.as_fd().try_clone_to_owned().ok()?;
                // A kqueue refuses O_NONBLOCK (FreeBSD's kqueue_ioctl answers ENOTTY to FIONBIO,
                // so fcntl(F_SETFL) fails) and `new` would fail; only the descriptor's
                // readiness is awaited, never a read, so its mode does not matter.
                #[cfg(target_os = "linux")]
                return async_io::Async::new(fd).ok();
                #[cfg(not(target_os = "linux"))]
                return async_io::Async::new_nonblocking(fd).ok();
            })
            .as_ref()
    }

    pub(crate) fn has_children(&self) -> bool {
        !lock(&self.children).is_empty()
    }
}

impl ChildState {
    /// The child's exit will not be pushed to any set.
    pub(crate) fn leave_set(&self) {
        *lock(&self.set) = None;
    }

    /// Makes `queue` hear of this child's exit under `key`, now if it has already exited.
    pub(crate) fn join_set(&self, queue: &Arc<SetQueue>, key: usize) {
        let exited = {
            let mut set = lock(&self.set);
            *set = Some((Arc::downgrade(queue), key));
            self.exit.get().is_some()
        };
        if exited {
            queue.push(key);
        }
    }

    /// The exit, if the child has been reaped.
    pub(crate) fn exit(&self) -> Option<io::Result<Exit>> {
        self.exit
            .get()
            .map(|r| r.as_ref().map(|e| *e).map_err(SavedError::to_error))
    }

    /// Waits until the child has been reaped. Cancel-safe.
    ///
    /// Until the reactor thread exists, the waiter also watches the poller itself: a
    /// `driver()` that is alive but no longer polled then delays nobody.
    pub(crate) async fn wait(&self, reactor: &'static Reactor) -> io::Result<Exit> {
        loop {
            if let Some(exit) = self.exit() {
                return exit;
            }
            let listener = self.exited.listen();
            if let Some(exit) = self.exit() {
                return exit;
            }
            if reactor.drivers.thread_started() {
                listener.await;
            } else {
                futures_lite::future::or(listener, reactor.help()).await;
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests;
