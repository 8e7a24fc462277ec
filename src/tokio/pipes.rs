//! The parent's ends of a child's pipes, with tokio's `AsyncRead`/`AsyncWrite`: on Unix
//! tokio's own pipe types in the runtime's I/O driver (`unix`), on Windows files whose reads
//! and writes run on the runtime's blocking pool (`windows`), as in tokio.

use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix::{Reader, Writer};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows::{Reader, Writer};

macro_rules! pipe {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub(super) $inner);

        impl TryInto<Stdio> for $name {
            type Error = io::Error;

            /// As `into_owned_fd` (Unix) or `into_owned_handle` (Windows). On Unix a command
            /// given the result is spawned by `std`; pass the pipe itself to
            /// [`Command::stdin`](super::Command::stdin) to stay on the crate's engine.
            fn try_into(self) -> io::Result<Stdio> {
                #[cfg(unix)]
                return self.into_owned_fd().map(Stdio::from);
                #[cfg(windows)]
                return self.into_owned_handle().map(Stdio::from);
            }
        }

        impl crate::stdio::Sealed for $name {}
        impl crate::IntoStdio for $name {
            fn into_childfd_stdio(self) -> crate::Stdio {
                #[cfg(unix)]
                let owned = self.into_owned_fd();
                #[cfg(windows)]
                let owned = self.into_owned_handle();
                match owned {
                    Ok(owned) => crate::Stdio::from(owned),
                    Err(e) => crate::Stdio::failed(e),
                }
            }
        }
    };
}

pipe!(
    /// The child's standard input, writable with tokio's [`AsyncWrite`]. Dropping it closes
    /// the pipe: end of file for the child.
    ChildStdin,
    Writer
);
pipe!(
    /// The child's standard output, readable with tokio's [`AsyncRead`].
    ChildStdout,
    Reader
);
pipe!(
    /// The child's standard error, readable with tokio's [`AsyncRead`].
    ChildStderr,
    Reader
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
