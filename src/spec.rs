//! A command's configuration, kept in a form the spawn engine can read back.
//!
//! `std::process::Command` cannot report its stdio, `env_clear`, credentials or hooks, so the
//! crate records them itself. A shadow `std::process::Command` is kept in step for the
//! getters, `Debug`, and the `std` route: commands converted from `std`, or given an opaque
//! `std::process::Stdio`, are spawned by `std`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;

use crate::stdio::Kind;
use crate::Stdio;

/// Which streams a spawn defaults to when the command does not say: `spawn()` and `status()`
/// inherit all three; `output()` reads from `/dev/null` and pipes the other two.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Defaults {
    Inherit,
    Output,
}

/// Everything `Command` records.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) std: std::process::Command,
    /// Converted from a `std::process::Command`: only `std` knows all of its settings.
    pub(crate) from_std: bool,
    /// `Command::kill_on_drop`: FreeBSD's backend lets the kernel enforce it (no `PD_DAEMON`).
    pub(crate) kill_on_drop: bool,
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: BTreeMap<OsString, Option<OsString>>,
    pub(crate) cwd: Option<PathBuf>,
    /// `Kind::Std` marks a stream handed to `std` (the shadow command holds it).
    pub(crate) stdio: [Option<Kind>; 3],
    /// A stream whose conversion failed (e.g. `dup` at `EMFILE`): spawning reports it.
    stdio_errors: [Option<io::Error>; 3],
    #[cfg(unix)]
    pub(crate) unix: UnixSpec,
    /// `Command::job(true)` (issue 15).
    pub(crate) job: Option<JobSpec>,
    /// `windows::CommandExt::creation_flags`, which `std` cannot report: a job adds
    /// `CREATE_SUSPENDED` to them.
    #[cfg(windows)]
    pub(crate) creation_flags: u32,
}

impl Spec {
    pub(crate) fn new(std: std::process::Command, from_std: bool) -> Spec {
        Spec {
            program: std.get_program().to_owned(),
            args: std.get_args().map(ToOwned::to_owned).collect(),
            std,
            from_std,
            kill_on_drop: false,
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdio: [None, None, None],
            stdio_errors: [None, None, None],
            #[cfg(unix)]
            unix: Default::default(),
            job: None,
            #[cfg(windows)]
            creation_flags: 0,
        }
    }

    pub(crate) fn set_env(&mut self, key: OsString, value: Option<OsString>) {
        match value {
            Some(v) => {
                self.std.env(&key, &v);
                self.env.insert(key, Some(v));
            }
            None => {
                self.std.env_remove(&key);
                // After env_clear, removing a variable is forgetting that it was set (std's
                // CommandEnv does the same).
                if self.env_clear {
                    self.env.remove(&key);
                } else {
                    self.env.insert(key, None);
                }
            }
        }
    }

    pub(crate) fn clear_env(&mut self) {
        self.std.env_clear();
        self.env_clear = true;
        self.env.clear();
    }

    pub(crate) fn set_stdio(&mut self, which: usize, stdio: Stdio) {
        let kind = match stdio.0 {
            Err(e) => {
                self.stdio_errors[which] = Some(e);
                self.stdio[which] = None;
                return;
            }
            Ok(kind) => kind,
        };
        self.stdio_errors[which] = None;
        let kind = match kind {
            Kind::Std(stdio) => {
                match which {
                    0 => self.std.stdin(stdio),
                    1 => self.std.stdout(stdio),
                    _ => self.std.stderr(stdio),
                };
                Kind::Std(std::process::Stdio::inherit())
            }
            other => other,
        };
        if let Some(slot) = self.stdio.get_mut(which) {
            *slot = Some(kind);
        }
    }

    /// Whether only `std` can spawn this command (the engine exists on Linux and FreeBSD;
    /// elsewhere `std` spawns everything).
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub(crate) fn needs_std(&self) -> bool {
        self.std_route_reason().is_some()
    }

