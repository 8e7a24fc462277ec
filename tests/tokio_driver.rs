//! Awaited under tokio, a child is watched by tokio's own I/O driver: no thread of the crate
//! (`childfd-reactor`) nor of async-io is started, and the runtime's thread is woken by the
//! kernel. Alone in its binary, since any other test could start those threads.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use childfd::tokio::Command;
use tokio::runtime::Builder;

#[test]
fn waits_use_the_runtime_driver_only() {
    let backend = childfd::backend().unwrap();
    if backend.name() != "pidfd" {
        // Only a pidfd can be registered in tokio's driver; other backends are watched by the
        // crate's reactor thread (tokio_runtime.rs covers them).
        println!(
            "SKIP: backend {} ({:?}), not pidfd",
            backend.name(),
            backend.reason()
        );
        return;
    }
    let mt = Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    mt.block_on(async {
        for code in 0..5 {
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(format!("exit {code}"))
                .spawn()
                .unwrap();
            assert_eq!(child.wait().await.unwrap().code(), Some(code));
        }
        let out = Command::new("echo")
            .arg("x")
            .stdout(childfd::Stdio::piped())
            .output()
            .await
            .unwrap();
        assert_eq!(out.stdout, b"x\n");
    });
    let ct = Builder::new_current_thread().enable_all().build().unwrap();
    ct.block_on(async {
        // In a task of a current-thread runtime, the driver is known to run.
        tokio::spawn(async {
            let mut child = Command::new("true").spawn().unwrap();
            assert!(child.wait().await.unwrap().success());
        })
        .await
        .unwrap();
    });
    let threads = common::thread_names();
    assert!(
        !threads
            .iter()
            .any(|t| t == "async-io" || t == "childfd-reactor"),
        "{threads:?}"
    );
    assert!(common::children().is_empty());
}
