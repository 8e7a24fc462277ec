//! The parent's ends of a child's pipes, as async-io sources.
//!
//! On Unix each pipe is an [`async_io::Async`] around std's pipe type: readiness comes from
//! async-io's reactor, exactly as in `async-process`.
//!
//! On Windows polling's IOCP backend reports readiness only for sockets and waitable objects,
//! not for pipes, so each pipe is a [`blocking::Unblock`]: reads and writes run on
//! `blocking`'s thread pool, again as in `async-process`. Unlike `async-process`, a dropped
//! `ChildStdin` still delivers what was written to it (see `Unblocked`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

#[cfg(unix)]
use async_io::Async;
#[cfg(unix)]
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

#[cfg(windows)]
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, RawHandle};

/// What a pipe wraps: an async-io source on Unix, a thread-pool adapter on Windows.
#[cfg(unix)]
type Inner<T> = Async<T>;
#[cfg(windows)]
type Inner<T> = windows::Unblocked<T>;

macro_rules! pipe {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(Inner<$std>);

        impl $name {
            pub(crate) fn new(pipe: $std) -> io::Result<$name> {
                #[cfg(unix)]
                return Ok($name(source(pipe)?));
                #[cfg(windows)]
                return Ok($name(windows::Unblocked::new(pipe)?));
            }

            /// Converts back into a [`std::process::Stdio`] (a blocking descriptor again), to
            /// hand the pipe to another child, as in `async-process`.
            ///
            /// A `std::process::Stdio` is opaque, so a `childfd` command given it is spawned
            /// by `std` (see [`Stdio`](crate::Stdio)): to chain children on this crate's engine,
            /// convert with [`Stdio::from`](crate::Stdio) instead, or pass the pipe itself to
            /// [`Command::stdin`](crate::Command::stdin).
            ///
            /// On Windows this first waits for a read or write still running on the thread
            /// pool.
            ///
            /// # Errors
            /// Removing the descriptor from async-io's reactor or clearing `O_NONBLOCK` failed
            /// (Unix; never on Windows).
            ///
            /// # Examples
            /// ```
            /// # #[cfg(unix)]
            /// # futures_lite::future::block_on(async {
            /// use childfd::{Command, Stdio};
            ///
            /// let mut echo = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
            /// let stdio: std::process::Stdio = echo.stdout.take().unwrap().into_stdio().await?;
            /// let out = Command::new("cat").stdin(stdio).output().await?;
            /// assert_eq!(out.stdout, b"hi\n");
            /// # std::io::Result::Ok(()) }).unwrap();
            /// ```
            pub async fn into_stdio(self) -> io::Result<std::process::Stdio> {
                #[cfg(unix)]
                return Ok(OwnedFd::from(self.into_blocking()?).into());
                #[cfg(windows)]
                return Ok(self.0.into_inner().await?.into());
            }

            #[cfg(unix)]
            fn into_blocking(self) -> io::Result<$std> {
                let pipe = self.0.into_inner()?;
                platform::set_blocking(pipe.as_fd())?;
                Ok(pipe)
            }
        }

        /// Hands the pipe to another child, which the engine spawns (see
        /// [`Stdio`](crate::Stdio)). A failure to make the descriptor blocking again is
        /// reported by that spawn.
        ///
        /// On Windows this blocks until a read or write still running on the thread pool
        #[doc = concat!("has finished; prefer [`into_stdio`](", stringify!($name), "::into_stdio) in async code there.")]
        ///
        /// # Examples
        /// ```
        /// # #[cfg(unix)]
        /// # futures_lite::future::block_on(async {
        /// use childfd::{Command, Stdio};
        ///
        /// let mut echo = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn()?;
        /// let out = Command::new("cat").stdin(echo.stdout.take().unwrap()).output().await?;
        /// assert_eq!(out.stdout, b"hi\n");
        /// # std::io::Result::Ok(()) }).unwrap();
        /// ```
        impl From<$name> for crate::Stdio {
            fn from(pipe: $name) -> crate::Stdio {
                #[cfg(unix)]
                let pipe = pipe.into_blocking();
                #[cfg(windows)]
                let pipe = futures_lite::future::block_on(pipe.0.into_inner());
                match pipe {
                    Ok(pipe) => crate::Stdio::from(pipe),
                    Err(e) => crate::Stdio::failed(e),
                }
            }
        }

        impl crate::stdio::Sealed for $name {}
        impl crate::IntoStdio for $name {
            fn into_childfd_stdio(self) -> crate::Stdio {
                self.into()
            }
        }

        #[cfg(windows)]
        impl AsRawHandle for $name {
            fn as_raw_handle(&self) -> RawHandle {
                self.0.handle().as_raw_handle()
            }
        }

        #[cfg(windows)]
        impl AsHandle for $name {
            fn as_handle(&self) -> BorrowedHandle<'_> {
                self.0.handle()
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

/// `Async::new`, without async-io's panics (see `aio`).
#[cfg(unix)]
fn source<T: AsFd>(pipe: T) -> io::Result<Async<T>> {
    crate::aio::guarded(|| Async::new(pipe))
}

pipe!(
    /// The child's standard input, writable from the parent (`futures_io::AsyncWrite`).
    ///
    /// Dropping it closes the pipe, which a child reading its input sees as end of file.
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::{Command, Stdio};
    /// use futures_lite::AsyncWriteExt;
    ///
    /// let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let mut stdin = child.stdin.take().unwrap();
    /// stdin.write_all(b"12345").await?;
    /// drop(stdin); // end of file for wc
    /// assert_eq!(child.output().await?.stdout.trim_ascii(), b"5");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    ChildStdin,
    std::process::ChildStdin
);
pipe!(
    /// The child's standard output, readable from the parent (`futures_io::AsyncRead`).
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::{Command, Stdio};
    /// use futures_lite::{io::BufReader, AsyncBufReadExt, StreamExt};
    ///
    /// let mut child = Command::new("seq").arg("3").stdout(Stdio::piped()).spawn()?;
    /// let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    /// while let Some(line) = lines.next().await {
    ///     println!("{}", line?);
    /// }
    /// assert!(child.status().await?.success());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    ChildStdout,
    std::process::ChildStdout
);
pipe!(
    /// The child's standard error, readable from the parent (`futures_io::AsyncRead`).
    ///
    /// # Examples
    /// ```
    /// # #[cfg(unix)]
    /// # futures_lite::future::block_on(async {
    /// use childfd::{Command, Stdio};
    /// use futures_lite::AsyncReadExt;
    ///
    /// let mut child = Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped()).spawn()?;
    /// let mut err = String::new();
    /// child.stderr.take().unwrap().read_to_string(&mut err).await?;
    /// assert_eq!(err, "oops\n");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    ChildStderr,
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

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_close(cx)
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
                Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
            }
        }
    };
}

