//! What is shown while the jobs run: live bars on a terminal (indicatif), plain lines
//! otherwise.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::{job_label, secs};
use crate::run::{Outcome, Stop};

pub(crate) enum Progress {
    /// One spinner per running job above an overall bar, on stderr; finished jobs scroll
    /// up above them.
    Live {
        multi: MultiProgress,
        total: ProgressBar,
        running: RefCell<HashMap<usize, ProgressBar>>,
        failed: Cell<usize>,
    },
    /// One line per start, stop and end, on stdout.
    Plain,
}

impl Progress {
    pub(crate) fn new(live: bool, jobs: usize) -> Progress {
        if !live {
            return Progress::Plain;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total = multi.add(ProgressBar::new(jobs as u64));
        total.set_style(style(
            "{elapsed_precise:.dim} [{bar:30.green/dim}] {pos}/{len} jobs done{msg}",
        ));
        total.enable_steady_tick(Duration::from_millis(250));
        Progress::Live {
            multi,
            total,
            running: RefCell::default(),
            failed: Cell::new(0),
        }
    }

    pub(crate) fn started(&self, i: usize, cmd: &str) {
        match self {
            Progress::Live {
                multi,
                total,
                running,
                ..
            } => {
                let bar = multi.insert_before(total, ProgressBar::new_spinner());
                bar.set_style(style("{spinner:.cyan} {prefix} {elapsed:>3} {wide_msg}"));
                bar.set_prefix(format!("[{}]", i + 1));
                bar.set_message(cmd.to_string());
                bar.enable_steady_tick(Duration::from_millis(100));
                running.borrow_mut().insert(i, bar);
            }
            Progress::Plain => println!("[{}] start: {cmd}", i + 1),
        }
    }

    /// `jobs` is stopping the job: `SIGTERM` to its job now, `SIGKILL` to what is left of
    /// it after `grace`. Whether that `SIGKILL` was needed shows in the job's status.
    pub(crate) fn stopping(&self, i: usize, cmd: &str, why: Stop, grace: Duration) {
        let why = match why {
            Stop::Timeout => "timed out",
            Stop::Interrupt => "interrupted",
        };
        let grace = secs(grace);
        match self {
            Progress::Live { running, .. } => {
                if let Some(bar) = running.borrow().get(&i) {
                    bar.set_message(format!(
                        "{why}: SIGTERM, SIGKILL to what is left after {grace} · {cmd}"
                    ));
                }
            }
            Progress::Plain => println!(
                "[{}] {why}: sending SIGTERM to its job, then SIGKILL to what is left \
                 after {grace}",
                i + 1
            ),
        }
    }

    pub(crate) fn finished(&self, i: usize, cmd: &str, outcome: &Outcome) {
        let status = outcome.status_text();
        let wall = outcome
            .exit
            .as_ref()
            .map_or(String::new(), |e| format!(" after {}", secs(e.wall_time())));
        let mut lines = Vec::new();
        if outcome.failed() {
            lines.extend(outcome.output.iter().map(|l| format!("      | {l}")));
        }
        if !outcome.strays.is_empty() {
            lines.push(format!(
                "      ! left {} process(es) running in its group: {:?}",
                outcome.strays.len(),
                outcome.strays
            ));
        }
        match self {
            Progress::Live {
                multi,
                total,
                running,
                failed,
            } => {
                if let Some(bar) = running.borrow_mut().remove(&i) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                let mark = if outcome.failed() { "✗" } else { "✓" };
                let mut text = format!("{mark} [{}] {status}{wall}  {}", i + 1, job_label(cmd));
                for line in lines {
                    text.push('\n');
                    text.push_str(&line);
                }
                let _ = multi.println(text);
                if outcome.failed() {
                    failed.set(failed.get() + 1);
                    total.set_message(format!(", {} failed", failed.get()));
                }
                total.inc(1);
            }
            Progress::Plain => {
                let verb = if outcome.failed() { "FAILED" } else { "ok" };
                println!("[{}] {verb}: {status}{wall}", i + 1);
                for line in lines {
                    println!("{line}");
                }
            }
        }
    }

    /// Clears the live display, so that the table follows the finished lines.
    pub(crate) fn done(&self) {
        if let Progress::Live { multi, total, .. } = self {
            total.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("a valid progress template")
}
