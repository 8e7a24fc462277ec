//! Side-by-side benchmark: `childfd` against `async-process`, `tokio::process`, `std` and the
//! kernel floor, on the same workloads in the same run.
//!
//! ```text
//! cargo bench --features tokio --bench compare  # full run (~13 minutes on 2 cores)
//! cargo bench --bench compare               # the same without the `childfd-tokio` row
//! cargo bench --bench compare -- --quick    # CI smoke run (< 1 minute), asserts nothing
//! cargo bench --bench compare -- --reps 3 --backends childfd,limit --workloads seq,latency
//! ```
//!
//! Every (workload, repetition, backend) runs in a fresh worker process (this binary again,
//! with `--worker`), interleaved: repetition 1 of every backend, then repetition 2, ... Each
//! figure is the median, min and max over the repetitions; the ratio to `limit` is computed
//! per repetition, then its median is shown. Tables go to stdout, Markdown to
//! `target/bench/compare.md`, a chart to `target/bench/compare.svg`.
//!
//! Backends: `childfd` (under `async_io::block_on`), `childfd-flb` (under
//! `futures_lite::future::block_on`), `childfd-blocking` (`wait_blocking`), `childfd-tokio`
//! (`childfd::tokio` on a current-thread runtime; only with `--features tokio`), the floors of
//! issue 11 built from the crate's own spawn engine (`pidfd-aio`, `pidfd-tokio`,
//! `pidfd-clone`: see `own.rs`), `async-process`, `tokio-ct`, `tokio-mt`, `std`, `limit` (the
//! kernel floor: raw `posix_spawn` + `waitpid`), and `fork` (raw `fork` + `execve`, workloads
//! 1 and 5). After the tables: the targets, then every `childfd` row over its floor.
//! Workloads: `seq`, `fanout`, `latency`, `crowd`, `heap`.
//!
//! `childfd` can also be measured with each of its mechanisms forced, as extra backends:
//! `CHILDFD_BENCH_FORCE=thread,pidfd` adds `childfd:thread` and `childfd:pidfd`, whose workers
//! run with `CHILDFD_BACKEND=thread` (or `pidfd`).

#[cfg(target_os = "linux")]
mod backends;
#[cfg(target_os = "linux")]
mod chart;
#[cfg(target_os = "linux")]
mod crowd;
#[cfg(target_os = "linux")]
mod own;
#[cfg(all(target_os = "linux", feature = "tokio"))]
mod own_tokio;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(target_os = "linux")]
mod workloads;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("compare: Linux only for now");
}

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        // Child modes come first: nothing else runs in those processes.
        Some("--stamp") => sys::stamp_child(),
        Some("--hold") => sys::hold_child(),
        Some("--worker") => workloads::main(&args[1..]),
        _ => orchestrate(&args),
    }
}

#[cfg(target_os = "linux")]
use report::{Metric, Runs, Section};

/// The default backends, in table order; `limit` is the reference of every ratio.
#[cfg(target_os = "linux")]
const BACKENDS: &[&str] = &[
    "childfd",
    "childfd-flb",
    "childfd-blocking",
    "pidfd-aio",
    #[cfg(feature = "tokio")]
    "childfd-tokio",
    "pidfd-tokio",
    "pidfd-clone",
    "async-process",
    "tokio-ct",
    "tokio-mt",
    "std",
    "limit",
];

