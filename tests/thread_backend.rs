//! The thread backend when `waitid` itself is denied (seccomp): its helpers cannot wait for an
//! exit without reaping, so the reactor polls each child with a back-off instead; that must
//! cost little CPU and still report every exit (issue 14 item 5). Re-executes this binary with
//! the filter installed, so the irreversible filter stays out of the other tests.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use childfd::Command;
use common::{block_on, children, eventually, thread_names};

const MODE: &str = "CHILDFD_TEST_DENY_WAITID";
const WAITID: u32 = libc::SYS_waitid as u32;
const PIDFD_SEND_SIGNAL: u32 = 424;
const PIDFD_OPEN: u32 = 434;
const CLONE3: u32 = 435;
const ENOSYS: i32 = 38;
const EPERM: i32 = 1;

/// CPU time (user + system) this process has used, from /proc/self/stat (clock ticks of
/// 10 ms: USER_HZ is 100 on every Linux architecture).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // "pid (comm) state ppid ...": utime and stime are fields 14 and 15.
    let mut fields = stat.rsplit_once(')').unwrap().1.split_whitespace().skip(11);
    let mut ticks = || fields.next().unwrap().parse::<u64>().unwrap();
    Duration::from_millis((ticks() + ticks()) * 10)
}

/// Times the crate's threads (the reactor and the helpers) have been woken, from their
/// voluntary context switches.
fn wakeups() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_end().starts_with("childfd-"))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .filter_map(|s| {
            let line = s
                .lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

#[test]
fn denied_waitid_costs_little_cpu_and_loses_no_exit() {
    if std::env::var_os(MODE).is_none() {
        for errno in [EPERM, ENOSYS] {
            let (passed, text) = common::rerun(
                "denied_waitid_costs_little_cpu_and_loses_no_exit",
                MODE,
                &errno.to_string(),
                None,
            );
            if common::copy_skipped(&text) {
                return;
            }
            assert!(passed, "errno {errno}: {text}");
        }
        return;
    }
    let errno: i32 = std::env::var(MODE).unwrap().parse().unwrap();
    // waitid denied as well as the pidfd calls: the probe picks the thread backend, whose
    // helpers then cannot wait either. clone3 gets ENOSYS so that glibc falls back to clone.
    let rules = [
        (WAITID, errno),
        (PIDFD_OPEN, errno),
        (PIDFD_SEND_SIGNAL, errno),
        (CLONE3, ENOSYS),
    ];
    if let Err(e) = platform::testing::deny_syscalls(&rules) {
        common::skip(format_args!("cannot install a seccomp filter here: {e}"));
        return;
    }
    let backend = childfd::backend().unwrap();
    println!("backend under the filter: {backend}");
    assert_eq!(backend.name(), "thread");

    let mut sleepers: Vec<_> = (0..10)
        .map(|_| {
            Command::new("sleep")
                .arg("30")
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    // Let any back-off reach its steady state, then measure one second.
    std::thread::sleep(Duration::from_millis(500));
    let (cpu, woken, wall) = (cpu_time(), wakeups(), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_time() - cpu;
    let woken = wakeups() - woken;
    let share = used.as_secs_f64() / wall.elapsed().as_secs_f64();
    println!(
        "10 running children, waitid denied: {used:?} of CPU in 1 s ({share:.3}), {woken} \
         wake-ups of the crate's threads"
    );
    assert!(share < 0.05, "{used:?} of CPU in one second: spinning");
    // A child is polled at most every 100 ms once the back-off has grown (10 a second each);
    // the bound is generous, for a busy machine.
    assert!(
        woken < 400,
        "{woken} wake-ups in one second for 10 children"
    );

    block_on(async {
        // Exits are still reported, with their status and usage.
        let exit = Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap()
            .exited()
            .await
            .unwrap();
        assert_eq!(exit.status().code(), Some(7));
        assert!(exit.usage_known(), "{exit:?}");
        for child in &mut sleepers {
            child.kill().unwrap();
        }
        for child in &mut sleepers {
            assert_eq!(child.status().await.unwrap().signal(), Some(9));
        }
    });
    // A blocking wait too.
    let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    assert_eq!(child.wait_blocking().unwrap().status().code(), Some(3));
    drop(sleepers);
    assert!(
        eventually(Duration::from_secs(10), || children().is_empty()),
        "{:?}",
        children()
    );
    let helpers = || {
        thread_names()
            .iter()
            .filter(|n| *n == "childfd-wait")
            .count()
    };
    assert!(
        eventually(Duration::from_secs(10), || helpers() == 0),
        "helper threads outlived their children"
    );
}
