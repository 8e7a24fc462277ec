//! Statistics and tables: medians, ranges and per-repetition ratios to `limit`.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;

/// One figure of a table.
pub(crate) struct Metric {
    pub(crate) key: &'static str,
    header: &'static str,
    decimals: usize,
    /// Whether a ratio to `limit` is shown (costs only: higher is worse).
    ratio: bool,
}

impl Metric {
    pub(crate) const fn new(
        key: &'static str,
        header: &'static str,
        decimals: usize,
        ratio: bool,
    ) -> Metric {
        Metric {
            key,
            header,
            decimals,
            ratio,
        }
    }
}

/// One table: a workload with its parameters and the backends it runs.
pub(crate) struct Section {
    pub(crate) workload: &'static str,
    pub(crate) title: String,
    pub(crate) params: Vec<String>,
    pub(crate) backends: Vec<String>,
    pub(crate) metrics: &'static [Metric],
    note: String,
}

impl Section {
    pub(crate) fn new(
        workload: &'static str,
        title: String,
        params: &[(&str, usize)],
        backends: Vec<String>,
        metrics: &'static [Metric],
        note: &str,
    ) -> Section {
        Section {
            workload,
            title,
            params: params.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            backends,
            metrics,
            note: note.to_string(),
        }
    }
}

/// The results of a section: `[backend][rep]`, `None` where the worker failed.
pub(crate) struct Runs {
    results: Vec<Vec<Option<HashMap<String, f64>>>>,
    limit: Option<usize>,
}

/// A metric of one backend over the repetitions.
pub(crate) struct Stats {
    pub(crate) median: f64,
    min: f64,
    max: f64,
    /// Median over the repetitions of (this backend ÷ limit) in the same repetition.
    pub(crate) ratio: Option<f64>,
}

impl Runs {
    pub(crate) fn new(section: &Section, reps: usize) -> Runs {
        Runs {
            results: vec![vec![None; reps]; section.backends.len()],
            limit: section.backends.iter().position(|b| b == "limit"),
        }
    }

    pub(crate) fn record(
        &mut self,
        backend: usize,
        rep: usize,
        sample: Option<Vec<(String, f64)>>,
    ) {
        self.results[backend][rep] = sample.map(|s| s.into_iter().collect());
    }

    pub(crate) fn stats(&self, backend: usize, key: &str) -> Option<Stats> {
        let get = |b: usize, rep: usize| self.results[b][rep].as_ref()?.get(key).copied();
        let reps = self.results[backend].len();
        let values: Vec<f64> = (0..reps).filter_map(|r| get(backend, r)).collect();
        if values.is_empty() {
            return None;
        }
        Some(Stats {
            median: median(&values),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ratio: self
                .limit
                .filter(|l| *l != backend)
                .and_then(|l| self.ratio(backend, l, key)),
        })
    }

    /// Median over the repetitions of (`backend` ÷ `reference`) in the same repetition.
    pub(crate) fn ratio(&self, backend: usize, reference: usize, key: &str) -> Option<f64> {
        let get = |b: usize, rep: usize| self.results[b][rep].as_ref()?.get(key).copied();
        let ratios: Vec<f64> = (0..self.results[backend].len())
            .filter_map(|r| Some(get(backend, r)? / get(reference, r).filter(|v| *v > 0.0)?))
            .collect();
        (!ratios.is_empty()).then(|| median(&ratios))
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn cell(m: &Metric, s: Option<Stats>) -> String {
    let Some(s) = s else {
        return "failed".into();
    };
    let d = m.decimals;
    let mut out = format!("{:.d$}", s.median);
    if s.min != s.max {
        let _ = write!(out, " [{:.d$}–{:.d$}]", s.min, s.max);
    }
    if let Some(r) = s.ratio.filter(|_| m.ratio) {
        let _ = write!(out, " ×{r:.2}");
    }
    out
}

/// The section as a plain-text table and as Markdown.
pub(crate) fn tables(section: &Section, runs: &Runs) -> (String, String) {
    let mut rows = vec![std::iter::once("backend")
        .chain(section.metrics.iter().map(|m| m.header))
        .map(String::from)
        .collect::<Vec<_>>()];
    for (b, name) in section.backends.iter().enumerate() {
        let mut row = vec![name.clone()];
        row.extend(
            section
                .metrics
                .iter()
                .map(|m| cell(m, runs.stats(b, m.key))),
        );
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = format!("== {}\n", section.title);
    for (i, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let pad = widths[c] - v.chars().count();
            if c == 0 {
                let _ = write!(text, "{v}{:pad$}", "");
            } else {
                let _ = write!(text, "  {:pad$}{v}", "");
            }
        }
        text.push('\n');
        if i == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(text, "{}", "-".repeat(total));
        }
    }
    let _ = writeln!(text, "({})", section.note);

    let mut md = format!("\n## {}\n\n", section.title);
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(md, "| {} |", row.join(" | "));
        if i == 0 {
            let _ = writeln!(md, "|---|{}", "---:|".repeat(row.len() - 1));
        }
    }
    let _ = writeln!(md, "\n{}", section.note);
    (text, md)
}

