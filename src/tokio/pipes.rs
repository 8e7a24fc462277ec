//! The parent's ends of a child's pipes, as tokio's own pipe types: readiness comes from the
//! tokio runtime's I/O driver, not from async-io.

use std::io;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::unix::pipe::{Receiver, Sender};

/// tokio's message when an I/O object is created outside a runtime, which its own process
/// tests expect from a spawn with a piped stream.
pub(super) const NO_RUNTIME: &str =
    "there is no reactor running, must be called from the context of a Tokio 1.x runtime";

/// Registers a pipe in the current runtime: `Err` for a runtime built without `enable_io`
/// (tokio panics there, which is caught), or what registering reports.
///
/// # Panics
/// Outside a tokio runtime, as tokio does.
fn register<T>(fd: OwnedFd, new: fn(OwnedFd) -> io::Result<T>) -> io::Result<T> {
    if ::tokio::runtime::Handle::try_current().is_err() {
        panic!("{NO_RUNTIME}");
    }
    super::quietly(move || new(fd)).unwrap_or_else(|| {
        Err(io::Error::other(
            "childfd::tokio: a piped stream needs a tokio runtime with I/O: call `enable_io` \
             (or `enable_all`) on the runtime builder",
        ))
    })
}

macro_rules! pipe {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $std:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub(super) $inner);

        impl $name {
            /// Wraps a `std` pipe end: it is made non-blocking and registered in the current
            /// tokio runtime.
            ///
            /// # Errors
            /// The descriptor is not a pipe, registering it failed, or the runtime has no I/O
            /// driver.
            ///
            /// # Panics
            /// Outside a tokio runtime, as tokio does.
            pub fn from_std(inner: $std) -> io::Result<Self> {
                register(OwnedFd::from(inner), <$inner>::from_owned_fd).map($name)
            }

            /// Takes the descriptor out of tokio's reactor, blocking again (as tokio's), to be
            /// used elsewhere.
            ///
            /// # Errors
            /// Deregistering or clearing `O_NONBLOCK` failed.
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                self.0.into_blocking_fd()
            }
        }

        impl TryInto<Stdio> for $name {
            type Error = io::Error;

            /// As [`into_owned_fd`](Self::into_owned_fd). A command given the result is spawned
            /// by `std`; pass the pipe itself to [`Command::stdin`](super::Command::stdin) to
            /// stay on the crate's engine.
            fn try_into(self) -> io::Result<Stdio> {
                self.into_owned_fd().map(Stdio::from)
            }
        }

        impl crate::stdio::Sealed for $name {}
        impl crate::IntoStdio for $name {
            fn into_childfd_stdio(self) -> crate::Stdio {
                match self.into_owned_fd() {
                    Ok(fd) => crate::Stdio::from(fd),
                    Err(e) => crate::Stdio::failed(e),
                }
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.0.as_raw_fd()
            }
        }
    };
}

pipe!(
    /// The child's standard input, writable with tokio's [`AsyncWrite`]. Dropping it closes
    /// the pipe: end of file for the child.
    ChildStdin,
    Sender,
    std::process::ChildStdin
);
pipe!(
    /// The child's standard output, readable with tokio's [`AsyncRead`].
    ChildStdout,
    Receiver,
    std::process::ChildStdout
);
pipe!(
    /// The child's standard error, readable with tokio's [`AsyncRead`].
    ChildStderr,
    Receiver,
    std::process::ChildStderr
);

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncRead for ChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncRead for ChildStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

/// Reads `pipe` to its end, as `AsyncReadExt::read_to_end` (which needs tokio's `io-util`).
pub(super) async fn read_all<R: AsyncRead + Unpin>(pipe: Option<R>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let Some(mut pipe) = pipe else {
        return Ok(out);
    };
    let mut chunk = vec![0u8; 8192];
    loop {
        let n = std::future::poll_fn(|cx| {
            let mut buf = ReadBuf::new(&mut chunk);
            match Pin::new(&mut pipe).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
    }
}
