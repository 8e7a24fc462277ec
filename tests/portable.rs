//! The behaviours every backend shares, with commands every OS has: `sh` and `cat` on Unix,
//! `cmd` and `find` on Windows (run under Wine in CI, see ci/windows.sh). Nothing here reads
//! /proc; the Linux-only proofs (zombies, descriptors, threads) are in their own files.

use std::io;
use std::time::Duration;

use childfd::{ChildSet, Command, Stdio};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// A shell running `script`: `sh -c` on Unix, `cmd /C` on Windows.
fn shell(unix: &str, windows: &str) -> Command {
    if cfg!(windows) {
        let mut cmd = Command::new("cmd");
        cmd.args(["/C", windows]);
        cmd
    } else {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", unix]);
        cmd
    }
}

/// A child that copies to its stdout every line of its stdin that contains `line` (`cat`
/// copies them all), and so runs until its stdin is closed.
fn copy_stdin() -> Command {
    #[cfg(windows)]
    let mut cmd = {
        // `find` wants its string in quotes on Windows, which std only leaves alone in a raw
        // argument. (Wine's `findstr` does not read a piped stdin, and it has no `more`.)
        use std::os::windows::process::CommandExt;
        let mut find = std::process::Command::new("find");
        find.raw_arg("\"line\"");
        Command::from(find)
    };
    #[cfg(not(windows))]
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    cmd
}

/// The lines of a child's output, without Windows' `\r`.
fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// Runs `fut`, failing the test instead of hanging if it takes over a minute.
fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    futures_lite::future::block_on(futures_lite::future::or(fut, async {
        async_io::Timer::after(Duration::from_secs(60)).await;
        panic!("timed out after 60 s");
    }))
}

#[test]
fn backend_is_the_platforms_own() -> io::Result<()> {
    let backend = childfd::backend()?;
    let expected: &[&str] = if cfg!(windows) {
        &["handle"]
    } else if cfg!(target_os = "linux") {
        &["pidfd", "thread"]
    } else if cfg!(target_os = "macos") {
        &["kqueue", "thread"]
    } else {
        &["procdesc", "thread"]
    };
    assert!(expected.contains(&backend.name()), "{backend}");
    Ok(())
}

#[test]
fn exit_codes() -> io::Result<()> {
    block_on(async {
        for code in [0, 1, 3, 42, 255] {
            let status = shell(&format!("exit {code}"), &format!("exit {code}"))
                .status()
                .await?;
            assert_eq!(status.code(), Some(code));
            assert_eq!(status.success(), code == 0);
        }
        Ok(())
    })
}

#[test]
fn status_is_the_same_every_time() -> io::Result<()> {
    block_on(async {
        let mut child = shell("exit 7", "exit 7").spawn()?;
        let first = child.status().await?;
        assert_eq!(child.status().await?, first);
        assert_eq!(child.try_status()?, Some(first));
        assert_eq!(first.code(), Some(7));
        Ok(())
    })
}

#[test]
fn output_reads_both_pipes() -> io::Result<()> {
    block_on(async {
        let out = shell(
            "echo out; echo err >&2; exit 2",
            // Wine's cmd does not take a redirection before the command.
            "echo out& echo err 1>&2& exit 2",
        )
        .output()
        .await?;
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(lines(&out.stdout), ["out"]);
        assert_eq!(lines(&out.stderr), ["err"]);
        Ok(())
    })
}

#[test]
fn pipes_read_as_they_come() -> io::Result<()> {
    block_on(async {
        let mut child = shell("echo hi", "echo hi")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut text = String::new();
        child
            .stdout
            .take()
            .expect("piped")
            .read_to_string(&mut text)
            .await?;
        assert_eq!(lines(text.as_bytes()), ["hi"]);
        assert!(child.status().await?.success());
        Ok(())
    })
}

#[test]
fn writes_to_stdin() -> io::Result<()> {
    block_on(async {
        let mut child = copy_stdin().spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(b"line one\nline two\n").await?;
        stdin.flush().await?;
        drop(stdin);
        let out = child.output().await?;
        assert!(out.status.success(), "{:?}", out.status);
        assert_eq!(lines(&out.stdout), ["line one", "line two"]);
        Ok(())
    })
}

#[test]
fn large_output_does_not_deadlock() -> io::Result<()> {
    // More than a pipe buffer (64 KiB on Linux, 4 KiB for std's pipes on Windows) each way.
    let data: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("line {i:07}\n").into_bytes())
        .collect();
    block_on(async {
        let mut child = copy_stdin().spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let write = async {
            stdin.write_all(&data).await?;
            stdin.flush().await?;
            // `close` only flushes (as async-io's does): dropping is what closes the pipe,
            // and ends the child's input.
            drop(stdin);
            io::Result::Ok(())
        };
        let read = async {
            let mut out = Vec::new();
            stdout.read_to_end(&mut out).await?;
            io::Result::Ok(out)
        };
        let ((), out) = futures_lite::future::try_zip(write, read).await?;
        assert!(child.status().await?.success());
        assert_eq!(lines(&out), lines(&data));
        Ok(())
    })
}

