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
}

impl Helper {
    fn new(pid: u32) -> Helper {
        Helper {
            child: ChildPid::new(pid),
            watch: None,
        }
    }
}

impl Process for Helper {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        let (ours, theirs) = UnixStream::pair()?;
        let registration = Registration::new(poller, ours, key).map_err(|(e, _)| e)?;
        let child = self.child;
        thread::Builder::new()
            .name("childfd-wait".into())
            .stack_size(HELPER_STACK)
            .spawn(move || {
                // Whatever the outcome (an exit, or ECHILD after a foreign reap), the reactor
                // learns it from its own reap; a closed reader (child forgotten) is fine too.
                let _ = child.wait_exited();
                let _ = send_byte(theirs.as_fd());
            })?;
        self.watch = Some((registration, key));
        Ok(())
    }

    fn rearm(&self) -> io::Result<()> {
        match &self.watch {
            Some((registration, key)) => registration.rearm(*key),
            None => Ok(()),
        }
    }

    fn try_reap(&mut self) -> io::Result<Option<ExitInfo>> {
        self.child.try_reap()
    }

    fn kill(&self) -> io::Result<()> {
        // Under the reactor's lock for this child, which is held for every reap: not reaped.
        self.child.send_signal(9)
    }

    fn signal(&self, sig: i32, group: bool) -> io::Result<()> {
        match group {
            false => self.child.send_signal(sig),
            true => self.child.send_signal_to_group(sig),
        }
    }

    fn abort(self: Box<Self>) {
        let _ = self.child.send_signal(9);
        let _ = self.child.wait();
    }
}
