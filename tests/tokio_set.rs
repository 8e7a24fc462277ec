//! `childfd::tokio::ChildSet`: exits in the order they happen, each once, at scale; on every kind
//! of runtime (multi-thread, current-thread, without I/O, entered but not driven, none);
//! `remove`, pipes, cancellation, dropping the set; and tokio's driver as the only watcher.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use childfd::tokio::{ChildSet, Command};
use common::{children, eventually};
use tokio::runtime::{Builder, Runtime};

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

fn is_child(pid: u32) -> bool {
    children().iter().any(|(p, _)| *p == pid)
}

/// `eventually` for a task: sleeps through tokio's timer, up to 10 s.
async fn eventually_async(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// Runs `test` in a task of each kind of runtime (in a task, a current-thread runtime's
/// driver is known to run: the set is watched by tokio alone), failing after a minute rather
/// than hanging.
fn in_each_runtime<F: Future<Output = ()> + Send + 'static>(test: impl Fn() -> F) {
    for (name, rt) in [
        ("multi-thread", multi_thread()),
        ("current-thread", current_thread()),
    ] {
        rt.block_on(async {
            let task = tokio::spawn(test());
            match tokio::time::timeout(Duration::from_secs(60), task).await {
                Ok(joined) => joined.unwrap(),
                Err(_) => panic!("{name}: timed out after 60 s"),
            }
        });
    }
}

/// Three sleepers inserted slowest first; returns whether they came out fastest first.
async fn three_in_exit_order(set: &mut ChildSet) {
    let slow = set.insert(Command::new("sleep").arg("0.6").spawn().unwrap());
    let fast = set.insert(Command::new("sleep").arg("0").spawn().unwrap());
    let middle = set.insert(Command::new("sleep").arg("0.3").spawn().unwrap());
    let mut order = Vec::new();
    while let Some(item) = set.next().await {
        let (pid, exit) = item.unwrap();
        assert!(exit.status().success());
        assert!(!is_child(pid), "reported before it was reaped");
        order.push(pid);
    }
    assert_eq!(order, [fast, middle, slow]);
}

#[test]
fn exits_come_in_the_order_they_happen() {
    in_each_runtime(|| async { three_in_exit_order(&mut ChildSet::new()).await });
}

#[test]
fn hundreds_of_children_each_reported_once_with_its_status() {
    in_each_runtime(|| async {
        let count = 300;
        let mut set = ChildSet::new();
        let mut expected = HashSet::new();
        for i in 0..count {
            let code = (i % 100) as i32;
            let child = sh(&format!("sleep 0.{}; exit {code}", i * 7 % 10))
                .spawn()
                .unwrap();
            expected.insert((set.insert(child), code));
        }
        assert_eq!(set.len(), count);
        let mut seen = HashSet::new();
        while let Some(item) = set.next().await {
            let (pid, exit) = item.unwrap();
            assert_eq!(exit.pid(), pid);
            assert!(
                seen.insert((pid, exit.status().code().unwrap())),
                "{pid} twice"
            );
            assert_eq!(set.len(), count - seen.len());
        }
        assert_eq!(
            seen, expected,
            "every child reported once, with its own status"
        );
        assert!(expected.iter().all(|(pid, _)| !is_child(*pid)));
    });
}

#[test]
fn an_empty_set_is_done_at_once() {
    in_each_runtime(|| async {
        let mut set = ChildSet::new();
        assert!(set.is_empty());
        assert!(set.next().await.is_none());
        assert!(set.try_next().is_none());
        set.insert(Command::new("true").spawn().unwrap());
        assert!(set.next().await.unwrap().unwrap().1.status().success());
        assert!(set.next().await.is_none(), "nothing after the last member");
    });
}

#[test]
fn a_runtime_without_io_falls_back_to_the_crates_reactor() {
    for rt in [
        Builder::new_current_thread().build().unwrap(),
        Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap(),
    ] {
        rt.block_on(async {
            tokio::spawn(async { three_in_exit_order(&mut ChildSet::new()).await })
                .await
                .unwrap()
        });
    }
}

