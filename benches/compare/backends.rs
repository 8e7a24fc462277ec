//! The backends compared, each used the way its own users would use it.
//!
//! This crate's own rows (`childfd` per way of waiting, and the floors built from its spawn
//! engine) are in `own.rs`.
//!
//! Async backends spawn and await inside their own executor (`block_on` once per workload):
//! - `async-process`: `child.status().await` under `async_io::block_on` (= `smol::block_on`);
//! - `tokio-ct` / `tokio-mt`: `child.wait().await` under a current-thread / multi-thread
//!   runtime's `block_on` (what `#[tokio::main]` does).
//!
//! In workload 4 every child is awaited by its own task (`tokio::spawn`, or a task of a
//! `smol::Executor` run by the `block_on` thread).
//!
//! Blocking backends: `std` (`Command::spawn` + `Child::wait`), `limit` (raw `posix_spawn` +
//! `waitpid`: the kernel floor) and `fork` (raw `fork` + `execve` + `waitpid`: the cost of a
//! spawn that copies the parent's page tables).

use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;

use crate::sys;

/// What to run, and where its stdin and stdout go.
pub(crate) struct Spec {
    pub(crate) prog: PathBuf,
    pub(crate) args: Vec<OsString>,
    /// Given to every child as its stdin (a duplicate per child), if set.
    pub(crate) stdin: Option<OwnedFd>,
    pub(crate) stdout: Out,
}

pub(crate) enum Out {
    Inherit,
    /// A new pipe per child, read by the parent.
    Piped,
    /// The same descriptor for every child (a duplicate per child).
    Fd(OwnedFd),
}

impl Spec {
    pub(crate) fn new(prog: impl Into<PathBuf>, args: &[&str]) -> Spec {
        Spec {
            prog: prog.into(),
            args: args.iter().map(OsString::from).collect(),
            stdin: None,
            stdout: Out::Inherit,
        }
    }

    fn std_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.prog);
        cmd.args(&self.args);
        cmd
    }

    /// Fresh `Stdio`s for one spawn: (stdin, stdout), `None` where the command keeps its setting.
    fn stdio(&self) -> io::Result<(Option<Stdio>, Option<Stdio>)> {
        let dup = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
        let stdin = self.stdin.as_ref().map(dup).transpose()?;
        let stdout = match &self.stdout {
            Out::Fd(fd) => Some(dup(fd)?),
            Out::Inherit | Out::Piped => None,
        };
        Ok((stdin, stdout))
    }
}

pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;
pub(crate) type SendFut<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A backend whose children are awaited.
pub(crate) trait AsyncBackend {
    type Cmd;
    type Child;
    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T;
    fn command(&self, spec: &Spec) -> Self::Cmd;
    fn spawn(&self, cmd: &mut Self::Cmd, spec: &Spec) -> io::Result<Self::Child>;
    fn wait<'a>(&self, child: &'a mut Self::Child) -> BoxFut<'a, io::Result<()>>;
    fn read_stdout<'a>(&self, child: &'a mut Self::Child) -> BoxFut<'a, io::Result<Vec<u8>>>;
    /// A `'static` future owning the child that completes when the child has exited.
    fn watch(&self, child: Self::Child) -> SendFut<io::Result<()>>;
    /// Runs `fut` as a task of this backend's executor; the result is its join handle.
    fn spawn_task(&self, fut: SendFut<io::Result<u64>>) -> BoxFut<'_, io::Result<u64>>;
    /// Runs `fut` where [`spawn_task`](AsyncBackend::spawn_task)'s tasks make progress.
    fn local<'a, T: 'a>(&'a self, fut: BoxFut<'a, T>) -> BoxFut<'a, T>;
}

/// Tasks for the smol-family backends: an `async-executor` run on the `block_on` thread, as
/// `smol` programs do.
macro_rules! smol_tasks {
    () => {
        fn spawn_task(&self, fut: SendFut<io::Result<u64>>) -> BoxFut<'_, io::Result<u64>> {
            Box::pin(self.ex.spawn(fut))
        }

        fn local<'a, T: 'a>(&'a self, fut: BoxFut<'a, T>) -> BoxFut<'a, T> {
            Box::pin(self.ex.run(fut))
        }
    };
}
pub(crate) use smol_tasks;

