//! The process builder, named and shaped as `std::process::Command`.

use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output};

use crate::spec::{Defaults, Spec};
use crate::stdio::IntoStdio;
use crate::Child;

/// A builder for child processes: every method of [`std::process::Command`] and of
/// `async_process::Command`, with the same names, arguments and defaults.
///
/// # Spawn routes
/// On Linux a command is spawned by this crate's engine: `clone(CLONE_VM | CLONE_VFORK |
/// CLONE_PIDFD)`, so the child is born with its pidfd and no other part of the program can
/// reap it (and recycle its pid) before the crate watches it. Two kinds of commands are
/// spawned by `std` instead, followed by `pidfd_open`, because part of their configuration
/// can only be read by `std`: those converted with `From<std::process::Command>`, and those
/// given a [`std::process::Stdio`], or a value passed as one (a `File`, an `OwnedFd`), rather
/// than this crate's [`Stdio`](crate::Stdio). They behave the same, but cost more and are
/// race-free only while nothing else in the process reaps children (see
/// [`Stdio`](crate::Stdio), "What a `std::process::Stdio` costs"). `Debug` says which route a
/// command takes: `{:?}` appends `(std route: why)` to the command line, `{:#?}` has a
/// `route` field.
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
    pub(crate) spec: Spec,
    reap_on_drop: bool,
}

