//! macOS: no process descriptor; a child's exit is watched by pid with a kqueue
//! `EVFILT_PROC`/`NOTE_EXIT` filter in the reactor's poller (polling's kqueue backend).
//!
//! A pid names our child only until it is reaped, so the filter is removed before the reap
//! ([`ExitWatch`] is dropped first, see [`has_exited`]): a later child that is given the same
//! pid then finds the poller free of it (polling keys its kqueue filters by pid).
//!
//! Three XNU behaviours shape the state machine (../shared/research/anchors.md §4.2):
//!
//! | situation | what kevent does | what we do |
//! |---|---|---|
//! | the child is already a zombie at `EV_ADD` | fails with `ESRCH` (libuv/libuv#3451) | arm a 1 ms one-shot timer under the same key, so the reactor comes back to reap |
//! | the child becomes a zombie just before `EV_ADD` | the filter attaches but never fires (oven-sh/bun#35414) | probe with `waitid(WNOHANG \| WNOWAIT)` right after the `EV_ADD`; if it has exited, the timer instead |
//! | `NOTE_EXIT` delivered, `wait4` still finds nothing | `proc_exit` posts `NOTE_EXIT` before the process is a zombie (bsd/kern/kern_exit.c; acsandmann/rift#465), and `ESRCH` can come while a session leader still drains its terminal (oven-sh/bun#41732) | the timer again, never `NOTE_EXIT`: a second `EV_ADD` attaches to a dying process whose `NOTE_EXIT` is spent, and would never fire |
//!
//! So the one `NOTE_EXIT` filter is armed once; every later readiness is the timer's, and the
//! reactor asks again after each. The reactor spaces those re-arms (`spurious_delay`: 1 ms
//! doubling to 100 ms), so a child that takes long to become reapable costs at most about ten
//! wake-ups a second, and the reactor never blocks (bun blocks a helper thread in `wait4`
//! instead).
//!
//! The timer is 1 ms rather than 0 because rustix encodes sub-millisecond kqueue timers with
//! `NOTE_SECONDS` (rounding them to 0), and a zero timer's behaviour differs between BSDs.

use std::cell::Cell;
use std::io;
use std::num::NonZeroI32;
use std::time::Duration;

use polling::os::kqueue::{PollerKqueueExt, Process, ProcessOps, Timer};
use polling::{PollMode, Poller};
use rustix::process::{Pid, WaitId, WaitIdOptions};

use crate::unix::ChildPid;

/// How soon the reactor retries the reap of a child that has exited (or is exiting) but
/// could not be watched with `NOTE_EXIT`.
const RETRY: Duration = Duration::from_millis(1);

/// A child's exit, watched in the reactor's poller under one key.
#[derive(Debug)]
pub struct ExitWatch {
    poller: &'static Poller,
    pid: NonZeroI32,
    /// # Invariant
    /// The filter registered in `poller` right now (one-shot, possibly already fired); it is
    /// deleted by `Drop`, while the child is still unreaped. A `Cell` because the reactor
    /// re-arms through a shared reference (under the child's lock).
    armed: Cell<Armed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Armed {
    Exit,
    /// A timer whose ident is the key (keys are unique among the reactor's children).
    Retry(usize),
}

impl ExitWatch {
    /// Starts watching `child` under `key`. The caller must drop the watch before reaping
    /// `child`.
    ///
    /// # Errors
    /// What `kevent(2)` reports other than `ESRCH`, e.g. `ENOMEM`; `AlreadyExists` if this
    /// pid is still in the poller.
    pub fn new(poller: &'static Poller, child: ChildPid, key: usize) -> io::Result<ExitWatch> {
        let pid = i32::try_from(child.pid())
            .ok()
            .and_then(NonZeroI32::new)
            .ok_or(io::ErrorKind::InvalidInput)?;
        let watch = ExitWatch {
            poller,
            pid,
            armed: Cell::new(arm_exit(poller, pid, key)?),
        };
        // A child that became a zombie just before the EV_ADD gets no event (see the module
        // docs). A failed probe also hands over to the timer: the reap that follows reports
        // the error.
        if watch.armed.get() == Armed::Exit && has_exited(child).unwrap_or(true) {
            watch.rearm(key)?;
        }
        Ok(watch)
    }

    /// Watches again after a readiness that did not come with a reapable exit: the next
    /// readiness comes from a short timer, never from `NOTE_EXIT` again (see the module docs).
    ///
    /// # Errors
    /// What `kevent(2)` reports.
    pub fn rearm(&self, key: usize) -> io::Result<()> {
        self.disarm();
        // On error nothing is armed; the caller gives up on the child (kills and reaps it),
        // and the `Drop` that follows finds nothing to delete.
        self.armed.set(arm_retry(self.poller, key)?);
        Ok(())
    }

    fn disarm(&self) {
        // One-shot filters that have fired are gone from the kqueue already: polling ignores
        // the ENOENT and only forgets the source.
        let _ = match self.armed.get() {
            Armed::Exit => self.poller.delete_filter(exit_filter(self.pid)),
            Armed::Retry(key) => self.poller.delete_filter(retry_filter(key)),
        };
    }
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        self.disarm();
    }
}

fn exit_filter(pid: NonZeroI32) -> Process<'static> {
    // SAFETY: `pid` is an unreaped child of ours (`ExitWatch::new`'s contract), and every
    // filter made from it is deleted before that child is reaped.
    unsafe { Process::from_pid(pid, ProcessOps::Exit) }
}

fn retry_filter(key: usize) -> Timer {
    Timer {
        id: key,
        timeout: RETRY,
    }
}

/// Adds the `NOTE_EXIT` filter; on `ESRCH` (the child is already a zombie), the retry timer.
fn arm_exit(poller: &Poller, pid: NonZeroI32, key: usize) -> io::Result<Armed> {
    match poller.add_filter(exit_filter(pid), key, PollMode::Oneshot) {
        Ok(()) => Ok(Armed::Exit),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
            // polling recorded the pid before kevent failed: forget it (the EV_DELETE gets
            // ENOENT, which polling ignores).
            let _ = poller.delete_filter(exit_filter(pid));
            arm_retry(poller, key)
        }
        Err(e) => Err(e),
    }
}

fn arm_retry(poller: &Poller, key: usize) -> io::Result<Armed> {
    poller.add_filter(retry_filter(key), key, PollMode::Oneshot)?;
    Ok(Armed::Retry(key))
}

/// Whether `child` has exited, without reaping it (`waitid` with `WNOWAIT`): the caller then
/// drops its [`ExitWatch`] and reaps. `true` also when someone else reaped it (`ECHILD`), so
/// that the reap reports that.
///
/// # Errors
/// What `waitid(2)` reports other than `ECHILD` and `EINTR`.
pub fn has_exited(child: ChildPid) -> io::Result<bool> {
    let pid = i32::try_from(child.pid())
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(io::ErrorKind::InvalidInput)?;
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    loop {
        match rustix::process::waitid(WaitId::Pid(pid), options) {
            Ok(status) => return Ok(status.is_some()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::CHILD) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
}
