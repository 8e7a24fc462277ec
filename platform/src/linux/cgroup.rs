//! cgroup v2 leaves as jobs (issue 15): one directory per job, the child born in it
//! (`clone3(CLONE_INTO_CGROUP)`, see `spawn.rs`), the whole tree killed through `cgroup.kill`,
//! its end seen in `cgroup.events` and its accounting read from `cpu.stat`, `memory.peak` and
//! `memory.events` (Documentation/admin-guide/cgroup-v2.rst).
//!
//! | file | kernel | use |
//! |---|---|---|
//! | `cgroup.events` `populated` | 4.5 | the job is empty; inotify `IN_MODIFY` on change |
//! | `cgroup.freeze` | 5.2 | the kill before `cgroup.kill`: freeze, kill each member, thaw |
//! | `cgroup.kill` | 5.14 | SIGKILL to the whole tree, forks during the kill included |
//! | `cpu.stat` `user_usec`, `system_usec` | 4.15 (core file) | the tree's CPU, no controller needed |
//! | `memory.peak` | 5.19 | the tree's peak; only where the memory controller is enabled |
//! | `memory.events` `oom_kill` | 4.13 | the OOM killer chose a member |
//!
//! Nothing here is unsafe: the files are read and written through `rustix`, relative to the
//! leaf's directory descriptor (so a rename of a parent cannot redirect them).

use std::io;
use std::os::unix::io::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{openat, Mode, OFlags};

mod mount;

pub use mount::own_cgroup;
use mount::proc_path;

use super::PidFd;

/// Whether leaves can be made under `parent`: a real `mkdir` and `rmdir`, since permission
/// bits say nothing of a read-only cgroupfs (containers) or of delegation.
///
/// # Errors
/// What `mkdir(2)` says: `EACCES`, `EROFS`, `ENOENT`...
pub fn probe(parent: &Path) -> io::Result<()> {
    let leaf = Leaf::create(parent)?;
    leaf.remove()
}

/// Tells leaves of this process apart: `childfd-<pid>-<n>`.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// One job's cgroup v2 directory, with the descriptors a spawn needs made before the child
/// exists: the directory (`clone3`'s `cgroup` field) and its `cgroup.procs` (for a child that
/// must enter by itself, when `clone3` is refused).
#[derive(Debug)]
pub struct Leaf {
    path: PathBuf,
    /// The path as `/proc/<pid>/cgroup` shows it, to check a member before signalling it.
    proc_path: Option<Vec<u8>>,
    dir: OwnedFd,
    procs: OwnedFd,
}

