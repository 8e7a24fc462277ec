//! `childfd::tokio` at the process limit (`RLIMIT_NPROC`), in a copy of this test binary run
//! as `nobody` (as tests/nproc.rs does, which explains why).
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use common::rerun;

const NOBODY: u32 = 65534;
const TOKIO_MODE: &str = "CHILDFD_TEST_NPROC_TOKIO";

/// `childfd::tokio`'s first wait in a current-thread runtime's `block_on` starts a short-lived
/// thread to learn tokio's `block_on` waker. At the limit that thread cannot start: the wait
/// goes on as before it was learnt (probing), and completes.
#[test]
fn tokio_wait_at_the_process_limit_still_completes() {
    let uid = rustix::process::geteuid().is_root().then_some(NOBODY);
    let (ok, text) = rerun("tokio_limited", TOKIO_MODE, "1", uid);
    if common::copy_skipped(&text) {
        return;
    }
    assert!(ok && text.contains("NPROC tokio: waited"), "{text}");
}

/// The body, run by the test above in a copy of this binary; a no-op otherwise.
#[test]
fn tokio_limited() {
    if std::env::var_os(TOKIO_MODE).is_none() {
        return;
    }
    let backend = childfd::backend().unwrap();
    if backend.name() != "pidfd" {
        common::skip(format_args!(
            "the {backend} backend is not watched through tokio's driver"
        ));
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut child = rt
        .block_on(async { childfd::tokio::Command::new("sleep").arg("0.3").spawn() })
        .unwrap();
    if !common::at_the_task_limit() {
        return;
    }
    let status = rt.block_on(child.wait()).unwrap();
    assert!(status.success());
    println!("NPROC tokio: waited");
}
