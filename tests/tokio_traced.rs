//! `childfd::tokio`'s wait when readiness is not an exit: a zombie its paused tracer holds
//! keeps the pidfd readable, and tokio's driver would report it at every turn. Its own binary:
//! it reads the process's CPU time.
#![cfg(all(target_os = "linux", feature = "tokio"))]

mod common;

use std::time::Duration;

use childfd::tokio::Command;
use common::{cpu_during, have_strace, paused_tracer};

#[test]
fn a_zombie_held_by_a_paused_tracer_makes_no_tokio_waiter_spin() {
    if !have_strace() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let mut child = Command::new("sleep").arg("0.3").spawn().unwrap();
    let tracer = paused_tracer(child.id().unwrap());
    // A waiter in a current-thread runtime's `block_on`: tokio's driver watches the pidfd
    // alone, and the thread that spins, if one does, is this runtime's.
    let waiter = std::thread::spawn(move || {
        let status = rt.block_on(child.wait());
        (status, child.id())
    });

    // The child exits after 0.3 s; its zombie is then readable but held by the tracer.
    let (used, wall) = cpu_during(Duration::from_millis(500), Duration::from_secs(1));
    // Spinning burns a whole CPU (about a second here); backing off, a few ms.
    assert!(
        used < wall / 4,
        "{used:?} of CPU in {wall:?} while the zombie was held by a tracer"
    );
    assert!(
        !waiter.is_finished(),
        "the wait returned while the zombie was held"
    );

    // Once the tracer goes, the waiter gets the child's real status.
    let mut tracer = tracer;
    tracer.kill().unwrap();
    tracer.wait().unwrap();
    let (status, id) = waiter.join().unwrap();
    assert!(status.unwrap().success());
    assert_eq!(id, None, "id() is None once a wait returned the exit");
}
