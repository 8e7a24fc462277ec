//! `childfd::tokio` under every kind of tokio runtime (without I/O: tokio_no_io.rs): multi-thread, current-thread, a child spawned on one runtime and awaited on another, a runtime entered but not
//! driven, a runtime shut down mid-wait; never a SIGCHLD handler, never a zombie.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use std::process::Stdio;
use std::time::Duration;

use childfd::tokio::Command;
use tokio::runtime::Builder;

/// Whether `pid` is still a child of ours (running or zombie).
fn is_child(pid: u32) -> bool {
    common::children().iter().any(|(p, _)| *p == pid)
}

fn exit_code(code: i32) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("exit {code}"));
    cmd
}

#[test]
fn multi_thread_runtime() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut child = exit_code(5).spawn().unwrap();
        let pid = child.id().unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(5));
        assert!(!is_child(pid));
        let status = tokio::spawn(async { exit_code(6).status().await })
            .await
            .unwrap();
        assert_eq!(status.unwrap().code(), Some(6));
    });
}

#[test]
fn current_thread_runtime() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        assert_eq!(exit_code(7).status().await.unwrap().code(), Some(7));
        let status = tokio::spawn(async { exit_code(8).status().await })
            .await
            .unwrap();
        assert_eq!(status.unwrap().code(), Some(8));
    });
}

#[test]
fn spawned_on_one_runtime_awaited_on_another() {
    let a = Builder::new_current_thread().enable_all().build().unwrap();
    let mut child = a.block_on(async {
        exit_code(11)
            .stdin(childfd::Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    });
    drop(a);
    let b = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let status = b.block_on(async { child.wait().await.unwrap() });
    assert_eq!(status.code(), Some(11));
}

#[test]
fn runtime_entered_but_never_driven() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let _entered = rt.enter();
    let mut child = exit_code(12).spawn().unwrap();
    // Polled by another executor: tokio's driver is never run, the crate's reactor is.
    let status = common::block_on(child.wait()).unwrap();
    assert_eq!(status.code(), Some(12));
}

#[test]
fn runtime_shut_down_while_waiting() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut child = rt.block_on(async {
        Command::new("sh")
            .args(["-c", "sleep 0.3; exit 13"])
            .spawn()
            .unwrap()
    });
    let pid = child.id().unwrap();
    let handle = rt.handle().clone();
    let waiter = std::thread::spawn(move || {
        let _entered = handle.enter();
        // Registered in `rt`'s driver, which is shut down under it: the wait goes on
        // through the crate's reactor.
        common::block_on(child.wait()).unwrap()
    });
    std::thread::sleep(Duration::from_millis(50));
    rt.shutdown_timeout(Duration::from_secs(1));
    assert_eq!(waiter.join().unwrap().code(), Some(13));
    assert!(!is_child(pid));
}

#[test]
fn task_dropped_at_shutdown_leaves_no_zombie() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
            tx.send(child.id().unwrap()).unwrap();
            child.wait().await
        });
        tokio::task::yield_now().await;
    });
    let pid = rx.recv().unwrap();
    drop(rt); // drops the task, its wait and its Child
    assert!(common::eventually(Duration::from_secs(10), || !is_child(
        pid
    )));
}

#[test]
fn dropped_children_are_reaped_without_sigchld_handler() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pids: Vec<u32> = rt.block_on(async {
        let mut pids = Vec::new();
        for _ in 0..5 {
            let child = Command::new("sleep").arg("0.1").spawn().unwrap();
            pids.push(child.id().unwrap());
            drop(child);
            let mut killed = Command::new("sleep")
                .arg("60")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            pids.push(killed.id().unwrap());
            killed.stdin.take();
        }
        pids
    });
    assert!(common::eventually(Duration::from_secs(10), || pids
        .iter()
        .all(|p| !is_child(*p))));
    assert!(
        !common::sigchld_touched(),
        "a SIGCHLD handler was installed"
    );
}

#[test]
fn extras_exit_signal_shutdown() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut child = Command::new("sh")
            .args(["-c", "head -c 1000000 /dev/zero | cat >/dev/null"])
            .spawn()
            .unwrap();
        let exit = child.exited().await.unwrap();
        assert!(exit.status().success());
        assert!(exit.usage_known() && exit.max_rss() > 0);

        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        child.signal(15).unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().await.unwrap().signal(), Some(15));

        let mut job = Command::new("sh")
            .args(["-c", "sleep 100 & sleep 100"])
            .process_group(0)
            .spawn()
            .unwrap();
        let exit = job.shutdown(Duration::from_secs(5)).await.unwrap();
        assert_eq!(exit.status().signal(), Some(15));
    });
}

#[test]
fn spawn_outside_runtime_with_pipes_panics_as_tokio_and_leaves_no_child() {
    let result = std::panic::catch_unwind(|| {
        Command::new("sleep")
            .arg("61.5")
            .stdout(Stdio::piped())
            .spawn()
    });
    let message = result.unwrap_err();
    let message = message
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or("");
    assert!(
        message.contains("must be called from the context of a Tokio 1.x runtime"),
        "{message}"
    );
    // The child was killed and reaped before the panic.
    let sleeping = |pid: u32| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.ends_with(b"61.5\0"))
    };
    assert!(!common::children().iter().any(|(pid, _)| sleeping(*pid)));
    // Without pipes, no runtime is needed at all.
    let mut child = exit_code(14).spawn().unwrap();
    assert_eq!(common::block_on(child.wait()).unwrap().code(), Some(14));
}

#[test]
fn id_is_some_until_a_wait_returns_the_exit() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id().unwrap();
        // Exited, and on backends that reap in the background already reaped: tokio's
        // `id()` still says `Some` until a wait has returned.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(child.id(), Some(pid));
        while child.try_wait().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(child.id(), None);
        assert!(child.wait().await.unwrap().success());
    });
}

/// A waker that forwards to another: what a combinator like `FuturesUnordered` polls with.
struct Forward(std::task::Waker);

impl std::task::Wake for Forward {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.wake_by_ref();
    }
}

#[test]
fn only_a_block_on_is_trusted_to_drive_tokio() {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Once a wait has run in a `block_on` body, the crate knows that waker's vtable...
    rt.block_on(async { assert_eq!(exit_code(2).status().await.unwrap().code(), Some(2)) });
    // ...and another executor's waker is not mistaken for it: nothing drives tokio's driver
    // there, so the wait completes only if the crate's reactor watches too.
    let handle = rt.handle().clone();
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _entered = handle.enter();
        let mut child = exit_code(3).spawn().unwrap();
        done.send(common::block_on(child.wait()).unwrap().code())
    });
    let code = result.recv_timeout(Duration::from_secs(20));
    assert_eq!(
        code,
        Ok(Some(3)),
        "a foreign executor's wait was left to tokio's idle driver"
    );
    // In a `block_on` body behind a wrapped waker, the probe still finds tokio's scheduler.
    let mut child = exit_code(4).spawn().unwrap();
    let mut wait = Box::pin(child.wait());
    let wrapped = std::future::poll_fn(|cx: &mut Context<'_>| -> Poll<_> {
        let waker = Waker::from(Arc::new(Forward(cx.waker().clone())));
        wait.as_mut().poll(&mut Context::from_waker(&waker))
    });
    assert_eq!(rt.block_on(wrapped).unwrap().code(), Some(4));
}
