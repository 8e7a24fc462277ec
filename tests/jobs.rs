//! Jobs as cgroup v2 leaves (issue 15), against real process trees: escapes by `setsid` and
//! double fork are killed, the end of the last process is awaited, the tree's CPU is
//! accounted, and no cgroup directory is left behind. Each test says why it skips where jobs
//! are not cgroups here (no writable cgroup v2: run as root on a host with one).
#![cfg(target_os = "linux")]

mod common;
mod jobtrees;

use std::io;
use std::time::Duration;

use childfd::Command;
use common::{block_on, eventually};
use jobtrees::*;

/// Whether jobs are cgroups in this process; says why not otherwise.
fn cgroups() -> bool {
    let support = childfd::job_support().unwrap();
    if support.cgroup_parent().is_none() {
        common::skip(format_args!("jobs are not cgroups here: {support}"));
        return false;
    }
    true
}

#[test]
fn support_is_said() {
    let support = childfd::job_support().unwrap();
    let text = support.to_string();
    println!("jobs: {text}");
    assert!(
        text.starts_with("cgroup v2 (/") || text.starts_with("process group (why: "),
        "{text}"
    );
    assert_eq!(support.escapable(), support.cgroup_parent().is_none());
}

#[test]
fn kill_job_reaches_setsid_and_double_fork() {
    if cgroups() {
        kill_job_kills(ESCAPES);
    }
}

#[test]
fn shutdown_reaches_setsid_and_double_fork() {
    if cgroups() {
        shutdown_stops(ESCAPES);
    }
}

#[test]
fn job_exited_waits_for_an_escaped_grandchild() {
    if cgroups() {
        job_exited_waits_for_the_last(true);
    }
}

#[test]
fn job_exited_waits_for_a_grandchild() {
    if cgroups() {
        job_exited_waits_for_the_last(false);
    }
}

#[test]
fn escaped_cpu_is_accounted() {
    if !cgroups() {
        return;
    }
    let script = r#"setsid sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done' &"#;
    let mut child = Command::new("sh")
        .args(["-c", script])
        .job(true)
        .spawn()
        .unwrap();
    let exit = block_on(child.exited()).unwrap();
    let usage = block_on(child.job_exited()).unwrap();
    let own = exit.user_time() + exit.system_time();
    let tree = usage.cpu_user() + usage.cpu_system();
    println!("child's rusage {own:?}, job's cpu.stat {tree:?}");
    assert!(tree >= Duration::from_millis(100), "{tree:?}");
    assert!(
        tree > own + Duration::from_millis(50),
        "{tree:?} vs {own:?}"
    );
    assert!(!usage.oom_killed());
    // Every call returns the same accounting, after the leaf is gone.
    assert_eq!(block_on(child.job_exited()).unwrap(), usage);
}

#[test]
fn memory_peak_where_the_controller_is_enabled() {
    if !cgroups() {
        return;
    }
    let mut child = Command::new("sh")
        .args(["-c", "exit 0"])
        .job(true)
        .spawn()
        .unwrap();
    let usage = block_on(child.job_exited()).unwrap();
    match usage.memory_peak() {
        None => common::skip(
            "the memory controller is not enabled for the job's cgroup (on a cgroup v1 hybrid \
             host it is bound to v1): memory.peak cannot be read",
        ),
        Some(peak) => assert!(peak > 0),
    }
}

#[test]
fn dropped_jobs_leave_no_cgroup() {
    if !cgroups() {
        return;
    }
    // Ends on its own after the drop.
    let child = Command::new("sh")
        .args(["-c", "setsid sleep 0.3 & exec sleep 0.1"])
        .job(true)
        .spawn()
        .unwrap();
    let ending = leaf_of(child.id()).unwrap();
    assert!(ending.exists());
    drop(child);
    // Killed by the drop.
    let (child, pids) = {
        let (mut c, p) = spawn_tree(ESCAPES, 3);
        c.stdout.take();
        (c, p)
    };
    let killed = leaf_of(child.id()).unwrap();
    drop(child);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "setsid sleep 100 & echo $!; exec sleep 100"])
        .stdout(childfd::Stdio::piped())
        .job(true)
        .kill_on_drop(true);
    let mut victim = cmd.spawn().unwrap();
    let escaped: u32 = common::first_line(&mut victim).trim().parse().unwrap();
    let victim_leaf = leaf_of(victim.id()).unwrap();
    drop(victim);
    assert_all_gone(&[escaped]);
    for leaf in [&ending, &victim_leaf] {
        assert!(
            eventually(Duration::from_secs(10), || !leaf.exists()),
            "{} left behind",
            leaf.display()
        );
    }
    // The one dropped without kill_on_drop lives on, in its cgroup, until killed.
    assert!(pids.iter().all(|&p| alive(p)));
    assert!(killed.exists());
    std::fs::write(killed.join("cgroup.kill"), "1").unwrap();
    assert_all_gone(&pids);
    assert!(
        eventually(Duration::from_secs(10), || !killed.exists()),
        "{} left behind",
        killed.display()
    );
    // The thread that removed them runs only while dropped jobs remain.
    assert!(
        eventually(Duration::from_secs(10), || !common::thread_names()
            .iter()
            .any(|n| n == "childfd-jobs")),
        "childfd-jobs outlived the dropped jobs"
    );
}

#[test]
fn a_failed_spawn_leaves_no_cgroup() {
    if !cgroups() {
        return;
    }
    // A parent of this test's own, so that other tests' leaves do not count.
    let root = childfd::job_support()
        .unwrap()
        .cgroup_parent()
        .unwrap()
        .to_owned();
    let parent = root.join(format!("childfd-test-failed-{}", std::process::id()));
    std::fs::create_dir(&parent).unwrap();
    let e = Command::new("/nonexistent/program")
        .job_parent(&parent)
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let left: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    std::fs::remove_dir(&parent).unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_named_parent_that_cannot_hold_leaves_fails_the_spawn() {
    let e = Command::new("true")
        .job_parent("/nonexistent/cgroup")
        .spawn()
        .unwrap_err();
    if childfd::job_support().unwrap().cgroup_parent().is_none() {
        common::skip("jobs are process groups here: the parent is ignored");
        return;
    }
    assert_eq!(e.raw_os_error(), Some(2), "{e}");
}

#[test]
fn job_methods_need_a_job() {
    let mut child = Command::new("true").spawn().unwrap();
    let e = child.kill_job().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = block_on(child.job_exited()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    block_on(child.status()).unwrap();
}

#[test]
fn a_job_cannot_take_the_std_route() {
    if !cgroups() {
        return;
    }
    let std = std::process::Command::new("true");
    let e = Command::from(std).job(true).spawn().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
}

#[test]
fn pre_exec_hooks_run_in_a_job() {
    use childfd::unix::{CommandExt, PreExec};
    if !cgroups() {
        return;
    }
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "cat /proc/self/cgroup"]).job(true);
    // SAFETY: the hook does nothing.
    cmd.pre_exec(unsafe { PreExec::new(|| Ok(())) });
    let out = block_on(cmd.output()).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0::/") && text.contains("childfd-"), "{text}");
}
