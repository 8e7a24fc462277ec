//! FreeBSD process descriptors (procdesc(4), pdfork(2)).
//!
//! | | Linux pidfd | FreeBSD procdesc |
//! |---|---|---|
//! | born with the child | `clone(CLONE_PIDFD)` | `pdfork(&fd, flags)` (9.0) |
//! | close-on-exec | always | only with `PD_CLOEXEC` |
//! | last close of a live child | nothing | `SIGKILL`, unless `PD_DAEMON` |
//! | last close of a zombie | nothing: it stays a zombie | reaps it, the status discarded |
//! | `SIGCHLD` on exit | yes | never |
//! | readiness | `poll`/`epoll`: readable | kqueue `EVFILT_PROCDESC` only (`EVFILT_READ`: `EINVAL`) |
//! | reap with rusage | `waitid(P_PIDFD)` | `wait4(pid)` (`pdwait`, 16.0, not used) |
//! | signal | `pidfd_send_signal` | `pdkill` (`ESRCH` once reaped) |
//! | foreign reapers | `waitpid(-1)`, `SIGCHLD` ignored | only `waitpid(0)`, `waitpid(-pgid)` |
//! | status after a foreign reap | `PIDFD_INFO_EXIT` (6.15) | the exit knote's `data` (any release) |
//!
//! Every call used here exists since FreeBSD 9.0. FreeBSD answers an unknown system call with
//! `SIGSYS` (kern_sig.c, `nosys`), which kills the process by default, so nothing newer is
//! ever tried: `pdwait` and `pdrfork` (16.0) would be found with `dlsym` and gated on
//! `kern.osreldate`, never probed. Neither is needed: `wait4` by pid reaps with rusage on every
//! release (the pid cannot be recycled while `pdkill(fd, 0)` still reaches the child), and
//! `pdrfork(RFSPAWN)` returns twice on a shared stack, which Rust code cannot do soundly.
//! procdesc(4) also names a `pdwait4(2)` that was never implemented: calling it is the
//! `SIGSYS` case.
//!
//! The decisions are pure functions in `decide.rs`, unit-tested on every Unix; the rest is a
//! thin layer of system calls, compiled and linked here but only run on a FreeBSD machine
//! (ci/freebsd.sh).

mod decide;
#[cfg(target_os = "freebsd")]
mod procdesc;
#[cfg(target_os = "freebsd")]
mod queue;
#[cfg(target_os = "freebsd")]
mod spawn;

#[cfg(target_os = "freebsd")]
pub use procdesc::ProcDesc;
#[cfg(target_os = "freebsd")]
pub use queue::ExitQueue;
#[cfg(target_os = "freebsd")]
pub use spawn::{spawn, Spawned};
