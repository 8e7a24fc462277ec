//! The fallback: a job is the child's process group. Whatever leaves the group (`setsid`, a
//! double fork that also calls `setpgid`) escapes it, and only the child's own rusage is
//! known; `job_support()` says so.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::{usage_from, JobUsage};
use crate::reactor::Reactor;
use crate::spec::Spec;
use crate::state::ChildState;
use crate::wait;

/// The POSIX numbers, the same on every Unix.
pub(super) const SIGKILL: i32 = 9;

/// How long `job_exited` sleeps between looks at the group, at most: the group has no
/// descriptor to wait on, so it is polled, from 1 ms up.
const MAX_POLL: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(super) struct GroupJob {
    pgid: u32,
    /// The leader's pidfd, kept past its reap: on Linux 6.9+ it still signals the group's
    /// surviving members (`PIDFD_SIGNAL_PROCESS_GROUP`), with no stale-id window.
    #[cfg(target_os = "linux")]
    pidfd: Option<Arc<platform::linux::PidFd>>,
}

/// Spawns the child as the leader of a new process group (unless `setsid` already makes it
/// one). A `process_group(n)` other than 0 would put it in someone else's group:
/// `InvalidInput`.
pub(super) fn spawn<T>(
    spec: &mut Spec,
    spawn: impl FnOnce(&mut Spec) -> io::Result<T>,
    state_of: impl Fn(&T) -> &Arc<ChildState>,
) -> io::Result<(T, GroupJob)> {
    match spec.unix.pgroup {
        None | Some(0) => {}
        Some(_) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a job's child leads its own process group: process_group(n) with n != 0 \
                 cannot be combined with job(true)",
            ))
        }
    }
    if spec.unix.pgroup.is_none() && !spec.unix.setsid {
        // Kept on the command: the mechanism does not change within a process.
        use std::os::unix::process::CommandExt;
        spec.std.process_group(0);
        spec.unix.pgroup = Some(0);
    }
    let out = spawn(spec)?;
    let state = state_of(&out);
    let job = GroupJob {
        pgid: state.pid,
        #[cfg(target_os = "linux")]
        pidfd: state.pidfd(),
    };
    Ok((out, job))
}

impl GroupJob {
    /// `sig` to the group: under the child's lock while it is unreaped (its id cannot be
    /// stale then), afterwards through the kept pidfd (6.9+), else by group id while a
    /// member pins it (the window `shutdown` documents).
    pub(super) fn signal(&self, state: &ChildState, sig: i32) -> io::Result<()> {
        if !state.is_done() {
            state.signal(sig, true)?;
            if !state.is_done() {
                return Ok(());
            }
        }
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.pidfd {
            match fd.send_signal_to_group(sig) {
                Ok(true) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc_esrch()) => return Ok(()),
                Err(e) => return Err(e),
                Ok(false) => {}
            }
        }
        if platform::unix::group_exists(self.pgid) {
            match platform::unix::signal_group_id(self.pgid, sig) {
                Err(e) if e.raw_os_error() == Some(libc_esrch()) => {}
                other => return other,
            }
        }
        Ok(())
    }

    /// Waits for the child, then until no running member is left in its group.
    pub(super) async fn until_empty(
        &self,
        state: &Arc<ChildState>,
        reactor: &'static Reactor,
    ) -> io::Result<JobUsage> {
        let exit = wait::exited(state, reactor).await?;
        let mut delay = Duration::from_millis(1);
        while platform::unix::group_has_running_members(self.pgid) {
            crate::aio::sleep(delay).await?;
            delay = (delay * 2).min(MAX_POLL);
        }
        Ok(usage_from(
            exit.user_time(),
            exit.system_time(),
            None,
            false,
        ))
    }
}

/// ESRCH, the same number on every Unix this crate supports.
fn libc_esrch() -> i32 {
    3
}
