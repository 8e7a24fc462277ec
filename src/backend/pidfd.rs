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

/// A pidfd, shared with the waiters that watch it (each through its own `Arc`, so a watch is
/// always deregistered before the descriptor closes), and in the backstop's poller once
/// adopted. Dropping the process at the reap closes it unless a watch still holds it.
#[derive(Debug)]
pub(crate) struct PidFdProcess {
    fd: Arc<PidFd>,
    watch: Option<(Registration<Arc<PidFd>>, usize)>,
}

impl PidFdProcess {
    fn new(fd: PidFd) -> PidFdProcess {
        PidFdProcess {
            fd: Arc::new(fd),
            watch: None,
        }
    }
}

impl Process for PidFdProcess {
    fn pidfd(&self) -> Option<Arc<PidFd>> {
        Some(self.fd.clone())
    }

    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        if self.watch.is_some() {
            return Err(io::Error::other("childfd: pidfd registered twice"));
        }
        let registration = Registration::new(poller, self.fd.clone(), key).map_err(|(e, _)| e)?;
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
        self.fd.try_wait()
    }

    fn kill(&self) -> io::Result<()> {
        self.fd.kill().map(drop)
    }

    fn signal(&self, sig: i32, group: bool) -> io::Result<()> {
        match group {
            false => self.fd.send_signal(sig).map(drop),
            true => self.fd.send_signal_to_group(sig).map(drop),
        }
    }

    fn abort(self: Box<Self>) {
        let _ = self.fd.kill();
        let _ = self.fd.wait();
    }
}
