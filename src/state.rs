//! One child as every waiter shares it: the backend's handle under the child's lock, and the
//! exit, published once by whichever reaper gets there first.
//!
//! Reapers are the task or thread that awaits the child (`wait`), `try_status`, a `ChildSet`
//! and the backstop reactor. They agree through the child's lock: each reaps only with it
//! held, without blocking, and the first to collect the exit publishes it before releasing
//! the lock; the others then find no process left and read the published exit. Signals are
//! sent under the same lock, so a pid-based backend can never signal a recycled pid.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use crate::backend::Held;
use crate::sync::{lock, Waiters};
use crate::Exit;

/// One child, shared by its `Child` handle, its waiters, its set and the backstop reactor.
#[derive(Debug)]
pub(crate) struct ChildState {
    pub(crate) pid: u32,
    spawned: Instant,
    slot: Mutex<Slot>,
    /// The outcome is in `Slot::outcome`: set with it, under the child's lock, and never
    /// cleared, so that whether the child is done is known without the lock.
    done: AtomicBool,
    /// Woken once the outcome is published; a panicking waker cannot unwind into the reaper
    /// (the reactor thread, or another child's waiter).
    exited: Waiters,
    /// Spawned with `reap_on_drop(false)`: its `Child`'s drop may publish an outcome (the
    /// release) while the child runs, so a waiter watching its pidfd must also listen here.
    pub(crate) releasable: AtomicBool,
}

/// What the child's lock guards.
#[derive(Debug)]
pub(crate) struct Slot {
    /// `None` once the child has been reaped or released: its descriptor is then closed.
    pub(crate) process: Option<Held>,
    /// The child's key in the backstop reactor, once that watches it.
    pub(crate) key: Option<usize>,
    /// The exit (or the error that ended the watch), once published. Kept here rather than
    /// in a `OnceLock`: the reaper holds this lock anyway, and `OnceLock::set` costs a
    /// `Once` call per child (issue 13).
    outcome: Option<Result<Exit, SavedError>>,
    /// The set told of the exit, and the child's key there. Under the same lock as the
    /// outcome, so that a set joined concurrently hears of the exit exactly once.
    set: Option<(Weak<ExitQueue>, usize)>,
    /// Readiness that turned out not to be an exit, in a row: a traced child whose zombie its
    /// tracer holds stays readable, and each retry waits longer (see `spurious_delay`).
    pub(crate) spurious: u32,
    /// Waiters (`wait::Waiter`) alive: each watches the child or hands it to the backstop.
    watchers: u32,
    /// The `Child` was dropped: once no waiter watches, the backstop must.
    dropped: bool,
    /// Watches of the pidfd by its number (`LentPidFd`) alive. While there are any, the
    /// process taken out at the reap waits in `retired`, so its descriptor cannot be closed
    /// (and its number reused) under a registration.
    #[cfg(target_os = "linux")]
    lent: u32,
    #[cfg(target_os = "linux")]
    retired: Option<Held>,
}

impl Slot {
    /// Ends the process's watch: it is dropped, closing its descriptor, unless a lent watch
    /// holds the descriptor still.
    fn retire(&mut self) {
        let process = self.process.take();
        #[cfg(target_os = "linux")]
        if self.lent > 0 {
            self.retired = process;
            return;
        }
        drop(process);
    }

    /// The process's pidfd, shared from now on (see `Held::share_pidfd`).
    #[cfg(target_os = "linux")]
    pub(crate) fn share_pidfd(&mut self) -> Option<Arc<platform::linux::PidFd>> {
        let (process, fd) = self.process.take()?.share_pidfd();
        self.process = Some(process);
        fd
    }

    /// Kills and reaps the process, blocking, then retires it. `false`: there was none.
    pub(crate) fn abort(&mut self) -> bool {
        let Some(process) = self.process.take() else {
            return false;
        };
        match process {
            #[cfg(target_os = "linux")]
            Held::PidFd(p) if self.lent > 0 => {
                p.kill_and_reap();
                self.retired = Some(Held::PidFd(p));
            }
            process => process.abort(),
        }
        true
    }
}

/// What a reap attempt found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reaped {
    /// The exit (or an error) is published now; the backstop key the child held, if any, is
    /// free. The exit is handed to the reaper too (`None` for an error), which spares it
    /// reading back what it just published.
    Now(Option<usize>, Option<Exit>),
    /// Still running, or readiness was spurious: the `n`th in a row.
    Running(u32),
    /// Reaped or released before: the outcome is published.
    Before,
}

