//! Who is woken by a child's exit, and what no waiter may do to another: a panicking waker, a
//! traced zombie that stays readable, a `fork()` of a program that used the crate, a live
//! child nobody awaits. Its own binary: thread counts and the reactor are process-wide.
#![cfg(target_os = "linux")]

mod common;

use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use childfd::Command;
use common::{
    block_on, children, cpu_during, eventually, have_strace, in_forked_copy, paused_tracer,
};

fn pidfd_backend() -> bool {
    childfd::backend().unwrap().name() == "pidfd"
}

fn is_child(pid: u32) -> bool {
    children().iter().any(|(p, _)| *p == pid)
}

/// A waker that panics, as a buggy executor's might.
struct Panicking(AtomicBool);

impl Wake for Panicking {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
        panic!("this waker panics on purpose");
    }
}

#[test]
fn a_panicking_waker_does_not_stop_whoever_reaps() {
    let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
    // The first waiter watches the pidfd in async-io's reactor; the second, refused there
    // (EEXIST), is served by the backstop reactor, whose thread calls its waker.
    let mut first = pin!(child.status());
    let mut second = pin!(child.status());
    let noop = Waker::noop();
    assert!(first
        .as_mut()
        .poll(&mut Context::from_waker(noop))
        .is_pending());
    let panicking = Arc::new(Panicking(AtomicBool::new(false)));
    let waker = Waker::from(panicking.clone());
    assert!(second
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    assert!(
        eventually(Duration::from_secs(10), || panicking
            .0
            .load(Ordering::SeqCst)),
        "the waker was never called"
    );
    // Whoever reaped survived it, and both waiters see the exit.
    match second.as_mut().poll(&mut Context::from_waker(noop)) {
        Poll::Ready(status) => assert!(status.unwrap().success()),
        Poll::Pending => panic!("the exit was published before the waker ran"),
    }
    assert!(block_on(first).unwrap().success());
    // The backstop still works: a dropped child is reaped, an awaited one noticed.
    let dropped = Command::new("true").spawn().unwrap();
    let pid = dropped.id();
    drop(dropped);
    assert!(
        eventually(Duration::from_secs(10), || !is_child(pid)),
        "the backstop reactor stopped after a waker panicked"
    );
    let status = block_on(Command::new("sh").args(["-c", "exit 3"]).status()).unwrap();
    assert_eq!(status.code(), Some(3));
}

#[test]
fn a_zombie_held_by_a_paused_tracer_makes_nobody_spin() {
    if !have_strace() {
        return;
    }
    // Three children, one per kind of waiter: an awaited future, a blocking wait, and a
    // dropped child left to the backstop. Each is traced by a strace that is then stopped, so
    // its zombie stays readable and unreapable until the tracer goes.
    let spawn = || Command::new("sleep").arg("0.3").spawn().unwrap();
    let (mut awaited, mut blocking, dropped) = (spawn(), spawn(), spawn());
    let tracers: Vec<_> = [awaited.id(), blocking.id(), dropped.id()]
        .into_iter()
        .map(paused_tracer)
        .collect();
    let dropped_pid = dropped.id();
    drop(dropped);
    let future = awaited.status();
    let waiter = std::thread::spawn(move || block_on(future));
    let blocker = std::thread::spawn(move || blocking.wait_blocking());

    // The children exit after 0.3 s; their zombies are then readable but held by the tracers.
    let (used, wall) = cpu_during(Duration::from_millis(500), Duration::from_secs(1));
    // A spinning waiter burns a whole CPU (about a second here); a backing-off one a few ms.
    assert!(
        used < wall / 4,
        "{used:?} of CPU in {wall:?} while zombies were held by a tracer"
    );

    // Once the tracers go, every waiter gets its child's real status.
    for mut tracer in tracers {
        tracer.kill().unwrap();
        tracer.wait().unwrap();
    }
    assert!(waiter.join().unwrap().unwrap().success());
    assert!(blocker.join().unwrap().unwrap().status().success());
    assert!(
        eventually(Duration::from_secs(10), || !is_child(dropped_pid)),
        "the dropped child was not reaped after its tracer left"
    );
}

#[test]
fn a_forked_copy_of_the_program_gets_a_clear_error_not_a_hang() {
    assert!(block_on(Command::new("true").status()).unwrap().success());
    let mut running = Command::new("sleep").arg("0.1").spawn().unwrap();
    let clear_errors = in_forked_copy(|| {
        let spawned = Command::new("true").spawn();
        let waited = running.wait_blocking();
        matches!((spawned, waited), (Err(s), Err(w))
            if s.kind() == std::io::ErrorKind::Unsupported
                && w.kind() == std::io::ErrorKind::Unsupported)
    });
    assert!(clear_errors, "the forked copy hung or got no clear error");
    // The parent is unaffected.
    assert!(running.wait_blocking().unwrap().status().success());
}

#[test]
fn a_live_child_nobody_awaits_stays_a_zombie_until_asked() {
    if !pidfd_backend() {
        println!("SKIP: only the pidfd backend leaves an unawaited child to its waiter");
        return;
    }
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    assert!(
        eventually(Duration::from_secs(10), || children()
            .iter()
            .any(|(p, state)| *p == pid && *state == 'Z')),
        "the child should exit and wait, a zombie, for its Child: {:?}",
        children()
    );
    assert!(child.try_status().unwrap().unwrap().success());
    assert!(!is_child(pid), "try_status reaped it");
}

#[test]
fn a_signalled_child_reports_the_signal_to_every_kind_of_waiter() {
    let mut a = Command::new("sleep").arg("10").spawn().unwrap();
    let mut b = Command::new("sleep").arg("10").spawn().unwrap();
    a.kill().unwrap();
    b.kill().unwrap();
    assert_eq!(block_on(a.status()).unwrap().signal(), Some(9));
    assert_eq!(b.wait_blocking().unwrap().status().signal(), Some(9));
}
