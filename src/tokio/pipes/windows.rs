//! Windows: each pipe is a [`tokio::fs::File`](::tokio::fs::File) around the `std` pipe end.
//!
//! tokio does not register Windows child pipes in its I/O driver: it runs them on its
//! blocking pool, through its internal `Blocking` adaptor over a `std::fs::File`. This module
//! does the same (polling's IOCP backend, the crate's own reactor, cannot watch pipes either:
//! see `crate::pipes`), on the current runtime's pool, not a second pool or runtime.
//! `fs::File` is the public form of that machinery: each read or write is one
//! `spawn_blocking` call; a write is buffered (`Ok(n)` at once, the next operation waits for
//! it); `flush` and `shutdown` wait for the write in flight (neither closes the pipe:
//! dropping does); the error of a write is reported by the next operation. Writes go through
//! `spawn_mandatory_blocking`, so one accepted before a runtime shuts down still reaches the
//! child.
//!
//! A read on a pipe whose writer has closed ends with `ERROR_BROKEN_PIPE`, which `std`'s
//! `File::read` turns into end of file, as for `std`'s own pipe types.

use std::io;
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, OwnedHandle, RawHandle};

pub(super) use ::tokio::fs::File as Reader;
pub(super) use ::tokio::fs::File as Writer;

use super::{ChildStderr, ChildStdin, ChildStdout};

/// The pipe's handle, as tokio's `into_owned_handle`: the file's own once no operation holds
/// it, else a duplicate (`DuplicateHandle`), the operation in flight finishing on the pool and
/// closing the original after it.
fn into_owned(file: ::tokio::fs::File) -> io::Result<OwnedHandle> {
    match file.try_into_std() {
        Ok(file) => Ok(file.into()),
        Err(file) => file.as_handle().try_clone_to_owned(),
    }
}

macro_rules! windows {
    ($name:ident, $std:ty) => {
        impl $name {
            /// Wraps a `std` pipe end, whose reads or writes will run on the blocking pool of
            /// the runtime they are polled in. Needs no runtime itself; polling it outside a
            /// runtime panics, as tokio's does.
            ///
            /// # Errors
            /// None: the `Result` is tokio's signature (a Unix pipe is registered there).
            pub fn from_std(inner: $std) -> io::Result<Self> {
                let file = std::fs::File::from(OwnedHandle::from(inner));
                Ok($name(::tokio::fs::File::from_std(file)))
            }

            /// The pipe's handle, to be used elsewhere. As tokio's: if a read or write is
            /// still running on the blocking pool, this is a duplicate of the handle, and that
            /// operation still completes (a write still reaches the child).
            ///
            /// # Errors
            /// Duplicating the handle failed.
            pub fn into_owned_handle(self) -> io::Result<OwnedHandle> {
                into_owned(self.0)
            }
        }

        impl AsHandle for $name {
            fn as_handle(&self) -> BorrowedHandle<'_> {
                self.0.as_handle()
            }
        }

        impl AsRawHandle for $name {
            fn as_raw_handle(&self) -> RawHandle {
                self.0.as_raw_handle()
            }
        }
    };
}

windows!(ChildStdin, std::process::ChildStdin);
windows!(ChildStdout, std::process::ChildStdout);
windows!(ChildStderr, std::process::ChildStderr);
