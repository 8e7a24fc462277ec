//! Linux: the child is watched through its pidfd.
//!
//! Until the race-free spawn engine lands, the child is created by `std` and its pidfd opened
//! right after. That is race-free as long as nobody else reaps our children (a foreign
//! `waitpid(-1)`, or `SIGCHLD` set to `SIG_IGN`): see pidfd_open(2), NOTES.

use std::io;

use platform::linux::PidFd;
use platform::{ExitInfo, Registration};
use polling::Poller;

use super::{Backend, Pipes, Process, Spawned};

#[derive(Debug)]
pub(crate) struct PidFdBackend;

impl Backend for PidFdBackend {
    fn spawn(&self, cmd: &mut std::process::Command) -> io::Result<Spawned> {
        let at = std::time::Instant::now();
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
            process: Box::new(PidFdProcess::Idle(fd)),
            pipes: Pipes {
                stdin: child.stdin.take(),
                stdout: child.stdout.take(),
                stderr: child.stderr.take(),
            },
        })
    }
}

/// A pidfd, first on its own, then in the reactor's poller.
#[derive(Debug)]
enum PidFdProcess {
    Idle(PidFd),
    Watched(Registration<PidFd>, usize),
    /// Only while `register` moves the descriptor from one state to the other.
    Moving,
}

impl PidFdProcess {
    fn fd(&self) -> io::Result<&PidFd> {
        match self {
            PidFdProcess::Idle(fd) => Ok(fd),
            PidFdProcess::Watched(reg, _) => Ok(reg.get_ref()),
            PidFdProcess::Moving => Err(io::Error::new(
                io::ErrorKind::Other,
                "childfd: pidfd lost during registration",
            )),
        }
    }
}

impl Process for PidFdProcess {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        match std::mem::replace(self, PidFdProcess::Moving) {
            PidFdProcess::Idle(fd) => match Registration::new(poller, fd, key) {
                Ok(reg) => {
                    *self = PidFdProcess::Watched(reg, key);
                    Ok(())
                }
                Err((e, fd)) => {
                    *self = PidFdProcess::Idle(fd);
                    Err(e)
                }
            },
            other => {
                *self = other;
                Err(io::Error::new(
                    io::ErrorKind::Other,
                    "childfd: pidfd registered twice",
                ))
            }
        }
    }

    fn rearm(&self) -> io::Result<()> {
        match self {
            PidFdProcess::Watched(reg, key) => reg.rearm(*key),
            _ => Ok(()),
        }
    }

    fn try_reap(&mut self) -> io::Result<Option<ExitInfo>> {
        self.fd()?.try_wait()
    }

    fn kill(&self) -> io::Result<()> {
        self.fd()?.kill().map(drop)
    }

    fn signal(&self, sig: i32, group: bool) -> io::Result<()> {
        let fd = self.fd()?;
        match group {
            false => fd.send_signal(sig).map(drop),
            true => fd.send_signal_to_group(sig).map(drop),
        }
    }

    fn abort(self: Box<Self>) {
        if let Ok(fd) = self.fd() {
            let _ = fd.kill();
            let _ = fd.wait();
        }
    }
}
