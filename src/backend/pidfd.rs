//! Linux: the child is born with its pidfd (`clone(CLONE_PIDFD)`) and watched through it.
//!
//! Commands whose settings only `std` can read (see `Command`, "Spawn routes") are created by
//! `std` and their pidfd opened right after. That is race-free as long as nobody else reaps
//! our children (a foreign `waitpid(-1)`, or `SIGCHLD` set to `SIG_IGN`): pidfd_open(2), NOTES.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use platform::linux::PidFd;
use platform::{ExitInfo, Registration};
use polling::Poller;

use super::{pipes, request, Backend, Held, Process, Spawned};
use crate::spec::{Defaults, Spec};

#[derive(Debug)]
pub(crate) struct PidFdBackend;

/// Set once `clone(CLONE_PIDFD)` has been refused: later spawns go straight to the std route.
static CLONE_PIDFD_REFUSED: AtomicBool = AtomicBool::new(false);

impl Backend for PidFdBackend {
    #[inline]
    fn spawn(&self, spec: &mut Spec, defaults: Defaults) -> io::Result<Spawned> {
        if spec.needs_std() || CLONE_PIDFD_REFUSED.load(Ordering::Relaxed) {
            return spawn_std(spec.std_command(defaults)?);
        }
        let at = Instant::now();
        let spawned = match spawn_own(spec, defaults, true) {
            // The probe passed, yet clone ignored or refused CLONE_PIDFD (a kernel before 5.2,
            // a seccomp filter on the flag): std then pidfd_open, from now on.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                CLONE_PIDFD_REFUSED.store(true, Ordering::Relaxed);
                return spawn_std(spec.std_command(defaults)?);
            }
            Err(e) if environ_moved(spec, &e) => return spawn_std(spec.std_command(defaults)?),
            other => other?,
        };
        let Some(pidfd) = spawned.pidfd else {
            return Err(io::Error::other("clone returned no pidfd"));
        };
        Ok(Spawned {
            pid: spawned.pid,
            at,
            process: Held::PidFd(PidFdProcess::new(pidfd)),
            pipes: pipes(spawned.pipes),
        })
    }
}

/// Whether a failed spawn is `execve` finding the parent's environment array gone: the child
/// is handed the parent's `environ` as is (as `posix_spawn` does), and a `set_var` in another
/// thread can reallocate it under the `exec` (`EFAULT`). `std` holds its environment lock
/// across its spawn, which this crate cannot reach; `std::env::set_var` forbids it since Rust
/// 2024, but code of earlier editions may still do it. Such a spawn is retried by `std`, under
/// its lock.
pub(super) fn environ_moved(spec: &Spec, e: &io::Error) -> bool {
    // EFAULT is 14 on every Linux architecture (asm-generic/errno-base.h).
    e.raw_os_error() == Some(14) && !spec.env_clear && spec.env.is_empty()
}

/// Spawns with this crate's engine, with or without a pidfd.
#[inline]
pub(super) fn spawn_own(
    spec: &mut Spec,
    defaults: Defaults,
    with_pidfd: bool,
) -> io::Result<platform::linux::Spawned> {
    let mut hooks = std::mem::take(&mut spec.unix.hooks);
    let spawned = request(spec, defaults)
        .and_then(|req| platform::linux::spawn(&req, &mut hooks, with_pidfd));
    spec.unix.hooks = hooks;
    spawned
}

/// The `std` route: spawn, then open the pidfd.
fn spawn_std(cmd: &mut std::process::Command) -> io::Result<Spawned> {
    let at = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let fd = match PidFd::open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            // EMFILE/ENFILE here would otherwise leave a running child nobody watches
            // (async-process has this leak; tokio PR #8359).
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    Ok(Spawned {
        pid,
        at,
        process: Held::PidFd(PidFdProcess::new(fd)),
        pipes: super::std_pipes(&mut child),
    })
}

/// A pidfd. Owned alone until a watch that needs shared ownership asks for it (`share`:
/// async-io's `Async`, a set's poller, the backstop's registration); tokio's watch borrows it
/// by number instead (`state::LentPidFd`), so that a `childfd::tokio` spawn and wait allocate
/// no `Arc` for it (issue 13: about 470 instructions and 0.5 µs of parent CPU per spawn and
/// wait). Dropping the process at the reap closes it unless a shared watch still holds it.
#[derive(Debug)]
pub(crate) struct PidFdProcess {
    fd: Fd,
    watch: Option<(Registration<Arc<PidFd>>, usize)>,
}

#[derive(Debug)]
enum Fd {
    Own(PidFd),
    Shared(Arc<PidFd>),
}

impl PidFdProcess {
    fn new(fd: PidFd) -> PidFdProcess {
        PidFdProcess {
            fd: Fd::Own(fd),
            watch: None,
        }
    }

    fn fd(&self) -> &PidFd {
        match &self.fd {
            Fd::Own(fd) => fd,
            Fd::Shared(fd) => fd,
        }
    }

    /// The descriptor, shared from now on with the caller.
    pub(crate) fn share(self) -> (PidFdProcess, Arc<PidFd>) {
        let fd = match self.fd {
            Fd::Own(fd) => Arc::new(fd),
            Fd::Shared(fd) => fd,
        };
        let process = PidFdProcess {
            fd: Fd::Shared(fd.clone()),
            watch: self.watch,
        };
        (process, fd)
    }

    /// The descriptor's number, for a watch the caller keeps from outliving the process.
    #[cfg(any(feature = "tokio", test))]
    pub(crate) fn raw_fd(&self) -> std::os::unix::io::RawFd {
        use std::os::unix::io::{AsFd, AsRawFd};
        self.fd().as_fd().as_raw_fd()
    }

    /// [`Process::abort`] that leaves the descriptor open, for a process whose descriptor is
    /// lent (`state::Slot::abort`).
    pub(crate) fn kill_and_reap(&self) {
        let _ = self.fd().kill();
        let _ = self.fd().wait();
    }
}

impl Process for PidFdProcess {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        // `Reactor::adopt` shares the descriptor first (`Held::share_pidfd`).
        let (None, Fd::Shared(fd)) = (&self.watch, &self.fd) else {
            return Err(io::Error::other(
                "childfd: pidfd registered twice, or unshared",
            ));
        };
        let registration = Registration::new(poller, fd.clone(), key).map_err(|(e, _)| e)?;
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
        self.fd().try_wait()
    }

    fn kill(&self) -> io::Result<()> {
        self.fd().kill().map(drop)
    }

    fn signal(&self, sig: i32, group: bool) -> io::Result<()> {
        match group {
            false => self.fd().send_signal(sig).map(drop),
            true => self.fd().send_signal_to_group(sig).map(drop),
        }
    }

    fn abort(self: Box<Self>) {
        self.kill_and_reap();
    }
}
