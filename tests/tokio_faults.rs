//! Bad input and faults through `childfd::tokio`: a clear `io::Error` with its OS error, no
//! panic (tokio's pipes are registered after the spawn), and no child or descriptor left.
#![cfg(all(feature = "tokio", target_os = "linux"))]

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use childfd::tokio::Command;
use childfd::Stdio;
use common::{children, eventually, in_forked_copy, open_fds, rerun};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

const ENOENT: i32 = 2;
const EMFILE: i32 = 24;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn spawn_error(cmd: &mut Command) -> std::io::Error {
    match cmd.spawn() {
        Ok(child) => panic!("spawned {child:?}"),
        Err(e) => e,
    }
}

#[test]
fn bad_input_is_an_error() {
    let rt = runtime();
    let _entered = rt.enter();
    let nul = spawn_error(Command::new("true").arg("a\0b").stdout(Stdio::piped()));
    assert_eq!(nul.kind(), ErrorKind::InvalidInput);
    let missing = spawn_error(Command::new("/nonexistent/childfd-tokio").stdout(Stdio::piped()));
    assert_eq!(missing.raw_os_error(), Some(ENOENT), "{missing:?}");
    let cwd = spawn_error(Command::new("true").current_dir("/nonexistent/childfd-tokio"));
    assert_eq!(cwd.raw_os_error(), Some(ENOENT), "{cwd:?}");
    let output = rt.block_on(Command::new("/nonexistent/childfd-tokio").output());
    assert_eq!(output.unwrap_err().raw_os_error(), Some(ENOENT));
}

const MODE: &str = "CHILDFD_TEST_TOKIO_FD_LIMIT";

/// Spawns with three piped streams until the fd limit: `EMFILE`, nothing left behind, and
/// the runtime works once descriptors are free. In a copy of this binary: the limit is
/// process-wide.
#[test]
fn fd_limit_with_pipes_is_an_error() {
    let (ok, text) = rerun("fd_limited", MODE, "1", None);
    assert!(ok && text.contains("FD LIMIT: error"), "{text}");
}

/// The body of the test above, in the copy; a no-op otherwise.
#[test]
fn fd_limited() {
    if std::env::var_os(MODE).is_none() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        // Warm up: the runtime's own descriptors exist before the limit is lowered.
        let out = Command::new("true").output().await.unwrap();
        assert!(out.status.success());
        let original = getrlimit(Resource::Nofile);
        let before = open_fds();
        let limit = Rlimit {
            current: Some(before as u64 + 12),
            maximum: original.maximum,
        };
        setrlimit(Resource::Nofile, limit).unwrap();
        let mut kept = Vec::new();
        let err = loop {
            let spawned = Command::new("sleep")
                .arg("30")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn();
            match spawned {
                Ok(child) => kept.push(child),
                Err(e) => break e,
            }
            assert!(kept.len() < 100, "the fd limit was never reached");
        };
        assert!(
            !kept.is_empty(),
            "no child could be spawned below the limit"
        );
        assert_eq!(err.raw_os_error(), Some(EMFILE), "{err:?}");
        setrlimit(Resource::Nofile, original).unwrap();
        let mut ours: Vec<u32> = kept.iter().map(|c| c.id().unwrap()).collect();
        ours.sort_unstable();
        let mut all: Vec<u32> = children().into_iter().map(|(pid, _)| pid).collect();
        all.sort_unstable();
        assert_eq!(all, ours, "the failed spawn left a child");
        for mut child in kept {
            child.kill().await.unwrap();
        }
        assert!(children().is_empty(), "{:?}", children());
        assert!(
            eventually(Duration::from_secs(5), || open_fds() <= before),
            "descriptors left: {} > {before}",
            open_fds()
        );
        let status = Command::new("sh").args(["-c", "exit 4"]).status().await;
        assert_eq!(status.unwrap().code(), Some(4));
        println!("FD LIMIT: error {err}");
    });
}

#[test]
fn a_forked_copy_waiting_in_tokio_gets_a_clear_error_not_a_hang() {
    let rt = runtime();
    let mut running = {
        let _guard = rt.enter();
        Command::new("sleep").arg("0.2").spawn().unwrap()
    };
    // The copy waits in a runtime of its own: the parent's driver is not turned there.
    let clear_error = in_forked_copy(|| {
        let waited = runtime().block_on(running.wait());
        matches!(waited, Err(e) if e.kind() == ErrorKind::Unsupported)
    });
    assert!(clear_error, "the forked copy hung or got no clear error");
    // The parent is unaffected.
    assert!(rt.block_on(running.wait()).unwrap().success());
}
