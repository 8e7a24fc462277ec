//! Runs the `jobs` example (`examples/jobs/`) as a person would, through `cargo run`, with its
//! output piped: the plain-line mode, then the table.
#![cfg(target_os = "linux")]

use std::process::{Command, Output, Stdio};

fn jobs(args: &[&str]) -> Output {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["run", "-q", "--example", "jobs"]);
    if !cfg!(debug_assertions) {
        cargo.arg("--release"); // Reuse what `cargo test --release` built.
    }
    let out = cargo
        .arg("--")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("cargo runs");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
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
    let out = jobs(&[]);
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
    for column in ["status", "wall", "user", "sys", "peak RSS"] {
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
    ] {
        assert!(row(&stdout, cmd).contains(status), "{cmd}: not {status}");
    }
    assert!(stdout.contains("demo: all 7 jobs ended as designed"));
}

#[test]
fn a_failed_job_fails_the_run() {
    let out = jobs(&["-j", "2", "--timeout", "5", "true", "exit 4"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(row(&stdout, "true").contains("exit 0"));
    assert!(row(&stdout, "exit 4").contains("exit 4"));
    assert!(stdout.contains("2 of 2 jobs run"));
    assert!(stdout.contains("1 ok, 1 failed"));
}

#[test]
fn bad_arguments_exit_2() {
    let out = jobs(&["-j", "0", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: jobs"));
}
