//! This crate's own rows: `childfd` per way of waiting, and the floors of issue 11, built from
//! its spawn engine.
//!
//! `childfd` rows use the public API only (`status()`, `wait_blocking()`), so they measure
//! whatever the crate does inside:
//! - `childfd`: `status().await` under `async_io::block_on` (= `smol::block_on`): an executor
//!   that drives async-io's reactor itself;
//! - `childfd-flb`: the same under `futures_lite::future::block_on`, an executor with no
//!   reactor: what is left of the hand-off between threads shows here;
//! - `childfd-blocking`: `Child::wait_blocking()`, no executor.
//!
//! The floors spawn with the crate's own engine (`platform::linux::spawn`, i.e.
//! `clone(CLONE_PIDFD)`), then wait on the pidfd with nothing else around it (no bookkeeping,
//! no lock, no second thread), and close it as soon as the child is reaped, as `childfd` does:
//! - `pidfd-clone`: `epoll_ctl` + `epoll_wait` + `waitid` on the calling thread (blocking);
//! - `pidfd-aio`: the pidfd as an async-io source (`Async::new_nonblocking`), awaited under
//!   `async_io::block_on`, then `waitid(WNOHANG)`;
//! - `pidfd-tokio`: the pidfd in tokio's `AsyncFd` on a current-thread runtime, then
//!   `waitid(WNOHANG)`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use platform::linux::PidFd;
use platform::unix::prepare::{SpawnRequest, StdioPlan};

use crate::backends::{
    missing_pipe, read_futures_pipe, smol_tasks, success, AsyncBackend, BoxFut, Out, SendFut, Spec,
    SyncBackend, Tokio,
};
use crate::sys;

/// `childfd` awaited: under `async_io::block_on`, or under `futures_lite`'s (`reactorless`).
pub(crate) struct Childfd {
    pub(crate) ex: smol::Executor<'static>,
    pub(crate) reactorless: bool,
}

/// Built with childfd's own builder, so the child is spawned by its engine
/// (`clone(CLONE_PIDFD)`). `CHILDFD_BENCH_STD_ROUTE=1` builds it from a
/// `std::process::Command` instead: `std` spawns it and the pidfd is opened afterwards, the
/// route of commands converted from `std` (and of this crate before its own engine).
fn childfd_command(spec: &Spec) -> childfd::Command {
    let mut cmd = if std::env::var_os("CHILDFD_BENCH_STD_ROUTE").is_some() {
        let mut std_cmd = std::process::Command::new(&spec.prog);
        std_cmd.args(&spec.args);
        childfd::Command::from(std_cmd)
    } else {
        let mut cmd = childfd::Command::new(&spec.prog);
        cmd.args(&spec.args);
        cmd
    };
    if let Out::Piped = spec.stdout {
        cmd.stdout(childfd::Stdio::piped());
    }
    cmd
}

fn childfd_spawn(cmd: &mut childfd::Command, spec: &Spec) -> io::Result<childfd::Child> {
    let dup = |fd: &OwnedFd| fd.try_clone().map(childfd::Stdio::from);
    if let Some(fd) = &spec.stdin {
        cmd.stdin(dup(fd)?);
    }
    if let Out::Fd(fd) = &spec.stdout {
        cmd.stdout(dup(fd)?);
    }
    cmd.spawn()
}

impl AsyncBackend for Childfd {
    type Cmd = childfd::Command;
    type Child = childfd::Child;

    fn command(&self, spec: &Spec) -> childfd::Command {
        childfd_command(spec)
    }

    fn spawn(&self, cmd: &mut childfd::Command, spec: &Spec) -> io::Result<childfd::Child> {
        childfd_spawn(cmd, spec)
    }

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        if self.reactorless {
            futures_lite::future::block_on(fut)
        } else {
            async_io::block_on(fut)
        }
    }

    fn wait<'a>(&self, child: &'a mut childfd::Child) -> BoxFut<'a, io::Result<()>> {
        let status = child.status();
        Box::pin(async move { success(status.await?) })
    }

    fn watch(&self, mut child: childfd::Child) -> SendFut<io::Result<()>> {
        let status = child.status();
        Box::pin(async move { success(status.await?) })
    }

    smol_tasks!();

    fn read_stdout<'a>(&self, child: &'a mut childfd::Child) -> BoxFut<'a, io::Result<Vec<u8>>> {
        read_futures_pipe(child.stdout.take())
    }
}

