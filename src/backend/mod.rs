//! The mechanisms that create a child and tell when it has exited, behind one small trait.
//!
//! The waiting, the reactor, the futures and the waking are written once, above these two
//! traits; a backend only knows how to spawn, how to put its descriptor in the reactor's
//! poller (or hand it to a waiter), how to collect an exit without blocking, and how to
//! signal. Nothing here knows who waits.
//!
//! | backend | targets | spawn | readiness | reap |
//! |---|---|---|---|---|
//! | `pidfd` | Linux ≥ 5.4 | `clone(CLONE_PIDFD)` (or `std`, then `pidfd_open`, for what only `std` can read) | the pidfd in the poller | `waitid(P_PIDFD)` with rusage |
//! | `procdesc` | FreeBSD | `pdfork` (what only `std` can read: `std`, watched by a helper thread) | one private kqueue of exits, itself in the poller ([`SHARED_KEY`]) | `wait4(pid)` with rusage |
//! | `kqueue` | macOS | `std` | `EVFILT_PROC`/`NOTE_EXIT` by pid in the poller (polling's kqueue filter) | `wait4(pid)` with rusage |
//! | `thread` | any Unix | this crate's engine on Linux, else `std` | a helper thread per running child writes to a socket in the poller | `wait4(pid)` with rusage |
//! | `handle` | Windows | `std` | the process handle as an IOCP waitable in the poller | `GetExitCodeProcess`, `GetProcessTimes`, `K32GetProcessMemoryInfo` |
//! | `unsupported` | any other target | fails with `Unsupported` | - | - |
//!
//! # One source for many children
//!
//! The reactor's rule is "readiness of key K hints that child K may have exited; ask child K".
//! A backend whose children cannot each be put in the poller (a FreeBSD process descriptor
//! accepts no filter but `EVFILT_PROCDESC`) registers one shared source instead, under
//! [`SHARED_KEY`], which no child's key can equal, from its children's
//! [`Process::register`]. When that key is ready the reactor calls
//! [`Backend::shared_ready`], which drains the source and names the children to ask; each is
//! then handled exactly as if its own key had been ready, spurious hints included. Backends
//! with a source per child never register the key, and the default `shared_ready` does
//! nothing.

use std::fmt;
use std::io;

use platform::ExitInfo;
use polling::Poller;

use crate::spec::{Defaults, Spec};

#[cfg(target_os = "macos")]
mod kqueue;
#[cfg(target_os = "linux")]
mod pidfd;
#[cfg(target_os = "freebsd")]
mod procdesc;
#[cfg(unix)]
mod thread;
#[cfg(not(any(unix, windows)))]
mod unsupported;
#[cfg(windows)]
mod watch;
#[cfg(windows)]
mod windows;

/// A mechanism for creating and watching children. Chosen once per process.
pub(crate) trait Backend: Send + Sync + fmt::Debug {
    /// Creates the child described by `cmd`, together with whatever the backend watches it
    /// through. On error no child is left behind.
    fn spawn(&self, spec: &mut Spec, defaults: Defaults) -> io::Result<Spawned>;

    /// [`SHARED_KEY`] was ready: drains the backend's shared source without blocking, calls
    /// `hint` with the key of each child that may have exited, then re-arms the source.
    /// Only backends that register such a source (see the module doc) override it.
    ///
    /// # Errors
    /// Draining or re-arming failed; the source is re-armed even after a failed drain.
    fn shared_ready(&self, _hint: &mut dyn FnMut(usize)) -> io::Result<()> {
        Ok(())
    }
}

/// The poller key of a source shared by all the children of a backend (see the module doc).
/// Children's keys come from a slab, dense from 0, so they never reach it; `polling` keeps
/// `usize::MAX` for itself.
pub(crate) const SHARED_KEY: usize = usize::MAX - 1;

/// One child as a backend holds it. Every method is non-blocking except [`Process::abort`].
pub(crate) trait Process: Send + fmt::Debug {
    /// Starts watching: readiness of `key` in `poller` (or a hint of `key` from
    /// [`Backend::shared_ready`]) will say that the child may have exited.
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

/// A backend's child as the crate keeps it: the pidfd backend's (Linux, the common case)
/// without a box. Each allocation of a spawn costs misses in caches the child has just run
/// over: three more in the benchmark's tokio floor cost it about 0.9 µs per child (issue 13).
#[derive(Debug)]
pub(crate) enum Held {
    #[cfg(target_os = "linux")]
    PidFd(pidfd::PidFdProcess),
    Boxed(Box<dyn Process>),
}

impl Held {
    /// [`Process::abort`].
    pub(crate) fn abort(self) {
        match self {
            #[cfg(target_os = "linux")]
            Held::PidFd(p) => p.kill_and_reap(),
            Held::Boxed(p) => p.abort(),
        }
    }
}

#[cfg(target_os = "linux")]
impl Held {
    /// The descriptor a waiter can watch itself, shared with the process until the reap;
    /// `None` for a child only the reactor can watch (it is then registered at spawn).
    pub(crate) fn share_pidfd(self) -> (Held, Option<std::sync::Arc<platform::linux::PidFd>>) {
        match self {
            Held::PidFd(p) => {
                let (p, fd) = p.share();
                (Held::PidFd(p), Some(fd))
            }
            other => (other, None),
        }
    }

