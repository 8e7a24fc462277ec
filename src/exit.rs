//! How a child ended and what it cost: Plan 9's `Waitmsg`, typed.

use std::process::ExitStatus;
use std::time::Duration;

use platform::{ExitInfo, Usage};

/// Everything known about a reaped child: its status, and the CPU time and memory it used.
///
/// Returned by [`Child::exited()`](crate::Child::exited). The resource usage is what the OS
/// reports with the reap: `waitid(2)` (Linux) or `wait4(2)` (BSDs, macOS, the `thread`
/// backend) with a `struct rusage`, the child's own and not that of descendants still
/// running; on Windows, `GetProcessTimes` and `K32GetProcessMemoryInfo`'s peak working set.
///
/// # Examples
/// ```
/// # #[cfg(target_os = "linux")]
/// # futures_lite::future::block_on(async {
/// let mut child = childfd::Command::new("sh").args(["-c", "kill -TERM $$"]).spawn()?;
/// let exit = child.exited().await?;
/// assert_eq!(exit.status().code(), None);
/// assert_eq!(exit.shell_code(), 128 + 15);
/// assert!(exit.max_rss() > 0);
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    info: ExitInfo,
    wall: Duration,
}

impl Exit {
    pub(crate) fn new(info: ExitInfo, wall: Duration) -> Exit {
        Exit { info, wall }
    }

    /// The exit status, as `std` reports it.
    pub fn status(&self) -> ExitStatus {
        self.info.status
    }

    /// The child's process id (possibly reused by another process since the reap).
    pub fn pid(&self) -> u32 {
        self.info.pid
    }

    /// The status as a shell reports it in `$?`: the exit code, or 128 plus the number of the
    /// signal that killed the child.
    pub fn shell_code(&self) -> i32 {
        #[cfg(unix)]
        if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(&self.info.status) {
            return 128 + sig;
        }
        self.info.status.code().unwrap_or(-1)
    }

    /// Time the child spent running in user mode. Zero if unknown
    /// (see [`usage_known`](Exit::usage_known)).
    pub fn user_time(&self) -> Duration {
        self.usage().user
    }

    /// Time the kernel spent on the child's behalf. Zero if unknown.
    pub fn system_time(&self) -> Duration {
        self.usage().system
    }

    /// The child's peak resident set size, in bytes. Zero if unknown.
    ///
    /// # Platform-specific behavior
    /// On Linux this is never below the parent's own peak RSS at the time of the spawn: at
    /// `exec` the kernel folds the high-water mark of the address space the child had before
    /// (`exec_mmap` in fs/exec.c), and a vfork- or fork-style child's address space is, or
    /// copies, the parent's. Every spawn API shares this (std, `posix_spawn`). For exact
    /// per-job peaks, spawn from a small process or read the job's cgroup.
    pub fn max_rss(&self) -> u64 {
        self.usage().max_rss
    }

    /// Time from the spawn to the reap, as measured by the parent (`Instant`, monotonic): from
    /// just before the system call that created the child to the moment its exit was
    /// collected. The waiter collects it as soon as the kernel wakes it, so this is the
    /// child's lifetime plus the wake-up; for a child nobody was waiting for (a live `Child`
    /// not awaited, a [`ChildSet`](crate::ChildSet) not polled) it includes the time until
    /// someone asked.
    pub fn wall_time(&self) -> Duration {
        self.wall
    }

    /// Whether the kernel reported the resource usage. It does not when the status had to be
    /// recovered after another part of the program reaped the child.
    pub fn usage_known(&self) -> bool {
        self.info.usage.is_some()
    }

    fn usage(&self) -> Usage {
        self.info.usage.unwrap_or_default()
    }
}
