//! Everything a child needs, allocated and opened *before* it exists: the code that runs in the
//! child (`child.rs`) may not allocate, so it only reads this plan.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

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

/// The plan the child executes. Holds raw pointers into its own buffers: build it, spawn,
/// drop it, all on one thread.
#[derive(Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct Prepared {
    // Kept for the pointers below.
    _argv: Vec<CString>,
    pub(crate) argv: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    envp_owned: Vec<*const libc::c_char>,
    /// The child's environment: `envp_owned`, or the parent's own `environ` when the command
    /// changes nothing (no copy on the hot path).
    pub(crate) envp: *const *const libc::c_char,
    /// Paths to try with `execve`, in order.
    pub(crate) candidates: Vec<CString>,
    pub(crate) cwd: Option<CString>,
    /// Descriptor to `dup2` onto 0, 1, 2, or -1 to leave the stream alone. Always ≥ 3, so
    /// one `dup2` can never overwrite the source of another.
    pub(crate) stdio: [RawFd; 3],
    /// Keeps the sources in `stdio` open until the child has them.
    _child_ends: Vec<OwnedFd>,
    pub(crate) parent_ends: ParentPipes,
    pub(crate) uid: Option<libc::uid_t>,
    pub(crate) gid: Option<libc::gid_t>,
    pub(crate) groups: Option<Vec<libc::gid_t>>,
    pub(crate) pgroup: Option<libc::pid_t>,
    pub(crate) setsid: bool,
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "nul byte found in provided data",
        )
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
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
impl Prepared {
    pub(crate) fn new(req: &SpawnRequest<'_>) -> io::Result<Prepared> {
        let program = req.program.as_bytes();
        let mut argv = Vec::with_capacity(req.args.len() + 1);
        argv.push(cstring(req.arg0.map_or(program, |a| a.as_bytes()))?);
        for arg in req.args {
            argv.push(cstring(arg.as_bytes())?);
        }
        let envp = match req.env_clear || !req.env.is_empty() {
            true => environment(req)?,
            false => Vec::new(),
        };
        let candidates = candidates(req)?;
        let cwd = req
            .cwd
            .map(|p| cstring(p.as_os_str().as_bytes()))
            .transpose()?;
        if req.setsid && req.pgroup.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a command cannot both start a session and join a process group",
            ));
        }

        let mut stdio = [-1; 3];
        let mut child_ends = Vec::new();
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
            child_ends.push(child_end);
        }
        let [stdin, stdout, stderr] = parent_ends;

        let mut prepared = Prepared {
            argv: null_terminated(&argv),
            _argv: argv,
            envp_owned: null_terminated(&envp),
            envp: std::ptr::null(),
            _envp: envp,
            candidates,
            cwd,
            stdio,
            _child_ends: child_ends,
            parent_ends: ParentPipes {
                stdin,
                stdout,
                stderr,
            },
            uid: req.uid,
            gid: req.gid,
            groups: req.groups.map(<[u32]>::to_vec),
            pgroup: req.pgroup,
            setsid: req.setsid,
        };
        prepared.envp = match req.env_clear || !req.env.is_empty() {
            true => prepared.envp_owned.as_ptr(),
            false => parent_environ(),
        };
        Ok(prepared)
    }
}

/// The parent's environment, as `execve` takes it. Read without `std`'s environment lock,
/// which is not reachable from here: sound because `std::env::set_var` may not run while
/// other threads read the environment (its safety contract since Rust 2024), and a spawn reads
/// it, as `posix_spawn(..., environ)` does.
fn parent_environ() -> *const *const libc::c_char {
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: `environ` is libc's global, always initialised before main; reading the pointer
    // is a plain load (see above for why nothing writes it concurrently).
    unsafe { environ }
}

/// `KEY=value` strings for the child: the parent's environment (unless cleared) with the
/// command's changes applied, read at spawn time as `std` does.
fn environment(req: &SpawnRequest<'_>) -> io::Result<Vec<CString>> {
    let mut vars: BTreeMap<OsString, OsString> = BTreeMap::new();
    if !req.env_clear {
        vars.extend(std::env::vars_os());
    }
    for (key, value) in req.env {
        match value {
            Some(value) => vars.insert(key.clone(), value.clone()),
            None => vars.remove(key),
        };
    }
    vars.iter()
        .map(|(k, v)| {
            let mut kv = Vec::with_capacity(k.len() + v.len() + 1);
            kv.extend_from_slice(k.as_bytes());
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv)
        })
        .collect()
}

/// The paths `execve` tries, as `execvp` would: the program itself if it contains a `/`, else
/// each `PATH` entry joined with it. The child's `PATH` if the command sets one (as `std`
/// does), else the parent's, else `/bin:/usr/bin` (glibc's default).
fn candidates(req: &SpawnRequest<'_>) -> io::Result<Vec<CString>> {
    let program = req.program.as_bytes();
    if program.is_empty() {
        // What execve(2) says, and so std.
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    if program.contains(&b'/') {
        return Ok(vec![cstring(program)?]);
    }
    cstring(program)?; // Reports a NUL byte as InvalidInput, whatever PATH holds.
    let path = match req.env.get(OsStr::new("PATH")) {
        Some(Some(path)) => path.clone(),
        _ => std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into()),
    };
    let mut out = Vec::new();
    for dir in path.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let mut full = Vec::with_capacity(dir.len() + program.len() + 1);
        full.extend_from_slice(dir);
        full.push(b'/');
        full.extend_from_slice(program);
        // A PATH entry with a NUL byte can name no directory: skip it as execvp would fail it.
        if let Ok(c) = CString::new(full) {
            out.push(c);
        }
    }
    Ok(out)
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
