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

/// A child process created by [`Command::spawn`](crate::Command::spawn).
///
/// The same shape as [`std::process::Child`] and `async_process::Child`. The child's exit is
/// noticed through its process descriptor by the crate's reactor; waiting never involves a
/// `SIGCHLD` handler, a thread per child, or a pid that may have been recycled.
///
/// # Dropping
/// A dropped `Child` is not waited for, but it is not leaked either: the reactor reaps it when
/// it exits, so it never lingers as a zombie. With
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
}

impl Child {
    pub(crate) fn spawn(
        spec: &mut Spec,
        defaults: Defaults,
        reap_on_drop: bool,
    ) -> io::Result<Child> {
        let kill_on_drop = spec.kill_on_drop;
        let reactor = Reactor::get()?;
        let (state, pipes) = reactor.spawn(spec, defaults, reap_on_drop)?;
        let Pipes {
            stdin,
            stdout,
            stderr,
            #[cfg(windows)]
            handle,
        } = pipes;
        let streams = (|| {
            Ok::<_, io::Error>((
                stdin.map(ChildStdin::new).transpose()?,
                stdout.map(ChildStdout::new).transpose()?,
                stderr.map(ChildStderr::new).transpose()?,
            ))
        })();
        let (stdin, stdout, stderr) = match streams {
            Ok(streams) => streams,
            Err(e) => {
                // Nothing can be counted on to reap it later (async-io or the reactor thread
                // may be what failed to start, at the process limit): kill and reap it now.
                reactor.abort(&state);
                return Err(e);
            }
        };
        let child = Child {
            stdin,
            stdout,
            stderr,
            #[cfg(windows)]
            handle,
            state,
            reactor,
            kill_on_drop,
            reap_on_drop,
        };
        Ok(child)
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
        let state = self.state.clone();
        let reactor = self.reactor;
        async move {
            wait::exited(&state, reactor)
                .await
                .map(|exit| exit.status())
        }
    }

    /// Like [`status()`](Child::status), with everything else known about the exit: CPU time,
    /// peak memory, wall time (see [`Exit`]).
    ///
    /// # Errors
    /// As [`status()`](Child::status).
    pub fn exited(&mut self) -> impl Future<Output = io::Result<Exit>> + Send + 'static {
        self.stdin.take();
        let state = self.state.clone();
        let reactor = self.reactor;
        async move { wait::exited(&state, reactor).await }
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
        if self.kill_on_drop {
            let _ = self.state.kill();
        }
        if !self.reap_on_drop {
            self.reactor.release(&self.state);
        } else if !self.state.is_done() {
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
