//! Implementation detail of [`childfd`](https://docs.rs/childfd): every `unsafe` line of the
//! project lives in this crate, so that `childfd` itself can `#![forbid(unsafe_code)]`.
//!
//! This is not a public API. Its items change whenever `childfd` needs them to, and `childfd`
//! pins this crate with an exact version.
//!
//! # Contract
//!
//! Each OS module exports the same kind of items, written once per mechanism:
//!
//! | item | Linux (`linux`) | FreeBSD (`freebsd`) | any Unix, by pid (`unix`) |
//! |---|---|---|---|
//! | a type that owns the child's descriptor | `PidFd` | `ProcDesc` | `ChildPid` (no descriptor) |
//! | `spawn(request, hooks, ..)`: the child born with its descriptor | `clone(CLONE_PIDFD)` | `pdfork` | - |
//! | `try_wait`/`try_reap`: non-blocking, with resource usage | `waitid(P_PIDFD)` | `wait4` | `wait4` |
//! | `send_signal`: a no-op on a zombie, "gone" after the reap | `pidfd_send_signal` | `pdkill` | `kill`, under the caller's lock |
//!
//! Shared by every Unix: [`ExitInfo`] (a wait status plus resource usage), the spawn plan and
//! the code between fork and exec (`unix::prepare`, `unix/child.rs`), and `Registration`,
//! the RAII guard that keeps a descriptor in a [`polling::Poller`] and deletes it before the
//! descriptor is closed.
#![cfg_attr(not(unix), allow(unused))]

mod exit;
#[cfg(unix)]
mod registration;
#[cfg(unix)]
pub mod unix;

pub use exit::{ExitInfo, Usage};
#[cfg(unix)]
pub use registration::Registration;

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "macos")]
pub mod macos;
#[cfg(windows)]
pub mod windows;
// On other Unixes, only its pure decisions, for their unit tests.
#[cfg(any(target_os = "freebsd", all(test, unix)))]
pub mod freebsd;
#[cfg(target_os = "linux")]
#[doc(hidden)]
pub mod testing;

/// Clears `O_NONBLOCK`, so a pipe async-io used can be handed to a child that expects a
/// blocking descriptor.
///
/// # Errors
/// What `fcntl(2)` reports.
#[cfg(unix)]
pub fn set_blocking(fd: std::os::unix::io::BorrowedFd<'_>) -> std::io::Result<()> {
    // fcntl rather than ioctl(FIONBIO), whose behaviour differs between Unixes (see
    // rust-lang/rust efeb42be and async-process's `blocking_fd`).
    let flags = rustix::fs::fcntl_getfl(fd)?;
    if flags.contains(rustix::fs::OFlags::NONBLOCK) {
        rustix::fs::fcntl_setfl(fd, flags - rustix::fs::OFlags::NONBLOCK)?;
    }
    Ok(())
}