/// A backend that blocks.
pub(crate) trait SyncBackend {
    type Cmd;
    type Child;
    fn command(&self, spec: &Spec) -> Self::Cmd;
    fn spawn(&self, cmd: &mut Self::Cmd, spec: &Spec) -> io::Result<Self::Child>;
    fn wait(&self, child: &mut Self::Child) -> io::Result<()>;
    fn read_stdout(&self, child: &mut Self::Child) -> io::Result<Vec<u8>>;
}

pub(crate) fn success(status: std::process::ExitStatus) -> io::Result<()> {
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("child: {status}")))
    }
}

pub(crate) fn missing_pipe() -> io::Error {
    io::Error::other("no stdout pipe")
}

/// Reads a child's stdout pipe (futures-io: async-process, `childfd`) to its end.
pub(crate) fn read_futures_pipe<'a, R>(pipe: Option<R>) -> BoxFut<'a, io::Result<Vec<u8>>>
where
    R: futures_lite::AsyncRead + Unpin + 'a,
{
    use futures_lite::AsyncReadExt;
    Box::pin(async move {
        let mut buf = Vec::new();
        pipe.ok_or_else(missing_pipe)?.read_to_end(&mut buf).await?;
        Ok(buf)
    })
}

/// Reads a child's stdout pipe (tokio's I/O traits: `tokio::process`, `childfd::tokio`) to
/// its end.
pub(crate) fn read_tokio_pipe<'a, R>(pipe: Option<R>) -> BoxFut<'a, io::Result<Vec<u8>>>
where
    R: tokio::io::AsyncRead + Unpin + 'a,
{
    use tokio::io::AsyncReadExt;
    Box::pin(async move {
        let mut buf = Vec::new();
        pipe.ok_or_else(missing_pipe)?.read_to_end(&mut buf).await?;
        Ok(buf)
    })
}

/// Implements the command half of [`AsyncBackend`] for a crate whose `Command` has the
/// `std` shape and a `From<std::process::Command>`.
macro_rules! command_methods {
    ($cmd:ty, $child:ty) => {
        type Cmd = $cmd;
        type Child = $child;

        fn command(&self, spec: &Spec) -> $cmd {
            let mut cmd = <$cmd>::from(spec.std_command());
            if let Out::Piped = spec.stdout {
                cmd.stdout(Stdio::piped());
            }
            cmd
        }

        fn spawn(&self, cmd: &mut $cmd, spec: &Spec) -> io::Result<$child> {
            let (stdin, stdout) = spec.stdio()?;
            if let Some(s) = stdin {
                cmd.stdin(s);
            }
            if let Some(s) = stdout {
                cmd.stdout(s);
            }
            cmd.spawn()
        }
    };
}

pub(crate) struct AsyncProcess {
    pub(crate) ex: smol::Executor<'static>,
}

impl AsyncBackend for AsyncProcess {
    command_methods!(async_process::Command, async_process::Child);

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        async_io::block_on(fut)
    }

    fn wait<'a>(&self, child: &'a mut async_process::Child) -> BoxFut<'a, io::Result<()>> {
        let status = child.status();
        Box::pin(async move { success(status.await?) })
    }

    fn watch(&self, mut child: async_process::Child) -> SendFut<io::Result<()>> {
        let status = child.status();
        Box::pin(async move { success(status.await?) })
    }

    smol_tasks!();

    fn read_stdout<'a>(
        &self,
        child: &'a mut async_process::Child,
    ) -> BoxFut<'a, io::Result<Vec<u8>>> {
        read_futures_pipe(child.stdout.take())
    }
}

pub(crate) struct Tokio(pub(crate) tokio::runtime::Runtime);

impl Tokio {
    pub(crate) fn current_thread() -> Tokio {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        Tokio(rt.expect("tokio runtime"))
    }

    pub(crate) fn multi_thread() -> Tokio {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        Tokio(rt.expect("tokio runtime"))
    }
}

