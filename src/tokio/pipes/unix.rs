//! Unix: the pipes are tokio's own [`pipe`](::tokio::net::unix::pipe) types, registered in
//! the current runtime's I/O driver: readiness comes from tokio, not from async-io.

use std::io;
use std::os::unix::io::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

pub(super) use ::tokio::net::unix::pipe::{Receiver as Reader, Sender as Writer};

use super::{ChildStderr, ChildStdin, ChildStdout};

/// tokio's message when an I/O object is created outside a runtime, which its own process
/// tests expect from a spawn with a piped stream.
const NO_RUNTIME: &str =
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
    crate::tokio::quietly(move || new(fd)).unwrap_or_else(|| {
        Err(io::Error::other(
            "childfd::tokio: a piped stream needs a tokio runtime with I/O: call `enable_io` \
             (or `enable_all`) on the runtime builder",
        ))
    })
}

macro_rules! unix {
    ($name:ident, $inner:ty, $std:ty) => {
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

unix!(ChildStdin, Writer, std::process::ChildStdin);
unix!(ChildStdout, Reader, std::process::ChildStdout);
unix!(ChildStderr, Reader, std::process::ChildStderr);
