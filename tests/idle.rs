//! 10,000 idle children (500 with the `thread` backend) cost one descriptor each and no thread; reaping them, awaited through a
//! `ChildSet` or dropped, takes at most two threads in all (async-io's and the backstop's).
//! Its own binary: it counts process-wide threads and raises RLIMIT_NOFILE.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use childfd::{ChildSet, Command};
use common::{children, eventually, open_fds, thread_names};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// How many children, and descriptors per child: a pidfd each; the `thread` backend costs a
/// thread and a socket pair per running child, so fewer there.
fn children_to_spawn() -> (usize, usize) {
    match childfd::backend().unwrap().name() {
        "pidfd" => (10_000, 1),
        _ => (500, 3),
    }
}

/// Threads other than the test harness's own.
fn extra_threads(harness: usize) -> usize {
    thread_names().len().saturating_sub(harness)
}

#[test]
fn ten_thousand_idle_children_need_no_thread() {
    let limit = getrlimit(Resource::Nofile);
    let (count, per_child) = children_to_spawn();
    let wanted = (count * per_child) as u64 + 256;
    let maximum = limit.maximum.map(|max| max.max(wanted));
    let raised = Rlimit {
        current: Some(wanted),
        maximum,
    };
    // Raising the hard limit needs CAP_SYS_RESOURCE.
    if let Err(e) = setrlimit(Resource::Nofile, raised) {
        common::skip(format_args!(
            "RLIMIT_NOFILE cannot be raised to {wanted} ({e}); hard limit {:?}",
            limit.maximum
        ));
        return;
    }
    // The reactor's poller (three descriptors) exists from here on.
    let direct = childfd::backend().unwrap().name() == "pidfd";
    let harness = thread_names().len();
    let fds = open_fds();
    let kids: Vec<_> = (0..count)
        .map(|_| {
            Command::new("sleep")
                .arg("600")
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect();
    if direct {
        assert_eq!(extra_threads(harness), 0, "{:?}", thread_names());
        assert_eq!(open_fds() - fds, count, "one pidfd per child");
    }

    // Half are killed and awaited through a set, half dropped (killed, then reaped by the
    // backstop).
    let mut kids = kids.into_iter();
    let mut set = ChildSet::new();
    for mut kid in kids.by_ref().take(count / 2) {
        kid.kill().unwrap();
        set.insert(kid);
    }
    drop(kids);
    let reaped = async_io::block_on(async {
        let mut n = 0;
        while let Some(exit) = set.next().await {
            assert_eq!(exit.unwrap().1.shell_code(), 128 + 9);
            n += 1;
        }
        n
    });
    assert_eq!(reaped, count / 2);
    assert!(
        eventually(Duration::from_secs(60), || children().is_empty()),
        "{} children left",
        children().len()
    );
    if direct {
        assert!(extra_threads(harness) <= 2, "threads: {:?}", thread_names());
    }
}
