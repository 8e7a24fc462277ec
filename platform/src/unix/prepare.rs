//! Everything a child needs, allocated and opened *before* it exists: the code that runs in the
//! child (`child.rs`) may not allocate, so it only reads this plan. Its strings live in two
//! buffers that each thread reuses from one spawn to the next (`strings.rs`).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::strings::Strings;

/// What becomes of one of the child's standard streams.
#[derive(Debug)]
pub enum StdioPlan<'a> {
    /// The parent's own stream.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the parent keeps the other end.
    Piped,
    /// This descriptor (duplicated onto the stream).
    Fd(BorrowedFd<'a>),
}

/// A command, as the spawn engine needs it. Built by `childfd::Command`.
#[derive(Debug)]
pub struct SpawnRequest<'a> {
    /// The program: a path if it contains a `/`, else looked up in `PATH`.
    pub program: &'a OsStr,
    /// The arguments after `argv[0]`.
    pub args: &'a [OsString],
    /// `argv[0]`, if not the program.
    pub arg0: Option<&'a OsStr>,
    /// Start from an empty environment instead of the parent's.
    pub env_clear: bool,
    /// Variables set (`Some`) or removed (`None`).
    pub env: &'a BTreeMap<OsString, Option<OsString>>,
    /// The child's working directory.
    pub cwd: Option<&'a Path>,
    /// stdin, stdout, stderr.
    pub stdio: [StdioPlan<'a>; 3],
    /// `setuid` in the child.
    pub uid: Option<u32>,
    /// `setgid` in the child.
    pub gid: Option<u32>,
    /// `setgroups` in the child.
    pub groups: Option<&'a [u32]>,
    /// `setpgid(0, pgroup)` in the child (`0`: a new group led by the child).
    pub pgroup: Option<i32>,
    /// `setsid` in the child.
    pub setsid: bool,
    /// Linux: the cgroup v2 leaf the child is born in, or enters before anything else
    /// (issue 15). Other engines refuse a request that has one.
    pub cgroup: Option<CgroupTarget<'a>>,
}

impl<'a> SpawnRequest<'a> {
    /// `program` with `args`, `env` over the parent's environment, the three streams
    /// inherited, and nothing else set.
    pub fn new(
        program: &'a OsStr,
        args: &'a [OsString],
        env: &'a BTreeMap<OsString, Option<OsString>>,
    ) -> SpawnRequest<'a> {
        SpawnRequest {
            program,
            args,
            arg0: None,
            env_clear: false,
            env,
            cwd: None,
            stdio: [StdioPlan::Inherit, StdioPlan::Inherit, StdioPlan::Inherit],
            uid: None,
            gid: None,
            groups: None,
            pgroup: None,
            setsid: false,
            cgroup: None,
        }
    }
}

/// A cgroup v2 leaf as the spawn engine uses it: the directory for `clone3`'s
/// `CLONE_INTO_CGROUP`, and its `cgroup.procs`, open for writing, for a child that has to
/// enter by itself (where `clone3` is refused).
#[derive(Debug, Clone, Copy)]
pub struct CgroupTarget<'a> {
    /// The leaf's directory (`O_RDONLY | O_DIRECTORY`).
    pub dir: BorrowedFd<'a>,
    /// Its `cgroup.procs` (`O_WRONLY`).
    pub procs: BorrowedFd<'a>,
}

/// The parent's ends of the pipes `StdioPlan::Piped` asked for.
#[derive(Debug, Default)]
pub struct ParentPipes {
    /// Writable end of the child's stdin.
    pub stdin: Option<OwnedFd>,
    /// Readable end of the child's stdout.
    pub stdout: Option<OwnedFd>,
    /// Readable end of the child's stderr.
    pub stderr: Option<OwnedFd>,
}

