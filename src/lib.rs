//! Async child processes whose exit is learnt through a *process descriptor*.
//!
//! `childfd` has the API of [`std::process`] and of `async-process` 2.x (a program switches by
//! changing one `use` line), and a different engine underneath:
//!
//! - **No `SIGCHLD` handler.** The crate never touches `SIGCHLD`, so it cannot fight another
//!   library over it, and other libraries' children are not its business.
//! - **The kernel wakes the thread that waits.** An awaited child's descriptor is watched by
//!   its waiter: in async-io's reactor (smol, async-std, `async_io::block_on`), or with
//!   `poll(2)` on the calling thread ([`Child::wait_blocking`]). No thread per child, and none
//!   in between.
//! - **No pid races.** Waiting and killing go through the descriptor: a kill that races with
//!   the child's exit can never hit a process that reused its pid.
//! - **No leaks.** A dropped [`Child`] is reaped in the background by a backstop reactor; a
//!   spawn that fails half way (e.g. at the fd limit) kills and reaps the child before
//!   returning the error.
//! - **Jobs.** [`Command::job`] makes a child and everything it starts one job, killed whole
//!   ([`Child::kill_job`]), awaited to its last process and accounted for
//!   ([`Child::job_exited`]): a cgroup v2 leaf on Linux, a job object on Windows, else a
//!   process group; [`job_support()`] says which.
//!
//! It works under any executor (smol, async-std, tokio, `futures::executor`) and in blocking
//! code through any `block_on`. With the cargo feature `tokio`, `childfd::tokio` has the API
//! of `tokio::process` (Unix and Windows), its exits watched on Linux by the tokio runtime's
//! own I/O driver.
//!
//! # Examples
//! ```
//! # #[cfg(target_os = "linux")]
//! # futures_lite::future::block_on(async {
//! use childfd::{Command, Stdio};
//! use futures_lite::{io::BufReader, AsyncBufReadExt, StreamExt};
//!
//! let mut child = Command::new("sh")
//!     .args(["-c", "echo one; echo two; exit 3"])
//!     .stdout(Stdio::piped())
//!     .spawn()?;
//! let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
//!     .lines()
//!     .try_collect()
//!     .await?;
//! assert_eq!(lines, ["one", "two"]);
//! assert_eq!(child.status().await?.code(), Some(3));
//! # std::io::Result::Ok(()) }).unwrap();
//! ```
//!
//! # Implementation
//!
//! | OS | descriptor | how the exit is noticed | verified |
//! |---|---|---|---|
//! | Linux ≥ 5.4 | pidfd, born with the child (`clone(CLONE_PIDFD)`) | epoll, then `waitid(P_PIDFD)` with rusage | run |
//! | Linux, pidfds unavailable | pid | a helper thread per running child | run |
//! | FreeBSD | procdesc (`pdfork`) | a private kqueue in the poller, `wait4` | compiled, linked |
//! | macOS | pid | kqueue `EVFILT_PROC`, `wait4` | compiled |
//! | Windows | process handle | IOCP waitable, `GetExitCodeProcess` | run under Wine |
//!
//! [`backend()`] tells which one a process uses, and why.
//!
//! With a pidfd, whoever awaits a child watches it: a future registers the pidfd in
//! async-io's reactor, so the thread in `async_io::block_on` (smol's, async-std's) is the one
//! the kernel wakes; under an executor without a reactor (`futures_lite::future::block_on`,
//! tokio) async-io's own `async-io` thread runs that reactor and wakes the task, one hop.
//! [`Child::wait_blocking`] waits with `poll(2)` on the calling thread, and a [`ChildSet`]
//! watches its members in a poller of its own. Readiness is only a hint to try a non-blocking
//! reap, under the child's lock that every reaper takes, so ptrace or sanitizer wake-ups are
//! harmless and two reapers never race.
//!
//! What nobody awaits (a dropped child, the children of the other backends) is watched by the
//! backstop reactor: one [`polling::Poller`], created on first use and polled by one thread
//! named `childfd-reactor`, started with its first child, unless a [`driver()`] future exists.
//! A live [`Child`] that nobody awaits is not reaped in the background: it stays a zombie until
//! it is awaited, [`try_status`](Child::try_status) is called, or it is dropped, as with `std`.
//! Pipes are [`async_io`] sources too.
//!
//! All `unsafe` code lives in the `childfd-platform` crate; this crate forbids it.
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod aio;
mod backend;
mod child;
mod command;
mod driver;
mod exit;
mod job;
mod lifecycle;
mod pipes;
mod reactor;
mod set;
mod spec;
mod state;
mod stdio;
mod sync;
#[cfg(feature = "tokio")]
pub mod tokio;
#[cfg(unix)]
pub mod unix;
mod wait;
#[cfg(windows)]
pub mod windows;

pub use backend::BackendInfo;
pub use child::Child;
pub use command::Command;
pub use driver::driver;
pub use exit::Exit;
pub use job::{job_support, JobSupport, JobUsage};
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};
pub use reactor::backend;
pub use set::ChildSet;
pub use stdio::{IntoStdio, Stdio};

#[doc(no_inline)]
pub use std::process::{ExitStatus, Output};

// The README's example is compiled and run with the doctests.
#[cfg(all(doctest, target_os = "linux"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(any(unix, windows))]
mod sealed {
    #[allow(unreachable_pub)] // Nameable only inside the crate: that is what seals the traits.
    pub trait Sealed {}
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn both<T: Send + Sync>() {}
    both::<Command>();
    both::<Exit>();
    both::<BackendInfo>();
    both::<JobSupport>();
    both::<JobUsage>();
    fn send<T: Send>() {}
    send::<ChildSet>();
    both::<Child>();
    both::<ChildStdin>();
    both::<ChildStdout>();
    both::<ChildStderr>();
    both::<Stdio>();
}
