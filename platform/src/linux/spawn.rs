//! Creating a child together with its pidfd, in one system call.
//!
//! The vfork-style path follows glibc's `posix_spawn` (sysdeps/unix/sysv/linux/spawni.c):
//! `clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD)` on a private stack, every signal
//! blocked around the call. The child shares our memory and the parent thread sleeps until
//! it has exec'd or exited, so no page tables are copied (the cost of `fork` in a large
//! parent) and a failure is read from shared memory after the call.
//!
//! Legacy `clone` rather than `clone3`: container seccomp profiles answer `ENOSYS` to
//! `clone3` and allow `clone` with these flags (moby/moby#42681). Before Linux 5.2 the
//! `CLONE_PIDFD` bit is ignored (it was the old `CLONE_PID`): the slot then stays -1.
//!
//! The fork-style path (for `pre_exec` hooks, which may not run in shared memory) is the raw
//! `clone` system call with `CLONE_PIDFD | SIGCHLD` and no stack: fork semantics, the child's
//! failure reported through a close-on-exec pipe.
//!
//! A job's child (issue 15) is born in its cgroup v2 leaf: `clone3` with `CLONE_INTO_CGROUP`
//! (5.7), fork-style too (no stack: a `clone3` child on a private stack would return from the
//! system call into a frame that is not there, which glibc solves in assembly). Where `clone3`
//! is refused (`ENOSYS` from Docker's seccomp profile, `EPERM`, or `E2BIG`/`EINVAL` before
//! 5.7), the usual paths run and the child writes itself into the leaf's `cgroup.procs` before
//! anything else (`child.rs`), as systemd does.

