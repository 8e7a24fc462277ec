//! Typical `tokio::process` code (issue 13) with only the `use` line changed to
//! `childfd::tokio`: each snippet compiles as tokio users write it, and asserts what it does.
#![cfg(all(feature = "tokio", target_os = "linux"))]

use std::process::Stdio;
use std::time::Duration;

use childfd::tokio::Command;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

// 1. spawn, then wait.
#[tokio::test]
async fn spawn_then_wait() -> std::io::Result<()> {
    let mut child = Command::new("sh").arg("-c").arg("exit 3").spawn()?;
    let status = child.wait().await?;
    assert_eq!(status.code(), Some(3));
    Ok(())
}

// 2. status().
#[tokio::test]
async fn status() {
    let status = Command::new("true")
        .status()
        .await
        .expect("true failed to run");
    assert!(status.success());
}

// 3. output().
#[tokio::test]
async fn output() {
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 1"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(1));
}

// 4. Piped stdin written, then wait_with_output.
#[tokio::test]
async fn write_stdin_then_wait_with_output() -> std::io::Result<()> {
    let mut child = Command::new("tr")
        .arg("a-z")
        .arg("A-Z")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"hello").await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    assert_eq!(out.stdout, b"HELLO");
    assert!(out.status.success());
    Ok(())
}

// 5. kill().await.
#[tokio::test]
async fn kill() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    child.kill().await.unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().await.unwrap().signal(), Some(9));
}

// 6. start_kill, then wait.
#[tokio::test]
async fn start_kill_then_wait() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success());
    // Killing an exited child is fine, as in tokio.
    child.start_kill().unwrap();
}

// 7. A try_wait loop.
#[tokio::test]
async fn try_wait_loop() {
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.1; exit 4"])
        .spawn()
        .unwrap();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => panic!("try_wait: {e}"),
        }
    };
    assert_eq!(status.code(), Some(4));
}

// 8. id() is Some while running and None once reaped.
#[tokio::test]
async fn id() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id().expect("running child has an id");
    assert!(pid > 0);
    child.wait().await.unwrap();
    assert_eq!(child.id(), None);
}

// 9. kill_on_drop.
#[tokio::test]
async fn kill_on_drop() {
    let mut cmd = Command::new("sleep");
    cmd.arg("60").kill_on_drop(true);
    assert!(cmd.get_kill_on_drop());
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    drop(child); // kills it: its stdout then reaches end of file
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stdout.read_to_end(&mut rest))
        .await
        .expect("the killed child's stdout closes")
        .unwrap();
    assert!(rest.is_empty());
}

// 10. Lines of stdout through tokio's BufReader.
#[tokio::test]
async fn lines_from_stdout() -> std::io::Result<()> {
    let mut child = Command::new("seq")
        .arg("3")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .expect("child did not have a handle to stdout");
    let mut reader = BufReader::new(stdout).lines();
    let waiter = tokio::spawn(async move { child.wait().await });
    let mut lines = Vec::new();
    while let Some(line) = reader.next_line().await? {
        lines.push(line);
    }
    assert_eq!(lines, ["1", "2", "3"]);
    assert!(waiter.await.unwrap()?.success());
    Ok(())
}

// 11. select! against a timeout, then kill.
#[tokio::test]
async fn select_timeout_then_kill() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let timed_out = tokio::select! {
        _ = child.wait() => false,
        _ = tokio::time::sleep(Duration::from_millis(50)) => true,
    };
    assert!(timed_out);
    child.kill().await.unwrap();
    assert!(child.try_wait().unwrap().is_some());
}

// 12. tokio::time::timeout around wait.
#[tokio::test]
async fn timeout_around_wait() {
    let mut child = Command::new("true").spawn().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("true exits")
        .unwrap();
    assert!(status.success());
}

// 13. Environment and working directory.
#[tokio::test]
async fn env_and_current_dir() {
    let out = Command::new("sh")
        .args(["-c", "echo $GREETING; pwd"])
        .env_clear()
        .env("GREETING", "hi")
        .current_dir("/")
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"hi\n/\n");
}

// 14. One child's stdout piped into another, through TryInto<Stdio>.
#[tokio::test]
async fn pipeline() {
    let mut echo = Command::new("echo")
        .arg("piped")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let echo_out: Stdio = echo
        .stdout
        .take()
        .unwrap()
        .try_into()
        .expect("failed to convert to Stdio");
    let out = Command::new("cat").stdin(echo_out).output().await.unwrap();
    assert_eq!(out.stdout, b"piped\n");
    assert!(echo.wait().await.unwrap().success());
}

// 15. A child awaited in a spawned task (the futures are Send).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_in_spawned_task() {
    let mut set = tokio::task::JoinSet::new();
    for code in 0..8 {
        set.spawn(async move {
            let status = Command::new("sh")
                .arg("-c")
                .arg(format!("exit {code}"))
                .status()
                .await;
            (code, status.unwrap().code())
        });
    }
    while let Some(res) = set.join_next().await {
        let (code, got) = res.unwrap();
        assert_eq!(got, Some(code));
    }
}

// 16. From a std::process::Command.
#[tokio::test]
async fn from_std_command() {
    let mut std_cmd = std::process::Command::new("echo");
    std_cmd.arg("from std");
    let out = Command::from(std_cmd).output().await.unwrap();
    assert_eq!(out.stdout, b"from std\n");
}

// 17. stdout and stderr read concurrently, then wait.
#[tokio::test]
async fn read_both_streams() {
    let mut child = Command::new("sh")
        .args(["-c", "echo o; echo e >&2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut err = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (a, b) = tokio::join!(
        stdout.read_to_string(&mut out),
        stderr.read_to_string(&mut err)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("o\n", "e\n"));
    assert!(child.wait().await.unwrap().success());
}

// 18. The std view, arg0 and process_group.
#[tokio::test]
async fn as_std_arg0_process_group() {
    let mut cmd = Command::new("sh");
    cmd.arg0("renamed")
        .args(["-c", "echo $0; kill -0 -$$ && echo leader"])
        .process_group(0);
    assert_eq!(cmd.as_std().get_program(), "sh");
    assert_eq!(cmd.as_std().get_args().count(), 2);
    let out = cmd.output().await.unwrap();
    assert_eq!(out.stdout, b"renamed\nleader\n");
}
