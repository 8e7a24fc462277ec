//! The process builder, named and shaped as `std::process::Command`.

use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

use crate::Child;

/// A builder for child processes: every method of [`std::process::Command`] and of
/// `async_process::Command`, with the same names, arguments and defaults.
///
/// # Examples
/// ```
/// # #[cfg(target_os = "linux")]
/// # futures_lite::future::block_on(async {
/// use childfd::Command;
///
/// let out = Command::new("sh").arg("-c").arg("echo hello").output().await?;
/// assert_eq!(out.stdout, b"hello\n");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct Command {
    pub(crate) inner: std::process::Command,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    reap_on_drop: bool,
    kill_on_drop: bool,
}

impl Command {
    /// A command that runs `program`, found in `PATH` unless it contains a `/`, with the
    /// parent's environment and working directory.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
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

    /// Configures the child's standard input. Default: inherited, or null for
    /// [`output`](Command::output).
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stdin = true;
        self.inner.stdin(cfg);
        self
    }

    /// Configures the child's standard output. Default: inherited, or piped for
    /// [`output`](Command::output).
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stdout = true;
        self.inner.stdout(cfg);
        self
    }

    /// Configures the child's standard error. Default: inherited, or piped for
    /// [`output`](Command::output).
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.stderr = true;
        self.inner.stderr(cfg);
        self
    }

    /// The program, as given to [`new`](Command::new).
    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    /// The arguments, without the program.
    pub fn get_args(&self) -> std::process::CommandArgs<'_> {
        self.inner.get_args()
    }

    /// The environment changes: `(key, Some(value))` set, `(key, None)` removed.
    pub fn get_envs(&self) -> std::process::CommandEnvs<'_> {
        self.inner.get_envs()
    }

    /// The working directory, if one was set.
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.inner.get_current_dir()
    }

    /// Whether a dropped [`Child`] is reaped in the background (default `true`).
    ///
    /// With `false`, dropping the `Child` stops watching it, and reaping it is up to the
    /// caller (a zombie remains otherwise), as with [`std::process::Child`].
    pub fn reap_on_drop(&mut self, reap_on_drop: bool) -> &mut Command {
        self.reap_on_drop = reap_on_drop;
        self
    }

    /// Whether dropping the [`Child`] kills it (default `false`).
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Starts the child. Standard streams not configured are inherited.
    ///
    /// # Errors
    /// - `InvalidInput`: a NUL byte in the program, an argument or the environment.
    /// - `NotFound`: no such program, or no such working directory.
    /// - `PermissionDenied`: the program is not executable.
    /// - The fd limit (`EMFILE`): no child is left running.
    /// - `Unsupported`: this OS has no backend yet (only Linux has one today).
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.default_stdio(Stdio::inherit, Stdio::inherit, Stdio::inherit);
        Child::spawn(&mut self.inner, self.kill_on_drop, self.reap_on_drop)
    }

    /// Runs the child and waits for it. Standard streams not configured are inherited.
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn) and [`Child::status`].
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send + 'static {
        let child = self.spawn();
        async { child?.status().await }
    }

    /// Runs the child and collects its output. Unless configured, stdin is null and stdout
    /// and stderr are piped.
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn) and [`Child::output`].
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + Send + 'static {
        self.default_stdio(Stdio::null, Stdio::piped, Stdio::piped);
        let child = Child::spawn(&mut self.inner, self.kill_on_drop, self.reap_on_drop);
        async { child?.output().await }
    }

    fn default_stdio(&mut self, i: fn() -> Stdio, o: fn() -> Stdio, e: fn() -> Stdio) {
        if !self.stdin {
            self.inner.stdin(i());
        }
        if !self.stdout {
            self.inner.stdout(o());
        }
        if !self.stderr {
            self.inner.stderr(e());
        }
    }
}

impl From<std::process::Command> for Command {
    /// Takes over a `std` command with all its settings, including the Unix ones `std`
    /// offers (`pre_exec`, `process_group`, `groups`...).
    ///
    /// Standard streams configured on the `std` command are kept only if set again here:
    /// `std` cannot report them, so they get this crate's defaults, as in `async-process`.
    fn from(inner: std::process::Command) -> Command {
        Command {
            inner,
            stdin: false,
            stdout: false,
            stderr: false,
            reap_on_drop: true,
            kill_on_drop: false,
        }
    }
}

impl fmt::Debug for Command {
    /// The command line, as `std` prints it; `{:#?}` adds this crate's settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_struct("Command")
                .field("inner", &self.inner)
                .field("stdin", &self.stdin)
                .field("stdout", &self.stdout)
                .field("stderr", &self.stderr)
                .field("reap_on_drop", &self.reap_on_drop)
                .field("kill_on_drop", &self.kill_on_drop)
                .finish()
        } else {
            fmt::Debug::fmt(&self.inner, f)
        }
    }
}
