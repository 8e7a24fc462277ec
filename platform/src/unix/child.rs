//! The code that runs in the child, between clone/fork and exec.
//!
//! # Rules for this file
//!
//! Everything here runs in a child that either shares the parent's memory (`CLONE_VM`, the
//! parent thread suspended by `CLONE_VFORK`) or is a copy of a possibly multi-threaded parent
//! whose other threads may have held locks at the moment of the copy. So, as in `std`'s
//! `do_exec` and glibc's `spawni.c`:
//!
//! - only async-signal-safe calls (signal-safety(7)): no allocation, no locks, no `std::io`,
//!   no formatting, no panics and no unwinding (nothing here can panic: no indexing that can
//!   fail, no `unwrap`);
//! - everything the child needs was prepared in the parent (`prepare.rs`), but the paths of
//!   the `PATH` search, which it assembles on its own stack as glibc's `execvpe` does;
//! - on Linux, credentials change through the raw system calls: glibc's `setuid` wrappers
//!   broadcast to every thread of the process (`__nptl_setxid`), which in a `CLONE_VM` child
//!   would reach the parent's threads. FreeBSD's credentials belong to the process, not to its
//!   threads (setuid(2)), and its child is always a copy (`pdfork`), so libc's calls serve;
//! - the child leaves only through `execve` or `_exit`; a failure is reported as a step and
//!   an errno, through shared memory or a close-on-exec pipe (`fork.rs`).
//!
//! | | Linux | FreeBSD |
//! |---|---|---|
//! | the child | `clone`, shared memory (vfork-style) or a copy | `pdfork`, always a copy |
//! | errno | `__errno_location()` | `__error()` |
//! | `setuid`, `setgid`, `setgroups` | raw system calls | libc |
//! | highest signal | 64 (`_NSIG` - 1) | 128 (`_SIG_MAXSIG`, sys/signal.h) |

use std::sync::atomic::{AtomicI32, Ordering};

use super::prepare::Prepared;

/// Where a child records why it did not reach `exec`.
#[derive(Debug, Default)]
pub(crate) struct Failure {
    /// A [`Step`] as `i32`; 0 while nothing failed.
    pub(crate) step: AtomicI32,
    pub(crate) errno: AtomicI32,
}

/// The child's steps, in order. Values are stable: they cross a pipe on the fork path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Step {
    Signals = 1,
    Session = 2,
    ProcessGroup = 3,
    Groups = 4,
    Gid = 5,
    Uid = 6,
    Chdir = 7,
    Stdio = 8,
    PreExec = 9,
    Exec = 10,
    /// A `pre_exec` hook panicked; the errno is meaningless.
    PreExecPanicked = 11,
    /// Writing itself into its job's `cgroup.procs` (issue 15).
    Cgroup = 12,
}

impl Step {
    pub(crate) fn from_i32(v: i32) -> Option<Step> {
        const ALL: [Step; 12] = [
            Step::Signals,
            Step::Session,
            Step::ProcessGroup,
            Step::Groups,
            Step::Gid,
            Step::Uid,
            Step::Chdir,
            Step::Stdio,
            Step::PreExec,
            Step::Exec,
            Step::PreExecPanicked,
            Step::Cgroup,
        ];
        ALL.into_iter().find(|s| *s as i32 == v)
    }
}

/// The longest path `execve` takes, its NUL included (PATH_MAX on Linux; FreeBSD's is 1024,
/// and its kernel refuses longer ones itself).
const PATH_MAX: usize = 4096;

/// One past the highest signal number (`_NSIG` on Linux).
#[cfg(target_os = "linux")]
const NSIG: i32 = 65;
/// One past the highest signal number (`_SIG_MAXSIG` in FreeBSD's sys/signal.h).
#[cfg(target_os = "freebsd")]
const NSIG: i32 = 129;

#[cfg(target_os = "linux")]
fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid. With
    // CLONE_VM the child shares the suspended parent thread's TLS, so this is that slot.
    unsafe { *libc::__errno_location() }
}

#[cfg(target_os = "freebsd")]
fn errno() -> i32 {
    // SAFETY: __error returns the calling thread's errno slot, always valid; after pdfork the
    // child's only thread is the copy of the one that called it.
    unsafe { *libc::__error() }
}

