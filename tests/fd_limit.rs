//! At the fd limit, spawn fails cleanly and leaves no child; once descriptors are free again the
//! reactor works as before. Its own binary: RLIMIT_NOFILE is process-wide.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use childfd::{Command, Stdio};
use common::{block_on, children, eventually, open_fds};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

#[test]
fn spawn_at_the_fd_limit_fails_without_leaking_a_child() {
    // Warm up so the reactor's own descriptors exist before the limit is lowered.
    block_on(Command::new("true").stdout(Stdio::piped()).output()).unwrap();
    let original = getrlimit(Resource::Nofile);
    let fds = open_fds() as u64;
    // Room for a few children holding a pidfd each; then spawning must fail.
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(fds + 8),
            maximum: original.maximum,
        },
    )
    .unwrap();

    let mut kept = Vec::new();
    let err = loop {
        match Command::new("sleep").arg("30").kill_on_drop(true).spawn() {
            Ok(child) => kept.push(child),
            Err(e) => break e,
        }
        assert!(kept.len() < 100, "the fd limit was never reached");
    };
    assert!(
        !kept.is_empty(),
        "no child could be spawned below the limit"
    );
    assert_eq!(err.raw_os_error(), Some(24), "expected EMFILE, got {err:?}");

    // Reading /proc needs descriptors too.
    setrlimit(Resource::Nofile, original).unwrap();
    // Only the children we hold exist: the failed spawn left nothing, running or zombie.
    let mut ours: Vec<u32> = kept.iter().map(|c| c.id()).collect();
    ours.sort_unstable();
    let mut all: Vec<u32> = children().into_iter().map(|(pid, _)| pid).collect();
    all.sort_unstable();
    assert_eq!(all, ours, "children: {:?}", children());
    drop(kept);
    assert!(
        eventually(Duration::from_secs(10), || children().is_empty()),
        "{:?}",
        children()
    );
    let status = block_on(Command::new("sh").args(["-c", "exit 4"]).status()).unwrap();
    assert_eq!(
        status.code(),
        Some(4),
        "the reactor works after the limit was hit"
    );
}
