//! The worker: one fresh process runs one workload once with one backend and prints
//! `RESULT key=value ...` on stdout. A fresh process per run keeps the peak RSS, the thread
//! count and the CPU time of one backend apart from the others'.
//!
//! Every workload is written twice, once awaiting ([`AsyncBackend`]) and once blocking
//! ([`SyncBackend`]), with the same steps in the same order.

use std::io;
use std::path::PathBuf;

use crate::backends::{AsyncBackend, AsyncProcess, Out, Raw, Spec, Std, SyncBackend, Tokio};
use crate::crowd;
use crate::own::{Childfd, ChildfdBlocking, PidfdAio, PidfdClone, PidfdTokio};
use crate::sys::{self, mono_ns};

const TRUE: &str = "/bin/true";
/// Children spawned and awaited before measuring, so that lazily created runtimes, reactors
/// and threads are not part of a per-child figure.
const WARM_UP: usize = 5;

pub(crate) type Sample = Vec<(&'static str, f64)>;

/// One run, as the orchestrator asked for it.
pub(crate) struct Job {
    pub(crate) workload: String,
    /// Children (or latency samples).
    pub(crate) n: usize,
    /// Heap of the parent, touched before anything else (workload `heap`).
    pub(crate) heap_mib: usize,
    /// How long the crowd stays idle before it is released.
    pub(crate) idle_ms: u64,
    pub(crate) exe: PathBuf,
    /// Descriptors open before the backend existed.
    pub(crate) base_fds: usize,
}

/// `--worker WORKLOAD BACKEND key=value...`: runs the job and prints its result.
pub(crate) fn main(args: &[String]) {
    let (workload, backend) = (args[0].clone(), args[1].as_str());
    let param = |key: &str| {
        args[2..]
            .iter()
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
            .map_or(0, |v| v.parse::<u64>().expect("numeric parameter"))
    };
    sys::raise_nofile();
    let mut job = Job {
        workload,
        n: param("n") as usize,
        heap_mib: param("heap_mib") as usize,
        idle_ms: param("idle_ms"),
        exe: std::env::current_exe().expect("current_exe"),
        base_fds: 0,
    };
    if backend == "fork" && param("fork_n") > 0 {
        job.n = param("fork_n") as usize;
    }
    let heap = vec![1u8; job.heap_mib << 20];
    job.base_fds = sys::fds();
    // `childfd:MECH` is `childfd` with CHILDFD_BACKEND=MECH set by the orchestrator.
    let result = match backend.split(':').next().unwrap_or_default() {
        "childfd" | "childfd-flb" => run_async(
            &Childfd {
                ex: smol::Executor::new(),
                reactorless: backend == "childfd-flb",
            },
            &job,
        ),
        "childfd-blocking" => run_sync(&ChildfdBlocking, &job),
        "pidfd-clone" => sys::Epoll::new().and_then(|epoll| run_sync(&PidfdClone { epoll }, &job)),
        "pidfd-aio" => run_async(
            &PidfdAio {
                ex: smol::Executor::new(),
            },
            &job,
        ),
        "pidfd-tokio" => run_async(&PidfdTokio(Tokio::current_thread()), &job),
        #[cfg(feature = "tokio")]
        "childfd-tokio" => run_async(
            &crate::own_tokio::ChildfdTokio(Tokio::current_thread()),
            &job,
        ),
        "async-process" => run_async(
            &AsyncProcess {
                ex: smol::Executor::new(),
            },
            &job,
        ),
        "tokio-ct" => run_async(&Tokio::current_thread(), &job),
        "tokio-mt" => run_async(&Tokio::multi_thread(), &job),
        "std" => run_sync(&Std, &job),
        "limit" => run_sync(&Raw { fork: false }, &job),
        "fork" => run_sync(&Raw { fork: true }, &job),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("backend {other}"),
        )),
    };
    std::hint::black_box(&heap);
    match result {
        Ok(sample) => {
            let fields: Vec<String> = sample.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("RESULT {}", fields.join(" "));
        }
        Err(e) => {
            eprintln!("worker {} {backend}: {e}", job.workload);
            std::process::exit(1);
        }
    }
}

/// Wall and CPU time (this process only: `getrusage(RUSAGE_SELF)` user + system, all threads).
struct Meter {
    wall: u64,
    cpu: u64,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            wall: mono_ns(),
            cpu: sys::cpu_self_ns(),
        }
    }

    /// (wall ns, cpu ns) since start.
    fn elapsed(&self) -> (f64, f64) {
        let (wall, cpu) = (mono_ns() - self.wall, sys::cpu_self_ns() - self.cpu);
        (wall as f64, cpu as f64)
    }

    fn per_child(&self, n: usize) -> Sample {
        let (wall, cpu) = self.elapsed();
        let n = n as f64;
        vec![
            ("rate", n / (wall / 1e9)),
            ("wall_us", wall / n / 1e3),
            ("cpu_us", cpu / n / 1e3),
        ]
    }
}

