//! A process descriptor: one child, signalled through its descriptor, reaped by its pid
//! while the descriptor proves that pid is still the child's.

use std::io;
use std::mem::MaybeUninit;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use rustix::process::Pid;

use super::decide::{self, Probe, Waited};
use crate::exit::{ExitInfo, Usage};
use crate::unix::signal;

/// An owned process descriptor from `pdfork(2)`, close-on-exec (`PD_CLOEXEC`).
///
/// Closing it (dropping it) reaps a zombie at once, its status discarded; a live child is
/// handed to init (its reaper), and sent `SIGKILL` unless it was created with `PD_DAEMON`
/// (sys_procdesc.c, `procdesc_close`). A procdesc child never sends `SIGCHLD` and is never
/// returned by `wait(-1)` (wait(2)), so no other part of the program reaps it by accident,
/// except a `waitpid(0)` or `waitpid(-pgid)`, whose matching has no procdesc check.
#[derive(Debug)]
#[doc(alias = "procdesc")]
pub struct ProcDesc {
    fd: OwnedFd,
    pid: u32,
}

impl ProcDesc {
    /// Takes ownership of the descriptor `pdfork` returned for `pid`.
    pub(crate) fn from_owned(fd: OwnedFd, pid: u32) -> ProcDesc {
        ProcDesc { fd, pid }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn raw_pid(&self) -> io::Result<libc::pid_t> {
        libc::pid_t::try_from(self.pid).map_err(|_| io::ErrorKind::InvalidInput.into())
    }

    /// `pdkill(fd, sig)`: `Ok` or the errno.
    fn pdkill(&self, sig: i32) -> Result<(), i32> {
        // SAFETY: pdkill(2) with a live descriptor owned by `self` and an integer.
        match unsafe { libc::pdkill(self.fd.as_raw_fd(), sig) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error().raw_os_error().unwrap_or(0)),
        }
    }

    /// Sends `sig` (`0` only checks; real-time signals included) with `pdkill(2)`.
    ///
    /// `Ok(true)`: delivered, or discarded by a zombie. `Ok(false)`: the child was reaped
    /// (`ESRCH`: the descriptor no longer refers to a process), so a signal sent this way can
    /// never reach a process that reused the pid.
    ///
    /// # Errors
    /// `EINVAL` for a bad signal number, `EPERM`.
    #[doc(alias = "pdkill")]
    pub fn send_signal(&self, sig: i32) -> io::Result<bool> {
        let sig = match sig {
            0 => 0,
            sig => signal::checked(sig)?,
        };
        match self.pdkill(sig) {
            Ok(()) => Ok(true),
            Err(libc::ESRCH) => Ok(false),
            Err(e) => Err(io::Error::from_raw_os_error(e)),
        }
    }

