//! Raw Linux calls: clocks, resource counters, and the `limit`/`fork` spawners.
//!
//! The `childfd` crate keeps all its `unsafe` in `platform/`; this benchmark needs a little of
//! its own to measure the kernel floor (raw `posix_spawn` + `waitpid`) and to read counters.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::ptr;

extern "C" {
    static environ: *const *mut libc::c_char;
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock `Instant` uses, readable by another process.
pub(crate) fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time (user + system) of this process, all its threads, not its children; in ns.
pub(crate) fn cpu_self_ns() -> u64 {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Entries of a /proc directory (`/proc/self/task`: threads, `/proc/self/fd`: descriptors,
/// this count's own directory fd included).
pub(crate) fn count_dir(path: &str) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

pub(crate) fn threads() -> usize {
    count_dir("/proc/self/task")
}

pub(crate) fn fds() -> usize {
    count_dir("/proc/self/fd")
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
pub(crate) fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit.
pub(crate) fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit; raising the soft limit up to the hard one is allowed.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
}

/// A close-on-exec pipe: (read end, write end).
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Grows a pipe's buffer (best effort), so that many children can write without blocking.
pub(crate) fn grow_pipe(fd: &OwnedFd, bytes: i32) {
    // SAFETY: F_SETPIPE_SZ takes an int and only resizes the pipe behind a valid fd.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, bytes) };
}

/// Reads a descriptor to EOF.
pub(crate) fn read_all(fd: OwnedFd) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::from(fd).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Child mode `--stamp`: write `CLOCK_MONOTONIC` (8 bytes, native endian) to stdout, `_exit(0)`.
pub(crate) fn stamp_child() -> ! {
    write_stamp_and_exit()
}

/// Child mode `--hold`: block until stdin reaches EOF, then as `--stamp`.
pub(crate) fn hold_child() -> ! {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 || (n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted) {
            break;
        }
    }
    write_stamp_and_exit()
}

fn write_stamp_and_exit() -> ! {
    let stamp = mono_ns().to_ne_bytes();
    // SAFETY: `stamp` is valid for reads of its length; `_exit` never returns.
    unsafe {
        libc::write(1, stamp.as_ptr().cast(), stamp.len());
        libc::_exit(0)
    }
}

/// A program and its argv as C strings, prepared once: what `limit` and `fork` need so that
/// nothing but the spawn itself happens per child.
pub(crate) struct RawCmd {
    path: CString,
    _args: Vec<CString>,
    argv: Vec<*const libc::c_char>,
}

impl RawCmd {
    pub(crate) fn new(prog: &OsStr, args: &[&OsStr]) -> RawCmd {
        let cstr = |s: &OsStr| CString::new(s.as_bytes()).expect("no NUL in bench arguments");
        let path = cstr(prog);
        let mut all = vec![path.clone()];
        all.extend(args.iter().map(|a| cstr(a)));
        let mut argv: Vec<*const libc::c_char> = all.iter().map(|a| a.as_ptr()).collect();
        argv.push(ptr::null());
        RawCmd {
            path,
            _args: all,
            argv,
        }
    }

    /// `posix_spawn` (glibc: `clone(CLONE_VM|CLONE_VFORK)`, as `std` itself uses), with
    /// `dup2` pairs (source, target) for the child's stdio.
    pub(crate) fn posix_spawn(&self, dup2: &[(RawFd, RawFd)]) -> io::Result<libc::pid_t> {
        // SAFETY: zeroed memory is a valid argument for posix_spawn_file_actions_init.
        let mut fa: libc::posix_spawn_file_actions_t = unsafe { std::mem::zeroed() };
        let fa_ptr = if dup2.is_empty() {
            ptr::null()
        } else {
            // SAFETY: `fa` is valid; it is destroyed below.
            unsafe { libc::posix_spawn_file_actions_init(&mut fa) };
            for &(src, dst) in dup2 {
                // SAFETY: `fa` was initialised above.
                unsafe { libc::posix_spawn_file_actions_adddup2(&mut fa, src, dst) };
            }
            &fa as *const _
        };
        let mut pid = 0;
        // SAFETY: path and argv are NUL-terminated C strings owned by `self`, argv ends with a
        // null pointer, `fa_ptr` is null or initialised, `environ` is the process environment.
        let rc = unsafe {
            libc::posix_spawn(
                &mut pid,
                self.path.as_ptr(),
                fa_ptr,
                ptr::null(),
                self.argv.as_ptr() as *const *mut libc::c_char,
                environ,
            )
        };
        if !dup2.is_empty() {
            // SAFETY: initialised above, destroyed once.
            unsafe { libc::posix_spawn_file_actions_destroy(&mut fa) };
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(pid)
    }

    /// Classic `fork` + `execve`: copies the parent's page tables, to show what that costs.
    pub(crate) fn fork_exec(&self, dup2: &[(RawFd, RawFd)]) -> io::Result<libc::pid_t> {
        // SAFETY: the child only calls async-signal-safe functions (dup2, execve, _exit) on
        // data prepared before the fork.
        let pid = check(unsafe { libc::fork() })?;
        if pid == 0 {
            // SAFETY: as above; all pointers stay valid in the child's copy of memory.
            unsafe {
                for &(src, dst) in dup2 {
                    libc::dup2(src, dst);
                }
                libc::execve(
                    self.path.as_ptr(),
                    self.argv.as_ptr(),
                    environ as *const *const libc::c_char,
                );
                libc::_exit(127)
            }
        }
        Ok(pid)
    }
}

/// Blocking `waitpid(pid, 0)`: the wait status.
pub(crate) fn waitpid(pid: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid, writable int.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Ok(status);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// One epoll instance, for the blocking floor `pidfd-clone`: the awaited pidfd is added, waited
/// for, then closed (which removes it: it is the last reference, epoll(7) Q6), so a wait costs
/// `epoll_ctl` + `epoll_wait` and no `EPOLL_CTL_DEL`.
pub(crate) struct Epoll(OwnedFd);

impl Epoll {
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointer; a non-negative result is a new descriptor.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Adds `fd`, readable, level-triggered.
    pub(crate) fn add(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event; both descriptors are open.
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    /// Blocks until a registered descriptor is ready.
    pub(crate) fn wait(&self) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        loop {
            // SAFETY: `ev` has room for the one event asked for.
            let n = unsafe { libc::epoll_wait(self.0.as_raw_fd(), &mut ev, 1, -1) };
            if n > 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if n < 0 && err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