/// The largest thread and descriptor counts seen at the sampling points.
#[derive(Default)]
struct Peaks {
    threads: usize,
    fds: usize,
}

impl Peaks {
    fn sample(&mut self, job: &Job) {
        self.threads = self.threads.max(sys::threads());
        self.fds = self.fds.max(sys::fds().saturating_sub(job.base_fds));
    }
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn stamp(bytes: &[u8]) -> io::Result<u64> {
    let bytes = bytes.get(..8).and_then(|b| b.try_into().ok());
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "short stamp");
    Ok(u64::from_ne_bytes(bytes.ok_or_else(bad)?))
}

/// Nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn latency_sample(mut lat: Vec<f64>) -> Sample {
    lat.sort_by(f64::total_cmp);
    vec![
        ("p50", percentile(&lat, 0.5)),
        ("p99", percentile(&lat, 0.99)),
    ]
}

fn fanout_sample(meter: &Meter, peaks: &Peaks) -> Sample {
    let (wall, cpu) = meter.elapsed();
    vec![
        ("wall_ms", wall / 1e6),
        ("cpu_ms", cpu / 1e6),
        ("threads", peaks.threads as f64),
        ("fds", peaks.fds as f64),
        ("peak_rss_mib", mib(sys::status_kib("VmHWM"))),
    ]
}

fn run_async<B: AsyncBackend>(b: &B, job: &Job) -> io::Result<Sample> {
    b.block_on(async {
        let spec = Spec::new(TRUE, &[]);
        let mut cmd = b.command(&spec);
        for _ in 0..WARM_UP {
            b.wait(&mut b.spawn(&mut cmd, &spec)?).await?;
        }
        match job.workload.as_str() {
            "seq" | "heap" => {
                let meter = Meter::start();
                for _ in 0..job.n {
                    b.wait(&mut b.spawn(&mut cmd, &spec)?).await?;
                }
                Ok(meter.per_child(job.n))
            }
            "fanout" => {
                let (meter, mut peaks) = (Meter::start(), Peaks::default());
                let mut children = Vec::with_capacity(job.n);
                for _ in 0..job.n {
                    children.push(b.spawn(&mut cmd, &spec)?);
                }
                peaks.sample(job);
                for child in &mut children {
                    b.wait(child).await?;
                }
                drop(children);
                peaks.sample(job);
                Ok(fanout_sample(&meter, &peaks))
            }
            "latency" => {
                let mut spec = Spec::new(&job.exe, &["--stamp"]);
                spec.stdout = Out::Piped;
                let mut cmd = b.command(&spec);
                let mut lat = Vec::with_capacity(job.n);
                for _ in 0..job.n {
                    let mut child = b.spawn(&mut cmd, &spec)?;
                    let out = b.read_stdout(&mut child).await?;
                    b.wait(&mut child).await?;
                    let done = mono_ns();
                    lat.push(done.saturating_sub(stamp(&out)?) as f64 / 1e3);
                }
                Ok(latency_sample(lat))
            }
            "crowd" => crowd::run_async(b, job).await,
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                other.to_string(),
            )),
        }
    })
}

fn run_sync<B: SyncBackend>(b: &B, job: &Job) -> io::Result<Sample> {
    let spec = Spec::new(TRUE, &[]);
    let mut cmd = b.command(&spec);
    for _ in 0..WARM_UP {
        b.wait(&mut b.spawn(&mut cmd, &spec)?)?;
    }
    match job.workload.as_str() {
        "seq" | "heap" => {
            let meter = Meter::start();
            for _ in 0..job.n {
                b.wait(&mut b.spawn(&mut cmd, &spec)?)?;
            }
            Ok(meter.per_child(job.n))
        }
        "fanout" => {
            let (meter, mut peaks) = (Meter::start(), Peaks::default());
            let mut children = Vec::with_capacity(job.n);
            for _ in 0..job.n {
                children.push(b.spawn(&mut cmd, &spec)?);
            }
            peaks.sample(job);
            for child in &mut children {
                b.wait(child)?;
            }
            drop(children);
            peaks.sample(job);
            Ok(fanout_sample(&meter, &peaks))
        }
        "latency" => {
            let mut spec = Spec::new(&job.exe, &["--stamp"]);
            spec.stdout = Out::Piped;
            let mut cmd = b.command(&spec);
            let mut lat = Vec::with_capacity(job.n);
            for _ in 0..job.n {
                let mut child = b.spawn(&mut cmd, &spec)?;
                let out = b.read_stdout(&mut child)?;
                b.wait(&mut child)?;
                let done = mono_ns();
                lat.push(done.saturating_sub(stamp(&out)?) as f64 / 1e3);
            }
            Ok(latency_sample(lat))
        }
        "crowd" => crowd::run_sync(b, job),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            other.to_string(),
        )),
    }
}
