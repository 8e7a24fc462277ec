//! A pidfd: a descriptor for one process that can be polled, waited on and signalled without
//! ever naming a pid that may have been recycled.

use std::io;
use std::mem::MaybeUninit;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::process::{Pid, Signal};

use crate::exit::{wait_status, ExitInfo, Usage};

/// An owned pidfd. Always close-on-exec (pidfd_open(2)).
#[derive(Debug)]
pub struct PidFd(OwnedFd);

impl PidFd {
    /// Opens a pidfd for `pid` with `pidfd_open(2)` (Linux 5.3).
    ///
    /// Only race-free while `pid` is our unreaped child: nobody else can then have reaped it
    /// and let the pid be recycled (pidfd_open(2), NOTES).
    ///
    /// # Errors
    /// `ENOSYS` (before 5.3, valgrind), `EPERM` (seccomp), `ESRCH`, `EMFILE`, `ENFILE`.
    #[doc(alias = "pidfd_open")]
    pub fn open(pid: u32) -> io::Result<PidFd> {
        let pid = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
        Ok(PidFd(fd))
    }

    /// Sends `sig` (a Unix signal number) with `pidfd_send_signal(2)` (Linux 5.1).
    ///
    /// Returns `Ok` for a zombie (the signal is discarded) and `ESRCH` once the child has been
    /// reaped: a signal sent this way can never reach a process that reused the pid.
    ///
    /// # Errors
    /// `ESRCH` after the reap, `EINVAL` for a bad signal number, `EPERM`, `ENOSYS`.
    #[doc(alias = "pidfd_send_signal")]
    /// `Ok(true)`: delivered (or discarded by a zombie); `Ok(false)`: already reaped.
    pub fn send_signal(&self, sig: i32) -> io::Result<bool> {
        let sig = Signal::from_named_raw(sig)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        match rustix::process::pidfd_send_signal(self.0.as_fd(), sig) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::SRCH) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends `SIGKILL`; see [`send_signal`](Self::send_signal).
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn kill(&self) -> io::Result<bool> {
        self.send_signal(libc::SIGKILL)
    }

    /// Reaps the child if it has exited, without blocking, and returns its status together
    /// with its resource usage.
    ///
    /// `Ok(None)` means the child is still running: readiness of a pidfd is only a hint.
    ///
    /// # Errors
    /// `ECHILD` if the child was already reaped (by us, or by a foreign `waitpid(-1)`, or
    /// automatically under `SIGCHLD = SIG_IGN`), or if it is not our child. `EINVAL` before
    /// Linux 5.4 (no `P_PIDFD`).
    #[doc(alias = "waitid")]
    pub fn try_wait(&self) -> io::Result<Option<ExitInfo>> {
        self.waitid(libc::WNOHANG)
    }

    /// Blocks until the child exits, then reaps it. Only for error paths that must not leave a
    /// zombie (the child was just sent `SIGKILL`); never on a descriptor made non-blocking.
    ///
    /// # Errors
    /// As [`try_wait`](Self::try_wait), plus `EAGAIN` if the descriptor is non-blocking.
    pub fn wait(&self) -> io::Result<ExitInfo> {
        loop {
            match self.waitid(0) {
                Ok(Some(info)) => return Ok(info),
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn waitid(&self, nohang: i32) -> io::Result<Option<ExitInfo>> {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        let mut usage = MaybeUninit::<libc::rusage>::zeroed();
        // The reactor passes WNOHANG because readiness is only a hint, and because a pidfd with
        // O_NONBLOCK set answers a blocking waitid with EAGAIN (waitid(2)). __WALL so that a
        // child created with a non-SIGCHLD exit signal that dies before exec is still seen
        // (clone(2), "The child termination signal").
        let options = libc::WEXITED | nohang | libc::__WALL;
        // SAFETY: the raw syscall takes a fifth `struct rusage *` that glibc's wrapper hides
        // (waitid(2), NOTES); both out-pointers refer to live, writable, zero-initialised
        // buffers of the kernel's layout, and the fd is owned by `self` for the whole call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_waitid,
                libc::P_PIDFD,
                self.0.as_raw_fd(),
                info.as_mut_ptr(),
                options,
                usage.as_mut_ptr(),
            )
        };
        if ret == -1 {
            let e = io::Error::last_os_error();
            return Err(if e.raw_os_error() == Some(libc::ECHILD) {
                io::Error::new(
                    io::ErrorKind::Other,
                    "the child was reaped by someone else (a foreign waitpid(-1), or SIGCHLD \
                     set to SIG_IGN); its exit status is lost",
                )
            } else {
                e
            });
        }
        // SAFETY: zero-initialised and possibly filled by the kernel; every bit pattern is a
        // valid siginfo_t / rusage (plain C structs of integers).
        let (info, usage) = unsafe { (info.assume_init(), usage.assume_init()) };
        // SAFETY: for waitid, the kernel fills the SIGCHLD member of the union, which si_pid
        // and si_status read; with WNOHANG and no exit it zeroes si_pid (waitid(2)).
        let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        let status = wait_status(info.si_code, status).ok_or_else(|| {
            io::Error::new(io::ErrorKind::Other, "waitid reported a non-exit event")
        })?;
        Ok(Some(ExitInfo {
            pid: pid as u32,
            status,
            usage: Some(Usage::from_rusage(&usage)),
        }))
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        self.0.as_raw_fd()
    }
}

impl From<PidFd> for OwnedFd {
    fn from(fd: PidFd) -> OwnedFd {
        fd.0
    }
}