#[cfg(target_os = "linux")]
fn orchestrate(args: &[String]) {
    let mut quick = false;
    let mut reps = None;
    let mut only_backends: Option<Vec<String>> = None;
    let mut only_workloads: Option<Vec<String>> = None;
    let mut it = args.iter();
    let list =
        |v: Option<&String>| Some(v.map_or(vec![], |v| v.split(',').map(String::from).collect()));
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--reps" => reps = it.next().and_then(|v| v.parse().ok()),
            "--backends" => only_backends = list(it.next()),
            "--workloads" => only_workloads = list(it.next()),
            "--bench" => {} // added by `cargo bench`
            other => eprintln!("compare: ignoring unknown argument {other:?}"),
        }
    }
    let reps: usize = reps.unwrap_or(if quick { 2 } else { 5 }).max(1);
    let mut backends: Vec<String> = BACKENDS.iter().map(|b| b.to_string()).collect();
    if let Ok(force) = std::env::var("CHILDFD_BENCH_FORCE") {
        let forced = force
            .split(',')
            .filter(|m| !m.is_empty())
            .map(|m| format!("childfd:{m}"));
        backends.splice(1..1, forced);
    }
    let mut sections = sections(quick, &backends);
    sections.retain(|s| {
        only_workloads
            .as_ref()
            .map_or(true, |w| w.iter().any(|w| w == s.workload))
    });
    for s in &mut sections {
        s.backends
            .retain(|b| only_backends.as_ref().map_or(true, |o| o.contains(b)));
    }

    let header = report::header(quick, reps);
    println!("{header}");
    let mut markdown = header.clone();
    let started = std::time::Instant::now();
    let mut all_runs = Vec::new();
    for section in &sections {
        let runs = run_section(section, reps);
        let (text, md) = report::tables(section, &runs);
        println!("{text}");
        markdown.push_str(&md);
        all_runs.push(runs);
    }
    let mut summary = report::targets(&sections, &all_runs);
    summary.push_str(&report::floors(&sections, &all_runs));
    println!("{summary}");
    markdown.push_str(&summary);
    let elapsed = format!("\nTotal time: {:.0} s\n", started.elapsed().as_secs_f64());
    println!("{elapsed}");
    markdown.push_str(&elapsed);

    let dir = report::out_dir();
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("compare.md"), &markdown))
        .and_then(|()| chart::draw(&dir.join("compare.svg"), &sections, &all_runs));
    match written {
        Ok(()) => println!("Wrote {0}/compare.md and {0}/compare.svg", dir.display()),
        Err(e) => eprintln!("compare: writing {}: {e}", dir.display()),
    }
}

/// Runs one section: repetition by repetition, every backend once per repetition.
#[cfg(target_os = "linux")]
fn run_section(section: &Section, reps: usize) -> Runs {
    let exe = std::env::current_exe().expect("current_exe");
    let mut runs = Runs::new(section, reps);
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for rep in 0..reps {
        for (b, backend) in section.backends.iter().enumerate() {
            if progress {
                eprint!("\r{}: rep {}/{reps}, {backend:<16}", section.title, rep + 1);
            }
            let mut cmd = std::process::Command::new(&exe);
            cmd.args(["--worker", section.workload, backend])
                .args(&section.params);
            if let Some((_, mech)) = backend.split_once(':') {
                cmd.env("CHILDFD_BACKEND", mech);
            }
            runs.record(b, rep, run_worker(cmd, backend));
        }
    }
    if progress {
        eprint!("\r{:100}\r", "");
    }
    runs
}

#[cfg(target_os = "linux")]
fn run_worker(mut cmd: std::process::Command, backend: &str) -> Option<Vec<(String, f64)>> {
    let out = match cmd.stderr(std::process::Stdio::inherit()).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("\ncompare: worker {backend}: {e}");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("RESULT "));
    let Some(line) = line.filter(|_| out.status.success()) else {
        eprintln!("\ncompare: worker {backend} failed ({})", out.status);
        return None;
    };
    let pair = |kv: &str| {
        let (k, v) = kv.split_once('=')?;
        Some((k.to_string(), v.parse().ok()?))
    };
    Some(line.split_whitespace().filter_map(pair).collect())
}

#[cfg(target_os = "linux")]
static SEQ: [Metric; 3] = [
    Metric::new("rate", "children/s", 0, false),
    Metric::new("wall_us", "wall µs/child", 1, true),
    Metric::new("cpu_us", "parent CPU µs/child", 1, true),
];
#[cfg(target_os = "linux")]
static FAN: [Metric; 5] = [
    Metric::new("wall_ms", "wall ms", 1, true),
    Metric::new("cpu_ms", "parent CPU ms", 1, true),
    Metric::new("threads", "threads", 0, false),
    Metric::new("fds", "extra fds", 0, false),
    Metric::new("peak_rss_mib", "peak RSS MiB", 1, false),
];
#[cfg(target_os = "linux")]
static LATENCY: [Metric; 2] = [
    Metric::new("p50", "p50 µs", 1, true),
    Metric::new("p99", "p99 µs", 1, true),
];
#[cfg(target_os = "linux")]
static CROWD: [Metric; 8] = [
    Metric::new("threads", "threads", 0, false),
    Metric::new("fds", "extra fds", 0, false),
    Metric::new("fds_per_child", "fds/child", 2, false),
    Metric::new("rss_mib", "RSS MiB", 1, false),
    Metric::new("idle_cpu_ms", "idle CPU ms", 1, false),
    Metric::new("spawn_s", "spawn all s", 2, true),
    Metric::new("probe_us", "probe µs", 1, true),
    Metric::new("drain_ms", "drain ms", 1, true),
];

