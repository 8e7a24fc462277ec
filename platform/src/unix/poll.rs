//! Blocking on one descriptor from the calling thread: how a blocking wait (`wait_blocking`)
//! is woken by the kernel itself, with no reactor and no other thread in between.

use std::io;
use std::os::unix::io::BorrowedFd;
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// Waits until `fd` is readable (or hung up), at most `timeout`; `Ok(false)` on timeout.
/// An interrupted `poll(2)` (a signal handler ran) is retried with the whole timeout.
///
/// # Errors
/// What `poll(2)` reports other than `EINTR`: `ENOMEM`, `EINVAL`.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let timeout = timeout.map(|t| Timespec {
        tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: t.subsec_nanos().into(),
    });
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    loop {
        match poll(&mut fds, timeout.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