#[test]
fn a_runtime_entered_but_never_driven_and_no_runtime_at_all() {
    let rt = current_thread();
    {
        let _entered = rt.enter();
        // Polled by another executor: tokio's driver never runs; the set is watched by the
        // crate's reactor too, or this would hang.
        common::block_on(three_in_exit_order(&mut ChildSet::new()));
    }
    common::block_on(three_in_exit_order(&mut ChildSet::new()));
    // `block_on` of a current-thread runtime is not one of its tasks: both watch.
    rt.block_on(three_in_exit_order(&mut ChildSet::new()));
}

#[test]
fn a_runtime_shut_down_mid_wait_hands_the_set_to_the_crates_reactor() {
    let rt = multi_thread();
    let handle = rt.handle().clone();
    let (started, waiting) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _entered = handle.enter();
        let mut set = ChildSet::new();
        let pid = set.insert(sh("sleep 0.5; exit 13").spawn().unwrap());
        started.send(()).unwrap();
        // Registered in `rt`'s driver (a multi-thread runtime's is always driven), which is
        // shut down under it.
        let (reported, exit) = common::block_on(set.next()).unwrap().unwrap();
        assert_eq!((reported, exit.status().code()), (pid, Some(13)));
        pid
    });
    waiting.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    rt.shutdown_timeout(Duration::from_secs(1));
    let pid = waiter.join().unwrap();
    assert!(!is_child(pid));
}

