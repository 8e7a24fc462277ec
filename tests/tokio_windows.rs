//! `childfd::tokio` on Windows: the API of `tokio::process` there (`creation_flags`,
//! `raw_arg`, `raw_handle`, `into_owned_handle`), pipes read and written through tokio's
//! `AsyncRead`/`AsyncWrite` on the runtime's blocking pool, waits through the crate's
//! reactor. Run under Wine in CI (ci/windows.sh), with `cmd`, `find` and this test binary as
//! the children.
#![cfg(all(feature = "tokio", windows))]

use std::future::Future;
use std::io;
use std::os::windows::io::AsRawHandle;
use std::time::Duration;

use childfd::tokio::Command;
use childfd::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROLE: &str = "CHILDFD_TOKIO_WINDOWS_ROLE";
const CREATE_SUSPENDED: u32 = 0x0000_0004;
const CREATE_NO_WINDOW: u32 = 0x0800_0000;

/// What this binary does when started as a child with `ROLE` set; a no-op otherwise.
#[test]
fn helper_role() {
    match std::env::var(ROLE).as_deref() {
        Err(_) => {}
        // Writes nothing to stderr, so a read of it stays pending until the child ends.
        Ok("sleep") => std::thread::sleep(Duration::from_secs(100)),
        Ok(other) => panic!("unknown role {other}"),
    }
}

/// This test binary, sleeping for 100 s (its libtest output discarded).
fn sleeper() -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["helper_role", "--exact", "--nocapture"])
        .env(ROLE, "sleep")
        .stdout(Stdio::null());
    cmd
}

/// `cmd /c` with `script` as typed.
fn cmd(script: &str) -> Command {
    let mut cmd = Command::new("cmd");
    cmd.raw_arg(format!("/c {script}"));
    cmd
}

/// Fails the test instead of hanging.
async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .expect("timed out after 60 s")
}

/// The lines of a child's output, without Windows' `\r`.
fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect()
}

#[tokio::test]
async fn output_reads_both_pipes_and_raw_arg_is_as_typed() -> io::Result<()> {
    // Wine's cmd does not take a redirection before the command.
    let out = within(cmd("echo \"as typed\"& echo err 1>&2& exit 2").output()).await?;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lines(&out.stdout), ["\"as typed\""]);
    assert_eq!(lines(&out.stderr), ["err"]);
    Ok(())
}

/// More than a pipe's buffer each way, so the write and the read must make progress together
/// on the blocking pool; `find` copies the lines containing its string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipes_carry_data_both_ways() -> io::Result<()> {
    let mut child = Command::new("find")
        .raw_arg("\"line\"")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let sent: Vec<String> = (0..20_000).map(|i| format!("line {i}")).collect();
    let text = sent.join("\r\n") + "\r\n";
    let writer = tokio::spawn(async move {
        stdin.write_all(text.as_bytes()).await?;
        stdin.flush().await?;
        stdin.shutdown().await
        // Dropped here: end of file for find.
    });
    let mut got = Vec::new();
    within(stdout.read_to_end(&mut got)).await?;
    writer.await.unwrap()?;
    assert_eq!(lines(&got), sent);
    assert!(within(child.wait()).await?.success());
    Ok(())
}

/// A write returns once tokio's pool has the bytes: a `ChildStdin` dropped right after still
/// delivers them, as tokio's.
#[tokio::test]
async fn stdin_dropped_after_a_write_delivers_it() -> io::Result<()> {
    let mut child = Command::new("find")
        .raw_arg("\"line\"")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"one line\r\nnot this\r\ntwo line\r\n")
        .await?;
    drop(stdin);
    let out = within(child.wait_with_output()).await?;
    assert_eq!(lines(&out.stdout), ["one line", "two line"]);
    Ok(())
}

/// As tokio's: a write is accepted at once, and its failure (the reader is gone) is what the
/// next operation, here `flush`, reports.
#[tokio::test]
async fn a_failed_write_is_reported_by_the_next_operation() -> io::Result<()> {
    let mut child = cmd("exit 0").stdin(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    within(child.wait()).await?;
    stdin.write_all(b"nobody reads this").await?;
    let err = within(stdin.flush()).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    Ok(())
}

#[tokio::test]
async fn wait_try_wait_id_and_raw_handle() -> io::Result<()> {
    let mut child = cmd("exit 7").spawn()?;
    assert!(child.id().unwrap() > 0);
    let handle = child.raw_handle().expect("a handle before the wait");
    assert!(!handle.is_null());
    let status = within(child.wait()).await?;
    assert_eq!(status.code(), Some(7));
    // Fused, as tokio's: the same status again, no id, no handle.
    assert_eq!(within(child.wait()).await?, status);
    assert_eq!(child.try_wait()?, Some(status));
    assert_eq!(child.id(), None);
    assert_eq!(child.raw_handle(), None);
    // Killing an exited child is fine.
    child.start_kill()?;
    within(child.kill()).await?;
    Ok(())
}

#[tokio::test]
async fn try_wait_then_kill() -> io::Result<()> {
    let mut child = sleeper().spawn()?;
    assert_eq!(child.try_wait()?, None);
    assert!(child.id().is_some());
    child.start_kill()?;
    // TerminateProcess's exit code.
    assert_eq!(within(child.wait()).await?.code(), Some(1));
    assert_eq!(child.id(), None);

    let mut child = sleeper().spawn()?;
    within(child.kill()).await?;
    assert_eq!(child.try_wait()?.and_then(|s| s.code()), Some(1));
    Ok(())
}

/// The sleeper's stderr, whose write end only the sleeper holds, reaches end of file when the
/// sleeper dies: at once with `kill_on_drop`, not for 100 s without.
#[tokio::test]
async fn kill_on_drop_terminates_the_child() -> io::Result<()> {
    let mut child = sleeper()
        .kill_on_drop(true)
        .stderr(Stdio::piped())
        .spawn()?;
    assert!(!sleeper().get_kill_on_drop());
    let mut stderr = child.stderr.take().unwrap();
    drop(child);
    let mut rest = Vec::new();
    within(stderr.read_to_end(&mut rest)).await?;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));

    // Without it the child lives on.
    let mut child = sleeper().stderr(Stdio::piped()).spawn()?;
    let mut stderr = child.stderr.take().unwrap();
    let read = tokio::time::timeout(Duration::from_millis(500), stderr.read_to_end(&mut rest));
    assert!(read.await.is_err(), "the child ended by itself");
    child.start_kill()?;
    within(child.wait()).await?;
    Ok(())
}

