//! Fan-out of 1,000 children awaited through a `ChildSet` (whichever exits first) versus
//! 1,000 `status()` futures awaited in spawn order, interleaved over several repetitions.
//!
//! `cargo bench --bench childset` (`-- --quick` for 200 children, 2 repetitions).

#[cfg(target_os = "linux")]
fn main() {
    use std::time::Instant;

    let quick = std::env::args().any(|a| a == "--quick");
    let (children, reps) = if quick { (200, 2) } else { (1000, 5) };
    raise_fd_limit(children as u64 + 64);
    let mut results: Vec<(&str, Vec<(f64, f64)>)> =
        vec![("ChildSet::next", vec![]), ("status() each", vec![])];
    futures_lite::future::block_on(async {
        childfd::Command::new("/bin/true").status().await.unwrap(); // warm-up
        for _ in 0..reps {
            for (name, samples) in results.iter_mut() {
                let (start, cpu) = (Instant::now(), parent_cpu());
                let spawned: Vec<childfd::Child> = (0..children)
                    .map(|_| childfd::Command::new("/bin/true").spawn().unwrap())
                    .collect();
                if *name == "ChildSet::next" {
                    let mut set = childfd::ChildSet::new();
                    for child in spawned {
                        set.insert(child);
                    }
                    while let Some(exit) = set.next().await {
                        assert!(exit.unwrap().1.status().success());
                    }
                } else {
                    let statuses: Vec<_> = spawned.into_iter().map(|mut c| c.status()).collect();
                    for status in statuses {
                        assert!(status.await.unwrap().success());
                    }
                }
                samples.push((
                    start.elapsed().as_secs_f64() * 1e3,
                    (parent_cpu() - cpu) * 1e3,
                ));
            }
        }
    });
    println!("fan-out: spawn {children} × /bin/true at once, then await all; {reps} repetitions, interleaved");
    println!(
        "{:<16} {:>24} {:>26}",
        "", "wall ms median [min–max]", "parent CPU ms median [min–max]"
    );
    for (name, samples) in &results {
        let stat = |f: fn(&(f64, f64)) -> f64| {
            let mut v: Vec<f64> = samples.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            format!("{:.1} [{:.1}–{:.1}]", v[v.len() / 2], v[0], v[v.len() - 1])
        };
        println!("{name:<16} {:>24} {:>26}", stat(|s| s.0), stat(|s| s.1));
    }
}

/// User + system CPU of this process so far, in seconds (/proc/self/stat, clock ticks).
#[cfg(target_os = "linux")]
fn parent_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[cfg(target_os = "linux")]
fn raise_fd_limit(wanted: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = wanted.min(limit.maximum.unwrap_or(wanted));
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(current),
            maximum: limit.maximum,
        },
    );
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("this benchmark reads /proc: Linux only");
}
