//! Heap allocations per spawn and wait through `childfd::tokio` on a current-thread runtime,
//! against its floor: the engine's spawn, the pidfd awaited in tokio's `AsyncFd`, then
//! `waitid`. The crate's share is the child's shared state alone: the pidfd is lent to tokio
//! by number (`state::LentPidFd`), not shared through an `Arc` (issue 13). Everything runs on
//! the calling thread, so it alone is counted.
#![cfg(all(feature = "tokio", target_os = "linux"))]

use std::collections::BTreeMap;

use platform::testing::CountingAlloc;
use platform::unix::prepare::SpawnRequest;
use tokio::io::{unix::AsyncFd, Interest};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const RUNS: u64 = 100;

#[test]
fn one_allocation_over_the_tokio_floor() {
    let backend = childfd::backend().unwrap();
    if backend.name() != "pidfd" {
        eprintln!("SKIP: the allocation budget is for the pidfd backend, not {backend}");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let no_env = BTreeMap::new();
    let floor = CountingAlloc::per_run(RUNS, || {
        let req = SpawnRequest::new("/bin/true".as_ref(), &[], &no_env);
        let pidfd = platform::linux::spawn(&req, &mut [], true)
            .unwrap()
            .pidfd
            .unwrap();
        rt.block_on(async {
            // The test owns the pidfd for as long as the `AsyncFd` lives.
            #[allow(deprecated)]
            let source = AsyncFd::with_interest(pidfd, Interest::READABLE).unwrap();
            loop {
                let mut ready = source.readable().await.unwrap();
                if let Some(info) = source.get_ref().try_wait().unwrap() {
                    assert!(info.status.success());
                    break;
                }
                ready.clear_ready();
            }
        });
    });
    // One command spawned again and again, as a job runner does.
    let mut command = childfd::tokio::Command::new("/bin/true");
    let crate_ = CountingAlloc::per_run(RUNS, || {
        let mut child = command.spawn().unwrap();
        assert!(rt.block_on(child.wait()).unwrap().success());
    });
    println!("allocations per spawn + wait: childfd::tokio {crate_:.2}, its floor {floor:.2}");
    // tokio's own count varies by a fraction between runs (its registration slab and release
    // list grow now and then), in the floor as in the crate: compare the difference.
    assert!(
        crate_ - floor <= 1.5,
        "{crate_} against the floor's {floor}"
    );
}