/// `CREATE_SUSPENDED` holds back a child that would exit at once; `CREATE_NO_WINDOW` still
/// has its pipes work.
#[tokio::test]
async fn creation_flags_reach_create_process() -> io::Result<()> {
    let mut child = cmd("exit 3").creation_flags(CREATE_SUSPENDED).spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(child.try_wait()?, None, "a suspended child exited");
    within(child.kill()).await?;
    assert_eq!(child.try_wait()?.and_then(|s| s.code()), Some(1));

    let out = within(
        cmd("echo windowless& exit 4")
            .creation_flags(CREATE_NO_WINDOW)
            .output(),
    )
    .await?;
    assert_eq!(
        (lines(&out.stdout), out.status.code()),
        (vec!["windowless".to_owned()], Some(4))
    );
    Ok(())
}

/// An idle pipe hands over its own handle; one with a read still running on the pool hands a
/// duplicate, as tokio's.
#[tokio::test]
async fn into_owned_handle_idle_and_in_flight() -> io::Result<()> {
    let mut child = cmd("echo hi").stdout(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().unwrap();
    let raw = stdout.as_raw_handle();
    let owned = stdout.into_owned_handle()?;
    assert_eq!(owned.as_raw_handle(), raw);
    // Still the pipe: another child reads it.
    let out = within(
        Command::new("find")
            .raw_arg("\"hi\"")
            .stdin(std::process::Stdio::from(owned))
            .output(),
    )
    .await?;
    assert_eq!(lines(&out.stdout), ["hi"]);
    within(child.wait()).await?;

    let mut child = sleeper().stderr(Stdio::piped()).spawn()?;
    let mut stderr = child.stderr.take().unwrap();
    let raw = stderr.as_raw_handle();
    let mut buf = [0u8; 16];
    // Starts the read on the pool; the sleeper writes nothing, so it stays there.
    assert!(futures_lite::future::poll_once(stderr.read(&mut buf))
        .await
        .is_none());
    let owned = stderr.into_owned_handle()?;
    assert_ne!(owned.as_raw_handle(), raw);
    drop(owned);
    within(child.kill()).await?;
    Ok(())
}

/// A pipe goes to the next child as a `std` `Stdio` (`TryInto`) or as itself.
#[tokio::test]
async fn pipes_chain_into_the_next_child() -> io::Result<()> {
    let mut first = cmd("echo chained").stdout(Stdio::piped()).spawn()?;
    let stdio: std::process::Stdio = first.stdout.take().unwrap().try_into()?;
    let out = within(
        Command::new("find")
            .raw_arg("\"chained\"")
            .stdin(stdio)
            .output(),
    )
    .await?;
    assert_eq!(lines(&out.stdout), ["chained"]);
    within(first.wait()).await?;

    let mut first = cmd("echo itself").stdout(Stdio::piped()).spawn()?;
    let pipe = first.stdout.take().unwrap();
    let out = within(
        Command::new("find")
            .raw_arg("\"itself\"")
            .stdin(pipe)
            .output(),
    )
    .await?;
    assert_eq!(lines(&out.stdout), ["itself"]);
    within(first.wait()).await?;
    Ok(())
}

/// As with tokio on Windows, spawning with pipes and waiting need no runtime; reading does,
/// and works in one entered later.
#[test]
fn spawn_and_wait_outside_a_runtime() -> io::Result<()> {
    let mut child = cmd("echo outside").stdout(Stdio::piped()).spawn()?;
    let mut stdout = child.stdout.take().unwrap();
    let status = futures_lite::future::block_on(child.wait())?;
    assert!(status.success());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut text = String::new();
    rt.block_on(within(stdout.read_to_string(&mut text)))?;
    assert_eq!(lines(text.as_bytes()), ["outside"]);
    Ok(())
}

#[tokio::test]
async fn missing_program_is_not_found() {
    let err = Command::new("childfd-no-such-program").spawn().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
}
