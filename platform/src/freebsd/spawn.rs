//! Creating a child together with its process descriptor: `pdfork(2)`, then the shared
//! child-side code (`unix/child.rs`) and the fork path's failure pipe (`unix/fork.rs`).
//!
//! The descriptor is allocated before the process (fork1 calls procdesc_falloc first), so a
//! full descriptor table fails the call with no child created: no child ever exists without
//! its descriptor, as with Linux's `CLONE_PIDFD`.
//!
//! `pdfork` has fork semantics: the child is a copy, which costs a page-table copy in a large
//! parent. FreeBSD 16.0's `pdrfork(RFSPAWN)` would avoid it, but like `vfork` it returns twice
//! on a shared stack, which Rust code cannot do soundly; the way there is `posix_spawn` with
//! `posix_spawnattr_setprocdescp_np`, found with `dlsym` and gated on `kern.osreldate`, never
//! by calling an unknown system call (FreeBSD raises `SIGSYS` for one, kern_sig.c `nosys`).

use std::io;
use std::os::unix::io::{FromRawFd, OwnedFd};

use super::{decide, ProcDesc};
use crate::unix::fork::{ReportPipe, SignalsBlocked};
use crate::unix::prepare::{ParentPipes, PreExec, Prepared, SpawnRequest};

/// A child that has exec'd, with its process descriptor and the parent's ends of its pipes.
#[derive(Debug)]
pub struct Spawned {
    /// The child's process id.
    pub pid: u32,
    /// Born with the child.
    pub procdesc: ProcDesc,
    /// Pipes the request asked for.
    pub pipes: ParentPipes,
}

/// Spawns the request with `pdfork`, running `hooks` in the child before exec (their safety
/// was promised when each [`PreExec`] was made).
///
/// With `kill_on_close`, closing the last descriptor of the live child kills it, even when
/// the descriptor is closed because this process exits; otherwise the child is created with
/// `PD_DAEMON` and outlives its descriptor, as a `std` child outlives its parent.
///
/// # Errors
/// - Preparation: `InvalidInput` (NUL byte), `EMFILE` (pipes), `NotFound` (empty program).
/// - `pdfork`: `EMFILE`/`ENFILE` for the descriptor (no child is created then), `EAGAIN`
///   (process limits), `ENOMEM`.
/// - The child's own failure (`NotFound` for a missing program or directory,
///   `PermissionDenied`...), once it has been reaped.
#[doc(alias = "pdfork")]
pub fn spawn(
    req: &SpawnRequest<'_>,
    hooks: &mut [PreExec],
    kill_on_close: bool,
) -> io::Result<Spawned> {
    if req.cgroup.is_some() {
        // Jobs are process groups here (issue 15): childfd never asks for a cgroup.
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no cgroups on FreeBSD",
        ));
    }
    let mut prepared = Prepared::new(req)?;
    let report = ReportPipe::new()?;
    let mut fd: libc::c_int = -1;
    let (pid, pdfork_error) = {
        let blocked = SignalsBlocked::new()?;
        // SAFETY: pdfork(2) has fork semantics: the child runs on its own copy of this
        // thread's stack and memory. `fd` is a live, writable int, so the copyout cannot fail
        // with EFAULT (the one case where both processes would see -1, pdfork(2) ERRORS).
        let pid = unsafe { libc::pdfork(&mut fd, decide::pdfork_flags(kill_on_close)) };
        if pid == 0 {
            // SAFETY: first code in the fresh child (its own copy of everything), with
            // signals still blocked.
            unsafe { report.exec_child(&prepared, blocked.old_mask(), hooks) }
        }
        // Read errno before `blocked` restores the mask.
        (pid, io::Error::last_os_error())
    };
    if pid == -1 {
        return Err(pdfork_error);
    }
    // Positive: -1 was handled above, and 0 is the child, which never gets here.
    let child_pid = pid as u32;
    // SAFETY: pdfork just returned this descriptor to us (close-on-exec); nothing else owns
    // it.
    let procdesc = ProcDesc::from_owned(unsafe { OwnedFd::from_raw_fd(fd) }, child_pid);
    // Blocks until the child execs (EOF: the pipe was close-on-exec) or reports a failure.
    let failure = match report.wait_for_exec() {
        Ok(failure) => failure,
        Err(e) => {
            // Its fate is unknown: end it rather than leave it running unwatched.
            let _ = procdesc.kill();
            let _ = procdesc.wait();
            return Err(e);
        }
    };
    if let Some(error) = failure.to_error() {
        // It wrote its report and is exiting: reap it, so that no zombie is left for the
        // descriptor's close to discard.
        let _ = procdesc.wait();
        return Err(error);
    }
    Ok(Spawned {
        pid: child_pid,
        procdesc,
        pipes: std::mem::take(&mut prepared.parent_ends),
    })
}