use std::ffi::c_void;
use std::io;
use std::os::unix::io::{FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;

mod clone3;

pub use clone3::clone3_refused;
use clone3::{spawn_clone3, CLONE3_REFUSED};

use super::PidFd;
use crate::unix::fork::{ReportPipe, SignalsBlocked};
use crate::unix::prepare::{ParentPipes, PreExec, Prepared, SpawnRequest};
use crate::unix::{exec_child, ChildPid, Failure};

/// A child that has exec'd, with its descriptor and the parent's ends of its pipes.
#[derive(Debug)]
pub struct Spawned {
    /// The child's process id.
    pub pid: u32,
    /// Born with the child, when asked for: there is no moment at which the child exists
    /// without it.
    pub pidfd: Option<PidFd>,
    /// Pipes the request asked for.
    pub pipes: ParentPipes,
}

/// The child's stack. Its code uses little: system calls, no allocation, no formatting, a
/// path buffer of 4 KiB for the `PATH` search.
const STACK_SIZE: usize = 64 * 1024;

/// A vfork-style child's stack: a private mapping with a guard page below it, so that an
/// overflow faults instead of writing over our memory. Each thread keeps one for its next
/// spawn (the only cost is address space: pages are touched only as used): `CLONE_VFORK`
/// suspends the thread until the child has exec'd or exited, so one spawn at a time uses it.
#[derive(Debug)]
struct Stack {
    /// # Invariant
    /// A mapping of `len` bytes that `Stack` owns; its first page is the guard.
    base: *mut c_void,
    len: usize,
}

std::thread_local! {
    static STACK: std::cell::Cell<Option<Stack>> = const { std::cell::Cell::new(None) };
}

impl Stack {
    /// This thread's stack, or a new one.
    ///
    /// # Errors
    /// `ENOMEM` (out of memory or address space: no abort, issue 14).
    fn take() -> io::Result<Stack> {
        if let Some(stack) = STACK.try_with(std::cell::Cell::take).ok().flatten() {
            return Ok(stack);
        }
        // SAFETY: sysconf takes an integer.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let len = STACK_SIZE + page;
        // SAFETY: a fresh anonymous private mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the first page of the mapping just made, which nothing uses yet.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The top: stacks grow down on every Linux architecture Rust supports but hppa, which
    /// has no `CLONE_PIDFD` user in Rust. Page-aligned, so 16-byte aligned.
    fn top(&self) -> *mut c_void {
        self.base.cast::<u8>().wrapping_add(self.len).cast()
    }

    /// Keeps the stack for this thread's next spawn.
    fn put_back(self) {
        let _ = STACK.try_with(|slot| slot.set(Some(self)));
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping this Stack owns (see `base`); no child uses it any more.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

struct ChildArgs<'a> {
    prepared: &'a Prepared<'a>,
    mask: &'a libc::sigset_t,
    failure: &'a Failure,
}

extern "C" fn vfork_child(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` on the suspended parent's stack (see `spawn`), alive
    // until this child execs or exits; this runs first in the fresh child, signals blocked.
    unsafe {
        let args = &*(arg as *const ChildArgs<'_>);
        exec_child(
            args.prepared,
            args.mask,
            args.failure,
            &mut || Ok(()),
            &|_| {},
        )
    }
}

/// Spawns the request, with its pidfd if `with_pidfd`: vfork-style, or fork-style when there
/// are `hooks` to run in the child before exec (their safety was promised when each
/// [`PreExec`] was made).
///
/// # Errors
/// - Preparation: `InvalidInput` (NUL byte), `EMFILE` (pipes), `NotFound` (empty program),
///   `ENOMEM` (no memory for the child's stack: never an abort).
/// - `clone`: `EMFILE`/`ENFILE` for the pidfd (no child is created then, Linux T7), `EAGAIN`,
///   `ENOMEM`, `ENOSYS`/`EPERM` under seccomp.
/// - `Unsupported` when the kernel ignored `CLONE_PIDFD` (before 5.2); the child is killed
///   and reaped first.
/// - The child's own failure (`NotFound` for a missing program or directory,
///   `PermissionDenied`...), once it has been reaped.
#[doc(alias = "clone")]
#[doc(alias = "CLONE_PIDFD")]
pub fn spawn(
    req: &SpawnRequest<'_>,
    hooks: &mut [PreExec],
    with_pidfd: bool,
) -> io::Result<Spawned> {
    let pidfd_flag = if with_pidfd { libc::CLONE_PIDFD } else { 0 };
    if let Some(target) = req.cgroup {
        if !CLONE3_REFUSED.load(Ordering::Relaxed) {
            match spawn_clone3(req, hooks, pidfd_flag, target) {
                Some(spawned) => return spawned,
                None => CLONE3_REFUSED.store(true, Ordering::Relaxed),
            }
        }
    }
    if hooks.is_empty() {
        spawn_vfork(req, pidfd_flag)
    } else {
        spawn_fork(req, hooks, pidfd_flag)
    }
}

fn spawn_vfork(req: &SpawnRequest<'_>, pidfd_flag: libc::c_int) -> io::Result<Spawned> {
    let mut prepared = Prepared::new(req)?;
    let failure = Failure::default();
    let stack = Stack::take()?;
    let mut pidfd: libc::c_int = -1;
    let pid = {
        let blocked = SignalsBlocked::new()?;
        let args = ChildArgs {
            prepared: &prepared,
            mask: blocked.old_mask(),
            failure: &failure,
        };
        let flags = libc::CLONE_VM | libc::CLONE_VFORK | pidfd_flag | libc::SIGCHLD;
        // SAFETY: we pass the top of a live stack mapping that nothing else uses (see
        // `Stack`); `args` and `pidfd` outlive the call, and CLONE_VFORK keeps this thread
        // suspended until the child no longer uses them or the stack.
        let pid = unsafe {
            libc::clone(
                vfork_child,
                stack.top(),
                flags,
                &args as *const ChildArgs<'_> as *mut c_void,
                &mut pidfd as *mut libc::c_int,
            )
        };
        // Read errno before `blocked` restores the mask.
        (pid, io::Error::last_os_error())
    };
    stack.put_back();
    let (pid, clone_error) = pid;
    if pid == -1 {
        return Err(refused(clone_error, pidfd_flag));
    }
    finish(pid, pidfd_flag != 0, pidfd, &failure, &mut prepared)
}

/// Fork-style (no shared memory): runs `hooks` in the child, in order, before exec.
fn spawn_fork(
    req: &SpawnRequest<'_>,
    hooks: &mut [PreExec],
    pidfd_flag: libc::c_int,
) -> io::Result<Spawned> {
    let mut prepared = Prepared::new(req)?;
    let report = ReportPipe::new()?;
    let mut pidfd: libc::c_int = -1;
    let pid = {
        let blocked = SignalsBlocked::new()?;
        // SAFETY: the raw clone system call with fork semantics (no stack, no CLONE_VM); the
        // pidfd slot is the third argument (parent_tid) on every architecture.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (pidfd_flag | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                &mut pidfd as *mut libc::c_int,
                0usize,
                0usize,
            )
        };
        if pid == 0 {
            // SAFETY: first code in the fresh child (its own copy of everything), with
            // signals still blocked.
            unsafe { report.exec_child(&prepared, blocked.old_mask(), hooks) }
        }
        (pid, io::Error::last_os_error())
    };
    let (pid, clone_error) = pid;
    if pid == -1 {
        return Err(refused(clone_error, pidfd_flag));
    }
    // Blocks until the child execs (EOF: the pipe was close-on-exec) or reports a failure.
    let failure = report.wait_for_exec()?;
    finish(
        pid as libc::pid_t,
        pidfd_flag != 0,
        pidfd,
        &failure,
        &mut prepared,
    )
}

/// A `clone` with `CLONE_PIDFD` that a sandbox refuses (`ENOSYS`, `EPERM`) or a kernel does
/// not understand (`EINVAL`) is reported as `Unsupported`, for the caller to take another
/// route; other errors (`EMFILE`, `EAGAIN`, `ENOMEM`) are passed on as they are.
fn refused(e: io::Error, pidfd_flag: libc::c_int) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ENOSYS | libc::EPERM | libc::EINVAL) if pidfd_flag != 0 => io::Error::new(
            io::ErrorKind::Unsupported,
            format!("clone with CLONE_PIDFD refused: {e}"),
        ),
        _ => e,
    }
}

/// After the clone: own the pidfd, and turn a child's failure into an error once the child is
/// reaped.
fn finish(
    pid: libc::pid_t,
    with_pidfd: bool,
    pidfd: libc::c_int,
    failure: &Failure,
    prepared: &mut Prepared<'_>,
) -> io::Result<Spawned> {
    let child = ChildPid::new(pid as u32);
    if with_pidfd && pidfd < 0 {
        // The kernel ignored CLONE_PIDFD (before 5.2). The pid is still ours and unreaped.
        child.kill_and_reap();
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "clone ignored CLONE_PIDFD (Linux before 5.2)",
        ));
    }
    let pidfd = (pidfd >= 0).then(|| {
        // SAFETY: the kernel just returned this descriptor to us (CLOEXEC); nothing else
        // owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
        PidFd::from_owned(fd, pid as u32)
    });
    let Some(error) = failure.to_error() else {
        let pipes = std::mem::take(&mut prepared.parent_ends);
        return Ok(Spawned {
            pid: pid as u32,
            pidfd,
            pipes,
        });
    };
    // The child has exited (vfork: before `clone` returned; fork: it wrote its report, then
    // _exit): reap it so no zombie remains.
    let _ = match &pidfd {
        Some(fd) => fd.wait().map(drop),
        None => child.wait().map(drop),
    };
    Err(error)
}