/// The plan the child executes: raw pointers into its own buffers ([`Strings`]). Build it,
/// spawn, drop it, all on one thread.
#[derive(Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct Prepared<'a> {
    strings: Strings,
    /// `argv`, NULL-terminated.
    pub(crate) argv: *const *const libc::c_char,
    /// The child's environment: built in `strings`, or the parent's own `environ` when the
    /// command changes nothing (no copy on the hot path).
    pub(crate) envp: *const *const libc::c_char,
    /// The program as given: a path if it holds a `/`.
    pub(crate) program: *const libc::c_char,
    /// Where the search path starts in `strings`, for a program without a `/`.
    path: Option<usize>,
    program_at: usize,
    pub(crate) cwd: Option<*const libc::c_char>,
    /// Descriptor to `dup2` onto 0, 1, 2, or -1 to leave the stream alone. Always ≥ 3, so
    /// one `dup2` can never overwrite the source of another.
    pub(crate) stdio: [RawFd; 3],
    /// Keeps the sources in `stdio` open until the child has them.
    _child_ends: [Option<OwnedFd>; 3],
    pub(crate) parent_ends: ParentPipes,
    pub(crate) uid: Option<libc::uid_t>,
    pub(crate) gid: Option<libc::gid_t>,
    pub(crate) groups: Option<&'a [libc::gid_t]>,
    pub(crate) pgroup: Option<libc::pid_t>,
    pub(crate) setsid: bool,
    /// `cgroup.procs` of the leaf the child writes itself into first, or -1.
    pub(crate) cgroup_procs: RawFd,
}

/// A pipe whose ends are close-on-exec from birth, where the OS can (`pipe2`).
fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    #[cfg(not(any(target_os = "macos", target_os = "ios")))]
    return Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?);
    // Apple has no pipe2; this engine does not spawn there (the thread backend uses std).
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    {
        let (read, write) = rustix::pipe::pipe()?;
        for fd in [&read, &write] {
            rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)?;
        }
        Ok((read, write))
    }
}

/// Moves `fd` to a number ≥ 3 if it is one of the standard streams.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(&fd, 3)?)
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
impl<'a> Prepared<'a> {
    pub(crate) fn new(req: &SpawnRequest<'a>) -> io::Result<Prepared<'a>> {
        if req.setsid && req.pgroup.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a command cannot both start a session and join a process group",
            ));
        }
        let program = req.program.as_bytes();
        if program.is_empty() {
            // What execve(2) says, and so std.
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        let mut strings = Strings::take();
        strings.push(&[req.arg0.map_or(program, |a| a.as_bytes())])?;
        for arg in req.args {
            strings.push(&[arg.as_bytes()])?;
        }
        let changed_env = req.env_clear || !req.env.is_empty();
        let env_at = strings.offset();
        let vars = match changed_env {
            true => environment(req, &mut strings)?,
            false => 0,
        };
        let program_at = strings.offset();
        strings.push(&[program])?;
        let path = match program.contains(&b'/') {
            true => None,
            false => Some(search_path(req, &mut strings)?),
        };
        let cwd = match req.cwd {
            Some(cwd) => {
                let at = strings.offset();
                strings.push(&[cwd.as_os_str().as_bytes()])?;
                Some(at)
            }
            None => None,
        };
        // Every string is in: the byte buffer no longer moves. Both arrays in one reservation.
        strings.reserve_pointers(req.args.len() + 2 + vars + 1)?;
        let argv = strings.push_array(0, 1 + req.args.len())?;
        let envp = match changed_env {
            true => Some(strings.push_array(env_at, vars)?),
            false => None,
        };
        let envp = envp.map_or_else(parent_environ, |at| strings.array(at));

        let mut stdio = [-1; 3];
        let mut child_ends: [Option<OwnedFd>; 3] = [None, None, None];
        let mut parent_ends: [Option<OwnedFd>; 3] = [None, None, None];
        for (i, plan) in req.stdio.iter().enumerate() {
            let child_end = match plan {
                StdioPlan::Inherit => continue,
                StdioPlan::Null => {
                    let flags = OFlags::RDWR | OFlags::CLOEXEC;
                    rustix::fs::open("/dev/null", flags, Mode::empty())?
                }
                StdioPlan::Fd(fd) => rustix::io::fcntl_dupfd_cloexec(fd, 3)?,
                StdioPlan::Piped => {
                    let (read, write) = pipe_cloexec()?;
                    let (ours, theirs) = if i == 0 { (write, read) } else { (read, write) };
                    parent_ends[i] = Some(above_stdio(ours)?);
                    theirs
                }
            };
            let child_end = above_stdio(child_end)?;
            stdio[i] = child_end.as_raw_fd();
            child_ends[i] = Some(child_end);
        }
        let [stdin, stdout, stderr] = parent_ends;

        Ok(Prepared {
            argv: strings.array(argv),
            envp,
            program: strings.ptr(program_at),
            path,
            program_at,
            cwd: cwd.map(|at| strings.ptr(at)),
            strings,
            stdio,
            _child_ends: child_ends,
            parent_ends: ParentPipes {
                stdin,
                stdout,
                stderr,
            },
            uid: req.uid,
            gid: req.gid,
            groups: req.groups,
            pgroup: req.pgroup,
            setsid: req.setsid,
            cgroup_procs: req.cgroup.map_or(-1, |c| c.procs.as_raw_fd()),
        })
    }

    /// For a program without a `/`: its name and the `:`-separated directories to look it up
    /// in, as `execvp` would.
    pub(crate) fn search(&self) -> Option<(&[u8], &[u8])> {
        let path = self.path?;
        Some((self.strings.get(self.program_at), self.strings.get(path)))
    }
}

