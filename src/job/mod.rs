//! Jobs (issue 15): a child and everything it starts, killed without escape, awaited, and
//! accounted for, through the best mechanism the OS offers this process.
//!
//! | mechanism | where | kill | end | accounting |
//! |---|---|---|---|---|
//! | cgroup v2 leaf (`cgroup.rs`) | Linux, a writable cgroup v2 | `cgroup.kill` | `cgroup.events` `populated 0` | `cpu.stat`, `memory.peak`, `memory.events` |
//! | process group (`group.rs`) | other Unixes; Linux without a writable cgroup v2 | the group, through the leader's pidfd on Linux 6.9+ | no running member left | the child's own rusage |
//! | job object (`windows.rs`) | Windows | `TerminateJobObject` | `ActiveProcesses` 0 (polled) | `TotalUserTime`, `TotalKernelTime`, `PeakJobMemoryUsed` |
//!
//! The mechanism is chosen once per process and said by [`job_support()`].

use std::fmt;
use std::io;
#[cfg(target_os = "linux")]
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::reactor::Reactor;
use crate::spec::Spec;
use crate::state::ChildState;
use crate::sync::lock;

#[cfg(target_os = "linux")]
mod cgroup;
#[cfg(unix)]
mod group;
#[cfg(windows)]
mod windows;

/// The test-only knob (not a public API, like `CHILDFD_BACKEND`): `pgroup` forces the process
/// group fallback, `cgroup-freeze` the cgroup kill of kernels before 5.14.
const FORCE_VAR: &str = "CHILDFD_JOB";
/// The cgroup v2 directory under which leaves are made, instead of this process's own cgroup.
const PARENT_VAR: &str = "CHILDFD_JOB_PARENT";

/// A job's final accounting: what the whole tree used, waited for or not. See
/// [`Child::job_exited`](crate::Child::job_exited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobUsage {
    user: Duration,
    system: Duration,
    peak: Option<u64>,
    oom: bool,
}

impl JobUsage {
    /// User CPU time of every process of the job (cgroup `cpu.stat` `user_usec`; Windows: the
    /// job object's `TotalUserTime`). With the process-group mechanism, only what the child
    /// itself used and waited for (its rusage).
    pub fn cpu_user(&self) -> Duration {
        self.user
    }

    /// System CPU time of every process of the job; see [`cpu_user`](Self::cpu_user).
    pub fn cpu_system(&self) -> Duration {
        self.system
    }

    /// The job's peak memory in bytes (cgroup `memory.peak`, Linux 5.19), where the memory
    /// controller is enabled for the job's cgroup; Windows: the job object's
    /// `PeakJobMemoryUsed` (committed memory); `None` elsewhere.
    pub fn memory_peak(&self) -> Option<u64> {
        self.peak
    }

    /// Whether the kernel's OOM killer killed a process of the job (cgroup `memory.events`
    /// `oom_kill`); always `false` without the memory controller.
    pub fn oom_killed(&self) -> bool {
        self.oom
    }
}

/// Which mechanism jobs use in this process, and why not a better one. Its `Display` says it
/// in one line, e.g. `cgroup v2 (/sys/fs/cgroup/unified)` or `process group (why: ...)`.
#[derive(Debug, Clone)]
pub struct JobSupport {
    mode: &'static Mode,
}

impl JobSupport {
    /// The cgroup v2 directory under which each job gets its leaf, when jobs are cgroups.
    pub fn cgroup_parent(&self) -> Option<&std::path::Path> {
        match self.mode {
            #[cfg(target_os = "linux")]
            Mode::Cgroup { parent, .. } => Some(parent),
            _ => None,
        }
    }

    /// Whether a job's processes can escape it (`setsid`, a double fork): true for process
    /// groups, false for cgroups and job objects.
    pub fn escapable(&self) -> bool {
        matches!(self.mode, Mode::Group(_) | Mode::Unsupported(_))
    }
}

impl fmt::Display for JobSupport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            #[cfg(target_os = "linux")]
            Mode::Cgroup { parent, freeze } => {
                write!(f, "cgroup v2 ({})", parent.display())?;
                if platform::linux::clone3_refused() {
                    f.write_str(", clone3 refused: each child enters its cgroup before exec")?;
                }
                if *freeze {
                    f.write_str(", killed by freezing (forced)")?;
                }
                Ok(())
            }
            Mode::Group(why) => write!(f, "process group (why: {why})"),
            #[cfg(windows)]
            Mode::JobObject => f.write_str("job object"),
            Mode::Unsupported(why) => write!(f, "unsupported ({why})"),
        }
    }
}

