//! The closing table, and how times and sizes are written.

use std::time::Duration;

use crate::run::{Limits, Outcome};

/// Prints one row per job (status, wall time, the shell's user and system CPU and peak RSS
/// from its reap, and its whole tree's CPU and peak memory from the job), the processes jobs
/// left behind, and a summary line.
pub(crate) fn print(
    commands: &[String],
    outcomes: &[Option<Outcome>],
    limits: &Limits,
    elapsed: Duration,
) {
    let header = [
        "#",
        "job",
        "status",
        "wall",
        "user",
        "sys",
        "peak RSS",
        "tree CPU",
        "tree peak",
    ];
    let mut rows = vec![header.map(String::from)];
    for (i, (cmd, outcome)) in commands.iter().zip(outcomes).enumerate() {
        let (status, numbers) = match outcome {
            None => ("not started".to_string(), None),
            Some(o) => (o.status_text(), o.exit.as_ref().ok()),
        };
        let numbers = match numbers {
            Some(e) if e.usage_known() => [
                secs(e.wall_time()),
                secs(e.user_time()),
                secs(e.system_time()),
                bytes(e.max_rss()),
            ],
            Some(e) => [secs(e.wall_time()), dash(), dash(), dash()],
            None => [dash(), dash(), dash(), dash()],
        };
        let [wall, user, sys, rss] = numbers;
        let (tree_cpu, tree_peak) = match outcome.as_ref().and_then(|o| o.tree.as_ref()) {
            Some(Ok(tree)) => (
                secs(tree.cpu_user() + tree.cpu_system()),
                tree.memory_peak().map_or_else(dash, bytes),
            ),
            _ => (dash(), dash()),
        };
        rows.push([
            (i + 1).to_string(),
            job_label(cmd),
            status,
            wall,
            user,
            sys,
            rss,
            tree_cpu,
            tree_peak,
        ]);
    }

    let mut widths = [0; 9];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    println!();
    for row in &rows {
        let mut line = String::new();
        for (col, (cell, w)) in row.iter().zip(widths).enumerate() {
            // Text to the left, numbers to the right.
            let cell = match col {
                1 | 2 => format!("{cell:<w$}"),
                _ => format!("{cell:>w$}"),
            };
            line.push_str(&cell);
            line.push_str("  ");
        }
        println!("{}", line.trim_end());
    }

    for (i, o) in outcomes.iter().enumerate() {
        if let Some(o) = o.as_ref().filter(|o| !o.strays.is_empty()) {
            println!(
                "job {} left {} process(es) running in its group after its shell ended: {:?}",
                i + 1,
                o.strays.len(),
                o.strays
            );
        }
    }

    let ran: Vec<&Outcome> = outcomes.iter().flatten().collect();
    let failed = ran.iter().filter(|o| o.failed()).count();
    let timeout = match limits.timeout {
        Duration::ZERO => "no timeout".to_string(),
        t => format!("timeout {}", secs(t)),
    };
    println!(
        "\n{} of {} jobs run in {} (at most {} at once, {timeout}): {} ok, {failed} failed\n\
         jobs: {}",
        ran.len(),
        commands.len(),
        secs(elapsed),
        limits.jobs,
        ran.len() - failed,
        childfd::job_support().map_or_else(|e| e.to_string(), |s| s.to_string()),
    );
}

/// A command on one line of at most 40 characters.
pub(crate) fn job_label(cmd: &str) -> String {
    const MAX: usize = 40;
    let one_line = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}

/// `0.42s`, `12.3s`, `3m07s`.
pub(crate) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        s if s < 10.0 => format!("{s:.2}s"),
        s if s < 60.0 => format!("{s:.1}s"),
        _ => format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60),
    }
}

/// `812 KiB`, `171.4 MiB`, `2.05 GiB`.
pub(crate) fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n < KIB * KIB {
        format!("{:.0} KiB", n / KIB)
    } else if n < KIB * KIB * KIB {
        format!("{:.1} MiB", n / (KIB * KIB))
    } else {
        format!("{:.2} GiB", n / (KIB * KIB * KIB))
    }
}

fn dash() -> String {
    "-".to_string()
}
