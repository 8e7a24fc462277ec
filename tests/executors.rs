//! One small scenario under every way of running futures this crate is meant to work with:
//! plain `block_on`s, smol's executors, tokio's runtimes (which do not drive async-io), with
//! `childfd::driver()` on an executor, and from many OS threads at once.
#![cfg(unix)]

use std::future::Future;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use childfd::{Child, Command, Stdio};
use futures_lite::{future, AsyncReadExt, FutureExt};

/// Awaits `f`, failing the test instead of hanging it if `f` never finishes.
async fn with_timeout<T>(f: impl Future<Output = T>) -> T {
    f.or(async {
        async_io::Timer::after(Duration::from_secs(60)).await;
        panic!("timed out after 60 s");
    })
    .await
}

/// Spawns `sh -c 'echo $1; exit $2' sh <echo> <code>` with its stdout piped.
fn spawn(echo: &str, code: i32) -> Child {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo $1; exit $2", "sh", echo, &code.to_string()]);
    cmd.stdout(Stdio::piped()).spawn().unwrap()
}

/// Reads the child's stdout to the end, then checks both it and the exit code.
async fn check(mut child: Child, echo: &str, code: i32) {
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    stdout.read_to_string(&mut out).await.unwrap();
    assert_eq!(out, format!("{echo}\n"));
    assert_eq!(child.status().await.unwrap().code(), Some(code));
}

/// The scenario: `sh -c 'echo hi; exit 5'`, its output read, its exit code checked.
async fn scenario() {
    with_timeout(check(spawn("hi", 5), "hi", 5)).await
}

/// Starts eight tasks with `spawn` (the scenario on some executor), then awaits them all.
async fn many<F: Future>(spawn: impl Fn() -> F) -> Vec<F::Output> {
    let tasks: Vec<F> = (0..8).map(|_| spawn()).collect();
    let mut outputs = Vec::new();
    for task in tasks {
        outputs.push(with_timeout(task).await);
    }
    outputs
}

#[test]
fn futures_lite_block_on() {
    future::block_on(scenario());
}

#[test]
fn async_io_block_on() {
    async_io::block_on(scenario());
}

#[test]
fn smol_block_on() {
    smol::block_on(scenario());
}

#[test]
fn smol_executor_on_several_threads() {
    let ex = smol::Executor::new();
    let (stop, stopped) = smol::channel::unbounded::<()>();
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| future::block_on(ex.run(stopped.recv())));
        }
        future::block_on(many(|| ex.spawn(scenario())));
        drop(stop);
    });
}

#[test]
fn tokio_current_thread() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    on_tokio(rt);
}

#[test]
fn tokio_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    on_tokio(rt);
}

/// The scenario inside `block_on`, and in tasks on the runtime. No tokio driver is enabled:
/// childfd needs none.
fn on_tokio(rt: tokio::runtime::Runtime) {
    rt.block_on(scenario());
    for result in rt.block_on(many(|| rt.spawn(scenario()))) {
        result.unwrap();
    }
}

#[test]
fn driver_on_smol_executor() {
    let ex = smol::Executor::new();
    ex.spawn(childfd::driver()).detach();
    future::block_on(ex.run(async {
        scenario().await;
        many(|| ex.spawn(scenario())).await;
    }));
    drop(ex);

    // The same with the executor on several threads, dropped (and the driver with it) at the
    // end: children spawned afterwards must still be waited for.
    let ex = smol::Executor::new();
    ex.spawn(childfd::driver()).detach();
    let (stop, stopped) = smol::channel::unbounded::<()>();
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| future::block_on(ex.run(stopped.recv())));
        }
        future::block_on(many(|| ex.spawn(scenario())));
        drop(stop);
    });
    drop(ex);
    future::block_on(scenario());
}

#[test]
fn abandoned_driver_does_not_stall_children() {
    // A driver left on an executor nobody runs any more, but not dropped. This runs in a
    // child process of this test binary, so that a stall there cannot hold up the other tests.
    if std::env::var_os("CHILDFD_TEST_ABANDONED").is_some() {
        let ex = smol::Executor::new();
        ex.spawn(childfd::driver()).detach();
        future::block_on(ex.run(scenario()));
        future::block_on(scenario()); // `ex` is alive, and never run again
        return;
    }
    let mut me = Command::new(std::env::current_exe().unwrap());
    me.args(["abandoned_driver_does_not_stall_children", "--exact"]);
    // Bounded: the scenario's own timeout ends that process.
    let out = future::block_on(me.env("CHILDFD_TEST_ABANDONED", "1").output()).unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("1 passed"), "{report}");
}

#[test]
fn driver_dropped_while_a_child_runs() {
    // The child exits only when its stdin closes, after its driver is gone.
    let mut child = Command::new("sh")
        .args(["-c", "read x; echo $x; exit 7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ex = smol::Executor::new();
    let driver = ex.spawn(childfd::driver());
    future::block_on(ex.run(async {
        for _ in 0..10 {
            future::yield_now().await;
        }
    }));
    drop(driver);
    drop(ex);
    let stdin = child.stdin.as_mut().unwrap();
    future::block_on(futures_lite::AsyncWriteExt::write_all(stdin, b"late\n")).unwrap();
    future::block_on(with_timeout(check(child, "late", 7)));
}

#[test]
fn eight_threads_fifty_children_each() {
    let barrier = Barrier::new(8);
    thread::scope(|s| {
        for t in 0..8 {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                // All fifty are spawned before any is waited for; the last is awaited first.
                let children: Vec<_> = (0..50)
                    .map(|i| {
                        let id = t * 50 + i;
                        (id, spawn(&id.to_string(), id % 256))
                    })
                    .collect();
                future::block_on(with_timeout(async {
                    for (id, child) in children.into_iter().rev() {
                        check(child, &id.to_string(), id % 256).await;
                    }
                }));
            });
        }
    });
}
