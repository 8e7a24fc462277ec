//! The fallback for any Unix where process descriptors cannot be had (Linux before 5.4, pidfd
//! system calls denied by seccomp, gVisor, valgrind; Unix systems without a backend of their
//! own; commands only `std` can spawn on FreeBSD): one small helper thread per *watched,
//! running* child.
//!
//! The helper blocks in `waitid(P_PID, WEXITED | WNOWAIT)`, which notices the exit without
//! reaping, then writes a byte to a socket the reactor polls. The reactor reaps with `wait4`
//! (with rusage) under the child's lock, the same lock every signal by pid is sent under, so a
//! signal can never reach a recycled pid. The helper exits once its child has.
//!
//! # Cost
//! Each watched child costs one thread (64 KiB of stack asked for, plus the kernel's) and two
//! descriptors (a socket pair: the reactor's end in its poller, the helper's end) until it is
//! reaped. A child is watched from its spawn, or, with `reap_on_drop(false)`, from its first
//! wait. Where no thread can be started (`RLIMIT_NPROC`, no memory) the spawn fails with
//! `EAGAIN`, the child killed and reaped (for `reap_on_drop(false)`, the wait fails and may be
//! retried); without descriptors, with `EMFILE`.
//!
//! # When `waitid` itself is denied
//! A seccomp filter may deny `waitid` (the probe then picks this backend). The helper cannot
//! wait without reaping then (`wait4` has no `WNOWAIT`), and it must not reap: a blocking
//! `wait4` would free the pid outside the child's lock, and a signal sent by pid between the
//! reap and the publish could reach whoever got the pid next. So the helper exits at once,
//! and its byte (and the closed end) keep the reactor's end readable: every re-arm fires at
//! once, and the reactor's non-blocking `wait4` under the lock finds the child still running.
//! That is spurious readiness, which the reactor retries after a growing delay
//! (`state::spurious_delay`: 1 ms doubling to 100 ms): the child is polled at most ten
//! times a second, and its exit is noticed within 100 ms, at a cost too small to measure
//! (tests/thread_backend.rs).
//!
//! # Released children
//! A `Child` dropped with `reap_on_drop(false)` is released: the reactor drops its end of the
//! socket, and the helper, if the child was watched, is left detached in `waitid(WNOWAIT)`.
//! That call only observes: it never reaps or signals, so it cannot harm a process that
//! gets the pid after the program reaps the child (it then watches that one if it is also
//! our child, or fails with `ECHILD`). It returns when that process exits or is reaped, and
//! the helper exits (its write fails with `EPIPE`, ignored): a helper lives no longer than
//! the child it watched, or the process that got its pid.

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
            match super::pidfd::spawn_own(spec, defaults, false) {
                Ok(spawned) => {
                    return Ok(Spawned {
                        pid: spawned.pid,
                        at,
                        process: super::Held::Boxed(Box::new(Helper::new(spawned.pid))),
                        pipes: super::pipes(spawned.pipes),
                    })
                }
                // Retried by `std` below (see `environ_moved`).
                Err(e) if super::pidfd::environ_moved(spec, &e) => {}
                Err(e) => return Err(e),
            }
        }
        let mut child = spec.std_command(defaults)?.spawn()?;
        Ok(Spawned {
            pid: child.id(),
            at,
            process: super::Held::Boxed(Box::new(Helper::new(child.id()))),
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
                // Whatever the outcome (an exit, ECHILD after a foreign reap, or waitid denied,
                // which turns the reactor's watch into polling: see the module doc), the
                // reactor learns it from its own reap; a closed reader (released) is fine too.
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
