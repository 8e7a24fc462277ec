//! Out of memory, a spawn fails with `ENOMEM` like `std`'s, rather than aborting the process
//! (issue 14, item 1). The case runs in a copy of this binary re-executed with a cap on its
//! address space, so the cap stays out of the other tests.
#![cfg(target_os = "linux")]

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use childfd::Command;
use common::{block_on, children, eventually};

// Large blocks get their own mapping, so that the cap below decides their fate, not what
// malloc's arenas happen to hold.
#[global_allocator]
static ALLOC: platform::testing::MapLargeAllocs = platform::testing::MapLargeAllocs;

const MODE: &str = "CHILDFD_TEST_MEMORY_PRESSURE";

/// Runs `test` in a copy of this binary with `MODE` set, and checks that it ran and passed.
fn rerun(test: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(MODE, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.contains("SKIP:") {
        println!("{text}");
        return;
    }
    println!("{text}");
    assert!(
        out.status.success(),
        "the capped run died: {:?}",
        out.status
    );
    assert!(text.contains("1 passed"), "the capped run did not run");
}

fn status_code(cmd: &mut Command) -> Option<i32> {
    block_on(cmd.status()).unwrap().code()
}

#[test]
fn spawning_at_the_address_space_limit_fails_with_enomem_and_does_not_abort() {
    if std::env::var_os(MODE).is_none() {
        return rerun("spawning_at_the_address_space_limit_fails_with_enomem_and_does_not_abort");
    }
    // Everything that starts once per process (the reactor, async-io's thread, the backend
    // probe) starts now, before the cap.
    assert_eq!(status_code(&mut Command::new("true")), Some(0));
    // A thread that has never spawned: whatever the engine keeps per thread, it has to get
    // it under the cap.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (started, ready) = std::sync::mpsc::channel::<()>();
    let spawner = std::thread::spawn(move || {
        // Started (std maps its signal stack as the thread starts) and in a malloc arena.
        started.send(()).unwrap();
        wait.recv().unwrap();
        let (mut ok, mut enomem) = (0, 0);
        for _ in 0..20 {
            match Command::new("true").spawn() {
                Ok(mut child) => {
                    assert_eq!(block_on(child.status()).unwrap().code(), Some(0));
                    ok += 1;
                }
                Err(e) => {
                    assert!(
                        e.raw_os_error() == Some(libc::ENOMEM)
                            || e.kind() == ErrorKind::OutOfMemory,
                        "{e:?}"
                    );
                    enomem += 1;
                }
            }
        }
        (ok, enomem)
    });
    ready.recv().unwrap();
    let cap = match platform::testing::limit_address_space(16 * 1024) {
        Ok(cap) => cap,
        Err(e) => {
            println!("SKIP: cannot cap the address space here: {e}");
            go.send(()).unwrap();
            spawner.join().unwrap();
            return;
        }
    };
    go.send(()).unwrap();
    let (ok, enomem) = spawner.join().unwrap();
    drop(cap);
    println!("under the cap: {ok} spawned, {enomem} refused with ENOMEM");
    // Nothing is left, and spawning works again once memory is back.
    assert_eq!(
        status_code(Command::new("sh").args(["-c", "exit 3"])),
        Some(3)
    );
    assert!(
        eventually(Duration::from_secs(10), || children().is_empty()),
        "{:?}",
        children()
    );
    assert!(
        enomem > 0,
        "no spawn met the cap: the test did not test anything"
    );
}
