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

use std::ffi::c_void;
use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;

use super::PidFd;

use crate::unix::prepare::{ParentPipes, PreExec, Prepared, SpawnRequest};
use crate::unix::{exec_child, ChildPid, Failure, Step};

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

/// The child's stack. Its code uses little: system calls, no allocation, no formatting.
const STACK_SIZE: usize = 64 * 1024;

struct ChildArgs<'a> {
    prepared: &'a Prepared,
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

/// Blocks every signal in the calling thread until dropped.
struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    fn new() -> io::Result<SignalsBlocked> {
        // SAFETY: sigset_t is plain data, filled by sigfillset/pthread_sigmask before use.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            match libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) {
                0 => Ok(SignalsBlocked(old)),
                e => Err(io::Error::from_raw_os_error(e)),
            }
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on the same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// Spawns the request, with its pidfd if `with_pidfd`: vfork-style, or fork-style when there
/// are `hooks` to run in the child before exec (their safety was promised when each
/// [`PreExec`] was made).
///
/// # Errors
/// - Preparation: `InvalidInput` (NUL byte), `EMFILE` (pipes), `NotFound` (empty program).
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
    if hooks.is_empty() {
        spawn_vfork(req, pidfd_flag)
    } else {
        spawn_fork(req, hooks, pidfd_flag)
    }
}

fn spawn_vfork(req: &SpawnRequest<'_>, pidfd_flag: libc::c_int) -> io::Result<Spawned> {
    let mut prepared = Prepared::new(req)?;
    let failure = Failure::default();
    // Uninitialised: the child writes before it reads, as on any stack; zeroing 64 KiB per
    // spawn would cost more than the allocation.
    let mut stack: Vec<u128> = Vec::with_capacity(STACK_SIZE / 16);
    let mut pidfd: libc::c_int = -1;
    let pid = {
        let blocked = SignalsBlocked::new()?;
        let args = ChildArgs {
            prepared: &prepared,
            mask: &blocked.0,
            failure: &failure,
        };
        let flags = libc::CLONE_VM | libc::CLONE_VFORK | pidfd_flag | libc::SIGCHLD;
        // SAFETY: the stack is a live, 16-byte aligned buffer of STACK_SIZE bytes and we pass
        // its top (it grows down on every Linux architecture Rust supports but hppa, which has
        // no CLONE_PIDFD user in Rust); `args` and `pidfd` outlive the call, and CLONE_VFORK
        // keeps this thread suspended until the child no longer uses them.
        let pid = unsafe {
            let top = stack.as_mut_ptr().add(stack.capacity()) as *mut c_void;
            libc::clone(
                vfork_child,
                top,
                flags,
                &args as *const ChildArgs<'_> as *mut c_void,
                &mut pidfd as *mut libc::c_int,
            )
        };
        // Read errno before `blocked` restores the mask.
        (pid, io::Error::last_os_error())
    };
    drop(stack);
    let (pid, clone_error) = pid;
    if pid == -1 {
        return Err(clone_error);
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
    let (report_rx, report_tx) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
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
            // The child: its own copy of everything, signals still blocked.
            let failure = Failure::default();
            let tx = report_tx.as_raw_fd();
            let report = |f: &Failure| {
                let msg = [
                    f.step.load(Ordering::Relaxed),
                    f.errno.load(Ordering::Relaxed),
                ];
                // SAFETY: write(2) of a stack buffer to our pipe; async-signal-safe. A short
                // write is seen by the parent as a malformed report.
                unsafe { libc::write(tx, msg.as_ptr().cast(), std::mem::size_of_val(&msg)) };
            };
            let mut run = || hooks.iter_mut().try_for_each(PreExec::run);
            // SAFETY: first code in the fresh child, with signals blocked; the hooks' safety
            // was promised by `PreExec::new`'s callers.
            unsafe { exec_child(&prepared, &blocked.0, &failure, &mut run, &report) }
        }
        (pid, io::Error::last_os_error())
    };
    let (pid, clone_error) = pid;
    drop(report_tx);
    if pid == -1 {
        return Err(clone_error);
    }
    // Blocks until the child execs (EOF: the pipe was close-on-exec) or reports a failure.
    let failure = Failure::default();
    let mut msg = [0u8; 8];
    let n = read_full(&report_rx, &mut msg)?;
    if n == 8 {
        let step = i32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
        let errno = i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
        failure.step.store(step, Ordering::Relaxed);
        failure.errno.store(errno, Ordering::Relaxed);
    } else if n != 0 {
        failure.step.store(-1, Ordering::Relaxed);
    }
    finish(
        pid as libc::pid_t,
        pidfd_flag != 0,
        pidfd,
        &failure,
        &mut prepared,
    )
}

fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::read(fd, &mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

/// After the clone: own the pidfd, and turn a child's failure into an error once the child is
/// reaped.
fn finish(
    pid: libc::pid_t,
    with_pidfd: bool,
    pidfd: libc::c_int,
    failure: &Failure,
    prepared: &mut Prepared,
) -> io::Result<Spawned> {
    let child = ChildPid::new(pid as u32);
    if with_pidfd && pidfd < 0 {
        // The kernel ignored CLONE_PIDFD (before 5.2). The pid is still ours and unreaped.
        let _ = child.send_signal(libc::SIGKILL);
        let _ = child.wait();
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
    let step = failure.step.load(Ordering::Relaxed);
    if step == 0 {
        let pipes = std::mem::take(&mut prepared.parent_ends);
        return Ok(Spawned {
            pid: pid as u32,
            pidfd,
            pipes,
        });
    }
    // The child has exited (vfork: before `clone` returned; fork: it wrote its report, then
    // _exit): reap it so no zombie remains.
    let _ = match &pidfd {
        Some(fd) => fd.wait().map(drop),
        None => child.wait().map(drop),
    };
    let errno = failure.errno.load(Ordering::Relaxed);
    Err(match Step::from_i32(step) {
        // What std reports for these: the bare OS error (NotFound, PermissionDenied...).
        Some(Step::Exec) | Some(Step::Chdir) | None if errno > 0 => {
            io::Error::from_raw_os_error(errno)
        }
        Some(step) => {
            let os = io::Error::from_raw_os_error(errno);
            io::Error::new(os.kind(), format!("{} failed: {os}", step.name()))
        }
        None => io::Error::other("malformed failure report from the child"),
    })
}
