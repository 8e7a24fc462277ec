//! Code written for `async-process` compiles unchanged (issue 12): `Command::stdin/stdout/
//! stderr` take `std::process::Stdio` and anything generic over `Into<std::process::Stdio>`,
//! with the same meaning; `into_stdio()` returns std's type; this crate's own `Stdio` and pipe
//! ends keep the engine's spawn route, and `Debug` tells the two routes apart.
#![cfg(unix)]

#[cfg(target_os = "linux")]
mod common;

use std::io;
use std::os::unix::io::AsRawFd;

use childfd::{Command, Stdio};
use futures_lite::future::block_on;

/// async-process's wrappers look like this: generic over what std's `Command` takes.
fn with_stdout<T: Into<std::process::Stdio>>(cmd: &mut Command, cfg: T) -> &mut Command {
    cmd.stdout(cfg)
}

fn route(cmd: &Command) -> String {
    let debug = format!("{cmd:#?}");
    let start = debug.find("route: \"").expect("a route field") + "route: \"".len();
    debug[start..][..debug[start..].find('"').unwrap()].to_string()
}

#[test]
fn std_stdio_takes_the_std_route_and_works() -> io::Result<()> {
    block_on(async {
        let mut cmd = Command::new("echo");
        with_stdout(cmd.arg("via std"), std::process::Stdio::piped());
        assert_eq!(route(&cmd), "std (stdout is a std::process::Stdio)");
        assert!(format!("{cmd:?}").ends_with("(std route: stdout is a std::process::Stdio)"));
        let out = cmd.output().await?;
        assert_eq!(out.stdout, b"via std\n");

        // A File passed as is is a std::process::Stdio too; wrapped, it is not.
        let file = std::fs::File::open("/dev/null")?;
        let mut cmd = Command::new("cat");
        cmd.stdin(file.try_clone()?);
        assert_eq!(route(&cmd), "std (stdin is a std::process::Stdio)");
        cmd.stdin(Stdio::from(file));
        assert_eq!(route(&cmd), "engine");
        assert_eq!(format!("{cmd:?}"), "\"cat\"");
        assert_eq!(cmd.output().await?.stdout, b"");
        Ok(())
    })
}

#[test]
fn into_stdio_returns_std_stdio() -> io::Result<()> {
    block_on(async {
        let mut echo = Command::new("echo")
            .arg("chained")
            .stdout(Stdio::piped())
            .spawn()?;
        let stdio: std::process::Stdio = echo.stdout.take().unwrap().into_stdio().await?;
        let mut cat = Command::new("cat");
        cat.stdin(stdio);
        assert_eq!(route(&cat), "std (stdin is a std::process::Stdio)");
        assert_eq!(cat.output().await?.stdout, b"chained\n");
        assert!(echo.status().await?.success());
        Ok(())
    })
}

/// The pipe itself (or `Stdio::from` it) stays on the engine, and the descriptor the next
/// child gets is blocking again: `cat` starts reading before anything is written, and a
/// non-blocking stdin would fail it with EAGAIN.
#[test]
fn pipe_end_chains_on_the_engine() -> io::Result<()> {
    block_on(async {
        let mut first = Command::new("sh")
            .args(["-c", "sleep 0.3; echo late"])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut cat = Command::new("cat");
        cat.stdin(first.stdout.take().unwrap());
        assert_eq!(route(&cat), "engine");
        let out = cat.output().await?;
        assert_eq!(
            (out.status.code(), &out.stdout[..]),
            (Some(0), &b"late\n"[..]),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // stdin the other way round: a child's stdin becomes another's stdout.
        let mut tr = Command::new("tr")
            .args(["a-z", "A-Z"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = Stdio::from(tr.stdin.take().unwrap());
        assert!(Command::new("echo")
            .arg("up")
            .stdout(stdin)
            .status()
            .await?
            .success());
        let out = tr.output().await?;
        assert_eq!(out.stdout, b"UP\n");
        Ok(())
    })
}

/// `Stdio::from(io::stdout())` is the parent's fd 1, as std's: the child's fd 2 is the same
/// open file.
#[test]
fn from_parent_stdout_and_stderr() -> io::Result<()> {
    let link = |fd: i32| std::fs::read_link(format!("/proc/self/fd/{fd}"));
    let (Ok(out), Ok(err)) = (link(1), link(2)) else {
        #[cfg(not(target_os = "linux"))]
        println!("SKIP: /proc/self/fd is not readable here");
        #[cfg(target_os = "linux")]
        common::skip(format_args!("/proc/self/fd is not readable here"));
        return Ok(());
    };
    block_on(async {
        for (from, expect) in [
            (Stdio::from(io::stdout()), &out),
            (Stdio::from(io::stderr()), &err),
        ] {
            let mut cmd = Command::new("readlink");
            cmd.arg("/proc/self/fd/2").stderr(from);
            assert_eq!(route(&cmd), "engine");
            let got = cmd.output().await?;
            assert_eq!(
                String::from_utf8_lossy(&got.stdout).trim_end(),
                expect.to_string_lossy()
            );
        }
        // And as std takes them: `io::Stdout` is an `Into<std::process::Stdio>`.
        let mut cmd = Command::new("true");
        cmd.stdout(io::stderr());
        assert_eq!(route(&cmd), "std (stdout is a std::process::Stdio)");
        assert!(cmd.status().await?.success());
        Ok(())
    })
}

#[test]
#[allow(clippy::incompatible_msrv)] // std::io::pipe (1.87): tests are not built with the MSRV.
fn from_std_io_pipe() -> io::Result<()> {
    block_on(async {
        let (reader, mut writer) = std::io::pipe()?;
        let mut cmd = Command::new("cat");
        cmd.stdin(Stdio::from(reader)).stdout(Stdio::piped());
        assert_eq!(route(&cmd), "engine");
        let child = cmd.spawn()?;
        io::Write::write_all(&mut writer, b"through io::pipe\n")?;
        drop(writer);
        assert_eq!(child.output().await?.stdout, b"through io::pipe\n");

        let (mut reader, writer) = std::io::pipe()?;
        let fd = writer.as_raw_fd();
        assert!(fd > 2);
        let status = Command::new("echo")
            .arg("out")
            .stdout(Stdio::from(writer))
            .status()
            .await?;
        assert!(status.success());
        let mut got = String::new();
        io::Read::read_to_string(&mut reader, &mut got)?;
        assert_eq!(got, "out\n");
        Ok(())
    })
}
