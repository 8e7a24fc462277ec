//! What the tests read from /proc to prove nothing leaks, and a guard against hanging.
#![allow(dead_code)] // Each test binary uses a different part.

use std::future::Future;
use std::time::{Duration, Instant};

/// Every process: pid, state letter, parent pid, process group, from /proc/<pid>/stat.
fn processes() -> Vec<(u32, char, u32, u32)> {
    let parse = |pid: u32| -> Option<(u32, char, u32, u32)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
        let state = fields.next()?.chars().next()?;
        Some((
            pid,
            state,
            fields.next()?.parse().ok()?,
            fields.next()?.parse().ok()?,
        ))
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter_map(parse)
        .collect()
}

/// Pids of our children, running or zombie, with their state letter.
pub(crate) fn children() -> Vec<(u32, char)> {
    let me = std::process::id();
    processes()
        .into_iter()
        .filter(|p| p.2 == me)
        .map(|p| (p.0, p.1))
        .collect()
}

/// Live (not zombie) members of process group `pgid`.
pub(crate) fn group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|p| p.3 == pgid && p.1 != 'Z')
        .map(|p| p.0)
        .collect()
}

pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

pub(crate) fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|s| s.trim_end().to_owned())
        .collect()
}

/// Whether SIGCHLD is caught or ignored by this process (it must be neither).
pub(crate) fn sigchld_touched() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let mask = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
    };
    let bit = 1u64 << (17 - 1); // SIGCHLD is 17 on x86, arm and riscv Linux.
    (mask("SigCgt:") | mask("SigIgn:")) & bit != 0
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
pub(crate) fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Runs `fut` to completion, failing the test instead of hanging if it takes over a minute.
pub(crate) fn block_on<T>(fut: impl Future<Output = T>) -> T {
    futures_lite::future::block_on(futures_lite::future::or(fut, async {
        async_io::Timer::after(Duration::from_secs(60)).await;
        panic!("timed out after 60 s");
    }))
}

/// Reads the child's stdout up to and including the first newline: for scripts that say
/// "ready" once their traps are installed.
pub(crate) fn first_line(child: &mut childfd::Child) -> String {
    use futures_lite::AsyncReadExt;
    let stdout = child.stdout.as_mut().expect("stdout piped");
    let mut line = Vec::new();
    let mut byte = [0u8];
    while line.last() != Some(&b'\n') {
        if block_on(stdout.read(&mut byte)).unwrap() == 0 {
            break;
        }
        line.push(byte[0]);
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// Runs test `test` of this test binary again, in a process of its own with `var=value` set
/// (and as user `uid`, given), and returns whether it passed with its whole output. For cases
/// that change something process-wide and irreversible: a limit, a filter, the user.
pub(crate) fn rerun(test: &str, var: &str, value: &str, uid: Option<u32>) -> (bool, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, value);
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success() && text.contains("1 passed"), text)
}

/// `PATH` without the directories this user cannot search. A program missing from all of
/// them is `NotFound` only if each could be searched: execvp (and std, and this crate) report
/// `EACCES` when one could not, e.g. root's `/root/.cargo/bin` for a test run as another user.
pub(crate) fn searchable_path() -> std::ffi::OsString {
    use rustix::fs::{access, Access};
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).filter(|d| access(d, Access::EXEC_OK).is_ok());
    std::env::join_paths(dirs).unwrap()
}

/// Says why a test does not run its check, on the real stderr: libtest captures `println!`
/// of a passing test, so a skip printed that way would read as a silent pass.
pub(crate) fn skip(reason: impl std::fmt::Display) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let _ = writeln!(std::io::stderr(), "SKIP: {test}: {reason}");
}

/// Whether a copy of the test (see [`rerun`]) skipped, given its output: its reason is then
/// said again for this test, which the caller ends.
pub(crate) fn copy_skipped(text: &str) -> bool {
    let Some(line) = text.lines().find(|l| l.contains("SKIP:")) else {
        return false;
    };
    skip(&line[line.find("SKIP:").map_or(0, |i| i + 6)..]);
    true
}

/// Where the kernel takes the last pid it handed out, in this pid namespace.
const LAST_PID: &str = "/proc/sys/kernel/ns_last_pid";

/// Whether this test can choose the next pid (root in the initial pid namespace); says why it
/// skips otherwise.
pub(crate) fn can_steer_pids() -> bool {
    let current = std::fs::read_to_string(LAST_PID).unwrap_or_default();
    if std::fs::write(LAST_PID, current).is_ok() {
        return true;
    }
    skip(format_args!(
        "{LAST_PID} is not writable (needs root in the initial pid namespace)"
    ));
    false
}