#[test]
fn removed_members_are_given_back_with_their_pipes() {
    use tokio::io::AsyncReadExt;
    in_each_runtime(|| async {
        let mut set = ChildSet::new();
        let kept = set.insert(
            Command::new("sleep")
                .arg("30")
                .kill_on_drop(true)
                .spawn()
                .unwrap(),
        );
        let taken = set.insert(
            sh("echo out; exit 2")
                .stdout(childfd::Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut child = set.remove(taken).expect("a member");
        assert!(set.remove(taken).is_none());
        assert_eq!(child.id(), Some(taken));
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        assert_eq!(out, "out\n");
        assert_eq!(child.wait().await.unwrap().code(), Some(2));
        assert!(!is_child(taken));
        assert_eq!(set.len(), 1);

        set.get_mut(kept).unwrap().start_kill().unwrap();
        let (pid, exit) = set.next().await.unwrap().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!((pid, exit.status().signal()), (kept, Some(9)));
        assert!(
            set.next().await.is_none(),
            "the removed child is not reported"
        );
    });
}

#[test]
fn a_member_already_waited_for_is_reported_once() {
    in_each_runtime(|| async {
        let mut set = ChildSet::new();
        let mut child = sh("exit 6").spawn().unwrap();
        let pid = child.id().unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(6));
        assert_eq!(set.insert(child), pid);
        let (reported, exit) = set.try_next().unwrap().unwrap();
        assert_eq!((reported, exit.status().code()), (pid, Some(6)));
        assert!(set.next().await.is_none());
    });
}

#[test]
fn dropping_the_set_leaves_no_child_nor_zombie() {
    let mut pids = Vec::new();
    for rt in [multi_thread(), current_thread()] {
        let batch: Vec<u32> = rt.block_on(async {
            tokio::spawn(async {
                let mut set = ChildSet::new();
                let mut pids = vec![
                    set.insert(
                        Command::new("sleep")
                            .arg("30")
                            .kill_on_drop(true)
                            .spawn()
                            .unwrap(),
                    ),
                    set.insert(Command::new("sleep").arg("0.2").spawn().unwrap()),
                ];
                // A `next()` dropped while pending on the set.
                assert!(tokio::time::timeout(Duration::from_millis(10), set.next())
                    .await
                    .is_err());
                // Exited, never reaped: a zombie until the set's member is dropped (backends
                // that reap in the background have reaped it already).
                let done = Command::new("true").spawn().unwrap();
                let pid = done.id().unwrap();
                let exited = || {
                    children()
                        .iter()
                        .all(|(p, state)| *p != pid || *state == 'Z')
                };
                assert!(eventually_async(exited).await);
                pids.push(set.insert(done));
                drop(set);
                pids
            })
            .await
            .unwrap()
        });
        pids.extend(batch);
    }
    assert!(
        eventually(Duration::from_secs(10), || pids
            .iter()
            .all(|p| !is_child(*p))),
        "{pids:?} among {:?}",
        children()
    );
}

#[test]
fn a_cancelled_next_loses_no_exit() {
    in_each_runtime(|| async {
        let count = 20;
        let mut set = ChildSet::new();
        let mut expected = HashSet::new();
        for i in 0..count {
            let child = sh(&format!("sleep 0.{}; exit {i}", 3 + i % 5))
                .spawn()
                .unwrap();
            expected.insert((set.insert(child), i));
        }
        let mut seen = HashSet::new();
        let mut take = |item: Option<std::io::Result<(u32, childfd::Exit)>>| {
            let (pid, exit) = item.expect("a member left").unwrap();
            assert!(
                seen.insert((pid, exit.status().code().unwrap())),
                "{pid} twice"
            );
        };
        // A wait dropped (most likely before any exit), then exits happen with no one waiting.
        let mut cancelled = 0;
        match tokio::time::timeout(Duration::from_millis(20), set.next()).await {
            Ok(item) => take(item),
            Err(_) => cancelled += 1,
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Then many waits dropped mid-way by a `select!` against a short tick.
        let mut tick = tokio::time::interval(Duration::from_millis(3));
        for _ in 0..count {
            loop {
                tokio::select! {
                    item = set.next() => break take(item),
                    _ = tick.tick() => cancelled += 1,
                }
            }
        }
        assert_eq!(seen, expected);
        assert!(
            cancelled > 0,
            "no wait was cancelled: the test tested nothing"
        );
        assert!(set.next().await.is_none());
    });
}

#[test]
fn stream_of_exits() {
    use futures_lite::StreamExt;
    in_each_runtime(|| async {
        let mut set = ChildSet::new();
        for code in [3, 4, 5] {
            set.insert(sh(&format!("exit {code}")).spawn().unwrap());
        }
        let mut codes: Vec<i32> = (&mut set)
            .map(|item| item.unwrap().1.status().code().unwrap())
            .collect()
            .await;
        codes.sort_unstable();
        assert_eq!(codes, [3, 4, 5]);
    });
}

const ALONE: &str = "CHILDFD_TOKIO_SET_ALONE";

/// The point of the type: tokio's driver watches the set, no thread of async-io or of the
/// crate is started. Run again in a process of its own, where no other test starts them.
#[test]
fn tokio_alone_watches_the_set() {
    if std::env::var_os(ALONE).is_none() {
        let (passed, text) = common::rerun("tokio_alone_watches_the_set", ALONE, "1", None);
        assert!(passed, "{text}");
        let prefix = "SKIP: tokio_alone_watches_the_set: ";
        if let Some(line) = text.lines().find(|l| l.starts_with(prefix)) {
            common::skip(&line[prefix.len()..]);
        }
        return;
    }
    let backend = childfd::backend().unwrap();
    if backend.name() != "pidfd" {
        // Only pidfds go in the set's poller; other backends are watched by the crate's
        // reactor thread (the other tests cover them).
        common::skip(format!(
            "backend {} ({:?}), not pidfd",
            backend.name(),
            backend.reason()
        ));
        return;
    }
    in_each_runtime(|| async { three_in_exit_order(&mut ChildSet::new()).await });
    let threads = common::thread_names();
    assert!(
        !threads
            .iter()
            .any(|t| t == "async-io" || t == "childfd-reactor"),
        "{threads:?}"
    );
    assert!(children().is_empty(), "{:?}", children());
}
