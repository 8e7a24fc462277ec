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

use super::watch::Watch;
use super::{Backend, Pipes, Process, Spawned};
use crate::spec::{Defaults, Spec};

#[derive(Debug)]
pub(crate) struct HandleBackend;

impl Backend for HandleBackend {
    fn spawn(&self, spec: &mut Spec, defaults: Defaults) -> io::Result<Spawned> {
        let at = Instant::now();
        let mut child = spec.std_command(defaults)?.spawn()?;
        let handle = match child.as_handle().try_clone_to_owned() {
            Ok(handle) => handle,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let pipes = Pipes {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            handle,
        };
        Ok(Spawned {
            pid: child.id(),
            at,
            process: super::Held::Boxed(Box::new(HandleProcess(Watch::Idle(child)))),
            pipes,
        })
    }
}

/// A child's handle, first on its own, then in the reactor's poller.
#[derive(Debug)]
struct HandleProcess(Watch<Child, Registration<Child>>);

impl HandleProcess {
    fn child(&self) -> io::Result<&Child> {
        self.0.source()
    }
}

impl Process for HandleProcess {
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()> {
        self.0.register(poller, key)
    }

    fn rearm(&self) -> io::Result<()> {
        self.0.rearm()
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
