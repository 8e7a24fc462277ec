//! `childfd-tokio`: `childfd::tokio` (feature `tokio`), used as a tokio program uses
//! `tokio::process`: `child.wait().await` on a current-thread runtime, built with this
//! crate's builder so the child is spawned by its engine. Its floor is `pidfd-tokio`, its
//! peer `tokio-ct`.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;

use childfd::tokio::{Child, Command};

use crate::backends::{read_tokio_pipe, success, AsyncBackend, BoxFut, Out, SendFut, Spec, Tokio};

pub(crate) struct ChildfdTokio(pub(crate) Tokio);

impl AsyncBackend for ChildfdTokio {
    type Cmd = Command;
    type Child = Child;

    fn command(&self, spec: &Spec) -> Command {
        let mut cmd = Command::new(&spec.prog);
        cmd.args(&spec.args);
        if let Out::Piped = spec.stdout {
            cmd.stdout(childfd::Stdio::piped());
        }
        cmd
    }

    fn spawn(&self, cmd: &mut Command, spec: &Spec) -> io::Result<Child> {
        let dup = |fd: &OwnedFd| fd.try_clone().map(childfd::Stdio::from);
        if let Some(fd) = &spec.stdin {
            cmd.stdin(dup(fd)?);
        }
        if let Out::Fd(fd) = &spec.stdout {
            cmd.stdout(dup(fd)?);
        }
        cmd.spawn()
    }

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        self.0.block_on(fut)
    }

    fn wait<'a>(&self, child: &'a mut Child) -> BoxFut<'a, io::Result<()>> {
        Box::pin(async move { success(child.wait().await?) })
    }

    fn watch(&self, mut child: Child) -> SendFut<io::Result<()>> {
        Box::pin(async move { success(child.wait().await?) })
    }

    fn spawn_task(&self, fut: SendFut<io::Result<u64>>) -> BoxFut<'_, io::Result<u64>> {
        self.0.spawn_task(fut)
    }

    fn local<'a, T: 'a>(&'a self, fut: BoxFut<'a, T>) -> BoxFut<'a, T> {
        self.0.local(fut)
    }

    fn read_stdout<'a>(&self, child: &'a mut Child) -> BoxFut<'a, io::Result<Vec<u8>>> {
        read_tokio_pipe(child.stdout.take())
    }
}
