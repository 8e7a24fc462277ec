//! `tokio::process::Child`, around the crate's [`Child`](crate::Child).

use std::future::Future;
use std::io;
use std::process::{ExitStatus, Output};

use crate::spec::{Defaults, Spec};
use crate::Exit;

use super::pipes::{self, ChildStderr, ChildStdin, ChildStdout};
use super::wait::Exited;

/// A child process spawned by [`Command`](super::Command), shaped as `tokio::process::Child`,
/// with this crate's extras ([`exited`](Child::exited); on Unix `signal`, `signal_group` and
/// `shutdown`).
///
/// # Dropping
/// A dropped `Child` is reaped in the background by the crate's reactor (with
/// [`kill_on_drop`](super::Command::kill_on_drop), after `SIGKILL`, or `TerminateProcess`
/// on Windows): never a zombie, and no `SIGCHLD` handler.
#[derive(Debug)]
pub struct Child {
    /// The child's standard input, if it was piped. [`wait`](Child::wait) closes it.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was piped.
    pub stderr: Option<ChildStderr>,
    inner: crate::Child,
    /// An exit was returned by a wait: from then on `id()` is `None`, as in tokio.
    waited: bool,
}

impl Child {
    pub(super) fn spawn(spec: &mut Spec, defaults: Defaults) -> io::Result<Child> {
        let (inner, (stdin, stdout, stderr)) = crate::Child::spawn_std_pipes(spec, defaults, true)?;
        if stdin.is_none() && stdout.is_none() && stderr.is_none() {
            // Nothing to convert, so nothing can fail or panic: the conversion and its
            // `catch_unwind` are skipped (issue 13: about 40 instructions a spawn).
            return Ok(Child {
                stdin: None,
                stdout: None,
                stderr: None,
                inner,
                waited: false,
            });
        }
        let streams = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Ok::<_, io::Error>((
                stdin.map(ChildStdin::from_std).transpose()?,
                stdout.map(ChildStdout::from_std).transpose()?,
                stderr.map(ChildStderr::from_std).transpose()?,
            ))
        }));
        match streams {
            Ok(Ok((stdin, stdout, stderr))) => Ok(Child {
                stdin,
                stdout,
                stderr,
                inner,
                waited: false,
            }),
            Ok(Err(e)) => {
                inner.abort();
                Err(e)
            }
            Err(panic) => {
                // Outside a runtime (Unix): tokio's panic, once the child is gone.
                inner.abort();
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// The crate's child inside, for `ChildSet` (Unix).
    #[cfg(unix)]
    pub(super) fn inner(&self) -> &crate::Child {
        &self.inner
    }

    #[cfg(unix)]
    pub(super) fn inner_mut(&mut self) -> &mut crate::Child {
        &mut self.inner
    }

    /// The child's process id, or `None` once a wait ([`wait`](Child::wait),
    /// [`try_wait`](Child::try_wait), ...) has returned its exit, as in tokio.
    ///
    /// With the pidfd backend the child stays a zombie until then, so the pid cannot have been
    /// reused. Backends that reap in the background (the helper-thread fallback, FreeBSD,
    /// macOS) may have reaped it earlier: signal it with `signal` (Unix), which never
    /// reaches another process, rather than with `kill(2)` on this pid. On Windows the
    /// `Child` holds the process handle, so the id is not reused while it lives.
    pub fn id(&self) -> Option<u32> {
        if self.waited {
            None
        } else {
            Some(self.inner.state.pid)
        }
    }

    /// The process handle while the child has not been waited for, `None` once a wait has
    /// returned its exit, as tokio's. Windows only.
    ///
    /// The handle is a duplicate the `Child` owns (see [`crate::windows`]): it stays valid,
    /// also after the exit, until the `Child` is dropped.
    #[cfg(windows)]
    pub fn raw_handle(&self) -> Option<std::os::windows::io::RawHandle> {
        use std::os::windows::io::AsRawHandle;
        if self.waited {
            None
        } else {
            Some(self.inner.as_raw_handle())
        }
    }

    /// Sends `SIGKILL` through the pidfd (Windows: `TerminateProcess` on the process handle,
    /// exit code 1), without waiting. `Ok(())` once the child has exited.
    ///
    /// # Errors
    /// What `pidfd_send_signal(2)` (or `TerminateProcess`) reports, e.g. `EPERM`.
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// Sends `SIGKILL`, then waits for the child to exit.
    ///
    /// # Errors
    /// As [`start_kill`](Child::start_kill) and [`wait`](Child::wait).
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await?;
        Ok(())
    }

    /// Closes stdin, then waits for the child to exit, through the current runtime's I/O
    /// driver when it has one (see the [module](super) docs). Cancel-safe; every call returns
    /// the same status.
    ///
    /// # Errors
    /// The child was reaped by someone else (a foreign `waitpid(-1)`), so its status is lost.
    pub fn wait(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send + '_ {
        self.waiting(|exit| exit.status())
    }

    /// The exit status if the child has exited, without waiting.
    ///
    /// # Errors
    /// As [`wait`](Child::wait).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        Ok(self.try_exited()?.map(|exit| exit.status()))
    }

    /// Closes stdin, reads stdout and stderr to their end while waiting for the child.
    ///
    /// # Errors
    /// Reading a pipe failed, or as [`wait`](Child::wait).
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        let stdout = pipes::read_all(self.stdout.take());
        let stderr = pipes::read_all(self.stderr.take());
        let pipes = futures_lite::future::try_zip(stdout, stderr);
        let ((stdout, stderr), status) = futures_lite::future::try_zip(pipes, self.wait()).await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Like [`wait`](Child::wait), with all that is known of the exit: CPU time, peak memory,
    /// wall time (see [`Exit`]).
    ///
    /// # Errors
    /// As [`wait`](Child::wait).
    pub fn exited(&mut self) -> impl Future<Output = io::Result<Exit>> + Send + '_ {
        self.waiting(|exit| exit)
    }

    fn waiting<T>(&mut self, map: fn(Exit) -> T) -> Exited<'_, T> {
        let inner = &self.inner;
        Exited::new(
            &inner.state,
            inner.reactor,
            &mut self.stdin,
            &mut self.waited,
            map,
        )
    }

    /// The [`Exit`] if the child has exited, without waiting.
    ///
    /// # Errors
    /// As [`wait`](Child::wait).
    pub fn try_exited(&mut self) -> io::Result<Option<Exit>> {
        let exit = self.inner.try_exited()?;
        self.waited |= exit.is_some();
        Ok(exit)
    }

    /// Sends the signal `sig` through the pidfd; see [`crate::Child::signal`]. Unix only.
    ///
    /// # Errors
    /// `InvalidInput` for an unknown signal; `EPERM`.
    #[cfg(unix)]
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        self.inner.signal(sig)
    }

    /// Sends `sig` to the child's process group; see [`crate::Child::signal_group`].
    ///
    /// # Errors
    /// As [`signal`](Child::signal).
    #[cfg(unix)]
    pub fn signal_group(&self, sig: i32) -> io::Result<()> {
        self.inner.signal_group(sig)
    }

    /// `SIGTERM` to the child (its group when it leads one), `SIGKILL` after `grace`; see
    /// [`crate::Child::shutdown`]. Its timer is async-io's, not tokio's (which a runtime
    /// may lack). Unix only.
    ///
    /// # Errors
    /// As [`signal`](Child::signal) and [`wait`](Child::wait).
    #[cfg(unix)]
    pub fn shutdown(
        &mut self,
        grace: std::time::Duration,
    ) -> impl std::future::Future<Output = io::Result<Exit>> + Send + 'static {
        self.stdin.take();
        self.inner.shutdown(grace)
    }
}