#[test]
fn close_flushes_and_keeps_the_pipe() -> io::Result<()> {
    block_on(async {
        let mut child = copy_stdin().spawn()?;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(b"line one\n").await?;
        stdin.close().await?;
        #[cfg(windows)]
        assert!(!std::os::windows::io::AsRawHandle::as_raw_handle(&stdin).is_null());
        // Still usable after `close`, on every OS: it closes when dropped.
        stdin.write_all(b"line two\n").await?;
        drop(stdin);
        let out = child.output().await?;
        assert_eq!(lines(&out.stdout), ["line one", "line two"]);
        Ok(())
    })
}

#[test]
fn kill_ends_a_running_child() -> io::Result<()> {
    block_on(async {
        // Blocked reading a stdin nobody writes to or closes.
        let mut child = copy_stdin().spawn()?;
        let stdin = child.stdin.take();
        assert_eq!(child.try_status()?, None);
        child.kill()?;
        let status = child.status().await?;
        assert!(!status.success());
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        // std's `kill` on Windows: TerminateProcess with exit code 1.
        #[cfg(windows)]
        assert_eq!(status.code(), Some(1));
        // Killing an exited child is fine and reaches nobody.
        child.kill()?;
        drop(stdin);
        Ok(())
    })
}

#[test]
fn exited_reports_plausible_usage() -> io::Result<()> {
    block_on(async {
        let mut child = shell("exit 5", "exit 5").spawn()?;
        let pid = child.id();
        let exit = child.exited().await?;
        assert_eq!(exit.status().code(), Some(5));
        assert_eq!(exit.shell_code(), 5);
        assert_eq!(exit.pid(), pid);
        assert!(exit.wall_time() > Duration::ZERO);
        assert!(exit.wall_time() < Duration::from_secs(60));
        // The kernel reports usage with the reap on Unix, and the handle's times on Windows.
        assert!(exit.usage_known());
        // A shell that only exits spends far less CPU than the wall time allows.
        let cpu = exit.user_time() + exit.system_time();
        assert!(cpu < Duration::from_secs(10), "{cpu:?}");
        // Peak RSS: the kernel counts a few MiB at least on Unix; Wine may not know it.
        if cfg!(unix) {
            assert!(exit.max_rss() > 1 << 20, "{}", exit.max_rss());
        }
        assert!(exit.max_rss() < 1 << 40, "{}", exit.max_rss());
        Ok(())
    })
}

#[test]
fn child_set_reports_each_exit_once() -> io::Result<()> {
    block_on(async {
        let mut set = ChildSet::new();
        let mut expected = std::collections::BTreeMap::new();
        for code in 0..5 {
            let child = shell(&format!("exit {code}"), &format!("exit {code}")).spawn()?;
            expected.insert(set.insert(child), code);
        }
        while let Some(next) = set.next().await {
            let (pid, exit) = next?;
            let code = expected.remove(&pid).expect("each pid once");
            assert_eq!(exit.status().code(), Some(code));
        }
        assert!(expected.is_empty(), "{expected:?}");
        assert!(set.try_next().is_none());
        Ok(())
    })
}

#[test]
fn kill_on_drop_ends_the_child() -> io::Result<()> {
    block_on(async {
        let mut child = copy_stdin().kill_on_drop(true).spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("piped");
        drop(child);
        // The child held the only other end of its stdout: end of file proves it is gone,
        // although its stdin is still open.
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).await?;
        assert!(rest.is_empty());
        drop(stdin);
        Ok(())
    })
}

#[test]
fn dropped_children_are_still_reaped() -> io::Result<()> {
    block_on(async {
        for _ in 0..20 {
            drop(shell("exit 0", "exit 0").spawn()?);
        }
        // The reactor keeps working for the children that come after.
        assert_eq!(shell("exit 4", "exit 4").status().await?.code(), Some(4));
        Ok(())
    })
}

#[test]
fn pipe_handed_to_another_child() -> io::Result<()> {
    block_on(async {
        let mut first = shell("echo line passed on", "echo line passed on")
            .stdout(Stdio::piped())
            .spawn()?;
        let pipe = first.stdout.take().expect("piped").into_stdio().await?;
        let mut second = copy_stdin();
        second.stdin(pipe);
        let out = second.output().await?;
        assert!(first.status().await?.success());
        assert!(out.status.success());
        assert_eq!(lines(&out.stdout), ["line passed on"]);
        Ok(())
    })
}

#[test]
fn missing_program_is_not_found() {
    let mut cmd = Command::new("childfd-no-such-program");
    // An unsearchable PATH entry (root's ~/.cargo/bin, for another user) turns the error
    // into EACCES, as execvp does: leave such entries out.
    #[cfg(unix)]
    {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::env::split_paths(&path)
            .filter(|d| rustix::fs::access(d, rustix::fs::Access::EXEC_OK).is_ok());
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    }
    let err = cmd.spawn().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
}

#[test]
fn many_threads_spawn_at_once() {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                block_on(async move {
                    for i in 0..5 {
                        let code = t * 10 + i;
                        let status = shell(&format!("exit {code}"), &format!("exit {code}"))
                            .status()
                            .await
                            .unwrap();
                        assert_eq!(status.code(), Some(code));
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
