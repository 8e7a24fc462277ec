//! Bounded waits, whole-tree shutdown and blocking waits, on top of [`Child::exited`].

use std::future::Future;
use std::io;
use std::process::{ExitStatus, Output};
use std::time::{Duration, Instant};

use futures_lite::{future, AsyncReadExt};

use crate::aio::timeout_at;
use crate::{wait, Child, Exit};

/// The POSIX numbers, the same on every Unix.
#[cfg(unix)]
const SIGKILL: i32 = 9;
#[cfg(unix)]
const SIGTERM: i32 = 15;

/// How often `shutdown` looks whether a leader's group has emptied during the grace period.
#[cfg(unix)]
const GROUP_POLL: Duration = Duration::from_millis(10);

impl Child {
    /// Stops the child and everything it started, politely first: `SIGTERM` to its process
    /// group (or to the child alone when it does not lead one), then, after `grace`, `SIGKILL`
    /// to what is left. Returns the child's [`Exit`].
    ///
    /// For a [job](crate::Command::job), `SIGTERM` goes to every process of the job, `SIGKILL`
    /// to the whole job after `grace` (see [`kill_job()`](Child::kill_job)), and it returns
    /// once the job is empty.
    ///
    /// Spawn the child as a group leader ([`process_group(0)`](crate::unix::CommandExt::process_group)
    /// or `setsid`) so that a shell's own children are reached too. When the leader exits
    /// within `grace` but other members of its group linger, they get the rest of `grace` and
    /// then `SIGKILL`, through the group id, which the kernel does not reuse while a member
    /// lives.
    ///
    /// `SIGTERM` goes out when `shutdown` is called; the returned future must then be run to
    /// completion for the rest (the `SIGKILL`s) to happen: dropping it early leaves whatever
    /// ignored `SIGTERM` running.
    ///
    /// # Errors
    /// As [`signal()`](Child::signal) and [`exited()`](Child::exited).
    ///
    /// # Examples
    /// ```
    /// # #[cfg(target_os = "linux")]
    /// # futures_lite::future::block_on(async {
    /// use childfd::{unix::CommandExt, Command};
    /// use std::time::Duration;
    ///
    /// let mut job = Command::new("sh").args(["-c", "sleep 100 & sleep 100"]).process_group(0).spawn()?;
    /// let exit = job.shutdown(Duration::from_secs(1)).await?;
    /// assert_eq!(exit.shell_code(), 128 + 15);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    #[cfg(unix)]
    pub fn shutdown(
        &mut self,
        grace: Duration,
    ) -> impl Future<Output = io::Result<Exit>> + Send + 'static {
        self.stdin.take();
        let (reactor, state) = (self.reactor, self.state.clone());
        // Signalled now, not at the first poll: by then the child may have been reaped, and
        // its group could no longer be named.
        let deadline = Instant::now().checked_add(grace);
        let job = self.job.clone();
        let started = match &job {
            Some(job) => job.signal(&state, SIGTERM).map(|()| true),
            None => state
                .leads_group()
                .and_then(|group| state.signal(SIGTERM, group).map(|()| group)),
        };
        let waiter = wait::Waiter::new(&state, reactor);
        async move {
            let group = started?;
            if let Some(job) = job {
                return crate::job::shutdown(&job, &state, reactor, deadline).await;
            }
            let exit = match timeout_at(deadline, waiter.exited()).await? {
                Some(exit) => exit?,
                None => {
                    state.signal(SIGKILL, group)?;
                    waiter.exited().await?
                }
            };
            if group {
                let pgid = state.pid;
                while platform::unix::group_has_running_members(pgid)
                    && deadline.map_or(true, |d| Instant::now() < d)
                {
                    crate::aio::sleep(GROUP_POLL).await?;
                }
                // Only while a member (even a zombie) pins the id: an empty group's id may
                // already name another group.
                if platform::unix::group_exists(pgid) {
                    let _ = platform::unix::signal_group_id(pgid, SIGKILL);
                }
            }
            Ok(exit)
        }
    }

    /// [`exited()`](Child::exited), bounded: `Ok(None)` if the child is still running after
    /// `limit`. The child is left as it was: wait again, kill it, or
    /// `shutdown` it (Unix).
    ///
    /// # Errors
    /// As [`exited()`](Child::exited).
    pub fn exited_timeout(
        &mut self,
        limit: Duration,
    ) -> impl Future<Output = io::Result<Option<Exit>>> + Send + 'static {
        let exited = self.exited();
        async move {
            timeout_at(Instant::now().checked_add(limit), exited)
                .await?
                .transpose()
        }
    }

    /// [`status()`](Child::status), bounded: `Ok(None)` if the child is still running after
    /// `limit`, and the child is left as it was.
    ///
    /// # Errors
    /// As [`status()`](Child::status).
    pub fn status_timeout(
        &mut self,
        limit: Duration,
    ) -> impl Future<Output = io::Result<Option<ExitStatus>>> + Send + 'static {
        let exited = self.exited_timeout(limit);
        async move { Ok(exited.await?.map(|e| e.status())) }
    }

    /// [`output()`](Child::output), bounded, without giving up the child: `Ok(None)` if it
    /// has not finished (both pipes at end of file and the child exited) after `limit`. The
    /// pipes then go back to the child's fields; what was read from them so far is dropped.
    ///
    /// # Errors
    /// As [`output()`](Child::output).
    pub async fn output_timeout(&mut self, limit: Duration) -> io::Result<Option<Output>> {
        let (mut stdout, mut stderr) = (self.stdout.take(), self.stderr.take());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = self.status();
        let finished = timeout_at(Instant::now().checked_add(limit), async {
            let read_out = async {
                match &mut stdout {
                    Some(pipe) => pipe.read_to_end(&mut out).await.map(drop),
                    None => Ok(()),
                }
            };
            let read_err = async {
                match &mut stderr {
                    Some(pipe) => pipe.read_to_end(&mut err).await.map(drop),
                    None => Ok(()),
                }
            };
            future::try_zip(read_out, read_err).await?;
            status.await
        })
        .await;
        match finished {
            Ok(Some(status)) => Ok(Some(Output {
                status: status?,
                stdout: out,
                stderr: err,
            })),
            unfinished => {
                self.stdout = stdout;
                self.stderr = stderr;
                unfinished.map(|_| None)
            }
        }
    }

    /// [`exited()`](Child::exited) for blocking code: closes stdin and parks the calling thread
    /// until the child has exited.
    ///
    /// With the `pidfd` backend the calling thread waits on the child's pidfd itself
    /// (`poll(2)`, then `waitid`): the kernel wakes this thread, and no executor or other
    /// thread is involved. Other backends wait through the backstop reactor's thread.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)] {
    /// let mut child = childfd::Command::new("sh").args(["-c", "exit 4"]).spawn()?;
    /// let exit = child.wait_blocking()?;
    /// assert_eq!(exit.status().code(), Some(4));
    /// # }
    /// # std::io::Result::Ok(())
    /// ```
    ///
    /// # Errors
    /// As [`exited()`](Child::exited).
    pub fn wait_blocking(&mut self) -> io::Result<Exit> {
        self.stdin.take();
        wait::blocking(&self.state, self.reactor)
    }
}
