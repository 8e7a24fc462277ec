//! Running the jobs: one scheduler loop over a `ChildSet`, racing the next exit against the
//! earliest deadline and Ctrl-C, and stopping a job with `Child::shutdown`.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use async_signal::{Signal, Signals};
use childfd::{ChildSet, Exit, JobUsage};
use smol::{channel, future, stream::StreamExt, LocalExecutor, Task, Timer};

use crate::job::{self, Log};
use crate::progress::Progress;

pub(crate) const SIGKILL: i32 = 9;
pub(crate) const SIGTERM: i32 = 15;

/// How many jobs at once, and how long each may take.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) jobs: usize,
    /// `Duration::ZERO`: no timeout.
    pub(crate) timeout: Duration,
    /// Between `SIGTERM` and `SIGKILL`.
    pub(crate) grace: Duration,
}

/// Why a job was stopped by `jobs` rather than ending by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Timeout,
    Interrupt,
}

/// How one job ended.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The job's shell's exit, or why it could not be run or waited for.
    pub(crate) exit: io::Result<Exit>,
    /// Set if `jobs` stopped it.
    pub(crate) stopped: Option<Stop>,
    /// Processes of the job's group still alive after its shell ended by itself, or after the
    /// `shutdown` of a stopped job. Both kill what is left of the job (the first as the set
    /// drops the child, `kill_on_drop`), so this checks that they did.
    pub(crate) strays: Vec<u32>,
    /// The last lines the job printed (stdout and stderr, interleaved).
    pub(crate) output: Vec<String>,
    /// What the job's whole tree used, once it was over (`None`: never started).
    pub(crate) tree: Option<io::Result<JobUsage>>,
}

impl Outcome {
    pub(crate) fn failed(&self) -> bool {
        match &self.exit {
            Ok(exit) => self.stopped.is_some() || !exit.status().success(),
            Err(_) => true,
        }
    }

    /// The status for people: `exit 3`, `SIGSEGV`, `timeout (SIGTERM)`, `error: ...`.
    pub(crate) fn status_text(&self) -> String {
        let exit = match &self.exit {
            Ok(exit) => exit,
            Err(e) => return format!("error: {e}"),
        };
        let status = exit.status();
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => signal_name(sig),
            (None, None) => format!("{status}"),
        };
        match self.stopped {
            None => how,
            Some(Stop::Timeout) => format!("timeout ({how})"),
            Some(Stop::Interrupt) => format!("interrupted ({how})"),
        }
    }
}

/// `SIGSEGV`, or `signal 40` for a number without a name here.
pub(crate) fn signal_name(sig: i32) -> String {
    // The numbers that are the same on every Unix, then Linux's.
    const COMMON: [(i32, &str); 7] = [
        (1, "HUP"),
        (2, "INT"),
        (3, "QUIT"),
        (6, "ABRT"),
        (9, "KILL"),
        (14, "ALRM"),
        (15, "TERM"),
    ];
    #[cfg(target_os = "linux")]
    const OS: &[(i32, &str)] = &[
        (4, "ILL"),
        (5, "TRAP"),
        (7, "BUS"),
        (8, "FPE"),
        (10, "USR1"),
        (11, "SEGV"),
        (12, "USR2"),
        (13, "PIPE"),
        (24, "XCPU"),
        (25, "XFSZ"),
        (31, "SYS"),
    ];
    #[cfg(not(target_os = "linux"))]
    const OS: &[(i32, &str)] = &[];
    match COMMON.iter().chain(OS).find(|(n, _)| *n == sig) {
        Some((_, name)) => format!("SIG{name}"),
        None => format!("signal {sig}"),
    }
}

/// What [`run_all`] returns: one outcome per command (`None`: never started).
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) outcomes: Vec<Option<Outcome>>,
    pub(crate) interrupted: bool,
}

/// Runs `commands` in order, at most `limits.jobs` at once, until all have run or Ctrl-C.
pub(crate) async fn run_all(commands: &[String], limits: &Limits, progress: &Progress) -> Run {
    // Closed on the first Ctrl-C (or SIGTERM): every running job stops, none starts.
    let (interrupt, interrupted) = channel::bounded::<()>(1);
    let ex = LocalExecutor::new();

    let signals = Signals::new([Signal::Int, Signal::Term]);
    let _watch = ex.spawn(async move {
        let Ok(mut signals) = signals else {
            return future::pending().await; // No handler: Ctrl-C just ends the program.
        };
        signals.next().await;
        interrupt.close();
        // A second Ctrl-C does not wait for the jobs to stop.
        signals.next().await;
        std::process::exit(130);
    });

    let (done, finished) = channel::unbounded();
    let mut jobs = Scheduler {
        commands,
        limits,
        progress,
        ex: &ex,
        set: ChildSet::new(),
        running: Vec::new(),
        finishing: 0,
        done,
        finished,
        shutdowns: Vec::new(),
        trees: Vec::new(),
        outcomes: commands.iter().map(|_| None).collect(),
    };
    ex.run(jobs.run(&interrupted)).await;
    Run {
        outcomes: jobs.outcomes,
        interrupted: interrupted.is_closed(),
    }
}

