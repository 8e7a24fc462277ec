//! The fallback for any Unix where process descriptors cannot be had (Linux before 5.4, pidfd
//! system calls denied by seccomp, gVisor, valgrind; Unix systems without a backend of their
//! own; commands only `std` can spawn on FreeBSD): one small helper thread per *running*
//! child.
//!
//! The helper blocks in `waitid(P_PID, WEXITED | WNOWAIT)`, which notices the exit without
//! reaping, then writes a byte to a socket the reactor polls. The reactor reaps with `wait4`
//! (with rusage) under the child's lock, the same lock every signal by pid is sent under, so a
//! signal can never reach a recycled pid. The helper exits once its child has.

use std::io;
use std::os::unix::io::AsFd;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Instant;

use platform::unix::{send_byte, ChildPid};
use platform::{ExitInfo, Registration};
use polling::Poller;

use super::{Backend, Process, Spawned};
use crate::spec::{Defaults, Spec};

/// The helper only waits and writes one byte.
const HELPER_STACK: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct ThreadBackend;

impl Backend for ThreadBackend {
    fn spawn(&self, spec: &mut Spec, defaults: Defaults) -> io::Result<Spawned> {
        let at = Instant::now();
        #[cfg(target_os = "linux")]
        if !spec.needs_std() {
            let spawned = super::pidfd::spawn_own(spec, defaults, false)?;
            return Ok(Spawned {
                pid: spawned.pid,
                at,
                process: Box::new(Helper::new(spawned.pid)),
                pipes: super::pipes(spawned.pipes),
            });
        }
        let mut child = spec.std_command(defaults)?.spawn()?;
        Ok(Spawned {
            pid: child.id(),
            at,
            process: Box::new(Helper::new(child.id())),
            pipes: super::std_pipes(&mut child),
        })
    }
}

/// A child watched by a helper thread.
#[derive(Debug)]
struct Helper {
    child: ChildPid,
    /// The reactor's end of the helper's socket, in the poller once registered.
    watch: Option<(Registration<UnixStream>, usize)>,
    /// Joined once the child is reaped, so that when its exit is published neither the
    /// helper thread nor its end of the socket is left (the leak tests count both).
    helper: Option<thread::JoinHandle<()>>,
}

impl Helper {
    fn new(pid: u32) -> Helper {
        Helper {
            child: ChildPid::new(pid),
            watch: None,
            helper: None,
        }
    }
}

impl Process for Helper {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        let (ours, theirs) = UnixStream::pair()?;
        let registration = Registration::new(poller, ours, key).map_err(|(e, _)| e)?;
        let child = self.child;
        let helper = thread::Builder::new()
            .name("childfd-wait".into())
            .stack_size(HELPER_STACK)
            .spawn(move || {
                // Whatever the outcome (an exit, or ECHILD after a foreign reap), the reactor
                // learns it from its own reap; a closed reader (child forgotten) is fine too.
                let _ = child.wait_exited();
                let _ = send_byte(theirs.as_fd());
            })?;
        self.watch = Some((registration, key));
        self.helper = Some(helper);
        Ok(())
    }

    fn rearm(&self) -> io::Result<()> {
        match &self.watch {
            Some((registration, key)) => registration.rearm(*key),
            None => Ok(()),
        }
    }

    fn try_reap(&mut self) -> io::Result<Option<ExitInfo>> {
        let reaped = self.child.try_reap();
        if let Ok(Some(_)) = reaped {
            // The child was a zombie, so the helper's waitid has returned or is returning: this
            // join waits at most for its last write and exit. (On an error the helper is left
            // detached: it ends by itself once its waitid returns.)
            if let Some(helper) = self.helper.take() {
                let _ = helper.join();
            }
        }
        reaped
    }

    fn kill(&self) -> io::Result<()> {
        // Under the reactor's lock for this child, which is held for every reap: not reaped.
        self.child.signal(9, false)
    }

    fn signal(&self, sig: i32, group: bool) -> io::Result<()> {
        self.child.signal(sig, group)
    }

    fn abort(self: Box<Self>) {
        self.child.kill_and_reap();
    }
}
