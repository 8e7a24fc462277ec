//! `childfd::windows`: the `CommandExt` methods of async-process (`creation_flags`,
//! `raw_arg`) and the handles of a `Child` and its pipes. Run under Wine in CI
//! (ci/windows.sh).
#![cfg(windows)]

use std::io;
use std::os::windows::io::{AsHandle, AsRawHandle};
use std::time::Duration;

use childfd::windows::CommandExt;
use childfd::{Command, Stdio};

fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    futures_lite::future::block_on(futures_lite::future::or(fut, async {
        async_io::Timer::after(Duration::from_secs(60)).await;
        panic!("timed out after 60 s");
    }))
}

/// `cmd /C` takes the rest of its command line as typed: std's quoting of `arg` would wrap
/// this in quotes and escape the inner ones.
#[test]
fn raw_arg_reaches_the_command_line_as_is() -> io::Result<()> {
    block_on(async {
        let out = Command::new("cmd")
            .raw_arg("/C echo \"as typed\"")
            .output()
            .await?;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            "\"as typed\""
        );
        assert!(out.status.success());
        Ok(())
    })
}

/// `CREATE_SUSPENDED`: a child that would exit at once does not run until resumed, so it is
/// still there half a second later; killing it ends it.
#[test]
fn creation_flags_reach_create_process() -> io::Result<()> {
    const CREATE_SUSPENDED: u32 = 0x0000_0004;
    block_on(async {
        let mut child = Command::new("cmd")
            .args(["/C", "exit 3"])
            .creation_flags(CREATE_SUSPENDED)
            .spawn()?;
        async_io::Timer::after(Duration::from_millis(500)).await;
        assert!(child.try_status()?.is_none(), "a suspended child exited");
        child.kill()?;
        assert_eq!(child.status().await?.code(), Some(1));

        // The same command without the flag has exited by then.
        let mut child = Command::new("cmd").args(["/C", "exit 3"]).spawn()?;
        async_io::Timer::after(Duration::from_millis(500)).await;
        assert_eq!(child.status().await?.code(), Some(3));
        Ok(())
    })
}

/// The child's handle stays valid after the exit (the `Child` owns a duplicate), and the
/// pipes lend theirs.
#[test]
fn child_and_pipes_lend_their_handles() -> io::Result<()> {
    block_on(async {
        let mut child = Command::new("cmd")
            .args(["/C", "exit 4"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let raw = child.as_raw_handle();
        assert!(!raw.is_null());
        assert_eq!(child.as_handle().as_raw_handle(), raw);
        let stdout = child.stdout.take().unwrap();
        assert_eq!(stdout.as_handle().as_raw_handle(), stdout.as_raw_handle());
        assert_eq!(child.status().await?.code(), Some(4));
        // Duplicating fails on a closed handle.
        drop(child.as_handle().try_clone_to_owned()?);
        assert_eq!(child.as_raw_handle(), raw);
        Ok(())
    })
}
