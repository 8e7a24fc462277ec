//! The built-in demo: jobs that end in every way a job can, and the check that each did.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use crate::report::{bytes, secs};
use crate::run::{signal_name, Limits, Outcome, Stop, SIGKILL, SIGTERM};

/// The demo's timeout: short, so that its two timeouts are over quickly.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) struct DemoJob {
    name: &'static str,
    pub(crate) cmd: &'static str,
    expect: Expect,
}

enum Expect {
    Code(i32),
    Signal(i32),
    /// Exits 0 after at least 100 ms of CPU time.
    Cpu,
    /// Exits 0 after using at least 50 MiB.
    Memory,
    /// Outlives the timeout; its shell dies of this signal, and nothing of its group survives.
    Timeout(i32),
    /// Outlives the timeout with a process that left its group (`setsid`), which the job
    /// still holds (where jobs are cgroups) and kills: its shell dies of SIGTERM.
    Escape,
}

pub(crate) const JOBS: [DemoJob; 8] = [
    DemoJob {
        name: "success",
        cmd: "echo hello from a job",
        expect: Expect::Code(0),
    },
    DemoJob {
        name: "failure",
        cmd: "echo 'error: no such file' >&2; exit 3",
        expect: Expect::Code(3),
    },
    DemoJob {
        name: "crash",
        cmd: "ulimit -c 0; kill -SEGV $$",
        expect: Expect::Signal(11),
    },
    DemoJob {
        name: "CPU",
        cmd: "dd if=/dev/zero bs=1M count=200 | md5sum",
        expect: Expect::Cpu,
    },
    DemoJob {
        name: "memory",
        cmd: "awk 'BEGIN { for (i = 0; i < 2e6; i++) a[i] = i }'",
        expect: Expect::Memory,
    },
    DemoJob {
        // The background `sleep` is the shell's child: it must die with the group.
        name: "timeout",
        cmd: "sleep 600 & echo \"started $!\"; sleep 600",
        expect: Expect::Timeout(SIGTERM),
    },
    DemoJob {
        name: "ignores SIGTERM",
        cmd: "trap '' TERM; sleep 600",
        expect: Expect::Timeout(SIGKILL),
    },
    DemoJob {
        // A new session, as a daemon or a test's leaked server makes: out of the group.
        name: "escapes (setsid)",
        cmd: "setsid sh -c 'echo \"escaped $$\"; exec sleep 600' & sleep 600",
        expect: Expect::Escape,
    },
];

pub(crate) fn introduce(limits: &Limits) {
    let names: Vec<&str> = JOBS.iter().map(|j| j.name).collect();
    println!(
        "No commands given: running the demo, {} jobs ({}), at most {} at once, timeout {}.\n\
         Try `jobs --help` to run your own.\n",
        JOBS.len(),
        names.join(", "),
        limits.jobs,
        secs(limits.timeout)
    );
}

/// Prints, for each demo job, whether it ended as designed; true if all did.
pub(crate) fn verify(outcomes: &[Option<Outcome>], limits: &Limits) -> bool {
    println!("\ndemo check:");
    let mut wrong = 0;
    for (job, outcome) in JOBS.iter().zip(outcomes) {
        let verdict = match outcome {
            Some(o) => check(job, o, limits),
            None => Err("it was not started".to_string()),
        };
        let (mark, text) = match verdict {
            Ok(text) => ("✓", text),
            Err(text) => {
                wrong += 1;
                ("✗", text)
            }
        };
        println!("  {mark} {:<16} {text}", job.name);
    }
    match wrong {
        0 => println!("demo: all {} jobs ended as designed", JOBS.len()),
        n => println!(
            "demo: {n} of {} jobs did NOT end as designed (see ✗ above)",
            JOBS.len()
        ),
    }
    wrong == 0
}

/// What the job did, or how that differs from its design.
fn check(job: &DemoJob, o: &Outcome, limits: &Limits) -> Result<String, String> {
    let exit = o.exit.as_ref().map_err(|e| format!("could not run: {e}"))?;
    let got = o.status_text();
    if !exit.usage_known() || exit.max_rss() == 0 {
        return Err(format!("{got}, but no resource usage was reported"));
    }
    if !o.strays.is_empty() {
        return Err(format!("{got}, but left processes behind: {:?}", o.strays));
    }
    let (code, signal) = (exit.status().code(), exit.status().signal());
    let cpu = exit.user_time() + exit.system_time();
    match job.expect {
        Expect::Timeout(sig) if o.stopped == Some(Stop::Timeout) && signal == Some(sig) => {
            Ok(match sig {
                SIGTERM => format!(
                    "{got}: stopped after {}, its background sleep too",
                    secs(limits.timeout)
                ),
                _ => format!(
                    "{got}: still alive {} after SIGTERM, killed",
                    secs(limits.grace)
                ),
            })
        }
        Expect::Timeout(sig) => Err(format!(
            "expected a timeout ended by {}, got {got}",
            signal_name(sig)
        )),
        Expect::Escape if o.stopped == Some(Stop::Timeout) && signal == Some(SIGTERM) => {
            escapee(o, &got)
        }
        Expect::Escape => Err(format!("expected a timeout ended by SIGTERM, got {got}")),
        _ if o.stopped.is_some() => Err(format!("expected it to end by itself, got {got}")),
        Expect::Code(c) if code == Some(c) => Ok(got),
        Expect::Code(c) => Err(format!("expected exit {c}, got {got}")),
        Expect::Signal(s) if signal == Some(s) => Ok(got),
        Expect::Signal(s) => Err(format!("expected {}, got {got}", signal_name(s))),
        Expect::Cpu | Expect::Memory if code != Some(0) => {
            Err(format!("expected exit 0, got {got}"))
        }
        Expect::Cpu if cpu >= Duration::from_millis(100) => {
            Ok(format!("{got}: {} of CPU", secs(cpu)))
        }
        Expect::Cpu => Err(format!("expected at least 0.10s of CPU, got {}", secs(cpu))),
        Expect::Memory if exit.max_rss() >= 50 << 20 => {
            Ok(format!("{got}: {} peak RSS", bytes(exit.max_rss())))
        }
        Expect::Memory => Err(format!(
            "expected a peak RSS of at least 50 MiB, got {}",
            bytes(exit.max_rss())
        )),
    }
}

/// Whether the process the "escapes" job started in a session of its own was killed with
/// the job. Where jobs are process groups it cannot be: the demo says so and kills it.
fn escapee(o: &Outcome, got: &str) -> Result<String, String> {
    let pid: u32 = o
        .output
        .iter()
        .find_map(|l| l.strip_prefix("escaped ")?.trim().parse().ok())
        .ok_or_else(|| format!("{got}, but it did not say its escaped pid"))?;
    // Killed by the shutdown, then reaped by init (or a subreaper): gone, or a zombie.
    let alive = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").starts_with(" Z"),
        Err(_) if std::path::Path::new("/proc/self").exists() => false,
        // No /proc (macOS): `kill -0` also counts a zombie, which init reaps soon.
        Err(_) => std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
    };
    if !alive {
        return Ok(format!(
            "{got}: its setsid process {pid} was killed with the job"
        ));
    }
    let support = childfd::job_support().map_err(|e| e.to_string())?;
    if support.escapable() {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        return Ok(format!(
            "{got}: its setsid process {pid} escaped (jobs here: {support}); killed by the demo"
        ));
    }
    Err(format!(
        "{got}, but its setsid process {pid} survived the job"
    ))
}