/// `childfd` waited for by blocking code: `Child::wait_blocking()`.
pub(crate) struct ChildfdBlocking;

impl SyncBackend for ChildfdBlocking {
    type Cmd = childfd::Command;
    type Child = childfd::Child;

    fn command(&self, spec: &Spec) -> childfd::Command {
        childfd_command(spec)
    }

    fn spawn(&self, cmd: &mut childfd::Command, spec: &Spec) -> io::Result<childfd::Child> {
        childfd_spawn(cmd, spec)
    }

    fn wait(&self, child: &mut childfd::Child) -> io::Result<()> {
        success(child.wait_blocking()?.status())
    }

    /// The crate's pipes are async; blocking code takes the descriptor back.
    fn read_stdout(&self, child: &mut childfd::Child) -> io::Result<Vec<u8>> {
        let fd = OwnedFd::try_from(child.stdout.take().ok_or_else(missing_pipe)?)?;
        platform::set_blocking(fd.as_fd())?;
        sys::read_all(fd)
    }
}

/// A child of the bare engine: its pidfd until it is reaped, and its stdout pipe if asked for.
pub(crate) struct EngineChild {
    pidfd: Option<PidFd>,
    stdout: Option<OwnedFd>,
}

impl EngineChild {
    /// The pidfd, taken so that it is closed as soon as its waiter has reaped the child.
    fn take_pidfd(&mut self) -> io::Result<PidFd> {
        self.pidfd
            .take()
            .ok_or_else(|| io::Error::other("waited twice"))
    }
}

static NO_ENV: BTreeMap<OsString, Option<OsString>> = BTreeMap::new();

/// Spawns `spec` with the crate's engine, born with its pidfd. The request borrows the spec:
/// the engine prepares argv, envp and the exec candidates itself, on every spawn, as for a
/// `childfd::Command`.
fn engine_spawn(spec: &Spec) -> io::Result<EngineChild> {
    let stdin = spec
        .stdin
        .as_ref()
        .map_or(StdioPlan::Inherit, |fd| StdioPlan::Fd(fd.as_fd()));
    let stdout = match &spec.stdout {
        Out::Inherit => StdioPlan::Inherit,
        Out::Piped => StdioPlan::Piped,
        Out::Fd(fd) => StdioPlan::Fd(fd.as_fd()),
    };
    let req = SpawnRequest {
        program: spec.prog.as_os_str(),
        args: &spec.args,
        arg0: None,
        env_clear: false,
        env: &NO_ENV,
        cwd: None,
        stdio: [stdin, stdout, StdioPlan::Inherit],
        uid: None,
        gid: None,
        groups: None,
        pgroup: None,
        setsid: false,
        cgroup: None,
    };
    let spawned = platform::linux::spawn(&req, &mut [], true)?;
    let pidfd = spawned.pidfd.ok_or_else(|| io::Error::other("no pidfd"))?;
    Ok(EngineChild {
        pidfd: Some(pidfd),
        stdout: spawned.pipes.stdout,
    })
}

/// `pidfd-clone`: the blocking floor.
pub(crate) struct PidfdClone {
    pub(crate) epoll: sys::Epoll,
}

impl SyncBackend for PidfdClone {
    type Cmd = ();
    type Child = EngineChild;

    fn command(&self, _: &Spec) {}

    fn spawn(&self, _: &mut (), spec: &Spec) -> io::Result<EngineChild> {
        engine_spawn(spec)
    }

    fn wait(&self, child: &mut EngineChild) -> io::Result<()> {
        let pidfd = child.take_pidfd()?;
        self.epoll.add(pidfd.as_raw_fd())?;
        loop {
            self.epoll.wait()?;
            if let Some(info) = pidfd.try_wait()? {
                return success(info.status);
            }
        }
    }

    fn read_stdout(&self, child: &mut EngineChild) -> io::Result<Vec<u8>> {
        sys::read_all(child.stdout.take().ok_or_else(missing_pipe)?)
    }
}

/// `pidfd-aio`: the floor under async-io.
pub(crate) struct PidfdAio {
    pub(crate) ex: smol::Executor<'static>,
}