// 32-bit x86 and Arm kept the 16-bit-id calls under the old names; the 32-bit ids are the
// `*32` calls (arch/x86/entry/syscalls/syscall_32.tbl). glibc's wrappers pick them too.
#[cfg(all(
    target_os = "linux",
    not(any(target_arch = "x86", target_arch = "arm"))
))]
use libc::{SYS_setgid as SYS_SETGID, SYS_setgroups as SYS_SETGROUPS, SYS_setuid as SYS_SETUID};
#[cfg(all(target_os = "linux", any(target_arch = "x86", target_arch = "arm")))]
use libc::{
    SYS_setgid32 as SYS_SETGID, SYS_setgroups32 as SYS_SETGROUPS, SYS_setuid32 as SYS_SETUID,
};

/// `setgroups(2)`. Linux: the raw system call, which changes only the calling thread (see the
/// module doc). `groups` may be null when `len` is 0.
///
/// # Safety
/// `groups` points to `len` readable group ids (or is null with `len == 0`).
#[cfg(target_os = "linux")]
unsafe fn set_groups(len: usize, groups: *const libc::gid_t) -> libc::c_long {
    // SAFETY: forwarded from this function's contract.
    unsafe { libc::syscall(SYS_SETGROUPS, len, groups) }
}

/// `setgroups(2)`. FreeBSD: `setgroups(0, NULL)` keeps only the effective group, as on Linux.
/// Unlike Linux, FreeBSD before 15.0 also makes the list's first entry the effective group id
/// (setgroups(2): "`gidset[0]` is used as the effective group-ID"); the `setgid` that follows,
/// when the command sets a gid, overrides it.
///
/// # Safety
/// `groups` points to `len` readable group ids (or is null with `len == 0`).
#[cfg(target_os = "freebsd")]
unsafe fn set_groups(len: usize, groups: *const libc::gid_t) -> libc::c_long {
    let Ok(len) = libc::c_int::try_from(len) else {
        // SAFETY: writing this thread's errno slot (see `errno`).
        unsafe { *libc::__error() = libc::EINVAL };
        return -1;
    };
    // SAFETY: forwarded from this function's contract.
    unsafe { libc::setgroups(len, groups) }.into()
}

#[cfg(target_os = "linux")]
fn set_gid(gid: libc::gid_t) -> libc::c_long {
    // SAFETY: the raw setgid system call takes a plain integer.
    unsafe { libc::syscall(SYS_SETGID, gid) }
}

#[cfg(target_os = "freebsd")]
fn set_gid(gid: libc::gid_t) -> libc::c_long {
    // SAFETY: setgid(2) takes a plain integer.
    unsafe { libc::setgid(gid) }.into()
}

#[cfg(target_os = "linux")]
fn set_uid(uid: libc::uid_t) -> libc::c_long {
    // SAFETY: the raw setuid system call takes a plain integer.
    unsafe { libc::syscall(SYS_SETUID, uid) }
}

#[cfg(target_os = "freebsd")]
fn set_uid(uid: libc::uid_t) -> libc::c_long {
    // SAFETY: setuid(2) takes a plain integer.
    unsafe { libc::setuid(uid) }.into()
}

/// Reads `-1` as failure of `step`.
fn check(ret: libc::c_long, step: Step) -> Result<(), (Step, i32)> {
    if ret == -1 {
        Err((step, errno()))
    } else {
        Ok(())
    }
}

/// Sets up the child as `p` describes and execs it. Never returns: on failure it records the
/// step and errno in `failure`, calls `report` (the fork path's pipe write), and `_exit(127)`s.
///
/// # Safety
/// Must run in a freshly cloned child, with every signal blocked, before any other code runs
/// in it. `p`, `mask`, `failure` must stay valid until the child execs or exits: the
/// `CLONE_VFORK` parent is suspended meanwhile, and on the fork path they are the child's own
/// copies. `hooks` must be async-signal-safe.
pub(crate) unsafe fn exec_child(
    p: &Prepared<'_>,
    mask: &libc::sigset_t,
    failure: &Failure,
    hooks: &mut dyn FnMut() -> Result<(), (Step, i32)>,
    report: &dyn Fn(&Failure),
) -> ! {
    // SAFETY: forwarded from this function's contract.
    let (step, err) = match unsafe { setup_and_exec(p, mask, hooks) } {
        Err(e) => e,
        Ok(never) => match never {},
    };
    failure.step.store(step as i32, Ordering::Relaxed);
    failure.errno.store(err, Ordering::Relaxed);
    report(failure);
    // SAFETY: _exit is async-signal-safe and ends only the child.
    unsafe { libc::_exit(127) }
}

