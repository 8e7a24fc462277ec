//! A job's child, born in its cgroup v2 leaf (issue 15): fork-style `clone3` with
//! `CLONE_INTO_CGROUP` (5.7). See the parent module for why fork-style and what happens where
//! `clone3` is refused.

use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{finish, Spawned};
use crate::unix::fork::{ReportPipe, SignalsBlocked};
use crate::unix::prepare::{CgroupTarget, PreExec, Prepared, SpawnRequest};
use crate::unix::ChildPid;

/// Set once `clone3(CLONE_INTO_CGROUP)` has been refused: jobs' children then enter their
/// leaf themselves.
pub(super) static CLONE3_REFUSED: AtomicBool = AtomicBool::new(false);

/// Whether this process has seen `clone3(CLONE_INTO_CGROUP)` refused, so that jobs' children
/// write themselves into their cgroup before exec.
pub fn clone3_refused() -> bool {
    CLONE3_REFUSED.load(Ordering::Relaxed)
}

/// `struct clone_args` (linux/sched.h), up to `cgroup` (`CLONE_ARGS_SIZE_VER2`, 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// linux/sched.h; libc declares it as a `c_int`, which cannot hold it.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Fork-style `clone3` into the leaf. `None`: `clone3` or the flag was refused (nothing was
/// created), for the caller to take the route where the child enters by itself.
pub(super) fn spawn_clone3(
    req: &SpawnRequest<'_>,
    hooks: &mut [PreExec],
    pidfd_flag: libc::c_int,
    target: CgroupTarget<'_>,
) -> Option<io::Result<Spawned>> {
    let mut prepared = match Prepared::new(req) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    // Born there: nothing to write in the child.
    prepared.cgroup_procs = -1;
    let report = match ReportPipe::new() {
        Ok(r) => r,
        Err(e) => return Some(Err(e)),
    };
    let mut pidfd: libc::c_int = -1;
    let args = CloneArgs {
        flags: pidfd_flag as u64 | CLONE_INTO_CGROUP,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: target.dir.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let pid = {
        let blocked = match SignalsBlocked::new() {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        // SAFETY: clone3 with fork semantics (no CLONE_VM, no stack): the child returns here
        // on its own copy of this stack. `args` and `pidfd` are live for the call, and
        // `args`' size is passed with it.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
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
        return match clone_error.raw_os_error() {
            Some(libc::ENOSYS | libc::EPERM | libc::E2BIG | libc::EINVAL) => None,
            _ => Some(Err(clone_error)),
        };
    }
    let failure = match report.wait_for_exec() {
        Ok(f) => f,
        Err(e) => {
            if pidfd >= 0 {
                // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
                drop(unsafe { OwnedFd::from_raw_fd(pidfd) });
            }
            ChildPid::new(pid as u32).kill_and_reap();
            return Some(Err(e));
        }
    };
    Some(finish(
        pid as libc::pid_t,
        pidfd_flag != 0,
        pidfd,
        &failure,
        &mut prepared,
    ))
}
