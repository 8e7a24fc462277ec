//! Workload 4, the idle crowd: many children idle at once, each with a pending waiter.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::backends::{AsyncBackend, Out, Spec, SyncBackend};
use crate::sys::{self, mono_ns};
use crate::workloads::{mib, percentile, Job, Sample};

/// Crowd children released one by one, first, to time one exit amid the idle crowd.
const PROBES: usize = 10;

/// The crowd: children (this binary, `--hold`) that block reading a pipe until the parent
/// closes its end, then write their `CLOCK_MONOTONIC` to a shared stamps pipe and exit. The
/// herd shares one release pipe; each probe has its own.
struct Crowd {
    herd: Spec,
    probes: Vec<Spec>,
    herd_release: OwnedFd,
    probe_releases: Vec<OwnedFd>,
    stamps: std::fs::File,
}

impl Crowd {
    fn new(job: &Job) -> io::Result<Crowd> {
        let (stamps, stamp_w) = sys::pipe()?;
        sys::grow_pipe(&stamps, 1 << 20);
        let hold = |stdin: OwnedFd| -> io::Result<Spec> {
            let mut spec = Spec::new(&job.exe, &["--hold"]);
            spec.stdin = Some(stdin);
            spec.stdout = Out::Fd(stamp_w.try_clone()?);
            Ok(spec)
        };
        let (hold_r, herd_release) = sys::pipe()?;
        let herd = hold(hold_r)?;
        let (mut probes, mut probe_releases) = (Vec::new(), Vec::new());
        for _ in 0..PROBES {
            let (r, w) = sys::pipe()?;
            probes.push(hold(r)?);
            probe_releases.push(w);
        }
        Ok(Crowd {
            herd,
            probes,
            herd_release,
            probe_releases,
            stamps: stamps.into(),
        })
    }

    fn herd_size(job: &Job) -> usize {
        job.n.saturating_sub(PROBES)
    }

    /// The parent's own descriptors while the crowd idles: the release ends and the stamps.
    const OWN_FDS: usize = 2 + PROBES;
}

fn next_stamp(stamps: &mut std::fs::File) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    io::Read::read_exact(stamps, &mut buf)?;
    Ok(u64::from_ne_bytes(buf))
}

/// Samples the idle crowd, then stays idle for `job.idle_ms`.
fn idle(job: &Job, spawn_ns: u64) -> Sample {
    let threads = sys::threads();
    let fds = sys::fds().saturating_sub(job.base_fds + Crowd::OWN_FDS);
    let rss = sys::status_kib("VmRSS");
    let cpu = sys::cpu_self_ns();
    std::thread::sleep(Duration::from_millis(job.idle_ms));
    vec![
        ("threads", threads as f64),
        ("fds", fds as f64),
        ("fds_per_child", fds as f64 / job.n as f64),
        ("rss_mib", mib(rss)),
        ("idle_cpu_ms", (sys::cpu_self_ns() - cpu) as f64 / 1e6),
        ("spawn_s", spawn_ns as f64 / 1e9),
    ]
}

/// Adds `probe_us` (median latency of the probes) and `drain_ms` (last waiter woken − herd
/// release) to a crowd sample.
fn crowd_finish(mut sample: Sample, mut probes: Vec<f64>, drain_ns: u64) -> Sample {
    probes.sort_by(f64::total_cmp);
    sample.push(("probe_us", percentile(&probes, 0.5)));
    sample.push(("drain_ms", drain_ns as f64 / 1e6));
    sample
}

pub(crate) async fn run_async<B: AsyncBackend>(b: &B, job: &Job) -> io::Result<Sample> {
    let crowd = Crowd::new(job)?;
    let t0 = mono_ns();
    let mut children = Vec::with_capacity(job.n);
    let mut cmd = b.command(&crowd.herd);
    for _ in 0..Crowd::herd_size(job) {
        children.push(b.spawn(&mut cmd, &crowd.herd)?);
    }
    for probe in &crowd.probes {
        children.push(b.spawn(&mut b.command(probe), probe)?);
    }
    let spawn_ns = mono_ns() - t0;
    let Crowd {
        herd,
        probes,
        herd_release,
        probe_releases,
        mut stamps,
    } = crowd;
    drop((cmd, herd, probes)); // The parent's copies of the children's ends.
    let polled = Arc::new(AtomicUsize::new(0));
    let mut tasks: Vec<_> = children
        .into_iter()
        .map(|child| {
            let (exit, polled) = (b.watch(child), polled.clone());
            b.spawn_task(Box::pin(async move {
                polled.fetch_add(1, Ordering::Relaxed);
                exit.await?;
                Ok(mono_ns())
            }))
        })
        .collect();
    b.local(Box::pin(async {
        // Every waiter is pending before the crowd is sampled.
        while polled.load(Ordering::Relaxed) < job.n {
            futures_lite::future::yield_now().await;
        }
        let sample = idle(job, spawn_ns);
        let mut probes = Vec::new();
        let probe_tasks = tasks.split_off(Crowd::herd_size(job));
        for (task, release) in probe_tasks.into_iter().zip(probe_releases) {
            drop(release);
            let woken = task.await?;
            probes.push(woken.saturating_sub(next_stamp(&mut stamps)?) as f64 / 1e3);
        }
        let release = mono_ns();
        drop(herd_release);
        let mut last = release;
        for task in tasks {
            last = last.max(task.await?);
        }
        Ok(crowd_finish(sample, probes, last - release))
    }))
    .await
}

pub(crate) fn run_sync<B: SyncBackend>(b: &B, job: &Job) -> io::Result<Sample> {
    let crowd = Crowd::new(job)?;
    let t0 = mono_ns();
    let mut children = Vec::with_capacity(job.n);
    let mut cmd = b.command(&crowd.herd);
    for _ in 0..Crowd::herd_size(job) {
        children.push(b.spawn(&mut cmd, &crowd.herd)?);
    }
    for probe in &crowd.probes {
        children.push(b.spawn(&mut b.command(probe), probe)?);
    }
    let spawn_ns = mono_ns() - t0;
    let Crowd {
        herd,
        probes,
        herd_release,
        probe_releases,
        mut stamps,
    } = crowd;
    drop((cmd, herd, probes)); // The parent's copies of the children's ends.
    let sample = idle(job, spawn_ns);
    let mut probes = Vec::new();
    let probe_children = children.split_off(Crowd::herd_size(job));
    for (mut child, release) in probe_children.into_iter().zip(probe_releases) {
        drop(release);
        b.wait(&mut child)?;
        let woken = mono_ns();
        probes.push(woken.saturating_sub(next_stamp(&mut stamps)?) as f64 / 1e3);
    }
    let release = mono_ns();
    drop(herd_release);
    for child in &mut children {
        b.wait(child)?;
    }
    Ok(crowd_finish(sample, probes, mono_ns() - release))
}
