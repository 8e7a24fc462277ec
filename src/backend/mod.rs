//! The mechanisms that create a child and tell when it has exited, behind one small trait.
//!
//! The reactor, the futures and the waking are written once, above these two traits; a
//! backend only knows how to spawn, how to put its descriptor in the reactor's poller, how to
//! collect an exit without blocking, and how to signal.
//!
//! | backend | targets | spawn | readiness | reap |
//! |---|---|---|---|---|
//! | `pidfd` | Linux ≥ 5.4 | `clone(CLONE_PIDFD)` (or `std`, then `pidfd_open`, for what only `std` can read) | the pidfd in the poller | `waitid(P_PIDFD)` with rusage |
//! | `unsupported` | every other target, for now | fails with `Unsupported` | - | - |

use std::fmt;
use std::io;

use platform::ExitInfo;
use polling::Poller;

use crate::spec::{Defaults, Spec};

#[cfg(target_os = "linux")]
mod pidfd;
#[cfg(not(target_os = "linux"))]
mod unsupported;

/// A mechanism for creating and watching children. Chosen once per process.
pub(crate) trait Backend: Send + Sync + fmt::Debug {
    /// Creates the child described by `cmd`, together with whatever the backend watches it
    /// through. On error no child is left behind.
    fn spawn(&self, spec: &mut Spec, defaults: Defaults) -> io::Result<Spawned>;
}

/// One child as a backend holds it. Every method is non-blocking except [`Process::abort`].
pub(crate) trait Process: Send + fmt::Debug {
    /// Starts watching: readiness of `key` in `poller` will hint that the child may have exited.
    fn register(&mut self, poller: &'static Poller, key: usize) -> io::Result<()>;

    /// Watches again after a readiness that was not an exit (one-shot registrations).
    fn rearm(&self) -> io::Result<()>;

    /// Reaps the child if it has exited. `Ok(None)`: still running.
    fn try_reap(&mut self) -> io::Result<Option<ExitInfo>>;

    /// Sends `SIGKILL` (or the OS's equivalent). `Ok` also when the child has already exited.
    fn kill(&self) -> io::Result<()>;

    /// Sends signal `sig` to the child, or with `group` to its process group. `Ok` also when
    /// the child has already exited. The caller holds off reaping meanwhile.
    #[cfg(unix)]
    fn signal(&self, sig: i32, group: bool) -> io::Result<()>;

    /// Kills the child and reaps it, blocking: the error path of a spawn that cannot be
    /// completed, so that no child outlives its failed `spawn()`.
    fn abort(self: Box<Self>);
}

/// What a backend's spawn returns.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: u32,
    /// When the child was created, for `Exit::wall_time`.
    pub(crate) at: std::time::Instant,
    pub(crate) process: Box<dyn Process>,
    pub(crate) pipes: Pipes,
}

/// The parent's ends of the pipes `Stdio::piped()` asked for.
#[derive(Debug, Default)]
pub(crate) struct Pipes {
    pub(crate) stdin: Option<std::process::ChildStdin>,
    pub(crate) stdout: Option<std::process::ChildStdout>,
    pub(crate) stderr: Option<std::process::ChildStderr>,
}

/// The backend for this process.
pub(crate) fn get() -> &'static dyn Backend {
    #[cfg(target_os = "linux")]
    return &pidfd::PidFdBackend;
    #[cfg(not(target_os = "linux"))]
    return &unsupported::Unsupported;
}