/// Makes `pid` the next pid handed out, unless another process takes it first: callers retry.
pub(crate) fn next_pid_is(pid: u32) {
    std::fs::write(LAST_PID, (pid - 1).to_string()).unwrap();
}

/// Sets `RLIMIT_NPROC` to the tasks this process's real user has now plus `room`. `false`
/// (having said why) when the tasks cannot be counted.
pub(crate) fn limit_tasks(room: u64) -> bool {
    use rustix::process::{getuid, setrlimit, Resource, Rlimit};
    let Some(tasks) = tasks_of(getuid().as_raw()) else {
        skip("cannot read the tasks in /proc, so the limit cannot be placed");
        return false;
    };
    let limit = Rlimit {
        current: Some(tasks + room),
        maximum: Some(tasks + room),
    };
    setrlimit(Resource::Nproc, limit).unwrap();
    true
}

/// Leaves no room for another task, and checks that the kernel enforces it (not for root,
/// nor with `CAP_SYS_RESOURCE`). `false` (having said why) when it cannot.
pub(crate) fn at_the_task_limit() -> bool {
    if !limit_tasks(0) {
        return false;
    }
    if let Ok(thread) = std::thread::Builder::new().spawn(|| {}) {
        let _ = thread.join();
        let uid = rustix::process::getuid().as_raw();
        skip(format_args!("the limit is not enforced here (uid {uid})"));
        return false;
    }
    true
}

/// Tasks (threads included: the limit counts them) whose real user is `uid`.
fn tasks_of(uid: u32) -> Option<u64> {
    let mut count = 0;
    for proc in std::fs::read_dir("/proc").ok()?.flatten() {
        if proc.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(proc.path().join("task")) else {
            continue; // Exited meanwhile.
        };
        for task in tasks.flatten() {
            let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
                continue;
            };
            let real = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next()?.parse::<u32>().ok());
            count += u64::from(real == Some(uid));
        }
    }
    Some(count)
}

/// CPU time (user + system) this process has used so far.
pub(crate) fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state (field 3).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

/// Sleeps `settle`, then measures the next `window`: the CPU time this process used in it,
/// and the wall time it took. A waiter that spins shows as a whole CPU.
pub(crate) fn cpu_during(settle: Duration, window: Duration) -> (Duration, Duration) {
    std::thread::sleep(settle);
    let before = cpu_time();
    let started = Instant::now();
    std::thread::sleep(window);
    (cpu_time() - before, started.elapsed())
}

/// Whether strace can be run (`paused_tracer` needs it); prints why a test skips if not.
pub(crate) fn have_strace() -> bool {
    let found = std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_ok();
    if !found {
        println!("SKIP: strace is not installed (ci/setup.sh installs it)");
    }
    found
}

fn tracer_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("TracerPid:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse()
        .ok()
        .filter(|p| *p != 0)
}

/// An strace attached to `pid`, then stopped: once `pid` exits, its zombie stays readable
/// (its pidfd polls ready) and unreapable until the tracer is killed.
#[cfg(target_os = "linux")]
pub(crate) fn paused_tracer(pid: u32) -> std::process::Child {
    let tracer = std::process::Command::new("strace")
        .args(["-qq", "-o", "/dev/null", "-p", &pid.to_string()])
        .spawn()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || tracer_of(pid).is_some()),
        "strace never attached to {pid}"
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(tracer.id() as i32).unwrap(),
        rustix::process::Signal::STOP,
    )
    .unwrap();
    tracer
}

/// Runs `check` in a `fork()`ed copy of this process and returns whether it returned `true`
/// there; a copy that hangs is ended by an alarm after 10 s (and counts as `false`).
#[cfg(target_os = "linux")]
pub(crate) fn in_forked_copy(check: impl FnOnce() -> bool) -> bool {
    use std::os::unix::process::ExitStatusExt;
    // SAFETY: the forked child runs `check`, which the callers keep to calls of the crate and
    // of a runtime (they allocate; glibc's fork makes malloc usable in the child), then
    // async-signal-safe exits; an alarm ends it if it hangs.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: alarm(2) and _exit(2) are async-signal-safe.
        unsafe { libc::alarm(10) };
        let code = if check() { 0 } else { 1 };
        // SAFETY: see above.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above, with a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    let status = std::process::ExitStatus::from_raw(status);
    if status.code() != Some(0) {
        println!("the forked copy hung (SIGALRM) or its check failed: {status:?}");
    }
    status.code() == Some(0)
}