/// The mechanism of this process.
#[derive(Debug)]
enum Mode {
    #[cfg(target_os = "linux")]
    Cgroup {
        parent: PathBuf,
        /// Forced freeze-then-kill, the path of kernels before `cgroup.kill` (tests).
        freeze: bool,
    },
    #[cfg_attr(not(unix), allow(dead_code))]
    Group(String),
    #[allow(dead_code)] // No target lacks a mechanism today.
    Unsupported(String),
    #[cfg(windows)]
    JobObject,
}

/// Which mechanism jobs use in this process (chosen at the first call or the first job, then
/// kept), and why a better one is unavailable.
///
/// # Errors
/// `InvalidInput` for an unknown value of the test knob `CHILDFD_JOB`.
///
/// # Examples
/// ```
/// println!("jobs: {}", childfd::job_support()?);
/// # std::io::Result::Ok(())
/// ```
pub fn job_support() -> io::Result<JobSupport> {
    static MODE: OnceLock<Result<Mode, String>> = OnceLock::new();
    match MODE.get_or_init(choose) {
        Ok(mode) => Ok(JobSupport { mode }),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e.clone())),
    }
}

fn choose() -> Result<Mode, String> {
    let forced = std::env::var(FORCE_VAR).ok();
    match forced.as_deref() {
        None | Some("") | Some("cgroup") | Some("cgroup-freeze") => {}
        Some("pgroup") => return Ok(Mode::Group(format!("forced by {FORCE_VAR}=pgroup"))),
        Some(other) => {
            return Err(format!(
                "unknown {FORCE_VAR}={other:?}: expected cgroup, cgroup-freeze or pgroup"
            ))
        }
    }
    #[cfg(target_os = "linux")]
    {
        let parent = match std::env::var_os(PARENT_VAR) {
            Some(p) => Ok(PathBuf::from(p)),
            None => platform::linux::cgroup::own_cgroup(),
        };
        let probed = parent.and_then(|p| platform::linux::cgroup::probe(&p).map(|()| p));
        match probed {
            Ok(parent) => Ok(Mode::Cgroup {
                parent,
                freeze: forced.as_deref() == Some("cgroup-freeze"),
            }),
            Err(e) => Ok(Mode::Group(format!("no writable cgroup v2: {e}"))),
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        let _ = PARENT_VAR;
        Ok(Mode::Group("no cgroups on this OS".into()))
    }
    #[cfg(windows)]
    {
        let _ = PARENT_VAR;
        Ok(Mode::JobObject)
    }
}

/// What a spawn returns: the child's state and its pipes.
pub(crate) type Spawned = (Arc<ChildState>, crate::backend::Pipes);

/// One job, owned by its `Child`.
#[derive(Debug)]
pub(crate) struct Job {
    kind: Kind,
    /// The final accounting, once the job has ended (and its leaf is removed).
    usage: Mutex<Option<JobUsage>>,
}

#[derive(Debug)]
enum Kind {
    #[cfg(target_os = "linux")]
    Cgroup(cgroup::CgroupJob),
    #[cfg(unix)]
    Group(group::GroupJob),
    #[cfg(windows)]
    Windows(windows::WinJob),
}

/// Spawns through `spawn` as a job if `spec` asks for one: the leaf is made before, the
/// child put in a group of its own for the fallback. Returns what `spawn` returned, and the
/// job to attach once the child's state is known.
pub(crate) fn spawn(
    spec: &mut Spec,
    spawn: impl FnOnce(&mut Spec) -> io::Result<Spawned>,
) -> io::Result<(Spawned, Option<Arc<Job>>)> {
    if spec.job.is_none() {
        return Ok((spawn(spec)?, None));
    }
    let support = job_support()?;
    match support.mode {
        #[cfg(target_os = "linux")]
        Mode::Cgroup { parent, freeze } => {
            let (out, job) = cgroup::spawn(spec, parent, *freeze, spawn, pid_of)?;
            Ok((out, Some(Job::new(Kind::Cgroup(job)))))
        }
        #[cfg(unix)]
        Mode::Group(_) => {
            let (out, job) = group::spawn(spec, spawn, pid_of)?;
            Ok((out, Some(Job::new(Kind::Group(job)))))
        }
        #[cfg(not(unix))]
        Mode::Group(_) => unreachable!("no process groups here"),
        #[cfg(windows)]
        Mode::JobObject => {
            let (out, job) = windows::spawn(spec, spawn)?;
            Ok((out, Some(Job::new(Kind::Windows(job)))))
        }
        Mode::Unsupported(why) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("Command::job: {why}"),
        )),
    }
}