/// A job that has been started and whose exit has not been reported yet.
struct Running {
    pid: u32,
    i: usize,
    log: Log,
    /// The end of the job's whole tree (`Child::job_exited`), awaited apart from the set.
    tree: Task<io::Result<JobUsage>>,
    /// When to stop it; `None`: no timeout, or already stopping.
    deadline: Option<Instant>,
    /// Set once `jobs` stops it.
    stopped: Option<Stop>,
}

/// What wakes the scheduler.
enum Event {
    /// A member of the set exited (or its status was lost).
    Exited(io::Result<(u32, Exit)>),
    /// The outcome of a job that ended by itself is complete.
    Finished(usize, Outcome),
    /// A running job's deadline has passed.
    Deadline,
    Interrupt,
}

struct Scheduler<'a> {
    commands: &'a [String],
    limits: &'a Limits,
    progress: &'a Progress,
    ex: &'a LocalExecutor<'static>,
    /// The running jobs' shells: the set yields whichever exits first.
    set: ChildSet,
    /// In the order they started.
    running: Vec<Running>,
    /// Jobs that ended by themselves, whose outcome is being completed (see `finish`): they
    /// keep their slot until then, so that what they left is counted before the next job.
    finishing: usize,
    /// Where the tasks of `finish` send the outcomes they complete.
    done: channel::Sender<(usize, Outcome)>,
    finished: channel::Receiver<(usize, Outcome)>,
    /// Stopped jobs (index, group id) and their `shutdown`, which may outlive the job's shell
    /// by up to the grace period, to kill the rest of its group.
    shutdowns: Vec<(usize, u32, Task<io::Result<Exit>>)>,
    /// The trees of stopped jobs, whose end their `shutdown` awaits.
    trees: Vec<(usize, Task<io::Result<JobUsage>>)>,
    outcomes: Vec<Option<Outcome>>,
}

