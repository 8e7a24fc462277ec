//! A `pre_exec` hook that panics ends the child there: the panic never unwinds into a copy of
//! the caller's code, and the parent's `spawn()` says what happened (issue 14, item 2). Its
//! own binary: before the fix, a second copy of this test harness ran on in the child.
#![cfg(target_os = "linux")]

mod common;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use childfd::unix::{CommandExt, PreExec};
use childfd::Command;
use common::{children, eventually};

#[test]
fn a_panicking_pre_exec_hook_fails_the_spawn_and_ends_the_child() {
    let parent = std::process::id();
    let marker = std::env::temp_dir().join(format!("childfd-pre-exec-panic-{parent}"));
    let _ = std::fs::remove_file(&marker);
    let mut cmd = Command::new("true");
    // SAFETY: breaks the promise on purpose (a panic is not async-signal-safe); what this
    // test checks is that the breach stays inside the child.
    cmd.pre_exec(unsafe { PreExec::new(|| panic!("a hook that panics, on purpose")) });
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| cmd.spawn()));
    if std::process::id() != parent {
        // The panic came out of `spawn()` in the child: say so, and never go back to the
        // harness.
        let _ = std::fs::write(&marker, "the child ran the caller's code");
        std::process::abort();
    }
    let result = result.expect("spawn itself panicked in the parent");
    if let Ok(child) = &result {
        // Reaped once dropped: wait for that, so that the child has done whatever it did.
        println!("spawn succeeded: {child:?}");
    }
    let outcome = result.map(drop);
    assert!(
        eventually(Duration::from_secs(5), || children().is_empty()),
        "{:?}",
        children()
    );
    let escaped = std::fs::read_to_string(&marker).ok();
    let _ = std::fs::remove_file(&marker);
    assert_eq!(
        escaped, None,
        "the panic unwound into the caller's code in the child"
    );
    let e = outcome.expect_err("spawn succeeded");
    assert!(e.to_string().contains("pre_exec hook panicked"), "{e}");

    // The next spawn, hooks or not, is unaffected.
    let mut ok = Command::new("sh");
    ok.args(["-c", "exit 4"]);
    // SAFETY: does nothing.
    ok.pre_exec(unsafe { PreExec::new(|| Ok(())) });
    let status = common::block_on(ok.status()).unwrap();
    assert_eq!(status.code(), Some(4));
}