/// The state in what a spawn returned.
#[cfg(unix)]
fn pid_of(out: &Spawned) -> &Arc<ChildState> {
    &out.0
}

impl Job {
    fn new(kind: Kind) -> Arc<Job> {
        Arc::new(Job {
            kind,
            usage: Mutex::new(None),
        })
    }

    /// SIGKILL (or the OS's equivalent) to every process of the job.
    pub(crate) fn kill(&self, state: &ChildState) -> io::Result<()> {
        let _ = state;
        match &self.kind {
            #[cfg(target_os = "linux")]
            Kind::Cgroup(job) => job.kill(),
            #[cfg(unix)]
            Kind::Group(job) => job.signal(state, group::SIGKILL),
            #[cfg(windows)]
            Kind::Windows(job) => job.kill(),
        }
    }

    /// Sends `sig` to every process of the job.
    #[cfg(unix)]
    pub(crate) fn signal(&self, state: &ChildState, sig: i32) -> io::Result<()> {
        match &self.kind {
            #[cfg(target_os = "linux")]
            Kind::Cgroup(job) => job.signal(sig),
            Kind::Group(job) => job.signal(state, sig),
        }
    }

    /// Waits until no process of the job is left; its accounting. Cancel-safe.
    pub(crate) async fn exited(
        &self,
        state: &Arc<ChildState>,
        reactor: &'static Reactor,
    ) -> io::Result<JobUsage> {
        let _ = (state, reactor);
        if let Some(usage) = *lock(&self.usage) {
            return Ok(usage);
        }
        match &self.kind {
            #[cfg(target_os = "linux")]
            Kind::Cgroup(job) => {
                job.until_empty().await?;
                self.finish(|| job.finish())
            }
            #[cfg(unix)]
            Kind::Group(job) => {
                let usage = job.until_empty(state, reactor).await?;
                self.finish(|| Ok(usage))
            }
            #[cfg(windows)]
            Kind::Windows(job) => {
                let usage = job.until_empty().await?;
                self.finish(|| Ok(usage))
            }
        }
    }

    /// Records the accounting once: concurrent waiters all get the first one's.
    fn finish(&self, read: impl FnOnce() -> io::Result<JobUsage>) -> io::Result<JobUsage> {
        let mut usage = lock(&self.usage);
        if let Some(usage) = *usage {
            return Ok(usage);
        }
        let read = read()?;
        *usage = Some(read);
        Ok(read)
    }

    /// The spawn failed after the child was created, and the child was killed and reaped:
    /// kill the rest of the job too and, since a thread may be what failed to start, wait
    /// here (briefly) for it to end, so that its leaf is removed now.
    pub(crate) fn abort(self: Arc<Self>, state: &ChildState) {
        let _ = self.kill(state);
        #[cfg(target_os = "linux")]
        if let Kind::Cgroup(_) = &self.kind {
            cgroup::wait_briefly(&self);
        }
        self.dropped(state, false);
    }

    /// The `Child` is dropped: with `kill`, the whole job is killed; a cgroup's leaf is
    /// removed now if the job is over, else once it is (`cgroup::adopt`).
    pub(crate) fn dropped(self: Arc<Self>, state: &ChildState, kill: bool) {
        if kill {
            let _ = self.kill(state);
        }
        #[cfg(target_os = "linux")]
        if let Kind::Cgroup(_) = &self.kind {
            if lock(&self.usage).is_none() {
                cgroup::adopt(self);
            }
        }
    }
}

/// `InvalidInput` for a job method on a child spawned without `Command::job(true)`.
pub(crate) fn not_a_job() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "this child was not spawned as a job (Command::job(true))",
    )
}

fn usage_from(user: Duration, system: Duration, peak: Option<u64>, oom: bool) -> JobUsage {
    JobUsage {
        user,
        system,
        peak,
        oom,
    }
}

/// The rest of `Child::shutdown` on a job, `SIGTERM` sent: the job gets until `deadline` to
/// end, then is killed; returns the child's exit once the job is empty.
#[cfg(unix)]
pub(crate) async fn shutdown(
    job: &Job,
    state: &Arc<ChildState>,
    reactor: &'static Reactor,
    deadline: Option<std::time::Instant>,
) -> io::Result<crate::Exit> {
    if crate::aio::timeout_at(deadline, job.exited(state, reactor))
        .await?
        .transpose()?
        .is_none()
    {
        job.kill(state)?;
        job.exited(state, reactor).await?;
    }
    crate::wait::exited(state, reactor).await
}