/// How long to wait before watching a child again after its `n`th spurious readiness in a
/// row: nothing the first time (a stale event), then 1 ms doubling to 100 ms, so that a
/// zombie held by a paused tracer costs a few wake-ups a second instead of a CPU.
pub(crate) fn spurious_delay(n: u32) -> std::time::Duration {
    let ms = match n {
        0 | 1 => 0,
        n => (1u64 << (n - 2).min(7)).min(100),
    };
    std::time::Duration::from_millis(ms)
}

/// `timeout`, shortened so that a wait ends by `retry`, when a child is due to be watched
/// again.
pub(crate) fn until_retry(
    timeout: Option<std::time::Duration>,
    retry: Option<Instant>,
) -> Option<std::time::Duration> {
    let Some(at) = retry else {
        return timeout;
    };
    let until = at.saturating_duration_since(Instant::now());
    Some(timeout.map_or(until, |t| t.min(until)))
}

impl ChildState {
    #[inline]
    pub(crate) fn new(pid: u32, spawned: Instant, process: Held) -> Arc<ChildState> {
        Arc::new(ChildState {
            pid,
            spawned,
            slot: Mutex::new(Slot {
                process: Some(process),
                key: None,
                outcome: None,
                set: None,
                spurious: 0,
                watchers: 0,
                dropped: false,
                #[cfg(target_os = "linux")]
                lent: 0,
                #[cfg(target_os = "linux")]
                retired: None,
            }),
            done: AtomicBool::new(false),
            exited: Waiters::default(),
            releasable: AtomicBool::new(false),
        })
    }

    /// The child's lock.
    pub(crate) fn slot(&self) -> MutexGuard<'_, Slot> {
        lock(&self.slot)
    }

    /// The exit, if the child has been reaped (or released, as an error).
    pub(crate) fn exit(&self) -> Option<io::Result<Exit>> {
        if !self.is_done() {
            return None;
        }
        let slot = self.slot();
        let outcome = slot.outcome.as_ref()?;
        Some(outcome.as_ref().map(|e| *e).map_err(SavedError::to_error))
    }

    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Resolves once the outcome is published.
    pub(crate) fn until_done(&self) -> impl Future<Output = ()> + '_ {
        self.exited.until(|| self.is_done())
    }

    /// Parks the calling thread until the outcome is published.
    pub(crate) fn block_until_done(&self) {
        self.exited.block_until(|| self.is_done());
    }

    /// The descriptor a waiter can watch itself, while the child is unreaped.
    #[cfg(target_os = "linux")]
    pub(crate) fn pidfd(&self) -> Option<Arc<platform::linux::PidFd>> {
        self.slot().share_pidfd()
    }

    /// The same, lent by number: no `Arc` of its own (see `LentPidFd`).
    #[cfg(all(target_os = "linux", any(feature = "tokio", test)))]
    #[inline]
    pub(crate) fn lend_pidfd(self: &Arc<Self>) -> Option<LentPidFd> {
        let mut slot = self.slot();
        let fd = slot.process.as_ref()?.raw_pidfd()?;
        slot.lent += 1;
        Some(LentPidFd {
            state: self.clone(),
            fd,
        })
    }

    /// A waiter comes to be (see `wait::Waiter`); `false` if there is nothing left to wait
    /// for.
    pub(crate) fn start_wait(&self) -> bool {
        let mut slot = self.slot();
        if slot.process.is_none() {
            return false;
        }
        slot.watchers += 1;
        true
    }

    /// A waiter ends (done or cancelled). `true`: it was the last one, of a child whose
    /// `Child` is gone and that is still unreaped: the backstop must take it now.
    pub(crate) fn end_wait(&self) -> bool {
        let mut slot = self.slot();
        slot.watchers = slot.watchers.saturating_sub(1);
        slot.watchers == 0 && slot.dropped && slot.process.is_some() && slot.key.is_none()
    }

    /// Its `Child` is dropped. `true`: nobody watches the unreaped child, so the backstop
    /// must; otherwise the last waiter to stop hands it over (`end_wait`), which spares a
    /// second watch, and its wake-up, for a status future that outlives its `Child`.
    pub(crate) fn mark_dropped(&self) -> bool {
        let mut slot = self.slot();
        slot.dropped = true;
        slot.watchers == 0 && slot.process.is_some()
    }

    /// Reaps the child if it has exited; never blocks. Callable from any thread.
    #[inline]
    pub(crate) fn try_reap(&self) -> Reaped {
        let mut slot = self.slot();
        let Some(process) = slot.process.as_mut() else {
            return Reaped::Before;
        };
        let outcome = match process.try_reap() {
            Ok(None) => {
                slot.spurious = slot.spurious.saturating_add(1);
                return Reaped::Running(slot.spurious);
            }
            Ok(Some(info)) => Ok(Exit::new(info, self.spawned.elapsed())),
            Err(e) => Err(e),
        };
        let exit = outcome.as_ref().ok().copied();
        Reaped::Now(self.publish(slot, outcome), exit)
    }

    /// Ends the child's watch with `outcome`: closes its descriptor (deregistering it first),
    /// then stores the outcome and wakes every waiter and the set. Returns the backstop key
    /// the child held.
    pub(crate) fn publish(
        &self,
        mut slot: MutexGuard<'_, Slot>,
        outcome: io::Result<Exit>,
    ) -> Option<usize> {
        // Closed before anyone can see the exit: a waiter that returns finds no descriptor of
        // its child still open (other than its own watch, which it drops before returning).
        slot.retire();
        let key = slot.key.take();
        if slot.outcome.is_none() {
            slot.outcome = Some(outcome.map_err(|e| SavedError::new(&e)));
            self.done.store(true, Ordering::Release);
        }
        let set = slot.set.clone();
        drop(slot);
        self.exited.wake_all();
        if let Some((queue, key)) = set.and_then(|(q, k)| Some((q.upgrade()?, k))) {
            queue.push(key);
        }
        key
    }

    /// Kills the child unless it has already been reaped.
    pub(crate) fn kill(&self) -> io::Result<()> {
        match self.slot().process.as_ref() {
            Some(p) => p.kill(),
            None => Ok(()),
        }
    }

    /// Signals the child (or its group) unless it has already been reaped. The child's lock
    /// is held meanwhile, so no reaper can free its pid under the signal.
    #[cfg(unix)]
    pub(crate) fn signal(&self, sig: i32, group: bool) -> io::Result<()> {
        match self.slot().process.as_ref() {
            Some(p) => p.signal(sig, group),
            None => Ok(()),
        }
    }

    /// Whether the child leads its own process group; `false` once it has been reaped.
    #[cfg(unix)]
    pub(crate) fn leads_group(&self) -> io::Result<bool> {
        match self.slot().process.as_ref() {
            Some(_) => platform::unix::leads_group(self.pid),
            None => Ok(false),
        }
    }

    /// The child's exit will not be pushed to any set.
    pub(crate) fn leave_set(&self) {
        self.slot().set = None;
    }

    /// Makes `queue` hear of this child's exit under `key`, now if it has already exited.
    pub(crate) fn join_set(&self, queue: &Arc<ExitQueue>, key: usize) {
        let exited = {
            let mut slot = self.slot();
            slot.set = Some((Arc::downgrade(queue), key));
            self.is_done()
        };
        if exited {
            queue.push(key);
        }
    }
}

