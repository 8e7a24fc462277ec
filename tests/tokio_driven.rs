//! A wait in a current-thread runtime's `block_on` body (where `#[tokio::main(flavor =
//! "current_thread")]` and `#[tokio::test]` await, outside any task) is watched by tokio's
//! driver alone: neither async-io's thread nor the crate's reactor thread is started. Its own
//! binary: threads are process-wide.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use childfd::tokio::Command;

/// Threads that a wait through the crate's reactor would have started.
fn backstop_threads() -> Vec<String> {
    common::thread_names()
        .into_iter()
        .filter(|n| n.starts_with("childfd") || n.starts_with("async-io"))
        .collect()
}

fn pidfd_backend() -> bool {
    let name = childfd::backend().unwrap().name();
    if name != "pidfd" {
        common::skip(format!(
            "the {name} backend is watched by the backstop reactor's thread"
        ));
    }
    name == "pidfd"
}

async fn waits() {
    for code in 0..5 {
        let mut child = Command::new("sh")
            .args(["-c", &format!("sleep 0.02; exit {code}")])
            .spawn()
            .unwrap();
        assert_eq!(child.wait().await.unwrap().code(), Some(code));
    }
    let out = Command::new("sh")
        .args(["-c", "echo out"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"out\n");
}

#[test]
fn block_on_body_is_watched_by_tokio_alone() {
    if !pidfd_backend() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(waits());
    assert_eq!(backstop_threads(), Vec::<String>::new());
}

#[tokio::test]
async fn tokio_test_body_is_watched_by_tokio_alone() {
    if !pidfd_backend() {
        return;
    }
    waits().await;
    assert_eq!(backstop_threads(), Vec::<String>::new());
}
