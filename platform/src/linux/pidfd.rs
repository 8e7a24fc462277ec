//! A pidfd: a descriptor for one process that can be polled, waited on and signalled without
//! ever naming a pid that may have been recycled.

use std::io;
use std::mem::MaybeUninit;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::process::Pid;

use crate::exit::{wait_status, ExitInfo, Usage};
use crate::unix::signal;

/// An owned pidfd. Always close-on-exec (pidfd_open(2)).
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
    pid: u32,
}

/// `PIDFD_SIGNAL_PROCESS_GROUP` (Linux 6.9, include/uapi/linux/pidfd.h); libc lacks it.
const PIDFD_SIGNAL_PROCESS_GROUP: libc::c_uint = 1 << 2;

/// The longest a status query waits for the release of a task another thread has just
/// reaped. The release follows the reap within microseconds unless the reaping thread is
/// preempted in between, and then it runs again within the scheduler's latency (a few ms);
/// the reactor's thread may spend this long in the rare case.
const RELEASE_WAIT: Duration = Duration::from_millis(10);

/// Set once the kernel has answered `EINVAL` to `PIDFD_SIGNAL_PROCESS_GROUP` (before 6.9).
static NO_GROUP_FLAG: AtomicBool = AtomicBool::new(false);

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
        let raw = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let fd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())?;
        Ok(PidFd { fd, pid })
    }

    /// Takes ownership of a pidfd the kernel returned for `pid` (`CLONE_PIDFD`).
    pub(crate) fn from_owned(fd: OwnedFd, pid: u32) -> PidFd {
        PidFd { fd, pid }
    }

    /// The process id the descriptor refers to.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `pidfd_send_signal(fd, sig, NULL, flags)`, `ESRCH` read as `Ok(false)`.
    fn pidfd_send(&self, sig: i32, flags: libc::c_uint) -> io::Result<bool> {
        // SAFETY: pidfd_send_signal(2) with a live fd owned by `self`, a signal number, a NULL
        // siginfo (the kernel fills in a default one) and a flag word.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                flags,
            )
        };
        match ret {
            0 => Ok(true),
            _ if io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) => Ok(false),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Sends `sig` (a Unix signal number, real-time ones included; `0` only checks that the
    /// process can be signalled, as with kill(2)) with `pidfd_send_signal(2)` (Linux 5.1).
    ///
    /// Returns `Ok` for a zombie (the signal is discarded) and `ESRCH` once the child has been
    /// reaped: a signal sent this way can never reach a process that reused the pid.
    ///
    /// # Errors
    /// `ESRCH` after the reap, `EINVAL` for a signal this process may not send (see
    /// `unix::signal`), `EPERM`, `ENOSYS`.
    #[doc(alias = "pidfd_send_signal")]
    /// `Ok(true)`: delivered (or discarded by a zombie); `Ok(false)`: already reaped.
    pub fn send_signal(&self, sig: i32) -> io::Result<bool> {
        let sig = match sig {
            0 => 0,
            sig => signal::checked(sig)?,
        };
        self.pidfd_send(sig, 0)
    }

    /// Sends `sig` to the child's whole process group: `PIDFD_SIGNAL_PROCESS_GROUP` on Linux
    /// 6.9 and later, else `killpg(getpgid(pid))`, which is safe from pid reuse only while the
    /// child is not reaped: the caller must hold off its own reaping meanwhile.
    ///
    /// Meant for a child that leads its own group (`process_group(0)`, `setsid`): for one in
    /// the caller's group it signals the caller too, as `killpg(2)` would.
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal); `ESRCH`/`Ok(false)` once the child is reaped.
    pub fn send_signal_to_group(&self, sig: i32) -> io::Result<bool> {
        let sig = signal::checked(sig)?;
        if !NO_GROUP_FLAG.load(Ordering::Relaxed) {
            match self.pidfd_send(sig, PIDFD_SIGNAL_PROCESS_GROUP) {
                // The signal was checked above, so EINVAL means the flag is unknown (< 6.9).
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    NO_GROUP_FLAG.store(true, Ordering::Relaxed)
                }
                other => return other,
            }
        }
        // A zombie still answers 0 to pidfd_send_signal and keeps its pid and group.
        if !self.send_signal(0)? {
            return Ok(false);
        }
        let pid = Pid::from_raw(self.pid as i32).ok_or(io::ErrorKind::InvalidInput)?;
        let group = rustix::process::getpgid(Some(pid))?;
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

    /// Reaps the child if it has exited, without blocking, and returns its status together
    /// with its resource usage.
    ///
    /// `Ok(None)` means the child is still running: readiness of a pidfd is only a hint.
    ///
    /// If another part of the program reaped the child first (a foreign `waitpid(-1)`, or
    /// `SIGCHLD` set to `SIG_IGN`), the status is recovered on Linux 6.15 and later, without
    /// resource usage.
    ///
    /// # Errors
    /// The child was reaped by someone else on a kernel that cannot recover its status, or is
    /// not our child. `EINVAL` before Linux 5.4 (no `P_PIDFD`).
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

    /// After `ECHILD`: someone else reaped the child. Linux 6.15 keeps its wait status for any
    /// pidfd (`PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`); the resource usage is lost.
    ///
    /// The kernel records the status when it releases the task (`release_task` calls
    /// `pidfs_exit`), an instant after the reap that made `waitid` answer `ECHILD`, and then
    /// detaches the task from its pid, which wakes the pidfd's pollers with `POLLHUP`
    /// (kernel/exit.c, `__unhash_process`). A query in between finds no status yet (issue 14:
    /// about 1 in 8,000 foreign reaps): it waits for that `POLLHUP`, at most
    /// [`RELEASE_WAIT`], and asks again before declaring the status lost.
    fn exit_after_foreign_reap(&self) -> io::Result<ExitInfo> {
        let lost = || {
            io::Error::other(
                "the child was reaped by someone else (a foreign waitpid(-1), or SIGCHLD set to \
                 SIG_IGN), and this kernel cannot recover its exit status (PIDFD_INFO_EXIT needs \
                 Linux 6.15)",
            )
        };
        let status = match self.recorded_exit() {
            Ok(Some(status)) => status,
            // Not recorded yet, or (ESRCH) the task was released between the two lookups
            // `PIDFD_GET_INFO` makes, the record first; ESRCH is final before 6.15 only.
            Ok(None) | Err(libc::ESRCH) => {
                self.wait_for_release();
                self.recorded_exit().ok().flatten().ok_or_else(lost)?
            }
            Err(_) => return Err(lost()),
        };
        Ok(ExitInfo {
            pid: self.pid,
            status: std::os::unix::process::ExitStatusExt::from_raw(status),
            usage: None,
        })
    }

    /// `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`: `Ok(Some(status))` once the kernel has
    /// recorded the exit, `Ok(None)` while the task is not released yet (or on 6.13 and 6.14,
    /// which know no `PIDFD_INFO_EXIT`), else the errno.
    fn recorded_exit(&self) -> Result<Option<i32>, i32> {
        // SAFETY: pidfd_info is plain data (integers); all-zero is valid.
        let mut info: libc::pidfd_info = unsafe { std::mem::zeroed() };
        info.mask = libc::PIDFD_INFO_EXIT.into();
        // SAFETY: PIDFD_GET_INFO reads and writes one `struct pidfd_info` (its VER0 size is
        // encoded in the request number); `info` is live and writable, the fd owned by `self`.
        // Older kernels answer ENOTTY (no pidfs ioctls), EINVAL (< 6.13) or, for a released
        // task, ESRCH (< 6.15).
        let ret = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::PIDFD_GET_INFO, &mut info) };
        if ret == -1 {
            return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
        }
        Ok((info.mask & u64::from(libc::PIDFD_INFO_EXIT) != 0).then_some(info.exit_code))
    }

    /// Waits until the task is detached from its pid (`POLLHUP`, Linux 6.9), at most
    /// [`RELEASE_WAIT`]. Asks for no event, since the pidfd of an exited task is readable
    /// already.
    fn wait_for_release(&self) {
        let deadline = Instant::now() + RELEASE_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: 0,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, 1000) as libc::c_int;
            // SAFETY: poll(2) on one live pollfd that refers to a descriptor owned by `self`.
            let ret = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ret != -1 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return;
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
                self.fd.as_raw_fd(),
                info.as_mut_ptr(),
                options,
                usage.as_mut_ptr(),
            )
        };
        if ret == -1 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ECHILD) {
                return self.exit_after_foreign_reap().map(Some);
            }
            return Err(e);
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
        let status = wait_status(info.si_code, status)
            .ok_or_else(|| io::Error::other("waitid reported a non-exit event"))?;
        Ok(Some(ExitInfo {
            pid: pid as u32,
            status,
            usage: Some(Usage::from_rusage(&usage)),
        }))
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<PidFd> for OwnedFd {
    fn from(fd: PidFd) -> OwnedFd {
        fd.fd
    }
}