/// # Safety
/// As [`exec_child`].
unsafe fn setup_and_exec(
    p: &Prepared<'_>,
    mask: &libc::sigset_t,
    hooks: &mut dyn FnMut() -> Result<(), (Step, i32)>,
) -> Result<std::convert::Infallible, (Step, i32)> {
    // SAFETY: plain system calls on values owned by `p` or on the stack,
    // in a child process that nothing else runs in.
    unsafe {
        // A handler inherited from the parent would run in the child if a signal arrived after
        // the mask is restored and before exec; SIGPIPE goes back to default because Rust's
        // runtime ignores it in the parent, as std does.
        for sig in 1..NSIG {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 {
                continue; // SIGKILL, SIGSTOP, glibc's internal signals: nothing to reset.
            }
            if (old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN)
                || sig == libc::SIGPIPE
            {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                check(
                    libc::sigaction(sig, &dfl, std::ptr::null_mut()).into(),
                    Step::Signals,
                )?;
            }
        }
        // Into the job first, before anything else can run (where clone3 could not put the
        // child there at birth): "0" names the writer (cgroup-v2.rst); write(2) is
        // async-signal-safe, and the descriptor was opened before the clone.
        if p.cgroup_procs >= 0 {
            let n = libc::write(p.cgroup_procs, b"0".as_ptr().cast(), 1);
            check(n as libc::c_long, Step::Cgroup)?;
        }
        if p.setsid {
            check(libc::setsid().into(), Step::Session)?;
        }
        if let Some(pgroup) = p.pgroup {
            check(libc::setpgid(0, pgroup).into(), Step::ProcessGroup)?;
        }
        if let Some(groups) = p.groups {
            check(set_groups(groups.len(), groups.as_ptr()), Step::Groups)?;
        }
        if let Some(gid) = p.gid {
            check(set_gid(gid), Step::Gid)?;
        }
        if let Some(uid) = p.uid {
            // Dropping privileges from root also drops supplementary groups unless the command
            // set them; without CAP_SETGID (EPERM) there is nothing to drop (std does the same).
            if p.groups.is_none() && set_groups(0, std::ptr::null()) == -1 && errno() != libc::EPERM
            {
                return Err((Step::Groups, errno()));
            }
            check(set_uid(uid), Step::Uid)?;
        }
        if let Some(cwd) = p.cwd {
            check(libc::chdir(cwd).into(), Step::Chdir)?;
        }
        for (target, &source) in p.stdio.iter().enumerate() {
            if source >= 0 {
                // dup2 clears FD_CLOEXEC on the copy; sources are ≥ 3, never equal to target.
                check(libc::dup2(source, target as i32).into(), Step::Stdio)?;
            }
        }
        hooks()?;
        check(
            libc::sigprocmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()).into(),
            Step::Signals,
        )?;

        let Some((name, path)) = p.search() else {
            libc::execve(p.program, p.argv, p.envp);
            return Err((Step::Exec, errno()));
        };
        // execvp's search: EACCES is remembered and the search goes on; a missing file or
        // directory goes on; anything else stops (glibc posix/execvpe.c). Each candidate is
        // built on this stack, as glibc does.
        let mut full = [0u8; PATH_MAX];
        let mut denied = false;
        let mut last = libc::ENOENT;
        for dir in path.split(|&b| b == b':') {
            let dir = if dir.is_empty() { b".".as_slice() } else { dir };
            let Some(candidate) = full.get_mut(..dir.len() + name.len() + 2) else {
                // What execve says of a path this long.
                return Err((Step::Exec, libc::ENAMETOOLONG));
            };
            let parts = dir.iter().chain(b"/").chain(name).chain(b"\0");
            for (slot, &byte) in candidate.iter_mut().zip(parts) {
                *slot = byte;
            }
            libc::execve(candidate.as_ptr().cast(), p.argv, p.envp);
            match errno() {
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                other => return Err((Step::Exec, other)),
            }
            last = errno();
        }
        Err((Step::Exec, if denied { libc::EACCES } else { last }))
    }
}
