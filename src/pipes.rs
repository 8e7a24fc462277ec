//! The parent's ends of a child's pipes, as async-io sources.
//!
//! On Unix each pipe is an [`async_io::Async`] around std's pipe type: readiness comes from
//! async-io's reactor, exactly as in `async-process`.
// Elsewhere the types are uninhabited for now, so the arguments of their methods go unused.
#![cfg_attr(not(unix), allow(unused_variables))]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

#[cfg(unix)]
use async_io::Async;
#[cfg(unix)]
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// What a pipe wraps: an async-io source on Unix. Other targets have no backend yet, so no
/// value of these types can exist there.
#[cfg(unix)]
type Inner<T> = Async<T>;
#[cfg(not(unix))]
type Inner<T> = (std::convert::Infallible, std::marker::PhantomData<T>);

macro_rules! pipe {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(Inner<$std>);

        impl $name {
            pub(crate) fn new(pipe: $std) -> io::Result<$name> {
                #[cfg(unix)]
                return Ok($name(Async::new(pipe)?));
                #[cfg(not(unix))]
                return Err(io::Error::new(io::ErrorKind::Unsupported, format!("{pipe:?}")));
            }

            /// Converts back into a [`Stdio`](crate::Stdio) (a blocking descriptor again), to hand the pipe to
            /// another child.
            ///
            /// # Errors
            /// Removing the descriptor from async-io's reactor or clearing `O_NONBLOCK` failed.
            pub async fn into_stdio(self) -> io::Result<crate::Stdio> {
                #[cfg(unix)]
                {
                    let pipe = self.0.into_inner()?;
                    platform::set_blocking(pipe.as_fd())?;
                    Ok(crate::Stdio::from(std::os::unix::io::OwnedFd::from(pipe)))
                }
                #[cfg(not(unix))]
                match self.0 .0 {}
            }
        }

        #[cfg(unix)]
        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.get_ref().as_fd()
            }
        }

        #[cfg(unix)]
        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.0.get_ref().as_raw_fd()
            }
        }

        #[cfg(unix)]
        impl TryFrom<$name> for OwnedFd {
            type Error = io::Error;

            /// The descriptor stays non-blocking.
            fn try_from(pipe: $name) -> io::Result<OwnedFd> {
                Ok(pipe.0.into_inner()?.into())
            }
        }
    };
}

pipe!(
    /// The child's standard input, writable from the parent (`futures_io::AsyncWrite`).
    ///
    /// Dropping it closes the pipe, which a child reading its input sees as end of file.
    ChildStdin,
    std::process::ChildStdin
);
pipe!(
    /// The child's standard output, readable from the parent (`futures_io::AsyncRead`).
    ChildStdout,
    std::process::ChildStdout
);
pipe!(
    /// The child's standard error, readable from the parent (`futures_io::AsyncRead`).
    ChildStderr,
    std::process::ChildStderr
);

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        #[cfg(unix)]
        return Pin::new(&mut self.get_mut().0).poll_write(cx, buf);
        #[cfg(not(unix))]
        match self.0 .0 {}
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        #[cfg(unix)]
        return Pin::new(&mut self.get_mut().0).poll_flush(cx);
        #[cfg(not(unix))]
        match self.0 .0 {}
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        #[cfg(unix)]
        return Pin::new(&mut self.get_mut().0).poll_close(cx);
        #[cfg(not(unix))]
        match self.0 .0 {}
    }
}

macro_rules! async_read {
    ($name:ident) => {
        impl AsyncRead for $name {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                #[cfg(unix)]
                return Pin::new(&mut self.get_mut().0).poll_read(cx, buf);
                #[cfg(not(unix))]
                match self.0 .0 {}
            }
        }
    };
}

async_read!(ChildStdout);
async_read!(ChildStderr);
