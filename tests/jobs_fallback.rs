//! The job fallbacks (issue 15), each in a re-executed copy of this binary, since the
//! mechanism is chosen once per process: `clone3` refused by a seccomp filter (the child then
//! enters its cgroup itself before exec), no writable cgroup v2 (process groups), and the
//! freeze-then-kill of kernels before `cgroup.kill`. `CHILDFD_JOB` is a test knob, not an
//! API.
#![cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "x86")))]

mod common;
mod jobtrees;

use std::io;

use childfd::unix::CommandExt;
use childfd::Command;
use common::block_on;
use jobtrees::*;

const MODE: &str = "CHILDFD_TEST_JOB_FALLBACK";
const CLONE3: u32 = 435;
const ENOSYS: i32 = 38;

/// Runs `test` again with `var=value` (and as `uid`), and checks that it ran and passed or
/// said why it skipped.
fn rerun(test: &str, var: &str, value: &str, uid: Option<u32>) {
    let (passed, text) = common::rerun(test, var, value, uid);
    if common::copy_skipped(&text) {
        return;
    }
    assert!(passed, "the re-executed test failed or did not run: {text}");
}

fn set(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

#[test]
fn clone3_refused_with_enosys() {
    rerun("clone3_filtered", MODE, &ENOSYS.to_string(), None);
}

// No EPERM case: glibc's pthread_create falls back from clone3 to clone on ENOSYS only, so a
// filter answering EPERM leaves a program without threads (async-io's included); the engine
// takes the same route for both answers (`platform/src/linux/spawn.rs`).

/// Body of the two cases above; a no-op unless re-executed by them.
#[test]
fn clone3_filtered() {
    let Some(errno) = set(MODE).and_then(|e| e.parse::<i32>().ok()) else {
        return;
    };
    if let Err(e) = platform::testing::deny_syscalls(&[(CLONE3, errno)]) {
        common::skip(format_args!("cannot install a seccomp filter here: {e}"));
        return;
    }
    let support = childfd::job_support().unwrap();
    if support.cgroup_parent().is_none() {
        common::skip(format_args!("jobs are not cgroups here: {support}"));
        return;
    }
    kill_job_kills(ESCAPES);
    let support = childfd::job_support().unwrap().to_string();
    assert!(support.contains("clone3 refused"), "{support}");
    shutdown_stops(ESCAPES);
    job_exited_waits_for_the_last(true);
    // The fork-style path (a pre_exec hook) enters the same way.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "setsid sleep 100 & echo $!; exec sleep 100"])
        .stdout(childfd::Stdio::piped())
        .job(true);
    // SAFETY: the hook does nothing.
    cmd.pre_exec(unsafe { childfd::unix::PreExec::new(|| Ok(())) });
    let mut child = cmd.spawn().unwrap();
    let escaped: u32 = common::first_line(&mut child).trim().parse().unwrap();
    assert!(leaf_of(escaped).is_some_and(|l| l.exists()));
    child.kill_job().unwrap();
    block_on(child.job_exited()).unwrap();
    assert!(!alive(escaped));
}

#[test]
fn process_groups_when_forced() {
    rerun("process_groups", "CHILDFD_JOB", "pgroup", None);
}

#[test]
fn process_groups_without_a_writable_cgroup() {
    rerun("process_groups", "CHILDFD_JOB_PARENT", "/nonexistent", None);
}

#[test]
fn process_groups_as_an_unprivileged_user() {
    // nobody cannot write the root's cgroup: the probe itself must choose the fallback.
    if !rustix::process::geteuid().is_root() {
        common::skip("not root: cannot become nobody");
        return;
    }
    rerun("process_groups", MODE, "nobody", Some(65534));
}

/// Body of the three cases above; a no-op unless re-executed by them.
#[test]
fn process_groups() {
    if set("CHILDFD_JOB").is_none()
        && set("CHILDFD_JOB_PARENT").is_none()
        && set(MODE).as_deref() != Some("nobody")
    {
        return;
    }
    let support = childfd::job_support().unwrap();
    let text = support.to_string();
    println!("jobs: {text}");
    if set(MODE).as_deref() == Some("nobody") && support.cgroup_parent().is_some() {
        common::skip(format_args!("nobody can write a cgroup v2 here: {text}"));
        return;
    }
    assert!(text.starts_with("process group (why: "), "{text}");
    assert!(support.escapable());
    kill_job_kills(IN_GROUP);
    shutdown_stops(IN_GROUP);
    job_exited_waits_for_the_last(false);

    // What the fallback cannot hold: a setsid grandchild escapes the group.
    // It says its pid once it has left the group.
    let (mut child, pids) =
        spawn_tree("setsid sh -c 'echo $$; exec sleep 100' & exec sleep 100", 1);
    child.kill_job().unwrap();
    block_on(child.job_exited()).unwrap();
    assert!(!alive(pids[0]) && alive(pids[1]), "{pids:?}");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pids[1] as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();

    // After the leader was reaped, its group is still the job: reached through the kept
    // pidfd on 6.9+ (PIDFD_SIGNAL_PROCESS_GROUP), by group id before.
    let (mut child, pids) = spawn_tree("sleep 100 & echo $!", 1);
    assert_eq!(block_on(child.status()).unwrap().code(), Some(0));
    assert!(alive(pids[1]));
    child.kill_job().unwrap();
    block_on(child.job_exited()).unwrap();
    assert!(
        !alive(pids[1]),
        "the group outlived kill_job after the leader's reap"
    );

    // The child leads its group; another group cannot be the job's.
    let e = Command::new("true")
        .job(true)
        .process_group(1)
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    // setsid makes it a leader too.
    let mut child = Command::new("sh")
        .args(["-c", "sleep 100 & exec sleep 100"])
        .job(true)
        .setsid(true)
        .spawn()
        .unwrap();
    child.kill_job().unwrap();
    block_on(child.job_exited()).unwrap();
}

#[test]
fn freeze_then_kill_when_forced() {
    rerun("freeze_then_kill", "CHILDFD_JOB", "cgroup-freeze", None);
}

/// Body of the case above; a no-op unless re-executed by it.
#[test]
fn freeze_then_kill() {
    if set("CHILDFD_JOB").as_deref() != Some("cgroup-freeze") {
        return;
    }
    let support = childfd::job_support().unwrap();
    if support.cgroup_parent().is_none() {
        common::skip(format_args!("jobs are not cgroups here: {support}"));
        return;
    }
    assert!(support.to_string().contains("freezing"), "{support}");
    kill_job_kills(ESCAPES);
    shutdown_stops(ESCAPES);
}

#[test]
fn an_unknown_knob_is_invalid_input() {
    rerun("unknown_knob", "CHILDFD_JOB", "bogus", None);
}

/// Body of the case above; a no-op unless re-executed by it.
#[test]
fn unknown_knob() {
    if set("CHILDFD_JOB").as_deref() != Some("bogus") {
        return;
    }
    let e = childfd::job_support().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = Command::new("true").job(true).spawn().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    // Commands that are not jobs are not affected.
    block_on(Command::new("true").status()).unwrap();
}