    /// The pidfd's number, for a watch that keeps the process from closing it (`LentPidFd`).
    #[cfg(any(feature = "tokio", test))]
    pub(crate) fn raw_pidfd(&self) -> Option<std::os::unix::io::RawFd> {
        match self {
            Held::PidFd(p) => Some(p.raw_fd()),
            Held::Boxed(_) => None,
        }
    }
}

impl std::ops::Deref for Held {
    type Target = dyn Process;

    fn deref(&self) -> &(dyn Process + 'static) {
        match self {
            #[cfg(target_os = "linux")]
            Held::PidFd(p) => p,
            Held::Boxed(p) => &**p,
        }
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut (dyn Process + 'static) {
        match self {
            #[cfg(target_os = "linux")]
            Held::PidFd(p) => p,
            Held::Boxed(p) => &mut **p,
        }
    }
}

/// What a backend's spawn returns.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) pid: u32,
    /// When the child was created, for `Exit::wall_time`.
    pub(crate) at: std::time::Instant,
    pub(crate) process: Held,
    pub(crate) pipes: Pipes,
}

/// The parent's ends of the pipes `Stdio::piped()` asked for.
#[derive(Debug)]
#[cfg_attr(unix, derive(Default))]
pub(crate) struct Pipes {
    pub(crate) stdin: Option<std::process::ChildStdin>,
    pub(crate) stdout: Option<std::process::ChildStdout>,
    pub(crate) stderr: Option<std::process::ChildStderr>,
    /// Windows: a duplicate of the process handle, for `Child`'s `AsHandle`.
    #[cfg(windows)]
    pub(crate) handle: std::os::windows::io::OwnedHandle,
}

/// The parent's ends of a child `std` spawned.
#[cfg(unix)]
fn std_pipes(child: &mut std::process::Child) -> Pipes {
    Pipes {
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
    }
}

/// The parent's ends of the pipes this crate's spawn engine made.
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn pipes(p: platform::unix::prepare::ParentPipes) -> Pipes {
    Pipes {
        stdin: p.stdin.map(std::process::ChildStdin::from),
        stdout: p.stdout.map(std::process::ChildStdout::from),
        stderr: p.stderr.map(std::process::ChildStderr::from),
    }
}

/// Spawns through `backend`. The pidfd backend (`pidfd`: it is the one) is called directly,
/// not through the vtable, so that its spawn is compiled into the caller's: one straight path
/// instead of four calls, each with its own result to move (issue 13).
#[inline]
pub(crate) fn spawn(
    backend: &'static dyn Backend,
    pidfd: bool,
    spec: &mut Spec,
    defaults: Defaults,
) -> io::Result<Spawned> {
    #[cfg(target_os = "linux")]
    if pidfd {
        return pidfd::PidFdBackend.spawn(spec, defaults);
    }
    let _ = pidfd;
    backend.spawn(spec, defaults)
}

/// The spawn engine's view of `spec` (Linux's clone and FreeBSD's pdfork read the same).
#[cfg(any(target_os = "linux", target_os = "freebsd"))]
#[inline]
fn request(
    spec: &Spec,
    defaults: Defaults,
) -> io::Result<platform::unix::prepare::SpawnRequest<'_>> {
    use platform::unix::prepare::StdioPlan;
    use std::os::unix::io::AsFd;

    use crate::spec::default_stream;
    use crate::stdio::Kind;

    fn plan(kind: &Option<Kind>, defaults: Defaults, which: usize) -> Option<StdioPlan<'_>> {
        Some(
            match kind.as_ref().unwrap_or(default_stream(defaults, which)) {
                Kind::Inherit => StdioPlan::Inherit,
                Kind::Null => StdioPlan::Null,
                Kind::Piped => StdioPlan::Piped,
                Kind::Fd(fd) => StdioPlan::Fd(fd.as_fd()),
                // `needs_std` routed such commands to `std`.
                Kind::Std(_) => return None,
            },
        )
    }
    let [stdin, stdout, stderr] = &spec.stdio;
    let (Some(stdin), Some(stdout), Some(stderr)) = (
        plan(stdin, defaults, 0),
        plan(stdout, defaults, 1),
        plan(stderr, defaults, 2),
    ) else {
        return Err(io::Error::other("opaque stdio"));
    };
    let unix = &spec.unix;
    Ok(platform::unix::prepare::SpawnRequest {
        program: &spec.program,
        args: &spec.args,
        arg0: unix.arg0.as_deref(),
        env_clear: spec.env_clear,
        env: &spec.env,
        cwd: spec.cwd.as_deref(),
        stdio: [stdin, stdout, stderr],
        uid: unix.uid,
        gid: unix.gid,
        groups: unix.groups.as_deref(),
        pgroup: unix.pgroup,
        setsid: unix.setsid,
        cgroup: spec.job_target(),
    })
}