impl Command {
    /// A command that runs `program`, found in `PATH` unless it contains a `/`, with the
    /// parent's environment and working directory.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::Command;
    ///
    /// let out = Command::new("echo").arg("one").args(["two", "three"]).output().await?;
    /// assert_eq!(out.stdout, b"one two three\n");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        let mut spec = Spec::new(std::process::Command::new(&program), false);
        // std stores a program with a NUL byte as "<string-with-nul>": keep the real one, so
        // the spawn reports InvalidInput as std does.
        spec.program = program.as_ref().to_owned();
        Command {
            spec,
            reap_on_drop: true,
        }
    }

    /// Adds one argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.spec.std.arg(arg.as_ref());
        self.spec.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::Command;
    ///
    /// let out = Command::new("sh")
    ///     .args(["-c", "echo $GREETING $NAME"])
    ///     .env("GREETING", "hello")
    ///     .envs([("NAME", "world")])
    ///     .output()
    ///     .await?;
    /// assert_eq!(out.stdout, b"hello world\n");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn env<K, V>(&mut self, key: K, val: V) -> &mut Command
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.spec
            .set_env(key.as_ref().to_owned(), Some(val.as_ref().to_owned()));
        self
    }

    /// Sets several environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (key, val) in vars {
            self.env(key, val);
        }
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.spec.set_env(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Command::env) adds).
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::Command;
    ///
    /// let out = Command::new("/usr/bin/env").env_clear().env("ONLY", "this").output().await?;
    /// assert_eq!(out.stdout, b"ONLY=this\n");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.spec.clear_env();
        self
    }

    /// Sets the child's working directory.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::Command;
    ///
    /// let out = Command::new("pwd").current_dir("/").output().await?;
    /// assert_eq!(out.stdout, b"/\n");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.spec.std.current_dir(dir.as_ref());
        self.spec.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Configures the child's standard input. Default: inherited, or null for
    /// [`output`](Command::output).
    ///
    /// Takes a [`Stdio`](crate::Stdio), a pipe end of another child, or anything that converts
    /// into a `std::process::Stdio` (which makes `std` spawn the command: see
    /// [`Stdio`](crate::Stdio), "What a `std::process::Stdio` costs").
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::{Command, Stdio};
    /// use futures_lite::AsyncWriteExt;
    ///
    /// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// child.stdin.as_mut().unwrap().write_all(b"fed in").await?;
    /// assert_eq!(child.output().await?.stdout, b"fed in");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn stdin<T: IntoStdio>(&mut self, cfg: T) -> &mut Command {
        self.spec.set_stdio(0, cfg.into_childfd_stdio());
        self
    }

    /// Configures the child's standard output. Default: inherited, or piped for
    /// [`output`](Command::output).
    pub fn stdout<T: IntoStdio>(&mut self, cfg: T) -> &mut Command {
        self.spec.set_stdio(1, cfg.into_childfd_stdio());
        self
    }

    /// Configures the child's standard error. Default: inherited, or piped for
    /// [`output`](Command::output).
    pub fn stderr<T: IntoStdio>(&mut self, cfg: T) -> &mut Command {
        self.spec.set_stdio(2, cfg.into_childfd_stdio());
        self
    }

    /// The program, as given to [`new`](Command::new).
    pub fn get_program(&self) -> &OsStr {
        self.spec.std.get_program()
    }

    /// The arguments, without the program.
    pub fn get_args(&self) -> std::process::CommandArgs<'_> {
        self.spec.std.get_args()
    }

    /// The environment changes: `(key, Some(value))` set, `(key, None)` removed.
    pub fn get_envs(&self) -> std::process::CommandEnvs<'_> {
        self.spec.std.get_envs()
    }

    /// The working directory, if one was set.
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.spec.std.get_current_dir()
    }

    /// Whether a dropped [`Child`] is reaped in the background (default `true`).
    ///
    /// With `false`, dropping the `Child` stops watching it, and reaping it is up to the
    /// caller (a zombie remains otherwise), as with [`std::process::Child`]: the program's own
    /// `waitpid(pid)` gets its status. (On FreeBSD, closing the child's process descriptor
    /// hands it to init instead: nothing is left to reap.) Nothing reaps it in the background before the drop
    /// either, unless a wait for it was started (`status()`, `try_status()`, a
    /// [`ChildSet`](crate::ChildSet)), which may collect the exit as it would anyway. A
    /// `status()` future still pending at the drop ends with an error (`ErrorKind::Other`)
    /// instead of waiting; the child is left untouched. Under the `thread` backend, a helper
    /// thread that was watching the child keeps blocking in `waitid(WNOWAIT)`, which only
    /// observes, until the child exits or the program reaps it, then exits; if the program
    /// reaps it and its pid goes to another child, the helper only watches that one, never
    /// reaping or signalling it.
    pub fn reap_on_drop(&mut self, reap_on_drop: bool) -> &mut Command {
        self.reap_on_drop = reap_on_drop;
        self
    }

    /// Runs the child and everything it starts as one *job* (default `false`): a tree that
    /// [`Child::kill_job`] kills whole, [`Child::job_exited`] awaits to its last process and
    /// accounts for ([`JobUsage`](crate::JobUsage)), and `Child::shutdown` (Unix) stops whole.
    /// With [`kill_on_drop`](Command::kill_on_drop), dropping the `Child` kills the job.
    ///
    /// The mechanism is the best this process can use, said by
    /// [`job_support()`](crate::job_support):
    /// - Linux with a writable cgroup v2: a cgroup leaf per job (made under this process's
    ///   own cgroup, or [`job_parent`](Command::job_parent)) that the child is born in
    ///   (`clone3(CLONE_INTO_CGROUP)`; where clone3 is refused, the child enters it before
    ///   exec). Nothing escapes it: not `setsid`, not a double fork. The leaf is removed when
    ///   the job has ended, also after the `Child` was dropped (not if this process exits
    ///   first). Such a command cannot take the `std` route (see "Spawn routes"):
    ///   `Unsupported`.
    /// - Other Unixes, and Linux without a writable cgroup v2: the child's process group (the
    ///   child is spawned with `unix::CommandExt::process_group(0)`, kept on the command), which `setsid` or a double fork escapes.
    /// - Windows: a job object per job, which the child is put in while it is created
    ///   suspended. A detached grandchild stays in it (only `CREATE_BREAKAWAY_FROM_JOB` could
    ///   leave, which the job does not allow).
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::Command;
    ///
    /// let mut child = Command::new("sh").args(["-c", "sleep 100 & sleep 100"]).job(true).spawn()?;
    /// child.kill_job()?;
    /// let usage = child.job_exited().await?;
    /// println!("the tree used {:?} of CPU", usage.cpu_user() + usage.cpu_system());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn job(&mut self, job: bool) -> &mut Command {
        match job {
            true => {
                self.spec.job.get_or_insert_with(Default::default);
            }
            false => self.spec.job = None,
        }
        self
    }

    /// Runs the child as a [`job`](Command::job), whose cgroup v2 leaf is made under `parent`
    /// (Linux; e.g. a subtree delegated to this program, with controllers such as `memory`
    /// enabled in its `cgroup.subtree_control` for `memory.peak`). A spawn fails if the leaf
    /// cannot be made there. Without it, leaves go under the directory named by the
    /// environment variable `CHILDFD_JOB_PARENT` when this process first uses jobs, else under
    /// this process's own cgroup. Ignored where jobs are process groups.
    pub fn job_parent<P: AsRef<Path>>(&mut self, parent: P) -> &mut Command {
        self.spec.job.get_or_insert_with(Default::default).parent =
            Some(parent.as_ref().to_owned());
        self
    }

    /// Whether dropping the [`Child`] kills it (default `false`).
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// let child = childfd::Command::new("sleep").arg("60").kill_on_drop(true).spawn()?;
    /// drop(child); // SIGKILL, then reaped in the background
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.spec.kill_on_drop = kill_on_drop;
        self
    }

    /// Starts the child. Standard streams not configured are inherited.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::Command;
    ///
    /// let mut child = Command::new("sleep").arg("10").spawn()?;
    /// child.kill()?;
    /// assert!(!child.status().await?.success());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// - `InvalidInput`: a NUL byte in the program, an argument or the environment.
    /// - `NotFound`: no such program, or no such working directory.
    /// - `PermissionDenied`: the program is not executable.
    /// - The fd limit (`EMFILE`) or the process limit (`EAGAIN`): no child is left running.
    /// - What converting a stream failed with (e.g. `EMFILE` when duplicating
    ///   [`io::stdout()`](std::io::stdout) for [`Stdio::from`](crate::Stdio)).
    /// - `Unsupported`: this OS has no backend yet (only Linux has one today).
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::spawn(&mut self.spec, Defaults::Inherit, self.reap_on_drop)
    }

    /// Runs the child and waits for it. Standard streams not configured are inherited.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// let status = childfd::Command::new("sh").args(["-c", "exit 2"]).status().await?;
    /// assert_eq!(status.code(), Some(2));
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
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
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// let out = childfd::Command::new("sh").args(["-c", "echo out; echo err >&2"]).output().await?;
    /// assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn) and [`Child::output`].
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + Send + 'static {
        let child = Child::spawn(&mut self.spec, Defaults::Output, self.reap_on_drop);
        async { child?.output().await }
    }
}