impl Leaf {
    /// Makes a new leaf under `parent`.
    ///
    /// # Errors
    /// What `mkdir(2)` or `open(2)` says; the directory is removed again after a failed open.
    pub fn create(parent: &Path) -> io::Result<Leaf> {
        let name = format!(
            "childfd-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = parent.join(name);
        std::fs::create_dir(&path)?;
        let open = || -> io::Result<(OwnedFd, OwnedFd)> {
            let dir = rustix::fs::open(
                &path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let procs = openat(
                &dir,
                "cgroup.procs",
                OFlags::WRONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok((dir, procs))
        };
        match open() {
            Ok((dir, procs)) => {
                let proc_path = proc_path(&path);
                Ok(Leaf {
                    path,
                    proc_path,
                    dir,
                    procs,
                })
            }
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                Err(e)
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory's descriptor, for `CLONE_INTO_CGROUP`.
    pub fn dir_fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// `cgroup.procs`, open for writing, for a child that enters by itself.
    pub fn procs_fd(&self) -> BorrowedFd<'_> {
        self.procs.as_fd()
    }

    fn read(&self, file: &str) -> io::Result<String> {
        let fd = openat(
            &self.dir,
            file,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut text = String::new();
        io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text)?;
        Ok(text)
    }

    fn write(&self, file: &str, value: &[u8]) -> io::Result<()> {
        let fd = openat(
            &self.dir,
            file,
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::io::write(&fd, value)?;
        Ok(())
    }

    /// Whether a process of the job is still alive (`populated 1` in `cgroup.events`; zombies
    /// do not count: a task leaves its cgroup when it exits, before it is reaped).
    ///
    /// # Errors
    /// `ENOENT` once the leaf was removed.
    pub fn populated(&self) -> io::Result<bool> {
        let events = self.read("cgroup.events")?;
        Ok(key_value(&events, "populated") != Some(0))
    }

    /// The job's member pids (`cgroup.procs`).
    ///
    /// # Errors
    /// What reading the file says.
    pub fn members(&self) -> io::Result<Vec<u32>> {
        Ok(self
            .read("cgroup.procs")?
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    /// SIGKILL to every process of the job, those it forks meanwhile included:
    /// `cgroup.kill` (5.14), else [`kill_frozen`](Self::kill_frozen). `Ok` once the leaf is
    /// gone (the job had ended).
    ///
    /// # Errors
    /// What writing the file says.
    pub fn kill(&self) -> io::Result<()> {
        match self.write("cgroup.kill", b"1") {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && self.path.exists() => {
                self.kill_frozen()
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            other => other,
        }
    }

    /// The kill before `cgroup.kill` (5.2 to 5.13): freeze the tree so nothing forks, SIGKILL
    /// each member until a pass finds no new one, then thaw (frozen tasks die once thawed;
    /// SIGKILL also wakes them). Public so tests can exercise it on newer kernels.
    ///
    /// # Errors
    /// `cgroup.freeze` is missing (before 5.2) or cannot be written.
    pub fn kill_frozen(&self) -> io::Result<()> {
        self.write("cgroup.freeze", b"1")?;
        let mut killed = Vec::new();
        let mut result = Ok(());
        for _ in 0..100 {
            let members = match self.members() {
                Ok(m) => m,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let new: Vec<u32> = members
                .into_iter()
                .filter(|p| !killed.contains(p))
                .collect();
            if new.is_empty() {
                break;
            }
            for pid in new {
                let _ = self.signal_member(pid, libc::SIGKILL);
                killed.push(pid);
            }
        }
        let thawed = self.write("cgroup.freeze", b"0");
        result.and(thawed)
    }

    /// Sends `sig` to every current member of the job. Each is opened as a pidfd and checked
    /// to be in this leaf before the signal, so a pid recycled since `cgroup.procs` was read
    /// is never signalled. Processes forked after the read are not reached.
    ///
    /// # Errors
    /// Reading `cgroup.procs` failed (`Ok` once the leaf is gone).
    pub fn signal_all(&self, sig: i32) -> io::Result<()> {
        let members = match self.members() {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            other => other?,
        };
        for pid in members {
            let _ = self.signal_member(pid, sig);
        }
        Ok(())
    }

    fn signal_member(&self, pid: u32, sig: i32) -> io::Result<()> {
        // Before 5.3 (no pidfd_open; cgroup v2 exists since 4.5), or where it is filtered:
        // by pid, after the same check, with the instant between the two left open.
        let fd = match PidFd::open(pid) {
            Ok(fd) => Some(fd),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => None,
            Err(e) => return Err(e),
        };
        // The pidfd pins the process: if /proc now shows this pid in our leaf, either the
        // descriptor is that process or it is dead (and the signal is dropped).
        if let Some(ours) = &self.proc_path {
            let cgroup = std::fs::read(format!("/proc/{pid}/cgroup"))?;
            let inside = cgroup
                .split(|&b| b == b'\n')
                .any(|l| l.strip_prefix(b"0::") == Some(ours.as_slice()));
            if !inside {
                return Ok(());
            }
        }
        match fd {
            Some(fd) => fd.send_signal(sig).map(drop),
            None => match libc::pid_t::try_from(pid) {
                Ok(pid) if pid > 0 => crate::unix::signal::kill(pid, sig),
                _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
            },
        }
    }

    /// The job's accounting, read when it is over.
    ///
    /// # Errors
    /// `cpu.stat` cannot be read.
    pub fn usage(&self) -> io::Result<CgroupUsage> {
        let cpu = self.read("cpu.stat")?;
        let peak = self
            .read("memory.peak")
            .ok()
            .and_then(|p| p.trim().parse().ok());
        let oom = self
            .read("memory.events")
            .ok()
            .and_then(|e| key_value(&e, "oom_kill"))
            .unwrap_or(0);
        Ok(CgroupUsage {
            user_usec: key_value(&cpu, "user_usec").unwrap_or(0),
            system_usec: key_value(&cpu, "system_usec").unwrap_or(0),
            memory_peak: peak,
            oom_kills: oom,
        })
    }

    /// Moves `pid` into the leaf from the parent: for a child that was not born in it.
    ///
    /// # Errors
    /// What writing `cgroup.procs` says (`ESRCH` for a process that has exited).
    pub fn enter(&self, pid: u32) -> io::Result<()> {
        rustix::io::write(&self.procs, pid.to_string().as_bytes())?;
        Ok(())
    }

    /// Removes the directory, and the cgroups the job made inside it: `EBUSY` while a
    /// process lives in it; `Ok` if already gone.
    ///
    /// # Errors
    /// What `rmdir(2)` says.
    pub fn remove(&self) -> io::Result<()> {
        remove_tree(&self.path)
    }

    /// Adds `cgroup.events` to `inotify`: the kernel reports each change as `IN_MODIFY`
    /// (cgroup-v2.rst, "cgroup.events").
    ///
    /// # Errors
    /// What `inotify_add_watch(2)` says (`ENOSPC`: the watch limit).
    pub fn watch(&self, inotify: &Inotify) -> io::Result<()> {
        let path = self.path.join("cgroup.events");
        rustix::fs::inotify::add_watch(&inotify.0, &path, rustix::fs::inotify::WatchFlags::MODIFY)?;
        Ok(())
    }
}

/// rmdir, children first: a cgroup directory holds only control files, which go with it.
fn remove_tree(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e)
            if e.raw_os_error() == Some(libc::EBUSY)
                || e.raw_os_error() == Some(libc::ENOTEMPTY) =>
        {
            let subdirs: Vec<PathBuf> = std::fs::read_dir(dir)?
                .flatten()
                .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()))
                .map(|d| d.path())
                .collect();
            if subdirs.is_empty() {
                return Err(e);
            }
            for sub in subdirs {
                remove_tree(&sub)?;
            }
            remove_tree(dir)
        }
        other => other,
    }
}

/// The number after `key ` in a flat-keyed cgroup file.
fn key_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A job's totals, from its leaf.
#[derive(Debug, Clone, Copy, Default)]
pub struct CgroupUsage {
    /// `cpu.stat` `user_usec`.
    pub user_usec: u64,
    /// `cpu.stat` `system_usec`.
    pub system_usec: u64,
    /// `memory.peak`, where the memory controller is enabled for the leaf.
    pub memory_peak: Option<u64>,
    /// `memory.events` `oom_kill`.
    pub oom_kills: u64,
}

/// A non-blocking inotify descriptor: readable when a watched `cgroup.events` changed.
#[derive(Debug)]
pub struct Inotify(OwnedFd);

impl Inotify {
    /// A new one, non-blocking and close-on-exec.
    ///
    /// # Errors
    /// `EMFILE`, or the per-user instance limit.
    pub fn new() -> io::Result<Inotify> {
        use rustix::fs::inotify::CreateFlags;
        Ok(Inotify(rustix::fs::inotify::init(
            CreateFlags::NONBLOCK | CreateFlags::CLOEXEC,
        )?))
    }

    /// Reads and discards the pending events.
    pub fn drain(&self) {
        let mut buf = [0u8; 1024];
        while let Ok(n) = rustix::io::read(&self.0, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

impl AsFd for Inotify {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keys() {
        let text = "populated 1\nfrozen 0\n";
        assert_eq!(key_value(text, "populated"), Some(1));
        assert_eq!(key_value(text, "frozen"), Some(0));
        assert_eq!(key_value(text, "missing"), None);
    }
}