    /// Sends `sig` to the child's process group, `killpg(getpgid(pid))`, once `pdkill(fd, 0)`
    /// has shown the child unreaped, so that its pid and group id are still its own; the
    /// caller holds off its own reaping meanwhile. `Ok(false)` once the child has exited:
    /// FreeBSD's `getpgid` does not find zombies (it uses `pfind`).
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn send_signal_to_group(&self, sig: i32) -> io::Result<bool> {
        let sig = signal::checked(sig)?;
        if !self.send_signal(0)? {
            return Ok(false);
        }
        let pid = Pid::from_raw(self.raw_pid()?).ok_or(io::ErrorKind::InvalidInput)?;
        let group = match rustix::process::getpgid(Some(pid)) {
            Ok(group) => group,
            Err(rustix::io::Errno::SRCH) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        signal::kill(-group.as_raw_nonzero().get(), sig)?;
        Ok(true)
    }

    /// Sends `SIGKILL`; see [`send_signal`](Self::send_signal).
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn kill(&self) -> io::Result<bool> {
        self.send_signal(libc::SIGKILL)
    }

    /// Reaps the child if it has exited, without blocking, with its resource usage.
    /// `Ok(None)`: still running (readiness is only a hint).
    ///
    /// `wait4(pid, WNOHANG)`: waiting by pid is allowed for a procdesc child (wait(2): "unless
    /// specifically directed to do so by specifying its process ID"), and the pid is ours
    /// while `pdkill(fd, 0)` succeeds. If someone else reaped the child, its wait status is
    /// read back from the descriptor (an `EVFILT_PROCDESC` knote's `data`), without usage.
    ///
    /// # Errors
    /// The child was reaped by someone else and no status could be read back; `EPERM`.
    #[doc(alias = "wait4")]
    pub fn try_wait(&self) -> io::Result<Option<ExitInfo>> {
        self.reap(libc::WNOHANG)
    }

    /// Blocks until the child exits, then reaps it. Only for error paths that must not leave a
    /// zombie (the child was just sent `SIGKILL`, or reported a failed exec).
    ///
    /// # Errors
    /// As [`try_wait`](Self::try_wait).
    pub fn wait(&self) -> io::Result<ExitInfo> {
        loop {
            if let Some(info) = self.reap(0)? {
                return Ok(info);
            }
        }
    }

    fn reap(&self, options: libc::c_int) -> io::Result<Option<ExitInfo>> {
        match decide::probe(self.pdkill(0), libc::ESRCH) {
            Probe::WaitPid => {}
            Probe::Stolen => return self.exit_after_foreign_reap().map(Some),
            Probe::Fail(e) => return Err(io::Error::from_raw_os_error(e)),
        }
        // A foreign reap between the probe and wait4 would let the pid be recycled; it takes
        // a whole cycle of the pid space in that instant, and FreeBSD 16.0 closes even that
        // gap (pdfork(2): "The PID ... is not reused until the process descriptor is closed").
        let pid = self.raw_pid()?;
        loop {
            let mut status: libc::c_int = 0;
            let mut usage = MaybeUninit::<libc::rusage>::zeroed();
            // SAFETY: wait4(2) with live out-pointers to a status word and a zeroed rusage.
            let ret = unsafe { libc::wait4(pid, &mut status, options, usage.as_mut_ptr()) };
            let errno = match ret {
                -1 => io::Error::last_os_error().raw_os_error().unwrap_or(0),
                _ => 0,
            };
            match decide::waited(ret, pid, errno, (libc::EINTR, libc::ECHILD)) {
                Waited::Running => return Ok(None),
                Waited::Again => continue,
                Waited::Stolen => return self.exit_after_foreign_reap().map(Some),
                Waited::Fail(e) => return Err(io::Error::from_raw_os_error(e)),
                Waited::Unexpected(other) => {
                    return Err(io::Error::other(format!(
                        "wait4({pid}) reported process {other}"
                    )))
                }
                Waited::Reaped => {
                    // SAFETY: zeroed, then possibly filled by the kernel: plain integers.
                    let usage = Usage::from_rusage(unsafe { usage.assume_init_ref() });
                    return Ok(Some(ExitInfo {
                        pid: self.pid,
                        status: ExitStatus::from_raw(status),
                        usage: Some(usage),
                    }));
                }
            }
        }
    }

    /// After someone else reaped the child: the descriptor keeps its wait status
    /// (`pd_xstat`), which a fresh `EVFILT_PROCDESC` knote reports at once.
    fn exit_after_foreign_reap(&self) -> io::Result<ExitInfo> {
        match super::queue::exit_status(self.fd.as_fd())? {
            Some(status) => Ok(ExitInfo {
                pid: self.pid,
                status: ExitStatus::from_raw(status),
                usage: None,
            }),
            None => Err(io::Error::other(
                "the child was reaped by someone else (a foreign waitpid(0) or waitpid(-pgid)), \
                 and its process descriptor reports no exit status",
            )),
        }
    }
}

impl AsFd for ProcDesc {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for ProcDesc {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<ProcDesc> for OwnedFd {
    fn from(pd: ProcDesc) -> OwnedFd {
        pd.fd
    }
}