async_read!(ChildStdout);
async_read!(ChildStderr);

#[cfg(windows)]
mod windows {
    use std::io::{self, Read, Write};
    use std::os::windows::io::{AsHandle, BorrowedHandle, OwnedHandle};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use blocking::Unblock;
    use futures_io::{AsyncRead, AsyncWrite};

    /// A pipe behind `blocking`'s thread-pool adapter, with two changes to `Unblock`:
    ///
    /// - Dropping it first lets the pool finish the writes it accepted. `Unblock` buffers
    ///   writes and hands them to a pool task; dropping it cancels that task if no pool thread
    ///   has picked it up yet, so `write_all(..).await` followed by a drop (which is what
    ///   `Child::status()` does to stdin) would lose data that Unix delivers.
    /// - `close` only flushes, as async-io's does on Unix: dropping is what closes the pipe.
    ///   `Unblock`'s own close drops the pipe inside, after which a write or `into_stdio`
    ///   panics, and `as_handle` would name a closed handle.
    #[derive(Debug)]
    pub(super) struct Unblocked<T: Send + 'static> {
        /// `None` only once `into_inner` took it, just before `self` is dropped.
        io: Option<Unblock<T>>,
        /// A duplicate of the pipe's handle, for `AsHandle`: `Unblock` lends the pipe out
        /// only asynchronously (it may be on a pool thread). One more handle per pipe buys a
        /// borrow without `unsafe`.
        handle: OwnedHandle,
    }

    impl<T: AsHandle + Send + 'static> Unblocked<T> {
        /// # Errors
        /// Duplicating the handle failed.
        pub(super) fn new(pipe: T) -> io::Result<Unblocked<T>> {
            Ok(Unblocked {
                handle: pipe.as_handle().try_clone_to_owned()?,
                io: Some(Unblock::new(pipe)),
            })
        }
    }

    impl<T: Send + 'static> Unblocked<T> {
        pub(super) fn handle(&self) -> BorrowedHandle<'_> {
            self.handle.as_handle()
        }

        /// The pipe, once the read or write running on the pool (if any) has finished.
        pub(super) async fn into_inner(mut self) -> io::Result<T> {
            let io = self.io.take().ok_or_else(taken)?;
            Ok(io.into_inner().await)
        }

        fn pinned(&mut self) -> io::Result<Pin<&mut Unblock<T>>> {
            self.io.as_mut().map(Pin::new).ok_or_else(taken)
        }
    }

    fn taken() -> io::Error {
        io::Error::other("childfd: the pipe was taken out already")
    }

    impl<T: Send + 'static> Drop for Unblocked<T> {
        fn drop(&mut self) {
            if let Some(io) = self.io.take() {
                // `into_inner` waits for the pool task, which drains the buffered writes;
                // a read in progress keeps its thread until the child writes or exits, as it
                // would after a plain `Unblock` drop.
                blocking::unblock(move || drop(futures_lite::future::block_on(io.into_inner())))
                    .detach();
            }
        }
    }

    impl<T: Read + Send + 'static> AsyncRead for Unblocked<T> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            match self.get_mut().pinned() {
                Ok(io) => io.poll_read(cx, buf),
                Err(e) => Poll::Ready(Err(e)),
            }
        }
    }

    impl<T: Write + Send + 'static> AsyncWrite for Unblocked<T> {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            match self.get_mut().pinned() {
                Ok(io) => io.poll_write(cx, buf),
                Err(e) => Poll::Ready(Err(e)),
            }
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.get_mut().pinned() {
                Ok(io) => io.poll_flush(cx),
                Err(e) => Poll::Ready(Err(e)),
            }
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.poll_flush(cx)
        }
    }
}
