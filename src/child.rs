//! A running (or exited) child process.

use std::fmt;
use std::future::Future;
use std::io;
use std::process::{ExitStatus, Output};
use std::sync::Arc;

use futures_lite::{future, AsyncReadExt};

use crate::backend::Pipes;
use crate::pipes::{ChildStderr, ChildStdin, ChildStdout};
use crate::reactor::Reactor;
use crate::spec::{Defaults, Spec};
use crate::state::ChildState;
use crate::wait;
use crate::Exit;

/// The `std` pipes `Child::spawn_std_pipes` returns: stdin, stdout, stderr.
pub(crate) type StdPipes = (
    Option<std::process::ChildStdin>,
    Option<std::process::ChildStdout>,
    Option<std::process::ChildStderr>,
);

/// A child process created by [`Command::spawn`](crate::Command::spawn).
///
/// The same shape as [`std::process::Child`] and `async_process::Child`. The child's exit is
/// noticed through its process descriptor by whoever waits for it (see
/// [`status()`](Child::status)); waiting never involves a `SIGCHLD` handler, a thread per
/// child, or a pid that may have been recycled.
///
/// # Reaping
/// The child is reaped when it is waited for ([`status()`](Child::status),
/// [`exited()`](Child::exited), [`try_status()`](Child::try_status),
/// [`wait_blocking()`](Child::wait_blocking), a [`ChildSet`](crate::ChildSet)), or after it is
/// dropped. A child that has exited while its `Child` is alive and nobody waits stays a zombie
/// until then, as with `std` and tokio (unlike `async-process`, which reaps in the background
/// with a `SIGCHLD` handler).
///
/// # Dropping
/// A dropped `Child` is not waited for, but it is not leaked either: the backstop reactor reaps
/// it when it exits, so it never lingers as a zombie. With
/// [`Command::kill_on_drop`](crate::Command::kill_on_drop) it is sent `SIGKILL` first; with
/// [`Command::reap_on_drop(false)`](crate::Command::reap_on_drop) it is left for the caller
/// to reap, as `std` does.
pub struct Child {
    /// The child's standard input, if [`Command::stdin`](crate::Command::stdin) was
    /// [`Stdio::piped()`](crate::Stdio::piped).
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was piped.
    pub stderr: Option<ChildStderr>,
    /// A duplicate of the process handle, for `AsHandle` (see `crate::windows`).
    #[cfg(windows)]
    pub(crate) handle: std::os::windows::io::OwnedHandle,
    pub(crate) state: Arc<ChildState>,
    pub(crate) reactor: &'static Reactor,
    kill_on_drop: bool,
    reap_on_drop: bool,
    /// `Command::job(true)` (issue 15).
    pub(crate) job: Option<Arc<crate::job::Job>>,
}

impl Child {
    pub(crate) fn spawn(
        spec: &mut Spec,
        defaults: Defaults,
        reap_on_drop: bool,
    ) -> io::Result<Child> {
        let (mut child, (stdin, stdout, stderr)) =
            Child::spawn_std_pipes(spec, defaults, reap_on_drop)?;
        let streams = (|| {
            Ok::<_, io::Error>((
                stdin.map(ChildStdin::new).transpose()?,
                stdout.map(ChildStdout::new).transpose()?,
                stderr.map(ChildStderr::new).transpose()?,
            ))
        })();
        match streams {
            Ok((stdin, stdout, stderr)) => {
                (child.stdin, child.stdout, child.stderr) = (stdin, stdout, stderr);
                Ok(child)
            }
            Err(e) => {
                child.abort();
                Err(e)
            }
        }
    }

    /// Spawns without wrapping the pipes in async-io sources (`crate::tokio` hands them to
    /// tokio instead). The caller owns the pipes, and must [`abort`](Child::abort) the child
    /// if it cannot use them.
    pub(crate) fn spawn_std_pipes(
        spec: &mut Spec,
        defaults: Defaults,
        reap_on_drop: bool,
    ) -> io::Result<(Child, StdPipes)> {
        // A stream whose conversion failed when it was set (`dup` at `EMFILE`).
        spec.check()?;
        let reactor = Reactor::get()?;
        let ((state, pipes), job) =
            crate::job::spawn(spec, |spec| reactor.spawn(spec, defaults, reap_on_drop))?;
        let Pipes {
            stdin,
            stdout,
            stderr,
            #[cfg(windows)]
            handle,
        } = pipes;
        let child = Child {
            stdin: None,
            stdout: None,
            stderr: None,
            #[cfg(windows)]
            handle,
            state,
            reactor,
            kill_on_drop: spec.kill_on_drop,
            reap_on_drop,
            job,
        };
        Ok((child, (stdin, stdout, stderr)))
    }

