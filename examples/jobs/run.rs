//! Running the jobs: spawning, racing each exit against its timeout and Ctrl-C, stopping a
//! job's process group, collecting what it printed.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::time::{Duration, Instant};

use async_signal::{Signal, Signals};
use childfd::{Command, Exit, Stdio};
use smol::{channel, future, stream::StreamExt, LocalExecutor, Timer};

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
    /// Processes of the job's group still alive after its shell ended: `jobs` cannot signal
    /// the group any more once its leader is reaped, since the id could then be reused.
    pub(crate) strays: Vec<u32>,
    /// The last lines the job printed (stdout and stderr, interleaved).
    pub(crate) output: Vec<String>,
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
    let outcomes = RefCell::new(commands.iter().map(|_| None).collect::<Vec<_>>());
    let next = Cell::new(0);
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

    // `limits.jobs` workers, each taking the next command until none is left.
    let workers: Vec<_> = (0..limits.jobs.min(commands.len()))
        .map(|_| {
            ex.spawn(async {
                while !interrupted.is_closed() {
                    let i = next.get();
                    let Some(cmd) = commands.get(i) else { break };
                    next.set(i + 1);
                    let outcome = run_job(i, cmd, limits, &interrupted, progress).await;
                    outcomes.borrow_mut()[i] = Some(outcome);
                }
            })
        })
        .collect();
    ex.run(async {
        for worker in workers {
            worker.await;
        }
    })
    .await;

    Run {
        outcomes: outcomes.take(),
        interrupted: interrupted.is_closed(),
    }
}

/// What ended the first wait on a job.
enum Wake {
    Exited(io::Result<Exit>),
    Timeout,
    Interrupt,
}

async fn run_job(
    i: usize,
    cmd: &str,
    limits: &Limits,
    interrupted: &channel::Receiver<()>,
    progress: &Progress,
) -> Outcome {
    let failed = |e: io::Error| Outcome {
        exit: Err(e),
        stopped: None,
        strays: Vec::new(),
        output: Vec::new(),
    };
    let log = match Log::new(i) {
        Ok(log) => log,
        Err(e) => return failed(io::Error::new(e.kind(), format!("output file: {e}"))),
    };
    let (stdout, stderr) = match (log.stdio(), log.stdio()) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => return failed(e),
    };
    // A group leader, so that the job and everything it starts can be signalled at once.
    let mut std_cmd = std::process::Command::new("sh");
    std_cmd.args(["-c", "--", cmd]).process_group(0); // `--`: CMD may start with `-`.
    let mut child = match Command::from(std_cmd)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return failed(e),
    };
    let pgid = child.id(); // The leader's pid is its group's id.
    progress.started(i, cmd);

    // `exited()` does not borrow the child and may be called again: each wait is a new one.
    let exited = child.exited();
    let timeout = async {
        sleep(limits.timeout).await;
        Wake::Timeout
    };
    let interrupt = async {
        let _ = interrupted.recv().await; // Returns when the channel is closed.
        Wake::Interrupt
    };
    let wake = future::or(
        async { Wake::Exited(exited.await) },
        future::or(timeout, interrupt),
    )
    .await;

    let (exit, stopped) = match wake {
        Wake::Exited(exit) => (exit, None),
        Wake::Timeout | Wake::Interrupt => {
            let why = match wake {
                Wake::Timeout => Stop::Timeout,
                _ => Stop::Interrupt,
            };
            progress.stopping(i, cmd, why, SIGTERM);
            let _ = child.signal_group(SIGTERM);
            let exited = child.exited();
            let exit = match future::or(async { Some(exited.await) }, async {
                Timer::after(limits.grace).await;
                None
            })
            .await
            {
                Some(exit) => exit,
                None => {
                    progress.stopping(i, cmd, why, SIGKILL);
                    let _ = child.signal_group(SIGKILL);
                    child.exited().await
                }
            };
            (exit, Some(why))
        }
    };

    // Give what was just signalled a moment to die before counting what is left.
    let patience = match stopped {
        Some(_) => limits.grace,
        None => Duration::from_millis(100),
    };
    let outcome = Outcome {
        exit,
        stopped,
        strays: strays(pgid, patience).await,
        output: log.tail(10),
    };
    progress.finished(i, cmd, &outcome);
    outcome
}

async fn sleep(d: Duration) {
    if d.is_zero() {
        future::pending::<()>().await;
    }
    Timer::after(d).await;
}

/// The live (not zombie) processes of group `pgid`, waiting up to `patience` for them to go.
/// Read from `/proc`: empty where there is none.
async fn strays(pgid: u32, patience: Duration) -> Vec<u32> {
    let deadline = Instant::now() + patience;
    loop {
        let members = group_members(pgid);
        if members.is_empty() || Instant::now() >= deadline {
            return members;
        }
        Timer::after(Duration::from_millis(20)).await;
    }
}

fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let member = |pid: u32| -> Option<u32> {
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ');
        let state = fields.next()?;
        let pgrp: u32 = fields.nth(1)?.parse().ok()?;
        (pgrp == pgid && state != "Z" && state != "X").then_some(pid)
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(member)
        .collect();
    pids.sort_unstable();
    pids
}

/// Where a job's stdout and stderr go: a file, not a pipe, so that a background process
/// that keeps the output open cannot make `jobs` wait for it. Unlinked at once.
struct Log(File);

impl Log {
    fn new(i: usize) -> io::Result<Log> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("childfd-jobs-{}-{i}-{nanos}.log", std::process::id());
        let path = std::env::temp_dir().join(name);
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let _ = std::fs::remove_file(&path);
        Ok(Log(file))
    }

    /// A descriptor for the child; it shares this file's offset, so stdout and stderr
    /// interleave as they would on a terminal.
    fn stdio(&self) -> io::Result<Stdio> {
        Ok(self.0.try_clone()?.into())
    }

    /// The last `lines` lines written (from the last 16 KiB at most).
    fn tail(mut self, lines: usize) -> Vec<String> {
        let mut buf = Vec::new();
        let read = (|| {
            let len = self.0.seek(SeekFrom::End(0))?;
            self.0.seek(SeekFrom::Start(len.saturating_sub(16 << 10)))?;
            self.0.read_to_end(&mut buf)
        })();
        if read.is_err() {
            return vec!["(output lost)".to_string()];
        }
        let text = String::from_utf8_lossy(&buf);
        let all: Vec<&str> = text.lines().collect();
        let skip = all.len().saturating_sub(lines);
        all[skip..].iter().map(|l| l.to_string()).collect()
    }
}
