//! The parent's side of every spawn engine: the signal mask held around the clone or fork,
//! the close-on-exec pipe through which a fork-style child reports why it did not exec
//! (Linux's `clone` without `CLONE_VM`, FreeBSD's `pdfork`), and the reading of that report
//! as an `io::Error`.
//!
//! The protocol is std's (library/std/src/sys/process/unix/unix.rs): the write end is
//! close-on-exec, so a successful `execve` closes it and the parent reads EOF; a failing child
//! writes `[step, errno]` (two native-endian `i32`s) and `_exit`s. Anything else (a short
//! read, a step the parent does not know) is reported as a malformed report, never trusted.

use std::io;
use std::os::unix::io::{AsRawFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;

use super::child::{exec_child, Failure, Step};
use super::prepare::{PreExec, Prepared};

/// Blocks every signal in the calling thread until dropped, so that no handler of the parent
/// runs in the child before `exec_child` resets them (glibc's spawni.c does the same).
pub(crate) struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    pub(crate) fn new() -> io::Result<SignalsBlocked> {
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

    /// The mask to restore: the child restores it just before `execve`.
    pub(crate) fn old_mask(&self) -> &libc::sigset_t {
        &self.0
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on the same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// The pipe a fork-style child reports a failure through.
pub(crate) struct ReportPipe {
    read: OwnedFd,
    /// # Invariant
    /// Close-on-exec: a successful exec closes the child's copy.
    write: OwnedFd,
}

/// The size of a report: `[step, errno]`.
const REPORT: usize = 8;

impl ReportPipe {
    pub(crate) fn new() -> io::Result<ReportPipe> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        Ok(ReportPipe { read, write })
    }

    /// The child's side: sets up and execs as `prepared` says, running `hooks` first;
    /// reports a failure through the pipe and `_exit`s.
    ///
    /// # Safety
    /// Must be the first code in a fork-style child (its own copy of the parent's memory),
    /// with every signal blocked; `mask` is the mask to restore before exec. The hooks'
    /// safety was promised when each [`PreExec`] was made.
    pub(crate) unsafe fn exec_child(
        &self,
        prepared: &Prepared<'_>,
        mask: &libc::sigset_t,
        hooks: &mut [PreExec],
    ) -> ! {
        let failure = Failure::default();
        let tx = self.write.as_raw_fd();
        let report = |f: &Failure| {
            let msg = [
                f.step.load(Ordering::Relaxed),
                f.errno.load(Ordering::Relaxed),
            ];
            // SAFETY: write(2) of a stack buffer to our pipe; async-signal-safe. A short
            // write is seen by the parent as a malformed report.
            unsafe { libc::write(tx, msg.as_ptr().cast(), std::mem::size_of_val(&msg)) };
        };
        // A panicking hook must not unwind out of this function: above it is a copy of the
        // caller's code, which would run on in the child as a second copy of the program
        // (issue 14). std makes such a panic abort the child (`panic::always_abort`, unstable)
        // and its spawn returns `Ok`; here the child reports it, so that spawn fails saying
        // so. The payload is leaked: freeing it could take a lock held at the fork. With
        // `panic = "abort"`, the child aborts and spawn returns `Ok`, as std's.
        let mut run = || {
            let all = AssertUnwindSafe(|| hooks.iter_mut().try_for_each(PreExec::run));
            match std::panic::catch_unwind(all) {
                Ok(result) => result.map_err(|errno| (Step::PreExec, errno)),
                Err(payload) => {
                    std::mem::forget(payload);
                    Err((Step::PreExecPanicked, 0))
                }
            }
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { exec_child(prepared, mask, &failure, &mut run, &report) }
    }

    /// The parent's side, once the child exists: closes our copy of the write end, then
    /// blocks until the child execs (EOF) or reports why it could not.
    ///
    /// # Errors
    /// Reading the pipe failed (not `EINTR`, which is retried): the child's fate is unknown
    /// and the caller must kill and reap it.
    pub(crate) fn wait_for_exec(self) -> io::Result<Failure> {
        let ReportPipe { read, write } = self;
        drop(write);
        let mut msg = [0u8; REPORT];
        let n = read_full(&read, &mut msg)?;
        Ok(decode(&msg, n))
    }
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

/// What `n` bytes read from the pipe say: nothing (the child exec'd), a report, or a
/// malformed report (step -1).
pub(crate) fn decode(msg: &[u8; REPORT], n: usize) -> Failure {
    let failure = Failure::default();
    match n {
        0 => {}
        REPORT => {
            let [a, b, c, d, e, f, g, h] = *msg;
            let step = i32::from_ne_bytes([a, b, c, d]);
            let errno = i32::from_ne_bytes([e, f, g, h]);
            // A step of 0 would read as success: a child that reports, failed.
            let step = if step == 0 { -1 } else { step };
            failure.step.store(step, Ordering::Relaxed);
            failure.errno.store(errno, Ordering::Relaxed);
        }
        _ => failure.step.store(-1, Ordering::Relaxed),
    }
    failure
}

impl Failure {
    /// The error a spawn returns for this report, or `None` if the child exec'd. Shared by
    /// every path: the vfork-style one reads the same `Failure` from shared memory.
    pub(crate) fn to_error(&self) -> Option<io::Error> {
        let step = self.step.load(Ordering::Relaxed);
        if step == 0 {
            return None;
        }
        let errno = self.errno.load(Ordering::Relaxed);
        Some(match Step::from_i32(step) {
            Some(Step::PreExecPanicked) => io::Error::other(
                "a pre_exec hook panicked; the child exited without running the program",
            ),
            // The bare OS error, whichever step failed, as std reports it (its spawn errors
            // carry no step either): code that matches on `raw_os_error()` sees the same
            // (issue 12). The step is known only here.
            Some(_) | None if errno > 0 => io::Error::from_raw_os_error(errno),
            _ => io::Error::other("malformed failure report from the child"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(step: i32, errno: i32) -> [u8; REPORT] {
        let mut msg = [0u8; REPORT];
        msg[..4].copy_from_slice(&step.to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        msg
    }

    #[test]
    fn eof_means_exec() {
        assert!(decode(&[0; REPORT], 0).to_error().is_none());
    }

    #[test]
    fn exec_and_chdir_failures_are_the_bare_os_error() {
        let e = decode(&report(Step::Exec as i32, libc::ENOENT), REPORT)
            .to_error()
            .unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = decode(&report(Step::Chdir as i32, libc::EACCES), REPORT)
            .to_error()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn every_step_is_the_bare_os_error() {
        for step in [
            Step::Uid,
            Step::Gid,
            Step::Groups,
            Step::ProcessGroup,
            Step::PreExec,
        ] {
            let e = decode(&report(step as i32, libc::EPERM), REPORT)
                .to_error()
                .unwrap();
            assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{step:?}");
        }
    }

    #[test]
    fn a_panicked_hook_is_said_so() {
        let e = decode(&report(Step::PreExecPanicked as i32, 0), REPORT)
            .to_error()
            .unwrap();
        assert!(e.to_string().contains("pre_exec hook panicked"), "{e}");
    }

    #[test]
    fn short_reads_are_malformed() {
        for n in 1..REPORT {
            let e = decode(&report(Step::Exec as i32, libc::ENOENT), n)
                .to_error()
                .unwrap();
            assert_eq!(e.to_string(), "malformed failure report from the child");
        }
    }

    #[test]
    fn unknown_or_zero_steps_are_malformed() {
        for step in [0, 12, -7, i32::MAX] {
            let e = decode(&report(step, 0), REPORT).to_error().unwrap();
            assert_eq!(e.to_string(), "malformed failure report from the child");
        }
        // An unknown step with an errno still reports the errno rather than nothing.
        let e = decode(&report(99, libc::E2BIG), REPORT).to_error().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::E2BIG));
    }
}