/// The environment variable that forces a backend.
const FORCE_VAR: &str = "CHILDFD_BACKEND";

/// Chooses the backend for this process: forced by `CHILDFD_BACKEND` or
/// `--cfg childfd_force_thread_backend`, else the best one the probe allows.
///
/// # Errors
/// `InvalidInput` for an unknown `CHILDFD_BACKEND`; a passing failure of the probe (`EMFILE`),
/// which is not cached: the next spawn probes again.
pub(crate) fn select() -> io::Result<(&'static dyn Backend, BackendInfo)> {
    let forced = std::env::var(FORCE_VAR).ok().filter(|v| !v.is_empty());
    #[cfg(unix)]
    if cfg!(childfd_force_thread_backend) && forced.is_none() {
        return Ok(thread(
            "forced by --cfg childfd_force_thread_backend".into(),
        ));
    }
    match forced.as_deref() {
        None => {}
        #[cfg(unix)]
        Some("thread") => return Ok(thread(format!("forced by {FORCE_VAR}"))),
        #[cfg(target_os = "linux")]
        Some("pidfd") => return Ok((&pidfd::PidFdBackend, BackendInfo::new("pidfd", None))),
        #[cfg(target_os = "freebsd")]
        Some("procdesc") => return Ok(procdesc()),
        #[cfg(target_os = "macos")]
        Some("kqueue") => return Ok((&kqueue::KqueueBackend, BackendInfo::new("kqueue", None))),
        #[cfg(windows)]
        Some("handle") => return Ok((&windows::HandleBackend, BackendInfo::new("handle", None))),
        Some(other) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{FORCE_VAR}={other:?}: the backends are `pidfd` (Linux), `procdesc` \
                     (FreeBSD), `kqueue` (macOS), `thread` (any Unix) and `handle` (Windows)"
                ),
            ))
        }
    }
    #[cfg(target_os = "linux")]
    return Ok(match platform::linux::probe()? {
        Ok(()) => (&pidfd::PidFdBackend, BackendInfo::new("pidfd", None)),
        Err(why) => thread(format!("{}: {}", why.step, why.error)),
    });
    // Nothing to probe: pdfork, pdkill and EVFILT_PROCDESC exist since FreeBSD 9.0, and the
    // libc ABI this crate links against needs 12.0 (see platform's freebsd module).
    #[cfg(target_os = "freebsd")]
    return Ok(procdesc());
    // EVFILT_PROC has been in every macOS; nothing to probe.
    #[cfg(target_os = "macos")]
    return Ok((&kqueue::KqueueBackend, BackendInfo::new("kqueue", None)));
    #[cfg(all(
        unix,
        not(any(target_os = "linux", target_os = "freebsd", target_os = "macos"))
    ))]
    return Ok(thread(
        "no process-descriptor backend for this OS yet".into(),
    ));
    #[cfg(windows)]
    return Ok((&windows::HandleBackend, BackendInfo::new("handle", None)));
    #[cfg(not(any(unix, windows)))]
    return Ok((
        &unsupported::Unsupported,
        BackendInfo::new("unsupported", None),
    ));
}

#[cfg(target_os = "freebsd")]
fn procdesc() -> (&'static dyn Backend, BackendInfo) {
    (
        &procdesc::ProcDescBackend,
        BackendInfo::new("procdesc", None),
    )
}

#[cfg(unix)]
fn thread(reason: String) -> (&'static dyn Backend, BackendInfo) {
    (
        &thread::ThreadBackend,
        BackendInfo::new("thread", Some(reason)),
    )
}

/// Which mechanism this process uses to watch its children, and why: see [`backend()`](crate::backend()).
///
/// `Display` gives the name, then the reason for a fallback in parentheses:
/// `pidfd`, or `thread (pidfd_open: Function not implemented (os error 38))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    name: &'static str,
    reason: Option<String>,
}

#[cfg(all(test, unix))]
pub(crate) fn test_info() -> BackendInfo {
    BackendInfo::new("mock", None)
}

impl BackendInfo {
    fn new(name: &'static str, reason: Option<String>) -> BackendInfo {
        BackendInfo { name, reason }
    }

    /// `pidfd` (Linux), `procdesc` (FreeBSD), `kqueue` (macOS), `thread` (a helper thread per
    /// running child, any Unix), `handle` (Windows), or `unsupported` (no backend on this OS).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Why the best mechanism was not used, for a fallback or a forced choice.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

impl std::fmt::Display for BackendInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "{} ({reason})", self.name),
            None => f.write_str(self.name),
        }
    }
}