#[cfg(target_os = "linux")]
const SEQ_NOTE: &str = "parent CPU = getrusage(RUSAGE_SELF) user+sys of the parent process \
    (all its threads, not the children's), per child";
#[cfg(target_os = "linux")]
const FAN_NOTE: &str = "children are awaited in spawn order by one task; threads = max of /proc/self/task after the spawns and after the \
    awaits; extra fds = /proc/self/fd beyond the count before the backend existed (same two \
    points); peak RSS = VmHWM of the parent (a fresh process per run)";
#[cfg(target_os = "linux")]
const LATENCY_NOTE: &str = "the child (this binary, --stamp) writes its CLOCK_MONOTONIC to its \
    stdout pipe and _exit(0)s; the parent reads the pipe to EOF, awaits the exit, then reads \
    the clock: latency = that − the child's stamp";
#[cfg(target_os = "linux")]
const CROWD_NOTE: &str = "each child (this binary, --hold) blocks reading a pipe; async \
    backends await every child in its own task (tokio::spawn, or a smol::Executor task), \
    blocking ones in spawn order. Once all are spawned and every waiter is pending, the parent \
    samples threads, extra fds (its own pipes excluded) and VmRSS, then stays idle (idle CPU = \
    the parent's CPU meanwhile). probe = median over 10 children released one at a time while \
    all the others idle of (waiter woken − the child's CLOCK_MONOTONIC stamp, taken just \
    before its _exit): the exit-notification latency amid the crowd. drain = the rest are \
    released at once (one shared pipe closed): last waiter woken − release, which includes the \
    kernel running every exit on the available cores";
#[cfg(target_os = "linux")]
const HEAP_NOTE: &str = "`fork` = raw fork + execve + waitpid (copies the parent's page \
    tables); every other backend spawns through posix_spawn (clone(CLONE_VM|CLONE_VFORK)), \
    via std or directly";

#[cfg(target_os = "linux")]
const SPAWN_AWAIT: &str = "(spawn /bin/true, await exit)";

/// The workloads and what each reports.
#[cfg(target_os = "linux")]
fn sections(quick: bool, backends: &[String]) -> Vec<Section> {
    let q = |full: usize, quick_n: usize| if quick { quick_n } else { full };
    let all = backends.to_vec();
    let mut with_fork = all.clone();
    with_fork.push("fork".into());
    let (seq, fan1, fan2, lat) = (q(2000, 200), q(200, 50), q(1000, 200), q(1000, 100));
    let (crowd, idle_ms, heap, heap_n) = (q(5000, 500), q(2000, 500), q(2048, 256), q(500, 100));
    // A fork of a 2 GiB parent takes ~90 ms here: fewer children keep the run short.
    let fork_n = q(50, 20);
    let heap_note = format!("{HEAP_NOTE}; `fork` spawns {fork_n} children instead of {heap_n}");
    let idle = format!("{CROWD_NOTE}; idle for {} s", idle_ms as f64 / 1000.0);
    vec![
        Section::new(
            "seq",
            format!("1. sequential: {seq} × {SPAWN_AWAIT}"),
            &[("n", seq)],
            with_fork.clone(),
            &SEQ,
            SEQ_NOTE,
        ),
        Section::new(
            "fanout",
            format!("2a. fan-out: spawn {fan1} × /bin/true at once, then await all"),
            &[("n", fan1)],
            all.clone(),
            &FAN,
            FAN_NOTE,
        ),
        Section::new(
            "fanout",
            format!("2b. fan-out: spawn {fan2} × /bin/true at once, then await all"),
            &[("n", fan2)],
            all.clone(),
            &FAN,
            "as 2a",
        ),
        Section::new(
            "latency",
            format!("3. exit-notification latency ({lat} children per repetition)"),
            &[("n", lat)],
            all.clone(),
            &LATENCY,
            LATENCY_NOTE,
        ),
        Section::new(
            "crowd",
            format!("4. idle crowd: {crowd} children idle at once, then released together"),
            &[("n", crowd), ("idle_ms", idle_ms)],
            all,
            &CROWD,
            &idle,
        ),
        Section::new(
            "heap",
            format!("5. large parent: {heap} MiB heap touched, then {heap_n} × {SPAWN_AWAIT}"),
            &[("n", heap_n), ("heap_mib", heap), ("fork_n", fork_n)],
            with_fork,
            &SEQ,
            &heap_note,
        ),
    ]
}
