//! Soak (issue 14): tens of thousands of spawn/drop/cancel/kill cycles under four drivers at
//! once (`async_io::block_on`, smol's multi-threaded executor, a tokio multi-thread runtime,
//! plain threads with `wait_blocking`), then no zombie, no descriptor and no thread left
//! behind, and RSS bounded. One test in its own binary: it counts process-wide resources.
//!
//! `CHILDFD_SOAK_CYCLES` sets the number of cycles (all drivers together). The default keeps
//! one run within 40-70 s on 2 cores shared with other builds (load 15-20), with either
//! backend (ci/test.sh runs both): 100,000 cycles took 41 s with `pidfd`, 62 s with `thread`.
#![cfg(target_os = "linux")]

mod common;

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use childfd::{Command, Stdio};
use common::{children, eventually, open_fds, thread_names};
use futures_lite::future;

/// Cycles over all drivers when `CHILDFD_SOAK_CYCLES` is unset.
const DEFAULT_CYCLES: usize = 120_000;
/// Concurrent workers per driver (tasks, or threads for the plain-thread driver).
const WORKERS: usize = 2;
/// Threads that run smol's executor, and tokio's worker threads.
const EXECUTOR_THREADS: usize = 2;
/// Threads a process that used the crate may keep for good: the crate's backstop reactor and
/// async-io's own (README, "How it works").
const ADMITTED_THREADS: &[&str] = &["childfd-reactor", "async-io"];
/// RSS growth allowed between the end of the warm-up and the end of the soak: allocator arenas
/// of the executors' threads come and go; a leak of a child's state (or its 64 KiB clone
/// stack) per cycle would be far above this.
const RSS_GROWTH_KIB: u64 = 16 * 1024;

/// What one cycle does; every kind runs under every driver.
#[derive(Clone, Copy, Debug)]
enum Case {
    /// Spawn, await the status.
    Status,
    /// Spawn `sleep 10` with `kill_on_drop`, drop it while it runs.
    DropKilled,
    /// Spawn `true`, drop it (most likely still running): reaped in the background.
    DropRunning,
    /// Spawn `sleep 10` (`kill_on_drop`), poll a status future once, drop it, drop the child.
    Cancel,
    /// Spawn `sleep 10`, kill it, await the status: SIGKILL.
    KillStatus,
    /// `output()` with stdout and stderr piped.
    Output,
}

const CASES: [Case; 6] = [
    Case::Status,
    Case::DropKilled,
    Case::DropRunning,
    Case::Cancel,
    Case::KillStatus,
    Case::Output,
];

fn ensure(cond: bool, what: impl FnOnce() -> String) -> io::Result<()> {
    if cond {
        Ok(())
    } else {
        Err(io::Error::other(what()))
    }
}

fn sleeper() -> Command {
    let mut cmd = Command::new("sleep");
    cmd.arg("10").kill_on_drop(true);
    cmd
}

fn echo(i: usize) -> Command {
    let mut cmd = Command::new("echo");
    cmd.arg(i.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn check_output(i: usize, out: &std::process::Output) -> io::Result<()> {
    let expected = format!("{i}\n");
    ensure(
        out.status.success() && out.stdout == expected.as_bytes() && out.stderr.is_empty(),
        || format!("output: {out:?}, expected stdout {expected:?}"),
    )
}

fn killed(status: std::process::ExitStatus) -> io::Result<()> {
    ensure(status.signal() == Some(libc::SIGKILL), || {
        format!("status after kill: {status}")
    })
}

/// One cycle, awaited (async-io, smol and tokio drivers).
async fn cycle_async(i: usize) -> io::Result<()> {
    match CASES[i % CASES.len()] {
        Case::Status => {
            let status = Command::new("true").spawn()?.status().await?;
            ensure(status.success(), || format!("status: {status}"))
        }
        Case::DropKilled => sleeper().spawn().map(drop),
        Case::DropRunning => Command::new("true").spawn().map(drop),
        Case::Cancel => {
            let mut child = sleeper().spawn()?;
            let polled = future::poll_once(child.status()).await;
            ensure(polled.is_none(), || {
                format!("sleep 10 done at once: {polled:?}")
            })
        }
        Case::KillStatus => {
            let mut child = sleeper().spawn()?;
            child.kill()?;
            killed(child.status().await?)
        }
        Case::Output => check_output(i, &echo(i).output().await?),
    }
}

/// One cycle, blocking (plain-thread driver). Futures without a blocking twin (a cancelled
/// status, `output()`) run under `futures_lite::future::block_on`, an executor with no reactor.
fn cycle_blocking(i: usize) -> io::Result<()> {
    match CASES[i % CASES.len()] {
        Case::Status => {
            let exit = Command::new("true").spawn()?.wait_blocking()?;
            ensure(exit.status().success(), || format!("exit: {exit:?}"))
        }
        Case::DropKilled => sleeper().spawn().map(drop),
        Case::DropRunning => Command::new("true").spawn().map(drop),
        Case::Cancel => {
            let mut child = sleeper().spawn()?;
            let polled = future::block_on(future::poll_once(child.status()));
            ensure(polled.is_none(), || {
                format!("sleep 10 done at once: {polled:?}")
            })
        }
        Case::KillStatus => {
            let mut child = sleeper().spawn()?;
            child.kill()?;
            killed(child.wait_blocking()?.status())
        }
        Case::Output => check_output(i, &future::block_on(echo(i).output())?),
    }
}

/// A driver's progress (cycles done), shared with the watchdog.
type Progress = Arc<AtomicUsize>;

/// The cycles of worker `w`: `n` indices spread so every worker sees every case.
fn indices(w: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| k * WORKERS + w)
}

fn context(driver: &str, i: usize) -> impl FnOnce(io::Error) -> String + '_ {
    move |e| format!("{driver}: cycle {i} ({:?}): {e}", CASES[i % CASES.len()])
}

