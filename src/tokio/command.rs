//! `tokio::process::Command`, on `crate::Command`.

use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output};

use crate::spec::Defaults;
#[cfg(unix)]
use crate::unix::{CommandExt as _, PreExec};
#[cfg(windows)]
use crate::windows::CommandExt as _;
use crate::IntoStdio;

use super::Child;

/// A builder for child processes, with the methods of `tokio::process::Command` (and the
/// same defaults), spawned by this crate's engine (see [`crate::Command`], "Spawn routes").
///
/// # Examples
/// ```
/// # #[cfg(target_os = "linux")]
/// # tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(async {
/// use childfd::tokio::Command;
///
/// let out = Command::new("sh").args(["-c", "echo hi; exit 3"]).output().await?;
/// assert_eq!((out.stdout, out.status.code()), (b"hi\n".to_vec(), Some(3)));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct Command {
    inner: crate::Command,
}

impl Command {
    /// A command that runs `program` (searched in `PATH` unless it has a `/`), with the
    /// parent's environment and working directory, its streams inherited (`spawn`, `status`)
    /// or piped (`output`).
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command {
            inner: crate::Command::new(program),
        }
    }

    /// The `std` command kept in step with this one: program, arguments, environment,
    /// working directory and Unix settings (streams are applied at spawn only).
    pub fn as_std(&self) -> &std::process::Command {
        &self.inner.spec.std
    }

    /// The `std` command, to change it in place. The crate cannot see what is changed there,
    /// so from this call on the command is spawned by `std` (then, on Linux, `pidfd_open`), as
    /// a command converted from `std` is; streams set on the `std` command are replaced by
    /// this command's own, and a `pre_exec` hook (Unix) then fails the spawn with
    /// `Unsupported`. On Windows every command is spawned by `std` anyway.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        self.inner.spec.from_std = true;
        &mut self.inner.spec.std
    }

    /// Converts into the `std` command, streams included; `kill_on_drop` and `pre_exec` hooks
    /// (Unix) are lost.
    pub fn into_std(mut self) -> std::process::Command {
        // Hands the recorded streams to the `std` command; a failure (a hook, a failed dup)
        // leaves them unset, which is all `std` could do with them.
        let _ = self.inner.spec.std_command(Defaults::Inherit);
        self.inner.spec.std
    }

    /// Adds one argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env<K, V>(&mut self, key: K, val: V) -> &mut Command
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.env(key, val);
        self
    }

    /// Sets several environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Command::env) adds).
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Configures the child's standard input: anything that converts into a
    /// `std::process::Stdio`, as in tokio, or a [`childfd::Stdio`](crate::Stdio).
    ///
    /// A `std::process::Stdio` is opaque, so a command given one is spawned by `std` (see the
    /// [module](super) docs); `childfd::Stdio::piped()` (or `null()`, `inherit()`) keeps it
    /// on the engine.
    pub fn stdin<T: IntoStdio>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdin(cfg);
        self
    }

    /// Configures the child's standard output; see [`stdin`](Command::stdin).
    pub fn stdout<T: IntoStdio>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdout(cfg);
        self
    }

    /// Configures the child's standard error; see [`stdin`](Command::stdin).
    pub fn stderr<T: IntoStdio>(&mut self, cfg: T) -> &mut Command {
        self.inner.stderr(cfg);
        self
    }

    /// Whether dropping the [`Child`] (or a `status`/`output` future) sends it `SIGKILL`
    /// (Windows: `TerminateProcess`; default `false`). Either way a dropped child is reaped
    /// in the background.
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.inner.kill_on_drop(kill_on_drop);
        self
    }

    /// What [`kill_on_drop`](Command::kill_on_drop) was set to.
    pub fn get_kill_on_drop(&self) -> bool {
        self.inner.spec.kill_on_drop
    }

    /// Runs the child as user `id` (`setuid`).
    #[cfg(unix)]
    pub fn uid(&mut self, id: u32) -> &mut Command {
        self.inner.uid(id);
        self
    }

    /// Runs the child as group `id` (`setgid`).
    #[cfg(unix)]
    pub fn gid(&mut self, id: u32) -> &mut Command {
        self.inner.gid(id);
        self
    }

    /// Sets `argv[0]`.
    #[cfg(unix)]
    pub fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg0(arg);
        self
    }

    /// Runs `hook` in the child just before it execs.
    ///
    /// Unlike tokio's, this method is safe and its argument is not a closure: the `unsafe`
    /// promise is made by [`PreExec::new`] (this crate forbids `unsafe` code). A tokio call
    /// `unsafe { cmd.pre_exec(f) }` becomes `cmd.pre_exec(unsafe { PreExec::new(f) })`.
    #[cfg(unix)]
    pub fn pre_exec(&mut self, hook: PreExec) -> &mut Command {
        self.inner.pre_exec(hook);
        self
    }

    /// Puts the child in process group `pgroup`, or in a new group it leads with `0`.
    #[cfg(unix)]
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        self.inner.process_group(pgroup);
        self
    }

    /// Sets the [process creation flags][1] passed to `CreateProcess`, always ORed with
    /// `CREATE_UNICODE_ENVIRONMENT` (by `std`). Windows only.
    ///
    /// [1]: https://learn.microsoft.com/en-us/windows/win32/procthread/process-creation-flags
    #[cfg(windows)]
    pub fn creation_flags(&mut self, flags: u32) -> &mut Command {
        self.inner.creation_flags(flags);
        self
    }

    /// Appends `text_to_append_as_is` to the command line without quoting or escaping: for
    /// `cmd.exe /c`, which does not follow the `CommandLineToArgvW` rules. Windows only.
    #[cfg(windows)]
    pub fn raw_arg<S: AsRef<OsStr>>(&mut self, text_to_append_as_is: S) -> &mut Command {
        self.inner.raw_arg(text_to_append_as_is);
        self
    }

    /// Starts the child. Streams not configured are inherited.
    ///
    /// # Errors
    /// As [`crate::Command::spawn`]; also, on Unix, a piped stream in a runtime built without
    /// I/O.
    ///
    /// # Panics
    /// On Unix, with a piped stream, outside a tokio runtime, as tokio (the child is killed
    /// and reaped first). On Windows, as with tokio, a piped stream needs a runtime only to be
    /// read or written.
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::spawn(&mut self.inner.spec, Defaults::Inherit)
    }

    /// Runs the child and waits for it; its pipes, if any, are closed first.
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn) and [`Child::wait`].
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> {
        let child = self.spawn();
        async {
            let mut child = child?;
            child.stdin.take();
            child.stdout.take();
            child.stderr.take();
            child.wait().await
        }
    }

    /// Runs the child and collects its output. As in tokio, stdout and stderr are set to
    /// piped on the command (even if configured otherwise); stdin defaults to null.
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn) and [`Child::wait_with_output`].
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> {
        self.inner.stdout(crate::Stdio::piped());
        self.inner.stderr(crate::Stdio::piped());
        let child = Child::spawn(&mut self.inner.spec, Defaults::Output);
        async { child?.wait_with_output().await }
    }
}

impl From<std::process::Command> for Command {
    /// Takes over a `std` command with all its settings; it is spawned by `std` (see
    /// [`as_std_mut`](Command::as_std_mut)).
    fn from(std: std::process::Command) -> Command {
        Command {
            inner: crate::Command::from(std),
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
