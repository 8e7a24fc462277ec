//! Jobs as job objects (Windows, issue 15), against real trees made of copies of this test
//! binary: a grandchild started detached, in a new process group, is still in the job. Run
//! under Wine by ci/windows.sh.
#![cfg(windows)]

use std::io::Write;
use std::time::{Duration, Instant};

use childfd::{Child, Command, Stdio};
use futures_lite::future::block_on;

const ROLE: &str = "CHILDFD_TEST_JOB_ROLE";
const MARKER: &str = "CHILDFD_TEST_JOB_MARKER";
/// `DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP`: as far as a grandchild can go without
/// `CREATE_BREAKAWAY_FROM_JOB`, which the job does not allow.
const DETACHED: u32 = 0x8 | 0x200;

/// The processes of the trees; a no-op unless started with `ROLE`.
#[test]
fn tree_role() {
    use std::os::windows::process::CommandExt;
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let me = std::env::current_exe().unwrap();
    let grandchild = |role: &str| {
        std::process::Command::new(&me)
            .args(["tree_role", "--exact", "--nocapture"])
            .env(ROLE, role)
            .creation_flags(DETACHED)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    match role.as_str() {
        // Starts a detached sleeper, says its pid, sleeps.
        "parent" => {
            // Never waited for on purpose: the job kills it, which is what the test checks.
            #[allow(clippy::zombie_processes)]
            let g = grandchild("sleeper");
            println!("grandchild {}", g.id());
            std::io::stdout().flush().unwrap();
            std::thread::sleep(Duration::from_secs(100));
        }
        // Starts a grandchild that outlives it by 0.3 s, then writes the marker; exits.
        "brief" => drop(grandchild("late")),
        "late" => {
            std::thread::sleep(Duration::from_millis(300));
            std::fs::write(std::env::var(MARKER).unwrap(), "done").unwrap();
        }
        // Starts a grandchild that burns CPU for 0.3 s; exits.
        "burner" => drop(grandchild("burn")),
        "burn" => {
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_millis(300) {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        "sleeper" => std::thread::sleep(Duration::from_secs(100)),
        other => panic!("unknown role {other}"),
    }
}

fn spawn(role: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["tree_role", "--exact", "--nocapture"])
        .env(ROLE, role)
        .stdout(Stdio::piped())
        .job(true)
        .spawn()
        .unwrap()
}

#[test]
fn support_is_a_job_object() {
    let support = childfd::job_support().unwrap();
    assert_eq!(support.to_string(), "job object");
    assert!(!support.escapable());
}

#[test]
fn kill_job_ends_a_detached_grandchild() {
    let mut child = spawn("parent");
    // Blocking reads of the async pipe's std form are not available: read it async.
    let stdout = child.stdout.take().unwrap();
    let mut lines = futures_lite::io::BufReader::new(stdout);
    let pid = block_on(async {
        use futures_lite::AsyncBufReadExt;
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                lines.read_line(&mut line).await.unwrap() > 0,
                "no grandchild"
            );
            if let Some(pid) = line.trim().strip_prefix("grandchild ") {
                return pid.parse::<u32>().unwrap();
            }
        }
    });
    assert!(pid > 0);
    child.kill_job().unwrap();
    // Resolves once the job has no active process: the grandchild included.
    block_on(child.job_exited()).unwrap();
    assert_eq!(block_on(child.status()).unwrap().code(), Some(1));
}

#[test]
fn job_exited_waits_for_the_last() {
    let marker = std::env::temp_dir().join(format!("childfd-job-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["tree_role", "--exact", "--nocapture"])
        .env(ROLE, "brief")
        .env(MARKER, &marker)
        .stdout(Stdio::null())
        .job(true)
        .spawn()
        .unwrap();
    assert!(block_on(child.status()).unwrap().success());
    block_on(child.job_exited()).unwrap();
    assert!(
        marker.exists(),
        "job_exited resolved before the grandchild ended"
    );
    let _ = std::fs::remove_file(&marker);
}

#[test]
fn a_grandchild_cpu_is_accounted() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["tree_role", "--exact", "--nocapture"])
        .env(ROLE, "burner")
        .stdout(Stdio::null())
        .job(true)
        .spawn()
        .unwrap();
    let exit = block_on(child.exited()).unwrap();
    let usage = block_on(child.job_exited()).unwrap();
    let tree = usage.cpu_user() + usage.cpu_system();
    println!(
        "child {:?}, job {tree:?}, peak {:?}",
        exit.user_time() + exit.system_time(),
        usage.memory_peak()
    );
    if tree.is_zero() {
        // Wine 8 keeps no job CPU accounting (TotalUserTime stays 0).
        let _ = writeln!(
            std::io::stderr(),
            "SKIP: a_grandchild_cpu_is_accounted: the job object reports no CPU time here (Wine?)"
        );
        return;
    }
    assert!(tree >= Duration::from_millis(100), "{tree:?}");
}