/// The child's pidfd, by number, for a watch that takes `AsRawFd` (tokio's `AsyncFd`): the
/// descriptor stays open, and so the number stays its, until this is dropped, past the reap
/// if need be (`Slot::retire`). What an `Arc<PidFd>` would give, without its allocation.
#[cfg(all(target_os = "linux", any(feature = "tokio", test)))]
#[derive(Debug)]
pub(crate) struct LentPidFd {
    state: Arc<ChildState>,
    fd: std::os::unix::io::RawFd,
}

#[cfg(all(target_os = "linux", any(feature = "tokio", test)))]
impl std::os::unix::io::AsRawFd for LentPidFd {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        self.fd
    }
}

#[cfg(all(target_os = "linux", any(feature = "tokio", test)))]
impl Drop for LentPidFd {
    fn drop(&mut self) {
        let retired = {
            let mut slot = self.state.slot();
            slot.lent = slot.lent.saturating_sub(1);
            match slot.lent {
                0 => slot.retired.take(),
                _ => None,
            }
        };
        // Closed outside the child's lock.
        drop(retired);
    }
}

/// The keys of a set's members that have exited, in the order they were reaped, and how the
/// set's waiter is woken: `notify` wakes its poller (see `set`).
pub(crate) struct ExitQueue {
    ready: Mutex<std::collections::VecDeque<usize>>,
    /// For a set that has no poller of its own (no member with a pidfd).
    pub(crate) waiters: Waiters,
    notify: Box<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for ExitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExitQueue")
            .field("ready", &self.ready)
            .finish()
    }
}

impl ExitQueue {
    pub(crate) fn new(notify: Box<dyn Fn() + Send + Sync>) -> ExitQueue {
        ExitQueue {
            ready: Mutex::default(),
            waiters: Waiters::default(),
            notify,
        }
    }

    pub(crate) fn push(&self, key: usize) {
        lock(&self.ready).push_back(key);
        (self.notify)();
        self.waiters.wake_all();
    }

    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.ready).is_empty()
    }

    pub(crate) fn pop(&self) -> Option<usize> {
        lock(&self.ready).pop_front()
    }
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

#[cfg(all(test, target_os = "linux"))]
mod lent_tests;
