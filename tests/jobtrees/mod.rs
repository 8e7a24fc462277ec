//! Real process trees for the job tests (tests/jobs.rs, tests/jobs_fallback.rs): each scenario
//! asserts on the processes themselves, read from /proc.
#![allow(dead_code)] // Each test binary uses a different part.

use std::path::PathBuf;
use std::time::Duration;

use childfd::{Child, Command, Stdio};

use crate::common::{block_on, eventually, first_line};

/// Whether `pid` is a live process (not gone, not a zombie).
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The cgroup v2 directory of `pid`'s job, when jobs are cgroups (from /proc/<pid>/cgroup).
pub(crate) fn leaf_of(pid: u32) -> Option<PathBuf> {
    let parent = childfd::job_support().ok()?.cgroup_parent()?.to_owned();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let name = std::path::Path::new(path).file_name()?;
    Some(parent.join(name))
}

/// Spawns `script` as a job; it must print the pids to watch, one a line, `count` of them.
pub(crate) fn spawn_tree(script: &str, count: usize) -> (Child, Vec<u32>) {
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .job(true)
        .spawn()
        .unwrap();
    let mut pids = vec![child.id()];
    for _ in 0..count {
        let line = first_line(&mut child);
        pids.push(
            line.trim()
                .parse()
                .unwrap_or_else(|_| panic!("not a pid: {line:?}")),
        );
    }
    (child, pids)
}

/// A setsid grandchild, a double-forked daemon, and the shell itself sleeping: the escapes a
/// process group cannot hold.
pub(crate) const ESCAPES: &str =
    "setsid sleep 100 & echo $!; (sleep 100 & echo $!); echo $$; exec sleep 100";

/// The same tree within the child's process group (for the fallback, which cannot hold the
/// escapes): a background sleeper and a subshell's sleeper.
pub(crate) const IN_GROUP: &str =
    "sleep 100 & echo $!; (sleep 100 & echo $!); echo $$; exec sleep 100";

pub(crate) fn assert_all_gone(pids: &[u32]) {
    assert!(
        eventually(Duration::from_secs(10), || pids.iter().all(|&p| !alive(p))),
        "still alive: {:?}",
        pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
    );
}

/// kill_job, then job_exited: every process gone, the leaf removed.
pub(crate) fn kill_job_kills(script: &str) {
    let (mut child, pids) = spawn_tree(script, 3);
    assert!(pids.iter().all(|&p| alive(p)), "tree not running: {pids:?}");
    let leaf = leaf_of(child.id());
    child.kill_job().unwrap();
    block_on(child.job_exited()).unwrap();
    assert!(pids.iter().all(|&p| !alive(p)), "job_exited before the end");
    assert_all_gone(&pids);
    if let Some(leaf) = leaf {
        assert!(!leaf.exists(), "{} left behind", leaf.display());
    }
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&block_on(child.status()).unwrap()),
        Some(9)
    );
}

/// shutdown: TERM to all, KILL to what ignores it, returns once the job is empty.
pub(crate) fn shutdown_stops(script: &str) {
    // The last process ignores SIGTERM: only the KILL after the grace ends it.
    let script = format!("{script} & sh -c 'trap \"\" TERM; echo $$; while :; do sleep 1; done'");
    let (mut child, pids) = spawn_tree(&script, 4);
    let leaf = leaf_of(child.id());
    let exit = block_on(child.shutdown(Duration::from_millis(300))).unwrap();
    assert!(
        pids.iter().all(|&p| !alive(p)),
        "shutdown returned before the end: {:?}",
        pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
    );
    // The shell itself does not ignore SIGTERM: it dies of it, before the grace is over.
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&exit.status()),
        Some(15),
        "{:?}",
        exit.status()
    );
    if let Some(leaf) = leaf {
        block_on(child.job_exited()).unwrap();
        assert!(!leaf.exists(), "{} left behind", leaf.display());
    }
}

/// job_exited waits for a grandchild that outlives the child by 0.3 s.
pub(crate) fn job_exited_waits_for_the_last(setsid: bool) {
    let marker = std::env::temp_dir().join(format!("childfd-job-{}-{setsid}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let script = format!(
        "{} sh -c 'sleep 0.3; touch {}' & exit 0",
        if setsid { "setsid" } else { "" },
        marker.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .job(true)
        .spawn()
        .unwrap();
    assert_eq!(block_on(child.status()).unwrap().code(), Some(0));
    block_on(child.job_exited()).unwrap();
    assert!(
        marker.exists(),
        "job_exited resolved before the grandchild ended"
    );
    let _ = std::fs::remove_file(&marker);
}
