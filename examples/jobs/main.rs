//! `jobs`: a small CI runner. It runs shell commands, a few at a time, each with a timeout
//! that stops the command and everything it started, shows live progress, and ends with a
//! table of what each job cost.
//!
//! ```sh
//! cargo run --release --example jobs                       # the built-in demo
//! cargo run --release --example jobs -- -j 4 --timeout 30 'make test' 'cargo fmt --check'
//! ```
//!
//! What it shows of `childfd`:
//! - each job is a `Command::job`: a cgroup v2 leaf where this process may make one (as root,
//!   or in a delegated subtree), else its process group (`childfd::job_support()` says which,
//!   under the table); it is also a process-group leader, spawned by the crate's own engine,
//!   and a member of one `ChildSet`, whose `next()` yields whichever job exits first;
//! - a timeout or Ctrl-C stops a job with `Child::shutdown`: `SIGTERM` to every process of the
//!   job, a grace second, then `SIGKILL` to what is left, processes that left the group with
//!   `setsid` included (the demo's last job); when a job's shell ends by itself, what it left
//!   running is killed as the set drops it (`kill_on_drop`);
//! - each exit (an `Exit`) carries the status with the CPU time, peak memory and wall time of
//!   the job's shell, straight from the reap, and `Child::job_exited` the whole tree's CPU and
//!   peak memory (where the cgroup's memory controller is enabled; `-` otherwise);
//! - one scheduler loop races the set against the earliest deadline and Ctrl-C with
//!   `futures_lite::future::or`, on one thread.

#![cfg_attr(not(unix), allow(dead_code))]

#[cfg(unix)]
mod demo;
#[cfg(unix)]
mod job;
#[cfg(unix)]
mod progress;
#[cfg(unix)]
mod report;
#[cfg(unix)]
mod run;

use std::ffi::OsString;
use std::time::Duration;

const USAGE: &str = "\
usage: jobs [-j N] [--timeout SECS] [--] CMD...

Runs each CMD with `sh -c`, at most N at once, and prints a table of how each one ended and
what it cost. Without a CMD it runs a built-in demo.

options:
  -j, --jobs N       run at most N jobs at once (default: the number of CPUs)
  --timeout SECS     stop a job after SECS seconds (decimals allowed; 0: never; default: 10,
                     or 2 for the demo): SIGTERM to the whole job, then SIGKILL 1 s later
  -h, --help         print this help
  --                 what follows is commands, even if it starts with '-'

exit status: 0 if every job exited 0 (for the demo: if every job ended as designed), 1 if
not, 2 for bad arguments, 130 when interrupted.";

/// The command line, parsed.
#[derive(Debug, Default, PartialEq)]
struct Args {
    jobs: Option<usize>,
    /// `Some(Duration::ZERO)`: no timeout.
    timeout: Option<Duration>,
    commands: Vec<String>,
    help: bool,
}

fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Args, String> {
    let mut args = args.into_iter().map(|a| {
        a.into_string()
            .map_err(|a| format!("argument is not UTF-8: {a:?}"))
    });
    let mut parsed = Args::default();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        let arg = arg?;
        if options_done || !arg.starts_with('-') || arg == "-" {
            parsed.commands.push(arg);
            continue;
        }
        // `--name=value` and `-jN` carry their value; otherwise it is the next argument.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
            _ if arg.starts_with("-j") && arg.len() > 2 => ("-j", Some(arg[2..].to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| match inline.clone() {
            Some(v) => Ok(v),
            None => args
                .next()
                .unwrap_or_else(|| Err(format!("{name} needs {what}"))),
        };
        match name {
            "--" => options_done = true,
            "-h" | "--help" => parsed.help = true,
            "-j" | "--jobs" => {
                let v = value("a number")?;
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => parsed.jobs = Some(n),
                    _ => return Err(format!("{name}: not a number of jobs above 0: {v:?}")),
                }
            }
            "--timeout" => {
                let v = value("a number of seconds")?;
                match v
                    .parse::<f64>()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                {
                    Some(d) => parsed.timeout = Some(d),
                    None => return Err(format!("--timeout: not a number of seconds: {v:?}")),
                }
            }
            _ => {
                return Err(format!(
                    "unknown option {name:?} (a command starting with '-' goes after --)"
                ))
            }
        }
    }
    Ok(parsed)
}

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    use std::io::IsTerminal;
    use std::process::ExitCode;
    use std::time::Instant;

    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(args) if args.help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(args) => args,
        Err(e) => {
            eprintln!(
                "jobs: {e}\n{}\n(`jobs --help` says more)",
                USAGE.lines().next().unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    let demo = args.commands.is_empty();
    let commands: Vec<String> = if demo {
        demo::JOBS.iter().map(|j| j.cmd.to_string()).collect()
    } else {
        args.commands
    };
    let limits = run::Limits {
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        timeout: args.timeout.unwrap_or(if demo {
            demo::TIMEOUT
        } else {
            Duration::from_secs(10)
        }),
        grace: Duration::from_secs(1),
    };
    if demo {
        demo::introduce(&limits);
    }

    // A live display only where a person watches both streams; otherwise (a pipe, a log
    // file, CI) one plain line per event, on stdout with the table.
    let live = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let progress = progress::Progress::new(live, commands.len());
    let start = Instant::now();
    let run = smol::block_on(run::run_all(&commands, &limits, &progress));
    progress.done();

    report::print(&commands, &run.outcomes, &limits, start.elapsed());
    if run.interrupted {
        println!("interrupted: running jobs were stopped, jobs not started were skipped");
        return ExitCode::from(130);
    }
    if demo {
        return match demo::verify(&run.outcomes, &limits) {
            true => ExitCode::SUCCESS,
            false => ExitCode::FAILURE,
        };
    }
    match run.outcomes.iter().flatten().any(run::Outcome::failed) {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
    }
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("jobs: this example needs Unix process groups and signals");
    std::process::ExitCode::from(2)
}
