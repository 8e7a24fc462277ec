//! At the process limit (`RLIMIT_NPROC`) a spawn fails with `EAGAIN` and leaves no child,
//! whichever of its threads or processes is the one too many (issue 14, item 8): the
//! `childfd-reactor` thread, the child, or async-io's thread, which async-io starts with its
//! first source (a piped stream) and used to `expect`.
//!
//! Each limit is tried in a fresh copy of this test binary: a process that reached it keeps
//! the threads it did start. The limit is not enforced for root, so as root the copy runs as
//! `nobody` (65534).
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use childfd::{Command, Stdio};
use common::{children, eventually, rerun};
use futures_lite::AsyncReadExt;
use rustix::process::getuid;

const MODE: &str = "CHILDFD_TEST_NPROC";
const NOBODY: u32 = 65534;
const EAGAIN: i32 = 11;

/// Held while a copy runs as `nobody`: each copy places its limit by counting that user's
/// tasks, which another copy starting or ending would make wrong.
static AS_NOBODY: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn spawn_at_the_process_limit_is_an_error() {
    let _alone = AS_NOBODY.lock().unwrap_or_else(|e| e.into_inner());
    let uid = rustix::process::geteuid().is_root().then_some(NOBODY);
    let mut failed = Vec::new();
    let mut passed = Vec::new();
    // Room for 0 to 5 more tasks: the reactor thread, the child, async-io's thread, a thread
    // backend's helper, and one to spare.
    for room in 0..=5 {
        let (ok, text) = rerun("limited", MODE, &room.to_string(), uid);
        if common::copy_skipped(&text) {
            return;
        }
        assert!(ok, "room for {room} more tasks: {text}");
        let line = text
            .lines()
            .find(|l| l.contains("NPROC room"))
            .unwrap_or("");
        let line = &line[line.find("NPROC").unwrap_or(0)..];
        println!("{line}");
        if line.contains("error") {
            failed.push(room);
        } else {
            passed.push(room);
        }
    }
    assert!(
        failed.contains(&0) && !passed.is_empty(),
        "{failed:?} {passed:?}"
    );
}

/// The body, run by the test above in a copy of this binary; a no-op otherwise.
#[test]
fn limited() {
    let Some(room) = std::env::var(MODE).ok().and_then(|v| v.parse::<u64>().ok()) else {
        return;
    };
    let uid = getuid().as_raw();
    if !common::limit_tasks(room) {
        return;
    }
    // Not common::block_on: its timer would start async-io before the spawn.
    let result = futures_lite::future::block_on(async {
        let mut child = Command::new("sh")
            .args(["-c", "echo hi"])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await?;
        Ok::<_, std::io::Error>((out, child.status().await?))
    });
    match result {
        Ok((out, status)) => {
            assert_eq!((out.as_str(), status.code()), ("hi\n", Some(0)));
            println!("NPROC room {room}: spawned");
        }
        Err(e) => {
            if room == 0 && e.raw_os_error() != Some(EAGAIN) {
                common::skip(format_args!(
                    "the limit is not enforced here (uid {uid}): {e}"
                ));
                return;
            }
            assert_eq!(e.raw_os_error(), Some(EAGAIN), "{e:?}");
            assert!(
                eventually(Duration::from_secs(10), || children().is_empty()),
                "left behind: {:?}",
                children()
            );
            println!("NPROC room {room}: error {e}");
        }
    }
}

const TIMER_MODE: &str = "CHILDFD_TEST_NPROC_TIMER";

/// A bounded wait (`status_timeout`) whose timer would be async-io's first use, at the limit:
/// an `EAGAIN`, not async-io's panic, and the child can still be waited for. With the
/// helper-thread backend (`CHILDFD_BACKEND=thread`, as ci/test.sh's second run) no async-io
/// source comes first, so the timer is what starts async-io.
#[test]
fn bounded_wait_at_the_process_limit_is_an_error() {
    let _alone = AS_NOBODY.lock().unwrap_or_else(|e| e.into_inner());
    let uid = rustix::process::geteuid().is_root().then_some(NOBODY);
    let (ok, text) = rerun("timer_limited", TIMER_MODE, "1", uid);
    if common::copy_skipped(&text) {
        return;
    }
    assert!(ok && text.contains("NPROC timer: error"), "{text}");
}

/// The body, run by the test above in a copy of this binary; a no-op otherwise.
#[test]
fn timer_limited() {
    if std::env::var_os(TIMER_MODE).is_none() {
        return;
    }
    let mut child = Command::new("sleep").arg("0.3").spawn().unwrap();
    if !common::at_the_task_limit() {
        return;
    }
    let bounded = futures_lite::future::block_on(child.status_timeout(Duration::from_secs(10)));
    let e = bounded.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(EAGAIN), "{e:?}");
    println!("NPROC timer: error {e}");
    assert!(child.wait_blocking().unwrap().status().success());
}
