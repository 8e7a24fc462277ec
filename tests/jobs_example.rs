//! Runs the `jobs` example (`examples/jobs/`) as a person would, through `cargo run`, with its
//! output piped: the plain-line mode, then the table.
#![cfg(target_os = "linux")]

use std::io::Read;
use std::process::{Command, Output, Stdio};

/// `cargo run` of the example with `args`, which execs it: its pid becomes the example's.
fn command(args: &[&str]) -> Command {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["run", "-q", "--example", "jobs"]);
    if !cfg!(debug_assertions) {
        cargo.arg("--release"); // Reuse what `cargo test --release` built.
    }
    cargo
        .arg("--")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    cargo
}

fn jobs(args: &[&str]) -> Option<Output> {
    let out = match command(args).output() {
        Ok(out) => out,
        // Cargo in a directory this user cannot enter (another user's ~/.cargo).
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            skip(format_args!("cannot run {}: {e}", env!("CARGO")));
            return None;
        }
        Err(e) => panic!("cargo runs: {e}"),
    };
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    Some(out)
}

/// Says why a test does not run, on the real stderr (libtest captures `println!`).
fn skip(reason: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP: {reason}");
}

/// The table row of the job whose command starts with `cmd`.
fn row<'a>(stdout: &'a str, cmd: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            let number_gone = l.trim_start_matches(|c: char| c.is_ascii_digit());
            number_gone.len() < l.len() && number_gone.trim_start().starts_with(cmd)
        })
        .unwrap_or_else(|| panic!("no table row for {cmd:?}"))
}

#[test]
fn demo_ends_as_designed() {
    let Some(out) = jobs(&[]) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the demo did not end as designed"
    );
    assert!(!stdout.contains('\x1b'), "no terminal codes when piped");
    assert!(
        stdout.contains("[1] start: echo hello from a job"),
        "plain lines"
    );
    let header = stdout
        .lines()
        .find(|l| l.starts_with("#  job"))
        .expect("a table header");
    for column in [
        "status",
        "wall",
        "user",
        "sys",
        "peak RSS",
        "tree CPU",
        "tree peak",
    ] {
        assert!(header.contains(column), "no {column:?} column");
    }
    for (cmd, status) in [
        ("echo hello", "exit 0"),
        ("echo 'error", "exit 3"),
        ("ulimit -c 0; kill -SEGV", "SIGSEGV"),
        ("dd if=/dev/zero", "exit 0"),
        ("awk", "exit 0"),
        ("sleep 600 &", "timeout (SIGTERM)"),
        ("trap '' TERM", "timeout (SIGKILL)"),
        ("setsid sh -c", "timeout (SIGTERM)"),
    ] {
        assert!(row(&stdout, cmd).contains(status), "{cmd}: not {status}");
    }
    assert!(stdout.contains("demo: all 8 jobs ended as designed"));
    assert!(stdout.contains("\njobs: "), "the job mechanism is said");
}

#[test]
fn a_failed_job_fails_the_run() {
    let Some(out) = jobs(&["-j", "2", "--timeout", "5", "true", "exit 4"]) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(row(&stdout, "true").contains("exit 0"));
    assert!(row(&stdout, "exit 4").contains("exit 4"));
    assert!(stdout.contains("2 of 2 jobs run"));
    assert!(stdout.contains("1 ok, 1 failed"));
}

#[test]
fn bad_arguments_exit_2() {
    let Some(out) = jobs(&["-j", "0", "true"]) else {
        return;
    };
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: jobs"));
}

#[test]
fn a_stopped_job_loses_its_whole_group_and_a_finished_one_its_leftovers() {
    let Some(out) = jobs(&[
        "-j",
        "2",
        "--timeout",
        "1",
        // The subshell outlives the shell's SIGTERM: shutdown kills it after the grace second.
        "(trap '' TERM; sleep 60) & sleep 60",
        "sleep 1 & echo bye",
    ]) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(row(&stdout, "(trap").contains("timeout (SIGTERM)"));
    assert!(row(&stdout, "sleep 1 &").contains("exit 0"));
    assert!(
        !stdout.contains("job 1 left"),
        "a survivor of the stopped job"
    );
    // Each job is a `Command::job` dropped with `kill_on_drop` once its shell has exited.
    assert!(
        !stdout.contains("job 2 left"),
        "the stray of the finished job survived it"
    );
}

#[test]
fn ctrl_c_stops_the_running_jobs_and_skips_the_rest() {
    let ready = std::env::temp_dir().join(format!("childfd-jobs-ready-{}", std::process::id()));
    let stubborn = format!("trap '' TERM; : > '{}'; sleep 60", ready.display());
    let jobs = command(&[
        "-j",
        "2",
        "--timeout",
        "0",
        "sleep 60 & sleep 60",
        &stubborn,
        "echo never",
    ])
    .stdout(Stdio::piped())
    .spawn();
    let mut jobs = match jobs {
        Ok(jobs) => jobs,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            skip(format_args!("cannot run {}: {e}", env!("CARGO")));
            return;
        }
        Err(e) => panic!("cargo runs: {e}"),
    };
    // Once the second job ignores SIGTERM, `jobs` (cargo exec'd it) handles SIGINT too.
    while !ready.exists() {
        if let Some(status) = jobs.try_wait().expect("waits") {
            panic!("jobs ended before its second job ran: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(&ready);
    let pid = rustix::process::Pid::from_child(&jobs);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let mut seen = String::new();
    let mut stdout = jobs.stdout.take().expect("piped");
    stdout.read_to_string(&mut seen).expect("reads");
    let status = jobs.wait().expect("waits");
    println!("{seen}");

    assert_eq!(status.code(), Some(130));
    assert!(row(&seen, "sleep 60 &").contains("interrupted (SIGTERM)"));
    assert!(row(&seen, "trap").contains("interrupted (SIGKILL)"));
    assert!(row(&seen, "echo never").contains("not started"));
    assert!(
        !seen.contains("running in its group"),
        "processes left behind"
    );
    assert!(seen.contains("interrupted: running jobs were stopped"));
}
