//! A child known only by its pid: the fallback where no process descriptor can be had.
//!
//! A pid is only safe to use while the child is not reaped (after that the kernel may give it
//! to another process). [`ChildPid`] leaves that proof to its owner: `childfd` holds the
//! child's lock across "not reaped yet" and each signal, and reaps only under that lock.

use std::io;
use std::mem::MaybeUninit;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use rustix::process::{Pid, WaitId, WaitIdOptions};

use super::signal;
use crate::exit::{ExitInfo, Usage};

/// An unreaped child of this process, by pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildPid(u32);

impl ChildPid {
    /// A child of ours that nobody has reaped.
    pub fn new(pid: u32) -> ChildPid {
        ChildPid(pid)
    }

    /// The pid.
    pub fn pid(self) -> u32 {
        self.0
    }

    fn raw(self) -> io::Result<Pid> {
        i32::try_from(self.0)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or(io::ErrorKind::InvalidInput.into())
    }

    /// Blocks until the child has exited, *without* reaping it (`WNOWAIT`): its pid stays
    /// pinned, so signals by pid stay safe until [`try_reap`](Self::try_reap).
    ///
    /// # Errors
    /// `ECHILD` if someone else reaped it.
    pub fn wait_exited(self) -> io::Result<()> {
        let pid = self.raw()?;
        loop {
            match rustix::process::waitid(
                WaitId::Pid(pid),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
            ) {
                Ok(Some(_)) => return Ok(()),
                Ok(None) | Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reaps the child if it has exited, with its resource usage (`wait4`, `WNOHANG`).
    ///
    /// # Errors
    /// `ECHILD` if someone else reaped it: its status is then lost.
    pub fn try_reap(self) -> io::Result<Option<ExitInfo>> {
        self.wait4(libc::WNOHANG)
    }

    /// Blocks until the child exits, and reaps it. Only for error paths.
    ///
    /// # Errors
    /// As [`try_reap`](Self::try_reap).
    pub fn wait(self) -> io::Result<ExitInfo> {
        loop {
            match self.wait4(0) {
                Ok(Some(info)) => return Ok(info),
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn wait4(self, options: libc::c_int) -> io::Result<Option<ExitInfo>> {
        let mut status: libc::c_int = 0;
        let mut usage = MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: wait4(2) with live out-pointers to a status word and a zeroed rusage.
        let ret = unsafe {
            libc::wait4(
                self.0 as libc::pid_t,
                &mut status,
                options,
                usage.as_mut_ptr(),
            )
        };
        match ret {
            -1 if io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) => {
                Err(io::Error::other(
                    "the child was reaped by someone else (a foreign waitpid(-1), or SIGCHLD set \
                     to SIG_IGN); its exit status is lost",
                ))
            }
            -1 => Err(io::Error::last_os_error()),
            0 => Ok(None),
            _ => Ok(Some(ExitInfo {
                pid: self.0,
                status: ExitStatus::from_raw(status),
                // SAFETY: zeroed, then possibly filled by the kernel: plain integers.
                usage: Some(Usage::from_rusage(unsafe { usage.assume_init_ref() })),
            })),
        }
    }

    /// Sends `sig` (`0` only checks), real-time signals included. The caller must know the
    /// child is not reaped yet.
    ///
    /// # Errors
    /// `EINVAL` for a signal this process may not send (see `unix::signal`); `EPERM`.
    pub fn send_signal(self, sig: i32) -> io::Result<()> {
        let pid = self.raw()?;
        if sig == 0 {
            return Ok(rustix::process::test_kill_process(pid)?);
        }
        signal::kill(pid.as_raw_nonzero().get(), sig)
    }

    /// Sends `sig` to the child, or with `group` to its process group: what every backend that
    /// knows its child by pid does. The caller must know the child is not reaped yet.
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn signal(self, sig: i32, group: bool) -> io::Result<()> {
        match group {
            false => self.send_signal(sig),
            true => self.send_signal_to_group(sig),
        }
    }

    /// `SIGKILL`, then a blocking reap: the error path of a spawn that cannot be completed.
    pub fn kill_and_reap(self) {
        let _ = self.send_signal(libc::SIGKILL);
        let _ = self.wait();
    }

    /// Sends `sig` to the child's process group. The caller must know the child is not
    /// reaped yet, so that its group id is current.
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn send_signal_to_group(self, sig: i32) -> io::Result<()> {
        let sig = signal::checked(sig)?;
        let group = rustix::process::getpgid(Some(self.raw()?))?;
        signal::kill(-group.as_raw_nonzero().get(), sig)
    }
}

/// Writes one byte to a socket without ever raising `SIGPIPE` (the reader may be gone): how a
/// helper thread tells the reactor that its child exited.
///
/// # Errors
/// What `send(2)` reports; `EPIPE` once the reader is closed.
pub fn send_byte(sock: std::os::unix::io::BorrowedFd<'_>) -> io::Result<()> {
    #[cfg(not(any(target_os = "macos", target_os = "ios")))]
    let flags = rustix::net::SendFlags::NOSIGNAL;
    // Apple has no MSG_NOSIGNAL; its backend (#7) will set SO_NOSIGPIPE instead.
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    let flags = rustix::net::SendFlags::empty();
    rustix::net::send(sock, &[1], flags)?;
    Ok(())
}

/// Whether process group `pgid` still has a member, zombies included (`kill(-pgid, 0)`):
/// while it does, the kernel keeps the id, so signalling it reaches only that group.
pub fn group_exists(pgid: u32) -> bool {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    rustix::process::test_kill_process_group(pid).is_ok()
}

/// Whether process group `pgid` has a member that is still running. Unlike
/// [`group_exists`], zombies do not count: orphans whose new parent (an init that does not
/// reap, as in many containers) leaves them as zombies are done.
///
/// Reads /proc on Linux; elsewhere falls back to [`group_exists`].
pub fn group_has_running_members(pgid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return group_exists(pgid);
        };
        let running_member = |pid: &str| -> Option<bool> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let state = fields.next()?;
            let pgrp: u32 = fields.nth(1)?.parse().ok()?;
            Some(pgrp == pgid && state != "Z" && state != "X")
        };
        dir.flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
            .any(|pid| running_member(&pid) == Some(true))
    }
    #[cfg(not(target_os = "linux"))]
    group_exists(pgid)
}

/// Sends `sig` to process group `pgid` (`killpg`). Unlike the methods of [`ChildPid`], nothing
/// pins the id: once the group is empty the kernel may reuse it. Callers use it only for the
/// group of a child they just reaped, whose id the kernel keeps while a member lives.
///
/// # Errors
/// `ESRCH` when the group is empty; `EINVAL` for a signal this process may not send.
pub fn signal_group_id(pgid: u32, sig: i32) -> io::Result<()> {
    let pid = i32::try_from(pgid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(io::ErrorKind::InvalidInput)?;
    signal::kill(-pid.as_raw_nonzero().get(), sig)
}

/// Whether `pid` leads its own process group. Only meaningful while `pid` is an unreaped child.
///
/// # Errors
/// `ESRCH` if there is no such process.
pub fn leads_group(pid: u32) -> io::Result<bool> {
    let raw = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(io::ErrorKind::InvalidInput)?;
    Ok(rustix::process::getpgid(Some(raw))? == raw)
}