/// Awaits the exit through async-io's reactor. `new_nonblocking` leaves the descriptor's flags
/// alone (no `fcntl`): `waitid(WNOHANG)` does not care whether a pidfd is non-blocking.
async fn aio_exit(pidfd: PidFd) -> io::Result<()> {
    let source = async_io::Async::new_nonblocking(pidfd)?;
    loop {
        source.readable().await?;
        if let Some(info) = source.get_ref().try_wait()? {
            return success(info.status);
        }
    }
}

impl AsyncBackend for PidfdAio {
    type Cmd = ();
    type Child = EngineChild;

    fn command(&self, _: &Spec) {}

    fn spawn(&self, _: &mut (), spec: &Spec) -> io::Result<EngineChild> {
        engine_spawn(spec)
    }

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        async_io::block_on(fut)
    }

    fn wait<'a>(&self, child: &'a mut EngineChild) -> BoxFut<'a, io::Result<()>> {
        let pidfd = child.take_pidfd();
        Box::pin(async move { aio_exit(pidfd?).await })
    }

    fn watch(&self, mut child: EngineChild) -> SendFut<io::Result<()>> {
        let pidfd = child.take_pidfd();
        Box::pin(async move { aio_exit(pidfd?).await })
    }

    smol_tasks!();

    fn read_stdout<'a>(&self, child: &'a mut EngineChild) -> BoxFut<'a, io::Result<Vec<u8>>> {
        use futures_lite::AsyncReadExt;
        let pipe = child.stdout.take();
        Box::pin(async move {
            let fd = pipe.ok_or_else(missing_pipe)?;
            let mut pipe = async_io::Async::new(std::fs::File::from(fd))?;
            let mut buf = Vec::new();
            pipe.read_to_end(&mut buf).await?;
            Ok(buf)
        })
    }
}

/// `pidfd-tokio`: the floor under tokio (a current-thread runtime with I/O).
pub(crate) struct PidfdTokio(pub(crate) Tokio);

/// Awaits the exit through tokio's driver (it must be called inside the runtime).
async fn tokio_exit(pidfd: PidFd) -> io::Result<()> {
    use tokio::io::{unix::AsyncFd, Interest};
    // SAFETY: a `PidFd` owns its descriptor (an `OwnedFd`) and always returns that one; the
    // `AsyncFd` owns the `PidFd` until it is dropped, so the descriptor stays open meanwhile.
    let source = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE)? };
    loop {
        let mut ready = source.readable().await?;
        if let Some(info) = source.get_ref().try_wait()? {
            return success(info.status);
        }
        ready.clear_ready();
    }
}

impl AsyncBackend for PidfdTokio {
    type Cmd = ();
    type Child = EngineChild;

    fn command(&self, _: &Spec) {}

    fn spawn(&self, _: &mut (), spec: &Spec) -> io::Result<EngineChild> {
        engine_spawn(spec)
    }

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        self.0.block_on(fut)
    }

    fn wait<'a>(&self, child: &'a mut EngineChild) -> BoxFut<'a, io::Result<()>> {
        let pidfd = child.take_pidfd();
        Box::pin(async move { tokio_exit(pidfd?).await })
    }

    fn watch(&self, mut child: EngineChild) -> SendFut<io::Result<()>> {
        let pidfd = child.take_pidfd();
        Box::pin(async move { tokio_exit(pidfd?).await })
    }

    fn spawn_task(&self, fut: SendFut<io::Result<u64>>) -> BoxFut<'_, io::Result<u64>> {
        self.0.spawn_task(fut)
    }

    fn local<'a, T: 'a>(&'a self, fut: BoxFut<'a, T>) -> BoxFut<'a, T> {
        self.0.local(fut)
    }

    fn read_stdout<'a>(&self, child: &'a mut EngineChild) -> BoxFut<'a, io::Result<Vec<u8>>> {
        use tokio::io::AsyncReadExt;
        let pipe = child.stdout.take();
        Box::pin(async move {
            let fd = pipe.ok_or_else(missing_pipe)?;
            let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(fd)?;
            let mut buf = Vec::new();
            pipe.read_to_end(&mut buf).await?;
            Ok(buf)
        })
    }
}
