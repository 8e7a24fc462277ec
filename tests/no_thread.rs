//! A program that awaits its children starts no thread of this crate, however it awaits them:
//! futures, blocking waits, a set, a status future that outlives its `Child`. Its own binary:
//! threads are process-wide.
#![cfg(target_os = "linux")]

mod common;

use childfd::{ChildSet, Command};
use common::{block_on, thread_names};

fn ours() -> Vec<String> {
    thread_names()
        .into_iter()
        .filter(|n| n.starts_with("childfd"))
        .collect()
}

#[test]
fn awaiting_children_starts_no_thread_of_the_crate() {
    if childfd::backend().unwrap().name() != "pidfd" {
        common::skip("the other backends are watched by the backstop reactor's thread");
        return;
    }
    let spawn = || Command::new("sleep").arg("0.1").spawn().unwrap();
    let mut kids: Vec<_> = (0..20).map(|_| spawn()).collect();
    for kid in &mut kids[..10] {
        assert!(block_on(kid.status()).unwrap().success());
    }
    for kid in &mut kids[10..] {
        assert!(kid.wait_blocking().unwrap().status().success());
    }
    // A status future that outlives its `Child`, as `async_process` code often has.
    for _ in 0..10 {
        let mut kid = spawn();
        let status = kid.status();
        drop(kid);
        assert!(block_on(status).unwrap().success());
    }
    let mut set = ChildSet::new();
    for _ in 0..10 {
        set.insert(spawn());
    }
    while let Some(exit) = set.next_blocking() {
        assert!(exit.unwrap().1.status().success());
    }
    assert_eq!(ours(), Vec::<String>::new());
}