impl AsyncBackend for Tokio {
    command_methods!(tokio::process::Command, tokio::process::Child);

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        self.0.block_on(fut)
    }

    fn wait<'a>(&self, child: &'a mut tokio::process::Child) -> BoxFut<'a, io::Result<()>> {
        Box::pin(async move { success(child.wait().await?) })
    }

    fn watch(&self, mut child: tokio::process::Child) -> SendFut<io::Result<()>> {
        Box::pin(async move { success(child.wait().await?) })
    }

    fn spawn_task(&self, fut: SendFut<io::Result<u64>>) -> BoxFut<'_, io::Result<u64>> {
        let task = self.0.spawn(fut);
        Box::pin(async move { task.await.map_err(io::Error::other)? })
    }

    fn local<'a, T: 'a>(&'a self, fut: BoxFut<'a, T>) -> BoxFut<'a, T> {
        fut
    }

    fn read_stdout<'a>(
        &self,
        child: &'a mut tokio::process::Child,
    ) -> BoxFut<'a, io::Result<Vec<u8>>> {
        read_tokio_pipe(child.stdout.take())
    }
}

pub(crate) struct Std;

impl SyncBackend for Std {
    type Cmd = std::process::Command;
    type Child = std::process::Child;

    fn command(&self, spec: &Spec) -> std::process::Command {
        let mut cmd = spec.std_command();
        if let Out::Piped = spec.stdout {
            cmd.stdout(Stdio::piped());
        }
        cmd
    }

    fn spawn(&self, cmd: &mut Self::Cmd, spec: &Spec) -> io::Result<std::process::Child> {
        let (stdin, stdout) = spec.stdio()?;
        if let Some(s) = stdin {
            cmd.stdin(s);
        }
        if let Some(s) = stdout {
            cmd.stdout(s);
        }
        cmd.spawn()
    }

    fn wait(&self, child: &mut std::process::Child) -> io::Result<()> {
        success(child.wait()?)
    }

    fn read_stdout(&self, child: &mut std::process::Child) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        io::Read::read_to_end(&mut child.stdout.take().ok_or_else(missing_pipe)?, &mut buf)?;
        Ok(buf)
    }
}

/// `limit` (posix_spawn) or `fork` (fork + execve); both reaped with a blocking `waitpid`.
pub(crate) struct Raw {
    pub(crate) fork: bool,
}

pub(crate) struct RawChild {
    pid: libc::pid_t,
    stdout: Option<OwnedFd>,
}

impl SyncBackend for Raw {
    type Cmd = sys::RawCmd;
    type Child = RawChild;

    fn command(&self, spec: &Spec) -> sys::RawCmd {
        let args: Vec<&OsStr> = spec.args.iter().map(|a| a.as_os_str()).collect();
        sys::RawCmd::new(spec.prog.as_os_str(), &args)
    }

    fn spawn(&self, cmd: &mut sys::RawCmd, spec: &Spec) -> io::Result<RawChild> {
        let mut dup2: Vec<(RawFd, RawFd)> = Vec::new();
        if let Some(fd) = &spec.stdin {
            dup2.push((fd.as_raw_fd(), 0));
        }
        let mut pipe = None;
        match &spec.stdout {
            Out::Inherit => {}
            Out::Fd(fd) => dup2.push((fd.as_raw_fd(), 1)),
            Out::Piped => {
                let (r, w) = sys::pipe()?;
                dup2.push((w.as_raw_fd(), 1));
                pipe = Some((r, w));
            }
        }
        let pid = if self.fork {
            cmd.fork_exec(&dup2)?
        } else {
            cmd.posix_spawn(&dup2)?
        };
        // The parent's copy of the write end closes here, so the read end sees EOF at exit.
        Ok(RawChild {
            pid,
            stdout: pipe.map(|(r, _w)| r),
        })
    }

    fn wait(&self, child: &mut RawChild) -> io::Result<()> {
        let status = sys::waitpid(child.pid)?;
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            Ok(())
        } else {
            Err(io::Error::other(format!("child: wait status {status}")))
        }
    }

    fn read_stdout(&self, child: &mut RawChild) -> io::Result<Vec<u8>> {
        sys::read_all(child.stdout.take().ok_or_else(missing_pipe)?)
    }
}