    /// Why only `std` can spawn this command, for `Command`'s `Debug`.
    pub(crate) fn std_route_reason(&self) -> Option<&'static str> {
        const STREAMS: [&str; 3] = [
            "stdin is a std::process::Stdio",
            "stdout is a std::process::Stdio",
            "stderr is a std::process::Stdio",
        ];
        if self.from_std {
            return Some("converted from std::process::Command");
        }
        let which = self
            .stdio
            .iter()
            .position(|k| matches!(k, Some(Kind::Std(_))))?;
        STREAMS.get(which).copied()
    }

    /// The cgroup leaf of the job being spawned, for the spawn engine.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    pub(crate) fn job_target(&self) -> Option<platform::unix::prepare::CgroupTarget<'_>> {
        #[cfg(target_os = "linux")]
        {
            let leaf = self.job.as_ref()?.leaf.as_ref()?;
            Some(platform::unix::prepare::CgroupTarget {
                dir: leaf.dir_fd(),
                procs: leaf.procs_fd(),
            })
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// The error of a stream whose conversion failed, every time the command is spawned.
    pub(crate) fn check(&self) -> io::Result<()> {
        match self.stdio_errors.iter().flatten().next() {
            None => Ok(()),
            Some(e) => Err(match e.raw_os_error() {
                Some(errno) => io::Error::from_raw_os_error(errno),
                None => io::Error::new(e.kind(), e.to_string()),
            }),
        }
    }

    /// Prepares the shadow command for the `std` route: the streams this crate recorded are
    /// handed to it, those left unset get `defaults`.
    ///
    /// # Errors
    /// Duplicating a stream's descriptor failed (`EMFILE`), or the command uses a setting
    /// only this crate's engine has.
    pub(crate) fn std_command(
        &mut self,
        defaults: Defaults,
    ) -> io::Result<&mut std::process::Command> {
        self.check()?;
        #[cfg(unix)]
        self.unix.check_std_route()?;
        for which in 0..3 {
            let stdio = match &self.stdio[which] {
                Some(Kind::Std(_)) => continue,
                Some(Kind::Inherit) => std::process::Stdio::inherit(),
                Some(Kind::Null) => std::process::Stdio::null(),
                Some(Kind::Piped) => std::process::Stdio::piped(),
                #[cfg(unix)]
                Some(Kind::Fd(fd)) => fd.try_clone()?.into(),
                None => match default_stream(defaults, which) {
                    Kind::Null => std::process::Stdio::null(),
                    Kind::Piped => std::process::Stdio::piped(),
                    _ => std::process::Stdio::inherit(),
                },
            };
            match which {
                0 => self.std.stdin(stdio),
                1 => self.std.stdout(stdio),
                _ => self.std.stderr(stdio),
            };
        }
        Ok(&mut self.std)
    }
}

/// What a stream the command left unset becomes.
pub(crate) fn default_stream(defaults: Defaults, which: usize) -> &'static Kind {
    static INHERIT: Kind = Kind::Inherit;
    static NULL: Kind = Kind::Null;
    static PIPED: Kind = Kind::Piped;
    match (defaults, which) {
        (Defaults::Inherit, _) => &INHERIT,
        (Defaults::Output, 0) => &NULL,
        (Defaults::Output, _) => &PIPED,
    }
}

/// What `Command::job` records (issue 15).
#[derive(Debug, Default)]
pub(crate) struct JobSpec {
    /// `Command::job_parent`: the cgroup to make this command's leaves under.
    pub(crate) parent: Option<PathBuf>,
    /// The leaf of the spawn under way, read by the spawn engine (`Spec::job_target`).
    #[cfg(target_os = "linux")]
    pub(crate) leaf: Option<platform::linux::cgroup::Leaf>,
}

/// What the Unix extensions (`crate::unix::CommandExt`) record.
#[cfg(unix)]
#[derive(Debug, Default)]
pub(crate) struct UnixSpec {
    pub(crate) arg0: Option<OsString>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) pgroup: Option<i32>,
    pub(crate) setsid: bool,
    pub(crate) hooks: Vec<platform::unix::prepare::PreExec>,
}

#[cfg(unix)]
impl UnixSpec {
    /// `std` has no stable `groups` or `setsid`, and owns its `pre_exec` closures.
    pub(crate) fn check_std_route(&self) -> io::Result<()> {
        if self.groups.is_some() || self.setsid || !self.hooks.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "groups, setsid and pre_exec cannot be combined with a std::process::Stdio or a \
                 command converted from std::process::Command",
            ));
        }
        Ok(())
    }
}
