//! Whether this process may use pidfds: Go's three steps (golang/go src/os/pidfd_linux.go,
//! `checkPidfd`), run once by `childfd` and cached there.

use std::io;
use std::mem::MaybeUninit;
use std::os::unix::io::AsRawFd;

use super::PidFd;

/// Why pidfds cannot be used here.
#[derive(Debug)]
pub struct Unavailable {
    /// The step that failed.
    pub step: &'static str,
    /// What it failed with.
    pub error: io::Error,
}

/// `Ok(Ok(()))`: pidfds work. `Ok(Err(_))`: they do not, for a lasting reason (old kernel,
/// seccomp, gVisor, valgrind). `Err(_)`: a passing one (`EMFILE`, `ENFILE`, `ENOMEM`), which
/// must not be cached (std's `PIDFD_SUPPORTED` comment says the same).
///
/// # Errors
/// Only the passing ones above.
#[allow(clippy::result_large_err)]
pub fn probe() -> io::Result<Result<(), Unavailable>> {
    let unavailable = |step, error: io::Error| match error.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM) => Err(error),
        _ => Ok(Err(Unavailable { step, error })),
    };
    // 1. pidfd_open (5.3): ENOSYS before, EPERM under old Docker profiles.
    let me = match PidFd::open(std::process::id()) {
        Ok(fd) => fd,
        Err(e) => return unavailable("pidfd_open", e),
    };
    // 2. waitid(P_PIDFD) (5.4) must say "not your child": EINVAL means the idtype is unknown.
    let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
    // SAFETY: waitid with a live pidfd and a writable siginfo_t; WNOHANG, and we are not our
    // own child, so nothing can be reaped.
    let ret = unsafe {
        libc::waitid(
            libc::P_PIDFD,
            me.as_raw_fd() as libc::id_t,
            info.as_mut_ptr(),
            libc::WEXITED | libc::WNOHANG,
        )
    };
    let error = io::Error::last_os_error();
    if ret != -1 || error.raw_os_error() != Some(libc::ECHILD) {
        let error = if ret == -1 {
            error
        } else {
            io::Error::other("succeeded on ourselves")
        };
        return unavailable("waitid(P_PIDFD)", error);
    }
    // 3. pidfd_send_signal (5.1), signal 0: only checks that signalling is allowed.
    if let Err(e) = me.send_signal(0) {
        return unavailable("pidfd_send_signal", e);
    }
    Ok(Ok(()))
}