/// What the run is: machine, mode, how to read the tables.
pub(crate) fn header(quick: bool, reps: usize) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown CPU");
    format!(
        "# childfd: side-by-side comparison ({mode})\n\n\
         Machine: {cpus} CPUs ({model}), Linux {kernel}. {reps} repetitions, interleaved \
         (repetition 1 of every backend, then repetition 2, ...), each run in a fresh worker \
         process after {warm} warm-up children.\n\n\
         Cells: median [min–max] over the repetitions; ×r = median over the repetitions of \
         (backend ÷ `limit` in the same repetition): above 1 costs more than the floor.\n\n\
         Backends: `childfd` (this crate, `status().await` under `async_io::block_on`), \
         `childfd-flb` (the same under `futures_lite::future::block_on`: no reactor in the \
         executor), `childfd-blocking` (`Child::wait_blocking()`), `childfd-tokio` \
         (`childfd::tokio`, `wait().await` in a current-thread runtime's `block_on`; built \
         with `--features tokio` only); the floors of issue 11, \
         spawned by this crate's engine (`clone(CLONE_PIDFD)`) with nothing else around the \
         wait: `pidfd-clone` (`epoll_wait` + `waitid` on the calling thread), `pidfd-aio` \
         (the pidfd as an async-io source under `async_io::block_on`, then `waitid`), \
         `pidfd-tokio` (the pidfd in tokio's `AsyncFd` on a current-thread runtime, then \
         `waitid`); \
         `async-process` 2.x (`status().await` under `async_io::block_on`), `tokio-ct` / \
         `tokio-mt` (`tokio::process`, `wait().await` in a current-thread / multi-thread runtime's \
         `block_on`), `std` (`spawn` + blocking `wait`), `limit` (raw `posix_spawn` + blocking \
         `waitpid`: the kernel floor), `fork` (raw `fork` + `execve` + `waitpid`; workloads 1 \
         and 5 only).\n",
        mode = if quick { "--quick" } else { "full run" },
        kernel = kernel.trim(),
        warm = 5,
    )
}

/// The goals `childfd` must eventually reach, with where it stands (nothing is asserted).
pub(crate) fn targets(sections: &[Section], runs: &[Runs]) -> String {
    let find = |workload: &str, key: &str| {
        let i = sections.iter().position(|s| s.workload == workload)?;
        let b = sections[i].backends.iter().position(|b| b == "childfd")?;
        runs[i].stats(b, key)
    };
    let ratio = |w: &str, k: &str| find(w, k).and_then(|s| s.ratio);
    let show = |v: Option<f64>, goal: f64, what: &str| match v {
        Some(v) => format!(
            "{v:.2} (goal ≤ {goal:.2}{what}): {}",
            if v <= goal { "met" } else { "not met" }
        ),
        None => "not measured".to_string(),
    };
    let crowd = match (find("crowd", "threads"), find("crowd", "fds_per_child")) {
        (Some(t), Some(f)) => {
            let met = t.median <= 2.0 && f.median <= 1.01;
            format!(
                "{:.0} threads, {:.2} fds per child (goal ≤ 2 threads, 1 fd per child): {}",
                t.median,
                f.median,
                if met { "met" } else { "not met" }
            )
        }
        _ => "not measured".to_string(),
    };
    format!(
        "\n## Targets for childfd (ratios to limit; reported, not asserted)\n\
         - 1. parent CPU per child: {}\n\
         - 3. latency p50: {}\n\
         - 4. idle crowd: {crowd}\n\
         - 5. large parent, wall per child: {}\n",
        show(ratio("seq", "cpu_us"), 1.10, ""),
        show(ratio("latency", "p50"), 1.05, ""),
        show(ratio("heap", "wall_us"), 1.00, ", no slower than limit"),
    )
}

