//! macOS: `std` spawns the child (`posix_spawn`), and a kqueue `EVFILT_PROC`/`NOTE_EXIT`
//! filter on its pid, in the reactor's poller, tells when it exits. No thread per child.
//!
//! There is no process descriptor on macOS, so the pid is only safe to use while the child is
//! unreaped. As in the `thread` backend, every signal is sent under the child's lock in the
//! reactor, the lock every reap is made under, and the reap (`wait4` with rusage) happens
//! only after the filter has left the poller (see `platform::macos`). A foreign
//! `waitpid(-1)` can still steal the status, which is then reported as lost.

use std::io;
use std::time::Instant;

use platform::macos::{has_exited, ExitWatch};
use platform::unix::ChildPid;
use platform::ExitInfo;
use polling::Poller;

use super::{Backend, Process, Spawned};
use crate::spec::{Defaults, Spec};

#[derive(Debug)]
pub(crate) struct KqueueBackend;

impl Backend for KqueueBackend {
    fn spawn(&self, spec: &mut Spec, defaults: Defaults) -> io::Result<Spawned> {
        let at = Instant::now();
        let mut child = spec.std_command(defaults)?.spawn()?;
        Ok(Spawned {
            pid: child.id(),
            at,
            process: super::Held::Boxed(Box::new(Watched {
                child: ChildPid::new(child.id()),
                watch: None,
            })),
            pipes: super::std_pipes(&mut child),
        })
    }
}

/// A child known by its pid, watched through a kqueue filter once registered.
#[derive(Debug)]
struct Watched {
    child: ChildPid,
    /// `None` before `register`, and after the exit was seen (just before the reap).
    watch: Option<(ExitWatch, usize)>,
}

impl Process for Watched {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        // A child that exited already (ESRCH, or a zombie the probe after EV_ADD finds) is
        // handled inside: its key is reported shortly, by a timer.
        self.watch = Some((ExitWatch::new(poller, self.child, key)?, key));
        Ok(())
    }

    fn rearm(&self) -> io::Result<()> {
        // After a NOTE_EXIT that came before the process became a zombie, or a timer that
        // came too early: a short timer, never NOTE_EXIT again, since the exit's is spent;
        // the reactor spaces these re-arms (see `platform::macos`).
        match &self.watch {
            Some((watch, key)) => watch.rearm(*key),
            None => Ok(()),
        }
    }

    fn try_reap(&mut self) -> io::Result<Option<ExitInfo>> {
        if !has_exited(self.child)? {
            return Ok(None);
        }
        // Out of the poller while the zombie still pins the pid, then reap.
        self.watch = None;
        self.child.try_reap()
    }

    fn kill(&self) -> io::Result<()> {
        // Under the reactor's lock for this child, which is held for every reap: not reaped.
        self.child.signal(9, false)
    }

    fn signal(&self, sig: i32, group: bool) -> io::Result<()> {
        self.child.signal(sig, group)
    }

    fn abort(mut self: Box<Self>) {
        self.watch = None;
        self.child.kill_and_reap();
    }
}