    /// Kills and reaps, now, a child whose spawn cannot be completed (its pipes could not be
    /// set up): nothing can be counted on to reap it later, since async-io or the reactor's
    /// thread may be what failed to start, at the process limit. Its job goes with it.
    pub(crate) fn abort(mut self) {
        self.reactor.abort(&self.state);
        if let Some(job) = self.job.take() {
            job.abort(&self.state);
        }
    }

    /// The child's process id.
    ///
    /// It stays the same after the child has been reaped, when the kernel may already have
    /// given it to another process: use it for logs, not for `kill(2)`.
    pub fn id(&self) -> u32 {
        self.state.pid
    }

    /// Forces the child to exit (`SIGKILL` on Unix; on Windows `TerminateProcess`, exit code 1).
    ///
    /// The signal goes through the process descriptor, so it can never reach another process
    /// that reused the pid. Killing a child that has already exited, or been reaped, is
    /// `Ok(())` and signals nobody (as `std` since 1.80).
    ///
    /// # Errors
    /// What `pidfd_send_signal(2)` reports other than "already reaped", e.g. `EPERM`.
    pub fn kill(&mut self) -> io::Result<()> {
        self.state.kill()
    }

    /// Sends the Unix signal `sig` (e.g. `15` for `SIGTERM`) to the child.
    ///
    /// Like [`kill()`](Child::kill), it goes through the process descriptor: `Ok(())` and no
    /// effect once the child has exited, never a signal to a process that reused its pid.
    ///
    /// # Errors
    /// `InvalidInput` for a signal number the OS does not have; `EPERM`.
    #[cfg(unix)]
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        self.state.signal(sig, false)
    }

    /// Sends the Unix signal `sig` to the child's whole process group: the way to stop a
    /// shell and everything it started, for a child spawned as a group leader
    /// ([`process_group(0)`](crate::unix::CommandExt::process_group) or
    /// [`setsid`](crate::unix::CommandExt::setsid)).
    ///
    /// For a child that shares the caller's group this signals the caller too, as `killpg(2)`
    /// does.
    ///
    /// # Platform-specific behavior
    /// Linux 6.9 and later send it through the pidfd (`PIDFD_SIGNAL_PROCESS_GROUP`). Older
    /// kernels use `killpg(getpgid(pid))` while the child is known not to be reaped, so the
    /// group id cannot be stale.
    ///
    /// # Errors
    /// As [`signal()`](Child::signal). `Ok(())` once the child has been reaped: its group may
    /// live on, but it can no longer be named safely.
    #[cfg(unix)]
    pub fn signal_group(&self, sig: i32) -> io::Result<()> {
        self.state.signal(sig, true)
    }

    /// Kills every process of the child's [job](crate::Command::job), wherever it went
    /// (`setsid`, a double fork) where jobs are cgroups, including processes forked during
    /// the kill (`cgroup.kill`). `Ok(())` once the job has ended.
    ///
    /// # Errors
    /// `InvalidInput` for a child spawned without [`job(true)`](crate::Command::job); what
    /// writing `cgroup.kill` or signalling the group reports.
    pub fn kill_job(&self) -> io::Result<()> {
        match &self.job {
            Some(job) => job.kill(&self.state),
            None => Err(crate::job::not_a_job()),
        }
    }

    /// Closes the child's stdin, then waits until no process of its
    /// [job](crate::Command::job) is left, the child's descendants included, and returns the
    /// job's accounting. The job's cgroup (Linux) is removed then. Every call returns the same
    /// usage; the future does not borrow the `Child`.
    ///
    /// Where jobs are process groups, it waits for the child, then until no running process
    /// is left in its group (polled, from 1 ms up to every 100 ms), and the usage is the
    /// child's own.
    ///
    /// # Errors
    /// `InvalidInput` for a child spawned without [`job(true)`](crate::Command::job); what
    /// reading the cgroup's files reports.
    pub fn job_exited(
        &mut self,
    ) -> impl Future<Output = io::Result<crate::JobUsage>> + Send + 'static {
        self.stdin.take();
        let (job, state, reactor) = (self.job.clone(), self.state.clone(), self.reactor);
        async move {
            match job {
                Some(job) => job.exited(&state, reactor).await,
                None => Err(crate::job::not_a_job()),
            }
        }
    }

    /// Returns the exit status if the child has exited, without blocking.
    ///
    /// Unlike [`status()`](Child::status), this does not close the child's stdin.
    ///
    /// # Errors
    /// The child was reaped by someone else (a foreign `waitpid(-1)`), so its status is lost.
    pub fn try_status(&mut self) -> io::Result<Option<ExitStatus>> {
        Ok(self.try_exited()?.map(|e| e.status()))
    }

    /// Closes the child's stdin, then waits for it to exit.
    ///
    /// Closing stdin first avoids the deadlock of a child waiting for input while the parent
    /// waits for the child. The returned future does not borrow the `Child`; it is cancel-safe,
    /// and every call returns the same status.
    ///
    /// With the `pidfd` backend the future watches the child's pidfd in async-io's reactor: the
    /// thread running that reactor (the one in `async_io::block_on`, smol's, async-std's) is
    /// woken by the kernel and the task reaps the child itself. Under an executor without a
    /// reactor of async-io's (`futures_lite::future::block_on`, tokio) async-io's own thread
    /// does that part and wakes the task. A second future of the same child waiting at the same
    /// time is served by the backstop reactor.
    ///
    /// # Errors
    /// The child was reaped by someone else (a foreign `waitpid(-1)`), so its status is lost.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(target_os = "linux")]
    /// # futures_lite::future::block_on(async {
    /// let mut child = childfd::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
    /// assert_eq!(child.status().await?.code(), Some(3));
    /// assert_eq!(child.status().await?.code(), Some(3));
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send + 'static {
        self.stdin.take();
        let waiter = wait::Waiter::new(&self.state, self.reactor);
        async move { waiter.exited().await.map(|exit| exit.status()) }
    }

    /// Like [`status()`](Child::status), with everything else known about the exit: CPU time,
    /// peak memory, wall time (see [`Exit`]).
    ///
    /// # Errors
    /// As [`status()`](Child::status).
    pub fn exited(&mut self) -> impl Future<Output = io::Result<Exit>> + Send + 'static {
        self.stdin.take();
        let waiter = wait::Waiter::new(&self.state, self.reactor);
        async move { waiter.exited().await }
    }

    /// The [`Exit`] if the child has exited, without blocking; see
    /// [`try_status()`](Child::try_status).
    ///
    /// # Errors
    /// As [`try_status()`](Child::try_status).
    pub fn try_exited(&mut self) -> io::Result<Option<Exit>> {
        if !self.state.is_done() {
            self.reactor.reap_now(&self.state);
        }
        self.state.exit().transpose()
    }

    /// Closes stdin, reads stdout and stderr to the end, and waits for the child to exit.
    ///
    /// Only the pipes the command asked for ([`Stdio::piped()`](crate::Stdio::piped)) are
    /// collected; the others come back empty.
    ///
    /// # Errors
    /// Reading a pipe failed, or the status is lost (see [`status()`](Child::status)).
    pub fn output(mut self) -> impl Future<Output = io::Result<Output>> + Send + 'static {
        let status = self.status();
        let stdout = read_all(self.stdout.take());
        let stderr = read_all(self.stderr.take());
        async move {
            // Held until the status is in: with `kill_on_drop`, only a cancelled `output()`
            // kills the child.
            let _child = self;
            let (stdout, stderr) = future::try_zip(stdout, stderr).await?;
            Ok(Output {
                status: status.await?,
                stdout,
                stderr,
            })
        }
    }
}

async fn read_all(pipe: Option<impl futures_io::AsyncRead + Unpin>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut buf).await?;
    }
    Ok(buf)
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            job.dropped(&self.state, self.kill_on_drop);
        }
        if self.kill_on_drop {
            let _ = self.state.kill();
        }
        if self.state.is_done() {
            // Reaped (or released) already: nothing is left to watch.
        } else if !self.reap_on_drop {
            self.reactor.release(&self.state);
        } else if self.state.mark_dropped() {
            // Nobody can await it any more: the backstop reaps it once it exits.
            self.reactor.adopt_dropped(&self.state);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.state.pid)
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}
