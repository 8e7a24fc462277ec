//! Linux: a job is a cgroup v2 leaf (`platform::linux::cgroup`). Nothing it starts can leave
//! it (moving a process needs write access to the target's `cgroup.procs` and its common
//! ancestor), so `cgroup.kill` reaches everything, and `cgroup.events` says when it is empty.
//!
//! The end of a job is watched through inotify: the kernel reports every change of
//! `cgroup.events` as `IN_MODIFY` (cgroup-v2.rst). An inotify descriptor is an ordinary
//! readable fd, so async-io watches it like a pipe; `poll`/epoll on `cgroup.events` itself
//! would not do (it is always readable, the change comes as `EPOLLPRI|EPOLLERR`). The file is
//! read again at least every second in case an event were missed, and without inotify (its
//! per-user limits) it is polled with a back-off.
//!
//! A dropped job's leaf is removed when the job ends: by `childfd-jobs`, a thread that runs
//! only while such leaves exist and sleeps in `poll(2)` on one inotify descriptor.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::FutureExt;
use platform::linux::cgroup::{Inotify, Leaf};

use super::{usage_from, Job, JobUsage, Kind};
use crate::aio::sleep;
use crate::spec::Spec;
use crate::state::ChildState;
use crate::sync::lock;

/// The longest a waiter trusts inotify alone.
const RECHECK: Duration = Duration::from_secs(1);
/// The longest sleep of the polling fallback.
const MAX_POLL: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(super) struct CgroupJob {
    leaf: Leaf,
    /// Kill as kernels before 5.14 must (forced for tests).
    freeze: bool,
}

/// Makes the leaf (under the command's `job_parent`, else `parent`), spawns the child into
/// it, and removes it again if the spawn fails.
pub(super) fn spawn<T>(
    spec: &mut Spec,
    parent: &Path,
    freeze: bool,
    spawn: impl FnOnce(&mut Spec) -> io::Result<T>,
    state_of: impl Fn(&T) -> &Arc<ChildState>,
) -> io::Result<(T, CgroupJob)> {
    if let Some(why) = spec.std_route_reason() {
        // std cannot place the child in the leaf before it runs: it could escape.
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("job(true) cannot take the std route ({why})"),
        ));
    }
    kick();
    let job = spec
        .job
        .as_mut()
        .ok_or_else(|| io::Error::other("no job"))?;
    let parent = job.parent.clone().unwrap_or_else(|| parent.to_owned());
    job.leaf = Some(Leaf::create(&parent)?);
    let out = spawn(spec);
    let leaf = spec.job.as_mut().and_then(|j| j.leaf.take());
    let leaf = leaf.ok_or_else(|| io::Error::other("the job's leaf went missing"))?;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let _ = leaf.remove();
            return Err(e);
        }
    };
    // A backend that spawned by some other route (clone(CLONE_PIDFD) refused by a filter:
    // std, then pidfd_open) did not place it: move it now. Its forks before this escape.
    let pid = state_of(&out).pid;
    if !leaf.members().map_or(true, |m| m.contains(&pid)) {
        let _ = leaf.enter(pid);
    }
    Ok((out, CgroupJob { leaf, freeze }))
}

impl CgroupJob {
    pub(super) fn kill(&self) -> io::Result<()> {
        match self.freeze {
            true => self.leaf.kill_frozen(),
            false => self.leaf.kill(),
        }
    }

    pub(super) fn signal(&self, sig: i32) -> io::Result<()> {
        self.leaf.signal_all(sig)
    }

    /// Waits until `cgroup.events` says `populated 0` (or the leaf is gone: another waiter
    /// finished the job).
    pub(super) async fn until_empty(&self) -> io::Result<()> {
        let watch = Inotify::new()
            .and_then(|i| self.leaf.watch(&i).map(|()| i))
            .and_then(Async::new);
        let mut delay = Duration::from_millis(1);
        loop {
            match self.leaf.populated() {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) if e.raw_os_error() == Some(ENOENT) => return Ok(()),
                Err(e) => return Err(e),
            }
            match &watch {
                Ok(watch) => {
                    async {
                        let _ = watch.readable().await;
                    }
                    .or(async {
                        Timer::after(RECHECK).await;
                    })
                    .await;
                    watch.get_ref().drain();
                }
                Err(_) => {
                    sleep(delay).await?;
                    delay = (delay * 2).min(MAX_POLL);
                }
            }
        }
    }

    /// Reads the accounting and removes the leaf.
    pub(super) fn finish(&self) -> io::Result<JobUsage> {
        let usage = self.leaf.usage()?;
        self.leaf.remove()?;
        Ok(usage_from(
            Duration::from_micros(usage.user_usec),
            Duration::from_micros(usage.system_usec),
            usage.memory_peak,
            usage.oom_kills > 0,
        ))
    }
}

const ENOENT: i32 = 2;

/// Jobs whose `Child` was dropped before they ended, and whether `childfd-jobs` runs.
static ORPHANS: Mutex<(Vec<Arc<Job>>, bool)> = Mutex::new((Vec::new(), false));

fn inotify() -> Option<&'static Inotify> {
    static INOTIFY: OnceLock<Option<Inotify>> = OnceLock::new();
    INOTIFY.get_or_init(|| Inotify::new().ok()).as_ref()
}

fn cgroup_of(job: &Job) -> Option<&CgroupJob> {
    match &job.kind {
        Kind::Cgroup(cg) => Some(cg),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The end of the job, if it has ended: accounting read, leaf removed.
fn try_finish(job: &Job) -> bool {
    let Some(cg) = cgroup_of(job) else {
        return true;
    };
    match cg.leaf.populated() {
        Ok(true) => false,
        // Over (or its leaf gone): a failed rmdir is not retried forever.
        _ => {
            let _ = job.finish(|| cg.finish());
            true
        }
    }
}

/// Waits up to 100 ms, blocking, for a killed job to end, and removes its leaf if it did.
pub(super) fn wait_briefly(job: &Job) {
    for _ in 0..100 {
        if try_finish(job) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Takes a dropped job: its leaf is removed now if it is over, else when it is.
pub(super) fn adopt(job: Arc<Job>) {
    if try_finish(&job) {
        return;
    }
    if let (Some(i), Some(cg)) = (inotify(), cgroup_of(&job)) {
        let _ = cg.leaf.watch(i);
    }
    lock(&ORPHANS).0.push(job);
    kick();
}

/// Starts `childfd-jobs` if orphans wait and it does not run (also retried at each job
/// spawn, in case starting the thread failed, e.g. at `RLIMIT_NPROC`).
fn kick() {
    let mut orphans = lock(&ORPHANS);
    if orphans.1 || orphans.0.is_empty() {
        return;
    }
    orphans.1 = std::thread::Builder::new()
        .name("childfd-jobs".into())
        .spawn(watch_orphans)
        .is_ok();
}

fn watch_orphans() {
    loop {
        {
            let mut orphans = lock(&ORPHANS);
            orphans.0.retain(|job| !try_finish(job));
            if orphans.0.is_empty() {
                orphans.1 = false;
                return;
            }
        }
        match inotify() {
            Some(i) => {
                let _ =
                    platform::unix::wait_readable(std::os::unix::io::AsFd::as_fd(i), Some(RECHECK));
                i.drain();
            }
            None => std::thread::sleep(MAX_POLL),
        }
    }
}