impl Scheduler<'_> {
    async fn run(&mut self, interrupted: &channel::Receiver<()>) {
        let mut next = 0;
        let mut interrupt_seen = false;
        loop {
            let free = |s: &Self| s.running.len() + s.finishing < s.limits.jobs;
            while !interrupted.is_closed() && free(self) {
                let Some(cmd) = self.commands.get(next) else {
                    break;
                };
                self.start(next, cmd);
                next += 1;
            }
            if self.running.is_empty() && self.finishing == 0 {
                break;
            }

            let earliest = self.running.iter().filter_map(|j| j.deadline).min();
            let (set, finished) = (&mut self.set, &self.finished);
            let exited = async {
                match set.next().await {
                    Some(exit) => Event::Exited(exit),
                    None => future::pending().await, // No job running, only finishing.
                }
            };
            let finished = async {
                match finished.recv().await {
                    Ok((i, outcome)) => Event::Finished(i, outcome),
                    Err(_) => future::pending().await, // Not closed: `self.done` lives.
                }
            };
            let deadline = async {
                match earliest {
                    Some(at) => Timer::at(at).await,
                    None => future::pending().await,
                };
                Event::Deadline
            };
            let interrupt = async {
                if interrupt_seen {
                    future::pending::<()>().await;
                }
                let _ = interrupted.recv().await; // Returns when the channel is closed.
                Event::Interrupt
            };
            let event = future::or(
                exited,
                future::or(finished, future::or(deadline, interrupt)),
            );

            match event.await {
                Event::Exited(exit) => self.exited(exit),
                Event::Finished(i, outcome) => {
                    self.finishing -= 1;
                    self.record(i, outcome);
                }
                Event::Deadline => {
                    let now = Instant::now();
                    for k in 0..self.running.len() {
                        if self.running[k].deadline.is_some_and(|at| at <= now) {
                            self.stop(k, Stop::Timeout);
                        }
                    }
                }
                Event::Interrupt => {
                    interrupt_seen = true;
                    for k in 0..self.running.len() {
                        if self.running[k].stopped.is_none() {
                            self.stop(k, Stop::Interrupt);
                        }
                    }
                }
            }
        }

        // Not before every shutdown is over: it may still have to kill what outlived a shell.
        for (i, pgid, shutdown) in std::mem::take(&mut self.shutdowns) {
            // Its exit came through the set; a failed signal shows in the job's status.
            let _ = shutdown.await;
            if let Some(outcome) = &mut self.outcomes[i] {
                outcome.strays = job::strays(pgid, self.limits.grace).await;
            }
        }
        for (i, tree) in std::mem::take(&mut self.trees) {
            let usage = tree.await;
            if let Some(outcome) = &mut self.outcomes[i] {
                outcome.tree = Some(usage);
            }
        }
    }

    /// Spawns job `i` into the set, or records why it could not be.
    fn start(&mut self, i: usize, cmd: &str) {
        let spawned = Log::new(i)
            .map_err(|e| io::Error::new(e.kind(), format!("output file: {e}")))
            .and_then(|log| Ok((job::spawn(cmd, &log)?, log)));
        let (mut child, log) = match spawned {
            Ok(spawned) => spawned,
            Err(e) => {
                let outcome = Outcome {
                    exit: Err(e),
                    stopped: None,
                    strays: Vec::new(),
                    output: Vec::new(),
                    tree: None,
                };
                return self.record(i, outcome);
            }
        };
        // A future of its own: the set drops the child when it reports its exit, which
        // (kill_on_drop) kills what is left of its job.
        let tree = self.ex.spawn(child.job_exited());
        let pid = self.set.insert(child);
        self.progress.started(i, cmd);
        self.running.push(Running {
            pid,
            i,
            log,
            tree,
            // `None` for no timeout, or one too far to be told from none.
            deadline: Some(self.limits.timeout)
                .filter(|t| !t.is_zero())
                .and_then(|t| Instant::now().checked_add(t)),
            stopped: None,
        });
    }

    /// Starts stopping `self.running[k]`: its `shutdown` runs on its own, and its exit still
    /// comes through the set.
    fn stop(&mut self, k: usize, why: Stop) {
        let job = &mut self.running[k];
        // A running job is a member until the loop takes its exit from the set.
        let child = self
            .set
            .get_mut(job.pid)
            .expect("a running job is in the set");
        let grace = self.limits.grace;
        self.progress
            .stopping(job.i, &self.commands[job.i], why, grace);
        let shutdown = self.ex.spawn(child.shutdown(grace));
        self.shutdowns.push((job.i, job.pid, shutdown));
        job.deadline = None;
        job.stopped = Some(why);
    }

    fn exited(&mut self, exit: io::Result<(u32, Exit)>) {
        match exit {
            Ok((pid, exit)) => {
                if let Some(k) = self.running.iter().position(|j| j.pid == pid) {
                    self.finish(k, Ok(exit));
                }
            }
            Err(e) => {
                // The error does not say whose status was lost: the jobs no longer in the set.
                let set = &mut self.set;
                let lost: Vec<u32> = self
                    .running
                    .iter()
                    .filter(|j| set.get_mut(j.pid).is_none())
                    .map(|j| j.pid)
                    .collect();
                for pid in lost {
                    let k = self.running.iter().position(|j| j.pid == pid);
                    let e = io::Error::new(e.kind(), e.to_string());
                    self.finish(k.expect("a running job"), Err(e));
                }
            }
        }
    }

    /// Records the outcome of `self.running[k]`, which has exited: for a job that ended by
    /// itself, after counting what it left in its group, in a task of its own.
    fn finish(&mut self, k: usize, exit: io::Result<Exit>) {
        let Running {
            pid,
            i,
            log,
            stopped,
            tree,
            ..
        } = self.running.remove(k);
        if stopped.is_some() {
            let outcome = Outcome {
                exit,
                stopped,
                strays: Vec::new(), // Counted once its shutdown is over (see `run`).
                output: log.tail(10),
                tree: None, // Once its shutdown is over too.
            };
            self.trees.push((i, tree));
            return self.record(i, outcome);
        }
        let done = self.done.clone();
        self.finishing += 1;
        let finish = async move {
            let outcome = Outcome {
                exit,
                stopped,
                // The leader's pid is its group's id.
                strays: job::strays(pid, Duration::from_millis(100)).await,
                output: log.tail(10),
                tree: Some(tree.await),
            };
            let _ = done.send((i, outcome)).await;
        };
        self.ex.spawn(finish).detach();
    }

    fn record(&mut self, i: usize, outcome: Outcome) {
        self.progress.finished(i, &self.commands[i], &outcome);
        self.outcomes[i] = Some(outcome);
    }
}