/// The parent's environment, as `execve` takes it. Read without `std`'s environment lock,
/// which is not reachable from here: sound because `std::env::set_var` may not run while
/// other threads read the environment (its safety contract since Rust 2024), and a spawn reads
/// it, as `posix_spawn(..., environ)` does. Only the kernel reads through it (in `execve`).
fn parent_environ() -> *const *const libc::c_char {
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: `environ` is libc's global, always initialised before main; reading the pointer
    // is a plain load (see above for why nothing writes it concurrently).
    unsafe { environ }
}

/// Appends the child's `KEY=value` strings and returns how many: the parent's environment
/// (unless cleared), read at spawn time through `std` (under its lock) as `std` does, without
/// the variables the command sets or removes, then those it sets.
fn environment(req: &SpawnRequest<'_>, strings: &mut Strings) -> io::Result<usize> {
    let mut count = 0;
    if !req.env_clear {
        for (key, value) in std::env::vars_os() {
            if !req.env.contains_key(&key) {
                strings.push_var(&key, &value)?;
                count += 1;
            }
        }
    }
    for (key, value) in req.env {
        if let Some(value) = value {
            strings.push_var(key, value)?;
            count += 1;
        }
    }
    Ok(count)
}

/// Appends the directories `execvp` would search, and returns where they start: the child's
/// `PATH` if the command sets one (as `std` does), else the parent's, else `/bin:/usr/bin`
/// (glibc's default). The child tries each in turn (`child.rs`).
fn search_path(req: &SpawnRequest<'_>, strings: &mut Strings) -> io::Result<usize> {
    let at = strings.offset();
    match req.env.get(OsStr::new("PATH")) {
        Some(Some(path)) => strings.push(&[path.as_bytes()])?,
        // One allocation: std offers no other way to read a variable under its lock.
        _ => match std::env::var_os("PATH") {
            Some(path) => strings.push(&[path.as_bytes()])?,
            None => strings.push(&[b"/bin:/usr/bin"])?,
        },
    }
    Ok(at)
}

/// A closure run in the child after fork and before exec, created with the `unsafe` promise
/// that it is async-signal-safe. Where `std` makes `pre_exec` itself `unsafe`, this crate
/// makes the hook's construction `unsafe`, so the crate that calls it can forbid unsafe code.
pub struct PreExec(Box<dyn FnMut() -> io::Result<()> + Send + Sync>);

impl PreExec {
    /// Wraps `hook`.
    ///
    /// # Safety
    /// `hook` runs in a copy of a possibly multi-threaded process, between fork and exec: it
    /// may only make async-signal-safe calls (signal-safety(7)): no allocation, no locks. It
    /// should fail with an OS error (`io::Error::from_raw_os_error`), which is reported as is;
    /// any other error is reported as `EINVAL` and leaked rather than freed in the child.
    ///
    /// A hook that panics breaks that promise (the panic machinery allocates and takes
    /// locks), yet the damage stays in the child: the panic never unwinds past the spawn
    /// engine, the child exits without exec, and the spawn fails with an error saying that
    /// a `pre_exec` hook panicked. (`std` aborts such a child and its spawn returns `Ok`;
    /// so does this crate in a program built with `panic = "abort"`.)
    pub unsafe fn new<F>(hook: F) -> PreExec
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        PreExec(Box::new(hook))
    }

    /// Runs the hook in the child; an error becomes its errno.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn run(&mut self) -> Result<(), i32> {
        match (self.0)() {
            Ok(()) => Ok(()),
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EINVAL);
                // A custom error owns heap memory; freeing it here could take malloc's lock.
                std::mem::forget(e);
                Err(errno)
            }
        }
    }
}

impl std::fmt::Debug for PreExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreExec")
    }
}