async fn worker(driver: &'static str, w: usize, n: usize, done: Progress) -> Result<(), String> {
    for i in indices(w, n) {
        cycle_async(i).await.map_err(context(driver, i))?;
        done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// `async_io::block_on`: the workers joined in one task on one thread.
fn drive_async_io(n: usize, done: Progress) -> Result<(), String> {
    async_io::block_on(async {
        let (a, b) = future::zip(
            worker("async-io", 0, n, done.clone()),
            worker("async-io", 1, n, done.clone()),
        )
        .await;
        a.and(b)
    })
}

/// smol's multi-threaded executor: `EXECUTOR_THREADS` threads run it, as `smol` programs do.
fn drive_smol(n: usize, done: Progress) -> Result<(), String> {
    let ex = Arc::new(smol::Executor::new());
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    let threads: Vec<_> = (0..EXECUTOR_THREADS)
        .map(|_| {
            let (ex, stopped) = (ex.clone(), stopped.clone());
            std::thread::spawn(move || async_io::block_on(ex.run(stopped.recv())))
        })
        .collect();
    let tasks: Vec<_> = (0..WORKERS)
        .map(|w| ex.spawn(worker("smol", w, n, done.clone())))
        .collect();
    let result = async_io::block_on(async {
        for task in tasks {
            task.await?;
        }
        Ok(())
    });
    drop(stop);
    for t in threads {
        let _ = t.join();
    }
    result
}

/// A tokio multi-thread runtime, one tokio task per worker.
fn drive_tokio(n: usize, done: Progress) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(EXECUTOR_THREADS)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let result = rt.block_on(async {
        let tasks: Vec<_> = (0..WORKERS)
            .map(|w| tokio::spawn(worker("tokio", w, n, done.clone())))
            .collect();
        for task in tasks {
            task.await.map_err(|e| format!("tokio: {e}"))??;
        }
        Ok(())
    });
    drop(rt); // Joins its worker threads.
    result
}

/// Plain threads, blocking.
fn drive_threads(n: usize, done: Progress) -> Result<(), String> {
    let threads: Vec<_> = (0..WORKERS)
        .map(|w| {
            let done = done.clone();
            std::thread::spawn(move || {
                for i in indices(w, n) {
                    cycle_blocking(i).map_err(context("threads", i))?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    let results: Vec<Result<(), String>> = threads
        .into_iter()
        .map(|t| t.join().unwrap_or_else(|_| Err("threads: panicked".into())))
        .collect();
    results.into_iter().collect()
}

type Driver = fn(usize, Progress) -> Result<(), String>;

const DRIVERS: [(&str, Driver); 4] = [
    ("async-io", drive_async_io),
    ("smol", drive_smol),
    ("tokio", drive_tokio),
    ("threads", drive_threads),
];

/// Runs `cycles` cycles over the four drivers at once; fails if one fails or none finishes
/// within `limit` (then says how far each got).
fn soak(cycles: usize, limit: Duration) {
    let per_worker = cycles.div_ceil(DRIVERS.len() * WORKERS);
    let (report, results) = mpsc::channel();
    let progress: Vec<Progress> = DRIVERS.iter().map(|_| Progress::default()).collect();
    for ((name, drive), done) in DRIVERS.into_iter().zip(&progress) {
        let (report, done) = (report.clone(), done.clone());
        std::thread::spawn(move || {
            // A panic (in a smol task, say) is reported at once, not after the time limit.
            let run = std::panic::AssertUnwindSafe(|| drive(per_worker, done));
            let result = std::panic::catch_unwind(run).unwrap_or_else(|_| Err("panicked".into()));
            let _ = report.send((name, result));
        });
    }
    let deadline = Instant::now() + limit;
    for _ in DRIVERS {
        let left = deadline.saturating_duration_since(Instant::now());
        match results.recv_timeout(left) {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(e))) => panic!("driver {name} failed: {e}"),
            Err(_) => {
                let how_far: Vec<_> = DRIVERS
                    .iter()
                    .zip(&progress)
                    .map(|((name, _), p)| format!("{name} {}", p.load(Ordering::Relaxed)))
                    .collect();
                panic!(
                    "soak not done after {limit:?} ({} cycles per driver): {}; children: {:?}",
                    per_worker * WORKERS,
                    how_far.join(", "),
                    children()
                );
            }
        }
    }
}

fn cycles() -> usize {
    match std::env::var("CHILDFD_SOAK_CYCLES") {
        Ok(v) => v.parse().expect("CHILDFD_SOAK_CYCLES: a number of cycles"),
        Err(_) => DEFAULT_CYCLES,
    }
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib = line["VmRSS:".len()..].trim().trim_end_matches("kB").trim();
    kib.parse().unwrap()
}

/// `after` minus `before`, as a multiset of thread names.
fn new_threads(before: &[String], mut after: Vec<String>) -> Vec<String> {
    for name in before {
        if let Some(i) = after.iter().position(|n| n == name) {
            after.swap_remove(i);
        }
    }
    after
}

#[test]
fn soak_under_four_drivers_at_once_leaves_nothing_behind() {
    let cycles = cycles();
    // Warm-up: the same mix, so that every lazily created thread, descriptor and allocator
    // arena exists before the baseline.
    soak(
        DRIVERS.len() * WORKERS * CASES.len() * 4,
        Duration::from_secs(120),
    );
    let gone = eventually(Duration::from_secs(30), || children().is_empty());
    assert!(gone, "children after the warm-up: {:?}", children());
    let (fds, threads, rss) = (open_fds(), thread_names(), vm_rss_kib());

    let started = Instant::now();
    // A hang fails the test: 10 minutes for the default count, more for a larger one.
    let limit = Duration::from_secs(600 * cycles.div_ceil(DEFAULT_CYCLES).max(1) as u64);
    soak(cycles, limit);
    let elapsed = started.elapsed();

    let gone = eventually(Duration::from_secs(30), || children().is_empty());
    let zombies: Vec<_> = children().into_iter().filter(|c| c.1 == 'Z').collect();
    assert!(
        gone,
        "children left behind: {:?}, zombies {zombies:?}",
        children()
    );
    let closed = eventually(Duration::from_secs(10), || open_fds() == fds);
    assert!(closed, "descriptors: {fds} before, {} after", open_fds());
    let admitted = |extra: &[String]| {
        extra.iter().all(|n| ADMITTED_THREADS.contains(&n.as_str()))
            && ADMITTED_THREADS
                .iter()
                .all(|a| extra.iter().filter(|n| n == a).count() <= 1)
    };
    let settled = eventually(Duration::from_secs(10), || {
        admitted(&new_threads(&threads, thread_names()))
    });
    assert!(
        settled,
        "threads: {threads:?} after the warm-up, {:?} after the soak",
        thread_names()
    );
    let grown = vm_rss_kib().saturating_sub(rss);
    assert!(
        grown <= RSS_GROWTH_KIB,
        "VmRSS grew by {grown} KiB over {cycles} cycles ({rss} KiB after the warm-up)"
    );
    println!(
        "soak: {cycles} cycles in {:.1} s ({}), VmRSS {rss} KiB + {grown} KiB, {} threads",
        elapsed.as_secs_f64(),
        childfd::backend()
            .map(|b| b.to_string())
            .unwrap_or_default(),
        thread_names().len()
    );
}
