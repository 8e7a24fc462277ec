//! A tokio runtime built without `enable_io`: `AsyncFd` panics there and tokio has no way to
//! ask beforehand. Waiting must work through the crate's reactor with no panic reaching the
//! panic hook. Alone in its binary, so that no other test's panic is counted.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};

use childfd::tokio::Command;
use tokio::runtime::Builder;

static VISIBLE_PANICS: AtomicUsize = AtomicUsize::new(0);

fn exit_code(code: i32) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("exit {code}"));
    cmd
}

#[test]
fn runtime_without_io_waits_through_the_fallback() {
    // Set before any child, so that the crate's hook wraps this one.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        VISIBLE_PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    for rt in [
        Builder::new_current_thread().build().unwrap(),
        Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap(),
    ] {
        rt.block_on(async {
            let mut child = exit_code(9).spawn().unwrap();
            let pid = child.id().unwrap();
            assert_eq!(child.wait().await.unwrap().code(), Some(9));
            assert!(common::children().iter().all(|(p, _)| *p != pid));
            let status = tokio::spawn(async { exit_code(10).status().await })
                .await
                .unwrap();
            assert_eq!(status.unwrap().code(), Some(10));
            // A piped stream cannot work without I/O: an error, no panic, no child left.
            let err = Command::new("sleep")
                .arg("60")
                .stdout(Stdio::piped())
                .spawn()
                .unwrap_err();
            assert!(err.to_string().contains("enable_io"), "{err}");
        });
    }
    assert!(common::children().is_empty(), "{:?}", common::children());
    assert_eq!(
        VISIBLE_PANICS.load(Ordering::SeqCst),
        0,
        "a panic reached the hook"
    );
}
