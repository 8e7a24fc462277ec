//! Windows: `std` spawns the child, and its process handle is what the reactor watches.
//!
//! The `std::process::Child` is kept, because it owns the handle: while the handle is open
//! the process object (exit code, times, id) survives the exit, so there is nothing to reap
//! and no id that could be reused under a kill. Readiness comes from polling's IOCP
//! waitables (`RegisterWaitForSingleObject` on the Win32 thread pool); the exit code from
//! `GetExitCodeProcess`, and the usage from `GetProcessTimes`/`K32GetProcessMemoryInfo`, both
//! read before the handle is closed.

use std::io;
use std::os::windows::io::AsHandle;
use std::process::Child;
use std::time::Instant;

use platform::windows::Registration;
use platform::ExitInfo;
use polling::Poller;

use super::{Backend, Pipes, Process, Spawned};
use crate::spec::{Defaults, Spec};

#[derive(Debug)]
pub(crate) struct HandleBackend;

impl Backend for HandleBackend {
    fn spawn(&self, spec: &mut Spec, defaults: Defaults) -> io::Result<Spawned> {
        let at = Instant::now();
        let mut child = spec.std_command(defaults)?.spawn()?;
        let pipes = Pipes {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
        };
        Ok(Spawned {
            pid: child.id(),
            at,
            process: Box::new(HandleProcess::Idle(child)),
            pipes,
        })
    }
}

/// A child's handle, first on its own, then in the reactor's poller.
#[derive(Debug)]
enum HandleProcess {
    Idle(Child),
    Watched(Registration<Child>, usize),
    /// Only while `register` moves the handle from one state to the other.
    Moving,
}

impl HandleProcess {
    fn child(&self) -> io::Result<&Child> {
        match self {
            HandleProcess::Idle(child) => Ok(child),
            HandleProcess::Watched(reg, _) => Ok(reg.get_ref()),
            HandleProcess::Moving => Err(io::Error::other(
                "childfd: process handle lost during registration",
            )),
        }
    }
}

impl Process for HandleProcess {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        match std::mem::replace(self, HandleProcess::Moving) {
            HandleProcess::Idle(child) => match Registration::new(poller, child, key) {
                Ok(reg) => {
                    *self = HandleProcess::Watched(reg, key);
                    Ok(())
                }
                Err((e, child)) => {
                    *self = HandleProcess::Idle(child);
                    Err(e)
                }
            },
            other => {
                *self = other;
                Err(io::Error::other("childfd: process handle registered twice"))
            }
        }
    }

    fn rearm(&self) -> io::Result<()> {
        match self {
            HandleProcess::Watched(reg, key) => reg.rearm(*key),
            _ => Ok(()),
        }
    }

    fn try_reap(&mut self) -> io::Result<Option<ExitInfo>> {
        let child = self.child()?;
        platform::windows::try_wait(child.as_handle(), child.id())
    }

    fn kill(&self) -> io::Result<()> {
        platform::windows::terminate(self.child()?.as_handle())
    }

    fn abort(self: Box<Self>) {
        if let Ok(child) = self.child() {
            let _ = platform::windows::terminate(child.as_handle());
            let _ = platform::windows::wait(child.as_handle(), child.id());
        }
    }
}