/// The ratios issue 11 asks for, per workload and figure: each `childfd` row over the floor of
/// its way of waiting, in the same repetition (median over the repetitions), and `childfd`'s
/// parent CPU over tokio's. `childfd-flb` has no floor of its own: its ratio to `pidfd-aio`
/// shows what the hop that remains without a reactor costs.
pub(crate) fn floors(sections: &[Section], runs: &[Runs]) -> String {
    /// (row, its floor, judged against the goal).
    const PAIRS: &[(&str, &str, bool)] = &[
        ("childfd", "pidfd-aio", true),
        ("childfd-blocking", "pidfd-clone", true),
        ("childfd-tokio", "pidfd-tokio", true),
        ("childfd-flb", "pidfd-aio", false),
    ];
    /// (metric, goal): parent CPU, and the exit latency p50 (`probe_us` is one, amid a crowd).
    const FIGURES: &[(&str, f64)] = &[
        ("cpu_us", 1.05),
        ("cpu_ms", 1.05),
        ("p50", 1.03),
        ("probe_us", 1.03),
    ];
    let verdict = |met: bool| if met { "met" } else { "not met" };
    let mut out = String::from(
        "\n## childfd against the floors (issue 11; reported, not asserted)\n\
         Goals: `childfd` ÷ `pidfd-aio`, `childfd-blocking` ÷ `pidfd-clone` and (issue 13) \
         `childfd-tokio` ÷ `pidfd-tokio` ≤ 1.05 for parent CPU and ≤ 1.03 for exit latency \
         p50; `childfd`'s and `childfd-tokio`'s parent CPU below `tokio-ct`'s. \
         Each ratio is the median over the repetitions of the two rows' ratio in the same \
         repetition.\n",
    );
    for (s, r) in sections.iter().zip(runs) {
        let pos = |name: &str| s.backends.iter().position(|b| b == name);
        let ratio = |a: &str, b: &str, key: &str| r.ratio(pos(a)?, pos(b)?, key);
        for m in s.metrics {
            let Some(&(_, goal)) = FIGURES.iter().find(|f| f.0 == m.key) else {
                continue;
            };
            let mut cells = Vec::new();
            for &(a, b, judged) in PAIRS {
                if let Some(v) = ratio(a, b, m.key) {
                    let judgement = match judged {
                        true => format!(" ({})", verdict(v <= goal)),
                        false => String::new(),
                    };
                    cells.push(format!("{a} ÷ {b} {v:.2}{judgement}"));
                }
            }
            if m.key.starts_with("cpu") {
                for row in ["childfd", "childfd-tokio"] {
                    if let Some(v) = ratio(row, "tokio-ct", m.key) {
                        let below = if v < 1.0 { "below" } else { "not below" };
                        cells.push(format!("{row} ÷ tokio-ct {v:.2} ({below} tokio)"));
                    }
                }
            }
            if !cells.is_empty() {
                let workload = s.title.split(':').next().unwrap_or_default();
                let _ = writeln!(out, "- {workload}, {}: {}", m.header, cells.join("; "));
            }
        }
    }
    out
}

/// `target/bench`, next to the `release` (or `debug`) directory holding this binary.
pub(crate) fn out_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let target = exe
        .as_deref()
        .and_then(|e| e.parent())
        .filter(|d| d.ends_with("deps"))
        .and_then(|d| d.parent()?.parent());
    target
        .map_or_else(|| PathBuf::from("target"), |t| t.to_path_buf())
        .join("bench")
}