impl From<std::process::Command> for Command {
    /// Takes over a `std` command with all its settings, including those `std` cannot report
    /// (`env_clear`, `pre_exec`, `uid`...): such a command is spawned by `std` (see "Spawn
    /// routes" above).
    ///
    /// Standard streams configured on the `std` command are replaced by this crate's defaults
    /// unless set again here, as in `async-process`.
    fn from(std: std::process::Command) -> Command {
        Command {
            spec: Spec::new(std, true),
            reap_on_drop: true,
        }
    }
}

impl fmt::Debug for Command {
    /// The command line, as `std` prints it; `{:#?}` adds this crate's settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_struct("Command")
                .field("inner", &self.spec.std)
                .field("route", &Route(self.spec.std_route_reason()))
                .field("reap_on_drop", &self.reap_on_drop)
                .field("kill_on_drop", &self.spec.kill_on_drop)
                .finish()
        } else {
            fmt::Debug::fmt(&self.spec.std, f)?;
            match self.spec.std_route_reason() {
                Some(why) => write!(f, " (std route: {why})"),
                None => Ok(()),
            }
        }
    }
}

/// `"engine"`, or `"std (why)"`: which code spawns the command (see "Spawn routes").
struct Route(Option<&'static str>);

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("\"engine\""),
            Some(why) => write!(f, "\"std ({why})\""),
        }
    }
}
